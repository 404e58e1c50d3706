//! Which fields of the model a method differentiates: those it reads as
//! floats or float arrays; a field used as an integer (a range, an index, a
//! cast) is data.

use super::{self_field, Marked};
use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use std::collections::{BTreeMap, BTreeSet};
use syn::visit::Visit;
use syn::Expr;

/// How a method uses a field of `self`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Use {
    /// A float: differentiated.
    Scalar,
    /// Indexed, iterated, measured or passed by reference: a float array,
    /// differentiated.
    Array,
    /// Used as an integer, or a field of a field: passed through.
    Data,
}

/// How the marked methods, all together, use each field of `self`: the
/// strongest use wins (data over array over scalar), so every method agrees.
pub(super) fn field_uses(marked: &[Marked]) -> BTreeMap<String, Use> {
    #[derive(Default)]
    struct Uses {
        uses: BTreeMap<String, Use>,
        /// Fields passed by reference (`&self.w`): an array passed whole, or
        /// a float passed to a `&f64` parameter; their other uses decide.
        referenced: BTreeSet<String>,
        /// Fields used as floats: receivers of float methods, operands of
        /// arithmetic.
        as_float: BTreeSet<String>,
    }
    impl Uses {
        fn mark(&mut self, expr: &Expr, used: Use) {
            if let Some(name) = self_field(expr) {
                let entry = self.uses.entry(name.to_string()).or_insert(used);
                *entry = (*entry).max(used);
            }
        }
        fn note(set: &mut BTreeSet<String>, expr: &Expr) {
            if let Some(name) = self_field(expr) {
                set.insert(name.to_string());
            }
        }
    }
    impl<'ast> Visit<'ast> for Uses {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            for integer in read_as_integers(expr) {
                self.mark(integer, Use::Data);
            }
            match expr {
                Expr::Index(index) => self.mark(&index.expr, Use::Array),
                Expr::MethodCall(call) if call.method == "len" || call.method == "iter" => {
                    self.mark(&call.receiver, Use::Array);
                }
                Expr::MethodCall(call)
                    if crate::rules::method(&call.method.to_string()).is_some() =>
                {
                    Self::note(&mut self.as_float, &call.receiver);
                }
                Expr::Binary(binary) => {
                    Self::note(&mut self.as_float, &binary.left);
                    Self::note(&mut self.as_float, &binary.right);
                }
                Expr::Reference(r) => Self::note(&mut self.referenced, &r.expr),
                Expr::Field(field) => {
                    // `self.layer.w`: a field of a field is data.
                    self.mark(&field.base, Use::Data);
                    self.mark(expr, Use::Scalar);
                }
                _ => {}
            }
            syn::visit::visit_expr(self, expr);
        }
    }
    let mut uses = Uses::default();
    for m in marked {
        uses.visit_block(&m.method.block);
    }
    // `h(&self.b)` of a field also used as a float passes a `&f64`; any
    // other field passed by reference is an array.
    let Uses {
        mut uses,
        referenced,
        as_float,
    } = uses;
    for name in referenced {
        let passed = if as_float.contains(&name) {
            Use::Scalar
        } else {
            Use::Array
        };
        let entry = uses.entry(name).or_insert(passed);
        *entry = (*entry).max(passed);
    }
    uses
}

/// Each method's differentiated fields: those it reads, and those of the
/// marked methods it calls, to a fixpoint.
pub(super) fn collect_fields(marked: &mut [Marked], uses: &BTreeMap<String, Use>) {
    struct Reads<'a> {
        uses: &'a BTreeMap<String, Use>,
        fields: Vec<Ident>,
        calls: BTreeSet<String>,
    }
    impl<'ast> Visit<'ast> for Reads<'_> {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            if let Some(name) = self_field(expr) {
                let differentiated = self.uses.get(&name.to_string()) != Some(&Use::Data);
                if differentiated && !self.fields.contains(name) {
                    self.fields.push(name.clone());
                }
            }
            match expr {
                Expr::MethodCall(call) if matches!(strip(&call.receiver), Expr::Path(p) if p.path.is_ident("self")) =>
                {
                    self.calls.insert(call.method.to_string());
                }
                Expr::Call(call) => {
                    if let Expr::Path(p) = strip(&call.func) {
                        if p.path.segments.len() == 2 && p.path.segments[0].ident == "Self" {
                            self.calls.insert(p.path.segments[1].ident.to_string());
                        }
                    }
                }
                _ => {}
            }
            syn::visit::visit_expr(self, expr);
        }
    }
    let mut calls = Vec::new();
    for m in marked.iter_mut() {
        let mut reads = Reads {
            uses,
            fields: Vec::new(),
            calls: BTreeSet::new(),
        };
        reads.visit_block(&m.method.block);
        m.fields = reads.fields;
        calls.push(reads.calls);
    }
    loop {
        let mut changed = false;
        for i in 0..marked.len() {
            for j in 0..marked.len() {
                if i == j || !calls[i].contains(&marked[j].method.sig.ident.to_string()) {
                    continue;
                }
                for field in marked[j].fields.clone() {
                    if !marked[i].fields.contains(&field) {
                        marked[i].fields.push(field);
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// The operands `expr` reads as integers: an index, a range's ends, what is
/// cast with `as`, what `T::from` converts to the float type (a count).
pub(crate) fn read_as_integers(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::Index(index) => vec![&*index.index],
        Expr::Range(range) => range.start.iter().chain(&range.end).map(|e| &**e).collect(),
        Expr::Cast(cast) => vec![&*cast.expr],
        Expr::Call(call) => {
            let converts = matches!(strip(&call.func), Expr::Path(p)
                if p.path.segments.len() == 2
                    && p.path.segments[1].ident == "from"
                    && p.path.segments[0].ident != "f64"
                    && p.path.segments[0].ident != "f32");
            if converts {
                call.args.iter().collect()
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}
