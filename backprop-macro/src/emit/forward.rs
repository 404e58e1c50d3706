//! The forward pass: one `let` per node, in the user's order and with the user's
//! names, inside the user's branches and loops. Values the backward pass reads
//! are kept: in plain locals (moved into the tape at the end) in the function
//! body, pushed on stacks inside branches and loops.

use crate::emit::graph;
use crate::ir::traverse;
use crate::ir::{
    Block, Borrow, ElementSource, Form, Graph, If, Loop, Node, NodeId, NodeKind, Operand, Operator,
    Stmt, Test,
};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, ToTokens};
use std::collections::{BTreeMap, BTreeSet};
use syn::visit_mut::VisitMut;

pub struct Forward<'a> {
    pub graph: &'a Graph,
    pub saved: &'a BTreeSet<NodeId>,
    pub saved_tapes: &'a BTreeSet<NodeId>,
    /// The stack each value saved inside a branch or loop is pushed on.
    pub stacks: &'a BTreeMap<NodeId, Ident>,
    pub tape_stacks: &'a BTreeMap<NodeId, Ident>,
    /// Values of branches that run at most once, written into the tape's
    /// field of the same name.
    pub once: &'a BTreeSet<NodeId>,
    /// The `&mut Tape` parameter.
    pub tape: &'a Ident,
    /// Forward mode: each active node's tangent, computed right after it
    /// (`let dot_sigx = ...`). `None` for the forward pass of reverse mode.
    pub tangents: Option<&'a crate::emit::tangent::Tangents>,
    /// The checkpointed loops, whose forward pass keeps their state.
    pub checkpoints: &'a [crate::emit::backward::CheckpointPlan],
    /// For `graph`: the `&mut Recorder` told each value drawn.
    pub record: Option<&'a Ident>,
    /// Calls whose callee copies none of the slices they pass, which the
    /// backward pass lends again (`emit/lending.rs`).
    pub lent: &'a BTreeMap<NodeId, crate::emit::lending::Lending>,
    /// The calls of the function to itself that share its tape, and the
    /// stacks they are passed (`emit/frames.rs`).
    /// With `Some`, the calls pass the stacks by value as cursors and get
    /// them back after the value, if the function returns one (`Some(true)`;
    /// `Frames::by_cursor`).
    pub frames: Option<(&'a BTreeSet<NodeId>, &'a TokenStream, Option<bool>)>,
}

impl Forward<'_> {
    pub fn statements(&self) -> TokenStream {
        self.block(&self.graph.body)
    }

    fn block(&self, block: &Block) -> TokenStream {
        let mut code = self.stmts(&block.stmts);
        code.extend(self.pushes(block));
        code
    }

    fn stmts(&self, stmts: &[Stmt]) -> TokenStream {
        stmts.iter().map(|stmt| self.stmt(stmt)).collect()
    }

    /// At the end of a branch or loop body: the values the backward pass will
    /// pop, and those it reads from a field of the tape.
    fn pushes(&self, block: &Block) -> TokenStream {
        let mut code = TokenStream::new();
        for (id, node) in self.graph.nodes.iter().enumerate() {
            if node.region != block.region {
                continue;
            }
            if self.once.contains(&id) {
                let (tape, name) = (self.tape, &node.name);
                let value = self.saved_value(id);
                code.extend(quote!(#tape.#name = #value;));
            }
            // A stack of several values (a frame's) gets them together, as a
            // tuple, where the first is pushed.
            if let Some(stack) = self.stacks.get(&id) {
                let members: Vec<NodeId> = self
                    .stacks
                    .iter()
                    .filter(|(_, s)| *s == stack)
                    .map(|(m, _)| *m)
                    .collect();
                match &members[..] {
                    [_] => {
                        let value = self.saved_value(id);
                        code.extend(quote!(#stack.push(#value);));
                    }
                    [first, ..] if *first == id => {
                        let values = members.iter().map(|m| self.saved_value(*m));
                        code.extend(quote!(#stack.push((#(#values),*));));
                    }
                    _ => {}
                }
            }
            if let (Some(stack), NodeKind::Call { .. }) = (self.tape_stacks.get(&id), &node.kind) {
                code.extend(quote!(#stack.keep();));
            }
        }
        code
    }

    /// A value as the tape keeps it: its name, or, for an element that may
    /// be a reference (`Graph::maybe_references`), the value through
    /// `Borrow`, which a value and a reference to one both implement.
    fn saved_value(&self, id: NodeId) -> TokenStream {
        let node = &self.graph.nodes[id];
        let name = &node.name;
        match (&node.ty, self.graph.maybe_reference(id)) {
            (Some(ty), true) => quote!(*::core::borrow::Borrow::<#ty>::borrow(&#name)),
            _ => quote!(#name),
        }
    }

    fn stmt(&self, stmt: &Stmt) -> TokenStream {
        match stmt {
            Stmt::Node(id) => {
                let mut code = self.node(*id);
                if let Some(tangents) = self.tangents {
                    code.extend(crate::emit::tangent::of_node(self.graph, tangents, *id));
                }
                if let Some(recorder) = self.record {
                    code.extend(graph::after_node(self.graph, recorder, *id));
                }
                code
            }
            Stmt::If(branch) => self.branch(branch),
            Stmt::Loop(looped) => self.for_loop(looped),
            Stmt::BreakUnless(cond) => {
                let cond = argument(self.graph, cond);
                quote!(if !#cond { break; })
            }
        }
    }

    /// `if`/`else` or `match`, bound to the values it merges.
    fn branch(&self, branch: &If) -> TokenStream {
        // In forward mode each merged value comes with its tangent.
        let dot_merges: Vec<(usize, &Ident)> = match self.tangents {
            Some(tangents) => branch
                .merges
                .iter()
                .enumerate()
                .filter_map(|(k, m)| tangents.get(m).map(|t| (k, t)))
                .collect(),
            None => Vec::new(),
        };
        let arms: Vec<(TokenStream, TokenStream)> = branch
            .arms
            .iter()
            .map(|arm| {
                let mut values: Vec<TokenStream> = arm
                    .results
                    .iter()
                    .map(|r| argument(self.graph, r))
                    .collect();
                if let Some(tangents) = self.tangents {
                    for (k, _) in &dot_merges {
                        values.push(crate::emit::tangent::of_operand(
                            self.graph,
                            tangents,
                            &arm.results[*k],
                        ));
                    }
                }
                let value = match values.len() {
                    0 => quote!(),
                    1 => quote!(#(#values)*),
                    _ => quote!((#(#values),*)),
                };
                let ran = self.record.map(|r| graph::arm(r, arm.region));
                let code = self.block(arm);
                returned_directly(quote!(#ran #code), value)
            })
            .collect();
        let merges: Vec<&Ident> = branch
            .merges
            .iter()
            .map(|m| &self.graph.nodes[*m].name)
            .chain(dot_merges.iter().map(|(_, t)| *t))
            .collect();
        let statement = match &branch.test {
            Test::Cond(cond) => self.if_else(cond, &arms, merges.is_empty()),
            Test::Match {
                scrutinee,
                patterns,
            } => {
                let codes: Vec<TokenStream> = arms
                    .iter()
                    .map(|(code, value)| quote!(#code #value))
                    .collect();
                match_statement(&argument(self.graph, scrutinee), patterns, &codes)
            }
        };
        let merged = self
            .record
            .map(|r| graph::after_branch(self.graph, r, branch));
        match merges.len() {
            0 => quote!(#statement #merged),
            1 => quote!(let #(#merges)* = #statement; #merged),
            _ => quote!(let (#(#merges),*) = #statement; #merged),
        }
    }

    fn if_else(
        &self,
        cond: &Operand,
        arms: &[(TokenStream, TokenStream)],
        statement: bool,
    ) -> TokenStream {
        let [(then_code, then_value), (else_code, else_value)] = arms else {
            return TokenStream::new();
        };
        if statement && then_code.is_empty() && !else_code.is_empty() {
            // The arm of a `continue`, which skips the rest of the body.
            let cond = operand(self.graph, cond);
            return quote!(if !#cond { #else_code });
        }
        let else_if = else_code.is_empty()
            && matches!(else_value.clone().into_iter().next(),
                Some(proc_macro2::TokenTree::Ident(i)) if i == "if");
        let else_part = if else_code.is_empty() && statement {
            quote!()
        } else if else_if {
            // An `else` that is one `if`: an `else if` chain, as written.
            quote!(else #else_value)
        } else {
            quote!(else { #else_code #else_value })
        };
        let cond = argument(self.graph, cond);
        quote!(if #cond { #then_code #then_value } #else_part)
    }

    fn for_loop(&self, looped: &Loop) -> TokenStream {
        let nodes = &self.graph.nodes;
        let mut code = TokenStream::new();
        for carried in &looped.carried {
            let (out, init) = (
                &nodes[carried.out].name,
                argument(self.graph, &carried.init),
            );
            code.extend(quote!(let mut #out = #init;));
            if let Some(tangents) = self.tangents {
                if let Some(dot_out) = tangents.get(&carried.out) {
                    let dot_init =
                        crate::emit::tangent::of_operand(self.graph, tangents, &carried.init);
                    code.extend(quote!(let mut #dot_out = #dot_init;));
                }
            }
        }
        let counted = self.saved.contains(&looped.trips);
        let trips = &nodes[looped.trips].name;
        if counted {
            code.extend(quote!(let mut #trips = 0_usize;));
        }
        let var = self.loop_variable(looped);
        let body = self.loop_body(looped, counted);
        let (enter, leave) = match self.record {
            Some(r) => graph::around_loop(self.graph, r, looped),
            None => (TokenStream::new(), TokenStream::new()),
        };
        code.extend(enter);
        match self.iterable(looped) {
            Some(iter) => {
                let allow = looped
                    .over_slices
                    .then(|| quote!(#[allow(clippy::needless_range_loop)]));
                code.extend(quote!(#allow for #var in #iter { #body }));
            }
            None => code.extend(quote!(loop { #body })),
        }
        code.extend(leave);
        code
    }

    /// A loop's body for `graph`: each iteration counted at its start (after
    /// a `while` loop's condition held), with its variables' values.
    fn recorded_loop_block(&self, looped: &Loop, recorder: &Ident) -> TokenStream {
        let start = graph::iteration(self.graph, recorder, looped);
        let body = &looped.body;
        let tested = body
            .stmts
            .iter()
            .position(|s| matches!(s, Stmt::BreakUnless(_)))
            .map_or(0, |test| test + 1);
        let (before, after) = body.stmts.split_at(tested);
        let (before, after) = (self.stmts(before), self.stmts(after));
        let pushes = self.pushes(body);
        quote!(#before #start #after #pushes)
    }

    /// A checkpointed loop's iterations in `iterations` (a local
    /// `Range<usize>` of iteration numbers) run again in the backward pass,
    /// from the loop's state bound before: the same body, without the trip
    /// count.
    pub fn iterations(&self, looped: &Loop, iterations: &Ident) -> TokenStream {
        let var = self.loop_variable(looped);
        let body = self.loop_body(looped, false);
        // Iteration `k` of `start..end` is `start + k`; of any other iterable,
        // its `k`-th item.
        let header = match (self.iterable(looped), &looped.var_start) {
            (Some(_), Some(start)) => {
                let values = from_iteration_numbers(quote!(#iterations.clone()), start);
                quote!(for #var in #values)
            }
            (Some(iter), None) => {
                quote!(for #var in (#iter).skip(#iterations.start).take(#iterations.len()))
            }
            (None, _) => quote!(for _ in #iterations.clone()),
        };
        quote!(#header { #body })
    }

    fn loop_variable(&self, looped: &Loop) -> TokenStream {
        match looped.var {
            Some(var) => {
                let name = &self.graph.nodes[var].name;
                quote!(#name)
            }
            None => quote!(_),
        }
    }

    /// The iterable of a `for` loop, with the locals it mentions renamed.
    fn iterable(&self, looped: &Loop) -> Option<TokenStream> {
        let mut iter = looped.iter.clone()?;
        Rename {
            graph: self.graph,
            locals: &looped.iter_locals,
            shadowed: Vec::new(),
        }
        .visit_expr_mut(&mut iter);
        Some(quote!(#iter))
    }

    /// One iteration: the start values of the carried variables, the body,
    /// their next values, the trip count (when `counted`) and the final
    /// `break`; in a checkpointed loop's forward pass, first the state, when
    /// it is kept.
    fn loop_body(&self, looped: &Loop, counted: bool) -> TokenStream {
        let nodes = &self.graph.nodes;
        let trips = &nodes[looped.trips].name;
        let mut body = TokenStream::new();
        if let Some(kept) = self.checkpoints.iter().find(|c| c.stmt == looped.id) {
            let (local, limit, parts) =
                (&kept.local, &kept.limit, kept.parts.iter().map(|p| &p.keep));
            body.extend(quote! {
                if #local.wants(#trips, #limit) {
                    #local.keep((#(#parts,)*));
                }
            });
        }
        // (Forward mode keeps the copies: a tangent reads its start value too.)
        let shared = match self.tangents {
            Some(_) => BTreeSet::new(),
            None => shared_variables(looped),
        };
        for carried in &looped.carried {
            if shared.contains(&carried.param) {
                continue;
            }
            if is_read(self.graph, carried.param) || looped.exit == Some(carried.param) {
                let (param, out) = (&nodes[carried.param].name, &nodes[carried.out].name);
                body.extend(quote!(let #param = #out;));
            }
            if let Some(tangents) = self.tangents {
                if let (Some(dot_param), Some(dot_out)) =
                    (tangents.get(&carried.param), tangents.get(&carried.out))
                {
                    body.extend(quote!(let #dot_param = #dot_out;));
                }
            }
        }
        if let Some(exit) = looped.exit {
            let flag = &nodes[exit].name;
            body.extend(quote!(if #flag { break; }));
        }
        body.extend(match self.record {
            Some(recorder) => self.recorded_loop_block(looped, recorder),
            None => self.block(&looped.body),
        });
        // A variable's value at the start of an iteration is read from the
        // variable itself, as written, until the iteration's end assigns it.
        let renames: Vec<(&Ident, &Ident)> = looped
            .carried
            .iter()
            .filter(|c| shared.contains(&c.param))
            .map(|c| (&nodes[c.param].name, &nodes[c.out].name))
            .collect();
        let mut body = with_names_replaced(body, &renames);
        for (carried, next) in looped.carried.iter().zip(&looped.body.results) {
            if !matches!(next, Operand::Node(id) if *id == carried.param) {
                let (out, next_value) = (&nodes[carried.out].name, argument(self.graph, next));
                body.extend(quote!(#out = #next_value;));
                if let Some(tangents) = self.tangents {
                    if let Some(dot_out) = tangents.get(&carried.out) {
                        let dot_next = crate::emit::tangent::of_operand(self.graph, tangents, next);
                        body.extend(quote!(#dot_out = #dot_next;));
                    }
                }
            }
        }
        if counted {
            body.extend(quote!(#trips += 1;));
        }
        if let Some(until) = &looped.until {
            let until = argument(self.graph, until);
            body.extend(quote!(if #until { break; }));
        }
        body
    }

    fn node(&self, id: NodeId) -> TokenStream {
        let node = &self.graph.nodes[id];
        let name = &node.name;
        let annotation = node.annotation.as_ref().map(|ty| quote!(: #ty));
        match &node.kind {
            NodeKind::Call { .. } => self.call(id),
            NodeKind::Buffer {
                fill,
                len,
                fixed,
                growable,
            } => {
                let written = self.graph.writes_to(id).next().is_some()
                    || self.graph.passed_as_mutable_data(id);
                let binding = if written {
                    quote!(mut #name)
                } else {
                    quote!(#name)
                };
                let (fill, len) = (argument(self.graph, fill), argument(self.graph, len));
                let value = if *growable {
                    // Typed: a read may come before the first push in the
                    // code (`v[i - 1]` in a loop that pushes `v[i]`), where
                    // `-v_i` needs the type known.
                    match (&annotation, node.active) {
                        (None, true) => {
                            let float = self.graph.float_or_ret(id);
                            quote!(::std::vec::Vec::<#float>::new())
                        }
                        _ => quote!(::std::vec::Vec::new()),
                    }
                } else if *fixed {
                    quote!([#fill; #len])
                } else {
                    quote!(::std::vec![#fill; #len])
                };
                quote!(let #binding #annotation = #value;)
            }
            NodeKind::Read { array, index } => {
                let (array, index) = (&self.graph.nodes[*array].name, argument(self.graph, index));
                quote!(let #name #annotation = #array[#index];)
            }
            NodeKind::Write {
                array,
                index,
                value,
                push,
            } => {
                let (array, index) = (&self.graph.nodes[*array].name, argument(self.graph, index));
                let value = argument(self.graph, value);
                if *push {
                    quote!(#array.push(#value);)
                } else {
                    quote!(#array[#index] = #value;)
                }
            }
            NodeKind::Element {
                call,
                index,
                source,
            } => {
                let call = &self.graph.nodes[*call].name;
                match source {
                    ElementSource::Item => quote!(let #name = #call[#index];),
                    ElementSource::Field => {
                        let index = proc_macro2::Literal::usize_unsuffixed(*index);
                        quote!(let #name = #call.#index;)
                    }
                    ElementSource::Value => quote!(let #name = #call;),
                    // Bound before the call, which writes it.
                    ElementSource::Argument(_) => quote!(),
                }
            }
            NodeKind::Len { array } => {
                // Needed by the backward pass, or as the length of a copy.
                let sizes_a_buffer = self.graph.nodes.iter().any(
                    |n| matches!(&n.kind, NodeKind::Buffer { len: Operand::Node(len), .. } if *len == id),
                );
                if !self.saved.contains(&id) && !sizes_a_buffer {
                    return quote!();
                }
                let array = &self.graph.nodes[*array].name;
                quote!(let #name = #array.len();)
            }
            // Bound by their statement (the loop header, the loop's first line).
            NodeKind::Param
            | NodeKind::LoopVar
            | NodeKind::LoopParam
            | NodeKind::Merge
            | NodeKind::LoopOut
            | NodeKind::LoopTrips => quote!(),
            // A statement for its effect (`println!`): no value to bind.
            NodeKind::Inactive { .. } if matches!(&node.ty, Some(syn::Type::Tuple(t)) if t.elems.is_empty()) =>
            {
                let value = value(self.graph, node);
                quote!(#value;)
            }
            // Data changed in place later (`r[0] = 1;` after `let mut r = ..`).
            _ if self.graph.changed_data.contains(&id) => {
                let value = value(self.graph, node);
                quote!(let mut #name #annotation = #value;)
            }
            _ => {
                let value = value(self.graph, node);
                quote!(let #name #annotation = #value;)
            }
        }
    }

    /// `let value = callee::forward_into(&mut tape, args);`, with each `&mut` argument
    /// first bound to a local that the call writes: the argument's next version.
    fn call(&self, id: NodeId) -> TokenStream {
        let node = &self.graph.nodes[id];
        let name = &node.name;
        let NodeKind::Call {
            path,
            args,
            tape,
            borrows,
            parts,
            tape_args,
            ..
        } = &node.kind
        else {
            return TokenStream::new();
        };
        // `&mut` arguments: a local initialised from the argument, written
        // by the call, is the argument's next version.
        let mut before = TokenStream::new();
        let mut passed: Vec<TokenStream> = args
            .iter()
            .zip(borrows)
            .zip(parts)
            .map(|((a, borrow), part)| {
                let is_array =
                    matches!(a, Operand::Node(id) if self.graph.nodes[*id].array.is_some());
                let a = argument(self.graph, a);
                if let Some((start, end)) = part {
                    let (start, end) = (argument(self.graph, start), argument(self.graph, end));
                    return match borrow {
                        Borrow::Mutable => quote!(&mut #a[#start..#end]),
                        _ => quote!(&#a[#start..#end]),
                    };
                }
                match borrow {
                    Borrow::Shared => quote!(&#a),
                    Borrow::Mutable if is_array => quote!(&mut #a),
                    Borrow::MutableData => quote!(&mut #a),
                    // A float passed by `&mut` is bound to a local below.
                    Borrow::Plain | Borrow::PassedOn | Borrow::Mutable => a,
                }
            })
            .collect();
        for (element, _, source) in self.graph.elements_of(id) {
            if let ElementSource::Argument(k) = source {
                let (local, value) = (&self.graph.nodes[element].name, &passed[k]);
                before.extend(quote!(let mut #local = #value;));
                passed[k] = quote!(&mut #local);
            }
        }
        let value_read = self
            .graph
            .elements_of(id)
            .any(|(_, _, source)| !matches!(source, ElementSource::Argument(_)))
            || is_read(self.graph, id);
        let tape_arg = match self.callee_tape(id, tape) {
            Some((taken, arg)) => {
                before.extend(taken);
                arg
            }
            None => quote!(&mut ::core::default::Default::default()),
        };
        // Spanned at the call: a custom rule whose `forward_into` does not fit
        // the arguments is reported there.
        let mut call =
            quote::quote_spanned!(node.span=> #path::forward_into(#tape_arg, #(#passed),*));
        let lending = match self.lent.get(&id) {
            Some(crate::emit::lending::Lending { module, keep, .. }) => {
                Some((module.clone(), keep.clone(), tape_arg))
            }
            // A call the backward pass never pulls back through (its value
            // only compared, say) lends every list and keeps nothing: the
            // callee copies none of them into a tape that is thrown away. Its
            // tape is named by type: a callee that does not lend is called
            // through the runtime's generic `forward_lent`, which cannot
            // infer it.
            None if self.tangents.is_none() && !self.saved_tapes.contains(&id) => {
                crate::emit::lending::module_of(path).map(|module| {
                    let tape = quote!(&mut <#path::Tape #tape_args as ::core::default::Default>::default());
                    (module, vec![false; args.len()], tape)
                })
            }
            None => None,
        };
        if let Some((module, keep, tape_arg)) = &lending {
            let span = node.span;
            // Bound before the call, an `&mut` parameter passed on (`&mut
            // [f64]`, a list of indices `&mut [usize]`) is reborrowed, as a
            // call's argument is implicitly.
            // (Only the parameter itself: `&m[0..2]` of one is a new shared
            // borrow already.)
            let bound: Vec<TokenStream> = passed
                .iter()
                .zip(args)
                .zip(borrows.iter().zip(parts))
                .map(|((arg, operand), (borrow, part))| {
                    let bare = part.is_none() && matches!(borrow, Borrow::PassedOn | Borrow::Plain);
                    match bare && (*borrow == Borrow::PassedOn || self.is_mut_param(operand)) {
                        true => quote!(&mut *#arg),
                        false => arg.clone(),
                    }
                })
                .collect();
            call = match self.frames.filter(|(calls, ..)| calls.contains(&id)) {
                Some((_, stacks, Some(returns_value))) => {
                    // The cursors passed on, and taken back.
                    let call =
                        quote::quote_spanned!(span=> self::forward_frame(#stacks, #(#bound),*));
                    return match (value_read, returns_value) {
                        (true, _) => quote!(#before let #name; (#name, #stacks) = #call;),
                        (false, true) => quote!(#before (_, #stacks) = #call;),
                        (false, false) => quote!(#before (#stacks,) = #call;),
                    };
                }
                Some((_, stacks, None)) => {
                    quote::quote_spanned!(span=> self::forward_frame(#stacks, #(#bound),*))
                }
                None => crate::emit::lending::dispatch(
                    module,
                    &bound,
                    &[],
                    |args| quote::quote_spanned!(span=> forward_lent(#tape_arg, (#(#args,)*), [#(#keep),*])),
                    |args| quote::quote_spanned!(span=> #path::forward_into(#tape_arg, #(#args),*)),
                ),
            };
        }
        match value_read {
            true => quote!(#before let #name = #call;),
            false => quote!(#before #call;),
        }
    }

    /// An `&mut` parameter itself (`r`), or data that is just its name.
    fn is_mut_param(&self, operand: &Operand) -> bool {
        let Operand::Node(id) = operand else {
            return false;
        };
        let id = match &self.graph.nodes[*id].kind {
            NodeKind::Inactive { expr, locals } => {
                match (crate::lower::strip_parens(expr), &locals[..]) {
                    (syn::Expr::Path(_), [(_, local)]) => *local,
                    _ => return false,
                }
            }
            _ => *id,
        };
        let node = &self.graph.nodes[id];
        // (A differentiated `&mut [f64]`'s node is typed by its float.)
        matches!(node.kind, NodeKind::Param)
            && (self.graph.written_params.contains(&id)
                || matches!(&node.ty, Some(syn::Type::Reference(r)) if r.mutability.is_some()))
    }

    /// Where a call's tape comes from, when the backward pass reads it, and
    /// the argument that passes it: the next spare of its stack, filled in
    /// place (inside a branch or loop, whose memory a reused tape keeps; kept
    /// where the block saves its values), the tape's own field, filled
    /// in place (in the function body), or a new tape and gradient (in
    /// forward mode, which pulls back through them at once).
    fn callee_tape(&self, id: NodeId, tape: &Ident) -> Option<(TokenStream, TokenStream)> {
        if !self.saved_tapes.contains(&id) {
            return None;
        }
        let own = self.tape;
        Some(match (self.tangents, self.tape_stacks.get(&id)) {
            // The tape and the callee's gradient, which `pullback_into` fills.
            (Some(_), _) => (
                quote! {
                    let mut #tape = (
                        ::core::default::Default::default(),
                        ::core::default::Default::default(),
                    );
                },
                quote!(&mut #tape.0),
            ),
            (None, Some(stack)) => (quote!(let #tape = #stack.next_spare();), quote!(#tape)),
            (None, None) => (TokenStream::new(), quote!(&mut #own.#tape)),
        })
    }
}

/// The variable of a loop over `start..end` at the iteration numbers
/// `numbers` (an iterator of `usize`): the numbers themselves for a start of
/// 0, else shifted by the start.
pub(crate) fn from_iteration_numbers(numbers: TokenStream, start: &TokenStream) -> TokenStream {
    if start.to_string() == "0" {
        numbers
    } else {
        quote!(#numbers.map(|k| #start + k))
    }
}

/// `match scrutinee { pattern => code, .. }`, each arm's code a block or, when
/// it is one expression, that expression. Two arms of which one does nothing
/// read better (and as clippy's `single_match` asks) as an `if`.
pub fn match_statement(
    scrutinee: &TokenStream,
    patterns: &[syn::Pat],
    codes: &[TokenStream],
) -> TokenStream {
    if let ([first, _], [then_code, else_code]) = (patterns, codes) {
        if else_code.is_empty() {
            return quote!(if ::core::matches!(#scrutinee, #first) { #then_code });
        }
        if then_code.is_empty() {
            return quote!(if !::core::matches!(#scrutinee, #first) { #else_code });
        }
    }
    let arms = patterns
        .iter()
        .zip(codes)
        .map(|(pattern, code)| match single_expression(code) {
            Some(expr) => quote!(#pattern => #expr,),
            None => quote!(#pattern => { #code }),
        });
    quote!(match #scrutinee { #(#arms)* })
}

/// An arm's code when it is one expression, which the arm can hold without
/// braces. Read as a block's statements: `for .. {} (a, b)` is a loop and a
/// tuple there, though as one expression it would parse as a call of the
/// loop (the fuzzer found that, seed 1899274548548722170). An attribute
/// (`#[allow(..)]` on a loop) needs the braces too.
fn single_expression(code: &TokenStream) -> Option<syn::Expr> {
    let block = syn::parse2::<syn::Block>(quote!({ #code })).ok()?;
    match block.stmts.as_slice() {
        [syn::Stmt::Expr(expr, None)] if !has_attributes(expr) => Some(expr.clone()),
        _ => None,
    }
}

fn has_attributes(expr: &syn::Expr) -> bool {
    matches!(
        expr.to_token_stream().into_iter().next(),
        Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == '#'
    )
}

/// The carried variables whose value at the start of an iteration can be read
/// from the variable itself: every read comes before the assignments that end
/// the iteration, unless another variable's next value is this one's start
/// value (`(a, b) = (b, a)`, which needs the copy), or the final `break`
/// tests it after the assignments.
fn shared_variables(looped: &Loop) -> BTreeSet<NodeId> {
    let read_at_the_end: BTreeSet<NodeId> = looped
        .body
        .results
        .iter()
        .chain(&looped.until)
        .filter_map(|operand| match operand {
            Operand::Node(id) => Some(*id),
            Operand::Const(_) => None,
        })
        .collect();
    looped
        .carried
        .iter()
        .zip(&looped.body.results)
        .filter(|(carried, next)| {
            let unchanged = matches!(next, Operand::Node(id) if *id == carried.param);
            !unchanged
                && !read_at_the_end.contains(&carried.param)
                && looped.exit != Some(carried.param)
        })
        .map(|(carried, _)| carried.param)
        .collect()
}

/// `tokens` with each identifier `from` replaced by `to`. Generated names are
/// unique and never the user's, so a name stands for one value wherever it
/// appears.
fn with_names_replaced(tokens: TokenStream, renames: &[(&Ident, &Ident)]) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    if renames.is_empty() {
        return tokens;
    }
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(ident) => match renames.iter().find(|(from, _)| **from == ident) {
                Some((_, to)) => TokenTree::Ident((*to).clone()),
                None => TokenTree::Ident(ident),
            },
            TokenTree::Group(group) => {
                let mut inner = Group::new(
                    group.delimiter(),
                    with_names_replaced(group.stream(), renames),
                );
                inner.set_span(group.span());
                TokenTree::Group(inner)
            }
            other => other,
        })
        .collect()
}

/// Whether any code reads a node's value (a loop variable's value at the start of
/// an iteration is bound only then).
pub(crate) fn is_read(graph: &Graph, id: NodeId) -> bool {
    let mut read = false;
    for node in &graph.nodes {
        read |= node
            .args()
            .iter()
            .any(|a| matches!(a, Operand::Node(n) if *n == id));
        if let NodeKind::Call { parts, .. } = &node.kind {
            read |= parts
                .iter()
                .flatten()
                .any(|(start, end)| reads(start, id) || reads(end, id));
        }
        if let NodeKind::Inactive { locals, .. } = &node.kind {
            read |= locals.iter().any(|(_, n)| *n == id);
        }
    }
    read || traverse::any_stmt(&graph.body, &mut |stmt| stmt_reads(stmt, id))
        || graph.body.results.iter().any(|r| reads(r, id))
}

fn reads(operand: &Operand, id: NodeId) -> bool {
    matches!(operand, Operand::Node(n) if *n == id)
}

/// Whether a statement reads a node outside of its nodes' arguments: a branch's
/// condition and results, a loop's iterable, start values and next values.
fn stmt_reads(stmt: &Stmt, id: NodeId) -> bool {
    match stmt {
        Stmt::Node(_) => false,
        Stmt::BreakUnless(cond) => reads(cond, id),
        Stmt::If(branch) => {
            reads(branch.test.operand(), id)
                || branch
                    .arms
                    .iter()
                    .any(|b| b.results.iter().any(|r| reads(r, id)))
        }
        Stmt::Loop(looped) => {
            looped.iter_locals.iter().any(|(_, n)| *n == id)
                || looped.until.as_ref().is_some_and(|until| reads(until, id))
                || looped.carried.iter().any(|c| reads(&c.init, id))
                // A variable the body leaves unchanged hands back its own start value.
                || looped
                    .carried
                    .iter()
                    .zip(&looped.body.results)
                    .any(|(c, r)| reads(r, id) && c.param != id)
        }
    }
}

/// A block that ends in `let v = expr;` and hands back `v` hands back `expr`
/// instead, as a person would write it (and as clippy's `let_and_return`
/// asks).
fn returned_directly(code: TokenStream, value: TokenStream) -> (TokenStream, TokenStream) {
    use proc_macro2::TokenTree;
    let mut value_tokens = value.clone().into_iter();
    let (Some(TokenTree::Ident(returned)), None) = (value_tokens.next(), value_tokens.next())
    else {
        return (code, value);
    };
    let tokens: Vec<TokenTree> = code.clone().into_iter().collect();
    let is_punct = |t: &TokenTree, c: char| matches!(t, TokenTree::Punct(p) if p.as_char() == c);
    // The last statement starts after the second-to-last top-level `;`.
    let Some((last, before)) = tokens.split_last() else {
        return (code, value);
    };
    if !is_punct(last, ';') {
        return (code, value);
    }
    let start = before
        .iter()
        .rposition(|t| is_punct(t, ';'))
        .map_or(0, |i| i + 1);
    match &tokens[start..] {
        [TokenTree::Ident(kw), TokenTree::Ident(name), eq, expr @ .., _]
            if kw == "let" && *name == returned && is_punct(eq, '=') && !expr.is_empty() =>
        {
            // `==` would be two puncts; a lone `=` is the binding's.
            if matches!(expr.first(), Some(t) if is_punct(t, '=')) {
                return (code, value);
            }
            let kept: TokenStream = tokens[..start].iter().cloned().collect();
            (kept, expr.iter().cloned().collect())
        }
        _ => (code, value),
    }
}

/// An operand where any expression may stand: a call's argument.
pub fn argument(graph: &Graph, operand: &Operand) -> TokenStream {
    match operand {
        Operand::Node(id) => {
            let name = &graph.nodes[*id].name;
            quote!(#name)
        }
        Operand::Const(c) => c.tokens.clone(),
    }
}

/// An operand of an operator or a method's receiver: parenthesised if needed.
fn operand(graph: &Graph, operand: &Operand) -> TokenStream {
    match operand {
        Operand::Node(_) => argument(graph, operand),
        Operand::Const(c) => c.operand_tokens(),
    }
}

pub(crate) fn value(graph: &Graph, node: &Node) -> TokenStream {
    match &node.kind {
        NodeKind::Op { rule, form, args } => {
            // The user's span on the operator and the method: a type error in
            // the user's code is then reported once, at the user's tokens,
            // not again at the attribute for the generated copy.
            let method = Ident::new(rule.name, node.span);
            match form {
                Form::Operator(op) => operator(graph, *op, args, node.span),
                Form::Method => {
                    let receiver = args.first().map(|a| operand(graph, a));
                    let rest = args.iter().skip(1).map(|a| argument(graph, a));
                    quote::quote_spanned!(node.span=> #receiver.#method(#(#rest),*))
                }
                Form::TypePath(float) => {
                    let args = args.iter().map(|a| argument(graph, a));
                    quote!(#float::#method(#(#args),*))
                }
                Form::Runtime { .. } => {
                    let args = args.iter().map(|a| argument(graph, a));
                    quote!(::backprop_runtime::#method(#(#args),*))
                }
            }
        }
        NodeKind::Cast { to, arg } => {
            let arg = operand(graph, arg);
            quote!(#arg as #to)
        }
        NodeKind::Inactive { expr, locals } => renamed(graph, expr, locals),
        _ => quote!(),
    }
}

fn operator(graph: &Graph, op: Operator, args: &[Operand], span: Span) -> TokenStream {
    let a = args.first().map(|a| operand(graph, a)).unwrap_or_default();
    let b = args.get(1).map(|b| operand(graph, b)).unwrap_or_default();
    op.apply(&a, &b, span)
}

/// Verbatim code with the user's locals renamed to their nodes' names.
pub fn renamed(graph: &Graph, expr: &syn::Expr, locals: &[(String, NodeId)]) -> TokenStream {
    let mut expr = expr.clone();
    Rename {
        graph,
        locals,
        shadowed: Vec::new(),
    }
    .visit_expr_mut(&mut expr);
    quote!(#expr)
}

/// Renames the user's locals in verbatim code to their nodes' names.
struct Rename<'a> {
    graph: &'a Graph,
    locals: &'a [(String, usize)],
    /// Names a closure inside binds, while its body is renamed.
    shadowed: Vec<String>,
}

impl VisitMut for Rename<'_> {
    /// A buffer passed by name (`g(row, t)` with `let row = &x[a..b];`, a
    /// part copied into a buffer of its own): the user's name was a slice,
    /// so the buffer is lent as one.
    fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
        for arg in &mut call.args {
            if let Some(id) = self.buffer(arg) {
                let renamed = &self.graph.nodes[id].name;
                *arg = syn::parse_quote!(&#renamed[..]);
            } else {
                self.visit_expr_mut(arg);
            }
        }
        self.visit_expr_mut(&mut call.func);
    }

    fn visit_expr_closure_mut(&mut self, closure: &mut syn::ExprClosure) {
        let depth = self.shadowed.len();
        self.shadowed
            .extend(crate::lower::closure_bindings(closure));
        self.visit_expr_mut(&mut closure.body);
        self.shadowed.truncate(depth);
    }

    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        // `*v` of an element or an `&f64` parameter: the user's reference is a
        // value here.
        if let Some(id) = self.dereferenced_float(expr) {
            let renamed = &self.graph.nodes[id].name;
            *expr = syn::parse_quote!(#renamed);
            return;
        }
        if let syn::Expr::Path(path) = expr {
            if let Some(ident) = path.path.get_ident() {
                let name = crate::lower::key(ident);
                if self.shadowed.contains(&name) {
                    return;
                }
                if let Some((_, id)) = self.locals.iter().find(|(n, _)| *n == name) {
                    let renamed = &self.graph.nodes[*id].name;
                    *expr = syn::parse_quote!(#renamed);
                }
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }

    /// Inside the `matches!` that a `match` arm's condition becomes, the one
    /// placeholder for the scrutinee is renamed token by token.
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        mac.tokens = self.rename_tokens(std::mem::take(&mut mac.tokens));
    }
}

impl Rename<'_> {
    /// The node a bare name of the user's stands for (not one a closure
    /// binds).
    fn local(&self, expr: &syn::Expr) -> Option<usize> {
        let syn::Expr::Path(path) = expr else {
            return None;
        };
        let name = crate::lower::key(path.path.get_ident()?);
        if self.shadowed.contains(&name) {
            return None;
        }
        self.locals
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, id)| *id)
    }

    /// The buffer a bare name is, if it names one.
    fn buffer(&self, expr: &syn::Expr) -> Option<usize> {
        let id = self.local(expr)?;
        matches!(
            self.graph.nodes[id].kind,
            crate::ir::NodeKind::Buffer { .. }
        )
        .then_some(id)
    }

    /// The float node behind `*v` or `**v`, when `v` is a local holding a float.
    fn dereferenced_float(&self, expr: &syn::Expr) -> Option<usize> {
        let id = &self.local(crate::lower::dereferenced(expr)?)?;
        let node = &self.graph.nodes[*id];
        let float = self.graph.float(*id);
        (float.is_some() && node.array.is_none()).then_some(*id)
    }

    fn rename_tokens(&self, tokens: TokenStream) -> TokenStream {
        tokens
            .into_iter()
            .map(|tree| match tree {
                proc_macro2::TokenTree::Ident(ident) => {
                    let name = ident.to_string();
                    let renamed = self
                        .locals
                        .iter()
                        .find(|(n, _)| *n == name && n.starts_with("__operand"))
                        .map(|(_, id)| self.graph.nodes[*id].name.clone());
                    proc_macro2::TokenTree::Ident(renamed.unwrap_or(ident))
                }
                proc_macro2::TokenTree::Group(group) => {
                    let mut renamed = proc_macro2::Group::new(
                        group.delimiter(),
                        self.rename_tokens(group.stream()),
                    );
                    renamed.set_span(group.span());
                    proc_macro2::TokenTree::Group(renamed)
                }
                other => other,
            })
            .collect()
    }
}
