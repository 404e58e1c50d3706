//! Slices of structs held by a struct parameter: `model.layers`, a
//! `Vec<Dense>` field of `model: &Mlp`. The body names it as a local of its
//! own (`model_layers`), which is then read as a slice of structs parameter
//! is (`elements.rs`, `flat.rs`); its gradient is the field of the owner's
//! gradient struct (`grad.model.layers`, a `Vec<DenseGrad>`).
//!
//! The macro sees tokens, not the struct: a field is taken for a slice of
//! structs where the body reads members of its elements, `model.layers[l].w`,
//! or of a name bound to one (`for layer in &model.layers { layer.w .. }`,
//! `let layer = &model.layers[l];`, a closure of a chain over it). A field
//! taken so wrongly does not compile (its elements have no members).

use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use std::collections::BTreeSet;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// The fields of `owners` (struct parameters) the body reads as slices of
/// structs, as `(owner, field)`.
pub(super) fn find(body: &syn::Block, owners: &[Ident]) -> Vec<(Ident, Ident)> {
    let mut finder = Finder {
        owners,
        indexed: BTreeSet::new(),
        bound: Vec::new(),
        members_of: BTreeSet::new(),
    };
    finder.visit_block(body);
    let mut found = finder.indexed;
    for (name, chain) in finder.bound {
        if finder.members_of.contains(&name) {
            found.insert(chain);
        }
    }
    found.into_iter().collect()
}

/// Every `owner.field` in the body named `local` instead.
pub(super) fn rename(body: &mut syn::Block, owner: &Ident, field: &Ident, local: &Ident) {
    Rename {
        owner,
        field,
        local,
    }
    .visit_block_mut(body);
}

struct Finder<'a> {
    owners: &'a [Ident],
    /// Read as `owner.field[i].member`.
    indexed: BTreeSet<(Ident, Ident)>,
    /// Names bound to elements of `owner.field`, by loops, `let`s and
    /// closures of chains over it.
    bound: Vec<(Ident, (Ident, Ident))>,
    /// Names whose members the body reads (`layer.w`).
    members_of: BTreeSet<Ident>,
}

impl Finder<'_> {
    /// `owner.field` of one of the owners.
    fn field_of(&self, expr: &Expr) -> Option<(Ident, Ident)> {
        let Expr::Field(field) = strip(expr) else {
            return None;
        };
        let syn::Member::Named(member) = &field.member else {
            return None;
        };
        let Expr::Path(path) = strip(&field.base) else {
            return None;
        };
        let owner = path.path.get_ident().filter(|o| self.owners.contains(o))?;
        Some((owner.clone(), member.clone()))
    }

    /// The `owner.field` a chain, a reference or an index starts from:
    /// `&model.layers`, `model.layers.iter().enumerate()`, `&model.layers[l]`.
    fn root(&self, expr: &Expr) -> Option<(Ident, Ident)> {
        if let Some(found) = self.field_of(expr) {
            return Some(found);
        }
        match strip(expr) {
            Expr::MethodCall(call) => self.root(&call.receiver),
            Expr::Reference(r) => self.root(&r.expr),
            Expr::Index(index) => self.root(&index.expr),
            _ => None,
        }
    }

    fn bind(&mut self, pat: &syn::Pat, chain: &(Ident, Ident)) {
        struct Names(Vec<Ident>, bool);
        impl<'ast> Visit<'ast> for Names {
            fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
                self.0.push(pat.ident.clone());
            }
            fn visit_pat_struct(&mut self, _: &'ast syn::PatStruct) {
                self.1 = true;
            }
        }
        let mut names = Names(Vec::new(), false);
        names.visit_pat(pat);
        // An element taken apart by a struct pattern is a struct.
        if names.1 {
            self.indexed.insert(chain.clone());
        }
        self.bound
            .extend(names.0.into_iter().map(|name| (name, chain.clone())));
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::Field(field) => match strip(&field.base) {
                Expr::Index(index) => {
                    if let Some(chain) = self.field_of(&index.expr) {
                        self.indexed.insert(chain);
                    }
                }
                Expr::Path(path) if matches!(field.member, syn::Member::Named(_)) => {
                    if let Some(name) = path.path.get_ident() {
                        self.members_of.insert(name.clone());
                    }
                }
                _ => {}
            },
            Expr::ForLoop(looped) => {
                if let Some(chain) = self.root(&looped.expr) {
                    self.bind(&looped.pat, &chain);
                }
            }
            Expr::MethodCall(call) => {
                if let Some(chain) = self.root(&call.receiver) {
                    for arg in &call.args {
                        if let Expr::Closure(closure) = strip(arg) {
                            for input in &closure.inputs {
                                self.bind(input, &chain);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        syn::visit::visit_expr(self, expr);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let Some(init) = &local.init {
            if let Some(chain) = self.root(&init.expr) {
                self.bind(&local.pat, &chain);
            }
            // `let Dense { w, .. } = layer;`: `layer` is a struct.
            let mut pat = &local.pat;
            if let syn::Pat::Reference(r) = pat {
                pat = &r.pat;
            }
            if let (syn::Pat::Struct(_), Expr::Path(path)) = (pat, strip(&init.expr)) {
                if let Some(name) = path.path.get_ident() {
                    self.members_of.insert(name.clone());
                }
            }
        }
        syn::visit::visit_local(self, local);
    }
}

struct Rename<'a> {
    owner: &'a Ident,
    field: &'a Ident,
    local: &'a Ident,
}

impl VisitMut for Rename<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Field(field) = &*expr {
            let named = matches!(&field.member, syn::Member::Named(m) if m == self.field);
            let of_owner =
                matches!(strip(&field.base), Expr::Path(p) if p.path.is_ident(self.owner));
            if named && of_owner {
                let mut local = self.local.clone();
                local.set_span(syn::spanned::Spanned::span(&field.member));
                *expr = syn::parse_quote!(#local);
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        crate::parse::method::visit_macro_arguments(self, mac);
    }
}
