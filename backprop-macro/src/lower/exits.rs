//! `break`, `continue` and `return`: exits become flags that guard the
//! statements after them, so the backward pass knows which ran.

use super::scopes::{Binding, Key};
use super::{span_of, Lowerer};
use crate::ir::{Constant, Hint, Node, NodeId, NodeKind, Operand};
use proc_macro2::Span;
use quote::{quote, ToTokens};
use syn::visit::Visit;
use syn::{Expr, Stmt};

impl<'a> Lowerer<'a> {
    /// `break` and `continue`: set the flags of the loops they leave. The rest of
    /// each block on the way out is guarded by those flags.
    pub(super) fn exit_loop(
        &mut self,
        label: Option<&syn::Lifetime>,
        is_continue: bool,
        tokens: &Expr,
    ) {
        let target = match label {
            Some(label) => {
                let name = label.ident.to_string();
                self.loops
                    .iter()
                    .rposition(|frame| frame.label.as_deref() == Some(name.as_str()))
            }
            None => self.loops.len().checked_sub(1),
        };
        let Some(target) = target else {
            self.errors
                .spanned(tokens, "`break` and `continue` must be inside a loop");
            return;
        };
        let inner: Vec<Option<Key>> = self.loops[target + 1..]
            .iter()
            .map(|f| f.break_key.clone())
            .collect();
        for key in inner {
            self.set_flag(key);
        }
        let key = if is_continue {
            self.loops[target].continue_key.clone()
        } else {
            self.loops[target].break_key.clone()
        };
        self.set_flag(key);
    }

    /// `return value` before the end: remembers the value, and leaves every loop.
    pub(super) fn early_return(&mut self, ret: &syn::ExprReturn) {
        let Some(expr) = &ret.expr else {
            self.errors
                .spanned(ret, "a differentiated function must return a value");
            return;
        };
        let value = self.expr(expr);
        if !self.returns {
            return;
        }
        let mut node = self.copy_node(value, span_of(ret));
        node.hint = Hint::Op("result".into());
        node.ty.get_or_insert_with(|| self.ret.to_type());
        let id = self.push(node);
        self.rebind(&Key::ReturnValue, id);
        self.set_flag(Some(Key::Returned));
        let keys: Vec<Option<Key>> = self.loops.iter().map(|f| f.break_key.clone()).collect();
        for key in keys {
            self.set_flag(key);
        }
    }

    /// A new version of an exit flag, now `true`.
    pub(super) fn set_flag(&mut self, key: Option<Key>) {
        let Some(key) = key else { return };
        let hint = match self.lookup(&key) {
            Some(id) => self.nodes[id].hint.clone(),
            None => return,
        };
        let id = self.flag(hint, true);
        self.rebind(&key, id);
    }

    pub(super) fn flag(&mut self, hint: Hint, value: bool) -> NodeId {
        self.push(
            Node::new(
                hint,
                NodeKind::Inactive {
                    expr: syn::parse_quote!(#value),
                    locals: Vec::new(),
                },
                Span::call_site(),
            )
            .typed(Some(syn::parse_quote!(bool))),
        )
    }

    /// Declares an exit flag, `false`, in the current scope.
    pub(super) fn declare_flag(&mut self, key: Key, hint: &str) {
        let id = self.flag(Hint::Op(hint.into()), false);
        self.declare_key(key, Binding::Node(id));
    }

    /// `!(broke || skipped)`: true while control is still in this block.
    pub(super) fn not_exited(&mut self, stmt: &dyn ToTokens) -> Operand {
        let keys: Vec<Key> = match self.loops.last() {
            Some(frame) => frame
                .break_key
                .iter()
                .chain(&frame.continue_key)
                .cloned()
                .collect(),
            None if self.returns => vec![Key::Returned],
            None => Vec::new(),
        };
        let flags: Vec<Operand> = keys
            .iter()
            .filter_map(|key| self.lookup(key))
            .map(Operand::Node)
            .collect();
        if flags.is_empty() {
            return Operand::Const(Constant {
                tokens: quote!(true),
                atomic: true,
                float: None,
            });
        }
        let operand = self.inactive_template(
            |flags| match flags.as_slice() {
                [flag] => quote!(!#flag),
                _ => quote!(!(#(#flags)||*)),
            },
            &flags,
            stmt,
        );
        if let Operand::Node(id) = operand {
            self.nodes[id].hint = Hint::Op("running".into());
            self.nodes[id].ty = Some(syn::parse_quote!(bool));
        }
        operand
    }
}

/// A statement that may leave its block: it contains a `return`, or a `break` or
/// `continue` for a loop outside it.
pub(super) fn may_exit(stmt: &Stmt) -> bool {
    let mut finder = ExitFinder::default();
    finder.visit_stmt(stmt);
    finder.leaves_code()
}

/// A `return`, or a `break` or `continue` for a loop around `block`.
/// `break` or `continue` anywhere in `block` (a `return` is not counted).
pub(super) fn breaks_or_continues(block: &syn::Block) -> bool {
    let mut finder = ExitFinder::default();
    finder.visit_block(block);
    finder.leaves || finder.own_breaks || finder.own_continues
}

pub(super) fn has_exit(block: &syn::Block) -> bool {
    let mut finder = ExitFinder::default();
    finder.visit_block(block);
    finder.leaves_code()
}

pub(super) fn has_early_return(block: &syn::Block) -> bool {
    let count = block.stmts.len();
    block.stmts.iter().enumerate().any(|(i, stmt)| {
        let mut finder = ExitFinder::default();
        match stmt {
            // The final `return` is the function's value, not an early exit...
            Stmt::Expr(Expr::Return(ret), _) if i + 1 == count => {
                if let Some(expr) = &ret.expr {
                    finder.visit_expr(expr);
                }
            }
            _ => finder.visit_stmt(stmt),
        }
        finder.returns
    })
}

/// How a loop's body leaves it.
pub(super) struct LoopExits {
    /// `break` for this loop, or any exit that passes through it.
    pub(super) breaks: bool,
    /// `continue` for this loop.
    pub(super) continues: bool,
    /// `return`, or `break`/`continue` for an outer loop.
    pub(super) leaves_outer: bool,
}

pub(super) fn loop_exits(body: &syn::Block, label: Option<&str>) -> LoopExits {
    let mut finder = ExitFinder {
        own_label: label.map(str::to_string),
        ..ExitFinder::default()
    };
    finder.visit_block(body);
    LoopExits {
        breaks: finder.own_breaks || finder.returns || finder.leaves,
        continues: finder.own_continues,
        leaves_outer: finder.returns || finder.leaves,
    }
}

/// Finds `return`, `break` and `continue`, telling which loop each leaves.
#[derive(Default)]
pub(super) struct ExitFinder {
    /// Labels of the loops inside the code searched (`None` for unlabelled).
    pub(super) inner: Vec<Option<String>>,
    /// The label of the loop whose body is searched, if any.
    pub(super) own_label: Option<String>,
    pub(super) returns: bool,
    /// An exit for a loop outside the code searched (and outside its own loop).
    pub(super) leaves: bool,
    pub(super) own_breaks: bool,
    pub(super) own_continues: bool,
}

impl ExitFinder {
    /// Control may leave the code searched (not counting exits from loops
    /// inside it).
    fn leaves_code(&self) -> bool {
        self.returns || self.leaves || self.own_breaks || self.own_continues
    }

    fn exit(&mut self, label: Option<&syn::Lifetime>, is_continue: bool) {
        let target = label.map(|l| l.ident.to_string());
        let inside = match &target {
            None => !self.inner.is_empty(),
            Some(name) => self
                .inner
                .iter()
                .any(|l| l.as_deref() == Some(name.as_str())),
        };
        if inside {
            return;
        }
        let own = target.is_none() || target == self.own_label;
        match (own, is_continue) {
            (true, false) => self.own_breaks = true,
            (true, true) => self.own_continues = true,
            (false, _) => self.leaves = true,
        }
    }

    fn nested_loop(&mut self, label: Option<&syn::Label>, visit: impl FnOnce(&mut Self)) {
        self.inner.push(label.map(|l| l.name.ident.to_string()));
        visit(self);
        self.inner.pop();
    }
}

impl<'ast> Visit<'ast> for ExitFinder {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::Return(ret) => {
                self.returns = true;
                syn::visit::visit_expr_return(self, ret);
            }
            Expr::Break(exit) => self.exit(exit.label.as_ref(), false),
            Expr::Continue(exit) => self.exit(exit.label.as_ref(), true),
            Expr::ForLoop(l) => {
                self.visit_expr(&l.expr);
                self.nested_loop(l.label.as_ref(), |s| s.visit_block(&l.body));
            }
            Expr::While(l) => self.nested_loop(l.label.as_ref(), |s| {
                s.visit_expr(&l.cond);
                s.visit_block(&l.body);
            }),
            Expr::Loop(l) => self.nested_loop(l.label.as_ref(), |s| s.visit_block(&l.body)),
            Expr::Closure(_) => {}
            _ => syn::visit::visit_expr(self, expr),
        }
    }
}
