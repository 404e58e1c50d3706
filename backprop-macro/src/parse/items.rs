//! Items the body declares for itself at its top, `const EPS: f64 = 1e-8;`
//! and `use std::f64::consts::PI;`. The generated passes are functions of
//! the module named after the function, so these items move to that module,
//! where every pass sees them as the body does (their paths one module
//! deeper, as `desugar::paths` moves the body's).

use syn::visit_mut::VisitMut;

/// The `const` and `use` items among the body's own statements, taken out
/// of it. (Items in a block inside the body stay, and are refused there:
/// their scope is that block.)
pub fn take_items(block: &mut syn::Block) -> Vec<syn::Item> {
    let mut items = Vec::new();
    block.stmts.retain(|stmt| match stmt {
        syn::Stmt::Item(item @ (syn::Item::Const(_) | syn::Item::Use(_))) => {
            items.push(rebased(item.clone()));
            false
        }
        _ => true,
    });
    items
}

fn rebased(mut item: syn::Item) -> syn::Item {
    match &mut item {
        syn::Item::Const(constant) => {
            let mut wrapped: syn::ItemFn = syn::parse_quote!(
                fn wrapper() {}
            );
            wrapped
                .block
                .stmts
                .push(syn::Stmt::Item(syn::Item::Const(constant.clone())));
            crate::desugar::paths::rebase(&mut wrapped);
            if let Some(syn::Stmt::Item(syn::Item::Const(moved))) = wrapped.block.stmts.pop() {
                *constant = moved;
            }
        }
        syn::Item::Use(used) => UseRebase.visit_item_use_mut(used),
        _ => {}
    }
    item
}

/// `use self::a::b;` is `use super::a::b;` one module deeper, and `use
/// super::a;` is `use super::super::a;`.
struct UseRebase;

impl VisitMut for UseRebase {
    fn visit_item_use_mut(&mut self, used: &mut syn::ItemUse) {
        if used.leading_colon.is_some() {
            return;
        }
        if let syn::UseTree::Path(path) = &mut used.tree {
            if path.ident == "self" {
                path.ident = syn::Ident::new("super", path.ident.span());
            } else if path.ident == "super" {
                let inner = std::mem::replace(
                    &mut used.tree,
                    syn::UseTree::Glob(syn::UseGlob {
                        star_token: Default::default(),
                    }),
                );
                let span = match &inner {
                    syn::UseTree::Path(path) => path.ident.span(),
                    _ => proc_macro2::Span::call_site(),
                };
                used.tree = syn::UseTree::Path(syn::UsePath {
                    ident: syn::Ident::new("super", span),
                    colon2_token: Default::default(),
                    tree: Box::new(inner),
                });
            }
        }
    }
}
