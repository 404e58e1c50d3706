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

mod accumulations;
mod calls;
mod checkpoint;
mod control;
mod lending;

pub(crate) use calls::call_seed;
pub use checkpoint::CheckpointPlan;

use crate::analysis::activity::Activity;
use crate::analysis::tape::{Storage, TapePlan};
use crate::emit::names::Names;
use crate::ir::{Block, Graph, NodeId, NodeKind, Operand, RegionId, Stmt, StmtId};
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
    /// Calls that lend their slices (`lending.rs`), with the arguments the
    /// callee keeps a copy of: the forward pass calls their `forward_lent`.
    pub lent: BTreeMap<NodeId, crate::emit::lending::Lending>,
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
    /// The memory the statements fill and reuse: the `&mut Work` parameter of
    /// `backward_with`, and `Work`'s fields (none: no `Work`).
    pub work: Ident,
    pub work_fields: Vec<WorkField>,
    /// The checkpointed loops: what their forward pass keeps.
    pub checkpoints: Vec<CheckpointPlan>,
    /// Values a checkpointed loop's runs save whose type is unknown, reported
    /// as the tape's are.
    pub untyped: Vec<NodeId>,
    /// The wires a term flows back along: (operand, node that reads it, the
    /// term's name), numbered in the recording calls of `graph`'s pass.
    pub edges: Vec<(NodeId, NodeId, Ident)>,
    /// The slice parameters whose adjoints are added into where the caller
    /// says (`lent::Sink`), with the name of that parameter of
    /// `backward_core`: a lending caller passes a part of its own adjoint.
    pub sinks: Vec<(NodeId, Ident)>,
    /// Whether the seeds of `&mut [f64]` parameters are `lent::Seed`s
    /// (`backward_core` and `pullback_lent` take them so).
    pub seeded: bool,
    /// The calls of the function to itself, pulled back through the frames
    /// of one tape (`emit/frames.rs`), where it asked for them.
    pub frames: Option<crate::emit::frames::Frames>,
    /// The stacks (their locals) that hold several values of one block, a
    /// tuple per pass, with their field in the tape: a frame's.
    pub stack_groups: BTreeMap<Ident, Ident>,
    /// In the pass with lanes, the slice parameters read only at constant
    /// indices, with one past the largest: their adjoints are local arrays
    /// of lanes, handed to `LanesGrad` as a `lanes::Prefix` at the end.
    pub prefixes: BTreeMap<NodeId, usize>,
}

/// A field of `Work`, memory the backward pass refills at each use instead of
/// allocating it: a call site's gradient, the working copy of a `&mut [f64]`
/// seed, a buffer's adjoint.
pub struct WorkField {
    pub name: Ident,
    pub ty: TokenStream,
}

/// The backward pass; with `record`, the same with calls to that `&mut
/// Recorder` after each adjoint and term, for `graph`. With `share`, the
/// calls of the function to itself are frames on its tape
/// (`emit/frames.rs`): `frames::shareable` says whether that holds.
pub fn generate(
    graph: &Graph,
    activity: &Activity,
    sig: &Signature,
    names: &mut Names,
    record: Option<Ident>,
    share: bool,
) -> Backward {
    generate_in(graph, activity, sig, names, record, share, None)
}

/// The backward pass with `lanes` adjoints in each (`Lanes<F, lanes>`), for
/// `jacobian_into` of a function with that many outputs: one pass for all
/// the rows. Written from the same names as the plain pass, so its locals
/// and the tape's fields are the same. Its gradient is `LanesGrad`, and the
/// slice parameters' adjoints are always `LanesGrad`'s vectors (no sinks).
pub fn generate_lanes(
    graph: &Graph,
    activity: &Activity,
    sig: &Signature,
    names: &mut Names,
    lanes: usize,
) -> Backward {
    generate_in(graph, activity, sig, names, None, false, Some(lanes))
}

fn generate_in(
    graph: &Graph,
    activity: &Activity,
    sig: &Signature,
    names: &mut Names,
    record: Option<Ident>,
    share: bool,
    lanes: Option<usize>,
) -> Backward {
    let grad = names.fresh("grad");
    let work = names.fresh("work");
    let frames = share
        .then(|| crate::emit::frames::Frames::of(graph, sig, names))
        .flatten();
    // (Not where the graph is recorded: each read is an edge of it.)
    let accumulations = match &record {
        None => accumulations::Accumulations::of(graph, activity),
        Some(_) => accumulations::Accumulations::default(),
    };
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
        lent: BTreeMap::new(),
        stacks: BTreeMap::new(),
        tape_stacks: BTreeMap::new(),
        array_seeds: BTreeMap::new(),
        work: work.clone(),
        work_fields: Vec::new(),
        counters: BTreeMap::new(),
        checkpoints: Vec::new(),
        untyped: Vec::new(),
        record,
        current: None,
        edges: Vec::new(),
        sinks: Vec::new(),
        seeded: BTreeMap::new(),
        ahead: None,
        frames,
        stack_groups: BTreeMap::new(),
        lanes,
        accumulations,
        prefixes: BTreeMap::new(),
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
    // A function that lends takes each such seed as a `lent::Seed`: a
    // slice, or the caller's adjoint, worked on in place and not handed back.
    let lends = crate::emit::lending::takes_slices(sig);
    for (id, param) in sig.inouts() {
        if param.writes_array() {
            let seed = pass.names.fresh(&format!("d{}_final", param.ident));
            pass.array_seeds.insert(id, seed.clone());
            seeds.push((seed, false));
            let (d, grad, field) = (pass.adjoint(id), &pass.grad, &param.ident);
            let add = quote!(::backprop_runtime::accumulate(&mut #grad.#field[..], &#d[..]););
            if lends {
                let handed = pass.names.fresh(&format!("{d}_handed_back"));
                pass.seeded.insert(id, handed.clone());
                finish.extend(quote!(if #handed { #add }));
            } else {
                finish.extend(add);
            }
        } else {
            seeds.extend(scalar_seeds.next());
        }
    }
    let mut body = pass.block(&graph.body, &[], TokenStream::new());
    body.extend(finish);
    body.extend(pass.prefixes_handed_over());
    // The function body's values are plain fields of the tape, and so are those
    // of branches that run at most once, written into the tape where computed.
    let fields: Vec<NodeId> = pass
        .needed
        .iter()
        .copied()
        .filter(|id| graph.nodes[*id].region == 0 || pass.plan.storage(*id) == Storage::Field)
        .filter(|id| !pass.plan.taken_again(*id))
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
        lent: pass.lent,
        stacks: pass.stacks,
        tape_stacks: pass.tape_stacks,
        seeds,
        gradient,
        grad,
        work,
        work_fields: pass.work_fields,
        checkpoints: pass.checkpoints,
        untyped: pass.untyped,
        edges: pass.edges,
        seeded: !pass.seeded.is_empty(),
        sinks: pass.sinks,
        frames: pass.frames,
        stack_groups: pass.stack_groups,
        prefixes: pass
            .prefixes
            .iter()
            .map(|(id, (known, _))| (*id, *known))
            .collect(),
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
    lent: BTreeMap<NodeId, crate::emit::lending::Lending>,
    stacks: BTreeMap<NodeId, Ident>,
    tape_stacks: BTreeMap<NodeId, Ident>,
    /// The seed of each `&mut [f64]` parameter's final contents.
    array_seeds: BTreeMap<NodeId, Ident>,
    /// The `&mut Work` parameter, and the fields the statements use.
    work: Ident,
    work_fields: Vec<WorkField>,
    /// Each counter the reversed loops step back, and the local that holds it.
    counters: BTreeMap<NodeId, Ident>,
    checkpoints: Vec<CheckpointPlan>,
    untyped: Vec<NodeId>,
    /// For `graph`: the `&mut Recorder`, the node whose terms are being
    /// written, and the wires they flow along.
    record: Option<Ident>,
    current: Option<NodeId>,
    edges: Vec<(NodeId, NodeId, Ident)>,
    sinks: Vec<(NodeId, Ident)>,
    /// The `&mut [f64]` parameters whose seed is a `lent::Seed`, with the
    /// local that says whether their adjoint is handed back in `Grad`.
    seeded: BTreeMap<NodeId, Ident>,
    /// The reversed loop being written, if it may run first to last: its
    /// body reads its stacks oldest first (`control.rs`).
    ahead: Option<control::Ahead>,
    /// The calls of the function to itself, where they are frames.
    frames: Option<crate::emit::frames::Frames>,
    /// Stacks of several values of one block (a tuple each), with their
    /// field in the tape.
    stack_groups: BTreeMap<Ident, Ident>,
    /// The number of lanes of each adjoint, in `generate_lanes`'s pass.
    lanes: Option<usize>,
    /// Elements added to in place (`out[j] += e`), whose adjoint stays.
    accumulations: accumulations::Accumulations,
    /// The slice parameters whose adjoints are local arrays of lanes
    /// (`Backward::prefixes`), with the slice's length.
    prefixes: BTreeMap<NodeId, (usize, TokenStream)>,
}

impl Pass<'_> {
    /// For `graph`: the call that records `term`, which flows back from the
    /// node being reversed to `operand` as part of `name`. A term a callee's
    /// pullback hands back (the node being reversed is a call) may be
    /// `NotDifferentiable`, an error the pass itself reports: it is recorded
    /// through the probe, which accepts it.
    pub(super) fn record_term(&mut self, operand: NodeId, name: &Ident, term: &TokenStream) {
        let (Some(recorder), Some(to)) = (&self.record, self.current) else {
            return;
        };
        let edge = match self
            .edges
            .iter()
            .position(|(f, t, n)| *f == operand && *t == to && n == name)
        {
            Some(edge) => edge,
            None => {
                self.edges.push((operand, to, name.clone()));
                self.edges.len() - 1
            }
        };
        let from_callee = matches!(self.graph.nodes[to].kind, NodeKind::Call { .. });
        let float = !from_callee && crate::emit::graph::is_float(self.graph, operand);
        let call = crate::emit::graph::term(recorder, edge, float, term);
        self.out.extend(call);
    }

    /// For `graph`: the call that records `id`'s adjoint, once summed.
    pub(super) fn record_adjoint(&mut self, id: NodeId) {
        if let Some(recorder) = self.record.clone() {
            let d = self.adjoint(id);
            let call = crate::emit::graph::adjoint(self.graph, &recorder, id, &d);
            self.out.extend(call);
        }
    }

    /// The adjoint's name, chosen when first needed, so names appear in the order
    /// they are written.
    pub(super) fn adjoint(&mut self, id: NodeId) -> Ident {
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
    pub(super) fn next_term(&mut self, id: NodeId) -> Ident {
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

    /// A new field of `Work`, named like the local it backs, as the place
    /// expression that reaches it (`work.dh`).
    pub(super) fn work_field(&mut self, name: &Ident, ty: TokenStream) -> TokenStream {
        self.work_fields.push(WorkField {
            name: name.clone(),
            ty,
        });
        let work = &self.work;
        quote!(#work.#name)
    }

    /// The adjoint of a call's value passed on whole, as the seed of that
    /// call: where the value was lent (`g(&p)`) and the adjoint is the one
    /// term a callee handed back, maybe a slice (`IntoSeed` makes it the
    /// array). (A sum is of the seed's type already.)
    pub(super) fn as_seed(&self, id: NodeId, d: &Ident) -> TokenStream {
        let lent = self.graph.nodes.iter().any(|n| match &n.kind {
            NodeKind::Call { args, borrows, .. } => args.iter().zip(borrows).any(|(a, b)| {
                matches!(a, Operand::Node(x) if *x == id) && *b == crate::ir::Borrow::Shared
            }),
            _ => false,
        });
        let one_term =
            self.activity.terms[id] == 1 && !self.accumulators.keys().any(|(node, _)| *node == id);
        match self.graph.passed_on_whole(id) && lent && one_term {
            true => quote!(::backprop_runtime::IntoSeed::into_seed(#d)),
            false => quote!(#d),
        }
    }

    /// `sum + term` for the adjoint of a call's value passed on whole, which
    /// may be an array (`backprop_runtime::Adjoint`).
    fn adjoint_plus(&self, id: NodeId, sum: &TokenStream, term: &TokenStream) -> TokenStream {
        let float = self.graph.float_or_ret(id);
        quote!(::backprop_runtime::Adjoint::<#float>::plus(#sum, #term))
    }

    pub(super) fn zero(&self, id: NodeId) -> TokenStream {
        let float = self.graph.float_or_ret(id);
        if let Some(lanes) = self.lanes {
            return crate::emit::lanes::lane_zero(&float, lanes);
        }
        if self.graph.passed_on_whole(id) {
            // Maybe an array, as its terms tell.
            return quote!(::backprop_runtime::Adjoint::<#float>::zero());
        }
        float.zero()
    }

    /// A loop's variable after the loop: its adjoint is updated by the backward loop.
    pub(super) fn is_mutable(&self, id: NodeId) -> bool {
        matches!(self.graph.nodes[id].kind, NodeKind::LoopOut)
    }

    /// The reverse of a block: pops of what it saved, the adjoints flowing into
    /// its results, its statements in reverse, then `epilogue`.
    pub(super) fn block(
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
                // The stopping iteration is not counted: nothing to undo.
                Stmt::BreakUnless(_) => {}
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
            return self.references_again();
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
        let ahead = self.reads_ahead(region, &order);
        // A block's values share one stack, a tuple per pass: one push and
        // one pop per pass, where a stack per value took one each.
        let mut stacked: Vec<NodeId> = Vec::new();
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
                // Stepped back from its value after the iteration.
                Storage::Counter(step) => {
                    let running = self.names.fresh(&format!("{name}_back"));
                    code.extend(quote!(#running -= #step; let #name = #running;));
                    self.counters.insert(id, running);
                    continue;
                }
                Storage::Stack => {}
            }
            stacked.push(id);
        }
        // (Nothing computed again reads a stacked value: first.) Tuples of
        // at most twelve, the most the standard library's traits cover.
        let pops: TokenStream = stacked
            .chunks(12)
            .map(|group| self.pop_together(group, ahead))
            .collect();
        code = quote!(#pops #code);
        for (id, node) in self.graph.nodes.iter().enumerate().rev() {
            if node.region != region || !self.saved_tapes.contains(&id) {
                continue;
            }
            if let NodeKind::Call { tape, .. } = &node.kind {
                let stack = self.names.fresh(&format!("{tape}_stack"));
                match self.read_ahead(ahead, &stack) {
                    Some(reader) => code.extend(quote!(let #tape = #reader.read_ref();)),
                    None => code.extend(quote!(let #tape = #stack.pop_ref();)),
                }
                self.tape_stacks.insert(id, stack);
            }
        }
        code
    }

    /// At the start of the backward pass, the references of the function
    /// body it reads, taken again as the forward pass took them (`let ws:
    /// &[f64] = &W;`, `let row = &data[k..];` of a data slice the tape
    /// keeps): a tape cannot hold a reference, and a slice of it is as cheap
    /// to take twice.
    fn references_again(&mut self) -> TokenStream {
        let mut code = TokenStream::new();
        let again: Vec<NodeId> = self
            .needed
            .iter()
            .copied()
            .filter(|&id| self.plan.taken_again(id))
            .collect();
        for id in again {
            // Its type as rustc infers it again: the one guessed for the
            // node may be the element's (`&data[0]` read as a float).
            if let Some(value) = self.recompute(id) {
                let name = &self.graph.nodes[id].name;
                code.extend(quote!(let #name = #value;));
            }
        }
        code
    }

    /// Values of one block saved on a stack, popped together: one stack of
    /// tuples (a push and a pop per pass instead of one per value), or the
    /// value's own stack where there is one.
    fn pop_together(&mut self, stacked: &[NodeId], ahead: bool) -> TokenStream {
        let names: Vec<Ident> = stacked
            .iter()
            .map(|id| self.graph.nodes[*id].name.clone())
            .collect();
        let joined = match names.len() {
            1..=3 => names
                .iter()
                .map(Ident::to_string)
                .collect::<Vec<_>>()
                .join("_"),
            _ => format!("{}_{}_more", names[0], names[1]),
        };
        let stack = self.names.fresh(&format!("{joined}_stack"));
        if names.len() > 1 {
            let field = self.names.fresh(&joined);
            self.stack_groups.insert(stack.clone(), field);
        }
        let pattern = match &names[..] {
            [name] => quote!(#name),
            _ => quote!((#(#names),*)),
        };
        for &id in stacked {
            self.stacks.insert(id, stack.clone());
            self.saved.insert(id);
        }
        match self.read_ahead(ahead, &stack) {
            Some(reader) => quote!(let #pattern = #reader.read();),
            None => quote!(let #pattern = #stack.pop();),
        }
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
            NodeKind::Op { .. } if self.plan.kept_in_buffer(id).is_none() => Some(
                crate::emit::forward::value(self.graph, &self.graph.nodes[id]),
            ),
            _ => {
                let (array, index) = self.plan.kept_in_buffer(id)?;
                self.copied.insert(array);
                let name = &self.graph.nodes[array].name;
                let index = crate::emit::forward::argument(self.graph, &index);
                Some(quote!(#name[#index]))
            }
        }
    }

    /// The local arrays of lanes of the slice parameters read only at
    /// constant indices, handed to `LanesGrad` with the slices' lengths.
    fn prefixes_handed_over(&mut self) -> TokenStream {
        let mut code = TokenStream::new();
        for (id, (_, len)) in self.prefixes.clone() {
            let (d, grad, field) = (self.adjoint(id), &self.grad, &self.sig.params[id].ident);
            code.extend(quote! {
                #grad.#field = ::backprop_runtime::lanes::Prefix { lanes: #d, len: #len };
            });
        }
        code
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
                if self.lanes.is_some() {
                    let known = self.activity.reached[id]
                        .then(|| crate::emit::lanes::constant_prefix(self.graph, id))
                        .flatten();
                    if let (Some(known), false) = (known, info.fixed) {
                        // Read only at constant indices: a local array, kept
                        // in registers, with no sizing and no bounds checks.
                        let (d, zero) = (self.adjoint(id), self.zero(id));
                        let count = proc_macro2::Literal::usize_unsuffixed(known);
                        code.extend(quote!(let mut #d = [#zero; #count];));
                        self.prefixes.insert(id, (known, len));
                        continue;
                    }
                    // `LanesGrad`'s vector, sized here.
                    if !info.fixed {
                        code.extend(
                            quote!(::backprop_runtime::lanes::prepare(&mut #grad.#field, #len);),
                        );
                    }
                    if self.activity.reached[id] {
                        let d = self.adjoint(id);
                        code.extend(quote!(let #d = &mut #grad.#field;));
                    }
                    continue;
                }
                if crate::emit::lending::adds_in_place(&self.sig.params[id]) {
                    // Where the caller says: a part of its own adjoint, or
                    // `Grad`'s vector.
                    let d = self.adjoint(id);
                    let sink = self.names.fresh(&format!("{d}_sink"));
                    self.sinks.push((id, sink.clone()));
                    let target = quote!(::backprop_runtime::lent::Sink::target(#sink, &mut #grad.#field, #len));
                    code.extend(match self.activity.reached[id] {
                        true => quote!(let #d = #target;),
                        false => quote!(#target;),
                    });
                    continue;
                }
                let prepare = quote!(::backprop_runtime::prepare(&mut #grad.#field, #len););
                if let Some(handed) = self.seeded.get(&id).cloned() {
                    // Its seed is a `lent::Seed`: copied into working memory
                    // (then handed back in `Grad`), or the caller's adjoint
                    // itself, turned into that of the initial contents.
                    let seed = self.array_seeds[&id].clone();
                    let d = self.adjoint(id);
                    let float = self.sig.params[id].differentiable.clone();
                    let d_work = self.work_field(&d, quote!(::std::vec::Vec<#float>));
                    code.extend(quote! {
                        let (#d, #handed) = ::backprop_runtime::lent::Seed::start(#seed, &mut #d_work, #len);
                    });
                    if !info.fixed {
                        code.extend(quote!(if #handed { #prepare }));
                    }
                    continue;
                }
                if !info.fixed {
                    code.extend(prepare);
                }
                if let Some(seed) = self.array_seeds.get(&id).cloned() {
                    // A `&mut [f64]`: its adjoint starts from the seed of its final
                    // contents and ends as that of its initial contents, added
                    // into `Grad` at the end.
                    let d = self.adjoint(id);
                    let float = self.sig.params[id].differentiable.clone();
                    let d_work = self.work_field(&d, quote!(::std::vec::Vec<#float>));
                    code.extend(quote! {
                        let #d = &mut #d_work;
                        #d.clear();
                        #d.extend_from_slice(#seed);
                    });
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
                    let float = self.graph.float_or_ret(id);
                    let element = match self.lanes {
                        Some(lanes) => crate::emit::lanes::lane_type(&float, lanes),
                        None => quote!(#float),
                    };
                    let d_work = self.work_field(&d, quote!(::std::vec::Vec<#element>));
                    // Then a slice, held in registers: through the `&mut Vec`
                    // every store into one adjoint might change another's
                    // pointer, so a loop reloads them all at each element and
                    // is never vectorised.
                    code.extend(quote! {
                        let #d = &mut #d_work;
                        #d.clear();
                        #d.resize(#len, #zero);
                        let #d = #d.as_mut_slice();
                    });
                }
            }
        }
        code
    }

    /// Adds `term` to the adjoint of `operand`, from code in `site`: a term of its
    /// own where the operand is defined in that block, else into the accumulator
    /// of the branch or loop that contains the site.
    pub(super) fn contribute(&mut self, operand: &Operand, site: RegionId, term: TokenStream) {
        let Some(id) = self.active(operand) else {
            return;
        };
        // The element added to in place: its adjoint is where it was.
        if self.accumulations.reads.contains(&id) {
            return;
        }
        match self
            .graph
            .child_statement(site, self.graph.nodes[id].region)
        {
            None => {
                let name = self.next_term(id);
                let binding = self.binding(id, &name);
                self.out.extend(quote!(let #binding = #term;));
                self.record_term(id, &name, &quote!(#name));
            }
            Some(statement) => {
                let accumulator = self.accumulators.get(&(id, statement)).cloned();
                if let Some(accumulator) = accumulator {
                    self.record_term(id, &accumulator, &term);
                    let add = if self.graph.passed_on_whole(id) {
                        let sum = self.adjoint_plus(id, &quote!(#accumulator), &term);
                        quote!(#accumulator = #sum;)
                    } else {
                        self.graph.ret.add_assign(
                            &quote!(#accumulator),
                            &term,
                            proc_macro2::Span::call_site(),
                        )
                    };
                    self.out.extend(add);
                }
            }
        }
    }

    /// `dp` or `mut dp`: a loop variable's single term is updated by the loop.
    pub(super) fn binding(&self, id: NodeId, name: &Ident) -> TokenStream {
        if self.is_mutable(id) && self.activity.terms[id] == 1 {
            quote!(mut #name)
        } else {
            quote!(#name)
        }
    }

    /// `let dx = dx1 + dx2;` once every term of `id` is written.
    pub(super) fn sum(&mut self, id: NodeId) {
        if self.activity.terms[id] > 1 {
            let d = self.adjoint(id);
            let terms = &self.terms[id];
            let binding = if self.is_mutable(id) {
                quote!(mut #d)
            } else {
                quote!(#d)
            };
            if self.graph.passed_on_whole(id) {
                // Maybe an array: summed by the runtime, as a float or
                // element by element.
                // (From zero, whose type the seed it becomes decides: a
                // term may be a slice a callee handed back.)
                let sum = terms.iter().fold(self.zero(id), |sum, term| {
                    self.adjoint_plus(id, &sum, &quote!(#term))
                });
                self.out.extend(quote!(let #binding = #sum;));
                return;
            }
            self.out.extend(quote!(let #binding = #(#terms)+*;));
        }
    }

    fn node(&mut self, id: NodeId, region: RegionId) {
        if !self.activity.reached[id] || self.accumulations.reads.contains(&id) {
            return;
        }
        self.sum(id);
        self.record_adjoint(id);
        let d = self.adjoint(id);
        let outer = self.current.replace(id);
        self.node_terms(id, region, &d);
        self.current = outer;
    }

    /// The terms a node sends to its operands.
    fn node_terms(&mut self, id: NodeId, region: RegionId, d: &Ident) {
        match &self.graph.nodes[id].kind {
            NodeKind::Op { .. } => self.rule_terms(id, region, d),
            NodeKind::Cast { arg, .. } => self.cast_term(id, arg, region, d),
            NodeKind::Call { .. } => self.pullback(id, region, d),
            NodeKind::Read { array, index } => {
                // The element's adjoint goes into the array's.
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
                ..
            } => {
                // The element's adjoint flows to the value written, and the value
                // it overwrote had no effect: its adjoint starts from zero.
                let da = self.adjoint(*array);
                let index = self.value(index);
                self.contribute(value, region, quote!(#da[#index]));
                // (Added to in place, `a[i] += e`: the value it overwrote
                // is the sum's operand, whose adjoint is the same.)
                if !self.accumulations.writes.contains(&id) {
                    let zero = self.zero(*array);
                    self.out.extend(quote!(#da[#index] = #zero;));
                }
            }
            _ => {}
        }
    }

    /// One term per active operand of a primitive, from its rule.
    fn rule_terms(&mut self, id: NodeId, region: RegionId, d: &Ident) {
        let NodeKind::Op { rule, args, .. } = &self.graph.nodes[id].kind else {
            return;
        };
        let Some(partial) = rule.partial else { return };
        // A rule that writes a zero adjoint writes one of lanes here.
        let lanes_zero = self.lanes.map(|_| self.zero(id));
        for (i, arg) in args.iter().enumerate() {
            if self.active(arg).is_none() {
                continue;
            }
            let mut ctx = RuleCtx {
                graph: self.graph,
                node: id,
                adjoint: d,
                adjoint_zero: lanes_zero.as_ref(),
                saved: &mut self.needed,
                later_values: true,
            };
            let term = self.graph.ret.literals_in(partial(&mut ctx, i));
            self.contribute(arg, region, term);
        }
    }

    /// `x as f32`: the adjoint cast back to the operand's type.
    fn cast_term(&mut self, id: NodeId, arg: &Operand, region: RegionId, d: &Ident) {
        let Some(source) = self.active(arg) else {
            return;
        };
        let from = self.graph.float(source);
        let term = if from == self.graph.float(id) {
            quote!(#d)
        } else {
            let from = from.unwrap_or_else(|| self.graph.ret.clone());
            quote!(#d as #from)
        };
        self.contribute(arg, region, term);
    }

    /// A saved value, read in the backward pass.
    pub(super) fn value(&mut self, operand: &Operand) -> TokenStream {
        match operand {
            Operand::Node(id) => {
                self.needed.insert(*id);
                let name = &self.graph.nodes[*id].name;
                quote!(#name)
            }
            Operand::Const(c) => c.tokens.clone(),
        }
    }

    pub(super) fn active(&self, operand: &Operand) -> Option<NodeId> {
        match operand {
            Operand::Node(id) if self.graph.nodes[*id].active => Some(*id),
            _ => None,
        }
    }
}
