//! What the model analysis reads of a slice of structs, put in the forms it
//! reads (element by element, in loops and through `let e = &s[i];`), before
//! it runs: reductions (`ps.iter().map(|p| p.mass * p.v).sum()`) as the loops
//! they stand for (`for p in ps.iter() { total = total + ..; }`, the rewrite
//! lowering applies to chains over slices of floats, `desugar::iterators`),
//! and copies of an element as references to it. What it still cannot read,
//! where the parameter would otherwise be data without a word, is refused
//! here too.

use crate::desugar::iterators;
use crate::emit::names::Names;
use crate::lower::strip_parens as strip;
use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// Each `sum`, `product` or `fold` of a chain that starts at one of `slices`,
/// rewritten as its loop; `float_param` is the function's float type
/// parameter, whose zero starts a sum.
pub(super) fn reductions_as_loops(
    block: &mut syn::Block,
    slices: &[Ident],
    float_param: Option<&Ident>,
) {
    let (zero, one) = match float_param {
        Some(t) => {
            let float = crate::ir::FloatTy::Generic(t.clone());
            (float.zero(), float.one())
        }
        None => (quote!(0.0), quote!(1.0)),
    };
    Reductions { slices, zero, one }.visit_block_mut(block);
}

/// Copies and unwraps of an element bound by `let` (`ElementCopies`), as
/// references to it; `names` gives the names of the references a `mut` copy
/// is made from.
pub(super) fn element_copies_as_references(
    block: &mut syn::Block,
    slices: &[Ident],
    names: &mut Names,
) {
    ElementCopies { slices, names }.visit_block_mut(block);
}

/// `let b = bodies[i].clone();` (or `bodies[i]` of a `Copy` struct,
/// `bodies.first().unwrap()`, `bodies.last().expect(..)`,
/// `bodies.get(i).unwrap()`): the element read field by field, as
/// `let b = &bodies[i];` is. A `mut` copy, the user's to change, is a copy
/// of a reference to the element, `let b_element = &bodies[i]; let mut b =
/// b_element.clone();`, which `copies.rs` splits into a local per field as
/// it does a copy of any element.
struct ElementCopies<'a> {
    slices: &'a [Ident],
    names: &'a mut Names,
}

impl VisitMut for ElementCopies<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        syn::visit_mut::visit_block_mut(self, block);
        let mut k = 0;
        while k < block.stmts.len() {
            if let Some(reference) = self.mut_copy(&mut block.stmts[k]) {
                block.stmts.insert(k, reference);
                k += 1;
            }
            k += 1;
        }
    }

    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        let named = matches!(&local.pat, syn::Pat::Ident(p) if p.mutability.is_none() && p.by_ref.is_none() && p.subpat.is_none());
        if let Some(init) = local.init.as_mut().filter(|i| named && i.diverge.is_none()) {
            if let Some(element) = element_read(&init.expr, self.slices) {
                *init.expr = element;
            }
        }
        syn::visit_mut::visit_local_mut(self, local);
    }
}

impl ElementCopies<'_> {
    /// `let mut b = bodies[i];` as `let mut b = b_element.clone();`, and
    /// the `let b_element = &bodies[i];` to put before it.
    fn mut_copy(&mut self, stmt: &mut syn::Stmt) -> Option<syn::Stmt> {
        let syn::Stmt::Local(local) = stmt else {
            return None;
        };
        let syn::Pat::Ident(pat) = &local.pat else {
            return None;
        };
        if pat.mutability.is_none() || pat.by_ref.is_some() || pat.subpat.is_some() {
            return None;
        }
        let init = local.init.as_mut().filter(|i| i.diverge.is_none())?;
        let element = element_read(&init.expr, self.slices)?;
        let mut reference = self.names.fresh(&format!("{}_element", pat.ident));
        reference.set_span(syn::spanned::Spanned::span(&init.expr));
        *init.expr = syn::parse_quote!(#reference.clone());
        Some(syn::parse_quote!(let #reference = #element;))
    }
}

/// `&s[i]` for the element `expr` copies or unwraps, of one of `slices`.
fn element_read(expr: &Expr, slices: &[Ident]) -> Option<Expr> {
    let is_slice = |e: &Expr| {
        root(e).is_some_and(|s| slices.contains(&s)) && matches!(strip(e), Expr::Path(_))
    };
    match strip(expr) {
        Expr::Index(index) if is_slice(&index.expr) => Some(syn::parse_quote!(&#index)),
        Expr::MethodCall(call) if call.method == "clone" && call.args.is_empty() => {
            match strip(&call.receiver) {
                Expr::Index(index) if is_slice(&index.expr) => Some(syn::parse_quote!(&#index)),
                _ => None,
            }
        }
        Expr::MethodCall(call) if crate::desugar::unwraps(call) => {
            let Expr::MethodCall(end) = strip(&call.receiver) else {
                return None;
            };
            let slice = &end.receiver;
            if !is_slice(slice) {
                return None;
            }
            match (end.method.to_string().as_str(), end.args.len()) {
                ("first", 0) => Some(syn::parse_quote!(&#slice[0])),
                ("last", 0) => Some(syn::parse_quote!(&#slice[#slice.len() - 1])),
                ("get", 1) => {
                    let i = &end.args[0];
                    Some(syn::parse_quote!(&#slice[#i]))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

struct Reductions<'a> {
    slices: &'a [Ident],
    zero: TokenStream,
    one: TokenStream,
}

impl VisitMut for Reductions<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::MethodCall(call) = &*expr {
            let reduces = matches!(call.method.to_string().as_str(), "sum" | "product" | "fold");
            let starts = root(&call.receiver).is_some_and(|s| self.slices.contains(&s));
            if reduces && starts {
                if let Some(looped) = iterators::reduction(call, &self.zero, &self.one) {
                    *expr = looped;
                }
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}

/// A chain over one of `slices` (structs the function reads no field of
/// elsewhere) whose closures read fields: refused at the slice, which would
/// otherwise be data. (A chain whose closures read no field, over a slice of
/// enums, say, is data as written.)
pub(super) fn refuse_fields_read_in_chains(
    block: &syn::Block,
    slices: &[Ident],
    errors: &mut crate::errors::Errors,
) {
    struct Chains<'a> {
        slices: &'a [Ident],
        errors: &'a mut crate::errors::Errors,
    }
    impl<'ast> Visit<'ast> for Chains<'_> {
        // A loop over a chain the element analysis does not rewrite
        // (`step_by`, `chunks`) whose body reads fields of what it binds.
        fn visit_expr_for_loop(&mut self, looped: &'ast syn::ExprForLoop) {
            let over = root(&looped.expr).filter(|s| self.slices.contains(s));
            if let Some(slice) = over.filter(|_| reads_fields_of(&looped.pat, &looped.body)) {
                self.errors.spanned(
                    &looped.expr,
                    format!("the fields of `{slice}`'s elements are read in a loop over a chain the macro does not differentiate: loop over `{slice}` (with `.iter()`, `.enumerate()`, `.zip(other)`, `.skip(k)`, `.take(k)`, `.rev()`) or over indices, or leave `{slice}` out of `wrt(...)` to pass it as data"),
                );
                return;
            }
            syn::visit::visit_expr_for_loop(self, looped);
        }

        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            let Some(slice) =
                root(&Expr::MethodCall(call.clone())).filter(|s| self.slices.contains(s))
            else {
                return syn::visit::visit_expr_method_call(self, call);
            };
            if reads_a_field(call) {
                self.errors.spanned(
                    &slice,
                    format!("the fields of `{slice}`'s elements are read in an iterator chain the macro does not differentiate: write a loop (`for e in {slice}`), a reduction (`{slice}.iter().map(|e| ..).sum()`), or leave `{slice}` out of `wrt(...)` to pass it as data"),
                );
            }
        }
    }
    Chains {
        slices,
        errors: &mut *errors,
    }
    .visit_block(block);
    refuse_fields_of_copies(block, slices, errors);
}

/// A name bound from one of `slices` by a `let` the element analysis does
/// not read as an element (`let mut b = bodies[0].clone();`) whose fields
/// are read: refused at the read, where the slice would be data.
fn refuse_fields_of_copies(
    block: &syn::Block,
    slices: &[Ident],
    errors: &mut crate::errors::Errors,
) {
    struct Copies<'a> {
        slices: &'a [Ident],
        names: Vec<(Ident, Ident)>,
        errors: &'a mut crate::errors::Errors,
    }
    impl<'ast> Visit<'ast> for Copies<'_> {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            syn::visit::visit_local(self, local);
            let Some(init) = &local.init else { return };
            let init = &init.expr;
            let mentioned = crate::emit::names::identifiers(quote!(#init));
            let Some(slice) = self
                .slices
                .iter()
                .find(|s| mentioned.contains(&s.to_string()))
            else {
                return;
            };
            let pat = match &local.pat {
                syn::Pat::Type(typed) => &*typed.pat,
                other => other,
            };
            if let syn::Pat::Ident(p) = pat {
                self.names.push((p.ident.clone(), slice.clone()));
            }
        }
        fn visit_expr_field(&mut self, field: &'ast syn::ExprField) {
            let base = match strip(&field.base) {
                Expr::Path(p) => p.path.get_ident().cloned(),
                _ => None,
            };
            let at = base.and_then(|b| self.names.iter().position(|(n, _)| *n == b));
            // Once per name.
            if let Some((name, slice)) = at.map(|k| self.names.remove(k)) {
                self.errors.spanned(
                    field,
                    format!("`{name}` holds `{slice}` (or an element of it), a copy the macro does not read field by field: read the fields where the body names them (`{slice}.k` of a struct; `{slice}[i].k`, or `let {name} = &{slice}[i];`, of a slice), or leave `{slice}` out of `wrt(...)` to pass it as data"),
                );
            }
            syn::visit::visit_expr_field(self, field);
        }
    }
    Copies {
        slices,
        names: Vec::new(),
        errors,
    }
    .visit_block(block);
}

/// The slice a chain of method calls starts at.
fn root(expr: &Expr) -> Option<Ident> {
    match strip(expr) {
        Expr::MethodCall(call) => root(&call.receiver),
        Expr::Path(p) => p.path.get_ident().cloned(),
        _ => None,
    }
}

/// Whether any argument along a chain reads a field (`|p| p.mass`).
fn reads_a_field(call: &syn::ExprMethodCall) -> bool {
    struct Fields(bool);
    impl<'ast> Visit<'ast> for Fields {
        fn visit_expr_field(&mut self, _: &'ast syn::ExprField) {
            self.0 = true;
        }
    }
    let mut fields = Fields(false);
    let mut at = Some(call);
    while let Some(call) = at {
        for arg in &call.args {
            fields.visit_expr(arg);
        }
        at = match strip(&call.receiver) {
            Expr::MethodCall(inner) => Some(inner),
            _ => None,
        };
    }
    fields.0
}

/// Whether `body` reads a field of a name `pat` binds (`b.m` of `for b in ..`).
fn reads_fields_of(pat: &syn::Pat, body: &syn::Block) -> bool {
    struct Names(Vec<Ident>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            self.0.push(pat.ident.clone());
        }
    }
    struct Fields<'a>(&'a [Ident], bool);
    impl<'ast> Visit<'ast> for Fields<'_> {
        fn visit_expr_field(&mut self, field: &'ast syn::ExprField) {
            let base = match strip(&field.base) {
                Expr::Path(p) => p.path.get_ident(),
                _ => None,
            };
            self.1 |= base.is_some_and(|b| self.0.contains(b));
            syn::visit::visit_expr_field(self, field);
        }
    }
    let mut names = Names(Vec::new());
    names.visit_pat(pat);
    let mut fields = Fields(&names.0, false);
    fields.visit_block(body);
    fields.1
}
