//! Forward mode: each active node's tangent computed right after the node,
//! `let dot_sq = dot_x * (2.0 * x);`, from the same derivative table as the
//! backward pass: a rule gives the upstream adjoint times the local partial,
//! so with a tangent in place of the adjoint it gives that operand's share of
//! the node's tangent. `api` builds the functions users call from these
//! statements: `tangent` (one direction), `tangents` (N directions at once,
//! each tangent a `Lanes` of N) and `jacobian_fwd`.
//!
//! A call of another differentiated function (or a custom rule) gets its
//! tangent from the callee's reverse pass: the callee's `pullback` with a unit
//! seed per output gives that output's gradient, dotted with the arguments'
//! tangents. Exact, and it needs nothing of the callee but the protocol every
//! callee already has; with N lanes the callee's gradient is computed once and
//! dotted with each.

mod api;

pub(super) use api::{jacobian_fwd_fn, tangent_fn, tangents_fn};

use crate::ir::{FloatTy, Graph, NodeId, NodeKind, Operand};
use crate::rules::RuleCtx;
use proc_macro2::{Ident, TokenStream};
use quote::quote;
use std::collections::{BTreeMap, BTreeSet};

/// The tangents of one forward-mode function: each active node's name
/// (`dot_` + its own), and whether they are floats or lanes.
pub struct Tangents {
    pub names: BTreeMap<NodeId, Ident>,
    /// `N` in `Lanes<f64, N>`, when each tangent holds N directions.
    pub lanes: Option<Ident>,
    /// With one direction: the function's generic parameters and where
    /// clause, which the fallback of a callee's `tangent_rule` repeats. (N
    /// directions go through the callee's pullback.)
    pub rule_generics: Option<(TokenStream, TokenStream)>,
    /// Struct parameters passed whole to callees (`Param::model`), with the
    /// struct type: their tangent is a gradient struct, dotted with the
    /// callee's pullback of it.
    pub models: BTreeMap<NodeId, syn::Type>,
}

impl Tangents {
    pub fn get(&self, id: &NodeId) -> Option<&Ident> {
        self.names.get(id)
    }

    /// A tangent that is zero: the float's zero, or N lanes of it.
    fn zero(&self, float: &FloatTy) -> TokenStream {
        match &self.lanes {
            Some(n) => quote!(::backprop_runtime::Lanes::<#float, #n>::zero()),
            None => float.zero(),
        }
    }

    /// `dot as f32`, lane by lane for lanes.
    fn cast(&self, dot: &TokenStream, to: &FloatTy) -> TokenStream {
        match &self.lanes {
            Some(_) => quote!(#dot.cast::<#to>()),
            None => quote!(#dot as #to),
        }
    }
}

/// An operand's tangent: its node's, or zero.
pub fn of_operand(graph: &Graph, tangents: &Tangents, operand: &Operand) -> TokenStream {
    match operand {
        Operand::Node(id) => match tangents.get(id) {
            Some(dot) => quote!(#dot),
            None => tangents.zero(&graph.float_or_ret(*id)),
        },
        Operand::Const(c) => tangents.zero(c.float.as_ref().unwrap_or(&graph.ret)),
    }
}

/// The derivative of a call's output along its arguments' tangents: the
/// callee's `pullback` with that output's unit `seed`, dotted with them.
fn through_pullback(
    graph: &Graph,
    tangents: &Tangents,
    call: NodeId,
    seed: &TokenStream,
) -> TokenStream {
    let NodeKind::Call {
        path,
        args,
        borrows,
        tape,
        parts,
        arg_spans,
        ..
    } = &graph.nodes[call].kind
    else {
        return TokenStream::new();
    };
    // Spanned at the call and its arguments, as the backward pass's code: a
    // custom rule whose `pullback_into` does not fit is reported there.
    let span = graph.nodes[call].span;
    let zero = tangents.zero(&graph.float_or_ret(call));
    let mut bound = Vec::new();
    let mut terms = Vec::new();
    let before = written_before(graph, tangents, call);
    for (k, arg) in args.iter().enumerate() {
        // An array the call writes: its tangent as the call found it.
        let dot_arg = match arg {
            Operand::Node(id) => before
                .iter()
                .find(|(a, _)| a == id)
                .map(|(_, before)| before)
                .or_else(|| tangents.get(id)),
            Operand::Const(_) => None,
        };
        let arg_span = arg_spans.get(k).copied().unwrap_or(span);
        let partial = quote::format_ident!("partial_{k}", span = arg_span);
        // A call's value passed on whole (`g(f(x))`): its share is `f`'s
        // pullback seeded with `g`'s partial for it, as the reverse pass
        // seeds it, so its shape stays the callee's to know.
        if let Operand::Node(inner) = arg {
            if graph.passed_on_whole(*inner) && carries(graph, tangents, *inner) {
                let partial = quote::format_ident!("partial_{k}_{inner}", span = arg_span);
                // (A value lent, `g(&p)`, may come back as a slice.)
                let lent = matches!(borrows.get(k), Some(crate::ir::Borrow::Shared));
                let seed = match lent {
                    true => quote!(::backprop_runtime::IntoSeed::into_seed(#partial)),
                    false => quote!(#partial),
                };
                let share = through_pullback(graph, tangents, *inner, &seed);
                // (A block, parenthesised to be a term of a sum.)
                terms.push(quote!((#share)));
                bound.push(quote!(#partial));
                continue;
            }
        }
        let Some(dot_arg) = dot_arg else {
            bound.push(quote::quote_spanned!(arg_span=> _));
            continue;
        };
        let is_array = matches!(arg, Operand::Node(id) if graph.nodes[*id].array.is_some());
        let is_model = matches!(arg, Operand::Node(id) if tangents.models.contains_key(id));
        terms.push(if is_model {
            quote::quote_spanned!(arg_span=> ::backprop_runtime::Gradient::dot(#partial, #dot_arg))
        } else if is_array {
            let part = match lent_part(graph, parts, k) {
                Some((start, end)) => quote!(&#dot_arg[#start..#end]),
                None => quote!(#dot_arg.iter()),
            };
            quote::quote_spanned!(arg_span=> #partial.iter().zip(#part).fold(#zero, |sum, (p, t)| sum + *t * *p))
        } else {
            quote::quote_spanned!(arg_span=> #dot_arg * #partial)
        });
        bound.push(quote!(#partial));
    }
    if terms.is_empty() {
        return zero;
    }
    let pattern = if bound.len() == 1 {
        quote::quote_spanned!(span=> (#(#bound)*,))
    } else {
        quote::quote_spanned!(span=> (#(#bound),*))
    };
    // The call's local holds its tape and the callee's gradient, which the
    // pullback fills and hands back by position.
    let pullback = quote::quote_spanned!(span=> let #pattern = #path::pullback_into(&#tape.0, #seed, &mut #tape.1););
    quote!({
        #pullback
        #(#terms)+*
    })
}

/// The arrays a call writes through `&mut` that have tangents, each with the
/// local that keeps its tangent as the call found it (the tangents after the
/// call are computed from those before).
fn written_before(graph: &Graph, tangents: &Tangents, call: NodeId) -> Vec<(NodeId, Ident)> {
    let NodeKind::Call { tape, .. } = &graph.nodes[call].kind else {
        return Vec::new();
    };
    graph
        .writes_to_arrays(call)
        .filter(|array| tangents.get(array).is_some())
        .enumerate()
        .map(|(k, array)| (array, quote::format_ident!("{tape}_dot_{k}")))
        .collect()
}

/// The seed of a call's pullback that picks output `k`: `unit` there, zero
/// for the others. The outputs of a call that writes its arguments are its
/// returned values, then each argument passed by `&mut` (an array's seed a
/// slice: zeros for the arrays not picked, from `zeros` where the caller
/// made them once, else made here).
fn seed_picking(
    graph: &Graph,
    call: NodeId,
    k: usize,
    unit: &TokenStream,
    zeros: &BTreeMap<NodeId, Ident>,
) -> TokenStream {
    let (first, written) = graph.call_outputs(call);
    let float = graph.float_or_ret(call);
    let zero = float.zero();
    let seeds: Vec<TokenStream> = (0..first + written.len())
        .map(|j| {
            if j == k {
                return unit.clone();
            }
            match j.checked_sub(first).map(|w| written[w]) {
                Some(Operand::Node(array)) if graph.nodes[*array].array.is_some() => {
                    match zeros.get(array) {
                        Some(made) => quote!(&#made[..]),
                        None => {
                            let len = written_len(graph, call, *array);
                            quote!(&::std::vec![#zero; #len][..])
                        }
                    }
                }
                _ => zero.clone(),
            }
        })
        .collect();
    crate::emit::backward::call_seed(graph, call, &seeds)
}

/// The length of what a call writes of `array`: the part it is lent
/// (`&mut h[a..b]`), or the whole array.
fn written_len(graph: &Graph, call: NodeId, array: NodeId) -> TokenStream {
    match written_part(graph, call, array) {
        Some((start, end)) if from_zero(&start) => end,
        Some((start, end)) => quote!(#end - #start),
        None => {
            let name = &graph.nodes[array].name;
            quote!(#name.len())
        }
    }
}

/// Whether a part's start is the literal `0` (`&mut h[..n]`), which the
/// code leaves out rather than subtract or add.
fn from_zero(start: &TokenStream) -> bool {
    start.to_string() == "0"
}

/// The bounds of the part of `array` a call is lent by `&mut`, if a part.
fn written_part(graph: &Graph, call: NodeId, array: NodeId) -> Option<(TokenStream, TokenStream)> {
    let NodeKind::Call { args, parts, .. } = &graph.nodes[call].kind else {
        return None;
    };
    let k = args
        .iter()
        .position(|a| matches!(a, Operand::Node(id) if *id == array))?;
    lent_part(graph, parts, k)
}

/// The bounds of argument `k` of a call when it is a part of an array
/// (`&x[a..b]`), as the forward pass spells them.
fn lent_part(
    graph: &Graph,
    parts: &[Option<crate::ir::Bounds>],
    k: usize,
) -> Option<(TokenStream, TokenStream)> {
    let (start, end) = parts.get(k).cloned().flatten()?;
    Some((
        super::forward::argument(graph, &start),
        super::forward::argument(graph, &end),
    ))
}

/// After a call that writes arrays through `&mut`: each written element's
/// tangent, from the callee's pullback with a unit seed on that element
/// (one reverse pass per element written), dotted with the tangents the
/// arguments had before the call.
fn written_tangents(graph: &Graph, tangents: &Tangents, call: NodeId) -> TokenStream {
    let before = written_before(graph, tangents, call);
    if before.is_empty() {
        return TokenStream::new();
    }
    let NodeKind::Call { tape, .. } = &graph.nodes[call].kind else {
        return TokenStream::new();
    };
    // Named after the call's tape, a name no other local has.
    let (unit, element) = (
        quote::format_ident!("{tape}_unit"),
        quote::format_ident!("{tape}_element"),
    );
    let (first, written) = graph.call_outputs(call);
    let float = graph.float_or_ret(call);
    let (zero, one) = (float.zero(), float.one());
    let mut code = TokenStream::new();
    for (array, kept) in &before {
        let dot = &tangents.names[array];
        code.extend(quote!(let #kept = #dot.to_vec();));
    }
    // The zero seeds of the arrays not picked (when another array's
    // elements are), made once rather than at each element.
    let mut zeros = BTreeMap::new();
    for (w, arg) in written.iter().enumerate() {
        let Operand::Node(array) = arg else { continue };
        let seeds_another = before.iter().any(|(picked, _)| picked != array);
        if graph.nodes[*array].array.is_some() && seeds_another {
            let made = quote::format_ident!("{tape}_zeros_{w}");
            let len = written_len(graph, call, *array);
            code.extend(quote!(let #made = ::std::vec![#zero; #len];));
            zeros.insert(*array, made);
        }
    }
    for (array, _) in &before {
        let Some(w) = written
            .iter()
            .position(|a| matches!(a, Operand::Node(id) if id == array))
        else {
            continue;
        };
        let dot = &tangents.names[array];
        let len = written_len(graph, call, *array);
        let offset = match written_part(graph, call, *array) {
            Some((start, _)) if !from_zero(&start) => quote!(#start +),
            _ => quote!(),
        };
        let seed = seed_picking(graph, call, first + w, &quote!(&#unit[..]), &zeros);
        let along = through_pullback(graph, tangents, call, &seed);
        code.extend(quote! {
            let mut #unit = ::std::vec![#zero; #len];
            for #element in 0..#len {
                #unit[#element] = #one;
                #dot[#offset #element] = #along;
                #unit[#element] = #zero;
            }
        });
    }
    code
}

/// A call's tangent from the callee's own forward-mode rule where it has
/// one, `callee::tangent_rule(&tape, dots, &mut scratch)` (a custom rule may
/// define it: `dots` holds one tangent per argument, in order, as `pullback`
/// hands back adjoints: a float, a slice (empty for zero) or
/// `NotDifferentiable`), else the pullback's (always with N directions). Which one is
/// chosen by name resolution: the callee's items are glob-imported in a
/// block inside the one that defines the fallback, and an inner glob import
/// hides an outer item of the same name.
fn through_rule(graph: &Graph, tangents: &Tangents, call: NodeId) -> TokenStream {
    let one = graph.float_or_ret(call).one();
    // N directions: the pullback's, always.
    let Some((generics, where_clause)) = &tangents.rule_generics else {
        return through_pullback(graph, tangents, call, &one);
    };
    // A call's value passed on whole has no tangent of its own to hand a
    // rule: the pullback chains through it.
    if graph.nodes[call]
        .args()
        .iter()
        .any(|a| matches!(a, Operand::Node(inner) if graph.passed_on_whole(*inner)))
    {
        return through_pullback(graph, tangents, call, &one);
    }
    let NodeKind::Call {
        path,
        args,
        tape,
        tape_args,
        parts,
        arg_spans,
        ..
    } = &graph.nodes[call].kind
    else {
        return TokenStream::new();
    };
    // Spanned at the call and its arguments, as the pullback's code: a
    // callee whose types do not fit is reported there.
    let span = graph.nodes[call].span;
    // The module's path, without the call's generic arguments.
    let mut module = path.clone();
    if let Some(last) = module.segments.last_mut() {
        last.arguments = syn::PathArguments::None;
    }
    let float = graph.float_or_ret(call);
    let zero = float.zero();
    let mut types = Vec::new();
    let mut passed = Vec::new();
    let mut terms = Vec::new();
    let (mut dot_names, mut partial_names) = (Vec::new(), Vec::new());
    for (k, arg) in args.iter().enumerate() {
        let (is_array, arg_float) = match arg {
            Operand::Node(a) if graph.nodes[*a].array.is_none() && graph.float(*a).is_none() => {
                match constant_floats(graph, *a) {
                    Some(float) => (true, Some(float)),
                    None => (false, None),
                }
            }
            Operand::Node(a) => (graph.nodes[*a].array.is_some(), graph.float(*a)),
            // A literal array (`&[0.5, 0.25]`) is one of floats.
            Operand::Const(c) => match c.is_list() {
                true => (
                    true,
                    Some(c.float.clone().unwrap_or_else(|| graph.ret.clone())),
                ),
                false => (false, c.float.clone()),
            },
        };
        let dot = match arg {
            Operand::Node(a) => tangents.get(a),
            Operand::Const(_) => None,
        };
        // Per argument: its tangent's type in `dots`, what the call passes,
        // and the fallback's term, the tangent times the pullback's partial
        // (a dot product for a slice), for the arguments with a tangent, as
        // `tangents`' lanes compute it; the bindings are named with the
        // argument's span, as the pattern that binds them.
        let arg_span = arg_spans.get(k).copied().unwrap_or(span);
        let (dot_k, partial_k) = (
            quote::format_ident!("dot_{k}", span = arg_span),
            quote::format_ident!("partial_{k}", span = arg_span),
        );
        let model = match arg {
            Operand::Node(a) => tangents.models.get(a),
            Operand::Const(_) => None,
        };
        let term = match (arg_float, is_array, dot) {
            (_, _, Some(dot)) if model.is_some() => {
                let ty = model.map(|m| quote!(&<#m as ::backprop_runtime::Differentiable>::Grad));
                types.push(quote!(#ty));
                passed.push(quote!(#dot));
                Some(
                    quote::quote_spanned!(arg_span=> ::backprop_runtime::Gradient::dot(#partial_k, #dot_k)),
                )
            }
            (Some(f), true, Some(dot)) => {
                types.push(quote!(&[#f]));
                // A slice parameter's tangent is a slice already; a
                // buffer's or an array's is lent as one.
                let slice = matches!(arg, Operand::Node(a) if matches!(graph.nodes[*a].kind, NodeKind::Param) && graph.nodes[*a].array.as_ref().is_some_and(|info| !info.fixed));
                passed.push(match lent_part(graph, parts, k) {
                    Some((start, end)) => quote!(&#dot[#start..#end]),
                    None if slice => quote!(#dot),
                    None => quote!(&#dot[..]),
                });
                Some(quote::quote_spanned! {arg_span=>
                    #dot_k
                        .iter()
                        .zip(::core::convert::AsRef::<[#f]>::as_ref(&#partial_k))
                        .fold(#zero, |sum, (t, p)| sum + *t * *p)
                })
            }
            (Some(f), true, None) => {
                types.push(quote!(&[#f]));
                passed.push(quote!(&[]));
                None
            }
            (Some(f), false, Some(dot)) => {
                types.push(quote!(#f));
                passed.push(quote!(#dot));
                Some(quote::quote_spanned!(arg_span=> #dot_k * #partial_k))
            }
            (Some(f), false, None) => {
                types.push(quote!(#f));
                passed.push(f.zero());
                None
            }
            (None, _, _) => {
                types.push(quote!(::backprop_runtime::NotDifferentiable));
                passed.push(quote!(::backprop_runtime::NotDifferentiable));
                None
            }
        };
        match term {
            Some(term) => {
                terms.push(term);
                dot_names.push(quote!(#dot_k));
                partial_names.push(quote!(#partial_k));
            }
            None => {
                dot_names.push(quote!(_));
                partial_names.push(quote!(_));
            }
        }
    }
    let sum = match terms.is_empty() {
        true => zero,
        false => quote!(#(#terms)+*),
    };
    let (tape_ty, scratch_ty) = (
        quote::quote_spanned!(span=> #module::Tape #tape_args),
        quote::quote_spanned!(span=> #module::Scratch #tape_args),
    );
    // The fallback's parameters, named with the call's span as the
    // pullback's call that reads them (an error in it is the pullback's).
    let (tape_in, dots_in, scratch_in) = (
        quote::format_ident!("tape", span = span),
        quote::format_ident!("dots", span = span),
        quote::format_ident!("scratch", span = span),
    );
    let pullback =
        quote::quote_spanned!(span=> #module::pullback_into(#tape_in, #one, #scratch_in));
    let partials = quote::quote_spanned!(span=> (#(#partial_names,)*));
    quote!({
        fn tangent_rule #generics (
            #tape_in: &#tape_ty,
            #dots_in: (#(#types,)*),
            #scratch_in: &mut #scratch_ty,
        ) -> #float #where_clause {
            let #partials = #pullback;
            let (#(#dot_names,)*) = #dots_in;
            #sum
        }
        // The tangents computed outside the callee's glob import, which
        // would hide a local named like one of its items.
        let dots: (#(#types,)*) = (#(#passed,)*);
        {
            #[allow(unused_imports, clippy::wildcard_imports)]
            use #module::*;
            tangent_rule(&#tape.0, dots, &mut #tape.1)
        }
    })
}

/// The float of a list of floats that does not depend on the inputs
/// (`&[0.5, 0.25]`, a `Vec<f64>` of data), or `None`.
fn constant_floats(graph: &Graph, id: NodeId) -> Option<FloatTy> {
    let node = &graph.nodes[id];
    if let Some(element) = node.ty.as_ref().and_then(crate::lower::element_type) {
        return graph.floats.of_type(&element);
    }
    let NodeKind::Inactive { expr, .. } = &node.kind else {
        return None;
    };
    let mut expr = crate::lower::strip_parens(expr);
    while let syn::Expr::Reference(r) = expr {
        expr = crate::lower::strip_parens(&r.expr);
    }
    let first = match expr {
        syn::Expr::Array(array) => array.elems.first()?.clone(),
        syn::Expr::Repeat(repeat) => (*repeat.expr).clone(),
        _ => return None,
    };
    match crate::lower::strip_parens(&first) {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        }) => Some(match f.suffix() {
            "f32" => FloatTy::F32,
            "f64" => FloatTy::F64,
            _ => graph.ret.clone(),
        }),
        _ => None,
    }
}

/// Whether node `id` is a call whose tangent (or one of its elements') comes
/// from the callee's pullback: an argument has a tangent.
pub(super) fn pulled_back(graph: &Graph, tangents: &Tangents, id: NodeId) -> bool {
    let NodeKind::Call { args, .. } = &graph.nodes[id].kind else {
        return false;
    };
    let has_tangent = |id: &NodeId| tangents.names.contains_key(id);
    // Its value's tangent where something reads the value's tangent: not
    // where only conditions and data read it (`if f(x)[0] < 2.0`: an array
    // result read so is no output of the call, whose tangent would then be
    // taken as a float's); or its pullback, where its value is passed on.
    let seeded = (has_tangent(&id) && tangent_read(graph, id))
        || graph.elements_of(id).any(|(e, _, _)| has_tangent(&e))
        || graph.writes_to_arrays(id).any(|a| has_tangent(&a))
        || (graph.passed_on_whole(id) && read_through(graph, tangents, id));
    seeded
        && args
            .iter()
            .any(|arg| matches!(arg, Operand::Node(a) if carries(graph, tangents, *a)))
}

/// Whether a call that reads node `id` whole is pulled back through, and so
/// chains into `id`'s pullback.
fn read_through(graph: &Graph, tangents: &Tangents, id: NodeId) -> bool {
    graph.nodes.iter().enumerate().any(|(reader, node)| {
        node.args()
            .iter()
            .any(|a| matches!(a, Operand::Node(n) if *n == id))
            && pulled_back(graph, tangents, reader)
    })
}

/// Whether a value depends on the direction: it has a tangent, or it is a
/// call's value passed on whole whose arguments do.
fn carries(graph: &Graph, tangents: &Tangents, id: NodeId) -> bool {
    tangents.names.contains_key(&id)
        || (graph.passed_on_whole(id)
            && graph.nodes[id]
                .args()
                .iter()
                .any(|a| matches!(a, Operand::Node(inner) if carries(graph, tangents, *inner))))
}

/// Whether a value's tangent is read: by an operation, a call or a write
/// that takes it as an operand, or as a block's result (a function's, an
/// arm's, a loop's next value); not by data (an index, a condition, an
/// inactive expression), which reads only the value.
fn tangent_read(graph: &Graph, id: NodeId) -> bool {
    let reads = |o: &Operand| matches!(o, Operand::Node(n) if *n == id);
    let by_node = graph.nodes.iter().any(|node| node.args().iter().any(reads));
    by_node || graph.is_block_result(id)
}

/// The statement that follows node `id` in forward mode: its tangent, or, for
/// a write into an array, the write of the value's tangent.
pub fn of_node(graph: &Graph, tangents: &Tangents, id: NodeId) -> TokenStream {
    let node = &graph.nodes[id];
    if let NodeKind::Write {
        array,
        index,
        value,
        push,
    } = &node.kind
    {
        let Some(dot_array) = tangents.get(array) else {
            return TokenStream::new();
        };
        let (index, dot_value) = (
            super::forward::argument(graph, index),
            of_operand(graph, tangents, value),
        );
        return if *push {
            quote!(#dot_array.push(#dot_value);)
        } else {
            quote!(#dot_array[#index] = #dot_value;)
        };
    }
    if matches!(node.kind, NodeKind::Call { .. }) && pulled_back(graph, tangents, id) {
        // Its value's tangent first: the pullback reads the tangents the
        // arguments had, which `written_tangents` then replaces.
        let mut code = TokenStream::new();
        let writes = graph.writes_to_arrays(id).next().is_some();
        if let (Some(dot), NodeKind::Call { outputs: 1, .. }) = (tangents.get(&id), &node.kind) {
            // (A value nothing reads needs no tangent, nor is it pulled back
            // through: it may be a tuple or an array, whose pullback's seed
            // is no float.)
            if graph.elements_of(id).next().is_none() && !writes {
                let along = through_rule(graph, tangents, id);
                code.extend(quote!(let #dot = #along;));
            }
        }
        code.extend(written_tangents(graph, tangents, id));
        return code;
    }
    let Some(dot) = tangents.get(&id) else {
        return TokenStream::new();
    };
    let zero = tangents.zero(&graph.float_or_ret(id));
    match &node.kind {
        NodeKind::Op { rule, args, .. } => {
            let Some(partial) = rule.partial else {
                return quote!(let #dot = #zero;);
            };
            let terms: Vec<TokenStream> = args
                .iter()
                .enumerate()
                .filter_map(|(i, arg)| {
                    let Operand::Node(arg) = arg else { return None };
                    let dot_arg = tangents.get(arg)?;
                    let mut saved = BTreeSet::new();
                    let mut ctx = RuleCtx {
                        graph,
                        node: id,
                        adjoint: dot_arg,
                        adjoint_zero: tangents.lanes.as_ref().map(|_| &zero),
                        saved: &mut saved,
                        later_values: false,
                    };
                    Some(graph.ret.literals_in(partial(&mut ctx, i)))
                })
                .collect();
            match terms.as_slice() {
                [] => quote!(let #dot = #zero;),
                [term] => quote!(let #dot = #term;),
                _ => {
                    // `dot_a * b + dot_b * a`, each product in parentheses.
                    let terms = terms.iter().map(|t| {
                        if t.clone().into_iter().count() == 1 {
                            t.clone()
                        } else {
                            quote!((#t))
                        }
                    });
                    quote!(let #dot = #(#terms)+*;)
                }
            }
        }
        // A call's tangents are written above (its value's, and those of the
        // arrays it writes); its elements each have their own unit seed.
        NodeKind::Call { .. } => TokenStream::new(),
        NodeKind::Element { call, index, .. } => {
            let one = graph.float_or_ret(id).one();
            let seed = seed_picking(graph, *call, *index, &one, &BTreeMap::new());
            let along = through_pullback(graph, tangents, *call, &seed);
            quote!(let #dot = #along;)
        }
        NodeKind::Cast { to, arg } => {
            let dot_arg = of_operand(graph, tangents, arg);
            let cast = tangents.cast(&dot_arg, to);
            quote!(let #dot = #cast;)
        }
        NodeKind::Read { array, index } => {
            let index = super::forward::argument(graph, index);
            match tangents.get(array) {
                Some(dot_array) => quote!(let #dot = #dot_array[#index];),
                None => quote!(let #dot = #zero;),
            }
        }
        NodeKind::Buffer {
            len,
            fixed,
            growable,
            ..
        } => {
            let len = super::forward::argument(graph, len);
            if *growable {
                // Empty, of the tangents' type (read before the first push
                // in the code, as the primal may be).
                quote!(let mut #dot = ::std::vec![#zero; 0];)
            } else if *fixed {
                quote!(let mut #dot = [#zero; #len];)
            } else {
                quote!(let mut #dot = ::std::vec![#zero; #len];)
            }
        }
        // Bound by their statements (branches, loops), or parameters.
        _ => TokenStream::new(),
    }
}
