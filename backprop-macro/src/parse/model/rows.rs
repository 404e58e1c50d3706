//! Slices of rows of floats (`points: &[[f64; 3]]`, `w: &[Vec<f64>]`,
//! `Vec<[f32; 2]>`): read as slices of structs whose one array field is the
//! row. The field is named `rows` here: `points[i][k]` is `points[i].rows[k]`,
//! and an element's name (`for p in points`, bound as `elements.rs` binds
//! one) is `p.rows` wherever the body reads it. The rest is the slices of
//! structs': the rows gathered into one vector cut where each starts
//! (`flat.rs`), the gradient a vector of rows (`wrappers/`).

use crate::emit::names::Names;
use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat};

/// The one field of a row: `points[i].rows`.
pub(super) fn field() -> Ident {
    quote::format_ident!("rows")
}

/// `[f64; 3]`, `Vec<f32>`, `[T; N]` of the float type parameter `T`.
pub(super) fn is_row(element: &syn::Type, float_param: Option<&Ident>) -> bool {
    let floats = |ty: &syn::Type| match ty {
        syn::Type::Path(p) if p.qself.is_none() => p
            .path
            .get_ident()
            .is_some_and(|i| i == "f64" || i == "f32" || float_param == Some(i)),
        _ => false,
    };
    match element {
        syn::Type::Array(array) => floats(&array.elem),
        other => crate::parse::signature::vec_element(other).is_some_and(floats),
    }
}

/// `for [x, y] in points` (and `&[x, y]`, inside the tuples of `enumerate`
/// and `zip`; and `for Dense { w, b, .. } in layers`): each element named,
/// `for points_row in points { let [x, y] = points_row; .. }`, so that it is
/// bound as an element, and its destructuring a `let` that `rows_as_fields`
/// (or `destructure.rs`) reads. `rows` here are all the slices.
pub(super) fn patterns_as_names(block: &mut syn::Block, rows: &[Ident], names: &mut Names) {
    if !rows.is_empty() {
        Patterns { rows, names }.visit_block_mut(block);
    }
}

struct Patterns<'a> {
    rows: &'a [Ident],
    names: &'a mut Names,
}

impl VisitMut for Patterns<'_> {
    fn visit_expr_for_loop_mut(&mut self, looped: &mut syn::ExprForLoop) {
        if let Some(slice) = root(&looped.expr).filter(|s| self.rows.contains(s)) {
            let mut lets = Vec::new();
            name_row_patterns(&mut looped.pat, &slice, self.names, &mut lets);
            for (k, stmt) in lets.into_iter().enumerate() {
                looped.body.stmts.insert(k, stmt);
            }
        }
        syn::visit_mut::visit_expr_for_loop_mut(self, looped);
    }
}

/// Each array or struct pattern in `pat` (`[x, y]`, `&[x, y]`, `Dense { w,
/// b, .. }`) replaced by a fresh name, and a `let` of the pattern from it.
fn name_row_patterns(pat: &mut Pat, slice: &Ident, names: &mut Names, lets: &mut Vec<syn::Stmt>) {
    let is_array = |p: &Pat| match p {
        Pat::Slice(_) | Pat::Struct(_) => true,
        Pat::Reference(r) => matches!(&*r.pat, Pat::Slice(_) | Pat::Struct(_)),
        _ => false,
    };
    if is_array(pat) {
        let row = names.fresh(&format!("{slice}_row"));
        let whole = pat.clone();
        lets.push(syn::parse_quote!(let #whole = #row;));
        *pat = syn::parse_quote!(#row);
        return;
    }
    match pat {
        Pat::Tuple(tuple) => {
            for inner in &mut tuple.elems {
                name_row_patterns(inner, slice, names, lets);
            }
        }
        Pat::Paren(inner) => name_row_patterns(&mut inner.pat, slice, names, lets),
        _ => {}
    }
}

/// The name an iterator chain starts from: `points` of
/// `points.iter().enumerate()` or `&points`.
fn root(expr: &Expr) -> Option<Ident> {
    match strip(expr) {
        Expr::MethodCall(call) => root(&call.receiver),
        Expr::Reference(r) => root(&r.expr),
        Expr::Path(p) => p.path.get_ident().cloned(),
        _ => None,
    }
}

/// The rows and their elements' names read as fields: `points[i]` becomes
/// `points[i].rows`, a name `p` bound to a row `p.rows` (`&p.rows` where it
/// is read whole), and `let [x, y, z] = points[i];` one `let` per float.
/// (What is left of `points` itself, its length or a use the slices of
/// structs refuse, stays.)
pub(super) fn rows_as_fields(
    block: &mut syn::Block,
    rows: &[Ident],
    aliases: &super::elements::Aliases,
) {
    if rows.is_empty() {
        return;
    }
    let names: Vec<Ident> = aliases
        .iter()
        .filter(|(_, slice)| rows.contains(slice))
        .map(|(alias, _)| alias.clone())
        .collect();
    let mut as_fields = AsFields {
        rows,
        aliases: &names,
        copied: Vec::new(),
    };
    as_fields.visit_block_mut(block);
    let copied = as_fields.copied;
    super::destructure::copies_read_as_values(block, &copied);
}

struct AsFields<'a> {
    rows: &'a [Ident],
    /// The names bound to rows.
    aliases: &'a [Ident],
    /// Floats a pattern bound by reference, bound to copies (`destructured`):
    /// `*x` reads them as values once the rows are fields.
    copied: Vec<Ident>,
}

impl AsFields<'_> {
    fn is_in(expr: &Expr, names: &[Ident]) -> Option<Ident> {
        match strip(expr) {
            Expr::Path(p) => p.path.get_ident().filter(|i| names.contains(i)).cloned(),
            _ => None,
        }
    }

    /// The row an expression is, and whether it is a reference to it:
    /// `points[i]` and `*p` are rows, `&points[i]` and `p` references.
    fn row_of(&self, expr: &Expr) -> Option<(Expr, bool)> {
        match strip(expr) {
            Expr::Reference(r) if r.mutability.is_none() => {
                let (row, by_ref) = self.row_of(&r.expr)?;
                (!by_ref).then_some((row, true))
            }
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => {
                let alias = Self::is_in(&u.expr, self.aliases)?;
                Some((syn::parse_quote!(#alias), false))
            }
            Expr::Index(index)
                if Self::is_in(&index.expr, self.rows).is_some()
                    && !matches!(strip(&index.index), Expr::Range(_)) =>
            {
                Some((Expr::Index(index.clone()), false))
            }
            other => {
                Self::is_in(other, self.aliases).map(|alias| (syn::parse_quote!(#alias), true))
            }
        }
    }

    /// `let [x, y] = points[i];` (or of `&points[i]`, `*p`, `p`, with
    /// `&[x, y]` too) as `let x = points[i][0]; let y = points[i][1];`. Where
    /// Rust's pattern binds references (`[x, y]` of `&points[i]`) the floats
    /// are copied all the same, their names put in `copied` (`*x` is `x`).
    fn destructured(&self, local: &syn::Local, copied: &mut Vec<Ident>) -> Option<Vec<syn::Stmt>> {
        let init = local.init.as_ref().filter(|i| i.diverge.is_none())?;
        let (row, init_by_ref) = self.row_of(&init.expr)?;
        let mut pat = &local.pat;
        if let Pat::Type(typed) = pat {
            pat = &typed.pat;
        }
        let (elems, by_ref) = match pat {
            Pat::Slice(slice) => (&slice.elems, init_by_ref),
            Pat::Reference(r) if init_by_ref => match &*r.pat {
                Pat::Slice(slice) => (&slice.elems, false),
                _ => return None,
            },
            _ => return None,
        };
        let mut lets = Vec::new();
        for (k, elem) in elems.iter().enumerate() {
            match elem {
                Pat::Wild(_) => {}
                Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                    let k = proc_macro2::Literal::usize_unsuffixed(k);
                    lets.push(syn::parse_quote!(let #ident = #row[#k];));
                    if by_ref {
                        copied.push(ident.ident.clone());
                    }
                }
                _ => return None,
            }
        }
        Some(lets)
    }
}

impl VisitMut for AsFields<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        let stmts = std::mem::take(&mut block.stmts);
        let mut copied = Vec::new();
        for stmt in stmts {
            match &stmt {
                syn::Stmt::Local(local) => match self.destructured(local, &mut copied) {
                    Some(lets) => block.stmts.extend(lets),
                    None => block.stmts.push(stmt),
                },
                _ => block.stmts.push(stmt),
            }
        }
        self.copied.extend(copied);
        syn::visit_mut::visit_block_mut(self, block);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        crate::parse::method::visit_macro_arguments(self, mac);
    }

    /// `let p = &points[i];` stays: it binds the element (`flat.rs`).
    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        if super::elements::element_binding(local, self.rows).is_some() {
            if let Some(init) = &mut local.init {
                if let Expr::Reference(r) = &mut *init.expr {
                    if let Expr::Index(index) = &mut *r.expr {
                        self.visit_expr_mut(&mut index.index);
                        return;
                    }
                }
            }
        }
        syn::visit_mut::visit_local_mut(self, local);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let rows = field();
        match expr {
            // (A part, `points[a..b]`, is not a row: it is looped over.)
            Expr::Index(index)
                if Self::is_in(&index.expr, self.rows).is_some()
                    && !matches!(strip(&index.index), Expr::Range(_)) =>
            {
                self.visit_expr_mut(&mut index.index);
                *expr = syn::parse_quote!(#expr.#rows);
            }
            Expr::Index(index) if Self::is_in(&index.expr, self.aliases).is_some() => {
                let alias = Self::is_in(&index.expr, self.aliases);
                self.visit_expr_mut(&mut index.index);
                *index.expr = syn::parse_quote!(#alias.#rows);
            }
            Expr::MethodCall(call) if Self::is_in(&call.receiver, self.aliases).is_some() => {
                let alias = Self::is_in(&call.receiver, self.aliases);
                for arg in &mut call.args {
                    self.visit_expr_mut(arg);
                }
                *call.receiver = syn::parse_quote!(#alias.#rows);
            }
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => {
                match Self::is_in(&u.expr, self.aliases) {
                    Some(alias) => *expr = syn::parse_quote!((&#alias.#rows)),
                    None => syn::visit_mut::visit_expr_mut(self, expr),
                }
            }
            Expr::Path(_) => {
                if let Some(alias) = Self::is_in(expr, self.aliases) {
                    *expr = syn::parse_quote!((&#alias.#rows));
                }
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }
}
