//! How a function uses the fields of its struct parameters: `p.w[i]` reads an
//! array, `p.b * x` a float, `0..p.n` an integer (data). A field is the
//! longest chain of named members the code writes, so `cam.pose.rot[0]` is
//! the array `pose.rot` of `cam`.

use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use std::collections::{BTreeMap, BTreeSet};
use syn::visit::Visit;
use syn::Expr;

/// A field's uses add up to the strongest: a float or array use anywhere
/// makes the field differentiated, even where it is also cast or counted
/// (`(p.scale * 10.0) as usize` and `p.scale * x`): a field taken for data
/// wrongly would get no gradient, without a word, while an integer field
/// taken for a float is a type error at its first use.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Use {
    /// Only compared (`i < p.n`, `p.t > 0.0`): no derivative flows, so data.
    Compared,
    /// An integer (a range's end, an index, a cast, a count): data.
    Data,
    /// A float: differentiated.
    Scalar,
    /// Indexed, iterated, measured or passed by reference: differentiated.
    Array,
}

/// A field of a struct parameter: the parameter and the members after it.
pub(super) type Chain = (Ident, Vec<Ident>);

/// `p.a.b` (through parentheses) when `p` is one of `params`.
pub(super) fn chain_of(expr: &Expr, params: &[Ident]) -> Option<Chain> {
    let (members, base) = members_of(expr)?;
    let Expr::Path(path) = base else { return None };
    let param = path.path.get_ident()?;
    params.contains(param).then(|| (param.clone(), members))
}

/// `base.a.b` (through parentheses): `[a, b]`, at least one, all named, and
/// the base.
fn members_of(expr: &Expr) -> Option<(Vec<Ident>, &Expr)> {
    let mut members = Vec::new();
    let mut at = strip(expr);
    while let Expr::Field(field) = at {
        let syn::Member::Named(name) = &field.member else {
            return None;
        };
        members.push(name.clone());
        at = strip(&field.base);
    }
    if members.is_empty() {
        return None;
    }
    members.reverse();
    Some((members, at))
}

/// `layers[l].w.len()`'s `(layers, l, [w])`: a field of an element of a
/// slice of structs, read where the element is indexed.
pub(super) fn indexed_chain<'e>(
    expr: &'e Expr,
    slices: &[Ident],
) -> Option<(Ident, &'e Expr, Vec<Ident>)> {
    let (members, base) = members_of(expr)?;
    let Expr::Index(index) = base else {
        return None;
    };
    let Expr::Path(path) = strip(&index.expr) else {
        return None;
    };
    let slice = path.path.get_ident()?;
    slices
        .contains(slice)
        .then(|| (slice.clone(), &*index.index, members))
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
    /// Those arguments, where they are written.
    pub(super) passed_args: Vec<(Ident, Expr)>,
    /// `p.b = ..`: a field written.
    pub(super) written: Vec<Expr>,
    /// Fields read as an index or a range's end (`w[j * layer.inputs + i]`,
    /// `0..layer.inputs`): a `usize` there.
    pub(super) counted: BTreeSet<Chain>,
    /// Fields read as conditions (`if layer.activated`): a `bool` there.
    pub(super) conditions: BTreeSet<Chain>,
    /// Fields read any other way.
    pub(super) other: BTreeSet<Chain>,
}

/// How a field is read, beside its `Use`.
#[derive(Clone, Copy)]
enum Read {
    Count,
    Condition,
    Other,
}

pub(super) fn uses(block: &syn::Block, params: &[Ident], slices: &[Ident]) -> Uses {
    let mut visitor = Visitor {
        params,
        slices,
        uses: Uses::default(),
        counting: false,
        in_index: false,
        aliases: BTreeMap::new(),
        copies: BTreeMap::new(),
    };
    visitor.visit_block(block);
    let mut uses = visitor.uses;
    uses.other.extend(uses.referenced.iter().cloned());
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
    /// Inside an index, a range's end, a cast, or arithmetic with a length
    /// or an integer literal: a field read here is a count, data.
    counting: bool,
    /// Inside an index or a range's end: a count read here is a `usize`.
    in_index: bool,
    /// `let k = p.n;` or `let w = &p.w;`: the name stands for the field, and
    /// its uses are the field's.
    aliases: BTreeMap<String, Chain>,
    /// `let mut a = p.a;`: a copy the body may change, whose indexing says
    /// the field is an array (`a[0] += ..`).
    copies: BTreeMap<String, Chain>,
}

impl Visitor<'_> {
    /// The field `expr` reads: a chain `p.a.b`, or a name bound to one.
    fn chain(&self, expr: &Expr) -> Option<Chain> {
        if let Some(chain) = chain_of(expr, self.params) {
            return Some(chain);
        }
        if let Some((slice, _, path)) = indexed_chain(expr, self.slices) {
            return Some((slice, path));
        }
        match strip(expr) {
            Expr::Path(path) => {
                let name = path.path.get_ident()?.to_string();
                self.aliases.get(&name).cloned()
            }
            _ => None,
        }
    }

    fn mark(&mut self, expr: &Expr, used: Use) {
        self.mark_read(expr, used, Read::Other);
    }

    fn mark_read(&mut self, expr: &Expr, used: Use, read: Read) {
        if let Some(chain) = self.chain(expr) {
            match read {
                Read::Count => self.uses.counted.insert(chain.clone()),
                Read::Condition => self.uses.conditions.insert(chain.clone()),
                Read::Other => self.uses.other.insert(chain.clone()),
            };
            self.uses
                .first
                .entry(chain.clone())
                .or_insert_with(|| expr.clone());
            let entry = self.uses.fields.entry(chain).or_insert(used);
            *entry = (*entry).max(used);
        }
    }

    fn note_float(&mut self, expr: &Expr) {
        if let Some(chain) = self.chain(expr) {
            self.uses.as_float.insert(chain);
        }
    }

    /// `expr` read as a count: every field in it is data (unless used as a
    /// float elsewhere).
    fn visit_counting(&mut self, expr: &Expr) {
        let counting = std::mem::replace(&mut self.counting, true);
        self.visit_expr(expr);
        self.counting = counting;
    }

    /// `visit_counting`, knowing whether the count is an index (or a range's
    /// end), a `usize`, or something converted (a cast's operand).
    fn visit_count(&mut self, expr: &Expr, index: bool) {
        let in_index = std::mem::replace(&mut self.in_index, index);
        self.visit_counting(expr);
        self.in_index = in_index;
    }
}

impl<'ast> Visit<'ast> for Visitor<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        self.note_copy_read_as_array(expr);
        if self.chain(expr).is_some() {
            // The whole chain is the field; its bases are not used on their own.
            let (used, read) = match (self.counting, self.in_index) {
                (true, true) => (Use::Data, Read::Count),
                (true, false) => (Use::Data, Read::Other),
                (false, _) => (Use::Scalar, Read::Other),
            };
            self.mark_read(expr, used, read);
            // The element's index is a count.
            if let Some((_, index, _)) = indexed_chain(expr, self.slices) {
                self.visit_count(index, true);
            }
            return;
        }
        if !self.counting && counts(expr) {
            self.visit_counting(expr);
            return;
        }
        // An index, a range's ends, what is cast, what `T::from` converts:
        // counts, with every field read inside them.
        let integers = crate::parse::method::read_as_integers(expr);
        if !integers.is_empty() {
            // An index or a range's end is a `usize` (or the loop variable's
            // type); a cast's operand or `T::from`'s may be anything.
            // (A range's start may be below zero: not a `usize`.)
            let index = matches!(expr, Expr::Index(_));
            if let Expr::Range(range) = expr {
                if let Some(start) = &range.start {
                    self.visit_count(start, false);
                }
                if let Some(end) = &range.end {
                    self.visit_count(end, true);
                }
            } else {
                for integer in integers {
                    self.visit_count(integer, index);
                }
            }
            match expr {
                Expr::Index(index) => {
                    self.mark(&index.expr, Use::Array);
                    self.visit_expr(&index.expr);
                }
                Expr::Call(call) => self.visit_expr(&call.func),
                _ => {}
            }
            return;
        }
        if let Expr::Call(call) = expr {
            self.visit_expr(&call.func);
            for arg in &call.args {
                match passed_whole(arg, self.params).or_else(|| passed_whole(arg, self.slices)) {
                    Some(param) => {
                        self.uses.passed_args.push((param.clone(), arg.clone()));
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
            // `p.w.len()`, `p.w.iter()`, `p.w.to_vec()`: an array; `p.b.exp()`,
            // `p.b.sin_cos()`: a float.
            Expr::MethodCall(call) if is_slice_method(&call.method) => {
                // An array even in a count (`p.w.len() / 2`).
                self.mark(&call.receiver, Use::Array);
                if WRITING_METHODS.contains(&call.method.to_string().as_str()) {
                    self.written(&call.receiver);
                }
                if self.chain(&call.receiver).is_none() {
                    self.visit_expr(&call.receiver);
                }
                for arg in &call.args {
                    self.visit_expr(arg);
                }
                return;
            }
            Expr::MethodCall(call) => self.note_float(&call.receiver),
            // A condition, a `match`'s scrutinee, an operand of `&&`, `||`
            // or `!`: a flag or a kind, data (`if layer.activated`).
            Expr::If(if_expr) => {
                self.condition(&if_expr.cond);
                self.visit_block(&if_expr.then_branch);
                if let Some((_, other)) = &if_expr.else_branch {
                    self.visit_expr(other);
                }
                return;
            }
            Expr::While(looped) => {
                self.condition(&looped.cond);
                self.visit_block(&looped.body);
                return;
            }
            Expr::Match(matched) => {
                self.condition(&matched.expr);
                for arm in &matched.arms {
                    self.visit_arm(arm);
                }
                return;
            }
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Not(_)) => {
                self.condition(&unary.expr);
                return;
            }
            Expr::Binary(binary) if matches!(binary.op, syn::BinOp::And(_) | syn::BinOp::Or(_)) => {
                self.condition(&binary.left);
                self.condition(&binary.right);
                return;
            }
            Expr::Binary(binary) if is_comparison(&binary.op) => {
                for side in [&binary.left, &binary.right] {
                    if self.chain(side).is_some() {
                        self.mark(side, Use::Compared);
                    } else {
                        self.visit_expr(side);
                    }
                }
                return;
            }
            Expr::Binary(binary)
                if crate::desugar::is_compound_assignment(&binary.op)
                    && is_integer_literal(&binary.right) =>
            {
                self.written_integer(&binary.left);
                return;
            }
            Expr::Binary(binary) => {
                self.note_float(&binary.left);
                self.note_float(&binary.right);
            }
            Expr::Unary(unary) => self.note_float(&unary.expr),
            Expr::Reference(r) => {
                if let Some(chain) = self.chain(&r.expr) {
                    self.uses.referenced.insert(chain);
                }
                if r.mutability.is_some() {
                    self.written(&r.expr);
                }
            }
            // A field set to an integer (`s.n = 0;`) is not a float for
            // that: its other uses decide.
            Expr::Assign(assign) if is_integer_literal(&assign.right) => {
                self.written_integer(&assign.left);
                return;
            }
            Expr::Assign(assign) => self.written(&assign.left),
            _ => {}
        }
        if let Expr::Binary(binary) = expr {
            if crate::desugar::is_compound_assignment(&binary.op) {
                self.written(&binary.left);
            }
        }
        syn::visit::visit_expr(self, expr);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        // A `mut` binding is a copy the body may change, not the field.
        let immutable = |p: &syn::PatIdent| p.mutability.is_none() && p.by_ref.is_none();
        let name = match &local.pat {
            syn::Pat::Ident(p) if immutable(p) => Some(p.ident.to_string()),
            syn::Pat::Type(t) => match &*t.pat {
                syn::Pat::Ident(p) if immutable(p) => Some(p.ident.to_string()),
                _ => None,
            },
            _ => None,
        };
        if name.is_none() {
            // A shadowing `let mut k = ..` ends an alias of the same name.
            if let syn::Pat::Ident(p) = &local.pat {
                self.aliases.remove(&p.ident.to_string());
            }
        }
        if let Some(name) = &name {
            self.aliases.remove(name);
        }
        self.note_copy(local);
        let init = local.init.as_ref().map(|init| &*init.expr);
        let field = init.and_then(|init| match strip(init) {
            Expr::Reference(r) if r.mutability.is_none() => self.chain(&r.expr),
            other => self.chain(other),
        });
        match (name, field) {
            // Its uses decide; the binding itself says nothing yet.
            (Some(name), Some(chain))
                if local.init.as_ref().is_some_and(|i| i.diverge.is_none()) =>
            {
                if let Some(init) = init {
                    self.uses
                        .first
                        .entry(chain.clone())
                        .or_insert_with(|| init.clone());
                }
                self.uses
                    .fields
                    .entry(chain.clone())
                    .or_insert(Use::Compared);
                self.aliases.insert(name, chain);
            }
            _ => syn::visit::visit_local(self, local),
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // `vec![0.0; layer.n]`: the length is a count.
        if let Some(repeat) = crate::parse::method::repeat_in(mac) {
            self.visit_expr(&repeat.expr);
            self.visit_count(&repeat.len, true);
            return;
        }
        crate::parse::method::read_macro_arguments(self, mac);
    }
}

impl Visitor<'_> {
    /// `let mut a = p.a;` (or `: [f64; 3]`): a copy of the field, which the
    /// body may index; any other `let` of the name ends one.
    fn note_copy(&mut self, local: &syn::Local) {
        let (pat, ty) = match &local.pat {
            syn::Pat::Type(t) => (&*t.pat, Some(&*t.ty)),
            other => (other, None),
        };
        let syn::Pat::Ident(p) = pat else { return };
        let name = p.ident.to_string();
        self.copies.remove(&name);
        let init = local.init.as_ref().map(|init| strip(&init.expr));
        let Some(chain) = init.and_then(|init| chain_of(init, self.params)) else {
            return;
        };
        if p.mutability.is_none() {
            return;
        }
        if matches!(ty, Some(syn::Type::Array(_))) {
            self.mark_chain_array(chain.clone());
        }
        self.copies.insert(name, chain);
    }

    /// An index or a slice method of a copy of a field: the field is an
    /// array.
    fn note_copy_read_as_array(&mut self, expr: &Expr) {
        let base = match strip(expr) {
            Expr::Index(index) => &*index.expr,
            Expr::MethodCall(call) if is_slice_method(&call.method) => &*call.receiver,
            _ => return,
        };
        let copy = match strip(base) {
            Expr::Path(path) => path.path.get_ident().map(ToString::to_string),
            _ => None,
        };
        if let Some(chain) = copy.and_then(|name| self.copies.get(&name).cloned()) {
            self.mark_chain_array(chain);
        }
    }

    fn mark_chain_array(&mut self, chain: Chain) {
        self.uses.other.insert(chain.clone());
        let entry = self.uses.fields.entry(chain).or_insert(Use::Array);
        *entry = (*entry).max(Use::Array);
    }

    /// A field read as a condition is data; anything else is visited.
    fn condition(&mut self, expr: &Expr) {
        match self.chain(expr) {
            Some(_) => self.mark_read(expr, Use::Compared, Read::Condition),
            None => self.visit_expr(expr),
        }
    }

    /// A place set to an integer: written, its indices counts.
    fn written_integer(&mut self, place: &Expr) {
        self.written(place);
        let mut at = strip(place);
        while let Expr::Index(index) = at {
            self.visit_count(&index.index, true);
            at = strip(&index.expr);
        }
    }

    fn written(&mut self, place: &Expr) {
        let mut at = strip(place);
        while let Expr::Index(index) = at {
            at = strip(&index.expr);
        }
        if chain_of(at, self.params).is_some() || indexed_chain(at, self.slices).is_some() {
            self.uses.written.push(place.clone());
        }
    }
}

/// `0`, `-1`, `2usize`.
fn is_integer_literal(expr: &Expr) -> bool {
    match strip(expr) {
        Expr::Lit(lit) => matches!(lit.lit, syn::Lit::Int(_)),
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => {
            is_integer_literal(&unary.expr)
        }
        _ => false,
    }
}

fn is_slice_method(method: &Ident) -> bool {
    let method = method.to_string();
    SLICE_METHODS.contains(&method.as_str()) || WRITING_METHODS.contains(&method.as_str())
}

/// Methods of slices and vectors that change an array field in place.
const WRITING_METHODS: &[&str] = &[
    "iter_mut",
    "copy_from_slice",
    "clone_from_slice",
    "fill",
    "swap",
    "reverse",
    "as_mut_slice",
    "first_mut",
    "last_mut",
    "get_mut",
    "chunks_mut",
    "chunks_exact_mut",
    "split_at_mut",
];

/// Methods of slices and vectors a body calls on an array field.
const SLICE_METHODS: &[&str] = &[
    "len",
    "is_empty",
    "iter",
    "into_iter",
    "to_vec",
    "to_owned",
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

/// Whether `expr` computes a count, so that the fields read inside it are
/// integers: `p.n * 2`, `w.len() / p.rows`, `(i + 1) % p.k` (arithmetic with an
/// integer literal or a length).
fn counts(expr: &Expr) -> bool {
    let Expr::Binary(binary) = expr else {
        return false;
    };
    let integer = |e: &Expr| match strip(e) {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(_),
            ..
        }) => true,
        Expr::MethodCall(call) => call.method == "len",
        _ => false,
    };
    !is_comparison(&binary.op) && (integer(&binary.left) || integer(&binary.right))
}
