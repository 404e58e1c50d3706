//! `h.copy_from_slice(&next)` and `h[a..b].copy_from_slice(&x[c..d])`, as
//! clippy asks a copying loop to be written, are the loops they stand for,
//! `for k in 0..h.len() { h[k] = next[k]; }`, so each element's write is a
//! write like any other. (Rust panics when the lengths differ; the loop
//! copies as many elements as the destination holds.)

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use quote::{quote, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn copies_as_loops(block: &mut syn::Block) {
    Rewriter.visit_block_mut(block);
}

struct Rewriter;

impl VisitMut for Rewriter {
    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        syn::visit_mut::visit_stmt_mut(self, stmt);
        let Stmt::Expr(Expr::MethodCall(call), Some(_)) = stmt else {
            return;
        };
        if call.method != "copy_from_slice" || call.args.len() != 1 {
            return;
        }
        let (Some(into), Some(from)) = (part(&call.receiver), part(&call.args[0])) else {
            return;
        };
        let mut names = Names::avoiding(identifiers(stmt.to_token_stream()));
        let k = names.fresh("k");
        let (array, start) = (&into.array, &into.start);
        let len = match (&into.start, &into.end) {
            (Some(start), Some(end)) => quote!((#end) - (#start)),
            (None, Some(end)) => quote!(#end),
            (Some(start), None) => quote!(#array.len() - (#start)),
            (None, None) => quote!(#array.len()),
        };
        let at = |start: &Option<Expr>| match start {
            Some(start) => quote!((#start) + #k),
            None => quote!(#k),
        };
        let (into_at, from_at) = (at(start), at(&from.start));
        let source = &from.array;
        *stmt = syn::parse_quote! {
            for #k in 0..#len {
                #array[#into_at] = #source[#from_at];
            }
        };
    }
}

/// `name`, `&name`, `name[a..b]`, `&name[a..]`, `&mut name[..b]`: the array
/// and the range's ends.
struct Part {
    array: syn::Ident,
    start: Option<Expr>,
    end: Option<Expr>,
}

fn part(expr: &Expr) -> Option<Part> {
    let mut at = strip(expr);
    if let Expr::Reference(r) = at {
        at = strip(&r.expr);
    }
    let name = |e: &Expr| match strip(e) {
        Expr::Path(p) => p.path.get_ident().cloned(),
        _ => None,
    };
    match at {
        Expr::Index(index) => {
            let Expr::Range(range) = strip(&index.index) else {
                return None;
            };
            let end = range.end.as_deref().cloned().map(|end| match range.limits {
                syn::RangeLimits::Closed(_) => syn::parse_quote!((#end) + 1),
                syn::RangeLimits::HalfOpen(_) => end,
            });
            Some(Part {
                array: name(&index.expr)?,
                start: range.start.as_deref().cloned(),
                end,
            })
        }
        other => Some(Part {
            array: name(other)?,
            start: None,
            end: None,
        }),
    }
}
