//! Second order for functions over `f64` or `f32` that ask for it
//! (`#[differentiate(second_order)]`): the function written again over a
//! generic float, its twin, which the pipeline differentiates like any
//! generic function, so that its `hvp` runs the generated reverse pass over
//! dual numbers. `f::hvp` and `f::hessian` call the twin's with the
//! function's own float.
//!
//! The rewrite is syntactic, and made only where its result type-checks
//! whenever the original does: the float type becomes the parameter (`f64`
//! in types becomes `T`), each float literal `2.0` becomes
//! `T::from(2.0).unwrap()`, `n as f64` becomes `T::from(n).unwrap()` (which
//! the lowering reads as the identity when `n` is already a float), `f64::
//! sqrt(x)` becomes `T::sqrt(x)`, constants (`f64::EPSILON`, `consts::PI`)
//! are converted, and a call `g(..)` of another function calls its twin
//! `g::generic(..)` (which it has if it asked for second order too; else
//! rustc reports the call). Anything else that names the float type, casts
//! to another type, or takes parameters other than floats, arrays and slices
//! of them and integers, leaves the function without a twin, and so without
//! `hvp` (README, limitations). A twin the pipeline refuses is dropped too.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::ToTokens;
use std::collections::BTreeSet;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;

/// The twin of `function` over a generic float, named `name`, or `None`
/// where the rewrite could change what the code means or fail to compile.
///
/// A call of another function `g(..)` becomes a call of its twin,
/// `g::generic(..)`: asking for second order (`second_order`) asks it of
/// every callee too, and one without a twin is reported at the call.
pub fn generic_twin(function: &syn::ItemFn, name: &Ident) -> Option<syn::ItemFn> {
    // (Const parameters too: the forwarding `hvp` is not generic.)
    if !function.sig.generics.params.is_empty() {
        return None;
    }
    let float = float_of(&function.sig)?;
    let tokens = function.to_token_stream();
    let other = if float == "f64" { "f32" } else { "f64" };
    if mentions(&tokens, other) {
        return None;
    }
    // Methods of `f64` that `Float` does not have: the twin would not compile.
    if ["rem_euclid", "div_euclid"]
        .iter()
        .any(|method| mentions(&tokens, method))
    {
        return None;
    }
    let param = free_name(&tokens);
    let mut rewrite = Rewrite {
        float: Ident::new(float, Span::call_site()),
        param: param.clone(),
        closures: closures(&function.block),
        integers: Integers::of(function),
        twin: name.clone(),
        failed: false,
    };
    // Without a float parameter there is no second derivative to take (and
    // the twin's types would not mention their parameter).
    let float_input = function.sig.inputs.iter().any(|input| match input {
        syn::FnArg::Typed(typed) => mentions(&typed.ty.to_token_stream(), float),
        syn::FnArg::Receiver(_) => false,
    });
    if !float_input {
        return None;
    }
    let mut twin = function.clone();
    for input in &mut twin.sig.inputs {
        let syn::FnArg::Typed(typed) = input else {
            return None;
        };
        if !plain_parameter(&typed.ty, float) {
            return None;
        }
        rewrite.visit_type_mut(&mut typed.ty);
    }
    if let syn::ReturnType::Type(_, ret) = &mut twin.sig.output {
        rewrite.visit_type_mut(ret);
    }
    // Checks and prints change no value; the twin (second order only) does
    // without them, where their tokens could not be rewritten for `T`.
    ChecksLeftOut.visit_block_mut(&mut twin.block);
    rewrite.visit_block_mut(&mut twin.block);
    if rewrite.failed {
        return None;
    }
    // The twin's module sits inside the function's: one level deeper again.
    crate::desugar::paths::rebase(&mut twin);
    twin.sig.ident = name.clone();
    twin.vis = syn::Visibility::Inherited;
    // (A variable read only by a check left out is unused here.)
    twin.attrs = vec![syn::parse_quote!(#[allow(unused_variables)])];
    twin.sig.generics.params.insert(
        0,
        syn::parse_quote!(#param: ::backprop_runtime::Float + ::core::iter::Sum + ::core::iter::Product),
    );
    Some(twin)
}

/// Removes assertion and printing statements from every block.
struct ChecksLeftOut;

impl VisitMut for ChecksLeftOut {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        block.stmts.retain(|stmt| {
            let mac = match stmt {
                syn::Stmt::Macro(m) => Some(&m.mac),
                syn::Stmt::Expr(syn::Expr::Macro(m), Some(_)) => Some(&m.mac),
                _ => None,
            };
            !mac.is_some_and(|mac| crate::lower::is_assertion(mac) || crate::lower::is_print(mac))
        });
        syn::visit_mut::visit_block_mut(self, block);
    }
}

/// The float of a function returning one `f64` or `f32`, or of one that
/// returns nothing and writes its `&mut` parameters (`fn step(y: &[f64], k:
/// &mut [f64])`): the one float its parameters name. Such a function has
/// no `hvp` of its own (many outputs), but its twin is what the twins of
/// its `second_order` callers call.
fn float_of(sig: &syn::Signature) -> Option<&'static str> {
    let syn::ReturnType::Type(_, ret) = &sig.output else {
        let inputs: TokenStream = sig.inputs.iter().map(ToTokens::to_token_stream).collect();
        let named: Vec<&'static str> = ["f64", "f32"]
            .into_iter()
            .filter(|f| mentions(&inputs, f))
            .collect();
        return match named[..] {
            [float] => Some(float),
            _ => None,
        };
    };
    let syn::Type::Path(path) = &**ret else {
        return None;
    };
    ["f64", "f32"]
        .into_iter()
        .find(|f| path.qself.is_none() && path.path.is_ident(f))
}

/// Whether the ident, or a literal with its suffix, appears anywhere.
fn mentions(tokens: &TokenStream, name: &str) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Literal(lit) => lit.to_string().ends_with(name),
        TokenTree::Group(group) => mentions(&group.stream(), name),
        TokenTree::Punct(_) => false,
    })
}

/// A name for the float parameter that the function does not use.
fn free_name(tokens: &TokenStream) -> Ident {
    let name = ["T", "F", "TFloat", "TwinFloat"]
        .into_iter()
        .find(|n| !mentions(tokens, n))
        .unwrap_or("TwinFloatOfTheFunction");
    Ident::new(name, Span::call_site())
}

/// `f64`, `&[f64]`, `&Vec<f64>`, `[f64; N]`, `&[f64; N]`, integers, bools and
/// slices of them, by value, `&` or `&mut`: what the twin can take with the
/// float replaced.
fn plain_parameter(ty: &syn::Type, float: &str) -> bool {
    const SCALARS: &[&str] = &[
        "usize", "isize", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "bool",
    ];
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return false;
            };
            let name = last.ident.to_string();
            match &last.arguments {
                syn::PathArguments::None => {
                    path.path.segments.len() == 1 && (name == float || SCALARS.contains(&&*name))
                }
                syn::PathArguments::AngleBracketed(args) if name == "Vec" => {
                    matches!(args.args.first(), Some(syn::GenericArgument::Type(t)) if args.args.len() == 1 && plain_parameter(t, float))
                }
                _ => false,
            }
        }
        syn::Type::Reference(r) => plain_parameter(&r.elem, float),
        syn::Type::Slice(s) => plain_parameter(&s.elem, float),
        syn::Type::Array(a) => plain_parameter(&a.elem, float),
        syn::Type::Paren(p) => plain_parameter(&p.elem, float),
        _ => false,
    }
}

/// Names bound to closures in the body: calls of them stay.
fn closures(block: &syn::Block) -> BTreeSet<String> {
    struct Find(BTreeSet<String>);
    impl<'a> syn::visit::Visit<'a> for Find {
        fn visit_local(&mut self, local: &'a syn::Local) {
            if let (syn::Pat::Ident(name), Some(init)) = (&local.pat, &local.init) {
                if matches!(&*init.expr, syn::Expr::Closure(_)) {
                    self.0.insert(name.ident.to_string());
                }
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut find = Find(BTreeSet::new());
    syn::visit::Visit::visit_block(&mut find, block);
    find.0
}

const INTEGERS: &[&str] = &[
    "usize", "isize", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64",
];

/// Names that hold integers, as far as the code shows without types:
/// integer parameters, variables of `for` loops over ranges, `let`s with an
/// integer type, an integer literal or a `.len()`.
struct Integers(BTreeSet<String>);

impl Integers {
    fn of(function: &syn::ItemFn) -> Integers {
        let mut names = BTreeSet::new();
        for input in &function.sig.inputs {
            if let syn::FnArg::Typed(typed) = input {
                if let (syn::Pat::Ident(name), true) = (&*typed.pat, integer_type(&typed.ty)) {
                    names.insert(name.ident.to_string());
                }
            }
        }
        let mut integers = Integers(names);
        // Twice: a name bound from another integer name defined later in
        // the walk is found the second time.
        for _ in 0..2 {
            syn::visit::Visit::visit_block(&mut integers, &function.block);
        }
        integers
    }

    fn is_integer(&self, expr: &syn::Expr) -> bool {
        match expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(_),
                ..
            }) => true,
            syn::Expr::Path(path) => path
                .path
                .get_ident()
                .is_some_and(|name| self.0.contains(&name.to_string())),
            syn::Expr::Paren(paren) => self.is_integer(&paren.expr),
            syn::Expr::Binary(binary) => {
                self.is_integer(&binary.left) && self.is_integer(&binary.right)
            }
            syn::Expr::Unary(unary) => self.is_integer(&unary.expr),
            syn::Expr::MethodCall(call) => call.method == "len" && call.args.is_empty(),
            syn::Expr::Cast(cast) => integer_type(&cast.ty) && self.is_integer(&cast.expr),
            _ => false,
        }
    }
}

/// `i` in `(i, ..)`.
fn first_of_tuple(pat: &syn::Pat) -> Option<&Ident> {
    match pat {
        syn::Pat::Tuple(tuple) => match tuple.elems.first() {
            Some(syn::Pat::Ident(name)) => Some(&name.ident),
            _ => None,
        },
        _ => None,
    }
}

/// Whether an iterator yields `(index, item)`: `enumerate()` last, or
/// followed only by adapters that keep the pairs (`rev`, `skip`, `take`,
/// `step_by`).
fn enumerated(iter: &syn::Expr) -> bool {
    let mut over = iter;
    while let syn::Expr::MethodCall(call) = over {
        match call.method.to_string().as_str() {
            "enumerate" => return call.args.is_empty(),
            "rev" | "skip" | "take" | "step_by" => over = &call.receiver,
            _ => return false,
        }
    }
    false
}

fn integer_type(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if INTEGERS.iter().any(|i| p.path.is_ident(i)))
}

impl<'a> syn::visit::Visit<'a> for Integers {
    fn visit_expr_for_loop(&mut self, looped: &'a syn::ExprForLoop) {
        let mut over = &*looped.expr;
        // `(0..n).rev()`, `(0..n).step_by(2)`.
        while let syn::Expr::MethodCall(call) = over {
            over = &call.receiver;
        }
        while let syn::Expr::Paren(paren) = over {
            over = &paren.expr;
        }
        if let (syn::Pat::Ident(name), syn::Expr::Range(_)) = (&*looped.pat, over) {
            self.0.insert(name.ident.to_string());
        }
        // `for (i, v) in x.iter().enumerate()` (then `rev`, `skip`, ...):
        // `i` counts.
        if let (Some(index), true) = (first_of_tuple(&looped.pat), enumerated(&looped.expr)) {
            self.0.insert(index.to_string());
        }
        syn::visit::visit_expr_for_loop(self, looped);
    }

    fn visit_local(&mut self, local: &'a syn::Local) {
        let (name, typed) = match &local.pat {
            syn::Pat::Ident(name) => (Some(name), false),
            syn::Pat::Type(typed) => match &*typed.pat {
                syn::Pat::Ident(name) => (Some(name), integer_type(&typed.ty)),
                _ => (None, false),
            },
            _ => (None, false),
        };
        if let Some(name) = name {
            let init_integer = local
                .init
                .as_ref()
                .is_some_and(|init| self.is_integer(&init.expr));
            if typed || init_integer {
                self.0.insert(name.ident.to_string());
            }
        }
        syn::visit::visit_local(self, local);
    }
}

/// `K`, `consts::K`, `f64::EPSILON`: an item named as constants are.
fn names_constant(path: &syn::Path) -> bool {
    path.segments.last().is_some_and(|last| {
        let name = last.ident.to_string();
        name.chars().any(|c| c.is_ascii_uppercase())
            && !name.chars().any(|c| c.is_ascii_lowercase())
    })
}

struct Rewrite {
    float: Ident,
    param: Ident,
    closures: BTreeSet<String>,
    integers: Integers,
    /// Calls of other functions go to their twins, of this name.
    twin: Ident,
    /// Something the rewrite does not cover: no twin.
    failed: bool,
}

impl Rewrite {
    /// `T::from(value).unwrap()`, spanned at the value.
    fn converted(&self, value: &dyn ToTokens, span: Span) -> syn::Expr {
        let param = &self.param;
        syn::parse_quote_spanned!(span=> #param::from(#value).unwrap())
    }

    fn is_float(&self, path: &syn::Path) -> bool {
        path.segments.first().is_some_and(|s| s.ident == self.float)
    }

    /// `f64::EPSILON`, `std::f64::consts::PI`: a constant of the float type.
    fn is_constant(&self, path: &syn::Path) -> bool {
        let names_float = path.segments.iter().any(|s| s.ident == self.float);
        names_float && path.segments.len() >= 2 && names_constant(path)
    }

    /// The inside of `vec![a, b]` or `vec![a; n]`, read as an array's and
    /// rewritten as any expression.
    fn vec_tokens(&mut self, tokens: TokenStream) -> TokenStream {
        let Ok(mut array) = syn::parse2::<syn::Expr>(quote::quote!([#tokens])) else {
            self.failed = true;
            return tokens;
        };
        self.visit_expr_mut(&mut array);
        match array {
            syn::Expr::Array(array) => array.elems.into_token_stream(),
            syn::Expr::Repeat(repeat) => {
                let (value, len) = (&repeat.expr, &repeat.len);
                quote::quote!(#value; #len)
            }
            _ => {
                self.failed = true;
                tokens
            }
        }
    }
}

impl VisitMut for Rewrite {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Path(path) = ty {
            if path.qself.is_none() && path.path.is_ident(&self.float) {
                let param = &self.param;
                *ty = syn::parse_quote!(#param);
                return;
            }
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }

    fn visit_pat_mut(&mut self, pat: &mut syn::Pat) {
        // A float in a pattern cannot be a call.
        if let syn::Pat::Lit(lit) = pat {
            if matches!(lit.lit, syn::Lit::Float(_)) {
                self.failed = true;
            }
        }
        syn::visit_mut::visit_pat_mut(self, pat);
    }

    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        let span = expr.span();
        match expr {
            // The literal as written (`T::from(2.0_f64)` too), so that lints
            // reading it see the user's own text.
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Float(lit),
                ..
            }) => {
                let lit = lit.clone();
                *expr = self.converted(&lit, span);
            }
            syn::Expr::Cast(cast) => {
                let to_float =
                    matches!(&*cast.ty, syn::Type::Path(p) if p.path.is_ident(&self.float));
                if !to_float {
                    // `(k % 4) as i32` stays: an integer, as the names in it
                    // show. Anything else might be a float, which the twin
                    // could not cast.
                    if !self.integers.is_integer(&cast.expr) {
                        self.failed = true;
                    }
                    return;
                }
                self.visit_expr_mut(&mut cast.expr);
                // `(i + j) as f64` is `T::from(i + j)`: no parentheses left
                // for the lint.
                let mut inner = &*cast.expr;
                while let syn::Expr::Paren(paren) = inner {
                    inner = &paren.expr;
                }
                let inner = inner.clone();
                *expr = self.converted(&inner, span);
            }
            syn::Expr::Path(path) if self.is_constant(&path.path) => {
                let constant = path.clone();
                *expr = self.converted(&constant, span);
            }
            // `f64::max` passed as a function (`fold(.., f64::max)`).
            syn::Expr::Path(path)
                if self.is_float(&path.path)
                    && path.path.segments.len() == 2
                    && crate::rules::method(&path.path.segments[1].ident.to_string()).is_some() =>
            {
                let (param, name) = (&self.param, &path.path.segments[1].ident);
                path.path = syn::parse_quote!(#param::#name);
            }
            syn::Expr::Path(path) if path.path.segments.iter().any(|s| s.ident == self.float) => {
                self.failed = true;
            }
            // A constant of the user's (`K`, `physics::G`) may be a float,
            // which the twin would mix with its own: no twin.
            syn::Expr::Path(path) if names_constant(&path.path) => {
                self.failed = true;
            }
            syn::Expr::Call(call) => {
                for arg in &mut call.args {
                    self.visit_expr_mut(arg);
                }
                let syn::Expr::Path(func) = &mut *call.func else {
                    self.failed = true;
                    return;
                };
                let segments = crate::lower::segment_names(&func.path);
                let last = segments.last().cloned().unwrap_or_default();
                if self.is_float(&func.path) && segments.len() == 2 {
                    if last == "from" && call.args.len() == 1 {
                        let arg = &call.args[0];
                        *expr = self.converted(arg, span);
                    } else if crate::rules::method(&last).is_some() {
                        let (param, name) = (&self.param, &func.path.segments[1].ident);
                        func.path = syn::parse_quote!(#param::#name);
                    } else {
                        self.failed = true;
                    }
                    return;
                }
                let local_closure = segments.len() == 1 && self.closures.contains(&last);
                // `Vec::new()`, `Vec::with_capacity(n)`: the element type is
                // inferred from what is pushed.
                let new_vec = segments.iter().rev().nth(1).is_some_and(|s| s == "Vec")
                    && (last == "new" || last == "with_capacity");
                if new_vec {
                    return;
                }
                let activation = crate::rules::runtime(&last).is_some()
                    && (segments.len() == 1 || segments[0] == "backprop_runtime");
                // `std::mem::swap(&mut a, &mut b)`: std's, which the
                // pipeline reads as an assignment.
                let swap = crate::desugar::assignments::is_mem_swap(&func.path);
                // The index arithmetic of a function read field by field
                // (`::backprop_runtime::model::fields::within(i, len)`): of
                // integers, the same in the twin.
                let index = func.path.leading_colon.is_some()
                    && segments.starts_with(&[
                        "backprop_runtime".into(),
                        "model".into(),
                        "fields".into(),
                    ]);
                if local_closure || activation || swap || index {
                    return;
                }
                // Spanned at the call: a callee without a twin is reported
                // there.
                let segment = Ident::new(&self.twin.to_string(), func.path.span());
                func.path.segments.push(segment.into());
            }
            syn::Expr::Macro(mac) => {
                if mac.mac.path.is_ident("vec") {
                    let tokens = std::mem::take(&mut mac.mac.tokens);
                    mac.mac.tokens = self.vec_tokens(tokens);
                } else {
                    self.failed = true;
                }
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_macro_mut(&mut self, _mac: &mut syn::Macro) {
        // Statement macros (`println!`): not rewritten, so no twin.
        self.failed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::generic_twin;
    use quote::{quote, ToTokens};

    fn twin(item: proc_macro2::TokenStream) -> Option<String> {
        let function: syn::ItemFn = syn::parse2(item).ok()?;
        let name = proc_macro2::Ident::new("generic", proc_macro2::Span::call_site());
        generic_twin(&function, &name).map(|t| t.to_token_stream().to_string())
    }

    #[test]
    fn literals_casts_types_and_methods_over_the_parameter() {
        let code = twin(quote! {
            fn f(x: f64, w: &[f64], n: usize) -> f64 {
                let mut h: Vec<f64> = vec![0.0; n];
                let listed = vec![x, n as f64, 1.5];
                let g = |v: f64| v * 2.0;
                h[0] = f64::max(x, 0.5) + n as f64 + g(x) + f64::EPSILON;
                let mut pushed = Vec::new();
                pushed.push(x);
                h[0] * w[0] + std::f64::consts::PI + w.iter().copied().fold(0.0, f64::max)
            }
        })
        .expect("a twin");
        for piece in [
            "fn generic < T : :: backprop_runtime :: Float",
            "x : T",
            "w : & [T]",
            "-> T",
            "Vec < T >",
            "vec ! [T :: from (0.0) . unwrap () ; n]",
            "vec ! [x , T :: from (n) . unwrap () , T :: from (1.5) . unwrap ()]",
            "T :: max (x , T :: from (0.5) . unwrap ())",
            "fold (T :: from (0.0) . unwrap () , T :: max)",
            "Vec :: new ()",
            "T :: from (n) . unwrap ()",
            "T :: from (f64 :: EPSILON) . unwrap ()",
            "T :: from (std :: f64 :: consts :: PI) . unwrap ()",
            "| v : T |",
        ] {
            assert!(code.contains(piece), "{piece} in {code}");
        }
    }

    #[test]
    fn casts_between_integers_stay() {
        let code = twin(quote! {
            fn f(x: f64, w: &[f64], n: usize) -> f64 {
                let mut k = 0;
                let m = w.len();
                for i in (0..n).rev() {
                    k += 1;
                }
                x.powi(((k + i) % 4) as i32) + x.powi(m as i32) + x.powi(-(n as i32))
            }
        })
        .expect("a twin");
        assert!(code.contains("((k + i) % 4) as i32"), "{code}");
    }

    #[test]
    fn an_enumerated_index_is_an_integer() {
        let code = twin(quote! {
            fn f(x: f64, w: &[f64]) -> f64 {
                let mut s = x;
                for (i, v) in w.iter().enumerate().rev() {
                    s += v.powi((i % 3) as i32);
                }
                s
            }
        })
        .expect("a twin");
        assert!(code.contains("(i % 3) as i32"), "{code}");
        // Not after an adapter that changes the items: no twin.
        assert!(twin(quote! {
            fn f(x: f64, w: &[f64]) -> f64 {
                let mut s = x;
                for (i, v) in w.iter().enumerate().map(|(i, v)| (i, v)) {
                    s += v.powi((i % 3) as i32);
                }
                s
            }
        })
        .is_none());
    }

    #[test]
    fn checks_and_prints_are_left_out() {
        let code = twin(quote! {
            fn f(x: f64, w: &[f64]) -> f64 {
                assert!(x > 0.0, "positive");
                debug_assert_eq!(w.len(), 2);
                println!("{x}");
                x * w[0]
            }
        })
        .expect("a twin");
        assert!(!code.contains("assert"), "{code}");
        assert!(!code.contains("println"), "{code}");
    }

    #[test]
    fn no_twin_where_the_rewrite_could_mislead() {
        for item in [
            // Generic already.
            quote!(
                fn f<T: Float>(x: T) -> T {
                    x
                }
            ),
            // Two floats.
            quote!(
                fn f(x: f64) -> f64 {
                    (x as f32) as f64
                }
            ),
            // A cast of a float to an integer.
            quote!(
                fn f(x: f64) -> f64 {
                    let k = x as usize;
                    x * 2.0
                }
            ),
            quote!(
                fn f(x: f64, n: usize) -> f64 {
                    x.powi((x * 2.0) as i32)
                }
            ),
            // A struct parameter.
            quote!(
                fn f(m: &Model, x: f64) -> f64 {
                    m.k * x
                }
            ),
            // Several results, `&mut`.
            quote!(
                fn f(x: f64) -> (f64, f64) {
                    (x, x)
                }
            ),
            // A float method path the table does not know.
            quote!(
                fn f(x: f64) -> f64 {
                    f64::total_cmp(&x, &x);
                    x
                }
            ),
            // Other macros (checks and prints are left out of the twin).
            quote!(
                fn f(x: f64) -> f64 {
                    let y = x * x;
                    my_macro!(y);
                    y
                }
            ),
            // A constant of the user's, perhaps a float.
            quote!(
                fn f(x: f64) -> f64 {
                    x * K
                }
            ),
        ] {
            assert!(twin(item.clone()).is_none(), "{item}");
        }
    }
}
