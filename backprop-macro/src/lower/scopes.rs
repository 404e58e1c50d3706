//! Scopes: which node (or closure) each of the user's names stands for at this
//! point of the body.

use super::{key, strip_parens, Lowerer, CLOSURE};
use crate::ir::NodeId;
use proc_macro2::Ident;
use syn::Expr;

impl<'a> Lowerer<'a> {
    pub(super) fn declare(&mut self, ident: &Ident, id: NodeId) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((key(ident), id));
        }
    }

    pub(super) fn lookup(&self, name: &str) -> Option<NodeId> {
        self.entry(name).filter(|id| *id < CLOSURE)
    }

    /// The newest binding of a name: a node, or a closure.
    pub(super) fn entry(&self, name: &str) -> Option<NodeId> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }

    /// The closure a name is bound to, if it is one.
    pub(super) fn closure_named(&self, expr: &Expr) -> Option<usize> {
        let Expr::Path(path) = strip_parens(expr) else {
            return None;
        };
        let ident = path.path.get_ident()?;
        let id = self.entry(&key(ident))?;
        (id >= CLOSURE).then(|| id - CLOSURE)
    }

    /// After `a = ...` or `a += ...`: later code sees the new version, also after
    /// the block the assignment is in.
    pub(super) fn rebind(&mut self, name: &str, id: NodeId) {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.iter_mut().rev().find(|(n, _)| n == name) {
                entry.1 = id;
                return;
            }
        }
    }

    pub(super) fn local(&self, expr: &Expr) -> Option<NodeId> {
        match expr {
            Expr::Path(p) if p.qself.is_none() => self.lookup(&key(p.path.get_ident()?)),
            _ => None,
        }
    }
}
