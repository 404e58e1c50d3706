//! `let`, patterns and assignments: a binding names a node, an assignment
//! makes a new version of a variable.

use super::expressions::{is_float_literal, turbofish_float};
use super::scopes::Key;
use super::{key, strip_parens, Lowerer, Tail};
use crate::desugar::iterators;
use crate::ir::{ElementSource, FloatTy, Form, Hint, Node, NodeId, NodeKind, Operand, Operator};
use crate::parse::signature::Shape;

use proc_macro2::{Ident, Span};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Pat, UnOp};

impl<'a> Lowerer<'a> {
    pub(super) fn local_stmt(&mut self, local: &syn::Local) {
        let Some(init) = &local.init else {
            self.errors.spanned(
                local,
                "a `let` without a value is supported only where the next statement gives it one on every path (`let y; if c { y = a; } else { y = b; }`, or `y = a;`); give the variable its value where it is declared",
            );
            return;
        };
        if let Some((else_token, _)) = &init.diverge {
            self.errors.spanned(
                else_token,
                "`let ... else` is not supported in a differentiated function (but for `let Some(v) = x.first() else { .. };`, `x.last()`, `x.get(i)` and `let Some((first, rest)) = x.split_first() else { .. };` or `split_last()`); test the value with a comparison first",
            );
            return;
        }
        self.bind_pattern(&local.pat, &init.expr, None);
    }

    pub(super) fn bind_pattern(&mut self, pat: &Pat, expr: &Expr, annotation: Option<&syn::Type>) {
        match pat {
            Pat::Type(typed) => self.bind_pattern(&typed.pat, expr, Some(&typed.ty)),
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                if let Expr::Closure(closure) = strip_parens(expr) {
                    return self.define_closure(&p.ident, closure);
                }
                if let Expr::MethodCall(call) = strip_parens(expr) {
                    // Over any slice: `collect` fills a buffer in a loop.
                    if self.array_local(&call.receiver).is_none() {
                        let float = annotation
                            .and_then(|ty| Shape::of(ty, &self.floats))
                            .map(|(float, _, _)| float)
                            .or_else(|| turbofish_float(call.turbofish.as_ref(), &self.floats))
                            .unwrap_or_else(|| self.ret.clone());
                        if let Some(stmts) = iterators::collect(&p.ident, call, &float.zero()) {
                            self.stmts(&stmts, Tail::Unit, expr.span());
                            return;
                        }
                    }
                }
                let written = self
                    .filled_buffer(&p.ident, expr, annotation)
                    .or_else(|| self.array_from_fn(&p.ident, expr, annotation));
                if let Some(stmts) = written {
                    self.stmts(&stmts, Tail::Unit, expr.span());
                    return;
                }
                if let Some((source, source_name)) = self.copied_array(expr, p.mutability.is_some()) {
                    return self.copy_array(&p.ident, source, &source_name, expr);
                }
                let mark = self.nodes.len();
                let value = match strip_parens(expr) {
                    Expr::Repeat(repeat) => self.buffer(&repeat.expr, &repeat.len, true, annotation, expr),
                    Expr::Macro(mac) if mac.mac.path.is_ident("vec") => self.vec_buffer(&mac.mac, annotation, expr),
                    Expr::Array(array) if self.literal_is_buffer(array) => self.array_literal(array, annotation, expr, true),
                    _ if super::is_empty_vec(expr) => self.growable_buffer(annotation, expr),
                    _ => self.expr(expr),
                };
                if let Operand::Node(array) = value {
                    if array < mark && self.nodes[array].array.is_some() {
                        // `let w = weights;`: another name for the same array.
                        if p.mutability.is_some() {
                            self.errors.spanned(
                                expr,
                                "copying an array into a mutable variable is not supported; write into a new buffer element by element",
                            );
                        }
                        self.declare(&p.ident, array);
                        return;
                    }
                }
                if let Operand::Node(array) = value {
                    if array >= mark && self.nodes[array].array.is_some() {
                        // A new array: it takes the variable's name.
                        self.nodes[array].hint = Hint::User(p.ident.clone());
                        self.declare(&p.ident, array);
                        return;
                    }
                }
                let id = self.bind(&p.ident, value, mark, annotation);
                self.declare(&p.ident, id);
            }
            Pat::Tuple(tuple) => self.bind_tuple(tuple, expr, annotation),
            // `let [k, c] = *params;` of an array behind a reference.
            Pat::Slice(_) if super::dereferenced(expr).is_some_and(|inner| self.array_local(inner).is_some()) => {
                if let Some(inner) = super::dereferenced(expr) {
                    self.bind_pattern(pat, inner, annotation);
                }
            }
            Pat::Slice(slice) => match strip_parens(expr) {
                Expr::Call(call) => {
                    self.bind_outputs(&slice.elems, slice, call, expr, ElementSource::Item);
                }
                // `let [a, b] = [x, y];` is `let (a, b) = (x, y);`.
                Expr::Array(array) => {
                    let (elems, values) = (&slice.elems, &array.elems);
                    let tuple = syn::PatTuple {
                        attrs: Vec::new(),
                        paren_token: syn::token::Paren(slice.bracket_token.span),
                        elems: elems.clone(),
                    };
                    let values: Expr = syn::parse_quote_spanned!(array.span()=> (#values,));
                    self.bind_tuple(&tuple, &values, None);
                }
                // `let [a, b, c] = p;` of an array: `let (a, b, c) = (p[0], p[1], p[2]);`.
                source if self.array_local(source).is_some() && !slice.elems.iter().any(|e| matches!(e, Pat::Rest(_))) => {
                    let tuple = syn::PatTuple {
                        attrs: Vec::new(),
                        paren_token: syn::token::Paren(slice.bracket_token.span),
                        elems: slice.elems.clone(),
                    };
                    let reads = (0..slice.elems.len()).map(|k| {
                        let k = proc_macro2::Literal::usize_unsuffixed(k);
                        quote::quote!(#source[#k])
                    });
                    let values: Expr = syn::parse_quote_spanned!(source.span()=> (#(#reads,)*));
                    self.bind_tuple(&tuple, &values, None);
                }
                _ => self.errors.spanned(
                    slice,
                    "an array pattern needs a call of a function that returns an array on the right, as in `let [a, b] = f(x);`",
                ),
            },
            // The value is computed, as Rust does, and nothing reads it: it
            // gets no adjoint. A variable dropped so (`let _ = target;`, to
            // mark it used) is dropped in the forward pass too, where it is
            // then read as in the function.
            Pat::Wild(_) => {
                let value = self.expr(expr);
                if matches!(expr, Expr::Path(_)) && matches!(value, Operand::Node(_)) {
                    let dropped =
                        self.inactive_template(|v| quote::quote!({ let _ = #(#v)*; }), &[value], expr);
                    self.as_statement(&dropped, "dropped");
                }
            }
            // `let &(t, y) = o;` is `let (t, y) = *o;`.
            Pat::Reference(r) if is_place(expr) => {
                let span = expr.span();
                let target: Expr = syn::parse_quote_spanned!(span=> (*#expr));
                self.bind_pattern(&r.pat, &target, None);
            }
            // `let Obs { t, y } = obs[i];`: each field read from the place.
            Pat::Struct(pattern) if is_place(expr) && pattern.qself.is_none() => {
                for field in &pattern.fields {
                    let member = &field.member;
                    let span = expr.span();
                    let value: Expr = syn::parse_quote_spanned!(span=> (#expr).#member);
                    self.bind_pattern(&field.pat, &value, None);
                }
            }
            _ => self.errors.spanned(
                pat,
                "only `let name = ...` and `let (a, b) = (..., ...)` are supported here",
            ),
        }
    }

    /// `let (a, b) = (e1, e2);`: every right-hand side is evaluated before any name
    /// is bound, so `let (a, b) = (b, a);` swaps.
    pub(super) fn bind_tuple(
        &mut self,
        tuple: &syn::PatTuple,
        expr: &Expr,
        annotation: Option<&syn::Type>,
    ) {
        if let Expr::MethodCall(call) = strip_parens(expr) {
            if call.method == "sin_cos" && call.args.is_empty() && tuple.elems.len() == 2 {
                // `let (s, c) = x.sin_cos();` is `let (s, c) = (x.sin(), x.cos());`.
                let receiver = &call.receiver;
                let pair: Expr = syn::parse_quote!((#receiver.sin(), #receiver.cos()));
                return self.bind_tuple(tuple, &pair, annotation);
            }
        }
        if let Expr::Call(call) = strip_parens(expr) {
            return self.bind_outputs(&tuple.elems, tuple, call, expr, ElementSource::Field);
        }
        // `let (lo, hi) = if a < b { (a, b) } else { (b, a) };`
        if matches!(strip_parens(expr), Expr::If(_) | Expr::Match(_)) {
            if let Some(elements) = iterators::split_tuple(expr, tuple.elems.len()) {
                let span = expr.span();
                let tuple_expr: Expr = syn::parse_quote_spanned!(span=> (#(#elements,)*));
                return self.bind_tuple(tuple, &tuple_expr, annotation);
            }
        }
        // `let (t, y) = obs[i];` of a tuple the body can read again (a
        // name, a field, an element): each element read from it.
        if is_place(expr) {
            let span = expr.span();
            let reads = (0..tuple.elems.len()).map(|k| {
                let k = syn::Index::from(k);
                quote::quote_spanned!(span=> (#expr).#k)
            });
            let values: Expr = syn::parse_quote_spanned!(span=> (#(#reads,)*));
            return self.bind_tuple(tuple, &values, annotation);
        }
        let Expr::Tuple(values) = strip_parens(expr) else {
            self.errors.spanned(
                expr,
                "a tuple pattern needs a tuple expression on the right, as in `let (a, b) = (x, y);`, a call of a function with several outputs, or a tuple the body names (`let (t, y) = obs[i];`): bind this value to a name first",
            );
            return;
        };
        if values.elems.len() != tuple.elems.len() {
            self.errors.spanned(
                expr,
                "the tuple has a different number of elements than the pattern",
            );
            return;
        }
        let types: Vec<Option<&syn::Type>> = match annotation {
            Some(syn::Type::Tuple(t)) => t.elems.iter().map(Some).collect(),
            _ => vec![None; values.elems.len()],
        };
        let mut lowered = Vec::new();
        for (value, ty) in values.elems.iter().zip(&types) {
            let mark = self.nodes.len();
            lowered.push((self.expr(value), mark, *ty));
        }
        // Patterns inside the tuple (`(i, &(t, y))`) are taken apart after
        // every name of this one is bound, from a name of their own.
        let mut nested = Vec::new();
        for (pat, (value, mark, ty)) in tuple.elems.iter().zip(lowered) {
            let pat = match pat {
                Pat::Type(typed) => &*typed.pat,
                other => other,
            };
            match pat {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                    let id = self.bind(&p.ident, value, mark, ty);
                    self.declare(&p.ident, id);
                }
                // Computed, and dropped.
                Pat::Wild(_) => {}
                Pat::Tuple(_) | Pat::Struct(_) | Pat::Reference(_) if !self.is_active(&value) => {
                    let item = self.part_names.fresh("item");
                    let id = self.bind(&item, value, mark, ty);
                    self.declare(&item, id);
                    nested.push((pat, item));
                }
                _ => self
                    .errors
                    .spanned(pat, "expected a variable name or `_` in this tuple pattern"),
            }
        }
        for (pat, item) in nested {
            self.bind_pattern(pat, &syn::parse_quote!(#item), None);
        }
    }

    /// Gives `value` the user's name: the node the right-hand side just created is
    /// renamed (so `let sigx = sigmoid(x)` is one node called `sigx`); anything else
    /// gets a copy node with that name.
    pub(super) fn bind(
        &mut self,
        ident: &Ident,
        value: Operand,
        mark: NodeId,
        annotation: Option<&syn::Type>,
    ) -> NodeId {
        if let Operand::Node(id) = value {
            if id >= mark && id + 1 == self.nodes.len() && self.nodes[id].is_unnamed_intermediate()
            {
                let node = &mut self.nodes[id];
                node.hint = Hint::User(ident.clone());
                if let Some(ty) = annotation {
                    node.annotation = Some(ty.clone());
                    node.ty = Some(ty.clone());
                }
                return id;
            }
        }
        let mut node = self.copy_node(value, ident.span());
        node.hint = Hint::User(ident.clone());
        if let Some(ty) = annotation {
            node.annotation = Some(ty.clone());
            node.ty = Some(ty.clone());
        }
        self.push(node)
    }

    pub(super) fn copy_node(&self, value: Operand, span: Span) -> Node {
        match value {
            Operand::Node(id) if self.nodes[id].active => Node::new(
                Hint::Op("copy".into()),
                NodeKind::Op {
                    rule: Operator::Copy.rule(),
                    form: Form::Operator(Operator::Copy),
                    args: vec![Operand::Node(id)],
                },
                span,
            )
            .active_if(true)
            .typed(self.nodes[id].ty.clone()),
            Operand::Node(id) => {
                let source = Ident::new("__source", Span::call_site());
                Node::new(
                    Hint::Op("c".into()),
                    NodeKind::Inactive {
                        expr: syn::parse_quote!(#source),
                        locals: vec![("__source".into(), id)],
                    },
                    span,
                )
                .typed(self.nodes[id].ty.clone())
            }
            Operand::Const(c) => {
                let tokens = &c.tokens;
                Node::new(
                    Hint::Op("c".into()),
                    NodeKind::Inactive {
                        expr: syn::parse_quote!(#tokens),
                        locals: Vec::new(),
                    },
                    span,
                )
                // A constant expression: `(0.75_f64.powi(2) + 1.5) * 3.0`.
                .typed(
                    c.float
                        .or_else(|| is_float_literal(tokens).then(|| self.ret.clone()))
                        .as_ref()
                        .map(FloatTy::to_type)
                        .or_else(|| {
                            syn::parse2::<Expr>(tokens.clone())
                                .ok()
                                .and_then(|e| self.guess_type(&e))
                        }),
                )
            }
        }
    }

    pub(super) fn assigned_local(&mut self, target: &Expr) -> Option<(Ident, NodeId)> {
        let ident = match strip_parens(target) {
            Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
            // `*i = ...` for a `&mut f64` parameter `i`.
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => match strip_parens(&u.expr) {
                Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
                _ => None,
            },
            _ => None,
        };
        match ident.and_then(|i| self.variable(&key(&i)).map(|id| (i, id))) {
            Some(found) => Some(found),
            None => {
                self.errors.spanned(
                    target,
                    "only local variables can be assigned to in a differentiated function",
                );
                None
            }
        }
    }

    pub(super) fn assign(&mut self, assign: &syn::ExprAssign) {
        if let Expr::Index(target) = strip_parens(&assign.left) {
            self.write(target, None, &assign.right, assign);
            return;
        }
        let Some((ident, current)) = self.assigned_local(&assign.left) else {
            return;
        };
        // `s = step(s, dt);` of a fixed-size array `[f64; 2]`: the value has
        // the same length (rustc says so), and is copied in element by element.
        if let Some(len) = self.literal_length(current) {
            let span = assign.span();
            let next = self.part_names.fresh(&format!("{}_next", key(&ident)));
            let right = &assign.right;
            let mut stmts: Vec<syn::Stmt> =
                vec![syn::parse_quote_spanned!(span=> let #next = #right;)];
            for k in 0..len {
                let k = proc_macro2::Literal::usize_unsuffixed(k);
                stmts.push(syn::parse_quote_spanned!(span=> #ident[#k] = #next[#k];));
            }
            self.stmts(&stmts, Tail::Unit, span);
            return;
        }
        // (`v = v.iter().map(..).collect();` is written back in place,
        // `desugar::iterators::collect_assignments_as_copies`.)
        let collects = matches!(strip_parens(&assign.right), Expr::MethodCall(call) if call.method == "collect");
        if collects && self.nodes[current].array.is_some() {
            self.errors.spanned(
                assign,
                "a vector can be assigned a `collect` only of `map`s over itself (`v = v.iter().map(|a| a * 0.5).collect();`, also through `rev` or `enumerate`), whose length is its own; bind the new vector with `let` instead (`let v: Vec<f64> = v.windows(2).map(..).collect();`)",
            );
            return;
        }
        let mark = self.nodes.len();
        let value = self.expr(&assign.right);
        let replaced = matches!(value, Operand::Node(v) if self.nodes[v].array.is_some());
        if replaced || self.nodes[current].array.is_some() {
            // The name would move to another array while the code after it
            // (and the next iteration of a loop) still reads the old one.
            self.errors.spanned(
                assign,
                "a vector or slice cannot be assigned whole to a variable yet (`h = next;`; a fixed-size array of literal length, `[f64; 3]`, can): copy its elements into the buffer (`h.copy_from_slice(&next);`, or `h[..n].copy_from_slice(&next[..n]);` with the buffer as long as the longest), or compute each stage in a buffer of its own",
            );
            return;
        }
        let id = self.bind(&ident, value, mark, None);
        self.rebind(&Key::of(&ident), id);
    }

    /// The length of a fixed-size array written as an integer literal
    /// (`[0.0; 3]`, `[a, b]`, `[f64; 2]`), up to 64.
    fn literal_length(&self, array: NodeId) -> Option<usize> {
        let info = self.nodes[array].array.as_ref().filter(|info| info.fixed)?;
        let Operand::Const(len) = &info.len else {
            return None;
        };
        let lit: syn::LitInt = syn::parse2(len.tokens.clone()).ok()?;
        lit.base10_parse::<usize>().ok().filter(|n| *n <= 64)
    }

    pub(super) fn compound_assign(&mut self, binary: &syn::ExprBinary) {
        let Some(op) = Operator::of_compound(&binary.op) else {
            return;
        };
        if let Expr::Index(target) = strip_parens(&binary.left) {
            self.write(target, Some(op), &binary.right, binary);
            return;
        }
        let Some((ident, current)) = self.assigned_local(&binary.left) else {
            return;
        };
        let value = self.expr(&binary.right);
        let id = self.arithmetic(op, Operand::Node(current), value, binary);
        if let Operand::Node(id) = id {
            self.nodes[id].hint = Hint::User(ident.clone());
            self.rebind(&Key::of(&ident), id);
        }
    }
}

/// The variable an assignment target names: `a`, or `*a` for a `&mut` one.
pub(super) fn assigned_name(target: &Expr) -> Option<&Ident> {
    match strip_parens(target) {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => assigned_name(&u.expr),
        _ => None,
    }
}

/// A lone capitalised name in a pattern is a unit variant or constant.
pub(super) fn is_constant_name(ident: &Ident) -> bool {
    ident.to_string().starts_with(char::is_uppercase)
}

/// The first variable a pattern binds, if any (`Some(v)`, `n @ 1..=3`).
pub(super) fn pattern_binding(pat: &Pat) -> Option<&syn::PatIdent> {
    struct Finder<'a>(Option<&'a syn::PatIdent>);
    impl<'a> Visit<'a> for Finder<'a> {
        fn visit_pat_ident(&mut self, pat: &'a syn::PatIdent) {
            let looks_like_constant = pat.subpat.is_none() && is_constant_name(&pat.ident);
            if self.0.is_none() && !looks_like_constant {
                self.0 = Some(pat);
            }
        }
    }
    let mut finder = Finder(None);
    finder.visit_pat(pat);
    finder.0
}

/// A place the body can read again to the same value, without effects: a
/// name, a field of one, an element at an index that is a name or a literal,
/// a dereference of one.
fn is_place(expr: &Expr) -> bool {
    match strip_parens(expr) {
        Expr::Path(p) => p.path.get_ident().is_some(),
        Expr::Field(f) => is_place(&f.base),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => is_place(&u.expr),
        Expr::Index(i) => {
            is_place(&i.expr) && matches!(strip_parens(&i.index), Expr::Path(_) | Expr::Lit(_))
        }
        _ => false,
    }
}
