//! Assembles the module that sits next to the user's function: `Tape`, `Grad`,
//! `forward`, `backward`, `grad`, `pullback` and `SOURCE`.

use super::api::{grad_fn, grad_struct, pullback_fn};
use super::passes::{backward_fns, forward_fns};
use super::tape::{tape_struct, Tape};
use crate::emit::backward::Backward;
use crate::emit::names::Names;
use crate::emit::pretty::pretty;
use crate::ir::Graph;
use crate::parse::signature::Signature;
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// `lints`: the user's `#[allow(...)]` attributes on the function, which apply to
/// the same code in the generated passes.
pub fn assemble(
    sig: &Signature,
    graph: &Graph,
    backward: &Backward,
    names: &mut Names,
    lints: &[syn::Attribute],
    nesting: Nesting,
    again: Again,
) -> syn::Result<(TokenStream, Made)> {
    let Again { recorded, lanes } = again;
    // `grad`'s two locals only need to avoid the user's names, not the other
    // functions' locals.
    let mut grad_names = names.clone();
    let generic = Generic::of(sig, names);
    let kept = lanes
        .as_ref()
        .map_or_else(Vec::new, |lanes| lanes.kept_memory());
    let tape = tape_struct(sig, graph, backward, &generic, &kept)?;
    let mut grad = grad_struct(sig, &generic);
    // The user's lints hold for the passes, which repeat the user's code (the
    // first item of each); on the module too, for what it defines.
    let passes = super::passes::Passes {
        sig,
        graph,
        backward,
        tape: &tape,
        generic: &generic,
    };
    let forward_fn = forward_fns(&passes, &grad_names);
    let forward_fn = quote!(#(#lints)* #forward_fn);
    let backward_fn = backward_fns(&passes, names);
    let backward_fn = quote!(#(#lints)* #backward_fn);
    let fused = tape.argument_copies().next().map(|_| (&tape, backward));
    let has_work = !backward.work_fields.is_empty();
    let grad_fn = grad_fn(
        sig,
        graph.outputs.len(),
        &mut grad_names,
        &generic,
        fused,
        has_work,
        lanes.as_ref(),
    );
    // `jacobian_into`'s pass with lanes, and the gradient it fills.
    let backward_fn = match lanes {
        Some(mut lanes) => {
            grad.extend(lanes.grad_struct(sig));
            grad.extend(lanes.work_struct(sig));
            let lanes_fn = lanes.backward_fn(sig, graph, &tape, &generic);
            quote!(#backward_fn #(#lints)* #lanes_fn)
        }
        None => backward_fn,
    };
    let pullback_fn = pullback_fn(sig, backward, &tape, &generic);
    let work = super::tape::work_structs(sig, backward, &generic);
    // A twin is there for `hvp` and `hessian`: no forward mode of its own
    // (its emission would double the expansion's cost for nothing).
    let linted = |item: Option<TokenStream>| item.map(|item| quote!(#(#lints)* #item));
    let (tangent_fn, tangents_fn, jacobian_fwd_fn) = if nesting.is_twin {
        (None, None, None)
    } else {
        (
            linted(super::tangent::tangent_fn(
                sig,
                graph,
                &grad_names,
                &generic,
            )),
            linted(super::tangent::tangents_fn(sig, graph, &grad_names)),
            linted(super::tangent::jacobian_fwd_fn(
                sig,
                graph,
                &grad_names,
                &generic,
            )),
        )
    };
    let hvp_fn = super::second::hvp_fn(sig, &grad_names, &generic);
    let hessian_fn = hvp_fn.as_ref().and_then(|_| {
        let has_work = !backward.work_fields.is_empty();
        super::second::hessian_fn(sig, &grad_names, &generic, has_work)
    });
    // A function over `f64` or `f32` gets them from its twin, when it has
    // one, where second order covers the signature; one that returns
    // nothing has its twin only for its callers' twins.
    let (hvp_fn, twin) = match (hvp_fn, nesting.twin) {
        (None, Some((name, twin))) if super::second::covered(sig) => (
            Some(super::second::through_twin(sig, &grad_names, &name)),
            Some(twin),
        ),
        (None, Some((_, twin))) => (None, Some(twin)),
        (hvp_fn, _) => (hvp_fn, None),
    };

    // Not in `SOURCE`: the passes again, with recording calls.
    let graph_fns = recorded
        .and_then(|recording| recording.graph_fns(sig, graph, &tape, &grad_names, &generic));
    let graph_fns = linted(graph_fns);
    let Tape {
        definition: tape_def,
        ..
    } = &tape;
    let items = &sig.items;
    let shown = quote!(#(#items)* #tape_def #grad #work #forward_fn #backward_fn #grad_fn #pullback_fn #tangent_fn #tangents_fn #jacobian_fwd_fn #hvp_fn #hessian_fn #twin);
    let made = Made {
        tangent: tangent_fn.is_some(),
        graph: graph_fns.is_some(),
        hvp: hvp_fn.is_some(),
        work: !backward.work_fields.is_empty(),
    };
    let ident = &sig.ident;
    let vis = &sig.vis;
    if nesting.is_twin {
        // Public for the twins of callers marked `second_order`.
        let module = quote! {
            #[allow(dead_code)]
            #[doc(hidden)]
            pub mod #ident {
                #[allow(unused_imports)]
                use super::*;

                #shown
            }
        };
        return Ok((module, made));
    }
    let activation_checks = super::activations::bare_activation_checks(graph);
    let source = pretty(shown.clone());
    let (doc, code_doc) = module_doc(&ident.to_string(), &source);
    let module = quote! {
        #[doc = #doc]
        // The code again for rustdoc only: `cargo expand` and the compiler
        // see it once, as the module itself, and once more in `SOURCE`.
        #[cfg_attr(doc, doc = #code_doc)]
        // Not every caller uses every item (a binary may call only `grad`).
        #[allow(dead_code)]
        #(#lints)*
        #vis mod #ident {
            // The body may mention none of the parent's items.
            #[allow(unused_imports)]
            use super::*;

            #shown

            #graph_fns

            /// This module's code, pretty-printed: what `cargo expand` shows, less the docs.
            pub const SOURCE: &str = #source;
        }

        // Beside the function, where its names are resolved (a `use` in
        // the block around it included).
        #activation_checks
    };
    Ok((module, made))
}

/// Which of the optional functions a module has.
pub struct Made {
    /// `tangent`: forward mode.
    pub tangent: bool,
    /// `graph` and `graph_with`.
    pub graph: bool,
    /// `hvp` and `hessian`: second order.
    pub hvp: bool,
    /// `Work` and `backward_with`: memory of the backward pass's own.
    pub work: bool,
}

/// The backward pass written again: with recording calls for `graph`, with
/// lanes for `jacobian_into` (`emit/lanes.rs`), where the function has them.
pub struct Again {
    pub recorded: Option<Recording>,
    pub lanes: Option<super::lanes::LanesPass>,
}

/// `graph`'s backward pass, with the recorder its calls use and the names
/// it took.
pub struct Recording {
    pub backward: Backward,
    pub recorder: Ident,
    pub names: Names,
}

impl Recording {
    /// `graph`, `graph_with`, and the recorded passes they run.
    fn graph_fns(
        mut self,
        sig: &Signature,
        graph: &Graph,
        tape: &super::tape::Tape,
        names: &Names,
        generic: &Generic,
    ) -> Option<TokenStream> {
        let passes = super::passes::Passes {
            sig,
            graph,
            backward: &self.backward,
            tape,
            generic,
        };
        let recorder = Some(&self.recorder);
        let (forward_fn, _) = passes.forward(quote!(fn forward_recorded), &self.names, recorder);
        let backward_fn = passes.backward(quote!(fn backward_recorded), &mut self.names, recorder);
        let too_many = quote!(#[allow(clippy::too_many_arguments)]);
        super::graph::graph_fns(
            sig,
            graph,
            super::graph::Recorded {
                backward: &self.backward,
                forward_fn,
                backward_fn: quote!(#too_many #[inline] #backward_fn),
            },
            tape,
            names,
            generic,
        )
    }
}

/// Where a module goes: a function's own, holding the module of its twin
/// over a generic float (`twin.rs`) if it has one, or that twin's.
pub struct Nesting {
    pub twin: Option<(Ident, TokenStream)>,
    pub is_twin: bool,
}

/// The module's summary, and its code for rustdoc.
fn module_doc(name: &str, source: &str) -> (String, String) {
    let summary = format!(
        "Reverse-mode derivative of `{name}`, generated by `#[differentiate]`.\n\n\
         `forward` computes `{name}` and a `Tape` of the intermediates the gradient needs; \
         `backward` applies the chain rule node by node, from a seed (the derivative of \
         the final loss with respect to `{name}`'s result) to a `Grad`; `grad` does both \
         with a seed of one. `SOURCE` holds the generated code as text.\n"
    );
    let code = format!("\nThe generated code:\n\n```text\n{source}```\n");
    (summary, code)
}

/// A generic function's module is generic too: `Tape<T>`, `fn forward<T: Float>`.
/// For a function over `f64` or `f32` every part is empty.
pub(super) struct Generic {
    /// `<T: Float>`, after a function's or an impl's name.
    pub(super) params: TokenStream,
    /// `<T>`, after `Tape` and `Grad`.
    pub(super) args: TokenStream,
    /// `<T: Float = f64>`, where `Tape`, `Grad`, `Work` and `Scratch` are
    /// defined (`<T = f64>` for the alias `Scratch`): an `f64` caller names
    /// a generic callee's types as `callee::Tape`, as it names a
    /// non-generic one's, so it calls `dot(a, b)` without `dot::<f64>`.
    /// (Only for a function whose one generic parameter is its float.)
    pub(super) defined: TokenStream,
    pub(super) alias: TokenStream,
    pub(super) where_clause: TokenStream,
    /// `Tape`'s field that holds the type parameter, which other fields may
    /// not mention, and the parameter.
    pub(super) marker: Option<(Ident, Ident)>,
}

impl Generic {
    pub(super) fn of(sig: &Signature, names: &mut Names) -> Generic {
        let (params, args, where_clause) = sig.generics.split_for_impl();
        let float = sig.generics.type_params().next().map(|t| t.ident.clone());
        let (defined, alias) = match (sig.generics.params.len(), &float) {
            (1, Some(float)) => {
                let mut defaulted = sig.generics.clone();
                if let Some(syn::GenericParam::Type(t)) = defaulted.params.first_mut() {
                    t.default = Some((Default::default(), syn::parse_quote!(f64)));
                }
                // (Printed without the where clause, which follows; an
                // alias takes no bounds.)
                (quote!(#defaulted), quote!(<#float = f64>))
            }
            // An alias declares its parameters without bounds, its const
            // ones with their types (`<T, const N: usize>`).
            _ => {
                let declared = sig.generics.params.iter().map(|param| match param {
                    syn::GenericParam::Type(t) => {
                        let ident = &t.ident;
                        quote!(#ident)
                    }
                    syn::GenericParam::Const(c) => {
                        let (ident, ty) = (&c.ident, &c.ty);
                        quote!(const #ident: #ty)
                    }
                    syn::GenericParam::Lifetime(l) => {
                        let lifetime = &l.lifetime;
                        quote!(#lifetime)
                    }
                });
                let alias = match sig.generics.params.is_empty() {
                    true => quote!(),
                    false => quote!(<#(#declared),*>),
                };
                (quote!(#params), alias)
            }
        };
        Generic {
            params: quote!(#params),
            args: quote!(#args),
            defined,
            alias,
            where_clause: quote!(#where_clause),
            marker: float.map(|float| (names.fresh("float"), float)),
        }
    }

    /// `Tape<T>`, or `Tape`.
    pub(super) fn tape(&self) -> TokenStream {
        let args = &self.args;
        quote!(Tape #args)
    }

    /// `Grad<T>`, or `Grad`.
    pub(super) fn grad(&self) -> TokenStream {
        let args = &self.args;
        quote!(Grad #args)
    }

    /// `Work<T>`, or `Work`.
    pub(super) fn work(&self) -> TokenStream {
        let args = &self.args;
        quote!(Work #args)
    }

    /// `Scratch<T>`, or `Scratch`.
    pub(super) fn scratch(&self) -> TokenStream {
        let args = &self.args;
        quote!(Scratch #args)
    }
}
