//! How a function uses the fields of its struct parameters: `p.w[i]` reads an
//! array, `p.b * x` a float, `0..p.n` an integer (data). A field is the
//! longest chain of named members the code writes, so `cam.pose.rot[0]` is
//! the array `pose.rot` of `cam`.

use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use std::collections::{BTreeMap, BTreeSet};
use syn::visit::Visit;
use syn::Expr;

/// How a field is used.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Use {
    /// Only compared (`i < p.n`, `p.t > 0.0`): no derivative flows, so data.
    Compared,
    /// A float: differentiated.
    Scalar,
    /// Indexed, iterated, measured or passed by reference: differentiated.
    Array,
    /// An integer (a range's end, an index, a cast): data.
    Data,
}

/// A field of a struct parameter: the parameter and the members after it.
pub(super) type Chain = (Ident, Vec<Ident>);

/// `p.a.b` (through parentheses) when `p` is one of `params`.
pub(super) fn chain_of(expr: &Expr, params: &[Ident]) -> Option<Chain> {
    let mut members = Vec::new();
    let mut at = strip(expr);
    while let Expr::Field(field) = at {
        let syn::Member::Named(name) = &field.member else {
            return None;
        };
        members.push(name.clone());
        at = strip(&field.base);
    }
    let Expr::Path(path) = at else { return None };
    let param = path.path.get_ident()?;
    if members.is_empty() || !params.contains(param) {
        return None;
    }
    members.reverse();
    Some((param.clone(), members))
}

/// What the body does with the struct parameters.
#[derive(Default)]
pub(super) struct Uses {
    pub(super) fields: BTreeMap<Chain, Use>,
    /// Where each field is first read, for messages.
    pub(super) first: BTreeMap<Chain, Expr>,
    /// Fields behind `&` (an array passed whole, or a float passed to an
    /// `&f64` parameter: their other uses decide).
    referenced: BTreeSet<Chain>,
    /// Fields used as floats: operands of arithmetic, receivers of float methods.
    as_float: BTreeSet<Chain>,
    /// A parameter used whole other than as a call's argument (`p.f(x)`,
    /// `let q = p;`), where it must be read field by field.
    pub(super) whole: Vec<Expr>,
    /// Parameters passed whole to a function, `predict(p, x)` or
    /// `predict(&p, x)`: differentiated callees, whose pullbacks hand back the
    /// struct's gradient.
    pub(super) passed: BTreeSet<Ident>,
    /// `p[i].w`: a field of an element of a slice of structs.
    pub(super) in_slices: Vec<Expr>,
    /// `p.b = ..`: a field written.
    pub(super) written: Vec<Expr>,
}

pub(super) fn uses(block: &syn::Block, params: &[Ident], slices: &[Ident]) -> Uses {
    let mut visitor = Visitor {
        params,
        slices,
        uses: Uses::default(),
    };
    visitor.visit_block(block);
    let mut uses = visitor.uses;
    for chain in std::mem::take(&mut uses.referenced) {
        let used = if uses.as_float.contains(&chain) {
            Use::Scalar
        } else {
            Use::Array
        };
        let entry = uses.fields.entry(chain).or_insert(used);
        *entry = (*entry).max(used);
    }
    uses
}

struct Visitor<'a> {
    params: &'a [Ident],
    slices: &'a [Ident],
    uses: Uses,
}

impl Visitor<'_> {
    fn mark(&mut self, expr: &Expr, used: Use) {
        if let Some(chain) = chain_of(expr, self.params) {
            self.uses
                .first
                .entry(chain.clone())
                .or_insert_with(|| expr.clone());
            let entry = self.uses.fields.entry(chain).or_insert(used);
            *entry = (*entry).max(used);
        }
    }

    fn note_float(&mut self, expr: &Expr) {
        if let Some(chain) = chain_of(expr, self.params) {
            self.uses.as_float.insert(chain);
        }
    }

    /// `layers[l].w`: a member of an indexed slice parameter of structs.
    fn in_slice(&self, expr: &Expr) -> bool {
        let Expr::Field(field) = strip(expr) else {
            return false;
        };
        let mut base = strip(&field.base);
        while let Expr::Field(inner) = base {
            base = strip(&inner.base);
        }
        let Expr::Index(index) = base else {
            return false;
        };
        matches!(strip(&index.expr), Expr::Path(p) if p.path.get_ident().is_some_and(|i| self.slices.contains(i)))
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        if chain_of(expr, self.params).is_some() {
            // The whole chain is the field; its bases are not used on their own.
            self.mark(expr, Use::Scalar);
            return;
        }
        if self.in_slice(expr) {
            self.uses.in_slices.push(expr.clone());
        }
        for integer in crate::parse::method::read_as_integers(expr) {
            self.mark(integer, Use::Data);
        }
        if let Expr::Call(call) = expr {
            self.visit_expr(&call.func);
            for arg in &call.args {
                match passed_whole(arg, self.params) {
                    Some(param) => {
                        self.uses.passed.insert(param);
                    }
                    None => self.visit_expr(arg),
                }
            }
            return;
        }
        match expr {
            Expr::Path(path)
                if path
                    .path
                    .get_ident()
                    .is_some_and(|i| self.params.contains(i)) =>
            {
                self.uses.whole.push(expr.clone());
            }
            Expr::Index(index) => self.mark(&index.expr, Use::Array),
            // `p.w.len()`, `p.w.iter()`, `p.w.to_vec()`: an array; `p.b.exp()`,
            // `p.b.sin_cos()`: a float.
            Expr::MethodCall(call) if SLICE_METHODS.contains(&call.method.to_string().as_str()) => {
                self.mark(&call.receiver, Use::Array);
            }
            Expr::MethodCall(call) => self.note_float(&call.receiver),
            Expr::Binary(binary) if is_comparison(&binary.op) => {
                for side in [&binary.left, &binary.right] {
                    if chain_of(side, self.params).is_some() {
                        self.mark(side, Use::Compared);
                    } else {
                        self.visit_expr(side);
                    }
                }
                return;
            }
            Expr::Binary(binary) => {
                self.note_float(&binary.left);
                self.note_float(&binary.right);
            }
            Expr::Unary(unary) => self.note_float(&unary.expr),
            Expr::Reference(r) => {
                if let Some(chain) = chain_of(&r.expr, self.params) {
                    self.uses.referenced.insert(chain);
                }
            }
            Expr::Assign(assign) => self.written(&assign.left),
            _ => {}
        }
        if let Expr::Binary(binary) = expr {
            if is_compound(&binary.op) {
                self.written(&binary.left);
            }
        }
        syn::visit::visit_expr(self, expr);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
        if let Ok(args) = syn::parse::Parser::parse2(parser, mac.tokens.clone()) {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
    }
}

impl Visitor<'_> {
    fn written(&mut self, place: &Expr) {
        let mut at = strip(place);
        while let Expr::Index(index) = at {
            at = strip(&index.expr);
        }
        if chain_of(at, self.params).is_some() {
            self.uses.written.push(place.clone());
        }
    }
}

fn is_compound(op: &syn::BinOp) -> bool {
    use syn::BinOp::*;
    matches!(
        op,
        AddAssign(_)
            | SubAssign(_)
            | MulAssign(_)
            | DivAssign(_)
            | RemAssign(_)
            | BitXorAssign(_)
            | BitAndAssign(_)
            | BitOrAssign(_)
            | ShlAssign(_)
            | ShrAssign(_)
    )
}

/// Methods of slices and vectors a body calls on an array field.
const SLICE_METHODS: &[&str] = &[
    "len",
    "is_empty",
    "iter",
    "into_iter",
    "to_vec",
    "clone",
    "as_slice",
    "first",
    "last",
    "get",
    "windows",
    "chunks",
    "chunks_exact",
    "split_at",
    "split_first",
    "split_last",
    "contains",
    "starts_with",
    "ends_with",
];

fn is_comparison(op: &syn::BinOp) -> bool {
    use syn::BinOp::*;
    matches!(op, Lt(_) | Le(_) | Gt(_) | Ge(_) | Eq(_) | Ne(_))
}

/// `p` or `&p`, a struct parameter passed whole as a call's argument.
pub(super) fn passed_whole(arg: &Expr, params: &[Ident]) -> Option<Ident> {
    let inner = match strip(arg) {
        Expr::Reference(r) if r.mutability.is_none() => strip(&r.expr),
        other => other,
    };
    let Expr::Path(path) = inner else { return None };
    path.path
        .get_ident()
        .filter(|i| params.contains(i))
        .cloned()
}
