//! A `match` on a tuple of values, `match (a > 0.0, n % 2) { (true, 0) =>
//! .., (true, _) => .., _ => .. }`, as the branches it stands for: the
//! tuple's parts bound first (`let (part_0, part_1) = (a > 0.0, n % 2);`),
//! then `if part_0 && (part_1 == 0) { .. } else if part_0 { .. } else { ..
//! }`. The parts are compared as the patterns say (a literal, `_`, `a | b`,
//! a range, a constant); the last arm is the `else`, as rustc has checked the arms
//! cover every value. A pattern that binds a name, or a last arm with a
//! guard, leaves the `match` as written.

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat};

pub fn tuple_matches_as_branches(block: &mut syn::Block) {
    let mut names = Names::avoiding(identifiers(block.to_token_stream()));
    Rewriter { names: &mut names }.visit_block_mut(block);
}

struct Rewriter<'a> {
    names: &'a mut Names,
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        if let Expr::Match(choice) = expr {
            if let Some(branches) = self.branches(choice) {
                *expr = branches;
            }
        }
    }
}

impl Rewriter<'_> {
    fn branches(&mut self, choice: &syn::ExprMatch) -> Option<Expr> {
        let Expr::Tuple(parts) = strip(&choice.expr) else {
            return None;
        };
        let count = parts.elems.len();
        let (last, rest) = choice.arms.split_last()?;
        if matches!(last.pat, Pat::Guard(_)) || count < 2 {
            return None;
        }
        let names: Vec<syn::Ident> = (0..count)
            .map(|k| self.names.fresh(&format!("part_{k}")))
            .collect();
        let mut tests = Vec::new();
        for arm in rest {
            let (pat, guard) = match &arm.pat {
                Pat::Guard(guarded) => (&*guarded.pat, Some(&*guarded.guard)),
                pat => (pat, None),
            };
            let mut test = arm_test(pat, &names)?;
            if let Some(guard) = guard {
                test.push(quote!((#guard)));
            }
            tests.push(match test.is_empty() {
                true => quote!(true),
                false => quote!(#(#test)&&*),
            });
        }
        // The last arm's pattern binds nothing either.
        arm_test(&last.pat, &names)?;
        let bodies: Vec<&Expr> = rest.iter().map(|arm| &*arm.body).collect();
        let last_body = &last.body;
        let values = &parts.elems;
        Some(syn::parse_quote!({
            let (#(#names),*) = (#values);
            #(if #tests { #bodies } else)* { #last_body }
        }))
    }
}

/// The comparisons a tuple pattern makes of the parts `names` (none for
/// `_`), or `None` where it binds a name or is of another shape.
fn arm_test(pat: &Pat, names: &[syn::Ident]) -> Option<Vec<TokenStream>> {
    match pat {
        Pat::Wild(_) => Some(Vec::new()),
        Pat::Tuple(tuple) if tuple.elems.len() == names.len() => {
            let mut tests = Vec::new();
            for (part, name) in tuple.elems.iter().zip(names) {
                if let Some(test) = part_test(part, name)? {
                    tests.push(test);
                }
            }
            Some(tests)
        }
        _ => None,
    }
}

/// The comparison one part's pattern makes: `None` inside for `_`.
fn part_test(pat: &Pat, name: &syn::Ident) -> Option<Option<TokenStream>> {
    Some(Some(match pat {
        Pat::Wild(_) => return Some(None),
        // (`true` is the part itself, `false` its negation.)
        Pat::Lit(syn::ExprLit {
            lit: syn::Lit::Bool(truth),
            ..
        }) => match truth.value {
            true => quote!(#name),
            false => quote!((!#name)),
        },
        Pat::Lit(lit) => quote!((#name == #lit)),
        // (A name in capitals is a constant; any other binds.)
        Pat::Ident(ident) if ident.subpat.is_none() && is_constant(&ident.ident) => {
            let constant = &ident.ident;
            quote!((#name == #constant))
        }
        // (Both ends: `contains`, as clippy would have it.)
        Pat::Range(syn::PatRange {
            start: Some(lo),
            end: Some(hi),
            limits,
            ..
        }) => match limits {
            syn::RangeLimits::HalfOpen(_) => quote!((#lo..#hi).contains(&#name)),
            syn::RangeLimits::Closed(_) => quote!((#lo..=#hi).contains(&#name)),
        },
        Pat::Range(range) => {
            let low = range.start.as_ref().map(|lo| quote!(#name >= #lo));
            let high = range.end.as_ref().map(|hi| match range.limits {
                syn::RangeLimits::HalfOpen(_) => quote!(#name < #hi),
                syn::RangeLimits::Closed(_) => quote!(#name <= #hi),
            });
            let bounds: Vec<TokenStream> = low.into_iter().chain(high).collect();
            quote!((#(#bounds)&&*))
        }
        Pat::Or(or) => {
            let cases: Vec<TokenStream> = or
                .cases
                .iter()
                .map(|case| part_test(case, name)?.or_else(|| Some(quote!(true))))
                .collect::<Option<_>>()?;
            quote!((#(#cases)||*))
        }
        Pat::Paren(inner) => return part_test(&inner.pat, name),
        _ => return None,
    }))
}

/// A name in a pattern that is a constant (`MAX`), not a binding.
fn is_constant(ident: &syn::Ident) -> bool {
    let name = ident.to_string();
    name.chars().any(|c| c.is_uppercase())
        && name
            .chars()
            .all(|c| c.is_uppercase() || c.is_ascii_digit() || c == '_')
}
