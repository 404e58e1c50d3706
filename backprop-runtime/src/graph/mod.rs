//! The computational graph of one evaluation, as a picture: `f::graph(args)`.
//!
//! Every differentiated function with one result (and no `&mut` parameter)
//! can draw itself at given inputs, as the blog this project grew from draws
//! its circuit: each node of the function, named after your `let` bindings,
//! with its value above it and its adjoint (the derivative of the result with
//! respect to it, seed one) below it; each wire into a node labelled with the
//! term of the chain rule it carries back (`dx1`, `dx2`, `dx3`), so the sum
//! `dx = dx1 + dx2 + dx3` is there to see. Values the tape saves for the
//! backward pass are outlined in orange.
//!
//! A loop is a box with its trip count; its first iterations (three unless
//! `f::graph_with(args.., iterations)` says otherwise) are drawn one by one,
//! each in a box of its own, with the variables it carries wired from one
//! iteration to the next. A branch shows the arm that ran.
//!
//! [`Graph::to_dot`] writes Graphviz DOT text; [`Graph::to_svg`] draws a
//! self-contained SVG itself, with no program or crate besides this one.
//!
//! ```
//! use backprop_runtime::{differentiate, sigmoid};
//!
//! #[differentiate]
//! fn f(x: f64, y: f64) -> f64 {
//!     let sigx = sigmoid(x);
//!     let sigy = sigmoid(y);
//!     let numer = x + sigy;
//!     let xandy = x + y;
//!     let xandysqr = xandy * xandy;
//!     let denom = xandysqr + sigx;
//!     let rec_denom = 1.0 / denom;
//!     numer * rec_denom
//! }
//!
//! let graph = f::graph(3.0, -4.0);
//! let (_, g) = f::grad(3.0, -4.0);
//! // The adjoints in the picture are the gradient's.
//! assert_eq!(graph.node("x").unwrap().adjoint, Some(g.x));
//! // dx = dx1 + dx2 + dx3: three wires leave x, each with its term.
//! let terms: Vec<&str> = graph.edges_from("x").filter_map(|e| e.term).collect();
//! assert_eq!(terms.len(), 3);
//! assert!(graph.to_dot().starts_with("digraph"));
//! assert!(graph.to_svg().contains("rec_denom"));
//! ```

mod dot;
mod layout;
mod probe;
mod record;
mod svg;

#[doc(hidden)]
pub use probe::{Probe, RecordAny, RecordFixed, RecordScalar, RecordSlice};
pub use record::Recorder;

use num_traits::ToPrimitive;

/// What the macro knows of a function's graph before it runs: one entry per
/// node of its Wengert list, per wire, and per block (the body, a loop's
/// body, a branch's arm). Written by `#[differentiate]` as a constant.
#[derive(Debug)]
pub struct Shape {
    /// The function's name.
    pub function: &'static str,
    /// Indexed by the macro's node numbers, which the recording calls use.
    pub nodes: &'static [NodeInfo],
    pub edges: &'static [EdgeInfo],
    /// Region 0 is the function's body.
    pub regions: &'static [RegionInfo],
    /// The nodes the function returns.
    pub outputs: &'static [usize],
}

#[derive(Debug)]
pub struct NodeInfo {
    /// The local's name in the generated code: the user's `let` binding, or
    /// a short name for an intermediate (`exp`, `sum`).
    pub name: &'static str,
    /// What computes it, as written: `x + sigy`, `sigmoid(y)`, `w[i]`; or,
    /// in parentheses, where a variable's value comes from (`(after the
    /// loop)`).
    pub op: &'static str,
    pub role: Role,
    /// The block it is computed in.
    pub region: usize,
    /// The tape saves it for the backward pass.
    pub saved: bool,
}

/// What a node is, for its colour and whether it is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Internal to the generated code (a length, a trip count, integer work):
    /// not drawn.
    Hidden,
    /// A parameter the gradient is taken with respect to.
    Parameter,
    /// A parameter that is data (not differentiated).
    Data,
    /// A float value computed from the parameters.
    Value,
    /// An array computed in the function (a buffer, a `Vec`).
    Array,
}

/// A wire: `from`'s value is an operand of `to`.
#[derive(Debug)]
pub struct EdgeInfo {
    pub from: usize,
    pub to: usize,
    /// The backward pass's term for `from` that this wire carries back
    /// (`dx1`), or `""` where none flows (data, or a value whose adjoint
    /// arrives as a whole: a loop's variable from the next iteration).
    pub term: &'static str,
    pub kind: EdgeKind,
    /// For the wires of a loop's variables (entry, carried, exit): the
    /// loop's region; for a value an arm hands to its branch's merge: the
    /// arm's (the wire is drawn where the arm ran). Else 0.
    pub region: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// An operand.
    Operand,
    /// A loop variable's value before the loop, into its first iteration.
    LoopEntry,
    /// A loop variable's next value, from one iteration into the next.
    Carried,
    /// A loop variable's value after the last iteration, out of the loop.
    LoopExit,
    /// A loop variable's value before the loop, out of it, when the loop ran
    /// no iteration (the value passes it unchanged).
    LoopBypass,
}

#[derive(Debug)]
pub struct RegionInfo {
    /// The enclosing region (the body's is itself).
    pub parent: usize,
    pub kind: RegionKind,
    /// `for i in 0..n`, `while`, `if x > 0.0`, `else`.
    pub label: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    Body,
    Loop,
    Arm,
}

/// A value in the picture: a float, or the head of an array.
#[derive(Clone, Debug, PartialEq)]
pub enum Shown {
    Scalar(f64),
    Array { len: usize, head: Vec<f64> },
}

/// How many elements of an array the picture writes out.
const HEAD: usize = 4;

impl Shown {
    pub fn scalar<T: ToPrimitive>(value: T) -> Shown {
        Shown::Scalar(value.to_f64().unwrap_or(f64::NAN))
    }

    pub fn array<T: ToPrimitive + Copy>(values: &[T]) -> Shown {
        Shown::Array {
            len: values.len(),
            head: values
                .iter()
                .take(HEAD)
                .map(|v| v.to_f64().unwrap_or(f64::NAN))
                .collect(),
        }
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shown::Scalar(v) => f.write_str(&number(*v)),
            Shown::Array { len, head } => {
                let shown: Vec<String> = head.iter().map(|v| number(*v)).collect();
                let more = if *len > head.len() { ", …" } else { "" };
                write!(f, "[{}{more}] ({len})", shown.join(", "))
            }
        }
    }
}

/// Four significant decimals, or scientific notation for the very large and
/// the very small.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.3e}")
    } else {
        let text = format!("{v:.4}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        text.to_string()
    }
}

/// One evaluation's graph: every node instance with its value and adjoint,
/// the wires between them with their terms, and the boxes of loops,
/// iterations and arms.
#[derive(Clone, Debug)]
pub struct Graph {
    pub function: &'static str,
    /// The function's result at these inputs.
    pub value: Option<Shown>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub clusters: Vec<Cluster>,
}

/// A node as it ran: once, or once per iteration drawn.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: &'static str,
    pub op: &'static str,
    pub role: Role,
    pub saved: bool,
    /// A returned value.
    pub output: bool,
    /// The iteration numbers of the loops around it, outermost first.
    pub iteration: Vec<usize>,
    pub value: Option<Shown>,
    /// The derivative of the result with respect to this value (seed one):
    /// for a parameter, its gradient. `None` where the result does not depend
    /// on it.
    pub adjoint: Option<f64>,
    /// A parameter's gradient when it is an array.
    pub gradient: Option<Shown>,
    /// The innermost box it is drawn in.
    pub cluster: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// The term's name (`dx1`), where one flows back along this wire.
    pub term: Option<&'static str>,
    /// Its value in this evaluation.
    pub term_value: Option<f64>,
    pub kind: EdgeKind,
    /// For a loop's exit: the iterations run after the last one drawn.
    pub skipped: usize,
}

#[derive(Clone, Debug)]
pub struct Cluster {
    pub parent: Option<usize>,
    pub kind: ClusterKind,
    pub label: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterKind {
    /// A loop, with its trip count in the label.
    Loop,
    /// One iteration of a loop.
    Iteration,
    /// The arm of a branch that ran.
    Arm,
}

impl Graph {
    /// The first instance of the node called `name` (a parameter, a `let`
    /// binding): in a loop, the one of its first iteration.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Every instance of the node called `name`, one per iteration drawn.
    pub fn instances<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes.iter().filter(move |n| n.name == name)
    }

    /// The wires leaving (the instances of) the node called `name`.
    pub fn edges_from<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges
            .iter()
            .filter(move |e| self.nodes[e.from].name == name)
    }

    /// Writes the SVG picture to `path`.
    pub fn write_svg(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        std::fs::write(path, self.to_svg())
    }

    /// The text of a node: `name = op`, `name (after the loop)`, or the
    /// name alone for a parameter.
    fn title(&self, node: &Node) -> String {
        match node.role {
            Role::Parameter | Role::Data => node.name.to_string(),
            _ if node.op.is_empty() => node.name.to_string(),
            _ if node.op.starts_with('(') => format!("{} {}", node.name, node.op),
            _ => format!("{} = {}", node.name, node.op),
        }
    }

    /// The value line above a node, `None` if it has none.
    fn value_line(node: &Node) -> Option<String> {
        node.value.as_ref().map(ToString::to_string)
    }

    /// The adjoint line below a node: `dsigx = -0.05`, a parameter's gradient.
    fn adjoint_line(node: &Node) -> Option<String> {
        if let Some(g) = &node.gradient {
            return Some(format!("d{} = {g}", node.name));
        }
        node.adjoint
            .map(|d| format!("d{} = {}", node.name, number(d)))
    }

    /// The label of a wire: its term and the term's value.
    fn edge_label(edge: &Edge) -> Option<String> {
        let mut label = match (edge.term, edge.term_value) {
            (Some(term), Some(v)) => Some(format!("{term} = {}", number(v))),
            (Some(term), None) => Some(term.to_string()),
            _ => None,
        };
        if edge.skipped > 0 {
            let skipped = format!("after {} more iterations", edge.skipped);
            label = Some(match label {
                Some(l) => format!("{l}, {skipped}"),
                None => skipped,
            });
        }
        label
    }
}
