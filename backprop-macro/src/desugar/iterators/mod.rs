//! Iterator chains over slices, rewritten as the loops they stand for, which
//! lowering then differentiates like any loop:
//!
//! ```text
//! w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>()
//! ```
//!
//! is
//!
//! ```text
//! { let mut total = 0.0; for (a, b) in w.iter().zip(x) { total = total + (a * b); } total }
//! ```
//!
//! `sum`, `product`, `fold` and `collect` into a `Vec` end a chain; `map`,
//! `copied`, `cloned` and `into_iter` may come between the slice iteration
//! (`iter`, `zip`, `enumerate`, `rev`) and the end. The rewritten code keeps the
//! user's spans, so errors inside a closure point at the closure.
//!
//! Here the chain itself (`Chain`: its source, adapters, length and the
//! steps that adapt each item); the ends that make it a value in
//! `reductions.rs` (`sum`, `fold`, `max_by`, `count`, `position`,
//! `collect`, ..); the loops and `let`s written over chains in `loops.rs`
//! (`for v in x.iter().filter(..)`, tuple folds, windows).

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use proc_macro2::{Ident, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat};

mod loops;
mod reductions;

pub use loops::{
    adapted_loops_as_loops, reversed_enumerate_loop, tuple_folds_as_loops, windows_loop,
};
pub use reductions::{collect, collect_assignments_as_copies, reduction};

/// `a..b` or `a..=b` (in parentheses, as a chain's receiver is written).
fn is_range(expr: &Expr) -> bool {
    matches!(strip(expr), Expr::Range(r) if r.start.is_some() && r.end.is_some())
}

/// A range, reversed or stepped (`(0..n).rev()`, `(0..n).step_by(2)`).
fn over_range(expr: &Expr) -> bool {
    match strip(expr) {
        Expr::MethodCall(m) if ["rev", "step_by"].iter().any(|a| m.method == a) => {
            over_range(&m.receiver)
        }
        other => is_range(other),
    }
}

/// The adapters between a slice iteration and the end of a chain.
struct Chain<'a> {
    /// `w.iter()`, `w.iter().zip(x)`: what the loop iterates.
    source: &'a Expr,
    /// `map` and `filter` closures, first to last.
    adapters: Vec<Adapter<'a>>,
    /// `x.windows(n)`: the array and the width. The loop runs over start
    /// indices, and the first `map` reads `w[i]` as `x[start + i]`.
    window: Option<(Ident, &'a Expr)>,
}

enum Adapter<'a> {
    Map(&'a syn::ExprClosure),
    /// Takes the item by reference: `|v| **v > 0.0`, `|&&v| v > 0.0`.
    Filter(&'a syn::ExprClosure),
}

/// A statement of the loop body: a binding, or a filter's test around the rest.
enum Step {
    Let(TokenStream),
    If(TokenStream),
}

/// The steps around `inner`: each filter's `if` holds what follows it.
fn nest(steps: &[Step], inner: TokenStream) -> TokenStream {
    steps.iter().rev().fold(inner, |inner, step| match step {
        Step::Let(binding) => quote::quote!(#binding #inner),
        Step::If(condition) => quote::quote!(if #condition { #inner }),
    })
}

/// The names a pattern binds.
fn bound_by(pat: &Pat) -> Vec<String> {
    struct Bound(Vec<String>);
    impl<'ast> syn::visit::Visit<'ast> for Bound {
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            self.0.push(pat.ident.to_string());
            syn::visit::visit_pat_ident(self, pat);
        }
    }
    let mut bound = Bound(Vec::new());
    syn::visit::Visit::visit_pat(&mut bound, pat);
    bound.0
}

impl Chain<'_> {
    /// The names the first `count` adapters' closures bind.
    fn adapters_bind(&self, count: usize) -> Vec<String> {
        self.adapters[..count]
            .iter()
            .flat_map(|adapter| {
                let (Adapter::Map(c) | Adapter::Filter(c)) = adapter;
                bound_by(&c.inputs[0])
            })
            .collect()
    }

    /// Whether an adapter's closure binds a name that `code` reads from
    /// outside (not one of those `own` binds): in the loop the chain is
    /// written as, the closures' parameters are bound in one body, where
    /// they would hide it (a wrong value). Also asked of each adapter's
    /// closure by the ones before it.
    fn hides(&self, code: &TokenStream, own: &[&Pat]) -> bool {
        self.hidden_in(code, own).is_some()
    }

    /// The name `hides` finds.
    fn hidden_in(&self, code: &TokenStream, own: &[&Pat]) -> Option<String> {
        let own: Vec<String> = own.iter().flat_map(|pat| bound_by(pat)).collect();
        let read = identifiers(code.clone());
        self.adapters_bind(self.adapters.len())
            .into_iter()
            .find(|name| read.contains(name) && !own.contains(name))
    }

    /// Whether an adapter's closure binds `name` (a loop-carried local of
    /// the loop written, which it would hide).
    fn binds(&self, name: &Ident) -> bool {
        self.adapters_bind(self.adapters.len())
            .contains(&name.to_string())
    }

    /// Whether an adapter's closure reads a name an earlier one binds.
    fn adapters_hide_each_other(&self) -> bool {
        self.hidden_between_adapters().is_some()
    }

    /// The name an adapter's closure reads that an earlier one binds.
    fn hidden_between_adapters(&self) -> Option<String> {
        self.adapters
            .iter()
            .enumerate()
            .skip(1)
            .find_map(|(k, adapter)| {
                let (Adapter::Map(c) | Adapter::Filter(c)) = adapter;
                let own = bound_by(&c.inputs[0]);
                let read = identifiers(quote::quote!(#c));
                self.adapters_bind(k)
                    .into_iter()
                    .find(|name| read.contains(name) && !own.contains(name))
            })
    }
}

/// The name a closure of the chain a `for` loop runs over binds and the
/// loop's body (or a later closure) reads from outside, for the message
/// that refuses it.
pub fn hidden_in_loop(looped: &syn::ExprForLoop) -> Option<String> {
    let receiver = match strip(&looped.expr) {
        Expr::MethodCall(m) if m.method == "enumerate" && m.args.is_empty() => &*m.receiver,
        other => other,
    };
    let chain = Chain::of(receiver)?;
    chain.hidden_between_adapters().or_else(|| {
        chain.hidden_in(
            &quote::ToTokens::to_token_stream(&looped.body),
            &[&looped.pat],
        )
    })
}

/// The name a closure of the chain that `call` ends binds and a later
/// closure reads from outside (`x.iter().map(|k| ..).map(|v| v * k)`), for
/// the message that refuses it.
pub fn hidden_name(call: &syn::ExprMethodCall) -> Option<String> {
    let (receiver, ending) = match strip(&call.receiver) {
        Expr::MethodCall(inner)
            if ["max_by", "min_by", "position"].contains(&inner.method.to_string().as_str()) =>
        {
            (&*inner.receiver, inner.args.first())
        }
        _ => (&*call.receiver, call.args.last()),
    };
    let chain = Chain::of(receiver)?;
    if let Some(name) = chain.hidden_between_adapters() {
        return Some(name);
    }
    match ending {
        Some(Expr::Closure(closure)) => {
            let own: Vec<&Pat> = closure.inputs.iter().collect();
            chain.hidden_in(&quote::ToTokens::to_token_stream(&closure.body), &own)
        }
        _ => None,
    }
}

impl<'a> Chain<'a> {
    fn of(receiver: &'a Expr) -> Option<Chain<'a>> {
        let mut adapters = Vec::new();
        let mut source = receiver;
        loop {
            match strip(source) {
                Expr::MethodCall(m)
                    if (m.method == "map" || m.method == "filter") && m.args.len() == 1 =>
                {
                    match &m.args[0] {
                        Expr::Closure(c) if c.inputs.len() == 1 => {
                            adapters.push(if m.method == "map" {
                                Adapter::Map(c)
                            } else {
                                Adapter::Filter(c)
                            });
                            source = &m.receiver;
                        }
                        _ => return None,
                    }
                }
                // (`copied` and `cloned` stay in the source: over a list of
                // data kept as written, they make its items values.)
                Expr::MethodCall(m) if m.args.is_empty() && m.method == "into_iter" => {
                    source = &m.receiver;
                }
                _ => break,
            }
        }
        adapters.reverse();
        let window = windows_of(source);
        // `(0..k).map(|i| ..)`: a range, with a closure to make it a chain
        // worth a loop.
        let over_range = is_range(source) && !adapters.is_empty();
        (window.is_some() || is_slice_iteration(source) || over_range).then_some(Chain {
            source,
            adapters,
            window,
        })
    }

    /// The chain a `fold` runs over: any chain, or a range alone
    /// (`(0..n).fold(0.0, |acc, i| acc + x[i])`, `(0..5).fold((a, b), ..)`):
    /// a range folded by a closure is a loop too (a `map` over it already
    /// is one).
    fn folded(fold: &'a syn::ExprMethodCall) -> Option<Chain<'a>> {
        let by_closure =
            fold.method == "fold" && matches!(fold.args.last(), Some(Expr::Closure(_)));
        Chain::of(&fold.receiver).or_else(|| {
            (by_closure && over_range(&fold.receiver)).then(|| Chain {
                source: &fold.receiver,
                adapters: Vec::new(),
                window: None,
            })
        })
    }

    /// What the loop iterates: the source, or a window's start indices.
    fn loop_source(&self) -> TokenStream {
        match &self.window {
            Some((base, width)) => window_starts(base, width),
            None => {
                // `(0..k)` is written in parentheses only to call `map` on it.
                let source = strip(self.source);
                quote::quote!(#source)
            }
        }
    }

    /// How many items the chain yields before its adapters.
    fn length(&self) -> Option<TokenStream> {
        match &self.window {
            Some((base, width)) => {
                let starts = window_count(base, width);
                Some(starts)
            }
            None => length(self.source),
        }
    }

    /// The loop's pattern and the steps that bind a closure's own item
    /// pattern (`&v` of `|acc, &v|`, `v` of `|v| v > 0.0`) to each item,
    /// adapted where there are adapters.
    fn body_binding(
        &self,
        item: &Pat,
        names: &mut Names,
        span: proc_macro2::Span,
    ) -> Option<(Pat, Vec<Step>)> {
        let (pattern, mut steps, value) = self.body(item.clone(), names)?;
        if !self.adapters.is_empty() {
            let bound = without_references(item);
            steps.push(Step::Let(quote_spanned!(span=> let #bound = #value;)));
        }
        Some((pattern, steps))
    }

    /// The loop's pattern, the steps that adapt each item, and the adapted
    /// value. Without adapters, `item` is the pattern and the value.
    fn body(&self, item: Pat, names: &mut Names) -> Option<(Pat, Vec<Step>, TokenStream)> {
        if self.adapters_hide_each_other() {
            return None;
        }
        if let Some((base, width)) = &self.window {
            return self.window_body(base, width, names);
        }
        let Some((first, rest)) = self.adapters.split_first() else {
            // (An item the closure ignores, `|acc, _|`, has no value, and
            // none is asked of it without adapters.)
            let value = match untyped(&item) {
                Pat::Wild(_) => quote::quote!(()),
                _ => pattern_value(&without_references(&item))?,
            };
            return Some((item, Vec::new(), value));
        };
        let mut steps = Vec::new();
        // The first adapter's parameter is the loop's pattern (a filter's, one
        // reference less, since it borrows the item).
        let (pattern, mut value) = match first {
            Adapter::Map(map) => (untyped(&map.inputs[0]).clone(), closure_body(map)),
            Adapter::Filter(filter) => {
                let pattern =
                    named_wildcards(&one_reference_less(untyped(&filter.inputs[0])), names);
                steps.push(Step::If(closure_body(filter)));
                let value = pattern_value(&without_references(&pattern))?;
                (pattern, value)
            }
        };
        for adapter in rest {
            let (closure, filter) = match adapter {
                Adapter::Map(c) => (c, false),
                Adapter::Filter(c) => (c, true),
            };
            let parameter =
                named_wildcards(&without_references(untyped(&closure.inputs[0])), names);
            // (`filter(|l| ..).map(|l| ..)`: the same name, bound already.)
            if quote::quote!(#parameter).to_string() != value.to_string() {
                steps.push(Step::Let(
                    quote_spanned!(closure.span()=> let #parameter = #value;),
                ));
            }
            value = if filter {
                steps.push(Step::If(closure_body(closure)));
                pattern_value(&parameter)?
            } else {
                closure_body(closure)
            };
        }
        Some((pattern, steps, value))
    }
}

impl Chain<'_> {
    /// `x.windows(2).map(|w| w[1] - w[0])`: the loop's pattern is the window's
    /// start, and the first `map`'s window reads go to `x`.
    fn window_body(
        &self,
        base: &Ident,
        width: &Expr,
        names: &mut Names,
    ) -> Option<(Pat, Vec<Step>, TokenStream)> {
        let (Adapter::Map(first), rest) = self.adapters.split_first()? else {
            return None;
        };
        let window = simple_name(&first.inputs[0])?;
        let start = names.fresh("start");
        let mut body = (*first.body).clone();
        if !read_window(&mut body, &window, base, &start, width) {
            return None;
        }
        let rewritten = syn::ExprClosure {
            body: Box::new(body),
            ..(*first).clone()
        };
        let mut chain = Chain {
            source: self.source,
            adapters: vec![Adapter::Map(&rewritten)],
            window: None,
        };
        chain.adapters.extend(rest.iter().map(|a| match a {
            Adapter::Map(c) => Adapter::Map(c),
            Adapter::Filter(c) => Adapter::Filter(c),
        }));
        let (_, steps, value) = chain.body(Pat::Verbatim(quote::quote!(#start)), names)?;
        let pattern = Pat::Verbatim(quote::quote!(#start));
        // The first map's value, with its parameter bound to nothing: it reads
        // through `start` only.
        Some((pattern, steps, value))
    }
}

/// `x` and `n` of `x.windows(n)`.
fn windows_of(expr: &Expr) -> Option<(Ident, &Expr)> {
    let Expr::MethodCall(m) = strip(expr) else {
        return None;
    };
    if m.method != "windows" || m.args.len() != 1 {
        return None;
    }
    let Expr::Path(base) = strip(&m.receiver) else {
        return None;
    };
    Some((base.path.get_ident()?.clone(), &m.args[0]))
}

fn window_count(base: &Ident, width: &Expr) -> TokenStream {
    quote::quote!((#base.len() + 1).saturating_sub(#width))
}

fn window_starts(base: &Ident, width: &Expr) -> TokenStream {
    let count = window_count(base, width);
    quote::quote!(0..#count)
}

/// Rewrites `w[i]` to `x[start + i]` and `w.len()` to the width; false when
/// `w` is used any other way.
fn read_window(expr: &mut Expr, window: &Ident, base: &Ident, start: &Ident, width: &Expr) -> bool {
    struct Reads<'a> {
        window: &'a Ident,
        base: &'a Ident,
        start: &'a Ident,
        width: &'a Expr,
        other_use: bool,
    }
    impl VisitMut for Reads<'_> {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            let names_window =
                |e: &Expr| matches!(strip(e), Expr::Path(p) if p.path.is_ident(self.window));
            match expr {
                Expr::Index(index) if names_window(&index.expr) => {
                    self.visit_expr_mut(&mut index.index);
                    let (base, start, i) = (self.base, self.start, &index.index);
                    *expr = syn::parse_quote!(#base[#start + #i]);
                }
                Expr::MethodCall(call) if call.method == "len" && names_window(&call.receiver) => {
                    let width = self.width;
                    *expr = syn::parse_quote!((#width));
                }
                Expr::Path(p) if p.path.is_ident(self.window) => self.other_use = true,
                // Its own `w` inside (`.map(|w| ..)` nested): another window.
                Expr::Closure(closure) if super::closure_binds(closure, self.window) => {}
                _ => syn::visit_mut::visit_expr_mut(self, expr),
            }
        }
    }
    // (Built, not parsed: `{ .. } + 1.0` first in a block would end there.)
    let block = syn::Block {
        brace_token: Default::default(),
        stmts: vec![syn::Stmt::Expr(expr.clone(), None)],
    };
    if super::rebound_inside(&block, window) {
        return false;
    }
    let mut reads = Reads {
        window,
        base,
        start,
        width,
        other_use: false,
    };
    reads.visit_expr_mut(expr);
    !reads.other_use
}

/// `&x` of `&&x`, `x` of `&x`: a filter's parameter as the item's pattern.
fn one_reference_less(pat: &Pat) -> Pat {
    match pat {
        Pat::Reference(r) => (*r.pat).clone(),
        other => other.clone(),
    }
}

/// The pattern with each `_` a fresh name (`(p, ignored)` of `(p, _)`), so
/// that the value it matched can be bound again for the next adapter.
fn named_wildcards(pat: &Pat, names: &mut Names) -> Pat {
    match pat {
        Pat::Wild(wild) => {
            let name = names.fresh("ignored");
            syn::parse_quote_spanned!(wild.underscore_token.span=> #name)
        }
        Pat::Tuple(t) => {
            let elems = t.elems.iter().map(|e| named_wildcards(e, names));
            syn::parse_quote!((#(#elems,)*))
        }
        Pat::Reference(r) => {
            let inner = named_wildcards(&r.pat, names);
            syn::parse_quote!(&#inner)
        }
        Pat::Type(typed) => named_wildcards(&typed.pat, names),
        other => other.clone(),
    }
}

/// The pattern with every `&` taken out: `(a, b)` of `&(&a, &b)`, for a
/// `let` that binds values, not references.
fn without_references(pat: &Pat) -> Pat {
    match untyped(pat) {
        Pat::Reference(r) => without_references(&r.pat),
        Pat::Tuple(t) => {
            let elems = t.elems.iter().map(without_references);
            syn::parse_quote!((#(#elems,)*))
        }
        other => other.clone(),
    }
}

/// The value a pattern binds, as an expression: `(a, b)` of `(a, b)`.
fn pattern_value(pat: &Pat) -> Option<TokenStream> {
    match untyped(pat) {
        Pat::Ident(p) => {
            let ident = &p.ident;
            Some(quote::quote!(#ident))
        }
        Pat::Tuple(t) => {
            let elems: Option<Vec<TokenStream>> = t.elems.iter().map(pattern_value).collect();
            let elems = elems?;
            Some(quote::quote!((#(#elems,)*)))
        }
        Pat::Verbatim(tokens) => Some(tokens.clone()),
        _ => None,
    }
}

fn closure_body(closure: &syn::ExprClosure) -> TokenStream {
    let body = &closure.body;
    quote_spanned!(closure.body.span()=> (#body))
}

/// `w.iter()`, `&w`, `w`, `w.iter().zip(x.iter())`, `w.iter().enumerate()`:
/// what a loop over a slice may iterate. Whether `w` is an array is lowering's
/// to check.
fn is_slice_iteration(expr: &Expr) -> bool {
    match strip(expr) {
        Expr::MethodCall(m) if m.method == "iter" && m.args.is_empty() => is_base(&m.receiver),
        // A chain over chunks is a `for` over them, which lowering takes by
        // index (`lower/views.rs`).
        Expr::MethodCall(m)
            if (m.method == "chunks" || m.method == "chunks_exact") && m.args.len() == 1 =>
        {
            is_base(&m.receiver)
        }
        Expr::MethodCall(m)
            if ["enumerate", "rev", "copied", "cloned"]
                .contains(&m.method.to_string().as_str())
                && m.args.is_empty() =>
        {
            is_slice_iteration(&m.receiver)
        }
        Expr::MethodCall(m)
            if (m.method == "skip" || m.method == "take" || m.method == "step_by")
                && m.args.len() == 1 =>
        {
            is_slice_iteration(&m.receiver)
        }
        Expr::MethodCall(m) if m.method == "zip" && m.args.len() == 1 => {
            is_slice_iteration(&m.receiver)
                && (is_slice_iteration(&m.args[0]) || is_base(&m.args[0]))
        }
        Expr::Reference(r) => is_base(&r.expr),
        _ => false,
    }
}

fn is_base(expr: &Expr) -> bool {
    matches!(strip(expr), Expr::Path(p) if p.path.get_ident().is_some())
        || matches!(strip(expr), Expr::Reference(r) if is_base(&r.expr))
}

/// How many items a slice iteration yields: `w.len()`, or the shorter of two.
fn length(expr: &Expr) -> Option<TokenStream> {
    let span = expr.span();
    match strip(expr) {
        Expr::MethodCall(m)
            if ["iter", "enumerate", "rev", "copied", "cloned"]
                .contains(&m.method.to_string().as_str()) =>
        {
            length(&m.receiver)
        }
        Expr::MethodCall(m) if m.method == "skip" => {
            let (inner, count) = (length(&m.receiver)?, &m.args[0]);
            Some(quote_spanned!(span=> #inner.saturating_sub(#count)))
        }
        Expr::MethodCall(m) if m.method == "take" => {
            let (inner, count) = (length(&m.receiver)?, &m.args[0]);
            Some(quote_spanned!(span=> #inner.min(#count)))
        }
        Expr::MethodCall(m) if m.method == "step_by" => {
            let (inner, step) = (length(&m.receiver)?, &m.args[0]);
            Some(quote_spanned!(span=> #inner.div_ceil(#step)))
        }
        Expr::MethodCall(m) if m.method == "zip" => {
            let (a, b) = (length(&m.receiver)?, length(&m.args[0])?);
            Some(quote_spanned!(span=> #a.min(#b)))
        }
        // `x.chunks(d)`: the last chunk may be short; `chunks_exact` leaves
        // the rest out.
        Expr::MethodCall(m) if m.method == "chunks" && m.args.len() == 1 => {
            let (inner, size) = (length(&m.receiver)?, &m.args[0]);
            Some(quote_spanned!(span=> #inner.div_ceil(#size)))
        }
        Expr::MethodCall(m) if m.method == "chunks_exact" && m.args.len() == 1 => {
            let (inner, size) = (length(&m.receiver)?, &m.args[0]);
            Some(quote_spanned!(span=> #inner / #size))
        }
        Expr::Reference(r) => length(&r.expr),
        Expr::Path(p) => {
            let name = p.path.get_ident()?;
            Some(quote_spanned!(span=> #name.len()))
        }
        // `(0..k).map(..)`: `k` items, `(a..=b)` `b + 1 - a` (none where the
        // range is empty).
        Expr::Range(range) => {
            let (start, end) = (range.start.as_deref()?, range.end.as_deref()?);
            let end = match range.limits {
                syn::RangeLimits::HalfOpen(_) => quote::quote!(#end),
                syn::RangeLimits::Closed(_) => quote_spanned!(span=> (#end + 1)),
            };
            let from_zero = matches!(strip(start), Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) if i.base10_digits() == "0");
            Some(match from_zero {
                true => end,
                false => quote_spanned!(span=> #end.saturating_sub(#start)),
            })
        }
        _ => None,
    }
}

fn untyped(pat: &Pat) -> &Pat {
    match pat {
        Pat::Type(typed) => untyped(&typed.pat),
        other => other,
    }
}

pub(crate) fn simple_name(pat: &Pat) -> Option<Ident> {
    match untyped(pat) {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
        _ => None,
    }
}

/// Names for the rewritten loop's locals, which the chain's code must not see.
fn names_outside(call: &syn::ExprMethodCall) -> Names {
    Names::avoiding(identifiers(quote::quote!(#call)))
}

/// `let (a, b) = (x, y);` as `let a = x; let b = y;` (and `let (s, c) =
/// v.sin_cos();` as the two), where no element reads a name the tuple
/// binds (`let (a, b) = (b, a);` swaps: left as written).
fn tuple_lets_split(work: &[syn::Stmt]) -> Vec<syn::Stmt> {
    use quote::ToTokens;
    let mut split = Vec::with_capacity(work.len());
    for stmt in work {
        let pair = match stmt {
            syn::Stmt::Local(local) => match (&local.pat, &local.init) {
                (syn::Pat::Tuple(names), Some(init)) if init.diverge.is_none() => {
                    let values: Option<Vec<Expr>> = match strip(&init.expr) {
                        Expr::Tuple(values) => Some(values.elems.iter().cloned().collect()),
                        Expr::MethodCall(call)
                            if call.method == "sin_cos" && call.args.is_empty() =>
                        {
                            let v = &call.receiver;
                            Some(vec![
                                syn::parse_quote!(#v.sin()),
                                syn::parse_quote!(#v.cos()),
                            ])
                        }
                        _ => None,
                    };
                    values
                        .filter(|values| values.len() == names.elems.len())
                        .map(|values| (names, values))
                }
                _ => None,
            },
            _ => None,
        };
        let Some((names, values)) = pair else {
            split.push(stmt.clone());
            continue;
        };
        let bound = crate::emit::names::identifiers(names.to_token_stream());
        let reads_bound = values
            .iter()
            .any(|v| !crate::emit::names::identifiers(v.to_token_stream()).is_disjoint(&bound));
        if reads_bound {
            split.push(stmt.clone());
            continue;
        }
        for (name, value) in names.elems.iter().zip(values) {
            split.push(syn::parse_quote!(let #name = #value;));
        }
    }
    split
}

/// Of `work` (local statements, `candidates::local_work`), what `element`
/// needs: a `let` whose local nothing after it reads is left out, so that
/// each element computes only its own (and no copy binds a local unused).
fn work_needed(work: &[syn::Stmt], element: &Expr) -> Vec<syn::Stmt> {
    use quote::ToTokens;
    let mut needed = crate::emit::names::identifiers(element.to_token_stream());
    let mut kept = Vec::with_capacity(work.len());
    for stmt in work.iter().rev() {
        let reads = match stmt {
            syn::Stmt::Local(local) => {
                if let Some(name) = crate::desugar::candidates::simple_binding(&local.pat) {
                    if !needed.remove(&name.to_string()) {
                        continue;
                    }
                }
                local.init.as_ref().map(|init| init.expr.to_token_stream())
            }
            other => Some(other.to_token_stream()),
        };
        needed.extend(
            reads
                .map(crate::emit::names::identifiers)
                .unwrap_or_default(),
        );
        kept.push(stmt.clone());
    }
    kept.reverse();
    kept
}

/// `if c { (x, y) } else { (y, x) }` as one branch per element,
/// `(if c { x } else { y }, if c { y } else { x })`, for `let (a, b) = ...`;
/// also `match`. `None` unless every arm is a tuple of `n` elements (after
/// statements that only compute locals of their own, repeated per element)
/// and the conditions change nothing (each element's branch tests them
/// again).
pub fn split_tuple(expr: &Expr, n: usize) -> Option<Vec<Expr>> {
    match strip(expr) {
        Expr::Tuple(tuple) if tuple.elems.len() == n => Some(tuple.elems.iter().cloned().collect()),
        Expr::Block(block) if block.label.is_none() => match block.block.stmts.split_last() {
            Some((syn::Stmt::Expr(inner, None), [])) => split_tuple(inner, n),
            // `{ let z = x - y; (z, z * z) }`: before each element, the
            // statements it reads, where they only compute locals of their
            // own.
            Some((syn::Stmt::Expr(inner, None), work)) => {
                let work = tuple_lets_split(work);
                if !crate::desugar::candidates::local_work(&work) {
                    return None;
                }
                let elements = split_tuple(inner, n)?;
                Some(
                    elements
                        .into_iter()
                        .map(|element| {
                            let work = work_needed(&work, &element);
                            syn::parse_quote!({ #(#work)* #element })
                        })
                        .collect(),
                )
            }
            _ => None,
        },
        Expr::If(branch) => {
            if crate::desugar::assigns(&branch.cond) {
                return None;
            }
            let then_arm = split_tuple(
                &Expr::Block(syn::ExprBlock {
                    attrs: Vec::new(),
                    label: None,
                    block: branch.then_branch.clone(),
                }),
                n,
            )?;
            let else_arm = split_tuple(&branch.else_branch.as_ref()?.1, n)?;
            let cond = &branch.cond;
            Some(
                then_arm
                    .into_iter()
                    .zip(else_arm)
                    .map(|(a, b)| syn::parse_quote_spanned!(branch.span()=> if #cond { #a } else { #b }))
                    .collect(),
            )
        }
        Expr::Match(matched) => {
            if crate::desugar::assigns(&matched.expr)
                || matched.arms.iter().any(
                    |arm| matches!(&arm.pat, Pat::Guard(g) if crate::desugar::assigns(&g.guard)),
                )
            {
                return None;
            }
            let bodies: Option<Vec<Vec<Expr>>> = matched
                .arms
                .iter()
                .map(|arm| split_tuple(&arm.body, n))
                .collect();
            let bodies = bodies?;
            Some(
                (0..n)
                    .map(|k| {
                        let mut single = matched.clone();
                        for (arm, body) in single.arms.iter_mut().zip(&bodies) {
                            *arm.body = body[k].clone();
                            arm.comma = Some(Default::default());
                        }
                        Expr::Match(single)
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// Code built around the user's tokens, parsed; `None` when those tokens do
/// not fit (a mutated or unfinished pattern), so the caller reports the
/// construct instead of panicking.
fn parsed<T: syn::parse::Parse>(tokens: TokenStream) -> Option<T> {
    syn::parse2(tokens).ok()
}
