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

use crate::lower::strip_parens as strip;
use crate::names::{identifiers, Names};
use proc_macro2::{Ident, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Expr, Pat};

/// The loop a reduction (`sum`, `product`, `fold`) over a slice stands for, as
/// a block expression; `None` when `call` is not such a chain.
pub fn reduction(
    call: &syn::ExprMethodCall,
    zero: &TokenStream,
    one: &TokenStream,
) -> Option<Expr> {
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
                chain.body(Pat::Verbatim(quote_spanned!(span=> #item)))?;
            let source = chain.source;
            let body = nest(&steps, quote_spanned!(span=> #acc = #acc #op (#value);));
            Some(syn::parse_quote_spanned! {span=>
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
            let (pattern, mut steps, value) = chain.body(item_pattern.clone())?;
            if !chain.adapters.is_empty() {
                // The adapted value binds the closure's item.
                let item = without_references(&item_pattern);
                steps.push(Step::Let(quote_spanned!(span=> let #item = #value;)));
            }
            let source = chain.source;
            let body = nest(&steps, quote_spanned!(span=> #acc = #step;));
            Some(syn::parse_quote_spanned! {span=>
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
    let len = length(chain.source)?;
    let mut names = names_outside(call);
    names.binding(target);
    let k = names.fresh("k");
    let item = names.fresh("item");
    let (pattern, steps, value) = chain.body(Pat::Verbatim(quote_spanned!(span=> #item)))?;
    let source = chain.source;
    let body = nest(
        &steps,
        quote_spanned!(span=> #target[#k] = #value; #k += 1;),
    );
    let block: syn::Block = syn::parse_quote_spanned! {span=>
        {
            let mut #target = vec![#zero; #len];
            let mut #k = 0_usize;
            for #pattern in #source { #body }
        }
    };
    Some(block.stmts)
}

/// The adapters between a slice iteration and the end of a chain.
struct Chain<'a> {
    /// `w.iter()`, `w.iter().zip(x)`: what the loop iterates.
    source: &'a Expr,
    /// `map` and `filter` closures, first to last.
    adapters: Vec<Adapter<'a>>,
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
        is_slice_iteration(source).then_some(Chain { source, adapters })
    }

    /// The loop's pattern, the steps that adapt each item, and the adapted
    /// value. Without adapters, `item` is the pattern and the value.
    fn body(&self, item: Pat) -> Option<(Pat, Vec<Step>, TokenStream)> {
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
                let pattern = one_reference_less(untyped(&filter.inputs[0]));
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
            let parameter = without_references(untyped(&closure.inputs[0]));
            steps.push(Step::Let(
                quote_spanned!(closure.span()=> let #parameter = #value;),
            ));
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

/// `&x` of `&&x`, `x` of `&x`: a filter's parameter as the item's pattern.
fn one_reference_less(pat: &Pat) -> Pat {
    match pat {
        Pat::Reference(r) => (*r.pat).clone(),
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
        Expr::MethodCall(m)
            if (m.method == "enumerate" || m.method == "rev") && m.args.is_empty() =>
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
        Expr::MethodCall(m) if m.method == "zip" => {
            let (a, b) = (length(&m.receiver)?, length(&m.args[0])?);
            Some(quote_spanned!(span=> #a.min(#b)))
        }
        Expr::Reference(r) => length(&r.expr),
        Expr::Path(p) => {
            let name = p.path.get_ident()?;
            Some(quote_spanned!(span=> #name.len()))
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
