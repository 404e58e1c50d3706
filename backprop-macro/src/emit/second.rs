//! Second order, forward over reverse: `f::hvp(args.., dot_args..) -> (value,
//! gradient, Hessian times the direction)` for a function generic over its
//! float (`fn f<T: Float>`). The module's own `grad` is generic, so it runs
//! over the runtime's `Dual<T>` with the direction in the inputs' `eps`
//! parts: every operation of the forward and the backward pass then carries
//! its derivative along the direction, which is what a second source
//! transformation of the reverse pass would write, operation by operation.
//! The gradient's `eps` parts are `H v`.

use super::module::Generic;
use crate::emit::names::Names;
use crate::ir::Floats;
use crate::parse::signature::{Outputs, Shape, Signature};
use proc_macro2::TokenStream;
use quote::quote;

/// `pub fn hvp(..)`, for a generic function with one returned result (and
/// maybe `&mut` parameters, whose final contents get a zero seed).
pub(super) fn hvp_fn(sig: &Signature, names: &Names, generic: &Generic) -> Option<TokenStream> {
    if sig.params.iter().any(|p| p.model.is_some()) {
        return None;
    }
    let t = sig.generics.type_params().next()?.ident.clone();
    let only_t = Floats::new(Some(t.clone()));
    // Any other use of the float type in a parameter (`&Model<T>`, a method's
    // `self`) would have to become dual too: not covered. (Judged on the
    // printed type, so a name that merely contains `T` counts too: it errs on
    // the side of no `hvp`.)
    let mentions_t = |ty: &syn::Type| quote!(#ty).to_string().contains(&t.to_string());
    let other_uses = sig.params.iter().any(|p| {
        p.differentiable.is_none()
            && mentions_t(&p.ty)
            && only_t.of_type(&p.ty).is_none()
            && Shape::of(&p.ty, &only_t).is_none()
    });
    if !covered(sig) || other_uses {
        return None;
    }
    let mut names = names.clone();
    let mut params = Vec::new();
    let mut directions = Vec::new();
    let mut setup = Vec::new();
    let mut args = Vec::new();
    let mut values = Vec::new();
    let mut slopes = Vec::new();
    let mut movings = Vec::new();
    let (g, value, hv) = (names.fresh("g"), names.fresh("value"), names.fresh("hv"));
    // `_y` is passed on under another name (a used underscore binding).
    let (passed, passed_args) = super::api::passed_params(sig, &mut names);
    for ((p, param), arg) in sig.params.iter().zip(passed).zip(&passed_args) {
        let ident = &p.ident;
        params.push(param);
        let dot = p
            .differentiable
            .as_ref()
            .map(|_| names.fresh(&format!("dot_{ident}")));
        if let Some(dot) = &dot {
            let direction = direction_type(p);
            directions.push(quote!(#dot: #direction));
            let (re, eps) = match &p.shape {
                None => (quote!(#g.#ident.re), quote!(#g.#ident.eps)),
                Some(Shape::Slice) => (
                    quote!(#g.#ident.iter().map(|d| d.re).collect()),
                    quote!(#g.#ident.iter().map(|d| d.eps).collect()),
                ),
                Some(Shape::Array(_)) => (
                    quote!(::core::array::from_fn(|i| #g.#ident[i].re)),
                    quote!(::core::array::from_fn(|i| #g.#ident[i].eps)),
                ),
            };
            values.push(quote!(#ident: #re));
            slopes.push(quote!(#ident: #eps));
        }
        let (moving, code, dual_arg) = dual_argument(p, arg, &t, &only_t, dot.as_ref(), &mut names);
        setup.push(code);
        args.push(dual_arg);
        movings.push((arg.clone(), moving));
    }
    // A function that writes `&mut` parameters has no `grad`: its forward
    // pass, then its backward pass asking for the returned value's
    // derivatives; the parameters end as the function leaves them.
    let passes = match sig.inouts().next() {
        None => quote!(let (#value, #g) = self::grad(#(#args),*);),
        Some(_) => {
            let tape = names.fresh("tape");
            let (seed, zeros, write_back) = value_seed(sig, &movings, &t, &mut names);
            quote! {
                let (#value, #tape) = self::forward(#(#args),*);
                #zeros
                let #g = self::backward(&#tape, #seed);
                #write_back
            }
        }
    };
    let grad_ty = generic.grad();
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let doc = format!(
        "Second order, forward over reverse: `{}`'s value, its gradient, and the Hessian times the direction given by the `dot_` arguments, in one forward and one backward pass over dual numbers.",
        sig.ident
    );
    let too_many = (2 * sig.params.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    Some(quote! {
        #[doc = #doc]
        #[must_use]
        #too_many
        pub fn hvp #generics (#(#params,)* #(#directions),*) -> (#t, #grad_ty, #grad_ty) #where_clause {
            #(#setup)*
            #passes
            let #hv = Grad { #(#slopes),* };
            (#value.re, Grad { #(#values),* }, #hv)
        }
    })
}

/// Second order covers one returned result and parameters that are not
/// structs.
pub(crate) fn covered(sig: &Signature) -> bool {
    let one_result = matches!(sig.outputs, Outputs::One) && sig.returns_value;
    one_result && sig.params.iter().all(|p| p.model.is_none())
}

/// A function over `f64` or `f32` that asks for second order gets a twin
/// (asked before it is written): for its own `hvp` where second order
/// covers it, and for the twins of its callers also where it returns
/// nothing and writes its `&mut` parameters.
pub(crate) fn has_twin(sig: &Signature) -> bool {
    let writes_only = !sig.returns_value && sig.params.iter().any(|p| p.inout);
    covered(sig) || writes_only && sig.params.iter().all(|p| p.model.is_none())
}

/// A parameter's direction as `hvp` takes it: the parameter's type, but a
/// float behind a reference is a float, and an array written in place is
/// read (`&[f64]` for `&mut [f64]`): a direction only goes in.
pub(crate) fn direction_type(p: &crate::parse::signature::Param) -> TokenStream {
    let ty = &p.ty;
    let float = p.differentiable.clone().unwrap_or(crate::ir::FloatTy::F64);
    match (&p.shape, p.inout || p.by_reference) {
        (None, true) => quote!(#float),
        (Some(Shape::Slice), true) => quote!(&[#float]),
        (Some(Shape::Array(len)), true) => quote!(&[#float; #len]),
        _ => quote!(#ty),
    }
}

/// For a function that writes `&mut` parameters: the seed of its `backward`
/// that asks for the derivatives of its returned value (one for the value,
/// zero for each parameter's final contents, in parameter order), the
/// statements that make its zeros, and those that write the parameters'
/// final values back through the references, as the function does.
fn value_seed(
    sig: &Signature,
    passed: &[(proc_macro2::Ident, proc_macro2::Ident)],
    t: &proc_macro2::Ident,
    names: &mut Names,
) -> (TokenStream, TokenStream, TokenStream) {
    let dual = quote!(::backprop_runtime::Dual);
    let mut seeds = vec![quote!(#dual::constant(#t::one()))];
    let mut zeros = TokenStream::new();
    let mut write_back = TokenStream::new();
    for (p, (arg, moving)) in sig.params.iter().zip(passed) {
        if !p.inout {
            continue;
        }
        match &p.shape {
            None => {
                seeds.push(quote!(#dual::constant(#t::zero())));
                write_back.extend(quote!(*#arg = #moving.re;));
            }
            Some(_) => {
                let zero = names.fresh(&format!("{}_zero", p.ident));
                zeros.extend(
                    quote!(let #zero = ::std::vec![#dual::constant(#t::zero()); #moving.len()];),
                );
                seeds.push(quote!(&#zero[..]));
                write_back.extend(quote! {
                    for (a, d) in #arg.iter_mut().zip(#moving.iter()) {
                        *a = d.re;
                    }
                });
            }
        }
    }
    (quote!((#(#seeds),*)), zeros, write_back)
}

/// `hvp` and `hessian` of a function over `f64` or `f32`: those of its twin
/// over a generic float (`twin.rs`), the module `generic` inside this one,
/// run with the function's own float. (A twin exists only where `covered`.)
pub(super) fn through_twin(
    sig: &Signature,
    names: &Names,
    twin: &proc_macro2::Ident,
) -> TokenStream {
    let mut names = names.clone();
    let (params, args) = super::api::passed_params(sig, &mut names);
    let mut directions = Vec::new();
    let mut direction_args = Vec::new();
    for p in sig.params.iter().filter(|p| p.differentiable.is_some()) {
        let ident = &p.ident;
        let dot = names.fresh(&format!("dot_{ident}"));
        let direction = direction_type(p);
        directions.push(quote!(#dot: #direction));
        direction_args.push(dot);
    }
    let (value, g, hv) = (names.fresh("value"), names.fresh("g"), names.fresh("hv"));
    let fields: Vec<&proc_macro2::Ident> = sig.differentiable().map(|(p, _)| &p.ident).collect();
    let float = &sig.ret;
    let name = &sig.ident;
    let hvp_doc = format!(
        "Second order, forward over reverse: `{name}`'s value, its gradient, and the Hessian times the direction given by the `dot_` arguments, from `{twin}::hvp`: `{name}` written over a generic float, whose reverse pass runs over dual numbers."
    );
    let hessian_doc = format!(
        "The value of `{name}` and its Hessian over the differentiable coordinates, in parameter order (a slice's elements in turn), one forward-over-reverse pass per coordinate (`{twin}::hessian`)."
    );
    let too_many = (2 * sig.params.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    quote! {
        #[doc = #hvp_doc]
        #[must_use]
        #[inline]
        #too_many
        pub fn hvp(#(#params,)* #(#directions),*) -> (#float, Grad, Grad) {
            let (#value, #g, #hv) = self::#twin::hvp(#(#args,)* #(#direction_args),*);
            (#value, Grad { #(#fields: #g.#fields),* }, Grad { #(#fields: #hv.#fields),* })
        }

        #[doc = #hessian_doc]
        #[must_use]
        #[inline]
        pub fn hessian(#(#params),*) -> (#float, ::std::vec::Vec<::std::vec::Vec<#float>>) {
            self::#twin::hessian(#(#args),*)
        }
    }
}

/// `pub fn hessian(args..) -> (value, rows)`: the Hessian over the
/// differentiable coordinates in parameter order (a slice's elements in
/// turn), one forward-over-reverse pass per coordinate, for the functions that
/// have `hvp`. The dual inputs, the tape, the gradient (and the backward
/// pass's `Work`) are made once; each pass sets one coordinate's `eps`.
pub(super) fn hessian_fn(
    sig: &Signature,
    names: &Names,
    generic: &Generic,
    has_work: bool,
) -> Option<TokenStream> {
    let t = sig.generics.type_params().next()?.ident.clone();
    let only_t = Floats::new(Some(t.clone()));
    let dual = quote!(::backprop_runtime::Dual);
    let mut names = names.clone();
    let (value, rows, j, row, g, tape, work) = (
        names.fresh("value"),
        names.fresh("rows"),
        names.fresh("j"),
        names.fresh("row"),
        names.fresh("g"),
        names.fresh("tape"),
        names.fresh("work"),
    );
    let mut params = Vec::new();
    let mut plain_args = Vec::new();
    let mut setup = Vec::new();
    let mut args = Vec::new();
    let mut sizes = Vec::new();
    let mut seeds = Vec::new();
    let mut unseeds = Vec::new();
    let mut flatten = Vec::new();
    let mut restore = Vec::new();
    let mut movings = Vec::new();
    let mut offset = quote!(0);
    let (passed, passed_args) = super::api::passed_params(sig, &mut names);
    for ((p, param), arg) in sig.params.iter().zip(passed).zip(&passed_args) {
        let ident = &p.ident;
        params.push(param);
        plain_args.push(quote!(#arg));
        let (moving, code, dual_arg) = dual_argument(p, arg, &t, &only_t, None, &mut names);
        setup.push(code);
        args.push(dual_arg);
        movings.push((arg.clone(), moving.clone()));
        // What the function wrote in the last pass is undone before the next.
        if p.inout {
            restore.push(match &p.shape {
                None => quote!(#moving = #dual::constant(*#arg);),
                Some(_) => quote! {
                    for (d, a) in #moving.iter_mut().zip(#arg.iter()) {
                        *d = #dual::constant(*a);
                    }
                },
            });
        }
        if p.differentiable.is_none() {
            continue;
        }
        let start = names.fresh(&format!("{ident}_start"));
        let set = |to: TokenStream| match &p.shape {
            None => quote!(if #j == #start { #moving.eps = #to; }),
            Some(_) => quote! {
                if (#start..#start + #moving.len()).contains(&#j) {
                    #moving[#j - #start].eps = #to;
                }
            },
        };
        seeds.push(set(quote!(#t::one())));
        unseeds.push(set(quote!(#t::zero())));
        let (size, flat) = match &p.shape {
            None => (quote!(1), quote!(#row.push(#g.#ident.eps);)),
            Some(Shape::Slice) => (
                quote!(#arg.len()),
                quote!(#row.extend(#g.#ident.iter().map(|d| d.eps));),
            ),
            Some(Shape::Array(len)) => (
                quote!(#len),
                quote!(#row.extend(#g.#ident.iter().map(|d| d.eps));),
            ),
        };
        sizes.push(quote!(let #start = #offset;));
        offset = quote!(#start + #size);
        flatten.push(flat);
    }
    // The seed of each pass, and where the value comes from: the passes
    // (or, without differentiable coordinates, `grad`); for a function that
    // writes `&mut` parameters, the seed asks for its returned value's
    // derivatives, and a last pass gives the value and leaves the
    // parameters as the function does.
    let (seed, zeros, bind_pass, value_first, value_each, value_last) = match sig.inouts().next() {
        None => {
            let pass_value = names.fresh("pass_value");
            (
                quote!(#dual::constant(#t::one())),
                TokenStream::new(),
                quote!(let #pass_value =),
                quote!(let mut #value = ::core::option::Option::None;),
                quote!(#value = ::core::option::Option::Some(#pass_value.re);),
                quote!(let #value = #value.unwrap_or_else(|| self::grad(#(#plain_args),*).0);),
            )
        }
        Some(_) => {
            let (seed, zeros, write_back) = value_seed(sig, &movings, &t, &mut names);
            let last_value = names.fresh("last");
            let last = quote! {
                let #value = {
                    #(#restore)*
                    let #last_value = self::forward_into(&mut #tape, #(#args),*);
                    #write_back
                    #last_value.re
                };
            };
            (seed, zeros, quote!(let _ =), quote!(), quote!(), last)
        }
    };
    let backward = match has_work {
        true => quote!(self::backward_with(&#tape, #seed, &mut #g, &mut #work);),
        false => quote!(self::backward_into(&#tape, #seed, &mut #g);),
    };
    let new_work = has_work.then(|| quote!(let mut #work = Work::default();));
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let doc = format!(
        "The value of `{}` and its Hessian over the differentiable coordinates, in parameter order (a slice's elements in turn): one forward-over-reverse pass per coordinate, reusing its inputs, tape and gradient.",
        sig.ident
    );
    let too_many = (sig.params.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    Some(quote! {
        #[doc = #doc]
        #[must_use]
        #too_many
        pub fn hessian #generics (#(#params),*) -> (#t, ::std::vec::Vec<::std::vec::Vec<#t>>) #where_clause {
            #(#sizes)*
            let coordinates = #offset;
            #(#setup)*
            let mut #tape = Tape::default();
            let mut #g = Grad::default();
            #new_work
            #value_first
            let mut #rows = ::std::vec::Vec::with_capacity(coordinates);
            #zeros
            for #j in 0..coordinates {
                #(#restore)*
                #(#seeds)*
                #bind_pass self::forward_into(&mut #tape, #(#args),*);
                #g.clear();
                #backward
                #(#unseeds)*
                #value_each
                let mut #row = ::std::vec::Vec::with_capacity(coordinates);
                #(#flatten)*
                #rows.push(#row);
            }
            #value_last
            (#value, #rows)
        }
    })
}

/// A parameter as dual numbers, for the generic `grad` to run over: the local
/// that holds them, the statement that makes it (`eps` from `dot`, else zero)
/// and the argument that passes it. Data that is not in the float type passes
/// as it is.
fn dual_argument(
    p: &crate::parse::signature::Param,
    arg: &proc_macro2::Ident,
    t: &proc_macro2::Ident,
    only_t: &Floats,
    dot: Option<&proc_macro2::Ident>,
    names: &mut Names,
) -> (proc_macro2::Ident, TokenStream, TokenStream) {
    let dual = quote!(::backprop_runtime::Dual);
    let (ident, ty) = (arg, &p.ty);
    let moving = names.fresh(&format!("{}_dual", p.ident));
    let by_ref = match ty {
        syn::Type::Reference(r) if r.mutability.is_some() => Some(quote!(&mut)),
        syn::Type::Reference(_) => Some(quote!(&)),
        _ => None,
    };
    // Without a direction (`hessian`), each pass sets the `eps` it needs;
    // the function writes a `&mut` parameter's.
    let mutability =
        ((dot.is_none() && p.differentiable.is_some()) || p.inout).then(|| quote!(mut));
    // A float behind a reference (`&T`, `&mut T`): a dual of its value, lent.
    if p.shape.is_none() && by_ref.is_some() && p.differentiable.is_some() {
        let scalar = match dot {
            Some(dot) => quote!(#dual::new(*#ident, #dot)),
            None => quote!(#dual::constant(*#ident)),
        };
        return (
            moving.clone(),
            quote!(let #mutability #moving = #scalar;),
            quote!(#by_ref #moving),
        );
    }
    let scalar = match dot {
        Some(dot) => quote!(#dual::new(#ident, #dot)),
        None => quote!(#dual::constant(#ident)),
    };
    if only_t.of_type(ty).is_some() {
        return match p.differentiable {
            Some(_) => (
                moving.clone(),
                quote!(let #mutability #moving = #scalar;),
                quote!(#moving),
            ),
            // Data in the float type: a constant of the dual type.
            None => (moving, quote!(), scalar),
        };
    }
    let made = match (Shape::of(ty, only_t), dot) {
        (Some((_, Shape::Slice, _)), Some(dot)) => quote! {
            let #mutability #moving: ::std::vec::Vec<#dual<#t>> =
                #ident.iter().zip(#dot.iter()).map(|(a, b)| #dual::new(*a, *b)).collect();
        },
        (Some((_, Shape::Slice, _)), None) => quote! {
            let #mutability #moving: ::std::vec::Vec<#dual<#t>> =
                #ident.iter().map(|a| #dual::constant(*a)).collect();
        },
        (Some((_, Shape::Array(len), _)), Some(dot)) => quote! {
            let #mutability #moving: [#dual<#t>; #len] =
                ::core::array::from_fn(|i| #dual::new(#ident[i], #dot[i]));
        },
        (Some((_, Shape::Array(len), _)), None) => quote! {
            let #mutability #moving: [#dual<#t>; #len] =
                ::core::array::from_fn(|i| #dual::constant(#ident[i]));
        },
        (None, _) => return (moving, quote!(), quote!(#ident)),
    };
    (moving.clone(), made, quote!(#by_ref #moving))
}
