//! A copy of a struct parameter, `let mut s = s0;` (or `*s0` of one taken by
//! reference: a simulation's state, stepped by helpers, `s = step(s, dt);`),
//! is a literal based on it, `let mut s = State { ..*s0 };`, which
//! `desugar/records.rs` splits into one local per field the body reads
//! through it, `let mut s_x = s0.x; let mut s_v = s0.v;`: the field analysis
//! then reads `s0.x` as any field read, and the function read field by field
//! (emitted as `by_field`, where a struct parameter is a reference) holds no
//! copy of a struct.

use crate::desugar::records::plain_binding;
use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// A struct parameter: its name, its type without the reference, and
/// whether it is taken by reference.
pub(super) struct Param<'a> {
    pub(super) ident: &'a Ident,
    pub(super) ty: &'a syn::Type,
    pub(super) by_ref: bool,
}

/// Each copy of one of `params` as a literal, and then every literal local
/// split.
pub(super) fn copies_as_locals(block: &mut syn::Block, params: &[Param], sig: &syn::Signature) {
    let mut copies = Copies { params, found: 0 };
    copies.visit_block_mut(block);
    if copies.found > 0 {
        let float = crate::desugar::records::float_returned(sig);
        crate::desugar::records::struct_locals_as_fields(block, float.as_ref());
    }
}

struct Copies<'a> {
    params: &'a [Param<'a>],
    found: usize,
}

impl VisitMut for Copies<'_> {
    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        if let Some(literal) = self.literal(local) {
            if let Some(init) = &mut local.init {
                *init.expr = literal;
                self.found += 1;
            }
        }
        syn::visit_mut::visit_local_mut(self, local);
    }

    /// `State { x: 0.0, ..*s0 }` written as such: split the same way.
    fn visit_expr_struct_mut(&mut self, literal: &mut syn::ExprStruct) {
        if literal.rest.is_some() {
            self.found += 1;
        }
        syn::visit_mut::visit_expr_struct_mut(self, literal);
    }
}

impl Copies<'_> {
    /// The literal standing for `let [mut] s = p;`, or `None`.
    fn literal(&self, local: &syn::Local) -> Option<Expr> {
        plain_binding(&local.pat)?;
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let param = self.copied(&init.expr)?;
        let path = expression_path(param.ty)?;
        // (Spanned at the copy: where it is refused, if it is.)
        let mut source = param.ident.clone();
        source.set_span(syn::spanned::Spanned::span(&init.expr));
        Some(syn::parse_quote!(#path { ..*#source }))
    }

    /// The parameter `init` copies: `p` of one taken by value, `*p` of one
    /// taken by reference (a copy of a `Copy` struct), `p.clone()` of
    /// either.
    fn copied(&self, init: &Expr) -> Option<&Param<'_>> {
        let (inner, deref) = match strip(init) {
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => (&*unary.expr, true),
            Expr::MethodCall(call) if call.method == "clone" && call.args.is_empty() => {
                let Expr::Path(path) = strip(&call.receiver) else {
                    return None;
                };
                let ident = path.path.get_ident()?;
                return self.params.iter().find(|param| param.ident == ident);
            }
            other => (other, false),
        };
        let Expr::Path(path) = strip(inner) else {
            return None;
        };
        let ident = path.path.get_ident()?;
        self.params
            .iter()
            .find(|param| param.ident == ident && param.by_ref == deref)
    }
}

/// `State<T>` as an expression's path, `State::<T>`.
fn expression_path(ty: &syn::Type) -> Option<syn::Path> {
    let syn::Type::Path(typed) = ty else {
        return None;
    };
    if typed.qself.is_some() {
        return None;
    }
    let mut path = typed.path.clone();
    for segment in &mut path.segments {
        if let syn::PathArguments::AngleBracketed(arguments) = &mut segment.arguments {
            arguments.colon2_token = Some(Default::default());
        }
    }
    Some(path)
}
