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
            // The user's name for the count of an `enumerate()` of the whole
            // slice is the index; else a fresh one.
            let index = over
                .counted_from_zero(&looped.pat)
                .unwrap_or_else(|| self.names.fresh(&format!("{}_index", over.slice)));
            if let Some((alias, lets)) = over.bindings(&looped.pat, &index) {
                self.alias(&alias, &over.slice);
                *looped.expr = over.range();
                *looped.pat = syn::parse_quote!(#index);
                for (k, stmt) in lets.into_iter().enumerate() {
                    looped.body.stmts.insert(k, stmt);
                }
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

/// A loop over the elements of a slice of structs, through `iter()` and the
/// adapters `enumerate`, `zip` (with a slice), `skip`, `take` and `rev`: as
/// a loop over the element's index, `from..from + count`.
struct Over {
    slice: Ident,
    /// Every differentiated slice (a `zip` with one binds its element).
    slices: Vec<Ident>,
    /// The first element's index, and how many.
    from: Expr,
    count: Expr,
    reversed: bool,
    /// What each item is, nested as the adapters nest tuples.
    item: Item,
}

enum Item {
    /// The element itself.
    Element,
    /// `enumerate()`'s count, from `from` where it was applied, and the item
    /// before it.
    Enumerated(Expr, Box<Item>),
    /// `zip(other)`: the item before it, and the other slice's element at
    /// the position.
    Zipped(Box<Item>, Zipped),
}

/// The other slice of a `zip`: its element `start + k` is paired with the
/// `k`-th item, counted from `from`, where the `zip` was applied.
struct Zipped {
    other: Ident,
    start: Expr,
    from: Expr,
}

fn over_elements(iter: &Expr, slices: &[Ident]) -> Option<Over> {
    // The adapters from the slice outwards.
    let mut adapters = Vec::new();
    let mut at = strip(iter);
    while let Expr::MethodCall(call) = at {
        adapters.push(call);
        at = strip(&call.receiver);
    }
    adapters.reverse();
    if let Expr::Reference(r) = at {
        at = strip(&r.expr);
    }
    // A part of the slice, `&layers[a..b]`: its elements from `a`, as many
    // as the part has (taking the part checks its bounds, as the loop did).
    let mut part = None;
    if let Expr::Index(index) = at {
        if let Expr::Range(range) = strip(&index.index) {
            part = Some((index.index.clone(), range.start.clone()));
            at = strip(&index.expr);
        }
    }
    let slice = path_ident(at).filter(|s| slices.contains(s))?;
    let (from, count) = match part {
        Some((range, start)) => (
            start.map_or_else(|| syn::parse_quote!(0), |a| syn::parse_quote!((#a))),
            syn::parse_quote!(#slice[#range].len()),
        ),
        None => (syn::parse_quote!(0), syn::parse_quote!(#slice.len())),
    };
    let mut rest = adapters.as_slice();
    match rest.first() {
        Some(call)
            if (call.method == "iter" || call.method == "into_iter") && call.args.is_empty() =>
        {
            rest = &rest[1..];
        }
        Some(_) => return None,
        None => {}
    }
    let mut over = Over {
        slice: slice.clone(),
        slices: slices.to_vec(),
        from,
        count,
        reversed: false,
        item: Item::Element,
    };
    for call in rest {
        // Nothing may follow `rev`, which counts from the end.
        if over.reversed {
            return None;
        }
        let (from, count) = (&over.from, &over.count);
        match (call.method.to_string().as_str(), call.args.len()) {
            ("enumerate", 0) => {
                let item = std::mem::replace(&mut over.item, Item::Element);
                over.item = Item::Enumerated(from.clone(), Box::new(item));
            }
            ("rev", 0) => over.reversed = true,
            ("skip", 1) => {
                let n = &call.args[0];
                over.from = syn::parse_quote!(#from + (#n));
                over.count = syn::parse_quote!(#count.saturating_sub(#n));
            }
            ("take", 1) => {
                let n = &call.args[0];
                over.count = syn::parse_quote!(#count.min(#n));
            }
            ("zip", 1) => {
                let (other, start, len) = zipped_slice(&call.args[0])?;
                over.count = syn::parse_quote!(#count.min(#len));
                let item = std::mem::replace(&mut over.item, Item::Element);
                over.item = Item::Zipped(
                    Box::new(item),
                    Zipped {
                        other,
                        start,
                        from: from.clone(),
                    },
                );
            }
            _ => return None,
        }
    }
    Some(over)
}

/// The slice `zip` pairs with (`w`, `&w`, `w.iter()`, `w.iter().skip(n)`,
/// `&w[a..]`), the index of its first element paired and how many it pairs.
fn zipped_slice(expr: &Expr) -> Option<(Ident, Expr, Expr)> {
    let mut at = strip(expr);
    let mut skip = None;
    if let Some(call) = crate::desugar::method_call(at, &["skip"], 1) {
        skip = Some(call.args[0].clone());
        at = strip(&call.receiver);
    }
    if let Expr::MethodCall(call) = at {
        if call.method != "iter" || !call.args.is_empty() {
            return None;
        }
        at = strip(&call.receiver);
    } else if skip.is_some() {
        return None;
    }
    if let Expr::Reference(r) = at {
        at = strip(&r.expr);
    }
    let mut part = None;
    if let Expr::Index(index) = at {
        if let Expr::Range(range) = strip(&index.index) {
            part = Some((index.index.clone(), range.start.clone()));
            at = strip(&index.expr);
        }
    }
    let other = path_ident(at)?;
    let (start, len): (Expr, Expr) = match (part, skip) {
        (Some(_), Some(_)) => return None,
        (Some((range, start)), None) => (
            start.map_or_else(|| syn::parse_quote!(0), |a| syn::parse_quote!((#a))),
            syn::parse_quote!(#other[#range].len()),
        ),
        (None, Some(n)) => (
            syn::parse_quote!((#n)),
            syn::parse_quote!(#other.len().saturating_sub(#n)),
        ),
        (None, None) => (syn::parse_quote!(0), syn::parse_quote!(#other.len())),
    };
    Some((other, start, len))
}

impl Over {
    /// The indices the loop runs over.
    fn range(&self) -> Expr {
        let (from, count) = (&self.from, &self.count);
        // `0..layers.len()` as written by hand (the loop analyses read a
        // slice's length as the trip count).
        let end = match is_zero(from) {
            true => quote::quote!(#count),
            false => quote::quote!(#from + #count),
        };
        match self.reversed {
            true => syn::parse_quote!((#from..#end).rev()),
            false => syn::parse_quote!(#from..#end),
        }
    }

    /// The name the pattern gives the count of an outermost `enumerate()`
    /// applied before any `skip`: the element's index itself.
    fn counted_from_zero(&self, pat: &syn::Pat) -> Option<Ident> {
        let Item::Enumerated(from, _) = &self.item else {
            return None;
        };
        let [count, _] = pair(pat)?;
        is_zero(from).then(|| plain_name(count)).flatten()
    }

    /// The `let`s that bind the loop's pattern at `index`, and the element's
    /// name; `None` for a pattern other than names and tuples of them.
    fn bindings(&self, pat: &syn::Pat, index: &Ident) -> Option<(Ident, Vec<syn::Stmt>)> {
        let mut lets = Vec::new();
        let mut alias = None;
        self.bind(&self.item, pat, index, &mut lets, &mut alias)?;
        Some((alias?, lets))
    }

    fn bind(
        &self,
        item: &Item,
        pat: &syn::Pat,
        index: &Ident,
        lets: &mut Vec<syn::Stmt>,
        alias: &mut Option<Ident>,
    ) -> Option<()> {
        match item {
            Item::Element => {
                let name = plain_name(pat)?;
                let slice = &self.slice;
                lets.push(syn::parse_quote!(let #name = &#slice[#index];));
                *alias = Some(name);
            }
            Item::Enumerated(from, inner) => {
                let [count, element] = pair(pat)?;
                match count {
                    syn::Pat::Wild(_) => {}
                    other => {
                        let name = plain_name(other)?;
                        // (The loop's own index where the count is it.)
                        if name != *index {
                            let count = offset(index, from);
                            lets.push(syn::parse_quote!(let #name = #count;));
                        }
                    }
                }
                self.bind(inner, element, index, lets, alias)?;
            }
            Item::Zipped(inner, Zipped { other, start, from }) => {
                let [first, second] = pair(pat)?;
                self.bind(inner, first, index, lets, alias)?;
                // `(b, &f)` and `(b, f)` alike bind the value (`*f` of a
                // float reads it as well).
                let second = match second {
                    syn::Pat::Reference(r) => &*r.pat,
                    other_pat => other_pat,
                };
                if !matches!(second, syn::Pat::Wild(_)) {
                    let name = plain_name(second)?;
                    let at = offset(index, from);
                    let at: Expr = match is_zero(start) {
                        true => at,
                        false => syn::parse_quote!(#start + #at),
                    };
                    // An element of another differentiated slice is bound
                    // as an element, and read field by field too.
                    let differentiated = self.slices.contains(other);
                    lets.push(match differentiated {
                        true => syn::parse_quote!(let #name = &#other[#at];),
                        false => syn::parse_quote!(let #name = #other[#at];),
                    });
                }
            }
        }
        Some(())
    }
}

/// `index` counted from `from`.
fn offset(index: &Ident, from: &Expr) -> Expr {
    match is_zero(from) {
        true => syn::parse_quote!(#index),
        false => syn::parse_quote!(#index - (#from)),
    }
}

fn is_zero(expr: &Expr) -> bool {
    matches!(expr, Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(n), .. }) if n.base10_digits() == "0")
}

fn plain_name(pat: &syn::Pat) -> Option<Ident> {
    match pat {
        syn::Pat::Ident(p)
            if p.by_ref.is_none() && p.subpat.is_none() && p.mutability.is_none() =>
        {
            Some(p.ident.clone())
        }
        _ => None,
    }
}

fn pair(pat: &syn::Pat) -> Option<[&syn::Pat; 2]> {
    let syn::Pat::Tuple(tuple) = pat else {
        return None;
    };
    match tuple.elems.len() {
        2 => Some([&tuple.elems[0], &tuple.elems[1]]),
        _ => None,
    }
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
    rows: &[Ident],
    aliases: &Aliases,
    errors: &mut Errors,
) {
    let mut check = Leftovers {
        slices,
        rows,
        aliases,
        errors,
    };
    check.visit_block(block);
}

struct Leftovers<'a> {
    slices: &'a [Ident],
    /// Those of `slices` that hold rows of floats.
    rows: &'a [Ident],
    aliases: &'a Aliases,
    errors: &'a mut Errors,
}

impl<'ast> Visit<'ast> for Leftovers<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match strip(expr) {
            // A slice of structs passed whole to a function (a
            // differentiated one: its pullback hands back the slice's
            // gradient).
            Expr::Call(call) => {
                self.visit_expr(&call.func);
                for arg in &call.args {
                    let passed = super::uses::passed_whole(arg, self.slices)
                        .is_some_and(|s| !self.rows.contains(&s));
                    if !passed {
                        self.visit_expr(arg);
                    }
                }
                return;
            }
            Expr::MethodCall(call)
                if (call.method == "len" || call.method == "is_empty")
                    && call.args.is_empty()
                    && path_ident(&call.receiver).is_some_and(|s| self.slices.contains(&s)) =>
            {
                return;
            }
            // The length of a part, `layers[a..b].len()` (a loop over it).
            Expr::MethodCall(call) if call.method == "len" && call.args.is_empty() => {
                if let Expr::Index(index) = strip(&call.receiver) {
                    let of_slice =
                        path_ident(&index.expr).is_some_and(|s| self.slices.contains(&s));
                    if of_slice && matches!(strip(&index.index), Expr::Range(_)) {
                        return self.visit_expr(&index.index);
                    }
                }
            }
            // A field that is data, of an indexed element.
            Expr::Field(_) => {
                if let Some((_, index, _)) = super::uses::indexed_chain(expr, self.slices) {
                    return self.visit_expr(index);
                }
            }
            Expr::Path(_) => {
                if let Some(slice) = path_ident(expr).filter(|s| self.rows.contains(s)) {
                    self.errors.spanned(
                        expr,
                        format!("rows of floats are read row by row: `for p in {slice}` (or `.iter()`, `.iter().enumerate()`, `.zip(..)`, `&{slice}[a..]`), `{slice}[i][k]` (written so too, `{slice}[i][k] += ..`, when taken by `&mut`), `let [x, y] = {slice}[i];`, `{slice}.len()`, or a reduction, `{slice}.iter().map(|p| ..).sum()` (or `product`, `fold`). Other uses of the rows are not supported yet (other iterator chains, calls passing them whole): write a loop, pass a row (`&{slice}[i]`) to a function over `&[f64]`, or leave `{slice}` out of `wrt(...)` to pass it as data"),
                    );
                    return;
                }
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
        crate::parse::method::read_macro_arguments(self, mac);
    }
}
