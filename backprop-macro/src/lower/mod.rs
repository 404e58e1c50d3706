//! Lowering: the function body becomes a Wengert list, one node per operation.
//!
//! Every `let` and every operation on a value that depends on a differentiable
//! input becomes a node. Code that does not depend on one (integer arithmetic,
//! `n as f64`, constants) is kept as the user wrote it: it needs no derivative.
//! Mutation is turned into fresh versions (`a`, `a2`, ...), so the list is in
//! single-assignment form and the backward pass can read any earlier value.
//!
//! One file per construct; each adds methods to the one `Lowerer`:
//! - `builder`: nodes, blocks and the statements that own them; `scopes`: names.
//! - `statements`, `bindings`: blocks, `let`, patterns, assignments.
//! - `expressions`, `inactive`: values with and without a derivative.
//! - `branches`, `exits`, `loops`: `if`/`match`; `break`/`continue`/`return`;
//!   `for`/`while`/`loop`.
//! - `slices`, `buffers`: element reads and writes; local arrays and `vec!`.
//! - `calls`, `closures`: other functions, custom rules, inlined closures.

mod bindings;
mod branches;
mod buffers;
pub(crate) use buffers::{is_empty_vec, vec_repeat};
mod builder;
mod calls;
mod closures;
mod exits;
mod expressions;
mod inactive;
mod loops;
mod scopes;
mod slices;
mod statements;
pub(crate) use statements::{is_assertion, is_print};
mod views;

use crate::emit::names::Names;
use crate::errors::Errors;
use crate::ir::{
    ArrayInfo, Block, Constant, FloatTy, Floats, Graph, Hint, Node, NodeId, NodeKind, Operand,
    RegionId, RegionInfo, Stmt as IrStmt, StmtId,
};
use crate::parse::signature::{Outputs, Shape, Signature};
use expressions::is_float_literal;
use proc_macro2::{Ident, Span};
use quote::{quote, ToTokens};
use scopes::{Key, Scope};
use syn::{Expr, UnOp};

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
        returns: false,
        errors,
        ret: sig.ret.clone(),
        floats: sig.floats.clone(),
        plain_helpers: &sig.plain_helpers,
        differentiated_beside: &sig.differentiated_beside,
        written_params: written_params(sig),
        scalar_inouts: sig
            .inouts()
            .filter(|(_, p)| !p.writes_array())
            .map(|(_, p)| p.ident.clone())
            .collect(),
        closures: Vec::new(),
        part_names: Names::avoiding(crate::emit::names::identifiers(quote!(#block))),
        changed_data: Vec::new(),
        referenced: std::collections::BTreeMap::new(),
        reference_tuples: std::collections::BTreeSet::new(),
        maybe_references: std::collections::BTreeSet::new(),
        checkpointed: None,
        models: Vec::new(),
    };
    for param in &sig.params {
        let id = lowerer.push(
            Node::new(
                Hint::User(param.ident.clone()),
                NodeKind::Param,
                param.ident.span(),
            )
            .active_if(param.differentiable.is_some())
            // A `&mut f64` or `&f64` parameter's node is its value.
            .typed(Some(
                match (param.inout || param.by_reference, &param.differentiable) {
                    (true, Some(float)) => float.to_type(),
                    _ => param.ty.clone(),
                },
            )),
        );
        lowerer.declare(&param.ident, id);
        if param.model.is_some() {
            lowerer.models.push(id);
        }
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
        lowerer.nodes[id].ty = param.differentiable.as_ref().map(FloatTy::to_type);
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
        if let Some(id) = lowerer.variable(&key(&param.ident)) {
            outputs.push(Operand::Node(id));
        }
    }
    lowerer.growable_lengths();
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
        ret: sig.ret.clone(),
        floats: lowerer.floats,
        written_params: lowerer.written_params,
        changed_data: lowerer.changed_data,
        maybe_references: lowerer.maybe_references,
    };
    indexed_and_whole(&graph, errors);
    assign_names(&mut graph, names);
    graph
}

/// A call's array read by index (`p[0]`, its elements) and used whole too
/// (`g(p)`): the whole array's adjoint would not reach the call's seed.
/// (Read whole where no adjoint flows, in a condition, is fine.)
fn indexed_and_whole(graph: &Graph, errors: &mut Errors) {
    for (id, node) in graph.nodes.iter().enumerate() {
        if matches!(node.kind, NodeKind::Call { rest: true, .. }) && flows_whole(graph, id) {
            errors.push(syn::Error::new(
                node.span,
                "the array this call returns is read by index (`p[0]`) and used whole too; name its elements where it is bound (`let [a, b] = f(x);`) and use those",
            ));
        }
    }
}

/// Whether a value flows whole into another (an operand, a branch's or a
/// loop's result, a loop variable's start, an output): where an adjoint
/// would come back.
fn flows_whole(graph: &Graph, id: NodeId) -> bool {
    let is = |o: &Operand| matches!(o, Operand::Node(n) if *n == id);
    graph.nodes.iter().any(|n| n.args().iter().any(is))
        || graph.outputs.iter().any(is)
        || crate::ir::traverse::any_stmt(&graph.body, &mut |stmt| match stmt {
            IrStmt::If(branch) => branch.arms.iter().any(|a| a.results.iter().any(is)),
            IrStmt::Loop(looped) => {
                looped.carried.iter().any(|c| is(&c.init)) || looped.body.results.iter().any(is)
            }
            _ => false,
        })
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
        Hint::Op(name) => Ident::new(&crate::emit::names::bare_name(name), Span::call_site()),
    }
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
    /// Innermost scope last; each maps a user's name (or an exit flag) to its
    /// current version, or to a closure.
    scopes: Vec<Scope>,
    /// The loops being lowered, innermost last.
    loops: Vec<LoopFrame>,
    /// The body has an early `return`: `Key::Returned` and `Key::ReturnValue`
    /// are in scope.
    returns: bool,
    errors: &'a mut Errors,
    ret: FloatTy,
    floats: Floats,
    /// Plain helpers beside the function: a differentiated call of one is
    /// refused (it has no module).
    plain_helpers: &'a [String],
    /// The differentiated functions beside it: a differentiated call of
    /// one's generated functions (`g::grad(..)`) is refused.
    differentiated_beside: &'a [String],
    /// The `&mut [f64]` parameters, which the body may write.
    written_params: Vec<NodeId>,
    /// The `&mut f64` parameters, by name: passed on as they are
    /// (`bump(x, k)`), they are lent as `&mut *x`.
    scalar_inouts: Vec<Ident>,
    /// Closures bound with `let`, inlined where they are called
    /// (`Binding::Closure(k)` names `closures[k]`).
    closures: Vec<Closure>,
    /// Data the function changes (lists of indices written in place).
    changed_data: Vec<NodeId>,
    /// Names for the copies of parts of arrays (`x_part`), which nothing in
    /// the function mentions.
    part_names: Names,
    /// Loop variables of `for i in idx` kept as written, which Rust gives as
    /// references, and the type `*i` reads (the list's element type).
    referenced: std::collections::BTreeMap<NodeId, syn::Type>,
    /// Loop variables of a `for` kept as written over `enumerate()` or
    /// `zip(..)`: tuples whose parts are the inner iterators' items, as
    /// they give them (`&p` of `for (i, &p) in perm.iter().enumerate()`).
    reference_tuples: std::collections::BTreeSet<NodeId>,
    /// Loop variables of a `for` over a local whose type the lowering does
    /// not know (`ws`, `&ws`, `ws.iter()` or their `enumerate()` of `let ws
    /// = &W;`): values or references to them (`Graph::maybe_references`).
    maybe_references: std::collections::BTreeSet<NodeId>,
    /// The `#[checkpoint]` of the loop being lowered, until its `Loop` takes it.
    checkpointed: Option<crate::parse::checkpoint::Checkpoint>,
    /// Struct parameters passed whole to differentiated callees (`is_model`).
    models: Vec<NodeId>,
}

/// A closure, and the variables it sees: those in scope where it is written
/// (a later shadowing `let` does not change what it captured).
struct Closure {
    expr: syn::ExprClosure,
    environment: Scope,
}

#[derive(Clone)]
struct LoopFrame {
    label: Option<String>,
    break_key: Option<Key>,
    continue_key: Option<Key>,
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
    /// `.step_by(k)` last: every `k`-th of those indices.
    step: Option<Expr>,
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

/// How a local is looked up: `r#x` and `x` are the same variable.
pub fn key(ident: &Ident) -> String {
    let name = ident.to_string();
    match name.strip_prefix("r#") {
        Some(bare) => bare.to_string(),
        None => name,
    }
}

/// The names a closure's parameters bind (`i` in `|&i| ..`, `a`, `b` in
/// `|(a, b)| ..`): inside its body they are not the function's locals.
pub fn closure_bindings(closure: &syn::ExprClosure) -> Vec<String> {
    struct Bound(Vec<String>);
    impl<'ast> syn::visit::Visit<'ast> for Bound {
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            self.0.push(key(&pat.ident));
            syn::visit::visit_pat_ident(self, pat);
        }
    }
    let mut bound = Bound(Vec::new());
    for input in &closure.inputs {
        syn::visit::Visit::visit_pat(&mut bound, input);
    }
    bound.0
}

/// The names of a path's segments, `["std", "iter", "zip"]`, to match a
/// path as written.
pub fn segment_names(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
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

impl<'a> Lowerer<'a> {
    /// A harmless stand-in after an error, so lowering can go on and report more.
    fn dummy(&self) -> Operand {
        Operand::Const(Constant {
            tokens: quote!(0.0),
            atomic: true,
            float: None,
        })
    }

    fn is_active(&self, operand: &Operand) -> bool {
        matches!(operand, Operand::Node(id) if self.nodes[*id].active)
    }

    /// A struct parameter passed whole to differentiated callees: data, but
    /// a call it is passed to is differentiated (its pullback adds into the
    /// struct's gradient).
    fn is_model(&self, operand: &Operand) -> bool {
        matches!(operand, Operand::Node(id) if self.models.contains(id))
    }

    fn float_of(&self, operand: &Operand) -> Option<FloatTy> {
        match operand {
            Operand::Node(id) => self.nodes[*id].float(&self.floats),
            Operand::Const(c) => c.float.clone(),
        }
    }

    fn type_of(&self, operand: &Operand) -> Option<syn::Type> {
        match operand {
            Operand::Node(id) => self.nodes[*id].ty.clone(),
            Operand::Const(c) => c
                .float
                .clone()
                .or_else(|| is_float_literal(&c.tokens).then(|| self.ret.clone()))
                .as_ref()
                .map(FloatTy::to_type),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ir::{FloatTy, Stmt};
    use crate::testing::{kinds, lowered};
    use syn::parse_quote;

    #[test]
    fn straight_line_code_is_one_node_per_operation() {
        let (_, graph) = lowered(parse_quote! {
            fn f(x: f64, y: f64) -> f64 {
                let a = x * y + 1.0;
                -a * a
            }
        });
        assert_eq!(
            kinds(&graph),
            ["param", "param", "mul", "add", "neg", "mul"]
        );
    }

    #[test]
    fn a_value_times_itself_is_a_square_and_integers_are_inactive() {
        let (_, graph) = lowered(parse_quote! {
            fn f(x: f64, n: usize) -> f64 {
                x * x * n as f64
            }
        });
        assert_eq!(
            kinds(&graph),
            ["param", "param", "square", "inactive", "mul"]
        );
    }

    #[test]
    fn a_generic_functions_type_parameter_is_its_float_type() {
        let (_, graph) = lowered(parse_quote! {
            fn f<T: Float>(x: T, y: f32, n: usize) -> T {
                let scale: T = T::from(2.0).unwrap();
                x * scale + T::from(n).unwrap()
            }
        });
        let t: proc_macro2::Ident = parse_quote!(T);
        assert_eq!(graph.ret, FloatTy::Generic(t.clone()));
        assert_eq!(graph.float(0), Some(FloatTy::Generic(t)));
        assert_eq!(graph.float(1), Some(FloatTy::F32));
        // Another function's `T` is no float of this one.
        let (_, plain) = lowered(parse_quote! {
            fn g(x: f64) -> f64 { x }
        });
        assert_eq!(plain.floats.of_type(&parse_quote!(T)), None);
    }

    #[test]
    fn a_loop_carries_what_its_body_assigns() {
        let (_, graph) = lowered(parse_quote! {
            fn f(x: f64, n: usize) -> f64 {
                let mut p = 1.0;
                let mut unchanged = x;
                for _ in 0..n {
                    p *= unchanged;
                }
                p + unchanged
            }
        });
        // The parameters, the two lets, the loop, the sum.
        let [.., Stmt::Loop(looped), Stmt::Node(_)] = &graph.body.stmts[..] else {
            panic!("a loop before the sum: {:?}", kinds(&graph));
        };
        assert_eq!(looped.carried.len(), 1);
        assert!(graph.nodes[looped.carried[0].param].active);
    }

    #[test]
    fn a_variable_becomes_active_in_the_iteration_that_assigns_it() {
        let (_, graph) = lowered(parse_quote! {
            fn f(x: f64, n: usize) -> f64 {
                let mut s = 0.0;
                for _ in 0..n {
                    s = s * 0.5 + x;
                }
                s
            }
        });
        let looped = graph.loops()[0];
        // `s` starts as a constant; the fixpoint makes it active from the
        // first iteration on.
        assert!(graph.nodes[looped.carried[0].param].active);
        assert!(graph.nodes[looped.carried[0].out].active);
    }

    #[test]
    fn a_branch_merges_what_its_arms_assign() {
        let (_, graph) = lowered(parse_quote! {
            fn f(x: f64) -> f64 {
                let mut y = x;
                if x > 0.0 {
                    y = x.sin();
                }
                y
            }
        });
        let branch = graph
            .body
            .stmts
            .iter()
            .find_map(|s| match s {
                Stmt::If(branch) => Some(branch),
                _ => None,
            })
            .expect("an if");
        assert_eq!(branch.merges.len(), 1);
        assert!(kinds(&graph).contains(&"merge"));
    }
}
