//! The picture of a function's graph, `f::graph(args)`: the forward and
//! backward passes written once more (`forward_recorded`,
//! `backward_recorded`) with a call to a `Recorder` after each node, each
//! adjoint and each term (`calls`), and a constant that describes the nodes,
//! wires and blocks the calls refer to by number, the IR's node numbers
//! (`shape`).
//!
//! The recorded passes are not part of `SOURCE`: they are the same code with
//! the recording calls, which only the picture needs.

mod calls;
mod shape;

pub use calls::{
    adjoint, after_branch, after_node, arm, around_loop, around_reversed_loop, is_float, iteration,
    probe_traits, record_value, term,
};

use super::api::passed_params;
use super::module::Generic;
use super::tape::Tape;
use crate::emit::backward::Backward;
use crate::emit::names::Names;
use crate::ir::{Graph, NodeId, NodeKind};
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

/// The numbers in the recording calls: usize literals.
fn number(n: usize) -> Literal {
    Literal::usize_unsuffixed(n)
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

/// `graph` and `graph_with`, and the recorded passes they run.
pub struct Recorded<'a> {
    pub backward: &'a Backward,
    pub forward_fn: TokenStream,
    pub backward_fn: TokenStream,
}

/// `f::graph(args)` and `f::graph_with(args, iterations)`; `None` for a
/// function with no result, or whose `&mut` argument the tape copies.
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
    let shape = shape::shape(sig, graph, recorded.backward, &shape_name);
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
    let mut copies = tape.passed_arguments(&args);
    let core_args = tape.core_arguments(sig, &args);
    copies.extend(crate::emit::passes::into_grad(recorded.backward));
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
            let #value_local #value_ty = self::forward_recorded(&mut #tape_local, #(#core_args,)* &mut #recorder);
            #result
            self::backward_recorded(&#tape_local, #seed, &mut #grad_local, #work #(#copies,)* &mut #recorder);
            #gradients
            #recorder.finish()
        }
    })
}
