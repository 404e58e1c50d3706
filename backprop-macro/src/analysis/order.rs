//! Which reversed loops may run their iterations first to last.
//!
//! The backward pass of a loop undoes the last iteration first, because an
//! iteration's adjoints usually feed the one before it. A loop whose
//! iterations share nothing but sums does not need that: `z[i] = x[i] *
//! y[i - 1]` or `s += (x[i] - a).exp()` reversed in any order adds the same
//! terms into the same adjoints. Running such a loop forwards is what a
//! person writing its derivative does, and the order the compiler vectorises
//! (a reversed loop with bounds checks stays scalar: 2.8 times slower on the
//! ODE's right-hand side). Tapenade asks for it with a directive on
//! "independent iterations"; here it is proved from the graph:
//!
//! - each variable the loop carries passes its adjoint through unchanged: its
//!   next value is itself plus (or minus) something that does not read it
//!   (`s += ..`), and neither has another use (a running sum read in the
//!   body, `s += x[i]; z[i] = s;`, has a different adjoint in each
//!   iteration);
//! - each array the loop writes is written and read only at one element per
//!   iteration, the same one, which no other iteration touches (`z[i]`,
//!   `z[i + 1]`, `z[n - i]`, with `n` fixed in the loop), and passed to no
//!   call (which reads every element): its adjoint is read and cleared at
//!   that element alone;
//! - every other adjoint is added into (`dx[j] += ..`, `da += ..`), which
//!   commutes (up to rounding, as any two orders of a sum);
//! - no early exit, no checkpoint.
//!
//! The emitter adds the last condition it alone can see: the reversed body
//! pops nothing from a stack and steps no counter back (`for_loop`).

use crate::analysis::activity::Activity;
use crate::ir::ops::Operator;
use crate::ir::traverse::any_stmt;
use crate::ir::{Form, Graph, Loop, NodeId, NodeKind, Operand, RegionId, Stmt};

/// Whether the reverse of `looped`'s iterations may run in any order, as far
/// as the graph tells.
pub fn iterations_commute(graph: &Graph, activity: &Activity, looped: &Loop) -> bool {
    let nested_checkpoint = any_stmt(
        &looped.body,
        &mut |stmt| matches!(stmt, Stmt::Loop(l) if l.checkpoint.is_some()),
    );
    let early_exit = any_stmt(&looped.body, &mut |stmt| {
        matches!(stmt, Stmt::BreakUnless(_))
    });
    looped.exit.is_none()
        && looped.until.is_none()
        && looped.checkpoint.is_none()
        && !nested_checkpoint
        && !early_exit
        && looped
            .carried
            .iter()
            .enumerate()
            .filter(|(_, carried)| activity.carries(carried))
            .all(|(k, carried)| {
                passes_through(
                    graph,
                    activity,
                    looped,
                    carried.param,
                    &looped.body.results[k],
                )
            })
        && written_at_one_element(graph, looped)
}

/// Whether the next value `next` of a carried variable is `param + t`,
/// `t + param` or `param - t`, or a branch's choice between such sums and
/// `param` itself (`if c { s += a; }`), that is `param`'s only
/// differentiable use, and the next value has no other: the adjoint of
/// `param` is then the adjoint of `next`, the same in every iteration.
fn passes_through(
    graph: &Graph,
    activity: &Activity,
    looped: &Loop,
    param: NodeId,
    next: &Operand,
) -> bool {
    let Operand::Node(next) = next else {
        return false;
    };
    // One use of `next` (a running sum also read in the body, `s += x[i];
    // z[i] = s;`, gathers a different adjoint in every iteration).
    if activity.terms[*next] != 1 {
        return false;
    }
    if is_sum_of(graph, *next, param) {
        return activity.terms[param] == 1;
    }
    // A branch of the body that chooses `next`: each arm hands back `param`
    // or a sum of it, and nothing else in the body reads `param` (counted
    // use by use: the terms of a branch are one for the whole statement).
    let choice = looped.body.stmts.iter().find_map(|stmt| match stmt {
        Stmt::If(branch) => branch
            .merges
            .iter()
            .position(|m| m == next)
            .map(|k| (branch, k)),
        _ => None,
    });
    let Some((branch, k)) = choice else {
        return false;
    };
    let mut allowed = 0;
    for arm in &branch.arms {
        match &arm.results[k] {
            Operand::Node(id) if *id == param => allowed += 1,
            Operand::Node(sum)
                if is_sum_of(graph, *sum, param)
                    && graph.nodes[*sum].region == arm.region
                    && activity.terms[*sum] == 1 =>
            {
                allowed += 1
            }
            _ => return false,
        }
    }
    uses_of(graph, &looped.body, param) == allowed
}

/// Whether `id` is `param + t`, `t + param` or `param - t`.
fn is_sum_of(graph: &Graph, id: NodeId, param: NodeId) -> bool {
    let NodeKind::Op {
        form: Form::Operator(operator),
        args,
        ..
    } = &graph.nodes[id].kind
    else {
        return false;
    };
    let is_param = |operand: &Operand| matches!(operand, Operand::Node(id) if *id == param);
    match (operator, args.as_slice()) {
        (Operator::Add, [a, b]) => is_param(a) != is_param(b),
        (Operator::Sub, [a, b]) => is_param(a) && !is_param(b),
        _ => false,
    }
}

/// How many times the statements of `block`, at any depth, hand `id` on:
/// as an operand, a branch arm's result, a loop's start or next value.
fn uses_of(graph: &Graph, block: &crate::ir::Block, id: NodeId) -> usize {
    let is = |operand: &Operand| matches!(operand, Operand::Node(o) if *o == id);
    let mut count = block.results.iter().filter(|r| is(r)).count();
    crate::ir::traverse::walk(
        block,
        crate::ir::traverse::Order::Forward,
        &mut |_, stmt| {
            count += match stmt {
                Stmt::Node(node) => graph.nodes[*node].args().iter().filter(|a| is(a)).count(),
                Stmt::If(branch) => {
                    let results: usize = branch
                        .arms
                        .iter()
                        .map(|arm| arm.results.iter().filter(|r| is(r)).count())
                        .sum();
                    results + usize::from(is(branch.test.operand()))
                }
                Stmt::Loop(inner) => {
                    let starts = inner.carried.iter().filter(|c| is(&c.init)).count();
                    starts + inner.body.results.iter().filter(|r| is(r)).count()
                }
                Stmt::BreakUnless(operand) => usize::from(is(operand)),
            };
        },
    );
    count
}

/// Whether every array the loop writes is accessed, anywhere in its body, at
/// one element per iteration that no other iteration reaches.
fn written_at_one_element(graph: &Graph, looped: &Loop) -> bool {
    let mut accesses: Vec<(NodeId, &Operand, bool)> = Vec::new();
    // A push or a call that writes an array: elements no index here names.
    let mut unseen_writes = false;
    // Arrays a call reads whole: every element, in every iteration.
    let mut passed: Vec<NodeId> = Vec::new();
    any_stmt(&looped.body, &mut |stmt| {
        if let Stmt::Node(id) = stmt {
            match &graph.nodes[*id].kind {
                NodeKind::Read { array, index } => accesses.push((*array, index, false)),
                NodeKind::Write {
                    array, index, push, ..
                } => {
                    unseen_writes |= *push;
                    accesses.push((*array, index, true));
                }
                NodeKind::Call { args, .. } => {
                    unseen_writes |= graph.writes_to_arrays(*id).next().is_some();
                    passed.extend(args.iter().filter_map(|arg| match arg {
                        Operand::Node(a) if graph.nodes[*a].array.is_some() => Some(*a),
                        _ => None,
                    }));
                }
                _ => {}
            }
        }
        false
    });
    let passed_written = accesses
        .iter()
        .any(|(array, _, write)| *write && passed.contains(array));
    if unseen_writes || passed_written {
        return false;
    }
    let writes = accesses.iter().filter(|(_, _, write)| *write);
    // Without a variable that differs per iteration, any write may be
    // written again by the next.
    let Some(var) = looped.var.filter(|_| takes_distinct_values(looped)) else {
        return writes.count() == 0;
    };
    let region = looped.body.region;
    writes.clone().all(|(array, _, _)| {
        let mut keys = accesses
            .iter()
            .filter(|(other, _, _)| other == array)
            .map(|(_, index, _)| element_of_iteration(graph, var, region, index));
        let first = keys.next().flatten();
        first.is_some() && keys.all(|key| key == first)
    })
}

/// Whether the loop variable differs in every iteration: a loop over a range
/// (perhaps reversed, stepped, skipped or cut short), or over a slice's
/// elements by index. Not `for &j in order`: a list of indices may repeat one.
fn takes_distinct_values(looped: &Loop) -> bool {
    fn range(expr: &syn::Expr) -> bool {
        match crate::lower::strip_parens(expr) {
            syn::Expr::Range(_) => true,
            syn::Expr::MethodCall(call) => {
                ["rev", "step_by", "skip", "take"].contains(&call.method.to_string().as_str())
                    && range(&call.receiver)
            }
            _ => false,
        }
    }
    looped.over_slices || looped.iter.as_ref().is_some_and(range)
}

/// For an index that names one element per iteration, each iteration's its
/// own: the loop variable, or it plus or minus a value fixed in the loop
/// (`i`, `i + 1`, `n - i`, `start + i`), spelled so that two such indices are
/// equal exactly when their spellings are.
fn element_of_iteration(
    graph: &Graph,
    var: NodeId,
    region: RegionId,
    index: &Operand,
) -> Option<String> {
    let Operand::Node(id) = index else {
        return None;
    };
    if *id == var {
        return Some("i".to_string());
    }
    let NodeKind::Inactive { expr, locals } = &graph.nodes[*id].kind else {
        return None;
    };
    let local = |expr: &syn::Expr| -> Option<NodeId> {
        let syn::Expr::Path(path) = crate::lower::strip_parens(expr) else {
            return None;
        };
        let name = path.path.get_ident()?.to_string();
        locals.iter().find(|(n, _)| *n == name).map(|(_, id)| *id)
    };
    // A value the loop does not change: integer literals and locals from
    // outside it, in integer arithmetic (`n - 1`).
    fn fixed(
        expr: &syn::Expr,
        local: &dyn Fn(&syn::Expr) -> Option<NodeId>,
        outside: &dyn Fn(NodeId) -> bool,
    ) -> Option<String> {
        match crate::lower::strip_parens(expr) {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(int),
                ..
            }) => Some(int.base10_digits().to_string()),
            syn::Expr::Binary(binary) => {
                let op = match binary.op {
                    syn::BinOp::Add(_) => "+",
                    syn::BinOp::Sub(_) => "-",
                    syn::BinOp::Mul(_) => "*",
                    _ => return None,
                };
                let (a, b) = (
                    fixed(&binary.left, local, outside)?,
                    fixed(&binary.right, local, outside)?,
                );
                Some(format!("({a} {op} {b})"))
            }
            other => local(other)
                .filter(|id| outside(*id))
                .map(|id| format!("#{id}")),
        }
    }
    let outside = |id: NodeId| !graph.within(graph.nodes[id].region, region);
    let fixed = |expr: &syn::Expr| fixed(expr, &local, &outside);
    let is_var = |expr: &syn::Expr| {
        local(expr).is_some_and(|id| {
            element_of_iteration(graph, var, region, &Operand::Node(id)).as_deref() == Some("i")
        })
    };
    match crate::lower::strip_parens(expr) {
        syn::Expr::Binary(binary) => {
            let op = match binary.op {
                syn::BinOp::Add(_) => "+",
                syn::BinOp::Sub(_) => "-",
                _ => return None,
            };
            if is_var(&binary.left) {
                Some(format!("i {op} {}", fixed(&binary.right)?))
            } else if is_var(&binary.right) {
                // `c + i` is `i + c`; `c - i` is its own.
                let c = fixed(&binary.left)?;
                Some(match op {
                    "+" => format!("i + {c}"),
                    _ => format!("{c} - i"),
                })
            } else {
                None
            }
        }
        other if is_var(other) => Some("i".to_string()),
        _ => None,
    }
}
