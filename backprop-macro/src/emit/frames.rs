//! A function that calls itself, on one tape: its calls are frames.
//!
//! A call of another function gets a tape of its own, kept in its caller's.
//! A recursion written that way (GradBench's determinant by cofactors makes
//! 13,699 calls for a 7 x 7 matrix) fills thousands of small tapes, each
//! with its stacks on the heap, and walks them all again backward: most of
//! its gradient's time. So the calls of a function to itself share the
//! outermost call's tape instead, as Tapenade's one global stack does: each
//! pushes its values on the same stacks, then its frame (what a tape keeps
//! in plain fields) last; the backward pass pops the frame first, then the
//! values of each block as it reverses it, and pulls back through an inner
//! call where the forward pass made it, which pops exactly what that call
//! pushed. The stacks are read in exactly the reverse of the order they were
//! filled: a reversed loop that holds such a call runs last to first (its
//! stacks hold the inner calls' values between its own iterations').
//!
//! `forward_frame`, `backward_frame` and `pullback_frame` take the stacks
//! (and in the backward pass, readers of them) one parameter each; the
//! public functions open them on the tape and run the outermost frame.
//! Where a function's tape holds what a frame cannot (`shareable`), each call
//! keeps a tape of its own, as any call does.
//!
//! Three things follow from the order: a block's values go on one stack of
//! tuples (one push and one pop per pass; `backward::pop_together`); an
//! inner call runs its backward pass even for a zero seed, into its own
//! scratch (it must pop what it pushed; `api::pullback_into_fn`); and a
//! call whose value the backward pass never reads runs on a tape of its
//! own (nothing would pop it; `Frames::pulled`). Values the same in every
//! frame are kept once in the tape (`invariant`).

use super::tape::Tape;
use crate::emit::backward::Backward;
use crate::emit::names::Names;
use crate::ir::{Graph, NodeId, NodeKind};
use crate::parse::signature::Signature;
use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::quote;
use std::collections::BTreeSet;

/// The names a function whose calls to itself share its tape writes.
#[derive(Clone)]
pub struct Frames {
    /// The calls of the function to itself.
    pub calls: BTreeSet<NodeId>,
    /// Those the backward pass pulls back through, on the stacks: only
    /// they run on them (another, whose value is only compared, runs on a
    /// tape of its own, as nothing pops what it would push).
    pub pulled: BTreeSet<NodeId>,
    /// Stands for the stacks' readers in a call of `pullback_frame` until
    /// the tape is laid out (`with_stacks`).
    pub placeholder: Ident,
    /// The struct of a frame's values (`Frame`).
    pub ty: Ident,
    /// The tape's stack of frames, and its local in both passes (`frames`).
    pub stack: Ident,
    /// The frame being filled, where a branch that runs at most once writes
    /// its values (`frame`).
    pub local: Ident,
}

impl Frames {
    /// The frames of a function that calls itself (not a generic one: a frame
    /// is `Copy` and `Default`), named so as to avoid the user's names.
    pub fn of(graph: &Graph, sig: &Signature, names: &mut Names) -> Option<Frames> {
        let calls = self_calls(graph, sig);
        if calls.is_empty() || sig.generics.type_params().next().is_some() {
            return None;
        }
        Some(Frames {
            calls,
            pulled: BTreeSet::new(),
            placeholder: names.fresh("frame_stacks"),
            ty: names.fresh("Frame"),
            stack: names.fresh("frames"),
            local: names.fresh("frame"),
        })
    }
}

/// The calls of `sig`'s function to itself, by its bare name.
fn self_calls(graph: &Graph, sig: &Signature) -> BTreeSet<NodeId> {
    graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| {
            matches!(&node.kind, NodeKind::Call { path, .. }
                if path.leading_colon.is_none() && path.is_ident(&sig.ident))
        })
        .map(|(id, _)| id)
        .collect()
}

/// Whether what the backward pass reads fits frames on one tape: it pulls
/// back through a call to itself, and every such call lends its lists and
/// the callee keeps none of them (a frame holds no copy), every plain field is a `Copy` value (no callee's tape
/// outside a loop, no list of indices), no loop is checkpointed, and every
/// copy is of a list passed by shared reference, which the caller lends
/// again.
pub fn shareable(sig: &Signature, graph: &Graph, backward: &Backward) -> bool {
    let Some(frames) = &backward.frames else {
        return false;
    };
    // The parameters the tape copies (`tape_struct`): data lists it reads,
    // and borrowed lists of indices.
    let copied = |k: usize| {
        backward.copied.contains(&k)
            || (backward.saved.contains(&k)
                && sig
                    .params
                    .get(k)
                    .is_some_and(|p| crate::lower::element_type(&p.ty).is_some()))
    };
    // A function that takes no list by shared reference lends nothing.
    let lends = crate::emit::lending::takes_slices(sig);
    let lent = frames
        .pulled
        .iter()
        .all(|call| match backward.lent.get(call) {
            Some(lending) => {
                let kept = lending.keep.iter().enumerate().filter(|(_, keep)| **keep);
                kept.map(|(k, _)| k).all(|k| !copied(k))
            }
            None => !lends,
        });
    let tapes_stacked = backward
        .saved_tapes
        .iter()
        .all(|call| backward.tape_stacks.contains_key(call));
    // A list the function borrows is copied, where it is read, from its
    // caller's, lent again; every other plain field is a value.
    let fields_copy = backward
        .saved
        .iter()
        .filter(|id| !backward.stacks.contains_key(id))
        .all(|&id| match sig.params.get(id) {
            Some(p) if crate::lower::element_type(&p.ty).is_some() => {
                crate::emit::lending::is_lent(&p.ty)
            }
            _ => graph.nodes[id]
                .ty
                .as_ref()
                .is_some_and(|ty| graph.floats.is_copy(ty)),
        });
    let copies_lent = backward.copied.iter().all(|&id| {
        sig.params
            .get(id)
            .is_some_and(|p| crate::emit::lending::is_lent(&p.ty))
    });
    let pulled = !frames.pulled.is_empty();
    pulled && lent && tapes_stacked && fields_copy && copies_lent && backward.checkpoints.is_empty()
}

/// The plain values of a frame that are the same in every frame, kept once
/// in the tape instead: a parameter every call of itself passes on as it is
/// (`n` of `det_of_minor(a, n, m - 1, r, c)`), a number or `bool`, and the
/// length of such a list (`a.len()`). The backward pass passes them on.
pub(super) fn invariant(sig: &Signature, graph: &Graph, backward: &Backward) -> BTreeSet<NodeId> {
    let Some(frames) = &backward.frames else {
        return BTreeSet::new();
    };
    let passed_on = |param: NodeId| {
        frames
            .pulled
            .iter()
            .all(|&call| match &graph.nodes[call].kind {
                NodeKind::Call { args, parts, .. } => {
                    parts.get(param).is_some_and(Option::is_none)
                        && args
                            .get(param)
                            .is_some_and(|arg| is_param(graph, arg, param))
                }
                _ => false,
            })
    };
    let value_param = |id: NodeId| {
        sig.params.get(id).is_some_and(|p| {
            !matches!(p.ty, syn::Type::Reference(_)) && p.shape.is_none() && p.model.is_none()
        })
    };
    backward
        .saved
        .iter()
        .copied()
        .filter(|id| !backward.stacks.contains_key(id) && !backward.once.contains(id))
        .filter(|&id| match &graph.nodes[id].kind {
            NodeKind::Param => value_param(id) && passed_on(id),
            NodeKind::Len { array } => {
                matches!(graph.nodes[*array].kind, NodeKind::Param) && passed_on(*array)
            }
            _ => false,
        })
        .collect()
}

/// Whether `operand` is the parameter `param` itself.
fn is_param(graph: &Graph, operand: &crate::ir::Operand, param: NodeId) -> bool {
    let crate::ir::Operand::Node(id) = operand else {
        return false;
    };
    match &graph.nodes[*id].kind {
        NodeKind::Inactive { expr, locals } => {
            matches!(crate::lower::strip_parens(expr), syn::Expr::Path(_))
                && matches!(&locals[..], [(_, local)] if *local == param)
        }
        _ => *id == param,
    }
}

/// `tokens` with `placeholder` replaced by `stacks` (a list of arguments).
pub fn with_stacks(tokens: TokenStream, placeholder: &Ident, stacks: &TokenStream) -> TokenStream {
    replaced(tokens, &|ident| {
        (ident == placeholder).then(|| stacks.clone())
    })
}

/// A call of `backward_frame` with each sink (`into_0`, ..) replaced by
/// `()`: the adjoints of the lists go into the scratch's gradient instead
/// of the caller's.
pub(super) fn with_sinks_discarded(call: TokenStream) -> TokenStream {
    replaced(call, &|ident| {
        let name = ident.to_string();
        let sink = name
            .strip_prefix("into_")
            .is_some_and(|k| k.chars().all(|c| c.is_ascii_digit()));
        sink.then(|| quote!(()))
    })
}

/// `tokens` with each identifier `with` gives tokens for replaced by them.
fn replaced(tokens: TokenStream, with: &dyn Fn(&Ident) -> Option<TokenStream>) -> TokenStream {
    tokens
        .into_iter()
        .flat_map(|token| match token {
            TokenTree::Ident(ident) => with(&ident).unwrap_or_else(|| quote!(#ident)),
            TokenTree::Group(group) => {
                let inner = replaced(group.stream(), with);
                let mut group_replaced = proc_macro2::Group::new(group.delimiter(), inner);
                group_replaced.set_span(group.span());
                quote!(#group_replaced)
            }
            other => quote!(#other),
        })
        .collect()
}

impl Frames {
    /// The stacks as a frame function's arguments: each stack's local (a
    /// `&mut` of the stack, or of its reader), then the frames'.
    /// With `reading`, the values kept once in the tape after them.
    pub(super) fn stack_arguments(&self, tape: &Tape, reading: bool) -> TokenStream {
        let locals = self.locals(tape);
        let kept = tape.kept_once.iter().filter(|_| reading).map(|k| &k.field);
        quote!(#(#locals),* #(, #kept)*)
    }

    /// Each stack's local, then the frames'.
    fn locals<'t>(&'t self, tape: &'t Tape) -> impl Iterator<Item = &'t Ident> {
        tape.stacks
            .iter()
            .map(|(_, local)| local)
            .chain([&self.stack])
    }

    /// Clippy's lint allowed on a frame function that takes the stacks (and
    /// with `reading`, the values kept once) and `others` parameters
    /// besides, where they are more than its seven.
    pub(super) fn allow_many(
        &self,
        tape: &Tape,
        others: usize,
        reading: bool,
    ) -> Option<TokenStream> {
        let kept = if reading { tape.kept_once.len() } else { 0 };
        let count = tape.stacks.len() + 1 + kept + others;
        (count > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]))
    }

    /// After the outermost frame's forward pass: the values kept once written
    /// into the tape, computed again from the parameters (`outer`) or, where
    /// the frame ran in place, as it computed them.
    pub(super) fn keep_once(&self, tape: &Tape, tape_param: &Ident, outer: bool) -> TokenStream {
        tape.kept_once
            .iter()
            .map(|kept| {
                let field = &kept.field;
                match outer {
                    true => {
                        let value = &kept.outer;
                        quote!(#tape_param.#field = #value;)
                    }
                    false => quote!(#tape_param.#field = #field;),
                }
            })
            .collect()
    }

    /// Whether the forward frames pass the stacks on by value, as cursors
    /// that carry the position to write at into each call and back out
    /// (`backprop_runtime::Cursor`, where a stack's length in memory made
    /// one chain of stores and loads through the whole recursion): where
    /// every stack holds values (none a callee's tapes).
    pub(super) fn by_cursor(&self, tape: &Tape) -> bool {
        !tape.stacks_tapes
    }

    /// The stacks as a frame function's parameters: `&mut` each stack, or
    /// a cursor of it (`by_cursor`), or with `reading`, each reader.
    pub(super) fn stack_params(&self, tape: &Tape, reading: bool) -> TokenStream {
        let (frames, ty) = (&self.stack, &self.ty);
        let cursor = !reading && self.by_cursor(tape);
        let params =
            tape.stacks
                .iter()
                .zip(&tape.stack_types)
                .map(|((_, local), (stack, element))| match (reading, cursor) {
                    (true, _) => quote!(#local: &mut ::backprop_runtime::Reader<'_, #element>),
                    (false, true) => {
                        quote!(mut #local: ::backprop_runtime::Cursor<'frames, #element>)
                    }
                    (false, false) => quote!(#local: &mut #stack),
                });
        let frames = match (reading, cursor) {
            (true, _) => quote!(#frames: &mut ::backprop_runtime::Reader<'_, #ty>),
            (false, true) => quote!(mut #frames: ::backprop_runtime::Cursor<'frames, #ty>),
            (false, false) => quote!(#frames: &mut ::backprop_runtime::Stack<#ty>),
        };
        let kept = tape.kept_once.iter().filter(|_| reading).map(|k| {
            let (field, ty) = (&k.field, &k.ty);
            quote!(#field: #ty)
        });
        quote!(#(#params,)* #frames #(, #kept)*)
    }

    /// Before the outermost frame: each stack bound to its local, emptied
    /// (its memory kept) or a cursor of it, or with `reading`, a reader of it
    /// from its end. A cursor is `mut` where the outermost frame runs in
    /// place (`inline`) and pushes on it, else only passed on.
    pub(super) fn open(
        &self,
        tape: &Tape,
        tape_param: &Ident,
        reading: bool,
        inline: bool,
    ) -> TokenStream {
        let frames = &self.stack;
        let fields = tape
            .stacks
            .iter()
            .map(|(field, local)| (field, local))
            .chain([(frames, frames)]);
        let cursor = !reading && self.by_cursor(tape);
        let mut open: TokenStream = fields
            .map(|(field, local)| match (reading, cursor) {
                (true, _) => quote!(let #local = &mut #tape_param.#field.reader();),
                (false, true) => {
                    let mutable = inline.then(|| quote!(mut));
                    quote!(let #mutable #local = ::backprop_runtime::Cursor::new(&mut #tape_param.#field);)
                }
                (false, false) => quote!(let #local = &mut #tape_param.#field; #local.clear();),
            })
            .collect();
        for kept in tape.kept_once.iter().filter(|_| reading) {
            let field = &kept.field;
            open.extend(quote!(let #field = #tape_param.#field;));
        }
        open
    }

    /// After the outermost frame's forward pass: each cursor's stack left
    /// holding what the pass saved (`by_cursor`).
    pub(super) fn finish(&self, tape: &Tape) -> TokenStream {
        if !self.by_cursor(tape) {
            return TokenStream::new();
        }
        let locals = self.locals(tape);
        quote!(#(#locals.finish();)*)
    }

    /// What `forward_frame` returns: its value, and with cursors, the
    /// cursors after it (`by_cursor`).
    pub(super) fn returns(&self, tape: &Tape, ret: Option<&syn::Type>) -> TokenStream {
        if !self.by_cursor(tape) {
            return ret.map(|ret| quote!(-> #ret)).unwrap_or_default();
        }
        let elements = tape.stack_types.iter().map(|(_, element)| element);
        let ty = &self.ty;
        let ret = ret.map(|ret| quote!(#ret,));
        quote!(-> (#ret #(::backprop_runtime::Cursor<'frames, #elements>,)* ::backprop_runtime::Cursor<'frames, #ty>,))
    }

    /// At the start of a frame's forward pass: the frame that the branches
    /// that run at most once write their values into, where there are such.
    pub(super) fn start(&self, tape: &Tape) -> TokenStream {
        if tape.once.is_empty() {
            return TokenStream::new();
        }
        let (ty, local) = (&self.ty, &self.local);
        quote!(let mut #local = #ty::default();)
    }

    /// At the end of a frame's forward pass: its values pushed, last.
    pub(super) fn push(&self, tape: &Tape) -> TokenStream {
        let (ty, frames, local) = (&self.ty, &self.stack, &self.local);
        let fields = tape.fields.iter().filter(|f| !tape.once.contains(f));
        let rest = (!tape.once.is_empty()).then(|| quote!(..#local));
        quote!(#frames.push(#ty { #(#fields,)* #rest });)
    }

    /// At the start of a frame's backward pass: its values popped, first.
    pub(super) fn pop(&self, tape: &Tape) -> TokenStream {
        let (ty, frames) = (&self.ty, &self.stack);
        let fields = &tape.fields;
        match fields.is_empty() {
            true => quote!(#frames.pop();),
            false => quote!(let #ty { #(#fields),* } = #frames.pop();),
        }
    }
}
