//! The index of a list's largest or smallest element, as Rust writes it:
//! `let (i, _) = x.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();`
//! (also `min_by`, `partial_cmp(..).unwrap()`, the comparator's parameters
//! taken apart, `|(_, a), (_, b)| ..`, and the element bound by value, `(i,
//! &v)`), as the loop over indices it stands for:
//!
//! ```text
//! let i = { let mut best = 0; .. for k in 0..x.len() { if .. x[k] >= x[best] { best = k; } } .. best };
//! let v = x[i];
//! ```
//!
//! The comparison is not differentiated; the element read at the index is,
//! as `x[i]` is. Ties go where the iterator's would: the last of equal
//! maxima, the first of equal minima.

use crate::lower::strip_parens as strip;
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat, Stmt};

pub fn arg_extrema_as_indices(block: &mut syn::Block) {
    struct Statements;
    impl VisitMut for Statements {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            syn::visit_mut::visit_block_mut(self, block);
            let mut k = 0;
            while k < block.stmts.len() {
                let Stmt::Local(local) = &block.stmts[k] else {
                    k += 1;
                    continue;
                };
                let Some((lets, reference)) = rewritten(local, &block.stmts[k + 1..]) else {
                    k += 1;
                    continue;
                };
                let written = lets.len();
                block.stmts.splice(k..=k, lets);
                if let Some(name) = reference {
                    crate::desugar::derefs_as_values(&mut block.stmts[k + written..], &name);
                }
                k += written;
            }
        }
    }
    Statements.visit_block_mut(block);
}

/// `let (i, v) = x.iter().enumerate().max_by(..).unwrap();` as the `let`s of
/// the index and, where bound, the element (by value: where the pattern
/// took a reference, `v`, the name of the element whose `*v` the statements
/// `after` read as `v`).
fn rewritten(local: &syn::Local, after: &[Stmt]) -> Option<(Vec<Stmt>, Option<syn::Ident>)> {
    let Pat::Tuple(pair) = &local.pat else {
        return None;
    };
    let [index, element] = [pair.elems.first()?, pair.elems.get(1)?];
    if pair.elems.len() != 2 {
        return None;
    }
    let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
    let Expr::MethodCall(unwrap) = strip(&init.expr) else {
        return None;
    };
    let Extreme { by, largest, total } = unwrapped_extreme(unwrap)?;
    let list = enumerated_list(&by.receiver)?;
    let descending = pair_order(&by.args[0])?;
    let (element, reference) = match element {
        Pat::Wild(_) => (None, None),
        Pat::Reference(r) => match &*r.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => (Some(p), None),
            _ => return None,
        },
        Pat::Ident(p)
            if p.by_ref.is_none()
                && p.subpat.is_none()
                && crate::desugar::may_read_as_value(after, &p.ident) =>
        {
            (Some(p), Some(p.ident.clone()))
        }
        _ => return None,
    };
    // Names neither the statement nor those after it use, so they hide
    // nothing either reads.
    let mut used = crate::emit::names::identifiers(quote::ToTokens::to_token_stream(local));
    for stmt in after {
        used.extend(crate::emit::names::identifiers(
            quote::ToTokens::to_token_stream(stmt),
        ));
    }
    let mut names = crate::emit::names::Names::avoiding(used);
    let (index, binding): (syn::Ident, Pat) = match index {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
            (p.ident.clone(), Pat::Ident(p.clone()))
        }
        // `(_, v)`: the element's index under a name of its own.
        Pat::Wild(_) if element.is_some() => {
            let at = names.fresh("at");
            (at.clone(), syn::parse_quote!(#at))
        }
        _ => return None,
    };
    let span = by.span();
    let [best, seen, k] = ["best", "seen", "k"].map(|name| names.fresh(&format!("{name}_{index}")));
    // The comparator's order: the last of equal maxima, the first of equal
    // minima, as `max_by` and `min_by` choose.
    let (a, b) = (
        quote_spanned!(span=> #list[#k]),
        quote_spanned!(span=> #list[#best]),
    );
    let replaces = replaces(&a, &b, largest, descending, total, span);
    let message = format!("`{}` of no items", by.method);
    let mut lets: Vec<Stmt> = vec![syn::parse_quote_spanned! {span=>
        let #binding: usize = {
            let mut #best: usize = 0;
            let mut #seen = false;
            for #k in 0..#list.len() {
                if !#seen || #replaces {
                    #best = #k;
                    #seen = true;
                }
            }
            assert!(#seen, #message);
            #best
        };
    }];
    if let Some(element) = element {
        lets.push(syn::parse_quote_spanned!(span=> let #element = #list[#index];));
    }
    Some((lets, reference))
}

/// `max_by(cmp)` or `min_by(cmp)` unwrapped (`unwrap()`, `expect(..)`).
pub(crate) struct Extreme<'a> {
    /// The `max_by` or `min_by` call.
    pub by: &'a syn::ExprMethodCall,
    /// `max_by`.
    pub largest: bool,
    /// The comparator is `total_cmp` (which orders -0.0 below 0.0).
    pub total: bool,
}

/// `call`, the unwrapping of a `max_by` or `min_by`, taken apart.
pub(crate) fn unwrapped_extreme(call: &syn::ExprMethodCall) -> Option<Extreme<'_>> {
    let unwraps = super::unwraps(call);
    let Expr::MethodCall(by) = strip(&call.receiver) else {
        return None;
    };
    let largest = match by.method.to_string().as_str() {
        "max_by" if by.args.len() == 1 => true,
        "min_by" if by.args.len() == 1 => false,
        _ => return None,
    };
    let total = quote::ToTokens::to_token_stream(&by.args[0])
        .to_string()
        .contains("total_cmp");
    unwraps.then_some(Extreme { by, largest, total })
}

/// Whether the item `a` takes the place of the one chosen so far, `b`, in
/// `max_by` (`largest`) or `min_by` by a comparator in ascending or
/// `descending` order: the last of equal maxima, the first of equal minima,
/// as the iterator chooses. By `total_cmp`, -0.0 is below 0.0, where `>=`
/// sees them equal. (Used by the chains' `max_by` of values too.)
pub(crate) fn replaces(
    a: &proc_macro2::TokenStream,
    b: &proc_macro2::TokenStream,
    largest: bool,
    descending: bool,
    total: bool,
    span: proc_macro2::Span,
) -> proc_macro2::TokenStream {
    let below = |a: &proc_macro2::TokenStream, b: &proc_macro2::TokenStream| quote_spanned!(span=> (#a == #b && #a.is_sign_negative() && #b.is_sign_positive()));
    let (a_below, b_below) = (below(a, b), below(b, a));
    match (largest != descending, largest, total) {
        // At least the one chosen (max_by ascending) ...
        (true, true, false) => quote_spanned!(span=> #a >= #b),
        (true, true, true) => quote_spanned!(span=> (#a >= #b && !#a_below)),
        // ... below it (min_by ascending) ...
        (false, false, false) => quote_spanned!(span=> #a < #b),
        (false, false, true) => quote_spanned!(span=> (#a < #b || #a_below)),
        // ... and the same, reversed by a descending comparator.
        (false, true, false) => quote_spanned!(span=> #a <= #b),
        (false, true, true) => quote_spanned!(span=> (#a <= #b && !#b_below)),
        (true, false, false) => quote_spanned!(span=> #a > #b),
        (true, false, true) => quote_spanned!(span=> (#a > #b || #b_below)),
    }
}

/// `x` of `x.iter().enumerate()`.
fn enumerated_list(expr: &Expr) -> Option<syn::Ident> {
    let Expr::MethodCall(enumerate) = strip(expr) else {
        return None;
    };
    let Expr::MethodCall(iter) = strip(&enumerate.receiver) else {
        return None;
    };
    if enumerate.method != "enumerate" || !enumerate.args.is_empty() || iter.method != "iter" {
        return None;
    }
    match strip(&iter.receiver) {
        Expr::Path(path) => path.path.get_ident().cloned(),
        _ => None,
    }
}

/// The order of a comparator of `(index, &value)` pairs by their values:
/// `|a, b| a.1.total_cmp(b.1)` or `|(_, a), (_, b)| a.partial_cmp(b).unwrap()`
/// is the order of `|a, b| a.total_cmp(b)` (`comparison_order`).
fn pair_order(comparator: &Expr) -> Option<bool> {
    let Expr::Closure(closure) = strip(comparator) else {
        return None;
    };
    if closure.inputs.len() != 2 {
        return None;
    }
    let mut values = closure.clone();
    let mut named = Vec::new();
    for input in values.inputs.iter_mut() {
        let pat = match &*input {
            Pat::Reference(r) => (*r.pat).clone(),
            other => other.clone(),
        };
        *input = match pat {
            // `(_, a)`: the value's name.
            Pat::Tuple(tuple)
                if tuple.elems.len() == 2 && matches!(tuple.elems[0], Pat::Wild(_)) =>
            {
                tuple.elems[1].clone()
            }
            // `a`, read as `a.1`.
            Pat::Ident(p) => {
                named.push(p.ident.clone());
                Pat::Ident(p)
            }
            _ => return None,
        };
    }
    for name in &named {
        let mut seconds = Seconds { name, other: false };
        seconds.visit_expr_mut(&mut values.body);
        if seconds.other {
            return None;
        }
    }
    crate::desugar::comparison_order(&Expr::Closure(values))
}

/// `a.1` as `a`; `other` where `a` is used another way.
struct Seconds<'n> {
    name: &'n syn::Ident,
    other: bool,
}

impl VisitMut for Seconds<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Field(field)
                if matches!(&field.member, syn::Member::Unnamed(i) if i.index == 1)
                    && matches!(strip(&field.base), Expr::Path(p) if p.path.is_ident(self.name)) =>
            {
                *expr = (*field.base).clone();
            }
            Expr::Path(path) if path.path.is_ident(self.name) => self.other = true,
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn rewrites(block: proc_macro2::TokenStream) -> bool {
        let mut block: syn::Block = syn::parse2(block).unwrap();
        let before = quote!(#block).to_string();
        arg_extrema_as_indices(&mut block);
        quote!(#block).to_string() != before
    }

    #[test]
    fn the_forms_rust_writes_are_rewritten() {
        assert!(rewrites(quote!({
            let (i, _) = x
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.partial_cmp(b.1).unwrap())
                .unwrap();
        })));
        assert!(rewrites(quote!({
            let (i, &v) = x
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| a.total_cmp(b))
                .unwrap();
        })));
        assert!(rewrites(quote!({
            let (i, _) = x
                .iter()
                .enumerate()
                .max_by(|&(_, a), &(_, b)| b.total_cmp(a))
                .expect("some");
        })));
        // The element by reference: by value, `*v` read as `v`.
        let mut block: syn::Block = syn::parse2(quote!({
            let (i, v) = x
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap();
            let w = *v * 2.0;
        }))
        .unwrap();
        arg_extrema_as_indices(&mut block);
        let text = quote!(#block).to_string();
        assert!(
            text.contains("let v = x [i]") && text.contains("let w = v * 2.0"),
            "{text}"
        );
    }

    #[test]
    fn other_forms_are_left_as_written() {
        // The element by reference read in a macro (where `*v` would stay),
        // a comparator reading the index, a key function, no unwrap, a list
        // that is not a name.
        assert!(!rewrites(quote!({
            let (i, v) = x
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap();
            println!("{}", *v);
        })));
        assert!(!rewrites(quote!({
            let (i, _) = x.iter().enumerate().max_by(|a, b| a.0.cmp(&b.0)).unwrap();
        })));
        assert!(!rewrites(quote!({
            let (i, _) = x.iter().enumerate().max_by_key(|a| a.0).unwrap();
        })));
        assert!(!rewrites(quote!({
            let (i, _) = x
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap_or((0, &0.0));
        })));
        assert!(!rewrites(quote!({
            let (i, _) =
                s.x.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .unwrap();
        })));
    }
}
