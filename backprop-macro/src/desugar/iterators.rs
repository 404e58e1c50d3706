//! Iterator chains over slices, rewritten as the loops they stand for, which
//! lowering then differentiates like any loop:
//!
//! ```text
//! w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>()
//! ```
//!
//! is
//!
//! ```text
//! { let mut total = 0.0; for (a, b) in w.iter().zip(x) { total = total + (a * b); } total }
//! ```
//!
//! `sum`, `product`, `fold` and `collect` into a `Vec` end a chain; `map`,
//! `copied`, `cloned` and `into_iter` may come between the slice iteration
//! (`iter`, `zip`, `enumerate`, `rev`) and the end. The rewritten code keeps the
//! user's spans, so errors inside a closure point at the closure.

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use proc_macro2::{Ident, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat};

/// The loop a reduction (`sum`, `product`, `fold`) over a slice stands for, as
/// a block expression; `None` when `call` is not such a chain.
pub fn reduction(
    call: &syn::ExprMethodCall,
    zero: &TokenStream,
    one: &TokenStream,
) -> Option<Expr> {
    if let Some(looped) = extreme_by(call, zero).or_else(|| position(call)) {
        return Some(looped);
    }
    let span = call.span();
    let method = call.method.to_string();
    let chain = Chain::of(&call.receiver)?;
    let mut names = names_outside(call);
    match method.as_str() {
        "sum" | "product" if call.args.is_empty() => {
            let (init, op) = if method == "sum" {
                (zero, quote_spanned!(span=> +))
            } else {
                (one, quote_spanned!(span=> *))
            };
            let acc = names.fresh(if method == "sum" { "total" } else { "product" });
            let item = names.fresh("item");
            let (pattern, steps, value) =
                chain.body(Pat::Verbatim(quote_spanned!(span=> #item)), &mut names)?;
            let source = chain.loop_source();
            let body = nest(&steps, quote_spanned!(span=> #acc = #acc #op (#value);));
            parsed(quote_spanned! {span=>
                {
                    let mut #acc = #init;
                    for #pattern in #source { #body }
                    #acc
                }
            })
        }
        "fold" if call.args.len() == 2 => {
            let init = &call.args[0];
            let (acc, item_pattern, step) = match &call.args[1] {
                // `|acc, x| acc + x * x`: the accumulator keeps the user's name.
                Expr::Closure(closure) if closure.inputs.len() == 2 => {
                    let acc = simple_name(&closure.inputs[0])?;
                    let item = untyped(&closure.inputs[1]).clone();
                    let body = &closure.body;
                    (acc, item, quote_spanned!(span=> #body))
                }
                // `f64::max`: a function of the accumulator and the item.
                Expr::Path(function) => {
                    let acc = names.fresh("acc");
                    let item = names.fresh("item");
                    (
                        acc.clone(),
                        Pat::Verbatim(quote_spanned!(span=> #item)),
                        quote_spanned!(span=> #function(#acc, #item)),
                    )
                }
                _ => return None,
            };
            let (pattern, mut steps, value) = chain.body(item_pattern.clone(), &mut names)?;
            if !chain.adapters.is_empty() {
                // The adapted value binds the closure's item.
                let item = without_references(&item_pattern);
                steps.push(Step::Let(quote_spanned!(span=> let #item = #value;)));
            }
            let source = chain.loop_source();
            let body = nest(&steps, quote_spanned!(span=> #acc = #step;));
            parsed(quote_spanned! {span=>
                {
                    let mut #acc = #init;
                    for #pattern in #source { #body }
                    #acc
                }
            })
        }
        // `x.iter().filter(|v| **v > 0.0).count()`: the items counted (a
        // `usize`, not differentiated).
        "count" if call.args.is_empty() => {
            let counted = names.fresh("counted");
            let item = names.fresh("item");
            let (pattern, steps, _) =
                chain.body(Pat::Verbatim(quote_spanned!(span=> #item)), &mut names)?;
            let source = chain.loop_source();
            let body = nest(&steps, quote_spanned!(span=> #counted += 1;));
            parsed(quote_spanned! {span=>
                {
                    let mut #counted: usize = 0;
                    for #pattern in #source { #body }
                    #counted
                }
            })
        }
        // `x.iter().all(|v| v.is_finite())`, a condition on the elements:
        // the loop that checks each, its result a `bool` (not differentiated).
        "all" | "any" if call.args.len() == 1 => {
            let Expr::Closure(closure) = &call.args[0] else {
                return None;
            };
            if closure.inputs.len() != 1 {
                return None;
            }
            let item_pattern = untyped(&closure.inputs[0]).clone();
            let predicate = &closure.body;
            let (pattern, mut steps, value) = chain.body(item_pattern.clone(), &mut names)?;
            if !chain.adapters.is_empty() {
                let item = without_references(&item_pattern);
                steps.push(Step::Let(quote_spanned!(span=> let #item = #value;)));
            }
            let source = chain.loop_source();
            // (`all = all && ..`: not `if !(v > 0.0)`, which clippy asks to
            // write otherwise.)
            let (acc, check) = match method.as_str() {
                "all" => {
                    let acc = names.fresh("all");
                    (
                        acc.clone(),
                        quote_spanned!(span=> #acc = #acc && (#predicate);),
                    )
                }
                _ => {
                    let acc = names.fresh("any");
                    (
                        acc.clone(),
                        quote_spanned!(span=> #acc = #acc || (#predicate);),
                    )
                }
            };
            let init = method == "all";
            let body = nest(&steps, check);
            parsed(quote_spanned! {span=>
                {
                    let mut #acc = #init;
                    for #pattern in #source { #body }
                    #acc
                }
            })
        }
        _ => None,
    }
}

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
    struct Folds;
    impl VisitMut for Folds {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            syn::visit_mut::visit_block_mut(self, block);
            let mut k = 0;
            while k < block.stmts.len() {
                let written = match &block.stmts[k] {
                    syn::Stmt::Local(local) => tuple_fold(local),
                    _ => None,
                };
                match written {
                    Some(stmts) => {
                        let count = stmts.len();
                        block.stmts.splice(k..=k, stmts);
                        k += count;
                    }
                    None => k += 1,
                }
            }
        }
    }
    Folds.visit_block_mut(block);
}

fn tuple_fold(local: &syn::Local) -> Option<Vec<syn::Stmt>> {
    let Pat::Tuple(targets) = untyped(&local.pat) else {
        return None;
    };
    let names: Vec<Ident> = targets
        .elems
        .iter()
        .map(simple_name)
        .collect::<Option<_>>()?;
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
    let Some(Pat::Tuple(accumulators)) = closure.inputs.first().map(untyped) else {
        return None;
    };
    let accumulators: Vec<Ident> = accumulators
        .elems
        .iter()
        .map(simple_name)
        .collect::<Option<_>>()?;
    if closure.inputs.len() != 2
        || names.len() < 2
        || start.elems.len() != names.len()
        || accumulators.len() != names.len()
    {
        return None;
    }
    let chain = Chain::of(&call.receiver)?;
    let span = call.span();
    let mut fresh = names_outside(call);
    for name in &names {
        fresh.binding(name);
    }
    let item_pattern = untyped(&closure.inputs[1]).clone();
    let (pattern, mut steps, value) = chain.body(item_pattern.clone(), &mut fresh)?;
    if !chain.adapters.is_empty() {
        let item = without_references(&item_pattern);
        steps.push(Step::Let(quote_spanned!(span=> let #item = #value;)));
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

/// `x.iter().map(..).max_by(|a, b| a.total_cmp(b)).unwrap()` (`min_by`,
/// `partial_cmp(..).unwrap()`, `f64::total_cmp`, `b` first to reverse;
/// `expect(..)`): the loop that keeps the largest (smallest) item, the last
/// of equal largest as `max_by` returns and the first of equal smallest as
/// `min_by` does, and panics as `unwrap` does where there is none.
fn extreme_by(call: &syn::ExprMethodCall, zero: &TokenStream) -> Option<Expr> {
    let unwraps = (call.method == "unwrap" && call.args.is_empty())
        || (call.method == "expect" && call.args.len() == 1);
    if !unwraps {
        return None;
    }
    let Expr::MethodCall(by) = strip(&call.receiver) else {
        return None;
    };
    let largest = match by.method.to_string().as_str() {
        "max_by" if by.args.len() == 1 => true,
        "min_by" if by.args.len() == 1 => false,
        _ => return None,
    };
    let descending = crate::desugar::comparison_order(&by.args[0])?;
    let chain = Chain::of(&by.receiver)?;
    let span = by.span();
    let mut names = names_outside(call);
    let [best, seen, item] = ["best", "seen", "item"].map(|name| names.fresh(name));
    let (pattern, steps, value) =
        chain.body(Pat::Verbatim(quote_spanned!(span=> #item)), &mut names)?;
    let candidate = names.fresh("candidate");
    // By the comparator's order: the last of equal maxima, the first of
    // equal minima.
    let replaces = match (largest, descending) {
        (true, false) => quote_spanned!(span=> #candidate >= #best),
        (false, false) => quote_spanned!(span=> #candidate < #best),
        (true, true) => quote_spanned!(span=> #candidate <= #best),
        (false, true) => quote_spanned!(span=> #candidate > #best),
    };
    let body = nest(
        &steps,
        quote_spanned! {span=>
            let #candidate = #value;
            if !#seen || #replaces {
                #best = #candidate;
                #seen = true;
            }
        },
    );
    let source = chain.loop_source();
    let message = format!("`{}` of no items", by.method);
    parsed(quote_spanned! {span=>
        {
            let mut #best = #zero;
            let mut #seen = false;
            for #pattern in #source { #body }
            assert!(#seen, #message);
            #best
        }
    })
}

/// `x.iter().position(|v| *v > 1.0)` unwrapped (`unwrap()`, `expect(..)`,
/// `unwrap_or(d)`): the loop that counts the items to the first that
/// passes, a `usize` (not differentiated); without one, `d`, or a panic as
/// `unwrap` gives.
fn position(call: &syn::ExprMethodCall) -> Option<Expr> {
    let default = match (call.method.to_string().as_str(), call.args.len()) {
        ("unwrap_or", 1) => Some(&call.args[0]),
        ("unwrap", 0) | ("expect", 1) => None,
        _ => return None,
    };
    let Expr::MethodCall(found) = strip(&call.receiver) else {
        return None;
    };
    if found.method != "position" || found.args.len() != 1 {
        return None;
    }
    let Expr::Closure(closure) = &found.args[0] else {
        return None;
    };
    if closure.inputs.len() != 1 {
        return None;
    }
    let chain = Chain::of(&found.receiver)?;
    let span = found.span();
    let mut names = names_outside(call);
    let [at, count] = ["at", "count"].map(|name| names.fresh(name));
    let item_pattern = untyped(&closure.inputs[0]).clone();
    let (pattern, mut steps, value) = chain.body(item_pattern.clone(), &mut names)?;
    if !chain.adapters.is_empty() {
        let item = without_references(&item_pattern);
        steps.push(Step::Let(quote_spanned!(span=> let #item = #value;)));
    }
    let predicate = &closure.body;
    let body = nest(
        &steps,
        quote_spanned! {span=>
            if #at == usize::MAX && (#predicate) {
                #at = #count;
            }
            #count += 1;
        },
    );
    let source = chain.loop_source();
    let ending = match default {
        Some(default) => quote_spanned!(span=> if #at == usize::MAX { #default } else { #at }),
        None => quote_spanned!(span=> { assert!(#at != usize::MAX, "`position` found none"); #at }),
    };
    parsed(quote_spanned! {span=>
        {
            let mut #at = usize::MAX;
            let mut #count: usize = 0;
            for #pattern in #source { #body }
            #ending
        }
    })
}

/// `a..b` or `a..=b` (in parentheses, as a chain's receiver is written).
fn is_range(expr: &Expr) -> bool {
    matches!(strip(expr), Expr::Range(r) if r.start.is_some() && r.end.is_some())
}

/// `let v: Vec<f64> = w.iter().map(|x| x * x).collect();` as statements: a
/// buffer of the source's length, filled in a loop.
pub fn collect(
    target: &Ident,
    call: &syn::ExprMethodCall,
    zero: &TokenStream,
) -> Option<Vec<syn::Stmt>> {
    if call.method != "collect" || !call.args.is_empty() {
        return None;
    }
    let span = call.span();
    let chain = Chain::of(&call.receiver)?;
    // A filter would leave the end of the buffer unwritten.
    let maps_only = chain.adapters.iter().all(|a| matches!(a, Adapter::Map(_)));
    if chain.adapters.is_empty() || !maps_only {
        return None;
    }
    let len = chain.length()?;
    let mut names = names_outside(call);
    names.binding(target);
    let k = names.fresh("k");
    let item = names.fresh("item");
    let (pattern, steps, value) =
        chain.body(Pat::Verbatim(quote_spanned!(span=> #item)), &mut names)?;
    let source = chain.loop_source();
    let body = nest(
        &steps,
        quote_spanned!(span=> #target[#k] = #value; #k += 1;),
    );
    let block: syn::Block = parsed(quote_spanned! {span=>
        {
            let mut #target = vec![#zero; #len];
            // In a block of its own: the counter must not shadow the user's
            // names in the rest of the function.
            {
                let mut #k: usize = 0;
                for #pattern in #source { #body }
            }
        }
    })?;
    Some(block.stmts)
}

/// The adapters between a slice iteration and the end of a chain.
struct Chain<'a> {
    /// `w.iter()`, `w.iter().zip(x)`: what the loop iterates.
    source: &'a Expr,
    /// `map` and `filter` closures, first to last.
    adapters: Vec<Adapter<'a>>,
    /// `x.windows(n)`: the array and the width. The loop runs over start
    /// indices, and the first `map` reads `w[i]` as `x[start + i]`.
    window: Option<(Ident, &'a Expr)>,
}

enum Adapter<'a> {
    Map(&'a syn::ExprClosure),
    /// Takes the item by reference: `|v| **v > 0.0`, `|&&v| v > 0.0`.
    Filter(&'a syn::ExprClosure),
}

/// A statement of the loop body: a binding, or a filter's test around the rest.
enum Step {
    Let(TokenStream),
    If(TokenStream),
}

/// The steps around `inner`: each filter's `if` holds what follows it.
fn nest(steps: &[Step], inner: TokenStream) -> TokenStream {
    steps.iter().rev().fold(inner, |inner, step| match step {
        Step::Let(binding) => quote::quote!(#binding #inner),
        Step::If(condition) => quote::quote!(if #condition { #inner }),
    })
}

impl<'a> Chain<'a> {
    fn of(receiver: &'a Expr) -> Option<Chain<'a>> {
        let mut adapters = Vec::new();
        let mut source = receiver;
        loop {
            match strip(source) {
                Expr::MethodCall(m)
                    if (m.method == "map" || m.method == "filter") && m.args.len() == 1 =>
                {
                    match &m.args[0] {
                        Expr::Closure(c) if c.inputs.len() == 1 => {
                            adapters.push(if m.method == "map" {
                                Adapter::Map(c)
                            } else {
                                Adapter::Filter(c)
                            });
                            source = &m.receiver;
                        }
                        _ => return None,
                    }
                }
                Expr::MethodCall(m)
                    if m.args.is_empty()
                        && (m.method == "copied"
                            || m.method == "cloned"
                            || m.method == "into_iter") =>
                {
                    source = &m.receiver;
                }
                _ => break,
            }
        }
        adapters.reverse();
        let window = windows_of(source);
        // `(0..k).map(|i| ..)`: a range, with a closure to make it a chain
        // worth a loop.
        let over_range = is_range(source) && !adapters.is_empty();
        (window.is_some() || is_slice_iteration(source) || over_range).then_some(Chain {
            source,
            adapters,
            window,
        })
    }

    /// What the loop iterates: the source, or a window's start indices.
    fn loop_source(&self) -> TokenStream {
        match &self.window {
            Some((base, width)) => window_starts(base, width),
            None => {
                // `(0..k)` is written in parentheses only to call `map` on it.
                let source = strip(self.source);
                quote::quote!(#source)
            }
        }
    }

    /// How many items the chain yields before its adapters.
    fn length(&self) -> Option<TokenStream> {
        match &self.window {
            Some((base, width)) => {
                let starts = window_count(base, width);
                Some(starts)
            }
            None => length(self.source),
        }
    }

    /// The loop's pattern, the steps that adapt each item, and the adapted
    /// value. Without adapters, `item` is the pattern and the value.
    fn body(&self, item: Pat, names: &mut Names) -> Option<(Pat, Vec<Step>, TokenStream)> {
        if let Some((base, width)) = &self.window {
            return self.window_body(base, width, names);
        }
        let Some((first, rest)) = self.adapters.split_first() else {
            let value = pattern_value(&without_references(&item))?;
            return Some((item, Vec::new(), value));
        };
        let mut steps = Vec::new();
        // The first adapter's parameter is the loop's pattern (a filter's, one
        // reference less, since it borrows the item).
        let (pattern, mut value) = match first {
            Adapter::Map(map) => (untyped(&map.inputs[0]).clone(), closure_body(map)),
            Adapter::Filter(filter) => {
                let pattern =
                    named_wildcards(&one_reference_less(untyped(&filter.inputs[0])), names);
                steps.push(Step::If(closure_body(filter)));
                let value = pattern_value(&without_references(&pattern))?;
                (pattern, value)
            }
        };
        for adapter in rest {
            let (closure, filter) = match adapter {
                Adapter::Map(c) => (c, false),
                Adapter::Filter(c) => (c, true),
            };
            let parameter =
                named_wildcards(&without_references(untyped(&closure.inputs[0])), names);
            // (`filter(|l| ..).map(|l| ..)`: the same name, bound already.)
            if quote::quote!(#parameter).to_string() != value.to_string() {
                steps.push(Step::Let(
                    quote_spanned!(closure.span()=> let #parameter = #value;),
                ));
            }
            value = if filter {
                steps.push(Step::If(closure_body(closure)));
                pattern_value(&parameter)?
            } else {
                closure_body(closure)
            };
        }
        Some((pattern, steps, value))
    }
}

impl Chain<'_> {
    /// `x.windows(2).map(|w| w[1] - w[0])`: the loop's pattern is the window's
    /// start, and the first `map`'s window reads go to `x`.
    fn window_body(
        &self,
        base: &Ident,
        width: &Expr,
        names: &mut Names,
    ) -> Option<(Pat, Vec<Step>, TokenStream)> {
        let (Adapter::Map(first), rest) = self.adapters.split_first()? else {
            return None;
        };
        let window = simple_name(&first.inputs[0])?;
        let start = names.fresh("start");
        let mut body = (*first.body).clone();
        if !read_window(&mut body, &window, base, &start, width) {
            return None;
        }
        let rewritten = syn::ExprClosure {
            body: Box::new(body),
            ..(*first).clone()
        };
        let mut chain = Chain {
            source: self.source,
            adapters: vec![Adapter::Map(&rewritten)],
            window: None,
        };
        chain.adapters.extend(rest.iter().map(|a| match a {
            Adapter::Map(c) => Adapter::Map(c),
            Adapter::Filter(c) => Adapter::Filter(c),
        }));
        let (_, steps, value) = chain.body(Pat::Verbatim(quote::quote!(#start)), names)?;
        let pattern = Pat::Verbatim(quote::quote!(#start));
        // The first map's value, with its parameter bound to nothing: it reads
        // through `start` only.
        Some((pattern, steps, value))
    }
}

/// `for w in x.windows(2) { .. w[1] - w[0] .. }` as a loop over start indices,
/// `for start in 0..(x.len() + 1).saturating_sub(2) { .. x[start + 1] - x[start] .. }`;
/// `None` when `w` is used other than indexed or measured.
pub fn windows_loop(looped: &syn::ExprForLoop) -> Option<syn::ExprForLoop> {
    let (base, width) = windows_of(&looped.expr)?;
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
    let starts = window_starts(&base, width);
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
    let enumerate = super::method_call(&looped.expr, &["enumerate"], 0)?;
    let rev = super::method_call(&enumerate.receiver, &["rev"], 0)?;
    let iter = super::method_call(&rev.receiver, &["iter", "into_iter"], 0)?;
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

/// `x` and `n` of `x.windows(n)`.
fn windows_of(expr: &Expr) -> Option<(Ident, &Expr)> {
    let Expr::MethodCall(m) = strip(expr) else {
        return None;
    };
    if m.method != "windows" || m.args.len() != 1 {
        return None;
    }
    let Expr::Path(base) = strip(&m.receiver) else {
        return None;
    };
    Some((base.path.get_ident()?.clone(), &m.args[0]))
}

fn window_count(base: &Ident, width: &Expr) -> TokenStream {
    quote::quote!((#base.len() + 1).saturating_sub(#width))
}

fn window_starts(base: &Ident, width: &Expr) -> TokenStream {
    let count = window_count(base, width);
    quote::quote!(0..#count)
}

/// Rewrites `w[i]` to `x[start + i]` and `w.len()` to the width; false when
/// `w` is used any other way.
fn read_window(expr: &mut Expr, window: &Ident, base: &Ident, start: &Ident, width: &Expr) -> bool {
    struct Reads<'a> {
        window: &'a Ident,
        base: &'a Ident,
        start: &'a Ident,
        width: &'a Expr,
        other_use: bool,
    }
    impl VisitMut for Reads<'_> {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            let names_window =
                |e: &Expr| matches!(strip(e), Expr::Path(p) if p.path.is_ident(self.window));
            match expr {
                Expr::Index(index) if names_window(&index.expr) => {
                    self.visit_expr_mut(&mut index.index);
                    let (base, start, i) = (self.base, self.start, &index.index);
                    *expr = syn::parse_quote!(#base[#start + #i]);
                }
                Expr::MethodCall(call) if call.method == "len" && names_window(&call.receiver) => {
                    let width = self.width;
                    *expr = syn::parse_quote!((#width));
                }
                Expr::Path(p) if p.path.is_ident(self.window) => self.other_use = true,
                // Its own `w` inside (`.map(|w| ..)` nested): another window.
                Expr::Closure(closure) if super::closure_binds(closure, self.window) => {}
                _ => syn::visit_mut::visit_expr_mut(self, expr),
            }
        }
    }
    // (Built, not parsed: `{ .. } + 1.0` first in a block would end there.)
    let block = syn::Block {
        brace_token: Default::default(),
        stmts: vec![syn::Stmt::Expr(expr.clone(), None)],
    };
    if super::rebound_inside(&block, window) {
        return false;
    }
    let mut reads = Reads {
        window,
        base,
        start,
        width,
        other_use: false,
    };
    reads.visit_expr_mut(expr);
    !reads.other_use
}

/// `&x` of `&&x`, `x` of `&x`: a filter's parameter as the item's pattern.
fn one_reference_less(pat: &Pat) -> Pat {
    match pat {
        Pat::Reference(r) => (*r.pat).clone(),
        other => other.clone(),
    }
}

/// The pattern with each `_` a fresh name (`(p, ignored)` of `(p, _)`), so
/// that the value it matched can be bound again for the next adapter.
fn named_wildcards(pat: &Pat, names: &mut Names) -> Pat {
    match pat {
        Pat::Wild(wild) => {
            let name = names.fresh("ignored");
            syn::parse_quote_spanned!(wild.underscore_token.span=> #name)
        }
        Pat::Tuple(t) => {
            let elems = t.elems.iter().map(|e| named_wildcards(e, names));
            syn::parse_quote!((#(#elems,)*))
        }
        Pat::Reference(r) => {
            let inner = named_wildcards(&r.pat, names);
            syn::parse_quote!(&#inner)
        }
        Pat::Type(typed) => named_wildcards(&typed.pat, names),
        other => other.clone(),
    }
}

/// The pattern with every `&` taken out: `(a, b)` of `&(&a, &b)`, for a
/// `let` that binds values, not references.
fn without_references(pat: &Pat) -> Pat {
    match untyped(pat) {
        Pat::Reference(r) => without_references(&r.pat),
        Pat::Tuple(t) => {
            let elems = t.elems.iter().map(without_references);
            syn::parse_quote!((#(#elems,)*))
        }
        other => other.clone(),
    }
}

/// The value a pattern binds, as an expression: `(a, b)` of `(a, b)`.
fn pattern_value(pat: &Pat) -> Option<TokenStream> {
    match untyped(pat) {
        Pat::Ident(p) => {
            let ident = &p.ident;
            Some(quote::quote!(#ident))
        }
        Pat::Tuple(t) => {
            let elems: Option<Vec<TokenStream>> = t.elems.iter().map(pattern_value).collect();
            let elems = elems?;
            Some(quote::quote!((#(#elems,)*)))
        }
        Pat::Verbatim(tokens) => Some(tokens.clone()),
        _ => None,
    }
}

fn closure_body(closure: &syn::ExprClosure) -> TokenStream {
    let body = &closure.body;
    quote_spanned!(closure.body.span()=> (#body))
}

/// `w.iter()`, `&w`, `w`, `w.iter().zip(x.iter())`, `w.iter().enumerate()`:
/// what a loop over a slice may iterate. Whether `w` is an array is lowering's
/// to check.
fn is_slice_iteration(expr: &Expr) -> bool {
    match strip(expr) {
        Expr::MethodCall(m) if m.method == "iter" && m.args.is_empty() => is_base(&m.receiver),
        // A chain over chunks is a `for` over them, which lowering takes by
        // index (`lower/views.rs`).
        Expr::MethodCall(m)
            if (m.method == "chunks" || m.method == "chunks_exact") && m.args.len() == 1 =>
        {
            is_base(&m.receiver)
        }
        Expr::MethodCall(m)
            if (m.method == "enumerate" || m.method == "rev") && m.args.is_empty() =>
        {
            is_slice_iteration(&m.receiver)
        }
        Expr::MethodCall(m)
            if (m.method == "skip" || m.method == "take" || m.method == "step_by")
                && m.args.len() == 1 =>
        {
            is_slice_iteration(&m.receiver)
        }
        Expr::MethodCall(m) if m.method == "zip" && m.args.len() == 1 => {
            is_slice_iteration(&m.receiver)
                && (is_slice_iteration(&m.args[0]) || is_base(&m.args[0]))
        }
        Expr::Reference(r) => is_base(&r.expr),
        _ => false,
    }
}

fn is_base(expr: &Expr) -> bool {
    matches!(strip(expr), Expr::Path(p) if p.path.get_ident().is_some())
        || matches!(strip(expr), Expr::Reference(r) if is_base(&r.expr))
}

/// How many items a slice iteration yields: `w.len()`, or the shorter of two.
fn length(expr: &Expr) -> Option<TokenStream> {
    let span = expr.span();
    match strip(expr) {
        Expr::MethodCall(m)
            if ["iter", "enumerate", "rev"].contains(&m.method.to_string().as_str()) =>
        {
            length(&m.receiver)
        }
        Expr::MethodCall(m) if m.method == "skip" => {
            let (inner, count) = (length(&m.receiver)?, &m.args[0]);
            Some(quote_spanned!(span=> #inner.saturating_sub(#count)))
        }
        Expr::MethodCall(m) if m.method == "take" => {
            let (inner, count) = (length(&m.receiver)?, &m.args[0]);
            Some(quote_spanned!(span=> #inner.min(#count)))
        }
        Expr::MethodCall(m) if m.method == "step_by" => {
            let (inner, step) = (length(&m.receiver)?, &m.args[0]);
            Some(quote_spanned!(span=> #inner.div_ceil(#step)))
        }
        Expr::MethodCall(m) if m.method == "zip" => {
            let (a, b) = (length(&m.receiver)?, length(&m.args[0])?);
            Some(quote_spanned!(span=> #a.min(#b)))
        }
        Expr::Reference(r) => length(&r.expr),
        Expr::Path(p) => {
            let name = p.path.get_ident()?;
            Some(quote_spanned!(span=> #name.len()))
        }
        // `(0..k).map(..)`: `k` items, `(a..=b)` `b + 1 - a` (none where the
        // range is empty).
        Expr::Range(range) => {
            let (start, end) = (range.start.as_deref()?, range.end.as_deref()?);
            let end = match range.limits {
                syn::RangeLimits::HalfOpen(_) => quote::quote!(#end),
                syn::RangeLimits::Closed(_) => quote_spanned!(span=> (#end + 1)),
            };
            let from_zero = matches!(strip(start), Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) if i.base10_digits() == "0");
            Some(match from_zero {
                true => end,
                false => quote_spanned!(span=> #end.saturating_sub(#start)),
            })
        }
        _ => None,
    }
}

fn untyped(pat: &Pat) -> &Pat {
    match pat {
        Pat::Type(typed) => untyped(&typed.pat),
        other => other,
    }
}

fn simple_name(pat: &Pat) -> Option<Ident> {
    match untyped(pat) {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
        _ => None,
    }
}

/// Names for the rewritten loop's locals, which the chain's code must not see.
fn names_outside(call: &syn::ExprMethodCall) -> Names {
    Names::avoiding(identifiers(quote::quote!(#call)))
}

/// `if c { (x, y) } else { (y, x) }` as one branch per element,
/// `(if c { x } else { y }, if c { y } else { x })`, for `let (a, b) = ...`;
/// also `match`. `None` unless every arm is a tuple of `n` elements (after
/// statements that only compute locals of their own, repeated per element)
/// and the conditions change nothing (each element's branch tests them
/// again).
pub fn split_tuple(expr: &Expr, n: usize) -> Option<Vec<Expr>> {
    match strip(expr) {
        Expr::Tuple(tuple) if tuple.elems.len() == n => Some(tuple.elems.iter().cloned().collect()),
        Expr::Block(block) if block.label.is_none() => match block.block.stmts.split_last() {
            Some((syn::Stmt::Expr(inner, None), [])) => split_tuple(inner, n),
            // `{ let z = x - y; (z, z * z) }`: the statements again before
            // each element, where they only compute locals of their own.
            Some((syn::Stmt::Expr(inner, None), work))
                if crate::desugar::candidates::local_work(work) =>
            {
                let elements = split_tuple(inner, n)?;
                Some(
                    elements
                        .into_iter()
                        .map(|element| syn::parse_quote!({ #(#work)* #element }))
                        .collect(),
                )
            }
            _ => None,
        },
        Expr::If(branch) => {
            if crate::desugar::assigns(&branch.cond) {
                return None;
            }
            let then_arm = split_tuple(
                &Expr::Block(syn::ExprBlock {
                    attrs: Vec::new(),
                    label: None,
                    block: branch.then_branch.clone(),
                }),
                n,
            )?;
            let else_arm = split_tuple(&branch.else_branch.as_ref()?.1, n)?;
            let cond = &branch.cond;
            Some(
                then_arm
                    .into_iter()
                    .zip(else_arm)
                    .map(|(a, b)| syn::parse_quote_spanned!(branch.span()=> if #cond { #a } else { #b }))
                    .collect(),
            )
        }
        Expr::Match(matched) => {
            if crate::desugar::assigns(&matched.expr)
                || matched.arms.iter().any(
                    |arm| matches!(&arm.pat, Pat::Guard(g) if crate::desugar::assigns(&g.guard)),
                )
            {
                return None;
            }
            let bodies: Option<Vec<Vec<Expr>>> = matched
                .arms
                .iter()
                .map(|arm| split_tuple(&arm.body, n))
                .collect();
            let bodies = bodies?;
            Some(
                (0..n)
                    .map(|k| {
                        let mut single = matched.clone();
                        for (arm, body) in single.arms.iter_mut().zip(&bodies) {
                            *arm.body = body[k].clone();
                            arm.comma = Some(Default::default());
                        }
                        Expr::Match(single)
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// Code built around the user's tokens, parsed; `None` when those tokens do
/// not fit (a mutated or unfinished pattern), so the caller reports the
/// construct instead of panicking.
fn parsed<T: syn::parse::Parse>(tokens: TokenStream) -> Option<T> {
    syn::parse2(tokens).ok()
}
