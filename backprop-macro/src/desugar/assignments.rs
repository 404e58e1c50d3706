//! A destructuring assignment, `(a, b) = (b, a);` or `(s, c) = f(x);`, is
//! `let (a_next, b_next) = (b, a); a = a_next; b = b_next;`: every value on
//! the right is computed before any variable changes, and the rest of the
//! pipeline sees only tuple `let`s and plain assignments. The new names are
//! ones the function does not mention. `std::mem::swap(&mut a, &mut b)` is
//! such an assignment, or, of two local vectors, a loop swapping their
//! elements.

use crate::lower::strip_parens;
use proc_macro2::Ident;
use std::collections::HashSet;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn tuple_assignments_as_lets(block: &mut syn::Block) {
    let mut mentioned = Mentioned::default();
    mentioned.visit_block(block);
    let vectors = local_vectors(block);
    Rewriter {
        taken: mentioned.0,
        vectors,
    }
    .visit_block_mut(block);
}

#[derive(Default)]
struct Mentioned(HashSet<String>);

impl<'ast> Visit<'ast> for Mentioned {
    fn visit_ident(&mut self, ident: &'ast Ident) {
        self.0.insert(ident.to_string());
    }
}

struct Rewriter {
    taken: HashSet<String>,
    /// Locals bound once to a vector (`vec![..]`, `x.to_vec()`).
    vectors: Vec<Ident>,
}

impl VisitMut for Rewriter {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        syn::visit_mut::visit_block_mut(self, block);
        let stmts = std::mem::take(&mut block.stmts);
        for stmt in stmts {
            match self.rewritten(&stmt) {
                Some(lets) => block.stmts.extend(lets),
                None => block.stmts.push(stmt),
            }
        }
    }
}

/// `let [dx, dy] = [a - b, c - d];` is `let (dx, dy) = (a - b, c - d);`:
/// the same values bound, one per name.
fn array_let_as_tuple(stmt: &Stmt) -> Option<Stmt> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    let pat = match &local.pat {
        syn::Pat::Type(typed) => &*typed.pat,
        other => other,
    };
    let syn::Pat::Slice(names) = pat else {
        return None;
    };
    let init = local.init.as_ref().filter(|i| i.diverge.is_none())?;
    let Expr::Array(values) = strip_parens(&init.expr) else {
        return None;
    };
    let plain = names.elems.iter().all(|p| {
        matches!(p, syn::Pat::Ident(i) if i.by_ref.is_none() && i.subpat.is_none())
            || matches!(p, syn::Pat::Wild(_))
    });
    if !plain || names.elems.len() != values.elems.len() {
        return None;
    }
    let (names, values) = (names.elems.iter(), values.elems.iter());
    Some(syn::parse_quote!(let (#(#names),*) = (#(#values),*);))
}

impl Rewriter {
    /// The statements for `(a, b) = value;`, if `stmt` is one whose targets
    /// are variables (or `_`).
    fn rewritten(&mut self, stmt: &Stmt) -> Option<Vec<Stmt>> {
        if let Some((a, b)) = swapped(stmt) {
            let vectors = [&a, &b].iter().all(|v| {
                v.get_ident()
                    .is_some_and(|name| self.vectors.contains(name))
            });
            if vectors {
                return Some(vec![self.vectors_swapped(&a, &b)]);
            }
            return self.rewritten(&syn::parse_quote!((#a, #b) = (#b, #a);));
        }
        if let Some(tuple) = array_let_as_tuple(stmt) {
            return Some(vec![tuple]);
        }
        let Stmt::Expr(Expr::Assign(assign), Some(_)) = stmt else {
            return None;
        };
        let Expr::Tuple(targets) = strip_parens(&assign.left) else {
            return None;
        };
        let mut names = Vec::new();
        for target in &targets.elems {
            names.push(match strip_parens(target) {
                Expr::Infer(_) => None,
                Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
                    p.path.get_ident().cloned()
                }
                // `v[i]`: named after its array.
                Expr::Index(index) => match strip_parens(&index.expr) {
                    Expr::Path(p) if p.qself.is_none() => p.path.get_ident().cloned(),
                    _ => return None,
                },
                _ => return None,
            });
        }
        let fresh: Vec<Option<Ident>> = names
            .iter()
            .map(|name| name.as_ref().map(|name| self.fresh(name)))
            .collect();
        let pattern = fresh.iter().map(|f| match f {
            Some(ident) => quote::quote!(#ident),
            None => quote::quote!(_),
        });
        let value = &assign.right;
        let span = assign.eq_token.span;
        let pattern: Vec<_> = pattern.collect();
        let comma = (pattern.len() == 1).then(|| quote::quote!(,));
        let mut stmts: Vec<Stmt> =
            vec![syn::parse_quote_spanned!(span=> let (#(#pattern),* #comma) = #value;)];
        // As Rust itself runs it: the places are assigned after the value is
        // computed, left to right.
        for (target, fresh) in targets.elems.iter().zip(&fresh) {
            if let Some(fresh) = fresh {
                stmts.push(syn::parse_quote_spanned!(fresh.span()=> #target = #fresh;));
            }
        }
        Some(stmts)
    }

    /// `a_next`, or `a_next2`, ...: a name nothing in the function uses.
    fn fresh(&mut self, name: &Ident) -> Ident {
        let base = format!("{}_next", name.to_string().trim_start_matches("r#"));
        self.unused(&base, name.span())
    }

    /// `base`, or `base2`, `base3`, ..: a name the function does not use.
    fn unused(&mut self, base: &str, span: proc_macro2::Span) -> Ident {
        let mut candidate = base.to_string();
        let mut k = 2;
        while self.taken.contains(&candidate) {
            candidate = format!("{base}{k}");
            k += 1;
        }
        self.taken.insert(candidate.clone());
        Ident::new(&candidate, span)
    }
}

/// `std::mem::swap`, `core::mem::swap` or `mem::swap`.
pub fn is_mem_swap(path: &syn::Path) -> bool {
    let names = crate::lower::segment_names(path);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    matches!(
        names.as_slice(),
        ["mem", "swap"] | ["std" | "core", "mem", "swap"]
    )
}

impl Rewriter {
    /// Two local vectors swapped (the double buffer of a stencil or a time
    /// stepper): element by element, as the core has no variable that names
    /// another buffer from one iteration to the next. Vectors of different
    /// lengths, which `mem::swap` swaps whole, make the generated passes
    /// panic with a message instead.
    fn vectors_swapped(&mut self, a: &syn::Path, b: &syn::Path) -> Stmt {
        let span = proc_macro2::Span::call_site();
        let (k, kept) = (self.unused("k", span), self.unused("kept", span));
        syn::parse_quote! {
            {
                assert_eq!(
                    #a.len(),
                    #b.len(),
                    "`std::mem::swap` of vectors of different lengths is not differentiated (it swaps them element by element)"
                );
                for #k in 0..#a.len() {
                    let #kept = #a[#k];
                    #a[#k] = #b[#k];
                    #b[#k] = #kept;
                }
            }
        }
    }
}

/// The locals bound exactly once, to `vec![..]` or `x.to_vec()`.
fn local_vectors(block: &syn::Block) -> Vec<Ident> {
    #[derive(Default)]
    struct Finds {
        vectors: Vec<Ident>,
    }
    impl<'ast> Visit<'ast> for Finds {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            if let (syn::Pat::Ident(p), Some(init)) = (&local.pat, &local.init) {
                let vector = match strip_parens(&init.expr) {
                    Expr::Macro(mac) => mac.mac.path.is_ident("vec"),
                    Expr::MethodCall(call) => {
                        (call.method == "to_vec" || call.method == "to_owned")
                            && call.args.is_empty()
                    }
                    _ => false,
                };
                if vector {
                    self.vectors.push(p.ident.clone());
                }
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut finds = Finds::default();
    finds.visit_block(block);
    finds
        .vectors
        .into_iter()
        .filter(|name| super::bound_once(block, name))
        .collect()
}

/// `std::mem::swap(&mut a, &mut b);` (or `mem::swap`, `core::mem::swap`) of
/// two variables: `a` and `b` (as a tuple assignment, `(a, b) = (b, a);`,
/// where they are not vectors).
fn swapped(stmt: &Stmt) -> Option<(syn::Path, syn::Path)> {
    let Stmt::Expr(Expr::Call(call), Some(_)) = stmt else {
        return None;
    };
    let Expr::Path(func) = strip_parens(&call.func) else {
        return None;
    };
    if !is_mem_swap(&func.path) || call.args.len() != 2 {
        return None;
    }
    let variable = |arg: &Expr| match strip_parens(arg) {
        Expr::Reference(r) if r.mutability.is_some() => match strip_parens(&r.expr) {
            Expr::Path(p) if p.path.get_ident().is_some() => Some(p.path.clone()),
            _ => None,
        },
        _ => None,
    };
    Some((variable(&call.args[0])?, variable(&call.args[1])?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn a_tuple_assignment_computes_every_value_first() {
        let mut block: syn::Block = syn::parse_quote!({
            let a_next = 1.0;
            for _ in 0..n {
                (a, _, c) = (c, x, a * 0.5);
            }
        });
        tuple_assignments_as_lets(&mut block);
        let expected: syn::Block = syn::parse_quote!({
            let a_next = 1.0;
            for _ in 0..n {
                let (a_next2, _, c_next) = (c, x, a * 0.5);
                a = a_next2;
                c = c_next;
            }
        });
        assert_eq!(quote!(#block).to_string(), quote!(#expected).to_string());
    }

    #[test]
    fn an_element_of_an_array_is_assigned_after_the_value() {
        let mut block: syn::Block = syn::parse_quote!({
            (v[i], s) = f(x);
        });
        tuple_assignments_as_lets(&mut block);
        let expected: syn::Block = syn::parse_quote!({
            let (v_next, s_next) = f(x);
            v[i] = v_next;
            s = s_next;
        });
        assert_eq!(quote!(#block).to_string(), quote!(#expected).to_string());
    }

    #[test]
    fn other_assignments_are_kept() {
        let mut block: syn::Block = syn::parse_quote!({
            a = b;
            (w.0, b) = (1.0, 2.0);
        });
        let kept = quote!(#block).to_string();
        tuple_assignments_as_lets(&mut block);
        assert_eq!(quote!(#block).to_string(), kept);
    }
}
