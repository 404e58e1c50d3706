//! Test support: a function, as `parse_quote!` gives it, taken through the
//! pipeline up to the analysed graph, for unit tests of each stage.

use crate::analysis::activity::Activity;
use crate::emit::names::Names;
use crate::errors::Errors;
use crate::ir::{Floats, Graph, NodeId, NodeKind};
use crate::parse::args::Args;
use crate::parse::signature::Signature;

/// The signature and graph of a function, as `expand::module_of` makes them.
pub fn lowered(function: syn::ItemFn) -> (Signature, Graph) {
    let mut errors = Errors::default();
    let generic = crate::parse::signature::generic_float(&function.sig.generics, &mut errors);
    let floats = Floats::new(generic);
    let mut rebased = function.clone();
    crate::desugar::desugar(&mut rebased, &floats);
    let sig = Signature::from_syn(&rebased, &Args::default(), &floats, &mut errors)
        .expect("a supported signature");
    let mut names = Names::for_function(&function);
    let graph = crate::lower::lower(&rebased.block, &sig, &mut names, &mut errors);
    if let Err(error) = errors.finish() {
        panic!("lowering failed: {error}");
    }
    (sig, graph)
}

pub fn activity(function: syn::ItemFn) -> (Graph, Activity) {
    let (_, graph) = lowered(function);
    let activity = Activity::of(&graph);
    (graph, activity)
}

/// The node a user's name (or a generated name) ended up with.
pub fn node(graph: &Graph, name: &str) -> NodeId {
    graph
        .nodes
        .iter()
        .position(|n| n.name == name)
        .unwrap_or_else(|| panic!("no node named {name}"))
}

/// A short name for each node's kind, in order.
pub fn kinds(graph: &Graph) -> Vec<&'static str> {
    graph
        .nodes
        .iter()
        .map(|n| match &n.kind {
            NodeKind::Param => "param",
            NodeKind::Op { rule, .. } => rule.name,
            NodeKind::Cast { .. } => "cast",
            NodeKind::Inactive { .. } => "inactive",
            NodeKind::Call { .. } => "call",
            NodeKind::Element { .. } => "element",
            NodeKind::Merge => "merge",
            NodeKind::LoopParam => "loop param",
            NodeKind::LoopOut => "loop out",
            NodeKind::LoopVar => "loop var",
            NodeKind::LoopTrips => "trips",
            NodeKind::Read { .. } => "read",
            NodeKind::Write { .. } => "write",
            NodeKind::Buffer { .. } => "buffer",
            NodeKind::Len { .. } => "len",
        })
        .collect()
}
