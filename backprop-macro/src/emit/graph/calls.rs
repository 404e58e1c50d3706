//! The recording calls of `graph`'s passes: after each node, each summed
//! adjoint, each term; at each arm that ran, around each loop and at each
//! iteration's start.

use super::{number, shown};
use crate::emit::forward::is_read;
use crate::ir::{Graph, If, Loop, NodeId, NodeKind, RegionId};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

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
        // One float returned, nothing written: the call's local is it. (Not
        // a value passed on whole: its adjoint's type, maybe an array, is
        // known only where it seeds the call, after it is recorded.)
        NodeKind::Call { .. } => {
            let (returned, written) = graph.call_outputs(id);
            returned == 1
                && written.is_empty()
                && graph.elements_of(id).next().is_none()
                && !graph.passed_on_whole(id)
        }
        _ => false,
    }
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
    match (scalar_adjoint(graph, id), is_float(graph, id)) {
        (true, true) => quote!(#recorder.adjoint(#number, #d);),
        (true, false) => {
            let probe = probe(&quote!(#d));
            quote!(#probe.adjoint(#recorder, #number);)
        }
        (false, _) => quote!(#recorder.visit(#number);),
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

/// Around a loop of the backward pass, and at the start of each of its
/// iterations: the recorder follows which of the forward pass's iterations
/// it is reversing (`first_to_last` where it runs them in their order).
pub fn around_reversed_loop(
    recorder: &Ident,
    looped: &Loop,
    first_to_last: bool,
) -> [TokenStream; 3] {
    let region = number(looped.body.region);
    [
        quote!(#recorder.enter_reversed(#region, #first_to_last);),
        quote!(#recorder.reversed_iteration();),
        quote!(#recorder.leave_reversed();),
    ]
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
