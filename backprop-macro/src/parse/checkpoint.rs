//! `#[checkpoint]` on a loop: its state is kept every few iterations instead
//! of every value of every iteration, and the backward pass runs the steps
//! between two kept states again.

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit_mut::VisitMut;

/// How many states a checkpointed loop keeps when the attribute does not say.
const DEFAULT_SNAPSHOTS: u64 = 1024;

/// What `#[checkpoint]` or `#[checkpoint(snapshots = 64)]` asks for.
#[derive(Clone)]
pub struct Checkpoint {
    /// The most states the forward pass keeps (a `usize` literal).
    pub snapshots: TokenStream,
    /// The attribute, where errors about the loop are reported.
    pub attr: TokenStream,
}

/// The loop's `#[checkpoint]`, if it has one.
pub fn of(attrs: &[syn::Attribute]) -> Option<syn::Result<Checkpoint>> {
    let attr = attrs.iter().find(|a| is_checkpoint(a))?;
    let mut snapshots = DEFAULT_SNAPSHOTS;
    if let syn::Meta::List(_) = &attr.meta {
        let parsed = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident("snapshots") {
                return Err(meta.error(
                    "unknown argument; `#[checkpoint]` takes `snapshots = N`, the most loop states kept (at least 2)",
                ));
            }
            let count: syn::LitInt = meta.value()?.parse()?;
            match count.base10_parse::<u64>() {
                Ok(n) if n >= 2 => {
                    snapshots = n;
                    Ok(())
                }
                _ => Err(syn::Error::new(
                    count.span(),
                    "`snapshots` must be an integer of at least 2, as in `#[checkpoint(snapshots = 64)]`",
                )),
            }
        });
        if let Err(error) = parsed {
            return Some(Err(error));
        }
    }
    let snapshots = proc_macro2::Literal::u64_unsuffixed(snapshots);
    Some(Ok(Checkpoint {
        snapshots: quote!(#snapshots),
        attr: quote!(#attr),
    }))
}

fn is_checkpoint(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("checkpoint")
}

/// The function as the user's crate compiles it: `#[checkpoint]` is read by
/// `#[differentiate]` alone, and rustc knows no such attribute.
pub fn strip(block: &mut syn::Block) {
    Strip.visit_block_mut(block);
}

struct Strip;

impl VisitMut for Strip {
    fn visit_expr_for_loop_mut(&mut self, looped: &mut syn::ExprForLoop) {
        looped.attrs.retain(|a| !is_checkpoint(a));
        syn::visit_mut::visit_expr_for_loop_mut(self, looped);
    }

    fn visit_expr_while_mut(&mut self, looped: &mut syn::ExprWhile) {
        looped.attrs.retain(|a| !is_checkpoint(a));
        syn::visit_mut::visit_expr_while_mut(self, looped);
    }

    fn visit_expr_loop_mut(&mut self, looped: &mut syn::ExprLoop) {
        looped.attrs.retain(|a| !is_checkpoint(a));
        syn::visit_mut::visit_expr_loop_mut(self, looped);
    }
}

/// `strip` for the item as the user wrote it, emitted unchanged beside an
/// error: a function, or the methods of an `impl` block.
pub fn strip_item(item: TokenStream) -> TokenStream {
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(mut parsed) => {
            Strip.visit_item_mut(&mut parsed);
            quote!(#parsed)
        }
        Err(_) => item,
    }
}
