//! Expressions on differentiable values: operators, float methods and
//! functions, casts. Each becomes one node with its rule from `rules`.

use super::calls::has_mut_argument;
use super::statements::MACRO_MESSAGE;
use super::{dereferenced, span_of, strip_parens, Lowerer, Tail};
use crate::desugar::iterators;
use crate::ir::{FloatTy, Floats, Form, Hint, Node, NodeKind, Operand, Operator};
use crate::parse::signature::Shape;
use crate::rules::{self, Rule};
use crate::valid;
use proc_macro2::Ident;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, UnOp};

impl<'a> Lowerer<'a> {
    pub(super) fn expr(&mut self, expr: &Expr) -> Operand {
        match expr {
            Expr::Paren(p) => return self.expr(&p.expr),
            // `*i` of a `&mut f64` parameter, `**v` in a filter: the value,
            // which the lowering holds. Not a loop variable of a `for` kept as
            // written (`for i in idx`, over a list of integers): that one is
            // the reference Rust gives, and `*i` reads it.
            // Nor a part of one (`let &p = item;` of `for (i, &p) in
            // perm.iter().enumerate()`, `p` taken from `item.1`).
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => {
                if let Some(id) = dereferenced(expr).and_then(|inner| self.local(inner)) {
                    if !self.holds_loop_reference(id) {
                        return Operand::Node(id);
                    }
                }
            }
            Expr::Call(call) if has_mut_argument(call) || self.passes_scalar_inout(call) => {
                return self.call_with_mut_arguments(call, expr, true)
            }
            Expr::Group(g) => return self.expr(&g.expr),
            Expr::Block(b) if b.label.is_none() => {
                return self
                    .block(&b.block, Tail::Inner)
                    .unwrap_or_else(|| self.dummy())
            }
            Expr::If(branch) => return self.branch(branch, true),
            Expr::Match(matched) => return self.match_expr(matched, true),
            Expr::Repeat(repeat) => {
                return self.buffer(&repeat.expr, &repeat.len, true, None, expr)
            }
            Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
                return self.vec_buffer(&mac.mac, None, expr)
            }
            Expr::Index(index) => {
                if let Some(array) = self.array_local(&index.expr) {
                    if self.nodes[array].active {
                        return self.read(array, &index.index, expr);
                    }
                }
                if let Some(element) = self.element_read(index) {
                    return element;
                }
            }
            Expr::Path(_) => {
                if let Some(id) = self.local(expr) {
                    return Operand::Node(id);
                }
                if self.closure_named(expr).is_some() {
                    self.errors.spanned(
                        expr,
                        "a closure can be called here, `f(x)`, but not passed on as a value; write a `#[differentiate]` function for it",
                    );
                    return self.dummy();
                }
            }
            _ => {}
        }
        if valid::refusal(expr).is_some() {
            // Reported by `valid::check`.
            return self.dummy();
        }
        if let Some(message) = unsupported(expr) {
            self.errors.spanned(expr, message);
            return self.dummy();
        }
        if !self.mentions_active(expr) && !contains_branch(expr) {
            return self.inactive(expr);
        }
        match expr {
            Expr::Unary(unary) => match unary.op {
                UnOp::Neg(_) => {
                    let a = self.expr(&unary.expr);
                    self.operator(Operator::Neg, vec![a], expr)
                }
                // A boolean: no derivative.
                UnOp::Not(_) => self.inactive(expr),
                _ => {
                    self.errors.spanned(
                        unary.op,
                        "dereferencing is not supported on a value being differentiated; differentiated values are `f64` or `f32`, not references",
                    );
                    self.dummy()
                }
            },
            Expr::Binary(binary) => match Operator::of_binary(&binary.op) {
                Some(name) => {
                    let a = self.expr(&binary.left);
                    let b = self.expr(&binary.right);
                    // At the operator, where rustc reports type errors of `a + b`.
                    self.arithmetic(name, a, b, &binary.op)
                }
                // Comparisons and `&&`, `||`: booleans, with no derivative.
                None => self.inactive(expr),
            },
            Expr::Cast(cast) => match self.floats.of_type(&cast.ty) {
                Some(to) => self.cast(&cast.expr, to, expr),
                // Truncating to an integer: the result is piecewise constant.
                None if self.floats.is_integer_like(&cast.ty) => self.inactive(expr),
                // `x as Real`: an alias the macro cannot see through may
                // be a float, whose derivative would silently be lost.
                None => {
                    self.errors.spanned(
                        &cast.ty,
                        format!(
                            "a differentiated value is cast to `{}`, a type the macro cannot see: write the float type itself (`as f64`, `as f32`, or the function's generic `T`), or an integer type (`as usize`) for a value with no derivative",
                            cast.ty.to_token_stream()
                        ),
                    );
                    self.dummy()
                }
            },
            Expr::MethodCall(call) => self.method_call(call, expr),
            Expr::Call(call) => self.call(call, expr),
            _ => {
                let message = match expr {
                    // `let r = rotate(x); r[k]`: the call's array, indexed
                    // by a value (literal indices name its elements).
                    Expr::Index(i) if self.is_call_result(&i.expr) => {
                        "an array a call returns is read by literal indices (`r[0]`, `r[2]`); to loop over its elements, copy them into a buffer first: `let mut v = [0.0; 3]; v[0] = r[0]; ...`"
                    }
                    _ => not_differentiable(expr),
                };
                self.errors.spanned(expr, message);
                self.dummy()
            }
        }
    }

    /// Whether `expr` is a local bound to a call's result.
    fn is_call_result(&self, expr: &Expr) -> bool {
        self.local(expr)
            .is_some_and(|id| matches!(self.nodes[id].kind, NodeKind::Call { .. }))
    }

    pub(super) fn arithmetic(
        &mut self,
        op: Operator,
        a: Operand,
        b: Operand,
        span: &dyn ToTokens,
    ) -> Operand {
        if !self.is_active(&a) && !self.is_active(&b) {
            // `acc += 1.0` on an inactive accumulator: still plain arithmetic.
            return self.op_inactive(op, a, b, span);
        }
        match (&a, &b) {
            (Operand::Node(x), Operand::Node(y)) if op == Operator::Mul && x == y => {
                self.operator(Operator::Square, vec![a], span)
            }
            _ => self.operator(op, vec![a, b], span),
        }
    }

    fn operator(&mut self, op: Operator, args: Vec<Operand>, span: &dyn ToTokens) -> Operand {
        self.op(op.rule(), Form::Operator(op), args, span)
    }

    /// `x as f32`, `f64::from(x)`.
    pub(super) fn cast(&mut self, inner: &Expr, to: FloatTy, expr: &Expr) -> Operand {
        if !self.mentions_active(inner) && !contains_branch(inner) {
            return self.inactive(expr);
        }
        let arg = self.expr(inner);
        if !self.is_active(&arg) {
            return self.inactive_template(|a| quote!(#(#a)* as #to), &[arg], expr);
        }
        let id = self.push(
            Node::new(
                Hint::Op("cast".into()),
                NodeKind::Cast {
                    to: to.clone(),
                    arg,
                },
                expr.span(),
            )
            .active_if(true)
            .typed(Some(to.to_type())),
        );
        Operand::Node(id)
    }

    pub(super) fn method_call(&mut self, call: &syn::ExprMethodCall, expr: &Expr) -> Operand {
        let name = call.method.to_string();
        // `T::from(x).unwrap()` of a differentiated `x: T`: the same value.
        if name == "unwrap" && call.args.is_empty() {
            if let Some(arg) = self.same_float_conversion(&call.receiver) {
                return self.expr(arg);
            }
            let converts = matches!(strip_parens(&call.receiver), Expr::Call(c)
                if matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "from")));
            if converts && self.mentions_active(&call.receiver) {
                self.errors.spanned(
                    expr,
                    "a conversion of a differentiated value through `from(..).unwrap()` is supported only from the function's own float type (`T::from(x).unwrap()` with `x: T`); convert between `f32` and `f64` with `as`",
                );
                return self.dummy();
            }
        }
        if self.array_local(&call.receiver).is_none() {
            // A chain over any slice, data or differentiated: the loop it
            // stands for. Which operand of a `zip` is data does not matter.
            let float = turbofish_float(call.turbofish.as_ref(), &self.floats)
                .unwrap_or_else(|| self.ret.clone());
            if let Some(looped) = iterators::reduction(call, &float.zero(), &float.one()) {
                return self.expr(&looped);
            }
            if let Some(name) = iterators::hidden_name(call) {
                self.errors.spanned(
                    expr,
                    format!("a closure of this chain binds `{name}`, which a later closure reads from outside it: written as one loop, the parameter would hide that variable; name them apart (`|v| ..` for the parameter)"),
                );
                return self.dummy();
            }
            if self.chain_root_array(&call.receiver).is_some() {
                self.errors.spanned(
                    expr,
                    "this iterator chain over a differentiated slice is not supported: chains of `iter`, `zip`, `enumerate`, `rev`, `skip`, `take`, `step_by`, `windows`, `map`, `filter`, `copied` ending in `sum`, `product`, `fold` (a maximum: `fold(f64::NEG_INFINITY, f64::max)`), `max_by`/`min_by` with `total_cmp` or `partial_cmp` unwrapped, `all`, `any`, `count`, `position` unwrapped or `collect` into a `let` are; else write the loop, as in `for v in w.iter() { total += v * v; }`",
                );
                return self.dummy();
            }
        }
        if let Some(array) = self.array_local(&call.receiver) {
            // A buffer made with its length (`vec![0.0; d]`) keeps it: its
            // length is that value, which the backward pass has wherever the
            // buffer is, rather than a read of the buffer it cannot redo.
            if let (
                "len",
                NodeKind::Buffer {
                    len,
                    growable: false,
                    ..
                },
            ) = (name.as_str(), &self.nodes[array].kind)
            {
                match len {
                    Operand::Node(n) if self.nodes[*n].ty.is_some() => return len.clone(),
                    Operand::Const(c) if c.float.is_none() => return len.clone(),
                    _ => {}
                }
            }
            if name == "len" || name == "is_empty" {
                return self.inactive(expr);
            }
            self.errors.spanned(
                &call.method,
                "methods of a differentiated slice are not supported, except `len`; write a loop (`for v in w.iter()` or over indices)",
            );
            return self.dummy();
        }
        let Some(rule) = rules::method(&name) else {
            self.errors.spanned(
                &call.method,
                format!(
                    "`{name}` is not a float method `#[differentiate]` knows; supported: {}",
                    rules::method_names()
                ),
            );
            return self.dummy();
        };
        if let Some(turbofish) = &call.turbofish {
            self.errors.spanned(
                turbofish,
                "type arguments are not supported on float methods",
            );
            return self.dummy();
        }
        if call.args.len() + 1 != rule.arity {
            self.errors.spanned(
                expr,
                format!("`.{name}()` takes {} argument(s)", rule.arity - 1),
            );
            return self.dummy();
        }
        if rule.partial.is_none() || is_powi_zero(rule, call.args.first()) {
            return self.piecewise_constant(call, expr);
        }
        let mut args = vec![self.expr(&call.receiver)];
        args.extend(call.args.iter().map(|a| self.expr(a)));
        self.op(rule, Form::Method, args, expr)
    }

    /// Whether a node is the variable of a `for` over data kept as written
    /// (a reference, as Rust gives it), or, other than a float, a part of
    /// the tuple one over `enumerate()` or `zip` gives (`item.1`, a
    /// reference as the inner iterator gives it; a field reached through a
    /// reference to a tuple, `item.0` of `for item in pairs.iter()`, is a
    /// value), or a copy of either.
    fn holds_loop_reference(&self, id: crate::ir::NodeId) -> bool {
        let node = &self.nodes[id];
        match &node.kind {
            NodeKind::LoopVar => true,
            NodeKind::Inactive { expr, locals }
                if !node.active && node.float(&self.floats).is_none() =>
            {
                let [(_, inner)] = locals.as_slice() else {
                    return false;
                };
                match strip_parens(expr) {
                    Expr::Path(_) => self.holds_loop_reference(*inner),
                    Expr::Field(field) if matches!(strip_parens(&field.base), Expr::Path(_)) => {
                        self.reference_tuples.contains(inner)
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }

    /// `x` of `T::from(x)` when `x` is differentiated and already of the
    /// function's float type `T` (generic code converts that way).
    pub(super) fn same_float_conversion<'e>(&self, expr: &'e Expr) -> Option<&'e Expr> {
        let Expr::Call(call) = strip_parens(expr) else {
            return None;
        };
        let Expr::Path(path) = strip_parens(&call.func) else {
            return None;
        };
        let segments: Vec<&syn::PathSegment> = path.path.segments.iter().collect();
        let [ty, from] = segments.as_slice() else {
            return None;
        };
        let [arg] = call.args.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        let float = self.floats.of_ident(&ty.ident)?;
        let arg_operand_float = self.guess_type(arg).and_then(|ty| self.floats.of_type(&ty));
        (from.ident == "from" && self.mentions_active(arg) && arg_operand_float == Some(float))
            .then_some(arg)
    }

    /// `x.floor()`, `x.powi(0)`: no derivative. The call is kept as written,
    /// after lowering a receiver or argument that cannot be (a branch, a
    /// block, an iterator chain).
    pub(super) fn piecewise_constant(
        &mut self,
        call: &syn::ExprMethodCall,
        expr: &Expr,
    ) -> Operand {
        // Kept as written only when nothing in it must be lowered: a
        // closure (inlined where called) counts as a mention.
        if !contains_branch(expr) && !self.mentions_active(expr) {
            return self.inactive(expr);
        }
        let mut operands = vec![self.expr(&call.receiver)];
        operands.extend(call.args.iter().map(|a| self.expr(a)));
        let ty = match rules::is_test(&call.method.to_string()) {
            true => Some(syn::parse_quote!(bool)),
            false => self.type_of(&operands[0]),
        };
        let method = &call.method;
        let operand = self.inactive_template(
            |parts| {
                let (receiver, args) = parts
                    .split_first()
                    .map_or((None, &[][..]), |(r, a)| (Some(r), a));
                quote!(#receiver.#method(#(#args),*))
            },
            &operands,
            expr,
        );
        if let Operand::Node(id) = operand {
            self.nodes[id].ty = ty;
        }
        operand
    }

    pub(super) fn primitive_call(
        &mut self,
        rule: &'static Rule,
        form: Form,
        call: &syn::ExprCall,
        expr: &Expr,
    ) -> Operand {
        if call.args.len() != rule.arity {
            self.errors.spanned(
                expr,
                format!("`{}` takes {} argument(s)", rule.name, rule.arity),
            );
            return self.dummy();
        }
        if rule.partial.is_none() || is_powi_zero(rule, call.args.iter().nth(1)) {
            return self.inactive(expr);
        }
        let args = call.args.iter().map(|a| self.expr(a)).collect();
        self.op(rule, form, args, expr)
    }

    pub(super) fn op(
        &mut self,
        rule: &'static Rule,
        form: Form,
        args: Vec<Operand>,
        span: &dyn ToTokens,
    ) -> Operand {
        let active = args.iter().any(|a| self.is_active(a));
        let float = args
            .iter()
            .filter(|a| self.is_active(a))
            .chain(args.iter())
            .find_map(|a| self.float_of(a))
            .or(match &form {
                Form::TypePath(float) => Some(float.clone()),
                _ => None,
            })
            .unwrap_or_else(|| self.ret.clone());
        // Arithmetic with a float makes an untyped inactive operand that float
        // (`powi`'s exponent is an `i32`): its type for the tape, should it be
        // saved (a loop's element that may be a reference to one is saved
        // through `Borrow`, `Graph::maybe_references`).
        for (i, arg) in args.iter().enumerate() {
            if let Operand::Node(id) = arg {
                if self.nodes[*id].ty.is_none() {
                    self.nodes[*id].ty = Some(match (rule.name, i) {
                        ("powi", 1) => syn::parse_quote!(i32),
                        _ => float.to_type(),
                    });
                }
            }
        }
        let hint = match form {
            Form::Operator(op) => op.hint(),
            _ => rule.name,
        };
        let id = self.push(
            Node::new(
                Hint::Op(hint.to_string()),
                NodeKind::Op { rule, form, args },
                span_of(span),
            )
            .active_if(active)
            .typed(Some(float.to_type())),
        );
        Operand::Node(id)
    }
}

/// Constructs supported only elsewhere (as statements), with what to do
/// instead; those refused everywhere are `valid`'s.
pub(super) fn unsupported(expr: &Expr) -> Option<&'static str> {
    Some(match expr {
        Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => {
            "a loop has no value here; use it as a statement"
        }
        Expr::Break(_) | Expr::Continue(_) | Expr::Return(_) => {
            "`break`, `continue` and `return` are supported as statements, not inside an expression"
        }
        Expr::Closure(_) => "closures cannot be differentiated; write a separate `#[differentiate]` function and call it",
        Expr::Macro(_) => MACRO_MESSAGE,
        Expr::Assign(_) => "assignments are supported only as statements: `a = ...;`",
        Expr::Binary(b) if Operator::of_compound(&b.op).is_some() => {
            "compound assignments are supported only as statements: `a += ...;`"
        }
        _ => return None,
    })
}

/// An `if` or block inside an expression (also inside a closure of an
/// iterator chain, which is then lowered as its loop): lowered node by node,
/// since its arms may assign variables or hold differentiated values. A chain
/// of plain closures over data is kept as written.
pub(super) fn contains_branch(expr: &Expr) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::If(_) | Expr::Block(_) => self.0 = true,
                Expr::Closure(closure) => self.visit_expr(&closure.body),
                Expr::Macro(_) => {}
                _ => syn::visit::visit_expr(self, expr),
            }
        }
    }
    let mut finder = Finder(false);
    finder.visit_expr(expr);
    finder.0
}

/// Why an expression that mentions a differentiated value is refused.
pub(super) fn not_differentiable(expr: &Expr) -> &'static str {
    match expr {
        Expr::Tuple(_) => {
            "a tuple of differentiated values is supported bound by a `let`, as `let t = (x, y);` read as `t.0` and `t.1` (not borrowed mutably) or `let (a, b) = (x, y);`: bind it first"
        }
        Expr::Reference(r) if matches!(&*r.expr, Expr::Index(i) if matches!(&*i.index, Expr::Range(_))) => {
            "a part of a differentiated array is taken in a statement of its own, not inside a closure, a `match` arm or the right side of `&&`/`||`: bind it first, as in `let row = &x[a..b];`"
        }
        Expr::Reference(_) | Expr::RawAddr(_) => {
            "references to differentiated values are not supported; pass the value itself"
        }
        Expr::Array(_) => {
            "an array of differentiated values is supported as a variable: bind it first, as in `let v = [a, b];`"
        }
        Expr::Index(i) if matches!(&*i.expr, Expr::Call(_)) => {
            "name the outputs of a call that returns an array first, as in `let [a, _] = f(x);`"
        }
        Expr::Repeat(_) | Expr::Index(_) => {
            "arrays and indexing of differentiated values are not supported here; index a slice parameter or a local buffer"
        }
        Expr::Field(f) if matches!(&*f.base, Expr::Call(_) | Expr::MethodCall(_)) => {
            "name the outputs of a call with several first, as in `let (a, _) = f(x);` or `let (s, c) = x.sin_cos();`"
        }
        Expr::Struct(_) => {
            "a local struct is one local per field where the body reads its fields, copies it, assigns it whole or passes it to plain helpers beside the function (inlined); this one is also used otherwise (passed whole to a function that is not inlined, returned, taken apart by a pattern or named in a format string): read its fields there instead"
        }
        Expr::Field(_) => {
            "structs holding differentiated values are supported through methods (`#[differentiate]` on the impl and the method) or as separate parameters"
        }
        _ => "this expression is not supported on a value being differentiated; supported: arithmetic, float methods, calls of differentiated functions, casts between f32 and f64",
    }
}

/// Inside code we keep verbatim (an inactive expression) nothing may bind names or
/// change control flow, so renaming its locals stays correct.
pub(super) fn forbidden_inside(expr: &Expr) -> Option<(proc_macro2::TokenStream, &'static str)> {
    struct Finder(Option<(proc_macro2::TokenStream, &'static str)>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            if self.0.is_some() {
                return;
            }
            if valid::refusal(expr).is_some() {
                // Reported by `valid::check`.
                return;
            }
            // A closure in code kept as written (`idx.iter().map(|&i| i * 2)`):
            // its parameters are not renamed, and its body obeys the same
            // rules.
            if let Expr::Closure(closure) = expr {
                if closure.asyncness.is_none() {
                    return self.visit_expr(&closure.body);
                }
            }
            if let Some(message) = unsupported(expr) {
                self.0 = Some((expr.to_token_stream(), message));
                return;
            }
            if let Expr::Block(_) | Expr::If(_) = expr {
                self.0 = Some((
                    expr.to_token_stream(),
                    "a block or `if` inside this expression is not supported here; bind its value with `let` first",
                ));
                return;
            }
            syn::visit::visit_expr(self, expr);
        }
        fn visit_expr_struct(&mut self, expr: &'ast syn::ExprStruct) {
            if expr.fields.iter().any(|f| f.colon_token.is_none()) {
                self.0.get_or_insert((
                    expr.to_token_stream(),
                    "field init shorthand is not supported here; write `field: value`",
                ));
            }
            syn::visit::visit_expr_struct(self, expr);
        }
    }
    let mut finder = Finder(None);
    finder.visit_expr(expr);
    finder.0
}

/// `f64` of `sum::<f64>()` or `collect::<Vec<f64>>()`.
pub(super) fn turbofish_float(
    turbofish: Option<&syn::AngleBracketedGenericArguments>,
    floats: &Floats,
) -> Option<FloatTy> {
    match turbofish?.args.first()? {
        syn::GenericArgument::Type(ty) => floats
            .of_type(ty)
            .or_else(|| Shape::of(ty, floats).map(|(float, _, _)| float)),
        _ => None,
    }
}

/// The float type a literal or constant path spells: `2.0_f32`, `f64::consts::PI`.
pub(super) fn literal_float(expr: &Expr, floats: &Floats) -> Option<FloatTy> {
    match strip_parens(expr) {
        Expr::Lit(lit) => match &lit.lit {
            syn::Lit::Float(f) => FloatTy::from_suffix(f.suffix()),
            syn::Lit::Int(i) => FloatTy::from_suffix(i.suffix()),
            _ => None,
        },
        Expr::Path(p) => p
            .path
            .segments
            .iter()
            .find_map(|s| floats.of_ident(&s.ident)),
        Expr::Unary(u) => literal_float(&u.expr, floats),
        // `T::from(2.0).unwrap()`, `T::one()`.
        Expr::MethodCall(m) if m.method == "unwrap" => literal_float(&m.receiver, floats),
        Expr::Call(c) => match strip_parens(&c.func) {
            Expr::Path(p) => float_function(&p.path, floats).map(|(float, _)| float),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn is_float_literal(tokens: &proc_macro2::TokenStream) -> bool {
    matches!(
        syn::parse2::<syn::Lit>(tokens.clone()),
        Ok(syn::Lit::Float(_))
    )
}

pub(super) fn is_powi_zero(rule: &Rule, exponent: Option<&Expr>) -> bool {
    rule.name == "powi"
        && matches!(exponent.map(strip_parens), Some(Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. })) if i.base10_digits() == "0")
}

/// `f64::exp`, `f32::max`: the method rules, called by path.
pub(super) fn float_function<'p>(
    path: &'p syn::Path,
    floats: &Floats,
) -> Option<(FloatTy, &'p Ident)> {
    if path.leading_colon.is_some() || path.segments.len() != 2 {
        return None;
    }
    let float = floats.of_ident(&path.segments[0].ident)?;
    Some((float, &path.segments[1].ident))
}
