//! Branches and loops in reverse: a branch replays the arm the forward pass
//! took; a loop runs its body's reverse once per forward iteration, carrying
//! each variable's adjoint back to the iteration before.

use super::Pass;
use crate::analysis::tape::Storage;
use crate::emit::forward::match_statement;
use crate::ir::traverse;
use crate::ir::{Block, If, Loop, NodeId, Operand, RegionId, Stmt, StmtId, Test};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// Before a reversed loop run first to last over its variable: the variable
/// may index one list only (clippy's `needless_range_loop`), as the index
/// the forward pass's iterations had.
fn indexed() -> TokenStream {
    quote!(#[allow(clippy::needless_range_loop)])
}

/// A reversed loop that may run first to last, while its body's reverse is
/// written: whether the body allows it, decided when its pops are, and the
/// readers through which it reads its stacks oldest first.
pub(super) struct Ahead {
    /// The loop body's block.
    region: RegionId,
    /// `Pass::popped` when the body's reverse began: nested statements that
    /// pop add to it.
    popped: (usize, usize, usize),
    decided: bool,
    /// Each stack the body reads, with its reader.
    readers: Vec<(Ident, Ident)>,
}

impl Pass<'_> {
    /// Declares, before a branch or loop, the terms it accumulates for values
    /// defined outside it.
    fn open_accumulators(&mut self, statement: StmtId) {
        let nodes = self
            .activity
            .accumulated
            .get(&statement)
            .cloned()
            .unwrap_or_default();
        for id in nodes {
            let name = self.next_term(id);
            let zero = self.zero(id);
            self.out.extend(quote!(let mut #name = #zero;));
            self.accumulators.insert((id, statement), name);
        }
    }

    pub(super) fn branch(&mut self, branch: &If) {
        let reached: Vec<(usize, NodeId)> = branch
            .merges
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, m)| self.activity.reached[*m])
            .collect();
        for (_, merge) in &reached {
            self.sum(*merge);
            self.record_adjoint(*merge);
        }
        let mark = self.out.clone();
        self.open_accumulators(branch.id);
        let incoming = |block: &Block, pass: &mut Self| -> Vec<(Operand, Ident)> {
            reached
                .iter()
                .map(|(k, merge)| (block.results[*k].clone(), pass.adjoint(*merge)))
                .collect()
        };
        let codes: Vec<TokenStream> = branch
            .arms
            .iter()
            .map(|arm| {
                let arm_in = incoming(arm, self);
                self.block(arm, &arm_in, TokenStream::new())
            })
            .collect();
        if codes.iter().all(TokenStream::is_empty) {
            self.out = mark;
            return;
        }
        let code = match &branch.test {
            Test::Cond(cond) => self.if_else(cond, &codes),
            Test::Match {
                scrutinee,
                patterns,
            } => {
                let scrutinee = self.value(scrutinee);
                match_statement(&scrutinee, patterns, &codes)
            }
        };
        self.out.extend(code);
    }

    /// The reverse of `if cond { .. } else { .. }`: an arm with nothing to undo
    /// (the arm of a `continue`, say) is left out.
    fn if_else(&mut self, cond: &Operand, codes: &[TokenStream]) -> TokenStream {
        let [then_code, else_code] = codes else {
            return TokenStream::new();
        };
        let tokens = self.value(cond);
        if else_code.is_empty() {
            quote!(if #tokens { #then_code })
        } else if then_code.is_empty() {
            let tokens = match cond {
                Operand::Const(c) => c.operand_tokens(),
                Operand::Node(_) => tokens,
            };
            quote!(if !#tokens { #else_code })
        } else {
            quote!(if #tokens { #then_code } else { #else_code })
        }
    }

    pub(super) fn for_loop(&mut self, looped: &Loop, region: RegionId) {
        let carried: Vec<usize> = (0..looped.carried.len())
            .filter(|k| self.activity.carries(&looped.carried[*k]))
            .collect();
        if carried.is_empty() && !self.reaches_any(&looped.body) {
            return;
        }
        // The adjoint of each variable after the loop, updated by every reversed
        // iteration to the adjoint of its value before that iteration.
        let mut slots = Vec::new();
        for k in &carried {
            let out = looped.carried[*k].out;
            if self.activity.reached[out] {
                self.sum(out);
                self.record_adjoint(out);
            } else {
                let slot = self.adjoint(out);
                let zero = self.zero(out);
                self.out.extend(quote!(let mut #slot = #zero;));
            }
            slots.push(self.adjoint(out));
        }
        self.open_accumulators(looped.id);
        let incoming: Vec<(Operand, Ident)> = carried
            .iter()
            .zip(&slots)
            .map(|(k, slot)| (looped.body.results[*k].clone(), slot.clone()))
            .collect();
        let mut epilogue = TokenStream::new();
        for (k, slot) in carried.iter().zip(&slots) {
            let param = looped.carried[*k].param;
            let value = if self.activity.reached[param] {
                let d = self.adjoint(param);
                quote!(#d)
            } else {
                self.zero(param)
            };
            epilogue.extend(quote!(#slot = #value;));
        }
        // The loop variable of a loop over `start..end` is rebuilt from the
        // iteration count instead of saved.
        let rebuilt = looped
            .var
            .filter(|var| self.plan.storage(*var) == Storage::Rebuilt);
        // First to last where no iteration's reverse feeds another's
        // (`analysis::order`) and the body's reverse allows it (`Ahead`).
        let outer = self.ahead.take();
        if crate::analysis::order::iterations_commute(self.graph, self.activity, looped)
            && !self.holds_frame(looped)
        {
            self.ahead = Some(Ahead {
                region: looped.body.region,
                popped: self.popped(),
                decided: false,
                readers: Vec::new(),
            });
        }
        let body = self.block(&looped.body, &incoming, epilogue);
        let (forwards, readers) = match std::mem::replace(&mut self.ahead, outer) {
            Some(ahead) if ahead.decided => (true, ahead.readers),
            _ => (false, Vec::new()),
        };
        let [enter, start, leave] = match &self.record {
            Some(recorder) => crate::emit::graph::around_reversed_loop(recorder, looped, forwards),
            None => Default::default(),
        };
        let body = quote!(#start #body);
        self.out.extend(enter);
        self.reversed_iterations(looped, rebuilt, body, (forwards, readers));
        self.out.extend(leave);
        for (k, slot) in carried.iter().zip(&slots) {
            self.contribute(&looped.carried[*k].init, region, quote!(#slot));
        }
    }

    /// The loop over the iterations of `looped` in reverse (or first to last,
    /// `forwards`, reading saved values through `readers`), each running
    /// `body`.
    fn reversed_iterations(
        &mut self,
        looped: &Loop,
        rebuilt: Option<NodeId>,
        body: TokenStream,
        (forwards, readers): (bool, Vec<(Ident, Ident)>),
    ) {
        if let Some(checkpoint) = &looped.checkpoint {
            self.stretches(looped, checkpoint, rebuilt, body);
            return;
        }
        let counters = self.counters_from_the_end(looped);
        self.out.extend(counters);
        if self.plan.replays(looped) {
            // The same range again, reversed: no trip count, no saved variable.
            if let Some(iter) = &looped.iter {
                for (_, local) in &looped.iter_locals {
                    self.value(&Operand::Node(*local));
                }
                let range = crate::emit::forward::renamed(self.graph, iter, &looped.iter_locals);
                let var = rebuilt
                    .filter(|var| self.needed.contains(var))
                    .map(|var| &self.graph.nodes[var].name);
                let count = quote!((#range).count());
                self.open_readers(&readers, &count);
                let allow = var.filter(|_| forwards).map(|_| indexed());
                let var = var.map_or_else(|| quote!(_), |name| quote!(#name));
                let range = match forwards {
                    true => range,
                    false => quote!((#range).rev()),
                };
                self.out.extend(quote!(#allow for #var in #range { #body }));
            }
            return;
        }
        let trips = match &looped.fixed_trips {
            Some(count) => count.clone(),
            None => self.value(&Operand::Node(looped.trips)),
        };
        self.open_readers(&readers, &trips);
        let header = match forwards {
            true => self.forward_header(looped, rebuilt, &trips),
            false => self.reversed_header(
                looped,
                rebuilt,
                quote!((0..#trips).rev()),
                quote!(0..#trips),
            ),
        };
        self.out.extend(quote!(#header { #body }));
    }

    /// A reversed loop's header over the iteration numbers `reversed` (last
    /// first; `each`, when the order does not matter): the loop variable of
    /// `start..end`, where needed, rebuilt from them.
    pub(super) fn reversed_header(
        &self,
        looped: &Loop,
        rebuilt: Option<NodeId>,
        reversed: TokenStream,
        each: TokenStream,
    ) -> TokenStream {
        match (rebuilt, &looped.var_start) {
            (Some(var), Some(start)) if self.needed.contains(&var) => {
                let name = &self.graph.nodes[var].name;
                let values = crate::emit::forward::from_iteration_numbers(reversed, start);
                quote!(for #name in #values)
            }
            _ => quote!(for _ in #each),
        }
    }

    /// The header of a reversed loop that runs first to last: its variable,
    /// where needed, over the forward pass's own values (`start..start +
    /// trips`).
    fn forward_header(
        &self,
        looped: &Loop,
        rebuilt: Option<NodeId>,
        trips: &TokenStream,
    ) -> TokenStream {
        match (rebuilt, &looped.var_start) {
            (Some(var), Some(start)) if self.needed.contains(&var) => {
                let name = &self.graph.nodes[var].name;
                let allow = indexed();
                match start.to_string().as_str() {
                    "0" => quote!(#allow for #name in 0..#trips),
                    _ => quote!(#allow for #name in #start..#start + #trips),
                }
            }
            _ => quote!(for _ in 0..#trips),
        }
    }

    /// A counter starts from its value after the loop (or after the
    /// stretch that was run again); each reversed iteration steps it back.
    pub(super) fn counters_from_the_end(&mut self, looped: &Loop) -> TokenStream {
        let mut code = TokenStream::new();
        for carried in &looped.carried {
            if let Some(running) = self.counters.get(&carried.param).cloned() {
                let after = self.value(&Operand::Node(carried.out));
                code.extend(quote!(let mut #running = #after;));
            }
        }
        code
    }

    /// Whether the loop's body calls the function itself, on the same tape:
    /// its stacks hold each inner call's values between the iterations'
    /// own, so its reverse runs last to first (`emit/frames.rs`).
    fn holds_frame(&self, looped: &Loop) -> bool {
        let Some(frames) = &self.frames else {
            return false;
        };
        crate::ir::traverse::any_stmt(
            &looped.body,
            &mut |stmt| matches!(stmt, Stmt::Node(id) if frames.calls.contains(id)),
        )
    }

    /// Whether the reverse of `region`, a block whose pops are `order`, reads
    /// its stacks oldest first: the body of the loop being written, when that
    /// loop's iterations commute, its nested statements popped nothing (their
    /// stacks hold a run of values per iteration, read newest first) and no
    /// counter of its own steps back.
    pub(super) fn reads_ahead(&mut self, region: RegionId, order: &[NodeId]) -> bool {
        let popped = self.popped();
        let counts_back = order
            .iter()
            .any(|&id| matches!(self.plan.storage(id), Storage::Counter(_)));
        let Some(ahead) = self.ahead.as_mut().filter(|a| a.region == region) else {
            return false;
        };
        ahead.decided = ahead.popped == popped && !counts_back;
        ahead.decided
    }

    /// Where the reverse of a loop body that reads ahead reads `stack`'s
    /// values: a reader of its own, opened before the loop.
    pub(super) fn read_ahead(&mut self, reads_ahead: bool, stack: &Ident) -> Option<Ident> {
        if !reads_ahead {
            return None;
        }
        let base = stack.to_string();
        let reader = self
            .names
            .fresh(&format!("{}_ahead", base.trim_end_matches("_stack")));
        let ahead = self.ahead.as_mut()?;
        ahead.readers.push((stack.clone(), reader.clone()));
        Some(reader)
    }

    /// Before a loop that reads ahead: each reader, over the values its
    /// iterations saved.
    fn open_readers(&mut self, readers: &[(Ident, Ident)], count: &TokenStream) {
        for (stack, reader) in readers {
            self.out
                .extend(quote!(let mut #reader = #stack.ahead(#count);));
        }
    }

    /// How many stacks the backward pass reads and counters it steps back so
    /// far: a reversed body that adds to neither reads nothing in the order
    /// the forward pass left it.
    fn popped(&self) -> (usize, usize, usize) {
        (
            self.stacks.len(),
            self.tape_stacks.len(),
            self.counters.len(),
        )
    }

    /// Whether anything in `block` needs its reverse (a loop that only writes
    /// into a buffer carries no variable, yet its writes matter).
    fn reaches_any(&self, block: &Block) -> bool {
        traverse::any_stmt(
            block,
            &mut |stmt| matches!(stmt, Stmt::Node(id) if self.activity.reached[*id]),
        )
    }
}
