//! A `loop` that ends with a value, `let root = loop { ..; if c { break x; }
//! .. };` (Newton's method as Rust writes it), is the loop with a plain
//! `break` and the value read after it, `loop { ..; if c { break; } .. }
//! let root = x;`: the value `x` has when the loop stops is the value it
//! has after the loop. Done where that holds: every `break` of the loop
//! carries the same expression, which reads only names bound outside the
//! loop (none bound again inside it) and changes nothing
//! (`desugar::repeatable`). The loop as the
//! body's last expression (`loop { .. break x; }` ending the function) is
//! the same with `x` after it. Other `break`s with values are refused, as
//! before: this runs before the validation that refuses them.

use crate::emit::names::identifiers;
use quote::ToTokens;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn loop_values_after_loops(block: &mut syn::Block) {
    Rewriter.visit_block_mut(block);
}

struct Rewriter;

impl VisitMut for Rewriter {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        syn::visit_mut::visit_block_mut(self, block);
        let mut stmts = Vec::with_capacity(block.stmts.len() + 1);
        let count = block.stmts.len();
        for (k, stmt) in std::mem::take(&mut block.stmts).into_iter().enumerate() {
            match stmt {
                // `let pat = loop { .. };`
                Stmt::Local(mut local) => {
                    let value = local
                        .init
                        .as_mut()
                        .filter(|init| init.diverge.is_none())
                        .and_then(|init| match &mut *init.expr {
                            Expr::Loop(looped) => plain_breaks(looped),
                            _ => None,
                        });
                    match value {
                        Some(value) => {
                            let looped = local
                                .init
                                .as_mut()
                                .map(|init| std::mem::replace(&mut *init.expr, value));
                            if let Some(looped) = looped {
                                stmts.push(Stmt::Expr(looped, None));
                            }
                            stmts.push(Stmt::Local(local));
                        }
                        None => stmts.push(Stmt::Local(local)),
                    }
                }
                // The body's value: `loop { .. }` last, with no `;`.
                Stmt::Expr(Expr::Loop(mut looped), None) if k + 1 == count => {
                    match plain_breaks(&mut looped) {
                        Some(value) => {
                            stmts.push(Stmt::Expr(Expr::Loop(looped), None));
                            stmts.push(Stmt::Expr(value, None));
                        }
                        None => stmts.push(Stmt::Expr(Expr::Loop(looped), None)),
                    }
                }
                other => stmts.push(other),
            }
        }
        block.stmts = stmts;
    }
}

/// The loop's breaks made plain, and the value they carried; `None`, the
/// loop untouched, where that does not mean the same.
fn plain_breaks(looped: &mut syn::ExprLoop) -> Option<Expr> {
    // The values taken out of a copy of the body, kept if they allow.
    let mut breaks = Breaks {
        label: looped.label.as_ref().map(|l| l.name.ident.to_string()),
        depth: 0,
        values: Vec::new(),
        plain: false,
    };
    let mut body = looped.body.clone();
    breaks.visit_block_mut(&mut body);
    let first = breaks.values.first()?.clone();
    let same = breaks
        .values
        .iter()
        .all(|value| value.to_token_stream().to_string() == first.to_token_stream().to_string());
    if !same || breaks.plain || !super::repeatable(&first) {
        return None;
    }
    // The names it reads keep their outer meaning through the loop.
    let read = identifiers(first.to_token_stream());
    let mut bound = Bound(Default::default());
    bound.visit_block(&body);
    if read.iter().any(|name| bound.0.contains(name)) {
        return None;
    }
    looped.body = body;
    Some(first)
}

/// Takes the values out of the `break`s that leave the loop, and notes
/// whether one of them leaves it with none (`break;` beside `break x;`
/// does not type-check, but is left to rustc).
struct Breaks {
    label: Option<String>,
    /// Loops entered inside it: an unlabeled `break` there is theirs.
    depth: usize,
    values: Vec<Expr>,
    plain: bool,
}

impl VisitMut for Breaks {
    fn visit_expr_break_mut(&mut self, brk: &mut syn::ExprBreak) {
        let leaves = match &brk.label {
            Some(named) => self.label.as_deref() == Some(&named.ident.to_string()),
            None => self.depth == 0,
        };
        if !leaves {
            return syn::visit_mut::visit_expr_break_mut(self, brk);
        }
        match brk.expr.take() {
            Some(value) => self.values.push(*value),
            None => self.plain = true,
        }
    }
    fn visit_expr_loop_mut(&mut self, inner: &mut syn::ExprLoop) {
        self.depth += 1;
        syn::visit_mut::visit_expr_loop_mut(self, inner);
        self.depth -= 1;
    }
    fn visit_expr_while_mut(&mut self, inner: &mut syn::ExprWhile) {
        self.depth += 1;
        syn::visit_mut::visit_expr_while_mut(self, inner);
        self.depth -= 1;
    }
    fn visit_expr_for_loop_mut(&mut self, inner: &mut syn::ExprForLoop) {
        self.depth += 1;
        syn::visit_mut::visit_expr_for_loop_mut(self, inner);
        self.depth -= 1;
    }
    fn visit_expr_closure_mut(&mut self, _: &mut syn::ExprClosure) {}
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// The names a block binds anywhere (patterns of `let`s, loops, closures,
/// match arms).
struct Bound(std::collections::BTreeSet<String>);

impl<'ast> Visit<'ast> for Bound {
    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        self.0.insert(pat.ident.to_string());
        syn::visit::visit_pat_ident(self, pat);
    }
}
