//! The forward-mode functions a user calls, all from one body of statements
//! (`Forward` with tangents):
//! - `tangent(args.., dot_args..) -> (value, tangent)`: one direction, each
//!   tangent a float;
//! - `tangents(args.., dot_args: [..; N]) -> (value, [tangent; N])`: N
//!   directions in one pass, the value and every partial derivative computed
//!   once, each tangent a `Lanes` of N (in a private `tangent_lanes`);
//! - `jacobian_fwd(args..)`: `grad`'s (or `jacobian`'s) result by forward
//!   mode, the inputs seeded a block of lanes at a time (for a function
//!   written in place, one row per output, its `&mut` parameters' final
//!   elements included).
//!
//! Generated for functions whose results are returned (one float, a tuple or
//! an array of them) or written through `&mut` parameters, and whose calls
//! read their arguments or write local values through `&mut`; for the others
//! the module has none of them (README, limitations).

use super::{of_operand, pulled_back, Tangents};
use crate::emit::api::passed_params;
use crate::emit::forward::Forward;
use crate::emit::module::Generic;
use crate::emit::names::Names;
use crate::ir::{FloatTy, Graph, NodeId, NodeKind, Operand};
use crate::parse::signature::{Outputs, Param, Shape, Signature};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use std::collections::{BTreeMap, BTreeSet};

/// How many inputs `jacobian_fwd` seeds per pass, at most: a pass computes
/// the value again (transcendentals and all), a lane costs a few
/// multiply-adds.
const JACOBIAN_LANES: usize = 8;

/// The lanes of `jacobian_fwd`'s passes: as many as the inputs when the
/// signature tells how many (floats and arrays of literal length), so that
/// none computes zeros; else `JACOBIAN_LANES`.
fn jacobian_lanes(sig: &Signature) -> usize {
    let mut inputs = 0;
    for (p, _) in sig.differentiable() {
        inputs += match &p.shape {
            None => 1,
            Some(Shape::Array(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(len),
                ..
            }))) => match len.base10_parse::<usize>() {
                Ok(len) => len,
                Err(_) => return JACOBIAN_LANES,
            },
            Some(_) => return JACOBIAN_LANES,
        };
    }
    inputs.clamp(1, JACOBIAN_LANES)
}

/// `pub fn tangent(..)`, when forward mode covers the function.
pub(in crate::emit) fn tangent_fn(
    sig: &Signature,
    graph: &Graph,
    names: &Names,
    generic: &Generic,
) -> Option<TokenStream> {
    if !covered(sig, graph) {
        return None;
    }
    let mut names = names.clone();
    let mut tangent_names = tangent_names(graph, &mut names);
    let mut models = BTreeMap::new();
    for (id, p) in sig.params.iter().enumerate() {
        if let Some(model) = &p.model {
            tangent_names.insert(id, names.fresh(&format!("dot_{}", p.ident)));
            models.insert(id, model.clone());
        }
    }
    let tangents = Tangents {
        names: tangent_names,
        lanes: None,
        rule_generics: Some((generic.params.clone(), generic.where_clause.clone())),
        models,
    };
    let statements = statements(graph, &tangents, &mut names);
    let OnePass {
        params,
        tangent_params,
        reads,
        write_back,
        returned,
    } = one_pass(
        sig,
        graph,
        &tangents,
        &mut names,
        |float| quote!(#float),
        |p| {
            let ty = &p.ty;
            quote!(#ty)
        },
    );
    let value = value(sig, graph, returned);
    let dot_value = dot_value(sig, graph, &tangents, returned);
    let ret = &sig.ret_ty;
    let (result, returns) = match sig.returns_value {
        true => (quote!(-> (#ret, #ret)), quote!((#value, #dot_value))),
        false => (quote!(), quote!()),
    };
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let doc = format!(
        "Forward mode: `{}`'s value and its derivative along the given tangents of its differentiable parameters (`dot_` + the parameter's name), in one pass. A `&mut` parameter's tangent is updated in place, as the parameter is.",
        sig.ident
    );
    let attrs = lints(sig, &tangents, &quote!(#statements #write_back #dot_value));
    let must_use = sig.returns_value.then(|| quote!(#[must_use]));
    Some(quote! {
        #[doc = #doc]
        #must_use
        #attrs
        pub fn tangent #generics (#(#params,)* #(#tangent_params),*) #result #where_clause {
            #reads
            #statements
            #write_back
            #returns
        }
    })
}

/// The parameters of a one-pass forward function (`tangent`, or
/// `tangent_lanes` with lanes for tangents): the user's, then each
/// differentiable one's tangent (`scalar` for a float's, `array` for an
/// array's); the reads at the start, the write-backs at the end (the `&mut
/// f64`s' final values and tangents, through their references), and how many
/// outputs are returned (the `&mut f64`s' final values follow them).
struct OnePass {
    params: Vec<TokenStream>,
    tangent_params: Vec<TokenStream>,
    reads: TokenStream,
    write_back: TokenStream,
    returned: usize,
}

fn one_pass(
    sig: &Signature,
    graph: &Graph,
    tangents: &Tangents,
    names: &mut Names,
    scalar: impl Fn(&FloatTy) -> TokenStream,
    array: impl Fn(&Param) -> TokenStream,
) -> OnePass {
    let (params, mut reads, value_refs) = params(sig, names);
    // A `&f64`'s tangent is a float: that of the value it points to; a
    // `&mut f64`'s comes in and goes out through a reference of its own, as
    // the value does; a `&mut [f64]`'s is a slice the code writes.
    let mut tangent_params = Vec::new();
    let mut dot_refs = Vec::new();
    for (id, p) in sig.params.iter().enumerate() {
        // A struct passed whole: its direction is a gradient struct.
        if let (Some(model), Some(dot)) = (&p.model, tangents.get(&id)) {
            tangent_params
                .push(quote!(#dot: &<#model as ::backprop_runtime::Differentiable>::Grad));
            continue;
        }
        let (Some(float), Some(dot)) = (&p.differentiable, tangents.get(&id)) else {
            continue;
        };
        let ty = scalar(float);
        if p.inout && !p.writes_array() {
            let reference = names.fresh(&format!("{dot}_ref"));
            tangent_params.push(quote!(#reference: &mut #ty));
            reads.extend(quote!(let #dot = *#reference;));
            dot_refs.push((id, reference));
        } else if p.by_reference || p.shape.is_none() {
            tangent_params.push(quote!(#dot: #ty));
        } else {
            let ty = array(p);
            tangent_params.push(quote!(#dot: #ty));
        }
    }
    let scalar_inouts: Vec<usize> = sig
        .inouts()
        .filter(|(_, p)| !p.writes_array())
        .map(|(id, _)| id)
        .collect();
    let returned = graph.outputs.len() - scalar_inouts.len();
    let finals = &graph.outputs[returned..];
    let mut write_back = TokenStream::new();
    for (reference, last) in value_refs.iter().zip(finals) {
        let last = crate::emit::forward::argument(graph, last);
        write_back.extend(quote!(*#reference = #last;));
    }
    for (id, reference) in &dot_refs {
        let Some(k) = scalar_inouts.iter().position(|i| i == id) else {
            continue;
        };
        let dot_last = of_operand(graph, tangents, &finals[k]);
        write_back.extend(quote!(*#reference = #dot_last;));
    }
    OnePass {
        params,
        tangent_params,
        reads,
        write_back,
        returned,
    }
}

/// `pub fn tangents::<N>(..)`, N directions at once, and the private
/// `tangent_lanes` it and `jacobian_fwd` run.
pub(in crate::emit) fn tangents_fn(
    sig: &Signature,
    graph: &Graph,
    names: &Names,
) -> Option<TokenStream> {
    if !batched_in_place(sig, graph) {
        return None;
    }
    let mut names = names.clone();
    let n = names.fresh("N");
    let tangents = Tangents {
        names: tangent_names(graph, &mut names),
        lanes: Some(n.clone()),
        rule_generics: None,
        models: BTreeMap::new(),
    };
    let statements = statements(graph, &tangents, &mut names);
    let float_lanes = |float: &FloatTy| quote!(::backprop_runtime::Lanes<#float, #n>);
    let OnePass {
        params,
        tangent_params: lane_params,
        reads,
        write_back,
        returned,
    } = one_pass(sig, graph, &tangents, &mut names, float_lanes, |p| {
        lanes_type(p, &n)
    });
    let value = value(sig, graph, returned);
    let dot_value = dot_value(sig, graph, &tangents, returned);
    let ret = &sig.ret_ty;
    let lanes_ret = lanes_result(sig, returned, &n);
    let (generics, where_clause) = with_lanes(sig, &n);
    let attrs = lints(sig, &tangents, &quote!(#statements #write_back #dot_value));
    let (result, returns) = match sig.returns_value {
        true => (quote!(-> (#ret, #lanes_ret)), quote!((#value, #dot_value))),
        false => (quote!(), quote!()),
    };
    let lanes_fn = quote! {
        /// `tangent` with each tangent a `Lanes` of N directions.
        #attrs
        fn tangent_lanes #generics (#(#params,)* #(#lane_params),*) #result #where_clause {
            #reads
            #statements
            #write_back
            #returns
        }
    };

    // The public face: N directions per parameter, as the user holds them;
    // a `&mut` parameter's are updated in place, as it is.
    let directions = tangent_params(sig, &tangents, |p| directions_type(p, &n));
    let (params, args) = passed_params(sig, &mut names);
    let mut gathered = Vec::new();
    let mut before = TokenStream::new();
    let mut after = TokenStream::new();
    for (id, p) in sig.params.iter().enumerate() {
        let Some(dot) = tangents.get(&id) else {
            continue;
        };
        if p.differentiable.is_none() {
            continue;
        }
        if !p.inout {
            gathered.push(gather(p, dot));
            continue;
        }
        let lanes = names.fresh(&format!("{dot}_lanes"));
        if let Some(Shape::Array(_)) = p.shape {
            before.extend(quote! {
                let mut #lanes = ::backprop_runtime::lanes::gather_array(&*#dot);
            });
            after.extend(quote!(::backprop_runtime::lanes::scatter_array(&#lanes, #dot);));
        } else if p.writes_array() {
            before.extend(quote! {
                let mut #lanes = ::backprop_runtime::lanes::gather(&::core::array::from_fn(|k| &*#dot[k]));
            });
            after.extend(quote!(::backprop_runtime::lanes::scatter(&#lanes, #dot);));
        } else {
            before.extend(quote!(let mut #lanes = ::backprop_runtime::Lanes(*#dot);));
            after.extend(quote!(*#dot = #lanes.0;));
        }
        gathered.push(quote!(&mut #lanes));
    }
    let doc = format!(
        "Forward mode along N directions at once: `{}`'s value and its derivative along each. Each `dot_` argument holds the parameter's N directions (a `&mut` parameter's are updated in place, as it is); the result's k-th tangent is `tangent`'s for the k-th of each. The value and every partial derivative are computed once.",
        sig.ident
    );
    let too_many = (2 * sig.params.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    let call = quote!(self::tangent_lanes(#(#args,)* #(#gathered),*));
    let public = if sig.returns_value {
        let (dot_value, unpack) = lanes_unpacked(sig, returned, &mut names);
        let value = names.fresh("value");
        let k = names.fresh("k");
        let per_direction = match sig.outputs {
            Outputs::One => quote!(#(#unpack)*.0),
            Outputs::Tuple => quote!(::core::array::from_fn(|#k| (#(#unpack.0[#k]),*))),
            Outputs::Array => quote!(::core::array::from_fn(|#k| [#(#unpack.0[#k]),*])),
        };
        quote! {
            #[must_use]
            pub fn tangents #generics (#(#params,)* #(#directions),*) -> (#ret, [#ret; #n]) #where_clause {
                #before
                let (#value, #dot_value) = #call;
                #after
                (#value, #per_direction)
            }
        }
    } else {
        quote! {
            pub fn tangents #generics (#(#params,)* #(#directions),*) #where_clause {
                #before
                #call;
                #after
            }
        }
    };
    Some(quote! {
        #lanes_fn

        #[doc = #doc]
        #too_many
        #public
    })
}

/// `pub fn jacobian_fwd(..)`: what `grad` (one output) or `jacobian` returns,
/// by forward mode: the inputs in parameter order (a slice's elements in
/// turn) seeded a block of lanes at a time through `tangent_lanes`. For
/// functions with few inputs and several outputs.
///
/// A function with `&mut` parameters has no `grad` to mirror: its outputs
/// are the value it returns (if any) and each `&mut` parameter's final
/// contents, so its Jacobian is a `Vec` of gradients, one row per output in
/// that order (an ODE step's state-transition matrix). The `&mut`
/// parameters end as the function leaves them; each pass after the first
/// starts again from their initial contents.
pub(in crate::emit) fn jacobian_fwd_fn(
    sig: &Signature,
    graph: &Graph,
    names: &Names,
    generic: &Generic,
) -> Option<TokenStream> {
    // Each pass takes the arguments again: one a call moves (a `String`, a
    // struct taken by value) would be gone.
    if !batched(sig, graph) || !sig.params.iter().all(|p| p.passed_again()) {
        return None;
    }
    let mut names = names.clone();
    let (jacobian, inputs, first) = (
        names.fresh("jacobian"),
        names.fresh("inputs"),
        names.fresh("first"),
    );
    let value = names.fresh("value");
    let lanes_per_pass = jacobian_lanes(sig);
    let lanes = proc_macro2::Literal::usize_unsuffixed(lanes_per_pass);
    let in_place = sig.inouts().next().is_some();
    let scalar_inouts = sig.inouts().filter(|(_, p)| !p.writes_array()).count();
    let returned = graph.outputs.len() - scalar_inouts;
    let (dot_value, unpack) = match sig.returns_value {
        true => lanes_unpacked(sig, returned, &mut names),
        false => (quote!(), Vec::new()),
    };
    // Each output's gradient: `jacobian` itself for one output of a function
    // that writes nothing, else a row.
    let row = |m: usize| match (in_place, &sig.outputs) {
        (false, Outputs::One) => quote!(#jacobian),
        _ => {
            let m = proc_macro2::Literal::usize_unsuffixed(m);
            quote!(#jacobian[#m])
        }
    };
    let (params, args) = passed_params(sig, &mut names);
    // Where each differentiable parameter's inputs start.
    let mut starts = Vec::new();
    let mut next = quote!(0);
    let mut differentiable = Vec::new();
    for (id, (p, arg)) in sig.params.iter().zip(&args).enumerate() {
        let Some(float) = &p.differentiable else {
            continue;
        };
        let start = names.fresh(&format!("start_{}", p.ident));
        starts.push(quote!(let #start = #next;));
        next = match &p.shape {
            None => quote!(#start + 1),
            Some(_) => quote!(#start + #arg.len()),
        };
        differentiable.push(Input {
            id,
            p,
            float,
            arg,
            start,
        });
    }
    // A block of lanes (one output's tangent) read into a row: each input's
    // coordinates in it.
    let read_row = |lane: &TokenStream, row: &TokenStream| -> TokenStream {
        let each = differentiable.iter().map(|Input { p, start, .. }| {
            let ident = &p.ident;
            match &p.shape {
                None => quote!(#lane.read_into(#start, #first, &mut #row.#ident);),
                Some(_) => quote!(#lane.read_slice(&mut #row.#ident, #start, #first);),
            }
        });
        quote!(#(#each)*)
    };
    // A row with room for every slice's coordinates.
    let fresh_row = |row: &TokenStream| -> TokenStream {
        let each = differentiable
            .iter()
            .filter(|input| matches!(input.p.shape, Some(Shape::Slice)))
            .map(|Input { p, arg, .. }| {
                let ident = &p.ident;
                quote!(::backprop_runtime::prepare(&mut #row.#ident, #arg.len());)
            });
        quote!(#(#each)*)
    };
    let mut reads: Vec<TokenStream> = unpack
        .iter()
        .enumerate()
        .map(|(m, dot)| read_row(&quote!(#dot), &row(m)))
        .collect();
    let mut seeds = Vec::new();
    let mut kept_seeds = Vec::new();
    let mut pass_seeds = Vec::new();
    let mut initial = Vec::new();
    let mut restore = Vec::new();
    let mut rows = Rows {
        fixed: returned,
        lengths: Vec::new(),
    };
    for &Input {
        id,
        p,
        float,
        arg,
        ref start,
    } in &differentiable
    {
        let ident = &p.ident;
        // Coordinates of a parameter with no tangent count; it gets no seed.
        if !has_tangent(graph, id) {
            continue;
        }
        let unit = quote!(::backprop_runtime::Lanes::<#float, #lanes>::unit);
        let seed_value = match &p.shape {
            None => quote!(#unit(#start, #first)),
            // A slice's seeds live in a vector kept across the passes.
            Some(Shape::Slice) => {
                let seed = names.fresh(&format!("seed_{ident}"));
                kept_seeds.push(quote!(let mut #seed = ::std::vec::Vec::new();));
                let units = quote!(::backprop_runtime::lanes::units(&mut #seed, #arg.len(), #start, #first););
                match p.inout {
                    true => pass_seeds.push(units),
                    false => {
                        seeds.push(quote!({ #units &#seed }));
                        continue;
                    }
                }
                quote!(#seed)
            }
            Some(Shape::Array(_)) => {
                let i = names.fresh("i");
                quote!(::core::array::from_fn(|#i| #unit(#start + #i, #first)))
            }
        };
        if !p.inout {
            seeds.push(match p.ty {
                syn::Type::Reference(_) if p.shape.is_some() => quote!(&#seed_value),
                _ => seed_value,
            });
            continue;
        }
        // A `&mut` parameter's seeds go in and come out as its final
        // tangents: one row per element (one for a `&mut f64`).
        let seed = match &p.shape {
            Some(Shape::Slice) => seed_value,
            _ => {
                let seed = names.fresh(&format!("seed_{ident}"));
                pass_seeds.push(quote!(let mut #seed = #seed_value;));
                quote!(#seed)
            }
        };
        seeds.push(quote!(&mut #seed));
        let at = rows.sum(None);
        let initial_value = names.fresh(&format!("initial_{ident}"));
        let lane = names.fresh("lane");
        let k = names.fresh("k");
        let row = {
            let at = rows.sum(Some(&k));
            quote!(#jacobian[#at])
        };
        let read = read_row(&quote!(#lane), &row);
        match &p.shape {
            None => {
                initial.push(quote!(let #initial_value = *#arg;));
                restore.push(quote!(*#arg = #initial_value;));
                rows.fixed += 1;
                let row = quote!(#jacobian[#at]);
                reads.push(read_row(&seed, &row));
            }
            Some(shape) => {
                let copy = match shape {
                    Shape::Slice => quote!(#arg.to_vec()),
                    Shape::Array(_) => quote!(*#arg),
                };
                initial.push(quote!(let #initial_value = #copy;));
                restore.push(quote!(#arg.copy_from_slice(&#initial_value);));
                rows.lengths.push(quote!(#arg.len()));
                reads.push(quote! {
                    for (#k, #lane) in #seed.iter().enumerate() {
                        #read
                    }
                });
            }
        }
    }
    // `tangent_lanes::<T, 4>`: the function's own type and const parameters,
    // then the lanes.
    let own = sig.generics.params.iter().filter_map(|g| match g {
        syn::GenericParam::Type(t) => Some(&t.ident),
        syn::GenericParam::Const(c) => Some(&c.ident),
        syn::GenericParam::Lifetime(_) => None,
    });
    let ret = &sig.ret_ty;
    let grad_ty = generic.grad();
    let outputs = graph.outputs.len();
    let (result_ty, zero) = match (in_place, &sig.outputs) {
        (false, Outputs::One) => (quote!(#grad_ty), quote!(Grad::default())),
        (false, _) => (
            quote!([#grad_ty; #outputs]),
            quote!(::core::array::from_fn(|_| Grad::default())),
        ),
        (true, _) => {
            let all = rows.sum(None);
            let g = names.fresh("row");
            let fresh = fresh_row(&quote!(#g));
            (
                quote!(::std::vec::Vec<#grad_ty>),
                quote!((0..#all).map(|_| { let mut #g = Grad::default(); #fresh #g }).collect()),
            )
        }
    };
    let prepare = match in_place {
        true => Vec::new(),
        false => (0..outputs).map(|m| fresh_row(&row(m))).collect(),
    };
    // A vector taken by value is passed to each pass: a copy (the last
    // pass's too, so the seeds can still read its length).
    let passed = sig
        .params
        .iter()
        .zip(&args)
        .map(|(p, arg)| match p.owned_vector() {
            true => quote!(#arg.clone()),
            false => quote!(#arg),
        });
    let call = quote!(self::tangent_lanes::<#(#own,)* #lanes>(#(#passed,)* #(#seeds),*));
    let call = match sig.returns_value {
        true => quote!(let (#value, #dot_value) = #call;),
        false => quote!(#call; let #value = ();),
    };
    let restore = (!restore.is_empty()).then(|| {
        quote! {
            if #first > 0 {
                #(#restore)*
            }
        }
    });
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let doc = match in_place {
        false => format!(
            "`{}`'s value and derivative by forward mode: the same as {}, from one forward pass per {lanes_per_pass} inputs (the inputs in parameter order, a slice's elements in turn). Cheaper than the reverse mode's passes when inputs are few and outputs many.",
            sig.ident,
            match sig.outputs {
                Outputs::One => "`grad`",
                _ => "`jacobian`",
            }
        ),
        true => format!(
            "`{}`'s value and its Jacobian by forward mode, one forward pass per {lanes_per_pass} inputs: one gradient per output, the returned value's first (if it returns one), then each `&mut` parameter's final elements in parameter order. The inputs are the differentiable parameters' initial values in parameter order (a slice's elements in turn). The `&mut` parameters end as `{}` leaves them.",
            sig.ident, sig.ident
        ),
    };
    let too_many = (sig.params.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    Some(quote! {
        #[doc = #doc]
        #[must_use]
        #too_many
        // Compiled where it is called, not with every differentiated function.
        #[inline]
        pub fn jacobian_fwd #generics (#(#params),*) -> (#ret, #result_ty) #where_clause {
            #(#starts)*
            let #inputs = #next;
            let mut #jacobian: #result_ty = #zero;
            #(#prepare)*
            #(#initial)*
            #(#kept_seeds)*
            let mut #first = 0;
            loop {
                #restore
                #(#pass_seeds)*
                #call
                #(#reads)*
                #first += #lanes;
                if #first >= #inputs {
                    break (#value, #jacobian);
                }
            }
        }
    })
}

/// A differentiable parameter of `jacobian_fwd`: its index, its float, the
/// argument that passes it, and where its inputs start.
struct Input<'a> {
    id: usize,
    p: &'a Param,
    float: &'a FloatTy,
    arg: &'a Ident,
    start: Ident,
}

/// How many rows come before a `&mut` parameter's in `jacobian_fwd`: a
/// number known here and the lengths of slices and arrays.
struct Rows {
    fixed: usize,
    lengths: Vec<TokenStream>,
}

impl Rows {
    /// The sum, plus `k` if given, spelled without `0 +`.
    fn sum(&self, k: Option<&Ident>) -> TokenStream {
        let fixed = (self.fixed > 0 || (self.lengths.is_empty() && k.is_none()))
            .then(|| proc_macro2::Literal::usize_unsuffixed(self.fixed))
            .map(|n| quote!(#n));
        let k = k.map(|k| quote!(#k));
        let terms: Vec<TokenStream> = fixed
            .into_iter()
            .chain(self.lengths.iter().cloned())
            .chain(k)
            .collect();
        quote!(#(#terms)+*)
    }
}

/// The forward pass with each node's tangent after it. A call that the
/// tangent pulls back through keeps its tape (and scratch) in a local.
fn statements(graph: &Graph, tangents: &Tangents, names: &mut Names) -> TokenStream {
    let unused_tape = names.fresh("tape");
    let empty = BTreeSet::new();
    let no_stacks = BTreeMap::new();
    let calls: BTreeSet<NodeId> = (0..graph.nodes.len())
        .filter(|&id| pulled_back(graph, tangents, id))
        .collect();
    Forward {
        graph,
        saved: &empty,
        saved_tapes: &calls,
        stacks: &no_stacks,
        tape_stacks: &no_stacks,
        once: &empty,
        tape: &unused_tape,
        tangents: Some(tangents),
        checkpoints: &[],
        record: None,
        lent: &BTreeMap::new(),
        frames: None,
    }
    .statements()
}

/// The parameters as the statements read them: a differentiated `&f64` or a
/// `&mut f64` comes in as `x_ref` and is read into `x` first, as in the
/// forward pass; the `&mut f64`s' references are listed, in order, for their
/// final values.
fn params(sig: &Signature, names: &mut Names) -> (Vec<TokenStream>, TokenStream, Vec<Ident>) {
    let mut reads = TokenStream::new();
    let mut written = Vec::new();
    let params = sig
        .params
        .iter()
        .map(|p| {
            let (ident, ty) = (&p.ident, &p.ty);
            let scalar_inout = p.inout && !p.writes_array();
            if (p.by_reference && p.differentiable.is_some()) || scalar_inout {
                let reference = names.fresh(&format!("{ident}_ref"));
                reads.extend(quote!(let #ident = *#reference;));
                if scalar_inout {
                    written.push(reference.clone());
                }
                quote!(#reference: #ty)
            } else {
                quote!(#ident: #ty)
            }
        })
        .collect();
    (params, reads, written)
}

/// `dot_x: ty` for each differentiable parameter with a tangent.
fn tangent_params(
    sig: &Signature,
    tangents: &Tangents,
    ty: impl Fn(&Param) -> TokenStream,
) -> Vec<TokenStream> {
    sig.params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.differentiable.is_some())
        .filter_map(|(id, p)| {
            let dot = tangents.get(&id)?;
            let ty = ty(p);
            Some(quote!(#dot: #ty))
        })
        .collect()
}

/// A parameter's tangent as lanes: `Lanes<f64, N>`, `&[Lanes<f64, N>]`,
/// `[Lanes<f64, N>; 3]` (by reference if the parameter is).
fn lanes_type(p: &Param, n: &Ident) -> TokenStream {
    let float = p.differentiable.clone().unwrap_or(FloatTy::F64);
    let lanes = quote!(::backprop_runtime::Lanes<#float, #n>);
    match &p.shape {
        None => lanes,
        Some(Shape::Slice) if p.writes_array() => quote!(&mut [#lanes]),
        Some(Shape::Slice) => quote!(&[#lanes]),
        Some(Shape::Array(len)) if p.writes_array() => quote!(&mut [#lanes; #len]),
        Some(Shape::Array(len)) => match p.ty {
            syn::Type::Reference(_) => quote!(&[#lanes; #len]),
            _ => quote!([#lanes; #len]),
        },
    }
}

/// A parameter's N directions as `tangents` takes them: `[f64; N]`,
/// `[&[f64]; N]`, `[[f64; 3]; N]`.
fn directions_type(p: &Param, n: &Ident) -> TokenStream {
    let float = p.differentiable.clone().unwrap_or(FloatTy::F64);
    if p.inout {
        return match &p.shape {
            Some(Shape::Slice) => quote!([&mut [#float]; #n]),
            Some(Shape::Array(len)) => quote!(&mut [[#float; #len]; #n]),
            None => quote!(&mut [#float; #n]),
        };
    }
    match &p.shape {
        None => quote!([#float; #n]),
        Some(Shape::Slice) => quote!([&[#float]; #n]),
        Some(Shape::Array(len)) => quote!([[#float; #len]; #n]),
    }
}

/// The N directions of `dot` turned into its lanes.
fn gather(p: &Param, dot: &Ident) -> TokenStream {
    match &p.shape {
        None => quote!(::backprop_runtime::Lanes(#dot)),
        Some(Shape::Slice) => quote!(&::backprop_runtime::lanes::gather(&#dot)),
        Some(Shape::Array(_)) => {
            let array = quote!(::backprop_runtime::lanes::gather_array(&#dot));
            match p.ty {
                syn::Type::Reference(_) => quote!(&#array),
                _ => array,
            }
        }
    }
}

/// `<T: Float, const N: usize>`, and the where clause.
fn with_lanes(sig: &Signature, n: &Ident) -> (TokenStream, TokenStream) {
    let mut generics = sig.generics.clone();
    generics.params.push(syn::parse_quote!(const #n: usize));
    let (params, _, where_clause) = generics.split_for_impl();
    (quote!(#params), quote!(#where_clause))
}

/// What `tangent_lanes` returns beside the value: lanes of the result's
/// float, one per output.
fn lanes_result(sig: &Signature, outputs: usize, n: &Ident) -> TokenStream {
    let float = &sig.ret;
    let lanes = quote!(::backprop_runtime::Lanes<#float, #n>);
    match sig.outputs {
        Outputs::One => lanes,
        Outputs::Tuple => {
            let each = (0..outputs).map(|_| &lanes);
            quote!((#(#each),*))
        }
        Outputs::Array => quote!([#lanes; #outputs]),
    }
}

/// A pattern for `tangent_lanes`' tangents (`dot`, `(dot_0, dot_1)` or
/// `[dot_0, dot_1]`) and the name of each output's lanes.
fn lanes_unpacked(
    sig: &Signature,
    returned: usize,
    names: &mut Names,
) -> (TokenStream, Vec<Ident>) {
    if let Outputs::One = sig.outputs {
        let dot = names.fresh("dot");
        return (quote!(#dot), vec![dot]);
    }
    let each: Vec<Ident> = (0..returned)
        .map(|m| names.fresh(&format_ident!("dot_{m}").to_string()))
        .collect();
    let pattern = match sig.outputs {
        Outputs::Array => quote!([#(#each),*]),
        _ => quote!((#(#each),*)),
    };
    (pattern, each)
}

/// The function's value: the output, a tuple or an array of them.
/// (The first `returned` outputs: `&mut` parameters' final values follow.)
fn value(sig: &Signature, graph: &Graph, returned: usize) -> TokenStream {
    let each = graph.outputs[..returned]
        .iter()
        .map(|o| crate::emit::forward::argument(graph, o));
    shaped(sig, each)
}

/// The value's tangent, in the value's shape.
fn dot_value(sig: &Signature, graph: &Graph, tangents: &Tangents, returned: usize) -> TokenStream {
    let each = graph.outputs[..returned]
        .iter()
        .map(|o| of_operand(graph, tangents, o));
    shaped(sig, each)
}

fn shaped(sig: &Signature, each: impl Iterator<Item = TokenStream>) -> TokenStream {
    match sig.outputs {
        Outputs::One => quote!(#(#each)*),
        Outputs::Tuple => quote!((#(#each),*)),
        Outputs::Array => quote!([#(#each),*]),
    }
}

/// Allowances for long parameter lists and for tangents nothing reads.
fn lints(sig: &Signature, tangents: &Tangents, code: &TokenStream) -> TokenStream {
    let too_many = (2 * sig.params.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    // A value that only decides a branch has a tangent no one reads.
    let unread = unread_tangent(&tangents.names, sig.params.len(), code)
        .then(|| quote!(#[allow(unused_variables)]));
    quote!(#too_many #unread)
}

/// Whether some tangent is never read: a parameter's name does not appear in
/// the code, another's appears only where it is bound. (Parameters are the
/// first `params` nodes.)
fn unread_tangent(tangents: &BTreeMap<NodeId, Ident>, params: usize, code: &TokenStream) -> bool {
    fn count(tokens: TokenStream, counts: &mut BTreeMap<String, usize>) {
        for tree in tokens {
            match tree {
                proc_macro2::TokenTree::Ident(ident) => {
                    *counts.entry(ident.to_string()).or_default() += 1;
                }
                proc_macro2::TokenTree::Group(group) => count(group.stream(), counts),
                _ => {}
            }
        }
    }
    let mut counts = BTreeMap::new();
    count(code.clone(), &mut counts);
    tangents.iter().any(|(id, name)| {
        let uses = counts.get(&name.to_string()).copied().unwrap_or(0);
        let bound_here = usize::from(*id >= params);
        uses <= bound_here
    })
}

/// Forward mode covers the function: results returned or written through
/// `&mut` parameters, and calls whose outputs it can name.
fn covered(sig: &Signature, graph: &Graph) -> bool {
    // `&mut f64`s' final values follow the returned outputs.
    let scalar_inouts = sig.inouts().filter(|(_, p)| !p.writes_array()).count();
    // (Floats and local arrays a call writes through `&mut` get each
    // element's tangent from a pullback of its own; data lent `&mut`, a list
    // of indices, has none.)
    let reading_calls = graph.nodes.iter().enumerate().all(|(id, n)| match &n.kind {
        NodeKind::Call { outputs, args, .. } => {
            let named = *outputs == 1 || graph.elements_of(id).next().is_some();
            // A call's value passed straight to another call may be an array
            // (`g(f(w))` with `f` returning `[f64; 3]`): its type is the
            // callee's to know, unless arithmetic elsewhere shows it a float;
            // where it is only passed on, the reader's tangent chains through
            // its pullback (`Graph::passed_on_whole`).
            let call_passed_on = args.iter().any(|a| match a {
                Operand::Node(arg) => {
                    matches!(graph.nodes[*arg].kind, NodeKind::Call { .. })
                        && !used_in_arithmetic(graph, *arg)
                        && !graph.passed_on_whole(*arg)
                }
                Operand::Const(_) => false,
            });
            (named || graph.writes_to_arrays(id).next().is_some())
                && !call_passed_on
                && n.array.is_none()
        }
        NodeKind::Element { .. } => true,
        _ => true,
    });
    let returned = graph.outputs.len().checked_sub(scalar_inouts);
    let results = match (sig.returns_value, &sig.outputs) {
        (false, _) => returned == Some(0) && sig.inouts().next().is_some(),
        (true, Outputs::One) => returned == Some(1),
        (true, _) => returned.is_some_and(|r| r > 0),
    };
    results && reading_calls
}

/// `jacobian_fwd`: results returned or written through `&mut`.
fn batched(sig: &Signature, graph: &Graph) -> bool {
    covered(sig, graph) && (sig.returns_value || sig.inouts().next().is_some()) && no_models(sig)
}

/// No struct passed whole: its N directions would be N gradient structs,
/// which lanes do not hold (one direction does: `tangent`).
fn no_models(sig: &Signature) -> bool {
    sig.params.iter().all(|p| p.model.is_none())
}

/// `tangents` also for functions with `&mut` parameters (their N tangents
/// updated in place) and none returned.
fn batched_in_place(sig: &Signature, graph: &Graph) -> bool {
    covered(sig, graph) && no_models(sig)
}

/// Whether some operation computes with the node's value: then it is a float.
fn used_in_arithmetic(graph: &Graph, id: NodeId) -> bool {
    graph.nodes.iter().any(|n| {
        matches!(n.kind, NodeKind::Op { .. } | NodeKind::Cast { .. })
            && n.args()
                .iter()
                .any(|a| matches!(a, Operand::Node(x) if *x == id))
    })
}

/// `dot_` + the node's name, for each node that has a tangent.
fn tangent_names(graph: &Graph, names: &mut Names) -> BTreeMap<NodeId, Ident> {
    graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(id, _)| has_tangent(graph, *id) && !graph.passed_on_whole(*id))
        .map(|(id, n)| (id, names.fresh(&format!("dot_{}", n.name))))
        .collect()
}

/// Whether node `id` carries a tangent: an active value.
fn has_tangent(graph: &Graph, id: NodeId) -> bool {
    let node = &graph.nodes[id];
    node.active && has_tangent_kind(&node.kind)
}

fn has_tangent_kind(kind: &NodeKind) -> bool {
    matches!(
        kind,
        NodeKind::Param
            | NodeKind::Call { .. }
            | NodeKind::Element { .. }
            | NodeKind::Op { .. }
            | NodeKind::Cast { .. }
            | NodeKind::Merge
            | NodeKind::LoopParam
            | NodeKind::LoopOut
            | NodeKind::Buffer { .. }
            | NodeKind::Read { .. }
    )
}
