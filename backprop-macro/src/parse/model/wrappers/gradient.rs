//! `Grad` over the structs, and its moves to and from the gradient of the
//! function read field by field.

use super::named_params;
use super::{Api, Source};
use crate::parse::signature::Shape;
use proc_macro2::{Ident, TokenStream};
use quote::quote_spanned;
use quote::{format_ident, quote};
use syn::spanned::Spanned;

impl Api<'_> {
    /// `Grad`: one field per differentiated parameter, the struct's gradient
    /// for a struct.
    pub(super) fn grad_struct(&self) -> TokenStream {
        let (params, args, where_clause) = self.seen.sig.generics.split_for_impl();
        let mut fields: Vec<(Ident, TokenStream, TokenStream)> = Vec::new();
        for (ident, _) in named_params(&self.seen.sig) {
            if let Some(model) = self.models.iter().find(|m| m.ident == *ident) {
                let ty = &model.ty;
                let grad_ty = match model.element_grad() {
                    // One gradient per element.
                    Some(element) => quote_spanned!(ty.span()=> ::std::vec::Vec<#element>),
                    None => {
                        quote_spanned!(ty.span()=> <#ty as ::backprop_runtime::Differentiable>::Grad)
                    }
                };
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
            match self.models.iter().find(|m| m.ident == *ident) {
                Some(model) if model.rows => {
                    quote!(::backprop_runtime::model::fields::clear_rows(&mut self.#ident);)
                }
                Some(model) if model.slice => {
                    quote!(::backprop_runtime::model::fields::clear_each(&mut self.#ident);)
                }
                Some(_) => quote!(::backprop_runtime::Gradient::clear(&mut self.#ident);),
                None => quote!(self.#ident = #default;),
            }
        });
        let flat_ty = self.flat_path(quote!(Grad #args));
        let flat_literal = self.flat_path(quote!(Grad));
        let fields = quote!(::backprop_runtime::model::fields);
        let buffer = quote!(#fields::Buffer);
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
                        ..
                    } => quote!(#buffer::take_vec(&mut self.#model.#(#path).*)),
                    Source::Leaf { model, path, .. } => quote!(::core::mem::replace(
                        &mut self.#model.#(#path).*,
                        ::backprop_runtime::model::fields::zero()
                    )),
                    // Computed apart, then added element by element.
                    Source::Elements { .. } => quote!(::std::vec::Vec::new()),
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
                array: true, ..
            } => quote!(#buffer::add_vec(&mut self.#model.#(#path).*, #flat.#local);),
            Source::Leaf { model, path, .. } => {
                quote!(self.#model.#(#path).* = self.#model.#(#path).* + #flat.#local;)
            }
            Source::Elements {
                model,
                shape: Some(shape),
                members,
                within,
                ..
            } if members.is_empty() => quote!(#fields::scatter_rows(&mut self.#model #within, &#flat.#local, &shapes[#shape]);),
            Source::Elements {
                model,
                path,
                shape: Some(shape),
                within,
                ..
            } => quote!(#fields::scatter_vec(&mut self.#model #within, &#flat.#local, &shapes[#shape], |g| &mut g.#(#path).*);),
            Source::Elements {
                model,
                path,
                within,
                ..
            } => {
                quote!(#fields::scatter(&mut self.#model #within, &#flat.#local, |g| &mut g.#(#path).*);)
            }
            Source::Own { .. } => quote!(self.#local = #flat.#local;),
        }));
        let shapes = match self.has_slices() {
            true => quote!(shapes),
            false => quote!(_shapes),
        };
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

                /// Back from the function read field by field; a slice of
                /// structs' array fields cut at `shapes`.
                fn put_flat(&mut self, #flat: #flat_ty, #shapes: &[::std::vec::Vec<usize>]) {
                    #(#puts)*
                }

                fn from_flat(#flat: #flat_ty, #shapes: &[::std::vec::Vec<usize>]) -> Self {
                    let mut grad = Self::default();
                    grad.put_flat(#flat, #shapes);
                    grad
                }
            }
        }
    }
}
