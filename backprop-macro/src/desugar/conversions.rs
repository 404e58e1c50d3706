//! `let z: f64 = x.into();` is `let z: f64 = f64::from(x);`: the same
//! conversion (`into` is `From` turned around), written where the lowering
//! reads it, as the cast between float types it is (`f32` to `f64`), or as
//! integer work on data.

use crate::lower::strip_parens as strip;
use syn::visit_mut::VisitMut;
use syn::Expr;

pub fn intos_as_froms(block: &mut syn::Block) {
    Rewriter.visit_block_mut(block);
}

struct Rewriter;

impl VisitMut for Rewriter {
    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        syn::visit_mut::visit_local_mut(self, local);
        let syn::Pat::Type(typed) = &local.pat else {
            return;
        };
        let target = &typed.ty;
        // A float type named by one identifier (`f64`, `f32`, the generic `T`).
        if !matches!(&**target, syn::Type::Path(p) if p.qself.is_none() && p.path.get_ident().is_some())
        {
            return;
        }
        let Some(init) = local.init.as_mut() else {
            return;
        };
        let Expr::MethodCall(call) = strip(&init.expr) else {
            return;
        };
        if call.method != "into" || !call.args.is_empty() || call.turbofish.is_some() {
            return;
        }
        let value = &call.receiver;
        let converted: Expr = syn::parse_quote_spanned!(call.method.span()=> #target::from(#value));
        *init.expr = converted;
    }
}
