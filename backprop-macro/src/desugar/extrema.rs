//! Running maxima and minima of a list's elements (a parameter that is a list
//! of floats, or a buffer filled with a float literal) as the index of the
//! element chosen: `let mut a = x[0]; for i in 1..n { a = a.max(x[i]); }`
//! (or `if x[i] > a { a = x[i]; }`) is
//!
//! ```text
//! let mut a_at: usize = 0;
//! let mut a_kept = x[a_at];
//! for i in 1..n {
//!     let at = i;
//!     let a_next = x[at];
//!     if a_next > a_kept || a_kept.is_nan() { a_at = at; a_kept = a_next; }
//! }
//! let mut a = x[a_at];
//! ```
//!
//! The same value, bit for bit (`max` returns one of its operands; a tie
//! keeps the earlier element, to which the chain of `max`es sends the
//! derivative too), and the same derivative: the loop is integer work the
//! backward pass skips, and the adjoint of `a` goes to the one element
//! chosen, as JAX's `reduce_max` sends it, instead of back through a chain
//! of `max`es saved per element (`log-sum-exp` shifted by its maximum spent
//! a quarter of its gradient there). The value kept so far rides beside its
//! index only for the comparisons: nothing differentiable depends on it, so
//! the backward pass never sees it, and the loop compares against a register
//! instead of loading `x[a_at]` again, a load that waits on the last
//! iteration's choice.

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use quote::ToTokens;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

/// In `function`'s body, over the lists of floats whose type its syntax
/// tells: its parameters, and buffers bound once with a float fill
/// (`vec![0.0; n]`, `[0.0_f32; 3]`).
pub fn running_extrema_as_indices(function: &mut syn::ItemFn, floats: &crate::ir::Floats) {
    let mut lists: Vec<syn::Ident> = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(typed) => Some(typed),
            syn::FnArg::Receiver(_) => None,
        })
        .filter_map(
            |typed| match (&*typed.pat, crate::lower::element_type(&typed.ty)) {
                (syn::Pat::Ident(p), Some(element)) if floats.of_type(&element).is_some() => {
                    Some(p.ident.clone())
                }
                _ => None,
            },
        )
        // A name bound again in the body may be a list of anything there.
        .filter(|list| !crate::desugar::rebound_inside(&function.block, list))
        .collect();
    lists.extend(float_buffers(&function.block));
    let mut names = Names::avoiding(identifiers(function.block.to_token_stream()));
    Rewriter {
        names: &mut names,
        lists,
        floats,
    }
    .visit_block_mut(&mut function.block);
}

/// The buffers of a body filled with a float literal (`vec![0.0; n]`,
/// `[0.5_f64; 3]`, `vec![-1.0; n]`) whose name is bound nowhere else in it.
fn float_buffers(block: &syn::Block) -> Vec<syn::Ident> {
    struct Finds {
        filled: Vec<syn::Ident>,
        bindings: Vec<syn::Ident>,
    }
    impl<'ast> syn::visit::Visit<'ast> for Finds {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            if let (syn::Pat::Ident(p), Some(init)) = (&local.pat, &local.init) {
                if p.by_ref.is_none() && p.subpat.is_none() && float_filled(&init.expr) {
                    self.filled.push(p.ident.clone());
                }
            }
            syn::visit::visit_local(self, local);
        }
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            self.bindings.push(pat.ident.clone());
            syn::visit::visit_pat_ident(self, pat);
        }
    }
    let mut finds = Finds {
        filled: Vec::new(),
        bindings: Vec::new(),
    };
    syn::visit::Visit::visit_block(&mut finds, block);
    let Finds { filled, bindings } = finds;
    filled
        .into_iter()
        .filter(|name| bindings.iter().filter(|b| *b == name).count() == 1)
        .collect()
}

/// `vec![f; n]` or `[f; n]` with `f` a float literal, perhaps negated.
fn float_filled(expr: &Expr) -> bool {
    let is_float = |fill: &Expr| match strip(fill) {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(_),
            ..
        }) => true,
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => {
            matches!(
                strip(expr),
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Float(_),
                    ..
                })
            )
        }
        _ => false,
    };
    match strip(expr) {
        Expr::Repeat(repeat) => is_float(&repeat.expr),
        Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
            crate::lower::vec_repeat(&mac.mac).is_ok_and(|(fill, _)| is_float(&fill))
        }
        _ => false,
    }
}

struct Rewriter<'n> {
    names: &'n mut Names,
    /// The lists of floats it may rewrite the extrema of.
    lists: Vec<syn::Ident>,
    /// Which types are floats: a computed extremum is rewritten only where
    /// its start or its `let` says it is one (`is_nan` is a float's).
    floats: &'n crate::ir::Floats,
}

impl VisitMut for Rewriter<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        syn::visit_mut::visit_block_mut(self, block);
        let mut k = 0;
        while k < block.stmts.len() {
            if let Some(stmts) = self.rewrite_fold(&block.stmts[k]) {
                let added = stmts.len();
                block.stmts.splice(k..=k, stmts);
                k += added;
                continue;
            }
            if k + 1 == block.stmts.len() {
                break;
            }
            let rewritten = self
                .rewrite(&block.stmts[k], &block.stmts[k + 1])
                .or_else(|| self.rewrite_computed(&block.stmts[k], &block.stmts[k + 1]));
            match rewritten {
                Some(stmts) => {
                    let added = stmts.len();
                    block.stmts.splice(k..k + 2, stmts);
                    k += added;
                }
                None => k += 1,
            }
        }
    }
}

/// Which extremum a loop keeps.
#[derive(Clone, Copy)]
enum Keeps {
    Max,
    Min,
}

impl Keeps {
    /// The extremum a method named `max` or `min` keeps.
    fn of(method: &syn::Ident) -> Option<Keeps> {
        match method.to_string().as_str() {
            "max" => Some(Keeps::Max),
            "min" => Some(Keeps::Min),
            _ => None,
        }
    }
}

/// The running value's update in a loop's body, `a = a.max(x[e])` or
/// `if x[e] > a { a = x[e]; }`: the list, the index and what it keeps, and
/// whether a `NaN` kept so far gives way (as `max` and `min` do).
struct Update {
    list: syn::Ident,
    index: Expr,
    keeps: Keeps,
    nan_gives_way: bool,
}

/// The locals of a rewritten extremum named `m`: the index chosen
/// (`m_at`), the value kept for the comparisons (`m_kept`) and each
/// candidate (`m_next`).
struct Chosen {
    at: syn::Ident,
    kept: syn::Ident,
    next: syn::Ident,
    /// The value kept after a candidate, before it replaces `kept`.
    updated: syn::Ident,
}

impl Chosen {
    /// Whether the candidate replaces the value kept (strictly: a tie keeps
    /// the earlier, as the chain of `max`es gave it to its receiver).
    fn beats(&self, keeps: Keeps) -> proc_macro2::TokenStream {
        let (next, kept) = (&self.next, &self.kept);
        match keeps {
            Keeps::Max => quote::quote!(#next > #kept),
            Keeps::Min => quote::quote!(#next < #kept),
        }
    }

    /// The update of a running `max` or `min` by a candidate, where a `NaN`
    /// kept gives way to it: the index chosen, the value kept, and whether
    /// any candidate was found (`found`), as `taking` says.
    fn as_max_or_min(
        &self,
        keeps: Keeps,
        candidate: &syn::Ident,
        found: Option<&syn::Ident>,
        taking: Taking,
    ) -> proc_macro2::TokenStream {
        let (at, kept, next) = (&self.at, &self.kept, &self.next);
        let compare = self.beats(keeps);
        let found = found.map(|found| quote::quote!(#found = true;));
        let condition = match taking {
            Taking::Choice { never_nan: false } => {
                let method = match keeps {
                    Keeps::Max => quote::quote!(max),
                    Keeps::Min => quote::quote!(min),
                };
                let updated = &self.updated;
                return quote::quote! {
                    let #updated = #kept.#method(#next);
                    if #updated != #kept {
                        #at = #candidate;
                        #found
                    }
                    #kept = #updated;
                };
            }
            Taking::Choice { never_nan: true } => compare,
            Taking::Scan => quote::quote!(#compare || #kept.is_nan()),
        };
        quote::quote! {
            if #condition {
                #at = #candidate;
                #kept = #next;
                #found
            }
        }
    }
}

/// How a running extremum takes each candidate.
#[derive(Clone, Copy)]
enum Taking {
    /// A scan of a list's elements: its choice changes rarely (about ln n
    /// times in n random elements), so the branch on the comparison is
    /// predicted, and the loop carries no chain of `max`es through the value
    /// kept (`log-sum-exp` ran at 1.3 times hand-written without a branch,
    /// 1.05 with one).
    Scan,
    /// A choice among a few computed candidates (a distance per centroid,
    /// started again per point): it changes often, on a branch no predictor
    /// guesses (a sixth of k-means' forward pass), so it is taken without
    /// one. From a start that is never `NaN` (`f64::INFINITY`, a literal)
    /// the value kept never is either (`max` and `min` return a `NaN` only
    /// from two): one comparison, the compiler's `minsd` and `cmov`s.
    /// Otherwise the value kept is the method itself, and a candidate won
    /// where it changed it: `next < kept || kept.is_nan()` is
    /// `kept.min(next) != kept` (a `NaN` kept is unequal to anything; a
    /// `NaN` candidate, or a tie, leaves it as it was).
    Choice { never_nan: bool },
}

impl Rewriter<'_> {
    fn chosen(&mut self, name: &syn::Ident) -> Chosen {
        Chosen {
            at: self.names.fresh(&format!("{name}_at")),
            kept: self.names.fresh(&format!("{name}_kept")),
            next: self.names.fresh(&format!("{name}_next")),
            updated: self.names.fresh(&format!("{name}_updated")),
        }
    }

    fn rewrite(&mut self, first: &Stmt, second: &Stmt) -> Option<Vec<Stmt>> {
        // `let mut a = x[e0];`
        let Stmt::Local(local) = first else {
            return None;
        };
        let Binding { name, ty, .. } = bound_name(&local.pat).filter(|b| b.mutable)?;
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let (list, start) = element(&init.expr)?;
        if !self.lists.contains(&list) {
            return None;
        }
        // `for i in range { update }`, nothing else in the body.
        let Stmt::Expr(Expr::ForLoop(looped), _) = second else {
            return None;
        };
        if looped.label.is_some() || looped.body.stmts.len() != 1 {
            return None;
        }
        let update = update(&looped.body.stmts[0], &name)?;
        if update.list != list
            || mentions(&update.index, &name)
            || mentions(&looped.expr, &name)
            || crate::desugar::pattern_binds(&looped.pat, &list)
            || crate::desugar::pattern_binds(&looped.pat, &name)
        {
            return None;
        }
        let chosen = self.chosen(&name);
        let compare = chosen.beats(update.keeps);
        let candidate = self.names.fresh("at");
        let index = &update.index;
        let Chosen { at, kept, next, .. } = &chosen;
        let choice = match update.nan_gives_way {
            true => chosen.as_max_or_min(update.keeps, &candidate, None, Taking::Scan),
            false => quote::quote! {
                if #compare {
                    #at = #candidate;
                    #kept = #next;
                }
            },
        };
        let (pat, range, attrs) = (&looped.pat, &looped.expr, &looped.attrs);
        let ty = ty.map(|ty| quote::quote!(: #ty));
        let span = looped.for_token.span;
        Some(vec![
            syn::parse_quote_spanned!(span=> let mut #at: usize = #start;),
            syn::parse_quote_spanned!(span=> let mut #kept #ty = #list[#at];),
            syn::parse_quote_spanned! {span=>
                #(#attrs)*
                for #pat in #range {
                    let #candidate: usize = #index;
                    let #next #ty = #list[#candidate];
                    #choice
                }
            },
            syn::parse_quote_spanned!(span=> let mut #name #ty = #list[#at];),
        ])
    }

    /// `let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);` (or
    /// `cloned()`, `|a, b| a.max(b)`, `x.iter().fold(init, |a, &b|
    /// a.max(b))`, `min`): the same loop over the indices, whose start `init`
    /// stays the value when no element beats it (an empty list, or one of
    /// `NaN`s, which `max` skips).
    fn rewrite_fold(&mut self, stmt: &Stmt) -> Option<Vec<Stmt>> {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        let binding = bound_name(&local.pat)?;
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let Expr::MethodCall(fold) = strip(&init.expr) else {
            return None;
        };
        if fold.method != "fold" || fold.args.len() != 2 || fold.turbofish.is_some() {
            return None;
        }
        let start = &fold.args[0];
        if !constant(start) {
            return None;
        }
        // `x.iter().copied()` / `.cloned()` hands values; `x.iter()` references.
        let (list, by_value) = match strip(&fold.receiver) {
            Expr::MethodCall(adapter)
                if ["copied", "cloned"].contains(&adapter.method.to_string().as_str())
                    && adapter.args.is_empty() =>
            {
                (iterated(&adapter.receiver)?, true)
            }
            other => (iterated(other)?, false),
        };
        if !self.lists.contains(&list) {
            return None;
        }
        let keeps = folded_extremum(&fold.args[1], by_value)?;
        let candidate = self.names.fresh("at");
        let from_start = FromStart {
            binding,
            keeps,
            start,
            first: quote::quote!(0),
            header: quote::quote!(for #candidate in 0..#list.len()),
            candidate: &candidate,
            work: proc_macro2::TokenStream::new(),
            value: quote::quote!(#list[#candidate]),
            chosen: |at: &syn::Ident| quote::quote!(#list[#at]),
            taking: Taking::Scan,
            span: fold.method.span(),
        };
        Some(self.extremum_from_start(from_start))
    }

    /// `let mut m = f64::INFINITY; for j in a..b { m = m.min(e); }` with `e`
    /// computed (a call, a distance): the loop keeps the index of the
    /// iteration chosen, beside the value for the comparisons only, and `e`
    /// is computed once more at that index, `if m_found { let j = m_at; e }
    /// else { f64::INFINITY }`: the one differentiated evaluation, where the
    /// chain of `min`s saved every value and pulled back through each (a
    /// k-means cost calls its distance once per centroid and differentiates
    /// one). The body may compute `e` first from locals of its own (`let
    /// mut dist = 0.0; for i in 0..d { dist += .. }`, `candidates`), run
    /// again with it. `e` must be pure (no `&mut`, assignment, macro or
    /// closure), the loop's variable an index in the body (`usize`: the tape
    /// keeps it), and the range's start a literal or a name, bound again for
    /// the index.
    fn rewrite_computed(&mut self, first: &Stmt, second: &Stmt) -> Option<Vec<Stmt>> {
        let Stmt::Local(local) = first else {
            return None;
        };
        let binding = bound_name(&local.pat).filter(|b| b.mutable)?;
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let start = &init.expr;
        let float = match &binding.ty {
            Some(ty) => self.floats.of_type(ty).is_some(),
            None => float_constant(start, self.floats),
        };
        if !constant(start) || !float {
            return None;
        }
        let Stmt::Expr(Expr::ForLoop(looped), _) = second else {
            return None;
        };
        // The body computes the candidate (its own locals only), then
        // updates the extremum with it.
        let (update, work) = looped.body.stmts.split_last()?;
        if looped.label.is_some() || !super::candidates::local_work(work) {
            return None;
        }
        let syn::Pat::Ident(var) = &*looped.pat else {
            return None;
        };
        let var = &var.ident;
        if crate::desugar::rebound_inside(&looped.body, var) {
            return None;
        }
        let Expr::Range(range) = strip(&looped.expr) else {
            return None;
        };
        let first_index = range.start.as_deref().filter(|start| {
            matches!(strip(start), Expr::Lit(_))
                || matches!(strip(start), Expr::Path(p) if p.path.get_ident().is_some())
        })?;
        range.end.as_ref()?;
        let name = &binding.name;
        let (value, keeps) = computed_update(update, name)?;
        let work_mentions = |name: &syn::Ident| {
            work.iter()
                .any(|stmt| identifiers(stmt.to_token_stream()).contains(&name.to_string()))
        };
        // The index is saved for the backward pass, which needs its type:
        // `usize`, where the variable indexes a list (without a cast).
        if var == name
            || mentions(&value, name)
            || work_mentions(name)
            || mentions(&looped.expr, name)
            || !pure(&value)
            || !super::candidates::indexes_a_list(work, &value, var)
        {
            return None;
        }
        let (attrs, iter) = (&looped.attrs, &looped.expr);
        let from_start = FromStart {
            binding,
            keeps,
            start,
            first: quote::quote!(#first_index),
            header: quote::quote!(#(#attrs)* for #var in #iter),
            candidate: var,
            work: quote::quote!(#(#work)*),
            value: quote::quote!(#value),
            chosen: |at: &syn::Ident| quote::quote!(let #var = #at; #(#work)* #value),
            taking: Taking::Choice {
                never_nan: never_nan(start),
            },
            span: looped.for_token.span,
        };
        Some(self.extremum_from_start(from_start))
    }

    /// The loop of a running extremum from a start, over candidates the
    /// start may beat (`rewrite_fold`, `rewrite_computed`): the index chosen
    /// and the value kept for the comparisons, and after the loop the value
    /// at that index, or the start where no candidate beat it.
    fn extremum_from_start(
        &mut self,
        from: FromStart<'_, impl Fn(&syn::Ident) -> proc_macro2::TokenStream>,
    ) -> Vec<Stmt> {
        let Binding { name, ty, mutable } = &from.binding;
        let chosen = self.chosen(name);
        let found = self.names.fresh(&format!("{name}_found"));
        let Chosen { at, kept, next, .. } = &chosen;
        let ty = ty.as_ref().map(|ty| quote::quote!(: #ty));
        let mutable = mutable.then(|| quote::quote!(mut));
        let FromStart {
            start,
            first,
            header,
            candidate,
            work,
            value,
            span,
            ..
        } = &from;
        let span = *span;
        let chosen_value = (from.chosen)(at);
        let choice = chosen.as_max_or_min(from.keeps, candidate, Some(&found), from.taking);
        vec![
            syn::parse_quote_spanned!(span=> let mut #at: usize = #first;),
            syn::parse_quote_spanned!(span=> let mut #kept #ty = #start;),
            syn::parse_quote_spanned!(span=> let mut #found = false;),
            syn::parse_quote_spanned! {span=>
                #header {
                    #work
                    let #next #ty = #value;
                    #choice
                }
            },
            syn::parse_quote_spanned! {span=>
                let #mutable #name #ty = if #found { #chosen_value } else { #start };
            },
        ]
    }
}

/// What `Rewriter::extremum_from_start` builds a running extremum from: the `let`
/// it binds, what it keeps, its start, the index it starts at, the loop's
/// header over `candidate`, the work and value of each candidate, and the
/// value at the index chosen.
struct FromStart<'a, C> {
    binding: Binding,
    keeps: Keeps,
    start: &'a Expr,
    first: proc_macro2::TokenStream,
    header: proc_macro2::TokenStream,
    candidate: &'a syn::Ident,
    /// What the loop's body computes the candidate from (`let mut dist =
    /// 0.0; for i in .. { dist += .. }`), run again at the index chosen.
    work: proc_macro2::TokenStream,
    value: proc_macro2::TokenStream,
    chosen: C,
    /// How each candidate is taken.
    taking: Taking,
    span: proc_macro2::Span,
}

/// A `let`'s name, its type where written, and whether it is `mut`.
struct Binding {
    name: syn::Ident,
    ty: Option<Box<syn::Type>>,
    mutable: bool,
}

/// `let a`, `let mut a`, `let a: T`: the binding.
fn bound_name(pat: &syn::Pat) -> Option<Binding> {
    let (ident, ty) = match pat {
        syn::Pat::Type(t) => (&*t.pat, Some(t.ty.clone())),
        other => (other, None),
    };
    match ident {
        syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(Binding {
            name: p.ident.clone(),
            ty,
            mutable: p.mutability.is_some(),
        }),
        _ => None,
    }
}

/// `m = m.min(e)`, `m = e.min(m)` or `m = f64::min(m, e)` (and `max`): `e`
/// and what is kept.
fn computed_update(stmt: &Stmt, name: &syn::Ident) -> Option<(Expr, Keeps)> {
    let Stmt::Expr(expr, _) = stmt else {
        return None;
    };
    let Expr::Assign(assign) = strip(expr) else {
        return None;
    };
    if !is_name(&assign.left, name) {
        return None;
    }
    let (method, operands) = extremum_call(&assign.right)?;
    let keeps = Keeps::of(&method)?;
    let other = match (is_name(operands[0], name), is_name(operands[1], name)) {
        (true, false) => operands[1],
        (false, true) => operands[0],
        _ => return None,
    };
    Some((other.clone(), keeps))
}

/// `a.max(b)` or `f64::max(a, b)` (`f32::`, `T::`): the method and its two
/// operands.
fn extremum_call(expr: &Expr) -> Option<(syn::Ident, [&Expr; 2])> {
    match strip(expr) {
        Expr::MethodCall(call) if call.args.len() == 1 && call.turbofish.is_none() => {
            Some((call.method.clone(), [&*call.receiver, &call.args[0]]))
        }
        Expr::Call(call) if call.args.len() == 2 => {
            let Expr::Path(path) = strip(&call.func) else {
                return None;
            };
            let segments: Vec<&syn::PathSegment> = path.path.segments.iter().collect();
            match segments.as_slice() {
                [ty, method] if ["f64", "f32", "T"].contains(&ty.ident.to_string().as_str()) => {
                    Some((method.ident.clone(), [&call.args[0], &call.args[1]]))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether `var` is in the index of some `x[..]` in `expr`, with no cast
/// there: a `usize`.
pub(super) fn indexes_with(expr: &Expr, var: &syn::Ident) -> bool {
    struct Finds<'v> {
        var: &'v syn::Ident,
        found: bool,
    }
    impl<'ast> syn::visit::Visit<'ast> for Finds<'_> {
        fn visit_expr_index(&mut self, index: &'ast syn::ExprIndex) {
            let cast = identifiers(index.index.to_token_stream()).contains("as");
            self.found |= !cast && mentions(&index.index, self.var);
            syn::visit::visit_expr_index(self, index);
        }
    }
    let mut finds = Finds { var, found: false };
    syn::visit::Visit::visit_expr(&mut finds, expr);
    finds.found
}

/// Whether computing `expr` again changes nothing: no `&mut`, assignment,
/// macro, closure, block or control flow, and no method that changes its
/// receiver.
pub(super) fn pure(expr: &Expr) -> bool {
    struct Impure(bool);
    impl<'ast> syn::visit::Visit<'ast> for Impure {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            let changes = match expr {
                Expr::Macro(_)
                | Expr::Closure(_)
                | Expr::Block(_)
                | Expr::Unsafe(_)
                | Expr::Loop(_)
                | Expr::While(_)
                | Expr::ForLoop(_)
                | Expr::Return(_)
                | Expr::Break(_)
                | Expr::Continue(_)
                | Expr::Let(_)
                | Expr::Async(_)
                | Expr::Await(_)
                | Expr::Yield(_) => true,
                Expr::Reference(r) => r.mutability.is_some(),
                Expr::MethodCall(call) => [
                    "push",
                    "pop",
                    "insert",
                    "remove",
                    "clear",
                    "truncate",
                    "swap",
                    "sort",
                    "sort_by",
                    "reverse",
                    "fill",
                    "extend",
                    "append",
                    "drain",
                    "retain",
                    "iter_mut",
                    "as_mut",
                    "get_mut",
                    "next",
                    "resize",
                    "copy_from_slice",
                ]
                .contains(&call.method.to_string().as_str()),
                _ => false,
            };
            self.0 |= changes;
            syn::visit::visit_expr(self, expr);
        }
    }
    let mut impure = Impure(false);
    syn::visit::Visit::visit_expr(&mut impure, expr);
    !impure.0 && !crate::desugar::assigns(expr)
}

/// `x.iter()` of a list named by an identifier: the list.
fn iterated(expr: &Expr) -> Option<syn::Ident> {
    let Expr::MethodCall(iter) = strip(expr) else {
        return None;
    };
    if iter.method != "iter" || !iter.args.is_empty() {
        return None;
    }
    let Expr::Path(path) = strip(&iter.receiver) else {
        return None;
    };
    path.path.get_ident().cloned()
}

/// A constant that is a float: a float literal, negated or not, or an item
/// of a float type (`f64::INFINITY`, `T::neg_infinity()`).
fn float_constant(expr: &Expr, floats: &crate::ir::Floats) -> bool {
    let of_float = |path: &syn::Path| {
        path.segments.len() == 2 && floats.of_ident(&path.segments[0].ident).is_some()
    };
    match strip(expr) {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(_),
            ..
        }) => true,
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => float_constant(expr, floats),
        Expr::Path(path) => of_float(&path.path),
        Expr::Call(call) => matches!(strip(&call.func), Expr::Path(p) if of_float(&p.path)),
        _ => false,
    }
}

/// A start a fold may repeat: a literal, a path (`f64::NEG_INFINITY`), a
/// call of a path without arguments (`T::neg_infinity()`), negated or not.
fn constant(expr: &Expr) -> bool {
    match strip(expr) {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => constant(expr),
        Expr::Call(call) => call.args.is_empty() && matches!(strip(&call.func), Expr::Path(_)),
        _ => false,
    }
}

/// The function a fold applies, when it keeps the maximum or the minimum
/// of the accumulator and each element: `f64::max` (`f32::`, `T::`,
/// `Float::`), or a closure `|a, b| a.max(b)` (`b.max(a)`, `f64::max(a,
/// b)`; `|a, &b|` over references).
fn folded_extremum(function: &Expr, by_value: bool) -> Option<Keeps> {
    match strip(function) {
        Expr::Path(path) if by_value => {
            let segments: Vec<&syn::PathSegment> = path.path.segments.iter().collect();
            match segments.as_slice() {
                [ty, method]
                    if ["f64", "f32", "T", "Float"].contains(&ty.ident.to_string().as_str()) =>
                {
                    Keeps::of(&method.ident)
                }
                _ => None,
            }
        }
        Expr::Closure(closure) if closure.inputs.len() == 2 => {
            let acc = match &closure.inputs[0] {
                syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => &p.ident,
                _ => return None,
            };
            let item = match (&closure.inputs[1], by_value) {
                (syn::Pat::Ident(p), true) if p.by_ref.is_none() && p.subpat.is_none() => &p.ident,
                (syn::Pat::Reference(r), false) => match &*r.pat {
                    syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => &p.ident,
                    _ => return None,
                },
                _ => return None,
            };
            let (method, operands) = match strip(&closure.body) {
                Expr::MethodCall(call) if call.args.len() == 1 && call.turbofish.is_none() => {
                    (call.method.clone(), [&*call.receiver, &call.args[0]])
                }
                _ => return None,
            };
            let names_both = (is_name(operands[0], acc) && is_name(operands[1], item))
                || (is_name(operands[0], item) && is_name(operands[1], acc));
            names_both.then_some(())?;
            Keeps::of(&method)
        }
        _ => None,
    }
}

/// `x[e]`: an element of a list named by an identifier, at an index that is
/// not a range.
fn element(expr: &Expr) -> Option<(syn::Ident, Expr)> {
    let Expr::Index(index) = strip(expr) else {
        return None;
    };
    if matches!(strip(&index.index), Expr::Range(_)) {
        return None;
    }
    let Expr::Path(path) = strip(&index.expr) else {
        return None;
    };
    Some((path.path.get_ident()?.clone(), (*index.index).clone()))
}

pub(super) fn is_name(expr: &Expr, name: &syn::Ident) -> bool {
    matches!(strip(expr), Expr::Path(p) if p.qself.is_none() && p.path.is_ident(name))
}

pub(super) fn mentions(expr: &Expr, name: &syn::Ident) -> bool {
    identifiers(expr.to_token_stream()).contains(&name.to_string())
}

/// `a = a.max(x[e]);`, `a = x[e].max(a);`, `a = f64::max(a, x[e]);` (and
/// `min`), or `if x[e] > a { a = x[e]; }` (`<` for a minimum, `a < x[e]`
/// the same), with the same `x[e]` twice.
fn update(stmt: &Stmt, name: &syn::Ident) -> Option<Update> {
    let Stmt::Expr(expr, _) = stmt else {
        return None;
    };
    match strip(expr) {
        Expr::Assign(_) => {
            let (other, keeps) = computed_update(stmt, name)?;
            let (list, index) = element(&other)?;
            Some(Update {
                list,
                index,
                keeps,
                nan_gives_way: true,
            })
        }
        Expr::If(branch) if branch.else_branch.is_none() && branch.then_branch.stmts.len() == 1 => {
            let Expr::Binary(compare) = strip(&branch.cond) else {
                return None;
            };
            // `x[e] > a` or `a < x[e]` keeps a maximum; `<` / `>` a minimum.
            let (element_side, keeps) = match (
                &compare.op,
                is_name(&compare.left, name),
                is_name(&compare.right, name),
            ) {
                (syn::BinOp::Gt(_), false, true) => (&*compare.left, Keeps::Max),
                (syn::BinOp::Lt(_), true, false) => (&*compare.right, Keeps::Max),
                (syn::BinOp::Lt(_), false, true) => (&*compare.left, Keeps::Min),
                (syn::BinOp::Gt(_), true, false) => (&*compare.right, Keeps::Min),
                _ => return None,
            };
            let (list, index) = element(element_side)?;
            let Stmt::Expr(Expr::Assign(assign), _) = &branch.then_branch.stmts[0] else {
                return None;
            };
            let (assigned_list, assigned_index) = element(&assign.right)?;
            let same = assigned_list == list
                && assigned_index.to_token_stream().to_string()
                    == index.to_token_stream().to_string();
            (is_name(&assign.left, name) && same).then_some(Update {
                list,
                index,
                keeps,
                nan_gives_way: false,
            })
        }
        _ => None,
    }
}

/// Whether a start is a number that is never `NaN`: a literal, an
/// infinity or a bound of its type (`f64::INFINITY`, `T::MAX`,
/// `-f32::INFINITY`, `T::infinity()`).
fn never_nan(start: &Expr) -> bool {
    const BOUNDS: [&str; 6] = [
        "INFINITY",
        "NEG_INFINITY",
        "MAX",
        "MIN",
        "MIN_POSITIVE",
        "EPSILON",
    ];
    const BOUND_FNS: [&str; 4] = ["infinity", "neg_infinity", "max_value", "min_value"];
    let last_is = |path: &syn::ExprPath, names: &[&str]| {
        path.path
            .segments
            .last()
            .is_some_and(|last| names.iter().any(|name| last.ident == name))
    };
    match strip(start) {
        Expr::Lit(lit) => matches!(lit.lit, syn::Lit::Float(_) | syn::Lit::Int(_)),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => never_nan(expr),
        Expr::Path(path) => last_is(path, &BOUNDS),
        Expr::Call(call) if call.args.is_empty() => {
            matches!(strip(&call.func), Expr::Path(path) if last_is(path, &BOUND_FNS))
        }
        _ => false,
    }
}
