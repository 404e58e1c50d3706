//! The tape plan: for each value the backward pass reads, where it comes from
//! (Clad's and Tapenade's "to be recorded" analysis).
//!
//! A value of the function body is a plain field of the tape. A value computed
//! inside a branch or loop is pushed on a stack, unless it is cheaper and just
//! as right to get it again in the backward pass: a loop variable of
//! `start..end` is rebuilt from the reversed loop's counter, a pure inactive
//! expression of available values is recomputed (an index `j * cols + i`), and
//! an element of an input that nothing changes is read again from the input.

use crate::ir::{Graph, NodeId, NodeKind, Operand, RegionId};
use crate::parse::signature::Signature;
use std::collections::BTreeSet;

/// Where the backward pass gets a value it reads.
#[derive(Debug, PartialEq)]
pub enum Storage {
    /// A field of the tape: values of the function body, and values of a
    /// branch that runs at most once (not inside a loop), written into the
    /// tape where they are computed.
    Field,
    /// The reversed loop's own variable, rebuilt from its counter.
    Rebuilt,
    /// Computed again from these values (each available in its own right), or
    /// read again from an input the forward pass never changed.
    Recompute(Vec<NodeId>),
    /// Pushed in the forward pass, popped in the backward pass.
    Stack,
}

pub struct TapePlan<'g> {
    graph: &'g Graph,
    sig: &'g Signature,
    /// Loop variables the backward loops rebuild: those of loops over a range
    /// with a known start.
    rebuilt: BTreeSet<NodeId>,
    /// The blocks that are loop bodies.
    loop_bodies: BTreeSet<RegionId>,
}

impl<'g> TapePlan<'g> {
    pub fn of(graph: &'g Graph, sig: &'g Signature) -> TapePlan<'g> {
        let loops = graph.loops();
        let rebuilt = loops
            .iter()
            .filter(|looped| looped.var_start.is_some())
            .filter_map(|looped| looped.var)
            .collect();
        let loop_bodies = loops.iter().map(|looped| looped.body.region).collect();
        TapePlan {
            graph,
            sig,
            rebuilt,
            loop_bodies,
        }
    }

    pub fn storage(&self, id: NodeId) -> Storage {
        if self.rebuilt.contains(&id) {
            Storage::Rebuilt
        } else if let Some(deps) = self.recompute_deps(id) {
            Storage::Recompute(deps)
        } else if self.is_once(id) {
            Storage::Field
        } else {
            Storage::Stack
        }
    }

    /// Whether a node is computed at most once per call, with a type the tape
    /// can copy out: in the function body, or in branches outside every loop.
    fn is_once(&self, id: NodeId) -> bool {
        let node = &self.graph.nodes[id];
        if node.region == 0 {
            return true;
        }
        let copy = node
            .ty
            .as_ref()
            .is_some_and(|ty| self.graph.floats.is_copy(ty));
        let mut region = node.region;
        while let Some(parent) = self.graph.regions[region].parent {
            if self.is_loop_body(region) {
                return false;
            }
            region = parent;
        }
        copy
    }

    /// Whether the value is there in the backward pass without being
    /// recomputed: a field, or a rebuilt loop variable.
    fn is_available(&self, id: NodeId) -> bool {
        self.is_once(id) || self.rebuilt.contains(&id) || self.recompute_deps(id).is_some()
    }

    /// The nodes a cheap inactive value is computed from, if it can be recomputed
    /// in the backward pass: a pure expression of loop variables the backward
    /// loops rebuild, values of the function body (plain fields of the tape),
    /// data arrays (copied into the tape once), and other such values.
    fn recompute_deps(&self, id: NodeId) -> Option<Vec<NodeId>> {
        let node = &self.graph.nodes[id];
        if let NodeKind::Read { array, index } = &node.kind {
            // An element of an array that no later code changes: read again from a
            // copy of the array taken at the end of the forward pass.
            if !self.unchanged_after(*array, id) {
                return None;
            }
            return match index {
                Operand::Const(_) => Some(Vec::new()),
                Operand::Node(i) => self.is_available(*i).then(|| vec![*i]),
            };
        }
        let NodeKind::Inactive { expr, locals } = &node.kind else {
            return None;
        };
        if !is_cheap(expr) {
            return None;
        }
        let mut deps = Vec::new();
        for (_, dep) in locals {
            // Read from data that changes later: only the value saved then is right.
            if self.graph.changed_data.contains(dep) {
                return None;
            }
            if self.graph.nodes[*dep].array.is_some() {
                // A data array is copied into the tape; the others change.
                if !self.is_data_array(*dep) {
                    return None;
                }
                continue;
            }
            if !self.is_available(*dep) {
                return None;
            }
            deps.push(*dep);
        }
        Some(deps)
    }

    /// Whether `array` holds, at the end of the forward pass, what `read` read:
    /// a parameter, or a buffer of the function body that no write changes
    /// after the read (none later, none in a loop around both).
    fn unchanged_after(&self, array: NodeId, read: NodeId) -> bool {
        let node = &self.graph.nodes[array];
        match node.kind {
            NodeKind::Param if !self.graph.written_params.contains(&array) => true,
            NodeKind::Param | NodeKind::Buffer { .. } if node.region == 0 => self
                .graph
                .writes_to(array)
                .all(|w| w < read && !self.share_a_loop(w, read)),
            _ => false,
        }
    }

    /// Whether some loop contains both nodes.
    fn share_a_loop(&self, a: NodeId, b: NodeId) -> bool {
        let loops_around = |id: NodeId| {
            let mut regions = Vec::new();
            let mut region = self.graph.nodes[id].region;
            while let Some(parent) = self.graph.regions[region].parent {
                regions.push(region);
                region = parent;
            }
            regions
        };
        let (around_a, around_b) = (loops_around(a), loops_around(b));
        around_a
            .iter()
            .any(|r| around_b.contains(r) && self.is_loop_body(*r))
    }

    fn is_loop_body(&self, region: RegionId) -> bool {
        self.loop_bodies.contains(&region)
    }

    /// A parameter slice or array of floats: it never changes, so the backward
    /// pass can read a copy of it.
    pub fn is_data_array(&self, id: NodeId) -> bool {
        let node = &self.graph.nodes[id];
        matches!(node.kind, NodeKind::Param)
            && node.array.is_some()
            && self.sig.params[id].shape.is_some()
            && !self.graph.written_params.contains(&id)
    }
}

/// Cheap to compute again: arithmetic, casts, comparisons, indexing, constants.
fn is_cheap(expr: &syn::Expr) -> bool {
    use syn::Expr;
    match expr {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Paren(p) => is_cheap(&p.expr),
        Expr::Group(g) => is_cheap(&g.expr),
        Expr::Unary(u) => is_cheap(&u.expr),
        Expr::Binary(b) => is_cheap(&b.left) && is_cheap(&b.right),
        Expr::Cast(c) => is_cheap(&c.expr),
        Expr::Index(i) => is_cheap(&i.expr) && is_cheap(&i.index),
        Expr::MethodCall(m) => m.method == "len" && m.args.is_empty() && is_cheap(&m.receiver),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{Storage, TapePlan};
    use crate::testing::{lowered, node};
    use syn::parse_quote;

    #[test]
    fn each_value_is_kept_where_it_is_cheapest() {
        let (sig, graph) = lowered(parse_quote! {
            fn f(x: f64, w: &[f64], cols: usize, n: usize) -> f64 {
                let mut total = 0.0;
                let top = if x > 0.0 {
                    let once = x.exp();
                    once * 2.0
                } else {
                    x
                };
                for j in 0..n {
                    let index = j * cols;
                    let inside = (total + top).sin();
                    total = inside * w[index];
                }
                total
            }
        });
        let plan = TapePlan::of(&graph, &sig);
        assert_eq!(plan.storage(node(&graph, "top")), Storage::Field);
        // In a branch outside every loop: a field, written where computed.
        assert_eq!(plan.storage(node(&graph, "once")), Storage::Field);
        // The loop's own variable, rebuilt from the reversed loop's counter.
        assert_eq!(plan.storage(node(&graph, "j")), Storage::Rebuilt);
        // An index computed from values there in the backward pass.
        let (j, cols) = (node(&graph, "j"), node(&graph, "cols"));
        assert_eq!(
            plan.storage(node(&graph, "index")),
            Storage::Recompute(vec![j, cols])
        );
        assert_eq!(plan.storage(node(&graph, "inside")), Storage::Stack);
        // An element of an input nothing changes: read again.
        let read = graph
            .nodes
            .iter()
            .position(|n| matches!(n.kind, crate::ir::NodeKind::Read { .. }))
            .expect("a read of w");
        assert!(matches!(plan.storage(read), Storage::Recompute(_)));
    }
}
