//! A `let` without a value whose next statement gives it one on every path,
//! `let y; if c { ..; y = a; } else { ..; y = b; }` (deferred
//! initialisation, as C would write it), as the `let` of that statement's
//! value: `let y = if c { ..; a } else { ..; b };`. Several names, `let
//! (lo, hi);` with each path ending `lo = a; hi = b;` (in either order, no
//! value reading another), take a tuple: `if c { (a, b) } else { (b, a) }`. The same through `else
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

/// `let y;` (or `let mut y: f64;`, `let (lo, hi);`) and the statement after
/// it, as one `let`.
fn valued_let(stmt: &Stmt, next: &Stmt) -> Option<Stmt> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    if local.init.is_some() {
        return None;
    }
    let names = declared(&local.pat)?;
    let Stmt::Expr(choice, _) = next else {
        return None;
    };
    let value = match strip(choice) {
        // `let y; y = a;`
        Expr::Assign(_) => final_values(std::slice::from_ref(next), &names)?,
        _ => valued(choice, &names)?,
    };
    let pat = &local.pat;
    Some(syn::parse_quote!(let #pat = #value;))
}

/// The names a `let` without a value declares: `y`, `mut y: f64`, `(lo, hi)`.
fn declared(pat: &Pat) -> Option<Vec<syn::Ident>> {
    match pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(vec![p.ident.clone()]),
        Pat::Type(typed) => declared(&typed.pat),
        Pat::Tuple(tuple) if !tuple.elems.is_empty() => {
            let mut names = Vec::new();
            for elem in &tuple.elems {
                let mut inner = declared(elem)?;
                if inner.len() != 1 {
                    return None;
                }
                names.append(&mut inner);
            }
            Some(names)
        }
        _ => None,
    }
}

/// `choice` with each path's final assignments of `names` as its value.
fn valued(choice: &Expr, names: &[syn::Ident]) -> Option<Expr> {
    match choice {
        Expr::If(branch) => {
            let (_, otherwise) = branch.else_branch.as_ref()?;
            let mut branch = branch.clone();
            branch.then_branch = valued_block(&branch.then_branch, names)?;
            let otherwise = valued(otherwise, names)?;
            if let Some((_, slot)) = &mut branch.else_branch {
                **slot = otherwise;
            }
            Some(Expr::If(branch))
        }
        Expr::Block(block) if block.label.is_none() => {
            let mut block = block.clone();
            block.block = valued_block(&block.block, names)?;
            Some(Expr::Block(block))
        }
        Expr::Match(matched) => {
            let mut matched = matched.clone();
            for arm in &mut matched.arms {
                // (A guard is part of the pattern here.)
                let mut in_guard = Assigns(names, false);
                in_guard.visit_pat(&arm.pat);
                if in_guard.1 {
                    return None;
                }
                *arm.body = match strip(&arm.body) {
                    Expr::Assign(_) => {
                        let stmt = Stmt::Expr((*arm.body).clone(), None);
                        final_values(std::slice::from_ref(&stmt), names)?
                    }
                    body => valued(body, names)?,
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

/// A block whose last statements give `names` their values (or whose last
/// statement is a branch that does, on every path), those values as the
/// block's value; `None` where another statement assigns one of them too.
fn valued_block(block: &syn::Block, names: &[syn::Ident]) -> Option<syn::Block> {
    let n = block.stmts.len();
    let mut block = block.clone();
    let value = match block.stmts.last()? {
        Stmt::Expr(Expr::Assign(_), _) if n >= names.len() => {
            let (rest, last) = block.stmts.split_at(n - names.len());
            let value = final_values(last, names)?;
            if rest.iter().any(|stmt| assigns(stmt, names)) {
                return None;
            }
            block.stmts.truncate(n - names.len());
            value
        }
        Stmt::Expr(inner, _) => {
            if block.stmts[..n - 1].iter().any(|stmt| assigns(stmt, names)) {
                return None;
            }
            let value = valued(inner, names)?;
            block.stmts.pop();
            value
        }
        _ => return None,
    };
    block.stmts.push(Stmt::Expr(value, None));
    Some(block)
}

/// The value of statements `n = a;` that assign each of `names` once (in
/// any order), none reading any of them: `a`, or the tuple of them in the
/// order of `names`.
fn final_values(stmts: &[Stmt], names: &[syn::Ident]) -> Option<Expr> {
    if stmts.len() != names.len() {
        return None;
    }
    let mut values: Vec<Option<Expr>> = vec![None; names.len()];
    for stmt in stmts {
        let Stmt::Expr(Expr::Assign(assign), _) = stmt else {
            return None;
        };
        let k = names.iter().position(|name| is_name(&assign.left, name))?;
        if values[k].is_some() || reads_any(&assign.right, names) {
            return None;
        }
        values[k] = Some((*assign.right).clone());
    }
    let values: Vec<Expr> = values.into_iter().collect::<Option<_>>()?;
    Some(match &values[..] {
        [one] => one.clone(),
        _ => syn::parse_quote!((#(#values),*)),
    })
}

/// Whether `expr` reads one of `names` as a variable (a method of that
/// name, `h(x).exp()` for `exp`, is not a read; a macro naming it is).
fn reads_any(expr: &Expr, names: &[syn::Ident]) -> bool {
    struct Reads<'n>(&'n [syn::Ident], bool);
    impl<'ast> Visit<'ast> for Reads<'_> {
        fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
            self.1 |= self.0.iter().any(|name| path.path.is_ident(name));
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            let named = crate::emit::names::identifiers(mac.tokens.clone());
            self.1 |= self.0.iter().any(|name| named.contains(&name.to_string()));
        }
    }
    let mut reads = Reads(names, false);
    reads.visit_expr(expr);
    reads.1
}

fn is_name(expr: &Expr, name: &syn::Ident) -> bool {
    matches!(strip(expr), Expr::Path(path) if path.path.is_ident(name))
}

/// Whether a statement assigns (`=`, a compound assignment) or borrows
/// mutably any of `names`.
fn assigns(stmt: &Stmt, names: &[syn::Ident]) -> bool {
    let mut finds = Assigns(names, false);
    finds.visit_stmt(stmt);
    finds.1
}

struct Assigns<'n>(&'n [syn::Ident], bool);

impl<'ast> Visit<'ast> for Assigns<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        let named = |e: &Expr| self.0.iter().any(|name| is_name(e, name));
        match expr {
            Expr::Assign(assign) if named(&assign.left) => self.1 = true,
            Expr::Binary(binary)
                if super::is_compound_assignment(&binary.op) && named(&binary.left) =>
            {
                self.1 = true;
            }
            Expr::Reference(r) if r.mutability.is_some() && named(&r.expr) => self.1 = true,
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
    fn several_names_take_a_tuple() {
        let text = rewritten(quote!({
            let (lo, hi);
            if a < b {
                lo = a;
                hi = b;
            } else {
                hi = a;
                lo = b;
            }
        }));
        let expected = quote!({
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        });
        assert_eq!(text, expected.to_string());
        // A method of a name's spelling is not a read of it.
        let text = rewritten(quote!({
            let exp;
            if c {
                exp = a.exp();
            } else {
                exp = b;
            }
        }));
        assert!(text.starts_with("{ let exp = if c"), "{text}");
        // A value that reads another of the names stays as written.
        let text = rewritten(quote!({
            let (lo, hi);
            if a < b {
                lo = a;
                hi = lo * 2.0;
            } else {
                lo = b;
                hi = a;
            }
        }));
        assert!(text.starts_with("{ let (lo , hi) ;"), "{text}");
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
