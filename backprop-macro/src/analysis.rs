//! Which nodes get an adjoint, and how many terms each adjoint sums.
//!
//! A node needs an adjoint when the result depends on it through differentiable
//! operations: walking the list backwards from the result, each active operand of
//! a reached node is reached, and gains one term (the blog's `dx1`, `dx2`, `dx3`).
//! Nodes that do not reach the result (dead code, inactive values) cost nothing in
//! the backward pass.

use crate::ir::{Graph, Operand};

pub struct Analysis {
    /// The result depends on this node through differentiable operations.
    pub reached: Vec<bool>,
    /// How many terms this node's adjoint is the sum of.
    pub terms: Vec<usize>,
}

impl Analysis {
    pub fn of(graph: &Graph) -> Analysis {
        let count = graph.nodes.len();
        let mut reached = vec![false; count];
        let mut terms = vec![0; count];
        if let Operand::Node(output) = graph.output {
            if graph.nodes[output].active {
                reached[output] = true;
                // The seed: the adjoint of the result, passed in by the caller.
                terms[output] = 1;
            }
        }
        for id in (0..count).rev() {
            if !reached[id] {
                continue;
            }
            for arg in graph.nodes[id].args() {
                if let Operand::Node(arg) = arg {
                    if graph.nodes[*arg].active {
                        reached[*arg] = true;
                        terms[*arg] += 1;
                    }
                }
            }
        }
        Analysis { reached, terms }
    }
}
