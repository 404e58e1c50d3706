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

/// `pub fn hvp(..)`, for a generic function with one result and no `&`/`&mut`
/// float parameters.
pub(super) fn hvp_fn(sig: &Signature, names: &Names, generic: &Generic) -> Option<TokenStream> {
    let t = sig.generics.type_params().next()?.ident.clone();
    let only_t = Floats::new(Some(t.clone()));
    let plain = sig.params.iter().all(|p| !p.inout && !p.by_reference);
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
    if !matches!(sig.outputs, Outputs::One) || !sig.returns_value || !plain || other_uses {
        return None;
    }
    let mut names = names.clone();
    let dual = quote!(::backprop_runtime::Dual);
    let mut params = Vec::new();
    let mut directions = Vec::new();
    let mut setup = Vec::new();
    let mut args = Vec::new();
    let mut values = Vec::new();
    let mut slopes = Vec::new();
    let (g, value, hv) = (names.fresh("g"), names.fresh("value"), names.fresh("hv"));
    for p in &sig.params {
        let (ident, ty) = (&p.ident, &p.ty);
        params.push(quote!(#ident: #ty));
        let moving = names.fresh(&format!("{ident}_dual"));
        let by_ref = matches!(ty, syn::Type::Reference(_)).then(|| quote!(&));
        match (&p.differentiable, &p.shape) {
            (Some(_), shape) => {
                let dot = names.fresh(&format!("dot_{ident}"));
                directions.push(quote!(#dot: #ty));
                match shape {
                    None => {
                        setup.push(quote!(let #moving = #dual::new(#ident, #dot);));
                        values.push(quote!(#ident: #g.#ident.re));
                        slopes.push(quote!(#ident: #g.#ident.eps));
                    }
                    Some(Shape::Slice) => {
                        setup.push(quote! {
                            let #moving: ::std::vec::Vec<#dual<#t>> =
                                #ident.iter().zip(#dot.iter()).map(|(a, b)| #dual::new(*a, *b)).collect();
                        });
                        values.push(quote!(#ident: #g.#ident.iter().map(|d| d.re).collect()));
                        slopes.push(quote!(#ident: #g.#ident.iter().map(|d| d.eps).collect()));
                    }
                    Some(Shape::Array(len)) => {
                        setup.push(quote! {
                            let #moving: [#dual<#t>; #len] =
                                ::core::array::from_fn(|i| #dual::new(#ident[i], #dot[i]));
                        });
                        values.push(quote!(#ident: ::core::array::from_fn(|i| #g.#ident[i].re)));
                        slopes.push(quote!(#ident: ::core::array::from_fn(|i| #g.#ident[i].eps)));
                    }
                }
                args.push(quote!(#by_ref #moving));
            }
            // Data in the float type: constants of the dual type.
            (None, _) if only_t.of_type(ty).is_some() => {
                args.push(quote!(#dual::constant(#ident)));
            }
            (None, _) => match Shape::of(ty, &only_t) {
                Some((_, Shape::Slice, _)) => {
                    setup.push(quote! {
                        let #moving: ::std::vec::Vec<#dual<#t>> =
                            #ident.iter().map(|a| #dual::constant(*a)).collect();
                    });
                    args.push(quote!(#by_ref #moving));
                }
                Some((_, Shape::Array(len), _)) => {
                    setup.push(quote! {
                        let #moving: [#dual<#t>; #len] =
                            ::core::array::from_fn(|i| #dual::constant(#ident[i]));
                    });
                    args.push(quote!(#by_ref #moving));
                }
                None => args.push(quote!(#ident)),
            },
        }
    }
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
            let (#value, #g) = self::grad(#(#args),*);
            let #hv = Grad { #(#slopes),* };
            (#value.re, Grad { #(#values),* }, #hv)
        }
    })
}

/// `pub fn hessian(args..) -> (value, rows)`: the Hessian over the
/// differentiable coordinates in parameter order (a slice's elements in
/// turn), one `hvp` per coordinate, for the functions that have `hvp`.
pub(super) fn hessian_fn(sig: &Signature, names: &Names, generic: &Generic) -> Option<TokenStream> {
    let t = sig.generics.type_params().next()?.ident.clone();
    let mut names = names.clone();
    let (value, rows, j, row, hv) = (
        names.fresh("value"),
        names.fresh("rows"),
        names.fresh("j"),
        names.fresh("row"),
        names.fresh("hv"),
    );
    let mut params = Vec::new();
    let mut args = Vec::new();
    let mut sizes = Vec::new();
    let mut unit_directions = Vec::new();
    let mut direction_args = Vec::new();
    let mut flatten = Vec::new();
    let mut offset = quote!(0);
    for p in &sig.params {
        let (ident, ty) = (&p.ident, &p.ty);
        params.push(quote!(#ident: #ty));
        args.push(quote!(#ident));
        if p.differentiable.is_none() {
            continue;
        }
        let start = names.fresh(&format!("{ident}_start"));
        let dot = names.fresh(&format!("dot_{ident}"));
        let by_ref = matches!(ty, syn::Type::Reference(_)).then(|| quote!(&));
        let unit = quote!(if #start + i == #j { #t::one() } else { #t::zero() });
        let (size, direction, flat) = match &p.shape {
            None => (
                quote!(1),
                quote!(let #dot = if #start == #j { #t::one() } else { #t::zero() };),
                quote!(#row.push(#hv.#ident);),
            ),
            Some(Shape::Slice) => (
                quote!(#ident.len()),
                quote!(let #dot: ::std::vec::Vec<#t> = (0..#ident.len()).map(|i| #unit).collect();),
                quote!(#row.extend(#hv.#ident.iter().copied());),
            ),
            Some(Shape::Array(len)) => (
                quote!(#len),
                quote!(let #dot: [#t; #len] = ::core::array::from_fn(|i| #unit);),
                quote!(#row.extend(#hv.#ident.iter().copied());),
            ),
        };
        sizes.push(quote!(let #start = #offset;));
        offset = quote!(#start + #size);
        unit_directions.push(direction);
        direction_args.push(quote!(#by_ref #dot));
        flatten.push(flat);
    }
    let (generics, where_clause) = (&generic.params, &generic.where_clause);
    let doc = format!(
        "The value of `{}` and its Hessian over the differentiable coordinates, in parameter order (a slice's elements in turn): one `hvp` per coordinate.",
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
            let mut #value = ::core::option::Option::None;
            let mut #rows = ::std::vec::Vec::with_capacity(coordinates);
            for #j in 0..coordinates {
                #(#unit_directions)*
                let (v, _, #hv) = self::hvp(#(#args,)* #(#direction_args),*);
                #value = ::core::option::Option::Some(v);
                let mut #row = ::std::vec::Vec::with_capacity(coordinates);
                #(#flatten)*
                #rows.push(#row);
            }
            // Without differentiable coordinates, the value alone.
            let #value = #value.unwrap_or_else(|| self::grad(#(#args),*).0);
            (#value, #rows)
        }
    })
}
