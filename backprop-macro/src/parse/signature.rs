//! Checks the function's signature and reads its parameters.

use crate::errors::Errors;
use crate::ir::{FloatTy, Floats};
use crate::parse::args::Args;
use proc_macro2::Ident;

pub struct Param {
    pub ident: Ident,
    pub ty: syn::Type,
    /// Gets a `Grad` field: a float, or an array of floats.
    pub differentiable: Option<FloatTy>,
    /// For a slice, vector or array of floats: its shape.
    pub shape: Option<Shape>,
    /// `&mut f64` or `&mut [f64]`: read at the start, written at the end; its
    /// final value (contents) is an output of the function.
    pub inout: bool,
    /// `&f64`: a float read through a reference, as `std::autodiff` and C++
    /// ports write them; the function sees `*x`.
    pub by_reference: bool,
    /// A struct passed whole to differentiated callees (`parse/model`): data
    /// in the body, with a `Grad` field of type `<model as Differentiable>::Grad`
    /// that the callees' pullbacks add into.
    pub model: Option<syn::Type>,
}

impl Param {
    /// `&mut [f64]`: an array the function writes in place.
    pub fn writes_array(&self) -> bool {
        self.inout && self.shape.is_some()
    }

    /// `x: Vec<f64>`: a vector the function takes by value, so a caller
    /// that passes it on and reads it again passes a copy.
    pub fn owned_vector(&self) -> bool {
        matches!(self.shape, Some(Shape::Slice)) && !matches!(self.ty, syn::Type::Reference(_))
    }

    /// Whether the argument can be passed again after a call took it: a
    /// reference, a float or array of floats, a primitive (or an array of
    /// them), or a vector of floats (which is cloned). Not a `String`, a
    /// `Vec<usize>` or a struct of the user's taken by value, which a call
    /// moves.
    pub fn passed_again(&self) -> bool {
        fn copied(ty: &syn::Type) -> bool {
            match ty {
                syn::Type::Reference(r) => r.mutability.is_none(),
                syn::Type::Array(a) => copied(&a.elem),
                syn::Type::Paren(p) => copied(&p.elem),
                syn::Type::Path(p) => p.path.get_ident().is_some_and(|i| {
                    [
                        "usize", "isize", "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32",
                        "i64", "i128", "bool", "char", "f32", "f64",
                    ]
                    .contains(&i.to_string().as_str())
                }),
                _ => false,
            }
        }
        matches!(self.ty, syn::Type::Reference(_))
            || self.owned_vector()
            || (self.differentiable.is_some() && !matches!(self.shape, Some(Shape::Slice)))
            || copied(&self.ty)
    }
}

/// How a parameter holds many floats.
#[derive(Clone)]
pub enum Shape {
    /// `&[f64]` or `&Vec<f64>`: the gradient is a `Vec`.
    Slice,
    /// `[f64; N]` or `&[f64; N]`: the gradient is an array of the same length.
    Array(syn::Expr),
}

impl Shape {
    /// The float type and shape of a parameter type that holds floats, and
    /// whether it is behind `&mut`.
    pub fn of(ty: &syn::Type, floats: &Floats) -> Option<(FloatTy, Shape, bool)> {
        match ty {
            syn::Type::Reference(r) => {
                let (float, shape, _) = Shape::of(&r.elem, floats)?;
                Some((float, shape, r.mutability.is_some()))
            }
            syn::Type::Slice(slice) => Some((floats.of_type(&slice.elem)?, Shape::Slice, false)),
            syn::Type::Array(array) => Some((
                floats.of_type(&array.elem)?,
                Shape::Array(array.len.clone()),
                false,
            )),
            syn::Type::Path(_) => Some((floats.of_type(vec_element(ty)?)?, Shape::Slice, false)),
            syn::Type::Paren(p) => Shape::of(&p.elem, floats),
            syn::Type::Group(g) => Shape::of(&g.elem, floats),
            _ => None,
        }
    }
}

/// `E` in `Vec<E>`.
pub fn vec_element(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if path.qself.is_some() || last.ident != "Vec" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(elem) => Some(elem),
        _ => None,
    }
}

pub struct Signature {
    pub ident: Ident,
    pub vis: syn::Visibility,
    pub params: Vec<Param>,
    /// The float type of the result (of each of its elements).
    pub ret: FloatTy,
    /// One float, or several.
    pub outputs: Outputs,
    /// The return type as written.
    pub ret_ty: syn::Type,
    /// Returns a value (not only through `&mut` parameters).
    pub returns_value: bool,
    /// `<T: Float>` of a generic function, which the module's items share.
    pub generics: syn::Generics,
    /// Which types are floats: `f32`, `f64`, and `T` of a generic function.
    pub floats: Floats,
    /// The `const` and `use` items the body declares at its top, for the
    /// module (`parse/items.rs`).
    pub items: Vec<syn::Item>,
    /// Plain helpers the inliner could not take (`Args::plain_helpers`).
    pub plain_helpers: Vec<String>,
    /// `Args::differentiated_beside`.
    pub differentiated_beside: Vec<String>,
}

/// What the function returns.
#[derive(Clone)]
pub enum Outputs {
    One,
    /// `(f64, f64)`: as many outputs as elements.
    Tuple,
    /// `[f64; N]`.
    Array,
}

impl Signature {
    /// Reads what we support and reports everything else. Returns `None` only when
    /// nothing sensible can be generated.
    pub fn from_syn(
        item: &syn::ItemFn,
        args: &Args,
        floats: &Floats,
        errors: &mut Errors,
    ) -> Option<Signature> {
        let sig = &item.sig;
        refuse_qualifiers(sig, errors);
        let params = params(sig, floats, errors);
        let inout_float = params
            .iter()
            .find(|p| p.inout)
            .and_then(|p| p.differentiable.clone());
        let returns_unit = match &sig.output {
            syn::ReturnType::Default => true,
            syn::ReturnType::Type(_, ty) => {
                matches!(&**ty, syn::Type::Tuple(t) if t.elems.is_empty())
            }
        };
        // A function with `&mut f64` parameters may return nothing: its outputs are
        // the parameters' final values.
        let ret = match (returns_unit, inout_float.clone()) {
            (true, Some(float)) => Some((float, Outputs::One)),
            _ => return_float(sig, floats, errors),
        };
        if inout_float.is_some() && !matches!(ret, Some((_, Outputs::One)) | None) {
            errors.spanned(
                &sig.output,
                "a function with `&mut` parameters must return one float or nothing",
            );
        }
        let mut params = apply_wrt(params, args, errors);
        for param in &mut params {
            let model = args.models.iter().find(|(ident, _)| *ident == param.ident);
            param.model = model.map(|(_, ty)| ty.clone());
        }
        if args.wrt.is_none() {
            refuse_hidden_floats(&params, &args.data, errors);
        }
        Some(Signature {
            ident: sig.ident.clone(),
            vis: item.vis.clone(),
            params,
            returns_value: !returns_unit,
            generics: sig.generics.clone(),
            floats: floats.clone(),
            items: Vec::new(),
            plain_helpers: args.plain_helpers.clone(),
            differentiated_beside: args.differentiated_beside.clone(),
            ret: ret.as_ref()?.0.clone(),
            outputs: ret?.1,
            ret_ty: match &sig.output {
                syn::ReturnType::Type(_, ty) => (**ty).clone(),
                syn::ReturnType::Default => syn::parse_quote!(()),
            },
        })
    }

    /// The `&mut f64` parameters, whose final values are outputs.
    pub fn inouts(&self) -> impl Iterator<Item = (usize, &Param)> {
        self.params.iter().enumerate().filter(|(_, p)| p.inout)
    }

    pub fn differentiable(&self) -> impl Iterator<Item = (&Param, FloatTy)> {
        self.params
            .iter()
            .filter_map(|p| p.differentiable.clone().map(|f| (p, f)))
    }
}

/// `fn f<T: Float>(..)` or `fn f<T>(..) where T: Float`: the one type
/// parameter a differentiated function may have is its float type, bounded by
/// `Float` (num-traits', which `backprop_runtime` re-exports) or `Real`.
pub fn generic_float(generics: &syn::Generics, errors: &mut Errors) -> Option<Ident> {
    const MESSAGE: &str = "a differentiated function may have one type parameter, its float type, as in `fn f<T: Float>(x: T) -> T`, and const parameters (`const N: usize`)";
    let mut float = None;
    for param in &generics.params {
        match param {
            syn::GenericParam::Type(t) if float.is_none() => float = Some(t),
            // Array lengths: `[f64; N]`.
            syn::GenericParam::Const(_) => {}
            other => errors.spanned(other, MESSAGE),
        }
    }
    let param = float?;
    let is_float_bound = |bound: &syn::TypeParamBound| {
        matches!(bound, syn::TypeParamBound::Trait(t)
            if t.path.segments.last().is_some_and(|s| s.ident == "Float" || s.ident == "Real"))
    };
    let in_where_clause = generics
        .where_clause
        .iter()
        .flat_map(|w| &w.predicates)
        .any(|p| {
            matches!(p, syn::WherePredicate::Type(t)
            if matches!(&t.bounded_ty, syn::Type::Path(ty) if ty.path.is_ident(&param.ident))
                && t.bounds.iter().any(is_float_bound))
        });
    if !param.bounds.iter().any(is_float_bound) && !in_where_clause {
        errors.spanned(
            &param.ident,
            format!("the float type needs the bound `Float` (num-traits' `Float`, re-exported as `backprop_runtime::Float`): `<{}: Float>`", param.ident),
        );
        return None;
    }
    Some(param.ident.clone())
}

fn refuse_qualifiers(sig: &syn::Signature, errors: &mut Errors) {
    if let Some(token) = &sig.constness {
        errors.spanned(token, "`const fn` cannot be differentiated; remove `const`");
    }
    if let Some(token) = &sig.asyncness {
        errors.spanned(token, "`async fn` cannot be differentiated; differentiate a plain `fn` and call it from async code");
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        errors.spanned(
            token,
            "`unsafe fn` cannot be differentiated; differentiate a safe `fn`",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(
            abi,
            "`extern` functions cannot be differentiated; differentiate a plain Rust `fn`",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "variadic functions cannot be differentiated");
    }
}

/// `N` of `&[[f64; N]]`, `&Vec<[f64; N]>`, `Vec<[f64; N]>` (`&mut` too).
fn slice_of_arrays(ty: &syn::Type) -> Option<proc_macro2::TokenStream> {
    let inner = match ty {
        syn::Type::Reference(r) => &*r.elem,
        other => other,
    };
    let element = match inner {
        syn::Type::Slice(slice) => &*slice.elem,
        other => vec_element(other)?,
    };
    match element {
        syn::Type::Array(array) => {
            let elem = &array.elem;
            let float = quote::quote!(#elem).to_string();
            let len = &array.len;
            (float == "f64" || float == "f32").then(|| quote::quote!(#len))
        }
        _ => None,
    }
}

fn return_float(
    sig: &syn::Signature,
    floats: &Floats,
    errors: &mut Errors,
) -> Option<(FloatTy, Outputs)> {
    const MESSAGE: &str =
        "a differentiated function must return `f64` or `f32`, a tuple of them, or an array `[f64; N]`";
    match &sig.output {
        syn::ReturnType::Type(_, ty) => {
            let found = match &**ty {
                ty if floats.of_type(ty).is_some() => floats.of_type(ty).map(|f| (f, Outputs::One)),
                syn::Type::Tuple(tuple) if tuple.elems.len() >= 2 => {
                    let elements: Option<Vec<FloatTy>> =
                        tuple.elems.iter().map(|ty| floats.of_type(ty)).collect();
                    elements
                        .filter(|f| f.iter().all(|x| *x == f[0]))
                        .map(|f| (f[0].clone(), Outputs::Tuple))
                }
                syn::Type::Array(array) => floats.of_type(&array.elem).map(|f| (f, Outputs::Array)),
                _ => None,
            };
            if found.is_none() {
                // A vector of results has a place to go: a `&mut` parameter.
                let message = match vec_element(ty).and_then(|e| floats.of_type(e)) {
                    Some(float) => format!("{MESSAGE}; write a vector of results into a `&mut [{float}]` parameter instead (`fn f(x: &[{float}], out: &mut [{float}])`, returning nothing or a float), whose final contents are outputs"),
                    None => struct_output_message(ty, &sig.generics).unwrap_or_else(|| MESSAGE.to_string()),
                };
                errors.spanned(ty, message);
            }
            found
        }
        syn::ReturnType::Default => {
            errors.spanned(&sig.ident, format!("{MESSAGE}; add `-> f64`"));
            None
        }
    }
}

/// The refusal of a struct returned (`-> State`), saying the two ways a
/// struct a function computes is differentiated; `None` for other types
/// (and the function's own type parameters).
pub fn struct_output_message(ty: &syn::Type, generics: &syn::Generics) -> Option<String> {
    let name = user_type_name(ty)?;
    if generics.type_params().any(|param| param.ident == *name) {
        return None;
    }
    Some(format!("a differentiated function returns `f64` or `f32`, a tuple of them, or an array `[f64; N]`, not a struct: write the step that computes a `{name}` as a plain function beside the one differentiated (`fn step(s: {name}, dt: f64) -> {name}`, inlined where `fn loss(s0: {name}, ..) -> f64` calls it), or take the struct by `&mut` and write its fields (`fn step(s: &mut {name}, dt: f64)`, whose final fields are its outputs)"))
}

fn params(sig: &syn::Signature, floats: &Floats, errors: &mut Errors) -> Vec<Param> {
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(receiver) => errors.spanned(
                receiver,
                "a method's derivative needs a module beside its `impl`: put `#[differentiate]` on the `impl` block too, and keep it on the methods to differentiate",
            ),
            syn::FnArg::Typed(typed) => match &*typed.pat {
                syn::Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                    let kind = classify(&typed.ty, floats);
                    params.push(Param {
                        ident: pat.ident.clone(),
                        ty: (*typed.ty).clone(),
                        differentiable: kind.float,
                        shape: kind.shape,
                        inout: kind.inout,
                        by_reference: kind.by_reference,
                        model: None,
                    })
                }
                other => errors.spanned(
                    other,
                    "only plain parameter names are supported, as in `x: f64`; destructure inside the body",
                ),
            },
            #[allow(unreachable_patterns)]
            other => errors.spanned(other, "unsupported parameter"),
        }
    }
    params
}

/// The name in `names` within two edits of `name` (a typo), if any; short
/// names are too close to everything to guess from.
fn closest<'a>(name: &str, names: &'a [String]) -> Option<&'a str> {
    if name.chars().count() < 3 {
        return None;
    }
    names
        .iter()
        .map(|n| (edit_distance(name, n), n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.as_str())
}

/// Levenshtein distance, counting a swap of two neighbours as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

fn quoted_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

/// Without `wrt`, every float parameter is differentiated. Floats the macro
/// cannot differentiate (nested in slices of slices, behind a plain reference)
/// would silently be treated as constants, so they need `wrt(...)` to say so.
fn refuse_hidden_floats(params: &[Param], data: &[Ident], errors: &mut Errors) {
    // An unused model parameter is spelled `_model`.
    let is_data = |p: &Param| {
        let name = p.ident.to_string();
        data.iter().any(|d| *d == name.trim_start_matches('_'))
    };
    for param in params
        .iter()
        .filter(|p| p.differentiable.is_none() && !is_data(p))
    {
        let ty = &param.ty;
        let tokens = quote::quote!(#ty).to_string();
        let mentions_float = tokens
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|word| word == "f64" || word == "f32");
        if let Some(width) = slice_of_arrays(ty) {
            // Points as `&[[f64; 3]]`: their floats side by side.
            errors.spanned(
                ty,
                format!("a slice of arrays is differentiated in a function that reads its rows (`points[i][k]`, `for p in points`), not where it is only measured; list the parameters to differentiate in `wrt(...)` to pass this one as data, or pass its floats as one flat slice, `p: &[f64]` (`points.as_flattened()`), and read element `k` of point `i` as `p[{width} * i + k]`"),
            );
        } else if mentions_float && matches!(ty, syn::Type::Tuple(_)) {
            errors.spanned(
                ty,
                "a tuple of floats is not a differentiated parameter: pass an array (`p: [f64; 2]`, read `p[0]`, or bound `let [x, y] = p;`), the floats as parameters of their own, or a struct that derives `Differentiable`; or list the parameters to differentiate in `wrt(...)` to pass this one as data",
            );
        } else if mentions_float {
            errors.spanned(
                ty,
                "this parameter holds floats that cannot be differentiated here (`Option<f64>`, `Box<f64>`, slices of slices); pass the floats as `f64`, `&f64`, `&mut f64` or one flat `&[f64]`, or list the parameters to differentiate in `wrt(...)` to pass this one as data",
            );
        } else if let Some(name) = referenced_struct(ty) {
            errors.spanned(
                ty,
                format!("`{name}` may hold floats, and `#[differentiate]` cannot see inside a struct: its fields would get no gradient. Pass the floats as parameters (one `&[f64]` for many), or make this a method of an `impl {name}` block marked `#[differentiate]`; if it holds only data, list the differentiated parameters in `wrt(...)`"),
            );
        }
    }
}

/// `Params` in `&Params` or `&mut Params`: a type of the user's, which may
/// hold floats.
fn referenced_struct(ty: &syn::Type) -> Option<&Ident> {
    let syn::Type::Reference(r) = ty else {
        return None;
    };
    user_type_name(&r.elem)
}

/// The name of a type of the user's: a path named in upper camel case, and
/// not one of std's containers.
pub fn user_type_name(ty: &syn::Type) -> Option<&Ident> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    let name = last.ident.to_string();
    let std_types = [
        "Vec", "String", "Option", "Box", "Rc", "Arc", "HashMap", "BTreeMap", "HashSet",
        "BTreeSet", "VecDeque", "Range",
    ];
    let user_type =
        name.starts_with(|c: char| c.is_ascii_uppercase()) && !std_types.contains(&name.as_str());
    (path.qself.is_none() && user_type).then_some(&last.ident)
}

/// A float, a slice, vector or array of floats, or something passed through.
/// How a parameter's type holds floats.
struct Kind {
    float: Option<FloatTy>,
    shape: Option<Shape>,
    inout: bool,
    by_reference: bool,
}

fn classify(ty: &syn::Type, floats: &Floats) -> Kind {
    let kind = |float, shape, inout, by_reference| Kind {
        float,
        shape,
        inout,
        by_reference,
    };
    if let Some(float) = floats.of_type(ty) {
        return kind(Some(float), None, false, false);
    }
    if let syn::Type::Reference(r) = ty {
        if let Some(float) = floats.of_type(&r.elem) {
            // `&mut f64` is written, `&f64` only read.
            let written = r.mutability.is_some();
            return kind(Some(float), None, written, !written);
        }
    }
    match Shape::of(ty, floats) {
        // `&mut [f64]`: an array the function writes; its final contents are
        // outputs.
        Some((float, shape, inout)) => kind(Some(float), Some(shape), inout, false),
        None => kind(None, None, false, false),
    }
}

/// With `wrt(...)`, only the named parameters are differentiable; each must exist
/// and be a float.
fn apply_wrt(mut params: Vec<Param>, args: &Args, errors: &mut Errors) -> Vec<Param> {
    let Some(wrt) = &args.wrt else {
        return params;
    };
    for name in wrt {
        match params.iter().find(|p| p.ident == *name) {
            None => {
                let names: Vec<String> = params.iter().map(|p| p.ident.to_string()).collect();
                let hint = match closest(&name.to_string(), &names) {
                    Some(close) => format!("; did you mean `{close}`?"),
                    None => format!("; its parameters are {}", quoted_list(&names)),
                };
                errors.spanned(
                    name,
                    format!("`wrt` names `{name}`, but the function has no parameter of that name{hint}"),
                );
            }
            Some(param) if param.differentiable.is_none() => {
                let ty = &param.ty;
                errors.push(syn::Error::new(
                    name.span(),
                    format!(
                        "`{name}` has type `{}`, which cannot be differentiated; `wrt` takes `f64` and `f32` parameters and slices, vectors and arrays of them",
                        quote::quote!(#ty)
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    for param in &mut params {
        if param.inout && param.differentiable.is_some() && !wrt.contains(&param.ident) {
            let name = &param.ident;
            errors.spanned(
                &param.ty,
                format!("a `&mut` parameter's final value is an output, so it is always differentiated; add `{name}` to `wrt(...)`, or pass data that is only read by `&`"),
            );
            continue;
        }
        if !wrt.contains(&param.ident) {
            param.differentiable = None;
        }
    }
    params
}
