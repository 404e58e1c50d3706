//! An early return at the top of the function body, `if c { ..; return a; }
//! rest`, is the branch `if c { ..; a } else { rest }` that ends the body
//! (a chain `if c { return a; } else if d { return b; } rest` the same, with
//! `rest` the last `else`):
//! rewritten so, it is differentiated as a branch, with no flags for a
//! decision made once (a return inside a loop or a nested branch keeps them).

use syn::{Expr, Stmt};

pub fn early_returns_as_branches(block: &mut syn::Block) {
    let stmts = std::mem::take(&mut block.stmts);
    block.stmts = rewritten(stmts);
}

/// The statements of a body (or of the rest of one, in an `else`).
fn rewritten(mut stmts: Vec<Stmt>) -> Vec<Stmt> {
    let Some(at) = stmts.iter().position(|stmt| returning_if(stmt).is_some()) else {
        return stmts;
    };
    let rest = stmts.split_off(at + 1);
    let Some(Stmt::Expr(Expr::If(mut branch), semi)) = stmts.pop() else {
        return stmts;
    };
    // The rest of the body must end in its value (or a final `return`).
    let mut rest = rewritten(rest);
    match rest.last_mut() {
        Some(Stmt::Expr(_, None)) => {}
        Some(last @ Stmt::Expr(Expr::Return(_), _)) => {
            let Stmt::Expr(Expr::Return(ret), _) = last.clone() else {
                return restore(stmts, branch, semi, rest);
            };
            match ret.expr {
                Some(value) => *last = Stmt::Expr(*value, None),
                None => return restore(stmts, branch, semi, rest),
            }
        }
        _ => return restore(stmts, branch, semi, rest),
    }
    let original = branch.clone();
    if !returns_as_tails(&mut branch, rest.clone()) {
        return restore(stmts, original, semi, rest);
    }
    stmts.push(Stmt::Expr(Expr::If(branch), None));
    stmts
}

/// Each arm's `..; return a;` ends with `a`, and the rest of the body is
/// the `else` of the last arm (`if a { return x; } else if b { return y; }`
/// chains too).
fn returns_as_tails(branch: &mut syn::ExprIf, rest: Vec<Stmt>) -> bool {
    let Some(Stmt::Expr(Expr::Return(ret), _)) = branch.then_branch.stmts.pop() else {
        return false;
    };
    let Some(value) = ret.expr else {
        return false;
    };
    branch.then_branch.stmts.push(Stmt::Expr(*value, None));
    match &mut branch.else_branch {
        Some((_, otherwise)) => match &mut **otherwise {
            Expr::If(inner) => returns_as_tails(inner, rest),
            // `else { .. }` that does not return: it runs, then the rest.
            Expr::Block(last) if continues(&last.block) => {
                for stmt in last.block.stmts.iter_mut() {
                    if let Stmt::Expr(_, semi @ None) = stmt {
                        *semi = Some(Default::default());
                    }
                }
                last.block.stmts.extend(rest);
                true
            }
            _ => false,
        },
        None => {
            let else_block = syn::Block {
                brace_token: branch.then_branch.brace_token,
                stmts: rest,
            };
            branch.else_branch = Some((
                syn::token::Else::default(),
                Box::new(Expr::Block(syn::ExprBlock {
                    attrs: Vec::new(),
                    label: None,
                    block: else_block,
                })),
            ));
            true
        }
    }
}

/// The statements as they were, when the rest cannot be an `else`.
fn restore(
    mut stmts: Vec<Stmt>,
    branch: syn::ExprIf,
    semi: Option<syn::token::Semi>,
    rest: Vec<Stmt>,
) -> Vec<Stmt> {
    stmts.push(Stmt::Expr(Expr::If(branch), semi));
    stmts.extend(rest);
    stmts
}

/// `if c { ..; return a; }` as a statement, with no `else` (or one that
/// does not return), or a chain of such arms (`else if d { ..; return b;
/// }`) with no final `else` (or one that does not return).
fn returning_if(stmt: &Stmt) -> Option<&syn::ExprIf> {
    let Stmt::Expr(Expr::If(branch), _) = stmt else {
        return None;
    };
    every_arm_returns(branch).then_some(branch)
}

fn every_arm_returns(branch: &syn::ExprIf) -> bool {
    let ends_in_return = matches!(
        branch.then_branch.stmts.last(),
        Some(Stmt::Expr(
            Expr::Return(syn::ExprReturn { expr: Some(_), .. }),
            _
        ))
    );
    ends_in_return
        && match &branch.else_branch {
            None => true,
            Some((_, otherwise)) => match &**otherwise {
                Expr::If(inner) => every_arm_returns(inner),
                Expr::Block(last) => continues(&last.block),
                _ => false,
            },
        }
}

/// A final `else` the rest of the body can follow inside: no `let`, item or
/// macro statement at its top (a `let` there the rest would then see:
/// `else { let t = ..; }` and a `t` read after it), and no `return` of its
/// own.
fn continues(block: &syn::Block) -> bool {
    use syn::visit::Visit;
    struct Exits(bool);
    impl<'ast> Visit<'ast> for Exits {
        fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
            self.0 = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut exits = Exits(false);
    exits.visit_block(block);
    !exits.0
        && block
            .stmts
            .iter()
            .all(|stmt| !matches!(stmt, Stmt::Local(_) | Stmt::Item(_) | Stmt::Macro(_)))
}

#[cfg(test)]
mod tests {
    use super::early_returns_as_branches;
    use quote::ToTokens;
    use syn::parse_quote;

    fn rewritten(mut block: syn::Block) -> String {
        early_returns_as_branches(&mut block);
        block.to_token_stream().to_string()
    }

    #[test]
    fn a_guard_becomes_an_if_else() {
        let out = rewritten(parse_quote!({
            let a = x * 2.0;
            if a < 0.0 {
                let b = y * y;
                return b;
            }
            let z = a * y;
            z.sin()
        }));
        let expected: syn::Block = parse_quote!({
            let a = x * 2.0;
            if a < 0.0 {
                let b = y * y;
                b
            } else {
                let z = a * y;
                z.sin()
            }
        });
        assert_eq!(out, expected.to_token_stream().to_string());
    }

    #[test]
    fn guards_in_a_row_nest() {
        let out = rewritten(parse_quote!({
            if x < 0.0 {
                return -x;
            }
            if x > 1.0 {
                return 1.0;
            }
            return x * x;
        }));
        let expected: syn::Block = parse_quote!({
            if x < 0.0 {
                -x
            } else {
                if x > 1.0 {
                    1.0
                } else {
                    x * x
                }
            }
        });
        assert_eq!(out, expected.to_token_stream().to_string());
    }

    #[test]
    fn returns_in_loops_and_unit_returns_are_left_alone() {
        for block in [
            parse_quote!({
                for i in 0..n {
                    if x > 0.0 {
                        return x;
                    }
                }
                x
            }),
            parse_quote!({
                if x < 0.0 {
                    return;
                }
                *y = x;
            }),
            parse_quote!({
                if x < 0.0 {
                    return x;
                }
                *y = x;
            }),
        ] {
            let block: syn::Block = block;
            assert_eq!(
                rewritten(block.clone()),
                block.to_token_stream().to_string()
            );
        }
    }
}
