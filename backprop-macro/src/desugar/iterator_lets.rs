//! An iterator bound to a name and consumed by the next statement, `let
//! squares = x.iter().map(|v| v * v); let s: f64 = squares.sum();`, is the
//! chain written where it is consumed, `let s: f64 = x.iter().map(|v| v *
//! v).sum();`, which the chains' rewrites read. Iterators are lazy: the
//! chain computes nothing until consumed, and what it borrows cannot
//! change in between (the next statement is the only one between).
//!
//! Left as written: an annotated `let`, a `move` closure in the chain
//! (it copies its captures where the chain is bound), a name used other
//! than once in the next statement, or there inside a loop, a closure or
//! a macro.

use crate::lower::strip_parens as strip;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat, Stmt};

pub fn iterator_lets_inlined(block: &mut syn::Block) {
    struct Blocks;
    impl VisitMut for Blocks {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            syn::visit_mut::visit_block_mut(self, block);
            let mut k = 0;
            while k + 1 < block.stmts.len() {
                let (head, rest) = block.stmts.split_at_mut(k + 1);
                match bound_iterator(&head[k]) {
                    Some((name, chain)) if used_once_plainly(&rest[0], &name) => {
                        crate::desugar::NameAs {
                            name: &name,
                            value: &chain,
                        }
                        .visit_stmt_mut(&mut rest[0]);
                        block.stmts.remove(k);
                    }
                    _ => k += 1,
                }
            }
        }
    }
    Blocks.visit_block_mut(block);
}

/// `let name = x.iter()..;`: the name and the chain.
fn bound_iterator(stmt: &Stmt) -> Option<(syn::Ident, Expr)> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    let Pat::Ident(p) = &local.pat else {
        return None;
    };
    if p.by_ref.is_some() || p.subpat.is_some() {
        return None;
    }
    let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
    let Expr::MethodCall(call) = strip(&init.expr) else {
        return None;
    };
    if !crate::desugar::ITERATOR_METHODS
        .iter()
        .any(|m| call.method == m)
        || moves(&init.expr)
    {
        return None;
    }
    Some((p.ident.clone(), (*init.expr).clone()))
}

/// Whether a `move` closure is in the chain.
fn moves(expr: &Expr) -> bool {
    struct Finds(bool);
    impl<'ast> Visit<'ast> for Finds {
        fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
            self.0 |= closure.capture.is_some();
            syn::visit::visit_expr_closure(self, closure);
        }
    }
    let mut finds = Finds(false);
    finds.visit_expr(expr);
    finds.0
}

/// Whether `name` appears exactly once in the statement, and not inside a
/// loop, a closure or a macro there (where it would be consumed once per
/// iteration or call, which the compiler refuses for the binding but not
/// for the chain), nor bound again.
fn used_once_plainly(stmt: &Stmt, name: &syn::Ident) -> bool {
    struct Uses<'n> {
        name: &'n syn::Ident,
        plain: usize,
        nested: bool,
        depth: usize,
    }
    impl<'ast> Visit<'ast> for Uses<'_> {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::Path(path) if path.path.is_ident(self.name) => match self.depth {
                    0 => self.plain += 1,
                    _ => self.nested = true,
                },
                Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) | Expr::Closure(_) => {
                    self.depth += 1;
                    syn::visit::visit_expr(self, expr);
                    self.depth -= 1;
                }
                _ => syn::visit::visit_expr(self, expr),
            }
        }
        fn visit_macro(&mut self, _: &'ast syn::Macro) {
            self.nested = true;
        }
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            self.nested |= pat.ident == *self.name;
        }
    }
    let mut uses = Uses {
        name,
        plain: 0,
        nested: false,
        depth: 0,
    };
    uses.visit_stmt(stmt);
    uses.plain == 1 && !uses.nested
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn rewrite(tokens: proc_macro2::TokenStream) -> String {
        let mut block: syn::Block = syn::parse2(tokens).unwrap();
        iterator_lets_inlined(&mut block);
        quote!(#block).to_string()
    }

    #[test]
    fn a_chain_consumed_by_the_next_statement_is_written_there() {
        let expected: syn::Block = syn::parse_quote!({
            let s: f64 = x.iter().map(|v| v * v).sum();
            s
        });
        assert_eq!(
            rewrite(quote!({
                let sq = x.iter().map(|v| v * v);
                let s: f64 = sq.sum();
                s
            })),
            quote!(#expected).to_string()
        );
    }

    #[test]
    fn other_bindings_are_left() {
        for tokens in [
            // Used later than the next statement, twice, in a loop, in a
            // macro; a `move` closure; not an iterator.
            quote!({
                let sq = x.iter().map(|v| v * v);
                let k = 2;
                sq.sum::<f64>() * k as f64
            }),
            quote!({
                let sq = x.iter();
                let s: f64 = sq.clone().sum::<f64>() + sq.sum::<f64>();
                s
            }),
            quote!({
                let sq = x.iter();
                for _ in 0..2 {
                    t += sq.clone().sum::<f64>();
                }
            }),
            quote!({
                let sq = x.iter();
                println!("{:?}", sq);
            }),
            quote!({
                let sq = x.iter().map(move |v| v * k);
                k += 1.0;
            }),
            quote!({
                let n = x.len();
                let m = n + 1;
            }),
        ] {
            let block: syn::Block = syn::parse2(tokens).unwrap();
            assert_eq!(rewrite(quote!(#block)), quote!(#block).to_string());
        }
    }
}
