//! A local struct built from a literal and used only through its fields,
//! `let mut s = State { x: 1.0, v: 0.0 }; .. s.v += a * dt; .. s.x`, is one
//! local per field: `let mut s_x = 1.0; let mut s_v = 0.0; .. s_v += a * dt;
//! .. s_x` (scalar replacement of aggregates).
//!
//! Structs are values the way a simulation uses them, and each use is
//! written with the locals:
//!
//! - a literal assigned again, `s = State { x: .., v: .. };`, assigns every
//!   field at once, `(s_x, s_v) = (.., ..);`, and `..base` gives the fields
//!   it does not name (`..s` leaves them as they are);
//! - another struct assigned, `s = next;`, is `(s_x, s_v) = (next.x,
//!   next.v);`, which `next`'s own split reads as its locals;
//! - a copy, `let mut t = s;` (what an inlined helper taking `mut s: State`
//!   binds), or `t = s;`, is a literal of `s`'s locals, `State { x: s_x, v:
//!   s_v }`, split in its turn; `..s` in a literal is the same locals.
//!
//! The locals a struct is split into are the fields its literal names, or,
//! where the literal has a base (`State { ..*s0 }`, a copy of a parameter,
//! `parse/model/copies.rs`), the fields read through it or any struct it is
//! assigned to or copied from: the fields that base gives are read from it,
//! `let mut s_x = s0.x;`. A struct used otherwise (passed whole, returned, a
//! method called) is left as written.

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use quote::ToTokens;
use std::collections::{BTreeMap, BTreeSet};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

/// `float` is the function's float type, `f64` or `f32`, where its result
/// says: a field given a bare literal (`State { x: 0.5, .. }`, typed by the
/// struct) is a local of that type, `let s_x: f64 = 0.5;`, so that a method
/// called on it (`s_x.sin()`) knows its type.
pub fn struct_locals_as_fields(block: &mut syn::Block, float: Option<&syn::Type>) {
    crate::desugar::shadows::struct_shadows_renamed(block);
    let mut names = Names::avoiding(identifiers(block.to_token_stream()));
    Splitter {
        names: &mut names,
        float,
    }
    .visit_block_mut(block);
}

/// `f64` or `f32` of a function returning one, a tuple or an array of them.
pub fn float_returned(sig: &syn::Signature) -> Option<syn::Type> {
    let syn::ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    let element = match &**ty {
        syn::Type::Tuple(tuple) => tuple.elems.first()?,
        syn::Type::Array(array) => &array.elem,
        other => other,
    };
    let concrete =
        matches!(element, syn::Type::Path(p) if p.path.is_ident("f64") || p.path.is_ident("f32"));
    concrete.then(|| element.clone())
}

struct Splitter<'a> {
    names: &'a mut Names,
    float: Option<&'a syn::Type>,
}

impl VisitMut for Splitter<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        let mut k = 0;
        while k < block.stmts.len() {
            if let Some(split) = self.split(&block.stmts[k], &block.stmts[k + 1..]) {
                let count = split.lets.len();
                let Split { lets, local, path } = split;
                block.stmts.splice(k..=k, lets);
                let mut replace = Replace {
                    local: &local,
                    path: &path,
                    names: self.names,
                };
                replace.visit_stmts_mut(&mut block.stmts[k + count..]);
                k += count;
                continue;
            }
            k += 1;
        }
        syn::visit_mut::visit_block_mut(self, block);
    }
}

struct Split {
    lets: Vec<Stmt>,
    local: Local,
    /// The struct's path, which a copy's literal names.
    path: syn::Path,
}

/// A struct local split: its name and each field's local, in the order of
/// the `let`s.
struct Local {
    ident: Ident,
    fields: Vec<(Ident, Ident)>,
    /// The fields read as arrays.
    arrays: BTreeSet<String>,
}

impl Local {
    fn field(&self, name: &str) -> Option<&Ident> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, local)| local)
    }
}

impl Splitter<'_> {
    /// `let [mut] s = Path { a: .., b: .. };` whose later uses are all of
    /// its fields, copies, or structs assigned to it whole.
    fn split(&mut self, stmt: &Stmt, rest: &[Stmt]) -> Option<Split> {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        let pat = plain_binding(&local.pat)?;
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let Expr::Struct(literal) = strip(&init.expr) else {
            return None;
        };
        let ident = &pat.ident;
        let named = literal_fields(literal)?;
        let base = match &literal.rest {
            Some(rest) => Some(whole_struct(rest)?),
            None => None,
        };
        let uses = field_uses(ident, rest);
        if !uses.fine {
            return None;
        }
        // The fields: those named, and with a base, every one read.
        let mut fields: Vec<String> = named.clone();
        if base.is_some() {
            let more = uses
                .reads
                .iter()
                .chain(uses.literals.iter().flat_map(|l| &l.names));
            for name in more {
                if !fields.contains(name) {
                    fields.push(name.clone());
                }
            }
        }
        let given = |names: &[String]| fields.iter().all(|f| names.contains(f));
        let fits = uses.reads.iter().all(|read| fields.contains(read))
            && uses.literals.iter().all(|l| l.based || given(&l.names));
        if !fits {
            return None;
        }
        let mutability = &pat.mutability;
        let mut split = Local {
            ident: ident.clone(),
            fields: Vec::new(),
            arrays: uses.arrays.clone(),
        };
        let mut lets = Vec::new();
        for name in &fields {
            let member = Ident::new(name, ident.span());
            let local_name = self.names.fresh(&format!("{ident}_{name}"));
            let value: Expr = match literal.fields.iter().find(|f| member_is(&f.member, name)) {
                Some(field) => field.expr.clone(),
                // An array the base holds is copied: the split writes its own.
                None if uses.arrays.contains(name) => {
                    let base = base?;
                    syn::parse_quote!(#base.#member.clone())
                }
                None => {
                    let base = base?;
                    syn::parse_quote!(#base.#member)
                }
            };
            lets.push(match self.float.filter(|_| bare_float(&value)) {
                Some(float) => syn::parse_quote!(let #mutability #local_name: #float = #value;),
                None => syn::parse_quote!(let #mutability #local_name = #value;),
            });
            split.fields.push((member, local_name));
        }
        Some(Split {
            lets,
            local: split,
            path: literal.path.clone(),
        })
    }
}

/// `0.5` or `-1.0`: a float literal without a suffix.
fn bare_float(expr: &Expr) -> bool {
    match strip(expr) {
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => bare_float(&unary.expr),
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(float),
            ..
        }) => float.suffix().is_empty(),
        _ => false,
    }
}

fn member_is(member: &syn::Member, name: &str) -> bool {
    matches!(member, syn::Member::Named(ident) if ident == name)
}

/// The named fields of a literal, in order (`None` if it names one by
/// position). Those `..base` gives are not among them.
fn literal_fields(literal: &syn::ExprStruct) -> Option<Vec<String>> {
    if literal.qself.is_some() {
        return None;
    }
    literal
        .fields
        .iter()
        .map(|f| match &f.member {
            syn::Member::Named(name) => Some(name.to_string()),
            syn::Member::Unnamed(_) => None,
        })
        .collect()
}

/// A literal assigned to the struct or one joined to it: the fields it
/// names, and whether a base gives the others.
struct Assigned {
    names: Vec<String>,
    based: bool,
}

/// How a struct local is used after its `let`, with the structs joined to
/// it there: copies of it (`let t = s;`, `t = s;`), structs assigned to it
/// (`s = t;`), literals based on it (`..s`). Those share its fields.
struct FieldUses {
    /// The fields read through any of them.
    reads: BTreeSet<String>,
    /// Those read as arrays: indexed, or a slice's method called.
    arrays: BTreeSet<String>,
    /// The literals assigned to any of them.
    literals: Vec<Assigned>,
    /// Whether every use of them is one of those.
    fine: bool,
}

fn field_uses(local: &Ident, rest: &[Stmt]) -> FieldUses {
    let mut uses = Uses {
        joined: vec![local.clone()],
        bound_twice: bound_twice(rest),
        found: FieldUses {
            reads: BTreeSet::new(),
            arrays: BTreeSet::new(),
            literals: Vec::new(),
            fine: true,
        },
        joining: true,
    };
    // First the structs joined to it (a copy may be joined after its first
    // uses: `q.a .. q = p;`), then their uses.
    loop {
        let before = uses.joined.len();
        uses.visit_stmts(rest);
        if uses.joined.len() == before {
            break;
        }
    }
    uses.joining = false;
    uses.found.fine = true;
    uses.visit_stmts(rest);
    uses.found
}

struct Uses {
    /// The local and the structs joined to it.
    joined: Vec<Ident>,
    /// The names bound by more than one `let` after the local's: a struct
    /// joined to it by such a name would be two values (its uses after the
    /// second `let` are not of the first).
    bound_twice: BTreeSet<String>,
    found: FieldUses,
    /// Still finding the structs joined (the first passes).
    joining: bool,
}

impl Uses {
    /// Statements in order, to the end or to a `let` that binds the local
    /// again (`let s = step(s);`), whose value is the last use.
    fn visit_stmts(&mut self, stmts: &[Stmt]) {
        let local_name = self.joined[0].clone();
        for stmt in stmts {
            if let Stmt::Local(local) = stmt {
                if crate::desugar::pattern_binds(&local.pat, &local_name) {
                    if let Some(init) = &local.init {
                        // (`let s = State { x: 1.0, ..s };`: a literal based
                        // on the one split, its last use.)
                        let based = plain_binding(&local.pat).is_some()
                            && init.diverge.is_none()
                            && self.given(&local_name, &init.expr);
                        if !based {
                            self.visit_expr(&init.expr);
                            if let Some((_, otherwise)) = &init.diverge {
                                self.visit_expr(otherwise);
                            }
                        }
                    }
                    return;
                }
            }
            self.visit_stmt(stmt);
        }
    }

    fn is_joined(&self, expr: &Expr) -> bool {
        self.joined.iter().any(|name| is_local(expr, name))
    }

    fn join(&mut self, ident: &Ident) {
        if self.joining && !self.joined.contains(ident) {
            self.joined.push(ident.clone());
        }
    }

    /// A literal given to a joined struct (`let t = State { .. }` or `s =
    /// State { .. }`): its fields, its base joined.
    fn literal_given(&mut self, literal: &syn::ExprStruct) {
        let Some(names) = literal_fields(literal) else {
            self.found.fine = false;
            return;
        };
        if let Some(rest) = &literal.rest {
            match whole_struct(rest) {
                Some(base) => self.join(base),
                None => self.found.fine = false,
            }
        }
        if !self.joining {
            self.found.literals.push(Assigned {
                names,
                based: literal.rest.is_some(),
            });
        }
        for field in &literal.fields {
            self.visit_expr(&field.expr);
        }
    }

    /// A literal based on a joined struct, given to `target`: joined too.
    fn based_on_joined(&self, literal: &syn::ExprStruct) -> bool {
        literal
            .rest
            .as_deref()
            .is_some_and(|rest| whole_struct(rest).is_some_and(|base| self.joined.contains(base)))
    }

    /// `target = value` or `let target = value`, where either side may be
    /// joined: whether it was one of the forms that join them.
    fn given(&mut self, target: &Ident, value: &Expr) -> bool {
        let target_joined = self.joined.contains(target);
        match strip(value) {
            Expr::Struct(literal) if target_joined || self.based_on_joined(literal) => {
                self.join(target);
                self.literal_given(literal);
                true
            }
            value => match whole_struct(value) {
                Some(source) if target_joined || self.joined.contains(source) => {
                    self.join(target);
                    self.join(source);
                    true
                }
                _ => false,
            },
        }
    }
}

impl<'ast> Visit<'ast> for Uses {
    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.visit_stmts(&block.stmts);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let (Some(pat), Some(init)) = (plain_binding(&local.pat), &local.init) {
            let name = &pat.ident;
            if self.joined.contains(name) && self.bound_twice.contains(&name.to_string()) {
                self.found.fine = false;
            } else if init.diverge.is_none() && self.given(name, &init.expr) {
                return;
            }
        }
        syn::visit::visit_local(self, local);
    }

    fn visit_expr(&mut self, expr: &'ast Expr) {
        let array = match expr {
            Expr::Index(index) => Some(&*index.expr),
            Expr::MethodCall(call) if SLICE_METHODS.contains(&call.method.to_string().as_str()) => {
                Some(&*call.receiver)
            }
            _ => None,
        };
        if let Some(Expr::Field(field)) = array.map(strip) {
            if let (syn::Member::Named(name), false) = (&field.member, self.joining) {
                if self.is_joined(&field.base) {
                    self.found.arrays.insert(name.to_string());
                }
            }
        }
        match expr {
            // A field of a field (`s.pose.rot`): a struct inside, not split.
            Expr::Field(field) if matches!(strip(&field.base), Expr::Field(inner) if self.is_joined(&inner.base)) =>
            {
                self.found.fine = false;
                return;
            }
            Expr::Field(field) if self.is_joined(&field.base) => {
                match &field.member {
                    syn::Member::Named(name) if !self.joining => {
                        self.found.reads.insert(name.to_string());
                    }
                    syn::Member::Named(_) => {}
                    syn::Member::Unnamed(_) => self.found.fine = false,
                }
                return;
            }
            Expr::Assign(assign) => {
                let target = match strip(&assign.left) {
                    Expr::Path(path) if path.qself.is_none() => path.path.get_ident(),
                    _ => None,
                };
                if target.is_some_and(|target| self.given(target, &assign.right)) {
                    return;
                }
            }
            Expr::Path(_) if self.is_joined(expr) => {
                self.found.fine = false;
                return;
            }
            _ => {}
        }
        syn::visit::visit_expr(self, expr);
    }

    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        // Bound otherwise than to a struct (or a closure's parameter of the
        // same name).
        if self.joined.contains(&pat.ident) {
            self.found.fine = false;
        }
        syn::visit::visit_pat_ident(self, pat);
    }

    /// A macro's arguments that parse as expressions (`vec![s.a, s.b]`,
    /// `println!("{}", s.a)`) are read as code; a struct named in a format
    /// string (`"{s:?}"`) or in tokens that are not expressions is used
    /// whole.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
        let parses = syn::parse::Parser::parse2(parser, mac.tokens.clone()).is_ok()
            || crate::parse::method::repeat_in(mac).is_some();
        let mentioned = match parses {
            true => crate::emit::names::format_string_names(mac.tokens.clone()),
            false => identifiers(mac.tokens.clone()),
        };
        if self
            .joined
            .iter()
            .any(|name| mentioned.contains(&name.to_string()))
        {
            self.found.fine = false;
        }
        if parses {
            crate::parse::method::read_macro_arguments(self, mac);
        }
    }
}

/// Methods that tell a field is an array (`s.w.len()`).
const SLICE_METHODS: &[&str] = &[
    "len",
    "is_empty",
    "iter",
    "iter_mut",
    "as_slice",
    "as_mut_slice",
    "windows",
    "chunks",
    "fill",
    "copy_from_slice",
    "swap",
    "first",
    "last",
    "get",
    "to_vec",
    "to_owned",
];

/// The names more than one `let` among `stmts` (and the blocks inside them)
/// binds.
fn bound_twice(stmts: &[Stmt]) -> BTreeSet<String> {
    struct Count(BTreeMap<String, usize>);
    impl<'ast> Visit<'ast> for Count {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            if let Some(pat) = plain_binding(&local.pat) {
                *self.0.entry(pat.ident.to_string()).or_default() += 1;
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut count = Count(BTreeMap::new());
    for stmt in stmts {
        count.visit_stmt(stmt);
    }
    count
        .0
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(name, _)| name)
        .collect()
}

/// `s`, `mut s` or `s: State`: a name bound to the whole value.
pub(crate) fn plain_binding(pat: &syn::Pat) -> Option<&syn::PatIdent> {
    match pat {
        syn::Pat::Type(typed) => plain_binding(&typed.pat),
        syn::Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => Some(pat),
        _ => None,
    }
}

/// `t`, `*t` or `t.clone()` of a local or parameter `t`: a struct taken
/// whole.
pub(crate) fn whole_struct(expr: &Expr) -> Option<&Ident> {
    match strip(expr) {
        Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => whole_struct(&unary.expr),
        Expr::MethodCall(call) if call.method == "clone" && call.args.is_empty() => {
            whole_struct(&call.receiver)
        }
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident(),
        _ => None,
    }
}

/// Whether `expr` is the local `local` itself.
pub(crate) fn is_local(expr: &Expr, local: &Ident) -> bool {
    matches!(strip(expr), Expr::Path(p) if p.qself.is_none() && p.path.is_ident(local))
}

/// Every use of a split struct written with its locals: `s.x` is `s_x`;
/// `s = State { x: a, ..s }` is `(s_x,) = (a,)`, every value computed
/// before any field changes; `s = t` is `(s_x, s_v) = (t.x, t.v)`; `..s`
/// in a literal is `v: s_v`; and `let t = s` or `t = s` give `t` the
/// literal `State { x: s_x, v: s_v }`.
struct Replace<'a> {
    local: &'a Local,
    path: &'a syn::Path,
    names: &'a mut Names,
}

impl Replace<'_> {
    fn is_split(&self, expr: &Expr) -> bool {
        is_local(expr, &self.local.ident)
    }

    /// `s`, `*s` or `s.clone()`.
    fn is_whole(&self, expr: &Expr) -> bool {
        whole_struct(expr) == Some(&self.local.ident)
    }

    /// `State { x: s_x, w: s_w.clone() }`.
    fn literal(&self) -> Expr {
        let path = self.path;
        let fields = self
            .local
            .fields
            .iter()
            .map(|(name, local)| self.field_value(name, local));
        syn::parse_quote!(#path { #(#fields),* })
    }

    /// `x: s_x` of a copy, or of an array `w: s_w.clone()`: copied, as the
    /// struct's copy would copy it (and `s_w` is still `s`'s).
    fn field_value(&self, name: &Ident, local: &Ident) -> syn::FieldValue {
        match self.local.arrays.contains(&name.to_string()) {
            true => syn::parse_quote!(#name: #local.clone()),
            false => syn::parse_quote!(#name: #local),
        }
    }

    /// `(s_x, s_v) = (..)` of `s = value`, or `None` where a field has no
    /// value. An array taken from another struct is copied into the split's
    /// own (`s_w.copy_from_slice(&t.w)`, after the other fields: a vector
    /// is not assigned whole).
    fn assigned(&mut self, value: &Expr) -> Option<Expr> {
        let (mut targets, mut values) = (Vec::new(), Vec::new());
        let mut copies: Vec<syn::Stmt> = Vec::new();
        // Array literals, bound first (a tuple holds no arrays): computed,
        // as all the values are, before any field is assigned.
        let mut firsts: Vec<syn::Stmt> = Vec::new();
        for (name, local) in &self.local.fields {
            let value: Expr = match strip(value) {
                Expr::Struct(literal) => {
                    match literal
                        .fields
                        .iter()
                        .find(|f| member_is(&f.member, &name.to_string()))
                    {
                        Some(field) => field.expr.clone(),
                        None => {
                            let base = whole_struct(literal.rest.as_deref()?)?;
                            if base == &self.local.ident {
                                // Left as it is.
                                continue;
                            }
                            syn::parse_quote!(#base.#name)
                        }
                    }
                }
                whole => {
                    let source = whole_struct(whole)?;
                    syn::parse_quote!(#source.#name)
                }
            };
            // (`..s` of `s = State { x: a, ..s }`, its fields' locals by the
            // time the assignment is rewritten: each left as it is.)
            if whole_struct(&value) == Some(local) {
                continue;
            }
            let taken = matches!(&value, Expr::Field(field) if whole_struct(&field.base).is_some());
            if taken && self.local.arrays.contains(&name.to_string()) {
                copies.push(syn::parse_quote!(#local.copy_from_slice(&#value);));
                continue;
            }
            if matches!(strip(&value), Expr::Array(_) | Expr::Repeat(_)) {
                let first = self.names.fresh(&format!("{local}_value"));
                firsts.push(syn::parse_quote!(let #first = #value;));
                copies.push(syn::parse_quote!(#local.copy_from_slice(&#first);));
                continue;
            }
            targets.push(local.clone());
            values.push(value);
        }
        let assigned: Expr = syn::parse_quote!((#(#targets,)*) = (#(#values,)*));
        if copies.is_empty() {
            return Some(assigned);
        }
        // (No tuple assignment where every field is copied.)
        let assigned = (!targets.is_empty()).then(|| quote::quote!(#assigned;));
        Some(syn::parse_quote!({ #(#firsts)* #assigned #(#copies)* }))
    }

    /// Statements in order, to the end or through a `let` that binds the
    /// struct's name again: after it, the name is another value's.
    fn visit_stmts_mut(&mut self, stmts: &mut [Stmt]) {
        for stmt in stmts {
            let rebinds = matches!(stmt, Stmt::Local(local) if crate::desugar::pattern_binds(&local.pat, &self.local.ident));
            self.visit_stmt_mut(stmt);
            if rebinds {
                return;
            }
        }
    }
}

impl VisitMut for Replace<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        self.visit_stmts_mut(&mut block.stmts);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        crate::parse::method::visit_macro_arguments(self, mac);
    }

    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        if let Some(init) = &mut local.init {
            if self.is_whole(&init.expr) {
                *init.expr = self.literal();
                return;
            }
        }
        syn::visit_mut::visit_local_mut(self, local);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        match expr {
            Expr::Field(field) if self.is_split(&field.base) => {
                if let syn::Member::Named(name) = &field.member {
                    if let Some(local) = self.local.field(&name.to_string()) {
                        let mut local = local.clone();
                        local.set_span(name.span());
                        *expr = syn::parse_quote!(#local);
                    }
                }
            }
            // `..s` (or `..*s`, `..s.clone()`, as `Uses` takes them): the
            // fields it gives, each its local.
            Expr::Struct(literal)
                if literal
                    .rest
                    .as_deref()
                    .is_some_and(|rest| self.is_whole(rest)) =>
            {
                for (name, local) in &self.local.fields {
                    if !literal
                        .fields
                        .iter()
                        .any(|f| member_is(&f.member, &name.to_string()))
                    {
                        literal.fields.push(self.field_value(name, local));
                    }
                }
                literal.rest = None;
                literal.dot2_token = None;
            }
            Expr::Assign(assign) if self.is_split(&assign.left) => {
                if let Some(assigned) = self.assigned(&assign.right) {
                    *expr = assigned;
                }
            }
            Expr::Assign(assign) if self.is_whole(&assign.right) => {
                *assign.right = self.literal();
            }
            _ => {}
        }
    }
}
