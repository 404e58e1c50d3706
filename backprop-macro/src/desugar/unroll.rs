//! A loop over a literal range of at most four iterations (`for i in 0..3`,
//! the coordinates of a point, the rows of a 3x3 matrix) written out as one
//! block per iteration with the variable replaced by its value: `{ ..
//! xo[0] .. } { .. xo[1] .. } { .. xo[2] .. }`, as a person differentiating
//! small geometry by hand writes it. What each iteration saves for the
//! backward pass becomes a field of the tape, where the loop pushed it on a
//! stack and read it back, and the indices become constants the compiler
//! checks once. (A range over a local array's length, `0..v.len()` of `let
//! v = [0.0; 3]`, counts as literal.)
//!
//! Left as loops: more iterations, or a body larger than `BODY_SIZE`
//! expressions (the code would grow more than the stack costs); a label or
//! an attribute; a body with a branch, a loop or an exit (`straight`); and a
//! variable bound again inside the body, named inside a macro, or used where
//! a bare literal would have no type (`untyped_use`).

use crate::lower::strip_parens as strip;
use std::collections::HashMap;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

/// At most this many iterations are written out.
const ITERATIONS: u64 = 4;
/// At most this many expressions in the body (counted after the loops
/// inside it are written out): four iterations of it are about as much
/// code as a function of a few dozen lines.
const BODY_SIZE: usize = 80;

pub fn short_loops_unrolled(block: &mut syn::Block) {
    let lengths = array_lengths(block);
    Unroll { lengths: &lengths }.visit_block_mut(block);
}

struct Unroll<'l> {
    /// Local arrays of a literal length, bound once in the function.
    lengths: &'l HashMap<String, u64>,
}

impl VisitMut for Unroll<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        // Inner loops first: a loop around them counts their copies.
        syn::visit_mut::visit_block_mut(self, block);
        let stmts = std::mem::take(&mut block.stmts);
        for stmt in stmts {
            match self.iterations(&stmt) {
                Some(copies) => block.stmts.extend(copies),
                None => block.stmts.push(stmt),
            }
        }
    }
}

impl Unroll<'_> {
    /// The blocks a statement `for i in a..b { .. }` is written out as.
    fn iterations(&self, stmt: &Stmt) -> Option<Vec<Stmt>> {
        let Stmt::Expr(Expr::ForLoop(for_loop), _) = stmt else {
            return None;
        };
        if for_loop.label.is_some() || !for_loop.attrs.is_empty() {
            return None;
        }
        let variable = match &*for_loop.pat {
            syn::Pat::Ident(p)
                if p.by_ref.is_none() && p.mutability.is_none() && p.subpat.is_none() =>
            {
                Some(&p.ident)
            }
            syn::Pat::Wild(_) => None,
            _ => return None,
        };
        let (values, suffix) = self.range_values(&for_loop.expr)?;
        let body = &for_loop.body;
        if size(body) > BODY_SIZE || !straight(body) {
            return None;
        }
        if let Some(variable) = variable {
            if crate::desugar::rebound_inside(body, variable)
                || crate::desugar::mentioned_in_macro(body, variable)
                || untyped_use(body, variable)
            {
                return None;
            }
        }
        let span = for_loop.for_token.span;
        let copies = values.into_iter().map(|value| {
            let mut copy = body.clone();
            if let Some(variable) = variable {
                let literal = syn::LitInt::new(&format!("{value}{suffix}"), span);
                let value = Expr::Lit(syn::ExprLit {
                    attrs: Vec::new(),
                    lit: syn::Lit::Int(literal),
                });
                crate::desugar::NameAs {
                    name: variable,
                    value: &value,
                }
                .visit_block_mut(&mut copy);
                Fold.visit_block_mut(&mut copy);
            }
            Stmt::Expr(
                Expr::Block(syn::ExprBlock {
                    attrs: Vec::new(),
                    label: None,
                    block: copy,
                }),
                None,
            )
        });
        let copies: Vec<Stmt> = copies.collect();
        // An iteration's `(a + b) * 0` is right but reads as a slip, and
        // clippy calls it out in the user's code: such a loop stays one.
        copies
            .iter()
            .all(|copy| !identity_left(copy))
            .then_some(copies)
    }

    /// The values of `a..b`, `a..=b` or `(a..b).rev()` over integer literals
    /// (or a local array's length), in order, with the literals' suffix.
    fn range_values(&self, expr: &Expr) -> Option<(Vec<u64>, String)> {
        let (range, reversed) = match strip(expr) {
            Expr::MethodCall(call) if call.method == "rev" && call.args.is_empty() => {
                (strip(&call.receiver), true)
            }
            other => (other, false),
        };
        let Expr::Range(range) = range else {
            return None;
        };
        let (start, end) = (range.start.as_deref()?, range.end.as_deref()?);
        let (start, start_suffix) = self.bound(start)?;
        let (end, end_suffix) = self.bound(end)?;
        let end = match range.limits {
            syn::RangeLimits::HalfOpen(_) => end,
            syn::RangeLimits::Closed(_) => end.checked_add(1)?,
        };
        if end <= start || end - start > ITERATIONS {
            return None;
        }
        let mut values: Vec<u64> = (start..end).collect();
        if reversed {
            values.reverse();
        }
        let suffix = if start_suffix.is_empty() {
            end_suffix
        } else {
            start_suffix
        };
        Some((values, suffix))
    }

    /// An integer literal and its suffix, or a local array's `len()`.
    fn bound(&self, expr: &Expr) -> Option<(u64, String)> {
        match strip(expr) {
            Expr::Lit(_) => int_literal(expr),
            Expr::MethodCall(call) if call.method == "len" && call.args.is_empty() => {
                let Expr::Path(path) = strip(&call.receiver) else {
                    return None;
                };
                let name = path.path.get_ident()?.to_string();
                Some((*self.lengths.get(&name)?, String::new()))
            }
            _ => None,
        }
    }
}

/// Locals bound once in the function to an array of a literal length:
/// `let v = [0.0; 3];`, `let v = [a, b, c];`, `let v: [f64; 3] = ..;`,
/// `let v = &p[3..6];`.
fn array_lengths(block: &syn::Block) -> HashMap<String, u64> {
    struct Finds(HashMap<String, u64>);
    impl<'ast> Visit<'ast> for Finds {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            let (ident, ty) = match &local.pat {
                syn::Pat::Ident(p) if p.subpat.is_none() => (p, None),
                syn::Pat::Type(t) => match &*t.pat {
                    syn::Pat::Ident(p) if p.subpat.is_none() => (p, Some(&*t.ty)),
                    _ => return syn::visit::visit_local(self, local),
                },
                _ => return syn::visit::visit_local(self, local),
            };
            // A view bound `mut` may be pointed elsewhere later, at
            // another length (an array's length is its type's).
            let view = ident.mutability.is_none();
            let ident = &ident.ident;
            let init = local.init.as_ref().map(|init| &*init.expr);
            if let Some(len) = ty
                .and_then(type_length)
                .or_else(|| init.and_then(|init| literal_length(init, view)))
            {
                self.0.insert(ident.to_string(), len);
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut finds = Finds(HashMap::new());
    finds.visit_block(block);
    finds.0.retain(|name, _| {
        crate::desugar::bound_once(
            block,
            &syn::Ident::new(name, proc_macro2::Span::call_site()),
        )
    });
    finds.0
}

/// The length of `[T; 3]`.
fn type_length(ty: &syn::Type) -> Option<u64> {
    match ty {
        syn::Type::Array(array) => length(&array.len),
        _ => None,
    }
}

/// The length of `[x; 3]`, `[a, b, c]`, or of a view of a literal range,
/// `&p[0..3]` (a helper's slice parameter once it is inlined: its loop over
/// `0..rot.len()` is then three iterations. Were `p` shorter, the binding
/// itself would panic, as the user's code does).
fn literal_length(expr: &Expr, view: bool) -> Option<u64> {
    match strip(expr) {
        Expr::Repeat(repeat) => length(&repeat.len),
        Expr::Array(array) => Some(array.elems.len() as u64),
        Expr::Reference(reference) if view => view_length(&reference.expr),
        _ => None,
    }
}

/// The length of `p[a..b]` or `p[a..=b]` over integer literals.
fn view_length(expr: &Expr) -> Option<u64> {
    let Expr::Index(index) = strip(expr) else {
        return None;
    };
    let Expr::Range(range) = strip(&index.index) else {
        return None;
    };
    let start = length(range.start.as_deref()?)?;
    let end = length(range.end.as_deref()?)?;
    let end = match range.limits {
        syn::RangeLimits::HalfOpen(_) => end,
        syn::RangeLimits::Closed(_) => end.checked_add(1)?,
    };
    end.checked_sub(start)
}

fn length(expr: &Expr) -> Option<u64> {
    crate::desugar::usize_literal(expr).map(|n| n as u64)
}

/// How many expressions a body holds.
fn size(body: &syn::Block) -> usize {
    struct Count(usize);
    impl<'ast> Visit<'ast> for Count {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            self.0 += 1;
            syn::visit::visit_expr(self, expr);
        }
    }
    let mut count = Count(0);
    count.visit_block(body);
    count.0
}

/// Whether a body is straight-line code: no branch, no loop left inside it
/// (loops inside written out are blocks), and no `break`, `continue`,
/// `return` or `?` (a closure's own body aside). A loop with branches or
/// exits stays a loop: each iteration's exit would need a flag of its own,
/// and a branch per iteration is what the loop's stacks are for.
fn straight(body: &syn::Block) -> bool {
    struct Finds(bool);
    impl<'ast> Visit<'ast> for Finds {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::If(_)
                | Expr::Match(_)
                | Expr::ForLoop(_)
                | Expr::While(_)
                | Expr::Loop(_)
                | Expr::Break(_)
                | Expr::Continue(_)
                | Expr::Return(_)
                | Expr::Try(_) => self.0 = true,
                Expr::Closure(_) => {}
                _ => syn::visit::visit_expr(self, expr),
            }
        }
    }
    let mut finds = Finds(false);
    finds.visit_block(body);
    !finds.0
}

/// Whether the body uses `name` where a bare literal in its place would have
/// no type rustc can infer: as (a part of) a method's receiver, `i.pow(2)`,
/// or in the value of a `let` with no type, `let j = i + 1;` (whose `j`
/// may be a receiver later). Under an index, a cast or a call's argument
/// the literal takes the type the place asks for.
fn untyped_use(body: &syn::Block, name: &syn::Ident) -> bool {
    struct Finds<'n> {
        name: &'n syn::Ident,
        /// Inside a receiver or an untyped `let`'s value.
        loose: bool,
        found: bool,
    }
    impl Finds<'_> {
        fn anchored(&mut self, expr: &Expr) {
            let loose = std::mem::replace(&mut self.loose, false);
            self.visit_expr(expr);
            self.loose = loose;
        }
        fn loosely(&mut self, expr: &Expr) {
            let loose = std::mem::replace(&mut self.loose, true);
            self.visit_expr(expr);
            self.loose = loose;
        }
    }
    impl<'ast> Visit<'ast> for Finds<'_> {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::Path(path) if path.path.is_ident(self.name) => self.found |= self.loose,
                Expr::Index(index) => {
                    self.visit_expr(&index.expr);
                    self.anchored(&index.index);
                }
                Expr::Cast(cast) => self.anchored(&cast.expr),
                Expr::Call(call) => {
                    self.visit_expr(&call.func);
                    call.args.iter().for_each(|arg| self.anchored(arg));
                }
                Expr::MethodCall(call) => {
                    self.loosely(&call.receiver);
                    call.args.iter().for_each(|arg| self.anchored(arg));
                }
                _ => syn::visit::visit_expr(self, expr),
            }
        }
        fn visit_local(&mut self, local: &'ast syn::Local) {
            let typed = matches!(local.pat, syn::Pat::Type(_));
            if let Some(init) = &local.init {
                match typed {
                    true => self.anchored(&init.expr),
                    false => self.loosely(&init.expr),
                }
                if let Some((_, diverge)) = &init.diverge {
                    self.visit_expr(diverge);
                }
            }
        }
    }
    let mut finds = Finds {
        name,
        loose: false,
        found: false,
    };
    finds.visit_block(body);
    finds.found
}

/// Integer arithmetic on two literals of the same suffix, `3 * 1 + 2`,
/// as its value, `5` (the indices of `m[3 * i + j]` once `i` and `j` are
/// written in): where the value is a non-negative integer, as the loop's
/// were, and the operation neither overflows nor divides by zero.
fn folded(expr: &Expr) -> Option<Expr> {
    let binary = match expr {
        // `(i)` once `(i + 0)` is `i`: an atom needs no parentheses.
        Expr::Paren(paren) if matches!(&*paren.expr, Expr::Lit(_) | Expr::Path(_)) => {
            return Some((*paren.expr).clone())
        }
        Expr::Binary(binary) => binary,
        _ => return None,
    };
    if let Some(identity) = identity(binary) {
        return Some(identity);
    }
    let (left, left_suffix) = int_literal(&binary.left)?;
    let (right, right_suffix) = int_literal(&binary.right)?;
    if left_suffix != right_suffix && !left_suffix.is_empty() && !right_suffix.is_empty() {
        return None;
    }
    let value = match binary.op {
        syn::BinOp::Add(_) => left.checked_add(right),
        syn::BinOp::Sub(_) => left.checked_sub(right),
        syn::BinOp::Mul(_) => left.checked_mul(right),
        syn::BinOp::Div(_) => left.checked_div(right),
        syn::BinOp::Rem(_) => left.checked_rem(right),
        _ => None,
    }?;
    // Within `i32`, the type of an integer literal with nothing to infer
    // from, so the value is the loop's in any type.
    if value > i32::MAX as u64 {
        return None;
    }
    let suffix = if left_suffix.is_empty() {
        right_suffix
    } else {
        left_suffix
    };
    let span = syn::spanned::Spanned::span(expr);
    Some(Expr::Lit(syn::ExprLit {
        attrs: Vec::new(),
        lit: syn::Lit::Int(syn::LitInt::new(&format!("{value}{suffix}"), span)),
    }))
}

/// `i + 0`, `0 + i`, `i - 0`, `i * 1`, `1 * i` and `i / 1` as `i`, and
/// `i * 0`, `0 * i` of a name or literal as `0`: what writing the first
/// iteration's `0` into `3 * i + j` leaves, which rustc accepts and clippy
/// calls out.
fn identity(binary: &syn::ExprBinary) -> Option<Expr> {
    let value = |expr: &Expr| int_literal(expr).map(|(value, _)| value);
    let (left, right) = (value(&binary.left), value(&binary.right));
    let atom = |expr: &Expr| matches!(strip(expr), Expr::Lit(_) | Expr::Path(_));
    match binary.op {
        syn::BinOp::Add(_) if left == Some(0) => Some((*binary.right).clone()),
        syn::BinOp::Add(_) | syn::BinOp::Sub(_) if right == Some(0) => Some((*binary.left).clone()),
        syn::BinOp::Mul(_) if left == Some(1) => Some((*binary.right).clone()),
        syn::BinOp::Mul(_) | syn::BinOp::Div(_) if right == Some(1) => Some((*binary.left).clone()),
        syn::BinOp::Mul(_) if left == Some(0) && atom(&binary.right) => {
            Some((*binary.left).clone())
        }
        syn::BinOp::Mul(_) if right == Some(0) && atom(&binary.left) => {
            Some((*binary.right).clone())
        }
        _ => None,
    }
}

/// Whether a product with an integer 0 is left in a statement: `identity`
/// folds the other operations with 0 and 1, and a product by 0 where the
/// other side is a name or literal.
fn identity_left(stmt: &Stmt) -> bool {
    struct Finds(bool);
    impl<'ast> Visit<'ast> for Finds {
        fn visit_expr_binary(&mut self, binary: &'ast syn::ExprBinary) {
            let zero = |expr: &Expr| int_literal(expr).is_some_and(|(value, _)| value == 0);
            self.0 |= matches!(binary.op, syn::BinOp::Mul(_))
                && (zero(&binary.left) || zero(&binary.right));
            syn::visit::visit_expr_binary(self, binary);
        }
    }
    let mut finds = Finds(false);
    finds.visit_stmt(stmt);
    finds.0
}

/// An integer literal (through parentheses) and its suffix.
fn int_literal(expr: &Expr) -> Option<(u64, String)> {
    match strip(expr) {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        }) => Some((int.base10_parse().ok()?, int.suffix().to_string())),
        _ => None,
    }
}

/// The integer arithmetic a copy's literals leave, folded (`folded`),
/// innermost first.
struct Fold;

impl VisitMut for Fold {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        if let Some(folded) = folded(expr) {
            *expr = folded;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn rewrite(mut block: syn::Block) -> String {
        short_loops_unrolled(&mut block);
        quote!(#block).to_string()
    }

    fn same(block: syn::Block, expected: syn::Block) {
        assert_eq!(rewrite(block), quote!(#expected).to_string());
    }

    #[test]
    fn a_loop_of_three_is_three_blocks_with_the_index_written_in() {
        same(
            syn::parse_quote!({
                for i in 0..3 {
                    out[i] = a[2 * i + 1] * s;
                }
            }),
            syn::parse_quote!({
                {
                    out[0] = a[1] * s;
                }
                {
                    out[1] = a[3] * s;
                }
                {
                    out[2] = a[5] * s;
                }
            }),
        );
    }

    #[test]
    fn reversed_closed_and_suffixed_ranges_keep_their_order_and_type() {
        same(
            syn::parse_quote!({
                for i in (1..=2u8).rev() {
                    t += i as f64;
                }
            }),
            syn::parse_quote!({
                {
                    t += 2u8 as f64;
                }
                {
                    t += 1u8 as f64;
                }
            }),
        );
    }

    #[test]
    fn a_local_arrays_length_is_a_literal_bound_and_nested_loops_unroll_inside_out() {
        same(
            syn::parse_quote!({
                let v = [0.0; 2];
                for i in 0..v.len() {
                    for _ in 0..1 {
                        s += v[i];
                    }
                }
            }),
            syn::parse_quote!({
                let v = [0.0; 2];
                {
                    {
                        s += v[0];
                    }
                }
                {
                    {
                        s += v[1];
                    }
                }
            }),
        );
    }

    #[test]
    fn a_view_of_a_literal_range_has_its_length() {
        // An inlined helper's `sqsum(&cam[0..3])`: its loop over the view.
        same(
            syn::parse_quote!({
                let rot = &cam[0..=1];
                for i in 0..rot.len() {
                    s += rot[i];
                }
                let tail = &cam[2..];
                for i in 0..tail.len() {
                    s += tail[i];
                }
                let mut moved = &cam[0..1];
                moved = &cam[0..5];
                for i in 0..moved.len() {
                    s += moved[i];
                }
            }),
            syn::parse_quote!({
                let rot = &cam[0..=1];
                {
                    s += rot[0];
                }
                {
                    s += rot[1];
                }
                let tail = &cam[2..];
                for i in 0..tail.len() {
                    s += tail[i];
                }
                let mut moved = &cam[0..1];
                moved = &cam[0..5];
                for i in 0..moved.len() {
                    s += moved[i];
                }
            }),
        );
    }

    #[test]
    fn index_arithmetic_is_folded_only_where_it_cannot_change_its_meaning() {
        same(
            syn::parse_quote!({
                for i in 0..2 {
                    t += a[(i + 1) % 2] * b[i - 1] * c[i / 0] * d[1u8 + i];
                }
            }),
            syn::parse_quote!({
                {
                    t += a[1] * b[0 - 1] * c[0 / 0] * d[1u8];
                }
                {
                    t += a[0] * b[0] * c[1 / 0] * d[2u8];
                }
            }),
        );
    }

    #[test]
    fn a_field_named_by_the_variable_alone_gets_its_value() {
        same(
            syn::parse_quote!({
                for k in 0..1 {
                    p = P { k, x };
                }
            }),
            syn::parse_quote!({
                {
                    p = P { k: 0, x };
                }
            }),
        );
    }

    #[test]
    fn loops_that_stay_loops() {
        for block in [
            // Too many iterations, a label, a branch, an exit.
            quote!({
                for i in 0..5 {
                    s += a[i];
                }
            }),
            quote!({
                'l: for i in 0..3 {
                    s += a[i];
                }
            }),
            quote!({
                for i in 0..3 {
                    if a[i] > 0.0 {
                        s += a[i];
                    }
                }
            }),
            quote!({
                for i in 0..3 {
                    s += a[i];
                    if s > 1.0 {
                        break;
                    }
                }
            }),
            // A bound not literal, a mutable or rebound variable.
            quote!({
                for i in 0..n {
                    s += a[i];
                }
            }),
            quote!({
                for mut i in 0..3 {
                    i += 1;
                    s += a[i];
                }
            }),
            quote!({
                for i in 0..3 {
                    let i = 2 - i;
                    s += a[i];
                }
            }),
            // The variable where a literal has no type, or inside a macro.
            quote!({
                for i in 0..3 {
                    s += a[i.pow(2)];
                }
            }),
            quote!({
                for i in 0..3 {
                    let j = i + 1;
                    s += a[j];
                }
            }),
            quote!({
                for i in 0..3 {
                    assert!(i < 3);
                    s += a[i];
                }
            }),
            quote!({
                for i in 0..3 {
                    println!("{i}");
                    s += a[i];
                }
            }),
        ] {
            let block: syn::Block = syn::parse2(block).unwrap();
            assert_eq!(rewrite(block.clone()), quote!(#block).to_string());
        }
    }
}
