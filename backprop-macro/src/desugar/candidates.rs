//! The work a loop's body does to compute the value a running extremum
//! compares (`extrema`), or a branch's arm before its tuple (`iterators`'
//! `split_tuple`): statements that only bind and update locals of their
//! own, so that running them again (after the loop, at the index chosen;
//! once per element) computes the same value and changes nothing else.
//!
//! ```text
//! for c in 0..k {
//!     let mut dist = 0.0;                       // a local of the body
//!     for i in 0..d { dist += (p[i] - q[c * d + i]).powi(2); }
//!     closest = closest.min(dist);              // the update
//! }
//! ```

use crate::lower::strip_parens as strip;
use syn::{Expr, Stmt};

/// Whether `stmts` only bind locals (`let d = ..;`, `let mut d: f64 = ..;`)
/// and assign to the locals they bound (`d = ..;`, `d += ..;`), in loops
/// and branches of their own, every expression pure: running them again
/// changes nothing outside them.
pub fn local_work(stmts: &[Stmt]) -> bool {
    let mut locals = Vec::new();
    stmts.iter().all(|stmt| local_statement(stmt, &mut locals))
}

fn local_statement(stmt: &Stmt, locals: &mut Vec<syn::Ident>) -> bool {
    match stmt {
        Stmt::Local(local) => {
            let Some(name) = simple_binding(&local.pat) else {
                return false;
            };
            let init_pure = match &local.init {
                Some(init) => init.diverge.is_none() && super::extrema::pure(&init.expr),
                None => true,
            };
            locals.push(name);
            init_pure
        }
        Stmt::Expr(expr, _) => local_expression(expr, locals),
        Stmt::Item(_) | Stmt::Macro(_) => false,
    }
}

fn local_expression(expr: &Expr, locals: &mut Vec<syn::Ident>) -> bool {
    let assigned_local = |left: &Expr, locals: &[syn::Ident]| {
        matches!(strip(left), Expr::Path(p) if p.qself.is_none()
            && p.path.get_ident().is_some_and(|name| locals.contains(name)))
    };
    match strip(expr) {
        Expr::Assign(assign) => {
            assigned_local(&assign.left, locals) && super::extrema::pure(&assign.right)
        }
        Expr::Binary(binary) if super::is_compound_assignment(&binary.op) => {
            assigned_local(&binary.left, locals) && super::extrema::pure(&binary.right)
        }
        Expr::ForLoop(looped) => {
            let variable_ok = match &*looped.pat {
                syn::Pat::Ident(p) => p.by_ref.is_none() && p.subpat.is_none(),
                syn::Pat::Wild(_) => true,
                _ => false,
            };
            // The body's own `let`s end with it; the loop's variable is
            // not a local it may assign to.
            let mut inner = locals.clone();
            looped.label.is_none()
                && variable_ok
                && super::extrema::pure(&looped.expr)
                && looped
                    .body
                    .stmts
                    .iter()
                    .all(|stmt| local_statement(stmt, &mut inner))
        }
        Expr::If(branch) => {
            let mut inner = locals.clone();
            let then_ok = super::extrema::pure(&branch.cond)
                && branch
                    .then_branch
                    .stmts
                    .iter()
                    .all(|stmt| local_statement(stmt, &mut inner));
            then_ok
                && match &branch.else_branch {
                    None => true,
                    Some((_, otherwise)) => local_expression(otherwise, locals),
                }
        }
        Expr::Block(block) if block.label.is_none() => {
            let mut inner = locals.clone();
            block
                .block
                .stmts
                .iter()
                .all(|stmt| local_statement(stmt, &mut inner))
        }
        _ => false,
    }
}

/// `d`, `mut d` or `d: T`: the name bound.
pub(crate) fn simple_binding(pat: &syn::Pat) -> Option<syn::Ident> {
    match pat {
        syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
        syn::Pat::Type(typed) => simple_binding(&typed.pat),
        _ => None,
    }
}

/// Whether the loop variable `var` is a `usize`, as the body shows it: it
/// indexes a list (`q[c * d + i]`), itself or through a local bound in the
/// body to integer arithmetic of it (`let at = c * d;`, then `q[at + i]`:
/// without casts or calls, `at` has `c`'s type), with no cast there.
pub fn indexes_a_list(stmts: &[Stmt], value: &Expr, var: &syn::Ident) -> bool {
    let mut names = vec![var.clone()];
    for stmt in stmts {
        if let Stmt::Local(local) = stmt {
            let copied = local.init.as_ref().is_some_and(|init| {
                arithmetic(&init.expr)
                    && names
                        .iter()
                        .any(|name| super::extrema::mentions(&init.expr, name))
            });
            if let (true, Some(name)) = (copied, simple_binding(&local.pat)) {
                names.push(name);
            }
        }
    }
    let body = Expr::Block(syn::ExprBlock {
        attrs: Vec::new(),
        label: None,
        block: syn::Block {
            brace_token: Default::default(),
            stmts: stmts.to_vec(),
        },
    });
    names.iter().any(|name| {
        super::extrema::indexes_with(value, name) || super::extrema::indexes_with(&body, name)
    })
}

/// Names and literals under `+`, `-`, `*`, `/`, `%` and parentheses: a
/// value of its operands' one type.
fn arithmetic(expr: &Expr) -> bool {
    use syn::BinOp as B;
    match strip(expr) {
        Expr::Path(p) => p.qself.is_none() && p.path.get_ident().is_some(),
        Expr::Lit(_) => true,
        Expr::Binary(binary) => {
            matches!(
                binary.op,
                B::Add(_) | B::Sub(_) | B::Mul(_) | B::Div(_) | B::Rem(_)
            ) && arithmetic(&binary.left)
                && arithmetic(&binary.right)
        }
        _ => false,
    }
}
