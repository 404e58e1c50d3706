//! A `let` without a value whose next statement gives it one on every path,
//! `let y; if c { ..; y = a; } else { ..; y = b; }` (deferred
//! initialisation, as C would write it), as the `let` of that statement's
//! value: `let y = if c { ..; a } else { ..; b };`. The same through `else
//! if` chains, nested branches, and `match` arms (`1 => y = a,` or a block
//! ending so), and `let y; y = a;` as `let y = a;`. Where a path does not end by assigning the name, or assigns
//! it elsewhere too, the `let` is left as written (and refused).

use crate::lower::strip_parens as strip;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat, Stmt};

pub fn deferred_lets_as_values(block: &mut syn::Block) {
    struct Rewriter;
    impl VisitMut for Rewriter {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            syn::visit_mut::visit_block_mut(self, block);
            let mut k = 0;
            while k + 1 < block.stmts.len() {
                if let Some(stmt) = valued_let(&block.stmts[k], &block.stmts[k + 1]) {
                    block.stmts.splice(k..=k + 1, [stmt]);
                }
                k += 1;
            }
        }
    }
    Rewriter.visit_block_mut(block);
}

/// `let y;` (or `let mut y: f64;`) and the statement after it, as one `let`.
fn valued_let(stmt: &Stmt, next: &Stmt) -> Option<Stmt> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    if local.init.is_some() {
        return None;
    }
    let name = match &local.pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => &p.ident,
        Pat::Type(typed) => match &*typed.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => &p.ident,
            _ => return None,
        },
        _ => return None,
    };
    let Stmt::Expr(choice, _) = next else {
        return None;
    };
    let value = match strip(choice) {
        // `let y; y = a;`
        Expr::Assign(assign) if is_name(&assign.left, name) => {
            if assigns(Some(&assign.right), name) {
                return None;
            }
            (*assign.right).clone()
        }
        _ => valued(choice, name)?,
    };
    let pat = &local.pat;
    Some(syn::parse_quote!(let #pat = #value;))
}

/// `choice` with each path's final `name = value;` as its value `value`.
fn valued(choice: &Expr, name: &syn::Ident) -> Option<Expr> {
    match choice {
        Expr::If(branch) => {
            let (_, otherwise) = branch.else_branch.as_ref()?;
            let mut branch = branch.clone();
            branch.then_branch = valued_block(&branch.then_branch, name)?;
            let otherwise = valued(otherwise, name)?;
            if let Some((_, slot)) = &mut branch.else_branch {
                **slot = otherwise;
            }
            Some(Expr::If(branch))
        }
        Expr::Block(block) if block.label.is_none() => {
            let mut block = block.clone();
            block.block = valued_block(&block.block, name)?;
            Some(Expr::Block(block))
        }
        Expr::Match(matched) => {
            let mut matched = matched.clone();
            for arm in &mut matched.arms {
                // (A guard is part of the pattern here.)
                let mut in_guard = Assigns(name, false);
                in_guard.visit_pat(&arm.pat);
                if in_guard.1 {
                    return None;
                }
                *arm.body = match strip(&arm.body) {
                    Expr::Assign(assign) if is_name(&assign.left, name) => {
                        if assigns(Some(&assign.right), name) {
                            return None;
                        }
                        (*assign.right).clone()
                    }
                    body => valued(body, name)?,
                };
                // (`1 => y = a` may have been the last arm, unseparated.)
                if !matches!(*arm.body, Expr::Block(_)) {
                    arm.comma = Some(Default::default());
                }
            }
            Some(Expr::Match(matched))
        }
        _ => None,
    }
}

/// A block whose last statement gives `name` its value, with that statement
/// as the block's value; `None` where another statement assigns it too.
fn valued_block(block: &syn::Block, name: &syn::Ident) -> Option<syn::Block> {
    let (last, rest) = block.stmts.split_last()?;
    if rest.iter().any(|stmt| stmt_assigns(stmt, name)) {
        return None;
    }
    let value = match last {
        Stmt::Expr(Expr::Assign(assign), _) if is_name(&assign.left, name) => {
            if assigns(Some(&assign.right), name) {
                return None;
            }
            (*assign.right).clone()
        }
        Stmt::Expr(inner, _) => valued(inner, name)?,
        _ => return None,
    };
    let mut block = block.clone();
    if let Some(slot) = block.stmts.last_mut() {
        *slot = Stmt::Expr(value, None);
    }
    Some(block)
}

fn is_name(expr: &Expr, name: &syn::Ident) -> bool {
    matches!(strip(expr), Expr::Path(path) if path.path.is_ident(name))
}

fn stmt_assigns(stmt: &Stmt, name: &syn::Ident) -> bool {
    let mut finds = Assigns(name, false);
    finds.visit_stmt(stmt);
    finds.1
}

fn assigns(expr: Option<&Expr>, name: &syn::Ident) -> bool {
    let mut finds = Assigns(name, false);
    if let Some(expr) = expr {
        finds.visit_expr(expr);
    }
    finds.1
}

/// Whether `name` is assigned (`=`, a compound assignment) or borrowed
/// mutably anywhere in what is visited.
struct Assigns<'n>(&'n syn::Ident, bool);

impl<'ast> Visit<'ast> for Assigns<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::Assign(assign) if is_name(&assign.left, self.0) => self.1 = true,
            Expr::Binary(binary)
                if super::is_compound_assignment(&binary.op) && is_name(&binary.left, self.0) =>
            {
                self.1 = true;
            }
            Expr::Reference(r) if r.mutability.is_some() && is_name(&r.expr, self.0) => {
                self.1 = true;
            }
            _ => {}
        }
        syn::visit::visit_expr(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::deferred_lets_as_values;
    use quote::quote;

    fn rewritten(block: proc_macro2::TokenStream) -> String {
        let mut block: syn::Block = syn::parse2(block).unwrap();
        deferred_lets_as_values(&mut block);
        quote!(#block).to_string()
    }

    #[test]
    fn every_path_assigning_last_gives_the_let_its_value() {
        let text = rewritten(quote!({
            let y: f64;
            if c {
                let t = a * 2.0;
                y = t;
            } else if d {
                y = b;
            } else {
                match n {
                    0 => y = 1.0,
                    _ => {
                        let u = 2.0;
                        y = u;
                    }
                }
            }
            y
        }));
        let expected = quote!({
            let y: f64 = if c {
                let t = a * 2.0;
                t
            } else if d {
                b
            } else {
                match n {
                    0 => 1.0,
                    _ => {
                        let u = 2.0;
                        u
                    }
                }
            };
            y
        });
        assert_eq!(text, expected.to_string());
    }

    #[test]
    fn other_shapes_are_left_as_written() {
        // No `else`; a path that assigns before its end too; a path that
        // ends otherwise; the value given later than the next statement.
        for block in [
            quote!({
                let y;
                if c {
                    y = a;
                }
                y
            }),
            quote!({
                let y;
                if c {
                    y = a;
                    y = y * 2.0;
                } else {
                    y = b;
                }
                y
            }),
            quote!({
                let y;
                if c {
                    y = a;
                } else {
                    s += 1.0;
                }
                y
            }),
            quote!({
                let y;
                let z = a;
                y = z;
                y
            }),
        ] {
            let before = block.to_string();
            let mut parsed: syn::Block = syn::parse2(block).unwrap();
            deferred_lets_as_values(&mut parsed);
            let after = quote!(#parsed).to_string();
            let original: syn::Block = syn::parse_str(&before).unwrap();
            assert_eq!(after, quote!(#original).to_string());
        }
    }
}
