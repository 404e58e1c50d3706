//! The module the user sees for a function with struct parameters: the
//! function's module API over the structs again (`loss::grad(&p, x)`), with a
//! `Grad` whose field for a struct is the struct's gradient, around the
//! module of the function read field by field (`loss::by_field::loss`).

mod directions;
mod functions;
mod gradient;
mod seeds;

use super::flat::flat_function;
use super::{named_params, Model};
use crate::desugar::paths;
use crate::errors::Errors;
use crate::ir::Floats;
use crate::parse::args::Args;
use crate::parse::signature::{Outputs, Shape, Signature};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

/// `(function, user)`: the function differentiated, and the one written out
/// beside its module (the same, or as written where `function` has its
/// callees inlined).
pub(super) fn expand(
    (function, user): (&syn::ItemFn, &syn::ItemFn),
    args: &Args,
    models: &[Model],
    written_types: &[syn::Type],
    float_param: Option<Ident>,
    read: &super::flat::Read,
    flat_names: &mut crate::emit::names::Names,
) -> syn::Result<TokenStream> {
    let writes = models.iter().any(|m| m.mutable);
    let float = match (&function.sig.output, result_float(&function.sig.output)) {
        (_, Some(float)) => float,
        (syn::ReturnType::Default, None) if writes => model_float(function, float_param.as_ref()),
        _ => {
            return Err(syn::Error::new_spanned(
                &function.sig,
                "a function with struct parameters returns one float, its loss (`-> f64`), or nothing when it writes a struct taken by `&mut`",
            ))
        }
    };
    let (flat, unread) = flat_function(function, read, models, &float, flat_names);
    let flat_args = flat_args(args, models);
    let floats = Floats::new(float_param);
    let Some(sig) = Signature::from_syn(&flat, &flat_args, &floats, &mut Errors::default()) else {
        // The pipeline below reports what is wrong with it.
        return crate::expand::module_of(&flat, &flat_args, Errors::default());
    };
    let outputs = match sig.returns_value {
        true => matches!(sig.outputs, Outputs::One),
        false => sig.inouts().next().is_some(),
    };
    if !outputs {
        return Err(syn::Error::new_spanned(
            &function.sig,
            "a function with struct parameters returns one float, or writes through `&mut` parameters, for now: return the loss, and compute other outputs in a function of their own",
        ));
    }
    // The function read field by field sits two modules deeper than the
    // user's (`loss::by_field`), the module the user sees one.
    let mut placed = flat.clone();
    paths::rebase(&mut placed);
    paths::rebase(&mut placed);
    let (inner, made) = crate::expand::module_and_made(&placed, &flat_args, Errors::default())?;
    let mut seen = function.clone();
    paths::rebase(&mut seen);
    let mut names =
        crate::emit::names::Names::avoiding(crate::emit::names::identifiers(quote!(#function)));
    let api = Api::new(&seen, models, &sig, &unread, &mut names);
    let mut user = user.clone();
    user.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    crate::parse::checkpoint::strip(&mut user.block);
    placed.attrs.push(syn::parse_quote!(#[doc(hidden)]));
    placed
        .attrs
        .push(syn::parse_quote!(#[allow(dead_code, clippy::all, clippy::pedantic)]));
    crate::parse::checkpoint::strip(&mut placed.block);
    let ident = &function.sig.ident;
    let vis = &function.vis;
    let doc = format!(
        "The derivative of `{ident}`, which reads its struct parameters field by field: `by_field::{ident}` is the function differentiated (each field read as a float parameter of its own), and [`SOURCE`] its generated code. `Grad` has the struct's gradient for each struct parameter."
    );
    // (A slice of rows is of floats, whose derive is the runtime's.)
    let checks = models.iter().zip(written_types).filter(|(model, _)| !model.rows && model.owner.is_none()).map(|(model, written)| {
        let ty = match crate::lower::element_type(&model.ty).filter(|_| model.slice) {
            Some(element) => element,
            None => model.ty.clone(),
        };
        let (params, _, where_clause) = seen.sig.generics.split_for_impl();
        let check = format_ident!("{}_derives_differentiable", model.ident);
        quote_spanned! {written.span()=>
            #[allow(dead_code, non_snake_case)]
            fn #check #params () #where_clause {
                ::backprop_runtime::model::fields::derive_Differentiable_for_this_parameter_or_leave_it_out_of_wrt::<#ty>();
            }
        }
    });
    let grad = api.grad_struct();
    let functions = api.functions(made.work, made.graph);
    let tangent = made.tangent.then(|| api.tangent(&mut names));
    let hvp = made.hvp.then(|| api.hvp(&mut names)).flatten();
    let tape = api.tape_struct();
    Ok(quote! {
        #user
        #[doc = #doc]
        #vis mod #ident {
            #[allow(unused_imports)]
            use super::*;

            // Each field a parameter: more than clippy's seven, which the
            // user did not write. A count field of a slice of structs is read
            // as a `usize` there: a cast the user wrote may cast a `usize`.
            #[doc(hidden)]
            #[allow(clippy::too_many_arguments, clippy::unnecessary_cast)]
            pub mod by_field {
                #[allow(unused_imports)]
                use super::super::*;

                #placed
                #inner
            }

            #tape

            #(#checks)*
            #grad
            #functions
            #tangent
            #hvp
        }
    })
}

/// The float a function returns: `f64`, `f32` or `T`.
fn result_float(output: &syn::ReturnType) -> Option<syn::Type> {
    match output {
        syn::ReturnType::Type(_, ty) => match &**ty {
            syn::Type::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
                Some((**ty).clone())
            }
            _ => None,
        },
        syn::ReturnType::Default => None,
    }
}

/// The float of a function that returns nothing: its type parameter, or
/// `f32` where its parameters name `f32` and not `f64`.
fn model_float(function: &syn::ItemFn, float_param: Option<&Ident>) -> syn::Type {
    if let Some(float) = float_param {
        return syn::parse_quote!(#float);
    }
    let inputs = &function.sig.inputs;
    let words = crate::emit::names::identifiers(quote!(#inputs));
    match words.contains("f32") && !words.contains("f64") {
        true => syn::parse_quote!(f32),
        false => syn::parse_quote!(f64),
    }
}

/// `wrt(p, x)` becomes `wrt(p_w, p_b, x)`; the structs themselves are data.
fn flat_args(args: &Args, models: &[Model]) -> Args {
    let wrt = args.wrt.as_ref().map(|wrt| {
        wrt.iter()
            .flat_map(|ident| match models.iter().find(|m| m.ident == *ident) {
                // Its fields, and those of the slices of structs it holds.
                Some(_) => models
                    .iter()
                    .filter(|m| {
                        m.ident == *ident || m.owner.as_ref().is_some_and(|(o, _)| o == ident)
                    })
                    .flat_map(|m| m.leaves.iter().map(|l| l.local.clone()))
                    .collect(),
                None => vec![ident.clone()],
            })
            .collect()
    });
    let mut data = args.data.clone();
    data.extend(models.iter().map(|m| m.ident.clone()));
    // (A slice of structs' gradient is a vector of theirs.)
    let passed = models
        .iter()
        .filter(|m| m.passed)
        .map(
            |m| match crate::lower::element_type(&m.ty).filter(|_| m.slice) {
                Some(element) => (
                    m.ident.clone(),
                    syn::parse_quote!(::std::vec::Vec<#element>),
                ),
                None => (m.ident.clone(), m.ty.clone()),
            },
        )
        .collect();
    Args {
        wrt,
        data,
        models: passed,
        second_order: args.second_order,
        plain_helpers: args.plain_helpers.clone(),
        differentiated_beside: args.differentiated_beside.clone(),
    }
}

/// What gathering a slice of structs writes into, of `Api::new`'s: the flat
/// function's arguments, the shapes computed once into `shapes_local`, and
/// where the rows a function writes (`pos: &mut [[f64; 3]]`) are gathered
/// into before the call (`lent`) and put back from after it (`put_back`).
struct Gathering<'n> {
    names: &'n mut crate::emit::names::Names,
    lent: &'n mut Vec<TokenStream>,
    put_back: &'n mut Vec<TokenStream>,
    flat_args: &'n mut Vec<TokenStream>,
    shapes: &'n mut Vec<TokenStream>,
    shapes_local: &'n Ident,
}

/// The flat function's arguments for a slice of structs (`slice`, an
/// expression of the wrappers): each field of every element gathered into
/// one vector (the cost of a layout the generated code can index), an array
/// field's cut where each element's part starts; data fields read as counts
/// or conditions too.
fn gather(model: &Model, slice: &TokenStream, into: &mut Gathering) {
    let Gathering {
        names,
        lent,
        put_back,
        flat_args,
        shapes,
        shapes_local,
    } = into;
    let fields = quote!(::backprop_runtime::model::fields);
    for data in &model.data {
        let path = &data.path;
        flat_args.push(match data.count {
            true => quote!(&#fields::counts(#slice.iter().map(|e| e.#(#path).*))[..]),
            false => {
                quote!(&#slice.iter().map(|e| e.#(#path).*).collect::<::std::vec::Vec<bool>>()[..])
            }
        });
    }
    for leaf in &model.leaves {
        let members = model.members(&leaf.path);
        if leaf.array {
            let lengths = match model.rows {
                true => quote!(#fields::lengths(#slice.iter())),
                false => quote!(#slice.iter().map(|e| e #members.len())),
            };
            let offsets = quote_spanned!(leaf.span=> #fields::offsets(#lengths));
            let gathered =
                quote_spanned!(leaf.span=> #fields::concat(#slice.iter().map(|e| &e #members[..])));
            if leaf.written {
                // Rows written in place: gathered into a vector the flat
                // function writes, put back after it.
                let local = names.fresh(&leaf.local.to_string());
                lent.push(quote!(let mut #local = #gathered;));
                put_back.push(quote!(#fields::put_rows(#slice, &#local);));
                flat_args.push(quote!(&mut #local[..]));
            } else {
                flat_args.push(quote!(&#gathered[..]));
            }
            let j = proc_macro2::Literal::usize_unsuffixed(shapes.len());
            flat_args.push(quote!(&#shapes_local[#j][..]));
            shapes.push(offsets);
        } else {
            flat_args.push(
                quote_spanned!(leaf.span=> &#fields::gather(#slice.iter().map(|e| e #members))[..]),
            );
        }
    }
}

/// Where a field of the function's `Grad` comes from in the flat `Grad`.
enum Source<'a> {
    /// A field of a struct parameter: `grad.p.w` is the flat `p_w`.
    Leaf {
        model: &'a Ident,
        path: &'a [Ident],
        array: bool,
        /// Written in place, of a struct taken by `&mut`.
        written: bool,
    },
    /// A field of every element of a slice of structs: `grad.layers[k].w` is
    /// part `k` of the flat `layers_w`, cut where `shape` (an index into the
    /// tape's `shapes`) says; `None` for a float field, one per element.
    Elements {
        model: &'a Ident,
        path: &'a [Ident],
        shape: Option<usize>,
        /// How the field is reached from an element: `.w`; nothing for a
        /// row.
        members: TokenStream,
        /// Of a slice held by the struct `model`: its field (`.layers` of
        /// `model.layers`); else nothing.
        within: TokenStream,
    },
    /// A parameter of its own: `grad.x` is the flat `x`.
    Own { slice: bool },
}

struct Api<'a> {
    seen: &'a syn::ItemFn,
    models: &'a [Model],
    sig: &'a Signature,
    /// The flat gradient's fields, in its order, and their sources.
    flat_fields: Vec<(Ident, Source<'a>)>,
    /// The wrappers' parameters (`_y` passed as `y`) and the flat function's
    /// arguments made from them.
    params: Vec<TokenStream>,
    flat_args: Vec<TokenStream>,
    /// The wrappers' name of each struct parameter (`_layers` passed as
    /// `layers`).
    passed_names: std::collections::BTreeMap<String, Ident>,
    /// Where each array field of a slice of structs starts, per element,
    /// computed from the wrappers' parameters (`offsets(layers.iter()..)`):
    /// the gradient is cut there.
    shapes: Vec<TokenStream>,
    /// The local they are computed into once per call (`prelude`), which the
    /// flat arguments lend and the tape or the gradient then takes.
    shapes_local: Ident,
    /// The written fields of structs taken by `&mut`: taken out of them into
    /// locals before a call of the flat function (which writes them through
    /// `&mut` parameters while it reads the struct's other fields), and put
    /// back after it (`postlude`).
    lent: Vec<TokenStream>,
    put_back: Vec<TokenStream>,
    /// Of each vector field written (by its flat parameter's name): where
    /// its length is among the shapes.
    seed_lengths: std::collections::BTreeMap<String, usize>,
    /// Locals of the wrappers, apart from the user's names.
    tape: Ident,
    seed: Ident,
    gradient: Ident,
    value: Ident,
    flat: Ident,
    iterations: Ident,
}

impl<'a> Api<'a> {
    fn new(
        seen: &'a syn::ItemFn,
        models: &'a [Model],
        sig: &'a Signature,
        unread: &std::collections::BTreeSet<String>,
        names: &mut crate::emit::names::Names,
    ) -> Api<'a> {
        let mut flat_fields = Vec::new();
        let shaped: Vec<&Ident> = models
            .iter()
            .flat_map(|m| m.leaves.iter().filter_map(|l| l.offsets.as_ref()))
            .collect();
        for (param, _) in sig.differentiable() {
            let leaf = models.iter().find_map(|m| {
                m.leaves
                    .iter()
                    .find(|l| l.local == param.ident)
                    .map(|l| (m, l))
            });
            let source = match leaf {
                Some((model, leaf)) if model.slice => Source::Elements {
                    model: model
                        .owner
                        .as_ref()
                        .map_or(&model.ident, |(owner, _)| owner),
                    within: model
                        .owner
                        .as_ref()
                        .map(|(_, field)| quote!(.#field))
                        .unwrap_or_default(),
                    path: &leaf.path,
                    members: model.members(&leaf.path),
                    shape: leaf
                        .offsets
                        .as_ref()
                        .and_then(|at| shaped.iter().position(|s| *s == at)),
                },
                Some((model, leaf)) => Source::Leaf {
                    model: &model.ident,
                    path: &leaf.path,
                    array: leaf.array,
                    written: leaf.written,
                },
                None => Source::Own {
                    slice: matches!(param.shape, Some(Shape::Slice)),
                },
            };
            flat_fields.push((param.ident.clone(), source));
        }
        let mut params = Vec::new();
        let mut flat_args = Vec::new();
        let mut shapes = Vec::new();
        let shapes_local = names.fresh("shapes");
        let mut passed_names = std::collections::BTreeMap::new();
        let (mut lent, mut put_back) = (Vec::new(), Vec::new());
        let mut seed_lengths = std::collections::BTreeMap::new();
        let fields = quote!(::backprop_runtime::model::fields);
        for (ident, typed) in named_params(&seen.sig) {
            // `_y` would be a used underscore binding here.
            let passed = match ident.to_string().strip_prefix('_') {
                Some(bare) if !bare.is_empty() => names.fresh(bare),
                _ => ident.clone(),
            };
            let ty = &typed.ty;
            params.push(quote!(#passed: #ty));
            match models.iter().find(|m| m.ident == *ident) {
                Some(model) => {
                    passed_names.insert(model.ident.to_string(), passed.clone());
                    if !unread.contains(&model.ident.to_string()) {
                        flat_args.push(if model.by_ref {
                            quote!(#passed)
                        } else {
                            quote!(&#passed)
                        });
                    }
                    // A slice of structs, gathered; a struct's own fields,
                    // then the slices of structs it holds, gathered.
                    let slices: Vec<(&Model, TokenStream)> = match model.slice {
                        true => vec![(model, quote!(#passed))],
                        false => models
                            .iter()
                            .filter_map(|held| {
                                let (owner, field) = held.owner.as_ref()?;
                                (owner == ident).then(|| (held, quote!(#passed.#field)))
                            })
                            .collect(),
                    };
                    let own_leaves = if model.slice {
                        &[][..]
                    } else {
                        &model.leaves[..]
                    };
                    for leaf in own_leaves {
                        let path = &leaf.path;
                        if leaf.written {
                            let local = names.fresh(&leaf.local.to_string());
                            lent.push(match leaf.array {
                                true => {
                                    quote!(let mut #local = #fields::lend(&mut #passed.#(#path).*);)
                                }
                                false => quote!(let mut #local = #passed.#(#path).*;),
                            });
                            put_back.push(quote!(#passed.#(#path).* = #local;));
                            if leaf.array {
                                seed_lengths.insert(leaf.local.to_string(), shapes.len());
                                shapes.push(quote!(::std::vec![#passed.#(#path).*.len()]));
                            }
                            flat_args.push(match leaf.array {
                                true => quote!(&mut #local[..]),
                                false => quote!(&mut #local),
                            });
                            continue;
                        }
                        flat_args.push(if leaf.array {
                            quote_spanned!(leaf.span=> &#passed.#(#path).*[..])
                        } else {
                            quote_spanned!(leaf.span=> #passed.#(#path).*)
                        });
                    }
                    let mut gathering = Gathering {
                        names,
                        lent: &mut lent,
                        put_back: &mut put_back,
                        flat_args: &mut flat_args,
                        shapes: &mut shapes,
                        shapes_local: &shapes_local,
                    };
                    for (slice_model, slice) in &slices {
                        gather(slice_model, slice, &mut gathering);
                    }
                }
                None => flat_args.push(quote!(#passed)),
            }
        }
        Api {
            seen,
            models,
            sig,
            flat_fields,
            params,
            flat_args,
            passed_names,
            shapes,
            shapes_local,
            lent,
            put_back,
            seed_lengths,
            tape: names.fresh("tape"),
            seed: names.fresh("seed"),
            gradient: names.fresh("gradient"),
            value: names.fresh("value"),
            flat: names.fresh("flat"),
            iterations: names.fresh("iterations"),
        }
    }

    /// `by_field::loss::item`.
    fn flat_path(&self, item: TokenStream) -> TokenStream {
        let ident = &self.seen.sig.ident;
        quote!(self::by_field::#ident::#item)
    }

    fn has_slices(&self) -> bool {
        self.models.iter().any(|m| m.slice)
    }

    /// Whether the tape keeps shapes: where each element's part of an array
    /// field of a slice of structs starts, and the length of each vector
    /// field a struct taken by `&mut` writes (its seed is checked against it).
    fn has_shapes(&self) -> bool {
        self.has_slices()
            || self
                .models
                .iter()
                .any(|m| m.leaves.iter().any(|l| l.written && l.array))
    }

    /// The function read field by field's tape, re-exported; with slices of
    /// structs, inside a tape that also keeps where each element's part of an
    /// array field starts (the gradient is cut there).
    fn tape_struct(&self) -> TokenStream {
        let ident = &self.seen.sig.ident;
        if !self.has_shapes() {
            return quote!(pub use self::by_field::#ident::{Tape, SOURCE};);
        }
        let (params, args, where_clause) = self.seen.sig.generics.split_for_impl();
        let flat_tape = self.flat_path(quote!(Tape #args));
        let doc = format!("The tape of `{ident}`: `by_field::{ident}`'s, and where each element's part of an array field of a slice of structs starts.");
        quote! {
            pub use self::by_field::#ident::SOURCE;

            #[doc = #doc]
            #[derive(Debug)]
            pub struct Tape #params #where_clause {
                /// The tape of the function read field by field.
                pub by_field: #flat_tape,
                shapes: ::std::vec::Vec<::std::vec::Vec<usize>>,
            }

            impl #params ::core::default::Default for Tape #args #where_clause {
                fn default() -> Self {
                    Tape { by_field: ::core::default::Default::default(), shapes: ::std::vec::Vec::new() }
                }
            }

            impl #params ::core::clone::Clone for Tape #args #where_clause {
                fn clone(&self) -> Self {
                    Tape { by_field: self.by_field.clone(), shapes: self.shapes.clone() }
                }
            }

            impl #params Tape #args #where_clause {
                /// The memory this tape holds, in bytes.
                #[must_use]
                pub fn bytes(&self) -> usize {
                    self.by_field.bytes()
                        + self.shapes.iter().map(|s| s.capacity() * ::core::mem::size_of::<usize>()).sum::<usize>()
                }
            }
        }
    }

    /// The flat tape, from the tape `tape` of the wrappers, by reference.
    fn flat_tape(&self, tape: &Ident, mutable: bool) -> TokenStream {
        match (self.has_shapes(), mutable) {
            (true, true) => quote!(&mut #tape.by_field),
            (true, false) => quote!(&#tape.by_field),
            (false, _) => quote!(#tape),
        }
    }

    /// The shapes the gradient is cut at, as kept in the tape `tape`.
    fn kept_shapes(&self, tape: &Ident) -> TokenStream {
        match self.has_shapes() {
            true => quote!(&#tape.shapes),
            false => quote!(&[]),
        }
    }

    /// Before a wrapper calls the flat function: the shapes computed from
    /// the parameters, once (the flat arguments lend them), and the written
    /// fields taken out.
    fn prelude(&self) -> TokenStream {
        let (local, shapes, lent) = (&self.shapes_local, &self.shapes, &self.lent);
        match shapes.is_empty() {
            true => quote!(#(#lent)*),
            false => {
                quote!(let #local: ::std::vec::Vec<::std::vec::Vec<usize>> = ::std::vec![#(#shapes),*]; #(#lent)*)
            }
        }
    }

    /// After a wrapper called the flat function: the written fields put
    /// back.
    fn postlude(&self) -> TokenStream {
        let put_back = &self.put_back;
        quote!(#(#put_back)*)
    }

    /// Whether the function writes through `&mut` parameters (its own or a
    /// struct's fields): it has no `grad`, and its seeds are one per output.
    fn writes(&self) -> bool {
        self.sig.inouts().next().is_some()
    }

    /// The shapes `prelude` computed, by reference.
    fn computed_shapes(&self) -> TokenStream {
        let local = &self.shapes_local;
        match self.shapes.is_empty() {
            true => quote!(&[]),
            false => quote!(&#local),
        }
    }

    /// The shapes `prelude` computed, moved into a tape's field (nothing
    /// without slices of structs).
    fn shapes_value(&self) -> TokenStream {
        let local = &self.shapes_local;
        match self.shapes.is_empty() {
            true => quote!(::std::vec::Vec::new()),
            false => quote!(#local),
        }
    }

    /// `tape.shapes = shapes;` after the flat function ran.
    fn keep_shapes(&self, tape: &Ident) -> TokenStream {
        let value = self.shapes_value();
        match self.has_shapes() {
            true => quote!(#tape.shapes = #value;),
            false => quote!(),
        }
    }
}
