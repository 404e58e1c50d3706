//! An integer local bound to a bare literal, `let n = 3;` or `let mut i =
//! 0;`, that the body uses as an index or a size (`c[i * n + j]`,
//! `&x[..n]`, `vec![0.0; n * n]`, or the bound of a range whose variable
//! indexes, `for k in 0..n { .. a[k] .. }`, `(0..n).map(|k| a[k])`) is a
//! `usize`, as rustc infers:
//! annotated so, `let n: usize = 3;`, because the backward pass keeps such
//! values in its tape, whose fields need their types written out. A name
//! bound more than once is left as written (its uses may be another
//! binding's).

use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use std::collections::BTreeSet;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::Expr;

pub fn literal_sizes_typed(block: &mut syn::Block) {
    let mut finder = IndexUses::default();
    // Each pass may find a range's variable indexing, and with it the
    // range's bounds: until nothing more is found.
    loop {
        let before = finder.names.len();
        finder.visit_block(block);
        if finder.names.len() == before {
            break;
        }
    }
    let sized: Vec<Ident> = finder
        .names
        .iter()
        .map(|name| Ident::new(name, proc_macro2::Span::call_site()))
        .filter(|name| crate::desugar::bound_once(block, name))
        .collect();
    if !sized.is_empty() {
        Annotate { sized: &sized }.visit_block_mut(block);
    }
}

/// Names used in an index's or a size's integer arithmetic.
#[derive(Default)]
struct IndexUses {
    names: BTreeSet<String>,
}

impl IndexUses {
    /// The names of `expr`'s arithmetic (`i * n + j`, a range `a..b`), down
    /// to what is not arithmetic (a call, a cast, a method's arguments).
    fn collect(&mut self, expr: &Expr) {
        match strip(expr) {
            Expr::Path(path) if path.qself.is_none() => {
                if let Some(ident) = path.path.get_ident() {
                    self.names.insert(ident.to_string());
                }
            }
            Expr::Binary(binary) if is_arithmetic(&binary.op) => {
                self.collect(&binary.left);
                self.collect(&binary.right);
            }
            Expr::Range(range) => {
                for bound in [&range.start, &range.end].into_iter().flatten() {
                    self.collect(bound);
                }
            }
            _ => {}
        }
    }

    /// Whether `pat` binds a name used as an index.
    fn binds_index(&self, pat: &syn::Pat) -> bool {
        matches!(pat, syn::Pat::Ident(p) if self.names.contains(&p.ident.to_string()))
    }
}

fn is_arithmetic(op: &syn::BinOp) -> bool {
    use syn::BinOp as B;
    matches!(
        op,
        B::Add(_) | B::Sub(_) | B::Mul(_) | B::Div(_) | B::Rem(_)
    )
}

/// The range of `a..b`, `(a..b).rev()` or `(a..b).step_by(k)`.
fn range_of(expr: &Expr) -> Option<&syn::ExprRange> {
    match strip(expr) {
        Expr::Range(range) => Some(range),
        Expr::MethodCall(call) if call.method == "rev" || call.method == "step_by" => {
            range_of(&call.receiver)
        }
        _ => None,
    }
}

impl<'ast> Visit<'ast> for IndexUses {
    fn visit_expr_index(&mut self, index: &'ast syn::ExprIndex) {
        self.collect(&index.index);
        syn::visit::visit_expr_index(self, index);
    }

    fn visit_expr_for_loop(&mut self, looped: &'ast syn::ExprForLoop) {
        if self.binds_index(&looped.pat) {
            if let Some(range) = range_of(&looped.expr) {
                self.collect(&Expr::Range(range.clone()));
            }
        }
        syn::visit::visit_expr_for_loop(self, looped);
    }

    // `(0..n).map(|i| a[i] ..)`, `(0..n).fold(0.0, |acc, i| acc + a[i])`:
    // a range a chain runs over, its item the closure's (last) parameter.
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let item = match call.args.last() {
            Some(Expr::Closure(closure)) => closure.inputs.last(),
            _ => None,
        };
        if let (Some(item), Some(range)) = (item, range_of(&call.receiver)) {
            if self.binds_index(item) {
                self.collect(&Expr::Range(range.clone()));
            }
        }
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if mac.path.is_ident("vec") {
            if let Some(repeat) = crate::parse::method::repeat_in(mac) {
                self.collect(&repeat.len);
            }
        }
        crate::parse::method::read_macro_arguments(self, mac);
    }
}

struct Annotate<'a> {
    sized: &'a [Ident],
}

impl VisitMut for Annotate<'_> {
    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        syn::visit_mut::visit_local_mut(self, local);
        let syn::Pat::Ident(binding) = &local.pat else {
            return;
        };
        let bare_integer = local.init.as_ref().is_some_and(|init| {
            init.diverge.is_none()
                && matches!(strip(&init.expr), Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(n), .. }) if n.suffix().is_empty())
        });
        if bare_integer && self.sized.contains(&binding.ident) {
            let pat = local.pat.clone();
            local.pat = syn::Pat::Type(syn::PatType {
                attrs: Vec::new(),
                pat: Box::new(pat),
                colon_token: Default::default(),
                ty: Box::new(syn::parse_quote!(usize)),
            });
        }
    }
}
