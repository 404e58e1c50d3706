//! Forward mode and second order over the structs: `tangent` and `hvp`,
//! whose directions for a struct are gradient structs of its type.

use super::named_params;
use super::{Api, Source};
use proc_macro2::TokenStream;
use quote::quote;

/// The directions of forward mode over the structs: the wrapper's
/// parameters, the flat function's arguments, and where rows written in
/// place have their direction gathered before the call and put back after.
struct Directions {
    params: Vec<TokenStream>,
    args: Vec<TokenStream>,
    lent: Vec<TokenStream>,
    put_back: Vec<TokenStream>,
}

impl Api<'_> {
    /// The directions of forward mode over the structs (`second`: of `hvp`,
    /// all read-only), and the flat function's direction arguments made from
    /// them, in its parameter order. A struct's direction is a gradient
    /// struct of its type, its vectors as long as the fields'.
    fn directions(&self, names: &mut crate::emit::names::Names, second: bool) -> Directions {
        let mut dot_params = Vec::new();
        let (mut lent, mut put_back) = (Vec::new(), Vec::new());
        let mut dot_names = std::collections::BTreeMap::new();
        for (ident, _) in named_params(&self.seen.sig) {
            let bare = ident.to_string();
            let dot = names.fresh(&format!("dot_{}", bare.trim_start_matches('_')));
            if let Some(model) = self.models.iter().find(|m| m.ident == *ident) {
                let ty = &model.ty;
                match model.element_grad() {
                    // Rows written in place: their direction too, as the
                    // rows are (gathered, then put back).
                    Some(element) if !second && model.rows && model.writes() => {
                        dot_params.push(quote!(#dot: &mut [#element]));
                    }
                    // A slice of structs: a gradient struct per element.
                    Some(element) => dot_params.push(quote!(#dot: &[#element])),
                    // Updated in place as the struct is, where it is written
                    // (second order's directions are read-only).
                    None if !second && model.writes() => dot_params
                        .push(quote!(#dot: &mut <#ty as ::backprop_runtime::Differentiable>::Grad)),
                    None => dot_params
                        .push(quote!(#dot: &<#ty as ::backprop_runtime::Differentiable>::Grad)),
                }
            } else if let Some((param, _)) =
                self.sig.differentiable().find(|(p, _)| p.ident == *ident)
            {
                let ty = match second {
                    true => crate::emit::second::direction_type(param),
                    false => {
                        let ty = &param.ty;
                        quote!(#ty)
                    }
                };
                dot_params.push(quote!(#dot: #ty));
            } else {
                continue;
            }
            dot_names.insert(ident.to_string(), dot);
        }
        // In the flat function's order: a struct passed whole (its own
        // direction, the whole struct's), then each field and parameter.
        let mut dot_args: Vec<TokenStream> = Vec::new();
        for param in &self.sig.params {
            if param.model.is_some() {
                let dot = &dot_names[&param.ident.to_string()];
                // A slice of structs' direction, as the vector it is there.
                let slice = self
                    .models
                    .iter()
                    .any(|m| m.ident == param.ident && m.slice);
                dot_args.push(match slice {
                    true => quote!(&#dot.to_vec()),
                    false => quote!(#dot),
                });
                continue;
            }
            let Some((local, source)) = self.flat_fields.iter().find(|(l, _)| *l == param.ident)
            else {
                continue;
            };
            dot_args.push(match source {
                Source::Leaf {
                    model,
                    path,
                    array,
                    written: true,
                } if !second => {
                    let dot = &dot_names[&model.to_string()];
                    match array {
                        true => quote!(&mut #dot.#(#path).*[..]),
                        false => quote!(&mut #dot.#(#path).*),
                    }
                }
                Source::Leaf {
                    model,
                    path,
                    array: true,
                    ..
                } => {
                    let dot = &dot_names[&model.to_string()];
                    quote!(&#dot.#(#path).*[..])
                }
                Source::Leaf { model, path, .. } => {
                    let dot = &dot_names[&model.to_string()];
                    quote!(#dot.#(#path).*)
                }
                Source::Own { .. } => {
                    let dot = &dot_names[&local.to_string()];
                    quote!(#dot)
                }
                // Gathered as the values are, an element's empty (or
                // missing) direction zeros as long as its field.
                Source::Elements {
                    model,
                    shape,
                    members,
                    within,
                    ..
                } => {
                    let dot = &dot_names[&model.to_string()];
                    let values = &self.passed_names[&model.to_string()];
                    let (dot, values) = (quote!(#dot #within), quote!(#values #within));
                    let fields = quote!(::backprop_runtime::model::fields);
                    let lengths = match members.is_empty() {
                        true => quote!(#fields::lengths(#values.iter())),
                        false => quote!(#values.iter().map(|e| e #members.len())),
                    };
                    let written = !second
                        && self
                            .models
                            .iter()
                            .any(|m| m.ident == **model && m.rows && m.writes());
                    let gathered = names.fresh(&format!("dot_{model}_gathered"));
                    match shape {
                        Some(_) if written => {
                            lent.push(quote!(let mut #gathered = #fields::concat_like(#dot.iter().map(|g| &g[..]), #lengths);));
                            put_back.push(quote!(#fields::put_rows(#dot, &#gathered);));
                            quote!(&mut #gathered[..])
                        }
                        Some(_) => quote!(&#fields::concat_like(
                            #dot.iter().map(|g| &g #members[..]),
                            #lengths
                        )[..]),
                        None => quote!(&#fields::gather_like(
                            #dot.iter().map(|g| g #members),
                            #values.len()
                        )[..]),
                    }
                }
            });
        }
        Directions {
            params: dot_params,
            args: dot_args,
            lent,
            put_back,
        }
    }

    /// Forward mode over the structs: a struct's direction is a gradient
    /// struct of the same shape (its vectors as long as the fields').
    pub(super) fn tangent(&self, names: &mut crate::emit::names::Names) -> TokenStream {
        let (generics, _, where_clause) = self.seen.sig.generics.split_for_impl();
        let ret = match &self.seen.sig.output {
            syn::ReturnType::Type(_, ty) => quote!(#ty),
            syn::ReturnType::Default => quote!(()),
        };
        let Directions {
            params: dot_params,
            args: dot_args,
            lent: dots_lent,
            put_back: dots_put_back,
        } = self.directions(names, false);
        let tangent = self.flat_path(quote!(tangent));
        let (params, flat_args, prelude) = (&self.params, &self.flat_args, self.prelude());
        let (postlude, value) = (self.postlude(), &self.value);
        // A function that returns nothing has a tangent that returns nothing.
        let (ret, must_use) = match self.sig.returns_value {
            true => (quote!((#ret, #ret)), Some(quote!(#[must_use]))),
            false => (quote!(()), None),
        };
        let ident = &self.seen.sig.ident;
        let doc = format!(
            "Forward mode: `{ident}`'s value and its derivative along a direction, `by_field::{ident}::tangent` over the structs. A struct's direction is a gradient struct of its type, its vectors as long as the fields' (`model.zero_grad()`, then filled)."
        );
        quote! {
            #[doc = #doc]
            #must_use
            #[inline]
            #[allow(clippy::too_many_arguments, clippy::let_unit_value)]
            pub fn tangent #generics (#(#params,)* #(#dot_params),*) -> #ret #where_clause {
                #prelude
                #(#dots_lent)*
                let #value = #tangent(#(#flat_args,)* #(#dot_args),*);
                #postlude
                #(#dots_put_back)*
                #value
            }
        }
    }

    /// Second order over the structs: the value, the gradient and the
    /// Hessian times a direction (a gradient struct for a struct), from the
    /// flat function's `hvp`, for a function that returns its loss and
    /// writes nothing.
    pub(super) fn hvp(&self, names: &mut crate::emit::names::Names) -> Option<TokenStream> {
        if self.writes() || !self.sig.returns_value {
            return None;
        }
        let (generics, args, where_clause) = self.seen.sig.generics.split_for_impl();
        let float = &self.sig.ret;
        let Directions {
            params: dot_params,
            args: dot_args,
            ..
        } = self.directions(names, true);
        let hvp = self.flat_path(quote!(hvp));
        let (params, flat_args, prelude) = (&self.params, &self.flat_args, self.prelude());
        let computed = self.computed_shapes();
        let (value, gradient, along) = (&self.value, &self.gradient, &self.flat);
        let ident = &self.seen.sig.ident;
        let doc = format!(
            "Second order: `{ident}`'s value, its gradient, and its Hessian times a direction, `by_field::{ident}::hvp` over the structs. A struct's direction is a gradient struct of its type, its vectors as long as the fields' (`model.zero_grad()`, then filled); so are its two gradients."
        );
        Some(quote! {
            #[doc = #doc]
            #[must_use]
            #[inline]
            #[allow(clippy::too_many_arguments)]
            pub fn hvp #generics (#(#params,)* #(#dot_params),*) -> (#float, Grad #args, Grad #args) #where_clause {
                #prelude
                let (#value, #gradient, #along) = #hvp(#(#flat_args,)* #(#dot_args),*);
                (#value, Grad::from_flat(#gradient, #computed), Grad::from_flat(#along, #computed))
            }
        })
    }
}
