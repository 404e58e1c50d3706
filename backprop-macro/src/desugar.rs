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
use proc_macro2::{Ident, Span, TokenStream};
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
            let (pattern, mut body, value) =
                chain.body(Pat::Verbatim(quote_spanned!(span=> #item)), &mut names)?;
            let source = chain.source;
            body.extend(quote_spanned!(span=> #acc = #acc #op (#value);));
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
            let (pattern, mut body, value) = chain.body(item_pattern.clone(), &mut names)?;
            if !chain.maps.is_empty() {
                // The mapped value binds the closure's item.
                let item = strip_reference(&item_pattern);
                body.extend(quote_spanned!(span=> let #item = #value;));
            }
            let source = chain.source;
            body.extend(quote_spanned!(span=> #acc = #step;));
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
    if chain.maps.is_empty() {
        return None;
    }
    let len = length(chain.source)?;
    let mut names = names_outside(call);
    names.binding(target);
    let k = names.fresh("k");
    let item = names.fresh("item");
    let (pattern, body, value) =
        chain.body(Pat::Verbatim(quote_spanned!(span=> #item)), &mut names)?;
    let source = chain.source;
    let block: syn::Block = syn::parse_quote_spanned! {span=>
        {
            let mut #target = vec![#zero; #len];
            let mut #k = 0_usize;
            for #pattern in #source {
                #body
                #target[#k] = #value;
                #k += 1;
            }
        }
    };
    Some(block.stmts)
}

/// The adapters between a slice iteration and the end of a chain.
struct Chain<'a> {
    /// `w.iter()`, `w.iter().zip(x)`: what the loop iterates.
    source: &'a Expr,
    /// The `map` closures, first to last.
    maps: Vec<&'a syn::ExprClosure>,
}

impl<'a> Chain<'a> {
    fn of(receiver: &'a Expr) -> Option<Chain<'a>> {
        let mut maps = Vec::new();
        let mut source = receiver;
        loop {
            match strip(source) {
                Expr::MethodCall(m) if m.method == "map" && m.args.len() == 1 => match &m.args[0] {
                    Expr::Closure(c) if c.inputs.len() == 1 => {
                        maps.push(c);
                        source = &m.receiver;
                    }
                    _ => return None,
                },
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
        maps.reverse();
        is_slice_iteration(source).then_some(Chain { source, maps })
    }

    /// The loop's pattern, the statements that map each item, and the mapped
    /// value. Without a `map`, `item` is the pattern and the value.
    fn body(&self, item: Pat, names: &mut Names) -> Option<(Pat, TokenStream, TokenStream)> {
        let Some((first, rest)) = self.maps.split_first() else {
            let value = strip_reference(&item);
            return Some((
                item,
                TokenStream::new(),
                quote_spanned!(Span::call_site()=> #value),
            ));
        };
        let pattern = untyped(&first.inputs[0]).clone();
        let mut body = TokenStream::new();
        let mut value = closure_body(first);
        for map in rest {
            let name = strip_reference(untyped(&map.inputs[0]));
            let span = map.span();
            let bound = names.fresh("mapped");
            body.extend(quote_spanned!(span=> let #bound = #value; let #name = #bound;));
            value = closure_body(map);
        }
        Some((pattern, body, value))
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

/// `x` of `x`, `&x`, `x: &f64`: a name for the value.
fn strip_reference(pat: &Pat) -> TokenStream {
    match untyped(pat) {
        Pat::Reference(r) => strip_reference(&r.pat),
        other => quote::quote!(#other),
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
