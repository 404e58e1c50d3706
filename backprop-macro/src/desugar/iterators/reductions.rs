//! The ends of a chain that make it a value: the loop each stands for, as
//! a block expression (`sum`, `product`, `fold`, `all`, `any`, `count`,
//! `max_by`/`min_by` and `position` unwrapped), or as statements filling a
//! buffer (`collect` into a `let`).

use super::{names_outside, nest, parsed, simple_name, untyped, Adapter, Chain};
use crate::lower::strip_parens as strip;
use proc_macro2::{Ident, TokenStream};
use quote::{quote_spanned, ToTokens};
use syn::spanned::Spanned;
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
    let chain = Chain::folded(call)?;
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
                // Renamed where the chain reads a name it would hide
                // (`a.iter().fold(0.0, |a, v| a + v)`: the loop's source
                // is the list `a`, not the accumulator).
                Expr::Closure(closure) if closure.inputs.len() == 2 => {
                    let acc = simple_name(&closure.inputs[0])?;
                    let item = untyped(&closure.inputs[1]).clone();
                    let mut body = (*closure.body).clone();
                    let read = crate::emit::names::identifiers(call.receiver.to_token_stream());
                    let acc = match read.contains(&acc.to_string()) {
                        true => {
                            let fresh = names.fresh(&acc.to_string());
                            crate::inline::substitute::renamed(&mut body, &[(acc, fresh.clone())]);
                            fresh
                        }
                        false => acc,
                    };
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
            // (The accumulator and what the closure reads from outside
            // must not be hidden by an adapter's parameter.)
            if let Expr::Closure(closure) = &call.args[1] {
                let params: Vec<&Pat> = closure.inputs.iter().collect();
                if chain.hides(&closure.body.to_token_stream(), &params) {
                    return None;
                }
            }
            if chain.binds(&acc) {
                return None;
            }
            let (pattern, steps) = chain.body_binding(&item_pattern, &mut names, span)?;
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
            if chain.hides(&predicate.to_token_stream(), &[&closure.inputs[0]]) {
                return None;
            }
            let (pattern, steps) = chain.body_binding(&item_pattern, &mut names, span)?;
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

/// `x.iter().map(..).max_by(|a, b| a.total_cmp(b)).unwrap()` (`min_by`,
/// `partial_cmp(..).unwrap()`, `f64::total_cmp`, `b` first to reverse;
/// `expect(..)`): the loop that keeps the largest (smallest) item, the last
/// of equal largest as `max_by` returns and the first of equal smallest as
/// `min_by` does, and panics as `unwrap` does where there is none.
fn extreme_by(call: &syn::ExprMethodCall, zero: &TokenStream) -> Option<Expr> {
    let crate::desugar::arg_extrema::Extreme { by, largest, total } =
        crate::desugar::arg_extrema::unwrapped_extreme(call)?;
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
    let replaces = crate::desugar::arg_extrema::replaces(
        &candidate.to_token_stream(),
        &best.to_token_stream(),
        largest,
        descending,
        total,
        span,
    );
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
    let default = crate::desugar::unwrap_default(call)?;
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
    let (pattern, steps) = chain.body_binding(&item_pattern, &mut names, span)?;
    let predicate = &closure.body;
    if chain.hides(&predicate.to_token_stream(), &[&closure.inputs[0]]) {
        return None;
    }
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
    if !maps_only {
        return None;
    }
    let len = chain.length()?;
    let mut names = names_outside(call);
    names.binding(target);
    // The buffer of a name the chain reads (`let x: Vec<f64> =
    // x.iter().map(..).collect();`, shadowing the source): filled under
    // another name, the user's bound to it after, as `let` binds after its
    // value is computed.
    let shadows =
        crate::emit::names::identifiers(call.to_token_stream()).contains(&target.to_string());
    let user_target = target;
    let fresh_target = names.fresh(&format!("{target}_filled"));
    let target = match shadows {
        true => &fresh_target,
        false => target,
    };
    let k = names.fresh("k");
    let item = names.fresh("item");
    let (pattern, steps, value) =
        chain.body(Pat::Verbatim(quote_spanned!(span=> #item)), &mut names)?;
    let source = chain.loop_source();
    // (A closure's parameter of the buffer's own name, `|v|` of `let v =
    // x.iter().map(|v| ..)`, is one the chain reads: the buffer is filled
    // under another name, above.)
    let body = nest(
        &steps,
        quote_spanned!(span=> #target[#k] = #value; #k += 1;),
    );
    // (Bound, not copied: the buffer is the user's from here on.)
    let rebound = shadows.then(|| quote_spanned!(span=> let #user_target = #target;));
    let block: syn::Block = parsed(quote_spanned! {span=>
        {
            let mut #target = vec![#zero; #len];
            // In a block of its own: the counter must not shadow the user's
            // names in the rest of the function.
            {
                let mut #k: usize = 0;
                for #pattern in #source { #body }
            }
            #rebound
        }
    })?;
    Some(block.stmts)
}

/// `v = v.iter().map(|a| a * a).collect();` (or `.rev()`, `.enumerate()`,
/// `.copied()` between) of a local vector: a vector of the same length,
/// written back into it, `{ let next: Vec<_> = ..collect(); for k in
/// 0..v.len() { v[k] = next[k]; } }` (the chain reads every element before
/// the first is written, as the new vector does). Left as written (and
/// refused, as assigning a vector whole is) where the new vector's length is
/// not the old one's by the chain's spelling (`windows`, `zip`, `skip`).
pub fn collect_assignments_as_copies(block: &mut syn::Block) {
    struct Rewriter(crate::emit::names::Names);
    impl syn::visit_mut::VisitMut for Rewriter {
        fn visit_stmt_mut(&mut self, stmt: &mut syn::Stmt) {
            syn::visit_mut::visit_stmt_mut(self, stmt);
            let syn::Stmt::Expr(Expr::Assign(assign), Some(_)) = stmt else {
                return;
            };
            let Expr::Path(target) = strip(&assign.left) else {
                return;
            };
            let Some(target) = target.path.get_ident() else {
                return;
            };
            let Expr::MethodCall(call) = strip(&assign.right) else {
                return;
            };
            if call.method != "collect" || !call.args.is_empty() {
                return;
            }
            let same_length = Chain::of(&call.receiver).is_some_and(|chain| {
                chain.window.is_none()
                    && chain.adapters.iter().all(|a| matches!(a, Adapter::Map(_)))
                    && chain.length().map(|len| len.to_string())
                        == Some(quote::quote!(#target.len()).to_string())
            });
            if !same_length {
                return;
            }
            let span = assign.span();
            let next = self.0.fresh(&format!("{target}_next"));
            let k = self.0.fresh("k");
            let value = &assign.right;
            *stmt = syn::parse_quote_spanned! {span=>
                {
                    let #next: Vec<_> = #value;
                    for #k in 0..#target.len() {
                        #target[#k] = #next[#k];
                    }
                }
            };
        }
    }
    let names = crate::emit::names::Names::avoiding(crate::emit::names::identifiers(
        block.to_token_stream(),
    ));
    syn::visit_mut::VisitMut::visit_block_mut(&mut Rewriter(names), block);
}
