//! An array chosen by a branch, `let v = if c { [a, b] } else { [b, a] };`
//! (or a matrix, `[[..], [..]]`, as a helper with an early return gives
//! once inlined), as one variable per element that each arm sets at its
//! end, then the array built from them: `let mut v_0 = 0.0; let mut v_1 =
//! 0.0; if c { v_0 = a; v_1 = b; } else { v_0 = b; v_1 = a; } let v =
//! [v_0, v_1];`. The arms' own statements stay where they are, once.
//! The shape comes from an arm that ends in a literal or in a local array
//! whose `let`s all give it one shape (`let out = [0.0; 16];`, as an inlined
//! helper returns); an arm may end in a name of an array of that shape
//! (`relative`), read element by element, or in a branch of its own (`else
//! if`). Anything else is left as written.

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use std::collections::HashMap;
use syn::{Expr, Stmt};

pub fn array_branches_as_elements(block: &mut syn::Block, floats: &crate::ir::Floats) {
    let mut names = Names::avoiding(identifiers(block.to_token_stream()));
    let zero = floats.some_zero();
    let arrays = local_arrays(block);
    crate::desugar::statements_rewritten(block, |stmt| rewritten(stmt, &mut names, &zero, &arrays));
}

/// The shapes of the local arrays, by name, where every `let` of the name
/// gives the same: `let out = [0.0; 16];`, `let r = [[a, b], [c, d]];`,
/// `let v: [f64; 3] = ..;`, `let copy = out;`.
fn local_arrays(block: &syn::Block) -> HashMap<String, Shape> {
    struct Lets(HashMap<String, Option<Shape>>);
    impl<'ast> syn::visit::Visit<'ast> for Lets {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            let (name, ty) = match &local.pat {
                syn::Pat::Ident(p) => (p.ident.to_string(), None),
                syn::Pat::Type(typed) => match &*typed.pat {
                    syn::Pat::Ident(p) => (p.ident.to_string(), Some(&*typed.ty)),
                    _ => return syn::visit::visit_local(self, local),
                },
                _ => return syn::visit::visit_local(self, local),
            };
            let init = local.init.as_ref().map(|init| strip(&init.expr));
            let shape = ty.and_then(type_shape).or_else(|| match init? {
                Expr::Path(p) => p
                    .path
                    .get_ident()
                    .and_then(|from| self.0.get(&from.to_string()).copied().flatten()),
                other => literal_shape(other).or_else(|| repeat_shape(other)),
            });
            let entry = self.0.entry(name).or_insert(shape);
            if *entry != shape {
                *entry = None;
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut lets = Lets(HashMap::new());
    syn::visit::Visit::visit_block(&mut lets, block);
    lets.0
        .into_iter()
        .filter_map(|(name, shape)| Some((name, shape?)))
        .collect()
}

/// `[f64; 3]` or `[[f64; 3]; 3]`, literal lengths.
fn type_shape(ty: &syn::Type) -> Option<Shape> {
    let syn::Type::Array(outer) = ty else {
        return None;
    };
    let len = crate::desugar::usize_literal(&outer.len)?;
    let row = match &*outer.elem {
        syn::Type::Array(inner) => Some(crate::desugar::usize_literal(&inner.len)?),
        _ => None,
    };
    Some(Shape { len, row })
}

/// `[x; 16]` or `[[x; 3]; 3]` (`[[a, b, c]; 3]`), literal lengths.
fn repeat_shape(expr: &Expr) -> Option<Shape> {
    let Expr::Repeat(outer) = expr else {
        return None;
    };
    let len = crate::desugar::usize_literal(&outer.len)?;
    let row = match strip(&outer.expr) {
        Expr::Repeat(inner) => Some(crate::desugar::usize_literal(&inner.len)?),
        Expr::Array(inner) => Some(inner.elems.len()),
        _ => None,
    };
    Some(Shape { len, row })
}

/// The shape of an array: its length, and its rows' where it is a matrix.
#[derive(Clone, Copy, PartialEq)]
struct Shape {
    len: usize,
    row: Option<usize>,
}

impl Shape {
    /// The indices of its elements, in order: `[i]` or `[i][j]`.
    fn indices(self) -> Vec<Vec<usize>> {
        match self.row {
            None => (0..self.len).map(|i| vec![i]).collect(),
            Some(row) => (0..self.len)
                .flat_map(|i| (0..row).map(move |j| vec![i, j]))
                .collect(),
        }
    }
}

/// `let v = if ..;` choosing an array: a variable per element, the branch
/// setting them, and the `let` of the array.
fn rewritten(
    stmt: &Stmt,
    names: &mut Names,
    zero: &TokenStream,
    arrays: &HashMap<String, Shape>,
) -> Option<Vec<Stmt>> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
    let Expr::If(branch) = strip(&init.expr) else {
        return None;
    };
    let pat = crate::desugar::records::plain_binding(&local.pat)?;
    let ty = match &local.pat {
        syn::Pat::Type(typed) => Some(&typed.ty),
        _ => None,
    };
    let shape = branch_shape(branch, arrays)?;
    let base = pat.ident.to_string();
    let elements: Vec<syn::Ident> = shape
        .indices()
        .iter()
        .map(|at| {
            let suffix: Vec<String> = at.iter().map(usize::to_string).collect();
            names.fresh(&format!("{base}_{}", suffix.join("_")))
        })
        .collect();
    let mut setting = branch.clone();
    set_in_arms(&mut setting, shape, &elements)?;
    let array: Expr = match shape.row {
        None => syn::parse_quote!([#(#elements),*]),
        Some(row) => {
            let rows = elements.chunks(row).map(|r| quote!([#(#r),*]));
            syn::parse_quote!([#(#rows),*])
        }
    };
    let (mutability, ident) = (&pat.mutability, &pat.ident);
    let typed = ty.map(|ty| quote!(: #ty));
    let mut stmts: Vec<Stmt> = elements
        .iter()
        .map(|element| syn::parse_quote!(let mut #element = #zero;))
        .collect();
    stmts.push(Stmt::Expr(Expr::If(setting), None));
    stmts.push(syn::parse_quote!(let #mutability #ident #typed = #array;));
    Some(stmts)
}

/// The shape of the literal or local array some arm ends in, where every
/// arm that ends in one agrees.
fn branch_shape(branch: &syn::ExprIf, arrays: &HashMap<String, Shape>) -> Option<Shape> {
    let mut shapes = Vec::new();
    arm_shapes(branch, arrays, &mut shapes);
    let first = *shapes.first()?;
    shapes.iter().all(|s| *s == first).then_some(first)
}

fn arm_shapes(branch: &syn::ExprIf, arrays: &HashMap<String, Shape>, shapes: &mut Vec<Shape>) {
    let tail = |block: &syn::Block, shapes: &mut Vec<Shape>| {
        if let Some(Stmt::Expr(expr, None)) = block.stmts.last() {
            match strip(expr) {
                Expr::If(inner) => arm_shapes(inner, arrays, shapes),
                Expr::Path(p) => shapes.extend(
                    p.path
                        .get_ident()
                        .and_then(|name| arrays.get(&name.to_string())),
                ),
                other => shapes.extend(literal_shape(other)),
            }
        }
    };
    tail(&branch.then_branch, shapes);
    match branch.else_branch.as_ref().map(|(_, e)| strip(e)) {
        Some(Expr::If(inner)) => arm_shapes(inner, arrays, shapes),
        Some(Expr::Block(block)) => tail(&block.block, shapes),
        _ => {}
    }
}

/// `[a, b]` or `[[a, b], [c, d]]` (rows of one length).
fn literal_shape(expr: &Expr) -> Option<Shape> {
    let Expr::Array(array) = expr else {
        return None;
    };
    let rows: Vec<Option<usize>> = array
        .elems
        .iter()
        .map(|e| match strip(e) {
            Expr::Array(row) => Some(row.elems.len()),
            _ => None,
        })
        .collect();
    match rows.first() {
        None => None,
        Some(None) if rows.iter().all(Option::is_none) => Some(Shape {
            len: rows.len(),
            row: None,
        }),
        Some(Some(row)) if rows.iter().all(|r| *r == Some(*row)) => Some(Shape {
            len: rows.len(),
            row: Some(*row),
        }),
        _ => None,
    }
}

/// Each arm's end as the assignments of the array's elements to
/// `elements`; `None` where one does not end in an array of `shape`, a
/// name, or a branch.
fn set_in_arms(branch: &mut syn::ExprIf, shape: Shape, elements: &[syn::Ident]) -> Option<()> {
    set_at_end(&mut branch.then_branch, shape, elements)?;
    match branch.else_branch.as_mut().map(|(_, e)| &mut **e) {
        Some(Expr::If(inner)) => set_in_arms(inner, shape, elements),
        Some(Expr::Block(block)) => set_at_end(&mut block.block, shape, elements),
        _ => None,
    }
}

fn set_at_end(block: &mut syn::Block, shape: Shape, elements: &[syn::Ident]) -> Option<()> {
    let Some(Stmt::Expr(tail, None)) = block.stmts.last_mut() else {
        return None;
    };
    if let Expr::If(inner) = tail {
        return set_in_arms(inner, shape, elements);
    }
    let values: Vec<Expr> = match strip(tail) {
        literal @ Expr::Array(array) if literal_shape(literal)? == shape => match shape.row {
            None => array.elems.iter().cloned().collect(),
            Some(_) => array
                .elems
                .iter()
                .flat_map(|row| match strip(row) {
                    Expr::Array(row) => row.elems.iter().cloned().collect(),
                    _ => Vec::new(),
                })
                .collect(),
        },
        Expr::Path(path) if path.path.get_ident().is_some() => shape
            .indices()
            .iter()
            .map(|at| {
                let at = at
                    .iter()
                    .map(|i| proc_macro2::Literal::usize_unsuffixed(*i));
                syn::parse_quote!(#path #([#at])*)
            })
            .collect(),
        _ => return None,
    };
    block.stmts.pop();
    for (element, value) in elements.iter().zip(values) {
        block.stmts.push(syn::parse_quote!(#element = #value;));
    }
    Some(())
}
