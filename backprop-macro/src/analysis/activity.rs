//! Which nodes get an adjoint, and how the terms of each adjoint are laid out.
//!
//! A node needs an adjoint when the result depends on it through differentiable
//! operations: walking the body backwards from the result, each active operand of
//! a reached node is reached. A branch passes reach from its merged values to the
//! values each arm hands back; a loop from its variables after the loop to their
//! next values in the body and their values before the loop. Loops make this a
//! fixpoint: a variable reached in the body is reached in every iteration.
//!
//! Each use of a reached node is one term of its adjoint (the blog's `dx1`,
//! `dx2`, `dx3`). Uses inside a branch or loop that the node is defined outside of
//! are accumulated, across iterations too, into one term per such statement.

use crate::ir::traverse::{walk, Order};
use crate::ir::{Graph, NodeId, NodeKind, Operand, RegionId, Stmt, StmtId};
use std::collections::BTreeMap;

pub struct Activity {
    /// The result depends on this node through differentiable operations.
    pub reached: Vec<bool>,
    /// How many terms this node's adjoint is the sum of.
    pub terms: Vec<usize>,
    /// For each branch or loop, the nodes defined outside it that gain a term from
    /// inside it, in order.
    pub accumulated: BTreeMap<StmtId, Vec<NodeId>>,
}

impl Activity {
    pub fn of(graph: &Graph) -> Activity {
        let mut activity = Activity {
            reached: vec![false; graph.nodes.len()],
            terms: vec![0; graph.nodes.len()],
            accumulated: BTreeMap::new(),
        };
        for output in &graph.outputs {
            activity.reach(graph, output);
        }
        // A `&mut [f64]` parameter's final contents are an output.
        for &array in &graph.written_params {
            activity.reached[array] = true;
        }
        loop {
            let before = activity.reached.clone();
            activity.propagate(graph);
            if activity.reached == before {
                break;
            }
        }
        for output in &graph.outputs {
            if let Operand::Node(output) = output {
                if activity.reached[*output] {
                    // The seed: the adjoint of the result, passed in by the caller.
                    activity.terms[*output] += 1;
                }
            }
        }
        activity.count_uses(graph);
        activity
    }

    /// Whether a loop variable's adjoint is carried through the backward loop.
    pub fn carries(&self, carried: &crate::ir::Carried) -> bool {
        self.reached[carried.out] || self.reached[carried.param]
    }

    fn reach(&mut self, graph: &Graph, operand: &Operand) {
        if let Operand::Node(id) = operand {
            if graph.nodes[*id].active {
                self.reached[*id] = true;
            }
        }
    }

    fn propagate(&mut self, graph: &Graph) {
        walk(&graph.body, Order::Backward, &mut |_, stmt| match stmt {
            Stmt::Node(id) => {
                match graph.nodes[*id].kind {
                    // A write matters when the array is read later.
                    NodeKind::Write { array, .. } => self.reached[*id] |= self.reached[array],
                    // So does a call that writes an array.
                    NodeKind::Call { .. } => {
                        let writes_reached =
                            graph.writes_to_arrays(*id).any(|array| self.reached[array]);
                        self.reached[*id] |= writes_reached;
                    }
                    NodeKind::Read { array, .. } if self.reached[*id] => self.reached[array] = true,
                    NodeKind::Element { call, .. } if self.reached[*id] => {
                        self.reached[call] = true
                    }
                    _ => {}
                }
                if self.reached[*id] {
                    for arg in graph.nodes[*id].args() {
                        self.reach(graph, arg);
                    }
                }
            }
            Stmt::If(branch) => {
                for (k, merge) in branch.merges.iter().enumerate() {
                    if self.reached[*merge] {
                        for arm in &branch.arms {
                            self.reach(graph, &arm.results[k]);
                        }
                    }
                }
            }
            Stmt::Loop(looped) => {
                for (k, carried) in looped.carried.iter().enumerate() {
                    if self.carries(carried) {
                        self.reach(graph, &looped.body.results[k]);
                        self.reach(graph, &carried.init);
                    }
                }
            }
            // A test: no derivative flows through it.
            Stmt::BreakUnless(_) => {}
        });
    }

    /// One term per use of a reached node, in the block where the use's
    /// contribution is computed.
    fn count_uses(&mut self, graph: &Graph) {
        walk(&graph.body, Order::Forward, &mut |block, stmt| match stmt {
            Stmt::Node(id) => {
                if self.reached[*id] {
                    let node = &graph.nodes[*id];
                    let calls_or_rules = !matches!(node.kind, NodeKind::Inactive { .. });
                    for arg in node.args().iter().filter(|_| calls_or_rules) {
                        self.use_at(graph, arg, block.region);
                    }
                }
            }
            Stmt::If(branch) => {
                for (k, merge) in branch.merges.iter().enumerate() {
                    if self.reached[*merge] {
                        for arm in &branch.arms {
                            self.use_at(graph, &arm.results[k], arm.region);
                        }
                    }
                }
            }
            Stmt::Loop(looped) => {
                for (k, carried) in looped.carried.iter().enumerate() {
                    if self.carries(carried) {
                        self.use_at(graph, &looped.body.results[k], looped.body.region);
                        self.use_at(graph, &carried.init, block.region);
                    }
                }
            }
            Stmt::BreakUnless(_) => {}
        });
    }

    fn use_at(&mut self, graph: &Graph, operand: &Operand, site: RegionId) {
        let Operand::Node(id) = operand else { return };
        // An array's adjoint is one buffer that every use adds into, not a sum
        // of terms.
        if !graph.nodes[*id].active || graph.nodes[*id].array.is_some() {
            return;
        }
        match graph.child_statement(site, graph.nodes[*id].region) {
            None => self.terms[*id] += 1,
            Some(statement) => {
                let nodes = self.accumulated.entry(statement).or_default();
                if !nodes.contains(id) {
                    nodes.push(*id);
                    self.terms[*id] += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{activity, node};
    use syn::parse_quote;

    #[test]
    fn the_blog_gives_x_three_terms_and_y_two() {
        let (graph, activity) = activity(parse_quote! {
            fn f(x: f64, y: f64) -> f64 {
                let sigx = sigmoid(x);
                let sigy = sigmoid(y);
                let numer = x + sigy;
                let xandy = x + y;
                let xandysqr = xandy * xandy;
                let denom = xandysqr + sigx;
                let rec_denom = 1.0 / denom;
                numer * rec_denom
            }
        });
        assert_eq!(activity.terms[node(&graph, "x")], 3);
        assert_eq!(activity.terms[node(&graph, "y")], 2);
        // `xandy * xandy` is one use: the square's rule.
        assert_eq!(activity.terms[node(&graph, "xandy")], 1);
        assert!(graph
            .nodes
            .iter()
            .enumerate()
            .all(|(id, n)| activity.reached[id] == n.active));
    }

    #[test]
    fn what_does_not_reach_the_result_gets_no_adjoint() {
        let (graph, activity) = activity(parse_quote! {
            fn f(x: f64, y: f64) -> f64 {
                let unused = x.exp() * y;
                let twice = x * 2.0;
                twice
            }
        });
        assert!(activity.reached[node(&graph, "twice")]);
        assert!(!activity.reached[node(&graph, "unused")]);
        assert!(!activity.reached[node(&graph, "y")]);
        assert_eq!(activity.terms[node(&graph, "x")], 1);
    }

    #[test]
    fn a_value_used_in_a_loop_gets_one_accumulated_term() {
        let (graph, activity) = activity(parse_quote! {
            fn f(x: f64, n: usize) -> f64 {
                let mut acc = x;
                for _ in 0..n {
                    acc = acc * x + x;
                }
                acc
            }
        });
        let x = node(&graph, "x");
        // Two uses inside the loop share one term; the start value is another.
        assert_eq!(activity.terms[x], 2);
        assert_eq!(
            activity
                .accumulated
                .values()
                .flatten()
                .filter(|&&id| id == x)
                .count(),
            1
        );
    }
}
