//! `jacobian_into` in one backward pass: for a function with M outputs (an
//! array or a tuple of them), the backward pass written again with each
//! adjoint M lanes wide (`Lanes<f64, M>`), seeded with the M unit seeds at
//! once. Reverse mode is
//! linear in the adjoints, so lane `k` is exactly what the pass seeded with
//! output `k` alone computes; the partials are computed and the tape read
//! once instead of M times (bundle adjustment's 2x15 block: one pass instead
//! of two).
//!
//! The lanes' adjoints go into `LanesGrad` (a vector of lanes per slice
//! parameter), kept in the tape so that its memory is reused, and lane `k`
//! is then added into row `k`. Only where every adjoint of the pass is a
//! plain float is the pass written so: no calls left after inlining (a
//! callee's pullback takes a float seed), no `&mut` parameters, checkpoints,
//! model structs or generic floats, one float throughout. A buffer's
//! adjoint, in `Work` for the plain pass, is a vector of lanes in
//! `LanesWork`, which the tape keeps too. Elsewhere
//! `jacobian_into` runs one pass per output, as before.

use super::backward::Backward;
use super::names::Names;
use crate::analysis::activity::Activity;
use crate::ir::{FloatTy, Graph, NodeId, NodeKind, Operand};
use crate::parse::signature::{Outputs, Shape, Signature};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// The widest pass written with lanes: past this, an adjoint of lanes no
/// longer fits a few registers, and the passes one by one do as well.
const MOST_LANES: usize = 8;

/// The backward pass with lanes, the names it took, and the tape's fields
/// that keep its `LanesGrad` and (where its buffers' adjoints need one) its
/// `LanesWork`.
pub struct LanesPass {
    pub backward: Backward,
    pub names: Names,
    pub lanes: usize,
    pub field: Ident,
    pub work_field: Option<Ident>,
    /// `LanesGrad` holds a vector the pass sizes (a slice read at computed
    /// indices), whose memory the tape keeps; else it is a local of
    /// `jacobian_into`, which the optimiser keeps in registers.
    pub grad_kept: bool,
}

/// The pass with lanes of a function whose Jacobian it can compute, written
/// from `names` as they were before `plain` was (so that its locals and the
/// tape's fields are `plain`'s), its tape field named from `taken` (the
/// module's names); `None` where the passes one per output stay.
pub fn lanes_pass(
    graph: &Graph,
    activity: &Activity,
    sig: &Signature,
    mut names: Names,
    plain: &Backward,
    taken: &mut Names,
) -> Option<LanesPass> {
    let lanes = lanes_of(sig, graph)?;
    let backward = super::backward::generate_lanes(graph, activity, sig, &mut names, lanes);
    // Its `Work` holds only buffers' adjoints (calls, `&mut` seeds and
    // checkpoints are left out above and here), as vectors of lanes.
    let plain_enough = backward.work_fields.len() == plain.work_fields.len()
        && backward.checkpoints.is_empty()
        && backward.frames.is_none()
        && !backward.seeded
        && backward.sinks.is_empty()
        && backward.saved_tapes.is_empty();
    // The same tape: the same values saved, on the same stacks.
    let same_tape = backward.saved == plain.saved
        && backward.once == plain.once
        && backward.stacks == plain.stacks
        && backward.stack_groups == plain.stack_groups
        && backward.copied == plain.copied;
    let has_work = !backward.work_fields.is_empty();
    let grad_kept = sig.params.iter().enumerate().any(|(id, param)| {
        param.differentiable.is_some()
            && matches!(param.shape, Some(Shape::Slice))
            && activity.reached[id]
            && !backward.prefixes.contains_key(&id)
    });
    (plain_enough && same_tape).then(|| LanesPass {
        grad_kept,
        backward,
        names,
        lanes,
        field: taken.fresh("lanes"),
        work_field: has_work.then(|| taken.fresh("lanes_work")),
    })
}

/// The number of outputs, where every adjoint of the backward pass can be
/// lanes of that many.
fn lanes_of(sig: &Signature, graph: &Graph) -> Option<usize> {
    let outputs = graph.outputs.len();
    let shapes_fit = sig.params.iter().all(|p| {
        p.model.is_none() && !p.inout && p.differentiable.iter().all(|float| *float == sig.ret)
    });
    let one_float = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| node.active)
        .all(|(id, _)| graph.float_or_ret(id) == sig.ret);
    // A callee's pullback takes a float seed.
    let no_calls = !graph
        .nodes
        .iter()
        .any(|node| matches!(node.kind, NodeKind::Call { .. }));
    let fits = matches!(sig.outputs, Outputs::Array | Outputs::Tuple)
        && (2..=MOST_LANES).contains(&outputs)
        && sig.generics.params.is_empty()
        && shapes_fit
        && one_float
        && no_calls;
    fits.then_some(outputs)
}

/// For a slice parameter read only at constant indices (`cam[9]`, as
/// helpers over `&cam[9..11]` are after inlining), one past the largest:
/// the length of the local array of lanes its adjoint can be. `None` where
/// it is read at a computed index, or used any other way than read.
pub(crate) fn constant_prefix(graph: &Graph, array: NodeId) -> Option<usize> {
    let mentions = |operand: &Operand| matches!(operand, Operand::Node(id) if *id == array);
    let mut known = 0;
    for node in &graph.nodes {
        match &node.kind {
            NodeKind::Read { array: read, index } if *read == array => {
                let Operand::Const(index) = index else {
                    return None;
                };
                let index = usize::try_from(index.int_value()?).ok()?;
                known = known.max(index.checked_add(1)?);
            }
            NodeKind::Write { array: written, .. } if *written == array => return None,
            _ if node.args().iter().any(mentions) => return None,
            _ => {}
        }
    }
    (!graph.is_block_result(array)).then_some(known)
}

/// `Lanes<F, M>`, the type of an adjoint of the pass with `lanes` lanes.
pub(crate) fn lane_type(float: &FloatTy, lanes: usize) -> TokenStream {
    let lanes = proc_macro2::Literal::usize_unsuffixed(lanes);
    quote!(::backprop_runtime::Lanes<#float, #lanes>)
}

/// An adjoint of `lanes` lanes, each zero.
pub(crate) fn lane_zero(float: &FloatTy, lanes: usize) -> TokenStream {
    let lanes = proc_macro2::Literal::usize_unsuffixed(lanes);
    quote!(::backprop_runtime::Lanes::<#float, #lanes>::zero())
}

impl LanesPass {
    /// The number of lanes, as the generated code writes it (`2`).
    fn count(&self) -> proc_macro2::Literal {
        proc_macro2::Literal::usize_unsuffixed(self.lanes)
    }

    /// `[Lanes<F, M>; M]` (or a tuple of M of them, for a tuple of
    /// results), the seeds of the pass.
    pub(super) fn seed_type(&self, sig: &Signature) -> TokenStream {
        let (lane, lanes) = (lane_type(&sig.ret, self.lanes), self.count());
        match sig.outputs {
            Outputs::Tuple => {
                let each = (0..self.lanes).map(|_| &lane);
                quote!((#(#each),*))
            }
            _ => quote!([#lane; #lanes]),
        }
    }

    /// The M unit seeds, output `k`'s one in lane `k`.
    fn unit_seeds(&self, sig: &Signature) -> TokenStream {
        let (float, lanes) = (&sig.ret, self.count());
        match sig.outputs {
            Outputs::Tuple => {
                let each = (0..self.lanes).map(|k| {
                    let k = proc_macro2::Literal::usize_unsuffixed(k);
                    quote!(::backprop_runtime::Lanes::<#float, #lanes>::unit(#k, 0))
                });
                quote!((#(#each),*))
            }
            _ => quote!(::backprop_runtime::lanes::unit_seeds()),
        }
    }

    /// The tape's fields for the pass's memory.
    pub(super) fn kept_memory(&self) -> Vec<super::tape::KeptMemory> {
        let grad = self.grad_kept.then(|| super::tape::KeptMemory {
            field: self.field.clone(),
            ty: quote!(LanesGrad),
            doc: "The adjoints of `jacobian_into`'s backward pass with a lane per output.",
        });
        let work = self.work_field.iter().map(|field| super::tape::KeptMemory {
            field: field.clone(),
            ty: quote!(LanesWork),
            doc: "The buffers' adjoints of `jacobian_into`'s backward pass with a lane per output.",
        });
        grad.into_iter().chain(work).collect()
    }

    /// `LanesWork`, the memory the pass refills (its buffers' adjoints, as
    /// vectors of lanes), where it has any.
    pub(super) fn work_struct(&self, sig: &Signature) -> Option<TokenStream> {
        self.work_field.as_ref()?;
        let fields = &self.backward.work_fields;
        let names: Vec<&Ident> = fields.iter().map(|f| &f.name).collect();
        let types = fields.iter().map(|f| &f.ty);
        let doc = format!(
            "What `jacobian_into`'s backward pass of `{}` with a lane per output refills at each use: its buffers' adjoints. The tape keeps it.",
            sig.ident
        );
        Some(quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, Default)]
            pub struct LanesWork { #(#names: #types),* }

            impl ::backprop_runtime::bytes::HeapBytes for LanesWork {
                fn heap_bytes(&self) -> usize {
                    0 #(+ ::backprop_runtime::bytes::HeapBytes::heap_bytes(&self.#names))*
                }
            }
        })
    }

    /// `LanesGrad`: the pass's adjoints of the parameters, a lane per
    /// output, with `add_into` (lane `k` into row `k`), `clear`, and its
    /// heap memory for `Tape::bytes`.
    pub(super) fn grad_struct(&self, sig: &Signature) -> TokenStream {
        let lanes = self.count();
        let float = &sig.ret;
        let lane = lane_type(&sig.ret, self.lanes);
        let zero = lane_zero(&sig.ret, self.lanes);
        let mut fields = Vec::new();
        let mut defaults = Vec::new();
        let mut clears = Vec::new();
        let mut adds = Vec::new();
        let mut heaps = Vec::new();
        for (id, param) in sig.params.iter().enumerate() {
            if param.differentiable.is_none() {
                continue;
            }
            let name = &param.ident;
            let doc = format!("The lanes of ∂{}/∂{name}.", sig.ident);
            if let Some(known) = self.backward.prefixes.get(&id) {
                // Read only at constant indices: its first elements' lanes.
                let known = proc_macro2::Literal::usize_unsuffixed(*known);
                fields.push(quote!(#[doc = #doc] pub #name: ::backprop_runtime::lanes::Prefix<#float, #lanes, #known>));
                defaults.push(quote!(#name: ::core::default::Default::default()));
                clears.push(quote!(self.#name.clear();));
                adds.push(quote!(self.#name.add_lane(k, &mut row.#name);));
                continue;
            }
            match &param.shape {
                None => {
                    fields.push(quote!(#[doc = #doc] pub #name: #lane));
                    defaults.push(quote!(#name: #zero));
                    clears.push(quote!(self.#name = #zero;));
                    adds.push(quote!(row.#name += self.#name.0[k];));
                }
                Some(Shape::Slice) => {
                    fields.push(quote!(#[doc = #doc] pub #name: ::std::vec::Vec<#lane>));
                    // (Zeroed by the pass itself, `lanes::prepare`, which
                    // knows its length.)
                    defaults.push(quote!(#name: ::std::vec::Vec::new()));
                    adds.push(
                        quote!(::backprop_runtime::lanes::add_lane(&self.#name, k, &mut row.#name);),
                    );
                    heaps.push(
                        quote!(::backprop_runtime::bytes::HeapBytes::heap_bytes(&self.#name)),
                    );
                }
                Some(Shape::Array(len)) => {
                    fields.push(quote!(#[doc = #doc] pub #name: [#lane; #len]));
                    defaults.push(quote!(#name: [#zero; #len]));
                    clears.push(quote!(self.#name = [#zero; #len];));
                    adds.push(quote!(::backprop_runtime::lanes::add_lane_into(&self.#name, k, &mut row.#name);));
                }
            }
        }
        let doc = format!(
            "The adjoints of `{}`'s parameters in `jacobian_into`'s one backward pass, lane `k` for output `k`, before each lane is added into its row. The tape keeps it, so its memory is reused.",
            sig.ident
        );
        // What only a `LanesGrad` the tape keeps needs: zeroing again, and
        // its heap memory for `Tape::bytes`.
        let kept = self.grad_kept.then(|| {
            quote! {
                /// Zero again, but for the vectors, which the pass zeroes.
                fn clear(&mut self) {
                    #(#clears)*
                }
            }
        });
        let heap_bytes = self.grad_kept.then(|| {
            quote! {
                impl ::backprop_runtime::bytes::HeapBytes for LanesGrad {
                    fn heap_bytes(&self) -> usize {
                        #(#heaps)+*
                    }
                }
            }
        });
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug)]
            pub struct LanesGrad { #(#fields),* }

            impl ::core::default::Default for LanesGrad {
                fn default() -> Self {
                    LanesGrad { #(#defaults),* }
                }
            }

            impl LanesGrad {
                #kept

                /// Lane `k` added into row `k`, the gradient of output `k`.
                fn add_into(&self, rows: &mut [Grad; #lanes]) {
                    for (k, row) in rows.iter_mut().enumerate() {
                        #(#adds)*
                    }
                }
            }

            #heap_bytes
        }
    }

    /// `backward_lanes`: the backward pass with lanes, reading the tape (and,
    /// as `backward_core` does, the arguments it needs again).
    pub(super) fn backward_fn(
        &mut self,
        sig: &Signature,
        graph: &Graph,
        tape: &super::tape::Tape,
        generic: &super::module::Generic,
    ) -> TokenStream {
        let passes = super::passes::Passes {
            sig,
            graph,
            backward: &self.backward,
            tape,
            generic,
        };
        let types = super::passes::Types {
            seed: self.seed_type(sig),
            grad: quote!(LanesGrad),
            work: quote!(LanesWork),
        };
        let fun = passes.backward_typed(
            quote!(fn backward_lanes),
            &mut self.names,
            None,
            Some(types),
        );
        let work = usize::from(self.work_field.is_some());
        let too_many = (tape.argument_copies().count() + 3 + work > 7)
            .then(|| quote!(#[allow(clippy::too_many_arguments)]));
        let doc = format!(
            "The backward pass of `{}` with {} lanes: lane `k` of each adjoint is what the pass seeded with output `k` alone computes.",
            sig.ident, self.lanes
        );
        quote! {
            #[doc = #doc]
            #too_many
            #[inline]
            #fun
        }
    }

    /// `jacobian_into`'s body after the forward pass (whose value is
    /// `value`): the pass with lanes into the tape's `LanesGrad`, each lane
    /// then added into its row. `copies` are the arguments the pass reads
    /// again (`backward_core`'s).
    pub(super) fn jacobian_rows(
        &self,
        sig: &Signature,
        tape: &Ident,
        rows: &Ident,
        lanes_grad: &Ident,
        copies: &[TokenStream],
    ) -> TokenStream {
        let field = &self.field;
        let seeds = self.unit_seeds(sig);
        // Its `LanesWork` too, where it has one.
        let (take_work, work_arg, give_work) = match &self.work_field {
            Some(work) => (
                quote!(let mut #work = ::core::mem::take(&mut #tape.#work);),
                quote!(, &mut #work),
                quote!(#tape.#work = #work;),
            ),
            None => (quote!(), quote!(), quote!()),
        };
        let pass =
            quote!(self::backward_lanes(#tape, #seeds, &mut #lanes_grad #work_arg #(, #copies)*););
        if !self.grad_kept {
            return quote! {
                let mut #lanes_grad = LanesGrad::default();
                #take_work
                #pass
                #lanes_grad.add_into(#rows);
                #give_work
            };
        }
        quote! {
            // The tape lends its `LanesGrad` to the pass that reads the tape.
            let mut #lanes_grad = ::core::mem::take(&mut #tape.#field);
            #take_work
            #lanes_grad.clear();
            #pass
            #lanes_grad.add_into(#rows);
            #tape.#field = #lanes_grad;
            #give_work
        }
    }
}
