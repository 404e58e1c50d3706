//! Closures bound with `let`: inlined where they are called, in the scope
//! they captured.

use super::exits::ExitFinder;
use super::scopes::{Binding, Key};
use super::{Closure, Lowerer};
use crate::ir::Operand;
use proc_macro2::Ident;
use syn::visit::Visit;
use syn::Pat;

impl<'a> Lowerer<'a> {
    /// `let f = |t: f64| t * x;`: remembered with what it captures, and inlined
    /// at each call. A closure that assigns to a captured variable or returns
    /// early is refused.
    pub(super) fn define_closure(&mut self, ident: &Ident, closure: &syn::ExprClosure) {
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
            .filter(|(name, _)| matches!(name, Key::Var(_)))
            .cloned()
            .collect();
        self.closures.push(Closure {
            expr: closure.clone(),
            environment,
        });
        let k = self.closures.len() - 1;
        self.declare_key(Key::of(ident), Binding::Closure(k));
    }

    /// An argument of a closure: `&v` of a list (`|p: &[f64; 2]|` given
    /// `&pos`) is the list itself, which the parameter then names.
    fn closure_argument(&mut self, arg: &syn::Expr) -> Operand {
        if let syn::Expr::Reference(reference) = crate::lower::strip_parens(arg) {
            if reference.mutability.is_none() && self.array_local(&reference.expr).is_some() {
                return self.expr(&reference.expr);
            }
        }
        self.expr(arg)
    }

    /// A call of a closure: its body, lowered where the call is, with the
    /// parameters bound to the arguments and the captured variables as they
    /// were where the closure was written.
    pub(super) fn inline_closure(&mut self, k: usize, call: &syn::ExprCall) -> Operand {
        let closure = self.closures[k].expr.clone();
        if closure.inputs.len() != call.args.len() {
            self.errors.spanned(
                call,
                format!("this closure takes {} arguments", closure.inputs.len()),
            );
            return self.dummy();
        }
        let args: Vec<Operand> = call.args.iter().map(|a| self.closure_argument(a)).collect();
        let environment = self.closures[k].environment.clone();
        self.scopes.push(environment);
        self.scopes.push(Vec::new());
        for (pat, arg) in closure.inputs.iter().zip(args) {
            let (pat, ty) = match pat {
                Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
                other => (other, None),
            };
            let annotation = ty.filter(|ty| self.floats.of_type(ty).is_some());
            match pat {
                // A list passed to `|v: &[f64]|`: `v` names the same list,
                // so that loops and chains over it read it by index. (Not
                // `|mut v: [f64; 3]|`: its writes are to a copy.)
                Pat::Ident(p)
                    if p.by_ref.is_none()
                        && p.subpat.is_none()
                        && p.mutability.is_none()
                        && matches!(arg, Operand::Node(id) if self.nodes[id].array.is_some()) =>
                {
                    if let Operand::Node(id) = arg {
                        self.declare(&p.ident, id);
                    }
                }
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
}
