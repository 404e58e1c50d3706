//! What a checkpointed loop's backward pass runs again: the loop's state (the
//! variables it carries and the arrays it writes), kept every few iterations,
//! and the values of the function body its iterations read, kept once.

use crate::errors::Errors;
use crate::ir::traverse::{walk, Order};
use crate::ir::{Graph, Loop, NodeId, NodeKind, Operand, RegionId, Stmt};
use std::collections::BTreeSet;

/// The parts of a checkpointed loop's state, and what its iterations read
/// from outside it.
pub struct LoopState {
    /// The arrays of the function body that the loop uses and that change
    /// (in the loop, after it, or a `&mut` parameter), and the lists of
    /// indices the function changes in place: kept with the carried
    /// variables at each checkpoint.
    pub arrays: Vec<NodeId>,
    /// The other values the iterations read from outside the loop: scalars of
    /// the function body, and arrays that hold at the end of the forward pass
    /// what they held while the loop ran.
    pub reads: BTreeSet<NodeId>,
}

impl LoopState {
    pub fn of(graph: &Graph, looped: &Loop) -> LoopState {
        let inside = regions_inside(graph, looped.body.region);
        let is_inside = |id: &NodeId| inside.contains(&graph.nodes[*id].region);
        let mut read = BTreeSet::new();
        for (id, node) in graph.nodes.iter().enumerate() {
            if is_inside(&id) {
                read.extend(node_reads(node));
            }
        }
        // A range with a known start is run again from the iteration numbers
        // alone; another iterable is built again.
        let mut locals: Vec<NodeId> = match looped.var_start {
            Some(_) => Vec::new(),
            None => looped.iter_locals.iter().map(|(_, id)| *id).collect(),
        };
        let mut note = |operand: &Operand| {
            if let Operand::Node(id) = operand {
                read.insert(*id);
            }
        };
        looped.body.results.iter().for_each(&mut note);
        looped.until.iter().for_each(&mut note);
        walk(&looped.body, Order::Forward, &mut |_, stmt| match stmt {
            Stmt::Node(_) => {}
            Stmt::BreakUnless(cond) => note(cond),
            Stmt::If(branch) => {
                note(branch.test.operand());
                branch
                    .arms
                    .iter()
                    .flat_map(|a| &a.results)
                    .for_each(&mut note);
            }
            Stmt::Loop(inner) => {
                inner.until.iter().for_each(&mut note);
                inner.carried.iter().for_each(|c| note(&c.init));
                inner.body.results.iter().for_each(&mut note);
                locals.extend(inner.iter_locals.iter().map(|(_, id)| *id));
            }
        });
        read.extend(locals);
        let last_inside = (0..graph.nodes.len()).rev().find(is_inside).unwrap_or(0);
        // Written in the loop or after it: the contents the loop saw are gone
        // by the end of the forward pass.
        let changes = |array: NodeId| {
            graph
                .writes_to(array)
                .any(|w| is_inside(&w) || w > last_inside)
                || graph.written_params.contains(&array)
        };
        let outside: BTreeSet<NodeId> = read.into_iter().filter(|id| !is_inside(id)).collect();
        let arrays = outside
            .iter()
            .copied()
            .filter(|&id| {
                graph.changed_data.contains(&id) || (graph.nodes[id].array.is_some() && changes(id))
            })
            .collect::<Vec<_>>();
        let reads = outside
            .into_iter()
            .filter(|id| !arrays.contains(id))
            .collect();
        LoopState { arrays, reads }
    }
}

/// Refuses the checkpointed loops whose state cannot be kept: a carried
/// variable of unknown type, a reference to something other than a list
/// (the model of a method).
pub fn check(graph: &Graph, errors: &mut Errors) {
    for looped in graph.loops() {
        let Some(checkpoint) = &looped.checkpoint else {
            continue;
        };
        for carried in &looped.carried {
            let node = &graph.nodes[carried.out];
            if node.ty.is_none() {
                let name = user_name(node);
                errors.push(syn::Error::new(
                    node.span,
                    format!(
                        "the checkpointed loop keeps `{name}` in its state, but its type cannot be inferred from the code; give it a type annotation where it is declared, as in `let mut {name}: usize = 0;`"
                    ),
                ));
            }
        }
        let state = LoopState::of(graph, looped);
        for &id in &state.reads {
            let node = &graph.nodes[id];
            let reference = matches!(&node.ty, Some(syn::Type::Reference(_)));
            let list = node
                .ty
                .as_ref()
                .and_then(crate::lower::element_type)
                .is_some();
            if node.array.is_none() && reference && !list {
                errors.push(syn::Error::new_spanned(
                    &checkpoint.attr,
                    format!("the checkpointed loop reads `{}` (a struct: in a method, the model itself), a reference its tape cannot keep to run the loop again; pass the loop the fields it needs, or leave it unmarked", user_name(node)),
                ));
            }
        }
    }
}

/// The name the user wrote for a node's variable.
fn user_name(node: &crate::ir::Node) -> String {
    match &node.hint {
        crate::ir::Hint::User(ident) => ident.to_string(),
        crate::ir::Hint::Op(_) => node.name.to_string(),
    }
}

/// The blocks inside a loop's body, the body included.
pub fn regions_inside(graph: &Graph, body: RegionId) -> BTreeSet<RegionId> {
    (0..graph.regions.len())
        .filter(|&region| graph.within(region, body))
        .collect()
}

/// Every node a node's value or effect reads.
fn node_reads(node: &crate::ir::Node) -> Vec<NodeId> {
    let mut operands: Vec<&Operand> = node.args().iter().collect();
    let mut nodes = Vec::new();
    match &node.kind {
        NodeKind::Call { parts, .. } => {
            for (start, end) in parts.iter().flatten() {
                operands.extend([start, end]);
            }
        }
        NodeKind::Element { call, .. } => nodes.push(*call),
        NodeKind::Read { array, index } => {
            nodes.push(*array);
            operands.push(index);
        }
        NodeKind::Write { array, index, .. } => {
            nodes.push(*array);
            operands.push(index);
        }
        NodeKind::Len { array } => nodes.push(*array),
        NodeKind::Buffer { fill, len, .. } => operands.extend([fill, len]),
        NodeKind::Inactive { locals, .. } => nodes.extend(locals.iter().map(|(_, id)| *id)),
        _ => {}
    }
    nodes.extend(operands.into_iter().filter_map(|o| match o {
        Operand::Node(id) => Some(*id),
        Operand::Const(_) => None,
    }));
    nodes
}
