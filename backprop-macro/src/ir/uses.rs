//! Questions about how a node's value is used, asked by more than one pass.

use super::{Borrow, Graph, NodeId, NodeKind, Operand, Stmt};

impl Graph {
    /// Whether node `id` is a call whose value is only passed whole to other
    /// calls (`g(f(x))`, `let d = f(x); dot(d, d)`): its value may be an
    /// array only the callee knows the length of. Forward mode gives it no
    /// tangent of its own (a reader's tangent chains through its pullback);
    /// the reverse pass sums its adjoint's terms whatever they are
    /// (`backprop_runtime::Adjoint`).
    pub fn passed_on_whole(&self, id: NodeId) -> bool {
        let node = &self.nodes[id];
        let NodeKind::Call { outputs: 1, .. } = node.kind else {
            return false;
        };
        if !node.active || self.writes_to_arrays(id).next().is_some() || node.array.is_some() {
            return false;
        }
        let reads = |o: &Operand| matches!(o, Operand::Node(n) if *n == id);
        let mut passed_to_call = false;
        for reader in &self.nodes {
            match &reader.kind {
                NodeKind::Call { args, borrows, .. } => {
                    for (arg, borrow) in args.iter().zip(borrows) {
                        if reads(arg) {
                            if !matches!(borrow, Borrow::Plain | Borrow::Shared) {
                                return false;
                            }
                            passed_to_call = true;
                        }
                    }
                }
                NodeKind::Read { array, .. } | NodeKind::Write { array, .. } if *array == id => {
                    return false;
                }
                _ if reader.args().iter().any(reads) => return false,
                _ => {}
            }
        }
        passed_to_call && !self.is_block_result(id)
    }

    /// Whether a value is a block's result: the function's, an arm's, a
    /// loop's initial or next value.
    pub fn is_block_result(&self, id: NodeId) -> bool {
        let reads = |o: &Operand| matches!(o, Operand::Node(n) if *n == id);
        let in_block = super::traverse::any_stmt(&self.body, &mut |stmt| match stmt {
            Stmt::If(branch) => branch.arms.iter().any(|a| a.results.iter().any(reads)),
            Stmt::Loop(looped) => {
                looped.carried.iter().any(|c| reads(&c.init))
                    || looped.body.results.iter().any(reads)
            }
            _ => false,
        });
        in_block || self.body.results.iter().any(reads)
    }
}
