//! Loops: `for`, `while` and `loop`. The body is lowered until the activity of
//! the variables it carries from one iteration to the next is stable.

use super::bindings::{assigned_name, is_constant_name};
use super::exits::{breaks_or_continues, has_exit, loop_exits};
use super::expressions::forbidden_inside;
use super::scopes::Key;
use super::{key, span_of, strip_parens, Header, LoopFrame, Lowerer, Tail};
use crate::desugar::iterators;
use crate::ir::{
    Carried, Hint, Loop, Node, NodeId, NodeKind, Operand, Operator, Stmt as IrStmt, StmtId,
};
use crate::parse::checkpoint::Checkpoint;
use proc_macro2::{Ident, Span};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Pat, Stmt};

impl<'a> Lowerer<'a> {
    pub(super) fn for_loop(&mut self, looped: &syn::ExprForLoop) {
        if let Some(starts) = iterators::windows_loop(looped) {
            return self.for_loop(&starts);
        }
        if let Some(indices) = self.chunks_loop(looped) {
            return self.for_loop(&indices);
        }
        if let Some(counted) = iterators::reversed_enumerate_loop(looped) {
            return self.for_loop(&counted);
        }
        // Over slices, differentiated or data (`for (x, y) in xs.iter().zip(ys)`):
        // a loop over indices, each element a read of its type.
        self.adopt_zipped_views(&looped.expr);
        self.adopt_typed_list(&looped.expr);
        if let Some(slices) = self.slice_iteration(&looped.expr) {
            if !matches!(&*looped.pat, Pat::Wild(_)) {
                return self.slice_loop(looped, slices);
            }
        }
        if self.mentions_active(&looped.expr) {
            match strip_parens(&looped.expr) {
                Expr::Array(array) if !breaks_or_continues(&looped.body) && looped.label.is_none() => {
                    self.unrolled_loop(looped, array)
                }
                Expr::Array(array) => self.errors.spanned(
                    array,
                    "`break`, `continue` and labels are not supported in a loop over differentiated values",
                ),
                other if through_iter_mut(other) => self.errors.spanned(
                    other,
                    "a loop over `iter_mut()` is differentiated when its body uses each element as `*o` (read, assigned, or with a method: `o.sin()`); here the reference itself is used (passed on, or kept): write `for k in 0..v.len()` and use `v[k]`, through a local for a call: `let mut e = v[k]; step(&mut e); v[k] = e;`",
                ),
                other => match crate::desugar::iterators::hidden_in_loop(looped) {
                    Some(name) => self.errors.spanned(
                        other,
                        format!("a closure of this chain binds `{name}`, which the loop's body reads from outside it: written as one loop, the parameter would hide that variable; name them apart (`|v| ..` for the parameter)"),
                    ),
                    None => self.errors.spanned(
                        other,
                        "this loop iterates over values that depend on the differentiated inputs; supported: ranges, iterators of values that do not, and arrays `[a, b, c]`",
                    ),
                },
            }
            return;
        }
        if let Some((tokens, message)) = forbidden_inside(&looped.expr) {
            self.errors.spanned(tokens, message);
            return;
        }
        // `for (x, y) in samples` over `&[(Vec<f64>, f64)]`: each part a
        // `let` of its own, borrowed where it is not a plain value (a vector
        // is not moved out of the list), as Rust binds it.
        if let Pat::Tuple(tuple) = &*looped.pat {
            if let Some(borrowed) = self.borrowed_parts(tuple, &looped.expr) {
                let mut rewritten = looped.clone();
                let item = self.part_names.fresh("item");
                *rewritten.pat = syn::parse_quote!(#item);
                let mut lets: Vec<syn::Stmt> = Vec::new();
                for (k, (part, by_ref)) in tuple.elems.iter().zip(borrowed).enumerate() {
                    let (k, borrow) = (syn::Index::from(k), by_ref.then(|| quote::quote!(&)));
                    lets.push(syn::parse_quote!(let #part = #borrow #item.#k;));
                }
                rewritten.body.stmts.splice(0..0, lets);
                return self.for_loop(&rewritten);
            }
        }
        let var = match &*looped.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
            Pat::Wild(_) => None,
            // `for &i in idx` is `for i in idx { let i = *i; .. }`.
            Pat::Reference(r) if matches!(&*r.pat, Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none()) =>
            {
                let mut rewritten = looped.clone();
                rewritten.pat = r.pat.clone();
                let inner = &r.pat;
                // Typed where the list's type says (`idx: &[usize]`), for the tape.
                let copy: syn::Stmt = match self.listed_type(&looped.expr) {
                    Some(ty) => syn::parse_quote!(let #inner: #ty = *#inner;),
                    None => syn::parse_quote!(let #inner = *#inner;),
                };
                rewritten.body.stmts.insert(0, copy);
                return self.for_loop(&rewritten);
            }
            // `for &(t, y) in obs`, `for Obs { t, y } in obs.iter()`: each
            // element bound to a name, then taken apart by a `let`.
            Pat::Tuple(_) | Pat::Struct(_) | Pat::Reference(_) => {
                let mut rewritten = looped.clone();
                let item = self.part_names.fresh("item");
                let pat = &looped.pat;
                *rewritten.pat = syn::parse_quote!(#item);
                rewritten
                    .body
                    .stmts
                    .insert(0, syn::parse_quote!(let #pat = #item;));
                return self.for_loop(&rewritten);
            }
            other => {
                self.errors.spanned(
                    other,
                    "only `for name in ...`, `for &name in ...` and `for _ in ...` are supported",
                );
                return;
            }
        };
        self.lower_loop(
            looped.label.as_ref(),
            Header::For {
                var,
                iter: &looped.expr,
            },
            &looped.body,
        );
    }

    /// Reads a loop's `#[checkpoint]`, which `lower_loop` hands to the loop.
    /// Only a loop of the function body itself can be checkpointed: its
    /// backward pass runs once, in stretches between the kept states.
    pub(super) fn mark_checkpoint(&mut self, attrs: &[syn::Attribute]) {
        match crate::parse::checkpoint::of(attrs) {
            None => {}
            Some(Err(error)) => self.errors.push(error),
            Some(Ok(checkpoint)) if self.region != 0 => self.errors.push(syn::Error::new_spanned(
                checkpoint.attr,
                "`#[checkpoint]` applies to a loop of the function body itself, not to one inside a branch or another loop (or after an early `return`, which puts the rest of the body in a branch); checkpoint the outermost loop",
            )),
            Some(Ok(checkpoint)) => self.checkpointed = Some(checkpoint),
        }
    }

    /// A `#[checkpoint]` no loop took: the loop was unrolled (`for v in [a, b]`)
    /// or refused.
    pub(super) fn unclaimed_checkpoint(&mut self) {
        if let Some(checkpoint) = self.checkpointed.take() {
            self.errors.push(syn::Error::new_spanned(
                checkpoint.attr,
                "`#[checkpoint]` applies to `for` loops over ranges and iterators, `while` and `loop`; a loop over an array of differentiated values is unrolled and keeps nothing to checkpoint",
            ));
        }
    }

    /// A loop whose iterations the forward pass counts and the backward pass
    /// replays in reverse. Variables the body assigns are carried from one
    /// iteration to the next; `break` and `continue` become flags. In order:
    /// the loop's frame (label, exit flags), the variables it carries, its body
    /// lowered until their activity is stable, then the loop statement.
    pub(super) fn lower_loop(
        &mut self,
        label: Option<&syn::Label>,
        header: Header,
        body: &syn::Block,
    ) {
        let checkpoint = self.checkpointed.take();
        let label_name = label.map(|l| l.name.ident.to_string());
        // A `break` that ends the body stops the loop between iterations: no
        // flag, and no iteration that stopped part-way.
        // (Not after a `while` condition that changes variables: that loop
        // keeps its flag, and the body's locals are out of the test's reach.)
        let plain_header = !matches!(&header, Header::While(cond) if has_effects(cond));
        let (body, until) = match tail_break(body, label_name.as_deref()) {
            Some((rest, cond)) if plain_header => (rest, Some(cond)),
            _ => (body.clone(), None),
        };
        let body = &body;
        let exits = loop_exits(body, label_name.as_deref());
        // A `while` with no `break` of its own and a plain condition stops at
        // the condition with Rust's own `break`, and the stopping iteration is
        // not counted. A `break` in the body, or a condition that changes
        // variables (whose last evaluation must be kept), sets the loop's flag.
        let needs_break = match &header {
            Header::While(cond) => exits.breaks || has_effects(cond),
            _ => exits.breaks,
        };
        let index = self.loops.len();
        let frame = LoopFrame {
            label: label_name,
            break_key: needs_break.then_some(Key::Broke(index)),
            continue_key: exits.continues.then_some(Key::Skipped(index)),
        };
        if let Some(key) = &frame.break_key {
            self.declare_flag(key.clone(), "broke");
        }
        let iter_locals = match &header {
            Header::For { iter, .. } => self.locals_in(iter),
            Header::Slices { iter_locals, .. } => iter_locals.clone(),
            _ => Vec::new(),
        };
        let carried = self.carried_variables(&header, body, &frame, exits.leaves_outer);
        let lowered = self.lower_body_until_stable(&header, body, until.as_ref(), &frame, &carried);
        self.assemble_loop(header, body, lowered, &carried, iter_locals, checkpoint);
    }

    /// The variables a loop carries from one iteration to the next: those its
    /// body (or a `while` condition) assigns, and the exit flags it may set:
    /// its own, and those of the loops and function it may leave.
    fn carried_variables(
        &self,
        header: &Header,
        body: &syn::Block,
        frame: &LoopFrame,
        leaves_outer: bool,
    ) -> Vec<(Key, NodeId)> {
        let mut carried: Vec<(Key, NodeId)> = self
            .assigned_outer_variables(body)
            .into_iter()
            .map(|(name, id)| (Key::Var(name), id))
            .collect();
        if let Header::While(cond) = header {
            // A condition with side effects (`while { i += 1; i < n }`) assigns too.
            for (name, id) in self.assigned_outer_variables_in(cond) {
                let name = Key::Var(name);
                if !carried.iter().any(|(n, _)| *n == name) {
                    carried.push((name, id));
                }
            }
        }
        let mut flags: Vec<Key> = frame.break_key.iter().cloned().collect();
        if leaves_outer {
            flags.extend(
                self.loops
                    .iter()
                    .flat_map(|f| f.break_key.iter().chain(&f.continue_key).cloned()),
            );
            if self.returns {
                flags.extend([Key::Returned, Key::ReturnValue]);
            }
        }
        for key in flags {
            if let Some(id) = self.lookup(&key) {
                if !carried.iter().any(|(n, _)| *n == key) {
                    carried.push((key, id));
                }
            }
        }
        carried
    }

    /// The carried-activity fixpoint: a variable that starts inactive becomes
    /// active once the body assigns it an active value, and then every use of
    /// it in the body needs a derivative. The body is lowered again (its nodes,
    /// blocks and errors of the last try rolled back) until nothing changes.
    fn lower_body_until_stable(
        &mut self,
        header: &Header,
        body: &syn::Block,
        until: Option<&Expr>,
        frame: &LoopFrame,
        carried: &[(Key, NodeId)],
    ) -> LoweredBody {
        let mut active: Vec<bool> = carried
            .iter()
            .map(|(_, id)| self.nodes[*id].active)
            .collect();
        let saved_scopes = self.scopes.clone();
        let (node_mark, region_mark, statement_mark) =
            (self.nodes.len(), self.regions.len(), self.statements);
        loop {
            let outer_errors = std::mem::take(&mut *self.errors);
            let lowered = self.lower_body(header, body, until, frame, carried, &active);
            let body_errors = std::mem::replace(&mut *self.errors, outer_errors);
            let mut grew = false;
            for (next, active) in lowered.block.results.iter().zip(&mut active) {
                if self.is_active(next) && !*active {
                    *active = true;
                    grew = true;
                }
            }
            self.scopes = saved_scopes.clone();
            if !grew {
                if let Err(error) = body_errors.finish() {
                    self.errors.push(error);
                }
                return lowered;
            }
            self.nodes.truncate(node_mark);
            self.regions.truncate(region_mark);
            self.statements = statement_mark;
            self.forget_elements_from(node_mark);
        }
    }

    /// One lowering of the body, with the carried variables as active as
    /// `active` says: the loop variable, the elements a loop over slices reads,
    /// a version of each carried variable at the start of an iteration, then
    /// the body (behind its condition, for `while`).
    fn lower_body(
        &mut self,
        header: &Header,
        body: &syn::Block,
        until: Option<&Expr>,
        frame: &LoopFrame,
        carried: &[(Key, NodeId)],
        active: &[bool],
    ) -> LoweredBody {
        let id = self.new_statement();
        self.enter_region(id);
        self.scopes.push(Vec::new());
        self.loops.push(frame.clone());
        let var = self.loop_variable(header, body);
        let params: Vec<NodeId> = carried
            .iter()
            .zip(active)
            .map(|((name, outer), active)| {
                let param = self.version_of(*outer, NodeKind::LoopParam, *active);
                let param = self.push(param);
                self.rebind(name, param);
                param
            })
            .collect();
        let exit = frame.break_key.as_ref().and_then(|key| self.lookup(key));
        if let Some(key) = &frame.continue_key {
            self.declare_flag(key.clone(), "skipped");
        }
        // The body's own scope, where a final `break`'s condition is tested.
        self.scopes.push(Vec::new());
        let close = body.brace_token.span.close();
        match header {
            Header::While(cond) if frame.break_key.is_none() => {
                let cond = self.expr(cond);
                self.emit(IrStmt::BreakUnless(cond));
                self.stmts(&body.stmts, Tail::Unit, close);
            }
            Header::While(cond) => self.while_body(cond, body, frame),
            _ => {
                self.stmts(&body.stmts, Tail::Unit, close);
            }
        }
        let until = until.map(|cond| self.expr(cond));
        self.scopes.pop();
        self.loops.pop();
        self.scopes.pop();
        let nexts: Vec<Operand> = carried
            .iter()
            .zip(&params)
            .map(|((name, _), param)| Operand::Node(self.lookup(name).unwrap_or(*param)))
            .collect();
        LoweredBody {
            id,
            var,
            params,
            exit,
            until,
            block: self.exit_region(nexts),
        }
    }

    /// The loop variable's node (and, over slices, a read of each element).
    fn loop_variable(&mut self, header: &Header, body: &syn::Block) -> Option<NodeId> {
        match header {
            Header::For {
                var: Some(ident),
                iter,
            } => {
                let ty = self.element_type(iter);
                let listed = ty.is_none().then(|| self.listed_type(iter)).flatten();
                // Neither the spelling nor the list's type says whether the
                // elements are values or references (`for w in table().iter()`,
                // `for w in ws` of `let ws = &W;`).
                // (A range's are integers, whatever its bounds' types:
                // `for j in 0..H1` of a constant `H1`.)
                let maybe_reference = ty.is_none() && listed.is_none() && !over_range(iter);
                let node =
                    self.push(self.loop_var_node(Hint::User(ident.clone()), ty, ident.span()));
                if let Some(element) = listed {
                    self.referenced.insert(node, element);
                }
                if yields_tuples(iter) {
                    self.reference_tuples.insert(node);
                }
                if maybe_reference {
                    self.maybe_references.insert(node);
                }
                self.declare(ident, node);
                Some(node)
            }
            Header::Slices {
                index, elements, ..
            } => {
                let hint = match index {
                    Some(ident) => Hint::User(ident.clone()),
                    None => Hint::Op("k".into()),
                };
                let usize = Some(syn::parse_quote!(usize));
                let node = self.push(self.loop_var_node(hint, usize, span_of(body)));
                if let Some(ident) = index {
                    self.declare(ident, node);
                }
                for (ident, array) in elements {
                    let hint = Hint::User(ident.clone());
                    let read = match self.opaque_elements(*array) {
                        // `obs.iter().zip(k)` over `obs: &[Obs]`: each element
                        // borrowed, as the iterator gives it (it may not be `Copy`).
                        true => {
                            let locals =
                                vec![("__slice".to_string(), *array), ("__k".to_string(), node)];
                            let expr: Expr = syn::parse_quote!(&__slice[__k]);
                            self.push(Node::new(
                                hint,
                                NodeKind::Inactive { expr, locals },
                                ident.span(),
                            ))
                        }
                        false => self.read_node(*array, Operand::Node(node), hint, ident.span()),
                    };
                    self.declare(ident, read);
                }
                Some(node)
            }
            _ => None,
        }
    }

    /// A list of data whose elements are not floats, integers or tuples of
    /// them (`obs: &[Obs]`): read by reference.
    fn opaque_elements(&self, array: NodeId) -> bool {
        let node = &self.nodes[array];
        !node.active
            && node
                .ty
                .as_ref()
                .and_then(crate::lower::element_type)
                .is_some_and(|element| !self.floats.is_plain(&element))
    }

    fn loop_var_node(&self, hint: Hint, ty: Option<syn::Type>, span: Span) -> Node {
        Node::new(hint, NodeKind::LoopVar, span).typed(ty)
    }

    /// `while c { body }` is `loop { if !c { break; } body }`: the condition
    /// sets the break flag, and the body runs while the flag is down.
    fn while_body(&mut self, cond: &Expr, body: &syn::Block, frame: &LoopFrame) {
        let cond = self.expr(cond);
        let stop = self.inactive_template(|c| quote!(!#(#c)*), std::slice::from_ref(&cond), body);
        if let Operand::Node(id) = stop {
            self.nodes[id].hint = Hint::Op("done".into());
        }
        let key = frame.break_key.clone();
        self.branch_with(
            stop,
            false,
            span_of(body),
            &mut |s| {
                s.set_flag(key.clone());
                None
            },
            None,
        );
        let running = match frame.break_key.as_ref().and_then(|key| self.lookup(key)) {
            Some(flag) => self.inactive_template(|f| quote!(!#(#f)*), &[Operand::Node(flag)], body),
            None => self.dummy(),
        };
        if let Operand::Node(id) = running {
            self.nodes[id].hint = Hint::Op("running".into());
        }
        self.branch_with(
            running,
            false,
            span_of(body),
            &mut |s| s.block(body, Tail::Unit),
            None,
        );
    }

    /// The loop statement, once its body is stable: each carried variable's
    /// version after the loop, the trip counter, what the backward pass can
    /// spell again instead of saving (the range's start, a constant count).
    fn assemble_loop(
        &mut self,
        header: Header,
        body: &syn::Block,
        lowered: LoweredBody,
        carried: &[(Key, NodeId)],
        iter_locals: Vec<(String, NodeId)>,
        checkpoint: Option<Checkpoint>,
    ) {
        let carried: Vec<Carried> = carried
            .iter()
            .zip(&lowered.params)
            .map(|((name, outer), param)| {
                let out = self.version_of(*param, NodeKind::LoopOut, self.nodes[*param].active);
                let out = self.push_detached(out);
                self.rebind(name, out);
                Carried {
                    init: Operand::Node(*outer),
                    param: *param,
                    out,
                }
            })
            .collect();
        let trips = self.push_detached(
            Node::new(Hint::Op("trips".into()), NodeKind::LoopTrips, span_of(body))
                .typed(Some(syn::parse_quote!(usize))),
        );
        let over_slices = matches!(header, Header::Slices { .. });
        let iter = match header {
            Header::For { iter, .. } => Some(iter.clone()),
            Header::Slices { len, .. } => Some(len.clone()),
            _ => None,
        };
        let var = lowered.var.filter(|_| iter.is_some());
        let var_start = iter.as_ref().and_then(range_start);
        let fixed_trips = match (lowered.exit, &lowered.until) {
            (None, None) => iter.as_ref().and_then(constant_trips),
            _ => None,
        };
        self.emit(IrStmt::Loop(Box::new(Loop {
            id: lowered.id,
            var,
            iter,
            iter_locals,
            carried,
            body: lowered.block,
            trips,
            exit: lowered.exit,
            until: lowered.until,
            var_start,
            fixed_trips,
            over_slices,
            checkpoint,
        })));
    }

    /// `for v in [a, b, c]` over differentiated values: the body is repeated for
    /// each element, which is the same computation without a loop.
    pub(super) fn unrolled_loop(&mut self, looped: &syn::ExprForLoop, array: &syn::ExprArray) {
        let Pat::Ident(pat) = &*looped.pat else {
            self.errors.spanned(
                &looped.pat,
                "only `for name in [...]` is supported over differentiated values",
            );
            return;
        };
        let elements: Vec<Operand> = array.elems.iter().map(|e| self.expr(e)).collect();
        self.unrolled_iterations(&pat.ident, &elements, looped);
    }

    /// The body once per element. After a body that may `return`, the rest
    /// runs only if it did not, as after any statement that may leave.
    pub(super) fn unrolled_iterations(
        &mut self,
        pat: &Ident,
        elements: &[Operand],
        looped: &syn::ExprForLoop,
    ) {
        let Some((element, rest)) = elements.split_first() else {
            return;
        };
        self.scopes.push(Vec::new());
        let mark = self.nodes.len();
        let id = self.bind(pat, element.clone(), mark, None);
        self.declare(pat, id);
        self.block(&looped.body, Tail::Unit);
        self.scopes.pop();
        if rest.is_empty() {
            return;
        }
        if !has_exit(&looped.body) {
            return self.unrolled_iterations(pat, rest, looped);
        }
        let continuing = self.not_exited(looped);
        self.branch_with(
            continuing,
            false,
            looped.span(),
            &mut |s| {
                s.unrolled_iterations(pat, rest, looped);
                None
            },
            None,
        );
    }

    pub(super) fn assigned_outer_variables_in(&self, expr: &Expr) -> Vec<(String, NodeId)> {
        // Built, not parsed: printing any expression does not make a block
        // that parses (`let` is no expression of its own).
        let block = syn::Block {
            brace_token: syn::token::Brace::default(),
            stmts: vec![Stmt::Expr(expr.clone(), None)],
        };
        self.assigned_outer_variables(&block)
    }

    /// Variables declared outside `body` that it assigns, in order.
    pub(super) fn assigned_outer_variables(&self, body: &syn::Block) -> Vec<(String, NodeId)> {
        struct Assigned(Vec<String>);
        impl<'ast> Visit<'ast> for Assigned {
            fn visit_expr_assign(&mut self, expr: &'ast syn::ExprAssign) {
                if let Some(ident) = assigned_name(&expr.left) {
                    self.0.push(key(ident));
                }
                syn::visit::visit_expr_assign(self, expr);
            }
            fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
                // `f(&mut a)` assigns `a`.
                for arg in &call.args {
                    if let Expr::Reference(r) = strip_parens(arg) {
                        if r.mutability.is_some() {
                            if let Some(ident) = assigned_name(&r.expr) {
                                self.0.push(key(ident));
                            }
                        }
                    }
                }
                syn::visit::visit_expr_call(self, call);
            }
            fn visit_expr_binary(&mut self, expr: &'ast syn::ExprBinary) {
                if Operator::of_compound(&expr.op).is_some() {
                    if let Some(ident) = assigned_name(&expr.left) {
                        self.0.push(key(ident));
                    }
                }
                syn::visit::visit_expr_binary(self, expr);
            }
        }
        let mut assigned = Assigned(Vec::new());
        assigned.visit_block(body);
        let mut variables: Vec<(String, NodeId)> = Vec::new();
        for name in assigned.0 {
            if let Some(id) = self.variable(&name) {
                // An array is changed in place, not rebound: `h[i] = ..`,
                // `scale(&mut h)`.
                if self.nodes[id].array.is_some() {
                    continue;
                }
                if !variables.iter().any(|(n, _)| *n == name) {
                    variables.push((name, id));
                }
            }
        }
        variables
    }

    /// For a tuple pattern over a list of tuples some part of which is not
    /// a plain value (`&[(Vec<f64>, f64)]`), with a name or `_` for each
    /// part: whether each part is borrowed.
    fn borrowed_parts(&self, tuple: &syn::PatTuple, iter: &Expr) -> Option<Vec<bool>> {
        let syn::Type::Tuple(parts) = self.listed_type(iter)? else {
            return None;
        };
        let named = tuple.elems.iter().all(|p| {
            matches!(p, Pat::Wild(_))
                || matches!(p, Pat::Ident(i) if i.by_ref.is_none() && i.subpat.is_none())
        });
        if !named || parts.elems.len() != tuple.elems.len() {
            return None;
        }
        let borrowed: Vec<bool> = parts
            .elems
            .iter()
            .map(|ty| !self.floats.is_plain(ty))
            .collect();
        borrowed.contains(&true).then_some(borrowed)
    }

    /// The element type of a list a `for` walks by reference: `idx`, `&idx` or
    /// `idx.iter()` of a local typed `&[T]`, `Vec<T>`, `[T; N]`.
    fn listed_type(&self, iter: &Expr) -> Option<syn::Type> {
        match strip_parens(iter) {
            Expr::Reference(r) => self.listed_type(&r.expr),
            Expr::MethodCall(call) if call.method == "iter" && call.args.is_empty() => {
                self.listed_type(&call.receiver)
            }
            path @ Expr::Path(_) => {
                let ty = self.nodes[self.local(path)?].ty.as_ref()?;
                crate::lower::element_type(ty)
            }
            _ => None,
        }
    }

    /// The type of a loop variable, where the iterable's spelling tells.
    pub(super) fn element_type(&self, iter: &Expr) -> Option<syn::Type> {
        match strip_parens(iter) {
            Expr::Range(range) => range
                .start
                .as_deref()
                .and_then(|e| self.guess_type(e))
                .or_else(|| range.end.as_deref().and_then(|e| self.guess_type(e))),
            Expr::MethodCall(call) => self.element_type(&call.receiver),
            Expr::Array(array) => array.elems.first().and_then(|e| self.guess_type(e)),
            _ => None,
        }
    }
}

/// A body that ends in `if c { break; }` (for this loop, with no `else`),
/// and has no other `break`, `continue` or `return`: the body without it, and
/// `c`.
fn tail_break(body: &syn::Block, label: Option<&str>) -> Option<(syn::Block, Expr)> {
    let (Stmt::Expr(Expr::If(branch), _), rest) = body.stmts.split_last()? else {
        return None;
    };
    let [Stmt::Expr(Expr::Break(exit), _)] = branch.then_branch.stmts.as_slice() else {
        return None;
    };
    let own = match &exit.label {
        None => true,
        Some(target) => label == Some(target.ident.to_string().as_str()),
    };
    if !own || exit.expr.is_some() || branch.else_branch.is_some() {
        return None;
    }
    let rest = syn::Block {
        brace_token: body.brace_token,
        stmts: rest.to_vec(),
    };
    let exits = loop_exits(&rest, label);
    if exits.breaks || exits.continues {
        return None;
    }
    Some((rest, (*branch.cond).clone()))
}

/// The start of `start..end` or `start..=end` when it is a literal or a constant
/// path, which the backward pass can spell again.
pub(super) fn range_start(iter: &Expr) -> Option<proc_macro2::TokenStream> {
    let Expr::Range(range) = strip_parens(iter) else {
        return None;
    };
    let start = strip_parens(range.start.as_deref()?);
    (is_constant(start) && range.end.is_some()).then(|| start.to_token_stream())
}

/// The number of iterations of `start..end` or `start..=end` when both are
/// constants: a loop without `break` runs exactly that many times, so the
/// backward pass need not save its count.
pub(super) fn constant_trips(iter: &Expr) -> Option<proc_macro2::TokenStream> {
    let Expr::Range(range) = strip_parens(iter) else {
        return None;
    };
    let start = strip_parens(range.start.as_deref()?);
    let end = strip_parens(range.end.as_deref()?);
    if !is_constant(start) || !is_constant(end) {
        return None;
    }
    // `end - start` must not underflow: from zero, or between literals in order.
    let literal = |e: &Expr| match e {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse::<u128>().ok(),
        _ => None,
    };
    let ordered = match (literal(start), literal(end)) {
        (Some(0), _) => true,
        (Some(a), Some(b)) => a <= b,
        _ => false,
    };
    if !ordered {
        return None;
    }
    let from_zero = literal(start) == Some(0);
    Some(match (range.limits, from_zero) {
        (syn::RangeLimits::HalfOpen(_), true) => quote!(#end),
        (syn::RangeLimits::HalfOpen(_), false) => quote!((#end - #start)),
        (syn::RangeLimits::Closed(_), true) => quote!((#end + 1)),
        (syn::RangeLimits::Closed(_), false) => quote!((#end + 1 - #start)),
    })
}

/// A literal or a constant's path: the backward pass may spell it again.
pub(super) fn is_constant(expr: &Expr) -> bool {
    matches!(expr, Expr::Lit(_))
        || matches!(expr, Expr::Path(p) if p.path.segments.len() > 1 || p.path.get_ident().is_some_and(is_constant_name))
}

/// A loop's body, lowered once.
struct LoweredBody {
    id: StmtId,
    var: Option<NodeId>,
    /// Each carried variable's version at the start of an iteration.
    params: Vec<NodeId>,
    /// The break flag at the start of an iteration.
    exit: Option<NodeId>,
    /// The condition of a `break` that ends the body.
    until: Option<Operand>,
    block: crate::ir::Block,
}

/// Whether evaluating a condition may change a variable: an assignment, a
/// block, a `&mut` borrow, a macro, or a call (which may take `&mut`).
fn has_effects(cond: &Expr) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            self.0 |= match expr {
                Expr::Assign(_) | Expr::Block(_) | Expr::Macro(_) | Expr::Closure(_) => true,
                Expr::Binary(b) => Operator::of_compound(&b.op).is_some(),
                Expr::Reference(r) => r.mutability.is_some(),
                Expr::Call(_) => true,
                Expr::MethodCall(m) => m
                    .args
                    .iter()
                    .any(|a| matches!(a, Expr::Reference(r) if r.mutability.is_some())),
                _ => false,
            };
            syn::visit::visit_expr(self, expr);
        }
    }
    let mut finder = Finder(false);
    finder.visit_expr(cond);
    finder.0
}

/// `v.iter_mut()`, alone or under `enumerate`/`zip` and the like: a loop the
/// `iter_mut` rewrite left as written because its body uses the reference.
fn through_iter_mut(expr: &Expr) -> bool {
    match strip_parens(expr) {
        Expr::MethodCall(m) => m.method == "iter_mut" || through_iter_mut(&m.receiver),
        _ => false,
    }
}

/// The list a `for` walks through `iter()`, `&` and `enumerate()` (`w` of
/// `w.iter().enumerate()`).
pub(super) fn walked_list(iter: &Expr) -> &Expr {
    let mut root = strip_parens(iter);
    loop {
        match root {
            Expr::MethodCall(m)
                if m.args.is_empty()
                    && ["enumerate", "iter"].contains(&m.method.to_string().as_str()) =>
            {
                root = strip_parens(&m.receiver);
            }
            Expr::Reference(r) if r.mutability.is_none() => root = strip_parens(&r.expr),
            _ => return root,
        }
    }
}

/// The iterator adapters whose items are their receiver's.
const KEEPS_ITEMS: [&str; 7] = [
    "rev",
    "skip",
    "take",
    "step_by",
    "filter",
    "skip_while",
    "take_while",
];

/// Whether a loop runs over a range, `a..b` (reversed, stepped, ..): its
/// variable is a value, never a reference.
fn over_range(iter: &Expr) -> bool {
    match strip_parens(iter) {
        Expr::Range(_) => true,
        Expr::MethodCall(call) if KEEPS_ITEMS.contains(&call.method.to_string().as_str()) => {
            over_range(&call.receiver)
        }
        _ => false,
    }
}

/// Whether an iterator's items are tuples it builds, `enumerate()` or
/// `zip(..)` (through adapters that keep the items: `rev`, `skip`, ..).
fn yields_tuples(iter: &Expr) -> bool {
    match strip_parens(iter) {
        Expr::MethodCall(call) => match call.method.to_string().as_str() {
            "enumerate" | "zip" => true,
            method if KEEPS_ITEMS.contains(&method) => yields_tuples(&call.receiver),
            _ => false,
        },
        _ => false,
    }
}
