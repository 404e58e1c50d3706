//! The picture of a function's graph, `f::graph(args)`: the forward and
//! backward passes written once more (`forward_recorded`,
//! `backward_recorded`) with a call to a `Recorder` after each node, each
//! adjoint and each term, and a constant that describes the nodes, wires and
//! blocks the calls refer to by number (the IR's node numbers).
//!
//! The recorded passes are not part of `SOURCE`: they are the same code with
//! the recording calls, which only the picture needs.

use super::api::passed_params;
use super::module::Generic;
use super::tape::Tape;
use crate::emit::backward::Backward;
use crate::emit::forward::{argument, is_read, value};
use crate::emit::names::Names;
use crate::ir::traverse::{self, Order};
use crate::ir::{
    Block, ElementSource, Graph, If, Loop, NodeId, NodeKind, Operand, RegionId, Stmt, Test,
};
use crate::parse::signature::{Outputs, Signature};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;

/// Whether the picture draws a node: the parameters, and the values the
/// gradient flows through (not lengths, counters or integer work).
pub fn shown(graph: &Graph, id: NodeId) -> bool {
    let node = &graph.nodes[id];
    match node.kind {
        NodeKind::Param => true,
        NodeKind::Op { .. }
        | NodeKind::Cast { .. }
        | NodeKind::Call { .. }
        | NodeKind::Element { .. }
        | NodeKind::Merge
        | NodeKind::LoopParam
        | NodeKind::LoopOut
        | NodeKind::Buffer { .. }
        | NodeKind::Read { .. }
        | NodeKind::Write { .. } => node.active,
        _ => false,
    }
}

/// Whether the node's adjoint is a float bound to a local when the backward
/// pass reaches it.
fn scalar_adjoint(graph: &Graph, id: NodeId) -> bool {
    let node = &graph.nodes[id];
    if node.array.is_some() {
        return false;
    }
    match &node.kind {
        NodeKind::Op { .. }
        | NodeKind::Cast { .. }
        | NodeKind::Read { .. }
        | NodeKind::Element { .. }
        | NodeKind::Merge
        | NodeKind::LoopParam
        | NodeKind::LoopOut => true,
        // One float returned, nothing written: the call's local is it.
        NodeKind::Call { .. } => {
            let (returned, written) = graph.call_outputs(id);
            returned == 1 && written.is_empty() && graph.elements_of(id).next().is_none()
        }
        _ => false,
    }
}

/// The numbers in the recording calls: usize literals.
fn number(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
}

/// `recorder.value(id, value)` for a node of a float type the code names;
/// else through the probe that accepts any type (slower to type-check).
pub fn record_value(
    graph: &Graph,
    recorder: &Ident,
    id: NodeId,
    value: &TokenStream,
) -> TokenStream {
    let number = number(id);
    if is_float(graph, id) {
        return quote!(#recorder.value(#number, #value););
    }
    let probe = probe(value);
    quote!(#probe.record(#recorder, #number);)
}

/// A node that is surely a float of the type it is given: a primitive's
/// result, an element read, a cast, a float parameter. (A call's result or a
/// variable's version may hold an array the IR does not see as one.)
pub fn is_float(graph: &Graph, id: NodeId) -> bool {
    let node = &graph.nodes[id];
    let certain = matches!(
        node.kind,
        NodeKind::Op { .. } | NodeKind::Cast { .. } | NodeKind::Read { .. } | NodeKind::Param
    );
    certain && graph.float(id).is_some() && node.array.is_none()
}

/// `(&&&Probe(&value))`: method resolution picks the recording for its type.
fn probe(value: &TokenStream) -> TokenStream {
    let single = value.clone().into_iter().count() == 1;
    let value = if single {
        value.clone()
    } else {
        quote!((#value))
    };
    quote!((&&&::backprop_runtime::graph::Probe(&#value)))
}

/// The forward pass's call after a node's statement, if it is drawn (merges,
/// loop variables and parameters are recorded by their statements).
pub fn after_node(graph: &Graph, recorder: &Ident, id: NodeId) -> TokenStream {
    if !shown(graph, id) {
        return TokenStream::new();
    }
    let node = &graph.nodes[id];
    match &node.kind {
        NodeKind::Param | NodeKind::Merge | NodeKind::LoopParam | NodeKind::LoopOut => {
            TokenStream::new()
        }
        // A statement: nothing of its own to show, but counted.
        NodeKind::Write { .. } => {
            let id = number(id);
            quote!(#recorder.occur(#id);)
        }
        // Bound to its local only when something reads it.
        NodeKind::Call { .. } if !scalar_adjoint(graph, id) || !is_read(graph, id) => {
            let id = number(id);
            quote!(#recorder.occur(#id);)
        }
        _ => {
            let name = &node.name;
            record_value(graph, recorder, id, &quote!(#name))
        }
    }
}

/// The backward pass's call once a node's adjoint is summed.
pub fn adjoint(graph: &Graph, recorder: &Ident, id: NodeId, d: &Ident) -> TokenStream {
    if !shown(graph, id) || matches!(graph.nodes[id].kind, NodeKind::Param) {
        return TokenStream::new();
    }
    let number = number(id);
    if scalar_adjoint(graph, id) && is_float(graph, id) {
        quote!(#recorder.adjoint(#number, #d);)
    } else if scalar_adjoint(graph, id) {
        let probe = probe(&quote!(#d));
        quote!(#probe.adjoint(#recorder, #number);)
    } else {
        quote!(#recorder.visit(#number);)
    }
}

/// The backward pass's call for a term along wire `edge` (of a float type
/// the code names, when `float`).
pub fn term(recorder: &Ident, edge: usize, float: bool, term: &TokenStream) -> TokenStream {
    let edge = number(edge);
    if float {
        return quote!(#recorder.term(#edge, #term););
    }
    let probe = probe(term);
    quote!(#probe.term(#recorder, #edge);)
}

/// The traits the probes' methods come from, for the top of each recorded
/// function.
pub fn probe_traits() -> TokenStream {
    quote! {
        #[allow(unused_imports)]
        use ::backprop_runtime::graph::{RecordAny as _, RecordFixed as _, RecordScalar as _, RecordSlice as _};
    }
}

/// The start of an arm of a branch: it ran.
pub fn arm(recorder: &Ident, region: RegionId) -> TokenStream {
    let region = number(region);
    quote!(#recorder.arm(#region);)
}

/// Before a loop, and after it (with the values of its variables after it).
pub fn around_loop(graph: &Graph, recorder: &Ident, looped: &Loop) -> (TokenStream, TokenStream) {
    let region = number(looped.body.region);
    let before = quote!(#recorder.enter_loop(#region););
    let mut after = quote!(#recorder.leave_loop(););
    for carried in &looped.carried {
        if shown(graph, carried.out) {
            let out = &graph.nodes[carried.out].name;
            after.extend(record_value(graph, recorder, carried.out, &quote!(#out)));
        }
    }
    (before, after)
}

/// After a branch: the values it merges.
pub fn after_branch(graph: &Graph, recorder: &Ident, branch: &If) -> TokenStream {
    let mut code = TokenStream::new();
    for merge in &branch.merges {
        if shown(graph, *merge) {
            let name = &graph.nodes[*merge].name;
            code.extend(record_value(graph, recorder, *merge, &quote!(#name)));
        }
    }
    code
}

/// The start of each iteration of a loop: counted, and its variables' values
/// at the start.
pub fn iteration(graph: &Graph, recorder: &Ident, looped: &Loop) -> TokenStream {
    let mut code = quote!(#recorder.iteration(););
    for carried in &looped.carried {
        if shown(graph, carried.param) {
            let out = &graph.nodes[carried.out].name;
            code.extend(record_value(graph, recorder, carried.param, &quote!(#out)));
        }
    }
    code
}

/// `const SHAPE: Shape = ..`: the nodes, wires and blocks, with `terms`, the
/// wires the backward pass wrote a term along (in the order of the numbers
/// its calls use).
pub fn shape(sig: &Signature, graph: &Graph, backward: &Backward, name: &Ident) -> TokenStream {
    let regions = regions(graph);
    let nodes = graph.nodes.iter().enumerate().map(|(id, node)| {
        let role = role(sig, graph, id);
        let op = op_label(graph, id);
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
        NodeKind::Op { .. } | NodeKind::Cast { .. } | NodeKind::Inactive { .. } => {
            compact(&value(graph, node))
        }
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
        None if starts_with_condition(&looped.body) => "while".to_string(),
        None => "loop".to_string(),
    }
}

fn starts_with_condition(body: &Block) -> bool {
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

/// The seed of ones `backward` takes (one per output; a slice of ones of a
/// `&mut [f64]`'s length), and the statements that make those slices.
fn seed_of_ones(
    sig: &Signature,
    graph: &Graph,
    args: &[Ident],
    names: &mut Names,
) -> (TokenStream, TokenStream) {
    let one = sig.ret.one();
    if sig.inouts().next().is_none() {
        let k = graph.outputs.len();
        let ones = std::iter::repeat(&one).take(k);
        let seed = match sig.outputs {
            Outputs::One => one.clone(),
            Outputs::Tuple => quote!((#(#ones),*)),
            Outputs::Array => quote!([#(#ones),*]),
        };
        return (seed, TokenStream::new());
    }
    let mut seeds: Vec<TokenStream> = Vec::new();
    if sig.returns_value {
        seeds.push(one.clone());
    }
    let mut make = TokenStream::new();
    for (k, param) in sig.inouts() {
        let float = param
            .differentiable
            .clone()
            .unwrap_or_else(|| sig.ret.clone());
        let one = float.one();
        if param.writes_array() {
            let (ones, arg) = (names.fresh("ones"), &args[k]);
            make.extend(quote!(let #ones = ::std::vec![#one; #arg.len()];));
            seeds.push(quote!(&#ones[..]));
        } else {
            seeds.push(one);
        }
    }
    let seed = match seeds.len() {
        1 => quote!(#(#seeds)*),
        _ => quote!((#(#seeds),*)),
    };
    (seed, make)
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

/// `graph` and `graph_with`, and the recorded passes they run.
pub struct Recorded<'a> {
    pub backward: &'a Backward,
    pub forward_fn: TokenStream,
    pub backward_fn: TokenStream,
}

/// `f::graph(args)` and `f::graph_with(args, iterations)`, for a function
/// with one result and no `&mut` parameter.
pub(super) fn graph_fns(
    sig: &Signature,
    graph: &Graph,
    recorded: Recorded,
    tape: &Tape,
    names: &Names,
    generic: &Generic,
) -> Option<TokenStream> {
    // A `&mut` argument's copy would be read after the forward pass wrote it.
    let inouts = sig.inouts().next().is_some();
    if (graph.outputs.is_empty() && !inouts) || (inouts && tape.argument_copies().next().is_some())
    {
        return None;
    }
    let mut names = names.clone();
    let shape_name = names.fresh("SHAPE");
    let shape = shape(sig, graph, recorded.backward, &shape_name);
    let (params, args) = passed_params(sig, &mut names);
    let iterations = names.fresh("iterations");
    let (recorder, tape_local, grad_local, value_local) = (
        names.fresh("recorder"),
        names.fresh("tape"),
        names.fresh("grad"),
        names.fresh("value"),
    );
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let (grad_ty, tape_ty, ret) = (generic.grad(), generic.tape(), &sig.ret_ty);
    let (seed, ones) = seed_of_ones(sig, graph, &args, &mut names);
    // The parameters' values, and after the backward pass their gradients.
    let mut inputs = TokenStream::new();
    let mut gradients = TokenStream::new();
    for (id, (param, arg)) in sig.params.iter().zip(&args).enumerate() {
        let value = match param.by_reference || (param.inout && param.shape.is_none()) {
            true => quote!(*#arg),
            false => quote!(#arg),
        };
        inputs.extend(record_value(graph, &recorder, id, &value));
        if param.differentiable.is_none() {
            continue;
        }
        let (field, number) = (&param.ident, self::number(id));
        gradients.extend(match param.shape {
            None => quote!(#recorder.gradient(#number, #grad_local.#field);),
            Some(_) => quote!(#recorder.gradient_array(#number, &#grad_local.#field[..]);),
        });
    }
    // As `grad_into`: the arguments the backward pass reads again are passed
    // to it, and its memory is new.
    let copies = tape.argument_copies().map(|c| {
        let arg = c.param.and_then(|k| args.get(k)).unwrap_or(&c.field);
        match c.is_reference {
            true => quote!(#arg),
            false => quote!(&#arg),
        }
    });
    let work = (!recorded.backward.work_fields.is_empty()).then(|| quote!(&mut Work::default(),));
    let (forward_fn, backward_fn) = (&recorded.forward_fn, &recorded.backward_fn);
    let seeded = match (&sig.outputs, inouts) {
        (Outputs::One, false) => "seed one",
        _ => "a seed of one on each output (`&mut` parameters' final values included): the adjoints of their sum; the function runs as a call of it does, writing its `&mut` arguments",
    };
    let doc = format!(
        "The graph of `{}` at these arguments, for a picture (`.to_svg()`, `.to_dot()`): each node with its value and its adjoint ({seeded}), each wire with its term. Loops show their first three iterations; `graph_with` chooses how many.",
        sig.ident
    );
    let (value_ty, result) = match (&sig.outputs, sig.returns_value) {
        (Outputs::One, true) => (quote!(: #ret), quote!(#recorder.result(#value_local);)),
        _ => (quote!(), quote!()),
    };
    let probes = probe_traits();
    let too_many = (params.len() + 1 > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    Some(quote! {
        #shape

        #forward_fn

        #backward_fn

        #[doc = #doc]
        #[must_use]
        #[inline]
        pub fn graph #generics (#(#params),*) -> ::backprop_runtime::graph::Graph #where_clause {
            self::graph_with(#(#args,)* 3)
        }

        /// `graph`, drawing the first `iterations` iterations of each loop.
        #[must_use]
        #[inline]
        #too_many
        pub fn graph_with #generics (#(#params,)* #iterations: usize) -> ::backprop_runtime::graph::Graph #where_clause {
            let mut #recorder = ::backprop_runtime::graph::Recorder::new(&#shape_name, #iterations);
            {
                #probes
                let #recorder = &mut #recorder;
                #inputs
            }
            let mut #tape_local: #tape_ty = ::core::default::Default::default();
            let mut #grad_local: #grad_ty = ::core::default::Default::default();
            #ones
            let #value_local #value_ty = self::forward_recorded(&mut #tape_local, #(#args,)* &mut #recorder);
            #result
            self::backward_recorded(&#tape_local, #seed, &mut #grad_local, #work #(#copies,)* &mut #recorder);
            #gradients
            #recorder.finish()
        }
    })
}
