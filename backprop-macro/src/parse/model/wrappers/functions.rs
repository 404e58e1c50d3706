//! The module's functions over the structs: the passes, `grad`, `graph`,
//! `pullback_into` for callers, and `tangent`.

use super::named_params;
use super::{Api, Source};
use crate::parse::signature::Shape;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};

impl Api<'_> {
    pub(super) fn functions(&self, work: bool, graphs: bool) -> TokenStream {
        let (generics, args, where_clause) = self.seen.sig.generics.split_for_impl();
        let float = &self.sig.ret;
        let ret = match &self.seen.sig.output {
            syn::ReturnType::Type(_, ty) => quote!(#ty),
            syn::ReturnType::Default => quote!(()),
        };
        let Api {
            params,
            flat_args,
            tape,
            seed,
            gradient,
            value,
            flat,
            iterations,
            ..
        } = self;
        let ident = &self.seen.sig.ident;
        let call = |item: &str| self.flat_path(format_ident!("{item}").into_token_stream());
        let (forward_into, forward, backward_into, backward, grad, grad_into, graph, graph_with) = (
            call("forward_into"),
            call("forward"),
            call("backward_into"),
            call("backward"),
            call("grad"),
            call("grad_into"),
            call("graph"),
            call("graph_with"),
        );
        let lints = quote!(#[allow(clippy::too_many_arguments, clippy::let_unit_value)]);
        let (flat_tape, flat_tape_ref) = (self.flat_tape(tape, true), self.flat_tape(tape, false));
        let (kept_shapes, keep_shapes) = (self.kept_shapes(tape), self.keep_shapes(tape));
        let (prelude, computed) = (self.prelude(), self.computed_shapes());
        let postlude = self.postlude();
        let kept_tape = match self.has_shapes() {
            true => {
                let shapes = self.shapes_value();
                quote!(Tape { by_field: #tape, shapes: #shapes })
            }
            false => quote!(#tape),
        };
        let (seed_ty, flat_seed, through) = self.seeds();
        let backward_body = match through.is_empty() {
            true => quote!(Grad::from_flat(#backward(#flat_tape_ref, #flat_seed), #kept_shapes)),
            false => quote! {
                let mut #gradient = Grad::default();
                self::backward_into(#tape, #seed, &mut #gradient);
                #gradient
            },
        };
        // A function that writes through `&mut` has outputs beside its value:
        // `forward` and `backward` with a seed per output serve.
        let pullback = (!self.writes()).then(|| self.pullback_into(float, work));
        let doc =
            |text: &str| format!("`{ident}::by_field::{ident}`'s `{text}`, over the structs.");
        let (d_forward_into, d_forward, d_backward_into, d_backward, d_grad, d_grad_into, d_graph) = (
            doc("forward_into"),
            doc("forward"),
            doc("backward_into"),
            doc("backward"),
            doc("grad"),
            doc("grad_into"),
            doc("graph"),
        );
        // `grad` and `grad_into`, of a function whose one output is its value.
        let grads = (!self.writes()).then(|| quote! {
            #[doc = #d_grad]
            #[must_use]
            #[inline]
            #lints
            pub fn grad #generics (#(#params),*) -> (#ret, Grad #args) #where_clause {
                #prelude
                let (#value, #flat) = #grad(#(#flat_args),*);
                (#value, Grad::from_flat(#flat, #computed))
            }

            #[doc = #d_grad_into]
            #[inline]
            #lints
            pub fn grad_into #generics (#(#params,)* #tape: &mut Tape #args, #gradient: &mut Grad #args) -> #ret #where_clause {
                #prelude
                let mut #flat = #gradient.take_flat();
                let #value = #grad_into(#(#flat_args,)* #flat_tape, &mut #flat);
                #gradient.put_flat(#flat, #computed);
                #keep_shapes
                #value
            }

        });
        // `graph` and `graph_with`, where the function read field by field
        // has them.
        let graphs = graphs.then(|| quote! {
            #[doc = #d_graph]
            #[must_use]
            #[inline]
            #lints
            pub fn graph #generics (#(#params),*) -> ::backprop_runtime::graph::Graph #where_clause {
                #prelude
                let #value = #graph(#(#flat_args),*);
                #postlude
                #value
            }

            #[doc = #d_graph]
            #[must_use]
            #[inline]
            #lints
            pub fn graph_with #generics (#(#params,)* #iterations: usize) -> ::backprop_runtime::graph::Graph #where_clause {
                #prelude
                let #value = #graph_with(#(#flat_args,)* #iterations);
                #postlude
                #value
            }
        });
        quote! {
            #[doc = #d_forward_into]
            #[inline]
            #lints
            pub fn forward_into #generics (#tape: &mut Tape #args, #(#params),*) -> #ret #where_clause {
                #prelude
                let #value = #forward_into(#flat_tape, #(#flat_args),*);
                #postlude
                #keep_shapes
                #value
            }

            #[doc = #d_forward]
            #[must_use]
            #[inline]
            #lints
            pub fn forward #generics (#(#params),*) -> (#ret, Tape #args) #where_clause {
                #prelude
                let (#value, #tape) = #forward(#(#flat_args),*);
                #postlude
                (#value, #kept_tape)
            }

            #[doc = #d_backward_into]
            #[inline]
            pub fn backward_into #generics (#tape: &Tape #args, #seed: #seed_ty, #gradient: &mut Grad #args) #where_clause {
                let mut #flat = #gradient.take_flat();
                #(#through)*
                #backward_into(#flat_tape_ref, #flat_seed, &mut #flat);
                #gradient.put_flat(#flat, #kept_shapes);
            }

            #[doc = #d_backward]
            #[must_use]
            #[inline]
            pub fn backward #generics (#tape: &Tape #args, #seed: #seed_ty) -> Grad #args #where_clause {
                #backward_body
            }

            #grads

            #pullback

            #graphs
        }
    }

    /// The type of `backward`'s seed, and the flat function's seed made from
    /// it (`seed`): the value's, then, where the function writes through
    /// `&mut`, one per parameter written (a struct's is a gradient struct of
    /// its type, its vectors as long as the fields'), as the flat function's
    /// are one per output.
    fn seeds(&self) -> (TokenStream, TokenStream, Vec<TokenStream>) {
        let float = &self.sig.ret;
        let seed = &self.seed;
        if !self.writes() {
            return (quote!(#float), quote!(#seed), Vec::new());
        }
        let mut types = Vec::new();
        if self.sig.returns_value {
            types.push(quote!(#float));
        }
        // Where each parameter's seed is among the wrapper's.
        let mut positions = std::collections::BTreeMap::new();
        for (ident, _) in named_params(&self.seen.sig) {
            let ty = match self.models.iter().find(|m| m.ident == *ident) {
                Some(model) if model.leaves.iter().any(|l| l.written) => {
                    let ty = &model.ty;
                    quote!(&<#ty as ::backprop_runtime::Differentiable>::Grad)
                }
                Some(_) => continue,
                None => match self.sig.inouts().find(|(_, p)| p.ident == *ident) {
                    Some((_, param)) => {
                        let float = param.differentiable.as_ref().unwrap_or(float);
                        match param.writes_array() {
                            true => quote!(&[#float]),
                            false => quote!(#float),
                        }
                    }
                    None => continue,
                },
            };
            positions.insert(ident.to_string(), types.len());
            types.push(ty);
        }
        let single = types.len() == 1;
        let part = |k: usize| match single {
            true => quote!(#seed),
            false => {
                let k = proc_macro2::Literal::usize_unsuffixed(k);
                quote!(#seed.#k)
            }
        };
        let mut flat = Vec::new();
        if self.sig.returns_value {
            flat.push(part(0));
        }
        for (_, param) in self.sig.inouts() {
            let leaf = self.models.iter().find_map(|m| {
                let leaf = m.leaves.iter().find(|l| l.local == param.ident)?;
                Some((m, leaf))
            });
            flat.push(match leaf {
                Some((model, leaf)) => {
                    let part = part(positions.get(&model.ident.to_string()).copied().unwrap_or_default());
                    let path = &leaf.path;
                    match self.seed_lengths.get(&leaf.local.to_string()) {
                        Some(j) => {
                            let (tape, j) = (&self.tape, proc_macro2::Literal::usize_unsuffixed(*j));
                            let words: Vec<String> = path.iter().map(ToString::to_string).collect();
                            let field = format!("{}.{}", model.ident, words.join("."));
                            quote!(::backprop_runtime::model::fields::seed_of(&#part.#(#path).*[..], #field, #tape.shapes[#j][0]))
                        }
                        None => quote!(#part.#(#path).*),
                    }
                }
                None => part(positions.get(&param.ident.to_string()).copied().unwrap_or_default()),
            });
        }
        let tuple = |items: &[TokenStream]| match items.len() {
            1 => quote!(#(#items)*),
            _ => quote!((#(#items),*)),
        };
        let through = self.passed_through(&positions, &part);
        (tuple(&types), tuple(&flat), through)
    }

    /// A struct taken by `&mut` is an output whole: its fields the body does
    /// not write leave it as they came in, so their seeds are their
    /// gradients' terms. Before the flat backward pass (whose `take_flat`
    /// left the fields it reads at zero), each such struct's gradient gets
    /// its whole seed, and the fields written are set to zero again: their
    /// seeds reach the flat pass, whose gradient has those terms already.
    fn passed_through(
        &self,
        positions: &std::collections::BTreeMap<String, usize>,
        part: &dyn Fn(usize) -> TokenStream,
    ) -> Vec<TokenStream> {
        let gradient = &self.gradient;
        let mut code = Vec::new();
        for model in self.models.iter().filter(|m| m.mutable) {
            let Some(&at) = positions.get(&model.ident.to_string()) else {
                continue;
            };
            let (ident, part) = (&model.ident, part(at));
            code.push(quote!(::backprop_runtime::Gradient::add(&mut #gradient.#ident, #part);));
            for leaf in model.leaves.iter().filter(|l| l.written) {
                let path = &leaf.path;
                code.push(match leaf.array {
                    true => quote!(let _ = ::backprop_runtime::model::fields::Buffer::take_vec(&mut #gradient.#ident.#(#path).*);),
                    false => quote!(#gradient.#ident.#(#path).* = ::backprop_runtime::model::fields::zero();),
                });
            }
        }
        code
    }

    /// The directions of forward mode over the structs (`second`: of `hvp`,
    /// all read-only), and the flat function's direction arguments made from
    /// them, in its parameter order. A struct's direction is a gradient
    /// struct of its type, its vectors as long as the fields'.
    fn directions(
        &self,
        names: &mut crate::emit::names::Names,
        second: bool,
    ) -> (Vec<TokenStream>, Vec<TokenStream>) {
        let mut dot_params = Vec::new();
        let mut dot_names = std::collections::BTreeMap::new();
        for (ident, _) in named_params(&self.seen.sig) {
            let bare = ident.to_string();
            let dot = names.fresh(&format!("dot_{}", bare.trim_start_matches('_')));
            if let Some(model) = self.models.iter().find(|m| m.ident == *ident) {
                let ty = &model.ty;
                match crate::lower::element_type(ty).filter(|_| model.slice) {
                    // A slice of structs: a gradient struct per element.
                    Some(element) => dot_params.push(
                        quote!(#dot: &[<#element as ::backprop_runtime::Differentiable>::Grad]),
                    ),
                    // Updated in place as the struct is, where it is written
                    // (second order's directions are read-only).
                    None if !second && model.leaves.iter().any(|l| l.written) => dot_params
                        .push(quote!(#dot: &mut <#ty as ::backprop_runtime::Differentiable>::Grad)),
                    None => dot_params
                        .push(quote!(#dot: &<#ty as ::backprop_runtime::Differentiable>::Grad)),
                }
            } else if let Some((param, _)) =
                self.sig.differentiable().find(|(p, _)| p.ident == *ident)
            {
                let ty = match second {
                    true => crate::emit::second::direction_type(param),
                    false => {
                        let ty = &param.ty;
                        quote!(#ty)
                    }
                };
                dot_params.push(quote!(#dot: #ty));
            } else {
                continue;
            }
            dot_names.insert(ident.to_string(), dot);
        }
        // In the flat function's order: a struct passed whole (its own
        // direction, the whole struct's), then each field and parameter.
        let mut dot_args: Vec<TokenStream> = Vec::new();
        for param in &self.sig.params {
            if param.model.is_some() {
                let dot = &dot_names[&param.ident.to_string()];
                dot_args.push(quote!(#dot));
                continue;
            }
            let Some((local, source)) = self.flat_fields.iter().find(|(l, _)| *l == param.ident)
            else {
                continue;
            };
            let written = self
                .models
                .iter()
                .flat_map(|m| &m.leaves)
                .any(|l| l.local == *local && l.written);
            dot_args.push(match source {
                Source::Leaf { model, path, array } if written && !second => {
                    let dot = &dot_names[&model.to_string()];
                    match array {
                        true => quote!(&mut #dot.#(#path).*[..]),
                        false => quote!(&mut #dot.#(#path).*),
                    }
                }
                Source::Leaf {
                    model,
                    path,
                    array: true,
                } => {
                    let dot = &dot_names[&model.to_string()];
                    quote!(&#dot.#(#path).*[..])
                }
                Source::Leaf { model, path, .. } => {
                    let dot = &dot_names[&model.to_string()];
                    quote!(#dot.#(#path).*)
                }
                Source::Own { .. } => {
                    let dot = &dot_names[&local.to_string()];
                    quote!(#dot)
                }
                // Gathered as the values are, an element's empty (or
                // missing) direction zeros as long as its field.
                Source::Elements { model, path, shape } => {
                    let dot = &dot_names[&model.to_string()];
                    let values = &self.passed_names[&model.to_string()];
                    let fields = quote!(::backprop_runtime::model::fields);
                    match shape {
                        Some(_) => quote!(&#fields::concat_like(
                            #dot.iter().map(|g| &g.#(#path).*[..]),
                            #values.iter().map(|e| e.#(#path).*.len())
                        )[..]),
                        None => quote!(&#fields::gather_like(
                            #dot.iter().map(|g| g.#(#path).*),
                            #values.len()
                        )[..]),
                    }
                }
            });
        }
        (dot_params, dot_args)
    }

    /// Forward mode over the structs: a struct's direction is a gradient
    /// struct of the same shape (its vectors as long as the fields').
    pub(super) fn tangent(&self, names: &mut crate::emit::names::Names) -> TokenStream {
        let (generics, _, where_clause) = self.seen.sig.generics.split_for_impl();
        let ret = match &self.seen.sig.output {
            syn::ReturnType::Type(_, ty) => quote!(#ty),
            syn::ReturnType::Default => quote!(()),
        };
        let (dot_params, dot_args) = self.directions(names, false);
        let tangent = self.flat_path(quote!(tangent));
        let (params, flat_args, prelude) = (&self.params, &self.flat_args, self.prelude());
        let (postlude, value) = (self.postlude(), &self.value);
        // A function that returns nothing has a tangent that returns nothing.
        let (ret, must_use) = match self.sig.returns_value {
            true => (quote!((#ret, #ret)), Some(quote!(#[must_use]))),
            false => (quote!(()), None),
        };
        let ident = &self.seen.sig.ident;
        let doc = format!(
            "Forward mode: `{ident}`'s value and its derivative along a direction, `by_field::{ident}::tangent` over the structs. A struct's direction is a gradient struct of its type, its vectors as long as the fields' (`model.zero_grad()`, then filled)."
        );
        quote! {
            #[doc = #doc]
            #must_use
            #[inline]
            #[allow(clippy::too_many_arguments, clippy::let_unit_value)]
            pub fn tangent #generics (#(#params,)* #(#dot_params),*) -> #ret #where_clause {
                #prelude
                let #value = #tangent(#(#flat_args,)* #(#dot_args),*);
                #postlude
                #value
            }
        }
    }

    /// Second order over the structs: the value, the gradient and the
    /// Hessian times a direction (a gradient struct for a struct), from the
    /// flat function's `hvp`, for a function that returns its loss and
    /// writes nothing.
    pub(super) fn hvp(&self, names: &mut crate::emit::names::Names) -> Option<TokenStream> {
        if self.writes() || !self.sig.returns_value {
            return None;
        }
        let (generics, args, where_clause) = self.seen.sig.generics.split_for_impl();
        let float = &self.sig.ret;
        let (dot_params, dot_args) = self.directions(names, true);
        let hvp = self.flat_path(quote!(hvp));
        let (params, flat_args, prelude) = (&self.params, &self.flat_args, self.prelude());
        let computed = self.computed_shapes();
        let (value, gradient, along) = (&self.value, &self.gradient, &self.flat);
        let ident = &self.seen.sig.ident;
        let doc = format!(
            "Second order: `{ident}`'s value, its gradient, and its Hessian times a direction, `by_field::{ident}::hvp` over the structs. A struct's direction is a gradient struct of its type, its vectors as long as the fields' (`model.zero_grad()`, then filled); so are its two gradients."
        );
        Some(quote! {
            #[doc = #doc]
            #[must_use]
            #[inline]
            #[allow(clippy::too_many_arguments)]
            pub fn hvp #generics (#(#params,)* #(#dot_params),*) -> (#float, Grad #args, Grad #args) #where_clause {
                #prelude
                let (#value, #gradient, #along) = #hvp(#(#flat_args,)* #(#dot_args),*);
                (#value, Grad::from_flat(#gradient, #computed), Grad::from_flat(#along, #computed))
            }
        })
    }

    /// `Scratch` and `pullback_into`, for differentiated callers: the
    /// gradient by parameter position, a struct's as its gradient struct.
    fn pullback_into(&self, float: &crate::ir::FloatTy, work: bool) -> TokenStream {
        let (params, args, where_clause) = self.seen.sig.generics.split_for_impl();
        let mut lent = self.seen.sig.generics.clone();
        lent.params.insert(0, syn::parse_quote!('grad));
        let (lent_params, _, _) = lent.split_for_impl();
        let not = quote!(::backprop_runtime::NotDifferentiable);
        let (types, values): (Vec<TokenStream>, Vec<TokenStream>) = named_params(&self.seen.sig)
            .map(|(ident, _)| {
                if let Some(model) = self.models.iter().find(|m| m.ident == *ident) {
                    let ty = &model.ty;
                    if let Some(element) = crate::lower::element_type(ty).filter(|_| model.slice) {
                        return (
                            quote!(&'grad [<#element as ::backprop_runtime::Differentiable>::Grad]),
                            quote!(&scratch.grad.#ident[..]),
                        );
                    }
                    return (
                        quote!(&'grad <#ty as ::backprop_runtime::Differentiable>::Grad),
                        quote!(&scratch.grad.#ident),
                    );
                }
                match self.sig.differentiable().find(|(p, _)| p.ident == *ident) {
                    Some((param, float)) => match &param.shape {
                        None => (quote!(#float), quote!(scratch.grad.#ident)),
                        Some(Shape::Array(len)) => {
                            (quote!([#float; #len]), quote!(scratch.grad.#ident))
                        }
                        Some(Shape::Slice) => {
                            (quote!(&'grad [#float]), quote!(&scratch.grad.#ident[..]))
                        }
                    },
                    None => (not.clone(), not.clone()),
                }
            })
            .unzip();
        let tuple = |items: &[TokenStream]| match items.len() {
            1 => quote!((#(#items)*,)),
            _ => quote!((#(#items),*)),
        };
        let (types, values) = (tuple(&types), tuple(&values));
        // The backward pass's own memory, where it has some, is kept too: a
        // call in a loop allocates nothing once its vectors have grown.
        let tape = quote::format_ident!("tape");
        let (flat_tape, kept_shapes) = (self.flat_tape(&tape, false), self.kept_shapes(&tape));
        let (work_field, work_default, backward) = if work {
            let (work_ty, backward_with) = (
                self.flat_path(quote!(Work #args)),
                self.flat_path(quote!(backward_with)),
            );
            (
                quote!(work: #work_ty,),
                quote!(work: ::core::default::Default::default(),),
                quote! {
                    let mut flat = scratch.grad.take_flat();
                    #backward_with(#flat_tape, seed, &mut flat, &mut scratch.work);
                    scratch.grad.put_flat(flat, #kept_shapes);
                },
            )
        } else {
            (
                quote!(),
                quote!(),
                quote!(self::backward_into(tape, seed, &mut scratch.grad);),
            )
        };
        // As every function's: a zero adjoint of the result runs nothing.
        let zero = float.zero();
        let backward = quote! {
            if seed != #zero {
                #backward
            }
        };
        quote! {
            /// The memory a differentiated caller keeps per call site.
            pub struct Scratch #params #where_clause {
                grad: Grad #args,
                #work_field
            }

            impl #params ::core::default::Default for Scratch #args #where_clause {
                fn default() -> Self {
                    Scratch { grad: ::core::default::Default::default(), #work_default }
                }
            }

            /// The gradient by parameter position, for differentiated callers:
            /// a struct's is its gradient struct, a vector's a slice of it.
            pub fn pullback_into #lent_params (tape: &Tape #args, seed: #float, scratch: &'grad mut Scratch #args) -> #types #where_clause {
                scratch.grad.clear();
                #backward
                #values
            }
        }
    }
}
