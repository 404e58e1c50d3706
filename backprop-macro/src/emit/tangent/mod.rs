//! Forward mode: each active node's tangent computed right after the node,
//! `let dot_sq = dot_x * (2.0 * x);`, from the same derivative table as the
//! backward pass: a rule gives the upstream adjoint times the local partial,
//! so with a tangent in place of the adjoint it gives that operand's share of
//! the node's tangent. `api` builds the functions users call from these
//! statements: `tangent` (one direction), `tangents` (N directions at once,
//! each tangent a `Lanes` of N) and `jacobian_fwd`.
//!
//! A call of another differentiated function (or a custom rule) gets its
//! tangent from the callee's reverse pass: the callee's `pullback` with a unit
//! seed per output gives that output's gradient, dotted with the arguments'
//! tangents. Exact, and it needs nothing of the callee but the protocol every
//! callee already has; with N lanes the callee's gradient is computed once and
//! dotted with each.

mod api;

pub(super) use api::{jacobian_fwd_fn, tangent_fn, tangents_fn};

use crate::ir::{ElementSource, FloatTy, Graph, NodeId, NodeKind, Operand};
use crate::rules::RuleCtx;
use proc_macro2::{Ident, TokenStream};
use quote::quote;
use std::collections::{BTreeMap, BTreeSet};

/// The tangents of one forward-mode function: each active node's name
/// (`dot_` + its own), and whether they are floats or lanes.
pub struct Tangents {
    pub names: BTreeMap<NodeId, Ident>,
    /// `N` in `Lanes<f64, N>`, when each tangent holds N directions.
    pub lanes: Option<Ident>,
}

impl Tangents {
    pub fn get(&self, id: &NodeId) -> Option<&Ident> {
        self.names.get(id)
    }

    /// A tangent that is zero: the float's zero, or N lanes of it.
    fn zero(&self, float: &FloatTy) -> TokenStream {
        match &self.lanes {
            Some(n) => quote!(::backprop_runtime::Lanes::<#float, #n>::zero()),
            None => float.zero(),
        }
    }

    /// `dot as f32`, lane by lane for lanes.
    fn cast(&self, dot: &TokenStream, to: &FloatTy) -> TokenStream {
        match &self.lanes {
            Some(_) => quote!(#dot.cast::<#to>()),
            None => quote!(#dot as #to),
        }
    }
}

/// An operand's tangent: its node's, or zero.
pub fn of_operand(graph: &Graph, tangents: &Tangents, operand: &Operand) -> TokenStream {
    match operand {
        Operand::Node(id) => match tangents.get(id) {
            Some(dot) => quote!(#dot),
            None => tangents.zero(&graph.float_or_ret(*id)),
        },
        Operand::Const(c) => tangents.zero(c.float.as_ref().unwrap_or(&graph.ret)),
    }
}

/// The derivative of a call's output along its arguments' tangents: the
/// callee's `pullback` with that output's unit `seed`, dotted with them.
fn through_pullback(
    graph: &Graph,
    tangents: &Tangents,
    call: NodeId,
    seed: &TokenStream,
) -> TokenStream {
    let NodeKind::Call {
        path,
        args,
        tape,
        parts,
        arg_spans,
        ..
    } = &graph.nodes[call].kind
    else {
        return TokenStream::new();
    };
    // Spanned at the call and its arguments, as the backward pass's code: a
    // custom rule whose `pullback_into` does not fit is reported there.
    let span = graph.nodes[call].span;
    let zero = tangents.zero(&graph.float_or_ret(call));
    let mut bound = Vec::new();
    let mut terms = Vec::new();
    for (k, arg) in args.iter().enumerate() {
        let dot_arg = match arg {
            Operand::Node(id) => tangents.get(id),
            Operand::Const(_) => None,
        };
        let arg_span = arg_spans.get(k).copied().unwrap_or(span);
        let Some(dot_arg) = dot_arg else {
            bound.push(quote::quote_spanned!(arg_span=> _));
            continue;
        };
        let partial = quote::format_ident!("partial_{k}", span = arg_span);
        let is_array = matches!(arg, Operand::Node(id) if graph.nodes[*id].array.is_some());
        terms.push(if is_array {
            let part = match parts.get(k).cloned().flatten() {
                Some((start, end)) => {
                    let (start, end) = (
                        super::forward::argument(graph, &start),
                        super::forward::argument(graph, &end),
                    );
                    quote!(&#dot_arg[#start..#end])
                }
                None => quote!(#dot_arg.iter()),
            };
            quote::quote_spanned!(arg_span=> #partial.iter().zip(#part).fold(#zero, |sum, (p, t)| sum + *t * *p))
        } else {
            quote::quote_spanned!(arg_span=> #dot_arg * #partial)
        });
        bound.push(quote!(#partial));
    }
    if terms.is_empty() {
        return zero;
    }
    let pattern = if bound.len() == 1 {
        quote::quote_spanned!(span=> (#(#bound)*,))
    } else {
        quote::quote_spanned!(span=> (#(#bound),*))
    };
    // The call's local holds its tape and the callee's gradient, which the
    // pullback fills and hands back by position.
    let pullback = quote::quote_spanned!(span=> let #pattern = #path::pullback_into(&#tape.0, #seed, &mut #tape.1););
    quote!({
        #pullback
        #(#terms)+*
    })
}

/// Whether node `id` is a call whose tangent (or one of its elements') comes
/// from the callee's pullback: an argument has a tangent.
pub(super) fn pulled_back(graph: &Graph, tangents: &Tangents, id: NodeId) -> bool {
    let NodeKind::Call { args, .. } = &graph.nodes[id].kind else {
        return false;
    };
    let has_tangent = |id: &NodeId| tangents.names.contains_key(id);
    let seeded = has_tangent(&id) || graph.elements_of(id).any(|(e, _, _)| has_tangent(&e));
    seeded
        && args
            .iter()
            .any(|arg| matches!(arg, Operand::Node(a) if has_tangent(a)))
}

/// The statement that follows node `id` in forward mode: its tangent, or, for
/// a write into an array, the write of the value's tangent.
pub fn of_node(graph: &Graph, tangents: &Tangents, id: NodeId) -> TokenStream {
    let node = &graph.nodes[id];
    if let NodeKind::Write {
        array,
        index,
        value,
        push,
    } = &node.kind
    {
        let Some(dot_array) = tangents.get(array) else {
            return TokenStream::new();
        };
        let (index, dot_value) = (
            super::forward::argument(graph, index),
            of_operand(graph, tangents, value),
        );
        return if *push {
            quote!(#dot_array.push(#dot_value);)
        } else {
            quote!(#dot_array[#index] = #dot_value;)
        };
    }
    let Some(dot) = tangents.get(&id) else {
        return TokenStream::new();
    };
    let zero = tangents.zero(&graph.float_or_ret(id));
    match &node.kind {
        NodeKind::Op { rule, args, .. } => {
            let Some(partial) = rule.partial else {
                return quote!(let #dot = #zero;);
            };
            let terms: Vec<TokenStream> = args
                .iter()
                .enumerate()
                .filter_map(|(i, arg)| {
                    let Operand::Node(arg) = arg else { return None };
                    let dot_arg = tangents.get(arg)?;
                    let mut saved = BTreeSet::new();
                    let mut ctx = RuleCtx {
                        graph,
                        node: id,
                        adjoint: dot_arg,
                        adjoint_zero: tangents.lanes.as_ref().map(|_| &zero),
                        saved: &mut saved,
                    };
                    Some(graph.ret.literals_in(partial(&mut ctx, i)))
                })
                .collect();
            match terms.as_slice() {
                [] => quote!(let #dot = #zero;),
                [term] => quote!(let #dot = #term;),
                _ => {
                    // `dot_a * b + dot_b * a`, each product in parentheses.
                    let terms = terms.iter().map(|t| {
                        if t.clone().into_iter().count() == 1 {
                            t.clone()
                        } else {
                            quote!((#t))
                        }
                    });
                    quote!(let #dot = #(#terms)+*;)
                }
            }
        }
        // One output: the call's value. Several: its elements, each with
        // its own unit seed.
        NodeKind::Call { outputs: 1, .. } if graph.elements_of(id).next().is_none() => {
            let one = graph.float_or_ret(id).one();
            let along = through_pullback(graph, tangents, id, &one);
            quote!(let #dot = #along;)
        }
        NodeKind::Call { .. } => TokenStream::new(),
        NodeKind::Element {
            call,
            index,
            source,
        } => {
            let outputs = match &graph.nodes[*call].kind {
                NodeKind::Call { outputs, .. } => *outputs,
                _ => 0,
            };
            let float = graph.float_or_ret(id);
            let units = (0..outputs).map(|k| {
                if k == *index {
                    float.one()
                } else {
                    float.zero()
                }
            });
            let seed = match source {
                ElementSource::Item => quote!([#(#units),*]),
                _ => quote!((#(#units),*)),
            };
            let along = through_pullback(graph, tangents, *call, &seed);
            quote!(let #dot = #along;)
        }
        NodeKind::Cast { to, arg } => {
            let dot_arg = of_operand(graph, tangents, arg);
            let cast = tangents.cast(&dot_arg, to);
            quote!(let #dot = #cast;)
        }
        NodeKind::Read { array, index } => {
            let index = super::forward::argument(graph, index);
            match tangents.get(array) {
                Some(dot_array) => quote!(let #dot = #dot_array[#index];),
                None => quote!(let #dot = #zero;),
            }
        }
        NodeKind::Buffer {
            len,
            fixed,
            growable,
            ..
        } => {
            let len = super::forward::argument(graph, len);
            if *growable {
                quote!(let mut #dot = ::std::vec::Vec::new();)
            } else if *fixed {
                quote!(let mut #dot = [#zero; #len];)
            } else {
                quote!(let mut #dot = ::std::vec![#zero; #len];)
            }
        }
        // Bound by their statements (branches, loops), or parameters.
        _ => TokenStream::new(),
    }
}
