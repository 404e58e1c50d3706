//! A checkpointed loop in reverse: the stretches between the states its
//! forward pass kept, from the last; each is run again from its state, saving
//! what its reversed iterations read into memory the backward pass reuses,
//! then reversed like any loop.

use super::Pass;
use crate::analysis::checkpoint::{regions_inside, LoopState};
use crate::emit::forward::Forward;
use crate::ir::{Loop, NodeId, NodeKind, Operand};
use crate::parse::checkpoint::Checkpoint;
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
    /// written: one stretch at a time, each from its kept state, in the order
    /// the runtime's binomial `Reversal` plans.
    pub(super) fn stretches(
        &mut self,
        looped: &Loop,
        checkpoint: &Checkpoint,
        rebuilt: Option<NodeId>,
        body: TokenStream,
    ) {
        let (popped, popped_tapes) = self.take_inner_stacks(looped);
        let state = LoopState::of(self.graph, looped);
        self.keep_reads(&state.reads);
        let trips = self.value(&Operand::Node(looped.trips));
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
        let kept = self.kept_stacks(&popped, &popped_tapes);
        let (record, advance) = self.runs_again(looped, &popped, &kept, &iterations);
        let counters = self.counters_from_the_end(looped);
        let header = self.reversed_header(
            looped,
            rebuilt,
            quote!(#iterations.rev()),
            quote!(#iterations),
        );
        let ty = &state.ty;
        let place = self.work_field(
            &reversal,
            quote!(::backprop_runtime::checkpoint::Reversal<#ty>),
        );
        let (limit, actions) = (
            &checkpoint.snapshots,
            quote!(::backprop_runtime::checkpoint::Action),
        );
        let StateCode {
            bind,
            keep,
            restore,
            slices,
            ..
        } = &state;
        let KeptStacks {
            refill, readers, ..
        } = &kept;
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
            limit: limit.clone(),
            parts: state.parts,
        });
    }

    /// The stacks the loop's reversed iterations pop (and the stacks of its
    /// calls' tapes): filled by each stretch's run, in `Work`, not by the
    /// forward pass into the tape.
    fn take_inner_stacks(&mut self, looped: &Loop) -> (Popped, Popped) {
        let graph = self.graph;
        let inside = regions_inside(graph, looped.body.region);
        let is_inside = |id: &NodeId| inside.contains(&graph.nodes[*id].region);
        let inner = |stacks: &BTreeMap<NodeId, Ident>| -> Popped {
            stacks
                .iter()
                .filter(|(id, _)| is_inside(id))
                .map(|(id, stack)| (*id, stack.clone()))
                .collect()
        };
        let (popped, popped_tapes) = (inner(&self.stacks), inner(&self.tape_stacks));
        for (id, _) in &popped {
            self.stacks.remove(id);
            self.saved.remove(id);
        }
        for (id, _) in &popped_tapes {
            self.tape_stacks.remove(id);
            self.saved_tapes.remove(id);
        }
        (popped, popped_tapes)
    }

    /// The values of the function body the iterations read, for their runs
    /// in the backward pass: fields of the tape, and copies of the arrays
    /// nothing changes while the loop runs.
    fn keep_reads(&mut self, reads: &BTreeSet<NodeId>) {
        for &id in reads {
            match self.graph.nodes[id].array {
                Some(_) => {
                    self.copied.insert(id);
                }
                None => {
                    self.value(&Operand::Node(id));
                }
            }
        }
    }

    /// A stack of `Work` for each popped value and call tape, refilled by
    /// each run that saves, and read back by the reversed iterations under
    /// the names they pop from.
    fn kept_stacks(
        &mut self,
        popped: &[(NodeId, Ident)],
        popped_tapes: &[(NodeId, Ident)],
    ) -> KeptStacks {
        let graph = self.graph;
        let mut kept = KeptStacks::default();
        // The values a block pushes together share a stack (of tuples, in
        // the order of their ids, as `popped` lists them). The ids of a
        // nested block's values fall between those of the loop body's, so
        // the groups are gathered, not taken as runs.
        let mut groups: Vec<(&Ident, Vec<NodeId>)> = Vec::new();
        for (id, stack) in popped {
            match groups.iter_mut().find(|(s, _)| *s == stack) {
                Some((_, members)) => members.push(*id),
                None => groups.push((stack, vec![*id])),
            }
        }
        for (stack, members) in groups {
            let mut types = Vec::new();
            for &id in &members {
                match graph.nodes[id].ty.clone() {
                    Some(ty) => types.push(ty),
                    // Reported with the tape's other values of unknown type.
                    None => self.untyped.push(id),
                }
            }
            if types.len() < members.len() {
                continue;
            }
            let ty = match &types[..] {
                [one] => quote!(#one),
                _ => quote!((#(#types),*)),
            };
            let name = self
                .names
                .fresh(&format!("{}_kept", graph.nodes[members[0]].name));
            let place = self.work_field(&name, quote!(::backprop_runtime::Stack<#ty>));
            kept.add(&name, place, stack);
            for id in members {
                kept.stacks.insert(id, name.clone());
            }
        }
        for (id, stack) in popped_tapes {
            let NodeKind::Call {
                path,
                tape,
                tape_args,
                ..
            } = &graph.nodes[*id].kind
            else {
                continue;
            };
            let name = self.names.fresh(&format!("{tape}_kept"));
            let place = self.work_field(
                &name,
                quote!(::backprop_runtime::TapeStack<#path::Tape #tape_args>),
            );
            kept.add(&name, place, stack);
            kept.tape_stacks.insert(*id, name);
        }
        kept
    }

    /// The loop's iterations in `iterations`, run again: saving what their
    /// reverse reads into the kept stacks, and (advancing to a state to keep)
    /// saving nothing.
    fn runs_again(
        &self,
        looped: &Loop,
        popped: &[(NodeId, Ident)],
        kept: &KeptStacks,
        iterations: &Ident,
    ) -> (TokenStream, TokenStream) {
        let graph = self.graph;
        let mut saved: BTreeSet<NodeId> = self.saved.clone();
        saved.extend(popped.iter().map(|(id, _)| *id));
        let saved_tapes: BTreeSet<NodeId> = kept.tape_stacks.keys().copied().collect();
        let unused_tape = format_ident!("tape");
        let (nothing, no_stacks) = (BTreeSet::new(), BTreeMap::new());
        let no_lending = BTreeMap::new();
        let record = Forward {
            graph,
            saved: &saved,
            saved_tapes: &saved_tapes,
            stacks: &kept.stacks,
            tape_stacks: &kept.tape_stacks,
            once: &nothing,
            tape: &unused_tape,
            tangents: None,
            checkpoints: &[],
            record: None,
            lent: &no_lending,
            frames: None,
        }
        .iterations(looped, iterations);
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
            record: None,
            lent: &no_lending,
            frames: None,
        }
        .iterations(looped, iterations);
        (record, advance)
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
            code.copied(state, name, &k);
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
                    code.copied(state, name, &k);
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

/// Values (or calls' tapes) a loop's reversed iterations pop, each with the
/// stack they pop from.
type Popped = Vec<(NodeId, Ident)>;

/// The stacks of `Work` a checkpointed loop's runs fill: the code that
/// clears them, the readers the reversed iterations pop from, and the stack
/// of each value and call tape.
#[derive(Default)]
struct KeptStacks {
    refill: TokenStream,
    readers: TokenStream,
    stacks: BTreeMap<NodeId, Ident>,
    tape_stacks: BTreeMap<NodeId, Ident>,
}

impl KeptStacks {
    /// `name`, at `place` in `Work`, read back as `stack`.
    fn add(&mut self, name: &Ident, place: TokenStream, stack: &Ident) {
        self.refill
            .extend(quote!(let #name = &mut #place; #name.clear();));
        self.readers
            .extend(quote!(let mut #stack = #name.reader();));
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

impl StateCode {
    /// A part held by value (a float, a fixed array): bound from a kept
    /// state and restored by copy.
    fn copied(&mut self, state: &Ident, name: &Ident, k: &syn::Index) {
        self.bind.extend(quote!(let mut #name = #state.#k;));
        self.restore.extend(quote!(#name = #state.#k;));
    }
}
