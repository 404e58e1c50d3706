//! The tape plan: for each value the backward pass reads, where it comes from
//! (Clad's and Tapenade's "to be recorded" analysis).
//!
//! A value of the function body is a plain field of the tape. A value computed
//! inside a branch or loop is pushed on a stack, unless it is cheaper and just
//! as right to get it again in the backward pass: a loop variable of
//! `start..end` is rebuilt from the reversed loop's counter, a pure inactive
//! expression of available values is recomputed (an index `j * cols + i`), an
//! element of an input that nothing changes is read again from the input, and a
//! counter a loop steps by a constant (`idx += 1`) is stepped back.

use crate::ir::{Graph, Loop, NodeId, NodeKind, Operand, RegionId, StmtId};
use crate::parse::signature::Signature;
use proc_macro2::TokenStream;
use quote::ToTokens;
use std::collections::{BTreeMap, BTreeSet};

/// Where the backward pass gets a value it reads.
#[derive(Debug)]
pub enum Storage {
    /// A field of the tape: values of the function body, and values of a
    /// branch that runs at most once (not inside a loop), written into the
    /// tape where they are computed.
    Field,
    /// The reversed loop's own variable, rebuilt from its counter.
    Rebuilt,
    /// Computed again from these values (each available in its own right), or
    /// read again from an input the forward pass never changed.
    Recompute(Vec<NodeId>),
    /// A counter a loop steps by a constant (`idx += 1` each iteration): the
    /// backward pass starts from its value after the loop and steps it back,
    /// by this step, at the start of each reversed iteration.
    Counter(TokenStream),
    /// Pushed in the forward pass, popped in the backward pass.
    Stack,
}

// By hand: a counter's step is tokens, compared as written.
impl PartialEq for Storage {
    fn eq(&self, other: &Storage) -> bool {
        match (self, other) {
            (Storage::Recompute(a), Storage::Recompute(b)) => a == b,
            (Storage::Counter(a), Storage::Counter(b)) => a.to_string() == b.to_string(),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

pub struct TapePlan<'g> {
    graph: &'g Graph,
    sig: &'g Signature,
    /// Loop variables the backward loops rebuild: those of loops over a range
    /// with a known start, and of the loops it replays.
    rebuilt: BTreeSet<NodeId>,
    /// Loops over a range whose bounds the backward pass can compute again
    /// (`for j in i + 1..d`): it runs the same range reversed, saving neither
    /// the trip count nor the variable.
    replayed: BTreeSet<StmtId>,
    /// The blocks that are loop bodies.
    loop_bodies: BTreeSet<RegionId>,
    /// Counters: a loop's variable at the start of each iteration, whose next
    /// value is itself plus an integer constant, computed unconditionally.
    counters: BTreeMap<NodeId, TokenStream>,
    /// Parameters of the user's types behind a reference or in a list
    /// (`is_opaque_param`), found once: availability asks often.
    opaque: BTreeSet<NodeId>,
}

impl<'g> TapePlan<'g> {
    pub fn of(graph: &'g Graph, sig: &'g Signature) -> TapePlan<'g> {
        let loops = graph.loops();
        let rebuilt = loops
            .iter()
            .filter(|looped| looped.var_start.is_some())
            .filter_map(|looped| looped.var)
            .collect();
        let loop_bodies = loops.iter().map(|looped| looped.body.region).collect();
        let counters = loops
            .iter()
            .flat_map(|looped| counters_of(graph, looped))
            .collect();
        let opaque = (0..sig.params.len())
            .filter(|&id| matches!(graph.nodes[id].kind, NodeKind::Param))
            .filter(|&id| opaque_type(&sig.params[id].ty, graph))
            .collect();
        let mut plan = TapePlan {
            graph,
            sig,
            rebuilt,
            replayed: BTreeSet::new(),
            loop_bodies,
            counters,
            opaque,
        };
        // Outer loops first: an inner range may use an outer loop's variable.
        for looped in loops {
            // A checkpointed loop runs its stretches from their kept states.
            if looped.fixed_trips.is_none()
                && looped.checkpoint.is_none()
                && plan.can_replay(looped)
            {
                plan.replayed.insert(looped.id);
                plan.rebuilt.extend(looped.var);
            }
        }
        plan
    }

    /// Whether the backward pass runs this loop's range again, reversed.
    pub fn replays(&self, looped: &Loop) -> bool {
        self.replayed.contains(&looped.id)
    }

    /// A loop over `a..b` or `a..=b` with no early exit, whose bounds are
    /// cheap expressions of values the backward pass has.
    fn can_replay(&self, looped: &Loop) -> bool {
        let Some(iter) = &looped.iter else {
            return false;
        };
        let range = matches!(
            crate::lower::strip_parens(iter),
            syn::Expr::Range(r) if r.start.is_some() && r.end.is_some()
        );
        range
            && looped.until.is_none()
            && looped.exit.is_none()
            && !looped.over_slices
            && is_cheap(iter)
            && looped.iter_locals.iter().all(|(_, local)| {
                self.graph.nodes[*local].array.is_none()
                    && !self.graph.changed_data.contains(local)
                    && self.is_available(*local)
            })
    }

    pub fn storage(&self, id: NodeId) -> Storage {
        if self.rebuilt.contains(&id) {
            Storage::Rebuilt
        } else if let Some(step) = self.counters.get(&id) {
            Storage::Counter(step.clone())
        } else if let Some(deps) = self.recompute_deps(id) {
            Storage::Recompute(deps)
        } else if self.is_once(id) {
            Storage::Field
        } else {
            Storage::Stack
        }
    }

    /// Whether a node is computed at most once per call, with a type the tape
    /// can copy out: in the function body, or in branches outside every loop.
    fn is_once(&self, id: NodeId) -> bool {
        let node = &self.graph.nodes[id];
        if node.region == 0 {
            return true;
        }
        let copy = node
            .ty
            .as_ref()
            .is_some_and(|ty| self.graph.floats.is_copy(ty));
        let mut region = node.region;
        while let Some(parent) = self.graph.regions[region].parent {
            if self.is_loop_body(region) {
                return false;
            }
            region = parent;
        }
        copy
    }

    /// Whether the value is there in the backward pass without being
    /// recomputed: a field, or a rebuilt loop variable.
    fn is_available(&self, id: NodeId) -> bool {
        if self.is_opaque_param(id) {
            return false;
        }
        self.is_once(id)
            || self.rebuilt.contains(&id)
            || self.counters.contains_key(&id)
            || self.recompute_deps(id).is_some()
    }

    /// The nodes a cheap inactive value is computed from, if it can be recomputed
    /// in the backward pass: a pure expression of loop variables the backward
    /// loops rebuild, values of the function body (plain fields of the tape),
    /// data arrays (copied into the tape once), and other such values.
    fn recompute_deps(&self, id: NodeId) -> Option<Vec<NodeId>> {
        let node = &self.graph.nodes[id];
        if let NodeKind::Read { array, index } = &node.kind {
            // An element of an array that no later code changes: read again from a
            // copy of the array taken at the end of the forward pass.
            if !self.unchanged_after(*array, id) {
                return None;
            }
            // An element of a differentiated array: its index is saved for
            // the adjoint's `dx[i] += ..` anyway, so the element is read
            // again at it rather than saved beside it (where the index's type
            // is known: a stack needs one).
            let saved_anyway = |i: NodeId| node.active && self.graph.nodes[i].ty.is_some();
            return match index {
                Operand::Const(_) => Some(Vec::new()),
                Operand::Node(i) if self.is_available(*i) || saved_anyway(*i) => Some(vec![*i]),
                Operand::Node(_) => None,
            };
        }
        // A value written into a buffer that keeps it: read back from there.
        if let Some((_, index)) = self.kept_in_buffer(id) {
            return match index {
                Operand::Const(_) => Some(Vec::new()),
                Operand::Node(i) => self.is_available(i).then(|| vec![i]),
            };
        }
        if let Some(deps) = self.cheap_arithmetic(id) {
            return Some(deps);
        }
        let NodeKind::Inactive { expr, locals } = &node.kind else {
            return None;
        };
        if !is_cheap(expr) {
            return None;
        }
        let mut deps = Vec::new();
        for (_, dep) in locals {
            // Read from data that changes later: only the value saved then is right.
            if self.graph.changed_data.contains(dep) {
                return None;
            }
            if self.graph.nodes[*dep].array.is_some() {
                // A reference to a constant is taken again.
                if self.taken_again(*dep) {
                    deps.push(*dep);
                    continue;
                }
                // A data array is copied into the tape; the others change.
                if !self.is_data_array(*dep) {
                    return None;
                }
                continue;
            }
            // Saved as the value, where the expression may take it as a
            // reference (`*w` of `for w in ws`).
            if !self.is_available(*dep) || self.graph.maybe_reference(*dep) {
                return None;
            }
            deps.push(*dep);
        }
        Some(deps)
    }

    /// A differentiated value inside a loop computed by `+`, `-`, `*` or
    /// negation from values the backward pass has without recomputing
    /// arithmetic (`a[i] - b[i]` of inputs nothing changes): computed again,
    /// to the same bits, instead of pushed on a stack. One level only, so
    /// availability stays a cheap question.
    fn cheap_arithmetic(&self, id: NodeId) -> Option<Vec<NodeId>> {
        let node = &self.graph.nodes[id];
        let NodeKind::Op {
            form: crate::ir::Form::Operator(op),
            args,
            ..
        } = &node.kind
        else {
            return None;
        };
        use crate::ir::Operator::{Add, Copy, Mul, Neg, Square, Sub};
        if !matches!(op, Add | Sub | Mul | Neg | Square | Copy) || self.is_once(id) {
            return None;
        }
        let mut deps = Vec::new();
        for arg in args {
            if let Operand::Node(a) = arg {
                let plain = matches!(self.graph.nodes[*a].kind, NodeKind::Op { .. });
                if plain || !self.is_available(*a) {
                    return None;
                }
                deps.push(*a);
            }
        }
        Some(deps)
    }

    /// The buffer and index where a value stays until the end of the forward
    /// pass: `h[j] = v` in the loop over `j` (a range, so each element is
    /// written once), in the same block as `v`, the buffer's only write, the
    /// buffer one of the function body. The backward pass reads `h[j]` instead
    /// of keeping `v` on a stack of its own.
    pub fn kept_in_buffer(&self, id: NodeId) -> Option<(NodeId, Operand)> {
        let node = &self.graph.nodes[id];
        if !node.active || node.array.is_some() {
            return None;
        }
        let (write, array, index) =
            self.graph
                .nodes
                .iter()
                .enumerate()
                .find_map(|(w, n)| match &n.kind {
                    NodeKind::Write {
                        array,
                        index,
                        value: Operand::Node(v),
                        push: false,
                    } if *v == id => Some((w, *array, index.clone())),
                    _ => None,
                })?;
        let buffer = &self.graph.nodes[array];
        let only_write = self.graph.writes_to(array).all(|w| w == write);
        let same_block = self.graph.nodes[write].region == node.region;
        if !matches!(
            buffer.kind,
            NodeKind::Buffer {
                growable: false,
                ..
            }
        ) || buffer.region != 0
            || !only_write
            || !same_block
        {
            return None;
        }
        // The index is the variable of the innermost loop around the write,
        // and that loop runs over distinct values.
        let Operand::Node(var) = index else {
            return None;
        };
        let looped = self
            .graph
            .loops()
            .into_iter()
            .find(|l| l.var == Some(var))?;
        let innermost = self.innermost_loop(node.region) == Some(looped.body.region);
        // Inside another loop, the next pass of that loop writes the element
        // again (a wrong gradient the fuzzer found, seed 321).
        let outermost = self.graph.regions[looped.body.region]
            .parent
            .and_then(|parent| self.innermost_loop(parent))
            .is_none();
        let distinct = looped.over_slices
            || looped.iter.as_ref().is_some_and(|iter| {
                matches!(crate::lower::strip_parens(iter), syn::Expr::Range(_))
            });
        (innermost && outermost && distinct).then_some((array, index))
    }

    /// The body of the innermost loop around a block.
    fn innermost_loop(&self, mut region: RegionId) -> Option<RegionId> {
        loop {
            if self.is_loop_body(region) {
                return Some(region);
            }
            region = self.graph.regions[region].parent?;
        }
    }

    /// Whether `array` holds, at the end of the forward pass, what `read` read:
    /// a parameter the function does not write, or a buffer of the function
    /// body that no write changes after the read (none later, none in a loop
    /// around both).
    pub fn unchanged_after(&self, array: NodeId, read: NodeId) -> bool {
        let node = &self.graph.nodes[array];
        // Data written in place (`perm[0] = perm[1];`): what was read is saved.
        if self.graph.changed_data.contains(&array) {
            return false;
        }
        match node.kind {
            NodeKind::Param if !self.graph.written_params.contains(&array) => true,
            NodeKind::Param | NodeKind::Buffer { .. } if node.region == 0 => self
                .graph
                .writes_to(array)
                .all(|w| w < read && !self.share_a_loop(w, read)),
            _ => false,
        }
    }

    /// Whether some loop contains both nodes.
    fn share_a_loop(&self, a: NodeId, b: NodeId) -> bool {
        let loops_around = |id: NodeId| {
            let mut regions = Vec::new();
            let mut region = self.graph.nodes[id].region;
            while let Some(parent) = self.graph.regions[region].parent {
                regions.push(region);
                region = parent;
            }
            regions
        };
        let (around_a, around_b) = (loops_around(a), loops_around(b));
        around_a
            .iter()
            .any(|r| around_b.contains(r) && self.is_loop_body(*r))
    }

    fn is_loop_body(&self, region: RegionId) -> bool {
        self.loop_bodies.contains(&region)
    }

    /// A parameter slice or array of floats: it never changes, so the backward
    /// pass can read a copy of it.
    /// A parameter of the user's types behind a reference or in a list
    /// (`obs: &[Obs]`, `cfg: &Config`): the tape cannot keep it (a copy
    /// would ask the type for `Clone`, a reference for a lifetime), so what
    /// the backward pass reads of it is saved instead.
    fn is_opaque_param(&self, id: NodeId) -> bool {
        self.opaque.contains(&id)
    }

    /// A reference the function body takes of data (`let ws: &[f64] = &W;`,
    /// `let first = &data[0];`, typed or not) and the backward pass reads:
    /// taken again at the start of the backward pass, not saved (a tape
    /// holds no references), where every value it is taken from is there (a
    /// constant, a data slice the tape keeps).
    pub fn taken_again(&self, id: NodeId) -> bool {
        let node = &self.graph.nodes[id];
        let NodeKind::Inactive { expr, .. } = &node.kind else {
            return false;
        };
        let taken = matches!(crate::lower::strip_parens(expr), syn::Expr::Reference(r) if r.mutability.is_none());
        node.region == 0
            && taken
            && matches!(self.storage(id), Storage::Recompute(deps)
                if deps.iter().all(|&dep| self.graph.nodes[dep].region == 0 && !self.taken_again(dep)))
    }

    pub fn is_data_array(&self, id: NodeId) -> bool {
        let node = &self.graph.nodes[id];
        matches!(node.kind, NodeKind::Param)
            && node.array.is_some()
            && self.sig.params[id].shape.is_some()
            && !self.graph.written_params.contains(&id)
            // A slice of the user's structs (`obs: &[Obs]`) is not copied:
            // what the backward pass reads of it is saved instead.
            && !self.is_opaque_param(id)
    }
}

/// A list or reference whose elements (or referent) are not floats, integers
/// or tuples and arrays of them: a type of the user's.
fn opaque_type(ty: &syn::Type, graph: &Graph) -> bool {
    let inner = match crate::lower::element_type(ty) {
        Some(element) => element,
        None => match ty {
            syn::Type::Reference(r) => (*r.elem).clone(),
            _ => return false,
        },
    };
    !graph.floats.is_plain(&inner)
}

/// Cheap to compute again: arithmetic, casts, comparisons, indexing, constants.
fn is_cheap(expr: &syn::Expr) -> bool {
    use syn::Expr;
    match expr {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Paren(p) => is_cheap(&p.expr),
        Expr::Group(g) => is_cheap(&g.expr),
        Expr::Unary(u) => is_cheap(&u.expr),
        Expr::Binary(b) => is_cheap(&b.left) && is_cheap(&b.right),
        Expr::Cast(c) => is_cheap(&c.expr),
        Expr::Index(i) => is_cheap(&i.expr) && is_cheap(&i.index),
        // A part of a data slice (`&points[a..b]`), lent to a callee again.
        Expr::Reference(r) => r.mutability.is_none() && is_cheap(&r.expr),
        Expr::MethodCall(m) => m.method == "len" && m.args.is_empty() && is_cheap(&m.receiver),
        // The bounds check of a read of a slice of structs' field
        // (`parse/model`) or of a named part, and a named part's length
        // (`lower/views.rs`): integer arithmetic and a comparison.
        Expr::Call(c) => {
            let path = c.func.to_token_stream().to_string().replace(' ', "");
            let checks = ["within", "part_len"]
                .map(|name| format!("::backprop_runtime::model::fields::{name}"));
            checks.contains(&path) && c.args.iter().all(is_cheap)
        }
        Expr::Range(r) => r.start.iter().chain(&r.end).all(|bound| is_cheap(bound)),
        _ => false,
    }
}

/// The counters of a loop whose iterations are all whole (no break flag): each
/// carried variable whose next value is `v + k`, `k` an integer literal,
/// computed in the body itself (not in a branch), with the step `k`. Integer
/// steps undo exactly, so the backward pass steps back instead of saving `v`.
/// The value after the loop, where stepping back starts, is saved instead, so
/// its type must be known.
fn counters_of(graph: &Graph, looped: &Loop) -> Vec<(NodeId, TokenStream)> {
    if looped.exit.is_some() {
        return Vec::new();
    }
    looped
        .carried
        .iter()
        .zip(&looped.body.results)
        .filter_map(|(carried, result)| {
            let Operand::Node(next) = result else {
                return None;
            };
            // The value after the loop is saved: its type must be known.
            graph.nodes[carried.out].ty.as_ref()?;
            let node = &graph.nodes[*next];
            let NodeKind::Inactive { expr, locals } = &node.kind else {
                return None;
            };
            if node.region != looped.body.region {
                return None;
            }
            let syn::Expr::Binary(sum) = crate::lower::strip_parens(expr) else {
                return None;
            };
            let is_param = |e: &syn::Expr| match crate::lower::strip_parens(e) {
                syn::Expr::Path(p) => p.path.get_ident().is_some_and(|ident| {
                    locals
                        .iter()
                        .any(|(name, id)| *id == carried.param && ident == name)
                }),
                _ => false,
            };
            let is_step = |e: &syn::Expr| {
                matches!(
                    crate::lower::strip_parens(e),
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(_),
                        ..
                    })
                )
            };
            let adds = matches!(sum.op, syn::BinOp::Add(_));
            (adds && is_param(&sum.left) && is_step(&sum.right))
                .then(|| (carried.param, sum.right.to_token_stream()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Storage, TapePlan};
    use crate::testing::{lowered, node};
    use syn::parse_quote;

    #[test]
    fn each_value_is_kept_where_it_is_cheapest() {
        let (sig, graph) = lowered(parse_quote! {
            fn f(x: f64, w: &[f64], cols: usize, n: usize) -> f64 {
                let mut total = 0.0;
                let top = if x > 0.0 {
                    let once = x.exp();
                    once * 2.0
                } else {
                    x
                };
                for j in 0..n {
                    let index = j * cols;
                    let inside = (total + top).sin();
                    total = inside * w[index];
                }
                total
            }
        });
        let plan = TapePlan::of(&graph, &sig);
        assert_eq!(plan.storage(node(&graph, "top")), Storage::Field);
        // In a branch outside every loop: a field, written where computed.
        assert_eq!(plan.storage(node(&graph, "once")), Storage::Field);
        // The loop's own variable, rebuilt from the reversed loop's counter.
        assert_eq!(plan.storage(node(&graph, "j")), Storage::Rebuilt);
        // An index computed from values there in the backward pass.
        let (j, cols) = (node(&graph, "j"), node(&graph, "cols"));
        assert_eq!(
            plan.storage(node(&graph, "index")),
            Storage::Recompute(vec![j, cols])
        );
        assert_eq!(plan.storage(node(&graph, "inside")), Storage::Stack);
        // An element of an input nothing changes: read again.
        let read = graph
            .nodes
            .iter()
            .position(|n| matches!(n.kind, crate::ir::NodeKind::Read { .. }))
            .expect("a read of w");
        assert!(matches!(plan.storage(read), Storage::Recompute(_)));
    }

    #[test]
    fn a_value_kept_in_a_buffer_is_read_back_from_it() {
        let (sig, graph) = lowered(parse_quote! {
            fn f(x: &[f64], n: usize) -> f64 {
                let mut h = vec![0.0; n];
                for j in 0..n {
                    let t = (x[j] * 2.0).tanh();
                    h[j] = t;
                }
                let mut g = vec![0.0; n];
                for j in 0..n {
                    let u = (x[j] * 3.0).tanh();
                    g[j] = u;
                    g[0] = u * 0.5;
                }
                h[0] * h[1] + g[0] * g[1]
            }
        });
        let plan = TapePlan::of(&graph, &sig);
        let j = graph
            .nodes
            .iter()
            .position(|n| matches!(n.kind, crate::ir::NodeKind::LoopVar))
            .expect("the first loop's variable");
        assert_eq!(plan.storage(node(&graph, "t")), Storage::Recompute(vec![j]));
        // `g` is written twice per iteration: `u` keeps its own stack.
        assert_eq!(plan.storage(node(&graph, "u")), Storage::Stack);
    }
}
