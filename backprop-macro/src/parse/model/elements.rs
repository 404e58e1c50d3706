//! Slices of structs (`layers: &[Layer]`): each element is read through a
//! name bound to it, an alias. `for layer in layers { .. }` becomes
//! `for l in 0..layers.len() { let layer = &layers[l]; .. }`, and
//! `let layer = &layers[l];` is kept; `layer.w` then reads the field `w` of
//! the slice, read field by field as one vector (`flat.rs`). What the body
//! does with the slice otherwise is refused here (it would be read as data,
//! and its fields would get no gradient without a word).

use crate::emit::names::Names;
use crate::errors::Errors;
use crate::lower::strip_parens as strip;
use proc_macro2::Ident;
use std::collections::BTreeMap;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// The names bound to elements, each with its slice.
pub(super) type Aliases = BTreeMap<Ident, Ident>;

/// Loops over the slices as loops over indices, and every alias found.
pub(super) fn bind_elements(
    block: &mut syn::Block,
    slices: &[Ident],
    reserved: &[Ident],
    names: &mut Names,
    errors: &mut Errors,
) -> Aliases {
    let mut binder = Binder {
        slices,
        reserved,
        names,
        errors,
        aliases: Aliases::new(),
    };
    binder.visit_block_mut(block);
    binder.aliases
}

struct Binder<'a> {
    slices: &'a [Ident],
    reserved: &'a [Ident],
    names: &'a mut Names,
    errors: &'a mut Errors,
    aliases: Aliases,
}

impl Binder<'_> {
    fn alias(&mut self, alias: &Ident, slice: &Ident) {
        if self.reserved.contains(alias) || self.slices.contains(alias) {
            self.errors.spanned(
                alias,
                "this name is a parameter already: name the element differently",
            );
            return;
        }
        match self.aliases.get(alias) {
            Some(other) if other != slice => self.errors.spanned(
                alias,
                format!("`{alias}` names elements of `{other}` elsewhere: name the elements of each slice differently"),
            ),
            _ => {
                self.aliases.insert(alias.clone(), slice.clone());
            }
        }
    }
}

impl VisitMut for Binder<'_> {
    fn visit_expr_for_loop_mut(&mut self, looped: &mut syn::ExprForLoop) {
        if let Some(over) = over_elements(&looped.expr, self.slices) {
            if let Some((index, alias)) = loop_names(&looped.pat, over.enumerated) {
                let slice = &over.slice;
                let index = index.unwrap_or_else(|| self.names.fresh(&format!("{alias}_index")));
                self.alias(&alias, slice);
                let range: Expr = if over.reversed {
                    syn::parse_quote!((0..#slice.len()).rev())
                } else {
                    syn::parse_quote!(0..#slice.len())
                };
                *looped.expr = range;
                *looped.pat = syn::parse_quote!(#index);
                looped
                    .body
                    .stmts
                    .insert(0, syn::parse_quote!(let #alias = &#slice[#index];));
            }
        }
        syn::visit_mut::visit_expr_for_loop_mut(self, looped);
    }

    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        if let Some((alias, slice, _)) = element_binding(local, self.slices) {
            self.alias(&alias, &slice);
        }
        syn::visit_mut::visit_local_mut(self, local);
    }
}

/// `let layer = &layers[l];`: the alias, its slice and the index.
pub(super) fn element_binding<'l>(
    local: &'l syn::Local,
    slices: &[Ident],
) -> Option<(Ident, Ident, &'l Expr)> {
    let syn::Pat::Ident(pat) = &local.pat else {
        return None;
    };
    if pat.mutability.is_some() || pat.by_ref.is_some() || pat.subpat.is_some() {
        return None;
    }
    let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
    let Expr::Reference(r) = strip(&init.expr) else {
        return None;
    };
    if r.mutability.is_some() {
        return None;
    }
    let Expr::Index(index) = strip(&r.expr) else {
        return None;
    };
    let slice = path_ident(&index.expr).filter(|s| slices.contains(s))?;
    Some((pat.ident.clone(), slice, &index.index))
}

struct Over {
    slice: Ident,
    enumerated: bool,
    reversed: bool,
}

/// `layers`, `&layers`, `layers.iter()`, with `.enumerate()` and then
/// `.rev()` after it, or `.rev()` alone.
fn over_elements(iter: &Expr, slices: &[Ident]) -> Option<Over> {
    let mut at = strip(iter);
    let mut reversed = false;
    let mut enumerated = false;
    if let Expr::MethodCall(call) = at {
        if call.method == "rev" && call.args.is_empty() {
            reversed = true;
            at = strip(&call.receiver);
        }
    }
    if let Expr::MethodCall(call) = at {
        if call.method == "enumerate" && call.args.is_empty() {
            enumerated = true;
            at = strip(&call.receiver);
        }
    }
    if let Expr::MethodCall(call) = at {
        if (call.method == "iter" || call.method == "into_iter") && call.args.is_empty() {
            at = strip(&call.receiver);
        } else {
            return None;
        }
    } else if reversed || enumerated {
        return None;
    }
    if let Expr::Reference(r) = at {
        at = strip(&r.expr);
    }
    let slice = path_ident(at).filter(|s| slices.contains(s))?;
    Some(Over {
        slice,
        enumerated,
        reversed,
    })
}

/// The index's name (when the loop enumerates and names it) and the
/// element's.
fn loop_names(pat: &syn::Pat, enumerated: bool) -> Option<(Option<Ident>, Ident)> {
    let name = |pat: &syn::Pat| match pat {
        syn::Pat::Ident(p)
            if p.by_ref.is_none() && p.subpat.is_none() && p.mutability.is_none() =>
        {
            Some(p.ident.clone())
        }
        _ => None,
    };
    if !enumerated {
        return name(pat).map(|alias| (None, alias));
    }
    let syn::Pat::Tuple(tuple) = pat else {
        return None;
    };
    let [index, element] = [tuple.elems.first()?, tuple.elems.get(1)?];
    if tuple.elems.len() != 2 {
        return None;
    }
    let index = match index {
        syn::Pat::Wild(_) => None,
        other => Some(name(other)?),
    };
    Some((index, name(element)?))
}

fn path_ident(expr: &Expr) -> Option<Ident> {
    match strip(expr) {
        Expr::Path(p) => p.path.get_ident().cloned(),
        _ => None,
    }
}

/// After the function is read field by field: a slice of structs may still
/// be measured (`layers.len()`), bound element by element (the aliases'
/// `let`s) and read for fields that are data (`layers[l].n`); anything else
/// is refused, spanned at the slice.
pub(super) fn refuse_other_uses(
    block: &syn::Block,
    slices: &[Ident],
    aliases: &Aliases,
    errors: &mut Errors,
) {
    let mut check = Leftovers {
        slices,
        aliases,
        errors,
    };
    check.visit_block(block);
}

struct Leftovers<'a> {
    slices: &'a [Ident],
    aliases: &'a Aliases,
    errors: &'a mut Errors,
}

impl<'ast> Visit<'ast> for Leftovers<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match strip(expr) {
            Expr::MethodCall(call)
                if (call.method == "len" || call.method == "is_empty")
                    && call.args.is_empty()
                    && path_ident(&call.receiver).is_some_and(|s| self.slices.contains(&s)) =>
            {
                return;
            }
            // A field that is data, of an indexed element.
            Expr::Field(_) => {
                if let Some((_, index, _)) = super::uses::indexed_chain(expr, self.slices) {
                    return self.visit_expr(index);
                }
            }
            Expr::Path(_) => {
                if let Some(slice) = path_ident(expr).filter(|s| self.slices.contains(s)) {
                    self.errors.spanned(
                        expr,
                        format!("a slice of differentiated structs is read element by element: `for layer in {slice}` (or `.iter()`, `.iter().enumerate()`), `let layer = &{slice}[l];` or `{slice}[l].w[i]`, then the element's fields; `{slice}.len()`; or a reduction, `{slice}.iter().map(|layer| ..).sum()` (or `product`, `fold`). Other uses of the slice are not supported yet (other iterator chains, calls passing it whole): write a loop, or leave `{slice}` out of `wrt(...)` to pass it as data"),
                    );
                    return;
                }
            }
            _ => {}
        }
        syn::visit::visit_expr(self, expr);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let Some((alias, _, index)) = element_binding(local, self.slices) {
            if self.aliases.contains_key(&alias) {
                return self.visit_expr(index);
            }
        }
        syn::visit::visit_local(self, local);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
        if let Ok(args) = syn::parse::Parser::parse2(parser, mac.tokens.clone()) {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
    }
}
