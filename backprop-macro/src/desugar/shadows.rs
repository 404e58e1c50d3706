//! A struct bound again by a `let`, inside a block nested in its own (`let
//! mut s = t; { let mut s = step(s, k); .. } .. s.x`) or later in the same
//! block (`let q = p; let q = step(q, k);`), is another value from there on.
//! `records` follows a struct by its name, so that `let` and the statements
//! after it in its block (up to the next `let` of the name) get a name of
//! their own first (`s_2`): two structs, each split into its own locals.

use crate::desugar::records::{plain_binding, whole_struct};
use crate::emit::names::{format_string_names, identifiers, Names};
use crate::lower::strip_parens as strip;
use quote::ToTokens;
use std::collections::BTreeSet;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn struct_shadows_renamed(block: &mut syn::Block) {
    let structs = struct_names(block);
    if structs.is_empty() {
        return;
    }
    Scopes {
        structs,
        scopes: Vec::new(),
        names: Names::avoiding(identifiers(block.to_token_stream())),
    }
    .visit_block_mut(block);
}

/// The names a `let` binds to a struct literal, or to a copy of a struct
/// so bound (`let t = s;`, `*s`, `s.clone()`).
fn struct_names(block: &syn::Block) -> BTreeSet<String> {
    struct Lets(Vec<(String, Expr)>);
    impl<'ast> Visit<'ast> for Lets {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            if let (Some(pat), Some(init)) = (plain_binding(&local.pat), &local.init) {
                self.0.push((pat.ident.to_string(), (*init.expr).clone()));
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut lets = Lets(Vec::new());
    lets.visit_block(block);
    let mut structs = BTreeSet::new();
    loop {
        let before = structs.len();
        for (name, init) in &lets.0 {
            let copy =
                whole_struct(init).is_some_and(|source| structs.contains(&source.to_string()));
            if matches!(strip(init), Expr::Struct(_)) || copy {
                structs.insert(name.clone());
            }
        }
        if structs.len() == before {
            return structs;
        }
    }
}

struct Scopes {
    structs: BTreeSet<String>,
    /// The names bound so far in each block enclosing the statement visited,
    /// outermost first, its own block's last.
    scopes: Vec<BTreeSet<String>>,
    names: Names,
}

impl Scopes {
    /// Bound already: by an earlier `let` of the current block or by one
    /// in a block enclosing it.
    fn bound_before(&self, name: &str) -> bool {
        self.scopes.iter().any(|scope| scope.contains(name))
    }
}

impl VisitMut for Scopes {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        self.scopes.push(BTreeSet::new());
        for k in 0..block.stmts.len() {
            let (before, after) = block.stmts.split_at_mut(k + 1);
            let Some(Stmt::Local(local)) = before.last_mut() else {
                self.visit_stmt_mut(&mut before[k]);
                continue;
            };
            // Its value is computed where the outer struct is still in scope.
            syn::visit_mut::visit_local_mut(self, local);
            let Some(name) = plain_binding(&local.pat).map(|pat| pat.ident.to_string()) else {
                continue;
            };
            // (A format string naming it, `"{s:?}"`, is not renamed: left
            // as written, `records` leaves the struct whole.)
            let shadows = self.structs.contains(&name)
                && self.bound_before(&name)
                && !named_in_format_string(after, &name);
            let bound = match shadows {
                true => {
                    let fresh = self.names.fresh(&name);
                    renamed_to_next_binding(local, after, &name, fresh.clone());
                    fresh.to_string()
                }
                false => name,
            };
            if let Some(scope) = self.scopes.last_mut() {
                scope.insert(bound);
            }
        }
        self.scopes.pop();
    }
}

/// `local` and the statements after it renamed up to the next `let` of the
/// same name in this block, whose value (computed from this one) is renamed
/// too, but not its name: that `let` is renamed in its turn, so each value
/// has a name of its own (`let s = ..; let s = step(s); let s = Body { ..s
/// }` is `s`, `s_2`, `s_3`), and `records` can tell the three apart.
fn renamed_to_next_binding(
    local: &mut syn::Local,
    after: &mut [Stmt],
    name: &str,
    fresh: syn::Ident,
) {
    let next = after.iter().position(|stmt| {
        matches!(stmt, Stmt::Local(l) if plain_binding(&l.pat).is_some_and(|p| p.ident == name))
    });
    let Some(next) = next else {
        crate::inline::substitute::rename_binding(local, after, name, fresh);
        return;
    };
    let (until, rest) = after.split_at_mut(next);
    crate::inline::substitute::rename_binding(local, until, name, fresh.clone());
    if let Some(Stmt::Local(rebinding)) = rest.first_mut() {
        if let Some(init) = &mut rebinding.init {
            let renames = [(syn::Ident::new(name, fresh.span()), fresh)];
            crate::inline::substitute::renamed(&mut init.expr, &renames);
            if let Some((_, otherwise)) = &mut init.diverge {
                crate::inline::substitute::renamed(otherwise, &renames);
            }
        }
    }
}

fn named_in_format_string(stmts: &[Stmt], name: &str) -> bool {
    struct Finds<'a>(&'a str, bool);
    impl<'ast> Visit<'ast> for Finds<'_> {
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            self.1 |= format_string_names(mac.tokens.clone()).contains(self.0);
        }
    }
    let mut finds = Finds(name, false);
    for stmt in stmts {
        finds.visit_stmt(stmt);
    }
    finds.1
}
