//! Iterator code spelled two ways, rewritten into the one the rest of the
//! pipeline reads: a function named where a closure is expected
//! (`x.iter().copied().map(f64::exp)`) as the closure that calls it
//! (`map(|v| f64::exp(v))`), and `for_each` with a closure as the `for` loop
//! it stands for (`v.iter_mut().for_each(|e| *e *= k);` is
//! `for e in v.iter_mut() { *e *= k; }`, which `iter_mut` then makes an
//! index loop).

use crate::emit::names::{identifiers, Names};
use quote::ToTokens;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn adapters_as_closures_and_loops(block: &mut syn::Block) {
    Rewriter.visit_block_mut(block);
}

struct Rewriter;

/// Adapters that take a function of one item.
const TAKES_A_FUNCTION: &[&str] = &["map", "filter", "for_each"];

impl VisitMut for Rewriter {
    fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
        syn::visit_mut::visit_expr_method_call_mut(self, call);
        let named = TAKES_A_FUNCTION.iter().any(|m| call.method == m);
        if !named || call.args.len() != 1 {
            return;
        }
        if let Expr::Path(function) = &call.args[0] {
            let mut names = Names::avoiding(identifiers(call.to_token_stream()));
            let item = names.fresh("item");
            call.args[0] = syn::parse_quote!(|#item| #function(#item));
        }
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        syn::visit_mut::visit_stmt_mut(self, stmt);
        if let Stmt::Expr(expr, semi) = stmt {
            if let Some(looped) = for_each_loop(expr) {
                *expr = looped;
                *semi = None;
            }
        }
    }
}

/// `chain.for_each(|pat| body)` as `for pat in chain { body; }`, where that
/// is what it means: one parameter, and no `return` or `?` in the body
/// (which would leave the closure, not the function).
fn for_each_loop(expr: &Expr) -> Option<Expr> {
    let Expr::MethodCall(call) = expr else {
        return None;
    };
    if call.method != "for_each" || call.args.len() != 1 {
        return None;
    }
    let Expr::Closure(closure) = &call.args[0] else {
        return None;
    };
    if closure.inputs.len() != 1 || leaves(&closure.body) {
        return None;
    }
    // `for` takes no type on its pattern.
    let pat = match &closure.inputs[0] {
        syn::Pat::Type(typed) => (*typed.pat).clone(),
        pat => pat.clone(),
    };
    let chain = &call.receiver;
    let body = &closure.body;
    Some(match &**body {
        Expr::Block(block) if block.label.is_none() => {
            let block = &block.block;
            syn::parse_quote!(for #pat in #chain #block)
        }
        _ => syn::parse_quote!(for #pat in #chain { #body; }),
    })
}

/// Whether an expression holds a `return` or a `?` outside nested closures:
/// in a closure's body, they leave the closure.
fn leaves(body: &Expr) -> bool {
    struct Finds(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finds {
        fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
            self.0 = true;
        }
        fn visit_expr_try(&mut self, _: &'ast syn::ExprTry) {
            self.0 = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    }
    let mut finds = Finds(false);
    syn::visit::Visit::visit_expr(&mut finds, body);
    finds.0
}
