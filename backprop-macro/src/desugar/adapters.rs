//! Iterator code spelled two ways, rewritten into the one the rest of the
//! pipeline reads: a function named where a closure is expected
//! (`x.iter().copied().map(f64::exp)`) as the closure that calls it
//! (`map(|v| f64::exp(v))`), and `for_each` with a closure as the `for` loop
//! it stands for (`v.iter_mut().for_each(|e| *e *= k);` is
//! `for e in v.iter_mut() { *e *= k; }`, which `iter_mut` then makes an
//! index loop), and a vector extended, `out.extend_from_slice(&v);` or
//! `out.extend(x.iter().map(|a| a * 2.0));`, as the loop of pushes it
//! stands for (`for &e in (&v).iter() { out.push(e); }`).

use crate::emit::names::{identifiers, Names};
use quote::ToTokens;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn adapters_as_closures_and_loops(block: &mut syn::Block) {
    let growable = growable_vectors(block);
    Rewriter {
        growable: &growable,
    }
    .visit_block_mut(block);
}

struct Rewriter<'a> {
    /// The vectors that start empty (`Vec::new()`, `Vec::with_capacity(n)`,
    /// `vec![]`), each bound once: what a push may grow.
    growable: &'a [syn::Ident],
}

/// The names bound once to an empty vector.
fn growable_vectors(block: &syn::Block) -> Vec<syn::Ident> {
    struct Finder(Vec<syn::Ident>);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            let binding = crate::desugar::records::plain_binding(&local.pat);
            let empty = local.init.as_ref().is_some_and(|init| {
                init.diverge.is_none() && crate::lower::is_empty_vec(&init.expr)
            });
            if let (Some(binding), true) = (binding, empty) {
                self.0.push(binding.ident.clone());
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut finder = Finder(Vec::new());
    syn::visit::Visit::visit_block(&mut finder, block);
    finder
        .0
        .into_iter()
        .filter(|name| crate::desugar::bound_once(block, name))
        .collect()
}

/// Adapters that take a function of one item.
const TAKES_A_FUNCTION: &[&str] = &["map", "filter", "for_each"];

impl VisitMut for Rewriter<'_> {
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
            if let Some(looped) = for_each_loop(expr).or_else(|| extend_loop(expr, self.growable)) {
                *expr = looped;
                *semi = None;
            }
        }
    }
}

/// `out.extend_from_slice(s)` of a vector that starts empty as `for &e in
/// s.iter() { out.push(e); }`, and
/// `out.extend(items)` as the same loop over `items`, where the items'
/// kind shows: references where the chain ends in `iter()` (or adapters
/// that keep its items: `rev`, `skip`, `take`, `step_by`, `filter`) or is
/// a reference (`&v`), values where it ends in `map`, `copied` or
/// `cloned`. Anything else is left as written (and refused).
fn extend_loop(expr: &Expr, growable: &[syn::Ident]) -> Option<Expr> {
    let Expr::MethodCall(call) = expr else {
        return None;
    };
    let grows = matches!(&*call.receiver, Expr::Path(p) if p.path.get_ident().is_some_and(|v| growable.contains(v)));
    if call.args.len() != 1 || !grows {
        return None;
    }
    let items = &call.args[0];
    let by_reference = match call.method.to_string().as_str() {
        "extend_from_slice" => true,
        "extend" => yields_references(items)?,
        _ => return None,
    };
    let vector = &call.receiver;
    let mut names = Names::avoiding(identifiers(call.to_token_stream()));
    let item = names.fresh("item");
    Some(match by_reference {
        true if call.method == "extend_from_slice" => {
            syn::parse_quote!(for &#item in (#items).iter() { #vector.push(#item); })
        }
        true => syn::parse_quote!(for &#item in #items { #vector.push(#item); }),
        false => syn::parse_quote!(for #item in #items { #vector.push(#item); }),
    })
}

/// Whether an iterator yields references (`Some(true)`) or values, where
/// its last adapter tells.
fn yields_references(items: &Expr) -> Option<bool> {
    match crate::lower::strip_parens(items) {
        Expr::Reference(r) if r.mutability.is_none() => Some(true),
        Expr::MethodCall(call) => match call.method.to_string().as_str() {
            "iter" if call.args.is_empty() => Some(true),
            "map" | "copied" | "cloned" => Some(false),
            "rev" | "skip" | "take" | "step_by" | "filter" => yields_references(&call.receiver),
            _ => None,
        },
        _ => None,
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
