//! The backward pass, in the blog's shape.
//!
//! Statements are visited in reverse. Each reached node's adjoint is named after
//! it (`dsigx`); each of its active operands gets one term (`dx1 = dsigx * ...`),
//! and an adjoint with several terms is their explicit sum (`dx = dx1 + dx2`),
//! written just before the node's own terms need it.
//!
//! A branch replays the arm the forward pass took. A loop runs its body's reverse
//! once per forward iteration; a variable the loop assigns carries its adjoint
//! from one reversed iteration to the one before (`dp = dp_3;`). A value defined
//! outside a branch or loop and used inside it gets one term for the whole
//! statement, accumulated inside it (`dx2 += ...`): the only mutable adjoints.

use crate::analysis::activity::Activity;
use crate::analysis::tape::{Storage, TapePlan};
use crate::emit::names::Names;
use crate::ir::traverse;
use crate::ir::{Block, Graph, If, Loop, NodeId, NodeKind, Operand, RegionId, Stmt, StmtId};
use crate::parse::signature::Signature;
use crate::rules::RuleCtx;
use proc_macro2::{Ident, TokenStream};
use quote::quote;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub struct Backward {
    /// The statements of `backward`, after the tape is unpacked.
    pub body: TokenStream,
    /// Nodes whose values the statements read.
    pub saved: BTreeSet<NodeId>,
    /// Saved values of branches that run at most once: plain fields of the
    /// tape, written where they are computed.
    pub once: BTreeSet<NodeId>,
    /// Call nodes whose callee tape the statements read.
    pub saved_tapes: BTreeSet<NodeId>,
    /// Inactive array parameters copied whole into the tape.
    pub copied: BTreeSet<NodeId>,
    /// The stack of each saved value computed inside a branch or loop.
    pub stacks: BTreeMap<NodeId, Ident>,
    pub tape_stacks: BTreeMap<NodeId, Ident>,
    /// The seed parameters, one per output: the adjoints of the results, and
    /// whether the backward loop updates them (a loop's variable returned).
    pub seeds: Vec<(Ident, bool)>,
    /// The scalar parameters' adjoints, added to `Grad`'s fields at the end
    /// (array parameters' adjoints are written into `Grad` directly).
    pub gradient: Vec<(Ident, TokenStream)>,
    /// The `&mut Grad` parameter of `backward_into`.
    pub grad: Ident,
}

pub fn generate(
    graph: &Graph,
    activity: &Activity,
    sig: &Signature,
    names: &mut Names,
) -> Backward {
    let grad = names.fresh("grad");
    let mut pass = Pass {
        graph,
        activity,
        plan: TapePlan::of(graph, sig),
        grad: grad.clone(),
        sig,
        names,
        adjoints: vec![None; graph.nodes.len()],
        terms: vec![Vec::new(); graph.nodes.len()],
        accumulators: HashMap::new(),
        out: TokenStream::new(),
        needed: BTreeSet::new(),
        saved: BTreeSet::new(),
        saved_tapes: BTreeSet::new(),
        copied: BTreeSet::new(),
        stacks: BTreeMap::new(),
        tape_stacks: BTreeMap::new(),
        array_seeds: BTreeMap::new(),
    };
    // One seed per output: the adjoint of that output, passed in by the caller.
    let several = graph.outputs.len() > 1;
    let mut seeds: Vec<(Ident, bool)> = graph
        .outputs
        .iter()
        .enumerate()
        .map(|(k, output)| match output {
            Operand::Node(id) if activity.reached[*id] => {
                let seed = pass.next_term(*id);
                let mutable =
                    matches!(graph.nodes[*id].kind, NodeKind::LoopOut) && activity.terms[*id] == 1;
                (seed, mutable)
            }
            _ if several => (pass.names.fresh(&format!("_d{}_{k}", sig.ident)), false),
            _ => (pass.names.fresh(&format!("_d{}", sig.ident)), false),
        })
        .collect();
    // The `&mut` parameters' seeds follow the value's, in parameter order: a
    // float for a scalar (one of the outputs above), a slice for an array.
    let scalar_finals = sig.inouts().filter(|(_, p)| !p.writes_array()).count();
    let mut scalar_seeds = seeds.split_off(seeds.len() - scalar_finals).into_iter();
    let mut finish = TokenStream::new();
    for (id, param) in sig.inouts() {
        if param.writes_array() {
            let seed = pass.names.fresh(&format!("d{}_final", param.ident));
            pass.array_seeds.insert(id, seed.clone());
            seeds.push((seed, false));
            let (d, grad, field) = (pass.adjoint(id), &pass.grad, &param.ident);
            finish.extend(quote!(::backprop_runtime::accumulate(&mut #grad.#field[..], &#d[..]);));
        } else {
            seeds.extend(scalar_seeds.next());
        }
    }
    let mut body = pass.block(&graph.body, &[], TokenStream::new());
    body.extend(finish);
    // The function body's values are plain fields of the tape, and so are those
    // of branches that run at most once, written into the tape where computed.
    let fields: Vec<NodeId> = pass
        .needed
        .iter()
        .copied()
        .filter(|id| graph.nodes[*id].region == 0 || pass.plan.storage(*id) == Storage::Field)
        .collect();
    let once = fields
        .iter()
        .copied()
        .filter(|id| graph.nodes[*id].region != 0)
        .collect();
    pass.saved.extend(fields);
    // Parameters are the first nodes, in order.
    let gradient = sig
        .params
        .iter()
        .enumerate()
        .filter(|(_, param)| param.differentiable.is_some() && param.shape.is_none())
        .filter_map(|(id, param)| {
            let adjoint = pass.adjoints[id].as_ref()?;
            Some((param.ident.clone(), quote!(#adjoint)))
        })
        .collect();
    Backward {
        body,
        saved: pass.saved,
        once,
        saved_tapes: pass.saved_tapes,
        copied: pass.copied,
        stacks: pass.stacks,
        tape_stacks: pass.tape_stacks,
        seeds,
        gradient,
        grad,
    }
}

struct Pass<'a> {
    graph: &'a Graph,
    activity: &'a Activity,
    plan: TapePlan<'a>,
    sig: &'a Signature,
    grad: Ident,
    names: &'a mut Names,
    adjoints: Vec<Option<Ident>>,
    /// The terms written so far for each node's adjoint.
    terms: Vec<Vec<Ident>>,
    /// The term of a node that a branch or loop accumulates into.
    accumulators: HashMap<(NodeId, StmtId), Ident>,
    /// The code being written for the current block.
    out: TokenStream,
    /// Values the backward code reads. Each is materialised at the start of the
    /// reversed block that computed it: popped from its stack, recomputed, or
    /// (in the function body) read from a field of the tape.
    needed: BTreeSet<NodeId>,
    /// The needed values that are saved: fields and stacks of the tape.
    saved: BTreeSet<NodeId>,
    saved_tapes: BTreeSet<NodeId>,
    /// Data arrays copied whole into the tape, for values recomputed from them.
    pub copied: BTreeSet<NodeId>,
    stacks: BTreeMap<NodeId, Ident>,
    tape_stacks: BTreeMap<NodeId, Ident>,
    /// The seed of each `&mut [f64]` parameter's final contents.
    array_seeds: BTreeMap<NodeId, Ident>,
}

impl Pass<'_> {
    /// The adjoint's name, chosen when first needed, so names appear in the order
    /// they are written.
    fn adjoint(&mut self, id: NodeId) -> Ident {
        if let Some(adjoint) = &self.adjoints[id] {
            return adjoint.clone();
        }
        let name = &self.graph.nodes[id].name;
        let adjoint = self
            .names
            .first_free(&[format!("d{name}"), format!("d_{name}")]);
        self.adjoints[id] = Some(adjoint.clone());
        adjoint
    }

    /// The name of the next term of `id`'s adjoint: the adjoint itself when it has
    /// one term, else `dx1`, `dx2`, ...
    fn next_term(&mut self, id: NodeId) -> Ident {
        let adjoint = self.adjoint(id);
        let name = if self.activity.terms[id] == 1 {
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

    fn zero(&self, id: NodeId) -> TokenStream {
        self.graph.nodes[id]
            .float()
            .unwrap_or(self.graph.ret)
            .zero()
    }

    /// A loop's variable after the loop: its adjoint is updated by the backward loop.
    fn is_mutable(&self, id: NodeId) -> bool {
        matches!(self.graph.nodes[id].kind, NodeKind::LoopOut)
    }

    /// The reverse of a block: pops of what it saved, the adjoints flowing into
    /// its results, its statements in reverse, then `epilogue`.
    fn block(
        &mut self,
        block: &Block,
        incoming: &[(Operand, Ident)],
        epilogue: TokenStream,
    ) -> TokenStream {
        let outer = std::mem::take(&mut self.out);
        for (operand, adjoint) in incoming {
            self.contribute(operand, block.region, quote!(#adjoint));
        }
        for stmt in block.stmts.iter().rev() {
            match stmt {
                Stmt::Node(id) => self.node(*id, block.region),
                Stmt::If(branch) => self.branch(branch),
                Stmt::Loop(looped) => self.for_loop(looped, block.region),
            }
        }
        let code = std::mem::replace(&mut self.out, outer);
        // A buffer's adjoint needs its length: known before the pops are chosen.
        let adjoints = self.array_adjoints(block.region);
        let pops = self.pops(block.region);
        quote!(#pops #adjoints #code #epilogue)
    }

    /// At the start of a reversed branch or loop body: the values its reverse
    /// reads, in the order the forward pass computed them. A loop variable is
    /// bound by the backward loop; a cheap value that does not depend on the
    /// inputs is recomputed (an index `j * cols + i`, a data element `x[i]`);
    /// anything else is popped from its stack.
    fn pops(&mut self, region: RegionId) -> TokenStream {
        let mut code = TokenStream::new();
        if region == 0 {
            return code;
        }
        // Recomputing one value may need another of this block.
        let mut order: Vec<NodeId> = Vec::new();
        let mut pending: Vec<NodeId> = self
            .needed
            .iter()
            .copied()
            .filter(|id| self.graph.nodes[*id].region == region)
            .collect();
        while let Some(id) = pending.pop() {
            if order.contains(&id) {
                continue;
            }
            order.push(id);
            if let Storage::Recompute(deps) = self.plan.storage(id) {
                for dep in deps {
                    self.needed.insert(dep);
                    if self.graph.nodes[dep].region == region && !order.contains(&dep) {
                        pending.push(dep);
                    }
                }
            }
        }
        order.sort_unstable();
        for id in order {
            let node = &self.graph.nodes[id];
            let name = &node.name;
            match self.plan.storage(id) {
                // Unpacked from the tape's fields at the start.
                Storage::Rebuilt | Storage::Field => continue,
                Storage::Recompute(_) => {
                    if let Some(value) = self.recompute(id) {
                        code.extend(quote!(let #name = #value;));
                        continue;
                    }
                }
                Storage::Stack => {}
            }
            let stack = self.names.fresh(&format!("{name}_stack"));
            code.extend(quote!(let #name = #stack.pop();));
            self.stacks.insert(id, stack);
            self.saved.insert(id);
        }
        for (id, node) in self.graph.nodes.iter().enumerate().rev() {
            if node.region != region || !self.saved_tapes.contains(&id) {
                continue;
            }
            if let NodeKind::Call { tape, .. } = &node.kind {
                let stack = self.names.fresh(&format!("{tape}_stack"));
                code.extend(quote!(let #tape = #stack.pop_ref();));
                self.tape_stacks.insert(id, stack);
            }
        }
        code
    }

    /// The expression that recomputes a value the plan recomputes, with locals
    /// renamed; the data arrays it reads are copied into the tape.
    fn recompute(&mut self, id: NodeId) -> Option<TokenStream> {
        match &self.graph.nodes[id].kind {
            NodeKind::Read { array, index } => {
                self.copied.insert(*array);
                let name = &self.graph.nodes[*array].name;
                let index = crate::emit::forward::argument(self.graph, index);
                Some(quote!(#name[#index]))
            }
            NodeKind::Inactive { expr, locals } => {
                for (_, dep) in locals {
                    if self.plan.is_data_array(*dep) {
                        self.copied.insert(*dep);
                    }
                }
                Some(crate::emit::forward::renamed(self.graph, expr, locals))
            }
            _ => None,
        }
    }

    /// The adjoints of the arrays created in this block, zero at first: for a
    /// parameter, its field of `Grad` itself (sized on first use); for a buffer, a
    /// buffer of the same length.
    fn array_adjoints(&mut self, region: RegionId) -> TokenStream {
        let mut code = TokenStream::new();
        for (id, node) in self.graph.nodes.iter().enumerate() {
            let Some(info) = &node.array else { continue };
            if node.region != region || !node.active {
                continue;
            }
            let is_param = matches!(node.kind, NodeKind::Param);
            if !is_param && !self.activity.reached[id] {
                continue;
            }
            let len = self.value(&info.len);
            if is_param {
                let (grad, field) = (self.grad.clone(), self.sig.params[id].ident.clone());
                if !info.fixed {
                    code.extend(quote!(::backprop_runtime::prepare(&mut #grad.#field, #len);));
                }
                if let Some(seed) = self.array_seeds.get(&id).cloned() {
                    // A `&mut [f64]`: its adjoint starts from the seed of its final
                    // contents and ends as that of its initial contents, added
                    // into `Grad` at the end.
                    let d = self.adjoint(id);
                    code.extend(quote!(let mut #d = #seed.to_vec();));
                } else if self.activity.reached[id] {
                    let d = self.adjoint(id);
                    code.extend(quote!(let #d = &mut #grad.#field;));
                }
            } else {
                let d = self.adjoint(id);
                let zero = self.zero(id);
                if info.fixed {
                    code.extend(quote!(let mut #d = [#zero; #len];));
                } else {
                    code.extend(quote!(let mut #d = ::std::vec![#zero; #len];));
                }
            }
        }
        code
    }

    /// Adds `term` to the adjoint of `operand`, from code in `site`: a term of its
    /// own where the operand is defined in that block, else into the accumulator
    /// of the branch or loop that contains the site.
    fn contribute(&mut self, operand: &Operand, site: RegionId, term: TokenStream) {
        let Some(id) = self.active(operand) else {
            return;
        };
        match self
            .graph
            .child_statement(site, self.graph.nodes[id].region)
        {
            None => {
                let name = self.next_term(id);
                let binding = self.binding(id, &name);
                self.out.extend(quote!(let #binding = #term;));
            }
            Some(statement) => {
                let accumulator = self.accumulators.get(&(id, statement)).cloned();
                if let Some(accumulator) = accumulator {
                    let add = self.graph.ret.add_assign(
                        &quote!(#accumulator),
                        &term,
                        proc_macro2::Span::call_site(),
                    );
                    self.out.extend(add);
                }
            }
        }
    }

    /// `dp` or `mut dp`: a loop variable's single term is updated by the loop.
    fn binding(&self, id: NodeId, name: &Ident) -> TokenStream {
        if self.is_mutable(id) && self.activity.terms[id] == 1 {
            quote!(mut #name)
        } else {
            quote!(#name)
        }
    }

    /// `let dx = dx1 + dx2;` once every term of `id` is written.
    fn sum(&mut self, id: NodeId) {
        if self.activity.terms[id] > 1 {
            let d = self.adjoint(id);
            let terms = &self.terms[id];
            let binding = if self.is_mutable(id) {
                quote!(mut #d)
            } else {
                quote!(#d)
            };
            self.out.extend(quote!(let #binding = #(#terms)+*;));
        }
    }

    fn node(&mut self, id: NodeId, region: RegionId) {
        if !self.activity.reached[id] {
            return;
        }
        self.sum(id);
        let d = self.adjoint(id);
        let node = &self.graph.nodes[id];
        match &node.kind {
            NodeKind::Op { rule, args, .. } => {
                let Some(partial) = rule.partial else { return };
                for (i, arg) in args.iter().enumerate() {
                    if self.active(arg).is_none() {
                        continue;
                    }
                    let mut ctx = RuleCtx {
                        graph: self.graph,
                        node: id,
                        adjoint: &d,
                        saved: &mut self.needed,
                    };
                    let term = self.graph.ret.literals_in(partial(&mut ctx, i));
                    self.contribute(arg, region, term);
                }
            }
            NodeKind::Cast { arg, .. } => {
                let Some(source) = self.active(arg) else {
                    return;
                };
                let from = self.graph.nodes[source].float();
                let term = if from == node.float() {
                    quote!(#d)
                } else {
                    let from = from.unwrap_or(self.graph.ret);
                    quote!(#d as #from)
                };
                self.contribute(arg, region, term);
            }
            NodeKind::Call {
                path,
                args,
                tape,
                arg_spans,
                outputs,
                ..
            } => {
                self.saved_tapes.insert(id);
                let mut accumulated = Vec::new();
                let mut whole_arrays = Vec::new();
                // Each term carries the location of the user's argument, so a type
                // error about it (a callee that does not differentiate that
                // parameter) points there.
                let patterns: Vec<TokenStream> = args
                    .iter()
                    .zip(arg_spans)
                    .map(|(arg, span)| match self.active(arg) {
                        // An array's adjoint comes back whole and is added
                        // element by element.
                        Some(source) if self.graph.nodes[source].array.is_some() => {
                            let base = format!("{}_{}", self.adjoint(source), node.name);
                            let mut name = self.names.fresh(&base);
                            name.set_span(name.span().located_at(*span));
                            whole_arrays.push((source, name.clone()));
                            quote!(#name)
                        }
                        Some(source) => {
                            let local = self
                                .graph
                                .child_statement(region, self.graph.nodes[source].region)
                                .is_none();
                            let mut name = if local {
                                self.next_term(source)
                            } else {
                                let base = format!("{}_{}", self.adjoint(source), node.name);
                                self.names.fresh(&base)
                            };
                            name.set_span(name.span().located_at(*span));
                            if local {
                                if let Some(last) = self.terms[source].last_mut() {
                                    *last = name.clone();
                                }
                                if self.activity.terms[source] == 1 {
                                    self.adjoints[source] = Some(name.clone());
                                }
                                self.binding(source, &name)
                            } else {
                                accumulated.push((arg.clone(), name.clone()));
                                quote!(#name)
                            }
                        }
                        None => quote!(_),
                    })
                    .collect();
                // Spanned at the call, so a callee whose `pullback` does not match
                // its arguments (a custom rule with the wrong signature) is
                // reported there.
                let span = node.span;
                let pattern = if patterns.len() == 1 {
                    quote::quote_spanned!(span=> (#(#patterns)*,))
                } else {
                    quote::quote_spanned!(span=> (#(#patterns),*))
                };
                // A callee with several outputs takes one seed per output: the
                // adjoints of the elements the caller uses, zero for the others.
                let written: Vec<NodeId> = self.graph.writes_to_arrays(id).collect();
                let has_elements =
                    !written.is_empty()
                        || self.graph.nodes.iter().any(
                            |n| matches!(n.kind, NodeKind::Element { call, .. } if call == id),
                        );
                let seed = if has_elements {
                    let seeds: Vec<TokenStream> =
                        (0..*outputs).map(|k| self.element_adjoint(id, k)).collect();
                    let array = self.graph.nodes.iter().any(|n| {
                        matches!(n.kind, NodeKind::Element { call, source: crate::ir::ElementSource::Item, .. } if call == id)
                    });
                    if array {
                        quote!([#(#seeds),*])
                    } else if seeds.len() == 1 {
                        quote!(#(#seeds)*)
                    } else {
                        quote!((#(#seeds),*))
                    }
                } else {
                    quote!(#d)
                };
                self.out.extend(
                    quote::quote_spanned!(span=> let #pattern = #path::pullback(#tape, #seed);),
                );
                for (arg, name) in accumulated {
                    self.contribute(&arg, region, quote!(#name));
                }
                for (array, name) in whole_arrays {
                    let da = self.adjoint(array);
                    // An array the callee wrote: its adjoint before the call is
                    // what the pullback hands back. One it only read: add.
                    self.out.extend(if written.contains(&array) {
                        quote!(#da[..].copy_from_slice(&#name[..]);)
                    } else {
                        quote!(::backprop_runtime::accumulate(&mut #da[..], &#name[..]);)
                    });
                }
            }
            NodeKind::Read { array, index } => {
                let da = self.adjoint(*array);
                let index = self.value(index);
                let add = self.graph.ret.add_assign(
                    &quote!(#da[#index]),
                    &quote!(#d),
                    proc_macro2::Span::call_site(),
                );
                self.out.extend(add);
            }
            NodeKind::Write {
                array,
                index,
                value,
            } => {
                // The element's adjoint flows to the value written, and the value
                // it overwrote had no effect: its adjoint starts from zero.
                let da = self.adjoint(*array);
                let index = self.value(index);
                self.contribute(value, region, quote!(#da[#index]));
                let zero = self.zero(*array);
                self.out.extend(quote!(#da[#index] = #zero;));
            }
            _ => {}
        }
    }

    /// The adjoint of output `k` of a call with several: its element's, or zero.
    fn element_adjoint(&mut self, call: NodeId, k: usize) -> TokenStream {
        // The outputs of a call that writes its arguments: its value (when used),
        // then each argument passed by `&mut`. An array's seed is its adjoint.
        if let NodeKind::Call {
            args,
            borrows,
            outputs,
            ..
        } = &self.graph.nodes[call].kind
        {
            let written: Vec<&Operand> = args
                .iter()
                .zip(borrows)
                .filter(|(_, b)| b.writes())
                .map(|(a, _)| a)
                .collect();
            let first = outputs - written.len();
            if let Some(Operand::Node(array)) = k.checked_sub(first).map(|j| written[j]) {
                if self.graph.nodes[*array].array.is_some() {
                    let da = self.adjoint(*array);
                    return quote!(&#da[..]);
                }
            }
        }
        let element = self.graph.nodes.iter().position(
            |n| matches!(n.kind, NodeKind::Element { call: c, index, .. } if c == call && index == k),
        );
        match element {
            Some(e) if self.activity.reached[e] => {
                let d = self.adjoint(e);
                quote!(#d)
            }
            _ => self.graph.nodes[call]
                .float()
                .unwrap_or(self.graph.ret)
                .zero(),
        }
    }

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

    fn branch(&mut self, branch: &If) {
        let reached: Vec<(usize, NodeId)> = branch
            .merges
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, m)| self.activity.reached[*m])
            .collect();
        for (_, merge) in &reached {
            self.sum(*merge);
        }
        let mark = self.out.clone();
        self.open_accumulators(branch.id);
        let incoming = |block: &Block, pass: &mut Self| -> Vec<(Operand, Ident)> {
            reached
                .iter()
                .map(|(k, merge)| (block.results[*k].clone(), pass.adjoint(*merge)))
                .collect()
        };
        let then_in = incoming(&branch.then_block, self);
        let else_in = incoming(&branch.else_block, self);
        let then_code = self.block(&branch.then_block, &then_in, TokenStream::new());
        let else_code = self.block(&branch.else_block, &else_in, TokenStream::new());
        if then_code.is_empty() && else_code.is_empty() {
            self.out = mark;
            return;
        }
        let cond = self.value(&branch.cond);
        let else_part = if else_code.is_empty() {
            quote!()
        } else {
            quote!(else { #else_code })
        };
        self.out.extend(quote!(if #cond { #then_code } #else_part));
    }

    fn for_loop(&mut self, looped: &Loop, region: RegionId) {
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
        let body = self.block(&looped.body, &incoming, epilogue);
        let trips = match &looped.fixed_trips {
            Some(count) => count.clone(),
            None => self.value(&Operand::Node(looped.trips)),
        };
        let header = match (rebuilt, &looped.var_start) {
            (Some(var), Some(start)) if self.needed.contains(&var) => {
                let name = &self.graph.nodes[var].name;
                if start.to_string() == "0" {
                    quote!(for #name in (0..#trips).rev())
                } else {
                    quote!(for #name in (0..#trips).rev().map(|k| #start + k))
                }
            }
            _ => quote!(for _ in 0..#trips),
        };
        self.out.extend(quote!(#header { #body }));
        for (k, slot) in carried.iter().zip(&slots) {
            self.contribute(&looped.carried[*k].init, region, quote!(#slot));
        }
    }

    /// Whether anything in `block` needs its reverse (a loop that only writes
    /// into a buffer carries no variable, yet its writes matter).
    fn reaches_any(&self, block: &Block) -> bool {
        traverse::any_stmt(
            block,
            &mut |stmt| matches!(stmt, Stmt::Node(id) if self.activity.reached[*id]),
        )
    }

    /// A saved value, read in the backward pass.
    fn value(&mut self, operand: &Operand) -> TokenStream {
        match operand {
            Operand::Node(id) => {
                self.needed.insert(*id);
                let name = &self.graph.nodes[*id].name;
                quote!(#name)
            }
            Operand::Const(c) => c.tokens.clone(),
        }
    }

    fn active(&self, operand: &Operand) -> Option<NodeId> {
        match operand {
            Operand::Node(id) if self.graph.nodes[*id].active => Some(*id),
            _ => None,
        }
    }
}
