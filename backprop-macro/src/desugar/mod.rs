//! Rewrites of the user's syntax into a smaller language, syntax in and syntax
//! out: paths moved one module deeper (`paths`), integer locals bound to a
//! literal and used as indices typed `usize` (`sizes`), local buffers of rows as flat
//! buffers (`row_buffers`), local structs built from a
//! literal as one local per field (`records`), closures returning tuples as
//! one closure per element (`closure_tuples`), tuple locals as one local
//! per element (`tuples`), arrays calls return read by
//! a loop's index as local arrays (`call_arrays`), destructuring assignments as
//! tuple `let`s (`assignments`), arrays chosen by a branch as a variable
//! per element set in each arm (`array_branches`), `let z: f64 = x.into();` as `f64::from(x)`
//! (`conversions`), array literals iterated as local arrays
//! (`array_sources`), functions named where an adapter takes a
//! closure as closures and `for_each` as a loop (`adapters`), loops over
//! `iter_mut()` as index loops
//! (`iter_mut`), `copy_from_slice` as a copying loop (`copies`),
//! `first`/`last`/`get` through `Option` as reads (`ends`), running maxima
//! and minima of a list's elements as the index chosen (`extrema`),
//! values computed inside conditions moved into `let`s before them (`hoist`),
//! early returns at the top of the body as `if`/`else` (`returns`), a
//! local array returned by name, and arrays mapped whole, as their elements
//! (`array_results`),
//! `continue` at the top of a loop's body as `if`/`else` (`continues`), an
//! iterator bound by a `let` and consumed next written where it is
//! consumed (`iterator_lets`), the
//! index of a list's largest element by `enumerate().max_by(..)` as the
//! loop that finds it (`arg_extrema`),
//! loops of at most four iterations over a literal range written out
//! (`unroll`), and
//! iterator chains over slices turned into the loops they stand for
//! (`iterators`, used by lowering).

pub mod adapters;
pub mod arg_extrema;
pub mod array_branches;
pub mod array_results;
pub mod array_sources;
pub mod assignments;
pub mod call_arrays;
pub mod candidates;
pub mod chunk_lists;
pub mod closure_tuples;
pub mod continues;
pub mod conversions;
pub mod copies;
pub mod deferred_lets;
pub mod ends;
pub mod extrema;
pub mod hoist;
pub mod iter_mut;
pub mod iterator_lets;
pub mod iterators;
pub mod loop_values;
pub mod matches;
pub mod paths;
pub mod records;
pub mod returns;
pub mod row_buffers;
pub mod shadows;
pub mod sizes;
pub mod tuples;
pub mod unroll;
pub mod zips;

use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// Every rewrite, in order: paths one module deeper, a `let` without a value
/// as the `let` of the branch after it, tuple assignments as
/// `let`s, `map(f64::exp)` as a closure and `for_each` as a loop, loops over
/// `iter_mut()` by index, `x.last().unwrap()` as
/// `x[x.len() - 1]`, running extrema as indices, values out of conditions,
/// early returns at the top of the body and `continue` at the top of a
/// loop's body as branches, arrays returned by name as their elements,
/// short literal loops written out.
pub fn desugar(function: &mut syn::ItemFn, floats: &crate::ir::Floats) {
    zips::zip_calls_as_methods(&mut function.block);
    paths::rebase(function);
    deferred_lets::deferred_lets_as_values(&mut function.block);
    arg_extrema::arg_extrema_as_indices(&mut function.block);
    iterator_lets::iterator_lets_inlined(&mut function.block);
    sizes::literal_sizes_typed(&mut function.block);
    array_branches::array_branches_as_elements(&mut function.block, floats);
    row_buffers::row_buffers_as_flat(&mut function.block);
    chunk_lists::chunk_lists_as_views(&mut function.block);
    row_buffers::data_row_loops_by_index(function);
    let float = records::float_returned(&function.sig);
    records::struct_locals_as_fields(&mut function.block, float.as_ref());
    call_arrays::call_arrays_as_buffers(&mut function.block);
    array_results::array_maps_as_elements(function);
    closure_tuples::closure_tuples_as_elements(&mut function.block);
    tuples::tuple_locals_as_elements(&mut function.block);
    assignments::tuple_assignments_as_lets(&mut function.block);
    conversions::intos_as_froms(&mut function.block);
    array_sources::array_sources_bound(function);
    adapters::adapters_as_closures_and_loops(&mut function.block);
    iterators::collect_assignments_as_copies(&mut function.block);
    iterators::tuple_folds_as_loops(&mut function.block);
    iterators::adapted_loops_as_loops(&mut function.block);
    zips::zip_sides_as_parts(&mut function.block);
    iter_mut::iter_mut_loops_as_index_loops(&mut function.block);
    chunk_lists::chunk_loops_by_index(&mut function.block);
    copies::copies_as_loops(&mut function.block);
    ends::ends_as_indices(&mut function.block);
    extrema::running_extrema_as_indices(function, floats);
    matches::tuple_matches_as_branches(&mut function.block);
    hoist::hoist_conditions(&mut function.block);
    returns::early_returns_as_branches(&mut function.block);
    continues::continues_as_branches(&mut function.block);
    array_results::locals_returned_as_elements(function, floats);
    array_results::tuple_branches_bound(function, floats);
    unroll::short_loops_unrolled(&mut function.block);
}

/// Each statement of every block in `block` (inner blocks first) replaced
/// by the statements `rewrite` gives for it, or kept where it gives none;
/// the statements put in are not looked at again.
pub(crate) fn statements_rewritten(
    block: &mut syn::Block,
    rewrite: impl FnMut(&syn::Stmt) -> Option<Vec<syn::Stmt>>,
) {
    struct Statements<F>(F);
    impl<F: FnMut(&syn::Stmt) -> Option<Vec<syn::Stmt>>> VisitMut for Statements<F> {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            syn::visit_mut::visit_block_mut(self, block);
            let mut k = 0;
            while k < block.stmts.len() {
                match (self.0)(&block.stmts[k]) {
                    Some(stmts) => {
                        let written = stmts.len();
                        block.stmts.splice(k..=k, stmts);
                        k += written;
                    }
                    None => k += 1,
                }
            }
        }
    }
    Statements(rewrite).visit_block_mut(block);
}

/// Whether a method call unwraps an `Option` (or `Result`): `.unwrap()` or
/// `.expect("..")`. Where there is nothing, both panic, as the reads the
/// rewrites put in their place do.
pub(crate) fn unwraps(call: &syn::ExprMethodCall) -> bool {
    (call.method == "unwrap" && call.args.is_empty())
        || (call.method == "expect" && call.args.len() == 1)
}

/// What an unwrapping gives where there is nothing: `Some(Some(d))` for
/// `.unwrap_or(d)`, `Some(None)` (a panic) for `.unwrap()` and `.expect(..)`;
/// `None` for any other call.
pub(crate) fn unwrap_default(call: &syn::ExprMethodCall) -> Option<Option<&Expr>> {
    match call.method == "unwrap_or" && call.args.len() == 1 {
        true => Some(Some(&call.args[0])),
        false => unwraps(call).then_some(None),
    }
}

/// `expr` as a call of one of `methods` with `args` arguments (through
/// parentheses).
pub(crate) fn method_call<'e>(
    expr: &'e syn::Expr,
    methods: &[&str],
    args: usize,
) -> Option<&'e syn::ExprMethodCall> {
    match crate::lower::strip_parens(expr) {
        syn::Expr::MethodCall(call)
            if call.args.len() == args && methods.iter().any(|m| call.method == m) =>
        {
            Some(call)
        }
        _ => None,
    }
}

/// Whether one of a closure's parameters is `name`: inside the closure,
/// `name` is that parameter, so a rewrite of the outer `name` stops there.
pub(crate) fn closure_binds(closure: &syn::ExprClosure, name: &syn::Ident) -> bool {
    closure.inputs.iter().any(|pat| pattern_binds(pat, name))
}

/// Whether a pattern binds `name`.
pub(crate) fn pattern_binds(pat: &syn::Pat, name: &syn::Ident) -> bool {
    struct Finds<'a>(&'a syn::Ident, bool);
    impl<'ast> Visit<'ast> for Finds<'_> {
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            self.1 |= pat.ident == *self.0;
            syn::visit::visit_pat_ident(self, pat);
        }
    }
    let mut finds = Finds(name, false);
    finds.visit_pat(pat);
    finds.1
}

/// Whether `name` is bound again inside `block` other than by a closure's
/// parameter (which the rewriting visitors step around): by a `let`, a
/// `for`, a `match` arm or an `if let`. A rewrite of `name`'s uses would
/// reach the uses of that other binding too, so the rewrites decline.
pub(crate) fn rebound_inside(block: &syn::Block, name: &syn::Ident) -> bool {
    struct Finds<'a>(&'a syn::Ident, bool);
    impl<'ast> Visit<'ast> for Finds<'_> {
        fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
            if !closure_binds(closure, self.0) {
                self.visit_expr(&closure.body);
            }
        }
        fn visit_pat(&mut self, pat: &'ast syn::Pat) {
            self.1 |= pattern_binds(pat, self.0);
        }
    }
    let mut finds = Finds(name, false);
    finds.visit_block(block);
    finds.1
}

/// `*name` as `name` in `stmts`, where `name` was a reference and is bound
/// to the value instead (not inside a closure that binds a name of its own
/// so).
pub(crate) fn derefs_as_values(stmts: &mut [syn::Stmt], name: &syn::Ident) {
    struct Derefs<'n>(&'n syn::Ident);
    impl syn::visit_mut::VisitMut for Derefs<'_> {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            match expr {
                syn::Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => {
                    let named = matches!(crate::lower::strip_parens(&unary.expr),
                        syn::Expr::Path(path) if path.path.is_ident(self.0));
                    if named {
                        *expr = (*unary.expr).clone();
                        return;
                    }
                }
                syn::Expr::Closure(closure) if closure_binds(closure, self.0) => return,
                _ => {}
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }
    for stmt in stmts {
        syn::visit_mut::VisitMut::visit_stmt_mut(&mut Derefs(name), stmt);
    }
}

/// Whether a reference about to be bound to `name` may be bound to the
/// value instead, with `*name` read as `name` in the statements `after` it
/// (`derefs_as_values`): the name is not bound again there, nor read inside
/// a macro's tokens, where `*name` would stay.
pub(crate) fn may_read_as_value(after: &[syn::Stmt], name: &syn::Ident) -> bool {
    let rest = syn::Block {
        brace_token: Default::default(),
        stmts: after.to_vec(),
    };
    !rebound_inside(&rest, name) && !mentioned_in_macro(&rest, name)
}

/// Whether a macro call in `block` has `name` among its tokens (or captures
/// it in a format string, `"{name}"`).
pub(crate) fn mentioned_in_macro(block: &syn::Block, name: &syn::Ident) -> bool {
    struct Finds<'a>(&'a syn::Ident, bool);
    impl<'ast> syn::visit::Visit<'ast> for Finds<'_> {
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            self.1 |= macro_mentions(mac, self.0);
        }
    }
    let mut finds = Finds(name, false);
    syn::visit::Visit::visit_block(&mut finds, block);
    finds.1
}

/// Whether a macro call has `name` among its tokens, or captures it in a
/// format string (`"{name}"`).
pub(crate) fn macro_mentions(mac: &syn::Macro, name: &syn::Ident) -> bool {
    use crate::emit::names::{format_string_names, identifiers};
    let name = name.to_string();
    identifiers(mac.tokens.clone()).contains(&name)
        || format_string_names(mac.tokens.clone()).contains(&name)
}

/// Whether evaluating `expr` assigns anything (`=`, `+=` and the other
/// compound assignments).
pub(crate) fn assigns(expr: &syn::Expr) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast syn::Expr) {
            match expr {
                syn::Expr::Assign(_) => self.0 = true,
                syn::Expr::Binary(b) if is_compound_assignment(&b.op) => self.0 = true,
                _ => syn::visit::visit_expr(self, expr),
            }
        }
    }
    let mut finder = Finder(false);
    syn::visit::Visit::visit_expr(&mut finder, expr);
    finder.0
}

/// Whether `expr`, computed again, gives the same and changes nothing: no
/// assignment, `&mut`, macro, block, loop or closure (calls of functions
/// and methods are taken as pure, as the macro takes them).
pub(crate) fn repeatable(expr: &syn::Expr) -> bool {
    struct Effects(bool);
    impl<'ast> syn::visit::Visit<'ast> for Effects {
        fn visit_expr(&mut self, expr: &'ast syn::Expr) {
            use syn::Expr as E;
            match expr {
                E::Assign(_) | E::Macro(_) | E::Block(_) | E::Closure(_) => self.0 = true,
                E::Loop(_) | E::While(_) | E::ForLoop(_) => self.0 = true,
                E::Binary(b) if is_compound_assignment(&b.op) => self.0 = true,
                E::Reference(r) if r.mutability.is_some() => self.0 = true,
                _ => syn::visit::visit_expr(self, expr),
            }
        }
    }
    let mut effects = Effects(false);
    syn::visit::Visit::visit_expr(&mut effects, expr);
    !effects.0
}

/// `+=`, `-=` and the other operators that assign.
pub(crate) fn is_compound_assignment(op: &syn::BinOp) -> bool {
    use syn::BinOp as B;
    matches!(
        op,
        B::AddAssign(_)
            | B::SubAssign(_)
            | B::MulAssign(_)
            | B::DivAssign(_)
            | B::RemAssign(_)
            | B::BitAndAssign(_)
            | B::BitOrAssign(_)
            | B::BitXorAssign(_)
            | B::ShlAssign(_)
            | B::ShrAssign(_)
    )
}

/// Methods that make or adapt an iterator over a list: a `let` bound to
/// one (`iterator_lets`), or `std::iter::zip`'s first argument (`zips`), is
/// an iterator already.
pub(crate) const ITERATOR_METHODS: [&str; 18] = [
    "iter",
    "iter_mut",
    "into_iter",
    "windows",
    "chunks",
    "chunks_exact",
    "map",
    "filter",
    "zip",
    "enumerate",
    "rev",
    "skip",
    "take",
    "step_by",
    "copied",
    "cloned",
    "skip_while",
    "take_while",
];

/// Every use of the local `name` written as `value`, where a rewrite puts
/// a value in a name's place (a loop's variable as its literal, a named
/// iterator as its chain): a closure with a parameter of that name is left
/// alone, and a field given by the name alone (`P { i }`) gets the value
/// (`P { i: 0 }`).
pub(crate) struct NameAs<'a> {
    pub name: &'a syn::Ident,
    pub value: &'a Expr,
}

impl VisitMut for NameAs<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Path(path) if path.qself.is_none() && path.path.is_ident(self.name) => {
                *expr = self.value.clone();
            }
            Expr::Closure(closure) if closure_binds(closure, self.name) => {}
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_field_value_mut(&mut self, field: &mut syn::FieldValue) {
        if matches!(&field.member, syn::Member::Named(member) if member == self.name) {
            field.colon_token.get_or_insert_with(Default::default);
        }
        syn::visit_mut::visit_field_value_mut(self, field);
    }
}

/// An integer literal's value, `3` of `3` or `3usize`.
pub(crate) fn usize_literal(expr: &syn::Expr) -> Option<usize> {
    match crate::lower::strip_parens(expr) {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(n),
            ..
        }) => n.base10_parse::<usize>().ok(),
        _ => None,
    }
}

/// Whether `name` is bound exactly once in `block` (its `let`).
pub(crate) fn bound_once(block: &syn::Block, name: &syn::Ident) -> bool {
    use syn::visit::Visit;
    struct Count<'n>(&'n syn::Ident, usize);
    impl<'ast> Visit<'ast> for Count<'_> {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            if p.ident == *self.0 {
                self.1 += 1;
            }
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut count = Count(name, 0);
    count.visit_block(block);
    count.1 == 1
}

/// Whether a comparator orders by value descending (`Some(true)`),
/// ascending (`Some(false)`), or otherwise (`None`): `|a, b|
/// a.partial_cmp(b).unwrap()` (or `.expect(..)`), `a.total_cmp(b)`, the same
/// with `b` first, and `f64::total_cmp`.
pub(crate) fn comparison_order(comparator: &Expr) -> Option<bool> {
    let closure = match crate::lower::strip_parens(comparator) {
        Expr::Path(path) => {
            let last = path.path.segments.last()?;
            return (last.ident == "total_cmp" && path.path.segments.len() == 2).then_some(false);
        }
        Expr::Closure(closure) if closure.inputs.len() == 2 => closure,
        _ => return None,
    };
    fn bound(pat: &syn::Pat) -> Option<proc_macro2::Ident> {
        match pat {
            syn::Pat::Ident(p) => Some(p.ident.clone()),
            syn::Pat::Type(t) => bound(&t.pat),
            syn::Pat::Reference(r) => bound(&r.pat),
            _ => None,
        }
    }
    let param = |k: usize| bound(&closure.inputs[k]);
    let (a, b) = (param(0)?, param(1)?);
    let mut body = crate::lower::strip_parens(&closure.body);
    if let Expr::MethodCall(m) = body {
        if unwraps(m) {
            body = crate::lower::strip_parens(&m.receiver);
        }
    }
    let Expr::MethodCall(compare) = body else {
        return None;
    };
    if !(compare.method == "partial_cmp" || compare.method == "total_cmp")
        || compare.args.len() != 1
    {
        return None;
    }
    fn named(expr: &Expr) -> Option<proc_macro2::Ident> {
        match crate::lower::strip_parens(expr) {
            Expr::Path(p) => p.path.get_ident().cloned(),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => named(&u.expr),
            Expr::Reference(r) => named(&r.expr),
            _ => None,
        }
    }
    match (named(&compare.receiver)?, named(&compare.args[0])?) {
        (x, y) if x == a && y == b => Some(false),
        (x, y) if x == b && y == a => Some(true),
        _ => None,
    }
}
