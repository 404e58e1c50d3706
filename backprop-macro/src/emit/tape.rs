//! The `Tape` struct: one field per value the backward pass reads (a stack
//! for values computed in a loop), copies of the data it reads again, and the
//! tapes of the calls it pulls back through.

use super::module::Generic;
use crate::emit::backward::Backward;
use crate::errors::Errors;
use crate::ir::{Graph, NodeId, Operand};
use crate::parse::signature::{Shape, Signature};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

pub(super) struct Tape {
    pub(super) definition: TokenStream,
    /// Fields saved as plain values, named like the locals they are saved from.
    pub(super) fields: Vec<Ident>,
    /// Fields written where a branch that runs at most once computes them; the
    /// others are set together at the end of the forward pass.
    pub(super) once: Vec<Ident>,
    /// The `PhantomData` field that holds a generic float no other field
    /// mentions, and the float.
    pub(super) marker: Option<(Ident, Ident)>,
    /// Fields that are not `Copy` (a callee's tape, a `Vec<usize>`), unpacked by
    /// reference.
    pub(super) by_reference: Vec<Ident>,
    /// Fields that hold a stack: (field, the stack's local in both passes).
    pub(super) stacks: Vec<(Ident, Ident)>,
    /// Where calls of the function to itself share the tape: the plain
    /// values that are the same in every frame, kept once in the tape
    /// (`frames::invariant`) and not in `fields`.
    pub(super) kept_once: Vec<KeptOnce>,
    /// The type of each of `stacks`, in order (`Stack<f64>`,
    /// `TapeStack<..>`), and of what it holds.
    pub(super) stack_types: Vec<(TokenStream, TokenStream)>,
    /// Whether one of `stacks` is a `TapeStack` of callees' tapes (not a
    /// `Stack` of values).
    pub(super) stacks_tapes: bool,
    /// Data arrays copied into the tape.
    pub(super) copies: Vec<Copied>,
    /// The tapes of calls in the function body, fields the callees fill in
    /// place.
    pub(super) callee_tapes: Vec<Ident>,
    /// The states checkpointed loops keep: fields, and their locals in both
    /// passes, of the same name.
    pub(super) checkpoints: Vec<Ident>,
    /// Fields of memory the tape keeps for `jacobian_into`'s pass with
    /// lanes (`emit/lanes.rs`), which the backward passes do not unpack.
    pub(super) kept_memory: bool,
}

/// A field of memory the tape keeps for a pass other than the backward
/// pass (`jacobian_into`'s with lanes): its name, type (one with
/// `HeapBytes`) and doc.
pub(super) struct KeptMemory {
    pub(super) field: Ident,
    pub(super) ty: TokenStream,
    pub(super) doc: &'static str,
}

/// A value of every frame kept once in the tape: its field (named like the
/// value), its type, and how the outermost call computes it again from its
/// parameters (`n`, `a.len()`).
pub(super) struct KeptOnce {
    pub(super) field: Ident,
    pub(super) ty: TokenStream,
    pub(super) outer: TokenStream,
}

/// An array the backward pass reads again, copied into the tape by the
/// forward pass.
pub(super) struct Copied {
    /// The field, named like the array.
    pub(super) field: Ident,
    /// Whether the parameter is a reference (`&[f64]`) or holds the array
    /// (`[f64; 3]`); `false` for locals (a `Vec`).
    pub(super) is_reference: bool,
    /// The parameter's position, for an argument: `grad` and `grad_into`
    /// pass it to the backward pass instead of copying it.
    pub(super) param: Option<usize>,
    /// The element type.
    pub(super) element: TokenStream,
    /// A local array of a constant length (`[0.0; 3]`): the copy is an
    /// array of it, written over at each pass, with no heap memory.
    pub(super) fixed: Option<TokenStream>,
}

impl Tape {
    /// The copies of arguments, which `grad` and `grad_into` do without.
    pub(super) fn argument_copies(&self) -> impl Iterator<Item = &Copied> {
        self.copies.iter().filter(|c| c.param.is_some())
    }

    /// The arguments as `forward_core` takes them: a vector taken by value
    /// (`x: Vec<f64>`) that the tape copies or the backward pass reads
    /// afterwards is passed as a copy, so the caller keeps it.
    pub(super) fn core_arguments(&self, sig: &Signature, args: &[Ident]) -> Vec<TokenStream> {
        sig.params
            .iter()
            .zip(args)
            .enumerate()
            .map(|(k, (p, arg))| {
                let read_after = self.argument_copies().any(|c| c.param == Some(k));
                match p.owned_vector() && read_after {
                    true => quote!(#arg.clone()),
                    false => quote!(#arg),
                }
            })
            .collect()
    }

    /// The arguments themselves where the backward pass reads them again
    /// (`backward_core`'s last parameters): `args` are the caller's names
    /// of the parameters, each passed as a slice reference.
    pub(super) fn passed_arguments(&self, args: &[Ident]) -> Vec<TokenStream> {
        self.argument_copies()
            .map(|c| {
                let arg = c.param.and_then(|k| args.get(k)).unwrap_or(&c.field);
                match c.is_reference {
                    true => quote!(#arg),
                    false => quote!(&#arg),
                }
            })
            .collect()
    }
}

pub(super) fn tape_struct(
    sig: &Signature,
    graph: &Graph,
    backward: &Backward,
    generic: &Generic,
    memory: &[KeptMemory],
) -> syn::Result<Tape> {
    let mut errors = Errors::default();
    let mut definitions = Vec::new();
    // `Tape::default()` of a generic function: `T` need not be `Default`.
    let mut defaults = Vec::new();
    let mut fields = Vec::new();
    let mut by_reference = Vec::new();
    let mut stacks = Vec::new();
    let mut copies = Vec::new();
    let mut once = Vec::new();
    let mut callee_tapes = Vec::new();
    let mut heap_fields: Vec<(Ident, Heap)> = Vec::new();
    let mut stack_types = Vec::new();
    let mut stacks_tapes = false;
    let mut frame_fields = Vec::new();
    let kept_ids = crate::emit::frames::invariant(sig, graph, backward);
    let mut kept_once = Vec::new();
    for (id, node) in graph.nodes.iter().enumerate() {
        let name = &node.name;
        let borrowed = matches!(node.kind, crate::ir::NodeKind::Param)
            .then(|| node.ty.as_ref().and_then(borrowed_list))
            .flatten();
        if let (true, Some(element)) = (backward.saved.contains(&id), borrowed) {
            // A list the function borrows (`idx: &[usize]`): the tape keeps a
            // copy of its contents, refilled in place by each forward pass.
            let doc = format!("A copy of `{name}`, whose elements the backward pass reads.");
            definitions.push(quote!(#[doc = #doc] pub #name: ::std::vec::Vec<#element>));
            heap_fields.push((name.clone(), Heap::Known));
            defaults.push(quote!(#name: ::std::vec::Vec::new()));
            copies.push(Copied {
                field: name.clone(),
                is_reference: is_reference(sig, id),
                param: Some(id),
                element: quote!(#element),
                fixed: None,
            });
        } else if backward.saved.contains(&id) {
            match &node.ty {
                Some(ty) => match backward.stacks.get(&id) {
                    // Values of one block on one stack (a frame's): the field
                    // where the first is.
                    Some(stack) if backward.stack_groups.contains_key(stack) => {
                        if let Some((field, stack_ty, element)) = group_stack(graph, backward, id) {
                            let doc = group_doc(graph, backward, stack);
                            definitions.push(quote!(#[doc = #doc] pub #field: #stack_ty));
                            heap_fields.push((field.clone(), Heap::Known));
                            defaults.push(quote!(#field: ::core::default::Default::default()));
                            stacks.push((field, stack.clone()));
                            stack_types.push((stack_ty, element));
                        }
                    }
                    Some(stack) => {
                        let doc = format!("`{name}` at each pass through its branch or loop, for the backward pass.");
                        let stack_ty = quote!(::backprop_runtime::Stack<#ty>);
                        definitions.push(quote!(#[doc = #doc] pub #name: #stack_ty));
                        heap_fields.push((name.clone(), Heap::Known));
                        defaults.push(quote!(#name: ::core::default::Default::default()));
                        stacks.push((name.clone(), stack.clone()));
                        stack_types.push((stack_ty, quote!(#ty)));
                    }
                    // The same in every frame: once, in the tape.
                    None if kept_ids.contains(&id) => {
                        let doc =
                            format!("`{name}`, the same in every call, for the backward pass.");
                        definitions.push(quote!(#[doc = #doc] pub #name: #ty));
                        defaults.push(quote!(#name: ::core::default::Default::default()));
                        let outer = match &node.kind {
                            crate::ir::NodeKind::Len { array } => {
                                let array = &graph.nodes[*array].name;
                                quote!(#array.len())
                            }
                            _ => quote!(#name),
                        };
                        kept_once.push(KeptOnce {
                            field: name.clone(),
                            ty: quote!(#ty),
                            outer,
                        });
                    }
                    // A frame's value, where calls share the tape.
                    None if backward.frames.is_some() => {
                        let doc = format!("`{name}`, saved for the backward pass.");
                        frame_fields.push(quote!(#[doc = #doc] pub #name: #ty));
                        fields.push(name.clone());
                        if backward.once.contains(&id) {
                            once.push(name.clone());
                        }
                    }
                    None => {
                        let doc = format!("`{name}`, saved for the backward pass.");
                        definitions.push(quote!(#[doc = #doc] pub #name: #ty));
                        if !graph.floats.is_copy(ty) {
                            by_reference.push(name.clone());
                            heap_fields.push((name.clone(), Heap::Probed));
                        }
                        defaults.push(match graph.floats.of_type(ty) {
                            Some(float) => {
                                let zero = float.zero();
                                quote!(#name: #zero)
                            }
                            None => quote!(#name: ::core::default::Default::default()),
                        });
                        fields.push(name.clone());
                        if backward.once.contains(&id) {
                            once.push(name.clone());
                        }
                    }
                },
                None => errors.push(untyped(graph, id)),
            }
        }
        if let (
            true,
            crate::ir::NodeKind::Call {
                path,
                tape,
                tape_args,
                ..
            },
        ) = (backward.saved_tapes.contains(&id), &node.kind)
        {
            // Spanned at the call: a generic callee called from a function over
            // `f64` needs its float named there (`dot::<f64>(..)`).
            let span = node.span;
            let tape_ty = quote::quote_spanned!(span=> #path::Tape #tape_args);
            let doc = format!("The tape of the call that computed `{name}`.");
            match backward.tape_stacks.get(&id) {
                Some(stack) => {
                    let stack_ty = quote!(::backprop_runtime::TapeStack<#tape_ty>);
                    definitions.push(quote!(#[doc = #doc] pub #tape: #stack_ty));
                    heap_fields.push((tape.clone(), Heap::Probed));
                    defaults.push(quote!(#tape: ::core::default::Default::default()));
                    stacks.push((tape.clone(), stack.clone()));
                    stack_types.push((stack_ty, tape_ty));
                    stacks_tapes = true;
                }
                None => {
                    definitions.push(quote!(#[doc = #doc] pub #tape: #tape_ty));
                    heap_fields.push((tape.clone(), Heap::Probed));
                    defaults.push(quote!(#tape: ::core::default::Default::default()));
                    fields.push(tape.clone());
                    by_reference.push(tape.clone());
                    callee_tapes.push(tape.clone());
                }
            }
        }
    }
    let mut checkpoints = Vec::new();
    for plan in &backward.checkpoints {
        let local = &plan.local;
        let types = plan.parts.iter().map(|p| &p.ty);
        let doc = "The loop's state, kept every few iterations for the backward pass, which runs the iterations between two kept states again.";
        definitions
            .push(quote!(#[doc = #doc] pub #local: ::backprop_runtime::Checkpoints<(#(#types,)*)>));
        let arrays = plan
            .parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.heap)
            .map(|(k, _)| k);
        heap_fields.push((local.clone(), Heap::Checkpoints(arrays.collect())));
        defaults.push(quote!(#local: ::core::default::Default::default()));
        checkpoints.push(local.clone());
    }
    for &id in &backward.copied {
        let name = &graph.nodes[id].name;
        // A list of floats, or of anything else the function borrows (a
        // list of indices `ys: &[usize]` zipped with a float one).
        let element = match sig.params.get(id) {
            Some(param) => Shape::of(&param.ty, &graph.floats)
                .map(|(float, _, _)| quote!(#float))
                .or_else(|| borrowed_list(&param.ty).map(|e| quote!(#e))),
            None => graph.float(id).map(|float| quote!(#float)),
        };
        if let Some(float) = element {
            let doc = format!("A copy of `{name}`, whose elements the backward pass reads.");
            let fixed = fixed_local(graph, sig, id);
            match &fixed {
                Some(len) => {
                    definitions.push(quote!(#[doc = #doc] pub #name: [#float; #len]));
                    // (A generic float need not be `Default`.)
                    let zero = graph
                        .float(id)
                        .map_or_else(|| quote!(0.0), |float| float.zero());
                    defaults.push(quote!(#name: [#zero; #len]));
                }
                None => {
                    definitions.push(quote!(#[doc = #doc] pub #name: ::std::vec::Vec<#float>));
                    heap_fields.push((name.clone(), Heap::Known));
                    defaults.push(quote!(#name: ::std::vec::Vec::new()));
                }
            }
            copies.push(Copied {
                field: name.clone(),
                is_reference: is_reference(sig, id),
                param: (id < sig.params.len()).then_some(id),
                element: quote!(#float),
                fixed,
            });
        }
    }
    for &id in &backward.untyped {
        errors.push(untyped(graph, id));
    }
    errors.finish()?;
    let mut frame = TokenStream::new();
    if let Some(frames) = &backward.frames {
        let (ty, stack) = (&frames.ty, &frames.stack);
        let doc = "The frame of each call, the outermost last: the values of its body, for the backward pass (`emit/frames.rs`: the calls of the function to itself share the tape).";
        definitions.push(quote!(#[doc = #doc] pub #stack: ::backprop_runtime::Stack<#ty>));
        heap_fields.push((stack.clone(), Heap::Known));
        defaults.push(quote!(#stack: ::core::default::Default::default()));
        let doc = format!(
            "What the tape of one call of `{}` keeps of its body's values (its calls of itself share one tape).",
            sig.ident
        );
        frame = quote! {
            #[doc = #doc]
            #[derive(Clone, Copy, Debug, Default)]
            pub struct #ty { #(#frame_fields),* }
        };
    }
    for KeptMemory { field, ty, doc } in memory {
        definitions.push(quote!(#[doc = #doc] pub #field: #ty));
        heap_fields.push((field.clone(), Heap::Known));
        defaults.push(quote!(#field: ::core::default::Default::default()));
    }
    // A marker field for the float type only where no other field mentions
    // it, other than through the tapes of the function's calls of itself
    // (`TapeStack<f::Tape<T>>`), a recursive use rustc does not count.
    let own = &sig.ident;
    let marker = generic.marker.clone().filter(|(_, float)| {
        let own_tape = quote!(#own::Tape<#float>).to_string();
        !definitions.iter().any(|d| {
            let besides = d.to_string().replace(&own_tape, "");
            besides
                .parse::<TokenStream>()
                .map_or(true, |tokens| mentions(tokens, float))
        })
    });
    let mut definition = tape_definition(sig, generic, marker.as_ref(), &definitions, &defaults);
    definition.extend(frame);
    definition.extend(bytes_method(generic, &heap_fields));
    Ok(Tape {
        definition,
        fields,
        by_reference,
        stacks,
        stacks_tapes,
        stack_types,
        kept_once,
        copies,
        once,
        marker,
        callee_tapes,
        checkpoints,
        kept_memory: !memory.is_empty(),
    })
}

/// The field of a stack that holds several values of one block (a
/// frame's), where `id` is the first of them: its name, type, and the
/// tuple it holds. `None` for the others, and where one is untyped (each
/// reported where it is met).
fn group_stack(
    graph: &Graph,
    backward: &Backward,
    id: NodeId,
) -> Option<(Ident, TokenStream, TokenStream)> {
    let stack = backward.stacks.get(&id)?;
    let mut members = backward.stacks.iter().filter(|(_, s)| *s == stack);
    if members.clone().next().map(|(m, _)| *m) != Some(id) {
        return None;
    }
    let types = members.try_fold(Vec::new(), |mut types, (m, _)| {
        types.push(graph.nodes[*m].ty.as_ref()?);
        Some(types)
    })?;
    let element = quote!((#(#types),*));
    let stack_ty = quote!(::backprop_runtime::Stack<#element>);
    Some((backward.stack_groups[stack].clone(), stack_ty, element))
}

/// The doc of a stack of several values: their names.
fn group_doc(graph: &Graph, backward: &Backward, stack: &Ident) -> String {
    let names: Vec<String> = backward
        .stacks
        .iter()
        .filter(|(_, s)| *s == stack)
        .map(|(m, _)| format!("`{}`", graph.nodes[*m].name))
        .collect();
    format!(
        "{} at each pass through their branch or loop, for the backward pass.",
        names.join(", ")
    )
}

/// `Work`, the memory the backward pass refills (one field per call site's
/// scratch, `&mut` seed's working copy and buffer's adjoint), and `Scratch`,
/// what a caller keeps per call site for `pullback_into`: the gradient, and
/// `Work` when there is one.
pub(super) fn work_structs(sig: &Signature, backward: &Backward, generic: &Generic) -> TokenStream {
    let (params, args, where_clause) = (&generic.params, &generic.args, &generic.where_clause);
    let (defined, alias) = (&generic.defined, &generic.alias);
    let grad_ty = generic.grad();
    let name = &sig.ident;
    if backward.work_fields.is_empty() {
        let doc = format!("What a differentiated caller keeps per call of `{name}` for `pullback_into`: the gradient.");
        return quote! {
            #[doc = #doc]
            pub type Scratch #alias = #grad_ty;
        };
    }
    let names: Vec<&Ident> = backward.work_fields.iter().map(|f| &f.name).collect();
    let types = backward.work_fields.iter().map(|f| &f.ty);
    // Always a marker for the float: a field need not mention it.
    let (marker, marker_default) = match sig.generics.type_params().next() {
        Some(float) => {
            let float = &float.ident;
            (
                quote!(_float: ::core::marker::PhantomData<fn() -> #float>,),
                quote!(_float: ::core::marker::PhantomData,),
            )
        }
        None => (quote!(), quote!()),
    };
    let work_doc = format!("Memory the backward pass of `{name}` refills at each use instead of allocating: pass the same `Work` to `backward_with` again.");
    let scratch_doc = format!("What a differentiated caller keeps per call of `{name}` for `pullback_into`: the gradient and the backward pass's memory.");
    if generic.params.is_empty() {
        return quote! {
            #[doc = #work_doc]
            #[derive(Default)]
            pub struct Work { #(#names: #types),* }

            #[doc = #scratch_doc]
            #[derive(Default)]
            pub struct Scratch {
                /// The gradient `pullback_into` fills and lends back.
                pub grad: #grad_ty,
                /// The memory of its backward pass.
                pub work: Work,
            }
        };
    }
    quote! {
        #[doc = #work_doc]
        pub struct Work #defined #where_clause {
            #(#names: #types,)*
            #marker
        }

        impl #params ::core::default::Default for Work #args #where_clause {
            fn default() -> Self {
                Work { #(#names: ::core::default::Default::default(),)* #marker_default }
            }
        }

        #[doc = #scratch_doc]
        pub struct Scratch #defined #where_clause {
            /// The gradient `pullback_into` fills and lends back.
            pub grad: #grad_ty,
            /// The memory of its backward pass.
            pub work: Work #args,
        }

        impl #params ::core::default::Default for Scratch #args #where_clause {
            fn default() -> Self {
                Scratch { grad: ::core::default::Default::default(), work: ::core::default::Default::default() }
            }
        }
    }
}

/// Floats and the primitive types a backward pass reads by value; anything
/// else (`Vec<usize>`, a callee's tape) it reads by reference.
/// `T` of a borrowed list: `&[T]`, `&mut [T]`, `&[T; N]`, `&Vec<T>`.
/// Whether a parameter's type is a reference; `false` for locals (a `Vec`).
/// The constant length of a local array (`[0.0; 3]`), not a parameter's.
fn fixed_local(graph: &Graph, sig: &Signature, id: NodeId) -> Option<TokenStream> {
    let info = graph.nodes[id].array.as_ref()?;
    match &info.len {
        Operand::Const(len) if info.fixed && id >= sig.params.len() => Some(len.tokens.clone()),
        _ => None,
    }
}

pub(super) fn is_reference(sig: &Signature, id: NodeId) -> bool {
    sig.params
        .get(id)
        .is_some_and(|param| matches!(param.ty, syn::Type::Reference(_)))
}

pub(super) fn borrowed_list(ty: &syn::Type) -> Option<syn::Type> {
    match ty {
        syn::Type::Reference(_) => crate::lower::element_type(ty),
        _ => None,
    }
}

/// `struct Tape` and, for a generic function, its `Default`: `T` need not be
/// `Default`, and a marker field holds `T` when no other field does.
fn tape_definition(
    sig: &Signature,
    generic: &Generic,
    marker: Option<&(Ident, Ident)>,
    definitions: &[TokenStream],
    defaults: &[TokenStream],
) -> TokenStream {
    let (params, args, where_clause) = (&generic.params, &generic.args, &generic.where_clause);
    let defined = &generic.defined;
    let doc = format!(
        "The intermediates of `{}` that the backward pass reads, saved by `forward`.",
        sig.ident
    );
    if params.is_empty() {
        return quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, Default)]
            pub struct Tape { #(#definitions),* }
        };
    }
    let (marker_field, marker_value) = match marker {
        Some((marker, float)) => (
            quote! {
                #[doc = "The float type, which the other fields need not mention."]
                pub #marker: ::core::marker::PhantomData<fn() -> #float>
            },
            quote!(#marker: ::core::marker::PhantomData),
        ),
        None => (quote!(), quote!()),
    };
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub struct Tape #defined #where_clause {
            #(#definitions,)*
            #marker_field
        }

        impl #params ::core::default::Default for Tape #args #where_clause {
            fn default() -> Self {
                Tape { #(#defaults,)* #marker_value }
            }
        }
    }
}

/// How `bytes` asks a field for its heap memory: scalars have none and are
/// not listed.
pub(super) enum Heap {
    /// Stacks and copies: the runtime's types.
    Known,
    /// Callees' tapes (a custom rule's says nothing) and values of other
    /// types: through `Probe`.
    Probed,
    /// A checkpointed loop's states, whose parts at these positions are
    /// arrays.
    Checkpoints(Vec<usize>),
}

/// `tape.bytes()`: the memory the tape holds, its own size and each field's
/// heap memory (by capacity; a field of a type that does not say, such as a
/// custom rule's tape, counts its inline size only).
fn bytes_method(generic: &Generic, fields: &[(Ident, Heap)]) -> TokenStream {
    let (params, args, where_clause) = (&generic.params, &generic.args, &generic.where_clause);
    let probe = quote!(::backprop_runtime::bytes::Probe);
    let heap: Vec<TokenStream> = fields
        .iter()
        .map(|(field, heap)| match heap {
            Heap::Known => quote!(::backprop_runtime::bytes::HeapBytes::heap_bytes(&self.#field)),
            Heap::Probed => quote!((&&#probe(&self.#field)).heap_bytes()),
            Heap::Checkpoints(arrays) if arrays.is_empty() => {
                quote!(self.#field.heap_bytes_with(|_| 0))
            }
            Heap::Checkpoints(arrays) => {
                let parts = arrays.iter().map(|k| syn::Index::from(*k));
                quote!(self.#field.heap_bytes_with(|state| #(::backprop_runtime::bytes::HeapBytes::heap_bytes(&state.#parts))+*))
            }
        })
        .collect();
    // Scalars hold nothing on the heap.
    let heap = match heap.is_empty() {
        true => quote!(0),
        false => quote!(#(#heap)+*),
    };
    // The probe's `&&` is what picks `Measured` over `Unmeasured`.
    let probing = fields
        .iter()
        .any(|(_, heap)| matches!(heap, Heap::Probed))
        .then(|| {
            quote! {
                #[allow(clippy::needless_borrow)]
            }
        });
    let imports = probing.as_ref().map(|_| {
        quote!(
            use ::backprop_runtime::bytes::{Measured as _, Unmeasured as _};
        )
    });
    quote! {
        impl #params Tape #args #where_clause {
            /// The memory this tape holds, in bytes: its own size and what its
            /// stacks, copies and the tapes of its calls hold on the heap (by
            /// capacity: the memory it keeps for the next pass).
            #[must_use]
            pub fn bytes(&self) -> usize {
                ::core::mem::size_of::<Self>()
                    + ::backprop_runtime::bytes::HeapBytes::heap_bytes(self)
            }
        }

        impl #params ::backprop_runtime::bytes::HeapBytes for Tape #args #where_clause {
            #probing
            fn heap_bytes(&self) -> usize {
                #imports
                #heap
            }
        }
    }
}

/// Whether `tokens` mention the identifier (in a type, at any depth).
fn mentions(tokens: TokenStream, ident: &Ident) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(i) => i == *ident,
        proc_macro2::TokenTree::Group(g) => mentions(g.stream(), ident),
        _ => false,
    })
}

/// The error for a value the backward pass needs whose type is unknown.
fn untyped(graph: &Graph, id: NodeId) -> syn::Error {
    let node = &graph.nodes[id];
    let name = match &node.hint {
        crate::ir::Hint::User(ident) => ident.to_string(),
        crate::ir::Hint::Op(_) => "k".to_string(),
    };
    let walked = match crate::ir::loop_variable_of(&graph.nodes, id).is_some() {
        true => "; a loop's variable takes its type from the list it walks: give the list a type where it is bound, as in `let w: [f64; 3] = W;`",
        false => "",
    };
    syn::Error::new(
        node.span,
        format!(
            "the backward pass needs this value, but its type cannot be inferred from the code; give it a type annotation, as in `let {name}: usize = ...;` or `let {name}: Vec<usize> = ...;`{walked}"
        ),
    )
}
