//! A closure returning a tuple, `let polar = |t: f64| (r * t.cos(), r *
//! t.sin());`, is one closure per element, `let polar_0 = |t: f64| r *
//! t.cos(); let polar_1 = ..;`, and each call the tuple of their calls,
//! `let (x, y) = (polar_0(a), polar_1(a));` (the tuple `tuples` and the
//! tuple pattern know; `polar(a).1` is `polar_1(a)`). A body with `let`s
//! before its tuple has them in each closure: computed once per element
//! (the closures are inlined, so the work is repeated where the elements
//! share it). Done where every use of the closure is a call whose
//! arguments may be computed twice (no assignment, `&mut`, macro or
//! block), and its name is not bound again; else left as written.

use crate::desugar::records::is_local;
use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use quote::ToTokens;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn closure_tuples_as_elements(block: &mut syn::Block) {
    let names = Names::avoiding(identifiers(block.to_token_stream()));
    Splitter { names }.visit_block_mut(block);
}

struct Splitter {
    names: Names,
}

impl VisitMut for Splitter {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        syn::visit_mut::visit_block_mut(self, block);
        let mut k = 0;
        while k < block.stmts.len() {
            let (head, rest) = block.stmts.split_at_mut(k + 1);
            match self.split(&head[k], rest) {
                Some(lets) => {
                    let count = lets.len();
                    block.stmts.splice(k..=k, lets);
                    k += count;
                }
                None => k += 1,
            }
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

impl Splitter {
    /// `let f = |..| (a, b);` with every use in `rest` a call: the closures
    /// of its elements, the calls in `rest` rewritten.
    fn split(&mut self, stmt: &Stmt, rest: &mut [Stmt]) -> Option<Vec<Stmt>> {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        let syn::Pat::Ident(pat) = &local.pat else {
            return None;
        };
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let Expr::Closure(closure) = strip(&init.expr) else {
            return None;
        };
        if closure.asyncness.is_some() {
            return None;
        }
        let (before, tuple) = tuple_value(&closure.body)?;
        let name = &pat.ident;
        let mut uses = Uses { name, fine: true };
        for stmt in rest.iter() {
            uses.visit_stmt(stmt);
        }
        if !uses.fine {
            return None;
        }
        let parts: Vec<syn::Ident> = (0..tuple.elems.len())
            .map(|k| {
                let mut part = self.names.fresh(&format!("{name}_{k}"));
                part.set_span(pat.ident.span());
                part
            })
            .collect();
        let lets = parts
            .iter()
            .zip(&tuple.elems)
            .map(|(part, element)| {
                let mut one = closure.clone();
                one.output = syn::ReturnType::Default;
                *one.body = syn::parse_quote!({ #(#before)* #element });
                syn::parse_quote!(let #part = #one;)
            })
            .collect();
        let mut calls = Calls {
            name,
            parts: &parts,
        };
        for stmt in rest.iter_mut() {
            calls.visit_stmt_mut(stmt);
        }
        Some(lets)
    }
}

/// The `let`s before a closure's tuple and the tuple: `(a, b)` or `{ let t
/// = ..; (a, b) }`.
fn tuple_value(body: &Expr) -> Option<(Vec<Stmt>, syn::ExprTuple)> {
    match strip(body) {
        Expr::Tuple(tuple) if tuple.elems.len() > 1 => Some((Vec::new(), tuple.clone())),
        Expr::Block(block) if block.label.is_none() => {
            let (last, before) = block.block.stmts.split_last()?;
            let Stmt::Expr(Expr::Tuple(tuple), None) = last else {
                return None;
            };
            let lets = before.iter().all(|stmt| matches!(stmt, Stmt::Local(_)));
            (lets && tuple.elems.len() > 1).then(|| (before.to_vec(), tuple.clone()))
        }
        _ => None,
    }
}

/// Whether every use of the closure is a call with arguments that may be
/// computed once per element, and its name is not bound again.
struct Uses<'a> {
    name: &'a syn::Ident,
    fine: bool,
}

impl<'ast> Visit<'ast> for Uses<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::Call(call) if is_local(&call.func, self.name) => {
                if !call.args.iter().all(super::repeatable) {
                    self.fine = false;
                }
                for arg in &call.args {
                    self.visit_expr(arg);
                }
            }
            Expr::Path(_) if is_local(expr, self.name) => self.fine = false,
            _ => syn::visit::visit_expr(self, expr),
        }
    }

    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        if pat.ident == *self.name {
            self.fine = false;
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if identifiers(mac.tokens.clone()).contains(&self.name.to_string()) {
            self.fine = false;
        }
    }
}

/// Each call `f(args)` as `(f_0(args), f_1(args))`, and `f(args).1` as
/// `f_1(args)`.
struct Calls<'a> {
    name: &'a syn::Ident,
    parts: &'a [syn::Ident],
}

impl VisitMut for Calls<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        if let Expr::Field(field) = expr {
            if let (syn::Member::Unnamed(index), Expr::Tuple(tuple)) =
                (&field.member, strip(&field.base))
            {
                if let Some(element) = tuple.elems.iter().nth(index.index as usize) {
                    if self.is_part_call(element) {
                        *expr = element.clone();
                    }
                }
            }
            return;
        }
        let Expr::Call(call) = expr else {
            return;
        };
        if !is_local(&call.func, self.name) {
            return;
        }
        let args = &call.args;
        let calls = self.parts.iter().map(|part| quote::quote!(#part(#args)));
        *expr = syn::parse_quote!((#(#calls),*));
    }
}

impl Calls<'_> {
    fn is_part_call(&self, expr: &Expr) -> bool {
        matches!(expr, Expr::Call(call)
            if self.parts.iter().any(|part| is_local(&call.func, part)))
    }
}
