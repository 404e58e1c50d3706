//! Elements added to in place, `out[j] += e` (lowered as a read of
//! `out[j]`, a sum and a write back): the backward pass leaves the
//! element's adjoint where it is. Written node by node it would read
//! `dout[j]`, zero it for the write, and add the same value back for the
//! read; the adjoint passes through the `+` unchanged. (The triangular
//! loop of ADBench's `qtimesx` is such writes, one per iteration.)

use crate::analysis::activity::Activity;
use crate::ir::{Graph, NodeId, NodeKind, Operand};
use std::collections::BTreeSet;

/// The reads and writes of each element added to in place: the read's only
/// use is a `+` (or the left of a `-`) whose only use is the write back
/// to the same element, all three in one block, with nothing between the
/// read and the write that writes an array or calls a function.
#[derive(Default)]
pub(super) struct Accumulations {
    pub(super) reads: BTreeSet<NodeId>,
    pub(super) writes: BTreeSet<NodeId>,
}

impl Accumulations {
    pub(super) fn of(graph: &Graph, activity: &Activity) -> Accumulations {
        let mut found = Accumulations::default();
        for (write, node) in graph.nodes.iter().enumerate() {
            if let Some(read) = added_to(graph, activity, write, node) {
                found.reads.insert(read);
                found.writes.insert(write);
            }
        }
        found
    }
}

/// The read that `write` adds to in place, if it is one.
fn added_to(
    graph: &Graph,
    activity: &Activity,
    write: NodeId,
    node: &crate::ir::Node,
) -> Option<NodeId> {
    let NodeKind::Write {
        array,
        index,
        value: Operand::Node(sum),
        push: false,
    } = &node.kind
    else {
        return None;
    };
    let NodeKind::Op { rule, args, .. } = &graph.nodes[*sum].kind else {
        return None;
    };
    let candidates: &[&Operand] = match (rule.name, &args[..]) {
        ("add", [a, b]) => &[a, b],
        ("sub", [a, _]) => &[a],
        _ => return None,
    };
    let region = node.region;
    let read = candidates.iter().find_map(|operand| {
        let Operand::Node(read) = operand else {
            return None;
        };
        match &graph.nodes[*read].kind {
            NodeKind::Read {
                array: read_array,
                index: read_index,
            } if read_array == array && read_index.same(index) => Some(*read),
            _ => None,
        }
    })?;
    let one_use = |id: NodeId| activity.reached[id] && activity.terms[id] == 1;
    let same_block = [read, *sum]
        .iter()
        .all(|&id| graph.nodes[id].region == region);
    if !activity.reached[write] || !one_use(read) || !one_use(*sum) || !same_block {
        return None;
    }
    // Nothing between that could change the array or its adjoint: in the
    // block itself (no branch or loop), no write, call or anything but
    // arithmetic and reads.
    let quiet = (read + 1..write).all(|between| {
        let node = &graph.nodes[between];
        node.region == region
            && matches!(
                node.kind,
                NodeKind::Op { .. } | NodeKind::Read { .. } | NodeKind::Inactive { .. }
            )
    });
    quiet.then_some(read)
}
