//! The two passes as functions: `forward_into`/`forward` around the forward
//! statements (tape reuse, `&mut` parameters, filling the tape), and
//! `backward_into`/`backward` around the backward statements.

use super::api::{passed_params, seed_type};
use super::module::Generic;
use super::tape::Tape;
use crate::emit::backward::Backward;
use crate::emit::forward::{self, Forward};
use crate::emit::names::Names;
use crate::ir::Graph;
use crate::parse::signature::{Outputs, Signature};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

pub(super) fn forward_fns(
    sig: &Signature,
    graph: &Graph,
    backward: &Backward,
    tape: &Tape,
    names: &Names,
    generic: &Generic,
) -> TokenStream {
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    // The user's parameters and the tape: one more than the function has,
    // which may pass clippy's limit of seven.
    let too_many = (sig.params.len() + 1 > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    let tape_ty = generic.tape();
    let mut local_names = names.clone();
    let tape_param = local_names.fresh("tape");
    let statements = Forward {
        graph,
        saved: &backward.saved,
        saved_tapes: &backward.saved_tapes,
        stacks: &backward.stacks,
        tape_stacks: &backward.tape_stacks,
        once: &backward.once,
        tape: &tape_param,
        tangents: None,
    }
    .statements();
    let references = References::of(sig, &mut local_names);
    let returned = graph.outputs.len() - references.inouts.len();
    let read_references = references.reads();
    let write_inouts = references.writes(graph, &graph.outputs[returned..]);
    let output = output(sig, graph, returned);
    let params = references.params(sig);
    let (take_stacks, fill_copies, literal) = fill_tape(tape, &tape_param, names);
    let returns = returns(sig);
    let doc = format!(
        "Runs `{}` and saves what the backward pass needs into `{tape_param}`, reusing its memory: returns the value.",
        sig.ident
    );
    let wrapper = forward_wrapper(sig, names, generic);
    quote! {
        #[doc = #doc]
        #too_many
        #[inline]
        pub fn forward_into #generics (#tape_param: &mut #tape_ty, #params) #returns #where_clause {
            #take_stacks
            #read_references
            #statements
            #write_inouts
            #fill_copies
            *#tape_param = #literal;
            #output
        }

        #wrapper
    }
}

/// The parameters passed by reference, `&mut f64` and `&f64`: the reference
/// gets a name of its own, the value the parameter's name; the value is read
/// at the start (and a `&mut f64`'s written at the end).
struct References {
    /// `&mut f64`: (the parameter's name, the reference's).
    inouts: Vec<(Ident, Ident)>,
    /// `&f64`: read once at the start, like `&mut f64` ones.
    shared: Vec<(Ident, Ident)>,
}

impl References {
    fn of(sig: &Signature, names: &mut Names) -> References {
        let mut renamed = |p: &crate::parse::signature::Param| {
            (p.ident.clone(), names.fresh(&format!("{}_ref", p.ident)))
        };
        let inouts = sig
            .inouts()
            .filter(|(_, p)| !p.writes_array())
            .map(|(_, p)| renamed(p))
            .collect();
        let shared = sig
            .params
            .iter()
            .filter(|p| p.by_reference && p.differentiable.is_some())
            .map(renamed)
            .collect();
        References { inouts, shared }
    }

    fn all(&self) -> impl Iterator<Item = &(Ident, Ident)> {
        self.inouts.iter().chain(&self.shared)
    }

    fn reads(&self) -> TokenStream {
        let reads = self
            .all()
            .map(|(name, reference)| quote!(let #name = *#reference;));
        quote!(#(#reads)*)
    }

    /// Each `&mut f64`'s final value, written through its reference.
    fn writes(&self, graph: &Graph, finals: &[crate::ir::Operand]) -> TokenStream {
        let writes = self
            .inouts
            .iter()
            .zip(finals)
            .map(|((_, reference), last)| {
                let last = forward::argument(graph, last);
                quote!(*#reference = #last;)
            });
        quote!(#(#writes)*)
    }

    /// `forward_into`'s parameters: the user's, references renamed.
    fn params(&self, sig: &Signature) -> TokenStream {
        let params = sig.params.iter().map(|p| {
            let ty = &p.ty;
            match self.all().find(|(name, _)| *name == p.ident) {
                Some((_, reference)) => quote!(#reference: #ty),
                None => {
                    let ident = &p.ident;
                    quote!(#ident: #ty)
                }
            }
        });
        quote!(#(#params),*)
    }
}

/// What `forward_into` returns: nothing, the value, a tuple or an array.
fn output(sig: &Signature, graph: &Graph, returned: usize) -> TokenStream {
    let elements: Vec<TokenStream> = graph.outputs[..returned]
        .iter()
        .map(|o| forward::argument(graph, o))
        .collect();
    match sig.outputs {
        Outputs::One if !sig.returns_value => quote!(),
        Outputs::One => quote!(#(#elements)*),
        Outputs::Tuple => quote!((#(#elements),*)),
        Outputs::Array => quote!([#(#elements),*]),
    }
}

/// A function that returns nothing: no `-> ()` and no `()` for clippy.
fn returns(sig: &Signature) -> TokenStream {
    let ret = &sig.ret_ty;
    match sig.returns_value {
        true => quote!(-> #ret),
        false => quote!(),
    }
}

/// The tape's memory, reused: its stacks taken and cleared before the
/// statements, its copies of data refilled after them, and the struct
/// literal that puts everything back.
fn fill_tape(
    tape: &Tape,
    tape_param: &Ident,
    names: &Names,
) -> (TokenStream, TokenStream, TokenStream) {
    let take_stacks = tape.stacks.iter().map(|(field, stack)| {
        quote! {
            let mut #stack = ::core::mem::take(&mut #tape_param.#field);
            #stack.clear();
        }
    });
    let mut copy_names = names.clone();
    let copies: Vec<(Ident, Ident)> = tape
        .copies
        .iter()
        .map(|(field, _)| (field.clone(), copy_names.fresh(&format!("{field}_copy"))))
        .collect();
    let fill_copies = copies
        .iter()
        .zip(&tape.copies)
        .map(|((field, copy), (_, is_reference))| {
            let contents = match is_reference {
                true => quote!(#field),
                false => quote!(&#field),
            };
            quote! {
                let mut #copy = ::core::mem::take(&mut #tape_param.#field);
                #copy.clear();
                #copy.extend_from_slice(#contents);
            }
        });
    let fields = tape
        .fields
        .iter()
        .filter(|f| !tape.once.contains(f))
        .map(|f| quote!(#f));
    let stack_fields = tape
        .stacks
        .iter()
        .map(|(field, stack)| quote!(#field: #stack));
    let copy_fields = copies.iter().map(|(field, copy)| quote!(#field: #copy));
    let marker = tape
        .marker
        .as_ref()
        .map(|(marker, _)| quote!(#marker: ::core::marker::PhantomData));
    let fields = fields.chain(stack_fields).chain(copy_fields).chain(marker);
    // The fields of branches that ran are already written; the others keep
    // what they held, unread.
    let literal = match tape.once.is_empty() {
        true => quote!(Tape { #(#fields),* }),
        false => quote!(Tape { #(#fields,)* ..*#tape_param }),
    };
    (quote!(#(#take_stacks)*), quote!(#(#fill_copies)*), literal)
}

/// `forward`: `forward_into` with a new tape.
fn forward_wrapper(sig: &Signature, names: &Names, generic: &Generic) -> TokenStream {
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let (ret, tape_ty) = (&sig.ret_ty, generic.tape());
    // The wrapper's locals only need to avoid the user's names.
    let mut wrapper_names = names.clone();
    let (value, new_tape) = (wrapper_names.fresh("value"), wrapper_names.fresh("tape"));
    let (wrapper_params, args) = passed_params(sig, &mut wrapper_names);
    let wrapper_body = if sig.returns_value {
        quote! {
            let #value = self::forward_into(&mut #new_tape, #(#args),*);
            (#value, #new_tape)
        }
    } else {
        quote! {
            self::forward_into(&mut #new_tape, #(#args),*);
            ((), #new_tape)
        }
    };
    let doc = format!(
        "Runs `{}` and saves what the backward pass needs: returns the value and the tape.",
        sig.ident
    );
    quote! {
        #[doc = #doc]
        #[must_use]
        #[inline]
        pub fn forward #generics (#(#wrapper_params),*) -> (#ret, #tape_ty) #where_clause {
            let mut #new_tape = Tape::default();
            #wrapper_body
        }
    }
}

pub(super) fn backward_fns(
    sig: &Signature,
    backward: &Backward,
    tape: &Tape,
    names: &mut Names,
    generic: &Generic,
) -> TokenStream {
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let (tape_ty, grad_ty) = (generic.tape(), generic.grad());
    let body = &backward.body;
    let ret = &seed_type(sig);
    let seed = seed_pattern(sig, backward);
    let seed_names = backward
        .seeds
        .iter()
        .map(|(seed, _)| format!("`{seed}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let reads_tape = !tape.fields.is_empty() || !tape.stacks.is_empty() || !tape.copies.is_empty();
    let tape_param = if reads_tape {
        names.fresh("tape")
    } else {
        names.fresh("_tape")
    };
    let unpack = unpack_tape(tape, &tape_param);
    let grad = &backward.grad;
    let writes_grad = !backward.gradient.is_empty()
        || sig
            .params
            .iter()
            .any(|p| p.differentiable.is_some() && p.shape.is_some());
    let grad_param = if writes_grad {
        quote!(#grad)
    } else {
        let unused = format_ident!("_{}", grad);
        quote!(#unused)
    };
    // Spanned at the adjoint, so a type error (a callee that does not
    // differentiate an argument) points at the user's argument.
    let accumulate = backward.gradient.iter().map(|(field, value)| {
        let span = value
            .clone()
            .into_iter()
            .next()
            .map_or_else(proc_macro2::Span::call_site, |t| t.span());
        sig.ret
            .add_assign(&quote::quote_spanned!(span=> #grad.#field), value, span)
    });
    let doc = format!(
        "The chain rule, node by node, adding the gradient into `{grad}`: {} is the derivative of the final loss with respect to `{}`'s result (1 for `{}` itself). Summing over a minibatch this way allocates nothing per example.",
        seed_names, sig.ident, sig.ident
    );
    // With memory to reuse, the statements are `backward_with`'s, and
    // `backward_into` gives them new memory.
    let backward_into = if backward.work_fields.is_empty() {
        quote! {
            #[doc = #doc]
            #[inline]
            pub fn backward_into #generics (#tape_param: &#tape_ty, #seed: #ret, #grad_param: &mut #grad_ty) #where_clause {
                #unpack
                #body
                #(#accumulate)*
            }
        }
    } else {
        let work = &backward.work;
        let work_ty = generic.work();
        let with_doc = format!(
            "`backward_into` with memory you keep: `{work}` holds what the backward pass refills at each use (the gradients of the calls, working copies of array adjoints), so a backward pass run again with the same `{work}` allocates nothing for it."
        );
        quote! {
            #[doc = #with_doc]
            #[inline]
            pub fn backward_with #generics (#tape_param: &#tape_ty, #seed: #ret, #grad_param: &mut #grad_ty, #work: &mut #work_ty) #where_clause {
                #unpack
                #body
                #(#accumulate)*
            }

            #[doc = #doc]
            #[inline]
            pub fn backward_into #generics (tape: &#tape_ty, seed: #ret, grad: &mut #grad_ty) #where_clause {
                self::backward_with(tape, seed, grad, &mut Work::default());
            }
        }
    };
    quote! {
        #backward_into

        /// The gradient, from the tape and the derivative of the final loss with
        /// respect to the result (the seed; 1 for the function itself).
        #[must_use]
        #[inline]
        pub fn backward #generics (tape: &#tape_ty, seed: #ret) -> #grad_ty #where_clause {
            let mut grad = Grad::default();
            self::backward_into(tape, seed, &mut grad);
            grad
        }
    }
}

/// `backward_into`'s seed parameter: one seed, or a tuple or array of them
/// (a value and `&mut` parameters' final values, or several outputs).
fn seed_pattern(sig: &Signature, backward: &Backward) -> TokenStream {
    let seeds: Vec<TokenStream> = backward
        .seeds
        .iter()
        .map(|(seed, mutable)| match mutable {
            true => quote!(mut #seed),
            false => quote!(#seed),
        })
        .collect();
    match sig.outputs {
        Outputs::One if seeds.len() == 1 => quote!(#(#seeds)*),
        Outputs::One | Outputs::Tuple => quote!((#(#seeds),*)),
        Outputs::Array => quote!([#(#seeds),*]),
    }
}

/// The start of `backward_into`: the tape's plain fields as locals, a reader
/// of each stack, and the copies of data as slices.
fn unpack_tape(tape: &Tape, tape_param: &Ident) -> TokenStream {
    let mut unpack = TokenStream::new();
    if !tape.fields.is_empty() {
        let fields = tape
            .fields
            .iter()
            .map(|f| match tape.by_reference.contains(f) {
                true => quote!(ref #f),
                false => quote!(#f),
            });
        let rest = if tape.stacks.is_empty() && tape.copies.is_empty() && tape.marker.is_none() {
            quote!()
        } else {
            quote!(, ..)
        };
        unpack.extend(quote!(let Tape { #(#fields),* #rest } = *#tape_param;));
    }
    for (field, stack) in &tape.stacks {
        unpack.extend(quote!(let mut #stack = #tape_param.#field.reader();));
    }
    for (field, _) in &tape.copies {
        unpack.extend(quote!(let #field = #tape_param.#field.as_slice();));
    }
    unpack
}
