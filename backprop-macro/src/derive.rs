//! `#[derive(Differentiable)]`: a model struct and its gradient struct, with
//! the same field names and one operation per kind of field.

use crate::errors::Errors;
use crate::parse::signature::vec_element;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

/// How a field takes part in the gradient.
enum Kind {
    /// A float: its gradient is a float.
    Float,
    /// `[f64; N]`: an array of the same length.
    Array(syn::Expr),
    /// `Vec<f64>`: a `Vec` (empty means zero).
    Vec,
    /// Another model struct: its gradient struct.
    Nested,
    /// `Vec<Layer>` of another model struct: a `Vec` of its gradient
    /// structs (empty means zero).
    NestedVec(syn::Type),
    /// `Vec<[f64; 3]>` or `Vec<Vec<f64>>`, rows of floats: a `Vec` of rows
    /// (empty means zero).
    Rows,
    /// `[[f64; 3]; 2]`, a fixed number of rows of floats (a small weight
    /// matrix): the same array, read as rows; its row length and count.
    Grid(syn::Expr, syn::Expr),
}

struct Field {
    ident: Ident,
    ty: syn::Type,
    vis: syn::Visibility,
    kind: Kind,
}

impl Field {
    /// The other model struct it holds, alone or in a `Vec`.
    fn nested(&self) -> Option<&syn::Type> {
        match &self.kind {
            Kind::Nested => Some(&self.ty),
            Kind::NestedVec(elem) => Some(elem),
            _ => None,
        }
    }
}

pub fn derive(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(error) => error.into_compile_error(),
    }
}

fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let item: syn::DeriveInput = syn::parse2(input)?;
    let syn::Data::Struct(data) = &item.data else {
        return Err(syn::Error::new_spanned(
            &item.ident,
            "`Differentiable` derives for a struct with named fields, as in `struct Mlp { w: Vec<f64>, b: f64 }`",
        ));
    };
    let syn::Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &item.ident,
            "`Differentiable` derives for a struct with named fields: give the fields names, as in `struct Camera { rot: [f64; 3], focal: f64 }`",
        ));
    };
    let type_params: Vec<Ident> = item
        .generics
        .type_params()
        .map(|t| t.ident.clone())
        .collect();
    let mut errors = Errors::default();
    let mut fields = Vec::new();
    for field in &named.named {
        let Some(ident) = field.ident.clone() else {
            continue;
        };
        if skipped(field, &mut errors) {
            continue;
        }
        if let Some(kind) = kind_of(&field.ty, &type_params, &mut errors) {
            fields.push(Field {
                ident,
                ty: field.ty.clone(),
                vis: field.vis.clone(),
                kind,
            });
        }
    }
    let float = float_type(&fields, &item.ident, &mut errors);
    errors.finish()?;
    match float {
        Some(float) => Ok(emit(&item, &fields, &float)),
        None => Ok(TokenStream::new()),
    }
}

/// `#[differentiable(skip)]`: data, no gradient.
fn skipped(field: &syn::Field, errors: &mut Errors) -> bool {
    let mut skip = false;
    for attr in field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("differentiable"))
    {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                skip = true;
                Ok(())
            } else {
                Err(meta.error("expected `#[differentiable(skip)]`, which makes the field data"))
            }
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    skip
}

const DATA: &[&str] = &[
    "usize", "isize", "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128", "bool",
    "char", "String",
];

fn is_float(ty: &syn::Type, type_params: &[Ident]) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.get_ident().is_some_and(|i| i == "f64" || i == "f32" || type_params.contains(i)))
}

fn is_data(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p
            .path
            .get_ident()
            .is_some_and(|i| DATA.contains(&i.to_string().as_str())),
        syn::Type::Array(array) => is_data(&array.elem),
        syn::Type::Tuple(tuple) => tuple.elems.iter().all(is_data),
        _ => vec_element(ty).is_some_and(is_data),
    }
}

/// The field's kind, or `None` for data (integers, `bool`, `String`).
fn kind_of(ty: &syn::Type, type_params: &[Ident], errors: &mut Errors) -> Option<Kind> {
    const SKIP: &str = "mark it `#[differentiable(skip)]` to keep it as data";
    if is_data(ty) {
        return None;
    }
    if is_float(ty, type_params) {
        return Some(Kind::Float);
    }
    if let syn::Type::Array(array) = ty {
        if is_float(&array.elem, type_params) {
            return Some(Kind::Array(array.len.clone()));
        }
        if let syn::Type::Array(row) = &*array.elem {
            if is_float(&row.elem, type_params) {
                return Some(Kind::Grid(row.len.clone(), array.len.clone()));
            }
        }
        errors.spanned(ty, format!("only arrays of floats (`[f64; 3]`) and of rows of floats (`[[f64; 3]; 2]`) are differentiated; flatten this one into `[f64; N]`, or {SKIP}"));
        return None;
    }
    if let Some(elem) = vec_element(ty) {
        if is_float(elem, type_params) {
            return Some(Kind::Vec);
        }
        if is_struct(elem, type_params) {
            return Some(Kind::NestedVec(elem.clone()));
        }
        let row_of_floats = match elem {
            syn::Type::Array(array) => is_float(&array.elem, type_params),
            other => vec_element(other).is_some_and(|f| is_float(f, type_params)),
        };
        if row_of_floats {
            return Some(Kind::Rows);
        }
        errors.spanned(ty, format!("only vectors of floats (`Vec<f64>`), of rows of floats (`Vec<[f64; 3]>`, `Vec<Vec<f64>>`) and of structs that derive `Differentiable` (`Vec<Layer>`) are differentiated; flatten this one into one `Vec<f64>`, or {SKIP}"));
        return None;
    }
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => Some(Kind::Nested),
        _ => {
            errors.spanned(ty, format!("a field of a differentiable struct is a float, an array or `Vec` of floats, or another struct that derives `Differentiable`; {SKIP}"));
            None
        }
    }
}

/// A struct of the user's, by name (not std's containers, not a type
/// parameter).
fn is_struct(ty: &syn::Type, type_params: &[Ident]) -> bool {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|last| {
            let name = last.ident.to_string();
            name.starts_with(|c: char| c.is_ascii_uppercase())
                && !matches!(name.as_str(), "Vec" | "Option" | "Box" | "String")
                && !type_params.contains(&last.ident)
        }),
        _ => false,
    }
}

/// The struct's float type: its first float field's, else its first nested
/// struct's.
fn float_type(fields: &[Field], name: &Ident, errors: &mut Errors) -> Option<TokenStream> {
    let float = fields.iter().find_map(|f| match &f.kind {
        Kind::Float => Some(f.ty.clone()),
        Kind::Array(_) => match &f.ty {
            syn::Type::Array(array) => Some((*array.elem).clone()),
            _ => None,
        },
        Kind::Vec => vec_element(&f.ty).cloned(),
        Kind::Rows => vec_element(&f.ty).and_then(|row| match row {
            syn::Type::Array(array) => Some((*array.elem).clone()),
            other => vec_element(other).cloned(),
        }),
        Kind::Grid(..) => match &f.ty {
            syn::Type::Array(array) => match &*array.elem {
                syn::Type::Array(row) => Some((*row.elem).clone()),
                _ => None,
            },
            _ => None,
        },
        Kind::Nested | Kind::NestedVec(_) => None,
    });
    if let Some(float) = float {
        return Some(quote!(#float));
    }
    if let Some(nested) = fields.iter().find_map(|f| f.nested()) {
        return Some(quote!(<#nested as ::backprop_runtime::Differentiable>::Float));
    }
    errors.spanned(
        name,
        "this struct has no float fields to differentiate: give it some (`f64`, `[f64; N]`, `Vec<f64>`, or another struct that derives `Differentiable`), or pass it as data",
    );
    None
}

fn emit(item: &syn::DeriveInput, fields: &[Field], float: &TokenStream) -> TokenStream {
    let name = &item.ident;
    let grad = format_ident!("{}Grad", name);
    let vis = &item.vis;
    // The gradient has the struct's type parameters, not its lifetimes.
    let mut grad_generics = item.generics.clone();
    grad_generics.params = grad_generics
        .params
        .into_iter()
        .filter(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
        .collect();
    let bounds = bounds(item, fields, float);
    let (impl_params, ty_args, _) = item.generics.split_for_impl();
    let (grad_params, grad_args, _) = grad_generics.split_for_impl();
    let grad_ty_of = |f: &Field| -> TokenStream {
        let ty = &f.ty;
        match &f.kind {
            Kind::Float | Kind::Array(_) | Kind::Vec | Kind::Rows | Kind::Grid(..) => {
                quote!(#ty)
            }
            Kind::Nested => quote!(<#ty as ::backprop_runtime::Differentiable>::Grad),
            Kind::NestedVec(elem) => {
                quote!(::std::vec::Vec<<#elem as ::backprop_runtime::Differentiable>::Grad>)
            }
        }
    };
    let grad_types: Vec<TokenStream> = fields.iter().map(grad_ty_of).collect();
    let decls = fields.iter().zip(&grad_types).map(|(f, ty)| {
        let (ident, fvis) = (&f.ident, &f.vis);
        let doc = format!("The gradient of `{name}::{ident}`.");
        quote!(#[doc = #doc] #fvis #ident: #ty)
    });
    let doc = format!(
        "The gradient of a `{name}`: its fields' gradients under the same names. `Default` is zero (vectors empty until a backward pass sizes them; empty reads as zero)."
    );
    let idents: Vec<&Ident> = fields.iter().map(|f| &f.ident).collect();
    let zero = quote!(::backprop_runtime::model::fields::zero::<#float>());
    let each = |op: &dyn Fn(&Field) -> TokenStream| -> Vec<TokenStream> {
        fields.iter().map(op).collect()
    };
    let defaults = each(&|f| {
        let ident = &f.ident;
        match &f.kind {
            Kind::Float => quote!(#ident: #zero),
            Kind::Array(len) => quote!(#ident: [#zero; #len]),
            Kind::Vec | Kind::NestedVec(_) | Kind::Rows => quote!(#ident: ::std::vec::Vec::new()),
            Kind::Nested => quote!(#ident: ::core::default::Default::default()),
            Kind::Grid(n, m) => quote!(#ident: [[#zero; #n]; #m]),
        }
    });
    let zero_grads = each(&|f| {
        let ident = &f.ident;
        match &f.kind {
            Kind::Float => quote!(#ident: #zero),
            Kind::Array(len) => quote!(#ident: [#zero; #len]),
            Kind::Vec => {
                quote!(#ident: ::backprop_runtime::model::fields::zeros_like(&self.#ident))
            }
            Kind::Nested => {
                quote!(#ident: ::backprop_runtime::Differentiable::zero_grad(&self.#ident))
            }
            Kind::NestedVec(_) => {
                quote!(#ident: self.#ident.iter().map(::backprop_runtime::Differentiable::zero_grad).collect())
            }
            Kind::Rows => {
                quote!(#ident: ::backprop_runtime::model::fields::zero_rows(&self.#ident))
            }
            Kind::Grid(n, m) => quote!(#ident: [[#zero; #n]; #m]),
        }
    });
    let fields_mod = quote!(::backprop_runtime::model::fields);
    let steps = each(&|f| {
        let ident = &f.ident;
        match &f.kind {
            Kind::Float => quote!(self.#ident = self.#ident + factor * grad.#ident;),
            Kind::Array(_) | Kind::Vec => {
                quote!(#fields_mod::add_scaled_slice(&mut self.#ident[..], factor, &grad.#ident[..]);)
            }
            Kind::Nested => {
                quote!(::backprop_runtime::Differentiable::add_scaled(&mut self.#ident, factor, &grad.#ident);)
            }
            Kind::NestedVec(_) => {
                quote!(#fields_mod::step_each(&mut self.#ident, factor, &grad.#ident);)
            }
            Kind::Rows | Kind::Grid(..) => {
                quote!(#fields_mod::step_rows(&mut self.#ident, factor, &grad.#ident);)
            }
        }
    });
    let clears = each(&|f| {
        let ident = &f.ident;
        match &f.kind {
            Kind::Float => quote!(self.#ident = #zero;),
            Kind::Array(len) => quote!(self.#ident = [#zero; #len];),
            Kind::Vec => quote!(self.#ident.clear();),
            Kind::Nested => quote!(::backprop_runtime::Gradient::clear(&mut self.#ident);),
            Kind::NestedVec(_) => quote!(#fields_mod::clear_each(&mut self.#ident);),
            Kind::Rows | Kind::Grid(..) => quote!(#fields_mod::clear_rows(&mut self.#ident);),
        }
    });
    let scales = each(&|f| {
        let ident = &f.ident;
        match &f.kind {
            Kind::Float => quote!(self.#ident = self.#ident * factor;),
            Kind::Array(_) | Kind::Vec => {
                quote!(#fields_mod::scale_slice(&mut self.#ident[..], factor);)
            }
            Kind::Nested => quote!(::backprop_runtime::Gradient::scale(&mut self.#ident, factor);),
            Kind::NestedVec(_) => quote!(#fields_mod::scale_each(&mut self.#ident, factor);),
            Kind::Rows | Kind::Grid(..) => {
                quote!(#fields_mod::scale_rows(&mut self.#ident, factor);)
            }
        }
    });
    let axpys = each(&|f| {
        let ident = &f.ident;
        match &f.kind {
            Kind::Float => quote!(self.#ident = self.#ident + factor * other.#ident;),
            Kind::Array(_) => {
                quote!(#fields_mod::add_scaled_slice(&mut self.#ident[..], factor, &other.#ident[..]);)
            }
            Kind::Vec => {
                quote!(#fields_mod::add_scaled_vec(&mut self.#ident, factor, &other.#ident[..]);)
            }
            Kind::Nested => {
                quote!(::backprop_runtime::Gradient::add_scaled(&mut self.#ident, factor, &other.#ident);)
            }
            Kind::NestedVec(_) => {
                quote!(#fields_mod::add_scaled_each(&mut self.#ident, factor, &other.#ident);)
            }
            Kind::Rows => {
                quote!(#fields_mod::add_scaled_rows(&mut self.#ident, factor, &other.#ident);)
            }
            // As many rows on both sides: row by row.
            Kind::Grid(..) => {
                quote!(#fields_mod::step_rows(&mut self.#ident, factor, &other.#ident);)
            }
        }
    });
    let dots = each(&|f| {
        let ident = &f.ident;
        match &f.kind {
            Kind::Float => quote!(self.#ident * other.#ident),
            Kind::Array(_) | Kind::Vec => {
                quote!(#fields_mod::dot_slice(&self.#ident[..], &other.#ident[..]))
            }
            Kind::Nested => quote!(::backprop_runtime::Gradient::dot(&self.#ident, &other.#ident)),
            Kind::NestedVec(_) => quote!(#fields_mod::dot_each(&self.#ident, &other.#ident)),
            Kind::Rows | Kind::Grid(..) => {
                quote!(#fields_mod::dot_rows(&self.#ident, &other.#ident))
            }
        }
    });
    // Each trait the gradient implements asks it of each field's gradient
    // type (a nested struct's is an associated type, which a plain derive
    // would not bound).
    let needs = |bound: TokenStream| {
        let mut clause = bounds.clone();
        for ty in &grad_types {
            clause.push(quote!(#ty: #bound));
        }
        if clause.is_empty() {
            quote!()
        } else {
            quote!(where #(#clause),*)
        }
    };
    let clone_where = needs(quote!(::core::clone::Clone));
    let plain_where = needs(quote!(::core::marker::Sized));
    let grad_type_refs: Vec<&TokenStream> = grad_types.iter().collect();
    let field_wise = field_wise_impls(
        &grad,
        &quote!(#grad_params),
        &quote!(#grad_args),
        bounds.clone(),
        &idents,
        &grad_type_refs,
    );
    quote! {
        #[doc = #doc]
        #vis struct #grad #grad_params #plain_where {
            #(#decls),*
        }

        #field_wise

        impl #grad_params ::core::default::Default for #grad #grad_args #plain_where {
            fn default() -> Self {
                #grad { #(#defaults),* }
            }
        }

        // `a = a + b`: `Float` has no `+=`.
        #[allow(clippy::assign_op_pattern)]
        impl #grad_params ::backprop_runtime::Gradient for #grad #grad_args #clone_where {
            type Float = #float;

            fn clear(&mut self) {
                #(#clears)*
            }

            fn scale(&mut self, factor: #float) {
                #(#scales)*
            }

            fn add_scaled(&mut self, factor: #float, other: &Self) {
                #(#axpys)*
            }

            fn dot(&self, other: &Self) -> #float {
                #zero #(+ #dots)*
            }
        }

        #[allow(clippy::assign_op_pattern)]
        impl #impl_params ::backprop_runtime::Differentiable for #name #ty_args #clone_where {
            type Float = #float;
            type Grad = #grad #grad_args;

            fn zero_grad(&self) -> Self::Grad {
                #grad { #(#zero_grads),* }
            }

            fn add_scaled(&mut self, factor: #float, grad: &Self::Grad) {
                #(#steps)*
            }
        }
    }
}

/// The where-clause the impls share: the struct's own, its float type
/// parameter bounded by `Float`, each nested struct `Differentiable` over the
/// same float.
fn bounds(item: &syn::DeriveInput, fields: &[Field], float: &TokenStream) -> Vec<TokenStream> {
    let mut clause: Vec<TokenStream> = item
        .generics
        .where_clause
        .iter()
        .flat_map(|w| w.predicates.iter().map(|p| quote!(#p)))
        .collect();
    let float_param = item
        .generics
        .type_params()
        .find(|t| t.ident == float.to_string());
    if let Some(param) = float_param {
        let ident = &param.ident;
        clause.push(quote_spanned!(ident.span()=> #ident: ::backprop_runtime::Float));
    }
    // A struct of nested structs only takes its float from the first: that
    // one is bounded without naming its own float (which would ask the
    // compiler to prove `Float == Float` of itself, endlessly).
    // (Nor is any other field of that same type: `l1: Layer, l2: Layer`.)
    let float_is_nested = fields.iter().all(|f| f.nested().is_some());
    let source = fields
        .iter()
        .find_map(Field::nested)
        .filter(|_| float_is_nested)
        .map(|ty| quote!(#ty).to_string());
    let mut bounded = std::collections::HashSet::new();
    for ty in fields.iter().filter_map(Field::nested) {
        let tokens = quote!(#ty).to_string();
        if !bounded.insert(tokens.clone()) {
            continue;
        }
        clause.push(if source.as_ref() == Some(&tokens) {
            quote_spanned!(ty.span()=> #ty: ::backprop_runtime::Differentiable)
        } else {
            quote_spanned!(ty.span()=> #ty: ::backprop_runtime::Differentiable<Float = #float>)
        });
    }
    clause
}

/// `Clone`, `Debug` and `PartialEq` of a struct of gradients, field by field,
/// each asking its trait of each field's type (a plain derive would ask it of
/// the type parameters, which says nothing of an associated type such as
/// `<Layer<T> as Differentiable>::Grad`).
pub fn field_wise_impls(
    name: &Ident,
    params: &TokenStream,
    args: &TokenStream,
    bounds: Vec<TokenStream>,
    idents: &[&Ident],
    types: &[&TokenStream],
) -> TokenStream {
    let clause = |bound: TokenStream| {
        let mut clause = bounds.clone();
        clause.extend(types.iter().map(|ty| quote!(#ty: #bound)));
        quote!(where #(#clause),*)
    };
    let clone_where = clause(quote!(::core::clone::Clone));
    let debug_where = clause(quote!(::core::fmt::Debug));
    let eq_where = clause(quote!(::core::cmp::PartialEq));
    let text = name.to_string();
    quote! {
        impl #params ::core::clone::Clone for #name #args #clone_where {
            fn clone(&self) -> Self {
                #name { #(#idents: ::core::clone::Clone::clone(&self.#idents)),* }
            }
        }

        impl #params ::core::fmt::Debug for #name #args #debug_where {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#text) #(.field(::core::stringify!(#idents), &self.#idents))* .finish()
            }
        }

        impl #params ::core::cmp::PartialEq for #name #args #eq_where {
            fn eq(&self, other: &Self) -> bool {
                true #(&& self.#idents == other.#idents)*
            }
        }
    }
}
