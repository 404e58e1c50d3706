//! Forward mode: `f::tangent(args.., dot_args..) -> (value, tangent)`, the
//! directional derivative of `f` along the tangents of its differentiable
//! parameters (a Jacobian-vector product). It is the forward pass with each
//! active node's tangent computed right after the node, `let dot_sq = dot_x *
//! (2.0 * x);`, from the same derivative table as the backward pass: a rule
//! gives the upstream adjoint times the local partial, so with a tangent in
//! place of the adjoint it gives that operand's share of the node's tangent.
//!
//! A call of another differentiated function (or a custom rule) gets its
//! tangent from the callee's reverse pass: the callee's `pullback` with a unit
//! seed per output gives that output's gradient, dotted with the arguments'
//! tangents. Exact, and it needs nothing of the callee but the protocol every
//! callee already has.
//!
//! Generated for functions with one float result whose parameters are
//! floats and slices read by value or by shared reference, whose calls do not
//! write through `&mut`; for the others the module has no `tangent` (README,
//! limitations).

use super::forward::Forward;
use super::module::Generic;
use crate::emit::names::Names;
use crate::ir::{Borrow, ElementSource, Graph, NodeId, NodeKind, Operand};
use crate::parse::signature::{Outputs, Signature};
use crate::rules::RuleCtx;
use proc_macro2::{Ident, TokenStream};
use quote::quote;
use std::collections::{BTreeMap, BTreeSet};

/// `pub fn tangent(..)`, when forward mode covers the function.
pub(super) fn tangent_fn(
    sig: &Signature,
    graph: &Graph,
    names: &Names,
    generic: &Generic,
) -> Option<TokenStream> {
    if !covered(sig, graph) {
        return None;
    }
    let mut names = names.clone();
    let tangents = tangent_names(graph, &mut names);
    let unused_tape = names.fresh("tape");
    let empty = BTreeSet::new();
    let no_stacks = BTreeMap::new();
    // A call that the tangent pulls back through keeps its tape.
    let calls: BTreeSet<NodeId> = (0..graph.nodes.len())
        .filter(|&id| pulled_back(graph, &tangents, id))
        .collect();
    let statements = Forward {
        graph,
        saved: &empty,
        saved_tapes: &calls,
        stacks: &no_stacks,
        tape_stacks: &no_stacks,
        once: &empty,
        tape: &unused_tape,
        tangents: Some(&tangents),
    }
    .statements();
    let params = sig.params.iter().map(|p| {
        let (ident, ty) = (&p.ident, &p.ty);
        quote!(#ident: #ty)
    });
    let tangent_params = sig
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.differentiable.is_some())
        .filter_map(|(id, p)| {
            let dot = tangents.get(&id)?;
            let ty = &p.ty;
            Some(quote!(#dot: #ty))
        });
    let output = graph.outputs.first()?;
    let value = super::forward::argument(graph, output);
    let dot_value = of_operand(graph, &tangents, output);
    let float = &sig.ret;
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let doc = format!(
        "Forward mode: `{}`'s value and its derivative along the given tangents of its differentiable parameters (`dot_` + the parameter's name), in one pass.",
        sig.ident
    );
    let too_many = (2 * sig.params.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    // A value that only decides a branch has a tangent no one reads.
    let unread = unread_tangent(&tangents, sig.params.len(), &quote!(#statements #dot_value))
        .then(|| quote!(#[allow(unused_variables)]));
    Some(quote! {
        #[doc = #doc]
        #[must_use]
        #too_many
        #unread
        pub fn tangent #generics (#(#params,)* #(#tangent_params),*) -> (#float, #float) #where_clause {
            #statements
            (#value, #dot_value)
        }
    })
}

/// Whether some tangent is never read: a parameter's name does not appear in
/// the code, another's appears only where it is bound. (Parameters are the
/// first `params` nodes.)
fn unread_tangent(tangents: &BTreeMap<NodeId, Ident>, params: usize, code: &TokenStream) -> bool {
    fn count(tokens: TokenStream, counts: &mut BTreeMap<String, usize>) {
        for tree in tokens {
            match tree {
                proc_macro2::TokenTree::Ident(ident) => {
                    *counts.entry(ident.to_string()).or_default() += 1;
                }
                proc_macro2::TokenTree::Group(group) => count(group.stream(), counts),
                _ => {}
            }
        }
    }
    let mut counts = BTreeMap::new();
    count(code.clone(), &mut counts);
    tangents.iter().any(|(id, name)| {
        let uses = counts.get(&name.to_string()).copied().unwrap_or(0);
        let bound_here = usize::from(*id >= params);
        uses <= bound_here
    })
}

/// Forward mode covers the function: one returned float, parameters read
/// by value or through `&`, no calls.
fn covered(sig: &Signature, graph: &Graph) -> bool {
    let plain_params = sig.params.iter().all(|p| !p.inout && !p.by_reference);
    // Calls that only read their arguments and return their outputs.
    let reading_calls = graph.nodes.iter().enumerate().all(|(id, n)| match &n.kind {
        // (An array a call returns and passes on whole, `g(f(w))`, is not
        // covered yet.)
        NodeKind::Call {
            borrows,
            outputs,
            args,
            ..
        } => {
            let named = *outputs == 1 || graph.elements_of(id).next().is_some();
            // A call's value passed straight to another call may be an array
            // (`g(f(w))` with `f` returning `[f64; 3]`): its type is the
            // callee's to know, unless arithmetic elsewhere shows it a float.
            let call_passed_on = args.iter().any(|a| match a {
                Operand::Node(arg) => {
                    matches!(graph.nodes[*arg].kind, NodeKind::Call { .. })
                        && !used_in_arithmetic(graph, *arg)
                }
                Operand::Const(_) => false,
            });
            named
                && !call_passed_on
                && n.array.is_none()
                && borrows
                    .iter()
                    .all(|b| matches!(b, Borrow::Plain | Borrow::Shared))
        }
        NodeKind::Element { source, .. } => {
            matches!(source, ElementSource::Field | ElementSource::Item)
        }
        _ => true,
    });
    matches!(sig.outputs, Outputs::One)
        && sig.returns_value
        && graph.outputs.len() == 1
        && plain_params
        && reading_calls
        && graph.written_params.is_empty()
}

/// Whether some operation computes with the node's value: then it is a float.
fn used_in_arithmetic(graph: &Graph, id: NodeId) -> bool {
    graph.nodes.iter().any(|n| {
        matches!(n.kind, NodeKind::Op { .. } | NodeKind::Cast { .. })
            && n.args()
                .iter()
                .any(|a| matches!(a, Operand::Node(x) if *x == id))
    })
}

/// `dot_` + the node's name, for each node that has a tangent.
fn tangent_names(graph: &Graph, names: &mut Names) -> BTreeMap<NodeId, Ident> {
    graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.active && has_tangent(&n.kind))
        .map(|(id, n)| (id, names.fresh(&format!("dot_{}", n.name))))
        .collect()
}

fn has_tangent(kind: &NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::Param
            | NodeKind::Call { .. }
            | NodeKind::Element { .. }
            | NodeKind::Op { .. }
            | NodeKind::Cast { .. }
            | NodeKind::Merge
            | NodeKind::LoopParam
            | NodeKind::LoopOut
            | NodeKind::Buffer { .. }
            | NodeKind::Read { .. }
    )
}

/// An operand's tangent: its node's, or zero.
pub fn of_operand(
    graph: &Graph,
    tangents: &BTreeMap<NodeId, Ident>,
    operand: &Operand,
) -> TokenStream {
    match operand {
        Operand::Node(id) => match tangents.get(id) {
            Some(dot) => quote!(#dot),
            None => graph.float_or_ret(*id).zero(),
        },
        Operand::Const(c) => c.float.clone().unwrap_or_else(|| graph.ret.clone()).zero(),
    }
}

/// The derivative of a call's output along its arguments' tangents: the
/// callee's `pullback` with that output's unit `seed`, dotted with them.
fn through_pullback(
    graph: &Graph,
    tangents: &BTreeMap<NodeId, Ident>,
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
    let zero = graph.float_or_ret(call).zero();
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
            quote::quote_spanned!(arg_span=> #partial.iter().zip(#part).fold(#zero, |sum, (p, t)| sum + *p * *t))
        } else {
            quote::quote_spanned!(arg_span=> #partial * #dot_arg)
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
fn pulled_back(graph: &Graph, tangents: &BTreeMap<NodeId, Ident>, id: NodeId) -> bool {
    let NodeKind::Call { args, .. } = &graph.nodes[id].kind else {
        return false;
    };
    let has_tangent = |id: &NodeId| tangents.contains_key(id);
    let seeded = has_tangent(&id) || graph.elements_of(id).any(|(e, _, _)| has_tangent(&e));
    seeded
        && args
            .iter()
            .any(|arg| matches!(arg, Operand::Node(a) if has_tangent(a)))
}

/// The statement that follows node `id` in forward mode: its tangent, or, for
/// a write into an array, the write of the value's tangent.
pub fn of_node(graph: &Graph, tangents: &BTreeMap<NodeId, Ident>, id: NodeId) -> TokenStream {
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
    let zero = graph.float_or_ret(id).zero();
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
            quote!(let #dot = #dot_arg as #to;)
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
