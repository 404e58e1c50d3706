//! Calls: other `#[differentiate]` functions (their pullbacks are called in the
//! backward pass), custom rules, and calls that write through `&mut` arguments.

use super::expressions::float_function;
use super::scopes::Key;
use super::{key, strip_parens, IrStmt, Lowerer};
use crate::ir::{
    Borrow, Bounds, ElementSource, FloatTy, Form, Hint, Node, NodeId, NodeKind, Operand,
};
use crate::rules::{self, Rule};
use proc_macro2::Ident;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Expr, Pat};

impl<'a> Lowerer<'a> {
    /// A call statement on data only; the data it may change (every local
    /// passed to it, by `&mut` or as a `&mut` parameter) is saved where read.
    pub(super) fn data_call(&mut self, call: &syn::ExprCall, expr: &Expr) {
        let statement = self.inactive(expr);
        self.as_statement(&statement, "called");
        for arg in &call.args {
            let passed = match strip_parens(arg) {
                Expr::Reference(r) if r.mutability.is_some() => &*r.expr,
                other => other,
            };
            if let Some(id) = self.local(strip_parens(passed)) {
                self.mark_changed(id);
            }
        }
    }

    /// Data a callee may change: `&mut r`, or a `&mut [usize]` parameter
    /// passed on. What is read from it is saved, not read again.
    pub(super) fn mark_data_passed_mutably(
        &mut self,
        args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>,
    ) {
        for arg in args {
            let (local, explicit) = match strip_parens(arg) {
                Expr::Reference(r) if r.mutability.is_some() => (strip_parens(&r.expr), true),
                other => (other, false),
            };
            let Some(id) = self.local(local) else {
                continue;
            };
            let mutable_reference = matches!(&self.nodes[id].ty, Some(syn::Type::Reference(r)) if r.mutability.is_some());
            if !self.nodes[id].active && (explicit || mutable_reference) {
                self.mark_changed(id);
            }
        }
    }

    /// A statement node for its effect only (`r[0] = 1;`, `println!`).
    pub(super) fn as_statement(&mut self, operand: &Operand, hint: &str) {
        if let Operand::Node(id) = operand {
            self.nodes[*id].hint = Hint::Op(hint.into());
            self.nodes[*id].ty = Some(syn::parse_quote!(()));
        }
    }

    /// `update(&mut a, &mut b)`: a differentiated callee with `&mut f64`
    /// parameters. Its outputs are its value (when used) and the final values
    /// of the `&mut` arguments, which become the variables' next versions.
    pub(super) fn call_with_mut_arguments(
        &mut self,
        call: &syn::ExprCall,
        expr: &Expr,
        value_used: bool,
    ) -> Operand {
        let Expr::Path(func) = strip_parens(&call.func) else {
            self.errors
                .spanned(&call.func, "only calls of named functions are supported");
            return self.dummy();
        };
        self.mark_data_passed_mutably(&call.args);
        let Some((path, tape_args)) = self.callee(&func.path) else {
            return self.dummy();
        };
        let Some(MutArguments {
            args,
            borrows,
            parts,
            written,
        }) = self.mut_call_arguments(call)
        else {
            return self.dummy();
        };
        let active = args.iter().any(|a| self.is_active(a) || self.is_model(a));
        let float = args
            .iter()
            .find_map(|a| self.float_of(a))
            .unwrap_or_else(|| self.ret.clone());
        let callee = path
            .segments
            .last()
            .map(|s| key(&s.ident))
            .unwrap_or_default();
        // The value (when used), then what the callee writes, in argument order.
        let outputs = usize::from(value_used) + borrows.iter().filter(|b| b.writes()).count();
        let output_of =
            |k: usize| usize::from(value_used) + borrows[..k].iter().filter(|b| b.writes()).count();
        let id = self.push(
            Node::new(
                Hint::Op(format!("{callee}_out")),
                NodeKind::Call {
                    path,
                    args,
                    tape: crate::ir::unnamed(),
                    arg_spans: call.args.iter().map(Spanned::span).collect(),
                    outputs,
                    borrows: borrows.clone(),
                    tape_args,
                    elements: Vec::new(),
                    parts,
                    rest: false,
                },
                expr.span(),
            )
            .active_if(active),
        );
        let element = |index: usize, source: ElementSource, hint: Hint| {
            Node::new(
                hint,
                NodeKind::Element {
                    call: id,
                    index,
                    source,
                },
                expr.span(),
            )
            .active_if(active)
            .typed(Some(float.to_type()))
        };
        let value = if value_used {
            let node = element(0, ElementSource::Value, Hint::Op(format!("{callee}_value")));
            Operand::Node(self.push(node))
        } else {
            self.dummy()
        };
        for (k, ident) in &written {
            let node = element(
                output_of(*k),
                ElementSource::Argument(*k),
                Hint::User(ident.clone()),
            );
            let version = self.push(node);
            self.rebind(&Key::of(ident), version);
        }
        value
    }

    /// The arguments of a call that writes some of them: each operand, how it
    /// is passed, and the floats passed by `&mut` (which get new versions).
    fn mut_call_arguments(&mut self, call: &syn::ExprCall) -> Option<MutArguments> {
        let mut args = Vec::new();
        let mut borrows = Vec::new();
        let mut parts = vec![None; call.args.len()];
        let mut written: Vec<(usize, Ident)> = Vec::new();
        // Where the call marks what it writes with `&mut`, a `&mut [f64]`
        // parameter passed as it is (`rhs(y, &mut k)`) is only read; a callee
        // that writes it after all has another `pullback`, and the mismatch is
        // a type error at the call, never a wrong gradient.
        let marks_writes = call
            .args
            .iter()
            .any(|a| matches!(strip_parens(a), Expr::Reference(r) if r.mutability.is_some()));
        for (k, arg) in call.args.iter().enumerate() {
            // `&x[a..b]` is lent as it is; `&mut x[a..b]` too, the callee
            // writing that part of `x` in place (and, in the backward pass,
            // turning that part of `dx` into the adjoint before the call).
            if let Some((id, range, borrow)) = self.part_argument(arg) {
                args.push(Operand::Node(id));
                borrows.push(borrow);
                parts[k] = Some(range);
                continue;
            }
            if let Some((id, borrow)) = self.passed_array(arg) {
                // `&mut h`, or a `&mut [f64]` parameter passed on in a statement:
                // the callee writes the array.
                let passed_on = !marks_writes && self.written_params.contains(&id);
                let borrow = if borrow == Borrow::Plain && passed_on {
                    Borrow::PassedOn
                } else {
                    borrow
                };
                args.push(Operand::Node(id));
                borrows.push(borrow);
                continue;
            }
            borrows.push(Borrow::Plain);
            // `&mut x`, and a `&mut f64` parameter lent on as it is (`x`)
            // or reborrowed (`&mut *x`): the value the variable holds.
            let lent = match strip_parens(arg) {
                Expr::Reference(r) if r.mutability.is_some() => {
                    Some(crate::lower::dereferenced(&r.expr).unwrap_or(&r.expr))
                }
                other if self.is_scalar_inout(other) => Some(other),
                _ => None,
            };
            match lent {
                Some(place) => {
                    let local = match strip_parens(place) {
                        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
                        _ => None,
                    };
                    let Some((ident, id)) =
                        local.and_then(|i| self.variable(&key(&i)).map(|id| (i, id)))
                    else {
                        self.errors
                            .spanned(arg, "only local variables can be passed by `&mut`");
                        return None;
                    };
                    if self.nodes[id].array.is_some() && !self.nodes[id].active {
                        // A buffer of indices: the callee may write it; it
                        // carries no adjoint in or out.
                        args.push(Operand::Node(id));
                        borrows[k] = Borrow::MutableData;
                        continue;
                    }
                    args.push(Operand::Node(id));
                    borrows[k] = Borrow::Mutable;
                    written.push((k, ident));
                }
                None => args.push(self.expr(arg)),
            }
        }
        Some(MutArguments {
            args,
            borrows,
            parts,
            written,
        })
    }

    /// `let (a, b) = f(x);` where `f` returns a tuple: one call, one element node
    /// per name.
    /// `let [a, b] = f(x);` likewise, with `source` `Item`.
    pub(super) fn bind_outputs(
        &mut self,
        elems: &syn::punctuated::Punctuated<Pat, syn::Token![,]>,
        pattern: &dyn ToTokens,
        call: &syn::ExprCall,
        expr: &Expr,
        source: ElementSource,
    ) {
        // `let [a, b, ..] = f(x);`: the first elements of a longer array.
        let rest = source == ElementSource::Item
            && matches!(elems.last(), Some(Pat::Rest(_)))
            && elems.iter().filter(|p| matches!(p, Pat::Rest(_))).count() == 1;
        let named = elems.len() - usize::from(rest);
        // A name, or `_`, for each output.
        let names: Option<Vec<Option<Ident>>> = elems
            .iter()
            .take(named)
            .map(|pat| match pat {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                    Some(Some(p.ident.clone()))
                }
                Pat::Wild(_) => Some(None),
                _ => None,
            })
            .collect();
        let Some(names) = names else {
            self.errors.spanned(
                pattern,
                "expected a variable name or `_` for each output, as in `let (a, _) = f(x);` or `let [a, _] = f(x);`",
            );
            return;
        };
        let result = self.call(call, expr);
        let Operand::Node(id) = result else {
            return;
        };
        let active = self.nodes[id].active;
        let float = self.nodes[id].ty.clone();
        if let NodeKind::Call {
            outputs,
            rest: open,
            ..
        } = &mut self.nodes[id].kind
        {
            *outputs = names.len();
            *open = rest;
        }
        self.nodes[id].ty = None;
        for (index, name) in names.iter().enumerate() {
            let Some(name) = name else { continue };
            let element = if active {
                self.push(
                    Node::new(
                        Hint::User(name.clone()),
                        NodeKind::Element {
                            call: id,
                            index,
                            source,
                        },
                        name.span(),
                    )
                    .active_if(true)
                    .typed(float.clone()),
                )
            } else {
                let index = proc_macro2::Literal::usize_unsuffixed(index);
                let is_array = matches!(source, ElementSource::Item);
                let operand = self.inactive_template(
                    |t| {
                        let t = t.first();
                        if is_array {
                            quote!(#t[#index])
                        } else {
                            quote!(#t.#index)
                        }
                    },
                    &[Operand::Node(id)],
                    name,
                );
                match operand {
                    Operand::Node(element) => {
                        self.nodes[element].hint = Hint::User(name.clone());
                        element
                    }
                    Operand::Const(_) => continue,
                }
            };
            self.declare(name, element);
        }
    }

    /// `g::grad` where `path` names a function `#[differentiate]` wrote for
    /// `g`, a differentiated function beside this one.
    fn generated_beside(&self, path: &syn::Path) -> Option<(String, String)> {
        let (module, function) = crate::inline::generated_path(path)?;
        let module = module.to_string();
        self.differentiated_beside
            .contains(&module)
            .then(|| (module.clone(), format!("{module}::{function}")))
    }

    /// The plain helper beside the function that `path` names (a bare name).
    fn plain_helper(&self, path: &syn::Path) -> Option<String> {
        let name = path.get_ident()?.to_string();
        self.plain_helpers.contains(&name).then_some(name)
    }

    pub(super) fn call(&mut self, call: &syn::ExprCall, expr: &Expr) -> Operand {
        if let Some(k) = self.closure_named(&call.func) {
            return self.inline_closure(k, call);
        }
        self.mark_data_passed_mutably(&call.args);
        let Expr::Path(func) = strip_parens(&call.func) else {
            self.errors.spanned(
                &call.func,
                "only calls of named functions are supported; closures and function values cannot be differentiated",
            );
            return self.dummy();
        };
        if func.qself.is_some() {
            self.errors.spanned(
                func,
                "qualified paths `<T as Trait>::f` are not supported in calls",
            );
            return self.dummy();
        }
        let path = &func.path;
        if let Some(rule) = runtime_activation(path) {
            let bare = path.segments.len() == 1;
            return self.primitive_call(rule, Form::Runtime { bare }, call, expr);
        }
        // `Float::sin(x)` (`num_traits::Float::`): the method of the
        // argument's float, as `T::sin(x)` calls it.
        let by_trait = || {
            trait_function(path).map(|method| {
                let float = call
                    .args
                    .first()
                    .and_then(|arg| self.guess_type(arg))
                    .and_then(|ty| self.floats.of_type(&ty))
                    .unwrap_or_else(|| self.ret.clone());
                (float, method)
            })
        };
        if let Some((float, method)) = float_function(path, &self.floats).or_else(by_trait) {
            let name = method.to_string();
            if name == "from" && call.args.len() == 1 {
                return self.cast(&call.args[0], float, expr);
            }
            let Some(rule) = rules::method(&name) else {
                self.errors.spanned(
                    method,
                    format!(
                        "`{float}::{name}` is not a function `#[differentiate]` knows; supported: {}",
                        rules::method_names()
                    ),
                );
                return self.dummy();
            };
            return self.primitive_call(rule, Form::TypePath(float), call, expr);
        }
        let Some((path, tape_args)) = self.callee(path) else {
            return self.dummy();
        };
        let path = &path;
        let CallArguments {
            args,
            borrows,
            parts,
        } = self.call_arguments(call);
        if !args.iter().any(|a| self.is_active(a) || self.is_model(a)) {
            // An ordinary call on values that do not depend on the inputs (its
            // arguments held a branch, so they were lowered one by one).
            return self.inactive_template(|args| quote!(#path(#(#args),*)), &args, expr);
        }
        // `P(x, y)`, `Some(x)`: a tuple struct or a variant, not a function.
        if let Some(last) = path.segments.last() {
            if last
                .ident
                .to_string()
                .starts_with(|c: char| c.is_ascii_uppercase())
            {
                self.errors.spanned(
                    &call.func,
                    format!("`{}(..)` builds a tuple struct or an enum variant, which cannot hold differentiated values: use a struct with named fields (`struct P {{ x: f64, y: f64 }}`, built as `P {{ x, y }}`), or keep the values in locals", last.ident),
                );
                return self.dummy();
            }
        }
        if let Some((module, nested)) = self.generated_beside(path) {
            self.errors.spanned(
                &call.func,
                format!("`{nested}` is part of the derivative `#[differentiate]` writes for `{module}`; called on values that depend on the inputs, it would itself have to be differentiated (nested differentiation, a derivative of a derivative), which is not supported: call `{module}(..)` itself and let this function's derivative go through it, or write the derivative you need as a plain function beside this one (it is then differentiated like any code). On values that do not depend on the inputs the call is fine"),
            );
            return self.dummy();
        }
        if let Some(helper) = self.plain_helper(path) {
            self.errors.spanned(
                &call.func,
                format!("`{helper}` is a plain function (no `#[differentiate]`) that cannot be inlined here: its body returns from inside a loop or a nested block, uses `?` or a label, or declares an item, or it takes a function (`impl Fn(f64) -> f64`) given something other than a closure or a closure's name, or, generic over its float, `&F` or `&mut F`; mark it `#[differentiate]`, or write it without those"),
            );
            return self.dummy();
        }
        let float = args
            .iter()
            .filter(|a| self.is_active(a))
            .find_map(|a| self.float_of(a));
        let callee = path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let id = self.push(
            Node::new(
                Hint::Op(format!("{}_out", callee.trim_start_matches("r#"))),
                NodeKind::Call {
                    path: path.clone(),
                    args,
                    tape: crate::ir::unnamed(),
                    arg_spans: call.args.iter().map(Spanned::span).collect(),
                    outputs: 1,
                    borrows,
                    tape_args,
                    elements: Vec::new(),
                    parts,
                    rest: false,
                },
                expr.span(),
            )
            .active_if(true)
            .typed(Some(float.unwrap_or_else(|| self.ret.clone()).to_type())),
        );
        Operand::Node(id)
    }

    /// `p[2]` of a local bound to an array a call returns, `let p = f(x);`:
    /// the call's element 2, as if bound by `let [_, _, p_2, ..] = f(x);`
    /// (named right after the call, in its block, once however often it is
    /// read). `None` where `p` is not such a call, or the index is not a
    /// literal.
    pub(super) fn element_read(&mut self, index: &syn::ExprIndex) -> Option<Operand> {
        let call = self.local(&index.expr)?;
        let Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(literal),
            ..
        }) = strip_parens(&index.index)
        else {
            return None;
        };
        let k: usize = literal.base10_parse().ok()?;
        let NodeKind::Call {
            elements,
            rest,
            outputs,
            ..
        } = &self.nodes[call].kind
        else {
            return None;
        };
        // Outputs a pattern named are read through their names.
        if !self.nodes[call].active || (!*rest && (!elements.is_empty() || *outputs != 1)) {
            return None;
        }
        let same = elements
            .iter()
            .copied()
            .find(|e| matches!(self.nodes[*e].kind, NodeKind::Element { index, .. } if index == k));
        if let Some(element) = same {
            return Some(Operand::Node(element));
        }
        // The call's statement, in a block still being built.
        let (block, at) = self
            .blocks
            .iter()
            .enumerate()
            .rev()
            .find_map(|(b, stmts)| {
                let at = stmts
                    .iter()
                    .position(|s| matches!(s, IrStmt::Node(n) if *n == call))?;
                Some((b, at))
            })?;
        let float = self.nodes[call]
            .ty
            .clone()
            .or_else(|| elements.first().and_then(|e| self.nodes[*e].ty.clone()));
        if let NodeKind::Call { outputs, rest, .. } = &mut self.nodes[call].kind {
            if !*rest {
                *outputs = 0;
                *rest = true;
            }
            *outputs = (*outputs).max(k + 1);
        }
        self.nodes[call].ty = None;
        let name = match &self.nodes[call].hint {
            Hint::User(ident) => ident.to_string(),
            Hint::Op(name) => name.clone(),
        };
        let element = self.push_detached(
            Node::new(
                Hint::Op(format!("{name}_{k}")),
                NodeKind::Element {
                    call,
                    index: k,
                    source: ElementSource::Item,
                },
                index.span(),
            )
            .active_if(true)
            .typed(float),
        );
        self.nodes[element].region = self.nodes[call].region;
        // After the call and the elements named before.
        let stmts = &mut self.blocks[block];
        let mut after = at + 1;
        while matches!(stmts.get(after), Some(IrStmt::Node(n)) if matches!(self.nodes[*n].kind, NodeKind::Element { call: c, .. } if c == call))
        {
            after += 1;
        }
        stmts.insert(after, IrStmt::Node(element));
        Some(Operand::Node(element))
    }

    /// After a loop's body is lowered again from `mark`: the elements its
    /// first lowering named for calls before the loop (`element_read`) are
    /// gone, from those calls and from the blocks around.
    pub(super) fn forget_elements_from(&mut self, mark: NodeId) {
        for node in &mut self.nodes {
            if let NodeKind::Call { elements, .. } = &mut node.kind {
                elements.retain(|e| *e < mark);
            }
        }
        for stmts in &mut self.blocks {
            stmts.retain(|s| !matches!(s, IrStmt::Node(n) if *n >= mark));
        }
    }

    /// A callee's module path, and the generic arguments of its `Tape`:
    /// `dot::<f64>` gives `dot` and `<f64>`; in a generic function, callees are
    /// generic over the same float.
    pub(super) fn callee(
        &mut self,
        path: &syn::Path,
    ) -> Option<(syn::Path, proc_macro2::TokenStream)> {
        let mut path = path.clone();
        let count = path.segments.len();
        for (k, segment) in path.segments.iter().enumerate() {
            if k + 1 < count && !segment.arguments.is_none() {
                self.errors.spanned(
                    &segment.arguments,
                    "generic arguments go on the function, as in `dot::<f64>(a, b)`",
                );
                return None;
            }
        }
        let last = path.segments.last_mut()?;
        let arguments = std::mem::replace(&mut last.arguments, syn::PathArguments::None);
        let tape_args = match arguments {
            syn::PathArguments::AngleBracketed(mut args) => {
                args.colon2_token = None;
                quote!(#args)
            }
            syn::PathArguments::None if matches!(self.ret, FloatTy::Generic(_)) => {
                let float = &self.ret;
                quote!(<#float>)
            }
            _ => quote!(),
        };
        Some((path, tape_args))
    }

    /// `&x[a..b]` (or `&x[a..]`, `&x[..b]`, `&x[a..=b]`) or `&mut x[a..b]` of
    /// a differentiated array passed to a callee: the array, where the part
    /// starts and ends, and how it is lent (`Shared` or `Mutable`).
    pub(super) fn part_argument(&mut self, arg: &Expr) -> Option<(NodeId, Bounds, Borrow)> {
        let Expr::Reference(r) = strip_parens(arg) else {
            return None;
        };
        let Expr::Index(index) = strip_parens(&r.expr) else {
            return None;
        };
        let Expr::Range(range) = strip_parens(&index.index) else {
            return None;
        };
        let id = self.array_local(&index.expr)?;
        if !self.nodes[id].active {
            return None;
        }
        let borrow = match r.mutability {
            Some(_) => Borrow::Mutable,
            None => Borrow::Shared,
        };
        let array = &index.expr;
        let start: Expr = match &range.start {
            Some(start) => (**start).clone(),
            None => syn::parse_quote!(0),
        };
        let end: Expr = match (&range.end, &range.limits) {
            (Some(end), syn::RangeLimits::HalfOpen(_)) => (**end).clone(),
            (Some(end), syn::RangeLimits::Closed(_)) => syn::parse_quote!((#end) + 1),
            (None, _) => syn::parse_quote!(#array.len()),
        };
        let (start, end) = (self.expr(&start), self.expr(&end));
        for bound in [&start, &end] {
            if let Operand::Node(bound) = bound {
                self.nodes[*bound]
                    .ty
                    .get_or_insert_with(|| syn::parse_quote!(usize));
            }
        }
        Some((id, (start, end), borrow))
    }

    /// The arguments of a call to a differentiated function. A differentiated
    /// array is passed whole, as the user wrote it (`w`, `&h`), or a part of
    /// it (`&x[a..b]`): the callee's pullback hands back its adjoint as a
    /// whole.
    pub(super) fn call_arguments(&mut self, call: &syn::ExprCall) -> CallArguments {
        let mut parts = Vec::new();
        let (args, borrows) = call
            .args
            .iter()
            .map(|arg| {
                // (A call that writes a part, `&mut x[a..b]`, is
                // `call_with_mut_arguments`'.)
                let part = self
                    .part_argument(arg)
                    .filter(|(_, _, borrow)| *borrow == Borrow::Shared);
                parts.push(part.as_ref().map(|(_, range, _)| range.clone()));
                if let Some((id, _, _)) = part {
                    return (Operand::Node(id), Borrow::Shared);
                }
                if let Some((id, borrow)) = self.passed_array(arg) {
                    return (Operand::Node(id), borrow);
                }
                // `square(&a)`: a float passed by reference to an `&f64` parameter.
                if let Expr::Reference(r) = strip_parens(arg) {
                    if let Some(id) = self.local(strip_parens(&r.expr)) {
                        if r.mutability.is_none() && self.nodes[id].active {
                            return (Operand::Node(id), Borrow::Shared);
                        }
                    }
                }
                // `f([a, b])`, `f(&[a, b])`: a buffer of its own, passed whole.
                let (literal, borrow) = match strip_parens(arg) {
                    Expr::Reference(r) if r.mutability.is_none() => (&*r.expr, Borrow::Shared),
                    other => (other, Borrow::Plain),
                };
                match literal {
                    Expr::Array(array) if self.mentions_active(literal) => {
                        (self.array_literal(array, None, literal, true), borrow)
                    }
                    _ => (self.expr(arg), Borrow::Plain),
                }
            })
            .unzip();
        CallArguments {
            args,
            borrows,
            parts,
        }
    }

    /// `bump(x, k)`: a call that passes a `&mut f64` parameter on as it is,
    /// which lends it (as `&mut *x`).
    pub(super) fn passes_scalar_inout(&self, call: &syn::ExprCall) -> bool {
        call.args.iter().any(|arg| self.is_scalar_inout(arg))
    }

    /// `x`, naming a `&mut f64` parameter.
    fn is_scalar_inout(&self, arg: &Expr) -> bool {
        match strip_parens(arg) {
            Expr::Path(p) if p.qself.is_none() => p
                .path
                .get_ident()
                .is_some_and(|i| self.scalar_inouts.iter().any(|s| key(s) == key(i))),
            _ => false,
        }
    }

    /// `scale(x, 2.0);` with `x: &mut [f64]`: a call statement that passes
    /// on an array this function writes is taken to write it.
    pub(super) fn passes_written_param(&self, call: &syn::ExprCall) -> bool {
        call.args.iter().any(|arg| {
            self.array_local(arg)
                .is_some_and(|id| self.written_params.contains(&id))
        })
    }

    /// `w`, `&h` or `&mut h`, naming a differentiated array local.
    pub(super) fn passed_array(&self, arg: &Expr) -> Option<(NodeId, Borrow)> {
        let (local, borrow) = match strip_parens(arg) {
            Expr::Reference(r) if r.mutability.is_some() => (&*r.expr, Borrow::Mutable),
            Expr::Reference(r) => (&*r.expr, Borrow::Shared),
            other => (other, Borrow::Plain),
        };
        let id = self.array_local(local)?;
        // A copy of a part (`let row = &x[a..b];` holds a `Vec`) is a slice
        // where the user passes it: lent, as `&row`.
        let owned_vec = matches!(self.nodes[id].kind, NodeKind::Buffer { fixed: false, .. });
        let borrow = match borrow {
            Borrow::Plain if owned_vec => Borrow::Shared,
            other => other,
        };
        self.nodes[id].active.then_some((id, borrow))
    }

    /// The result of the function: an intermediate created for the final expression
    /// is named after the function, like the blog's `f`.
    pub(super) fn name_result(&mut self, output: &Operand, mark: NodeId, fn_name: &Ident) {
        if let Operand::Node(id) = output {
            if *id >= mark && self.nodes[*id].is_unnamed_intermediate() {
                self.nodes[*id].hint = Hint::User(fn_name.clone());
            }
        }
    }
}

/// A call that passes a local by `&mut`: `update(&mut a, &mut b)`.
pub(super) fn has_mut_argument(call: &syn::ExprCall) -> bool {
    call.args
        .iter()
        .any(|arg| matches!(strip_parens(arg), Expr::Reference(r) if r.mutability.is_some()))
}

/// `sigmoid(x)`, `backprop_runtime::sigmoid(x)`, `::backprop_runtime::relu(x)`.
pub(super) fn runtime_activation(path: &syn::Path) -> Option<&'static Rule> {
    let segments: Vec<&syn::PathSegment> = path.segments.iter().collect();
    let last = segments.last()?;
    let prefix_ok = match segments.len() {
        1 => path.leading_colon.is_none(),
        2 => segments[0].ident == "backprop_runtime",
        _ => false,
    };
    if !prefix_ok || !last.arguments.is_none() {
        return None;
    }
    rules::runtime(&last.ident.to_string())
}

/// The arguments of a call, and how each is passed.
pub(super) struct CallArguments {
    args: Vec<Operand>,
    borrows: Vec<Borrow>,
    /// The bounds of each part of an array passed (`&x[a..b]`).
    parts: Vec<Option<Bounds>>,
}

/// The arguments of a call with `&mut` arguments, sorted.
struct MutArguments {
    args: Vec<Operand>,
    borrows: Vec<Borrow>,
    parts: Vec<Option<Bounds>>,
    /// (argument position, the float variable the callee writes).
    written: Vec<(usize, Ident)>,
}

/// `Float::sin`, `num_traits::Float::sin`, `backprop_runtime::Float::sin`:
/// a float method called through the trait, its name.
fn trait_function(path: &syn::Path) -> Option<&Ident> {
    let segments: Vec<&syn::PathSegment> = path.segments.iter().collect();
    match segments.as_slice() {
        [.., float, method]
            if float.ident == "Float"
                && float.arguments.is_empty()
                && rules::method(&method.ident.to_string()).is_some() =>
        {
            Some(&method.ident)
        }
        _ => None,
    }
}
