//! `if` and `match`: each arm is a block of its own; values that differ between
//! arms are merged after the branch.

use super::bindings::{is_constant_name, pattern_binding};
use super::scopes::Binding;
use super::statements::unused_float;
use super::{span_of, strip_parens, Arm, Lowerer, Tail};
use crate::ir::{Hint, If, Node, NodeId, NodeKind, Operand, Stmt as IrStmt, Test};
use crate::valid;
use proc_macro2::{Ident, Span};
use quote::quote;
use syn::{Expr, Pat};

impl<'a> Lowerer<'a> {
    /// `if c { .. } else { .. }`.
    pub(super) fn branch(&mut self, branch: &syn::ExprIf, wants_value: bool) -> Operand {
        if valid::is_let(&branch.cond) {
            // `if let`: reported by `valid::check`.
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

    /// A two-way branch on a condition.
    pub(super) fn branch_with(
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
        let mut nothing = |_: &mut Self| None;
        let else_arm: &mut Arm<'_, 'a> = match else_arm {
            Some(arm) => arm,
            None => &mut nothing,
        };
        self.branch_among(
            Test::Cond(cond),
            wants_value,
            span,
            &mut [then_arm, else_arm],
        )
    }

    /// A branch: each arm is a block of its own. The branch's value (when it
    /// is used) and every variable an arm assigns become merge nodes, defined
    /// by the branch statement.
    fn branch_among(
        &mut self,
        test: Test,
        wants_value: bool,
        span: Span,
        arms: &mut [&mut Arm<'_, 'a>],
    ) -> Operand {
        let id = self.new_statement();
        let before = self.scopes.clone();
        let mut values = Vec::new();
        let mut arm_scopes = Vec::new();
        let mut blocks = Vec::new();
        for arm in arms.iter_mut() {
            self.enter_region(id);
            self.scopes.push(Vec::new());
            values.push(arm(self));
            self.scopes.pop();
            arm_scopes.push(std::mem::replace(&mut self.scopes, before.clone()));
            blocks.push(self.exit_region(Vec::new()));
        }
        // What each arm hands back: the variables they assign (by their place in
        // the scopes), then the value.
        let mut results: Vec<(Option<Reassigned>, Vec<Operand>)> = Vec::new();
        for (si, scope) in before.iter().enumerate() {
            for (ei, (_, original)) in scope.iter().enumerate() {
                let Binding::Node(original) = *original else {
                    continue;
                };
                let versions: Option<Vec<NodeId>> = arm_scopes
                    .iter()
                    .map(|scopes| match scopes[si][ei].1 {
                        Binding::Node(version) => Some(version),
                        Binding::Closure(_) => None,
                    })
                    .collect();
                match versions {
                    Some(versions) if versions.iter().any(|v| *v != original) => {
                        let slot = Reassigned {
                            scope: si,
                            entry: ei,
                            before: original,
                        };
                        results.push((
                            Some(slot),
                            versions.into_iter().map(Operand::Node).collect(),
                        ));
                    }
                    _ => {}
                }
            }
        }
        if wants_value {
            let values = values
                .into_iter()
                .map(|value| value.unwrap_or_else(|| unused_float(&self.ret)))
                .collect();
            results.push((None, values));
        }
        let mut merges = Vec::new();
        for (slot, values) in results {
            let hint = match &slot {
                Some(Reassigned { before, .. }) => self.nodes[*before].hint.clone(),
                None => Hint::Op("merge".into()),
            };
            let id = self.push_detached(
                Node::new(hint, NodeKind::Merge, span)
                    .active_if(values.iter().any(|v| self.is_active(v)))
                    .typed(values.iter().find_map(|v| self.type_of(v))),
            );
            if let Some(Reassigned { scope, entry, .. }) = slot {
                self.scopes[scope][entry].1 = Binding::Node(id);
            }
            for (block, value) in blocks.iter_mut().zip(values) {
                block.results.push(value);
            }
            merges.push(id);
        }
        let value = match merges.last() {
            Some(last) if wants_value => Operand::Node(*last),
            _ => self.dummy(),
        };
        self.emit(IrStmt::If(If {
            id,
            test,
            arms: blocks,
            merges,
        }));
        value
    }

    /// `match` on a value that does not depend on the inputs: a chain of
    /// branches, one per arm, each taken when its pattern (and guard) matches.
    pub(super) fn match_expr(&mut self, matched: &syn::ExprMatch, wants_value: bool) -> Operand {
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
        // A differentiated one (`match x { t if t < 0.0 => -t, t => t * t }`)
        // is tested as a condition is, not differentiated, and flows through
        // the arm's binding as any value does.
        let scrutinee = self.expr(&matched.expr);
        let scrutinee = match scrutinee {
            Operand::Const(c) => {
                let node = self.copy_node(Operand::Const(c), span_of(&matched.expr));
                Operand::Node(self.push(node))
            }
            node => node,
        };
        self.match_arms(&arms, &scrutinee, wants_value)
            .unwrap_or_else(|| self.dummy())
    }

    pub(super) fn bind_scrutinee(&mut self, arm: &MatchArm, scrutinee: &Operand) {
        if let (Some(ident), Operand::Node(id)) = (arm.binding, scrutinee) {
            self.declare(ident, *id);
        }
    }

    /// The arms from `arms[0]` on: each arm's test is evaluated only when the
    /// arms before it failed, as Rust does (a guard such as `v[i] > 0.0` after
    /// `_ if i >= v.len()` must not run first); the last arm needs no test.
    pub(super) fn match_arms(
        &mut self,
        arms: &[MatchArm],
        scrutinee: &Operand,
        wants_value: bool,
    ) -> Option<Operand> {
        let tail = if wants_value { Tail::Inner } else { Tail::Unit };
        if let Some(value) = self.native_match(arms, scrutinee, wants_value) {
            return Some(value);
        }
        let (arm, rest) = arms.split_first()?;
        let mut lower_arm = |s: &mut Self| {
            s.scopes.push(Vec::new());
            s.bind_scrutinee(arm, scrutinee);
            let value = s.arm(&arm.arm.body, tail);
            s.scopes.pop();
            value
        };
        if rest.is_empty() {
            return lower_arm(self);
        }
        let cond = self.arm_test(arm, scrutinee);
        let value = self.branch_with(
            cond,
            wants_value,
            span_of(&arm.arm.pat),
            &mut lower_arm,
            Some(&mut |s| s.match_arms(rest, scrutinee, wants_value)),
        );
        wants_value.then_some(value)
    }

    /// The arms up to the first with a guard, as a `match` of their own (with
    /// `_` for the rest, if any): both passes match on the scrutinee as the
    /// user did, with no test saved per arm. `None` when the first arm has a
    /// guard, there is one arm, or the scrutinee cannot be kept for the
    /// backward pass as a plain copy (an enum the user defined is tested arm
    /// by arm instead).
    fn native_match(
        &mut self,
        arms: &[MatchArm],
        scrutinee: &Operand,
        wants_value: bool,
    ) -> Option<Operand> {
        // (A differentiated scrutinee is tested arm by arm, as `if`s.)
        let kept = match scrutinee {
            Operand::Node(id) => {
                !self.nodes[*id].active
                    && self.nodes[*id]
                        .ty
                        .as_ref()
                        .is_some_and(|ty| self.floats.is_copy(ty))
            }
            Operand::Const(_) => false,
        };
        let unguarded = arms.iter().take_while(|arm| arm.guard.is_none()).count();
        // Arms after one that matches anything are never reached.
        let head = match arms[..unguarded].iter().position(|arm| arm.test.is_none()) {
            Some(catch_all) => catch_all + 1,
            None => unguarded,
        };
        let rest = if head == unguarded {
            &arms[head..]
        } else {
            &[][..]
        };
        if !kept || head == 0 || head + usize::from(!rest.is_empty()) < 2 {
            return None;
        }
        let span = span_of(&arms[0].arm.pat);
        let mut patterns: Vec<Pat> = arms[..head]
            .iter()
            .map(|arm| arm.test.cloned().unwrap_or_else(|| syn::parse_quote!(_)))
            .collect();
        let tail = if wants_value { Tail::Inner } else { Tail::Unit };
        let mut lowered: Vec<Box<Arm<'_, 'a>>> = arms[..head]
            .iter()
            .map(|arm| {
                Box::new(move |s: &mut Self| {
                    s.scopes.push(Vec::new());
                    s.bind_scrutinee(arm, scrutinee);
                    let value = s.arm(&arm.arm.body, tail);
                    s.scopes.pop();
                    value
                }) as Box<Arm<'_, 'a>>
            })
            .collect();
        if !rest.is_empty() {
            patterns.push(syn::parse_quote!(_));
            lowered.push(Box::new(move |s: &mut Self| {
                s.match_arms(rest, scrutinee, wants_value)
            }));
        }
        let mut arms: Vec<&mut Arm<'_, 'a>> = lowered.iter_mut().map(|arm| &mut **arm).collect();
        let test = Test::Match {
            scrutinee: scrutinee.clone(),
            patterns,
        };
        Some(self.branch_among(test, wants_value, span, &mut arms))
    }

    /// Whether an arm matches: its pattern, then (only if the pattern
    /// matches) its guard.
    fn arm_test(&mut self, arm: &MatchArm, scrutinee: &Operand) -> Operand {
        let pattern = arm.test.map(|pat| {
            self.inactive_template(
                |a| {
                    let s = a.first();
                    // (In parentheses: `matches!` takes no `..=hi` bare.)
                    quote!(::core::matches!(#s, (#pat)))
                },
                std::slice::from_ref(scrutinee),
                &arm.arm.pat,
            )
        });
        let Some(guard) = arm.guard else {
            return pattern.unwrap_or_else(|| constant(quote!(true)));
        };
        let mut guard_value = |s: &mut Self| {
            s.scopes.push(Vec::new());
            s.bind_scrutinee(arm, scrutinee);
            let value = s.expr(guard);
            s.scopes.pop();
            Some(value)
        };
        match pattern {
            None => guard_value(self).unwrap_or_else(|| constant(quote!(true))),
            Some(pattern) => self.branch_with(
                pattern,
                true,
                span_of(guard),
                &mut guard_value,
                Some(&mut |_| Some(constant(quote!(false)))),
            ),
        }
    }

    pub(super) fn arm(&mut self, body: &Expr, tail: Tail) -> Option<Operand> {
        match body {
            Expr::Block(b) if b.label.is_none() => self.block(&b.block, tail),
            // An arm's expression is a statement of its own (the parts of
            // arrays it takes are copied in the arm).
            other => {
                let stmt = syn::Stmt::Expr(other.clone(), None);
                self.stmts(std::slice::from_ref(&stmt), tail, span_of(other))
            }
        }
    }
}

/// A `match` arm, its pattern taken apart: `n @ 1..=3 if n != 2`.
pub(super) struct MatchArm<'a> {
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

/// A variable an arm assigns: its place in the scopes, and its version before
/// the branch.
struct Reassigned {
    scope: usize,
    entry: usize,
    before: NodeId,
}

/// A constant operand: `true`, `false`.
fn constant(tokens: proc_macro2::TokenStream) -> Operand {
    Operand::Const(crate::ir::Constant {
        tokens,
        atomic: true,
        float: None,
    })
}
