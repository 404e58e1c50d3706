//! A side of a `zip` that skips or takes, `x.iter().zip(x.iter().skip(1))`
//! (consecutive pairs), is the part of the slice it yields,
//! `x.iter().zip(&x[1.min(x.len())..])`: lowering runs one index over both
//! sides of a zip, and reads a part through its parent. And the function
//! `std::iter::zip(a, b)` is the method it stands for, `a.into_iter().zip(b)`.

use crate::lower::strip_parens as strip;
use syn::visit_mut::VisitMut;
use syn::Expr;

pub fn zip_sides_as_parts(block: &mut syn::Block) {
    Sides.visit_block_mut(block);
}

/// `std::iter::zip(a, b)` (also `core::iter::zip`, `iter::zip`) as
/// `a.into_iter().zip(b)`, which is how the standard library defines it. A
/// bare `zip(a, b)` may be a function of the user's: left alone.
pub fn zip_calls_as_methods(block: &mut syn::Block) {
    struct Calls;
    impl VisitMut for Calls {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            syn::visit_mut::visit_expr_mut(self, expr);
            let Expr::Call(call) = expr else {
                return;
            };
            let Expr::Path(path) = strip(&call.func) else {
                return;
            };
            let segments = crate::lower::segment_names(&path.path);
            let named = matches!(
                segments.iter().map(String::as_str).collect::<Vec<_>>()[..],
                ["std" | "core", "iter", "zip"] | ["iter", "zip"]
            );
            if !named || call.args.len() != 2 {
                return;
            }
            let (a, b) = (&call.args[0], &call.args[1]);
            // An iterator already (`a.iter()`) is its own; a borrow, `&b[1..]`,
            // iterates by `iter()`, which is what `into_iter` of a borrowed
            // slice, array or vector is.
            let receiver = match a {
                Expr::MethodCall(m)
                    if crate::desugar::ITERATOR_METHODS
                        .iter()
                        .any(|name| m.method == name) =>
                {
                    quote::quote!(#a)
                }
                Expr::Reference(_) => quote::quote!((#a).iter()),
                Expr::Path(_) | Expr::Call(_) | Expr::Index(_) | Expr::Field(_) => {
                    quote::quote!(#a.into_iter())
                }
                _ => quote::quote!((#a).into_iter()),
            };
            *expr = syn::parse_quote_spanned!(syn::spanned::Spanned::span(&call.func)=>
                #receiver.zip(#b)
            );
        }
    }
    Calls.visit_block_mut(block);
}

struct Sides;

impl VisitMut for Sides {
    fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
        syn::visit_mut::visit_expr_method_call_mut(self, call);
        if call.method != "zip" || call.args.len() != 1 {
            return;
        }
        if let Some(part) = part_iterated(&call.receiver) {
            *call.receiver = syn::parse_quote!((#part).iter());
        }
        if let Some(part) = part_iterated(&call.args[0]) {
            call.args[0] = part;
        }
    }
}

/// `&x[start..end]` of `x.iter()` followed by `skip`s and `take`s, each
/// bound by the length as the adapter is (`skip(k)` past the end yields
/// nothing, `take(n)` at most what is left).
fn part_iterated(side: &Expr) -> Option<Expr> {
    let mut adapters = Vec::new();
    let mut inner = strip(side);
    while let Expr::MethodCall(call) = inner {
        match call.method.to_string().as_str() {
            "skip" | "take" if call.args.len() == 1 => {
                adapters.push((call.method.to_string(), call.args[0].clone()));
                inner = strip(&call.receiver);
            }
            _ => break,
        }
    }
    if adapters.is_empty() {
        return None;
    }
    let Expr::MethodCall(iter) = inner else {
        return None;
    };
    if iter.method != "iter" || !iter.args.is_empty() {
        return None;
    }
    let base = match strip(&iter.receiver) {
        Expr::Reference(r) if r.mutability.is_none() => strip(&r.expr),
        other => other,
    };
    let Expr::Path(path) = base else {
        return None;
    };
    let base = path.path.get_ident()?;
    let len: Expr = syn::parse_quote!(#base.len());
    // (No `0 + k` while nothing is skipped: the code is shown.)
    let (mut start, mut end): (Option<Expr>, Expr) = (None, len);
    for (method, count) in adapters.into_iter().rev() {
        let count: Expr = match count {
            Expr::Lit(_) | Expr::Path(_) => count,
            other => syn::parse_quote!((#other)),
        };
        let moved: Expr = match &start {
            Some(start) => syn::parse_quote!((#start + #count).min(#end)),
            None => syn::parse_quote!((#count).min(#end)),
        };
        match method.as_str() {
            "skip" => start = Some(moved),
            _ => end = moved,
        }
    }
    let start = start.map(|start| quote::quote!(#start));
    Some(syn::parse_quote!(&#base[#start..#end]))
}
