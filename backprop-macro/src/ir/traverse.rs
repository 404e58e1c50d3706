//! The one traversal of the IR's statements: every analysis that looks at
//! statements nested in branches and loops goes through `walk`, so a new kind
//! of statement is handled in one place.

use super::{Block, Graph, Loop, Stmt};

/// The order in which a block's statements are visited.
#[derive(Clone, Copy, PartialEq)]
pub enum Order {
    /// As the forward pass runs them.
    Forward,
    /// Last statement first, as the backward pass runs them.
    Backward,
}

/// Visits each statement of `block` and of the blocks nested in it, with the
/// block it belongs to. A branch or loop is visited before the statements of
/// its blocks (the `then` block before the `else` block, in either order).
pub fn walk<'g>(block: &'g Block, order: Order, visit: &mut dyn FnMut(&'g Block, &'g Stmt)) {
    let mut step = |stmt: &'g Stmt| {
        visit(block, stmt);
        for inner in stmt.blocks() {
            walk(inner, order, visit);
        }
    };
    match order {
        Order::Forward => block.stmts.iter().for_each(&mut step),
        Order::Backward => block.stmts.iter().rev().for_each(&mut step),
    }
}

/// Whether `test` holds for some statement of `block`, at any depth.
pub fn any_stmt(block: &Block, test: &mut dyn FnMut(&Stmt) -> bool) -> bool {
    let mut found = false;
    walk(block, Order::Forward, &mut |_, stmt| {
        found = found || test(stmt)
    });
    found
}

impl Stmt {
    /// The blocks a branch or loop owns; none for a node.
    pub fn blocks(&self) -> Vec<&Block> {
        match self {
            Stmt::Node(_) | Stmt::BreakUnless(_) => Vec::new(),
            Stmt::If(branch) => branch.arms.iter().collect(),
            Stmt::Loop(looped) => vec![&looped.body],
        }
    }
}

impl Graph {
    /// Every loop of the body, outer loops first.
    pub fn loops(&self) -> Vec<&Loop> {
        let mut loops = Vec::new();
        walk(&self.body, Order::Forward, &mut |_, stmt| {
            if let Stmt::Loop(looped) = stmt {
                loops.push(&**looped);
            }
        });
        loops
    }
}
