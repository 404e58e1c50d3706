//! Loops that write through `iter_mut()`: `for o in out.iter_mut() { *o = .. }`,
//! with `.enumerate()` or `.zip(x)`, are the index loops they stand for,
//! `for k in 0..out.len() { out[k] = .. }`, so the writes are element writes
//! like any other. A float method called on the reference (`o.sin()`,
//! which Rust reads as `(*o).sin()`) reads the element too. A loop whose
//! body uses the reference otherwise is left as written (and refused where
//! it is lowered).

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use quote::{quote, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat};

pub fn iter_mut_loops_as_index_loops(block: &mut syn::Block) {
    Rewriter.visit_block_mut(block);
}

struct Rewriter;

impl VisitMut for Rewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        if let Expr::ForLoop(looped) = expr {
            if let Some(rewritten) = index_loop(looped) {
                *expr = Expr::ForLoop(rewritten);
            }
        }
    }
}

/// What a loop over `iter_mut()` iterates.
struct Source {
    /// The array written through `*o`.
    written: syn::Ident,
    enumerated: bool,
    /// The array zipped with it, read.
    zipped: Option<Expr>,
}

fn index_loop(looped: &syn::ExprForLoop) -> Option<syn::ExprForLoop> {
    let source = source(&looped.expr)?;
    let (index, element, partner) = parts_of_pattern(&looped.pat, &source)?;
    let mut names = Names::avoiding(identifiers(looped.to_token_stream()));
    let k = match &index {
        Some(index) => index.clone(),
        None => names.fresh("k"),
    };
    let written = &source.written;
    let mut body = looped.body.clone();
    // The element's name bound again inside: its uses there are another's.
    if super::rebound_inside(&body, &element)
        || partner
            .as_ref()
            .is_some_and(|p| super::rebound_inside(&body, p))
    {
        return None;
    }
    let mut replacer = Replacer {
        element: &element,
        place: syn::parse_quote!(#written[#k]),
        bare_use: false,
    };
    replacer.visit_block_mut(&mut body);
    if replacer.bare_use {
        return None;
    }
    // The zipped element is bound to its value: `*v` is `v`.
    if let Some(partner) = &partner {
        let mut values = Replacer {
            element: partner,
            place: syn::parse_quote!(#partner),
            bare_use: false,
        };
        values.visit_block_mut(&mut body);
    }
    let len = match &source.zipped {
        Some(other) => quote!(#written.len().min(#other.len())),
        None => quote!(#written.len()),
    };
    let read = match (&source.zipped, &partner) {
        (Some(other), Some(name)) => Some(quote!(let #name = #other[#k];)),
        _ => None,
    };
    let stmts = &body.stmts;
    let label = &looped.label;
    syn::parse2(quote::quote_spanned! {looped.for_token.span=>
        #label for #k in 0..#len {
            #read
            #(#stmts)*
        }
    })
    .ok()
}

/// `a.iter_mut()`, `a.iter_mut().enumerate()`, `a.iter_mut().zip(b)` (also
/// `zip(b.iter())` and `zip(&b)`).
fn source(expr: &Expr) -> Option<Source> {
    match strip(expr) {
        Expr::MethodCall(m) if m.method == "iter_mut" && m.args.is_empty() => {
            let Expr::Path(p) = strip(&m.receiver) else {
                return None;
            };
            Some(Source {
                written: p.path.get_ident()?.clone(),
                enumerated: false,
                zipped: None,
            })
        }
        Expr::MethodCall(m) if m.method == "enumerate" && m.args.is_empty() => {
            let inner = source(&m.receiver)?;
            (!inner.enumerated && inner.zipped.is_none()).then_some(Source {
                enumerated: true,
                ..inner
            })
        }
        Expr::MethodCall(m) if m.method == "zip" && m.args.len() == 1 => {
            let inner = source(&m.receiver)?;
            let other = match strip(&m.args[0]) {
                Expr::MethodCall(o) if o.method == "iter" && o.args.is_empty() => &*o.receiver,
                Expr::Reference(r) if r.mutability.is_none() => &*r.expr,
                other => other,
            };
            let Expr::Path(p) = strip(other) else {
                return None;
            };
            p.path.get_ident()?;
            (!inner.enumerated && inner.zipped.is_none()).then_some(Source {
                zipped: Some(other.clone()),
                ..inner
            })
        }
        _ => None,
    }
}

/// The loop pattern's names: the index (with `enumerate`), the element
/// written, and the zipped element read.
fn parts_of_pattern(
    pat: &Pat,
    source: &Source,
) -> Option<(Option<syn::Ident>, syn::Ident, Option<syn::Ident>)> {
    let name = |pat: &Pat| match pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
        Pat::Reference(r) => match &*r.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
            _ => None,
        },
        _ => None,
    };
    match (pat, source.enumerated, &source.zipped) {
        (Pat::Ident(p), false, None) if p.by_ref.is_none() && p.subpat.is_none() => {
            Some((None, p.ident.clone(), None))
        }
        (Pat::Tuple(t), true, None) if t.elems.len() == 2 => {
            let index = name(&t.elems[0])?;
            let element = match &t.elems[1] {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
                _ => return None,
            };
            Some((Some(index), element, None))
        }
        (Pat::Tuple(t), false, Some(_)) if t.elems.len() == 2 => {
            let element = match &t.elems[0] {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
                _ => return None,
            };
            Some((None, element, Some(name(&t.elems[1])?)))
        }
        _ => None,
    }
}

/// Replaces `*o`, and `o` as a method's receiver, with the element's place;
/// notes any other use of `o`.
struct Replacer<'a> {
    element: &'a syn::Ident,
    place: Expr,
    bare_use: bool,
}

impl VisitMut for Replacer<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // A closure whose parameter has the element's name: another value.
        if matches!(expr, Expr::Closure(c) if super::closure_binds(c, self.element)) {
            return;
        }
        if let Expr::Unary(u) = expr {
            if matches!(u.op, syn::UnOp::Deref(_)) {
                if let Expr::Path(p) = strip(&u.expr) {
                    if p.path.is_ident(self.element) {
                        *expr = self.place.clone();
                        return;
                    }
                }
            }
        }
        if let Expr::MethodCall(m) = expr {
            if matches!(strip(&m.receiver), Expr::Path(p) if p.path.is_ident(self.element)) {
                *m.receiver = self.place.clone();
            }
        }
        if let Expr::Path(p) = expr {
            if p.path.is_ident(self.element) {
                self.bare_use = true;
            }
            return;
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(mut block: syn::Block) -> String {
        iter_mut_loops_as_index_loops(&mut block);
        quote!(#block).to_string()
    }

    #[test]
    fn writes_through_iter_mut_become_element_writes() {
        let block = syn::parse_quote!({
            for (p, g) in params.iter_mut().zip(grads) {
                *p -= lr * g;
            }
            for (i, o) in out.iter_mut().enumerate() {
                *o = x[i] * *o;
            }
            for s in state.iter_mut() {
                *s -= rate * s.sin();
            }
        });
        let expected: syn::Block = syn::parse_quote!({
            for k in 0..params.len().min(grads.len()) {
                let g = grads[k];
                params[k] -= lr * g;
            }
            for i in 0..out.len() {
                out[i] = x[i] * out[i];
            }
            for k in 0..state.len() {
                state[k] -= rate * state[k].sin();
            }
        });
        assert_eq!(rewrite(block), quote!(#expected).to_string());
    }

    #[test]
    fn a_reference_used_as_such_is_left_alone() {
        let block: syn::Block = syn::parse_quote!({
            for o in out.iter_mut() {
                scale(o, 2.0);
            }
        });
        let kept = quote!(#block).to_string();
        assert_eq!(rewrite(block), kept);
    }
}
