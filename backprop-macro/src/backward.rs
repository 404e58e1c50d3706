//! The backward pass, in the blog's shape.
//!
//! Nodes are visited in reverse. Each reached node's adjoint is named after it
//! (`dsigx`); each of its active operands gets one term (`dx1 = dsigx * ...`), and
//! an adjoint with several terms is their explicit sum (`dx = dx1 + dx2 + dx3`),
//! written just before the node's own terms need it. No mutable accumulation.

use crate::analysis::Analysis;
use crate::ir::{Graph, NodeId, NodeKind, Operand};
use crate::names::Names;
use crate::rules::RuleCtx;
use crate::signature::Signature;
use proc_macro2::{Ident, TokenStream};
use quote::quote;
use std::collections::BTreeSet;

pub struct Backward {
    /// The statements of `backward`, after the tape is unpacked.
    pub body: TokenStream,
    /// Nodes whose values the statements read.
    pub saved: BTreeSet<NodeId>,
    /// Call nodes whose callee tape the statements read.
    pub saved_tapes: BTreeSet<NodeId>,
    /// The seed parameter: the adjoint of the result.
    pub seed: Ident,
    /// `Grad`'s fields: each differentiable parameter and its adjoint.
    pub gradient: Vec<(Ident, TokenStream)>,
}

pub fn generate(
    graph: &Graph,
    analysis: &Analysis,
    sig: &Signature,
    names: &mut Names,
) -> Backward {
    let mut pass = Pass {
        graph,
        analysis,
        names,
        adjoints: vec![None; graph.nodes.len()],
        terms: vec![Vec::new(); graph.nodes.len()],
        body: TokenStream::new(),
        saved: BTreeSet::new(),
        saved_tapes: BTreeSet::new(),
    };
    // Named in the order they are written, so `dx1` appears before `dx2`.
    for id in (0..graph.nodes.len()).rev() {
        if analysis.reached[id] {
            let name = &graph.nodes[id].name;
            let ident = pass
                .names
                .first_free(&[format!("d{name}"), format!("d_{name}")]);
            pass.adjoints[id] = Some(ident);
        }
    }
    let seed = match graph.output {
        Operand::Node(id) if analysis.reached[id] => pass.adjoint(id),
        _ => pass.names.fresh(&format!("_d{}", sig.ident)),
    };
    for id in (0..graph.nodes.len()).rev() {
        if analysis.reached[id] {
            pass.node(id);
        }
    }
    // Parameters are the first nodes, in order.
    let gradient = sig
        .params
        .iter()
        .enumerate()
        .filter_map(|(id, param)| {
            let float = param.differentiable?;
            let value = match &pass.adjoints[id] {
                Some(adjoint) => quote!(#adjoint),
                None => float.zero(),
            };
            Some((param.ident.clone(), value))
        })
        .collect();
    Backward {
        body: pass.body,
        saved: pass.saved,
        saved_tapes: pass.saved_tapes,
        seed,
        gradient,
    }
}

struct Pass<'a> {
    graph: &'a Graph,
    analysis: &'a Analysis,
    names: &'a mut Names,
    adjoints: Vec<Option<Ident>>,
    /// The terms written so far for each node's adjoint.
    terms: Vec<Vec<Ident>>,
    body: TokenStream,
    saved: BTreeSet<NodeId>,
    saved_tapes: BTreeSet<NodeId>,
}

impl Pass<'_> {
    fn adjoint(&self, id: NodeId) -> Ident {
        self.adjoints[id]
            .clone()
            .unwrap_or_else(|| Ident::new("__unreached", proc_macro2::Span::call_site()))
    }

    /// The name of the next term of `id`'s adjoint: the adjoint itself when it has
    /// one term, else `dx1`, `dx2`, ...
    fn next_term(&mut self, id: NodeId) -> Ident {
        let adjoint = self.adjoint(id);
        let name = if self.analysis.terms[id] == 1 {
            adjoint
        } else {
            let k = self.terms[id].len() + 1;
            let separator = if adjoint.to_string().ends_with(|c: char| c.is_ascii_digit()) {
                "_"
            } else {
                ""
            };
            self.names.fresh(&format!("{adjoint}{separator}{k}"))
        };
        self.terms[id].push(name.clone());
        name
    }

    fn node(&mut self, id: NodeId) {
        let d = self.adjoint(id);
        if self.analysis.terms[id] > 1 {
            let terms = &self.terms[id];
            self.body.extend(quote!(let #d = #(#terms)+*;));
        }
        let node = &self.graph.nodes[id];
        match &node.kind {
            NodeKind::Op { rule, args, .. } => {
                let Some(partial) = rule.partial else { return };
                for (i, arg) in args.iter().enumerate() {
                    let Some(arg) = self.active(arg) else {
                        continue;
                    };
                    let mut ctx = RuleCtx {
                        graph: self.graph,
                        node: id,
                        adjoint: &d,
                        saved: &mut self.saved,
                    };
                    let term = partial(&mut ctx, i);
                    let name = self.next_term(arg);
                    self.body.extend(quote!(let #name = #term;));
                }
            }
            NodeKind::Cast { arg, .. } => {
                let Some(arg) = self.active(arg) else { return };
                let from = self.graph.nodes[arg].float();
                let term = if from == node.float() {
                    quote!(#d)
                } else {
                    let from = from.unwrap_or(self.graph.ret);
                    quote!(#d as #from)
                };
                let name = self.next_term(arg);
                self.body.extend(quote!(let #name = #term;));
            }
            NodeKind::Call {
                path,
                args,
                tape,
                arg_spans,
            } => {
                self.saved_tapes.insert(id);
                // Each term carries the location of the user's argument, so a type
                // error about it (a callee that does not differentiate that
                // parameter) points there.
                let patterns: Vec<TokenStream> = args
                    .iter()
                    .zip(arg_spans)
                    .map(|(arg, span)| match self.active(arg) {
                        Some(arg) => {
                            let mut name = self.next_term(arg);
                            name.set_span(name.span().located_at(*span));
                            if let Some(last) = self.terms[arg].last_mut() {
                                *last = name.clone();
                            }
                            if self.analysis.terms[arg] == 1 {
                                self.adjoints[arg] = Some(name.clone());
                            }
                            quote!(#name)
                        }
                        None => quote!(_),
                    })
                    .collect();
                let pattern = if patterns.len() == 1 {
                    quote!((#(#patterns)*,))
                } else {
                    quote!((#(#patterns),*))
                };
                self.body
                    .extend(quote!(let #pattern = #path::pullback(#tape, #d);));
            }
            NodeKind::Param | NodeKind::Inactive { .. } => {}
        }
    }

    fn active(&self, operand: &Operand) -> Option<NodeId> {
        match operand {
            Operand::Node(id) if self.graph.nodes[*id].active => Some(*id),
            _ => None,
        }
    }
}
