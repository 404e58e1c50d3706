//! Which calls lend their lists (`backprop_runtime::lent`), and which lists:
//! the backward pass hands the callee again, unchanged, each list it still
//! has (the caller's list parameters, which `grad` and `grad_into` pass on
//! and `forward_into` copies once per call of the caller, parts of them,
//! buffers nothing writes after the call, named parts of data), and has the
//! callee keep a copy of the others. A call with no list to lend copies as
//! before.

use super::Pass;
use crate::analysis::tape::Storage;
use crate::emit::lending::Lending;
use crate::ir::{Borrow, NodeId, NodeKind, Operand};
use proc_macro2::TokenStream;
use quote::quote;

/// How the backward pass passes one argument again.
enum Again {
    /// A slice parameter, or a part of one: `(parameter, bounds)`.
    Slice(NodeId, Option<(Operand, Operand)>),
    /// A part of a data slice bound to a name (`let a = &points[..];`),
    /// computed again from these values.
    View(NodeId, Vec<NodeId>),
    /// A literal list, written again.
    Literal(Operand),
    /// A list it cannot pass again unchanged (a buffer written after the
    /// call, an `&mut` argument): the callee keeps a copy, and gets `()`.
    Keep,
    /// `Keep`, of a list passed by shared reference (`&h`, `&x[a..b]`): a
    /// callee with such a parameter lends (`LENDS` and all).
    KeepShared,
    /// A float or an integer: the callee's backward pass does not read it
    /// again (its tape holds what it needs), so `()` stands for it.
    Nothing,
}

impl Pass<'_> {
    /// The callee's module and the arguments of `call` lent again, as its
    /// `pullback_lent` takes them, where the call lends (and then `lent`
    /// says which lists the callee keeps); `None` where it copies.
    pub(super) fn lent_arguments(&mut self, call: NodeId) -> Option<(syn::Path, Vec<TokenStream>)> {
        let (module, again) = self.arguments_again(call)?;
        let keep = again
            .iter()
            .map(|a| matches!(a, Again::Keep | Again::KeepShared))
            .collect();
        let NodeKind::Call { args, .. } = &self.graph.nodes[call].kind else {
            return None;
        };
        let shared_floats = again
            .iter()
            .zip(args)
            .map(|(again, arg)| match again {
                Again::Slice(..) => true,
                Again::KeepShared | Again::View(..) | Again::Keep => self.is_float_list(arg),
                _ => false,
            })
            .collect();
        let lending = Lending {
            module: module.clone(),
            keep,
            shared_floats,
        };
        self.lent.insert(call, lending);
        let args = again
            .into_iter()
            .map(|arg| match arg {
                Again::Slice(param, bounds) => {
                    self.copied.insert(param);
                    let name = self.graph.nodes[param].name.clone();
                    match bounds {
                        Some((start, end)) => {
                            let (start, end) = (self.value(&start), self.value(&end));
                            quote!(&#name[#start..#end])
                        }
                        None => quote!(#name),
                    }
                }
                Again::View(view, deps) => {
                    for dep in deps {
                        self.value(&Operand::Node(dep));
                    }
                    self.recompute(view).unwrap_or_default()
                }
                Again::Literal(operand) => self.value(&operand),
                Again::Nothing | Again::Keep | Again::KeepShared => quote!(()),
            })
            .collect();
        Some((module, args))
    }

    /// Each argument as the backward pass passes it again (or has the
    /// callee keep): `None` where the call copies (no list to lend, a
    /// checkpointed loop, a path a glob import cannot name).
    fn arguments_again(&self, call: NodeId) -> Option<(syn::Path, Vec<Again>)> {
        let node = &self.graph.nodes[call];
        let NodeKind::Call {
            path,
            args,
            borrows,
            parts,
            ..
        } = &node.kind
        else {
            return None;
        };
        let module = crate::emit::lending::module_of(path)?;
        if self.in_checkpointed_loop(call) {
            return None;
        }
        let mut again = Vec::new();
        for ((arg, borrow), part) in args.iter().zip(borrows).zip(parts) {
            let is_array = matches!(arg, Operand::Node(a) if self.graph.nodes[*a].array.is_some());
            again.push(match borrow {
                // A list the callee writes, or an `&mut [f64]` parameter
                // passed on (perhaps to a `&[f64]`): kept where the callee
                // takes it by shared reference (its contents change).
                Borrow::MutableData => Again::Keep,
                _ if borrow.writes() && (is_array || part.is_some()) => Again::Keep,
                // A float the callee writes.
                Borrow::Mutable | Borrow::PassedOn => Again::Nothing,
                Borrow::Plain | Borrow::Shared => {
                    self.argument_again(call, arg, *borrow, part.as_ref())?
                }
            });
        }
        // A call with a list to lend, or one that takes a list by shared
        // reference and keeps it (a buffer the caller overwrites later,
        // `sqnorm(&qxcentered)` in a loop): its adjoints are still added in
        // place, where a copying call fills a scratch gradient, zeroed per
        // call, and adds that. (A callee that takes no list by shared
        // reference has no `pullback_lent`.)
        again
            .iter()
            .any(|a| matches!(a, Again::Slice(..) | Again::View(..) | Again::KeepShared))
            .then_some((module, again))
    }

    fn argument_again(
        &self,
        call: NodeId,
        arg: &Operand,
        borrow: Borrow,
        part: Option<&(Operand, Operand)>,
    ) -> Option<Again> {
        // A list the callee keeps, passed as `&h` or `&x[a..b]`: the
        // callee's parameter is a shared reference to a list.
        let keep = match borrow == Borrow::Shared || part.is_some() {
            true => Again::KeepShared,
            false => Again::Keep,
        };
        let id = match arg {
            // A literal list (`&[0.5, 0.25]`) is written again; a number
            // (`2.0`, `T::one()`) is no list.
            Operand::Const(c) => {
                return match (part, c.is_list()) {
                    (None, true) => Some(Again::Literal(arg.clone())),
                    (None, false) => Some(Again::Nothing),
                    (Some(_), _) => None,
                };
            }
            Operand::Node(id) => id,
        };
        let node = &self.graph.nodes[*id];
        if self.is_lendable_slice(*id) || self.is_kept_buffer(*id, call) {
            // Passed as it was (`x`, `&x`) or as a part (`&x[a..b]`, whose
            // bounds the backward pass needs).
            return Some(match part {
                Some((start, end)) if self.can_read_again(start) && self.can_read_again(end) => {
                    Again::Slice(*id, Some((start.clone(), end.clone())))
                }
                Some(_) => keep,
                None => Again::Slice(*id, None),
            });
        }
        // Another array (a buffer written after the call), or a part of it.
        if part.is_some() || node.array.is_some() {
            return Some(keep);
        }
        // A part of a data slice bound to a name (`let a = &points[..]`),
        // computed again at the call in the backward pass.
        if let NodeKind::Inactive { expr, .. } = &node.kind {
            let reference = matches!(crate::lower::strip_parens(expr), syn::Expr::Reference(_));
            if let (true, Storage::Recompute(deps)) = (reference, self.plan.storage(*id)) {
                return Some(Again::View(*id, deps));
            }
        }
        // A float, an integer, `bool` or `char`.
        let scalar = self.graph.float(*id).is_some()
            || node
                .ty
                .as_ref()
                .is_some_and(|ty| self.graph.floats.is_copy(ty));
        // Anything else the callee keeps, if it is a list it takes by
        // shared reference (a flag for anything else is ignored).
        Some(if scalar { Again::Nothing } else { Again::Keep })
    }

    /// Whether an argument is a list of floats: an array (its adjoint one),
    /// or a parameter typed so (data, as `points: &[f64]` left out of
    /// `wrt`).
    fn is_float_list(&self, arg: &Operand) -> bool {
        let Operand::Node(id) = arg else {
            return false;
        };
        let node = &self.graph.nodes[*id];
        match &node.kind {
            _ if node.array.is_some() => true,
            NodeKind::Param => self.param_of_floats(self.sig.params.get(*id)),
            // A part of one by shared reference (`&points[a..b]`), its base
            // the node the name stands for there.
            NodeKind::Inactive { expr, locals } => match crate::lower::strip_parens(expr) {
                syn::Expr::Reference(r) if r.mutability.is_none() => {
                    let mut base = crate::lower::strip_parens(&r.expr);
                    while let syn::Expr::Index(index) = base {
                        base = crate::lower::strip_parens(&index.expr);
                    }
                    let syn::Expr::Path(path) = base else {
                        return false;
                    };
                    let source = locals
                        .iter()
                        .find(|(name, _)| path.path.is_ident(name.as_str()))
                        .map(|(_, source)| Operand::Node(*source));
                    source.is_some_and(|source| self.is_float_list(&source))
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether a parameter is a list of floats (`&[f64]`, `&[T; 3]`).
    fn param_of_floats(&self, param: Option<&crate::parse::signature::Param>) -> bool {
        param
            .and_then(|p| crate::lower::element_type(&p.ty))
            .is_some_and(|element| self.graph.floats.of_type(&element).is_some())
    }

    /// A list of floats the function borrows (`x: &[f64]`, `&Vec<f64>`,
    /// `&[f64; 3]`): the backward pass gets it again as a slice
    /// (`backward_core`'s parameter, or the tape's copy of it), which is what
    /// `pullback_lent` takes.
    fn is_lendable_slice(&self, id: NodeId) -> bool {
        let Some(param) = self.sig.params.get(id) else {
            return false;
        };
        matches!(self.graph.nodes[id].kind, NodeKind::Param)
            && crate::emit::lending::is_lent(&param.ty)
            && param.shape.is_some()
            && self.plan.is_data_array(id)
    }

    /// A buffer of the function body (`vec![0.0; n]`, `[0.0; 3]`) that
    /// nothing writes from `call` on: the tape keeps one copy of it, made at
    /// the end of the forward pass, for every call that reads it.
    fn is_kept_buffer(&self, id: NodeId, call: NodeId) -> bool {
        let node = &self.graph.nodes[id];
        matches!(
            node.kind,
            NodeKind::Buffer {
                growable: false,
                ..
            }
        ) && self.graph.float(id).is_some()
            && self.plan.unchanged_after(id, call)
    }

    /// Whether the backward pass has this value, or can have it, without an
    /// error: a constant, a value it recomputes, or one it saves whose type is
    /// known.
    fn can_read_again(&self, operand: &Operand) -> bool {
        let Operand::Node(id) = operand else {
            return true;
        };
        match self.plan.storage(*id) {
            Storage::Recompute(_) | Storage::Rebuilt | Storage::Counter(_) => true,
            Storage::Field | Storage::Stack => self.graph.nodes[*id].ty.is_some(),
        }
    }

    /// Whether the node is computed inside a checkpointed loop, whose
    /// stretches run again from kept states (their calls copy).
    fn in_checkpointed_loop(&self, id: NodeId) -> bool {
        let checkpointed: Vec<_> = self
            .graph
            .loops()
            .into_iter()
            .filter(|l| l.checkpoint.is_some())
            .map(|l| l.body.region)
            .collect();
        let mut region = Some(self.graph.nodes[id].region);
        while let Some(r) = region {
            if checkpointed.contains(&r) {
                return true;
            }
            region = self.graph.regions[r].parent;
        }
        false
    }
}
