//! Loops and `let`s written over chains: a `for` over a chain that ends in
//! `map` or `filter`, over windows, over a reversed enumeration, and a fold
//! of a tuple taken apart by its `let`.

use super::{
    names_outside, nest, parsed, read_window, simple_name, untyped, window_starts, windows_of,
    without_references, Adapter, Chain,
};
use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use quote::{quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat};

/// Each `for v in x.iter().filter(|v| v.abs() > 0.1) { .. }` (a loop over a
/// chain ending in `map` or `filter`) in `block` as the loop over the
/// chain's source, each item adapted and tested at the top of the body:
/// `for v in x.iter() { if v.abs() > 0.1 { .. } }`.
pub fn adapted_loops_as_loops(block: &mut syn::Block) {
    struct Loops;
    impl VisitMut for Loops {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            syn::visit_mut::visit_expr_mut(self, expr);
            if let Expr::ForLoop(looped) = expr {
                if let Some(written) = adapted_loop(looped) {
                    *expr = written;
                }
            }
        }
    }
    Loops.visit_block_mut(block);
}

/// The loop, or with `enumerate()` after the adapters (`for (k, p) in
/// x.iter().map(..).enumerate()`), a block holding the count of the items
/// that reach the body and the loop.
fn adapted_loop(looped: &syn::ExprForLoop) -> Option<Expr> {
    let (chain_expr, counted) = match strip(&looped.expr) {
        Expr::MethodCall(m) if m.method == "enumerate" && m.args.is_empty() => {
            match untyped(&looped.pat) {
                Pat::Tuple(t) if t.elems.len() == 2 => {
                    (&*m.receiver, Some((&t.elems[0], &t.elems[1])))
                }
                _ => return None,
            }
        }
        _ => (&*looped.expr, None),
    };
    let chain = Chain::of(chain_expr)?;
    if chain.adapters.is_empty() || chain.window.is_some() {
        return None;
    }
    if chain.hides(&looped.body.to_token_stream(), &[&looped.pat]) {
        return None;
    }
    let span = looped.expr.span();
    let mut names = Names::avoiding(identifiers(quote::quote!(#looped)));
    let item = match counted {
        Some((_, item)) => item.clone(),
        None => untyped(&looped.pat).clone(),
    };
    let (pattern, steps, value) = chain.body(item.clone(), &mut names)?;
    let bound = without_references(&item);
    let body = &looped.body.stmts;
    let mut inner = match quote::quote!(#bound).to_string() == value.to_string() {
        true => quote_spanned!(span=> #(#body)*),
        false => quote_spanned!(span=> let #bound = #value; #(#body)*),
    };
    let count = names.fresh("count");
    if let Some((index, _)) = counted {
        inner = quote_spanned!(span=> let #index = #count; #count += 1; #inner);
    }
    let source = chain.loop_source();
    let nested = nest(&steps, inner);
    let label = &looped.label;
    match counted {
        Some(_) => parsed(quote_spanned! {span=>
            {
                let mut #count: usize = 0;
                #label for #pattern in #source { #nested }
            }
        }),
        None => parsed(quote_spanned! {span=>
            #label for #pattern in #source { #nested }
        }),
    }
}

/// Each `let (s, q) = x.iter().fold((0.0, 0.0), |(s, q), &v| (s + v, q +
/// v * v));` in `block` as the statements it stands for: the accumulators
/// bound by the `let` from the start, and stepped by the loop (`let (s_next,
/// q_next) = (s + v, q + v * v); s = s_next; q = q_next;`).
pub fn tuple_folds_as_loops(block: &mut syn::Block) {
    crate::desugar::statements_rewritten(block, |stmt| match stmt {
        syn::Stmt::Local(local) => tuple_fold(local),
        _ => None,
    });
}

/// `(a, b)` of plain names: the names.
fn tuple_names(pat: &Pat) -> Option<Vec<Ident>> {
    let Pat::Tuple(tuple) = untyped(pat) else {
        return None;
    };
    tuple.elems.iter().map(simple_name).collect()
}

fn tuple_fold(local: &syn::Local) -> Option<Vec<syn::Stmt>> {
    let names = tuple_names(&local.pat)?;
    let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
    let Expr::MethodCall(call) = strip(&init.expr) else {
        return None;
    };
    if call.method != "fold" || call.args.len() != 2 {
        return None;
    }
    let (Expr::Tuple(start), Expr::Closure(closure)) = (strip(&call.args[0]), &call.args[1]) else {
        return None;
    };
    let accumulators = tuple_names(closure.inputs.first()?)?;
    if closure.inputs.len() != 2
        || names.len() < 2
        || start.elems.len() != names.len()
        || accumulators.len() != names.len()
    {
        return None;
    }
    let chain = Chain::folded(call)?;
    let span = call.span();
    let mut fresh = names_outside(call);
    for name in &names {
        fresh.binding(name);
    }
    let item_pattern = untyped(&closure.inputs[1]).clone();
    let (pattern, steps) = chain.body_binding(&item_pattern, &mut fresh, span)?;
    // (Not where the closure reads a name the `let` binds other than as its
    // accumulator, a variable outside it, nor where the item binds one: in
    // the loop, those names are the accumulators.)
    let outer_read = crate::emit::names::identifiers(closure.body.to_token_stream())
        .into_iter()
        .any(|used| {
            names.iter().any(|name| *name == used) && !accumulators.iter().any(|a| *a == used)
        });
    let adapters = chain.adapters.iter().map(|adapter| match adapter {
        Adapter::Map(c) | Adapter::Filter(c) => &c.inputs[0],
    });
    let item_binds = std::iter::once(&closure.inputs[1])
        .chain(adapters)
        .any(|pat| {
            names
                .iter()
                .any(|name| crate::desugar::pattern_binds(pat, name))
        });
    if outer_read
        || item_binds
        || chain.hides(&closure.body.to_token_stream(), &[&closure.inputs[1]])
    {
        return None;
    }
    // The closure's accumulators are the `let`'s names.
    let mut body = (*closure.body).clone();
    let renames: Vec<(Ident, Ident)> = accumulators.into_iter().zip(names.clone()).collect();
    crate::inline::substitute::renamed(&mut body, &renames);
    let next: Vec<Ident> = names
        .iter()
        .map(|name| fresh.fresh(&format!("{name}_next")))
        .collect();
    // A body written as a block (`|(l, h), p| { .. (l.min(p), h.max(p)) }`):
    // its statements first, in the loop's body, then its value.
    let (before, value): (Vec<syn::Stmt>, Expr) = match body {
        Expr::Block(block) if block.label.is_none() => {
            let mut stmts = block.block.stmts;
            match stmts.pop() {
                Some(syn::Stmt::Expr(tail, None)) => (stmts, tail),
                _ => return None,
            }
        }
        other => (Vec::new(), other),
    };
    // (Not where a `let` there binds an accumulator's name: the assignment
    // after it would be to that local.)
    let rebinds = before.iter().any(|stmt| {
        matches!(stmt, syn::Stmt::Local(local)
            if names.iter().any(|name| crate::desugar::pattern_binds(&local.pat, name)))
    });
    if rebinds {
        return None;
    }
    let step = quote_spanned! {span=>
        #(#before)*
        let (#(#next,)*) = #value;
        #(#names = #next;)*
    };
    let source = chain.loop_source();
    let looped = nest(&steps, step);
    let start = &start.elems;
    let block: syn::Block = parsed(quote_spanned! {span=>
        {
            let (#(mut #names,)*) = (#start);
            for #pattern in #source { #looped }
        }
    })?;
    Some(block.stmts)
}

/// `for w in x.windows(2) { .. w[1] - w[0] .. }` as a loop over start indices,
/// `for start in 0..(x.len() + 1).saturating_sub(2) { .. x[start + 1] - x[start] .. }`
/// (`x.windows(2).rev()`: the starts reversed); `None` when `w` is used
/// other than indexed or measured.
pub fn windows_loop(looped: &syn::ExprForLoop) -> Option<syn::ExprForLoop> {
    let reversed = crate::desugar::method_call(&looped.expr, &["rev"], 0);
    let windows = reversed.map_or(&*looped.expr, |rev| &*rev.receiver);
    let (base, width) = windows_of(windows)?;
    let window = simple_name(&looped.pat)?;
    let mut names = Names::avoiding(identifiers(quote::quote!(#looped)));
    let start = names.fresh("start");
    let mut body = Expr::Block(syn::ExprBlock {
        attrs: Vec::new(),
        label: None,
        block: looped.body.clone(),
    });
    if !read_window(&mut body, &window, &base, &start, width) {
        return None;
    }
    let Expr::Block(block) = body else {
        return None;
    };
    let mut starts = window_starts(&base, width);
    if reversed.is_some() {
        starts = quote_spanned!(looped.span()=> (#starts).rev());
    }
    let label = &looped.label;
    let body = &block.block;
    parsed(quote_spanned! {looped.span()=>
        #label for #start in #starts #body
    })
}

/// `for (i, v) in x.iter().rev().enumerate()`: `i` counts from the end. The
/// same loop over `x.iter().enumerate().rev()`, with `i` computed from the
/// element's index, `let i = x.len() - 1 - k;`.
pub fn reversed_enumerate_loop(looped: &syn::ExprForLoop) -> Option<syn::ExprForLoop> {
    let enumerate = crate::desugar::method_call(&looped.expr, &["enumerate"], 0)?;
    let rev = crate::desugar::method_call(&enumerate.receiver, &["rev"], 0)?;
    let iter = crate::desugar::method_call(&rev.receiver, &["iter", "into_iter"], 0)?;
    let Expr::Path(array) = strip(&iter.receiver) else {
        return None;
    };
    let array = array.path.get_ident()?;
    let Pat::Tuple(tuple) = &*looped.pat else {
        return None;
    };
    let [counted, element] = [tuple.elems.first()?, tuple.elems.get(1)?];
    if tuple.elems.len() != 2 {
        return None;
    }
    let counted = simple_name(counted)?;
    let mut names = Names::avoiding(identifiers(quote::quote!(#looped)));
    let k = names.fresh("k");
    let stmts = &looped.body.stmts;
    let label = &looped.label;
    parsed(quote_spanned! {looped.span()=>
        #label for (#k, #element) in #array.iter().enumerate().rev() {
            let #counted = #array.len() - 1 - #k;
            #(#stmts)*
        }
    })
}
