//! A struct taken apart by a pattern, `let Params { k, c, .. } = *p;` (or of
//! `p`, `p.clone()`, an element `layer`, a field `p.pose`; `&Params { .. }`
//! too): one `let` per field read, `let k = p.k; let c = p.c;`, which the
//! field analysis then reads as any field read. A float bound by reference
//! (`Params { k, .. }` of `p: &Params`) is bound to a copy all the same, and
//! `*k` reads it.

use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat};

/// Every destructuring `let` of one of `named` (struct parameters and
/// elements' names), or of their fields, as `let`s of the fields.
pub(super) fn fields_as_lets(block: &mut syn::Block, named: &[Ident]) {
    if named.is_empty() {
        return;
    }
    let mut lets = Lets {
        named,
        bound: Vec::new(),
    };
    lets.visit_block_mut(block);
    copies_read_as_values(block, &lets.bound);
}

/// `*k` of a float a pattern bound by reference but the rewrite bound to a
/// copy (here, and the rows' `let [x, y] = p;` in `rows.rs`): `k`.
pub(super) fn copies_read_as_values(block: &mut syn::Block, names: &[Ident]) {
    if !names.is_empty() {
        Derefs { names }.visit_block_mut(block);
    }
}

struct Lets<'a> {
    named: &'a [Ident],
    /// The names the patterns bound.
    bound: Vec<Ident>,
}

impl Lets<'_> {
    /// `p`, `*p`, `&p`, `p.clone()`, `p.pose` of one of the names: the place
    /// the fields are read from.
    fn place(&self, init: &Expr) -> Option<Expr> {
        match strip(init) {
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => self.place(&u.expr),
            Expr::Reference(r) if r.mutability.is_none() => self.place(&r.expr),
            Expr::MethodCall(call) if call.method == "clone" && call.args.is_empty() => {
                self.place(&call.receiver)
            }
            Expr::Field(field) if matches!(field.member, syn::Member::Named(_)) => {
                self.place(&field.base)?;
                Some(Expr::Field(field.clone()))
            }
            Expr::Path(path) => {
                let ident = path.path.get_ident().filter(|i| self.named.contains(i))?;
                Some(syn::parse_quote!(#ident))
            }
            _ => None,
        }
    }

    /// The `let`s of the fields a struct pattern binds, or `None`.
    fn fields(&mut self, local: &syn::Local) -> Option<Vec<syn::Stmt>> {
        let init = local.init.as_ref().filter(|i| i.diverge.is_none())?;
        let place = self.place(&init.expr)?;
        let mut pat = &local.pat;
        if let Pat::Type(typed) = pat {
            pat = &typed.pat;
        }
        if let Pat::Reference(r) = pat {
            pat = &r.pat;
        }
        let Pat::Struct(pattern) = pat else {
            return None;
        };
        let mut lets = Vec::new();
        for field in &pattern.fields {
            let syn::Member::Named(member) = &field.member else {
                return None;
            };
            match &*field.pat {
                Pat::Wild(_) => {}
                Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                    self.bound.push(ident.ident.clone());
                    lets.push(syn::parse_quote!(let #ident = #place.#member;));
                }
                // A nested struct: taken apart in turn.
                inner @ (Pat::Struct(_) | Pat::Reference(_)) => {
                    let stmt: syn::Stmt = syn::parse_quote!(let #inner = #place.#member;);
                    let syn::Stmt::Local(local) = stmt else {
                        return None;
                    };
                    lets.extend(self.fields(&local)?);
                }
                _ => return None,
            }
        }
        Some(lets)
    }
}

impl VisitMut for Lets<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        syn::visit_mut::visit_block_mut(self, block);
        let stmts = std::mem::take(&mut block.stmts);
        for stmt in stmts {
            match &stmt {
                syn::Stmt::Local(local) => match self.fields(local) {
                    Some(lets) => block.stmts.extend(lets),
                    None => block.stmts.push(stmt),
                },
                _ => block.stmts.push(stmt),
            }
        }
    }
}

/// `*k` of a float a pattern bound: `k`.
struct Derefs<'a> {
    names: &'a [Ident],
}

impl VisitMut for Derefs<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Unary(u) = &*expr {
            if matches!(u.op, syn::UnOp::Deref(_)) {
                if let Expr::Path(path) = strip(&u.expr) {
                    if path
                        .path
                        .get_ident()
                        .is_some_and(|i| self.names.contains(i))
                    {
                        *expr = Expr::Path(path.clone());
                        return;
                    }
                }
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        crate::parse::method::visit_macro_arguments(self, mac);
    }
}
