//! The module's functions over the structs: the passes, `grad`, `graph`,
//! and `pullback_into` for callers (their seeds: `seeds.rs`; forward and
//! second order: `directions.rs`).

use super::named_params;
use super::Api;
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
                    // (A vector, as a caller passing the slice whole adds it.)
                    if let Some(element) = model.element_grad() {
                        return (
                            quote!(&'grad ::std::vec::Vec<#element>),
                            quote!(&scratch.grad.#ident),
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
