//! The refusals that need no context: constructs outside the supported
//! language wherever they appear in the body, found by one visitor before
//! lowering (as serde_derive's `check.rs` does for attributes). Each error
//! says what to write instead.
//!
//! Refusals that depend on where a construct stands (a loop used as a value,
//! an assignment inside an expression, a differentiated value passed where it
//! cannot be followed) are made by lowering, which knows the context. Lowering
//! skips what this module refuses, so each problem is reported once.

use crate::errors::Errors;
use syn::visit::Visit;
use syn::Expr;

/// Reports every construct of the body that `refusal` refuses.
pub fn check(block: &syn::Block, errors: &mut Errors) {
    Checker { errors }.visit_block(block);
}

/// Why an expression can never be differentiated, whatever its context.
pub fn refusal(expr: &Expr) -> Option<&'static str> {
    Some(match expr {
        // The generated passes are ordinary synchronous functions.
        Expr::Async(_) | Expr::Await(_) => "async code cannot be differentiated",
        // Raw memory access has no derivative the macro could follow.
        Expr::Unsafe(_) => "`unsafe` blocks cannot be differentiated",
        // An early exit through `?` would leave the tape half written.
        Expr::TryBlock(_) | Expr::Try(_) => {
            "`?` and `try` blocks are not supported in a differentiated function"
        }
        Expr::Yield(_) => "generators cannot be differentiated",
        // `break 'label` out of a block is an exit the lowering does not model.
        Expr::Block(b) if b.label.is_some() => "labelled blocks are not supported",
        // Pattern tests would bind names on one path only.
        Expr::If(branch) if is_let(&branch.cond) && !crate::desugar::ends::is_some_end(&branch.cond) => {
            "`if let` is not supported in a differentiated function (but for `if let Some(v) = x.first()`, `x.last()`, `x.get(i)` and `if let Some((first, rest)) = x.split_first()` or `split_last()`); test the value with a comparison"
        }
        Expr::While(looped) if is_let(&looped.cond) => {
            "`while let` is not supported; write a `loop` with a comparison and `break`"
        }
        Expr::Let(_) => "`let` expressions are not supported",
        // The loop's value would be a second output of the loop.
        Expr::Break(exit) if exit.expr.is_some() => {
            "this `break` with a value is not supported: a loop's value is read after it only where every `break` of the loop carries the same expression of variables declared before the loop (`let root = loop { .. if done { break x; } .. };`); assign the value to such a variable before `break`"
        }
        _ => return None,
    })
}

/// `let pat = value` as a condition (`if let`, `while let`).
pub fn is_let(cond: &Expr) -> bool {
    matches!(crate::lower::strip_parens(cond), Expr::Let(_))
}

struct Checker<'e> {
    errors: &'e mut Errors,
}

impl<'ast> Visit<'ast> for Checker<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        // `if let Some(v) = x.first()`, an element read (`desugar::ends`):
        // its `let` is not a `let` expression.
        if let Expr::If(branch) = expr {
            if crate::desugar::ends::is_some_end(&branch.cond) {
                self.visit_block(&branch.then_branch);
                if let Some((_, otherwise)) = &branch.else_branch {
                    self.visit_expr(otherwise);
                }
                return;
            }
        }
        match refusal(expr) {
            // The parts of a refused expression are not looked at: one error
            // for the whole construct.
            Some(message) => self.errors.spanned(refused_tokens(expr), message),
            None => syn::visit::visit_expr(self, expr),
        }
    }

    // Items are compiled on their own, outside the generated passes.
    fn visit_item(&mut self, item: &'ast syn::Item) {
        self.errors.spanned(
            item,
            "items inside a differentiated function are supported as `const`, `use` and helper `fn`s among the body's own statements (not inside a block in it); move this item there, or outside the function",
        );
    }
}

/// The tokens an error points at: the condition of `if let` and `while let`,
/// the value of `break value`, the whole expression otherwise.
fn refused_tokens(expr: &Expr) -> proc_macro2::TokenStream {
    use quote::ToTokens;
    match expr {
        Expr::If(branch) => branch.cond.to_token_stream(),
        Expr::While(looped) => looped.cond.to_token_stream(),
        Expr::Break(syn::ExprBreak {
            expr: Some(value), ..
        }) => value.to_token_stream(),
        _ => expr.to_token_stream(),
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::errors::Errors;
    use syn::parse_quote;

    /// The messages `check` gives for a body, in order.
    fn refusals(block: syn::Block) -> Vec<String> {
        let mut errors = Errors::default();
        check(&block, &mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn the_supported_language_passes() {
        let body = parse_quote!({
            let mut s = 0.0;
            for i in 0..n {
                if x > 0.0 {
                    s += x * i as f64;
                } else {
                    continue;
                }
                while s > 1.0 {
                    s *= 0.5;
                    if s < 0.7 {
                        break;
                    }
                }
            }
            let g = |v: f64| v * v;
            match k {
                0 => s,
                _ => g(s),
            }
        });
        assert_eq!(refusals(body), Vec::<String>::new());
    }

    #[test]
    fn each_context_free_refusal_is_reported_once() {
        let body = parse_quote!({
            let a = unsafe { x };
            let b = f(x)?;
            if let Some(v) = o {
                v
            } else {
                x
            };
            while let Some(v) = it.next() {
                v;
            }
            let c = 'block: { x };
            let d = loop {
                break x;
            };
            fn helper() {}
            a
        });
        let found = refusals(body);
        let expected = [
            "`unsafe`",
            "`?`",
            "`if let`",
            "`while let`",
            "labelled blocks",
            "`break` with a value",
            "items inside",
        ];
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        for (message, needle) in found.iter().zip(expected) {
            assert!(
                message.contains(needle),
                "{message} should mention {needle}"
            );
        }
    }

    #[test]
    fn a_refused_construct_is_one_error_not_one_per_part() {
        let body = parse_quote!({
            unsafe {
                let y = f(x)?;
                y
            }
        });
        assert_eq!(refusals(body).len(), 1);
    }
}
