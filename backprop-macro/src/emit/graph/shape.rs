//! What the recording calls' numbers mean: the `static SHAPE` of nodes (as
//! the code writes them), wires (with the terms the backward pass sends
//! along them) and blocks (loops and arms, with their labels).

use super::{number, shown};
use crate::emit::backward::Backward;
use crate::emit::forward::{argument, value};
use crate::ir::traverse::{self, Order};
use crate::ir::{
    Block, ElementSource, Graph, If, Loop, NodeId, NodeKind, Operand, RegionId, Stmt, Test,
};
use crate::parse::signature::Signature;
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// `static SHAPE: Shape = ..`: the nodes, wires and blocks; the wires the
/// backward pass wrote a term along come first, in the order of the numbers
/// its recording calls use.
pub fn shape(sig: &Signature, graph: &Graph, backward: &Backward, name: &Ident) -> TokenStream {
    let regions = regions(graph);
    let nodes = graph.nodes.iter().enumerate().map(|(id, node)| {
        let role = role(sig, graph, id);
        // (A node not drawn needs no label.)
        let op = if shown(graph, id) {
            op_label(graph, id)
        } else {
            String::new()
        };
        let name = node.name.to_string();
        let region = number(node.region);
        let saved = backward.saved.contains(&id) || backward.stacks.contains_key(&id);
        quote!(::backprop_runtime::graph::NodeInfo { name: #name, op: #op, role: #role, region: #region, saved: #saved })
    });
    let edges = edges(graph, backward).into_iter().map(|e| {
        let (from, to, region) = (number(e.from), number(e.to), number(e.region));
        let term = e.term;
        let kind = match e.kind {
            Kind::Operand => quote!(Operand),
            Kind::LoopEntry => quote!(LoopEntry),
            Kind::Carried => quote!(Carried),
            Kind::LoopExit => quote!(LoopExit),
            Kind::LoopBypass => quote!(LoopBypass),
        };
        quote!(::backprop_runtime::graph::EdgeInfo { from: #from, to: #to, term: #term, kind: ::backprop_runtime::graph::EdgeKind::#kind, region: #region })
    });
    let regions = regions.into_iter().map(|(parent, kind, label)| {
        let parent = number(parent);
        quote!(::backprop_runtime::graph::RegionInfo { parent: #parent, kind: ::backprop_runtime::graph::RegionKind::#kind, label: #label })
    });
    let outputs = graph.outputs.iter().filter_map(|o| match o {
        Operand::Node(id) => Some(number(*id)),
        Operand::Const(_) => None,
    });
    let function = sig.ident.to_string();
    quote! {
        static #name: ::backprop_runtime::graph::Shape = ::backprop_runtime::graph::Shape {
            function: #function,
            nodes: &[#(#nodes),*],
            edges: &[#(#edges),*],
            regions: &[#(#regions),*],
            outputs: &[#(#outputs),*],
        };
    }
}

fn role(sig: &Signature, graph: &Graph, id: NodeId) -> TokenStream {
    let node = &graph.nodes[id];
    let role = if !shown(graph, id) {
        quote!(Hidden)
    } else if matches!(node.kind, NodeKind::Param) {
        match sig.params.get(id).and_then(|p| p.differentiable.as_ref()) {
            Some(_) => quote!(Parameter),
            None => quote!(Data),
        }
    } else if node.array.is_some() {
        quote!(Array)
    } else {
        quote!(Value)
    };
    quote!(::backprop_runtime::graph::Role::#role)
}

/// What computes a node, as the generated code writes it, compacted:
/// `x + sigy`, `sigmoid(y)`, `w[i]`, `dot(w, x)`.
fn op_label(graph: &Graph, id: NodeId) -> String {
    let node = &graph.nodes[id];
    let name = |id: NodeId| graph.nodes[id].name.to_string();
    let arg = |o: &Operand| compact(&argument(graph, o));
    match &node.kind {
        NodeKind::Op { .. } | NodeKind::Cast { .. } => compact(&value(graph, node)),
        NodeKind::Read { array, index } => format!("{}[{}]", name(*array), arg(index)),
        NodeKind::Write {
            array,
            index,
            value,
            push,
        } => match push {
            true => format!("{}.push({})", name(*array), arg(value)),
            false => format!("{}[{}] := {}", name(*array), arg(index), arg(value)),
        },
        NodeKind::Call { path, args, .. } => {
            let args: Vec<String> = args.iter().map(arg).collect();
            format!("{}({})", compact(&quote!(#path)), args.join(", "))
        }
        NodeKind::Element {
            call,
            index,
            source,
        } => match source {
            ElementSource::Field => format!("{}.{index}", name(*call)),
            ElementSource::Item => format!("{}[{index}]", name(*call)),
            ElementSource::Value => name(*call),
            ElementSource::Argument(_) => format!("written by {}", name(*call)),
        },
        NodeKind::Buffer {
            fill,
            len,
            fixed,
            growable,
        } => match (growable, fixed) {
            (true, _) => "Vec::new()".to_string(),
            (false, true) => format!("[{}; {}]", arg(fill), arg(len)),
            (false, false) => format!("vec![{}; {}]", arg(fill), arg(len)),
        },
        NodeKind::LoopOut => "(after the loop)".to_string(),
        NodeKind::LoopParam => "(at the start of the iteration)".to_string(),
        NodeKind::Merge => "(from the arm that ran)".to_string(),
        _ => String::new(),
    }
}

/// Tokens as text a person writes: no space before `(`, `[`, `.`, `,`, none
/// after `(`, `[`, `.`, and the runtime's path left out.
fn compact(tokens: &TokenStream) -> String {
    let text = tokens.to_string().replace(":: backprop_runtime :: ", "");
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (k, c) in chars.iter().enumerate() {
        if *c == ' ' {
            let before = out.chars().last().unwrap_or(' ');
            let after = chars.get(k + 1).copied().unwrap_or(' ');
            let glued_after = matches!(after, '(' | '[')
                && (before.is_alphanumeric() || matches!(before, '_' | ')' | ']' | '!'));
            if glued_after
                || matches!(after, ')' | ']' | ',' | '.' | ';')
                || matches!(before, '(' | '[' | '.')
                || (after == ':' && before == ':')
                || (before == ':' && chars.get(k.wrapping_sub(2)) == Some(&':'))
            {
                continue;
            }
        }
        out.push(*c);
    }
    out
}

/// Each block: its parent, its kind and its label (`for i in 0..n`, `if x >
/// 0.0`, `else`). Region 0 is the function's body.
fn regions(graph: &Graph) -> Vec<(usize, TokenStream, String)> {
    let mut regions: Vec<(usize, TokenStream, String)> = graph
        .regions
        .iter()
        .map(|r| (r.parent.unwrap_or(0), quote!(Body), String::new()))
        .collect();
    traverse::walk(&graph.body, Order::Forward, &mut |_, stmt| match stmt {
        Stmt::Loop(looped) => {
            if let Some(region) = regions.get_mut(looped.body.region) {
                region.1 = quote!(Loop);
                region.2 = loop_label(graph, looped);
            }
        }
        Stmt::If(branch) => {
            for (k, arm) in branch.arms.iter().enumerate() {
                if let Some(region) = regions.get_mut(arm.region) {
                    region.1 = quote!(Arm);
                    region.2 = arm_label(graph, branch, k);
                }
            }
        }
        _ => {}
    });
    regions
}

fn loop_label(graph: &Graph, looped: &Loop) -> String {
    let var = looped
        .var
        .map_or_else(|| "_".to_string(), |v| graph.nodes[v].name.to_string());
    match &looped.iter {
        Some(iter) => format!("for {var} in {}", compact(&quote!(#iter))),
        None if tests_a_condition(&looped.body) => "while".to_string(),
        None => "loop".to_string(),
    }
}

/// A `while` loop's body: the test of its condition among its statements.
fn tests_a_condition(body: &Block) -> bool {
    body.stmts.iter().any(|s| matches!(s, Stmt::BreakUnless(_)))
}

fn arm_label(graph: &Graph, branch: &If, k: usize) -> String {
    let operand = |o: &Operand| match o {
        Operand::Node(id) => match &graph.nodes[*id].kind {
            NodeKind::Inactive { .. } => compact(&value(graph, &graph.nodes[*id])),
            _ => graph.nodes[*id].name.to_string(),
        },
        Operand::Const(c) => compact(&c.tokens),
    };
    match &branch.test {
        Test::Cond(cond) if k == 0 => format!("if {}", operand(cond)),
        Test::Cond(cond) => format!("else (not {})", operand(cond)),
        Test::Match {
            scrutinee,
            patterns,
        } => {
            let pattern = patterns.get(k);
            format!(
                "{} matches {}",
                operand(scrutinee),
                compact(&quote!(#pattern))
            )
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Operand,
    LoopEntry,
    Carried,
    LoopExit,
    LoopBypass,
}

struct EdgeRow {
    from: NodeId,
    to: NodeId,
    term: String,
    kind: Kind,
    region: RegionId,
}

/// The wires: first those the backward pass wrote a term along (their
/// numbers are its calls'), then each operand without one, then the loops'
/// variables into, through and out of their loops.
fn edges(graph: &Graph, backward: &Backward) -> Vec<EdgeRow> {
    let mut rows: Vec<EdgeRow> = backward
        .edges
        .iter()
        .map(|(from, to, term)| EdgeRow {
            from: *from,
            to: *to,
            term: term.to_string(),
            kind: Kind::Operand,
            region: 0,
        })
        .collect();
    let operand = |rows: &mut Vec<EdgeRow>, from: NodeId, to: NodeId, kind: Kind, region| {
        if !shown(graph, from) || !shown(graph, to) {
            return;
        }
        if kind == Kind::Operand
            && rows
                .iter()
                .any(|r| r.from == from && r.to == to && r.region == region)
        {
            return;
        }
        rows.push(EdgeRow {
            from,
            to,
            term: String::new(),
            kind,
            region,
        });
    };
    for (to, node) in graph.nodes.iter().enumerate() {
        let mut sources: Vec<NodeId> = node
            .args()
            .iter()
            .filter_map(|a| match a {
                Operand::Node(id) => Some(*id),
                Operand::Const(_) => None,
            })
            .collect();
        match &node.kind {
            NodeKind::Read { array, .. } | NodeKind::Write { array, .. } => {
                sources.push(version_before(graph, *array, to));
            }
            NodeKind::Element { call, .. } => sources.push(*call),
            _ => {}
        }
        for from in sources {
            operand(&mut rows, from, to, Kind::Operand, 0);
        }
    }
    traverse::walk(&graph.body, Order::Forward, &mut |_, stmt| match stmt {
        Stmt::If(branch) => {
            for arm in &branch.arms {
                for (result, merge) in arm.results.iter().zip(&branch.merges) {
                    if let Operand::Node(from) = result {
                        operand(&mut rows, *from, *merge, Kind::Operand, arm.region);
                    }
                }
            }
        }
        Stmt::Loop(looped) => {
            let region = looped.body.region;
            for (carried, next) in looped.carried.iter().zip(&looped.body.results) {
                if let Operand::Node(init) = &carried.init {
                    operand(&mut rows, *init, carried.param, Kind::LoopEntry, region);
                    operand(&mut rows, *init, carried.out, Kind::LoopBypass, region);
                }
                if let Operand::Node(next) = next {
                    operand(&mut rows, *next, carried.param, Kind::Carried, region);
                    operand(&mut rows, *next, carried.out, Kind::LoopExit, region);
                }
            }
        }
        _ => {}
    });
    rows
}

/// The array as node `at` finds it: the last write to it drawn before
/// `at` in the program's order, or the array itself.
fn version_before(graph: &Graph, array: NodeId, at: NodeId) -> NodeId {
    (array + 1..at)
        .rev()
        .find(|w| {
            shown(graph, *w)
                && matches!(graph.nodes[*w].kind, NodeKind::Write { array: a, .. } if a == array)
        })
        .unwrap_or(array)
}
