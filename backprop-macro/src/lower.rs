//! Lowering: the function body becomes a Wengert list, one node per operation.
//!
//! Every `let` and every operation on a value that depends on a differentiable
//! input becomes a node. Code that does not depend on one (integer arithmetic,
//! `n as f64`, constants) is kept as the user wrote it: it needs no derivative.
//! Mutation is turned into fresh versions (`a`, `a2`, ...), so the list is in
//! single-assignment form and the backward pass can read any earlier value.

use crate::errors::Errors;
use crate::ir::{
    Block, Carried, Constant, FloatTy, Form, Graph, Hint, If, Loop, Node, NodeId, NodeKind,
    Operand, RegionId, RegionInfo, Stmt as IrStmt, StmtId,
};
use crate::names::Names;
use crate::rules::{self, Rule};
use crate::signature::Signature;
use proc_macro2::{Ident, Span};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{BinOp, Expr, Pat, Stmt, UnOp};

pub fn lower(block: &syn::Block, sig: &Signature, names: &mut Names, errors: &mut Errors) -> Graph {
    let mut lowerer = Lowerer {
        nodes: Vec::new(),
        regions: vec![RegionInfo {
            parent: None,
            owner: None,
        }],
        region: 0,
        blocks: vec![Vec::new()],
        statements: 0,
        scopes: vec![Vec::new()],
        errors,
        ret: sig.ret,
    };
    for param in &sig.params {
        let id = lowerer.push(Node {
            name: placeholder(),
            hint: Hint::User(param.ident.clone()),
            kind: NodeKind::Param,
            active: param.differentiable.is_some(),
            ty: Some(param.ty.clone()),
            annotation: None,
            span: param.ident.span(),
            region: 0,
        });
        lowerer.declare(&param.ident, id);
    }
    let mark = lowerer.nodes.len();
    let output = lowerer
        .block(block, Tail::Value)
        .unwrap_or_else(|| lowerer.dummy());
    lowerer.name_result(&output, mark, &sig.ident);
    let stmts = lowerer.blocks.pop().unwrap_or_default();
    let mut graph = Graph {
        nodes: lowerer.nodes,
        regions: lowerer.regions,
        body: Block {
            region: 0,
            stmts,
            results: vec![output.clone()],
        },
        output,
        ret: sig.ret,
    };
    assign_names(&mut graph, names);
    graph
}

fn placeholder() -> Ident {
    Ident::new("__unnamed", Span::call_site())
}

/// Names are chosen once the whole body is lowered, in evaluation order, so a
/// `let` can still rename the node its right-hand side created.
fn assign_names(graph: &mut Graph, names: &mut Names) {
    for node in &mut graph.nodes {
        node.name = match &node.hint {
            Hint::User(ident) => names.binding(ident),
            Hint::Op(base) => names.fresh(base),
        };
        if let NodeKind::Call { tape, .. } = &mut node.kind {
            *tape = names.fresh(&format!("{}_tape", node.name));
        }
    }
}

/// A variable's place in the scopes: (scope, entry).
type ScopeSlot = (usize, usize);

/// What a block's last expression is for.
#[derive(Clone, Copy, PartialEq)]
enum Tail {
    /// The function body: its value is returned, a final `return` is allowed.
    Value,
    /// A block expression or a branch whose value is used.
    Inner,
    /// A loop body or a branch used as a statement: no value.
    Unit,
}

struct Lowerer<'a> {
    nodes: Vec<Node>,
    regions: Vec<RegionInfo>,
    /// The block being lowered.
    region: RegionId,
    /// The statements of the blocks being lowered, innermost last.
    blocks: Vec<Vec<IrStmt>>,
    /// Branch and loop statements created so far.
    statements: StmtId,
    /// Innermost scope last; each maps a user's name to its current version.
    scopes: Vec<Vec<(String, NodeId)>>,
    errors: &'a mut Errors,
    ret: FloatTy,
}

impl Lowerer<'_> {
    /// Adds a node computed at this point of the current block.
    fn push(&mut self, node: Node) -> NodeId {
        let id = self.push_detached(node);
        if let Some(block) = self.blocks.last_mut() {
            block.push(IrStmt::Node(id));
        }
        id
    }

    /// Adds a node that a branch or loop statement defines (a merge, a loop's
    /// variable after the loop) in the current block.
    fn push_detached(&mut self, mut node: Node) -> NodeId {
        node.region = self.region;
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn new_statement(&mut self) -> StmtId {
        self.statements += 1;
        self.statements - 1
    }

    fn enter_region(&mut self, owner: StmtId) {
        self.regions.push(RegionInfo {
            parent: Some(self.region),
            owner: Some(owner),
        });
        self.region = self.regions.len() - 1;
        self.blocks.push(Vec::new());
    }

    fn exit_region(&mut self, results: Vec<Operand>) -> Block {
        let region = self.region;
        self.region = self.regions[region].parent.unwrap_or(0);
        Block {
            region,
            stmts: self.blocks.pop().unwrap_or_default(),
            results,
        }
    }

    fn emit(&mut self, stmt: IrStmt) {
        if let Some(block) = self.blocks.last_mut() {
            block.push(stmt);
        }
    }

    fn declare(&mut self, ident: &Ident, id: NodeId) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((key(ident), id));
        }
    }

    fn lookup(&self, name: &str) -> Option<NodeId> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }

    /// After `a = ...` or `a += ...`: later code sees the new version, also after
    /// the block the assignment is in.
    fn rebind(&mut self, name: &str, id: NodeId) {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.iter_mut().rev().find(|(n, _)| n == name) {
                entry.1 = id;
                return;
            }
        }
    }

    fn local(&self, expr: &Expr) -> Option<NodeId> {
        match expr {
            Expr::Path(p) if p.qself.is_none() => self.lookup(&key(p.path.get_ident()?)),
            _ => None,
        }
    }

    /// A harmless stand-in after an error, so lowering can go on and report more.
    fn dummy(&self) -> Operand {
        Operand::Const(Constant {
            tokens: quote!(0.0),
            atomic: true,
            float: None,
        })
    }

    /// Lowers a block's statements into the current region; returns its value.
    fn block(&mut self, block: &syn::Block, tail: Tail) -> Option<Operand> {
        self.scopes.push(Vec::new());
        let mut result = None;
        let count = block.stmts.len();
        for (i, stmt) in block.stmts.iter().enumerate() {
            let last = i + 1 == count;
            match stmt {
                Stmt::Local(local) => self.local_stmt(local),
                Stmt::Expr(Expr::Return(ret), _) if tail == Tail::Value && last => {
                    result = Some(match &ret.expr {
                        Some(expr) => self.expr(expr),
                        None => {
                            self.errors.spanned(ret, "a differentiated function must return a value");
                            self.dummy()
                        }
                    });
                }
                Stmt::Expr(Expr::Assign(assign), _) => self.assign(assign),
                Stmt::Expr(Expr::Binary(binary), _) if compound_operator(&binary.op).is_some() => {
                    self.compound_assign(binary)
                }
                Stmt::Expr(Expr::If(branch), semi) => {
                    let wants_value = last && semi.is_none() && tail != Tail::Unit;
                    let value = self.branch(branch, wants_value);
                    if wants_value {
                        result = Some(value);
                    }
                }
                Stmt::Expr(Expr::ForLoop(looped), _) => self.for_loop(looped),
                Stmt::Expr(expr, None) if last && tail != Tail::Unit => result = Some(self.expr(expr)),
                Stmt::Expr(expr, _) => match unsupported(expr) {
                    Some(message) => self.errors.spanned(expr, message),
                    None => self.errors.spanned(
                        expr,
                        "this statement has no effect on the result; a differentiated function is built from `let` bindings, assignments, branches, loops and a final expression",
                    ),
                },
                Stmt::Item(item) => self.errors.spanned(
                    item,
                    "items inside a differentiated function are not supported; move this item outside the function",
                ),
                Stmt::Macro(mac) => self.errors.spanned(&mac.mac, MACRO_MESSAGE),
            }
        }
        self.scopes.pop();
        if result.is_none() && tail != Tail::Unit {
            self.errors.push(syn::Error::new(
                block.brace_token.span.close(),
                "expected a final expression: the block must end with the value it computes",
            ));
        }
        result
    }

    /// `if c { .. } else { .. }`: each arm is a block of its own. The value of
    /// the `if` (when it is used) and every variable an arm assigns become merge
    /// nodes, defined by the branch statement.
    fn branch(&mut self, branch: &syn::ExprIf, wants_value: bool) -> Operand {
        if let Expr::Let(_) = strip_parens(&branch.cond) {
            self.errors.spanned(
                &branch.cond,
                "`if let` is not supported in a differentiated function; test the value with a comparison",
            );
            return self.dummy();
        }
        let cond = self.expr(&branch.cond);
        let id = self.new_statement();
        let tail = if wants_value { Tail::Inner } else { Tail::Unit };
        let before = self.scopes.clone();

        self.enter_region(id);
        let then_value = self.block(&branch.then_branch, tail);
        let then_scopes = std::mem::replace(&mut self.scopes, before.clone());
        let mut then_block = self.exit_region(Vec::new());

        self.enter_region(id);
        let else_value = match &branch.else_branch {
            None => None,
            Some((_, else_expr)) => match strip_parens(else_expr) {
                Expr::Block(b) => self.block(&b.block, tail),
                Expr::If(nested) => {
                    let value = self.branch(nested, wants_value);
                    wants_value.then_some(value)
                }
                other => {
                    self.errors
                        .spanned(other, "expected a block or `if` after `else`");
                    None
                }
            },
        };
        let else_scopes = std::mem::replace(&mut self.scopes, before.clone());
        let mut else_block = self.exit_region(Vec::new());

        // What each arm hands back: the variables they assign (by their place in
        // the scopes), then the value.
        let mut results: Vec<(Option<ScopeSlot>, Operand, Operand)> = Vec::new();
        for (si, scope) in before.iter().enumerate() {
            for (ei, (_, original)) in scope.iter().enumerate() {
                let then_id = then_scopes[si][ei].1;
                let else_id = else_scopes[si][ei].1;
                if then_id != *original || else_id != *original {
                    results.push((
                        Some((si, ei)),
                        Operand::Node(then_id),
                        Operand::Node(else_id),
                    ));
                }
            }
        }
        if wants_value {
            if branch.else_branch.is_none() {
                self.errors
                    .spanned(branch, "an `if` whose value is used needs an `else`");
            }
            let then_value = then_value.unwrap_or_else(|| self.dummy());
            let else_value = else_value.unwrap_or_else(|| self.dummy());
            results.push((None, then_value, else_value));
        }
        let mut merges = Vec::new();
        for (slot, then_result, else_result) in results {
            let hint = match slot {
                Some((si, ei)) => self.nodes[before[si][ei].1].hint.clone(),
                None => Hint::Op("merge".into()),
            };
            let id = self.push_detached(Node {
                name: placeholder(),
                hint,
                kind: NodeKind::Merge,
                active: self.is_active(&then_result) || self.is_active(&else_result),
                ty: self
                    .type_of(&then_result)
                    .or_else(|| self.type_of(&else_result)),
                annotation: None,
                span: branch.if_token.span,
                region: 0,
            });
            if let Some((si, ei)) = slot {
                self.scopes[si][ei].1 = id;
            }
            then_block.results.push(then_result);
            else_block.results.push(else_result);
            merges.push(id);
        }
        let value = match merges.last() {
            Some(last) if wants_value => Operand::Node(*last),
            _ => self.dummy(),
        };
        self.emit(IrStmt::If(If {
            id,
            cond,
            then_block,
            else_block,
            merges,
        }));
        value
    }

    /// `for pat in iter { .. }` over values that do not depend on the inputs (ranges,
    /// arrays of constants, any iterator of such values). Variables the body
    /// assigns are carried from one iteration to the next.
    fn for_loop(&mut self, looped: &syn::ExprForLoop) {
        if let Some(label) = &looped.label {
            self.errors
                .spanned(label, "loop labels are not supported yet");
            return;
        }
        if self.mentions_active(&looped.expr) {
            match strip_parens(&looped.expr) {
                Expr::Array(array) => self.unrolled_loop(looped, array),
                other => self.errors.spanned(
                    other,
                    "this loop iterates over values that depend on the differentiated inputs; supported: ranges, iterators of values that do not, and arrays `[a, b, c]`",
                ),
            }
            return;
        }
        if let Some((tokens, message)) = forbidden_inside(&looped.expr) {
            self.errors.spanned(tokens, message);
            return;
        }
        let var = match &*looped.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
            Pat::Wild(_) => None,
            other => {
                self.errors.spanned(
                    other,
                    "only `for name in ...` and `for _ in ...` are supported",
                );
                return;
            }
        };
        let iter_locals = self.locals_in(&looped.expr);
        let carried = self.assigned_outer_variables(&looped.body);
        let mut active: Vec<bool> = carried
            .iter()
            .map(|(_, id)| self.nodes[*id].active)
            .collect();
        let saved_scopes = self.scopes.clone();
        let (node_mark, region_mark, statement_mark) =
            (self.nodes.len(), self.regions.len(), self.statements);
        // Lower the body until the carried variables' activity is stable: a
        // variable that starts inactive becomes active once the body assigns it an
        // active value.
        loop {
            let outer_errors = std::mem::take(&mut *self.errors);
            let id = self.new_statement();
            self.enter_region(id);
            self.scopes.push(Vec::new());
            let var_node = var.as_ref().map(|ident| {
                let node = self.push(Node {
                    name: placeholder(),
                    hint: Hint::User(ident.clone()),
                    kind: NodeKind::LoopVar,
                    active: false,
                    ty: self.element_type(&looped.expr),
                    annotation: None,
                    span: ident.span(),
                    region: 0,
                });
                self.declare(ident, node);
                node
            });
            let params: Vec<NodeId> = carried
                .iter()
                .zip(&active)
                .map(|((name, outer), active)| {
                    let outer_node = &self.nodes[*outer];
                    let param = Node {
                        name: placeholder(),
                        hint: outer_node.hint.clone(),
                        kind: NodeKind::LoopParam,
                        active: *active,
                        ty: outer_node.ty.clone(),
                        annotation: None,
                        span: outer_node.span,
                        region: 0,
                    };
                    let param = self.push(param);
                    self.rebind(name, param);
                    param
                })
                .collect();
            self.block(&looped.body, Tail::Unit);
            self.scopes.pop();
            let nexts: Vec<Operand> = carried
                .iter()
                .zip(&params)
                .map(|((name, _), param)| Operand::Node(self.lookup(name).unwrap_or(*param)))
                .collect();
            let body = self.exit_region(nexts);
            let body_errors = std::mem::replace(&mut *self.errors, outer_errors);
            let mut grew = false;
            for (next, active) in body.results.iter().zip(&mut active) {
                if self.is_active(next) && !*active {
                    *active = true;
                    grew = true;
                }
            }
            self.scopes = saved_scopes.clone();
            if grew {
                self.nodes.truncate(node_mark);
                self.regions.truncate(region_mark);
                self.statements = statement_mark;
                continue;
            }
            if let Err(error) = body_errors.finish() {
                self.errors.push(error);
            }
            let carried: Vec<Carried> = carried
                .iter()
                .zip(&params)
                .map(|((name, outer), param)| {
                    let param_node = &self.nodes[*param];
                    let out = Node {
                        name: placeholder(),
                        hint: param_node.hint.clone(),
                        kind: NodeKind::LoopOut,
                        active: param_node.active,
                        ty: param_node.ty.clone(),
                        annotation: None,
                        span: param_node.span,
                        region: 0,
                    };
                    let out = self.push_detached(out);
                    self.rebind(name, out);
                    Carried {
                        init: Operand::Node(*outer),
                        param: *param,
                        out,
                    }
                })
                .collect();
            let trips = self.push_detached(Node {
                name: placeholder(),
                hint: Hint::Op("trips".into()),
                kind: NodeKind::LoopTrips,
                active: false,
                ty: Some(syn::parse_quote!(usize)),
                annotation: None,
                span: looped.for_token.span,
                region: 0,
            });
            self.emit(IrStmt::Loop(Loop {
                id,
                var: var_node,
                iter: (*looped.expr).clone(),
                iter_locals: iter_locals.clone(),
                carried,
                body,
                trips,
            }));
            return;
        }
    }

    /// `for v in [a, b, c]` over differentiated values: the body is repeated for
    /// each element, which is the same computation without a loop.
    fn unrolled_loop(&mut self, looped: &syn::ExprForLoop, array: &syn::ExprArray) {
        let Pat::Ident(pat) = &*looped.pat else {
            self.errors.spanned(
                &looped.pat,
                "only `for name in [...]` is supported over differentiated values",
            );
            return;
        };
        let elements: Vec<Operand> = array.elems.iter().map(|e| self.expr(e)).collect();
        for element in elements {
            self.scopes.push(Vec::new());
            let mark = self.nodes.len();
            let id = self.bind(&pat.ident, element, mark, None);
            self.declare(&pat.ident, id);
            self.block(&looped.body, Tail::Unit);
            self.scopes.pop();
        }
    }

    /// Variables declared outside `body` that it assigns, in order.
    fn assigned_outer_variables(&self, body: &syn::Block) -> Vec<(String, NodeId)> {
        struct Assigned(Vec<String>);
        impl<'ast> Visit<'ast> for Assigned {
            fn visit_expr_assign(&mut self, expr: &'ast syn::ExprAssign) {
                if let Expr::Path(p) = strip_parens(&expr.left) {
                    if let Some(ident) = p.path.get_ident() {
                        self.0.push(key(ident));
                    }
                }
                syn::visit::visit_expr_assign(self, expr);
            }
            fn visit_expr_binary(&mut self, expr: &'ast syn::ExprBinary) {
                if compound_operator(&expr.op).is_some() {
                    if let Expr::Path(p) = strip_parens(&expr.left) {
                        if let Some(ident) = p.path.get_ident() {
                            self.0.push(key(ident));
                        }
                    }
                }
                syn::visit::visit_expr_binary(self, expr);
            }
        }
        let mut assigned = Assigned(Vec::new());
        assigned.visit_block(body);
        let mut variables: Vec<(String, NodeId)> = Vec::new();
        for name in assigned.0 {
            if let Some(id) = self.lookup(&name) {
                if !variables.iter().any(|(n, _)| *n == name) {
                    variables.push((name, id));
                }
            }
        }
        variables
    }

    /// The type of a loop variable, where the iterable's spelling tells.
    fn element_type(&self, iter: &Expr) -> Option<syn::Type> {
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

    fn local_stmt(&mut self, local: &syn::Local) {
        let Some(init) = &local.init else {
            self.errors.spanned(
                local,
                "a `let` without a value is not supported; give the variable its value where it is declared",
            );
            return;
        };
        if let Some((else_token, _)) = &init.diverge {
            self.errors.spanned(
                else_token,
                "`let ... else` is not supported in a differentiated function",
            );
            return;
        }
        self.bind_pattern(&local.pat, &init.expr, None);
    }

    fn bind_pattern(&mut self, pat: &Pat, expr: &Expr, annotation: Option<&syn::Type>) {
        match pat {
            Pat::Type(typed) => self.bind_pattern(&typed.pat, expr, Some(&typed.ty)),
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                let mark = self.nodes.len();
                let value = self.expr(expr);
                let id = self.bind(&p.ident, value, mark, annotation);
                self.declare(&p.ident, id);
            }
            Pat::Tuple(tuple) => self.bind_tuple(tuple, expr, annotation),
            Pat::Wild(_) => self.errors.spanned(
                pat,
                "`let _ = ...` discards a value; a differentiated function has no side effects to keep, so remove the statement",
            ),
            _ => self.errors.spanned(
                pat,
                "only `let name = ...` and `let (a, b) = (..., ...)` are supported here",
            ),
        }
    }

    /// `let (a, b) = (e1, e2);`: every right-hand side is evaluated before any name
    /// is bound, so `let (a, b) = (b, a);` swaps.
    fn bind_tuple(&mut self, tuple: &syn::PatTuple, expr: &Expr, annotation: Option<&syn::Type>) {
        let Expr::Tuple(values) = strip_parens(expr) else {
            self.errors.spanned(
                expr,
                "a tuple pattern needs a tuple expression on the right, as in `let (a, b) = (x, y);`",
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
                _ => self
                    .errors
                    .spanned(pat, "expected a variable name in this tuple pattern"),
            }
        }
    }

    /// Gives `value` the user's name: the node the right-hand side just created is
    /// renamed (so `let sigx = sigmoid(x)` is one node called `sigx`); anything else
    /// gets a copy node with that name.
    fn bind(
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

    fn copy_node(&self, value: Operand, span: Span) -> Node {
        match value {
            Operand::Node(id) if self.nodes[id].active => Node {
                name: placeholder(),
                hint: Hint::Op("copy".into()),
                ty: self.nodes[id].ty.clone(),
                kind: NodeKind::Op {
                    rule: rules::operator("copy"),
                    form: Form::Operator,
                    args: vec![Operand::Node(id)],
                },
                active: true,
                annotation: None,
                span,
                region: 0,
            },
            Operand::Node(id) => {
                let source = Ident::new("__source", Span::call_site());
                Node {
                    name: placeholder(),
                    hint: Hint::Op("c".into()),
                    ty: self.nodes[id].ty.clone(),
                    kind: NodeKind::Inactive {
                        expr: syn::parse_quote!(#source),
                        locals: vec![("__source".into(), id)],
                    },
                    active: false,
                    annotation: None,
                    span,
                    region: 0,
                }
            }
            Operand::Const(c) => {
                let tokens = &c.tokens;
                Node {
                    name: placeholder(),
                    hint: Hint::Op("c".into()),
                    ty: c
                        .float
                        .or_else(|| is_float_literal(tokens).then_some(self.ret))
                        .map(FloatTy::to_type),
                    kind: NodeKind::Inactive {
                        expr: syn::parse_quote!(#tokens),
                        locals: Vec::new(),
                    },
                    active: false,
                    annotation: None,
                    span,
                    region: 0,
                }
            }
        }
    }

    fn assigned_local(&mut self, target: &Expr) -> Option<(Ident, NodeId)> {
        let ident = match strip_parens(target) {
            Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
            _ => None,
        };
        match ident.and_then(|i| self.lookup(&key(&i)).map(|id| (i, id))) {
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

    fn assign(&mut self, assign: &syn::ExprAssign) {
        let Some((ident, _)) = self.assigned_local(&assign.left) else {
            return;
        };
        let mark = self.nodes.len();
        let value = self.expr(&assign.right);
        let id = self.bind(&ident, value, mark, None);
        self.rebind(&key(&ident), id);
    }

    fn compound_assign(&mut self, binary: &syn::ExprBinary) {
        let Some(op) = compound_operator(&binary.op) else {
            return;
        };
        let Some((ident, current)) = self.assigned_local(&binary.left) else {
            return;
        };
        let value = self.expr(&binary.right);
        let id = self.arithmetic(op, Operand::Node(current), value, binary);
        if let Operand::Node(id) = id {
            self.nodes[id].hint = Hint::User(ident.clone());
            self.rebind(&key(&ident), id);
        }
    }

    fn expr(&mut self, expr: &Expr) -> Operand {
        match expr {
            Expr::Paren(p) => return self.expr(&p.expr),
            Expr::Group(g) => return self.expr(&g.expr),
            Expr::Block(b) if b.label.is_none() => {
                return self
                    .block(&b.block, Tail::Inner)
                    .unwrap_or_else(|| self.dummy())
            }
            Expr::If(branch) => return self.branch(branch, true),
            Expr::Path(_) => {
                if let Some(id) = self.local(expr) {
                    return Operand::Node(id);
                }
            }
            _ => {}
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
                    self.op(rules::operator("neg"), Form::Operator, vec![a], expr)
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
            Expr::Binary(binary) => match arithmetic_operator(&binary.op) {
                Some(name) => {
                    let a = self.expr(&binary.left);
                    let b = self.expr(&binary.right);
                    self.arithmetic(name, a, b, expr)
                }
                // Comparisons and `&&`, `||`: booleans, with no derivative.
                None => self.inactive(expr),
            },
            Expr::Cast(cast) => match FloatTy::from_type(&cast.ty) {
                Some(to) => self.cast(&cast.expr, to, expr),
                // Truncating to an integer: the result is piecewise constant.
                None => self.inactive(expr),
            },
            Expr::MethodCall(call) => self.method_call(call, expr),
            Expr::Call(call) => self.call(call, expr),
            _ => {
                self.errors.spanned(expr, not_differentiable(expr));
                self.dummy()
            }
        }
    }

    fn arithmetic(&mut self, name: &str, a: Operand, b: Operand, span: &dyn ToTokens) -> Operand {
        if !self.is_active(&a) && !self.is_active(&b) {
            // `acc += 1.0` on an inactive accumulator: still plain arithmetic.
            return self.op_inactive(name, a, b, span);
        }
        match (&a, &b) {
            (Operand::Node(x), Operand::Node(y)) if name == "mul" && x == y => {
                self.op(rules::operator("square"), Form::Operator, vec![a], span)
            }
            _ => self.op(rules::operator(name), Form::Operator, vec![a, b], span),
        }
    }

    /// An inactive `a op b` built from operands (compound assignment on an inactive
    /// variable), emitted as ordinary arithmetic.
    fn op_inactive(&mut self, name: &str, a: Operand, b: Operand, span: &dyn ToTokens) -> Operand {
        let symbol = operator_symbol(name);
        let ty = self.type_of(&a).or_else(|| self.type_of(&b));
        let operand = self.inactive_template(
            |args| {
                let (l, r) = (args.first(), args.get(1));
                quote!(#l #symbol #r)
            },
            &[a, b],
            span,
        );
        if let Operand::Node(id) = operand {
            self.nodes[id].ty = ty;
        }
        operand
    }

    /// An inactive node computing `template` of the operands: each operand is a
    /// placeholder renamed to its node at emission, or a constant's tokens.
    fn inactive_template(
        &mut self,
        template: impl FnOnce(Vec<proc_macro2::TokenStream>) -> proc_macro2::TokenStream,
        operands: &[Operand],
        span: &dyn ToTokens,
    ) -> Operand {
        let mut locals = Vec::new();
        let parts = operands
            .iter()
            .enumerate()
            .map(|(i, operand)| match operand {
                Operand::Node(id) => {
                    let placeholder = Ident::new(&format!("__operand{i}"), Span::call_site());
                    locals.push((placeholder.to_string(), *id));
                    quote!(#placeholder)
                }
                Operand::Const(c) => c.operand_tokens(),
            })
            .collect();
        let expr = match syn::parse2::<Expr>(template(parts)) {
            Ok(expr) => expr,
            Err(error) => {
                self.errors.push(error);
                return self.dummy();
            }
        };
        let id = self.push(Node {
            name: placeholder(),
            hint: Hint::Op("c".into()),
            kind: NodeKind::Inactive { expr, locals },
            active: false,
            ty: None,
            annotation: None,
            span: span_of(span),
            region: 0,
        });
        Operand::Node(id)
    }

    /// `x as f32`, `f64::from(x)`.
    fn cast(&mut self, inner: &Expr, to: FloatTy, expr: &Expr) -> Operand {
        if !self.mentions_active(inner) {
            return self.inactive(expr);
        }
        let arg = self.expr(inner);
        let id = self.push(Node {
            name: placeholder(),
            hint: Hint::Op("cast".into()),
            kind: NodeKind::Cast { to, arg },
            active: true,
            ty: Some(to.to_type()),
            annotation: None,
            span: expr.span(),
            region: 0,
        });
        Operand::Node(id)
    }

    fn method_call(&mut self, call: &syn::ExprMethodCall, expr: &Expr) -> Operand {
        let name = call.method.to_string();
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
            return self.inactive(expr);
        }
        let mut args = vec![self.expr(&call.receiver)];
        args.extend(call.args.iter().map(|a| self.expr(a)));
        self.op(rule, Form::Method, args, expr)
    }

    fn call(&mut self, call: &syn::ExprCall, expr: &Expr) -> Operand {
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
            return self.primitive_call(rule, Form::Runtime, call, expr);
        }
        if let Some((float, method)) = float_function(path) {
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
        if let Some(generic) = path.segments.iter().find(|s| !s.arguments.is_none()) {
            self.errors.spanned(
                &generic.arguments,
                "calls with type arguments are not supported yet; call a non-generic differentiated function",
            );
            return self.dummy();
        }
        let args: Vec<Operand> = call.args.iter().map(|a| self.expr(a)).collect();
        if !args.iter().any(|a| self.is_active(a)) {
            // An ordinary call on values that do not depend on the inputs (its
            // arguments held a branch, so they were lowered one by one).
            return self.inactive_template(|args| quote!(#path(#(#args),*)), &args, expr);
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
        let id = self.push(Node {
            name: placeholder(),
            hint: Hint::Op(format!("{}_out", callee.trim_start_matches("r#"))),
            kind: NodeKind::Call {
                path: path.clone(),
                args,
                tape: placeholder(),
                arg_spans: call.args.iter().map(Spanned::span).collect(),
            },
            active: true,
            ty: Some(float.unwrap_or(self.ret).to_type()),
            annotation: None,
            span: expr.span(),
            region: 0,
        });
        Operand::Node(id)
    }

    fn primitive_call(
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

    fn op(
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
            .or(match form {
                Form::TypePath(float) => Some(float),
                _ => None,
            });
        // Arithmetic with a float makes an untyped inactive operand that float
        // (`powi`'s exponent is an `i32`): its type for the tape, should it be saved.
        for (i, arg) in args.iter().enumerate() {
            if let Operand::Node(id) = arg {
                if self.nodes[*id].ty.is_none() {
                    self.nodes[*id].ty = Some(match (rule.name, i) {
                        ("powi", 1) => syn::parse_quote!(i32),
                        _ => float.unwrap_or(self.ret).to_type(),
                    });
                }
            }
        }
        let hint = match rule.name {
            "add" => "sum",
            "sub" => "diff",
            "mul" => "prod",
            "div" => "quot",
            "square" => "sq",
            other => other,
        };
        let id = self.push(Node {
            name: placeholder(),
            hint: Hint::Op(hint.to_string()),
            kind: NodeKind::Op { rule, form, args },
            active,
            ty: Some(float.unwrap_or(self.ret).to_type()),
            annotation: None,
            span: span_of(span),
            region: 0,
        });
        Operand::Node(id)
    }

    /// A value that does not depend on the differentiable inputs. A pure closed
    /// expression (literals, constants, arithmetic on them) is spelled again where
    /// it is used; anything else is computed once, as a node.
    fn inactive(&mut self, expr: &Expr) -> Operand {
        if let Some((tokens, message)) = forbidden_inside(expr) {
            self.errors.spanned(tokens, message);
            return self.dummy();
        }
        let locals = self.locals_in(expr);
        if locals.is_empty() && is_pure(expr) {
            return Operand::Const(Constant {
                tokens: expr.to_token_stream(),
                atomic: matches!(strip_parens(expr), Expr::Lit(_) | Expr::Path(_)),
                float: literal_float(expr),
            });
        }
        let ty = self.guess_type(expr);
        let id = self.push(Node {
            name: placeholder(),
            hint: Hint::Op("c".into()),
            kind: NodeKind::Inactive {
                expr: expr.clone(),
                locals,
            },
            active: false,
            ty,
            annotation: None,
            span: expr.span(),
            region: 0,
        });
        Operand::Node(id)
    }

    /// The result of the function: an intermediate created for the final expression
    /// is named after the function, like the blog's `f`.
    fn name_result(&mut self, output: &Operand, mark: NodeId, fn_name: &Ident) {
        if let Operand::Node(id) = output {
            if *id >= mark && self.nodes[*id].is_unnamed_intermediate() {
                self.nodes[*id].hint = Hint::User(fn_name.clone());
            }
        }
    }

    fn is_active(&self, operand: &Operand) -> bool {
        matches!(operand, Operand::Node(id) if self.nodes[*id].active)
    }

    fn float_of(&self, operand: &Operand) -> Option<FloatTy> {
        match operand {
            Operand::Node(id) => self.nodes[*id].float(),
            Operand::Const(c) => c.float,
        }
    }

    fn type_of(&self, operand: &Operand) -> Option<syn::Type> {
        match operand {
            Operand::Node(id) => self.nodes[*id].ty.clone(),
            Operand::Const(c) => c
                .float
                .or_else(|| is_float_literal(&c.tokens).then_some(self.ret))
                .map(FloatTy::to_type),
        }
    }

    fn mentions_active(&self, expr: &Expr) -> bool {
        self.locals_in(expr)
            .iter()
            .any(|(_, id)| self.nodes[*id].active)
    }

    fn locals_in(&self, expr: &Expr) -> Vec<(String, NodeId)> {
        let mut finder = LocalFinder { names: Vec::new() };
        finder.visit_expr(expr);
        let mut locals: Vec<(String, NodeId)> = Vec::new();
        for name in finder.names {
            if let Some(id) = self.lookup(&name) {
                if !locals.iter().any(|(n, _)| *n == name) {
                    locals.push((name, id));
                }
            }
        }
        locals
    }

    /// The type of an inactive value, where its spelling tells; needed only if the
    /// backward pass reads it from the tape.
    fn guess_type(&self, expr: &Expr) -> Option<syn::Type> {
        match expr {
            Expr::Cast(cast) => Some((*cast.ty).clone()),
            Expr::Paren(p) => self.guess_type(&p.expr),
            Expr::Group(g) => self.guess_type(&g.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => self.guess_type(&u.expr),
            Expr::Lit(_) => literal_float(expr)
                .or_else(|| is_float_literal(&expr.to_token_stream()).then_some(self.ret))
                .map(FloatTy::to_type),
            Expr::Path(_) => self.local(expr).and_then(|id| self.nodes[id].ty.clone()),
            Expr::Binary(b) if arithmetic_operator(&b.op).is_some() => self
                .guess_type(&b.left)
                .or_else(|| self.guess_type(&b.right)),
            Expr::Binary(_) => Some(syn::parse_quote!(bool)),
            Expr::MethodCall(m) if rules::method(&m.method.to_string()).is_some() => {
                self.guess_type(&m.receiver)
            }
            Expr::MethodCall(m) if m.method == "len" => Some(syn::parse_quote!(usize)),
            Expr::Call(c) => match strip_parens(&c.func) {
                Expr::Path(p) => float_function(&p.path).map(|(float, _)| float.to_type()),
                _ => None,
            },
            _ => None,
        }
    }
}

const MACRO_MESSAGE: &str =
    "macros cannot be differentiated: `#[differentiate]` sees only the macro call, not its expansion; write the computation as plain Rust";

/// Constructs outside the supported language, with what to do instead.
fn unsupported(expr: &Expr) -> Option<&'static str> {
    Some(match expr {
        Expr::Match(_) => "`match` is not supported yet; write it as `if` / `else if` / `else`",
        Expr::While(_) | Expr::Loop(_) => {
            "`while` and `loop` are not supported yet; write the loop as `for` over a range"
        }
        Expr::ForLoop(_) => "a `for` loop has no value; use it as a statement",
        Expr::Break(_) | Expr::Continue(_) => "`break` and `continue` are not supported yet",
        Expr::Return(_) => "`return` is supported only as the last statement of the function",
        Expr::Closure(_) => "closures cannot be differentiated; write a separate `#[differentiate]` function and call it",
        Expr::Macro(_) => MACRO_MESSAGE,
        Expr::Async(_) | Expr::Await(_) => "async code cannot be differentiated",
        Expr::Unsafe(_) => "`unsafe` blocks cannot be differentiated",
        Expr::Block(b) if b.label.is_some() => "labelled blocks are not supported",
        Expr::TryBlock(_) | Expr::Try(_) => "`?` and `try` blocks are not supported in a differentiated function",
        Expr::Let(_) => "`let` expressions are not supported",
        Expr::Assign(_) => "assignments are supported only as statements: `a = ...;`",
        Expr::Binary(b) if compound_operator(&b.op).is_some() => {
            "compound assignments are supported only as statements: `a += ...;`"
        }
        Expr::Yield(_) => "generators cannot be differentiated",
        _ => return None,
    })
}

/// An `if` or block inside an expression: lowered node by node, since its arms
/// may assign variables or hold differentiated values.
fn contains_branch(expr: &Expr) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::If(_) | Expr::Block(_) => self.0 = true,
                Expr::Closure(_) | Expr::Macro(_) => {}
                _ => syn::visit::visit_expr(self, expr),
            }
        }
    }
    let mut finder = Finder(false);
    finder.visit_expr(expr);
    finder.0
}

/// Why an expression that mentions a differentiated value is refused.
fn not_differentiable(expr: &Expr) -> &'static str {
    match expr {
        Expr::Tuple(_) => {
            "a tuple of differentiated values is supported only as `let (a, b) = (x, y);`"
        }
        Expr::Reference(_) | Expr::RawAddr(_) => {
            "references to differentiated values are not supported; pass the value itself"
        }
        Expr::Array(_) | Expr::Repeat(_) | Expr::Index(_) => {
            "arrays and indexing of differentiated values are not supported yet"
        }
        Expr::Field(_) | Expr::Struct(_) => {
            "structs holding differentiated values are not supported yet; pass the fields as parameters"
        }
        _ => "this expression is not supported on a value being differentiated; supported: arithmetic, float methods, calls of differentiated functions, casts between f32 and f64",
    }
}

/// Inside code we keep verbatim (an inactive expression) nothing may bind names or
/// change control flow, so renaming its locals stays correct.
fn forbidden_inside(expr: &Expr) -> Option<(proc_macro2::TokenStream, &'static str)> {
    struct Finder(Option<(proc_macro2::TokenStream, &'static str)>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            if self.0.is_some() {
                return;
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

struct LocalFinder {
    names: Vec<String>,
}

impl<'ast> Visit<'ast> for LocalFinder {
    fn visit_expr_path(&mut self, expr: &'ast syn::ExprPath) {
        if expr.qself.is_none() {
            if let Some(ident) = expr.path.get_ident() {
                self.names.push(key(ident));
            }
        }
    }
}

/// Free of side effects and cheap, so it may be spelled again in the backward pass.
fn is_pure(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Paren(p) => is_pure(&p.expr),
        Expr::Group(g) => is_pure(&g.expr),
        Expr::Unary(u) => is_pure(&u.expr),
        Expr::Binary(b) => is_pure(&b.left) && is_pure(&b.right),
        Expr::Cast(c) => is_pure(&c.expr),
        Expr::MethodCall(m) => {
            rules::method(&m.method.to_string()).is_some()
                && is_pure(&m.receiver)
                && m.args.iter().all(is_pure)
        }
        _ => false,
    }
}

/// How a local is looked up: `r#x` and `x` are the same variable.
pub fn key(ident: &Ident) -> String {
    let name = ident.to_string();
    match name.strip_prefix("r#") {
        Some(bare) => bare.to_string(),
        None => name,
    }
}

fn strip_parens(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(p) => strip_parens(&p.expr),
        Expr::Group(g) => strip_parens(&g.expr),
        other => other,
    }
}

fn span_of(tokens: &dyn ToTokens) -> Span {
    tokens
        .to_token_stream()
        .into_iter()
        .next()
        .map(|t| t.span())
        .unwrap_or_else(Span::call_site)
}

/// The float type a literal or constant path spells: `2.0_f32`, `f64::consts::PI`.
fn literal_float(expr: &Expr) -> Option<FloatTy> {
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
            .find_map(|s| FloatTy::from_ident(&s.ident)),
        Expr::Unary(u) => literal_float(&u.expr),
        _ => None,
    }
}

fn is_float_literal(tokens: &proc_macro2::TokenStream) -> bool {
    matches!(
        syn::parse2::<syn::Lit>(tokens.clone()),
        Ok(syn::Lit::Float(_))
    )
}

fn is_powi_zero(rule: &Rule, exponent: Option<&Expr>) -> bool {
    rule.name == "powi"
        && matches!(exponent.map(strip_parens), Some(Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. })) if i.base10_digits() == "0")
}

/// `sigmoid(x)`, `backprop_runtime::sigmoid(x)`, `::backprop_runtime::relu(x)`.
fn runtime_activation(path: &syn::Path) -> Option<&'static Rule> {
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

/// `f64::exp`, `f32::max`: the method rules, called by path.
fn float_function(path: &syn::Path) -> Option<(FloatTy, &Ident)> {
    if path.leading_colon.is_some() || path.segments.len() != 2 {
        return None;
    }
    let float = FloatTy::from_ident(&path.segments[0].ident)?;
    Some((float, &path.segments[1].ident))
}

fn arithmetic_operator(op: &BinOp) -> Option<&'static str> {
    Some(match op {
        BinOp::Add(_) => "add",
        BinOp::Sub(_) => "sub",
        BinOp::Mul(_) => "mul",
        BinOp::Div(_) => "div",
        BinOp::Rem(_) => "rem",
        _ => return None,
    })
}

fn compound_operator(op: &BinOp) -> Option<&'static str> {
    Some(match op {
        BinOp::AddAssign(_) => "add",
        BinOp::SubAssign(_) => "sub",
        BinOp::MulAssign(_) => "mul",
        BinOp::DivAssign(_) => "div",
        BinOp::RemAssign(_) => "rem",
        _ => return None,
    })
}

fn operator_symbol(name: &str) -> proc_macro2::TokenStream {
    match name {
        "sub" => quote!(-),
        "mul" => quote!(*),
        "div" => quote!(/),
        "rem" => quote!(%),
        _ => quote!(+),
    }
}
