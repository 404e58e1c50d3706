//! Lifetime parameters of the user's function (`fn f<'a>(x: &'a [f64],
//! data: &'a [Obs<'a>]) -> f64`) are left out of the code generated from
//! it: the generated functions return values, not references, so elided
//! lifetimes say the same, and the tapes copy what they keep. The user's
//! function itself stays as written.

use syn::visit_mut::VisitMut;

/// `function` without its lifetime parameters, nor their uses.
pub fn without_lifetimes(function: &syn::ItemFn) -> syn::ItemFn {
    let lifetimes: Vec<syn::Lifetime> = function
        .sig
        .generics
        .lifetimes()
        .map(|param| param.lifetime.clone())
        .collect();
    if lifetimes.is_empty() {
        return function.clone();
    }
    let mut stripped = function.clone();
    let generics = &mut stripped.sig.generics;
    generics.params = generics
        .params
        .clone()
        .into_iter()
        .filter(|param| !matches!(param, syn::GenericParam::Lifetime(_)))
        .collect();
    if generics.params.is_empty() {
        generics.lt_token = None;
        generics.gt_token = None;
    }
    if let Some(clause) = &mut generics.where_clause {
        clause.predicates = clause
            .predicates
            .clone()
            .into_iter()
            .filter(|p| !matches!(p, syn::WherePredicate::Lifetime(_)))
            .collect();
    }
    Stripper(&lifetimes).visit_item_fn_mut(&mut stripped);
    stripped
}

struct Stripper<'l>(&'l [syn::Lifetime]);

impl VisitMut for Stripper<'_> {
    fn visit_type_reference_mut(&mut self, reference: &mut syn::TypeReference) {
        if reference
            .lifetime
            .as_ref()
            .is_some_and(|lifetime| self.0.contains(lifetime))
        {
            reference.lifetime = None;
        }
        syn::visit_mut::visit_type_reference_mut(self, reference);
    }

    fn visit_angle_bracketed_generic_arguments_mut(
        &mut self,
        arguments: &mut syn::AngleBracketedGenericArguments,
    ) {
        // `Obs<'a>`: the lifetime elided, `Obs<'_>`.
        for argument in arguments.args.iter_mut() {
            if let syn::GenericArgument::Lifetime(lifetime) = argument {
                if self.0.contains(lifetime) {
                    *lifetime = syn::Lifetime::new("'_", lifetime.span());
                }
            }
        }
        syn::visit_mut::visit_angle_bracketed_generic_arguments_mut(self, arguments);
    }
}
