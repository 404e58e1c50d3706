//! The two passes as functions: `forward_into`/`forward` around the forward
//! statements (tape reuse, `&mut` parameters, filling the tape), and
//! `backward_into`/`backward` around the backward statements.

use super::api::{passed_params, seed_type};
use super::module::Generic;
use super::tape::{Copied, Tape};
use crate::emit::backward::Backward;
use crate::emit::forward::{self, Forward};
use crate::emit::names::Names;
use crate::ir::Graph;
use crate::parse::signature::{Outputs, Signature};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// `forward_into` (or `forward_core` and `forward_into` around it) and
/// `forward`.
pub(super) fn forward_fns(passes: &Passes, names: &Names) -> TokenStream {
    let Passes {
        sig, tape, generic, ..
    } = *passes;
    // Where the backward pass reads arguments again, `forward_core` leaves
    // their copies out, for `grad` and `grad_into`, which pass the arguments to
    // `backward_core` themselves; `forward_into` adds the copies.
    let fused = tape.argument_copies().next().is_some();
    let name = match fused {
        true => quote!(fn forward_core),
        false => quote!(pub fn forward_into),
    };
    let (statements, tape_param) = passes.forward(name, names, None);
    let doc = format!(
        "Runs `{}` and saves what the backward pass needs into `{tape_param}`, reusing its memory: returns the value.",
        sig.ident
    );
    let wrapper = forward_wrapper(sig, names, generic);
    let lent = lent_forward(sig, tape, names, generic, fused);
    if !fused {
        return quote! {
            #[doc = #doc]
            #statements

            #wrapper

            #lent
        };
    }
    let core_doc = "`forward_into` without the copies of the arguments the backward pass reads again: `grad` and `grad_into` pass them to `backward_core`.";
    let copy_into = copy_into(sig, tape, names, generic);
    quote! {
        #[doc = #core_doc]
        #statements

        #[doc = #doc]
        #copy_into

        #wrapper

        #lent
    }
}

/// The lending protocol's forward pass (`backprop_runtime::lent`): `LENDS`,
/// and `forward_lent`, the arguments as one tuple and one flag per argument:
/// the tape keeps a copy of a list passed by shared reference only where its
/// flag says so (`forward_core`, then those copies and the copies of the
/// other arguments, arrays by value; `forward_into` where nothing is copied
/// anyway). The caller lends the others again to `pullback_lent`.
fn lent_forward(
    sig: &Signature,
    tape: &Tape,
    names: &Names,
    generic: &Generic,
    fused: bool,
) -> TokenStream {
    if !crate::emit::lending::takes_slices(sig) {
        return TokenStream::new();
    }
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let mut local_names = names.clone();
    let (tape_param, value, keep) = (
        local_names.fresh("tape"),
        local_names.fresh("value"),
        local_names.fresh("keep"),
    );
    let (_, args) = passed_params(sig, &mut local_names);
    let types = sig.params.iter().map(|p| &p.ty);
    let count = proc_macro2::Literal::usize_unsuffixed(sig.params.len());
    let tape_ty = generic.tape();
    let returns = returns(sig);
    let core_args = tape.core_arguments(sig, &args);
    let copies = tape.argument_copies().map(|c| {
        let copy = refill_copy(c, &args, &tape_param);
        match c.param {
            Some(k) if crate::emit::lending::is_lent(&sig.params[k].ty) => {
                let k = proc_macro2::Literal::usize_unsuffixed(k);
                quote!(if #keep[#k] { #copy })
            }
            _ => copy,
        }
    });
    let (bind, result) = match sig.returns_value {
        true => (quote!(let #value =), quote!(#value)),
        false => (quote!(), quote!()),
    };
    // (`fused`: the function has argument copies, so `copies` is not empty
    // and the value is not bound only to be returned.)
    let (body, keep_param) = match fused {
        false => (
            quote!(self::forward_into(#tape_param, #(#args),*)),
            format_ident!("_{keep}"),
        ),
        true => (
            quote! {
                #bind self::forward_core(#tape_param, #(#core_args),*);
                #(#copies)*
                #result
            },
            keep.clone(),
        ),
    };
    quote! {
        /// Whether a differentiated caller may call `forward_lent` and
        /// `pullback_lent` instead of `forward_into` and `pullback_into`.
        pub const LENDS: bool = true;

        /// `forward_into` for a caller that lends the lists passed by shared
        /// reference again to `pullback_lent`: the arguments as a tuple, and
        /// for each one whether the tape keeps a copy of it (the caller passes
        /// `()` again for those).
        #[inline]
        pub fn forward_lent #generics (#tape_param: &mut #tape_ty, (#(#args,)*): (#(#types,)*), #keep_param: [bool; #count]) #returns #where_clause {
            #body
        }
    }
}

/// What the passes' functions are written from.
#[derive(Clone, Copy)]
pub(super) struct Passes<'a> {
    pub(super) sig: &'a Signature,
    pub(super) graph: &'a Graph,
    pub(super) backward: &'a Backward,
    pub(super) tape: &'a Tape,
    pub(super) generic: &'a Generic,
}

impl Passes<'_> {
    /// The forward pass as the function `name` (`pub fn forward_into`, `fn forward_core`): the
    /// pass into a tape, without the copies of the arguments the backward
    /// pass reads again when there are such. With `record`, its last
    /// parameter is that `&mut Recorder`, told each value (for `graph`).
    /// Also the tape parameter's name.
    pub(super) fn forward(
        &self,
        name: TokenStream,
        names: &Names,
        record: Option<&Ident>,
    ) -> (TokenStream, Ident) {
        let (sig, graph, backward, tape, generic) =
            (self.sig, self.graph, self.backward, self.tape, self.generic);
        let (generics, where_clause) = (&generic.params, &generic.where_clause);
        // The user's parameters and the tape (and the recorder): more than
        // the function has, which may pass clippy's limit of seven.
        let extra = 1 + usize::from(record.is_some());
        let too_many =
            (sig.params.len() + extra > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
        let tape_ty = generic.tape();
        let mut local_names = names.clone();
        let tape_param = local_names.fresh("tape");
        // Where calls share the tape, the branches that run at most once
        // write into the frame, and the calls pass the stacks on.
        let frames = backward.frames.as_ref();
        let frame_stacks = frames.map(|f| f.stack_arguments(tape, false));
        let statements = Forward {
            graph,
            saved: &backward.saved,
            saved_tapes: &backward.saved_tapes,
            stacks: &backward.stacks,
            tape_stacks: &backward.tape_stacks,
            once: &backward.once,
            tape: frames.map_or(&tape_param, |f| &f.local),
            tangents: None,
            checkpoints: &backward.checkpoints,
            record,
            lent: &backward.lent,
            frames: frames
                .zip(frame_stacks.as_ref())
                .map(|(f, s)| (&f.pulled, s, f.by_cursor(tape).then_some(sig.returns_value))),
        }
        .statements();
        let references = References::of(sig, &mut local_names);
        let returned = graph.outputs.len() - references.inouts.len();
        let read_references = references.reads();
        let write_inouts = references.writes(graph, &graph.outputs[returned..]);
        let output = output(sig, graph, returned);
        let params = references.params(sig);
        let fused = tape.argument_copies().next().is_some();
        let (take_stacks, fill_copies, store) = fill_tape(tape, &tape_param, !fused);
        let returns = returns(sig);
        let (recorder, probes) = recorder_param(record, !sig.params.is_empty());
        if let Some(frames) = frames {
            // The outermost frame: `graph`'s recorded pass runs it itself,
            // the others through `forward_frame`, which the inner calls run.
            let open = frames.open(tape, &tape_param, false, record.is_some());
            let (start, push) = (frames.start(tape), frames.push(tape));
            let frame = quote!(#start #read_references #statements #write_inouts #push);
            let keep_inline = frames.keep_once(tape, &tape_param, false);
            let finish = frames.finish(tape);
            if record.is_some() {
                let function = quote! {
                    #too_many
                    #[inline]
                    #name (#tape_param: &mut #tape_ty, #params #recorder) #returns {
                        #probes
                        #open
                        #frame
                        #finish
                        #keep_inline
                        #fill_copies
                        #output
                    }
                };
                return (function, tape_param);
            }
            let value = local_names.fresh("value");
            let (bind, result) = match sig.returns_value {
                true => (quote!(let #value =), quote!(#value)),
                false => (quote!(), quote!()),
            };
            let (stack_params, stacks) = (frames.stack_params(tape, false), frame_stacks);
            let args = references.names(sig);
            let allow = frames.allow_many(tape, sig.params.len(), false);
            let keep_once = frames.keep_once(tape, &tape_param, true);
            let ret = sig.returns_value.then_some(&sig.ret_ty);
            let frame_returns = frames.returns(tape, ret);
            // With cursors, each frame hands them back after its value.
            let (call, frame_fn) = match frames.by_cursor(tape) {
                true => {
                    let value_first = sig.returns_value.then(|| quote!(#value,));
                    let call = quote! {
                        let (#value_first #stacks,) = self::forward_frame(#stacks, #(#args),*);
                        #finish
                    };
                    let body = match sig.returns_value {
                        true => quote! {
                            let #value = { #frame #output };
                            (#value, #stacks,)
                        },
                        false => quote!(#frame (#stacks,)),
                    };
                    (
                        call,
                        quote!(fn forward_frame<'frames>(#stack_params, #params) #frame_returns { #body }),
                    )
                }
                false => (
                    quote!(#bind self::forward_frame(#stacks, #(#args),*);),
                    quote!(fn forward_frame(#stack_params, #params) #frame_returns { #frame #output }),
                ),
            };
            let function = quote! {
                #too_many
                #[inline]
                #name (#tape_param: &mut #tape_ty, #params) #returns {
                    #open
                    #call
                    #keep_once
                    #fill_copies
                    #result
                }

                /// One call's forward pass, onto the stacks of the outermost
                /// call's tape, its frame pushed last.
                #allow
                #frame_fn
            };
            return (function, tape_param);
        }
        let function = quote! {
            #too_many
            #[inline]
            #name #generics (#tape_param: &mut #tape_ty, #params #recorder) #returns #where_clause {
                #probes
                #take_stacks
                #read_references
                #statements
                #write_inouts
                #fill_copies
                #store
                #output
            }
        };
        (function, tape_param)
    }
}

/// For `graph`'s recorded passes: the `&mut Recorder` parameter (after
/// others), and the import of the traits its calls use.
fn recorder_param(
    record: Option<&Ident>,
    after_others: bool,
) -> (Option<TokenStream>, Option<TokenStream>) {
    let Some(recorder) = record else {
        return (None, None);
    };
    let comma = after_others.then(|| quote!(,));
    (
        Some(quote!(#comma #recorder: &mut ::backprop_runtime::graph::Recorder)),
        Some(crate::emit::graph::probe_traits()),
    )
}

/// `forward_into` where `forward_core` leaves the arguments' copies out: the
/// pass, then the copies.
fn copy_into(sig: &Signature, tape: &Tape, names: &Names, generic: &Generic) -> TokenStream {
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let mut local_names = names.clone();
    let (tape_param, value) = (local_names.fresh("tape"), local_names.fresh("value"));
    let (params, args) = passed_params(sig, &mut local_names);
    let copies = tape
        .argument_copies()
        .map(|c| refill_copy(c, &args, &tape_param));
    let core_args = tape.core_arguments(sig, &args);
    let too_many = (sig.params.len() + 1 > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    let tape_ty = generic.tape();
    let (returns, bind, result) = match sig.returns_value {
        true => (returns(sig), quote!(let #value =), quote!(#value)),
        false => (quote!(), quote!(), quote!()),
    };
    quote! {
        #too_many
        #[inline]
        pub fn forward_into #generics (#tape_param: &mut #tape_ty, #(#params),*) #returns #where_clause {
            #bind self::forward_core(#tape_param, #(#core_args),*);
            #(#copies)*
            #result
        }
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

    /// The names of `params`, in order.
    fn names(&self, sig: &Signature) -> Vec<Ident> {
        sig.params
            .iter()
            .map(|p| match self.all().find(|(name, _)| *name == p.ident) {
                Some((_, reference)) => reference.clone(),
                None => p.ident.clone(),
            })
            .collect()
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

/// The tape's memory, reused: its stacks cleared where they are before the
/// statements (the kept states of checkpointed loops taken out), its copies
/// of data refilled where they are after them (those of arguments only when
/// `copy_arguments`: else emptied), and the statements that write the values
/// computed into its fields, one by one.
fn fill_tape(
    tape: &Tape,
    tape_param: &Ident,
    copy_arguments: bool,
) -> (TokenStream, TokenStream, TokenStream) {
    // The stacks are filled where they are, in the tape (emptied, their
    // memory kept); the kept states of checkpointed loops are taken out and
    // put back.
    let stacks = tape.stacks.iter().map(|(field, stack)| {
        quote! {
            let #stack = &mut #tape_param.#field;
            #stack.clear();
        }
    });
    let kept_states = tape.checkpoints.iter().map(|kept| {
        quote! {
            let mut #kept = ::core::mem::take(&mut #tape_param.#kept);
            #kept.clear();
        }
    });
    let take_stacks = stacks.chain(kept_states);
    // The copies are refilled where they are (their memory kept).
    let fill_copies = tape
        .copies
        .iter()
        .filter(|c| copy_arguments || c.param.is_none())
        .map(|c| {
            let field = &c.field;
            if c.fixed.is_some() {
                // An array of the same length, written over.
                let contents = copy_contents(c, field);
                return quote!(#tape_param.#field.copy_from_slice(#contents););
            }
            let refill = refill_copy(c, &[], tape_param);
            quote!(#tape_param.#field.clear(); #refill)
        });
    // The copies of arguments emptied (their memory kept): a backward pass
    // run on this tape alone would fail loudly, not read stale copies.
    let empty_copies = tape.argument_copies().filter(|_| !copy_arguments).map(|c| {
        let field = &c.field;
        quote!(#tape_param.#field.clear();)
    });
    let fill_copies = fill_copies.chain(empty_copies);
    // Everything the statements computed, each with the local that holds it.
    let mut stored: Vec<(Ident, TokenStream)> = tape
        .fields
        .iter()
        .filter(|f| !tape.once.contains(f) && !tape.callee_tapes.contains(f))
        .map(|f| (f.clone(), quote!(#f)))
        .collect();
    stored.extend(tape.checkpoints.iter().map(|c| (c.clone(), quote!(#c))));
    // Written field by field: the fields of branches that ran are already
    // written, the tapes of calls filled in place, and the others keep what
    // they held, unread. (One struct literal, `*tape = Tape { .. }`, built
    // the tape beside it, dropped the old one and copied the new one over:
    // 15% of a recursive determinant's gradient.)
    let writes = stored
        .iter()
        .map(|(field, value)| quote!(#tape_param.#field = #value;));
    let store = quote!(#(#writes)*);
    (quote!(#(#take_stacks)*), quote!(#(#fill_copies)*), store)
}

/// A copy in the tape refilled (it is empty): an argument's from the
/// argument, after `forward_core` (which leaves the copies of arguments
/// empty, their memory kept), `args` being the parameters' names; or, with
/// no `args`, from the array the copy is named after.
fn refill_copy(copied: &Copied, args: &[Ident], tape_param: &Ident) -> TokenStream {
    let field = &copied.field;
    let arg = copied.param.and_then(|k| args.get(k)).unwrap_or(field);
    let contents = copy_contents(copied, arg);
    quote!(#tape_param.#field.extend_from_slice(#contents);)
}

/// What a copy is filled from: the argument (a slice) or a reference to it.
fn copy_contents(copied: &Copied, name: &Ident) -> TokenStream {
    match copied.is_reference {
        true => quote!(#name),
        false => quote!(&#name),
    }
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

/// `backward_into` (or `backward_with`, or `backward_core` and the
/// functions around it) and `backward`.
pub(super) fn backward_fns(passes: &Passes, names: &mut Names) -> TokenStream {
    let Passes {
        sig,
        backward,
        tape,
        generic,
        ..
    } = *passes;
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let (tape_ty, grad_ty) = (generic.tape(), generic.grad());
    let ret = &seed_type(sig);
    let seed_names = backward
        .seeds
        .iter()
        .map(|(seed, _)| format!("`{seed}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let grad = &backward.grad;
    let doc = format!(
        "The chain rule, node by node, adding the gradient into `{grad}`: {} is the derivative of the final loss with respect to `{}`'s result (1 for `{}` itself). Summing over a minibatch this way allocates nothing per example.",
        seed_names, sig.ident, sig.ident
    );
    // The statements are `backward_core`'s where the arguments come in again
    // (`grad` passes them; the others pass the tape's copies), else
    // `backward_with`'s where there is memory to reuse (`backward_into` gives
    // them new memory), else `backward_into`'s.
    let work = &backward.work;
    let work_ty = generic.work();
    let has_work = !backward.work_fields.is_empty();
    let copies: Vec<&Copied> = tape.argument_copies().collect();
    // The wrappers pass the tape's copies where `grad` passes the arguments,
    // and add every adjoint into `grad` (`()`: no caller's adjoint).
    let from_tape: Vec<TokenStream> = copies
        .iter()
        .map(|c| {
            let field = &c.field;
            quote!(tape.#field.as_slice())
        })
        .chain(into_grad(backward))
        .collect();
    let with_doc = format!(
        "`backward_into` with memory you keep: `{work}` holds what the backward pass refills at each use (the gradients of the calls, working copies of array adjoints), so a backward pass run again with the same `{work}` allocates nothing for it."
    );
    let too_many = (copies.len() + backward.sinks.len() + 4 > 7)
        .then(|| quote!(#[allow(clippy::too_many_arguments)]));
    let mut statements = |header: TokenStream| passes.backward(header, names, None);
    let new_work = has_work.then(|| quote!(&mut Work::default(),));
    let backward_into = match (has_core(tape, backward), has_work) {
        (false, false) => {
            let fun = statements(quote!(pub fn backward_into));
            quote!(#[doc = #doc] #[inline] #fun)
        }
        (false, true) => {
            let fun = statements(quote!(pub fn backward_with));
            quote! {
                #[doc = #with_doc]
                #[inline]
                #fun

                #[doc = #doc]
                #[inline]
                pub fn backward_into #generics (tape: &#tape_ty, seed: #ret, grad: &mut #grad_ty) #where_clause {
                    self::backward_with(tape, seed, grad, &mut Work::default());
                }
            }
        }
        (true, _) => {
            let fun = statements(quote!(fn backward_core));
            let core_doc = "The backward pass, reading the arguments it needs again from its last parameters: `grad` passes the arguments, the others the tape's copies.";
            let with = has_work.then(|| {
                quote! {
                    #[doc = #with_doc]
                    #[inline]
                    pub fn backward_with #generics (tape: &#tape_ty, seed: #ret, grad: &mut #grad_ty, work: &mut #work_ty) #where_clause {
                        self::backward_core(tape, seed, grad, work, #(#from_tape),*);
                    }
                }
            });
            quote! {
                #[doc = #core_doc]
                #too_many
                #[inline]
                #fun

                #with

                #[doc = #doc]
                #[inline]
                pub fn backward_into #generics (tape: &#tape_ty, seed: #ret, grad: &mut #grad_ty) #where_clause {
                    self::backward_core(tape, seed, grad, #new_work #(#from_tape),*);
                }
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

/// The types of a backward pass's seed, gradient and `Work`.
pub(super) struct Types {
    pub(super) seed: TokenStream,
    pub(super) grad: TokenStream,
    pub(super) work: TokenStream,
}

impl Passes<'_> {
    /// The backward pass as the function `header` (`pub fn backward_into`, `fn backward_core`):
    /// the tape, the seed, the gradient added into, then (where the pass
    /// needs them) its `Work` and the arguments it reads again. With
    /// `record`, its last parameter is that `&mut Recorder`, told each
    /// adjoint and term (for `graph`).
    pub(super) fn backward(
        &self,
        header: TokenStream,
        names: &mut Names,
        record: Option<&Ident>,
    ) -> TokenStream {
        self.backward_typed(header, names, record, None)
    }

    /// `backward` with the seed's, the gradient's and `Work`'s types given
    /// (`emit/lanes.rs`: lanes of them).
    pub(super) fn backward_typed(
        &self,
        header: TokenStream,
        names: &mut Names,
        record: Option<&Ident>,
        types: Option<Types>,
    ) -> TokenStream {
        let (sig, backward, tape, generic) = (self.sig, self.backward, self.tape, self.generic);
        let (generics, where_clause) = (&generic.params, &generic.where_clause);
        let Types {
            seed: ret,
            grad: grad_ty,
            work: work_ty,
        } = &types.unwrap_or_else(|| Types {
            seed: match backward.seeded {
                true => super::api::seeded_type(sig),
                false => seed_type(sig),
            },
            grad: generic.grad(),
            work: generic.work(),
        });
        let tape_ty = generic.tape();
        let body = &backward.body;
        let seed = seed_pattern(sig, backward);
        let reads_tape =
            !tape.fields.is_empty() || !tape.stacks.is_empty() || !tape.copies.is_empty();
        let tape_param = if reads_tape {
            names.fresh("tape")
        } else {
            names.fresh("_tape")
        };
        let fused = tape.argument_copies().next().is_some();
        let unpack = unpack_tape(tape, &tape_param, fused);
        let grad = &backward.grad;
        let writes_grad = !backward.gradient.is_empty()
            || sig
                .params
                .iter()
                .any(|p| (p.differentiable.is_some() && p.shape.is_some()) || p.model.is_some());
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
        let work = &backward.work;
        let has_work = !backward.work_fields.is_empty();
        let mut params = vec![
            quote!(#tape_param: &#tape_ty),
            quote!(#seed: #ret),
            quote!(#grad_param: &mut #grad_ty),
        ];
        params.extend(has_work.then(|| quote!(#work: &mut #work_ty)));
        params.extend(tape.argument_copies().map(|c| {
            let (field, element) = (&c.field, &c.element);
            quote!(#field: &[#element])
        }));
        params.extend(backward.sinks.iter().map(|(param, sink)| {
            let float = &sig.params[*param].differentiable;
            quote!(#sink: impl ::backprop_runtime::lent::Sink<#float>)
        }));
        let (recorder, probes) = recorder_param(record, false);
        params.extend(recorder);
        let Some(frames) = &backward.frames else {
            return quote! {
                #header #generics (#(#params),*) #where_clause {
                    #probes
                    #unpack
                    #body
                    #(#accumulate)*
                }
            };
        };
        // Frames on one tape: the outermost opens the stacks' readers;
        // `graph`'s recorded pass runs it itself, the others through
        // `backward_frame`, which the inner calls' pullbacks run.
        let stacks = frames.stack_arguments(tape, true);
        let body = crate::emit::frames::with_stacks(body.clone(), &frames.placeholder, &stacks);
        let (open, pop) = (
            frames.open(tape, &tape_param, true, false),
            frames.pop(tape),
        );
        if record.is_some() {
            return quote! {
                #header (#(#params),*) {
                    #probes
                    #open
                    #pop
                    #body
                    #(#accumulate)*
                }
            };
        }
        // The outermost call names what the frame's patterns may not.
        let seed_arg = names.fresh("seed");
        let mut outer = params.clone();
        outer[1] = quote!(#seed_arg: #ret);
        outer[2] = quote!(#grad: &mut #grad_ty);
        let passed = outer.iter().skip(1).map(|param| {
            let name = param.clone().into_iter().next();
            quote!(#name)
        });
        let stack_params = frames.stack_params(tape, true);
        let frame_params = params.iter().skip(1);
        let allow = frames.allow_many(tape, params.len() - 1, true);
        quote! {
            #header (#(#outer),*) {
                #open
                self::backward_frame(#stacks, #(#passed),*);
            }

            /// One call's backward pass, from the stacks of the outermost
            /// call's tape: its frame popped first.
            #allow
            fn backward_frame(#stack_params, #(#frame_params),*) {
                #pop
                #body
                #(#accumulate)*
            }
        }
    }
}

/// Whether the backward pass is `backward_core`, whose parameters after the
/// public ones are the arguments it reads again (`grad` passes them; the
/// wrappers, the tape's copies) and where to add slice parameters'
/// adjoints (`lent::Sink`: `pullback_lent` passes the caller's).
pub(super) fn has_core(tape: &Tape, backward: &Backward) -> bool {
    tape.argument_copies().next().is_some() || !backward.sinks.is_empty() || backward.seeded
}

/// `backward_core`'s sinks for a caller that wants every adjoint in its
/// `Grad`: one `()` per sink.
pub(super) fn into_grad(backward: &Backward) -> impl Iterator<Item = TokenStream> + '_ {
    backward.sinks.iter().map(|_| quote!(()))
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
fn unpack_tape(tape: &Tape, tape_param: &Ident, fused: bool) -> TokenStream {
    let mut unpack = TokenStream::new();
    if !tape.fields.is_empty() {
        let fields = tape
            .fields
            .iter()
            .map(|f| match tape.by_reference.contains(f) {
                true => quote!(ref #f),
                false => quote!(#f),
            });
        let rest = if tape.stacks.is_empty()
            && tape.copies.is_empty()
            && tape.checkpoints.is_empty()
            && tape.marker.is_none()
            && !tape.kept_memory
        {
            quote!()
        } else {
            quote!(, ..)
        };
        unpack.extend(quote!(let Tape { #(#fields),* #rest } = *#tape_param;));
    }
    for (field, stack) in &tape.stacks {
        unpack.extend(quote!(let mut #stack = #tape_param.#field.reader();));
    }
    for kept in &tape.checkpoints {
        unpack.extend(quote!(let #kept = &#tape_param.#kept;));
    }
    // The copies of arguments are `backward_core`'s parameters, where there is
    // one.
    for c in tape.copies.iter().filter(|c| c.param.is_none() || !fused) {
        let field = &c.field;
        unpack.extend(match c.fixed {
            // Read at constant indices with no bounds check.
            Some(_) => quote!(let #field = &#tape_param.#field;),
            None => quote!(let #field = #tape_param.#field.as_slice();),
        });
    }
    unpack
}
