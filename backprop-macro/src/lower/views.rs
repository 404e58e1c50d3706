//! Parts of differentiated arrays: `&x[a..b]`, `x[a..]`, `&mut x[..k]`,
//! `x.split_at(k)`, `x.chunks(d)`. A part bound to a name and only indexed,
//! measured and passed to functions is read through its parent (`c[i]` as
//! `x[c_start + i]`, `ViewUses`): nothing is copied, and its adjoint is the
//! parent's. Any other part is copied into a buffer of its own before the
//! statement that takes it (and a part taken by `&mut` is copied back after
//! it), so everything downstream (reads, loops, iterator chains, calls of
//! differentiated functions) sees an ordinary buffer, and the adjoint of the
//! copy flows back into the parent's adjoint element by element. (A part
//! passed straight to a function, `f(&x[a..b])` or `f(&mut x[a..b])`, is
//! neither: the call lends it, and the callee's pullback works on that part
//! of the parent's adjoint.)

use super::{strip_parens, Lowerer};
use proc_macro2::{Span, TokenStream};
use quote::{quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

/// A statement rewritten to take copies of parts of differentiated arrays.
pub(super) struct PartsCopied {
    /// Fill each copy.
    pub(super) before: Vec<Stmt>,
    /// The statement, unless it only named the copy (`let c = &x[a..b];`).
    pub(super) stmt: Option<Stmt>,
    /// Write each `&mut` copy back into its parent.
    pub(super) after: Vec<Stmt>,
}

impl<'a> Lowerer<'a> {
    /// `stmt` with each part of a differentiated array it takes (outside its
    /// branches, loops and closures, which are lowered statement by statement
    /// on their own) replaced by a copy. `None` when it takes none.
    pub(super) fn parts_copied(&mut self, stmt: &Stmt) -> Option<PartsCopied> {
        if let Some((tokens, message)) = self.mutable_view(stmt) {
            self.errors.spanned(tokens, message);
            // The names it binds are read-only parts from here on, so that
            // nothing more is said of their uses.
            let shared = shared_view(stmt);
            return Some(match shared.and_then(|stmt| self.parts_copied(&stmt)) {
                Some(parts) => parts,
                None => PartsCopied {
                    before: Vec::new(),
                    stmt: None,
                    after: Vec::new(),
                },
            });
        }
        if let Some(parts) = self.split_at_parts(stmt) {
            return Some(parts);
        }
        let mut finder = PartFinder {
            lowerer: self,
            parts: Vec::new(),
        };
        let mut stmt = stmt.clone();
        // `let c = &x[a..b];`, `let c = x[a..b].to_vec();`: the copy is `c`.
        let own_name = match &stmt {
            Stmt::Local(local) => let_part(local),
            _ => None,
        };
        if let Some(ident) = own_name {
            let Stmt::Local(local) = &stmt else {
                return None;
            };
            let init = local.init.as_ref().map(|init| &*init.expr)?;
            let part = finder.part_of(strip_to_index(init)?)?;
            let (before, _) = finder.lowerer.copy_of_part(&part, &ident);
            return Some(PartsCopied {
                before,
                stmt: None,
                after: Vec::new(),
            });
        }
        finder.visit_stmt_mut(&mut stmt);
        if finder.parts.is_empty() {
            return None;
        }
        let parts = std::mem::take(&mut finder.parts);
        let mut before = Vec::new();
        let mut after = Vec::new();
        for (part, name) in parts {
            let (fill, write_back) = self.copy_of_part(&part, &name);
            before.extend(fill);
            after.extend(write_back);
        }
        Some(PartsCopied {
            before,
            stmt: Some(stmt),
            after,
        })
    }

    /// A `&mut` view of a differentiated array that outlives one call: bound
    /// with `let` and used otherwise than `view_of_part` reads through the
    /// parent, split, or cut into chunks. Its writes would have to reach the
    /// parent at some later point; refused with what to write instead.
    fn mutable_view(&self, stmt: &Stmt) -> Option<(TokenStream, &'static str)> {
        struct Finder<'l, 'a> {
            lowerer: &'l Lowerer<'a>,
            found: Option<(TokenStream, &'static str)>,
        }
        impl<'ast> syn::visit::Visit<'ast> for Finder<'_, '_> {
            fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
                let method = call.method.to_string();
                let splits =
                    ["split_at_mut", "chunks_mut", "chunks_exact_mut"].contains(&method.as_str());
                if splits
                    && self
                        .lowerer
                        .array_local(&call.receiver)
                        .is_some_and(|id| self.lowerer.nodes[id].active)
                {
                    let message = match method.as_str() {
                        "split_at_mut" => "a differentiated array split into `&mut` parts is not supported; pass `&mut x[a..b]` to each function that writes a part, or write `x[i]` in place",
                        _ => "a chunk of `chunks_mut` over a differentiated array is supported when it is used by element (`row[j] = ..`), measured (`row.len()`) or read (`row.iter()`, `for v in row.iter_mut()`), and is used otherwise here; write that use by element, or pass `&mut x[a..b]` to the function that does it",
                    };
                    self.found.get_or_insert((quote::quote!(#call), message));
                }
                syn::visit::visit_expr_method_call(self, call);
            }
        }
        if let Stmt::Local(local) = stmt {
            if let Some(init) = &local.init {
                if let Expr::Reference(r) = strip_parens(&init.expr) {
                    let part = match strip_parens(&r.expr) {
                        Expr::Index(index)
                            if matches!(strip_parens(&index.index), Expr::Range(_)) =>
                        {
                            self.array_local(&index.expr)
                                .is_some_and(|id| self.nodes[id].active)
                        }
                        _ => false,
                    };
                    if r.mutability.is_some() && part {
                        return Some((
                            quote::quote!(#r),
                            "a `&mut` part of a differentiated array bound to a name can be indexed (`c[i] = ..`), measured (`c.len()`) and passed to functions, and is used otherwise here; write that use through the parent (`x[a + i]`), or pass `&mut x[a..b]` straight to the function that does it",
                        ));
                    }
                }
            }
        }
        let mut finder = Finder {
            lowerer: self,
            found: None,
        };
        syn::visit::Visit::visit_stmt(&mut finder, stmt);
        finder.found
    }

    /// `let (a, b) = x.split_at(k);` is `let a = &x[..k]; let b = &x[k..];`.
    fn split_at_parts(&mut self, stmt: &Stmt) -> Option<PartsCopied> {
        let mut before = Vec::new();
        for stmt in &self.split_at_lets(stmt)? {
            let parts = self.parts_copied(stmt)?;
            before.extend(parts.before);
        }
        Some(PartsCopied {
            before,
            stmt: None,
            after: Vec::new(),
        })
    }

    /// `let (a, b) = x.split_at(k);` of a differentiated array as the two
    /// parts it binds, `let a = &x[..k]; let b = &x[k..];`.
    pub(super) fn split_at_lets(&self, stmt: &Stmt) -> Option<Vec<Stmt>> {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        let syn::Pat::Tuple(tuple) = &local.pat else {
            return None;
        };
        let Expr::MethodCall(call) = strip_parens(&local.init.as_ref()?.expr) else {
            return None;
        };
        if call.method != "split_at" || call.args.len() != 1 || tuple.elems.len() != 2 {
            return None;
        }
        self.array_local(&call.receiver)
            .filter(|id| self.nodes[*id].active)?;
        let names: Vec<&syn::Ident> = tuple
            .elems
            .iter()
            .map(|pat| match pat {
                syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(&p.ident),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let (array, mid) = (&call.receiver, &call.args[0]);
        let span = call.span();
        let (first, second) = (names[0], names[1]);
        Some(vec![
            syn::parse_quote_spanned!(span=> let #first = &#array[..#mid];),
            syn::parse_quote_spanned!(span=> let #second = &#array[#mid..];),
        ])
    }

    /// The statements that fill `name` with `part`, and those that write it
    /// back (for a `&mut` part).
    fn copy_of_part(&mut self, part: &Part, name: &syn::Ident) -> (Vec<Stmt>, Vec<Stmt>) {
        let span = part.span;
        let array = &part.array;
        let float = self
            .array_local(&syn::parse_quote!(#array))
            .and_then(|id| self.nodes[id].float(&self.floats))
            .unwrap_or_else(|| self.ret.clone());
        let len = self.part_names.fresh(&format!("{name}_len"));
        let k = self.part_names.fresh("k");
        let end_value = part.end_value();
        // From the start of the parent, an element's index in the copy is its
        // index in the parent.
        let (start, parent_index, length) = match &part.start {
            Some(value) => {
                let start = self.part_names.fresh(&format!("{name}_start"));
                let bound: Stmt = syn::parse_quote_spanned!(span=> let #start: usize = #value;);
                (
                    vec![bound],
                    quote_spanned!(span=> #start + #k),
                    quote_spanned!(span=> #end_value - #start),
                )
            }
            None => (Vec::new(), quote_spanned!(span=> #k), end_value),
        };
        let zero = float.literal("0.0");
        // `let x = &x[1..];`: the copy is filled under another name, so that
        // the loop reads the parent, and then bound to the user's.
        let user_name = name;
        let filled = self.part_names.fresh(&format!("{name}_filled"));
        let (name, rebound) = match name == array {
            true => (
                &filled,
                // (Bound, not copied: the copy is the user's from here on.)
                Some(quote_spanned!(span=> let #user_name = #filled;)),
            ),
            false => (name, None),
        };
        let block: syn::Block = syn::parse_quote_spanned! {span=>
            {
                #(#start)*
                let #len: usize = #length;
                let mut #name: Vec<#float> = vec![#zero; #len];
                for #k in 0..#len {
                    #name[#k] = #array[#parent_index];
                }
                #rebound
            }
        };
        let fill = block.stmts;
        let write_back: Vec<Stmt> = if part.mutable {
            let back: syn::Block = syn::parse_quote_spanned! {span=>
                {
                    for #k in 0..#len {
                        #array[#parent_index] = #name[#k];
                    }
                }
            };
            back.stmts
        } else {
            Vec::new()
        };
        (fill, write_back)
    }
}

impl<'a> Lowerer<'a> {
    /// `for c in x.chunks(d)` (or `chunks_exact`, or either `.enumerate()`d)
    /// over a differentiated array: a loop over the chunks' indices whose body
    /// starts by taking the chunk, `let c = &x[j * d..(j + 1) * d];`.
    pub(super) fn chunks_loop(&mut self, looped: &syn::ExprForLoop) -> Option<syn::ExprForLoop> {
        if let Some(zipped) = self.zipped_chunks_loop(looped) {
            return Some(zipped);
        }
        let (chunks, enumerated) = match strip_parens(&looped.expr) {
            Expr::MethodCall(m) if m.method == "enumerate" && m.args.is_empty() => {
                (strip_parens(&m.receiver), true)
            }
            other => (other, false),
        };
        let Expr::MethodCall(call) = chunks else {
            return None;
        };
        let exact = call.method == "chunks_exact";
        if !(exact || call.method == "chunks") || call.args.len() != 1 {
            return None;
        }
        self.array_local(&call.receiver)
            .filter(|id| self.nodes[*id].active)?;
        let (index, chunk) = match (&*looped.pat, enumerated) {
            (syn::Pat::Tuple(t), true) if t.elems.len() == 2 => {
                (t.elems[0].clone(), t.elems[1].clone())
            }
            (pat, false) => {
                let j = self.part_names.fresh("j");
                (syn::parse_quote!(#j), pat.clone())
            }
            _ => return None,
        };
        let syn::Pat::Ident(index_ident) = &index else {
            return None;
        };
        let j = &index_ident.ident;
        let (array, width) = (&call.receiver, &call.args[0]);
        let span = call.span();
        let (count, end) = chunk_bounds(call, j);
        let stmts = &looped.body.stmts;
        let label = &looped.label;
        // Parsed, not quoted: a pattern that does not fit is the user's error.
        syn::parse2(quote_spanned! {span=>
            #label for #index in 0..#count {
                let #chunk = &#array[#j * (#width)..#end];
                #(#stmts)*
            }
        })
        .ok()
    }
}

impl Lowerer<'_> {
    /// `for (row, t) in w.chunks_exact(d).zip(y)` (either side of the zip):
    /// `for (j, t) in y.iter().enumerate().take(count) { let row = &w[..]; .. }`,
    /// the zip partner iterated as any slice is, the chunk a view as above.
    fn zipped_chunks_loop(&mut self, looped: &syn::ExprForLoop) -> Option<syn::ExprForLoop> {
        let Expr::MethodCall(zip) = strip_parens(&looped.expr) else {
            return None;
        };
        if zip.method != "zip" || zip.args.len() != 1 {
            return None;
        }
        let syn::Pat::Tuple(pattern) = &*looped.pat else {
            return None;
        };
        if pattern.elems.len() != 2 {
            return None;
        }
        let is_chunks = |e: &Expr| {
            matches!(strip_parens(e), Expr::MethodCall(m)
                if (m.method == "chunks" || m.method == "chunks_exact") && m.args.len() == 1)
        };
        let (chunks, partner, chunk_first) =
            match (is_chunks(&zip.receiver), is_chunks(&zip.args[0])) {
                (true, false) => (&*zip.receiver, &zip.args[0], true),
                (false, true) => (&zip.args[0], &*zip.receiver, false),
                _ => return None,
            };
        let Expr::MethodCall(call) = strip_parens(chunks) else {
            return None;
        };
        self.array_local(&call.receiver)
            .filter(|id| self.nodes[*id].active)?;
        let (chunk, item) = match chunk_first {
            true => (&pattern.elems[0], &pattern.elems[1]),
            false => (&pattern.elems[1], &pattern.elems[0]),
        };
        // The partner as an iterator over its elements.
        let mut base = strip_parens(partner);
        while let Expr::Reference(r) = base {
            base = strip_parens(&r.expr);
        }
        let partner: Expr = match base {
            Expr::MethodCall(m) if m.method == "iter" => base.clone(),
            _ => syn::parse_quote!(#base.iter()),
        };
        let j = self.part_names.fresh("j");
        let (array, width) = (&call.receiver, &call.args[0]);
        let span = call.span();
        let (count, end) = chunk_bounds(call, &j);
        let stmts = &looped.body.stmts;
        let label = &looped.label;
        syn::parse2(quote_spanned! {span=>
            #label for (#j, #item) in #partner.enumerate().take(#count) {
                let #chunk = &#array[#j * (#width)..#end];
                #(#stmts)*
            }
        })
        .ok()
    }
}

/// How many chunks `x.chunks(d)` or `x.chunks_exact(d)` gives, and where
/// chunk `j` ends (the last one of `chunks` may be short).
fn chunk_bounds(call: &syn::ExprMethodCall, j: &syn::Ident) -> (Expr, Expr) {
    let (array, width) = (&call.receiver, &call.args[0]);
    let span = call.span();
    if call.method == "chunks_exact" {
        (
            syn::parse_quote_spanned!(span=> #array.len() / (#width)),
            syn::parse_quote_spanned!(span=> (#j + 1) * (#width)),
        )
    } else {
        (
            syn::parse_quote_spanned!(span=> #array.len().div_ceil(#width)),
            syn::parse_quote_spanned!(span=> ((#j + 1) * (#width)).min(#array.len())),
        )
    }
}

/// A part of a differentiated array, as written.
pub(super) struct Part {
    array: syn::Ident,
    start: Option<TokenStream>,
    end: Option<TokenStream>,
    inclusive: bool,
    /// Taken by `&mut`: written back after the statement.
    mutable: bool,
    span: Span,
}

impl Part {
    /// The index one past its last element, in the parent: `b` of `a..b`,
    /// `b + 1` of `a..=b`, the parent's length of `a..`.
    fn end_value(&self) -> TokenStream {
        let (span, array) = (self.span, &self.array);
        match (&self.end, self.inclusive) {
            (Some(end), false) => end.clone(),
            (Some(end), true) => quote_spanned!(span=> (#end) + 1),
            (None, _) => quote_spanned!(span=> #array.len()),
        }
    }
}

/// Replaces each part of a differentiated array with the name of its copy.
struct PartFinder<'l, 'a> {
    lowerer: &'l mut Lowerer<'a>,
    parts: Vec<(Part, syn::Ident)>,
}

impl PartFinder<'_, '_> {
    /// `x[a..b]` of a differentiated array local `x`.
    fn part_of(&self, index: &syn::ExprIndex) -> Option<Part> {
        let id = self.lowerer.array_local(&index.expr)?;
        if !self.lowerer.nodes[id].active {
            return None;
        }
        self.part_of_any(index)
    }

    /// `part_of`, of an array differentiated or not (a part of data bound
    /// to a name is read through its parent too).
    fn part_of_any(&self, index: &syn::ExprIndex) -> Option<Part> {
        let Expr::Range(range) = strip_parens(&index.index) else {
            return None;
        };
        self.lowerer.array_local(&index.expr)?;
        let Expr::Path(path) = strip_parens(&index.expr) else {
            return None;
        };
        let array = path.path.get_ident()?.clone();
        let bound = |b: &Option<Box<Expr>>| b.as_ref().map(|e| quote::quote!(#e));
        Some(Part {
            array,
            start: bound(&range.start),
            end: bound(&range.end),
            inclusive: matches!(range.limits, syn::RangeLimits::Closed(_)),
            mutable: false,
            span: index.span(),
        })
    }

    /// `&x[a..b]` or `&mut x[a..b]` of a differentiated array.
    fn is_lent_part(&self, arg: &Expr) -> bool {
        match strip_parens(arg) {
            Expr::Reference(r) => match strip_parens(&r.expr) {
                Expr::Index(index) => self.part_of(index).is_some(),
                _ => false,
            },
            _ => false,
        }
    }

    fn replace(&mut self, expr: &mut Expr, mutable: bool) -> bool {
        let index = match strip_parens(expr) {
            Expr::Reference(r) => match strip_parens(&r.expr) {
                Expr::Index(index) => index,
                _ => return false,
            },
            Expr::Index(index) => index,
            _ => return false,
        };
        let Some(mut part) = self.part_of(index) else {
            return false;
        };
        part.mutable = mutable;
        let base = format!("{}_part", part.array);
        let name = self.lowerer.part_names.fresh(&base);
        let span = part.span;
        *expr = match strip_parens(expr) {
            Expr::Reference(_) if mutable => syn::parse_quote_spanned!(span=> &mut #name),
            Expr::Reference(_) => syn::parse_quote_spanned!(span=> &#name),
            _ => syn::parse_quote_spanned!(span=> #name),
        };
        self.parts.push((part, name));
        true
    }
}

impl VisitMut for PartFinder<'_, '_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // `f(&x[a..b])`, `f(&mut x[a..b])`: the part is lent to the callee
        // as it is.
        if let Expr::Call(call) = expr {
            for arg in &mut call.args {
                if !self.is_lent_part(arg) {
                    self.visit_expr_mut(arg);
                }
            }
            return;
        }
        let mutable = matches!(strip_parens(expr), Expr::Reference(r) if r.mutability.is_some());
        if self.replace(expr, mutable) {
            return;
        }
        match expr {
            // Code that runs later, more than once, or not at all: its parts
            // are copied where it runs.
            Expr::Closure(_)
            | Expr::Block(_)
            | Expr::Loop(_)
            | Expr::While(_)
            | Expr::Unsafe(_)
            | Expr::Const(_) => {}
            Expr::If(branch) => self.visit_expr_mut(&mut branch.cond),
            Expr::Match(matched) => self.visit_expr_mut(&mut matched.expr),
            Expr::ForLoop(looped) => self.visit_expr_mut(&mut looped.expr),
            Expr::Binary(b) if matches!(b.op, syn::BinOp::And(_) | syn::BinOp::Or(_)) => {
                self.visit_expr_mut(&mut b.left);
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }
}

/// `let c = &mut x[..];` as `let c = &x[..];`, `x.split_at_mut(k)` as
/// `x.split_at(k)`: what a refused `let` binds, read-only.
fn shared_view(stmt: &Stmt) -> Option<Stmt> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    let mut local = local.clone();
    let init = local.init.as_mut()?;
    match &mut *init.expr {
        Expr::Reference(r) => r.mutability = None,
        Expr::MethodCall(m) if m.method == "split_at_mut" => {
            m.method = syn::Ident::new("split_at", m.method.span());
        }
        _ => return None,
    }
    Some(Stmt::Local(local))
}

/// `let c = &x[..];`, `let mut c = x[..].to_vec();`: the name the copy takes.
fn let_part(local: &syn::Local) -> Option<syn::Ident> {
    let syn::Pat::Ident(p) = &local.pat else {
        return None;
    };
    if p.by_ref.is_some() || p.subpat.is_some() || local.init.as_ref()?.diverge.is_some() {
        return None;
    }
    strip_to_index(&local.init.as_ref()?.expr)?;
    Some(p.ident.clone())
}

/// `x[a..b]` in `&x[a..b]`, `x[a..b].to_vec()` or `x[a..b].clone()`.
fn strip_to_index(expr: &Expr) -> Option<&syn::ExprIndex> {
    match strip_parens(expr) {
        Expr::Reference(r) if r.mutability.is_none() => strip_to_index(&r.expr),
        Expr::MethodCall(m)
            if m.args.is_empty()
                && (m.method == "to_vec" || m.method == "to_owned" || m.method == "clone") =>
        {
            match strip_parens(&m.receiver) {
                Expr::Index(index) => Some(index),
                _ => None,
            }
        }
        Expr::Index(index) if matches!(strip_parens(&index.index), Expr::Range(_)) => Some(index),
        _ => None,
    }
}

/// A named part of a differentiated array, `let c = &x[a..b];` (or `&mut`),
/// read through its parent: `c[i]` is `x[c_start + i]` (bounds-checked
/// against the part), `c.len()` its length, and `c` passed to a function the
/// part `&x[c_start..c_end]` (lent, its adjoint added into that part of
/// `x`'s). Nothing is copied, and its adjoint is that of the parent.
struct ViewUses<'v> {
    name: &'v syn::Ident,
    array: &'v syn::Ident,
    /// `let c = &mut x[a..b];`: writes `c[i] = v` are writes of `x`, and `c`
    /// passed on is `&mut x[c_start..c_end]`. (While `c` lives the borrow
    /// checker keeps every other use of `x` out, so nothing reads `x` between
    /// a write and the rewrite's.)
    mutable: bool,
    /// The bounds as the rewritten uses read them: the names bound before
    /// the rest, or the numbers themselves where the part's bounds are
    /// literals (`&cam[3..6]`: `cam[3 + within(i, 3)]`, a length the backward
    /// pass knows without the tape).
    start: Option<TokenStream>,
    len: TokenStream,
    end: TokenStream,
    /// A use the rewrite does not read through (`c.iter()`, `let d = c;`,
    /// `c[a..b]`, a macro naming it, a closure whose parameter hides the
    /// parent): the part is copied instead.
    other_use: bool,
}

impl ViewUses<'_> {
    fn is_name(&self, expr: &Expr) -> bool {
        matches!(strip_parens(expr), Expr::Path(p) if p.qself.is_none() && p.path.is_ident(self.name))
    }

    /// `x[c_start + i]`, `i` checked against the part's length.
    fn element(&self, index: &Expr) -> Expr {
        let (array, len) = (self.array, &self.len);
        // `rot[1]` of `&cam[3..6]`: `cam[4]`, checked here.
        let start = self.start.as_ref().map_or(Some(0), number);
        if let (Some(start), Some(len), Some(i)) = (
            start,
            number(len),
            number(&strip_parens(index).to_token_stream()),
        ) {
            if i < len {
                let at = proc_macro2::Literal::usize_unsuffixed(start + i);
                return syn::parse_quote!(#array[#at]);
            }
        }
        let checked = quote::quote!(::backprop_runtime::model::fields::within(#index, #len));
        match &self.start {
            Some(start) => syn::parse_quote!(#array[#start + #checked]),
            None => syn::parse_quote!(#array[#checked]),
        }
    }
}

impl VisitMut for ViewUses<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Index(index)
                if self.is_name(&index.expr)
                    && !matches!(strip_parens(&index.index), Expr::Range(_)) =>
            {
                self.visit_expr_mut(&mut index.index);
                *expr = self.element(&index.index);
            }
            Expr::MethodCall(call) if self.is_name(&call.receiver) && call.args.is_empty() => {
                let len = &self.len;
                match call.method.to_string().as_str() {
                    "len" => *expr = syn::parse_quote!(#len),
                    "is_empty" => *expr = syn::parse_quote!((#len == 0)),
                    _ => self.other_use = true,
                }
            }
            Expr::Call(call) => {
                self.visit_expr_mut(&mut call.func);
                let (array, end) = (self.array, &self.end);
                let part: Expr = match (&self.start, self.mutable) {
                    (Some(start), false) => syn::parse_quote!(&#array[#start..#end]),
                    (None, false) => syn::parse_quote!(&#array[..#end]),
                    (Some(start), true) => syn::parse_quote!(&mut #array[#start..#end]),
                    (None, true) => syn::parse_quote!(&mut #array[..#end]),
                };
                for arg in call.args.iter_mut() {
                    match self.is_name(arg) {
                        true => *arg = part.clone(),
                        false => self.visit_expr_mut(arg),
                    }
                }
            }
            Expr::Path(_) if self.is_name(expr) => self.other_use = true,
            Expr::Closure(closure) if crate::desugar::closure_binds(closure, self.name) => {}
            // Inside, the parent's name is another value.
            Expr::Closure(closure) if crate::desugar::closure_binds(closure, self.array) => {
                self.other_use = true;
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        let name = self.name.to_string();
        self.other_use |= crate::emit::names::identifiers(mac.tokens.clone()).contains(&name);
    }
}

impl Lowerer<'_> {
    /// `let c = &x[a..b];` of a differentiated array, and the statements
    /// after it, read through `x` (`ViewUses`): the bounds bound once
    /// (`c_start`, `c_end`, and `c_len`, checked as slicing checks them),
    /// then `rest` rewritten. `None` (the part is copied, or a `&mut` part
    /// refused) where `c` is used otherwise, where `c` or `x` is bound again,
    /// or for a `mut` binding.
    pub(super) fn view_of_part(&mut self, stmt: &Stmt, rest: &[Stmt]) -> Option<Vec<Stmt>> {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        let syn::Pat::Ident(pat) = &local.pat else {
            return None;
        };
        if pat.mutability.is_some() || pat.by_ref.is_some() || pat.subpat.is_some() {
            return None;
        }
        let init = local.init.as_ref().filter(|init| init.diverge.is_none())?;
        let Expr::Reference(reference) = strip_parens(&init.expr) else {
            return None;
        };
        let Expr::Index(index) = strip_parens(&reference.expr) else {
            return None;
        };
        let finder = PartFinder {
            lowerer: self,
            parts: Vec::new(),
        };
        let part = finder.part_of_any(index)?;
        let name = &pat.ident;
        let block = syn::Block {
            brace_token: Default::default(),
            stmts: rest.to_vec(),
        };
        let array = &part.array;
        // The part's name, or its parent's, bound again: a use after it is
        // of another value (`let x = ..;` hides the parent `c` borrows).
        if crate::desugar::rebound_inside(&block, name)
            || crate::desugar::rebound_inside(&block, array)
        {
            return None;
        }
        let span = part.span;
        let start = part
            .start
            .as_ref()
            .map(|_| self.part_names.fresh(&format!("{name}_start")));
        let (len, end) = (
            self.part_names.fresh(&format!("{name}_len")),
            self.part_names.fresh(&format!("{name}_end")),
        );
        let first_value = part.start.as_ref().map_or(Some(0), number);
        let end_number = part
            .end
            .as_ref()
            .and_then(number)
            .map(|end| end + usize::from(part.inclusive));
        let numbers = match (first_value, end_number) {
            (Some(first), Some(end)) if first <= end => Some((first, end)),
            _ => None,
        };
        let literal = |n: usize| proc_macro2::Literal::usize_unsuffixed(n).to_token_stream();
        let (read_start, read_len, read_end) = match numbers {
            // (A start of 0 reads `x[i]`, not `x[0 + i]`.)
            Some((first, end)) => (
                (first > 0).then(|| literal(first)),
                literal(end - first),
                literal(end),
            ),
            None => (
                start.as_ref().map(ToTokens::to_token_stream),
                len.to_token_stream(),
                end.to_token_stream(),
            ),
        };
        let mut uses = ViewUses {
            name,
            array,
            mutable: reference.mutability.is_some(),
            start: read_start,
            len: read_len,
            end: read_end,
            other_use: false,
        };
        let mut rewritten = block;
        uses.visit_block_mut(&mut rewritten);
        if uses.other_use {
            return None;
        }
        let end_value = part.end_value();
        let parent_len = self.part_names.fresh(&format!("{array}_len"));
        let mut bounds: Vec<Stmt> = Vec::new();
        let first = match (&start, &part.start) {
            (Some(start), Some(value)) => {
                bounds.push(syn::parse_quote_spanned!(span=> let #start: usize = #value;));
                quote_spanned!(span=> #start)
            }
            _ => quote_spanned!(span=> 0),
        };
        bounds.extend::<[Stmt; 3]>([
            syn::parse_quote_spanned!(span=> let #end: usize = #end_value;),
            syn::parse_quote_spanned!(span=> let #parent_len: usize = #array.len();),
            syn::parse_quote_spanned!(span=>
                let #len: usize = ::backprop_runtime::model::fields::part_len(#first, #end, #parent_len);
            ),
        ]);
        bounds.extend(rewritten.stmts);
        Some(bounds)
    }
}

/// The number an integer literal says (`3`, `3usize`), if the tokens are one.
fn number(tokens: &TokenStream) -> Option<usize> {
    crate::desugar::usize_literal(&syn::parse2(tokens.clone()).ok()?)
}
