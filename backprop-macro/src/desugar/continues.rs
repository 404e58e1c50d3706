//! `if c { ..; continue; } rest` at the top level of a loop's body is the
//! branch `if c { .. } else { rest }`: the rest of the iteration is skipped
//! either way. Rewritten so, a `continue` costs one branch, with no flag
//! threaded through the rest of the body and no saved bool per iteration (a
//! `continue` deeper in a branch keeps the flag).

use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn continues_as_branches(block: &mut syn::Block) {
    Rewriter.visit_block_mut(block);
}

struct Rewriter;

impl VisitMut for Rewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // Inner loops first: their `continue`s are theirs.
        syn::visit_mut::visit_expr_mut(self, expr);
        let (label, body) = match expr {
            Expr::ForLoop(l) => (l.label.as_ref(), &mut l.body),
            Expr::While(l) => (l.label.as_ref(), &mut l.body),
            Expr::Loop(l) => (l.label.as_ref(), &mut l.body),
            _ => return,
        };
        let label = label.map(|l| l.name.ident.to_string());
        let stmts = std::mem::take(&mut body.stmts);
        body.stmts = rewritten(stmts, label.as_deref());
    }
}

/// The statements from some point of a loop's body to its end.
fn rewritten(mut stmts: Vec<Stmt>, label: Option<&str>) -> Vec<Stmt> {
    let Some(at) = stmts
        .iter()
        .position(|stmt| continuing_if(stmt, label).is_some())
    else {
        return stmts;
    };
    let rest = stmts.split_off(at + 1);
    let Some(Stmt::Expr(Expr::If(mut branch), _)) = stmts.pop() else {
        return stmts;
    };
    branch.then_branch.stmts.pop();
    let then_stmts = std::mem::take(&mut branch.then_branch.stmts);
    let rest = rewritten(rest, label);
    let then_stmts = rewritten(then_stmts, label);
    let cond = &branch.cond;
    let rewritten_if: Expr = syn::parse_quote_spanned!(branch.if_token.span=>
        if #cond { #(#then_stmts)* } else { #(#rest)* }
    );
    stmts.push(Stmt::Expr(rewritten_if, None));
    stmts
}

/// `if c { ..; continue; }` with no `else`, the `continue` for this loop.
fn continuing_if<'s>(stmt: &'s Stmt, label: Option<&str>) -> Option<&'s syn::ExprIf> {
    let Stmt::Expr(Expr::If(branch), _) = stmt else {
        return None;
    };
    if branch.else_branch.is_some() {
        return None;
    }
    let Some(Stmt::Expr(Expr::Continue(exit), _)) = branch.then_branch.stmts.last() else {
        return None;
    };
    let own = match &exit.label {
        None => true,
        Some(target) => label == Some(target.ident.to_string().as_str()),
    };
    own.then_some(branch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn rewrite(mut block: syn::Block) -> String {
        continues_as_branches(&mut block);
        quote!(#block).to_string()
    }

    #[test]
    fn a_continue_at_the_top_of_a_body_guards_the_rest() {
        let block = syn::parse_quote!({
            for i in 0..n {
                if i % 2 == 1 {
                    continue;
                }
                total += x;
            }
        });
        let expected: syn::Block = syn::parse_quote!({
            for i in 0..n {
                if i % 2 == 1 {
                } else {
                    total += x;
                }
            }
        });
        assert_eq!(rewrite(block), quote!(#expected).to_string());
    }

    #[test]
    fn statements_before_the_continue_stay_in_its_branch() {
        let block = syn::parse_quote!({
            'outer: loop {
                if a {
                    y += 1.0;
                    continue 'outer;
                }
                if b {
                    continue;
                }
                z += y;
            }
        });
        let expected: syn::Block = syn::parse_quote!({
            'outer: loop {
                if a {
                    y += 1.0;
                } else {
                    if b {
                    } else {
                        z += y;
                    }
                }
            }
        });
        assert_eq!(rewrite(block), quote!(#expected).to_string());
    }

    #[test]
    fn a_continue_for_an_outer_loop_or_in_a_nested_branch_is_kept() {
        let block: syn::Block = syn::parse_quote!({
            'outer: for i in 0..n {
                for j in 0..m {
                    if j == i {
                        continue 'outer;
                    }
                    if a {
                        if b {
                            continue;
                        }
                    }
                    s += x;
                }
            }
        });
        let kept = quote!(#block).to_string();
        assert_eq!(rewrite(block), kept);
    }
}
