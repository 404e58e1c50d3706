//! An array a call returns, bound whole and read by a loop's index, as
//! vector code reads a stage of a Runge-Kutta step:
//!
//! ```text
//! let k1 = deriv(s, k);
//! for i in 0..2 { out[i] += dt * k1[i]; }
//! ```
//!
//! The lowering reads a call's array by literal indices only (each element
//! read is one of the call's outputs), so the elements the loops can reach
//! are copied into a local array first: `let k1_all = deriv(s, k); let k1 =
//! [k1_all[0], k1_all[1]];`, and `k1[i]` reads that buffer. The reach comes
//! from the loops' literal ranges (`0..2`, `0..=1`) and the literal indices
//! read; where a loop's end is not a literal, or the array is used any
//! other way, it is left alone (and the lowering says what to write).

use super::extrema::is_name;
use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use quote::ToTokens;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn call_arrays_as_buffers(block: &mut syn::Block) {
    let names = Names::avoiding(identifiers(block.to_token_stream()));
    Rewriter { names }.visit_block_mut(block);
}

struct Rewriter {
    names: Names,
}

impl VisitMut for Rewriter {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        syn::visit_mut::visit_block_mut(self, block);
        let mut k = 0;
        while k < block.stmts.len() {
            if let Some(stmts) = self.rewrite(&block.stmts[k], &block.stmts[k + 1..]) {
                block.stmts.splice(k..=k, stmts);
                k += 1;
            }
            k += 1;
        }
    }
}

impl Rewriter {
    /// `let name = call(..);` read by loop indices in `rest`: the call under
    /// a fresh name, then the buffer of the elements reached.
    fn rewrite(&mut self, stmt: &Stmt, rest: &[Stmt]) -> Option<Vec<Stmt>> {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        // `let k1 = ..` or `let k1: [f64; 2] = ..` (the type then the
        // call's).
        let (binding, ty) = match &local.pat {
            syn::Pat::Ident(binding) => (binding, None),
            syn::Pat::Type(typed) => match &*typed.pat {
                syn::Pat::Ident(binding) => (binding, Some(&typed.ty)),
                _ => return None,
            },
            _ => return None,
        };
        if binding.by_ref.is_some() || binding.subpat.is_some() {
            return None;
        }
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let Expr::Call(call) = strip(&init.expr) else {
            return None;
        };
        if !matches!(strip(&call.func), Expr::Path(_)) {
            return None;
        }
        let name = &binding.ident;
        let mut reach = Reach {
            name,
            loops: Vec::new(),
            length: 0,
            by_loop: false,
            other: false,
        };
        for stmt in rest {
            reach.visit_stmt(stmt);
        }
        if reach.other || !reach.by_loop || reach.length == 0 {
            return None;
        }
        let all = self.names.fresh(&format!("{name}_all"));
        let elements = (0..reach.length).map(|k| {
            let k = syn::Index::from(k);
            quote::quote!(#all[#k])
        });
        let mutability = &binding.mutability;
        let call = &init.expr;
        Some(vec![
            match ty {
                Some(ty) => syn::parse_quote!(let #all: #ty = #call;),
                None => syn::parse_quote!(let #all = #call;),
            },
            syn::parse_quote!(let #mutability #name = [#(#elements),*];),
        ])
    }
}

/// How far the statements after the `let` read the array: the largest
/// index reached plus one, whether a loop's index reads it, and whether it
/// is used any other way (or bound again).
struct Reach<'n> {
    name: &'n syn::Ident,
    /// The enclosing loops' variables, with their literal ends (exclusive).
    loops: Vec<(syn::Ident, Option<usize>)>,
    length: usize,
    by_loop: bool,
    other: bool,
}

impl<'ast> Visit<'ast> for Reach<'_> {
    fn visit_expr_for_loop(&mut self, looped: &'ast syn::ExprForLoop) {
        self.visit_expr(&looped.expr);
        let variable = match &*looped.pat {
            syn::Pat::Ident(p) => Some(p.ident.clone()),
            _ => None,
        };
        self.other |= crate::desugar::pattern_binds(&looped.pat, self.name);
        match variable {
            Some(variable) => {
                self.loops.push((variable, literal_end(&looped.expr)));
                self.visit_block(&looped.body);
                self.loops.pop();
            }
            None => self.visit_block(&looped.body),
        }
    }

    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::Index(index) if is_name(&index.expr, self.name) => {
                match self.reached(&index.index) {
                    Some((end, by_loop)) => {
                        self.length = self.length.max(end);
                        self.by_loop |= by_loop;
                    }
                    None => self.other = true,
                }
                self.visit_expr(&index.index);
            }
            Expr::Path(_) if is_name(expr, self.name) => self.other = true,
            Expr::Closure(closure) => {
                // A closure's body is another scope; its reads are not
                // counted, so one that names the array leaves it alone.
                self.other |=
                    identifiers(closure.to_token_stream()).contains(&self.name.to_string());
            }
            _ => syn::visit::visit_expr(self, expr),
        }
    }

    fn visit_pat(&mut self, pat: &'ast syn::Pat) {
        self.other |= crate::desugar::pattern_binds(pat, self.name);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.other |= identifiers(mac.tokens.clone()).contains(&self.name.to_string());
    }
}

impl Reach<'_> {
    /// The end of the indices `index` reaches, and whether a loop's
    /// variable is the index: a literal `3` reaches 4; the variable of a
    /// loop over `0..2` reaches 2.
    fn reached(&self, index: &Expr) -> Option<(usize, bool)> {
        match strip(index) {
            Expr::Lit(_) => Some((super::usize_literal(index)? + 1, false)),
            Expr::Path(path) => {
                let variable = path.path.get_ident()?;
                let (_, end) = self.loops.iter().rev().find(|(v, _)| v == variable)?;
                Some(((*end)?, true))
            }
            _ => None,
        }
    }
}

/// `a..b` or `a..=b` with `b` a literal: the exclusive end.
fn literal_end(range: &Expr) -> Option<usize> {
    let Expr::Range(range) = strip(range) else {
        return None;
    };
    let end = super::usize_literal(range.end.as_deref()?)?;
    match range.limits {
        syn::RangeLimits::HalfOpen(_) => Some(end),
        syn::RangeLimits::Closed(_) => end.checked_add(1),
    }
}
