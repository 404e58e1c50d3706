//! A plain helper generic over the float, `fn dot<F: Float>(a: &[F], b:
//! &[F]) -> F`, called from a function over `f64` (or `f32`): inlined as
//! the copy of it over that float, `F` written as the float in its types,
//! and its constructors as the float's own (`F::zero()` is `0.0_f64`,
//! `F::from(2.0).unwrap()` is `2.0_f64`, `F::epsilon()` is `f64::EPSILON`,
//! `F::sqrt(v)` is `f64::sqrt(v)`). From a function generic over its own
//! `T: Float`, the copy of it over `T` (`F` written `T`).

use proc_macro2::{Ident, Span};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// The float a function computes in: the first `f64` or `f32` its
/// signature names.
pub(super) fn caller_float(sig: &syn::Signature) -> Option<Ident> {
    struct First(Option<Ident>);
    impl<'ast> Visit<'ast> for First {
        fn visit_type_path(&mut self, path: &'ast syn::TypePath) {
            if self.0.is_none() {
                if let Some(ident) = path.path.get_ident() {
                    if ident == "f64" || ident == "f32" {
                        self.0 = Some(ident.clone());
                    }
                }
            }
            syn::visit::visit_type_path(self, path);
        }
    }
    if float_param(sig).is_some() {
        return None;
    }
    let mut first = First(None);
    first.visit_signature(sig);
    first.0
}

/// The one type parameter of a function that is generic over the float
/// alone (`<F: Float>`, `<F>` with `where F: Float`; lifetimes besides).
pub(super) fn float_param(sig: &syn::Signature) -> Option<Ident> {
    let mut types = sig.generics.params.iter().filter_map(|param| match param {
        syn::GenericParam::Type(ty) => Some(Ok(ty)),
        syn::GenericParam::Const(_) => Some(Err(())),
        syn::GenericParam::Lifetime(_) => None,
    });
    let ty = types.next()?.ok()?;
    if types.next().is_some() {
        return None;
    }
    let names_float =
        |bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>| {
            bounds.iter().any(|bound| {
                matches!(bound, syn::TypeParamBound::Trait(t)
                if t.path.segments.last().is_some_and(|s| s.ident == "Float"))
            })
        };
    let in_where = sig.generics.where_clause.iter().any(|clause| {
        clause.predicates.iter().any(|predicate| {
            matches!(predicate, syn::WherePredicate::Type(p)
                if matches!(&p.bounded_ty, syn::Type::Path(path) if path.path.is_ident(&ty.ident))
                    && names_float(&p.bounds))
        })
    });
    (names_float(&ty.bounds) || in_where).then(|| ty.ident.clone())
}

/// `callee` without its float parameter, written `param` (the caller's,
/// which is a `Float` too), or `None` where it is not generic over the
/// float alone.
pub(super) fn over_param(callee: &syn::ItemFn, param: &Ident) -> Option<syn::ItemFn> {
    struct Rename<'a>(&'a Ident, &'a Ident);
    impl VisitMut for Rename<'_> {
        fn visit_ident_mut(&mut self, ident: &mut Ident) {
            if ident == self.0 {
                *ident = Ident::new(&self.1.to_string(), ident.span());
            }
        }
    }
    let own = float_param(&callee.sig)?;
    // (`&T` and `&mut T` stay calls: the inliner reads a reference to a
    // float as one to `f64` or `f32`.)
    let to_float = callee.sig.inputs.iter().any(|input| {
        matches!(input, syn::FnArg::Typed(typed) if matches!(&*typed.ty,
            syn::Type::Reference(r) if matches!(&*r.elem, syn::Type::Path(p) if p.path.is_ident(&own))))
    });
    if to_float {
        return None;
    }
    let mut copy = without_param(callee, &own);
    let mut rename = Rename(&own, param);
    rename.visit_signature_mut(&mut copy.sig);
    rename.visit_block_mut(&mut copy.block);
    Some(copy)
}

/// `callee` with its type parameter `param` and its `where` clause gone.
fn without_param(callee: &syn::ItemFn, param: &Ident) -> syn::ItemFn {
    let mut copy = callee.clone();
    copy.sig.generics.params = copy
        .sig
        .generics
        .params
        .into_iter()
        .filter(|p| !matches!(p, syn::GenericParam::Type(t) if t.ident == *param))
        .collect();
    copy.sig.generics.where_clause = None;
    if copy.sig.generics.params.is_empty() {
        copy.sig.generics.lt_token = None;
        copy.sig.generics.gt_token = None;
    }
    copy
}

/// `callee` over `float` in place of its float parameter, or `None` where
/// it is not generic over the float alone, or uses its parameter otherwise
/// than as a type and through the constructors this knows.
pub(super) fn specialized(callee: &syn::ItemFn, float: &Ident) -> Option<syn::ItemFn> {
    let param = float_param(&callee.sig)?;
    let mut copy = without_param(callee, &param);
    let mut writer = Specialize {
        param,
        float: float.clone(),
        unknown: false,
    };
    writer.visit_signature_mut(&mut copy.sig);
    writer.visit_block_mut(&mut copy.block);
    (!writer.unknown).then_some(copy)
}

struct Specialize {
    param: Ident,
    /// `f64` or `f32`.
    float: Ident,
    /// A use of the parameter this cannot write over the float.
    unknown: bool,
}

impl Specialize {
    fn is_param(&self, path: &syn::Path) -> bool {
        path.leading_colon.is_none()
            && path.segments.len() == 2
            && path.segments[0].ident == self.param
            && path.segments[0].arguments.is_empty()
    }

    /// `F::name(args)` over `f64`.
    fn constructor(float: &Ident, name: &str, args: &[Expr]) -> Option<Expr> {
        let literal = |text: String| -> Option<Expr> { syn::parse_str(&text).ok() };
        let constant = |name: &str| -> Option<Expr> {
            let name = Ident::new(name, Span::call_site());
            Some(syn::parse_quote!(#float::#name))
        };
        match (name, args) {
            ("zero", []) => literal(format!("0.0_{float}")),
            ("one", []) => literal(format!("1.0_{float}")),
            ("neg_zero", []) => literal(format!("-0.0_{float}")),
            ("epsilon", []) => constant("EPSILON"),
            ("infinity", []) => constant("INFINITY"),
            ("neg_infinity", []) => constant("NEG_INFINITY"),
            ("nan", []) => constant("NAN"),
            ("max_value", []) => constant("MAX"),
            ("min_value", []) => constant("MIN"),
            ("min_positive_value", []) => constant("MIN_POSITIVE"),
            // `F::sqrt(v)`, `F::max(a, b)`: the float's own method.
            (name, _) if crate::rules::method(name).is_some() => {
                let name = Ident::new(name, Span::call_site());
                Some(syn::parse_quote!(#float::#name(#(#args),*)))
            }
            _ => None,
        }
    }

    /// `F::from(v).unwrap()` (or `.expect(..)`) over `f64`: `2.0_f64` of a
    /// literal, `(v as f64)` otherwise.
    fn conversion(float: &Ident, value: &Expr) -> Expr {
        if let Expr::Lit(syn::ExprLit { lit, .. }) = value {
            let digits = match lit {
                syn::Lit::Float(f) if f.suffix().is_empty() => Some(f.base10_digits().to_string()),
                syn::Lit::Int(i) if i.suffix().is_empty() => {
                    Some(format!("{}.0", i.base10_digits()))
                }
                _ => None,
            };
            if let Some(parsed) = digits.and_then(|d| syn::parse_str(&format!("{d}_{float}")).ok())
            {
                return parsed;
            }
        }
        syn::parse_quote!((#value as #float))
    }
}

impl VisitMut for Specialize {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if matches!(ty, syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident(&self.param)) {
            let float = &self.float;
            *ty = syn::parse_quote!(#float);
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let float = self.float.clone();
        // `F::from(v).unwrap()`.
        if let Expr::MethodCall(call) = expr {
            let unwraps = crate::desugar::unwraps(call);
            if let (true, Expr::Call(inner)) = (unwraps, crate::lower::strip_parens(&call.receiver))
            {
                if let Expr::Path(func) = &*inner.func {
                    if self.is_param(&func.path)
                        && func.path.segments[1].ident == "from"
                        && inner.args.len() == 1
                    {
                        let mut value = inner.args[0].clone();
                        self.visit_expr_mut(&mut value);
                        *expr = Self::conversion(&float, &value);
                        return;
                    }
                }
            }
        }
        if let Expr::Call(call) = expr {
            if let Expr::Path(func) = &*call.func {
                if self.is_param(&func.path) {
                    let name = func.path.segments[1].ident.to_string();
                    let mut args: Vec<Expr> = call.args.iter().cloned().collect();
                    for arg in &mut args {
                        self.visit_expr_mut(arg);
                    }
                    match Self::constructor(&float, &name, &args) {
                        Some(written) => *expr = written,
                        None => self.unknown = true,
                    }
                    return;
                }
            }
        }
        // `F::max` passed as a function (`fold(F::zero(), F::max)`).
        if let Expr::Path(path) = expr {
            if self.is_param(&path.path) {
                let name = path.path.segments[1].ident.clone();
                match crate::rules::method(&name.to_string()) {
                    Some(_) => *expr = syn::parse_quote!(#float::#name),
                    None => self.unknown = true,
                }
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}
