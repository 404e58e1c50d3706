//! Local buffers of rows, `let mut force = vec![[0.0; 3]; n];` (or
//! `[[0.0; 3]; 4]`, a matrix of vectors `vec![vec![0.0; m]; n]`, or one
//! written out, `let m = [[a, b], [c, d]];`), as one
//! flat buffer, `vec![0.0; 3 * n]`: `force[i][k]` is `force[3 * i + k]` (`k`
//! checked against the row's length unless it is a literal below it),
//! `force[i]` a view of the row's part, `force[i] = [a, b, c];` one write
//! per element, `force.len()` the count of rows, and a loop or a chain over
//! the rows (`for row in &force`, `force.iter()`) one over
//! `chunks_exact(3)`. A row length or count that is not a literal is
//! computed once, before the buffer (`let force_width: usize = m;`), as
//! `vec!` computes it once. The rest of the pipeline sees a buffer of
//! floats, whose elements it tracks.

use super::usize_literal;
use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use proc_macro2::{Ident, TokenStream};
use quote::{quote, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn row_buffers_as_flat(block: &mut syn::Block) {
    Flatten {
        buffers: Vec::new(),
        matrices: Vec::new(),
        names: Names::avoiding(identifiers(block.to_token_stream())),
    }
    .visit_block_mut(block);
}

/// The row buffers in scope, with their row length and, where it is not a
/// literal, the name of their count of rows.
struct Flatten {
    buffers: Vec<(Ident, Expr, Option<Ident>)>,
    /// The buffers whose rows are matrices (`Vec<[[f64; 4]; 4]>`), flat
    /// rows of `R * C` floats, with `C`, the length of a matrix's rows:
    /// `m[b][i][j]` is `m[R * C * b + C * i + j]`.
    matrices: Vec<(Ident, Expr)>,
    names: Names,
}

/// A repetition `[value; len]`, or `vec![value; len]` (`Some(true)`).
fn repeat_of(expr: &Expr) -> Option<(syn::ExprRepeat, bool)> {
    match strip(expr) {
        Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
            let tokens = &mac.mac.tokens;
            Some((syn::parse2(quote!([#tokens])).ok()?, true))
        }
        Expr::Repeat(repeat) => Some((repeat.clone(), false)),
        _ => None,
    }
}

/// A flat buffer's initializer and its row length.
struct FlatInit {
    init: Expr,
    width: Expr,
    /// `let`s of the row length and count that are not literals, to come
    /// before the buffer's, and the count's name.
    sizes: Vec<Stmt>,
    rows: Option<Ident>,
    /// For a buffer of matrices, the length of a matrix's rows.
    inner: Option<Expr>,
}

/// `vec![[0.0; N]; count]`, `[[0.0; N]; count]` or `vec![vec![0.0; N];
/// count]` bound to `name`: its flat initializer and `N`.
fn flat_init(name: &Ident, init: &Expr, names: &mut Names) -> Option<FlatInit> {
    if let Some(flat) = flat_literal(init) {
        return Some(flat);
    }
    let (repeat, is_vec) = repeat_of(init)?;
    let (row, row_is_vec) = repeat_of(&repeat.expr)?;
    if row_is_vec && !is_vec {
        return None;
    }
    // A buffer of matrices, `vec![[[0.0; C]; R]; n]`: rows of `R * C`.
    let matrix = match strip(&row.expr) {
        Expr::Repeat(inner) if !row_is_vec => {
            let (r, c) = (usize_literal(&row.len)?, usize_literal(&inner.len)?);
            Some((inner.clone(), r * c))
        }
        _ => None,
    };
    let (value, mut width, mut count) = match &matrix {
        Some((inner, size)) => {
            let size = proc_macro2::Literal::usize_unsuffixed(*size);
            (&inner.expr, syn::parse_quote!(#size), (*repeat.len).clone())
        }
        None => (&row.expr, (*row.len).clone(), (*repeat.len).clone()),
    };
    // A vector's sizes, computed once in the order `vec!` computes them
    // (the row's first).
    let mut sizes = Vec::new();
    let mut rows = None;
    if row_is_vec {
        for (size, role) in [(&mut width, "width"), (&mut count, "rows")] {
            if usize_literal(size).is_none() {
                let sized = names.fresh(&format!("{name}_{role}"));
                sizes.push(syn::parse_quote!(let #sized: usize = #size;));
                if role == "rows" {
                    rows = Some(sized.clone());
                }
                *size = syn::parse_quote!(#sized);
            }
        }
    }
    let (width, count) = (&width, &count);
    // Literal lengths multiplied here: an array's length stays a literal.
    let len: TokenStream = match (usize_literal(width), usize_literal(count)) {
        (Some(w), Some(c)) => {
            let n = proc_macro2::Literal::usize_unsuffixed(w * c);
            quote!(#n)
        }
        _ => quote!((#width) * (#count)),
    };
    let flat: Expr = match is_vec {
        true => syn::parse_quote!(vec![#value; #len]),
        false => syn::parse_quote!([#value; #len]),
    };
    Some(FlatInit {
        init: flat,
        width: width.clone(),
        sizes,
        rows,
        inner: matrix.map(|(inner, _)| (*inner.len).clone()),
    })
}

/// `let mut rows: Vec<[f64; 16]> = Vec::new();` (or `Vec::with_capacity(n)`,
/// `vec![]`): a buffer of rows that pushes fill, as a flat one, `Vec::new()`
/// (the forward pass writes a growing buffer's own, whatever its capacity).
fn growing_rows(pat: &syn::Pat, init: &Expr) -> Option<FlatInit> {
    let syn::Pat::Type(typed) = pat else {
        return None;
    };
    let Some(syn::Type::Array(row)) = crate::parse::signature::vec_element(&typed.ty) else {
        return None;
    };
    if !crate::lower::is_empty_vec(init) {
        return None;
    }
    // Rows of floats, or of matrices (`Vec<[[f64; 4]; 4]>`, rows of 16).
    let rows = usize_literal(&row.len)?;
    let (width, inner): (Expr, Option<Expr>) = match &*row.elem {
        syn::Type::Array(matrix_row) => {
            if matches!(&*matrix_row.elem, syn::Type::Array(_)) {
                return None;
            }
            let size =
                proc_macro2::Literal::usize_unsuffixed(rows * usize_literal(&matrix_row.len)?);
            (syn::parse_quote!(#size), Some(matrix_row.len.clone()))
        }
        _ => (row.len.clone(), None),
    };
    Some(FlatInit {
        init: syn::parse_quote!(::std::vec::Vec::new()),
        width,
        sizes: Vec::new(),
        rows: None,
        inner,
    })
}

/// A matrix written out, `[[a, b, c], [d, e, f]]` (rows of one length; or
/// a vector of them, `vec![vec![a, b], vec![c, d]]`, `vec![[a, b], [c,
/// d]]`): its elements in order, `[a, b, c, d, e, f]`.
fn flat_literal(init: &Expr) -> Option<FlatInit> {
    let (matrix, is_vec) = listed(init)?;
    let rows: Vec<Vec<Expr>> = matrix
        .iter()
        .map(|row| match listed(row) {
            // (A vector's rows are vectors or arrays; an array's, arrays.)
            Some((row, row_is_vec)) if is_vec || !row_is_vec => Some(row),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let width = rows.first()?.len();
    if width == 0 || rows.iter().any(|row| row.len() != width) {
        return None;
    }
    let elements = rows.iter().flatten();
    let width = proc_macro2::Literal::usize_unsuffixed(width);
    let init = match is_vec {
        true => syn::parse_quote!(vec![#(#elements),*]),
        false => syn::parse_quote!([#(#elements),*]),
    };
    Some(FlatInit {
        init,
        width: syn::parse_quote!(#width),
        sizes: Vec::new(),
        rows: None,
        inner: None,
    })
}

/// The elements of an array literal `[a, b]`, or of `vec![a, b]` (`true`).
fn listed(expr: &Expr) -> Option<(Vec<Expr>, bool)> {
    match strip(expr) {
        Expr::Array(array) => Some((array.elems.iter().cloned().collect(), false)),
        Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
            let tokens = &mac.mac.tokens;
            let array: syn::ExprArray = syn::parse2(quote!([#tokens])).ok()?;
            Some((array.elems.into_iter().collect(), true))
        }
        _ => None,
    }
}

impl Flatten {
    fn buffer(&self, expr: &Expr) -> Option<(Ident, Expr)> {
        let Expr::Path(path) = strip(expr) else {
            return None;
        };
        let ident = path.path.get_ident()?;
        self.buffers
            .iter()
            .rev()
            .find(|(name, ..)| name == ident)
            .map(|(name, width, _)| (name.clone(), width.clone()))
    }

    /// The name of a buffer's count of rows, where it has one.
    fn rows(&self, name: &Ident) -> Option<Ident> {
        let found = self.buffers.iter().rev().find(|(b, ..)| b == name)?;
        found.2.clone()
    }

    /// The length of the rows of the matrices a buffer of them holds.
    fn matrix_rows(&self, name: &Ident) -> Option<Expr> {
        let (_, c) = self.matrices.iter().rev().find(|(m, _)| m == name)?;
        Some(c.clone())
    }

    /// The length of a matrix's rows where `expr` is one matrix of a buffer
    /// of them (`&m[b]` or `m[b]`).
    fn matrix_of(&self, expr: &Expr) -> Option<Expr> {
        let index = match strip(expr) {
            Expr::Reference(r) if r.mutability.is_none() => match strip(&r.expr) {
                Expr::Index(index) => index,
                _ => return None,
            },
            Expr::Index(index) => index,
            _ => return None,
        };
        if matches!(strip(&index.index), Expr::Range(_)) {
            return None;
        }
        let (name, _) = self.buffer(&index.expr)?;
        self.matrix_rows(&name)
    }

    /// In a buffer of matrices, `m[b][i][j]` as `m[W * b + C * i + j]`,
    /// and `m[b][i]`, a matrix's row, as the view of its part.
    fn matrix_element(&self, outer: &syn::ExprIndex) -> Option<Expr> {
        let ranged = |e: &Expr| matches!(strip(e), Expr::Range(_));
        let Expr::Index(middle) = strip(&outer.expr) else {
            return None;
        };
        if let Expr::Index(inner) = strip(&middle.expr) {
            // `m[b][i][j]`.
            let (name, width) = self.buffer(&inner.expr)?;
            let c = self.matrix_rows(&name)?;
            if [&inner.index, &middle.index, &outer.index]
                .into_iter()
                .any(|e| ranged(e))
            {
                return None;
            }
            let (b, i, j) = (&inner.index, &middle.index, &outer.index);
            let rows: Expr = syn::parse_quote!((#width) / (#c));
            let (i, j) = (within(i, &rows), within(j, &c));
            return Some(syn::parse_quote!(#name[(#width) * (#b) + (#c) * (#i) + #j]));
        }
        // `m[b][i]`: the row's view.
        let (name, width) = self.buffer(&middle.expr)?;
        let c = self.matrix_rows(&name)?;
        if ranged(&middle.index) || ranged(&outer.index) {
            return None;
        }
        let (b, i) = (&middle.index, &outer.index);
        let rows: Expr = syn::parse_quote!((#width) / (#c));
        let i = within(i, &rows);
        let start = quote!((#width) * (#b) + (#c) * (#i));
        Some(syn::parse_quote!((&#name[#start..#start + (#c)])))
    }

    /// `force[i][k]` as `force[N * i + k]`.
    fn element(&self, outer: &syn::ExprIndex) -> Option<Expr> {
        let Expr::Index(inner) = strip(&outer.expr) else {
            return None;
        };
        if matches!(strip(&inner.index), Expr::Range(_))
            || matches!(strip(&outer.index), Expr::Range(_))
        {
            return None;
        }
        let (name, width) = self.buffer(&inner.expr)?;
        let (i, k) = (&inner.index, &outer.index);
        let at = within(k, &width);
        Some(syn::parse_quote!(#name[(#width) * (#i) + #at]))
    }

    /// `&force[i]`: the view of the row's part of the flat buffer (its
    /// index rewritten too).
    fn row_view(&mut self, index: &syn::ExprIndex) -> Option<Expr> {
        let (name, start, width) = self.row(index)?;
        let mut part: Expr = syn::parse_quote!(&#name[#start..#start + #width]);
        syn::visit_mut::visit_expr_mut(self, &mut part);
        Some(part)
    }

    /// `force[i]`, a row: its part of the flat buffer.
    fn row(&self, index: &syn::ExprIndex) -> Option<(Ident, TokenStream, TokenStream)> {
        if matches!(strip(&index.index), Expr::Range(_)) {
            return None;
        }
        let (name, width) = self.buffer(&index.expr)?;
        let i = &index.index;
        Some((name, quote!((#width) * (#i)), quote!(#width)))
    }

    /// The array of a row's elements, `[force[3 * i], force[3 * i + 1],
    /// ..]`, for a `let` typed as an array of a literal length given a row
    /// by value.
    fn row_copied(&mut self, local: &syn::Local) -> Option<Expr> {
        let syn::Pat::Type(typed) = &local.pat else {
            return None;
        };
        let syn::Type::Array(array) = &*typed.ty else {
            return None;
        };
        let len = usize_literal(&array.len)?;
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let Expr::Index(index) = strip(&init.expr) else {
            return None;
        };
        let mut index = index.clone();
        self.visit_expr_mut(&mut index.index);
        let (name, start, _) = self.row(&index)?;
        let elements = (0..len).map(|k| {
            let k = proc_macro2::Literal::usize_unsuffixed(k);
            quote!(#name[#start + #k])
        });
        Some(syn::parse_quote!([#(#elements),*]))
    }

    /// `rows.push(row)` onto a growing buffer of rows: the row's elements
    /// pushed in turn (a literal's, or a local array's; another value is
    /// bound first).
    fn row_push(&mut self, expr: &Expr) -> Option<Stmt> {
        let Expr::MethodCall(call) = strip(expr) else {
            return None;
        };
        if call.method != "push" || call.args.len() != 1 {
            return None;
        }
        let (name, width) = self.buffer(&call.receiver)?;
        let mut row = call.args[0].clone();
        self.visit_expr_mut(&mut row);
        let k = quote::format_ident!("{}_row_k", name);
        Some(match strip(&row) {
            Expr::Array(array) => {
                let values = array.elems.iter();
                syn::parse_quote!({ #(#name.push(#values);)* })
            }
            Expr::Path(local) if local.path.get_ident().is_some() => {
                syn::parse_quote!(for #k in 0..#width { #name.push(#local[#k]); })
            }
            _ => {
                let pushed = quote::format_ident!("{}_pushed", name);
                syn::parse_quote!({
                    let #pushed = #row;
                    for #k in 0..#width { #name.push(#pushed[#k]); }
                })
            }
        })
    }

    /// `force[i] = [a, b];` (or `[x; N]`, or a local array `f`) as one
    /// write per element (the index and the values rewritten first: the
    /// writes are of the flat buffer already).
    fn row_assignment(&mut self, expr: &Expr) -> Option<Stmt> {
        let Expr::Assign(assign) = strip(expr) else {
            return None;
        };
        let Expr::Index(index) = strip(&assign.left) else {
            return None;
        };
        self.row(index)?;
        let mut assign = assign.clone();
        if let Expr::Index(index) = &mut *assign.left {
            self.visit_expr_mut(&mut index.index);
        }
        self.visit_expr_mut(&mut assign.right);
        let Expr::Index(index) = strip(&assign.left) else {
            return None;
        };
        let (name, start, width) = self.row(index)?;
        let start_name = quote::format_ident!("{}_row_start", name);
        let writes: Vec<TokenStream> = match strip(&assign.right) {
            // (A matrix's rows, `m[b] = [[a, b], [c, d]];`, in order.)
            Expr::Array(array) => array
                .elems
                .iter()
                .flat_map(|element| match strip(element) {
                    Expr::Array(row) => row.elems.iter().cloned().collect(),
                    _ => vec![element.clone()],
                })
                .enumerate()
                .map(|(k, value)| {
                    let k = proc_macro2::Literal::usize_unsuffixed(k);
                    quote!(#name[#start_name + #k] = #value;)
                })
                .collect(),
            Expr::Repeat(repeat) => {
                let value = &repeat.expr;
                let k = quote::format_ident!("{}_row_k", name);
                vec![quote!(for #k in 0..#width { #name[#start_name + #k] = #value; })]
            }
            // A local array of the row's length, `force[i] = f;`.
            Expr::Path(row) if row.path.get_ident().is_some() => {
                let k = quote::format_ident!("{}_row_k", name);
                vec![quote!(for #k in 0..#width { #name[#start_name + #k] = #row[#k]; })]
            }
            _ => return None,
        };
        Some(syn::parse_quote!({ let #start_name: usize = #start; #(#writes)* }))
    }
}

impl Flatten {
    /// A loop over a literal of rows by value, `for c in [[x, y], [0.0,
    /// 1.0]]`, as a loop over a buffer of them bound first: `let rows =
    /// [[x, y], [0.0, 1.0]]; for c in &rows`.
    fn row_literals_bound(&mut self, stmts: Vec<Stmt>) -> Vec<Stmt> {
        let mut bound = Vec::with_capacity(stmts.len());
        for mut stmt in stmts {
            if let Stmt::Expr(Expr::ForLoop(looped), _) = &mut stmt {
                if literal_of_rows(&looped.expr) && immutable_name(&looped.pat) {
                    let rows = self.names.fresh("rows");
                    let literal = &looped.expr;
                    bound.push(syn::parse_quote!(let #rows = #literal;));
                    *looped.expr = syn::parse_quote!(&#rows);
                }
            }
            bound.push(stmt);
        }
        bound
    }
}

/// An index `k` into a row of `n`: as it is where a literal below `n`,
/// else checked against `n` (the flat buffer would not catch it).
fn within(k: &Expr, n: &Expr) -> TokenStream {
    match (usize_literal(k), usize_literal(n)) {
        (Some(k), Some(n)) if k < n => quote!(#k),
        _ => quote!(::backprop_runtime::model::fields::within(#k, #n)),
    }
}

/// `[[a, b], [c, d]]` or `[[0.0; 2]; 3]`: a literal of rows.
fn literal_of_rows(expr: &Expr) -> bool {
    let row = |e: &Expr| matches!(strip(e), Expr::Array(_) | Expr::Repeat(_));
    match strip(expr) {
        Expr::Array(outer) => !outer.elems.is_empty() && outer.elems.iter().all(row),
        Expr::Repeat(outer) => row(&outer.expr),
        _ => false,
    }
}

/// A loop variable bound by name and not `mut`: its rows may be views.
fn immutable_name(pat: &syn::Pat) -> bool {
    matches!(pat, syn::Pat::Ident(p) if p.by_ref.is_none() && p.mutability.is_none() && p.subpat.is_none())
}

impl VisitMut for Flatten {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        let in_scope = self.buffers.len();
        let matrices_in_scope = self.matrices.len();
        let stmts = self.row_literals_bound(std::mem::take(&mut block.stmts));
        for mut stmt in stmts {
            match &mut stmt {
                Stmt::Local(local) => {
                    let named = match &local.pat {
                        syn::Pat::Ident(p) => Some(p.ident.clone()),
                        syn::Pat::Type(t) => match &*t.pat {
                            syn::Pat::Ident(p) => Some(p.ident.clone()),
                            _ => None,
                        },
                        _ => None,
                    };
                    // `let a = &m[b];` of a buffer of matrices: the length
                    // of the matrix's rows, read before the rewrite.
                    let matrix_row = local
                        .init
                        .as_ref()
                        .and_then(|init| self.matrix_of(&init.expr));
                    // `let v: [f64; 3] = force[i];` (a helper's parameter
                    // given a row): the row's elements, copied.
                    if let Some(copy) = self.row_copied(local) {
                        if let Some(init) = &mut local.init {
                            *init.expr = copy;
                        }
                    } else if let Some(init) = &mut local.init {
                        self.visit_expr_mut(&mut init.expr);
                    }
                    // A name bound again is no longer the buffer.
                    if let Some(name) = &named {
                        self.buffers.retain(|(b, ..)| b != name);
                        self.matrices.retain(|(b, _)| b != name);
                    }
                    // A copy of a buffer of rows, `let r = out;` (a plain
                    // helper's local returned, inlined), is one too.
                    let copied = local
                        .init
                        .as_ref()
                        .filter(|init| init.diverge.is_none())
                        .and_then(|init| self.buffer(&init.expr))
                        .map(|(source, width)| (width, self.rows(&source)));
                    let flat = match (&named, &local.init) {
                        (Some(name), Some(init)) => flat_init(name, &init.expr, &mut self.names)
                            .or_else(|| growing_rows(&local.pat, &init.expr)),
                        _ => None,
                    };
                    let buffer = match (flat, matrix_row, copied) {
                        (Some(flat), ..) => {
                            if let Some(init) = &mut local.init {
                                *init.expr = flat.init;
                            }
                            block.stmts.extend(flat.sizes);
                            Some((flat.width, flat.rows, flat.inner))
                        }
                        // One matrix of a buffer of them (`let a =
                        // &absolutes[b];`, a helper's parameter): a buffer
                        // of its rows.
                        (None, Some(inner), _) => Some((inner, None, None)),
                        (None, None, copied) => copied.map(|(width, rows)| (width, rows, None)),
                    };
                    if let (Some(name), Some((width, rows, inner))) = (named, buffer) {
                        // Flat now: the type written for its rows goes.
                        if let syn::Pat::Type(t) = &local.pat {
                            local.pat = (*t.pat).clone();
                        }
                        if let Some(inner) = inner {
                            self.matrices.push((name.clone(), inner));
                        }
                        self.buffers.push((name, width, rows));
                    }
                }
                Stmt::Expr(expr, Some(_)) => {
                    match self.row_assignment(expr).or_else(|| self.row_push(expr)) {
                        Some(writes) => stmt = writes,
                        None => self.visit_expr_mut(expr),
                    }
                }
                other => self.visit_stmt_mut(other),
            }
            block.stmts.push(stmt);
        }
        self.buffers.truncate(in_scope);
        self.matrices.truncate(matrices_in_scope);
    }

    // `vec![0.0; force.len()]`: what a macro is given is read as
    // everywhere else (the count of rows, not of floats).
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        crate::parse::method::visit_macro_arguments(self, mac);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if self.buffers.is_empty() {
            return syn::visit_mut::visit_expr_mut(self, expr);
        }
        match expr {
            Expr::Index(outer) => {
                if let Some(mut flat) = self.matrix_element(outer) {
                    syn::visit_mut::visit_expr_mut(self, &mut flat);
                    *expr = flat;
                    return;
                }
                if let Some(mut flat) = self.element(outer) {
                    syn::visit_mut::visit_expr_mut(self, &mut flat);
                    *expr = flat;
                    return;
                }
                if let Some(view) = self.row_view(outer) {
                    *expr = syn::parse_quote!((#view));
                    return;
                }
            }
            // `&force[i]`: the view itself.
            Expr::Reference(r) if r.mutability.is_none() => {
                let view = match strip(&r.expr) {
                    Expr::Index(index) if self.element(index).is_none() => self.row_view(index),
                    _ => None,
                };
                if let Some(view) = view {
                    *expr = view;
                    return;
                }
            }
            Expr::MethodCall(call) if call.method == "len" && call.args.is_empty() => {
                // A row's length, `force[i].len()`: the rows' width.
                if let Expr::Index(index) = strip(&call.receiver) {
                    if let Some((_, _, width)) = self.row(index) {
                        *expr = syn::parse_quote!((#width));
                        return;
                    }
                }
                if let Some((name, width)) = self.buffer(&call.receiver) {
                    *expr = match self.rows(&name) {
                        Some(rows) => syn::parse_quote!(#rows),
                        None => syn::parse_quote!((#name.len() / (#width))),
                    };
                    return;
                }
            }
            // `force.iter()`, the rows, in a chain.
            Expr::MethodCall(call) if call.method == "iter" && call.args.is_empty() => {
                if let Some((name, width)) = self.buffer(&call.receiver) {
                    *expr = syn::parse_quote!(#name.chunks_exact(#width));
                    return;
                }
            }
            // `force.swap(i, j)` swaps rows: each of their elements in turn
            // (the flat buffer's own `swap` would swap two floats).
            Expr::MethodCall(call) if call.method == "swap" && call.args.len() == 2 => {
                if let Some((name, width)) = self.buffer(&call.receiver) {
                    let (mut i, mut j) = (call.args[0].clone(), call.args[1].clone());
                    self.visit_expr_mut(&mut i);
                    self.visit_expr_mut(&mut j);
                    let [first, second, k] = ["first", "second", "k"]
                        .map(|w| quote::format_ident!("{}_swap_{}", name, w));
                    *expr = syn::parse_quote!({
                        let (#first, #second): (usize, usize) = (#i, #j);
                        for #k in 0..#width {
                            #name.swap((#width) * #first + #k, (#width) * #second + #k);
                        }
                    });
                    return;
                }
            }
            Expr::ForLoop(looped) => {
                let over = match strip(&looped.expr) {
                    Expr::Reference(r) if r.mutability.is_none() => self.buffer(&r.expr),
                    Expr::MethodCall(call) if call.method == "iter" && call.args.is_empty() => {
                        self.buffer(&call.receiver)
                    }
                    // By value, `for row in force`: the same rows, where the
                    // body only reads its row (it may not name the buffer,
                    // which the copied rows would not see changed).
                    by_value @ Expr::Path(_) if immutable_name(&looped.pat) => {
                        self.buffer(by_value).filter(|(name, _)| {
                            !identifiers(looped.body.to_token_stream()).contains(&name.to_string())
                        })
                    }
                    _ => None,
                };
                if let Some((name, width)) = over {
                    *looped.expr = syn::parse_quote!(#name.chunks_exact(#width));
                }
            }
            _ => {}
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}

/// A loop over the rows of a parameter the function does not differentiate
/// (`for p in points`, `.iter()`, `.iter().enumerate()` of `points: &[[f64;
/// 3]]` left out of `wrt`) as a loop over their indices, `p[k]` read as
/// `points[i][k]`: a read of data the backward pass can do again, where a
/// loop over the rows themselves is one it cannot run again, so that every
/// value computed from a row would be saved.
pub fn data_row_loops_by_index(function: &mut syn::ItemFn) {
    let rows: Vec<Ident> = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(typed) => match (&*typed.pat, is_rows(&typed.ty)) {
                (syn::Pat::Ident(p), true) => Some(p.ident.clone()),
                _ => None,
            },
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    if !rows.is_empty() {
        DataRows { rows: &rows }.visit_block_mut(&mut function.block);
    }
}

/// `&[[f64; 3]]`, `&[Vec<f64>]`, `&Vec<[f64; 2]>`: rows of anything.
fn is_rows(ty: &syn::Type) -> bool {
    let syn::Type::Reference(r) = ty else {
        return false;
    };
    let element = match &*r.elem {
        syn::Type::Slice(slice) => &*slice.elem,
        other => match crate::parse::signature::vec_element(other) {
            Some(element) => element,
            None => return false,
        },
    };
    matches!(element, syn::Type::Array(_))
        || crate::parse::signature::vec_element(element).is_some()
}

struct DataRows<'a> {
    rows: &'a [Ident],
}

impl DataRows<'_> {
    /// `points`, `&points`, `points.iter()`, `points.iter().enumerate()`:
    /// the rows, and whether they are enumerated.
    fn over(&self, iter: &Expr) -> Option<(Ident, bool)> {
        match strip(iter) {
            Expr::MethodCall(call) if call.method == "enumerate" && call.args.is_empty() => {
                let (rows, enumerated) = self.over(&call.receiver)?;
                (!enumerated).then_some((rows, true))
            }
            Expr::MethodCall(call) if call.method == "iter" && call.args.is_empty() => {
                self.over(&call.receiver)
            }
            Expr::Reference(r) if r.mutability.is_none() => self.over(&r.expr),
            Expr::Path(p) => {
                let ident = p.path.get_ident().filter(|i| self.rows.contains(i))?;
                Some((ident.clone(), false))
            }
            _ => None,
        }
    }
}

impl VisitMut for DataRows<'_> {
    fn visit_expr_for_loop_mut(&mut self, looped: &mut syn::ExprForLoop) {
        syn::visit_mut::visit_expr_for_loop_mut(self, looped);
        let Some((rows, enumerated)) = self.over(&looped.expr) else {
            return;
        };
        let name = |pat: &syn::Pat| match pat {
            syn::Pat::Ident(p)
                if p.by_ref.is_none() && p.subpat.is_none() && p.mutability.is_none() =>
            {
                Some(p.ident.clone())
            }
            _ => None,
        };
        let (index, row) = match (&*looped.pat, enumerated) {
            (syn::Pat::Tuple(t), true) if t.elems.len() == 2 => {
                match (name(&t.elems[0]), name(&t.elems[1])) {
                    (Some(i), Some(row)) => (i, row),
                    _ => return,
                }
            }
            (pat, false) => match name(pat) {
                Some(row) => (quote::format_ident!("{}_index", row), row),
                None => return,
            },
            _ => return,
        };
        // The row's name bound again inside, or the index's name used: left
        // as written.
        if crate::desugar::rebound_inside(&looped.body, &row)
            || crate::emit::names::identifiers(quote!(#looped)).contains(&index.to_string())
                && !enumerated
        {
            return;
        }
        ReadByIndex {
            row: &row,
            place: syn::parse_quote!(#rows[#index]),
        }
        .visit_block_mut(&mut looped.body);
        *looped.pat = syn::parse_quote!(#index);
        *looped.expr = syn::parse_quote!(0..#rows.len());
    }
}

/// `p[k]` as `points[i][k]`, and `p` itself as `(&points[i])`.
struct ReadByIndex<'a> {
    row: &'a Ident,
    place: Expr,
}

impl VisitMut for ReadByIndex<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Path(path) = &*expr {
            if path.path.is_ident(self.row) {
                let place = &self.place;
                *expr = syn::parse_quote!((&#place));
                return;
            }
        }
        if let Expr::Index(index) = expr {
            if matches!(strip(&index.expr), Expr::Path(p) if p.path.is_ident(self.row)) {
                self.visit_expr_mut(&mut index.index);
                *index.expr = self.place.clone();
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        crate::parse::method::visit_macro_arguments(self, mac);
    }
}
