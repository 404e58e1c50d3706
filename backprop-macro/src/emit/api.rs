//! What the user calls besides the passes: `Grad`, `grad` (or `jacobian`),
//! `pullback` and `pullback_into`, and the types they share.

use super::module::Generic;
use crate::emit::names::Names;
use crate::ir::FloatTy;
use crate::parse::signature::{Outputs, Shape, Signature};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, ToTokens};

/// The type of the seeds: the return type, or with `&mut` parameters one per
/// output: the value, then each parameter's final value (a float) or contents
/// (a slice).
pub(super) fn seed_type(sig: &Signature) -> TokenStream {
    seeds_type(sig, false)
}

/// `seed_type` where the seeds of `&mut [f64]` parameters are `lent::Seed`s
/// (`backward_core` and `pullback_lent` of a function that lends): a slice,
/// or the caller's adjoint worked on in place.
pub(super) fn seeded_type(sig: &Signature) -> TokenStream {
    seeds_type(sig, true)
}

fn seeds_type(sig: &Signature, seeded: bool) -> TokenStream {
    if sig.inouts().next().is_none() {
        let ty = &sig.ret_ty;
        return quote!(#ty);
    }
    let float = sig.ret.clone();
    let finals = sig.inouts().map(|(_, p)| {
        let float = p.differentiable.as_ref().unwrap_or(&float);
        match (p.writes_array(), seeded) {
            (true, true) => quote!(impl ::backprop_runtime::lent::Seed<#float>),
            (true, false) => quote!(&[#float]),
            (false, _) => quote!(#float),
        }
    });
    let value = sig.returns_value.then(|| quote!(#float));
    let types: Vec<TokenStream> = value.into_iter().chain(finals).collect();
    match types.len() {
        1 => quote!(#(#types)*),
        _ => quote!((#(#types),*)),
    }
}

/// The type of a parameter's gradient: a float, a `Vec` for a slice, an array
/// for an array.
pub(crate) fn gradient_type(
    param: &crate::parse::signature::Param,
    float: &FloatTy,
) -> TokenStream {
    match &param.shape {
        None => quote!(#float),
        Some(Shape::Slice) => quote!(::std::vec::Vec<#float>),
        Some(Shape::Array(len)) => quote!([#float; #len]),
    }
}

/// The gradient struct of a struct passed whole to differentiated callees.
pub(crate) fn model_gradient_type(model: &syn::Type) -> TokenStream {
    quote!(<#model as ::backprop_runtime::Differentiable>::Grad)
}

pub(super) fn grad_struct(sig: &Signature, generic: &Generic) -> TokenStream {
    let Generic {
        params,
        args,
        where_clause,
        defined,
        ..
    } = generic;
    let models: Vec<(&proc_macro2::Ident, &syn::Type)> = sig
        .params
        .iter()
        .filter_map(|p| p.model.as_ref().map(|m| (&p.ident, m)))
        .collect();
    let model_fields = models.iter().map(|(name, model)| {
        let ty = model_gradient_type(model);
        let doc = format!(
            "∂{}/∂{name}, what the callees it is passed to add",
            sig.ident
        );
        quote!(#[doc = #doc] pub #name: #ty)
    });
    let model_zeros = models
        .iter()
        .map(|(name, _)| quote!(#name: ::core::default::Default::default()));
    let fields = sig.differentiable().map(|(param, float)| {
        let name = &param.ident;
        let ty = gradient_type(param, &float);
        let doc = format!("∂{}/∂{name}", sig.ident);
        quote!(#[doc = #doc] pub #name: #ty)
    });
    let fields: Vec<TokenStream> = model_fields.chain(fields).collect();
    let zeros = sig.differentiable().map(|(param, float)| {
        let name = &param.ident;
        let zero = float.zero();
        match &param.shape {
            None => quote!(#name: #zero),
            Some(Shape::Slice) => quote!(#name: ::std::vec::Vec::new()),
            Some(Shape::Array(len)) => quote!(#name: [#zero; #len]),
        }
    });
    let zeros: Vec<TokenStream> = model_zeros.chain(zeros).collect();
    let doc = format!(
        "The gradient of `{}`: one field per differentiable parameter. `Grad::default()` is zero \
         (with empty vectors, sized by the first `backward_into`).",
        sig.ident
    );
    // The fields are named after the parameters, `_y` included.
    let underscore = sig
        .differentiable()
        .any(|(param, _)| param.ident.to_string().starts_with('_'))
        .then(|| quote!(#[allow(clippy::pub_underscore_fields)]));
    // Zero is each field's `Default` unless the float is generic (`T: Float`
    // has no `Default`) or an array is too long for `Default`.
    let derivable = generic.params.is_empty()
        && models.is_empty()
        && sig.differentiable().all(|(param, _)| match &param.shape {
            Some(Shape::Array(syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(len),
                ..
            }))) => matches!(len.base10_parse::<usize>(), Ok(n) if n <= 32),
            Some(Shape::Array(_)) => false,
            _ => true,
        });
    // Zero again, as `pullback_into` and `hessian` need it between passes.
    let clears = field_clears(sig, &quote!(self), &[]);
    let clear = quote! {
        impl #params Grad #args #where_clause {
            /// Sets the gradient to zero, keeping its vectors' memory: the next
            /// backward pass sizes them again.
            pub fn clear(&mut self) {
                #(#clears)*
            }
        }
    };
    if derivable {
        return quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, Default, PartialEq)]
            #underscore
            pub struct Grad { #(#fields),* }

            #clear
        };
    }
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, PartialEq)]
        #underscore
        pub struct Grad #defined #where_clause { #(#fields),* }

        impl #params ::core::default::Default for Grad #args #where_clause {
            fn default() -> Self {
                Grad { #(#zeros),* }
            }
        }

        #clear
    }
}

/// The parameters of a function that only passes them on (`grad`, `forward`),
/// and the names to pass: `_y` would be a used underscore binding there, so such
/// parameters drop the underscore.
pub(in crate::emit) fn passed_params(
    sig: &Signature,
    names: &mut Names,
) -> (Vec<TokenStream>, Vec<Ident>) {
    let args: Vec<Ident> = sig
        .params
        .iter()
        .map(|p| match p.ident.to_string().strip_prefix('_') {
            Some(bare) if !bare.is_empty() => names.fresh(bare),
            _ => p.ident.clone(),
        })
        .collect();
    let params = sig
        .params
        .iter()
        .zip(&args)
        .map(|(p, ident)| {
            let ty = &p.ty;
            quote!(#ident: #ty)
        })
        .collect();
    (params, args)
}

pub(super) fn grad_fn(
    sig: &Signature,
    outputs: usize,
    names: &mut Names,
    generic: &Generic,
    fused: Option<(&super::tape::Tape, &crate::emit::backward::Backward)>,
    has_work: bool,
    lanes: Option<&super::lanes::LanesPass>,
) -> TokenStream {
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let grad_ty = generic.grad();
    if sig.inouts().next().is_some() {
        // Its results are in its arguments; `forward` and `backward` serve.
        return quote!();
    }
    let (value, tape) = (names.fresh("value"), names.fresh("tape"));
    let (params, args) = passed_params(sig, names);
    let (ret, float) = (&sig.ret_ty, sig.ret.clone());
    let (zero, one) = (float.zero(), float.one());
    // A unit seed for output `k`.
    let unit = |k: usize| {
        let elements = (0..outputs).map(|i| if i == k { one.clone() } else { zero.clone() });
        match sig.outputs {
            Outputs::One => one.clone(),
            Outputs::Tuple => quote!((#(#elements),*)),
            Outputs::Array => quote!([#(#elements),*]),
        }
    };
    let grad_arg = names.fresh("gradient");
    // The `Work` parameter of `grad_with` and `jacobian_with`, where there
    // is a `Work`.
    let work = has_work.then(|| names.fresh("work"));
    let (tape_ty, work_ty) = (generic.tape(), generic.work());
    // Clippy's limit is seven parameters; these take `extra` more than the
    // function.
    let too_many = |extra: usize| {
        (params.len() + extra > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]))
    };
    let passes = Passes {
        sig,
        fused,
        args: &args,
        tape: &tape,
    };
    let forward = passes.forward();
    if let Outputs::One = sig.outputs {
        let doc = format!("The value of `{}` and its gradient.", sig.ident);
        let seed = unit(0);
        let into_doc = format!(
            "`grad` into a tape and a gradient you keep: the value of `{}`, with its gradient *added* into `{}` (a sum over a minibatch). The tape's memory, and that of the tapes of the calls it holds, is reused: once it has grown, a gradient allocates nothing for it. The backward pass reads the arguments themselves, not copies in the tape.",
            sig.ident, sig.ident
        );
        let grad = match fused {
            // The backward pass reads the arguments themselves: no copies.
            Some(_) => quote! {
                let mut #tape = Tape::default();
                let mut #grad_arg = Grad::default();
                let #value = self::grad_into(#(#args,)* &mut #tape, &mut #grad_arg);
                (#value, #grad_arg)
            },
            None => quote! {
                let (#value, #tape) = self::forward(#(#args),*);
                (#value, self::backward(&#tape, #seed))
            },
        };
        // With a `Work`, `grad_into` makes one for `grad_with`, which takes
        // it from the caller as `backward_with` does: then a minibatch
        // allocates nothing.
        let into_body = match work {
            Some(_) => quote!(self::grad_with(#(#args,)* #tape, #grad_arg, &mut Work::default())),
            None => {
                let backward = passes.backward(&seed, &grad_arg.to_token_stream(), None);
                quote!(let #value = #forward; #backward; #value)
            }
        };
        let grad_with = work.as_ref().map(|work| {
            let with_doc = format!(
                "`grad_into` with the backward pass's memory kept in a `Work` you pass again (the gradients of `{}`'s calls, working copies of `&mut` seeds, buffers' adjoints): once the tape and `{work}` have grown, a gradient allocates nothing.",
                sig.ident
            );
            let backward = passes.backward(&seed, &grad_arg.to_token_stream(), Some(work));
            let too_many = too_many(3);
            quote! {
                #[doc = #with_doc]
                #too_many
                #[inline]
                pub fn grad_with #generics (#(#params,)* #tape: &mut #tape_ty, #grad_arg: &mut #grad_ty, #work: &mut #work_ty) -> #ret #where_clause {
                    let #value = #forward;
                    #backward;
                    #value
                }
            }
        });
        let too_many = too_many(2);
        return quote! {
            #[doc = #doc]
            #[must_use]
            #[inline]
            pub fn grad #generics (#(#params),*) -> (#ret, #grad_ty) #where_clause {
                #grad
            }

            #[doc = #into_doc]
            #too_many
            #[inline]
            pub fn grad_into #generics (#(#params,)* #tape: &mut #tape_ty, #grad_arg: &mut #grad_ty) -> #ret #where_clause {
                #into_body
            }

            #grad_with
        };
    }
    let rows = (0..outputs).map(|k| {
        let seed = unit(k);
        quote!(self::backward(&#tape, #seed))
    });
    // `jacobian_into`: one forward pass into the caller's tape, then a
    // backward pass per output with a unit seed, each adding into its row
    // (through `jacobian_with` and a new `Work` where there is one), or one
    // backward pass with a lane per output where there is one of those.
    let (rows_arg, row, seed_var) = (names.fresh("rows"), names.fresh("row"), names.fresh("seed"));
    let seeds: Vec<TokenStream> = (0..outputs).map(unit).collect();
    let lanes_grad = names.fresh("lanes_grad");
    let rows_loop = |work: Option<&Ident>| {
        if let Some(lanes) = lanes {
            // One pass with a lane per output (`emit/lanes.rs`).
            let copies = fused.map_or_else(Vec::new, |(tape_struct, _)| {
                tape_struct.passed_arguments(&args)
            });
            let rows = lanes.jacobian_rows(sig, &tape, &rows_arg, &lanes_grad, &copies);
            return quote! {
                let #value = #forward;
                #rows
                #value
            };
        }
        let backward = passes.backward(&seed_var.to_token_stream(), &row.to_token_stream(), work);
        quote! {
            let #value = #forward;
            for (#row, #seed_var) in #rows_arg.iter_mut().zip([#(#seeds),*]) {
                #backward;
            }
            #value
        }
    };
    let into_body = match (&work, lanes) {
        (Some(_), None) => {
            quote!(self::jacobian_with(#(#args,)* #tape, #rows_arg, &mut Work::default()))
        }
        _ => rows_loop(None),
    };
    let into_doc = format!(
        "`jacobian` into a tape and rows you keep: the value of `{}`, with each output's gradient *added* into its row of `{rows_arg}`, the tape's memory reused.",
        sig.ident
    );
    let jacobian_with = work.as_ref().map(|work| {
        let with_doc = match lanes {
            Some(_) => format!("`jacobian_into`, for code written for the functions whose backward passes keep their memory in a `Work`: this one's pass with a lane per output keeps its memory in the tape, and `{work}` is not used. Once the tape has grown, a Jacobian allocates nothing."),
            None => format!("`jacobian_into` with the backward passes' memory kept in a `Work` you pass again: once the tape and `{work}` have grown, a Jacobian allocates nothing."),
        };
        // The pass with lanes keeps its memory in the tape: `work` is the
        // plain passes', which it does not run.
        let body = match lanes {
            Some(_) => quote! {
                let _ = #work;
                self::jacobian_into(#(#args,)* #tape, #rows_arg)
            },
            None => rows_loop(Some(work)),
        };
        let too_many = too_many(3);
        quote! {
            #[doc = #with_doc]
            #too_many
            #[inline]
            pub fn jacobian_with #generics (#(#params,)* #tape: &mut #tape_ty, #rows_arg: &mut [#grad_ty; #outputs], #work: &mut #work_ty) -> #ret #where_clause {
                #body
            }
        }
    });
    let into_many = too_many(2);
    let doc = format!(
        "The value of `{}` and its Jacobian: one `Grad` per output, the gradient of that output ({}).",
        sig.ident,
        match lanes {
            Some(_) => "one backward pass with a lane per output, each lane's unit seed",
            None => "a backward pass with a unit seed each",
        }
    );
    let name = &sig.ident;
    let grad_doc = format!("`{name}` has several outputs: its derivative is a Jacobian, which [`jacobian`] returns. This `grad` returns the same and says so.");
    let note = format!("`{name}` has several outputs: call `{name}::jacobian(..)`, which returns the value and one `Grad` per output");
    let jacobian = match lanes {
        Some(_) => quote! {
            let mut #tape = Tape::default();
            let mut #rows_arg: [#grad_ty; #outputs] = ::core::array::from_fn(|_| Grad::default());
            let #value = self::jacobian_into(#(#args,)* &mut #tape, &mut #rows_arg);
            (#value, #rows_arg)
        },
        None => quote! {
            let (#value, #tape) = self::forward(#(#args),*);
            (#value, [#(#rows),*])
        },
    };
    quote! {
        #[doc = #doc]
        #[must_use]
        pub fn jacobian #generics (#(#params),*) -> (#ret, [#grad_ty; #outputs]) #where_clause {
            #jacobian
        }

        // Calling `grad` is a natural first guess; the note tells what to write.
        #[doc = #grad_doc]
        #[deprecated(note = #note)]
        #[must_use]
        pub fn grad #generics (#(#params),*) -> (#ret, [#grad_ty; #outputs]) #where_clause {
            self::jacobian(#(#args),*)
        }

        #[doc = #into_doc]
        #into_many
        #[inline]
        pub fn jacobian_into #generics (#(#params,)* #tape: &mut #tape_ty, #rows_arg: &mut [#grad_ty; #outputs]) -> #ret #where_clause {
            #into_body
        }

        #jacobian_with
    }
}

/// The passes `grad_into`, `grad_with` and `jacobian_into` run into the
/// caller's tape: `forward_core` and `backward_core`, which read the
/// arguments themselves, where the tape would copy them (`fused`), else
/// `forward_into` and `backward_into` (`backward_with` given a `Work`).
struct Passes<'p> {
    sig: &'p Signature,
    fused: Option<(&'p super::tape::Tape, &'p crate::emit::backward::Backward)>,
    args: &'p [Ident],
    tape: &'p Ident,
}

impl Passes<'_> {
    /// The forward pass: its value.
    fn forward(&self) -> TokenStream {
        let tape = self.tape;
        match self.fused {
            Some((tape_struct, _)) => {
                let core_args = tape_struct.core_arguments(self.sig, self.args);
                quote!(self::forward_core(#tape, #(#core_args),*))
            }
            None => {
                let args = self.args;
                quote!(self::forward_into(#tape, #(#args),*))
            }
        }
    }

    /// The backward pass of `seed`, added into `grad`, with `work` as its
    /// memory where given (a function with a `Work` always gets one through
    /// `backward_core`).
    fn backward(
        &self,
        seed: &TokenStream,
        grad: &TokenStream,
        work: Option<&Ident>,
    ) -> TokenStream {
        let tape = self.tape;
        match (self.fused, work) {
            (Some((tape_struct, backward)), work) => {
                let mut copies = tape_struct.passed_arguments(self.args);
                copies.extend(super::passes::into_grad(backward));
                let work = work.map(|work| quote!(#work,));
                quote!(self::backward_core(#tape, #seed, #grad, #work #(#copies),*))
            }
            (None, Some(work)) => quote!(self::backward_with(#tape, #seed, #grad, #work)),
            (None, None) => quote!(self::backward_into(#tape, #seed, #grad)),
        }
    }
}

/// `backward` with the gradient as a tuple in parameter order, for callers that are
/// themselves differentiated and know the parameters only by position.
pub(super) fn pullback_fn(
    sig: &Signature,
    backward: &crate::emit::backward::Backward,
    tape: &super::tape::Tape,
    generic: &Generic,
) -> TokenStream {
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let (tape_ty, scratch_ty) = (generic.tape(), generic.scratch());
    let not = quote!(::backprop_runtime::NotDifferentiable);
    let (types, values): (Vec<TokenStream>, Vec<TokenStream>) = sig
        .params
        .iter()
        .map(|p| match (&p.differentiable, &p.model) {
            (_, Some(model)) => {
                let field = &p.ident;
                (model_gradient_type(model), quote!(g.#field))
            }
            (Some(float), None) => {
                let field = &p.ident;
                (gradient_type(p, float), quote!(g.#field))
            }
            (None, None) => (not.clone(), not.clone()),
        })
        .unzip();
    let tuple = |items: &[TokenStream]| match items.len() {
        1 => quote!((#(#items)*,)),
        _ => quote!((#(#items),*)),
    };
    let ret = &seed_type(sig);
    if sig.params.is_empty() {
        // Nothing to return: no unit type for clippy to object to.
        return quote! {
            /// `backward` for a function without parameters: nothing to compute.
            pub fn pullback #generics (_tape: &#tape_ty, _seed: #ret) #where_clause {}

            /// `pullback`, for a function without parameters: nothing to compute.
            pub fn pullback_into #generics (_tape: &#tape_ty, _seed: #ret, _scratch: &mut #scratch_ty) #where_clause {}
        };
    }
    let (types, values) = (tuple(&types), tuple(&values));
    let g = format_ident!("g");
    let has_work = !backward.work_fields.is_empty();
    let pullback_into = pullback_into_fn(sig, has_work, generic, None, false);
    let pullback_lent = crate::emit::lending::takes_slices(sig)
        .then(|| pullback_into_fn(sig, has_work, generic, Some((tape, backward)), false));
    // The inner calls of a function whose calls share its tape.
    let pullback_frame = backward
        .frames
        .as_ref()
        .map(|_| pullback_into_fn(sig, has_work, generic, Some((tape, backward)), true));
    let seed_without_value = seed_without_value_fn(sig);
    quote! {
        #seed_without_value

        /// `backward`, with the gradient as a tuple in parameter order (a
        /// `NotDifferentiable` marker for the other parameters).
        #[must_use]
        pub fn pullback #generics (tape: &#tape_ty, seed: #ret) -> #types #where_clause {
            let #g = self::backward(tape, seed);
            #values
        }

        #pullback_into

        #pullback_lent

        #pullback_frame
    }
}

/// For a function that writes `&mut` parameters: the seed of a call that
/// drops the value the function returns (`step(&mut y, dt);`), from the seeds
/// of the arguments it writes, in order. The caller cannot see whether the
/// function returns a value; this does: a zero seed for it, or none. Generic
/// over each seed's type (a slice, a float, a `lent::Seeded`) and the
/// value's float, which the call's `pullback_into` fixes.
fn seed_without_value_fn(sig: &Signature) -> Option<TokenStream> {
    let finals = sig.inouts().count();
    if finals == 0 {
        return None;
    }
    let types: Vec<Ident> = (0..finals).map(|k| format_ident!("S{k}")).collect();
    let names: Vec<Ident> = (0..finals).map(|k| format_ident!("seed_{k}")).collect();
    let (generics, ret, value) = match sig.returns_value {
        true => (
            quote!(<Z: ::backprop_runtime::num_traits::Zero, #(#types),*>),
            quote!((Z, #(#types),*)),
            quote!((Z::zero(), #(#names),*)),
        ),
        false if finals == 1 => (
            quote!(<#(#types),*>),
            quote!(#(#types)*),
            quote!(#(#names)*),
        ),
        false => (
            quote!(<#(#types),*>),
            quote!((#(#types),*)),
            quote!((#(#names),*)),
        ),
    };
    Some(quote! {
        /// The seed of a call of this function whose value is dropped: the
        /// seeds of the arguments it writes, in order, and a zero for its
        /// value if it returns one. Differentiated callers use it.
        #[inline]
        #[must_use]
        pub fn seed_without_value #generics (#(#names: #types),*) -> #ret {
            #value
        }
    })
}

/// `pullback` into a gradient the caller keeps: the gradient is set to zero
/// (its vectors keep their memory), filled by `backward_into`, and handed back
/// by position, vectors as slices of it. Differentiated callers use it, one
/// gradient per call site, so a call in a loop allocates nothing per pass.
///
/// With `lent`, the function's tape, the same as `pullback_lent`, which also
/// takes the arguments again, as a tuple (see `backprop_runtime::lent`): the
/// slices the backward pass reads, where `forward_lent` copied none; anything
/// for the other parameters (a differentiated caller passes `()`). With
/// `frame` too, `pullback_frame`: the same after `forward_frame`, from the
/// readers of the stacks of the outermost call's tape (`emit/frames.rs`).
fn pullback_into_fn(
    sig: &Signature,
    has_work: bool,
    generic: &Generic,
    lent: Option<(&super::tape::Tape, &crate::emit::backward::Backward)>,
    frame: bool,
) -> TokenStream {
    // A lifetime only where a vector is lent from `grad`.
    let lends = sig.params.iter().any(|p| {
        (p.differentiable.is_some() && matches!(p.shape, Some(Shape::Slice))) || p.model.is_some()
    });
    let mut generics = sig.generics.clone();
    if lends {
        generics.params.insert(0, syn::parse_quote!('grad));
    }
    let (params, _, where_clause) = generics.split_for_impl();
    let lifetime = lends.then(|| quote!('grad));
    let tape_ty = generic.tape();
    let not = quote!(::backprop_runtime::NotDifferentiable);
    // The gradient is the scratch itself, or its `grad` beside its `Work`.
    let grad = match has_work {
        true => quote!(scratch.grad),
        false => quote!(scratch),
    };
    let (types, values): (Vec<TokenStream>, Vec<TokenStream>) = sig
        .params
        .iter()
        .map(|p| {
            if let Some(model) = &p.model {
                let (ty, field) = (model_gradient_type(model), &p.ident);
                return (quote!(&'grad #ty), quote!(&#grad.#field));
            }
            let (Some(float), field) = (&p.differentiable, &p.ident) else {
                return (not.clone(), not.clone());
            };
            match &p.shape {
                None => (quote!(#float), quote!(#grad.#field)),
                // An array is a value like a float; a vector is lent.
                Some(Shape::Array(len)) => (quote!([#float; #len]), quote!(#grad.#field)),
                Some(Shape::Slice) => (quote!(&'grad [#float]), quote!(&#grad.#field[..])),
            }
        })
        .unzip();
    let tuple = |items: &[TokenStream]| match items.len() {
        1 => quote!((#(#items)*,)),
        _ => quote!((#(#items),*)),
    };
    let (types, values) = (tuple(&types), tuple(&values));
    // `pullback_lent` takes the seeds of `&mut [f64]` parameters as its
    // `backward_core` does.
    let ret = &match lent {
        Some((_, backward)) if backward.seeded => seeded_type(sig),
        _ => seed_type(sig),
    };
    let scratch_ty = generic.scratch();
    let mut backward = match has_work {
        true => quote!(self::backward_with(tape, seed, &mut scratch.grad, &mut scratch.work);),
        false => quote!(self::backward_into(tape, seed, scratch);),
    };
    let frames = lent
        .and_then(|(tape, backward)| Some((tape, backward.frames.as_ref()?)))
        .filter(|_| frame);
    let (name, lent_param) = match lent {
        Some((tape, backward_pass)) => {
            let (param, core) = lent_parameters(sig, tape, backward_pass, frames.is_some());
            backward = core.unwrap_or(backward);
            // (A frame of a function that lends nothing takes nothing again.)
            let param = crate::emit::lending::takes_slices(sig).then_some(param);
            match frames.is_some() {
                true => (quote!(pullback_frame), param),
                false => (quote!(pullback_lent), param),
            }
        }
        None => (quote!(pullback_into), None),
    };
    // A call whose result's adjoint is exactly zero (the branch of a `min`
    // not taken, a term multiplied by zero) contributes nothing: its backward
    // pass is not run, and the gradient stays the zero just set (its
    // vectors empty, which callers read as zeros). As a hand-written
    // gradient skips it; and an infinite derivative of what was not taken
    // does not become 0 × ∞ = NaN.
    let scalar_seed = sig.inouts().next().is_none()
        && sig.returns_value
        && sig.floats.of_type(&sig.ret_ty).is_some();
    // A frame's backward pass runs whatever the seed: what the inner calls
    // pushed is popped only so. With a zero seed it adds into the scratch's
    // gradient alone, cleared after (a `lent::Seeded` sink is the caller's
    // own seed: it runs as any).
    let seeded = lent.is_some_and(|(_, backward)| backward.seeded);
    if scalar_seed && (frames.is_none() || !seeded) {
        let zero = sig.ret.zero();
        let otherwise = frames.map(|_| {
            let discarded = crate::emit::frames::with_sinks_discarded(backward.clone());
            quote!(else { #discarded #grad.clear(); })
        });
        backward = quote! {
            if seed != #zero {
                #backward
            } #otherwise
        };
    }
    let doc = match (lent, frames) {
        (None, _) => "`pullback` into memory the caller keeps per call site: the gradient in `scratch` is set to zero (its vectors keep their memory), filled, and handed back by position, vectors as slices of it.",
        (Some(_), None) => "`pullback_into` after `forward_lent`, which copied no argument: `lent` holds the arguments again, in order, the slices as they were passed (`()` or anything for the others).",
        (Some(_), Some(_)) => "`pullback_lent` of an inner call, whose tape is the stacks of the outermost call's, read from where the calls after it left them. Its backward pass runs whatever the seed, as it reads what its forward pass pushed; a zero seed adds nothing to the caller's adjoints.",
    };
    let (vis, tape_param) = match frames {
        Some((tape, frames)) => {
            let stacks = frames.stack_params(tape, true);
            (quote!(), quote!(#stacks))
        }
        None => (quote!(pub), quote!(tape: &#tape_ty)),
    };
    // A lending pullback leaves each list's vector to its sink.
    let clears = match (lent, &lent_param) {
        (Some((_, backward)), Some(_)) => {
            let sinks: Vec<usize> = backward.sinks.iter().map(|(k, _)| *k).collect();
            field_clears(sig, &grad, &sinks)
        }
        _ => vec![quote!(#grad.clear();)],
    };
    let lent_count = if lent_param.is_some() { 2 } else { 0 };
    let too_many = frames.and_then(|(tape, frames)| frames.allow_many(tape, 2 + lent_count, true));
    // A frame's pullback is a step of its caller's backward pass (one call
    // per frame, where two cost a fifth of a determinant's gradient).
    let inline = frames.map(|_| quote!(#[inline]));
    quote! {
        #[doc = #doc]
        #too_many
        #inline
        #vis fn #name #params (#tape_param, seed: #ret, scratch: & #lifetime mut #scratch_ty #lent_param) -> #types #where_clause {
            #(#clears)*
            #backward
            #values
        }
    }
}

/// The statements that set each field of the gradient at `grad` to zero,
/// as `Grad::clear` does; a slice parameter at an index in `sinks`, whose
/// adjoint `pullback_lent` adds where its `into_k` says, is cleared by that
/// sink (`lent::Sink::clear`: a `lent::Discard` keeps the vector, sized).
fn field_clears(sig: &Signature, grad: &TokenStream, sinks: &[usize]) -> Vec<TokenStream> {
    let models = sig.params.iter().filter(|p| p.model.is_some()).map(|p| {
        let name = &p.ident;
        quote!(::backprop_runtime::Gradient::clear(&mut #grad.#name);)
    });
    let fields = sig.params.iter().enumerate().filter_map(|(k, param)| {
        let (name, zero) = (&param.ident, param.differentiable.as_ref()?.zero());
        Some(match &param.shape {
            None => quote!(#grad.#name = #zero;),
            Some(Shape::Slice) if sinks.contains(&k) => {
                let into = format_ident!("into_{k}");
                quote!(::backprop_runtime::lent::Sink::clear(&#into, &mut #grad.#name);)
            }
            Some(Shape::Slice) => quote!(#grad.#name.clear();),
            Some(Shape::Array(len)) => quote!(#grad.#name = [#zero; #len];),
        })
    });
    models.chain(fields).collect()
}

/// `pullback_lent`'s last two parameters: the arguments lent again as a
/// tuple, each list passed by shared reference that the backward pass reads
/// bound (`lent_0`: the list, or `()` where `forward_lent` kept a copy,
/// `lent::Again`), the others anything (`impl Sized`, unread); then where to
/// add each slice parameter's adjoint (`into_0`: a part of the caller's own,
/// or `()` for the scratch, `lent::Sink`), anything for the others. And the
/// backward pass that reads those slices or adds there, where there is one
/// (`backward_core`, else `None`: the one `pullback_into` runs).
fn lent_parameters(
    sig: &Signature,
    tape: &super::tape::Tape,
    backward: &crate::emit::backward::Backward,
    frame: bool,
) -> (TokenStream, Option<TokenStream>) {
    let (mut patterns, mut types) = (Vec::new(), Vec::new());
    let (mut sink_patterns, mut sink_types) = (Vec::new(), Vec::new());
    let lent = |k: usize| crate::emit::lending::is_lent(&sig.params[k].ty);
    let anything = quote!(impl ::core::marker::Sized);
    for k in 0..sig.params.len() {
        match tape
            .argument_copies()
            .find(|c| c.param == Some(k) && lent(k))
        {
            Some(copied) => {
                let element = &copied.element;
                patterns.push(format_ident!("lent_{k}").into_token_stream());
                types.push(quote!(impl ::backprop_runtime::lent::Again<#element>));
            }
            None => {
                patterns.push(quote!(_));
                types.push(anything.clone());
            }
        }
        match backward.sinks.iter().any(|(param, _)| *param == k) {
            true => {
                let float = &sig.params[k].differentiable;
                sink_patterns.push(format_ident!("into_{k}").into_token_stream());
                sink_types.push(quote!(impl ::backprop_runtime::lent::Sink<#float>));
            }
            false => {
                sink_patterns.push(quote!(_));
                sink_types.push(anything.clone());
            }
        }
    }
    let param = quote! {
        , (#(#patterns,)*): (#(#types,)*), (#(#sink_patterns,)*): (#(#sink_types,)*)
    };
    let frames = backward.frames.as_ref().filter(|_| frame);
    if !super::passes::has_core(tape, backward) && frames.is_none() {
        return (param, None);
    }
    // The copies of lists passed by shared reference are lent; of the
    // others, the tape's (`forward_lent` made them). A frame has none:
    // its caller lends every list (`frames::shareable`).
    let slices = tape.argument_copies().map(|c| {
        let field = &c.field;
        match (c.param, frames) {
            (Some(k), Some(_)) => {
                let lent = format_ident!("lent_{k}");
                quote!(::backprop_runtime::lent::Again::or(&#lent, &[]))
            }
            (Some(k), None) if lent(k) => {
                let lent = format_ident!("lent_{k}");
                quote!(::backprop_runtime::lent::Again::or(&#lent, tape.#field.as_slice()))
            }
            _ => quote!(tape.#field.as_slice()),
        }
    });
    let sinks = backward.sinks.iter().map(|(k, _)| {
        let into = format_ident!("into_{k}");
        quote!(#into)
    });
    let args: Vec<TokenStream> = slices.chain(sinks).collect();
    let (core, tape) = match frames {
        Some(frames) => (quote!(backward_frame), frames.stack_arguments(tape, true)),
        None => (quote!(backward_core), quote!(tape)),
    };
    let core = match backward.work_fields.is_empty() {
        false => {
            quote!(self::#core(#tape, seed, &mut scratch.grad, &mut scratch.work, #(#args),*);)
        }
        true => quote!(self::#core(#tape, seed, scratch, #(#args),*);),
    };
    (param, Some(core))
}
