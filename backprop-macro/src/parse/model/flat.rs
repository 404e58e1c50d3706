//! The function read field by field: each struct parameter `p` is followed by
//! one parameter per field the body differentiates (`p_w: &[f64]`,
//! `p_b: f64`), and `p.w` in the body becomes `p_w`. The struct itself stays,
//! as data, for its other fields (`p.n`).

use super::uses::chain_of;
use super::{Leaf, Model};
use crate::parse::method::visit_macro_arguments;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// The function over the fields, `pub` (it is called from the module beside
/// it), with the same name, generics and result.
pub(super) fn flat_function(
    function: &syn::ItemFn,
    models: &[Model],
    float: &syn::Type,
) -> syn::ItemFn {
    let mut body = function.block.clone();
    let params: Vec<Ident> = models.iter().map(|m| m.ident.clone()).collect();
    Rewrite {
        models,
        params: &params,
    }
    .visit_block_mut(&mut body);
    let still_read = crate::emit::names::identifiers(quote!(#body));
    let mut inputs: Vec<TokenStream> = Vec::new();
    for input in &function.sig.inputs {
        let syn::FnArg::Typed(typed) = input else {
            continue;
        };
        let model = match &*typed.pat {
            syn::Pat::Ident(p) => models.iter().find(|m| m.ident == p.ident),
            _ => None,
        };
        let Some(model) = model else {
            inputs.push(quote!(#typed));
            continue;
        };
        let (ident, ty) = (&model.ident, &model.ty);
        // A struct whose every field read is differentiated is not read itself.
        let ident = if still_read.contains(&ident.to_string()) {
            ident.clone()
        } else {
            format_ident!("_{}", ident)
        };
        inputs.push(quote!(#ident: &#ty));
        for leaf in &model.leaves {
            let local = &leaf.local;
            inputs.push(if leaf.array {
                quote!(#local: &[#float])
            } else {
                quote!(#local: #float)
            });
        }
    }
    let (ident, output) = (&function.sig.ident, &function.sig.output);
    let (params, _, where_clause) = function.sig.generics.split_for_impl();
    let attrs = crate::expand::lint_attributes(&function.attrs);
    syn::parse_quote! {
        #(#attrs)*
        pub fn #ident #params (#(#inputs),*) #output #where_clause #body
    }
}

/// `p.w` becomes `p_w`, `&p.w` of an array field `p_w` too.
struct Rewrite<'a> {
    models: &'a [Model],
    params: &'a [Ident],
}

impl Rewrite<'_> {
    fn leaf(&self, expr: &Expr) -> Option<&Leaf> {
        let (param, path) = chain_of(expr, self.params)?;
        let model = self.models.iter().find(|m| m.ident == param)?;
        model.leaves.iter().find(|leaf| leaf.path == path)
    }
}

impl VisitMut for Rewrite<'_> {
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        visit_macro_arguments(self, mac);
    }

    /// `predict(&p, x)` of a struct taken by value: the function read field by
    /// field takes it by reference already, `predict(p, x)`.
    fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
        for arg in &mut call.args {
            if let Some(param) = super::uses::passed_whole(arg, self.params) {
                *arg = syn::parse_quote!(#param);
            }
        }
        syn::visit_mut::visit_expr_call_mut(self, call);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // The field's local where the user wrote the field, so that messages
        // about it point there.
        let at = |local: &Ident, expr: &Expr| {
            let mut local = local.clone();
            local.set_span(local.span().located_at(expr.span()));
            local
        };
        if let Expr::Reference(r) = expr {
            if r.mutability.is_none() {
                if let Some(leaf) = self.leaf(&r.expr).filter(|leaf| leaf.array) {
                    let local = at(&leaf.local, expr);
                    *expr = syn::parse_quote!(#local);
                    return;
                }
            }
        }
        if let Some(leaf) = self.leaf(expr) {
            let local = at(&leaf.local, expr);
            *expr = syn::parse_quote!(#local);
            return;
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}
