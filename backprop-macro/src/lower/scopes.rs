//! Scopes: which node (or closure) each of the user's names stands for at this
//! point of the body, and the exit flags that `break`, `continue` and `return`
//! set, which lowering treats as variables of their own.

use super::{key, strip_parens, Lowerer};
use crate::ir::NodeId;
use proc_macro2::Ident;
use syn::Expr;

/// A name in the scopes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(super) enum Key {
    /// A user's variable (by `key`, so `r#x` and `x` are one name).
    Var(String),
    /// The flag of the loop at this depth that is set when the loop is left:
    /// by its `break`, a `while` condition that fails, or an exit further out.
    Broke(usize),
    /// The flag of the loop at this depth that is set by `continue` until the
    /// iteration ends.
    Skipped(usize),
    /// Set by an early `return`.
    Returned,
    /// The value an early `return` gave.
    ReturnValue,
}

impl Key {
    pub(super) fn of(ident: &Ident) -> Key {
        Key::Var(key(ident))
    }
}

/// What a name stands for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Binding {
    /// A value: its current version.
    Node(NodeId),
    /// A closure bound with `let`: `Lowerer::closures[k]`, inlined where called.
    Closure(usize),
}

/// One scope: names in the order they were bound (a later `let` shadows).
pub(super) type Scope = Vec<(Key, Binding)>;

impl<'a> Lowerer<'a> {
    pub(super) fn declare(&mut self, ident: &Ident, id: NodeId) {
        self.declare_key(Key::of(ident), Binding::Node(id));
    }

    pub(super) fn declare_key(&mut self, key: Key, binding: Binding) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((key, binding));
        }
    }

    /// The current version of a variable or flag.
    pub(super) fn lookup(&self, key: &Key) -> Option<NodeId> {
        match self.binding(key)? {
            Binding::Node(id) => Some(id),
            Binding::Closure(_) => None,
        }
    }

    /// The current version of a user's variable, by `key`.
    pub(super) fn variable(&self, name: &str) -> Option<NodeId> {
        self.lookup(&Key::Var(name.to_string()))
    }

    /// The newest binding of a name.
    fn binding(&self, key: &Key) -> Option<Binding> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .find(|(k, _)| k == key)
            .map(|(_, binding)| *binding)
    }

    /// The closure a name is bound to, if it is one.
    pub(super) fn closure_named(&self, expr: &Expr) -> Option<usize> {
        let Expr::Path(path) = strip_parens(expr) else {
            return None;
        };
        match self.binding(&Key::of(path.path.get_ident()?))? {
            Binding::Closure(k) => Some(k),
            Binding::Node(_) => None,
        }
    }

    /// After `a = ...` or `a += ...`: later code sees the new version, also after
    /// the block the assignment is in.
    pub(super) fn rebind(&mut self, key: &Key, id: NodeId) {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.iter_mut().rev().find(|(k, _)| k == key) {
                entry.1 = Binding::Node(id);
                return;
            }
        }
    }

    pub(super) fn local(&self, expr: &Expr) -> Option<NodeId> {
        match expr {
            Expr::Path(p) if p.qself.is_none() => self.variable(&key(p.path.get_ident()?)),
            _ => None,
        }
    }
}
