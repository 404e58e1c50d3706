//! A checkpointed loop in reverse: the stretches between the states its
//! forward pass kept, from the last; each is run again from its state, saving
//! what its reversed iterations read into memory the backward pass reuses,
//! then reversed like any loop.

use super::Pass;
use crate::analysis::checkpoint::{regions_inside, LoopState};
use crate::emit::forward::Forward;
use crate::ir::{Loop, NodeId, NodeKind, Operand};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use std::collections::{BTreeMap, BTreeSet};

/// What the forward pass of a checkpointed loop keeps, and the tape's field
/// that holds it.
pub struct CheckpointPlan {
    /// The loop statement.
    pub stmt: crate::ir::StmtId,
    /// The tape's `Checkpoints` field, and its local in both passes.
    pub local: Ident,
    /// The most states kept.
    pub limit: TokenStream,
    pub parts: Vec<StatePart>,
}

/// One part of a checkpointed loop's state: a variable the loop carries, or
/// an array it writes.
pub struct StatePart {
    pub ty: TokenStream,
    /// The expression the forward pass keeps (`p`, `h.clone()`).
    pub keep: TokenStream,
    /// Whether it holds heap memory (an array), which `bytes()` counts.
    pub heap: bool,
}

impl Pass<'_> {
    /// The reverse of a checkpointed loop, whose reversed body `body` is
    /// written: one stretch at a time, each run again from its kept state.
    pub(super) fn stretches(&mut self, looped: &Loop, rebuilt: Option<NodeId>, body: TokenStream) {
        let graph = self.graph;
        let inside = regions_inside(graph, looped.body.region);
        let is_inside = |id: &NodeId| inside.contains(&graph.nodes[*id].region);
        // What the reversed iterations pop is saved by the stretch's run, into
        // stacks of `Work`, not of the tape.
        let popped: Vec<(NodeId, Ident)> = self
            .stacks
            .iter()
            .filter(|(id, _)| is_inside(id))
            .map(|(id, stack)| (*id, stack.clone()))
            .collect();
        let popped_tapes: Vec<(NodeId, Ident)> = self
            .tape_stacks
            .iter()
            .filter(|(id, _)| is_inside(id))
            .map(|(id, stack)| (*id, stack.clone()))
            .collect();
        for (id, _) in &popped {
            self.stacks.remove(id);
            self.saved.remove(id);
        }
        for (id, _) in &popped_tapes {
            self.tape_stacks.remove(id);
            self.saved_tapes.remove(id);
        }
        // The values of the function body the iterations read: fields of the
        // tape, and arrays nothing changes while the loop runs, copied.
        let state = LoopState::of(graph, looped);
        for &id in &state.reads {
            match graph.nodes[id].array {
                Some(_) => {
                    self.copied.insert(id);
                }
                None => {
                    self.value(&Operand::Node(id));
                }
            }
        }
        let trips = self.value(&Operand::Node(looped.trips));
        let limit = match &looped.checkpoint {
            Some(checkpoint) => checkpoint.snapshots.clone(),
            None => quote!(2),
        };
        // Fresh: the loop's body, written inside them, may read the user's
        // `from` or `to`.
        let names = [
            "checkpoints",
            "stretch",
            "state",
            "reversal",
            "action",
            "iterations",
            "from",
            "to",
        ];
        let [local, stretch, state_name, reversal, action, iterations, from, to] =
            names.map(|name| self.names.fresh(name));
        let state = self.state_parts(looped, &state.arrays, &state_name);
        // Each stack of the reversed iterations, refilled by each run that
        // saves.
        let mut refill = TokenStream::new();
        let mut readers = TokenStream::new();
        let mut record_stacks = BTreeMap::new();
        let mut record_tape_stacks = BTreeMap::new();
        for (id, stack) in &popped {
            let node = &graph.nodes[*id];
            let ty = node.ty.clone();
            let kept = self.names.fresh(&format!("{}_kept", node.name));
            let place = self.work_field(&kept, quote!(::backprop_runtime::Stack<#ty>));
            refill.extend(quote!(let #kept = &mut #place; #kept.clear();));
            readers.extend(quote!(let mut #stack = #kept.reader();));
            record_stacks.insert(*id, kept);
        }
        for (id, stack) in &popped_tapes {
            let NodeKind::Call {
                path,
                tape,
                tape_args,
                ..
            } = &graph.nodes[*id].kind
            else {
                continue;
            };
            let kept = self.names.fresh(&format!("{tape}_kept"));
            let place = self.work_field(
                &kept,
                quote!(::backprop_runtime::TapeStack<#path::Tape #tape_args>),
            );
            refill.extend(quote!(let #kept = &mut #place; #kept.clear();));
            readers.extend(quote!(let mut #stack = #kept.reader();));
            record_tape_stacks.insert(*id, kept);
        }
        // The iterations run again: saving what their reverse reads, or
        // (advancing to a state to keep) nothing.
        let mut saved: BTreeSet<NodeId> = self.saved.clone();
        saved.extend(popped.iter().map(|(id, _)| *id));
        let saved_tapes: BTreeSet<NodeId> = popped_tapes.iter().map(|(id, _)| *id).collect();
        let unused_tape = format_ident!("tape");
        let (nothing, no_stacks) = (BTreeSet::new(), BTreeMap::new());
        let record = Forward {
            graph,
            saved: &saved,
            saved_tapes: &saved_tapes,
            stacks: &record_stacks,
            tape_stacks: &record_tape_stacks,
            once: &nothing,
            tape: &unused_tape,
            tangents: None,
            checkpoints: &[],
        }
        .iterations(looped, &iterations);
        let advance = Forward {
            graph,
            saved: &self.saved,
            saved_tapes: &nothing,
            stacks: &no_stacks,
            tape_stacks: &no_stacks,
            once: &nothing,
            tape: &unused_tape,
            tangents: None,
            checkpoints: &[],
        }
        .iterations(looped, &iterations);
        let counters = self.counters_from_the_end(looped);
        let header = match (rebuilt, &looped.var_start) {
            (Some(var), Some(start)) if self.needed.contains(&var) => {
                let name = &graph.nodes[var].name;
                if start.to_string() == "0" {
                    quote!(for #name in #iterations.rev())
                } else {
                    quote!(for #name in #iterations.rev().map(|k| #start + k))
                }
            }
            _ => quote!(for _ in #iterations),
        };
        let ty = &state.ty;
        let place = self.work_field(
            &reversal,
            quote!(::backprop_runtime::checkpoint::Reversal<#ty>),
        );
        let StateCode {
            bind,
            keep,
            restore,
            slices,
            ..
        } = state;
        let actions = quote!(::backprop_runtime::checkpoint::Action);
        self.out.extend(quote! {
            for (#stretch, #state_name) in #local.stretches(#trips) {
                #bind
                let #reversal = &mut #place;
                #reversal.plan(#stretch, #limit);
                while let Some(#action) = #reversal.next() {
                    match #action {
                        #actions::Keep => #reversal.keep(#keep),
                        #actions::Drop => #reversal.drop_top(),
                        #actions::Restore => {
                            let #state_name = #reversal.top();
                            #restore
                        }
                        #actions::Advance(#from, #to) => {
                            let #iterations = #from..#to;
                            #slices
                            #advance
                        }
                        #actions::Reverse(#from, #to) => {
                            let #iterations = #from..#to;
                            #slices
                            #refill
                            #record
                            #readers
                            #counters
                            #header { #body }
                        }
                    }
                }
            }
        });
        self.checkpoints.push(CheckpointPlan {
            stmt: looped.id,
            local,
            limit,
            parts: state.parts,
        });
    }

    /// The parts of the loop's state, in order: its variables, then the arrays
    /// it keeps; and the code that handles them in the backward pass.
    fn state_parts(&mut self, looped: &Loop, arrays: &[NodeId], state: &Ident) -> StateCode {
        let graph = self.graph;
        let mut code = StateCode::default();
        let mut keep = Vec::new();
        for carried in &looped.carried {
            let node = &graph.nodes[carried.out];
            let (name, ty) = (&node.name, &node.ty);
            let k = syn::Index::from(code.parts.len());
            code.bind.extend(quote!(let mut #name = #state.#k;));
            code.restore.extend(quote!(#name = #state.#k;));
            keep.push(quote!(#name));
            code.parts.push(StatePart {
                ty: quote!(#ty),
                keep: quote!(#name),
                heap: false,
            });
        }
        for &array in arrays {
            let node = &graph.nodes[array];
            let name = &node.name;
            let k = syn::Index::from(code.parts.len());
            // Floats, or the indices of a list the function changes in place.
            let element = match node.ty.as_ref().and_then(crate::lower::element_type) {
                Some(ty) if graph.changed_data.contains(&array) => quote!(#ty),
                _ => {
                    let float = graph.float_or_ret(array);
                    quote!(#float)
                }
            };
            // A local array of constant length (`[0.0; 3]`) is copied; a `Vec`
            // or a `&mut [f64]` is kept as a `Vec`.
            let fixed = match &node.array {
                Some(info) if info.fixed && !matches!(node.kind, NodeKind::Param) => {
                    match &info.len {
                        Operand::Const(len) => Some(len.tokens.clone()),
                        Operand::Node(_) => None,
                    }
                }
                _ => None,
            };
            let part = match fixed {
                Some(len) => {
                    code.bind.extend(quote!(let mut #name = #state.#k;));
                    code.restore.extend(quote!(#name = #state.#k;));
                    keep.push(quote!(#name));
                    StatePart {
                        ty: quote!([#element; #len]),
                        keep: quote!(#name),
                        heap: false,
                    }
                }
                None => {
                    // A `&mut [f64]` parameter is held in a `Vec` of its own
                    // and lent as the slice the body reads.
                    let owned = match node.kind {
                        NodeKind::Param => {
                            let owned = self.names.fresh(&format!("{name}_start"));
                            code.slices
                                .extend(quote!(let #name = #owned.as_mut_slice();));
                            owned
                        }
                        _ => name.clone(),
                    };
                    code.bind
                        .extend(quote!(let mut #owned = #state.#k.clone();));
                    code.restore.extend(quote!(#owned.clone_from(&#state.#k);));
                    keep.push(quote!(#owned.clone()));
                    StatePart {
                        ty: quote!(::std::vec::Vec<#element>),
                        keep: quote!(#name.to_vec()),
                        heap: true,
                    }
                }
            };
            code.parts.push(part);
        }
        let types = code.parts.iter().map(|p| &p.ty);
        code.ty = quote!((#(#types,)*));
        code.keep = quote!((#(#keep,)*));
        code
    }
}

/// A checkpointed loop's state in the backward pass: its parts, their tuple
/// type, and the code that binds them from a kept `state`, keeps them,
/// restores them from a kept state, and lends `&mut [f64]` parameters as
/// slices.
#[derive(Default)]
struct StateCode {
    parts: Vec<StatePart>,
    ty: TokenStream,
    bind: TokenStream,
    keep: TokenStream,
    restore: TokenStream,
    slices: TokenStream,
}
