//! Slices: loops over slices by index, reads of elements and writes into
//! `&mut [f64]` parameters and local buffers.

use super::loops::is_constant;
use super::{key, node_ident, span_of, strip_parens, Header, IrStmt, Lowerer, SliceIteration};
use crate::ir::{ArrayInfo, Hint, Node, NodeId, NodeKind, Operand, Operator};
use proc_macro2::{Ident, Span};
use quote::{quote, ToTokens};
use syn::{Expr, Pat};

impl<'a> Lowerer<'a> {
    /// `for v in w.iter()`, `for (i, v) in w.iter().enumerate()`,
    /// `for (a, b) in w.iter().zip(x.iter())`: recognised so that a loop over a
    /// differentiated slice becomes a loop over indices, each element a read.
    pub(super) fn slice_iteration(&self, iter: &Expr) -> Option<SliceIteration> {
        let inner = self.slice_iteration_unstepped(iter);
        // Nothing but `step_by` itself follows a `step_by`.
        match strip_parens(iter) {
            Expr::MethodCall(call) if call.method == "step_by" && call.args.len() == 1 => {
                let stepped = self.slice_iteration(&call.receiver)?;
                stepped.step.is_none().then(|| SliceIteration {
                    step: Some(call.args[0].clone()),
                    ..stepped
                })
            }
            Expr::MethodCall(call) => match self.slice_iteration(&call.receiver) {
                Some(receiver) if receiver.step.is_some() => None,
                _ => inner,
            },
            _ => inner,
        }
    }

    fn slice_iteration_unstepped(&self, iter: &Expr) -> Option<SliceIteration> {
        match strip_parens(iter) {
            // `skip` and `take` move the loop's bounds, not its indices.
            Expr::MethodCall(call)
                if (call.method == "skip" || call.method == "take") && call.args.len() == 1 =>
            {
                let inner = self.slice_iteration(&call.receiver)?;
                let count = &call.args[0];
                if inner.reversed {
                    return reversed_part(inner, call.method == "skip", count);
                }
                let start: Expr = match &inner.start {
                    Some(start) => syn::parse_quote!((#start)),
                    None => syn::parse_quote!(0),
                };
                Some(if call.method == "skip" {
                    let skipped: Expr = syn::parse_quote!(#start + (#count));
                    SliceIteration {
                        start: Some(skipped),
                        ..inner
                    }
                } else {
                    let end: Expr = match &inner.end {
                        Some(end) => syn::parse_quote!((#end).min(#start + (#count))),
                        None => syn::parse_quote!(#start + (#count)),
                    };
                    SliceIteration {
                        end: Some(end),
                        ..inner
                    }
                })
            }
            Expr::MethodCall(call) if call.method == "rev" && call.args.is_empty() => {
                let inner = self.slice_iteration(&call.receiver)?;
                (!inner.reversed).then_some(SliceIteration {
                    reversed: true,
                    ..inner
                })
            }
            Expr::MethodCall(call) if call.method == "enumerate" && call.args.is_empty() => {
                let inner = self.slice_iteration(&call.receiver)?;
                // After `skip`, `enumerate` would count from 0, not the index.
                // (Of one slice, or of a zip: `(i, (a, b))`.)
                (!inner.enumerate
                    && !inner.reversed
                    && inner.start.is_none()
                    && inner.end.is_none()
                    && !inner.arrays.is_empty())
                .then_some(SliceIteration {
                    enumerate: true,
                    ..inner
                })
            }
            Expr::MethodCall(call) if call.method == "zip" && call.args.len() == 1 => {
                let left = self.slice_iteration(&call.receiver)?;
                let right = self.slice_iteration(&call.args[0])?;
                // (A zip of a zip, `a.iter().zip(b).zip(c)`, yields
                // `((a, b), c)`: three arrays, the pattern flattened.)
                (!left.arrays.is_empty()
                    && right.arrays.len() == 1
                    && !left.enumerate
                    && !right.enumerate
                    && !left.reversed
                    && !right.reversed
                    && left.step.is_none()
                    && right.step.is_none()
                    && [&left, &right]
                        .iter()
                        .all(|s| s.start.is_none() && s.end.is_none()))
                .then(|| SliceIteration {
                    arrays: [left.arrays, right.arrays].concat(),
                    enumerate: false,
                    reversed: false,
                    start: None,
                    end: None,
                    step: None,
                })
            }
            Expr::MethodCall(call)
                if ["iter", "copied", "cloned"].contains(&call.method.to_string().as_str())
                    && call.args.is_empty() =>
            {
                self.slice_iteration(&call.receiver)
            }
            Expr::Reference(reference) if reference.mutability.is_none() => {
                self.slice_iteration(&reference.expr)
            }
            other => self.array_local(other).map(|array| SliceIteration {
                arrays: vec![array],
                enumerate: false,
                reversed: false,
                start: None,
                end: None,
                step: None,
            }),
        }
    }

    pub(super) fn slice_loop(&mut self, looped: &syn::ExprForLoop, slices: SliceIteration) {
        // The pattern: `v`, `&v`, `(i, v)`, `(a, b)`, with `&` allowed on elements.
        let element = |pat: &Pat| -> Option<Ident> {
            match pat {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
                Pat::Reference(r) => match &*r.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                        Some(p.ident.clone())
                    }
                    _ => None,
                },
                _ => None,
            }
        };
        let count = slices.arrays.len();
        let parts: Vec<&Pat> = match &*looped.pat {
            // A zip enumerated: `(i, (a, b))`, the index and each element.
            Pat::Tuple(tuple) if slices.enumerate && count >= 2 => {
                match tuple.elems.iter().collect::<Vec<_>>().as_slice() {
                    [index, zipped @ Pat::Tuple(_)] => {
                        let mut parts = vec![*index];
                        parts.extend(zipped_parts(zipped, count));
                        parts
                    }
                    other => other.to_vec(),
                }
            }
            zipped @ Pat::Tuple(_) if count >= 2 => zipped_parts(zipped, count),
            Pat::Tuple(tuple) if count + usize::from(slices.enumerate) > 1 => {
                tuple.elems.iter().collect()
            }
            single => vec![single],
        };
        // An element taken apart (`for Obs { t, y } in obs`, `for (i, &(t, y))
        // in pairs.iter().enumerate()`): bound to a name, then to the
        // pattern by a `let` at the top of the body.
        if parts.iter().any(|p| element(p).is_none()) {
            let mut rewritten = looped.clone();
            let mut lets: Vec<syn::Stmt> = Vec::new();
            let mut names: Vec<Pat> = Vec::new();
            for part in &parts {
                if element(part).is_some() {
                    names.push((*part).clone());
                    continue;
                }
                let item = self.part_names.fresh("item");
                // The element is read by index, a value: `&(i, j)` takes
                // it apart as `(i, j)`.
                let part = match part {
                    Pat::Reference(r) => &*r.pat,
                    other => other,
                };
                lets.push(syn::parse_quote!(let #part = #item;));
                names.push(syn::parse_quote!(#item));
            }
            *rewritten.pat = match names.as_slice() {
                [single] if parts.len() == 1 => single.clone(),
                _ => syn::parse_quote!((#(#names),*)),
            };
            rewritten.body.stmts.splice(0..0, lets);
            return self.slice_loop(&rewritten, slices);
        }
        let expected = slices.arrays.len() + usize::from(slices.enumerate);
        let bindings: Option<Vec<Ident>> = parts.iter().map(|p| element(p)).collect();
        let Some(mut bindings) = bindings.filter(|b| b.len() == expected) else {
            self.errors.spanned(
                &looped.pat,
                "expected `v`, `&v`, `(i, v)` or `(a, b)` for a loop over a differentiated slice",
            );
            return;
        };
        let index = slices.enumerate.then(|| bindings.remove(0));
        let placeholders: Vec<Ident> = (0..slices.arrays.len())
            .map(|i| Ident::new(&format!("__array{i}"), Span::call_site()))
            .collect();
        // An array of a constant length (`[0.0; H]`, `&[f64; 3]`) is looped
        // over `0..H`: the backward pass then knows the trip count.
        let constant_len = match slices.arrays.as_slice() {
            [array] => match &self.nodes[*array].array {
                Some(ArrayInfo {
                    len: Operand::Const(len),
                    fixed: true,
                }) => syn::parse2::<Expr>(len.tokens.clone())
                    .ok()
                    .filter(is_constant),
                _ => None,
            },
            _ => None,
        };
        let length: Expr = match (placeholders.as_slice(), constant_len) {
            ([_], Some(len)) => len,
            ([a], None) => syn::parse_quote!(#a.len()),
            ([a, rest @ ..], _) => syn::parse_quote!(#a.len()#(.min(#rest.len()))*),
            _ => return,
        };
        let end: Expr = match &slices.end {
            Some(end) => syn::parse_quote!(#length.min(#end)),
            None => length,
        };
        let range: Expr = match &slices.start {
            Some(start) => syn::parse_quote!((#start)..#end),
            None => syn::parse_quote!(0..#end),
        };
        let len: Expr = if slices.reversed {
            syn::parse_quote!((#range).rev())
        } else {
            range
        };
        let len: Expr = match &slices.step {
            Some(step) => syn::parse_quote!((#len).step_by(#step)),
            None => len,
        };
        let mut iter_locals: Vec<(String, NodeId)> = placeholders
            .iter()
            .zip(&slices.arrays)
            .map(|(p, a)| (p.to_string(), *a))
            .collect();
        // Locals in the bounds: `skip(k)`.
        for bound in slices.start.iter().chain(&slices.end).chain(&slices.step) {
            for local in self.locals_in(bound) {
                if !iter_locals.contains(&local) {
                    iter_locals.push(local);
                }
            }
        }
        let elements = bindings.into_iter().zip(slices.arrays).collect();
        self.lower_loop(
            looped.label.as_ref(),
            Header::Slices {
                index,
                elements,
                len: &len,
                iter_locals,
            },
            &looped.body,
        );
    }

    /// A node measuring an array's length, for the backward pass's adjoint.
    pub(super) fn length_of(&mut self, array: NodeId, name: &Ident) -> NodeId {
        self.push(
            Node::new(
                Hint::Op(format!("{}_len", key(name))),
                NodeKind::Len { array },
                name.span(),
            )
            .typed(Some(syn::parse_quote!(usize))),
        )
    }

    /// `w.iter().zip(row)` where `row` is a local view of data
    /// (`let row = &xs[a..b];`): `row` becomes an array of data, measured by
    /// its length, so the loop reads it by index as it reads `w`.
    pub(super) fn adopt_zipped_views(&mut self, iter: &Expr) {
        let Expr::MethodCall(call) = strip_parens(iter) else {
            return;
        };
        self.adopt_zipped_views(&call.receiver);
        if call.method != "zip" || call.args.len() != 1 {
            return;
        }
        self.adopt_view(&call.receiver);
        self.adopt_view(&call.args[0]);
    }

    /// `for v in w.iter()`, `&w`, `w.iter().enumerate()` over a local of
    /// data typed as a list of floats but bound to something other than a
    /// list the lowering builds (`let w: [f64; 3] = W;` of a constant): an
    /// array of data from here on, read by index as any other, where the
    /// loop kept it as written and saved its elements as references.
    pub(super) fn adopt_typed_list(&mut self, iter: &Expr) {
        let root = super::loops::walked_list(iter);
        if self
            .local(root)
            .and_then(|id| self.float_elements(id))
            .is_some()
        {
            self.adopt_view(root);
        }
    }

    /// The element type of a local typed as a list of floats (`[f64; 3]`,
    /// `&[T]`, `Vec<f32>`).
    fn float_elements(&self, id: NodeId) -> Option<syn::Type> {
        let element = crate::lower::element_type(self.nodes[id].ty.as_ref()?)?;
        self.floats.of_type(&element).is_some().then_some(element)
    }

    /// `row`, `&row` or `row.iter()` of a local view of data: an array of
    /// data from here on.
    fn adopt_view(&mut self, operand: &Expr) {
        let mut partner = strip_parens(operand);
        loop {
            match partner {
                Expr::Reference(r) if r.mutability.is_none() => partner = strip_parens(&r.expr),
                Expr::MethodCall(m) if m.method == "iter" && m.args.is_empty() => {
                    partner = strip_parens(&m.receiver);
                }
                _ => break,
            }
        }
        let Some(id) = self.local(partner) else {
            return;
        };
        if self.nodes[id].array.is_some() || self.nodes[id].active {
            return;
        }
        let Expr::Path(path) = partner else { return };
        let Some(name) = path.path.get_ident().cloned() else {
            return;
        };
        let len = self.length_of(id, &name);
        self.nodes[id].array = Some(ArrayInfo {
            len: Operand::Node(len),
            fixed: false,
        });
        // A list of floats is typed by its elements, as a buffer is.
        if let Some(element) = self.float_elements(id) {
            self.nodes[id].ty = Some(element);
        }
    }

    /// The array a local names, if it is one.
    pub(super) fn array_local(&self, expr: &Expr) -> Option<NodeId> {
        let id = self.local(strip_parens(expr))?;
        self.nodes[id].array.is_some().then_some(id)
    }

    /// `a[i]` of an array local.
    pub(super) fn read(&mut self, array: NodeId, index: &Expr, expr: &Expr) -> Operand {
        let index = self.index(index);
        let hint = self.element_hint(array);
        Operand::Node(self.read_node(array, index, hint, span_of(expr)))
    }

    /// `w_i`: the name of an element read from `w`.
    pub(super) fn element_hint(&self, array: NodeId) -> Hint {
        Hint::Op(format!("{}_i", key(&node_ident(&self.nodes[array]))))
    }

    /// A read of one element, as active as its array.
    pub(super) fn read_node(
        &mut self,
        array: NodeId,
        index: Operand,
        hint: Hint,
        span: Span,
    ) -> NodeId {
        if let Some(earlier) = self.same_read_before(array, &index) {
            return earlier;
        }
        let node = &self.nodes[array];
        // An element of a list of data typed by its parameter (`perm: &mut
        // [usize]`, read by index since a loop zipped it) is of the
        // element's type.
        let ty = match &node.ty {
            Some(ty @ syn::Type::Reference(_)) if !node.active => {
                crate::lower::element_type(ty).or_else(|| Some(ty.clone()))
            }
            ty => ty.clone(),
        };
        let read = Node::new(hint, NodeKind::Read { array, index }, span)
            .active_if(node.active)
            .typed(ty);
        self.push(read)
    }

    /// An earlier read of the same element of a differentiated array in
    /// this block (`state[i]` read twice), with nothing between that could
    /// change it: arithmetic, other reads, and inactive values that do not
    /// mention the array (no write, call, branch or loop). The value is
    /// the same, so it is read, and saved for the backward pass, once.
    fn same_read_before(&self, array: NodeId, index: &Operand) -> Option<NodeId> {
        if !self.nodes[array].active {
            return None;
        }
        for stmt in self.blocks.last()?.iter().rev() {
            let IrStmt::Node(id) = *stmt else {
                return None;
            };
            match &self.nodes[id].kind {
                NodeKind::Read { array: a, index: i } if *a == array && i.same(index) => {
                    return Some(id);
                }
                NodeKind::Read { .. }
                | NodeKind::Op { .. }
                | NodeKind::Cast { .. }
                | NodeKind::Len { .. } => {}
                NodeKind::Inactive { locals, .. } if locals.iter().all(|(_, l)| *l != array) => {}
                _ => return None,
            }
        }
        None
    }

    pub(super) fn index(&mut self, tokens: &Expr) -> Operand {
        // `w[(x * 10.0) as usize]` is fine: the truncation has no derivative.
        let index = self.expr(tokens);
        if self.is_active(&index) {
            self.errors.spanned(
                tokens,
                "an index must be an integer; a float that depends on the differentiated inputs cannot index",
            );
            return self.dummy();
        }
        if let Operand::Node(id) = index {
            self.nodes[id]
                .ty
                .get_or_insert_with(|| syn::parse_quote!(usize));
        }
        index
    }

    /// `a[i] = value`, `a[i] += value`.
    pub(super) fn write(
        &mut self,
        target: &syn::ExprIndex,
        op: Option<Operator>,
        value: &Expr,
        span: &dyn ToTokens,
    ) {
        let Some(array) = self.array_local(&target.expr) else {
            if let Some(list) = self.local(strip_parens(&target.expr)) {
                if !self.nodes[list].active {
                    return self.write_data(list, target, op, value, span);
                }
            }
            self.errors.spanned(
                &target.expr,
                "only elements of a local buffer can be assigned to, as in `h[i] = ...` after `let mut h = [0.0; 16];`",
            );
            return;
        };
        if !matches!(self.nodes[array].kind, NodeKind::Buffer { .. })
            && !self.written_params.contains(&array)
        {
            // A list of data read by index so far (`perm` of a loop over
            // `data.iter().zip(perm.iter())`): written as data is.
            if !self.nodes[array].active {
                return self.write_data(array, target, op, value, span);
            }
            self.errors.spanned(
                &target.expr,
                "only buffers and `&mut` parameters can be written to; copy the values into a local buffer first",
            );
            return;
        }
        let index = self.index(&target.index);
        let mut value = self.expr(value);
        if let Some(op) = op {
            let hint = self.element_hint(array);
            let old = self.read_node(array, index.clone(), hint, span_of(span));
            value = self.arithmetic(op, Operand::Node(old), value, span);
        }
        if self.is_active(&value) && !self.nodes[array].active {
            self.errors.spanned(
                &target.expr,
                "this buffer holds values that depend on the differentiated inputs; give it a float fill, as in `[0.0; 16]`",
            );
            return;
        }
        self.write_node(array, index, value, span_of(span));
    }

    /// `r[n] = r[r0];` into a list of indices or other data (a `&mut [usize]`
    /// parameter, a copy `r.to_vec()`): kept as written, with no adjoint. The
    /// list changes, so the backward pass saves what was read from it rather
    /// than reading it again.
    pub(super) fn write_data(
        &mut self,
        list: NodeId,
        target: &syn::ExprIndex,
        op: Option<Operator>,
        value: &Expr,
        span: &dyn ToTokens,
    ) {
        let index = self.index(&target.index);
        let value = self.expr(value);
        if self.is_active(&value) {
            self.errors.spanned(
                span,
                "this list holds data (indices, counts), and the value written depends on the differentiated inputs; write it into a float buffer, as in `let mut h = [0.0; 16];`",
            );
            return;
        }
        let statement = self.inactive_template(
            |parts| {
                let (a, i, v) = (&parts[0], &parts[1], &parts[2]);
                let value = match op {
                    Some(op) => op.apply(&quote!(#a[#i]), v, proc_macro2::Span::call_site()),
                    None => quote!(#v),
                };
                quote!({ #a[#i] = #value; })
            },
            &[Operand::Node(list), index, value],
            span,
        );
        self.as_statement(&statement, "written");
        self.mark_changed(list);
    }

    /// Records that data `list` changes: reads of it are saved, not repeated.
    pub(super) fn mark_changed(&mut self, list: NodeId) {
        if !self.changed_data.contains(&list) {
            self.changed_data.push(list);
        }
    }

    /// `a[i] = value`, as active as its array.
    pub(super) fn write_node(&mut self, array: NodeId, index: Operand, value: Operand, span: Span) {
        self.write_or_push(array, index, value, false, span);
    }

    /// `a[i] = value`, or `a.push(value)` with `i` the length before it.
    pub(super) fn write_or_push(
        &mut self,
        array: NodeId,
        index: Operand,
        value: Operand,
        push: bool,
        span: Span,
    ) {
        let hint = if push { "push" } else { "write" };
        let write = Node::new(
            Hint::Op(hint.into()),
            NodeKind::Write {
                array,
                index,
                value,
                push,
            },
            span,
        )
        .active_if(self.nodes[array].active);
        self.push(write);
    }
}

/// What `slice_loop` names the first array in the loop's bounds.
const ARRAY_PLACEHOLDER: &str = "__array0";

/// `skip(k)` or `take(k)` after `rev()` of one slice: the elements run from
/// the end down, so `skip` lowers the end by `k` and `take` raises the start
/// to `k` below the end (both saturating at the slice's ends, as the
/// iterators stop there).
fn reversed_part(inner: SliceIteration, skip: bool, count: &Expr) -> Option<SliceIteration> {
    if inner.arrays.len() != 1 || inner.enumerate || inner.step.is_some() {
        return None;
    }
    let array = Ident::new(ARRAY_PLACEHOLDER, Span::call_site());
    let high: Expr = match &inner.end {
        Some(end) => syn::parse_quote!(#array.len().min(#end)),
        None => syn::parse_quote!(#array.len()),
    };
    let lowered: Expr = syn::parse_quote!((#high).saturating_sub(#count));
    Some(match skip {
        true => SliceIteration {
            end: Some(lowered),
            ..inner
        },
        false => {
            let start: Expr = match &inner.start {
                Some(start) => syn::parse_quote!(#lowered.max(#start)),
                None => lowered,
            };
            SliceIteration {
                start: Some(start),
                ..inner
            }
        }
    })
}

/// The elements' patterns of a zip of `count` slices, `((a, b), c)` for
/// three: each zip nests the ones before it on the left. A pattern of
/// another shape is the parts as written (refused by their count).
fn zipped_parts(pat: &Pat, count: usize) -> Vec<&Pat> {
    match pat {
        Pat::Tuple(pair) if count > 2 && pair.elems.len() == 2 => {
            let mut parts = zipped_parts(&pair.elems[0], count - 1);
            parts.push(&pair.elems[1]);
            parts
        }
        Pat::Tuple(tuple) => tuple.elems.iter().collect(),
        single => vec![single],
    }
}
