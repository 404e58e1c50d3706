//! A list of a slice's chunks, `let rows: Vec<&[f64]> = m.chunks(n).collect();`
//! (the atoms of a position vector, the rows of a flat matrix), read as the
//! parts it holds: `rows[i][j]` is `m[i * n + j]`, `rows[i]` is the view
//! `&m[i * n..(i * n + n).min(m.len())]`, `rows.len()` the number of
//! chunks, and `rows.iter()` (or `&rows` looped over) the chunks again,
//! `m.chunks(n)`. The same for `chunks_exact` and the `_mut` kinds. Views
//! of a slice are what the rest of the macro differentiates; a `Vec` of
//! references to them is not.
//!
//! Left alone (and refused further on, as before): a list used any other
//! way, pushed to or bound again; a chunk size that may change; an index
//! that could not be computed twice.

use crate::lower::strip_parens as strip;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn chunk_lists_as_views(block: &mut syn::Block) {
    struct Blocks;
    impl VisitMut for Blocks {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            syn::visit_mut::visit_block_mut(self, block);
            let mut k = 0;
            while k < block.stmts.len() {
                let Some(list) = chunk_list(&block.stmts[k]) else {
                    k += 1;
                    continue;
                };
                let mut rest = block.stmts[k + 1..].to_vec();
                // The names need stay put only up to the list's last use: a
                // source bound again after it (`let mut m: Vec<f64> = ..`)
                // is another variable.
                let name = list.name.to_string();
                let used = rest
                    .iter()
                    .rposition(|stmt| {
                        crate::emit::names::identifiers(stmt.to_token_stream()).contains(&name)
                    })
                    .map_or(0, |last| last + 1);
                let mut rewrite = Uses {
                    list: &list,
                    declined: false,
                };
                for stmt in &mut rest {
                    rewrite.visit_stmt_mut(stmt);
                }
                if rewrite.declined || !list.stays_put(&rest[..used]) {
                    k += 1;
                    continue;
                }
                block.stmts.truncate(k);
                block.stmts.extend(rest);
            }
        }
    }
    Blocks.visit_block_mut(block);
}

/// Loops over `chunks_mut` as loops over the chunks' indices (`chunk_loop`).
/// After `iter_mut`'s loops are index loops: `for v in row.iter_mut()`
/// inside is then `row[i]`.
pub fn chunk_loops_by_index(block: &mut syn::Block) {
    struct Loops;
    impl VisitMut for Loops {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            syn::visit_mut::visit_expr_mut(self, expr);
            if let Expr::ForLoop(for_loop) = expr {
                if let Some(by_index) = chunk_loop(for_loop) {
                    *for_loop = by_index;
                }
            }
        }
    }
    Loops.visit_block_mut(block);
}

/// `for row in x.chunks_mut(d) { .. }` (or `for (i, row) in
/// x.chunks_mut(d).enumerate()`, `chunks_exact_mut`) as a loop over the
/// chunks' indices, `row[j]` read and written as `x[i * d + j]`: the
/// chunks of a differentiated slice are views of it, and `&mut` views
/// bound to a name are not (the loop over `chunks` keeps its views). Also
/// chunks zipped with a list's `iter_mut()`, as a matrix-vector product
/// is written, `for (row, yi) in m.chunks_exact(n).zip(y.iter_mut()) {
/// *yi = .. }` (either side first, any kind of chunks): `*yi` is `y[i]`.
fn chunk_loop(for_loop: &syn::ExprForLoop) -> Option<syn::ExprForLoop> {
    let looped = ChunkIteration::of(for_loop)?;
    // The chunk read as element `index` of a list of the chunks, which
    // `Uses` reads as the source's parts; a name no one writes stands for
    // the list (none in the body), and `Uses` leaves none of it behind.
    let taken = crate::emit::names::identifiers(for_loop.body.to_token_stream());
    let name = (1..)
        .map(|k| format!("chunks_{k}"))
        .find(|name| !taken.contains(name))?;
    let name = syn::Ident::new(&name, proc_macro2::Span::mixed_site());
    let list = ChunkList::of(name, looped.chunks)?;
    let index = match &looped.index {
        Some(index) => index.clone(),
        None => {
            let name = format!("{}_index", looped.chunk);
            if taken.contains(&name) {
                return None;
            }
            syn::Ident::new(&name, looped.chunk.span())
        }
    };
    let chunk = &looped.chunk;
    let mut body = for_loop.body.clone();
    let list_name = &list.name;
    let element: Expr = syn::parse_quote_spanned!(chunk.span()=> #list_name[#index]);
    crate::desugar::NameAs {
        name: chunk,
        value: &element,
    }
    .visit_block_mut(&mut body);
    let mut uses = Uses {
        list: &list,
        declined: false,
    };
    uses.visit_block_mut(&mut body);
    let mut count = list.count(for_loop.expr.span());
    let mut item_kept = false;
    if let Some((item, written)) = &looped.zipped {
        let place: Expr = syn::parse_quote_spanned!(item.span()=> #written[#index]);
        let mut derefs = DerefsAsPlace {
            name: item,
            place: &place,
            declined: false,
        };
        derefs.visit_block_mut(&mut body);
        item_kept = derefs.declined
            || crate::desugar::rebound_inside(&for_loop.body, item)
            || crate::desugar::mentioned_in_macro(&for_loop.body, item)
            || crate::desugar::rebound_inside(&body, written)
            || assigned_whole(&body, written);
        let chunks = factor(&count);
        count = syn::parse_quote_spanned!(count.span()=> #chunks.min(#written.len()));
    }
    let unchanged = list.stays_put(&body.stmts);
    // (A `&mut` chunk only by element; a shared one is a view anywhere.)
    let chunk_kept = crate::desugar::rebound_inside(&for_loop.body, chunk)
        || crate::desugar::mentioned_in_macro(&for_loop.body, chunk)
        || (list.mutable && !element_wise(&for_loop.body, chunk));
    if uses.declined || !unchanged || chunk_kept || item_kept {
        return None;
    }
    let mut by_index = for_loop.clone();
    *by_index.pat = syn::parse_quote!(#index);
    *by_index.expr = syn::parse_quote_spanned!(count.span()=> 0..#count);
    by_index.body = body;
    Some(by_index)
}

/// A `for` over a slice's chunks, taken apart: the chunks' call, the
/// chunk's name, the index's where enumerated, and a zipped `iter_mut()`'s
/// item and list.
struct ChunkIteration<'l> {
    chunks: &'l syn::ExprMethodCall,
    chunk: syn::Ident,
    index: Option<syn::Ident>,
    zipped: Option<(syn::Ident, syn::Ident)>,
}

impl<'l> ChunkIteration<'l> {
    fn of(for_loop: &'l syn::ExprForLoop) -> Option<ChunkIteration<'l>> {
        use crate::desugar::iterators::simple_name as plain;
        let pair = |pat: &syn::Pat| match pat {
            syn::Pat::Tuple(pair) if pair.elems.len() == 2 => {
                Some((plain(&pair.elems[0])?, plain(&pair.elems[1])?))
            }
            _ => None,
        };
        let mutable = ["chunks_mut", "chunks_exact_mut"];
        let expr = &*for_loop.expr;
        if let Some(enumerate) = crate::desugar::method_call(expr, &["enumerate"], 0) {
            let chunks = crate::desugar::method_call(&enumerate.receiver, &mutable, 1)?;
            let (index, chunk) = pair(&for_loop.pat)?;
            return Some(ChunkIteration {
                chunks,
                chunk,
                index: Some(index),
                zipped: None,
            });
        }
        if let Some(zip) = crate::desugar::method_call(expr, &["zip"], 1) {
            let (first, second) = pair(&for_loop.pat)?;
            let iter_mut = |e: &Expr| {
                let call = crate::desugar::method_call(e, &["iter_mut"], 0)?;
                match strip(&call.receiver) {
                    Expr::Path(list) => list.path.get_ident().cloned(),
                    _ => None,
                }
            };
            let (chunks, chunk, item, written) =
                match crate::desugar::method_call(&zip.receiver, &CHUNKS, 1) {
                    Some(chunks) => (chunks, first, second, iter_mut(&zip.args[0])?),
                    None => {
                        let written = iter_mut(&zip.receiver)?;
                        let chunks = crate::desugar::method_call(&zip.args[0], &CHUNKS, 1)?;
                        (chunks, second, first, written)
                    }
                };
            return Some(ChunkIteration {
                chunks,
                chunk,
                index: None,
                zipped: Some((item, written)),
            });
        }
        let chunks = crate::desugar::method_call(expr, &mutable, 1)?;
        let chunk = plain(&for_loop.pat)?;
        Some(ChunkIteration {
            chunks,
            index: Some(chunk.clone()),
            chunk,
            zipped: None,
        })
    }
}

/// `*name` written as `place` (`*yi` as `y[i]`); `declined` where `name` is
/// used otherwise.
struct DerefsAsPlace<'a> {
    name: &'a syn::Ident,
    place: &'a Expr,
    declined: bool,
}

impl VisitMut for DerefsAsPlace<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let named = |e: &Expr| matches!(strip(e), Expr::Path(p) if p.path.is_ident(self.name));
        match expr {
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) && named(&u.expr) => {
                *expr = self.place.clone();
            }
            Expr::Closure(closure) if crate::desugar::closure_binds(closure, self.name) => {}
            _ if named(expr) => self.declined = true,
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }
}

/// `let name = source.chunks(size).collect();`, read.
struct ChunkList {
    name: syn::Ident,
    source: syn::Ident,
    size: Expr,
    /// `chunks` (or `chunks_mut`), `chunks_exact` (or `chunks_exact_mut`).
    method: syn::Ident,
    exact: bool,
    mutable: bool,
}

/// The list a statement binds, if it is one `chunk_lists_as_views` reads.
fn chunk_list(stmt: &Stmt) -> Option<ChunkList> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    let (name, ty) = match &local.pat {
        syn::Pat::Ident(p) => (p, None),
        syn::Pat::Type(typed) => match &*typed.pat {
            syn::Pat::Ident(p) => (p, Some(&*typed.ty)),
            _ => return None,
        },
        _ => return None,
    };
    if name.by_ref.is_some() || name.subpat.is_some() || !ty.map_or(true, is_vec) {
        return None;
    }
    let init = local.init.as_ref()?;
    if init.diverge.is_some() {
        return None;
    }
    let collect = crate::desugar::method_call(&init.expr, &["collect"], 0)?;
    if let Some(turbofish) = &collect.turbofish {
        let vec = turbofish.args.len() == 1
            && matches!(&turbofish.args[0], syn::GenericArgument::Type(ty) if is_vec(ty));
        if !vec {
            return None;
        }
    }
    let chunks = crate::desugar::method_call(&collect.receiver, &CHUNKS, 1)?;
    ChunkList::of(name.ident.clone(), chunks)
}

/// The methods that cut a slice into chunks.
const CHUNKS: [&str; 4] = ["chunks", "chunks_exact", "chunks_mut", "chunks_exact_mut"];

/// The local a chunk size is read from: `n` of `n` or of `v.len()`.
fn size_name(size: &Expr) -> Option<&syn::Ident> {
    let named = match crate::desugar::method_call(size, &["len"], 0) {
        Some(len) => &len.receiver,
        None => size,
    };
    match strip(named) {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident(),
        _ => None,
    }
}

/// `Vec<..>`.
fn is_vec(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(path)
        if path.path.segments.last().is_some_and(|s| s.ident == "Vec"))
}

impl ChunkList {
    /// The list `name` of `source.chunks(size)` (any kind), where the source
    /// is a local and the size a number or a local (`n`, `v.len()`).
    fn of(name: syn::Ident, chunks: &syn::ExprMethodCall) -> Option<ChunkList> {
        let Expr::Path(source) = strip(&chunks.receiver) else {
            return None;
        };
        let size = &chunks.args[0];
        if crate::desugar::usize_literal(size).is_none() && size_name(size).is_none() {
            return None;
        }
        let method = chunks.method.to_string();
        Some(ChunkList {
            name,
            source: source.path.get_ident()?.clone(),
            size: size.clone(),
            method: chunks.method.clone(),
            exact: method.contains("exact"),
            mutable: method.ends_with("_mut"),
        })
    }

    /// Whether the source, the size and the list's name mean the same in
    /// every statement after the list (or in a loop's body): none of them
    /// bound again or assigned.
    fn stays_put(&self, rest: &[Stmt]) -> bool {
        let block = syn::Block {
            brace_token: Default::default(),
            stmts: rest.to_vec(),
        };
        let mut names = vec![&self.source, &self.name];
        names.extend(size_name(&self.size));
        names.iter().all(|name| {
            !crate::desugar::rebound_inside(&block, name) && !assigned_whole(&block, name)
        })
    }

    /// `source[i * size + j]`, element `j` of chunk `i`.
    fn element(&self, i: &Expr, j: &Expr) -> Expr {
        let source = &self.source;
        let index: Expr = match (self.start(i), crate::desugar::usize_literal(j)) {
            (None, _) => j.clone(),
            (Some(start), Some(0)) => start,
            (Some(start), _) => {
                let j = factor(j);
                syn::parse_quote_spanned!(j.span()=> #start + #j)
            }
        };
        syn::parse_quote_spanned!(i.span()=> #source[#index])
    }

    /// Where chunk `i` starts, `i * size` (`None`: at 0). Literals are
    /// multiplied out: `0 * n` and `1 * n` read as slips, and clippy says so
    /// at the user's tokens.
    fn start(&self, i: &Expr) -> Option<Expr> {
        let span = i.span();
        let size = factor(&self.size);
        let literal_size = crate::desugar::usize_literal(&self.size);
        match (crate::desugar::usize_literal(i), literal_size) {
            (Some(0), _) => None,
            (Some(1), _) => Some(size),
            (Some(i), Some(n)) => Some(literal(i * n, span)),
            (_, Some(1)) => Some(i.clone()),
            _ => {
                let i = factor(i);
                Some(syn::parse_quote_spanned!(span=> #i * #size))
            }
        }
    }

    /// `source[start..end]`, chunk `i` (a place: borrowed where used).
    fn chunk(&self, i: &Expr) -> Expr {
        let (source, size) = (&self.source, factor(&self.size));
        let span = i.span();
        let start = self.start(i);
        let end: Expr = match &start {
            Some(start) => syn::parse_quote_spanned!(span=> #start + #size),
            None => size,
        };
        let start = start.unwrap_or_else(|| literal(0, span));
        let end: Expr = match self.exact {
            true => end,
            false => {
                let end = factor(&end);
                syn::parse_quote_spanned!(span=> #end.min(#source.len()))
            }
        };
        syn::parse_quote_spanned!(span=> #source[#start..#end])
    }

    /// `&source[..]` or `&mut source[..]`, chunk `i` as a value.
    fn borrowed_chunk(&self, i: &Expr) -> Expr {
        let chunk = self.chunk(i);
        match self.mutable {
            true => syn::parse_quote_spanned!(i.span()=> &mut #chunk),
            false => syn::parse_quote_spanned!(i.span()=> &#chunk),
        }
    }

    /// The number of chunks.
    fn count(&self, span: proc_macro2::Span) -> Expr {
        let (source, size) = (&self.source, &self.size);
        match self.exact {
            true => syn::parse_quote_spanned!(span=> #source.len() / #size),
            false => syn::parse_quote_spanned!(span=> #source.len().div_ceil(#size)),
        }
    }

    /// `source.chunks(size)`, the chunks again.
    fn chunks(&self, span: proc_macro2::Span) -> Expr {
        let (source, size, method) = (&self.source, &self.size, &self.method);
        syn::parse_quote_spanned!(span=> #source.#method(#size))
    }

    fn is_list(&self, expr: &Expr) -> bool {
        matches!(strip(expr), Expr::Path(path) if path.qself.is_none() && path.path.is_ident(&self.name))
    }

    /// `list[i]`: the index.
    fn indexed<'e>(&self, expr: &'e Expr) -> Option<&'e Expr> {
        match strip(expr) {
            Expr::Index(index) if self.is_list(&index.expr) => Some(&index.index),
            _ => None,
        }
    }
}

/// Whether a chunk is used only by element (`row[j]`, read or written),
/// measured (`row.len()`, `row.is_empty()`) or read in a chain
/// (`row.iter()`): what a part of the source is differentiated as. (A
/// chunk used otherwise, `row.fill(k)`, keeps the loop and its message.)
fn element_wise(body: &syn::Block, chunk: &syn::Ident) -> bool {
    struct Uses<'n>(&'n syn::Ident, bool);
    impl<'ast> Visit<'ast> for Uses<'_> {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            let named = |e: &Expr| matches!(strip(e), Expr::Path(p) if p.path.is_ident(self.0));
            match expr {
                Expr::Index(index) if named(&index.expr) => self.visit_expr(&index.index),
                Expr::MethodCall(call)
                    if named(&call.receiver)
                        && call.args.is_empty()
                        && ["len", "is_empty", "iter"].iter().any(|m| call.method == m) => {}
                Expr::Closure(closure) if crate::desugar::closure_binds(closure, self.0) => {}
                _ if named(expr) => self.1 = false,
                _ => syn::visit::visit_expr(self, expr),
            }
        }
    }
    let mut uses = Uses(chunk, true);
    uses.visit_block(body);
    uses.1
}

/// `expr`, in parentheses unless it is one operand already.
fn factor(expr: &Expr) -> Expr {
    match strip(expr) {
        Expr::Path(_)
        | Expr::Lit(_)
        | Expr::MethodCall(_)
        | Expr::Call(_)
        | Expr::Index(_)
        | Expr::Field(_)
        | Expr::Paren(_) => expr.clone(),
        _ => syn::parse_quote_spanned!(expr.span()=> (#expr)),
    }
}

fn literal(value: usize, span: proc_macro2::Span) -> Expr {
    let literal = syn::LitInt::new(&value.to_string(), span);
    syn::parse_quote_spanned!(span=> #literal)
}

/// Whether `name` is assigned whole (`name = ..`, `name += ..`) in `block`.
fn assigned_whole(block: &syn::Block, name: &syn::Ident) -> bool {
    struct Finds<'n>(&'n syn::Ident, bool);
    impl<'ast> Visit<'ast> for Finds<'_> {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            let target = match expr {
                Expr::Assign(assign) => Some(&*assign.left),
                Expr::Binary(binary) if crate::desugar::is_compound_assignment(&binary.op) => {
                    Some(&*binary.left)
                }
                _ => None,
            };
            self.1 |= target
                .is_some_and(|t| matches!(strip(t), Expr::Path(p) if p.path.is_ident(self.0)));
            syn::visit::visit_expr(self, expr);
        }
    }
    let mut finds = Finds(name, false);
    finds.visit_block(block);
    finds.1
}

/// Every use of the list rewritten as the parts of its source, or
/// `declined` where one is used another way.
struct Uses<'l> {
    list: &'l ChunkList,
    declined: bool,
}

impl Uses<'_> {
    /// The index `i` of `list[i]`, its own uses rewritten; `None` (and the
    /// list declined) where computing it twice, for the chunk's start and
    /// end, could differ from computing it once.
    fn chunk_index(&mut self, indexed: &Expr) -> Option<Expr> {
        let i = self.list.indexed(indexed)?;
        if !crate::desugar::repeatable(i) {
            self.declined = true;
            return None;
        }
        let mut i = i.clone();
        self.visit_expr_mut(&mut i);
        Some(i)
    }
}

impl VisitMut for Uses<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let list = self.list;
        // `list[i][j]`: the element.
        if let Expr::Index(outer) = strip(expr) {
            if let Some(i) = list.indexed(&outer.expr) {
                let (mut i, mut j) = (i.clone(), (*outer.index).clone());
                self.visit_expr_mut(&mut i);
                self.visit_expr_mut(&mut j);
                *expr = list.element(&i, &j);
                return;
            }
        }
        match expr {
            // `list[i] = &other[..];`: the list changed.
            Expr::Assign(assign) if list.indexed(&assign.left).is_some() => self.declined = true,
            // `list[i].iter()`, `list[i].len()`: the chunk, borrowed by the
            // method as the list's element was.
            Expr::MethodCall(call) if list.indexed(&call.receiver).is_some() => {
                if let Some(i) = self.chunk_index(&call.receiver) {
                    *call.receiver = list.chunk(&i);
                    for arg in &mut call.args {
                        self.visit_expr_mut(arg);
                    }
                }
            }
            // `list.len()`, `list.iter()`, `list.iter_mut()`.
            Expr::MethodCall(call) if list.is_list(&call.receiver) && call.args.is_empty() => {
                let span = call.span();
                match call.method.to_string().as_str() {
                    "len" => *expr = list.count(span),
                    "iter" | "into_iter" if !list.mutable => *expr = list.chunks(span),
                    "iter_mut" | "into_iter" if list.mutable => *expr = list.chunks(span),
                    _ => self.declined = true,
                }
            }
            // `&list[i]` (a `&&[f64]`, coerced where passed): the chunk
            // borrowed once, as the reference borrows.
            Expr::Reference(reference) if list.indexed(&reference.expr).is_some() => {
                if let Some(i) = self.chunk_index(&reference.expr) {
                    let chunk = list.chunk(&i);
                    *expr = match reference.mutability {
                        Some(_) => syn::parse_quote_spanned!(i.span()=> &mut #chunk),
                        None => syn::parse_quote_spanned!(i.span()=> &#chunk),
                    };
                }
            }
            // `list[i]` as a value: the chunk borrowed.
            Expr::Index(index) if list.is_list(&index.expr) => {
                if let Some(i) = self.chunk_index(expr) {
                    *expr = list.borrowed_chunk(&i);
                }
            }
            // `for row in &list` / `for row in list`.
            Expr::ForLoop(for_loop) => {
                let looped = match strip(&for_loop.expr) {
                    Expr::Reference(r) => list.is_list(&r.expr),
                    other => list.is_list(other),
                };
                if looped {
                    *for_loop.expr = list.chunks(for_loop.expr.span());
                }
                syn::visit_mut::visit_expr_for_loop_mut(self, for_loop);
            }
            Expr::Closure(closure) if crate::desugar::closure_binds(closure, &list.name) => {}
            // Any other use of the name: left as it was written.
            Expr::Path(path) if path.path.is_ident(&list.name) => self.declined = true,
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        self.declined |= crate::desugar::macro_mentions(mac, &self.list.name);
    }
}

#[cfg(test)]
mod tests {
    use super::chunk_lists_as_views;
    use quote::ToTokens;

    fn same(mut block: syn::Block, expected: syn::Block) {
        chunk_lists_as_views(&mut block);
        super::chunk_loops_by_index(&mut block);
        assert_eq!(
            block.to_token_stream().to_string(),
            expected.to_token_stream().to_string()
        );
    }

    #[test]
    fn elements_chunks_counts_and_loops_read_the_source() {
        same(
            syn::parse_quote!({
                let atoms: Vec<&[f64]> = pos.chunks(3).collect();
                for i in 0..atoms.len() {
                    e += atoms[i][1] * atoms[i].iter().sum::<f64>() + f(atoms[i]);
                    g(&atoms[0]);
                }
                for a in &atoms {
                    e += a[0];
                }
            }),
            syn::parse_quote!({
                for i in 0..pos.len().div_ceil(3) {
                    e += pos[i * 3 + 1]
                        * pos[i * 3..(i * 3 + 3).min(pos.len())].iter().sum::<f64>()
                        + f(&pos[i * 3..(i * 3 + 3).min(pos.len())]);
                    g(&pos[0..3.min(pos.len())]);
                }
                for a in pos.chunks(3) {
                    e += a[0];
                }
            }),
        );
    }

    #[test]
    fn exact_and_mutable_chunks_keep_their_kind() {
        same(
            syn::parse_quote!({
                let mut rows = out.chunks_exact_mut(n).collect::<Vec<_>>();
                rows[0][1] = 2.0;
                g(rows[1], rows.len());
                rows[k + 1][j - 1] = rows[2][0];
            }),
            syn::parse_quote!({
                out[1] = 2.0;
                g(&mut out[n..n + n], out.len() / n);
                out[(k + 1) * n + (j - 1)] = out[2 * n];
            }),
        );
    }

    #[test]
    fn loops_over_mutable_chunks_run_over_their_indices() {
        same(
            syn::parse_quote!({
                for row in out.chunks_mut(2) {
                    row[0] *= k;
                    row[1] = row[0] + row.len() as f64;
                }
                for (i, row) in out.chunks_exact_mut(n).enumerate() {
                    row[i] = 0.0;
                }
            }),
            syn::parse_quote!({
                for row in 0..out.len().div_ceil(2) {
                    out[row * 2] *= k;
                    out[row * 2 + 1] =
                        out[row * 2] + out[row * 2..(row * 2 + 2).min(out.len())].len() as f64;
                }
                for i in 0..out.len() / n {
                    out[i * n + i] = 0.0;
                }
            }),
        );
        // A chunk used whole, or named in a macro's tokens, keeps the loop.
        let kept: [syn::Block; 2] = [
            syn::parse_quote!({
                for row in out.chunks_mut(2) {
                    row.fill(0.0);
                }
            }),
            syn::parse_quote!({
                for row in out.chunks_mut(2) {
                    println!("{row:?}");
                }
            }),
        ];
        for block in kept {
            same(block.clone(), block);
        }
    }

    #[test]
    fn chunks_zipped_with_a_lists_iter_mut_run_over_their_indices() {
        same(
            syn::parse_quote!({
                for (row, yi) in m.chunks_exact(n).zip(y.iter_mut()) {
                    *yi = row[0] * f(row);
                }
                for (zi, row) in z.iter_mut().zip(m.chunks(2)) {
                    *zi += row[1];
                }
            }),
            syn::parse_quote!({
                for row_index in 0..(m.len() / n).min(y.len()) {
                    y[row_index] = m[row_index * n] * f(&m[row_index * n..row_index * n + n]);
                }
                for row_index in 0..m.len().div_ceil(2).min(z.len()) {
                    z[row_index] += m[row_index * 2 + 1];
                }
            }),
        );
        // The item used as a reference (passed on) keeps the loop.
        let kept: syn::Block = syn::parse_quote!({
            for (row, yi) in m.chunks(2).zip(y.iter_mut()) {
                g(yi, row);
            }
        });
        same(kept.clone(), kept);
    }

    #[test]
    fn other_uses_and_changing_sizes_leave_the_list() {
        let kept: [syn::Block; 3] = [
            syn::parse_quote!({
                let rows: Vec<&[f64]> = m.chunks(2).collect();
                h(&rows);
            }),
            syn::parse_quote!({
                let rows: Vec<&[f64]> = m.chunks(k).collect();
                k += 1;
                s += rows[0][0];
            }),
            syn::parse_quote!({
                let rows: Vec<&[f64]> = m.chunks(2).collect();
                s += f(rows[{
                    k += 1;
                    k
                }]);
            }),
        ];
        for block in kept {
            same(block.clone(), block);
        }
    }
}
