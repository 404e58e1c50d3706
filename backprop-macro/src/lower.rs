//! Lowering: the function body becomes a Wengert list, one node per operation.
//!
//! Every `let` and every operation on a value that depends on a differentiable
//! input becomes a node. Code that does not depend on one (integer arithmetic,
//! `n as f64`, constants) is kept as the user wrote it: it needs no derivative.
//! Mutation is turned into fresh versions (`a`, `a2`, ...), so the list is in
//! single-assignment form and the backward pass can read any earlier value.

use crate::desugar;
use crate::errors::Errors;
use crate::ir::{
    ArrayInfo, Block, Borrow, Carried, Constant, ElementSource, FloatTy, Form, Graph, Hint, If,
    Loop, Node, NodeId, NodeKind, Operand, RegionId, RegionInfo, Stmt as IrStmt, StmtId,
};
use crate::names::Names;
use crate::rules::{self, Rule};
use crate::signature::{Outputs, Shape, Signature};
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
        loops: Vec::new(),
        returns: None,
        errors,
        ret: sig.ret,
        written_params: written_params(sig),
        closures: Vec::new(),
        changed_data: Vec::new(),
    };
    for param in &sig.params {
        let id = lowerer.push(Node {
            name: placeholder(),
            hint: Hint::User(param.ident.clone()),
            kind: NodeKind::Param,
            active: param.differentiable.is_some(),
            // A `&mut f64` or `&f64` parameter's node is its value.
            ty: Some(
                match (param.inout || param.by_reference, param.differentiable) {
                    (true, Some(float)) => float.to_type(),
                    _ => param.ty.clone(),
                },
            ),
            annotation: None,
            span: param.ident.span(),
            region: 0,
            array: None,
        });
        lowerer.declare(&param.ident, id);
    }
    // Parameters are the first nodes, in order; the lengths of slices follow.
    for (id, param) in sig.params.iter().enumerate() {
        let info = match &param.shape {
            None => continue,
            Some(Shape::Array(len)) => ArrayInfo {
                len: Operand::Const(Constant {
                    tokens: quote!(#len),
                    atomic: matches!(len, Expr::Lit(_) | Expr::Path(_)),
                    float: None,
                }),
                fixed: true,
            },
            Some(Shape::Slice) => {
                let len = lowerer.length_of(id, &param.ident);
                ArrayInfo {
                    len: Operand::Node(len),
                    fixed: false,
                }
            }
        };
        lowerer.nodes[id].ty = param.differentiable.map(FloatTy::to_type);
        lowerer.nodes[id].array = Some(info);
    }
    let mark = lowerer.nodes.len();
    let mut outputs = match sig.outputs {
        Outputs::One if sig.returns_value => {
            let output = lowerer.function_body(block);
            lowerer.name_result(&output, mark, &sig.ident);
            vec![output]
        }
        // Only `&mut` parameters carry results out.
        Outputs::One => {
            lowerer.block(block, Tail::Unit);
            Vec::new()
        }
        _ => lowerer.several_outputs(block, &sig.ident),
    };
    // A `&mut f64` parameter's final value is an output too (a `&mut [f64]`'s
    // contents are, through `Graph::written_params`).
    for (_, param) in sig.inouts().filter(|(_, p)| !p.writes_array()) {
        if let Some(id) = lowerer.lookup(&key(&param.ident)) {
            outputs.push(Operand::Node(id));
        }
    }
    let stmts = lowerer.blocks.pop().unwrap_or_default();
    let mut graph = Graph {
        nodes: lowerer.nodes,
        regions: lowerer.regions,
        body: Block {
            region: 0,
            stmts,
            results: outputs.clone(),
        },
        outputs,
        ret: sig.ret,
        written_params: lowerer.written_params,
        changed_data: lowerer.changed_data,
    };
    assign_names(&mut graph, names);
    graph
}

/// The `&mut [f64]` parameters: parameters are the first nodes, in order.
fn written_params(sig: &Signature) -> Vec<NodeId> {
    sig.inouts()
        .filter(|(_, p)| p.writes_array())
        .map(|(id, _)| id)
        .collect()
}

/// The user's name of a node, or its hint, for naming what derives from it.
fn node_ident(node: &Node) -> Ident {
    match &node.hint {
        Hint::User(ident) => ident.clone(),
        Hint::Op(name) => Ident::new(&crate::names::bare_name(name), Span::call_site()),
    }
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

/// Lowers one arm of a branch; returns the arm's value.
type Arm<'f, 'a> = dyn FnMut(&mut Lowerer<'a>) -> Option<Operand> + 'f;

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
    /// Exit flags live here too, under keys no identifier can have (`#break0`).
    scopes: Vec<Vec<(String, NodeId)>>,
    /// The loops being lowered, innermost last.
    loops: Vec<LoopFrame>,
    /// With an early `return`: the keys of its flag and of the returned value.
    returns: Option<(String, String)>,
    errors: &'a mut Errors,
    ret: FloatTy,
    /// The `&mut [f64]` parameters, which the body may write.
    written_params: Vec<NodeId>,
    /// Closures bound with `let`, inlined where they are called. A scope entry
    /// `CLOSURE + k` names `closures[k]`.
    closures: Vec<Closure>,
    /// Data the function changes (lists of indices written in place).
    changed_data: Vec<NodeId>,
}

/// A closure, and the variables it sees: those in scope where it is written
/// (a later shadowing `let` does not change what it captured).
struct Closure {
    expr: syn::ExprClosure,
    environment: Vec<(String, NodeId)>,
}

/// Scope entries at or above this name a closure, not a node.
const CLOSURE: NodeId = usize::MAX / 2;

struct LoopFrame {
    label: Option<String>,
    break_key: Option<String>,
    continue_key: Option<String>,
}

/// A loop over the elements of slices, by index.
struct SliceIteration {
    arrays: Vec<NodeId>,
    enumerate: bool,
    /// `.rev()` last: the same indices, from the end.
    reversed: bool,
    /// `.skip(k)`: the first index.
    start: Option<Expr>,
    /// `.take(n)`: an index the loop stops before (the length bounds it too).
    end: Option<Expr>,
}

enum Header<'a> {
    For {
        var: Option<Ident>,
        iter: &'a Expr,
    },
    /// Over indices `0..len`; each element is read from its array.
    Slices {
        index: Option<Ident>,
        elements: Vec<(Ident, NodeId)>,
        len: &'a Expr,
        iter_locals: Vec<(String, NodeId)>,
    },
    While(&'a Expr),
    Infinite,
}

impl<'a> Lowerer<'a> {
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
        self.entry(name).filter(|id| *id < CLOSURE)
    }

    /// The newest binding of a name: a node, or a closure.
    fn entry(&self, name: &str) -> Option<NodeId> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }

    /// The closure a name is bound to, if it is one.
    fn closure_named(&self, expr: &Expr) -> Option<usize> {
        let Expr::Path(path) = strip_parens(expr) else {
            return None;
        };
        let ident = path.path.get_ident()?;
        let id = self.entry(&key(ident))?;
        (id >= CLOSURE).then(|| id - CLOSURE)
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

    /// The function's body. With an early `return`, the result is the returned
    /// value if the return flag is set, else the body's final value.
    fn function_body(&mut self, block: &syn::Block) -> Operand {
        if !has_early_return(block) {
            return self
                .block(block, Tail::Value)
                .unwrap_or_else(|| self.dummy());
        }
        let (flag, result) = ("#return".to_string(), "#result".to_string());
        self.declare_flag(&flag, "returned");
        let zero = self.ret.zero();
        let initial = self.push(Node {
            name: placeholder(),
            hint: Hint::Op("result".into()),
            kind: NodeKind::Inactive {
                expr: syn::parse_quote!(#zero),
                locals: Vec::new(),
            },
            active: false,
            ty: Some(self.ret.to_type()),
            annotation: None,
            span: Span::call_site(),
            region: 0,
            array: None,
        });
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((result.clone(), initial));
        }
        self.returns = Some((flag.clone(), result.clone()));
        let value = self
            .block(block, Tail::Value)
            .unwrap_or_else(|| self.dummy());
        let returned = self
            .lookup(&flag)
            .map_or_else(|| self.dummy(), Operand::Node);
        let early = self
            .lookup(&result)
            .map_or_else(|| self.dummy(), Operand::Node);
        self.branch_with(
            returned,
            true,
            block.brace_token.span.close(),
            &mut |_| Some(early.clone()),
            Some(&mut |_| Some(value.clone())),
        )
    }

    /// The body of a function returning a tuple or an array: its last expression
    /// is a tuple or array expression, one output per element.
    fn several_outputs(&mut self, block: &syn::Block, fn_name: &Ident) -> Vec<Operand> {
        if has_early_return(block) {
            self.errors.push(syn::Error::new(
                block.brace_token.span.open(),
                "`return` before the end is not supported in a function with several outputs; end with the tuple or array",
            ));
            return Vec::new();
        }
        let (last, rest) = match block.stmts.split_last() {
            Some((Stmt::Expr(expr, None), rest)) => (strip_parens(expr), rest),
            _ => {
                self.errors.push(syn::Error::new(
                    block.brace_token.span.close(),
                    "a function with several outputs must end with a tuple `(a, b)` or an array `[a, b]` expression",
                ));
                return Vec::new();
            }
        };
        self.scopes.push(Vec::new());
        self.stmts(rest, Tail::Unit, block.brace_token.span.close());
        let elements: Vec<&Expr> = match last {
            Expr::Tuple(tuple) => tuple.elems.iter().collect(),
            Expr::Array(array) => array.elems.iter().collect(),
            other => {
                self.errors.spanned(
                    other,
                    "a function with several outputs must end with a tuple `(a, b)` or an array `[a, b]` expression",
                );
                Vec::new()
            }
        };
        let outputs = elements
            .into_iter()
            .enumerate()
            .map(|(k, element)| {
                let mark = self.nodes.len();
                let output = self.expr(element);
                if let Operand::Node(id) = output {
                    if id >= mark && self.nodes[id].is_unnamed_intermediate() {
                        self.nodes[id].hint = Hint::Op(format!("{}_{k}", key(fn_name)));
                    }
                }
                output
            })
            .collect();
        self.scopes.pop();
        outputs
    }

    /// Lowers a block, in a scope of its own, into the current region; returns its
    /// value.
    fn block(&mut self, block: &syn::Block, tail: Tail) -> Option<Operand> {
        self.scopes.push(Vec::new());
        let result = self.stmts(&block.stmts, tail, block.brace_token.span.close());
        self.scopes.pop();
        result
    }

    fn stmts(&mut self, stmts: &[Stmt], tail: Tail, close: Span) -> Option<Operand> {
        let mut result = None;
        for (i, stmt) in stmts.iter().enumerate() {
            let last = i + 1 == stmts.len();
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
                Stmt::Expr(expr @ (Expr::If(_) | Expr::Match(_)), semi) => {
                    let wants_value = last && semi.is_none() && tail != Tail::Unit;
                    let value = match expr {
                        Expr::If(branch) => self.branch(branch, wants_value),
                        Expr::Match(matched) => self.match_expr(matched, wants_value),
                        _ => self.dummy(),
                    };
                    if wants_value {
                        result = Some(value);
                    }
                }
                Stmt::Expr(expr, None) if last && tail != Tail::Unit && !is_statement_only(expr) => {
                    result = Some(self.expr(expr))
                }
                Stmt::Expr(expr, _) => {
                    self.expr_statement(expr);
                    // `loop` as a block's last statement only ends by `return`.
                    let endless = matches!(expr, Expr::Loop(_));
                    if last && tail != Tail::Unit && (diverges(expr) || endless) {
                        // The block's value is never used on this path.
                        result = Some(unused_float(self.ret));
                    }
                }
                Stmt::Item(item) => self.errors.spanned(
                    item,
                    "items inside a differentiated function are not supported; move this item outside the function",
                ),
                // Checks do not change the value: the function itself keeps them,
                // the generated passes leave them out.
                Stmt::Macro(mac) if is_assertion(&mac.mac) => {}
                Stmt::Macro(mac) if is_print(&mac.mac) => self.print_statement(&mac.mac),
                Stmt::Macro(mac) => self.errors.spanned(&mac.mac, MACRO_MESSAGE),
            }
            if !last && may_exit(stmt) {
                // The rest runs only if this statement did not leave the block
                // (`break`, `continue` or `return` inside it).
                let rest = &stmts[i + 1..];
                let wants_value = tail != Tail::Unit;
                let continuing = self.not_exited(stmt);
                return Some(self.branch_with(
                    continuing,
                    wants_value,
                    span_of(stmt),
                    &mut |s| s.stmts(rest, tail, close),
                    None,
                ))
                .filter(|_| wants_value);
            }
        }
        if result.is_none() && tail != Tail::Unit {
            self.errors.push(syn::Error::new(
                close,
                "expected a final expression: the block must end with the value it computes",
            ));
        }
        result
    }

    /// An expression used as a statement: assignments, branches, loops, exits.
    fn expr_statement(&mut self, expr: &Expr) {
        match expr {
            Expr::Assign(assign) => self.assign(assign),
            Expr::Binary(binary) if compound_operator(&binary.op).is_some() => self.compound_assign(binary),
            Expr::If(branch) => {
                self.branch(branch, false);
            }
            Expr::Match(matched) => {
                self.match_expr(matched, false);
            }
            Expr::ForLoop(looped) => self.for_loop(looped),
            Expr::While(looped) => {
                if let Expr::Let(_) = strip_parens(&looped.cond) {
                    self.errors.spanned(&looped.cond, "`while let` is not supported; write a `loop` with a comparison and `break`");
                    return;
                }
                self.lower_loop(looped.label.as_ref(), Header::While(&looped.cond), &looped.body)
            }
            Expr::Loop(looped) => self.lower_loop(looped.label.as_ref(), Header::Infinite, &looped.body),
            Expr::Break(exit) => {
                if let Some(value) = &exit.expr {
                    self.errors.spanned(value, "`break` with a value is not supported; assign the value to a variable before `break`");
                    return;
                }
                self.exit_loop(exit.label.as_ref(), false, expr);
            }
            Expr::Continue(exit) => self.exit_loop(exit.label.as_ref(), true, expr),
            Expr::Return(ret) => self.early_return(ret),
            Expr::Call(call) if has_mut_argument(call) || self.passes_written_param(call) => {
                self.call_with_mut_arguments(call, expr, false);
            }
            Expr::Macro(mac) if is_assertion(&mac.mac) => {}
            Expr::Macro(mac) if is_print(&mac.mac) => self.print_statement(&mac.mac),
            Expr::Block(b) if b.label.is_none() => {
                self.block(&b.block, Tail::Unit);
            }
            // A plain function called for its effect on data (`set(r, n, v);`
            // writing a list of indices): kept as written.
            Expr::Call(call) if !self.mentions_active(expr) => self.data_call(call, expr),
            Expr::MethodCall(call) if call.method == "for_each" => self.errors.spanned(
                expr,
                "`for_each` with a closure that changes variables outside it is not supported; write the loop it stands for, as in `for v in w.iter() { total += v * v; }`",
            ),
            _ => match unsupported(expr) {
                Some(message) => self.errors.spanned(expr, message),
                None => self.errors.spanned(
                    expr,
                    "this statement's value is not used; a differentiated function is built from `let` bindings, assignments, calls that write `&mut` arguments, branches, loops and a final expression (write `let _ = ...;` to compute a value and drop it)",
                ),
            },
        }
    }

    /// `if c { .. } else { .. }`.
    fn branch(&mut self, branch: &syn::ExprIf, wants_value: bool) -> Operand {
        if let Expr::Let(_) = strip_parens(&branch.cond) {
            self.errors.spanned(
                &branch.cond,
                "`if let` is not supported in a differentiated function; test the value with a comparison",
            );
            return self.dummy();
        }
        if wants_value && branch.else_branch.is_none() {
            self.errors
                .spanned(branch, "an `if` whose value is used needs an `else`");
            return self.dummy();
        }
        let cond = self.expr(&branch.cond);
        let tail = if wants_value { Tail::Inner } else { Tail::Unit };
        let then_branch = &branch.then_branch;
        let mut then_arm = |s: &mut Self| s.block(then_branch, tail);
        match &branch.else_branch {
            None => self.branch_with(cond, wants_value, branch.if_token.span, &mut then_arm, None),
            Some((_, else_expr)) => {
                let mut else_arm = |s: &mut Self| match strip_parens(else_expr) {
                    Expr::Block(b) => s.block(&b.block, tail),
                    Expr::If(nested) => Some(s.branch(nested, wants_value)),
                    other => {
                        s.errors
                            .spanned(other, "expected a block or `if` after `else`");
                        None
                    }
                };
                self.branch_with(
                    cond,
                    wants_value,
                    branch.if_token.span,
                    &mut then_arm,
                    Some(&mut else_arm),
                )
            }
        }
    }

    /// A two-way branch: each arm is a block of its own. The branch's value (when
    /// it is used) and every variable an arm assigns become merge nodes, defined
    /// by the branch statement.
    fn branch_with(
        &mut self,
        cond: Operand,
        wants_value: bool,
        span: Span,
        then_arm: &mut Arm<'_, 'a>,
        else_arm: Option<&mut Arm<'_, 'a>>,
    ) -> Operand {
        if let Operand::Node(id) = cond {
            // A branch condition is a `bool`, should the backward pass need it saved.
            self.nodes[id]
                .ty
                .get_or_insert_with(|| syn::parse_quote!(bool));
        }
        let id = self.new_statement();
        let before = self.scopes.clone();

        self.enter_region(id);
        self.scopes.push(Vec::new());
        let then_value = then_arm(self);
        self.scopes.pop();
        let then_scopes = std::mem::replace(&mut self.scopes, before.clone());
        let mut then_block = self.exit_region(Vec::new());

        self.enter_region(id);
        self.scopes.push(Vec::new());
        let else_value = else_arm.and_then(|arm| arm(self));
        self.scopes.pop();
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
            let then_value = then_value.unwrap_or_else(|| unused_float(self.ret));
            let else_value = else_value.unwrap_or_else(|| unused_float(self.ret));
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
                span,
                region: 0,
                array: None,
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

    /// `match` on a value that does not depend on the inputs: a chain of
    /// branches, one per arm, each taken when its pattern (and guard) matches.
    fn match_expr(&mut self, matched: &syn::ExprMatch, wants_value: bool) -> Operand {
        let arms: Vec<MatchArm> = matched.arms.iter().map(MatchArm::of).collect();
        let mut refused = false;
        for arm in &arms {
            if let Some(binding) = arm.test.and_then(pattern_binding) {
                self.errors.spanned(
                    binding,
                    "patterns that bind variables inside are not supported in a differentiated function; match literals, ranges, constants, variants, or bind the whole value (`n if n > 3`)",
                );
                refused = true;
            }
        }
        if refused || arms.is_empty() {
            return self.dummy();
        }
        // The scrutinee is evaluated once; an arm's binding (`n if n > 3`) names it.
        // It may be computed from differentiated values (`(x * 4.0) as u8`), but it
        // cannot be one: patterns are not differentiable.
        let scrutinee = self.expr(&matched.expr);
        if self.is_active(&scrutinee) {
            self.errors.spanned(
                &matched.expr,
                "`match` on a value being differentiated is not supported; compare it with `if`",
            );
            return self.dummy();
        }
        let scrutinee = match scrutinee {
            Operand::Const(c) => {
                let node = self.copy_node(Operand::Const(c), span_of(&matched.expr));
                Operand::Node(self.push(node))
            }
            node => node,
        };
        let mut conds = Vec::new();
        for arm in &arms[..arms.len() - 1] {
            self.scopes.push(Vec::new());
            self.bind_scrutinee(arm, &scrutinee);
            let guard = arm.guard.map(|guard| self.expr(guard));
            self.scopes.pop();
            let operands: Vec<Operand> = std::iter::once(scrutinee.clone()).chain(guard).collect();
            let test = arm.test;
            let cond = self.inactive_template(
                |a| {
                    let (s, g) = (a.first(), a.get(1));
                    match (test, g) {
                        (Some(pat), None) => quote!(::core::matches!(#s, #pat)),
                        (Some(pat), Some(g)) => quote!(::core::matches!(#s, #pat) && #g),
                        (None, Some(g)) => quote!(#g),
                        (None, None) => quote!(true),
                    }
                },
                &operands,
                &arm.arm.pat,
            );
            conds.push(cond);
        }
        self.match_arms(&arms, &conds, &scrutinee, wants_value)
            .unwrap_or_else(|| self.dummy())
    }

    fn bind_scrutinee(&mut self, arm: &MatchArm, scrutinee: &Operand) {
        if let (Some(ident), Operand::Node(id)) = (arm.binding, scrutinee) {
            self.declare(ident, *id);
        }
    }

    fn match_arms(
        &mut self,
        arms: &[MatchArm],
        conds: &[Operand],
        scrutinee: &Operand,
        wants_value: bool,
    ) -> Option<Operand> {
        let tail = if wants_value { Tail::Inner } else { Tail::Unit };
        let (arm, rest) = arms.split_first()?;
        let mut lower_arm = |s: &mut Self| {
            s.scopes.push(Vec::new());
            s.bind_scrutinee(arm, scrutinee);
            let value = s.arm(&arm.arm.body, tail);
            s.scopes.pop();
            value
        };
        let Some((cond, rest_conds)) = conds.split_first() else {
            return lower_arm(self);
        };
        let value = self.branch_with(
            cond.clone(),
            wants_value,
            span_of(&arm.arm.pat),
            &mut lower_arm,
            Some(&mut |s| s.match_arms(rest, rest_conds, scrutinee, wants_value)),
        );
        wants_value.then_some(value)
    }

    fn arm(&mut self, body: &Expr, tail: Tail) -> Option<Operand> {
        match body {
            Expr::Block(b) if b.label.is_none() => self.block(&b.block, tail),
            other if tail == Tail::Unit => {
                self.expr_statement(other);
                None
            }
            other => Some(self.expr(other)),
        }
    }

    /// `break` and `continue`: set the flags of the loops they leave. The rest of
    /// each block on the way out is guarded by those flags.
    fn exit_loop(&mut self, label: Option<&syn::Lifetime>, is_continue: bool, tokens: &Expr) {
        let target = match label {
            Some(label) => {
                let name = label.ident.to_string();
                self.loops
                    .iter()
                    .rposition(|frame| frame.label.as_deref() == Some(name.as_str()))
            }
            None => self.loops.len().checked_sub(1),
        };
        let Some(target) = target else {
            self.errors
                .spanned(tokens, "`break` and `continue` must be inside a loop");
            return;
        };
        let inner: Vec<Option<String>> = self.loops[target + 1..]
            .iter()
            .map(|f| f.break_key.clone())
            .collect();
        for key in inner {
            self.set_flag(key);
        }
        let key = if is_continue {
            self.loops[target].continue_key.clone()
        } else {
            self.loops[target].break_key.clone()
        };
        self.set_flag(key);
    }

    /// `return value` before the end: remembers the value, and leaves every loop.
    fn early_return(&mut self, ret: &syn::ExprReturn) {
        let Some(expr) = &ret.expr else {
            self.errors
                .spanned(ret, "a differentiated function must return a value");
            return;
        };
        let value = self.expr(expr);
        let Some((flag, result)) = self.returns.clone() else {
            return;
        };
        let mut node = self.copy_node(value, span_of(ret));
        node.hint = Hint::Op("result".into());
        node.ty.get_or_insert_with(|| self.ret.to_type());
        let id = self.push(node);
        self.rebind(&result, id);
        self.set_flag(Some(flag));
        let keys: Vec<Option<String>> = self.loops.iter().map(|f| f.break_key.clone()).collect();
        for key in keys {
            self.set_flag(key);
        }
    }

    /// A new version of an exit flag, now `true`.
    fn set_flag(&mut self, key: Option<String>) {
        let Some(key) = key else { return };
        let hint = match self.lookup(&key) {
            Some(id) => self.nodes[id].hint.clone(),
            None => return,
        };
        let id = self.flag(hint, true);
        self.rebind(&key, id);
    }

    fn flag(&mut self, hint: Hint, value: bool) -> NodeId {
        self.push(Node {
            name: placeholder(),
            hint,
            kind: NodeKind::Inactive {
                expr: syn::parse_quote!(#value),
                locals: Vec::new(),
            },
            active: false,
            ty: Some(syn::parse_quote!(bool)),
            annotation: None,
            span: Span::call_site(),
            region: 0,
            array: None,
        })
    }

    /// Declares an exit flag, `false`, in the current scope.
    fn declare_flag(&mut self, key: &str, hint: &str) {
        let id = self.flag(Hint::Op(hint.into()), false);
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((key.to_string(), id));
        }
    }

    /// `!(broke || skipped)`: true while control is still in this block.
    fn not_exited(&mut self, stmt: &dyn ToTokens) -> Operand {
        let keys: Vec<String> = match self.loops.last() {
            Some(frame) => frame
                .break_key
                .iter()
                .chain(&frame.continue_key)
                .cloned()
                .collect(),
            None => self.returns.iter().map(|(flag, _)| flag.clone()).collect(),
        };
        let flags: Vec<Operand> = keys
            .iter()
            .filter_map(|key| self.lookup(key))
            .map(Operand::Node)
            .collect();
        if flags.is_empty() {
            return Operand::Const(Constant {
                tokens: quote!(true),
                atomic: true,
                float: None,
            });
        }
        let operand = self.inactive_template(
            |flags| match flags.as_slice() {
                [flag] => quote!(!#flag),
                _ => quote!(!(#(#flags)||*)),
            },
            &flags,
            stmt,
        );
        if let Operand::Node(id) = operand {
            self.nodes[id].hint = Hint::Op("running".into());
            self.nodes[id].ty = Some(syn::parse_quote!(bool));
        }
        operand
    }

    fn for_loop(&mut self, looped: &syn::ExprForLoop) {
        if let Some(starts) = desugar::windows_loop(looped) {
            return self.for_loop(&starts);
        }
        // Over slices, differentiated or data (`for (x, y) in xs.iter().zip(ys)`):
        // a loop over indices, each element a read of its type.
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
        self.lower_loop(
            looped.label.as_ref(),
            Header::For {
                var,
                iter: &looped.expr,
            },
            &looped.body,
        );
    }

    /// `for v in w.iter()`, `for (i, v) in w.iter().enumerate()`,
    /// `for (a, b) in w.iter().zip(x.iter())`: recognised so that a loop over a
    /// differentiated slice becomes a loop over indices, each element a read.
    fn slice_iteration(&self, iter: &Expr) -> Option<SliceIteration> {
        match strip_parens(iter) {
            // `skip` and `take` move the loop's bounds, not its indices.
            Expr::MethodCall(call)
                if (call.method == "skip" || call.method == "take") && call.args.len() == 1 =>
            {
                let inner = self.slice_iteration(&call.receiver)?;
                if inner.reversed {
                    return None;
                }
                let count = &call.args[0];
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
                (!inner.enumerate
                    && !inner.reversed
                    && inner.start.is_none()
                    && inner.arrays.len() == 1)
                    .then_some(SliceIteration {
                        enumerate: true,
                        ..inner
                    })
            }
            Expr::MethodCall(call) if call.method == "zip" && call.args.len() == 1 => {
                let left = self.slice_iteration(&call.receiver)?;
                let right = self.slice_iteration(&call.args[0])?;
                (left.arrays.len() == 1
                    && right.arrays.len() == 1
                    && !left.enumerate
                    && !right.enumerate
                    && !left.reversed
                    && !right.reversed
                    && [&left, &right]
                        .iter()
                        .all(|s| s.start.is_none() && s.end.is_none()))
                .then(|| SliceIteration {
                    arrays: vec![left.arrays[0], right.arrays[0]],
                    enumerate: false,
                    reversed: false,
                    start: None,
                    end: None,
                })
            }
            Expr::MethodCall(call)
                if (call.method == "iter" || call.method == "copied") && call.args.is_empty() =>
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
            }),
        }
    }

    fn slice_loop(&mut self, looped: &syn::ExprForLoop, slices: SliceIteration) {
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
        let parts: Vec<&Pat> = match &*looped.pat {
            Pat::Tuple(tuple) => tuple.elems.iter().collect(),
            single => vec![single],
        };
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
        let length: Expr = match placeholders.as_slice() {
            [a] => syn::parse_quote!(#a.len()),
            [a, b] => syn::parse_quote!(#a.len().min(#b.len())),
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
        let mut iter_locals: Vec<(String, NodeId)> = placeholders
            .iter()
            .zip(&slices.arrays)
            .map(|(p, a)| (p.to_string(), *a))
            .collect();
        // Locals in the bounds: `skip(k)`.
        for bound in slices.start.iter().chain(&slices.end) {
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

    /// A loop whose iterations the forward pass counts and the backward pass
    /// replays in reverse. Variables the body assigns are carried from one
    /// iteration to the next; `break` and `continue` become flags.
    fn lower_loop(&mut self, label: Option<&syn::Label>, header: Header, body: &syn::Block) {
        let label_name = label.map(|l| l.name.ident.to_string());
        let exits = loop_exits(body, label_name.as_deref());
        let needs_break = exits.breaks || matches!(header, Header::While(_));
        let index = self.loops.len();
        let break_key = needs_break.then(|| format!("#break{index}"));
        let continue_key = exits.continues.then(|| format!("#continue{index}"));
        if let Some(key) = &break_key {
            self.declare_flag(key, "broke");
        }
        let iter_locals = match &header {
            Header::For { iter, .. } => self.locals_in(iter),
            Header::Slices { iter_locals, .. } => iter_locals.clone(),
            _ => Vec::new(),
        };
        let mut carried = self.assigned_outer_variables(body);
        if let Header::While(cond) = &header {
            // A condition with side effects (`while { i += 1; i < n }`) assigns too.
            for variable in self.assigned_outer_variables_in(cond) {
                if !carried.iter().any(|(n, _)| *n == variable.0) {
                    carried.push(variable);
                }
            }
        }
        // Flags the body may set: its own, and those of the loops and function it
        // may leave.
        let mut flags: Vec<String> = break_key.iter().cloned().collect();
        if exits.leaves_outer {
            flags.extend(
                self.loops
                    .iter()
                    .flat_map(|f| f.break_key.iter().chain(&f.continue_key).cloned()),
            );
            flags.extend(
                self.returns
                    .iter()
                    .flat_map(|(flag, result)| [flag.clone(), result.clone()]),
            );
        }
        for key in flags {
            if let Some(id) = self.lookup(&key) {
                if !carried.iter().any(|(n, _)| *n == key) {
                    carried.push((key, id));
                }
            }
        }
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
            self.loops.push(LoopFrame {
                label: label_name.clone(),
                break_key: break_key.clone(),
                continue_key: continue_key.clone(),
            });
            let var_node = match &header {
                Header::For {
                    var: Some(ident),
                    iter,
                } => {
                    let node = self.push(Node {
                        name: placeholder(),
                        hint: Hint::User(ident.clone()),
                        kind: NodeKind::LoopVar,
                        active: false,
                        ty: self.element_type(iter),
                        annotation: None,
                        span: ident.span(),
                        region: 0,
                        array: None,
                    });
                    self.declare(ident, node);
                    Some(node)
                }
                Header::Slices { index, .. } => {
                    let hint = match index {
                        Some(ident) => Hint::User(ident.clone()),
                        None => Hint::Op("k".into()),
                    };
                    let node = self.push(Node {
                        name: placeholder(),
                        hint,
                        kind: NodeKind::LoopVar,
                        active: false,
                        ty: Some(syn::parse_quote!(usize)),
                        annotation: None,
                        span: span_of(body),
                        region: 0,
                        array: None,
                    });
                    if let Some(ident) = index {
                        self.declare(ident, node);
                    }
                    Some(node)
                }
                _ => None,
            };
            if let (Header::Slices { elements, .. }, Some(index)) = (&header, var_node) {
                for (ident, array) in elements {
                    let read = self.read_node(
                        *array,
                        Operand::Node(index),
                        Hint::User(ident.clone()),
                        ident.span(),
                    );
                    self.declare(ident, read);
                }
            }
            let params: Vec<NodeId> = carried
                .iter()
                .zip(&active)
                .map(|((name, outer), active)| {
                    let param = self.version_of(*outer, NodeKind::LoopParam, *active);
                    let param = self.push(param);
                    self.rebind(name, param);
                    param
                })
                .collect();
            let exit = break_key.as_ref().and_then(|key| self.lookup(key));
            if let Some(key) = &continue_key {
                self.declare_flag(key, "skipped");
            }
            match &header {
                Header::While(cond) => {
                    // `while c { body }` is `loop { if !c { break; } body }`.
                    let cond = self.expr(cond);
                    let stop = self.inactive_template(
                        |c| quote!(!#(#c)*),
                        std::slice::from_ref(&cond),
                        body,
                    );
                    if let Operand::Node(id) = stop {
                        self.nodes[id].hint = Hint::Op("done".into());
                    }
                    let key = break_key.clone();
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
                    let running = match break_key.as_ref().and_then(|key| self.lookup(key)) {
                        Some(flag) => self.inactive_template(
                            |f| quote!(!#(#f)*),
                            &[Operand::Node(flag)],
                            body,
                        ),
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
                _ => {
                    self.block(body, Tail::Unit);
                }
            }
            self.loops.pop();
            self.scopes.pop();
            let nexts: Vec<Operand> = carried
                .iter()
                .zip(&params)
                .map(|((name, _), param)| Operand::Node(self.lookup(name).unwrap_or(*param)))
                .collect();
            let body_block = self.exit_region(nexts);
            let body_errors = std::mem::replace(&mut *self.errors, outer_errors);
            let mut grew = false;
            for (next, active) in body_block.results.iter().zip(&mut active) {
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
            let trips = self.push_detached(Node {
                name: placeholder(),
                hint: Hint::Op("trips".into()),
                kind: NodeKind::LoopTrips,
                active: false,
                ty: Some(syn::parse_quote!(usize)),
                annotation: None,
                span: span_of(body),
                region: 0,
                array: None,
            });
            let (var, iter) = match header {
                Header::For { iter, .. } => (var_node, Some(iter.clone())),
                Header::Slices { len, .. } => (var_node, Some(len.clone())),
                _ => (None, None),
            };
            let var_start = iter.as_ref().and_then(range_start);
            let fixed_trips = match exit {
                None => iter.as_ref().and_then(constant_trips),
                Some(_) => None,
            };
            self.emit(IrStmt::Loop(Loop {
                id,
                var,
                iter,
                iter_locals: iter_locals.clone(),
                carried,
                body: body_block,
                trips,
                exit,
                var_start,
                fixed_trips,
            }));
            return;
        }
    }

    /// A node measuring an array's length, for the backward pass's adjoint.
    fn length_of(&mut self, array: NodeId, name: &Ident) -> NodeId {
        self.push(Node {
            name: placeholder(),
            hint: Hint::Op(format!("{}_len", key(name))),
            kind: NodeKind::Len { array },
            active: false,
            ty: Some(syn::parse_quote!(usize)),
            annotation: None,
            span: name.span(),
            region: 0,
            array: None,
        })
    }

    /// The array a local names, if it is one.
    fn array_local(&self, expr: &Expr) -> Option<NodeId> {
        let id = self.local(strip_parens(expr))?;
        self.nodes[id].array.is_some().then_some(id)
    }

    /// `[0.0; 16]` or `vec![0.0; n]`: a buffer of floats, active when the function
    /// has differentiable inputs (what is written into it may depend on them).
    fn buffer(
        &mut self,
        fill: &Expr,
        len: &Expr,
        fixed: bool,
        annotation: Option<&syn::Type>,
        expr: &Expr,
    ) -> Operand {
        if self.mentions_active(fill) {
            self.errors.spanned(
                fill,
                "a buffer must start from a constant, as in `[0.0; 16]`; write the values in a loop",
            );
            return self.dummy();
        }
        let element = annotation.and_then(Shape::of).map(|(float, _, _)| float);
        let float = element.or_else(|| literal_float(fill)).or_else(|| {
            is_float_literal(&strip_parens(fill).to_token_stream()).then_some(self.ret)
        });
        let fill = match (element, strip_parens(fill)) {
            // `let b: [f64; 3] = [0.0; 3];`: the annotation typed the literal,
            // and the generated `let` has no annotation, so the literal says it.
            (Some(float), Expr::Lit(lit)) if is_float_literal(&lit.to_token_stream()) => {
                Operand::Const(Constant {
                    tokens: float.typed_literal(&lit.to_token_stream().to_string()),
                    atomic: true,
                    float: Some(float),
                })
            }
            _ => self.expr(fill),
        };
        let len = self.expr(len);
        let active = float.is_some()
            && self
                .nodes
                .iter()
                .any(|n| matches!(n.kind, NodeKind::Param) && n.active);
        let id = self.push(Node {
            name: placeholder(),
            hint: Hint::Op("buffer".into()),
            kind: NodeKind::Buffer {
                fill,
                len: len.clone(),
                fixed,
            },
            active,
            ty: float.map(FloatTy::to_type),
            annotation: None,
            span: span_of(expr),
            region: 0,
            array: Some(ArrayInfo { len, fixed }),
        });
        Operand::Node(id)
    }

    /// `w.to_vec()`, `w.clone()`, or `w` into a `let mut`: a copy of an array,
    /// to write into. A copy of a data slice is a buffer like any other: what
    /// is written into it may depend on the inputs.
    fn copied_array(&self, expr: &Expr, mutable: bool) -> Option<(NodeId, Ident)> {
        let (source, explicit) = match strip_parens(expr) {
            Expr::MethodCall(call)
                if call.args.is_empty() && (call.method == "to_vec" || call.method == "clone") =>
            {
                (strip_parens(&call.receiver), true)
            }
            other if mutable => (other, false),
            _ => return None,
        };
        let Expr::Path(path) = source else {
            return None;
        };
        let name = path.path.get_ident()?.clone();
        let id = self.array_local(source)?;
        // `let mut p = q;` of a data slice only copies the reference.
        (explicit || self.nodes[id].active).then_some((id, name))
    }

    /// A new buffer with the source's length, filled element by element: the
    /// loop a person writes when only `vec![0.0; n]` is allowed.
    fn copy_array(&mut self, target: &Ident, source: NodeId, source_name: &Ident, expr: &Expr) {
        let Some(info) = self.nodes[source].array.clone() else {
            return;
        };
        let float = self.nodes[source].float().unwrap_or(self.ret);
        let buffer = self.zero_buffer(Hint::User(target.clone()), float, info, span_of(expr));
        self.declare(target, buffer);
        // A loop variable that is neither array's name.
        let index = ["k", "j", "i"]
            .into_iter()
            .find(|n| target != n && source_name != n)
            .map_or_else(
                || quote::format_ident!("k"),
                |n| quote::format_ident!("{n}"),
            );
        let looped: syn::ExprForLoop = syn::parse_quote_spanned! {expr.span()=>
            for #index in 0..#source_name.len() {
                #target[#index] = #source_name[#index];
            }
        };
        self.for_loop(&looped);
    }

    /// `[a, b, c]` of differentiated values: a buffer of that length, written
    /// element by element, as a person would if only `[0.0; 3]` were allowed.
    fn array_literal(
        &mut self,
        array: &syn::ExprArray,
        annotation: Option<&syn::Type>,
        expr: &Expr,
        fixed: bool,
    ) -> Operand {
        let values: Vec<Operand> = array.elems.iter().map(|e| self.expr(e)).collect();
        let float = annotation
            .and_then(Shape::of)
            .map(|(float, _, _)| float)
            .or_else(|| values.iter().find_map(|v| self.float_of(v)))
            .unwrap_or(self.ret);
        // Lengths and indices, spelled without a `usize` suffix.
        let constant = |n: usize| {
            let n = proc_macro2::Literal::usize_unsuffixed(n);
            Operand::Const(Constant {
                tokens: quote!(#n),
                atomic: true,
                float: None,
            })
        };
        let len = constant(array.elems.len());
        let info = ArrayInfo { len, fixed };
        let buffer = self.zero_buffer(Hint::Op("array".into()), float, info, span_of(expr));
        for ((k, value), element) in values.into_iter().enumerate().zip(&array.elems) {
            self.write_node(buffer, constant(k), value, span_of(element));
        }
        Operand::Node(buffer)
    }

    /// `vec![0.0; n]`.
    fn vec_buffer(
        &mut self,
        mac: &syn::Macro,
        annotation: Option<&syn::Type>,
        expr: &Expr,
    ) -> Operand {
        let parsed = mac.parse_body_with(|input: syn::parse::ParseStream| {
            let fill: Expr = input.parse()?;
            input.parse::<syn::Token![;]>()?;
            let len: Expr = input.parse()?;
            Ok((fill, len))
        });
        let elements = mac
            .parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated);
        match (parsed, elements) {
            (Ok((fill, len)), _) => self.buffer(&fill, &len, false, annotation, expr),
            // `vec![a, b, c]` of differentiated values: a buffer written element
            // by element.
            (Err(_), Ok(elems)) => {
                let array = syn::ExprArray {
                    attrs: Vec::new(),
                    bracket_token: syn::token::Bracket(*mac.delimiter.span()),
                    elems,
                };
                if self.literal_is_buffer(&array) {
                    self.array_literal(&array, annotation, expr, false)
                } else {
                    // Data: the same vector, spelled without a macro so that the
                    // locals it mentions are seen.
                    let data: Expr = syn::parse_quote_spanned!(expr.span()=> #array.to_vec());
                    self.inactive(&data)
                }
            }
            _ => {
                self.errors.spanned(
                    mac,
                    "only `vec![value; length]` is supported; build other vectors outside the function",
                );
                self.dummy()
            }
        }
    }

    /// The differentiated array an iterator chain starts from: `w` in
    /// `w.iter().map(..)`.
    fn chain_root_array(&self, expr: &Expr) -> Option<NodeId> {
        match strip_parens(expr) {
            // A reduction's result is a float, not a chain.
            Expr::MethodCall(call)
                if ["sum", "product", "fold"].contains(&call.method.to_string().as_str()) =>
            {
                None
            }
            Expr::MethodCall(call) => self.chain_root_array(&call.receiver),
            Expr::Reference(r) => self.chain_root_array(&r.expr),
            other => self.array_local(other).filter(|id| self.nodes[*id].active),
        }
    }

    /// `a[i]` of an array local.
    fn read(&mut self, array: NodeId, index: &Expr, expr: &Expr) -> Operand {
        let index = self.index(index);
        let hint = self.element_hint(array);
        Operand::Node(self.read_node(array, index, hint, span_of(expr)))
    }

    /// `w_i`: the name of an element read from `w`.
    fn element_hint(&self, array: NodeId) -> Hint {
        Hint::Op(format!("{}_i", key(&node_ident(&self.nodes[array]))))
    }

    /// A read of one element, as active as its array.
    fn read_node(&mut self, array: NodeId, index: Operand, hint: Hint, span: Span) -> NodeId {
        let node = &self.nodes[array];
        let read = Node {
            name: placeholder(),
            hint,
            kind: NodeKind::Read { array, index },
            active: node.active,
            ty: node.ty.clone(),
            annotation: None,
            span,
            region: 0,
            array: None,
        };
        self.push(read)
    }

    fn index(&mut self, tokens: &Expr) -> Operand {
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
    fn write(
        &mut self,
        target: &syn::ExprIndex,
        op: Option<&'static str>,
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
    fn write_data(
        &mut self,
        list: NodeId,
        target: &syn::ExprIndex,
        op: Option<&'static str>,
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
        let symbol = op.map(operator_symbol);
        let statement = self.inactive_template(
            |parts| {
                let (a, i, v) = (&parts[0], &parts[1], &parts[2]);
                match &symbol {
                    Some(symbol) => quote!({ #a[#i] = #a[#i] #symbol #v; }),
                    None => quote!({ #a[#i] = #v; }),
                }
            },
            &[Operand::Node(list), index, value],
            span,
        );
        self.as_statement(&statement, "written");
        self.mark_changed(list);
    }

    /// A call statement on data only; the data it may change (every local
    /// passed to it, by `&mut` or as a `&mut` parameter) is saved where read.
    fn data_call(&mut self, call: &syn::ExprCall, expr: &Expr) {
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
    fn mark_data_passed_mutably(
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
    fn as_statement(&mut self, operand: &Operand, hint: &str) {
        if let Operand::Node(id) = operand {
            self.nodes[*id].hint = Hint::Op(hint.into());
            self.nodes[*id].ty = Some(syn::parse_quote!(()));
        }
    }

    /// Records that data `list` changes: reads of it are saved, not repeated.
    fn mark_changed(&mut self, list: NodeId) {
        if !self.changed_data.contains(&list) {
            self.changed_data.push(list);
        }
    }

    /// `a[i] = value`, as active as its array.
    fn write_node(&mut self, array: NodeId, index: Operand, value: Operand, span: Span) {
        let write = Node {
            name: placeholder(),
            hint: Hint::Op("write".into()),
            kind: NodeKind::Write {
                array,
                index,
                value,
            },
            active: self.nodes[array].active,
            ty: None,
            annotation: None,
            span,
            region: 0,
            array: None,
        };
        self.push(write);
    }

    /// A buffer of `len` zeros of `float`, which differentiated values are
    /// written into: an array literal, or a copy of an array.
    fn zero_buffer(&mut self, hint: Hint, float: FloatTy, info: ArrayInfo, span: Span) -> NodeId {
        self.push(Node {
            name: placeholder(),
            hint,
            kind: NodeKind::Buffer {
                fill: Operand::Const(Constant {
                    tokens: float.zero(),
                    atomic: true,
                    float: Some(float),
                }),
                len: info.len.clone(),
                fixed: info.fixed,
            },
            active: true,
            ty: Some(float.to_type()),
            annotation: None,
            span,
            region: 0,
            array: Some(info),
        })
    }

    /// Another version of a loop's variable: at the start of an iteration, or
    /// after the loop.
    fn version_of(&self, variable: NodeId, kind: NodeKind, active: bool) -> Node {
        let node = &self.nodes[variable];
        Node {
            name: placeholder(),
            hint: node.hint.clone(),
            kind,
            active,
            ty: node.ty.clone(),
            annotation: None,
            span: node.span,
            region: 0,
            array: None,
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
        self.unrolled_iterations(&pat.ident, &elements, looped);
    }

    /// The body once per element. After a body that may `return`, the rest
    /// runs only if it did not, as after any statement that may leave.
    fn unrolled_iterations(
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

    fn assigned_outer_variables_in(&self, expr: &Expr) -> Vec<(String, NodeId)> {
        // Built, not parsed: printing any expression does not make a block
        // that parses (`let` is no expression of its own).
        let block = syn::Block {
            brace_token: syn::token::Brace::default(),
            stmts: vec![Stmt::Expr(expr.clone(), None)],
        };
        self.assigned_outer_variables(&block)
    }

    /// Variables declared outside `body` that it assigns, in order.
    fn assigned_outer_variables(&self, body: &syn::Block) -> Vec<(String, NodeId)> {
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
                if compound_operator(&expr.op).is_some() {
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
            if let Some(id) = self.lookup(&name) {
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
                if let Expr::Closure(closure) = strip_parens(expr) {
                    return self.define_closure(&p.ident, closure);
                }
                if let Expr::MethodCall(call) = strip_parens(expr) {
                    // Over any slice: `collect` fills a buffer in a loop.
                    if self.array_local(&call.receiver).is_none() {
                        let float = annotation
                            .and_then(Shape::of)
                            .map(|(float, _, _)| float)
                            .or_else(|| turbofish_float(call.turbofish.as_ref()))
                            .unwrap_or(self.ret);
                        if let Some(stmts) = desugar::collect(&p.ident, call, &float.zero()) {
                            self.stmts(&stmts, Tail::Unit, expr.span());
                            return;
                        }
                    }
                }
                if let Some((source, source_name)) = self.copied_array(expr, p.mutability.is_some()) {
                    return self.copy_array(&p.ident, source, &source_name, expr);
                }
                let mark = self.nodes.len();
                let value = match strip_parens(expr) {
                    Expr::Repeat(repeat) => self.buffer(&repeat.expr, &repeat.len, true, annotation, expr),
                    Expr::Macro(mac) if mac.mac.path.is_ident("vec") => self.vec_buffer(&mac.mac, annotation, expr),
                    Expr::Array(array) if self.literal_is_buffer(array) => self.array_literal(array, annotation, expr, true),
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
                _ => self.errors.spanned(
                    slice,
                    "an array pattern needs a call of a function that returns an array on the right, as in `let [a, b] = f(x);`",
                ),
            },
            // The value is computed, as Rust does, and nothing reads it: it
            // gets no adjoint.
            Pat::Wild(_) => {
                self.expr(expr);
            }
            _ => self.errors.spanned(
                pat,
                "only `let name = ...` and `let (a, b) = (..., ...)` are supported here",
            ),
        }
    }

    /// `let (a, b) = (e1, e2);`: every right-hand side is evaluated before any name
    /// is bound, so `let (a, b) = (b, a);` swaps.
    fn bind_tuple(&mut self, tuple: &syn::PatTuple, expr: &Expr, annotation: Option<&syn::Type>) {
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
            if let Some(elements) = desugar::split_tuple(expr, tuple.elems.len()) {
                let span = expr.span();
                let tuple_expr: Expr = syn::parse_quote_spanned!(span=> (#(#elements,)*));
                return self.bind_tuple(tuple, &tuple_expr, annotation);
            }
        }
        let Expr::Tuple(values) = strip_parens(expr) else {
            self.errors.spanned(
                expr,
                "a tuple pattern needs a tuple expression on the right, as in `let (a, b) = (x, y);`, or a call of a function with several outputs",
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

    /// `update(&mut a, &mut b)`: a differentiated callee with `&mut f64`
    /// parameters. Its outputs are its value (when used) and the final values
    /// of the `&mut` arguments, which become the variables' next versions.
    fn call_with_mut_arguments(
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
        let mut args = Vec::new();
        let mut borrows = Vec::new();
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
            match strip_parens(arg) {
                Expr::Reference(r) if r.mutability.is_some() => {
                    let local = match strip_parens(&r.expr) {
                        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
                        _ => None,
                    };
                    let Some((ident, id)) =
                        local.and_then(|i| self.lookup(&key(&i)).map(|id| (i, id)))
                    else {
                        self.errors
                            .spanned(arg, "only local variables can be passed by `&mut`");
                        return self.dummy();
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
                other => args.push(self.expr(other)),
            }
        }
        let active = args.iter().any(|a| self.is_active(a));
        let float = args
            .iter()
            .find_map(|a| self.float_of(a))
            .unwrap_or(self.ret);
        let callee = path
            .segments
            .last()
            .map(|s| key(&s.ident))
            .unwrap_or_default();
        // The value (when used), then what the callee writes, in argument order.
        let outputs = usize::from(value_used) + borrows.iter().filter(|b| b.writes()).count();
        let output_of =
            |k: usize| usize::from(value_used) + borrows[..k].iter().filter(|b| b.writes()).count();
        let id = self.push(Node {
            name: placeholder(),
            hint: Hint::Op(format!("{callee}_out")),
            kind: NodeKind::Call {
                path,
                args,
                tape: placeholder(),
                arg_spans: call.args.iter().map(Spanned::span).collect(),
                outputs,
                borrows: borrows.clone(),
                tape_args,
            },
            active,
            ty: None,
            annotation: None,
            span: expr.span(),
            region: 0,
            array: None,
        });
        let element = |index: usize, source: ElementSource, hint: Hint| Node {
            name: placeholder(),
            hint,
            kind: NodeKind::Element {
                call: id,
                index,
                source,
            },
            active,
            ty: Some(float.to_type()),
            annotation: None,
            span: expr.span(),
            region: 0,
            array: None,
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
            self.rebind(&key(ident), version);
        }
        value
    }

    /// `let (a, b) = f(x);` where `f` returns a tuple: one call, one element node
    /// per name.
    /// `let [a, b] = f(x);` likewise, with `source` `Item`.
    fn bind_outputs(
        &mut self,
        elems: &syn::punctuated::Punctuated<Pat, syn::Token![,]>,
        pattern: &dyn ToTokens,
        call: &syn::ExprCall,
        expr: &Expr,
        source: ElementSource,
    ) {
        // A name, or `_`, for each output.
        let names: Option<Vec<Option<Ident>>> = elems
            .iter()
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
        if let NodeKind::Call { outputs, .. } = &mut self.nodes[id].kind {
            *outputs = names.len();
        }
        self.nodes[id].ty = None;
        for (index, name) in names.iter().enumerate() {
            let Some(name) = name else { continue };
            let element = if active {
                self.push(Node {
                    name: placeholder(),
                    hint: Hint::User(name.clone()),
                    kind: NodeKind::Element {
                        call: id,
                        index,
                        source,
                    },
                    active: true,
                    ty: float.clone(),
                    annotation: None,
                    span: name.span(),
                    region: 0,
                    array: None,
                })
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
                array: None,
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
                    array: None,
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
                        .map(FloatTy::to_type)
                        .or_else(|| {
                            // A constant expression: `(0.75_f64.powi(2) + 1.5) * 3.0`.
                            syn::parse2::<Expr>(tokens.clone())
                                .ok()
                                .and_then(|e| self.guess_type(&e))
                        }),
                    kind: NodeKind::Inactive {
                        expr: syn::parse_quote!(#tokens),
                        locals: Vec::new(),
                    },
                    active: false,
                    annotation: None,
                    span,
                    region: 0,
                    array: None,
                }
            }
        }
    }

    fn assigned_local(&mut self, target: &Expr) -> Option<(Ident, NodeId)> {
        let ident = match strip_parens(target) {
            Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
            // `*i = ...` for a `&mut f64` parameter `i`.
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => match strip_parens(&u.expr) {
                Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
                _ => None,
            },
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
        if let Expr::Index(target) = strip_parens(&assign.left) {
            self.write(target, None, &assign.right, assign);
            return;
        }
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
            self.rebind(&key(&ident), id);
        }
    }

    fn expr(&mut self, expr: &Expr) -> Operand {
        match expr {
            Expr::Paren(p) => return self.expr(&p.expr),
            // `*i` of a `&mut f64` parameter, `**v` in a filter: the value.
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => {
                if let Some(id) = dereferenced(expr).and_then(|inner| self.local(inner)) {
                    return Operand::Node(id);
                }
            }
            Expr::Call(call) if has_mut_argument(call) => {
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
                    // At the operator, where rustc reports type errors of `a + b`.
                    self.arithmetic(name, a, b, &binary.op)
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
            array: None,
        });
        Operand::Node(id)
    }

    /// `x as f32`, `f64::from(x)`.
    fn cast(&mut self, inner: &Expr, to: FloatTy, expr: &Expr) -> Operand {
        if !self.mentions_active(inner) && !contains_branch(inner) {
            return self.inactive(expr);
        }
        let arg = self.expr(inner);
        if !self.is_active(&arg) {
            return self.inactive_template(|a| quote!(#(#a)* as #to), &[arg], expr);
        }
        let id = self.push(Node {
            name: placeholder(),
            hint: Hint::Op("cast".into()),
            kind: NodeKind::Cast { to, arg },
            active: true,
            ty: Some(to.to_type()),
            annotation: None,
            span: expr.span(),
            region: 0,
            array: None,
        });
        Operand::Node(id)
    }

    fn method_call(&mut self, call: &syn::ExprMethodCall, expr: &Expr) -> Operand {
        let name = call.method.to_string();
        // `T::from(x).unwrap()` of a differentiated `x: T`: the same value.
        if name == "unwrap" && call.args.is_empty() {
            if let Some(arg) = self.same_float_conversion(&call.receiver) {
                return self.expr(arg);
            }
            if self.mentions_active(&call.receiver) {
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
            let float = turbofish_float(call.turbofish.as_ref()).unwrap_or(self.ret);
            if let Some(looped) = desugar::reduction(call, &float.zero(), &float.one()) {
                return self.expr(&looped);
            }
            if self.chain_root_array(&call.receiver).is_some() {
                self.errors.spanned(
                    expr,
                    "this iterator chain over a differentiated slice is not supported: chains of `iter`, `zip`, `enumerate`, `rev`, `skip`, `take`, `windows`, `map`, `filter`, `copied` ending in `sum`, `product`, `fold` or `collect` into a `let` are; else write the loop, as in `for v in w.iter() { total += v * v; }`",
                );
                return self.dummy();
            }
        }
        if self.array_local(&call.receiver).is_some() {
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

    /// `x` of `T::from(x)` when `x` is differentiated and already of the
    /// function's float type `T` (generic code converts that way).
    fn same_float_conversion<'e>(&self, expr: &'e Expr) -> Option<&'e Expr> {
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
        let float = FloatTy::from_ident(&ty.ident)?;
        let arg_operand_float = self.guess_type(arg).as_ref().and_then(FloatTy::from_type);
        (from.ident == "from" && self.mentions_active(arg) && arg_operand_float == Some(float))
            .then_some(arg)
    }

    /// `x.floor()`, `x.powi(0)`: no derivative. The call is kept as written,
    /// after lowering a receiver or argument that cannot be (a branch, a
    /// block, an iterator chain).
    fn piecewise_constant(&mut self, call: &syn::ExprMethodCall, expr: &Expr) -> Operand {
        // Kept as written only when nothing in it must be lowered: a
        // closure (inlined where called) counts as a mention.
        if !contains_branch(expr) && !self.mentions_active(expr) {
            return self.inactive(expr);
        }
        let mut operands = vec![self.expr(&call.receiver)];
        operands.extend(call.args.iter().map(|a| self.expr(a)));
        let ty = self.type_of(&operands[0]);
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

    /// `println!("{x}")`, `dbg!(x)`: printed by the forward pass, with the
    /// values the names have at that point (the generated code names versions
    /// of a variable differently, so each is bound to its name first). Nothing
    /// in it gets an adjoint.
    fn print_statement(&mut self, mac: &syn::Macro) {
        let mut names = Vec::new();
        names_in_macro(mac.tokens.clone(), &mut names);
        let mut seen = Vec::new();
        let mut operands = Vec::new();
        for name in names {
            if seen.contains(&name) {
                continue;
            }
            if let Some(id) = self.lookup(&name) {
                seen.push(name);
                operands.push(Operand::Node(id));
            }
        }
        let bound: Vec<Ident> = seen
            .iter()
            .map(|n| Ident::new(n, Span::call_site()))
            .collect();
        let operand = self.inactive_template(
            |values| quote!({ #(let #bound = #values;)* #mac; }),
            &operands,
            mac,
        );
        self.as_statement(&operand, "printed");
    }

    /// `let f = |t: f64| t * x;`: remembered with what it captures, and inlined
    /// at each call. A closure that assigns to a captured variable or returns
    /// early is refused.
    fn define_closure(&mut self, ident: &Ident, closure: &syn::ExprClosure) {
        if let Some(token) = &closure.asyncness {
            self.errors
                .spanned(token, "async closures cannot be differentiated");
            return;
        }
        let mut exits = ExitFinder::default();
        exits.visit_expr(&closure.body);
        if exits.returns {
            self.errors.spanned(
                closure,
                "a closure with `return` is not supported; write a `#[differentiate]` function",
            );
            return;
        }
        if let Some((name, _)) = self.assigned_outer_variables_in(&closure.body).first() {
            self.errors.spanned(
                closure,
                format!("a closure that changes a captured variable (`{name}`) is not supported; return the new value instead"),
            );
            return;
        }
        let environment = self
            .scopes
            .iter()
            .flatten()
            .filter(|(name, _)| !name.starts_with('#'))
            .cloned()
            .collect();
        self.closures.push(Closure {
            expr: closure.clone(),
            environment,
        });
        let id = CLOSURE + self.closures.len() - 1;
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((key(ident), id));
        }
    }

    /// A call of a closure: its body, lowered where the call is, with the
    /// parameters bound to the arguments and the captured variables as they
    /// were where the closure was written.
    fn inline_closure(&mut self, k: usize, call: &syn::ExprCall) -> Operand {
        let closure = self.closures[k].expr.clone();
        if closure.inputs.len() != call.args.len() {
            self.errors.spanned(
                call,
                format!("this closure takes {} arguments", closure.inputs.len()),
            );
            return self.dummy();
        }
        let args: Vec<Operand> = call.args.iter().map(|a| self.expr(a)).collect();
        let environment = self.closures[k].environment.clone();
        self.scopes.push(environment);
        self.scopes.push(Vec::new());
        for (pat, arg) in closure.inputs.iter().zip(args) {
            let (pat, ty) = match pat {
                Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
                other => (other, None),
            };
            let annotation = ty.filter(|ty| FloatTy::from_type(ty).is_some());
            match pat {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                    let mark = self.nodes.len();
                    let id = self.bind(&p.ident, arg, mark, annotation);
                    self.declare(&p.ident, id);
                }
                Pat::Wild(_) => {}
                other => self.errors.spanned(
                    other,
                    "a closure's parameters must be names, as in `|t: f64| t * t`",
                ),
            }
        }
        let value = self.expr(&closure.body);
        self.scopes.pop();
        self.scopes.pop();
        value
    }

    fn call(&mut self, call: &syn::ExprCall, expr: &Expr) -> Operand {
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
        let Some((path, tape_args)) = self.callee(path) else {
            return self.dummy();
        };
        let path = &path;
        let (args, borrows) = self.call_arguments(call);
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
                outputs: 1,
                borrows,
                tape_args,
            },
            active: true,
            ty: Some(float.unwrap_or(self.ret).to_type()),
            annotation: None,
            span: expr.span(),
            region: 0,
            array: None,
        });
        Operand::Node(id)
    }

    /// A callee's module path, and the generic arguments of its `Tape`:
    /// `dot::<f64>` gives `dot` and `<f64>`; in a generic function, callees are
    /// generic over the same float.
    fn callee(&mut self, path: &syn::Path) -> Option<(syn::Path, proc_macro2::TokenStream)> {
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
            syn::PathArguments::None if self.ret == FloatTy::Generic => {
                let float = self.ret;
                quote!(<#float>)
            }
            _ => quote!(),
        };
        Some((path, tape_args))
    }

    /// The arguments of a call to a differentiated function. A differentiated
    /// array is passed whole, as the user wrote it (`w`, `&h`): the callee's
    /// pullback hands back its adjoint as a whole.
    fn call_arguments(&mut self, call: &syn::ExprCall) -> (Vec<Operand>, Vec<Borrow>) {
        call.args
            .iter()
            .map(|arg| {
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
            .unzip()
    }

    /// `scale(x, 2.0);` with `x: &mut [f64]`: a call statement that passes
    /// on an array this function writes is taken to write it.
    fn passes_written_param(&self, call: &syn::ExprCall) -> bool {
        call.args.iter().any(|arg| {
            self.array_local(arg)
                .is_some_and(|id| self.written_params.contains(&id))
        })
    }

    /// `w`, `&h` or `&mut h`, naming a differentiated array local.
    fn passed_array(&self, arg: &Expr) -> Option<(NodeId, Borrow)> {
        let (local, borrow) = match strip_parens(arg) {
            Expr::Reference(r) if r.mutability.is_some() => (&*r.expr, Borrow::Mutable),
            Expr::Reference(r) => (&*r.expr, Borrow::Shared),
            other => (other, Borrow::Plain),
        };
        let id = self.array_local(local)?;
        self.nodes[id].active.then_some((id, borrow))
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
            array: None,
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
                atomic: matches!(
                    strip_parens(expr),
                    Expr::Lit(_) | Expr::Path(_) | Expr::Call(_) | Expr::MethodCall(_)
                ),
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
            array: None,
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

    /// Whether the expression's value may depend on a differentiable input. An
    /// array counts where its elements are used (`w[i]`, passing `w` on), not
    /// where only its length is (`w.len()`).
    fn mentions_active(&self, expr: &Expr) -> bool {
        struct Finder<'l, 'a> {
            lowerer: &'l Lowerer<'a>,
            found: bool,
        }
        impl<'ast> Visit<'ast> for Finder<'_, '_> {
            fn visit_expr(&mut self, expr: &'ast Expr) {
                if self.found {
                    return;
                }
                match expr {
                    Expr::MethodCall(call)
                        if (call.method == "len" || call.method == "is_empty")
                            && self.lowerer.array_local(&call.receiver).is_some() => {}
                    Expr::Path(_) => {
                        if let Some(id) = self.lowerer.local(expr) {
                            self.found |= self.lowerer.nodes[id].active;
                        }
                        // A closure is inlined wherever it is called.
                        self.found |= self.lowerer.closure_named(expr).is_some();
                    }
                    _ => syn::visit::visit_expr(self, expr),
                }
            }
        }
        let mut finder = Finder {
            lowerer: self,
            found: false,
        };
        finder.visit_expr(expr);
        finder.found
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
    /// Whether an array literal is a buffer of floats (lowered element by
    /// element) rather than data kept as written.
    fn literal_is_buffer(&self, array: &syn::ExprArray) -> bool {
        let literal = Expr::Array(array.clone());
        self.mentions_active(&literal) || self.holds_floats(array) || contains_branch(&literal)
    }

    /// Whether an array literal holds floats (`[1.0, 0.0]`, `vec![T::one(), x]`:
    /// a literal, or a value whose type is known to be a float): then it is a
    /// buffer the function may write differentiated values into.
    fn holds_floats(&self, array: &syn::ExprArray) -> bool {
        array.elems.iter().any(|e| {
            let e = match strip_parens(e) {
                Expr::Unary(u) => &*u.expr,
                other => other,
            };
            literal_float(e).is_some()
                || is_float_literal(&strip_parens(e).to_token_stream())
                || self
                    .guess_type(e)
                    .as_ref()
                    .and_then(FloatTy::from_type)
                    .is_some()
        })
    }

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
            // `r.to_vec()`, `r.clone()` of a list: a `Vec` of its elements.
            Expr::MethodCall(m) if m.method == "to_vec" || m.method == "clone" => {
                let element = element_type(&self.guess_type(&m.receiver)?)?;
                Some(syn::parse_quote!(::std::vec::Vec<#element>))
            }
            // `r[n]`: an element of a list whose type is known.
            Expr::Index(index) => match self.array_local(&index.expr) {
                Some(array) if self.nodes[array].float().is_some() => {
                    self.nodes[array].float().map(FloatTy::to_type)
                }
                // A data slice parameter: a float array too.
                Some(array) if matches!(self.nodes[array].kind, NodeKind::Param) => {
                    Some(self.ret.to_type())
                }
                _ => element_type(&self.guess_type(&index.expr)?),
            },
            Expr::MethodCall(m) if m.method == "unwrap" => self.guess_type(&m.receiver),
            // Integer arithmetic by method keeps the receiver's type.
            Expr::MethodCall(m)
                if [
                    "saturating_sub",
                    "saturating_add",
                    "wrapping_sub",
                    "wrapping_add",
                    "abs_diff",
                    "pow",
                    "div_ceil",
                ]
                .contains(&m.method.to_string().as_str()) =>
            {
                self.guess_type(&m.receiver)
            }
            Expr::Call(c) => match strip_parens(&c.func) {
                Expr::Path(p) => float_function(&p.path).map(|(float, _)| float.to_type()),
                _ => None,
            },
            _ => None,
        }
    }
}

const MACRO_MESSAGE: &str =
    "macros cannot be differentiated: `#[differentiate]` sees only the macro call, not its expansion; write the computation as plain Rust (`vec!`, `println!`, `eprintln!`, `dbg!` and the assertions are accepted)";

/// Constructs outside the supported language, with what to do instead.
fn unsupported(expr: &Expr) -> Option<&'static str> {
    Some(match expr {
        Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => {
            "a loop has no value here; use it as a statement"
        }
        Expr::Break(_) | Expr::Continue(_) | Expr::Return(_) => {
            "`break`, `continue` and `return` are supported as statements, not inside an expression"
        }
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

/// The start of `start..end` or `start..=end` when it is a literal or a constant
/// path, which the backward pass can spell again.
fn range_start(iter: &Expr) -> Option<proc_macro2::TokenStream> {
    let Expr::Range(range) = strip_parens(iter) else {
        return None;
    };
    let start = strip_parens(range.start.as_deref()?);
    (is_constant(start) && range.end.is_some()).then(|| start.to_token_stream())
}

/// The number of iterations of `start..end` or `start..=end` when both are
/// constants: a loop without `break` runs exactly that many times, so the
/// backward pass need not save its count.
fn constant_trips(iter: &Expr) -> Option<proc_macro2::TokenStream> {
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
    Some(match range.limits {
        syn::RangeLimits::HalfOpen(_) => quote!((#end - #start)),
        syn::RangeLimits::Closed(_) => quote!((#end + 1 - #start)),
    })
}

/// A literal or a constant's path: the backward pass may spell it again.
fn is_constant(expr: &Expr) -> bool {
    matches!(expr, Expr::Lit(_))
        || matches!(expr, Expr::Path(p) if p.path.segments.len() > 1 || p.path.get_ident().is_some_and(is_constant_name))
}

/// The variable an assignment target names: `a`, or `*a` for a `&mut` one.
fn assigned_name(target: &Expr) -> Option<&Ident> {
    match strip_parens(target) {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => assigned_name(&u.expr),
        _ => None,
    }
}

/// A call that passes a local by `&mut`: `update(&mut a, &mut b)`.
fn has_mut_argument(call: &syn::ExprCall) -> bool {
    call.args
        .iter()
        .any(|arg| matches!(strip_parens(arg), Expr::Reference(r) if r.mutability.is_some()))
}

/// `T` of `&[T]`, `&mut [T]`, `[T; N]`, `Vec<T>` or `&Vec<T>`.
pub fn element_type(ty: &syn::Type) -> Option<syn::Type> {
    match ty {
        syn::Type::Reference(r) => element_type(&r.elem),
        syn::Type::Slice(s) => Some((*s.elem).clone()),
        syn::Type::Array(a) => Some((*a.elem).clone()),
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            match args.args.first() {
                Some(syn::GenericArgument::Type(t)) if last.ident == "Vec" => Some(t.clone()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `println!`, `eprintln!`, `print!`, `eprint!`, `dbg!`: for debugging.
fn is_print(mac: &syn::Macro) -> bool {
    mac.path.get_ident().is_some_and(|name| {
        matches!(
            name.to_string().as_str(),
            "println" | "eprintln" | "print" | "eprint" | "dbg"
        )
    })
}

/// The names a macro's tokens may read: identifiers, and the `{name}` and
/// `{name:?}` captures of its string literals.
fn names_in_macro(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Ident(ident) => out.push(key(&ident)),
            proc_macro2::TokenTree::Group(group) => names_in_macro(group.stream(), out),
            proc_macro2::TokenTree::Literal(lit) => {
                let text = lit.to_string();
                for capture in text.split('{').skip(1) {
                    let name: String = capture
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                        out.push(name);
                    }
                }
            }
            proc_macro2::TokenTree::Punct(_) => {}
        }
    }
}

/// `assert!`, `debug_assert!` and their `_eq`/`_ne` forms.
fn is_assertion(mac: &syn::Macro) -> bool {
    mac.path.get_ident().is_some_and(|name| {
        matches!(
            name.to_string().as_str(),
            "assert"
                | "assert_eq"
                | "assert_ne"
                | "debug_assert"
                | "debug_assert_eq"
                | "debug_assert_ne"
        )
    })
}

/// Statements that are expressions but have no value to give.
fn is_statement_only(expr: &Expr) -> bool {
    diverges(expr)
        || matches!(
            expr,
            Expr::Assign(_) | Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_)
        )
        || matches!(expr, Expr::Binary(b) if compound_operator(&b.op).is_some())
}

fn diverges(expr: &Expr) -> bool {
    matches!(expr, Expr::Break(_) | Expr::Continue(_) | Expr::Return(_))
}

/// The value of a block on a path that left it: never used, any float will do
/// (a zero, since a generic `T: Float` has no `Default`).
fn unused_float(float: FloatTy) -> Operand {
    Operand::Const(Constant {
        tokens: float.zero(),
        atomic: true,
        float: Some(float),
    })
}

/// A statement that may leave its block: it contains a `return`, or a `break` or
/// `continue` for a loop outside it.
fn may_exit(stmt: &Stmt) -> bool {
    let mut finder = ExitFinder::default();
    finder.visit_stmt(stmt);
    finder.leaves_code()
}

/// A `return`, or a `break` or `continue` for a loop around `block`.
/// `break` or `continue` anywhere in `block` (a `return` is not counted).
fn breaks_or_continues(block: &syn::Block) -> bool {
    let mut finder = ExitFinder::default();
    finder.visit_block(block);
    finder.leaves || finder.own_breaks || finder.own_continues
}

fn has_exit(block: &syn::Block) -> bool {
    let mut finder = ExitFinder::default();
    finder.visit_block(block);
    finder.leaves_code()
}

fn has_early_return(block: &syn::Block) -> bool {
    let count = block.stmts.len();
    block.stmts.iter().enumerate().any(|(i, stmt)| {
        let mut finder = ExitFinder::default();
        match stmt {
            // The final `return` is the function's value, not an early exit...
            Stmt::Expr(Expr::Return(ret), _) if i + 1 == count => {
                if let Some(expr) = &ret.expr {
                    finder.visit_expr(expr);
                }
            }
            _ => finder.visit_stmt(stmt),
        }
        finder.returns
    })
}

/// How a loop's body leaves it.
struct LoopExits {
    /// `break` for this loop, or any exit that passes through it.
    breaks: bool,
    /// `continue` for this loop.
    continues: bool,
    /// `return`, or `break`/`continue` for an outer loop.
    leaves_outer: bool,
}

fn loop_exits(body: &syn::Block, label: Option<&str>) -> LoopExits {
    let mut finder = ExitFinder {
        own_label: label.map(str::to_string),
        ..ExitFinder::default()
    };
    finder.visit_block(body);
    LoopExits {
        breaks: finder.own_breaks || finder.returns || finder.leaves,
        continues: finder.own_continues,
        leaves_outer: finder.returns || finder.leaves,
    }
}

/// Finds `return`, `break` and `continue`, telling which loop each leaves.
#[derive(Default)]
struct ExitFinder {
    /// Labels of the loops inside the code searched (`None` for unlabelled).
    inner: Vec<Option<String>>,
    /// The label of the loop whose body is searched, if any.
    own_label: Option<String>,
    returns: bool,
    /// An exit for a loop outside the code searched (and outside its own loop).
    leaves: bool,
    own_breaks: bool,
    own_continues: bool,
}

impl ExitFinder {
    /// Control may leave the code searched (not counting exits from loops
    /// inside it).
    fn leaves_code(&self) -> bool {
        self.returns || self.leaves || self.own_breaks || self.own_continues
    }

    fn exit(&mut self, label: Option<&syn::Lifetime>, is_continue: bool) {
        let target = label.map(|l| l.ident.to_string());
        let inside = match &target {
            None => !self.inner.is_empty(),
            Some(name) => self
                .inner
                .iter()
                .any(|l| l.as_deref() == Some(name.as_str())),
        };
        if inside {
            return;
        }
        let own = target.is_none() || target == self.own_label;
        match (own, is_continue) {
            (true, false) => self.own_breaks = true,
            (true, true) => self.own_continues = true,
            (false, _) => self.leaves = true,
        }
    }

    fn nested_loop(&mut self, label: Option<&syn::Label>, visit: impl FnOnce(&mut Self)) {
        self.inner.push(label.map(|l| l.name.ident.to_string()));
        visit(self);
        self.inner.pop();
    }
}

impl<'ast> Visit<'ast> for ExitFinder {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::Return(ret) => {
                self.returns = true;
                syn::visit::visit_expr_return(self, ret);
            }
            Expr::Break(exit) => self.exit(exit.label.as_ref(), false),
            Expr::Continue(exit) => self.exit(exit.label.as_ref(), true),
            Expr::ForLoop(l) => {
                self.visit_expr(&l.expr);
                self.nested_loop(l.label.as_ref(), |s| s.visit_block(&l.body));
            }
            Expr::While(l) => self.nested_loop(l.label.as_ref(), |s| {
                s.visit_expr(&l.cond);
                s.visit_block(&l.body);
            }),
            Expr::Loop(l) => self.nested_loop(l.label.as_ref(), |s| s.visit_block(&l.body)),
            Expr::Closure(_) => {}
            _ => syn::visit::visit_expr(self, expr),
        }
    }
}

/// A `match` arm, its pattern taken apart: `n @ 1..=3 if n != 2`.
struct MatchArm<'a> {
    arm: &'a syn::Arm,
    /// The pattern to test, or `None` when the arm matches anything.
    test: Option<&'a Pat>,
    /// A name for the whole scrutinee (`n` in `n if n > 3` or `n @ 1..=3`).
    binding: Option<&'a Ident>,
    guard: Option<&'a Expr>,
}

impl<'a> MatchArm<'a> {
    fn of(arm: &'a syn::Arm) -> MatchArm<'a> {
        let (pat, guard) = match &arm.pat {
            Pat::Guard(guarded) => (&*guarded.pat, Some(&*guarded.guard)),
            pat => (pat, None),
        };
        let (test, binding) = match pat {
            Pat::Ident(p) if p.by_ref.is_none() && !is_constant_name(&p.ident) => {
                (p.subpat.as_ref().map(|(_, sub)| &**sub), Some(&p.ident))
            }
            Pat::Wild(_) => (None, None),
            pat => (Some(pat), None),
        };
        MatchArm {
            arm,
            test,
            binding,
            guard,
        }
    }
}

/// A lone capitalised name in a pattern is a unit variant or constant.
fn is_constant_name(ident: &Ident) -> bool {
    ident.to_string().starts_with(char::is_uppercase)
}

/// The first variable a pattern binds, if any (`Some(v)`, `n @ 1..=3`).
fn pattern_binding(pat: &Pat) -> Option<&syn::PatIdent> {
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

/// An `if`, block or iterator chain inside an expression: lowered node by
/// node, since its arms may assign variables or hold differentiated values.
fn contains_branch(expr: &Expr) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::If(_) | Expr::Block(_) => self.0 = true,
                // An iterator chain with a closure is lowered as its loop.
                Expr::MethodCall(call) if desugar::is_reduction_with_closure(call) => self.0 = true,
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
        Expr::Array(_) => {
            "an array of differentiated values is supported as a variable: bind it first, as in `let v = [a, b];`"
        }
        Expr::Index(i) if matches!(&*i.expr, Expr::Call(_)) => {
            "name the outputs of a call that returns an array first, as in `let [a, _] = f(x);`"
        }
        Expr::Repeat(_) | Expr::Index(_) => {
            "arrays and indexing of differentiated values are not supported here; index a slice parameter or a local buffer"
        }
        Expr::Field(f) if matches!(&*f.base, Expr::Call(_)) => {
            "name the outputs of a call with several first, as in `let (a, _) = f(x);`"
        }
        Expr::Field(_) | Expr::Struct(_) => {
            "structs holding differentiated values are supported through methods (`#[differentiate]` on the impl and the method) or as separate parameters"
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
            (rules::method(&m.method.to_string()).is_some() || m.method == "unwrap")
                && is_pure(&m.receiver)
                && m.args.iter().all(is_pure)
        }
        // `T::from(2.0)`, `T::zero()`, `f64::sqrt(2.0)`: a function of the float
        // type on constants.
        Expr::Call(c) => {
            matches!(strip_parens(&c.func), Expr::Path(p) if float_function(&p.path).is_some())
                && c.args.iter().all(is_pure)
        }
        _ => false,
    }
}

/// `v` of `*v` or `**v`; `None` unless `expr` dereferences.
pub fn dereferenced(expr: &Expr) -> Option<&Expr> {
    let Expr::Unary(unary) = strip_parens(expr) else {
        return None;
    };
    if !matches!(unary.op, UnOp::Deref(_)) {
        return None;
    }
    let inner = strip_parens(&unary.expr);
    Some(dereferenced(inner).unwrap_or(inner))
}

/// `f64` of `sum::<f64>()` or `collect::<Vec<f64>>()`.
fn turbofish_float(turbofish: Option<&syn::AngleBracketedGenericArguments>) -> Option<FloatTy> {
    match turbofish?.args.first()? {
        syn::GenericArgument::Type(ty) => {
            FloatTy::from_type(ty).or_else(|| Shape::of(ty).map(|(float, _, _)| float))
        }
        _ => None,
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

pub fn strip_parens(expr: &Expr) -> &Expr {
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
        // `T::from(2.0).unwrap()`, `T::one()`.
        Expr::MethodCall(m) if m.method == "unwrap" => literal_float(&m.receiver),
        Expr::Call(c) => match strip_parens(&c.func) {
            Expr::Path(p) => float_function(&p.path).map(|(float, _)| float),
            _ => None,
        },
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
