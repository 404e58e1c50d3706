//! Elements of a slice as Rust spells them through `Option`:
//! `x.first().unwrap()`, `*x.last().unwrap()`, `x.get(i).copied().unwrap_or(0.0)`
//! (and `x.iter().last()`, `x.iter().next()`, the slice's ends) are the
//! reads they stand for, `x[0]`, `x[x.len() - 1]`,
//! `if i < x.len() { x[i] } else { 0.0 }`. (Where there is no element,
//! `unwrap` panics either way.) A slice split at an end, `let (first, rest)
//! = x.split_first().unwrap();` (`split_last`, `expect`), is the element and
//! the view of the rest, `let first = x[0]; let rest = &x[1..];`, with
//! `*first` read as `first` after it.

use crate::lower::strip_parens as strip;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::Expr;

pub fn ends_as_indices(block: &mut syn::Block) {
    struct Iterated;
    impl VisitMut for Iterated {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            syn::visit_mut::visit_expr_mut(self, expr);
            if let Some(end) = iterated_end(expr) {
                *expr = end;
            }
        }
    }
    Iterated.visit_block_mut(block);
    super::statements_rewritten(block, let_else);
    Splits.visit_block_mut(block);
    Rewriter.visit_block_mut(block);
}

/// `let Some(v) = x.first() else { return 0.0; };` (`x.last()`, `x.get(i)`,
/// through `copied()` or not, `Some(&v)`, and `let Some((first, rest)) =
/// x.split_first() else { .. };`): the test and the read it stands for,
/// `if x.is_empty() { return 0.0; } let v = x[0];` (the split's
/// `let` unwrapped, which `Splits` takes apart). The `else` block leaves
/// the function, loop or iteration, as Rust requires: where it returns at
/// the top of the body it is an early return like any other.
fn let_else(stmt: &syn::Stmt) -> Option<Vec<syn::Stmt>> {
    let syn::Stmt::Local(local) = stmt else {
        return None;
    };
    let init = local.init.as_ref()?;
    let (_, otherwise) = init.diverge.as_ref()?;
    let syn::Pat::TupleStruct(some) = &local.pat else {
        return None;
    };
    if !some.path.is_ident("Some") || some.elems.len() != 1 {
        return None;
    }
    let (inner, value, span) = (&some.elems[0], &init.expr, init.expr.span());
    // The test `if let` would make: the readers of ends take it apart.
    let cond: Expr = syn::parse_quote_spanned!(span=> let Some(#inner) = #value);
    let (exists, bound): (Expr, syn::Stmt) = match some_split(&cond) {
        Some((x, split)) => (syn::parse_quote_spanned!(span=> !#x.is_empty()), split),
        None => {
            let SomeEnd { exists, pat, read } = some_end(&cond)?;
            // `x.get(i)`: `i` is computed for the test and the read.
            if matches!(&exists, Expr::Binary(test) if !super::repeatable(&test.left)) {
                return None;
            }
            (exists, syn::parse_quote_spanned!(span=> let #pat = #read;))
        }
    };
    let missing = negated(exists);
    let test: syn::Stmt = syn::parse_quote_spanned!(span=> if #missing #otherwise);
    Some(vec![test, bound])
}

/// A test's negation as a person writes it (`!(!e)` and `!(a < b)` read as
/// slips, and clippy says so at the user's tokens): `e`, `a >= b`.
fn negated(test: Expr) -> Expr {
    match test {
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Not(_)) => *u.expr,
        Expr::Binary(b) if matches!(b.op, syn::BinOp::Lt(_)) => {
            let (left, right) = (&b.left, &b.right);
            syn::parse_quote_spanned!(b.op.span()=> #left >= #right)
        }
        other => syn::parse_quote_spanned!(other.span()=> !(#other)),
    }
}

/// `let (first, rest) = x.split_first().unwrap();` as two `let`s.
struct Splits;

impl VisitMut for Splits {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        let mut k = 0;
        while k < block.stmts.len() {
            if let Some((reference, lets)) = split_end(&block.stmts[k], &block.stmts[k + 1..]) {
                let written = lets.len();
                block.stmts.splice(k..=k, lets);
                if let Some(name) = reference {
                    crate::desugar::derefs_as_values(&mut block.stmts[k + written..], &name);
                }
                k += written;
                continue;
            }
            syn::visit_mut::visit_stmt_mut(self, &mut block.stmts[k]);
            k += 1;
        }
    }

    /// `if let Some((first, rest)) = x.split_first() { .. }` as `if
    /// !x.is_empty() { let (first, rest) = x.split_first().unwrap(); .. }`,
    /// split then.
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::If(branch) = expr {
            if let Some((x, split)) = some_split(&branch.cond) {
                let span = split.span();
                *branch.cond = syn::parse_quote_spanned!(span=> !#x.is_empty());
                branch.then_branch.stmts.insert(0, split);
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}

/// `let Some((first, rest)) = x.split_first()` (or `split_last`): the slice
/// and `let (first, rest) = x.split_first().unwrap();`.
fn some_split(cond: &Expr) -> Option<(syn::Ident, syn::Stmt)> {
    let (pair, bound) = let_some(cond)?;
    let split = super::method_call(&bound.expr, &["split_first", "split_last"], 0)?;
    let Expr::Path(list) = strip(&split.receiver) else {
        return None;
    };
    let x = list.path.get_ident()?.clone();
    let call = &bound.expr;
    let stmt = syn::parse_quote_spanned!(split.method.span()=> let #pair = #call.unwrap(););
    Some((x, stmt))
}

/// The two `let`s of a slice split at an end, and the name of the element
/// that was a reference (none for `&first` or `_`).
fn split_end(
    stmt: &syn::Stmt,
    after: &[syn::Stmt],
) -> Option<(Option<syn::Ident>, Vec<syn::Stmt>)> {
    let syn::Stmt::Local(local) = stmt else {
        return None;
    };
    let syn::Pat::Tuple(pair) = &local.pat else {
        return None;
    };
    let [element_pat, rest_pat] = [pair.elems.first()?, pair.elems.last()?];
    if pair.elems.len() != 2 || !(is_name(rest_pat) || matches!(rest_pat, syn::Pat::Wild(_))) {
        return None;
    }
    let (element, by_value) = match element_pat {
        syn::Pat::Reference(r) if r.mutability.is_none() && is_name(&r.pat) => (&*r.pat, true),
        syn::Pat::Wild(_) => (element_pat, true),
        other if is_name(other) => (other, false),
        _ => return None,
    };
    let named = match element {
        syn::Pat::Ident(p) => Some(p.ident.clone()),
        _ => None,
    };
    let call = &local.init.as_ref()?.expr;
    let Expr::MethodCall(unwrap) = strip(call) else {
        return None;
    };
    let unwraps = super::unwraps(unwrap);
    let split = super::method_call(&unwrap.receiver, &["split_first", "split_last"], 0)?;
    let Expr::Path(list) = strip(&split.receiver) else {
        return None;
    };
    let x = list.path.get_ident()?;
    if !unwraps || local.init.as_ref()?.diverge.is_some() {
        return None;
    }
    // The element was a reference: its name must mean it wherever `*name`
    // is read as the value (not bound again, not in a macro's tokens).
    if let (false, Some(named)) = (by_value, &named) {
        if !crate::desugar::may_read_as_value(after, named) {
            return None;
        }
    }
    let span = split.method.span();
    let (at, rest): (Expr, Expr) = match split.method.to_string().as_str() {
        "split_first" => (
            syn::parse_quote_spanned!(span=> #x[0]),
            syn::parse_quote_spanned!(span=> &#x[1..]),
        ),
        _ => (
            syn::parse_quote_spanned!(span=> #x[#x.len() - 1]),
            syn::parse_quote_spanned!(span=> &#x[..#x.len() - 1]),
        ),
    };
    // A part matched by `_` is not read; the element's `let` comes second
    // where it shadows the slice (`let (x, rest) = x.split_first()..`).
    let mut lets: Vec<syn::Stmt> = Vec::new();
    if !matches!(element, syn::Pat::Wild(_)) {
        lets.push(syn::parse_quote_spanned!(span=> let #element = #at;));
    }
    if !matches!(rest_pat, syn::Pat::Wild(_)) {
        lets.push(syn::parse_quote_spanned!(span=> let #rest_pat = #rest;));
    }
    if named.as_ref() == Some(x) {
        lets.reverse();
    }
    Some((named.filter(|_| !by_value), lets))
}

/// A plain name (`first`, `mut rest`).
fn is_name(pat: &syn::Pat) -> bool {
    match pat {
        syn::Pat::Ident(p) => p.by_ref.is_none() && p.subpat.is_none(),
        _ => false,
    }
}

struct Rewriter;

impl VisitMut for Rewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // `if let Some(v) = x.first() { .. }`: `if !x.is_empty() { let v =
        // x[0]; .. }`.
        if let Expr::If(branch) = expr {
            if let Some(cond) = some_end(&branch.cond) {
                *branch.cond = cond.exists;
                let (pat, read) = (cond.pat, cond.read);
                branch
                    .then_branch
                    .stmts
                    .insert(0, syn::parse_quote_spanned!(pat.span()=> let #pat = #read;));
            }
        }
        // `*x.first().unwrap()`: the element itself.
        if let Expr::Unary(u) = expr {
            if matches!(u.op, syn::UnOp::Deref(_)) {
                if let Some(read) = unwrapped_end(&u.expr) {
                    *expr = read;
                    return;
                }
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
        if let Some(folded) = reduced(expr) {
            *expr = folded;
            return;
        }
        if let Some(read) = unwrapped_end(expr) {
            *expr = read;
            return;
        }
        if let Some(read) = end_or_default(expr) {
            *expr = read;
        }
    }
}

/// `x.iter().last()` as `x.last()`, `x.iter().next()` as `x.first()`, and
/// with `copied()` or `cloned()` between, the same copied: the iterator's
/// ends are the slice's.
fn iterated_end(expr: &Expr) -> Option<Expr> {
    let Expr::MethodCall(end) = expr else {
        return None;
    };
    let slice_end = match end.method.to_string().as_str() {
        "last" if end.args.is_empty() => "last",
        "next" if end.args.is_empty() => "first",
        _ => return None,
    };
    let (iterated, copy) = match strip(&end.receiver) {
        Expr::MethodCall(c)
            if c.args.is_empty() && (c.method == "copied" || c.method == "cloned") =>
        {
            (strip(&c.receiver), Some(&c.method))
        }
        other => (other, None),
    };
    let Expr::MethodCall(iter) = iterated else {
        return None;
    };
    let Expr::Path(list) = strip(&iter.receiver) else {
        return None;
    };
    if iter.method != "iter" || !iter.args.is_empty() || list.path.get_ident().is_none() {
        return None;
    }
    let method = syn::Ident::new(slice_end, end.method.span());
    let copy = copy.map(|copy| quote::quote!(.#copy()));
    Some(syn::parse_quote_spanned!(end.method.span()=> #list.#method()#copy))
}

/// An element of a named slice, as `Option`.
struct Element<'a> {
    array: &'a syn::Ident,
    index: Expr,
    /// When there is one: `!x.is_empty()`, `i < x.len()`.
    exists: Expr,
}

/// `x.first()`, `x.last()` or `x.get(i)` (then `.copied()` or `.cloned()`),
/// with `x` a name.
fn end_of(expr: &Expr) -> Option<Element<'_>> {
    let Expr::MethodCall(call) = strip(expr) else {
        return None;
    };
    if call.args.is_empty() && (call.method == "copied" || call.method == "cloned") {
        return end_of(&call.receiver);
    }
    let Expr::Path(path) = strip(&call.receiver) else {
        return None;
    };
    let array = path.path.get_ident()?;
    let span = call.method.span();
    let not_empty: Expr = syn::parse_quote_spanned!(span=> !#array.is_empty());
    let (index, exists): (Expr, Expr) = match (call.method.to_string().as_str(), call.args.len()) {
        ("first", 0) => (syn::parse_quote_spanned!(span=> 0), not_empty),
        ("last", 0) => (
            syn::parse_quote_spanned!(span=> #array.len() - 1),
            not_empty,
        ),
        ("get", 1) if !matches!(strip(&call.args[0]), Expr::Range(_)) => {
            let i = &call.args[0];
            (
                i.clone(),
                syn::parse_quote_spanned!(span=> #i < #array.len()),
            )
        }
        _ => return None,
    };
    Some(Element {
        array,
        index,
        exists,
    })
}

/// The test of `if let Some(v) = x.first()` (`x.last()`, `x.get(i)`, through
/// `copied()` or not, `Some(&v)` too): whether the element exists, the name
/// it binds, and its read.
struct SomeEnd {
    exists: Expr,
    pat: syn::Pat,
    read: Expr,
}

/// Whether `cond` is `let Some(v) = x.first()` (or another end `some_end`
/// reads).
pub fn is_some_end(cond: &Expr) -> bool {
    some_end(cond).is_some() || some_split(cond).is_some()
}

/// `let Some(pat) = expr`: the pattern inside `Some` and the `let`.
fn let_some(cond: &Expr) -> Option<(&syn::Pat, &syn::ExprLet)> {
    let Expr::Let(bound) = strip(cond) else {
        return None;
    };
    let syn::Pat::TupleStruct(some) = &*bound.pat else {
        return None;
    };
    if !some.path.is_ident("Some") || some.elems.len() != 1 {
        return None;
    }
    Some((&some.elems[0], bound))
}

fn some_end(cond: &Expr) -> Option<SomeEnd> {
    let (inner, bound) = let_some(cond)?;
    // The element by value: `v` of a reference reads as the float.
    let pat = match inner {
        syn::Pat::Reference(r) => (*r.pat).clone(),
        other => other.clone(),
    };
    if !matches!(pat, syn::Pat::Ident(_) | syn::Pat::Wild(_)) {
        return None;
    }
    let Element {
        array,
        index,
        exists,
    } = end_of(&bound.expr)?;
    let read = syn::parse_quote_spanned!(bound.expr.span()=> #array[#index]);
    Some(SomeEnd { exists, pat, read })
}

/// `x.iter().copied().reduce(f64::max).unwrap_or(d)` (`cloned()`, `unwrap()`,
/// `expect(..)`): the `fold` it stands for from the first element,
/// `if x.is_empty() { d } else { x[1..].iter().copied().fold(x[0], f64::max) }`
/// (without a default, `x[0]` panics on an empty slice as `unwrap` does).
fn reduced(expr: &Expr) -> Option<Expr> {
    let Expr::MethodCall(call) = strip(expr) else {
        return None;
    };
    let default = super::unwrap_default(call)?;
    let reduce = super::method_call(&call.receiver, &["reduce"], 1)?;
    let copied = super::method_call(&reduce.receiver, &["copied", "cloned"], 0)?;
    let iter = super::method_call(&copied.receiver, &["iter"], 0)?;
    let Expr::Path(path) = strip(&iter.receiver) else {
        return None;
    };
    let x = path.path.get_ident()?;
    let f = &reduce.args[0];
    let span = reduce.method.span();
    let folded: Expr = syn::parse_quote_spanned!(span=> #x[1..].iter().copied().fold(#x[0], #f));
    Some(match default {
        Some(d) => syn::parse_quote_spanned!(span=> if #x.is_empty() { #d } else { #folded }),
        None => folded,
    })
}

/// `x.first().unwrap()`, `x.last().expect("..")`: `x[0]`, `x[x.len() - 1]`.
fn unwrapped_end(expr: &Expr) -> Option<Expr> {
    let Expr::MethodCall(call) = strip(expr) else {
        return None;
    };
    if !super::unwraps(call) {
        return None;
    }
    let Element { array, index, .. } = end_of(&call.receiver)?;
    Some(syn::parse_quote_spanned!(call.method.span()=> #array[#index]))
}

/// `x.last().copied().unwrap_or(d)`: the element, or `d` for an empty slice.
fn end_or_default(expr: &Expr) -> Option<Expr> {
    let Expr::MethodCall(call) = strip(expr) else {
        return None;
    };
    if call.method != "unwrap_or" || call.args.len() != 1 {
        return None;
    }
    // Only through `copied`/`cloned`: without them the default is a reference.
    let Expr::MethodCall(copied) = strip(&call.receiver) else {
        return None;
    };
    if copied.method != "copied" && copied.method != "cloned" {
        return None;
    }
    let Element {
        array,
        index,
        exists,
    } = end_of(&call.receiver)?;
    let default = &call.args[0];
    Some(syn::parse_quote_spanned!(call.method.span()=>
        if #exists { #array[#index] } else { #default }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn ends_through_option_are_reads() {
        let mut block: syn::Block = syn::parse_quote!({
            let a = x.first().copied().unwrap_or(0.0);
            let b = *x.last().unwrap();
            let c = y.last().expect("values") * 2.0;
        });
        ends_as_indices(&mut block);
        let expected: syn::Block = syn::parse_quote!({
            let a = if !x.is_empty() { x[0] } else { 0.0 };
            let b = x[x.len() - 1];
            let c = y[y.len() - 1] * 2.0;
        });
        assert_eq!(quote!(#block).to_string(), quote!(#expected).to_string());
    }

    #[test]
    fn let_else_of_an_end_is_its_test_then_its_read() {
        let mut block: syn::Block = syn::parse_quote!({
            let Some(&a) = x.first() else {
                return 0.0;
            };
            let Some(b) = x.get(i).copied() else {
                continue;
            };
            let Some(c) = opt else {
                return 1.0;
            };
            let Some(d) = x.get(i + 1) else {
                return 2.0;
            };
        });
        ends_as_indices(&mut block);
        let expected: syn::Block = syn::parse_quote!({
            if x.is_empty() {
                return 0.0;
            }
            let a = x[0];
            if i >= x.len() {
                continue;
            }
            let b = x[i];
            let Some(c) = opt else {
                return 1.0;
            };
            if i + 1 >= x.len() {
                return 2.0;
            }
            let d = x[i + 1];
        });
        assert_eq!(quote!(#block).to_string(), quote!(#expected).to_string());
    }

    #[test]
    fn other_options_are_kept() {
        let mut block: syn::Block = syn::parse_quote!({
            let a = x.get(1..3).unwrap();
            let b = f(x).first().unwrap();
            let c = x.first().unwrap_or(&0.0);
        });
        let kept = quote!(#block).to_string();
        ends_as_indices(&mut block);
        assert_eq!(quote!(#block).to_string(), kept);
    }
}
