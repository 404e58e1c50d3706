//! The generated functions live one module deeper than the user's function (in the
//! module named after it), so paths that start at `self` or `super` are moved up
//! one level: `super::K` becomes `super::super::K`. Without this they would name a
//! different item, or none.

use syn::visit_mut::VisitMut;

pub fn rebase(item: &mut syn::ItemFn) {
    let mut rebase = Rebase;
    for input in &mut item.sig.inputs {
        rebase.visit_fn_arg_mut(input);
    }
    rebase.visit_return_type_mut(&mut item.sig.output);
    rebase.visit_block_mut(&mut item.block);
}

struct Rebase;

impl VisitMut for Rebase {
    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        let len = path.segments.len();
        if path.leading_colon.is_none() {
            if let Some(first) = path.segments.first_mut() {
                if first.ident == "self" && len > 1 {
                    first.ident = syn::Ident::new("super", first.ident.span());
                } else if first.ident == "super" {
                    let span = first.ident.span();
                    path.segments
                        .insert(0, syn::Ident::new("super", span).into());
                }
            }
        }
        syn::visit_mut::visit_path_mut(self, path);
    }
}
