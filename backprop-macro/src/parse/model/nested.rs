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
/// structs or of rows of floats, as `(owner, field, rows)`.
pub(super) fn find(body: &syn::Block, owners: &[Ident]) -> Vec<(Ident, Ident, bool)> {
    let mut finder = Finder {
        owners,
        structs: Evidence::default(),
        rows: Evidence::default(),
        members_of: BTreeSet::new(),
        indexed_names: BTreeSet::new(),
    };
    finder.visit_block(body);
    let found = finder.structs.fields(&finder.members_of);
    let mut rows = finder.rows.fields(&finder.indexed_names);
    // (A field found both ways is a slice of structs: its elements' members
    // are read.)
    rows.retain(|chain| !found.contains(chain));
    let structs = found.into_iter().map(|(o, f)| (o, f, false));
    structs
        .chain(rows.into_iter().map(|(o, f)| (o, f, true)))
        .collect()
}

/// The first `owner.field` of the body, where a message points.
pub(super) fn first_use(body: &syn::Block, owner: &Ident, field: &Ident) -> Option<Expr> {
    struct First<'a> {
        owner: &'a Ident,
        field: &'a Ident,
        found: Option<Expr>,
    }
    impl<'ast> Visit<'ast> for First<'_> {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            if self.found.is_some() {
                return;
            }
            if let Expr::Field(f) = expr {
                let named = matches!(&f.member, syn::Member::Named(m) if m == self.field);
                let of_owner =
                    matches!(strip(&f.base), Expr::Path(p) if p.path.is_ident(self.owner));
                if named && of_owner {
                    self.found = Some(expr.clone());
                    return;
                }
            }
            syn::visit::visit_expr(self, expr);
        }
    }
    let mut first = First {
        owner,
        field,
        found: None,
    };
    first.visit_block(body);
    first.found
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
    /// That a field holds structs: read as `owner.field[i].member`, or its
    /// elements, bound by loops, `let`s and closures of chains over it,
    /// read by member or taken apart by a struct pattern.
    structs: Evidence,
    /// That a field holds rows: read as `owner.field[i][k]`, or its
    /// elements, bound by plain iteration or an index (not chunks or parts,
    /// which are slices of floats), indexed or taken apart by an array
    /// pattern.
    rows: Evidence,
    /// Names whose members the body reads (`layer.w`).
    members_of: BTreeSet<Ident>,
    /// Names the body indexes (`p[k]`).
    indexed_names: BTreeSet<Ident>,
}

/// What says a field holds structs (or rows): fields found outright, and
/// names bound to their elements, which count where they are used so.
#[derive(Default)]
struct Evidence {
    found: BTreeSet<(Ident, Ident)>,
    bound: Vec<(Ident, (Ident, Ident))>,
}

impl Evidence {
    /// Names bound to elements of `chain` by `pat`; `outright` (a pattern
    /// that takes an element apart so) finds the field itself.
    fn bind(&mut self, bound: Bound, outright: bool, chain: &(Ident, Ident)) {
        if outright {
            self.found.insert(chain.clone());
        }
        self.bound
            .extend(bound.names.into_iter().map(|name| (name, chain.clone())));
    }

    /// The fields found, with those whose element's name is `used`.
    fn fields(self, used: &BTreeSet<Ident>) -> BTreeSet<(Ident, Ident)> {
        let mut found = self.found;
        for (name, chain) in self.bound {
            if used.contains(&name) {
                found.insert(chain);
            }
        }
        found
    }
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

    /// The `owner.field` an element comes from by plain iteration or an
    /// index: `&model.pts`, `model.pts.iter().enumerate()`, `model.pts[i]`.
    fn element_root(&self, expr: &Expr) -> Option<(Ident, Ident)> {
        if let Some(found) = self.field_of(expr) {
            return Some(found);
        }
        const PLAIN: &[&str] = &[
            "iter",
            "into_iter",
            "enumerate",
            "zip",
            "skip",
            "take",
            "rev",
            "step_by",
        ];
        match strip(expr) {
            Expr::MethodCall(call) if PLAIN.iter().any(|m| call.method == m) => {
                self.element_root(&call.receiver)
            }
            Expr::Reference(r) => self.element_root(&r.expr),
            Expr::Index(index) if !matches!(strip(&index.index), Expr::Range(_)) => {
                self.field_of(&index.expr)
            }
            _ => None,
        }
    }

    /// Names bound to rows of `chain` by `pat`.
    fn bind_rows(&mut self, pat: &syn::Pat, chain: &(Ident, Ident)) {
        let bound = Bound::of(pat);
        let outright = bound.array;
        self.rows.bind(bound, outright, chain);
    }

    /// Names bound to elements of `chain` by `pat`.
    fn bind(&mut self, pat: &syn::Pat, chain: &(Ident, Ident)) {
        let bound = Bound::of(pat);
        let outright = bound.structure;
        self.structs.bind(bound, outright, chain);
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        if let Expr::Index(outer) = expr {
            match strip(&outer.expr) {
                // `model.pts[i][k]`.
                Expr::Index(inner) => {
                    if let Some(chain) = self.field_of(&inner.expr) {
                        self.rows.found.insert(chain);
                    }
                }
                Expr::Path(path) => {
                    if let Some(name) = path.path.get_ident() {
                        self.indexed_names.insert(name.clone());
                    }
                }
                _ => {}
            }
        }
        match expr {
            Expr::Field(field) => match strip(&field.base) {
                Expr::Index(index) => {
                    if let Some(chain) = self.field_of(&index.expr) {
                        self.structs.found.insert(chain);
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
                if let Some(chain) = self.element_root(&looped.expr) {
                    self.bind_rows(&looped.pat, &chain);
                }
            }
            Expr::MethodCall(call) => {
                if let Some(chain) = self.root(&call.receiver) {
                    let rows = self.element_root(&call.receiver);
                    for arg in &call.args {
                        if let Expr::Closure(closure) = strip(arg) {
                            for input in &closure.inputs {
                                self.bind(input, &chain);
                                if let Some(rows) = &rows {
                                    self.bind_rows(input, rows);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        syn::visit::visit_expr(self, expr);
    }

    /// A macro's arguments are code too (`vec![layer.w[0], x]`).
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        crate::parse::method::read_macro_arguments(self, mac);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let Some(init) = &local.init {
            if let Some(chain) = self.root(&init.expr) {
                self.bind(&local.pat, &chain);
            }
            // (A `let` binds a row only by an index: `let p = &model.pts[i];`;
            // `let w = model.w;` binds the field itself.)
            let indexed = match strip(&init.expr) {
                Expr::Reference(r) => matches!(strip(&r.expr), Expr::Index(_)),
                other => matches!(other, Expr::Index(_)),
            };
            if let Some(chain) = self.element_root(&init.expr).filter(|_| indexed) {
                self.bind_rows(&local.pat, &chain);
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

/// What a pattern binds: its names, and whether it takes a struct or an
/// array apart.
#[derive(Default)]
struct Bound {
    names: Vec<Ident>,
    structure: bool,
    array: bool,
}

impl Bound {
    fn of(pat: &syn::Pat) -> Bound {
        let mut bound = Bound::default();
        bound.visit_pat(pat);
        bound
    }
}

impl<'ast> Visit<'ast> for Bound {
    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        self.names.push(pat.ident.clone());
    }
    fn visit_pat_struct(&mut self, pat: &'ast syn::PatStruct) {
        self.structure = true;
        syn::visit::visit_pat_struct(self, pat);
    }
    fn visit_pat_slice(&mut self, pat: &'ast syn::PatSlice) {
        self.array = true;
        syn::visit::visit_pat_slice(self, pat);
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
