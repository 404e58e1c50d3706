//! The module the user sees for a function with struct parameters: the
//! function's module API over the structs again (`loss::grad(&p, x)`), with a
//! `Grad` whose field for a struct is the struct's gradient, around the
//! module of the function read field by field (`loss::by_field::loss`).

use super::flat::flat_function;
use super::Model;
use crate::desugar::paths;
use crate::errors::Errors;
use crate::ir::Floats;
use crate::parse::args::Args;
use crate::parse::signature::{Outputs, Shape, Signature};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

pub(super) fn expand(
    function: &syn::ItemFn,
    args: &Args,
    models: &[Model],
    written_types: &[syn::Type],
    float_param: Option<Ident>,
) -> syn::Result<TokenStream> {
    let Some(float) = result_float(&function.sig.output) else {
        return Err(syn::Error::new_spanned(
            &function.sig,
            "a function with struct parameters returns one float, its loss: `-> f64`",
        ));
    };
    let flat = flat_function(function, models, &float);
    let flat_args = flat_args(args, models);
    let floats = Floats::new(float_param);
    let Some(sig) = Signature::from_syn(&flat, &flat_args, &floats, &mut Errors::default()) else {
        // The pipeline below reports what is wrong with it.
        return crate::expand::module_of(&flat, &flat_args, Errors::default());
    };
    if !matches!(sig.outputs, Outputs::One) || sig.inouts().next().is_some() || !sig.returns_value {
        return Err(syn::Error::new_spanned(
            &function.sig,
            "a function with struct parameters returns one float and takes no `&mut` parameters, for now: return the loss, and compute other outputs in a function of their own",
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
    let api = Api::new(&seen, models, &sig, &mut names);
    let mut user = function.clone();
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
    let checks = models.iter().zip(written_types).map(|(model, written)| {
        let ty = &model.ty;
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
    let functions = api.functions(made.work);
    let tangent = made.tangent.then(|| api.tangent(&mut names));
    Ok(quote! {
        #user
        #[doc = #doc]
        #vis mod #ident {
            #[allow(unused_imports)]
            use super::*;

            // Each field a parameter: more than clippy's seven, which the
            // user did not write.
            #[doc(hidden)]
            #[allow(clippy::too_many_arguments)]
            pub mod by_field {
                #[allow(unused_imports)]
                use super::super::*;

                #placed
                #inner
            }

            pub use self::by_field::#ident::{Tape, SOURCE};

            #(#checks)*
            #grad
            #functions
            #tangent
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

/// `wrt(p, x)` becomes `wrt(p_w, p_b, x)`; the structs themselves are data.
fn flat_args(args: &Args, models: &[Model]) -> Args {
    let wrt = args.wrt.as_ref().map(|wrt| {
        wrt.iter()
            .flat_map(|ident| match models.iter().find(|m| m.ident == *ident) {
                Some(model) => model.leaves.iter().map(|l| l.local.clone()).collect(),
                None => vec![ident.clone()],
            })
            .collect()
    });
    let mut data = args.data.clone();
    data.extend(models.iter().map(|m| m.ident.clone()));
    let passed = models
        .iter()
        .filter(|m| m.passed)
        .map(|m| (m.ident.clone(), m.ty.clone()))
        .collect();
    Args {
        wrt,
        data,
        models: passed,
        second_order: args.second_order,
    }
}

/// Where a field of the function's `Grad` comes from in the flat `Grad`.
enum Source<'a> {
    /// A field of a struct parameter: `grad.p.w` is the flat `p_w`.
    Leaf {
        model: &'a Ident,
        path: &'a [Ident],
        array: bool,
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
        names: &mut crate::emit::names::Names,
    ) -> Api<'a> {
        let mut flat_fields = Vec::new();
        for (param, _) in sig.differentiable() {
            let leaf = models.iter().find_map(|m| {
                m.leaves
                    .iter()
                    .find(|l| l.local == param.ident)
                    .map(|l| (m, l))
            });
            let source = match leaf {
                Some((model, leaf)) => Source::Leaf {
                    model: &model.ident,
                    path: &leaf.path,
                    array: leaf.array,
                },
                None => Source::Own {
                    slice: matches!(param.shape, Some(Shape::Slice)),
                },
            };
            flat_fields.push((param.ident.clone(), source));
        }
        let mut params = Vec::new();
        let mut flat_args = Vec::new();
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
                    flat_args.push(if model.by_ref {
                        quote!(#passed)
                    } else {
                        quote!(&#passed)
                    });
                    for leaf in &model.leaves {
                        let path = &leaf.path;
                        flat_args.push(if leaf.array {
                            quote_spanned!(leaf.span=> &#passed.#(#path).*[..])
                        } else {
                            quote_spanned!(leaf.span=> #passed.#(#path).*)
                        });
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
            tape: names.fresh("tape"),
            seed: names.fresh("seed"),
            gradient: names.fresh("gradient"),
            value: names.fresh("value"),
            flat: names.fresh("flat"),
            iterations: names.fresh("iterations"),
        }
    }

    /// `Grad`: one field per differentiated parameter, the struct's gradient
    /// for a struct.
    fn grad_struct(&self) -> TokenStream {
        let (params, args, where_clause) = self.seen.sig.generics.split_for_impl();
        let mut fields: Vec<(Ident, TokenStream, TokenStream)> = Vec::new();
        for (ident, _) in named_params(&self.seen.sig) {
            if let Some(model) = self.models.iter().find(|m| m.ident == *ident) {
                let ty = &model.ty;
                let grad_ty =
                    quote_spanned!(ty.span()=> <#ty as ::backprop_runtime::Differentiable>::Grad);
                fields.push((
                    ident.clone(),
                    grad_ty,
                    quote!(::core::default::Default::default()),
                ));
            } else if let Some((param, float)) =
                self.sig.differentiable().find(|(p, _)| p.ident == *ident)
            {
                let zero = float.zero();
                let default = match &param.shape {
                    None => zero,
                    Some(Shape::Slice) => quote!(::std::vec::Vec::new()),
                    Some(Shape::Array(len)) => quote!([#zero; #len]),
                };
                fields.push((
                    ident.clone(),
                    crate::emit::gradient_type(param, &float),
                    default,
                ));
            }
        }
        let decls = fields.iter().map(|(ident, ty, _)| {
            let doc = format!("∂{}/∂{ident}", self.seen.sig.ident);
            quote!(#[doc = #doc] pub #ident: #ty)
        });
        let doc = format!(
            "The gradient of `{}`: one field per differentiable parameter, a struct's gradient struct for a struct (`Grad::default()` is zero).",
            self.seen.sig.ident
        );
        // The fields are named after the parameters, `_y` included.
        let underscore = fields
            .iter()
            .any(|(ident, ..)| ident.to_string().starts_with('_'))
            .then(|| quote!(#[allow(clippy::pub_underscore_fields)]));
        let types: Vec<&TokenStream> = fields.iter().map(|f| &f.1).collect();
        let idents: Vec<&Ident> = fields.iter().map(|f| &f.0).collect();
        let defaults = fields.iter().map(|f| &f.2);
        let derived = crate::derive::field_wise_impls(
            &format_ident!("Grad"),
            &quote!(#params),
            &quote!(#args),
            where_clause
                .map(|w| w.predicates.iter().map(|p| quote!(#p)).collect())
                .unwrap_or_default(),
            &idents,
            &types,
        );
        let clears = fields.iter().map(|(ident, _, default)| {
            if self.models.iter().any(|m| m.ident == *ident) {
                quote!(::backprop_runtime::Gradient::clear(&mut self.#ident);)
            } else {
                quote!(self.#ident = #default;)
            }
        });
        let flat_ty = self.flat_path(quote!(Grad #args));
        let flat_literal = self.flat_path(quote!(Grad));
        let buffer = quote!(::backprop_runtime::model::fields::Buffer);
        // Each field's gradient moves out, leaving zeros; a struct passed
        // whole to callees moves out last, with its fields read here zero.
        let mut takes: Vec<TokenStream> = self
            .flat_fields
            .iter()
            .map(|(local, source)| {
                let taken = match source {
                    Source::Leaf {
                        model,
                        path,
                        array: true,
                    } => quote!(#buffer::take_vec(&mut self.#model.#(#path).*)),
                    Source::Leaf { model, path, .. } => quote!(::core::mem::replace(
                        &mut self.#model.#(#path).*,
                        ::backprop_runtime::model::fields::zero()
                    )),
                    Source::Own { slice: true } => quote!(::core::mem::take(&mut self.#local)),
                    Source::Own { slice: false } => quote!(self.#local),
                };
                quote!(#local: #taken)
            })
            .collect();
        let passed: Vec<&Ident> = self
            .models
            .iter()
            .filter(|m| m.passed)
            .map(|m| &m.ident)
            .collect();
        takes.extend(
            passed
                .iter()
                .map(|model| quote!(#model: ::core::mem::take(&mut self.#model))),
        );
        let flat = &self.flat;
        // Back: the callees' gradient of a struct first, then each field's
        // own added to it.
        let mut puts: Vec<TokenStream> = passed
            .iter()
            .map(|model| quote!(self.#model = #flat.#model;))
            .collect();
        puts.extend(self.flat_fields.iter().map(|(local, source)| match source {
            Source::Leaf {
                model,
                path,
                array: true,
            } => quote!(#buffer::add_vec(&mut self.#model.#(#path).*, #flat.#local);),
            Source::Leaf { model, path, .. } => {
                quote!(self.#model.#(#path).* = self.#model.#(#path).* + #flat.#local;)
            }
            Source::Own { .. } => quote!(self.#local = #flat.#local;),
        }));
        quote! {
            #[doc = #doc]
            #underscore
            pub struct Grad #params #where_clause { #(#decls),* }

            #derived

            impl #params ::core::default::Default for Grad #args #where_clause {
                fn default() -> Self {
                    Grad { #(#idents: #defaults),* }
                }
            }

            // `a = a + b`: a generic float has no `+=`.
            #[allow(clippy::assign_op_pattern)]
            impl #params Grad #args #where_clause {
                /// Sets the gradient to zero, keeping its vectors' memory.
                pub fn clear(&mut self) {
                    #(#clears)*
                }

                /// The gradient of the function read field by field, its
                /// vectors moved out of this one.
                fn take_flat(&mut self) -> #flat_ty {
                    #flat_literal { #(#takes),* }
                }

                /// Back from the function read field by field.
                fn put_flat(&mut self, #flat: #flat_ty) {
                    #(#puts)*
                }

                fn from_flat(#flat: #flat_ty) -> Self {
                    let mut grad = Self::default();
                    grad.put_flat(#flat);
                    grad
                }
            }
        }
    }

    /// Forward mode over the structs: a struct's direction is a gradient
    /// struct of the same shape (its vectors as long as the fields').
    fn tangent(&self, names: &mut crate::emit::names::Names) -> TokenStream {
        let (generics, _, where_clause) = self.seen.sig.generics.split_for_impl();
        let ret = match &self.seen.sig.output {
            syn::ReturnType::Type(_, ty) => quote!(#ty),
            syn::ReturnType::Default => quote!(()),
        };
        let mut dot_params = Vec::new();
        let mut dot_names = std::collections::BTreeMap::new();
        for (ident, _) in named_params(&self.seen.sig) {
            let bare = ident.to_string();
            let dot = names.fresh(&format!("dot_{}", bare.trim_start_matches('_')));
            if let Some(model) = self.models.iter().find(|m| m.ident == *ident) {
                let ty = &model.ty;
                dot_params.push(quote!(#dot: &<#ty as ::backprop_runtime::Differentiable>::Grad));
            } else if let Some((param, _)) =
                self.sig.differentiable().find(|(p, _)| p.ident == *ident)
            {
                let ty = &param.ty;
                dot_params.push(quote!(#dot: #ty));
            } else {
                continue;
            }
            dot_names.insert(ident.to_string(), dot);
        }
        let dot_args = self.flat_fields.iter().map(|(local, source)| match source {
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
        });
        let tangent = self.flat_path(quote!(tangent));
        let (params, flat_args) = (&self.params, &self.flat_args);
        let ident = &self.seen.sig.ident;
        let doc = format!(
            "Forward mode: `{ident}`'s value and its derivative along a direction, `by_field::{ident}::tangent` over the structs. A struct's direction is a gradient struct of its type, its vectors as long as the fields' (`model.zero_grad()`, then filled)."
        );
        quote! {
            #[doc = #doc]
            #[must_use]
            #[inline]
            #[allow(clippy::too_many_arguments)]
            pub fn tangent #generics (#(#params,)* #(#dot_params),*) -> (#ret, #ret) #where_clause {
                #tangent(#(#flat_args,)* #(#dot_args),*)
            }
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
                    #backward_with(tape, seed, &mut flat, &mut scratch.work);
                    scratch.grad.put_flat(flat);
                },
            )
        } else {
            (
                quote!(),
                quote!(),
                quote!(self::backward_into(tape, seed, &mut scratch.grad);),
            )
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

    /// `by_field::loss::item`.
    fn flat_path(&self, item: TokenStream) -> TokenStream {
        let ident = &self.seen.sig.ident;
        quote!(self::by_field::#ident::#item)
    }

    fn functions(&self, work: bool) -> TokenStream {
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
        let lints = quote!(#[allow(clippy::too_many_arguments)]);
        let pullback = self.pullback_into(float, work);
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
        quote! {
            #[doc = #d_forward_into]
            #[inline]
            #lints
            pub fn forward_into #generics (#tape: &mut Tape #args, #(#params),*) -> #ret #where_clause {
                #forward_into(#tape, #(#flat_args),*)
            }

            #[doc = #d_forward]
            #[must_use]
            #[inline]
            #lints
            pub fn forward #generics (#(#params),*) -> (#ret, Tape #args) #where_clause {
                #forward(#(#flat_args),*)
            }

            #[doc = #d_backward_into]
            #[inline]
            pub fn backward_into #generics (#tape: &Tape #args, #seed: #float, #gradient: &mut Grad #args) #where_clause {
                let mut #flat = #gradient.take_flat();
                #backward_into(#tape, #seed, &mut #flat);
                #gradient.put_flat(#flat);
            }

            #[doc = #d_backward]
            #[must_use]
            #[inline]
            pub fn backward #generics (#tape: &Tape #args, #seed: #float) -> Grad #args #where_clause {
                Grad::from_flat(#backward(#tape, #seed))
            }

            #[doc = #d_grad]
            #[must_use]
            #[inline]
            #lints
            pub fn grad #generics (#(#params),*) -> (#ret, Grad #args) #where_clause {
                let (#value, #flat) = #grad(#(#flat_args),*);
                (#value, Grad::from_flat(#flat))
            }

            #[doc = #d_grad_into]
            #[inline]
            #lints
            pub fn grad_into #generics (#(#params,)* #tape: &mut Tape #args, #gradient: &mut Grad #args) -> #ret #where_clause {
                let mut #flat = #gradient.take_flat();
                let #value = #grad_into(#(#flat_args,)* #tape, &mut #flat);
                #gradient.put_flat(#flat);
                #value
            }

            #pullback

            #[doc = #d_graph]
            #[must_use]
            #[inline]
            #lints
            pub fn graph #generics (#(#params),*) -> ::backprop_runtime::graph::Graph #where_clause {
                #graph(#(#flat_args),*)
            }

            #[doc = #d_graph]
            #[must_use]
            #[inline]
            #lints
            pub fn graph_with #generics (#(#params,)* #iterations: usize) -> ::backprop_runtime::graph::Graph #where_clause {
                #graph_with(#(#flat_args,)* #iterations)
            }
        }
    }
}

use quote::ToTokens;

/// The function's parameters with their names (a model function's are
/// names: `expand_models` refuses patterns).
fn named_params(sig: &syn::Signature) -> impl Iterator<Item = (&Ident, &syn::PatType)> {
    sig.inputs.iter().filter_map(|input| match input {
        syn::FnArg::Typed(typed) => match &*typed.pat {
            syn::Pat::Ident(pat) => Some((&pat.ident, typed)),
            _ => None,
        },
        syn::FnArg::Receiver(_) => None,
    })
}
