//! A tuple local read through its elements, `let t = (x * y, x + y); ..
//! t.0 + t.1`, is one local per element: `let (t_0, t_1) = (x * y, x + y);
//! .. t_0 + t_1` (the tuple pattern lowering knows). The same for a call's
//! tuple, `let r = helper(x); r.0 * r.1`, and `x.sin_cos()`.
//!
//! The elements' count is the literal's, the annotation's (`let t: (f64,
//! f64) = ..`), or else the uses' (one past the highest element read; a
//! value with more elements is then refused by the tuple pattern, as a
//! pattern of the wrong length). A use of the tuple whole, `t` passed on,
//! returned or assigned (`t = (a, b);`), is the tuple of its elements,
//! `(t_0, t_1)`, which needs the count known from the literal or the
//! annotation. A tuple borrowed mutably (`&mut t`), or whose name is bound
//! again inside a nested block, is left as written.

use crate::desugar::records::is_local;
use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn tuple_locals_as_elements(block: &mut syn::Block) {
    let mut names = Names::avoiding(identifiers(block.to_token_stream()));
    Splitter { names: &mut names }.visit_block_mut(block);
}

struct Splitter<'a> {
    names: &'a mut Names,
}

impl VisitMut for Splitter<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        block.stmts = std::mem::take(&mut block.stmts)
            .into_iter()
            .flat_map(borrowing_tuple_split)
            .collect();
        for k in 0..block.stmts.len() {
            let Some((this, rest)) = block.stmts[k..].split_first_mut() else {
                break;
            };
            if let Some(elements) = self.split(this, &*rest) {
                Replace {
                    tuple: &elements.0,
                    elements: &elements.1,
                }
                .visit_stmts(rest);
            }
        }
        syn::visit_mut::visit_block_mut(self, block);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        crate::parse::method::visit_macro_arguments(self, mac);
    }
}

impl Splitter<'_> {
    /// `let [mut] t = tuple;` rewritten as `let [mut] (t_0, ..) = tuple;`
    /// where its later uses allow: the tuple's name and its elements' names.
    fn split(&mut self, stmt: &mut Stmt, rest: &[Stmt]) -> Option<(Ident, Vec<Ident>)> {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let (pat, annotation) = match &local.pat {
            syn::Pat::Type(typed) => match &*typed.ty {
                syn::Type::Tuple(tuple) => (&*typed.pat, Some(tuple.elems.len())),
                _ => return None,
            },
            other => (other, None),
        };
        let syn::Pat::Ident(binding) = pat else {
            return None;
        };
        if binding.by_ref.is_some() || binding.subpat.is_some() {
            return None;
        }
        let known = annotation.or_else(|| tuple_length(&init.expr));
        if known.is_none() && !may_be_tuple(&init.expr) {
            return None;
        }
        let uses = uses_of(&binding.ident, rest)?;
        let count = match (known, uses.whole) {
            (Some(count), _) if uses.highest.map_or(true, |h| h < count) => count,
            (None, false) => uses.highest? + 1,
            _ => return None,
        };
        let tuple = binding.ident.clone();
        let mutability = binding.mutability;
        let elements: Vec<Ident> = (0..count)
            .map(|k| self.names.fresh(&format!("{tuple}_{k}")))
            .collect();
        let span = tuple.span();
        let pattern: Vec<syn::Pat> = elements
            .iter()
            .map(|e| syn::parse_quote_spanned!(span=> #mutability #e))
            .collect();
        let comma = (count == 1).then(|| quote::quote!(,));
        let tuple_pattern: syn::Pat = syn::parse_quote_spanned!(span=> (#(#pattern),* #comma));
        match &mut local.pat {
            syn::Pat::Type(typed) => *typed.pat = tuple_pattern,
            other => *other = tuple_pattern,
        }
        Some((tuple, elements))
    }
}

/// `let (first, rest) = (x[0], &x[1..]);`, a tuple of which a part is
/// borrowed (a view), as one `let` per part, which the lowering binds as
/// it binds each alone; where no part's value names a name the pattern
/// binds, so that the order of binding does not matter. (A borrowed part
/// matched by `_` is not taken.)
fn borrowing_tuple_split(stmt: Stmt) -> Vec<Stmt> {
    let Stmt::Local(local) = &stmt else {
        return vec![stmt];
    };
    let (syn::Pat::Tuple(pattern), Some(init)) = (&local.pat, &local.init) else {
        return vec![stmt];
    };
    let Expr::Tuple(values) = strip(&init.expr) else {
        return vec![stmt];
    };
    let named = |p: &syn::Pat| match p {
        syn::Pat::Ident(p) => p.by_ref.is_none() && p.subpat.is_none(),
        syn::Pat::Wild(_) => true,
        _ => false,
    };
    let borrowed = |e: &Expr| matches!(strip(e), Expr::Reference(_));
    let bound: Vec<String> = pattern
        .elems
        .iter()
        .filter_map(|p| match p {
            syn::Pat::Ident(p) => Some(p.ident.to_string()),
            _ => None,
        })
        .collect();
    let mentioned = identifiers(values.to_token_stream());
    if init.diverge.is_some()
        || pattern.elems.len() != values.elems.len()
        || !pattern.elems.iter().all(named)
        || !values.elems.iter().any(borrowed)
        || bound.iter().any(|name| mentioned.contains(name))
    {
        return vec![stmt];
    }
    pattern
        .elems
        .iter()
        .zip(&values.elems)
        .filter(|(p, e)| !(matches!(p, syn::Pat::Wild(_)) && borrowed(e)))
        .map(|(p, e)| syn::parse_quote_spanned!(e.span()=> let #p = #e;))
        .collect()
}

/// The elements' count of a tuple literal, of `x.sin_cos()`, or of a
/// branch with one arm a tuple literal.
fn tuple_length(expr: &Expr) -> Option<usize> {
    match strip(expr) {
        Expr::Tuple(tuple) => Some(tuple.elems.len()),
        Expr::MethodCall(call) if call.method == "sin_cos" && call.args.is_empty() => Some(2),
        Expr::If(branch) => block_length(&branch.then_branch)
            .or_else(|| tuple_length(&branch.else_branch.as_ref()?.1)),
        Expr::Match(choice) => choice.arms.iter().find_map(|arm| tuple_length(&arm.body)),
        Expr::Block(block) => block_length(&block.block),
        _ => None,
    }
}

fn block_length(block: &syn::Block) -> Option<usize> {
    match block.stmts.last()? {
        Stmt::Expr(tail, None) => tuple_length(tail),
        _ => None,
    }
}

/// A value whose type the syntax does not tell, which may be a tuple: a
/// call of a function (not a tuple struct's constructor, `Pair(a, b)`), a
/// branch, a read of a place.
fn may_be_tuple(expr: &Expr) -> bool {
    match strip(expr) {
        Expr::Call(call) => match strip(&call.func) {
            Expr::Path(path) => path.path.segments.last().is_some_and(|last| {
                !last
                    .ident
                    .to_string()
                    .starts_with(|c: char| c.is_uppercase())
            }),
            _ => false,
        },
        Expr::MethodCall(_)
        | Expr::If(_)
        | Expr::Match(_)
        | Expr::Index(_)
        | Expr::Field(_)
        | Expr::Path(_) => true,
        _ => false,
    }
}

/// How the statements after a tuple's `let` use it: the highest element
/// read, and whether it is used whole. `None` where it is used in a way its
/// elements cannot stand for.
struct Uses {
    highest: Option<usize>,
    whole: bool,
}

fn uses_of(tuple: &Ident, rest: &[Stmt]) -> Option<Uses> {
    let mut finder = UseFinder {
        tuple,
        uses: Uses {
            highest: None,
            whole: false,
        },
        refused: false,
    };
    for stmt in rest {
        if let Stmt::Local(local) = stmt {
            if crate::desugar::pattern_binds(&local.pat, tuple) {
                if let Some(init) = &local.init {
                    finder.visit_local_init(init);
                }
                break;
            }
        }
        if nested_rebinding(stmt, tuple) {
            return None;
        }
        finder.visit_stmt(stmt);
    }
    (!finder.refused).then_some(finder.uses)
}

/// Whether a statement binds `name` inside (a nested block, a loop's
/// pattern, a `match` arm), other than by a closure's parameter.
fn nested_rebinding(stmt: &Stmt, name: &Ident) -> bool {
    let block = syn::Block {
        brace_token: Default::default(),
        stmts: vec![stmt.clone()],
    };
    crate::desugar::rebound_inside(&block, name)
}

struct UseFinder<'a> {
    tuple: &'a Ident,
    uses: Uses,
    refused: bool,
}

impl<'ast> Visit<'ast> for UseFinder<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::Field(field) if is_local(&field.base, self.tuple) => match &field.member {
                syn::Member::Unnamed(index) => {
                    let k = index.index as usize;
                    self.uses.highest = Some(self.uses.highest.map_or(k, |h| h.max(k)));
                }
                syn::Member::Named(_) => self.refused = true,
            },
            Expr::Reference(r) if r.mutability.is_some() && is_local(&r.expr, self.tuple) => {
                self.refused = true
            }
            Expr::Closure(closure) if crate::desugar::closure_binds(closure, self.tuple) => {}
            _ if is_local(expr, self.tuple) => self.uses.whole = true,
            _ => syn::visit::visit_expr(self, expr),
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        crate::parse::method::read_macro_arguments(self, mac);
    }
}

/// `t.k` as `t_k`, and `t` as `(t_0, t_1, ..)`, up to a `let` that binds
/// `t` again (whose value is the last use).
struct Replace<'a> {
    tuple: &'a Ident,
    elements: &'a [Ident],
}

impl Replace<'_> {
    fn visit_stmts(&mut self, stmts: &mut [Stmt]) {
        for stmt in stmts {
            if let Stmt::Local(local) = stmt {
                if crate::desugar::pattern_binds(&local.pat, self.tuple) {
                    if let Some(init) = &mut local.init {
                        self.visit_local_init_mut(init);
                    }
                    return;
                }
            }
            self.visit_stmt_mut(stmt);
        }
    }
}

impl VisitMut for Replace<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Field(field) if is_local(&field.base, self.tuple) => {
                if let syn::Member::Unnamed(index) = &field.member {
                    let element = &self.elements[index.index as usize];
                    *expr = syn::parse_quote_spanned!(index.span=> #element);
                }
            }
            Expr::Closure(closure) if crate::desugar::closure_binds(closure, self.tuple) => {}
            _ if is_local(expr, self.tuple) => {
                let elements = self.elements;
                let comma = (elements.len() == 1).then(|| quote::quote!(,));
                *expr = syn::parse_quote!((#(#elements),* #comma));
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        crate::parse::method::visit_macro_arguments(self, mac);
    }
}
