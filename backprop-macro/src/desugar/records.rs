//! A local struct built from a literal and used only through its fields,
//! `let mut s = State { x: 1.0, v: 0.0 }; .. s.v += a * dt; .. s.x`, is one
//! local per field: `let mut s_x = 1.0; let mut s_v = 0.0; .. s_v += a * dt;
//! .. s_x` (scalar replacement of aggregates). Assigning a literal again,
//! `s = State { x: .., v: .. };`, assigns every field at once. A struct used
//! otherwise (passed whole, returned, a method called) is left as written.

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use quote::ToTokens;
use std::collections::BTreeMap;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn struct_locals_as_fields(block: &mut syn::Block) {
    let mut names = Names::avoiding(identifiers(block.to_token_stream()));
    Splitter { names: &mut names }.visit_block_mut(block);
}

struct Splitter<'a> {
    names: &'a mut Names,
}

impl VisitMut for Splitter<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        let mut k = 0;
        while k < block.stmts.len() {
            if let Some(split) = self.split(&block.stmts[k], &block.stmts[k + 1..]) {
                let Split {
                    lets,
                    fields,
                    local,
                } = split;
                let count = lets.len();
                block.stmts.splice(k..=k, lets);
                let mut replace = Replace {
                    local: &local,
                    fields: &fields,
                };
                for stmt in &mut block.stmts[k + count..] {
                    replace.visit_stmt_mut(stmt);
                }
                k += count;
                continue;
            }
            k += 1;
        }
        syn::visit_mut::visit_block_mut(self, block);
    }
}

struct Split {
    lets: Vec<Stmt>,
    /// Each field's local.
    fields: BTreeMap<String, Ident>,
    local: Ident,
}

impl Splitter<'_> {
    /// `let [mut] s = Path { a: .., b: .. };` whose later uses are all of
    /// its fields (or literals assigned to it whole).
    fn split(&mut self, stmt: &Stmt, rest: &[Stmt]) -> Option<Split> {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        let syn::Pat::Ident(pat) = &local.pat else {
            return None;
        };
        if pat.by_ref.is_some() || pat.subpat.is_some() {
            return None;
        }
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let Expr::Struct(literal) = strip(&init.expr) else {
            return None;
        };
        let field_names = literal_fields(literal)?;
        let ident = &pat.ident;
        let mut check = Uses {
            local: ident,
            fields: &field_names,
            fine: true,
        };
        for stmt in rest {
            check.visit_stmt(stmt);
        }
        if !check.fine {
            return None;
        }
        let mutability = &pat.mutability;
        let mut fields = BTreeMap::new();
        let mut lets = Vec::new();
        for field in &literal.fields {
            let syn::Member::Named(name) = &field.member else {
                return None;
            };
            let local_name = self.names.fresh(&format!("{ident}_{name}"));
            let value = &field.expr;
            lets.push(syn::parse_quote!(let #mutability #local_name = #value;));
            fields.insert(name.to_string(), local_name);
        }
        Some(Split {
            lets,
            fields,
            local: ident.clone(),
        })
    }
}

/// The named fields of a literal without `..base`, in order.
fn literal_fields(literal: &syn::ExprStruct) -> Option<Vec<String>> {
    if literal.rest.is_some() || literal.dot2_token.is_some() || literal.qself.is_some() {
        return None;
    }
    literal
        .fields
        .iter()
        .map(|f| match &f.member {
            syn::Member::Named(name) => Some(name.to_string()),
            syn::Member::Unnamed(_) => None,
        })
        .collect()
}

/// Whether every use of the local is a field of it, or an assignment of a
/// literal with the same fields to it; and it is not bound again.
struct Uses<'a> {
    local: &'a Ident,
    fields: &'a [String],
    fine: bool,
}

impl<'ast> Visit<'ast> for Uses<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::Field(field) if is_local(&field.base, self.local) => {
                let known = matches!(&field.member, syn::Member::Named(name) if self.fields.contains(&name.to_string()));
                self.fine &= known;
                return;
            }
            Expr::Assign(assign) if is_local(&assign.left, self.local) => {
                let same = match strip(&assign.right) {
                    Expr::Struct(literal) => literal_fields(literal).is_some_and(|mut names| {
                        let mut expected = self.fields.to_vec();
                        names.sort();
                        expected.sort();
                        names == expected
                    }),
                    _ => false,
                };
                self.fine &= same;
                return self.visit_expr(&assign.right);
            }
            Expr::Path(_) if is_local(expr, self.local) => {
                self.fine = false;
                return;
            }
            _ => {}
        }
        syn::visit::visit_expr(self, expr);
    }

    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        // Bound again (or a closure's parameter of the same name).
        if pat.ident == *self.local {
            self.fine = false;
        }
        syn::visit::visit_pat_ident(self, pat);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Inside a macro the uses cannot be read reliably.
        if identifiers(mac.tokens.clone()).contains(&self.local.to_string()) {
            self.fine = false;
        }
    }
}

fn is_local(expr: &Expr, local: &Ident) -> bool {
    matches!(strip(expr), Expr::Path(p) if p.qself.is_none() && p.path.is_ident(local))
}

/// `s.x` becomes `s_x`; `s = State { x: a, v: b };` becomes
/// `(s_x, s_v) = (a, b);` (every value computed before any field changes).
struct Replace<'a> {
    local: &'a Ident,
    fields: &'a BTreeMap<String, Ident>,
}

impl VisitMut for Replace<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        match expr {
            Expr::Field(field) if is_local(&field.base, self.local) => {
                if let syn::Member::Named(name) = &field.member {
                    if let Some(local) = self.fields.get(&name.to_string()) {
                        let mut local = local.clone();
                        local.set_span(name.span());
                        *expr = syn::parse_quote!(#local);
                    }
                }
            }
            Expr::Assign(assign) if is_local(&assign.left, self.local) => {
                let Expr::Struct(literal) = strip(&assign.right) else {
                    return;
                };
                let (mut targets, mut values) = (Vec::new(), Vec::new());
                for field in &literal.fields {
                    if let syn::Member::Named(name) = &field.member {
                        if let Some(local) = self.fields.get(&name.to_string()) {
                            targets.push(local.clone());
                            values.push(field.expr.clone());
                        }
                    }
                }
                *expr = syn::parse_quote!((#(#targets,)*) = (#(#values,)*));
            }
            _ => {}
        }
    }
}
