//! Building the graph: nodes, the blocks (regions) they are computed in, and
//! the branch and loop statements that own those blocks.

use super::Lowerer;
use crate::ir::{Block, Node, NodeId, NodeKind, Operand, RegionInfo, Stmt as IrStmt, StmtId};

impl<'a> Lowerer<'a> {
    /// Adds a node computed at this point of the current block.
    pub(super) fn push(&mut self, node: Node) -> NodeId {
        let id = self.push_detached(node);
        if let Some(block) = self.blocks.last_mut() {
            block.push(IrStmt::Node(id));
        }
        id
    }

    /// Adds a node that a branch or loop statement defines (a merge, a loop's
    /// variable after the loop) in the current block.
    pub(super) fn push_detached(&mut self, mut node: Node) -> NodeId {
        node.region = self.region;
        let id = self.nodes.len();
        // A call knows the nodes that name its outputs.
        if let NodeKind::Element { call, .. } = node.kind {
            if let NodeKind::Call { elements, .. } = &mut self.nodes[call].kind {
                elements.push(id);
            }
        }
        self.nodes.push(node);
        id
    }

    pub(super) fn new_statement(&mut self) -> StmtId {
        self.statements += 1;
        self.statements - 1
    }

    pub(super) fn enter_region(&mut self, owner: StmtId) {
        self.regions.push(RegionInfo {
            parent: Some(self.region),
            owner: Some(owner),
        });
        self.region = self.regions.len() - 1;
        self.blocks.push(Vec::new());
    }

    pub(super) fn exit_region(&mut self, results: Vec<Operand>) -> Block {
        self.growable_lengths();
        let region = self.region;
        self.region = self.regions[region].parent.unwrap_or(0);
        Block {
            region,
            stmts: self.blocks.pop().unwrap_or_default(),
            results,
        }
    }

    pub(super) fn emit(&mut self, stmt: IrStmt) {
        if let Some(block) = self.blocks.last_mut() {
            block.push(stmt);
        }
    }

    /// Another version of a loop's variable: at the start of an iteration, or
    /// after the loop.
    pub(super) fn version_of(&self, variable: NodeId, kind: NodeKind, active: bool) -> Node {
        let node = &self.nodes[variable];
        Node::new(node.hint.clone(), kind, node.span)
            .active_if(active)
            .typed(node.ty.clone())
    }
}
