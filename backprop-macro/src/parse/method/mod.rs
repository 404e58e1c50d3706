//! Methods: `#[differentiate]` on an `impl` block differentiates the methods
//! marked `#[differentiate]` inside it.
//!
//! A method reads its model through `&self`. Its derivative is taken with
//! respect to the fields it reads as floats or float arrays (the weights) and
//! its own float parameters. Each marked method becomes a free function of the
//! model (as data), those fields and its parameters, which is differentiated like
//! any function: `fn loss(&self, x: &[f64]) -> f64` reading `self.w` and `self.b`
//! becomes `fn linear_loss(linear: &Linear, w: &[f64], b: f64, x: &[f64]) -> f64`,
//! whose module `linear_loss` is emitted beside the impl. The impl gains
//! `loss_grad(&self, x)`, `loss_forward(&self, x)` and `loss_graph(&self, x)`.
//!
//! A field is data, not differentiated, when the body uses it as an integer: in a
//! range, as an index, cast with `as`, or converted with `T::from`.

mod fields;
mod rewrite;

pub(crate) use fields::read_as_integers;
use fields::{collect_fields, field_uses, Use};
use rewrite::{free_function, locals};
pub(crate) use rewrite::{read_macro_arguments, repeat_in, visit_macro_arguments};

use crate::errors::Errors;
use crate::lower::strip_parens as strip;
use crate::parse::args::Args;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use std::collections::BTreeMap;
use syn::visit::Visit;
use syn::{Expr, ImplItem};

/// A marked method.
struct Marked {
    method: syn::ImplItemFn,
    args: TokenStream,
    /// The module of its derivative, and the name of its free function.
    module: Ident,
    /// The differentiated fields it reads, itself or through the marked methods
    /// it calls.
    fields: Vec<Ident>,
}

/// `file`: where the block is written, if the compiler says (the calls of
/// its plain methods and of functions beside it are inlined).
pub fn expand_impl(
    attr: TokenStream,
    block: syn::ItemImpl,
    file: Option<&std::path::Path>,
) -> syn::Result<TokenStream> {
    let mut stripped = block.clone();
    let mut ignored = Errors::default();
    take_marked_methods(&mut stripped, &format_ident!("model"), &mut ignored);
    // On errors the impl stays, without the markers, which would otherwise be
    // expanded one by one and report that they need the impl's attribute.
    // With the calls of the block's plain methods and of the functions
    // beside it inlined; where that is refused, as written (a call the
    // refusal then names, or one that is made through its module).
    let expanded = expand_marked(attr.clone(), block.clone(), Some(file))
        .or_else(|_| expand_marked(attr, block, None));
    Ok(match expanded {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = error.into_compile_error();
            tokens.extend(quote!(#stripped));
            tokens
        }
    })
}

/// `inlining`: `None` to leave every call a call, else the file the block
/// is written in, if the compiler says.
fn expand_marked(
    attr: TokenStream,
    mut block: syn::ItemImpl,
    inlining: Option<Option<&std::path::Path>>,
) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    if !attr.is_empty() {
        errors.spanned(
            &attr,
            "`#[differentiate]` on an `impl` block takes no arguments; give `wrt(...)` to a method",
        );
    }
    if let Some((path, _)) = &block.trait_ {
        errors.spanned(
            path,
            "methods of trait impls cannot be differentiated; differentiate an inherent method and call it from the trait's",
        );
    }
    let type_ident = match &*block.self_ty {
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    };
    let Some(type_ident) = type_ident else {
        return Err(syn::Error::new_spanned(
            &block.self_ty,
            "`#[differentiate]` applies to the `impl` block of a named struct",
        ));
    };
    let any_marker = block.items.iter().any(|item| {
        matches!(item, ImplItem::Fn(f) if f.attrs.iter().any(|a| a.path().is_ident("differentiate")))
    });
    let written = block.clone();
    let mut marked = take_marked_methods(&mut block, &type_ident, &mut errors);
    // The block's unmarked methods called on `self` are inlined.
    if let Some(file) = inlining {
        let names: std::collections::HashSet<String> = marked
            .iter()
            .map(|m| m.method.sig.ident.to_string())
            .collect();
        let mut methods: Vec<&mut syn::ImplItemFn> =
            marked.iter_mut().map(|m| &mut m.method).collect();
        crate::inline::self_calls_inlined(&written, &names, &mut methods, file);
    }
    if !any_marker {
        errors.spanned(
            &block.self_ty,
            "mark the methods to differentiate with `#[differentiate]`, as in `#[differentiate] fn loss(&self, x: f64) -> f64`",
        );
    }
    for m in &marked {
        refuse_nested_fields(&m.method, &mut errors);
    }
    errors.finish()?;
    let uses = field_uses(&marked);
    collect_fields(&mut marked, &uses);
    let mut modules = TokenStream::new();
    let mut wrappers = Vec::new();
    let mut errors = Errors::default();
    for m in &marked {
        let free = free_function(m, &marked, &block, &type_ident, &uses);
        let args = match Args::parse(m.args.clone()) {
            Ok(mut args) => {
                args.data.push(locals(m, &type_ident).model);
                args
            }
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        // A method over rows of floats (`pts: &[[f64; 3]]`) is read as the
        // free function over rows is (`parse/model`), which writes the free
        // function itself too.
        let mut hidden = free.clone();
        hidden.attrs.push(syn::parse_quote!(#[doc(hidden)]));
        hidden
            .attrs
            .push(syn::parse_quote!(#[allow(clippy::all, clippy::pedantic)]));
        if let Some(expansion) = crate::parse::model::expand_models(&hidden, &hidden, &args) {
            match expansion {
                Ok(module) => modules.extend(module),
                Err(error) => errors.push(error),
            }
            wrappers.extend(wrapper_methods(m, &block, &uses));
            continue;
        }
        match crate::expand::module_of(&free, &args, Errors::default()) {
            Ok(module) => {
                // The free function itself too: a call of one marked method in
                // another's condition (`if self.g(t) > 0.0`) is kept as written,
                // and calls it.
                // It repeats the user's method, whose own lints apply there.
                let mut plain = free.clone();
                crate::parse::checkpoint::strip(&mut plain.block);
                plain.attrs.push(syn::parse_quote!(#[doc(hidden)]));
                plain
                    .attrs
                    .push(syn::parse_quote!(#[allow(dead_code, clippy::all, clippy::pedantic)]));
                modules.extend(quote!(#plain));
                modules.extend(module);
            }
            Err(error) => errors.push(error),
        }
        wrappers.extend(wrapper_methods(m, &block, &uses));
    }
    errors.finish()?;
    for item in &mut block.items {
        if let ImplItem::Fn(method) = item {
            crate::parse::checkpoint::strip(&mut method.block);
        }
    }
    block.items.extend(wrappers);
    Ok(quote!(#block #modules))
}

/// The methods marked `#[differentiate]`, with the marker removed.
fn take_marked_methods(
    block: &mut syn::ItemImpl,
    type_ident: &Ident,
    errors: &mut Errors,
) -> Vec<Marked> {
    let mut marked = Vec::new();
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        let Some(position) = method
            .attrs
            .iter()
            .position(|a| a.path().is_ident("differentiate"))
        else {
            continue;
        };
        let attr = method.attrs.remove(position);
        let args = match attr.meta {
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::List(list) => list.tokens,
            syn::Meta::NameValue(value) => {
                errors.spanned(
                    value,
                    "expected `#[differentiate]` or `#[differentiate(wrt(...))]`",
                );
                continue;
            }
        };
        if let Some(receiver) = method.sig.receiver() {
            if !matches!(receiver.kind, syn::ReceiverKind::Reference(_, _, None)) {
                errors.spanned(
                    receiver,
                    "a differentiated method takes `&self`; write the model's update as a separate method",
                );
                continue;
            }
        }
        let module = format_ident!(
            "{}_{}",
            snake_case(&type_ident.to_string()),
            method.sig.ident.to_string().trim_start_matches("r#")
        );
        marked.push(Marked {
            method: method.clone(),
            args,
            module,
            fields: Vec::new(),
        });
    }
    marked
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `self.w` as an expression: the field's name.
fn self_field(expr: &Expr) -> Option<&Ident> {
    let Expr::Field(field) = strip(expr) else {
        return None;
    };
    let syn::Member::Named(name) = &field.member else {
        return None;
    };
    matches!(strip(&field.base), Expr::Path(p) if p.path.is_ident("self")).then_some(name)
}

/// `self.layers[l][i]`: weights in nested vectors have no slice to differentiate
/// with respect to.
fn refuse_nested_fields(method: &syn::ImplItemFn, errors: &mut Errors) {
    struct Nested<'e>(&'e mut Errors);
    impl<'ast> Visit<'ast> for Nested<'_> {
        fn visit_expr_index(&mut self, index: &'ast syn::ExprIndex) {
            if let Expr::Index(inner) = strip(&index.expr) {
                if self_field(&inner.expr).is_some() {
                    self.0.spanned(
                        index,
                        "weights in nested vectors are not supported; flatten them into one `Vec<f64>` and index it as `w[l * width + i]`",
                    );
                    return;
                }
            }
            syn::visit::visit_expr_index(self, index);
        }
    }
    Nested(errors).visit_block(&method.block);
}

/// `loss_grad(&self, x)` and `loss_forward(&self, x)` in the impl, which pass
/// the fields to the module's functions.
fn wrapper_methods(
    m: &Marked,
    block: &syn::ItemImpl,
    uses: &BTreeMap<String, Use>,
) -> Vec<ImplItem> {
    let method = &m.method;
    let name = &method.sig.ident;
    let module = &m.module;
    let vis = &method.vis;
    let mut args: Vec<TokenStream> = Vec::new();
    let has_self = method.sig.receiver().is_some();
    if has_self {
        args.push(quote!(self));
        for field in &m.fields {
            args.push(match uses.get(&field.to_string()) {
                Some(Use::Array) => quote!(&self.#field),
                _ => quote!(self.#field),
            });
        }
    }
    let mut params = Vec::new();
    for input in &method.sig.inputs {
        if let syn::FnArg::Typed(typed) = input {
            let ident = match &*typed.pat {
                syn::Pat::Ident(p) => p.ident.clone(),
                _ => continue,
            };
            let ty = &typed.ty;
            // `_y` would be a used underscore binding here.
            let bare = ident.to_string();
            let passed = match bare.strip_prefix('_') {
                Some(rest) if !rest.is_empty() => format_ident!("{rest}"),
                _ => ident.clone(),
            };
            params.push(quote!(#passed: #ty));
            args.push(quote!(#passed));
        }
    }
    let receiver = if has_self { quote!(&self,) } else { quote!() };
    let generics = &method.sig.generics;
    let (method_params, _, where_clause) = generics.split_for_impl();
    let float_args = float_args(m, block);
    let ret = match &method.sig.output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    };
    let grad_name = format_ident!("{}_grad", name.to_string().trim_start_matches("r#"));
    let forward_name = format_ident!("{}_forward", name.to_string().trim_start_matches("r#"));
    let graph_name = format_ident!("{}_graph", name.to_string().trim_start_matches("r#"));
    let graph_doc = format!(
        "The graph of `{name}` at these arguments, each value with its adjoint, to draw: `{module}::graph`."
    );
    let grad_doc = format!(
        "`{name}` and its gradient with respect to the fields it reads as floats and its float parameters: `{module}::grad`."
    );
    let forward_doc = format!(
        "`{name}` and the tape of its backward pass, `{module}::backward`: `{module}::forward`."
    );
    let single_output = matches!(&method.sig.output, syn::ReturnType::Type(_, ty) if !matches!(&**ty, syn::Type::Tuple(_) | syn::Type::Array(_)));
    let writes = method.sig.inputs.iter().any(|input| {
        matches!(input, syn::FnArg::Typed(t) if matches!(&*t.ty, syn::Type::Reference(r) if r.mutability.is_some()))
    });
    let mut items: Vec<ImplItem> = vec![syn::parse_quote! {
        #[doc = #forward_doc]
        #[must_use]
        #vis fn #forward_name #method_params (#receiver #(#params),*) -> (#ret, #module::Tape #float_args) #where_clause {
            #module::forward(#(#args),*)
        }
    }];
    if single_output && !writes {
        items.push(syn::parse_quote! {
            #[doc = #grad_doc]
            #[must_use]
            #vis fn #grad_name #method_params (#receiver #(#params),*) -> (#ret, #module::Grad #float_args) #where_clause {
                #module::grad(#(#args),*)
            }
        });
        items.push(syn::parse_quote! {
            #[doc = #graph_doc]
            #[must_use]
            #vis fn #graph_name #method_params (#receiver #(#params),*) -> ::backprop_runtime::graph::Graph #where_clause {
                #module::graph(#(#args),*)
            }
        });
    }
    items
}

/// `<T>` when the impl or the method is generic over the float type.
fn float_args(m: &Marked, block: &syn::ItemImpl) -> TokenStream {
    let float = block
        .generics
        .type_params()
        .chain(m.method.sig.generics.type_params())
        .next()
        .map(|t| t.ident.clone());
    match float {
        Some(t) => quote!(<#t>),
        None => quote!(),
    }
}
