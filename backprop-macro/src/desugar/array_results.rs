//! A function returning an array of a literal length, `-> [f64; 3]`, ends
//! with an array expression, one output per element, which the lowering
//! differentiates one by one. The ways users end such a function are
//! rewritten into that form:
//!
//! - a local array by its name (`let mut out = [0.0; 3]; ..; out`, or a
//!   final `return out;`): its elements, `[out[0], out[1], out[2]]`;
//! - a repeat, `[0.0; 3]`: `[0.0, 0.0, 0.0]`;
//! - a map of an array, `a.map(|v| v * v)`: `[{ let v = a[0]; v * v }, ..]`;
//! - a branch ending in either, as an early return becomes (`if n < eps {
//!   return [0.0; 3]; } .. r`, `returns`): one variable per element, set at
//!   the end of each arm, and the array of them after the branch.
//!
//! A function returning a tuple that ends with a branch (`if` or `match`,
//! also as an early return becomes) ends with the tuple of its elements
//! instead: an `if` whose arms end in tuple expressions sets one variable
//! per element at the end of each arm, as for an array; otherwise the
//! branch is bound, `let (f_0, f_1) = match .. { .. }; (f_0, f_1)`, a tuple
//! pattern the lowering splits element by element.

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use quote::ToTokens;
use syn::{Expr, Stmt};

/// Rewrites the tail (and a final `return`) of `function` where its result
/// is `[T; N]` with `N` a literal.
pub fn locals_returned_as_elements(function: &mut syn::ItemFn, floats: &crate::ir::Floats) {
    let Some((length, element)) = literal_array(&function.sig.output) else {
        return;
    };
    let tail = match function.block.stmts.last() {
        Some(Stmt::Expr(expr, None)) => strip(expr).clone(),
        Some(Stmt::Expr(Expr::Return(ret), Some(_))) => match &ret.expr {
            Some(expr) => strip(expr).clone(),
            None => return,
        },
        _ => return,
    };
    if let Some(elements) = elements(&tail, length) {
        function.block.stmts.pop();
        function
            .block
            .stmts
            .push(Stmt::Expr(syn::parse_quote!([#(#elements),*]), None));
        return;
    }
    let Expr::If(branch) = &tail else {
        return;
    };
    let outputs = output_names(function, length);
    let (Some(assigned), Some(float)) = (
        assigned_in_arms(branch, &outputs, length, elements),
        floats.of_type(&element),
    ) else {
        return;
    };
    let stmts = &mut function.block.stmts;
    stmts.pop();
    set_in_arms(stmts, &outputs, &float.zero(), assigned);
    stmts.push(Stmt::Expr(syn::parse_quote!([#(#outputs),*]), None));
}

/// A branch at the tail of a function returning a tuple: an `if` (also as
/// an early return becomes) sets one local per element at the end of each
/// arm, as for an array; a `match` is bound to one local per element (the
/// lowering splits it element by element). The function then returns the
/// tuple of the locals.
pub fn tuple_branches_bound(function: &mut syn::ItemFn, floats: &crate::ir::Floats) {
    let syn::ReturnType::Type(_, ty) = &function.sig.output else {
        return;
    };
    let syn::Type::Tuple(tuple) = &**ty else {
        return;
    };
    let (length, element) = match tuple.elems.first() {
        Some(element) if tuple.elems.len() >= 2 => (tuple.elems.len(), element.clone()),
        _ => return,
    };
    let Some(Stmt::Expr(tail, None)) = function.block.stmts.last() else {
        return;
    };
    let tail = strip(tail).clone();
    if !matches!(tail, Expr::If(_) | Expr::Match(_)) {
        return;
    }
    let outputs = output_names(function, length);
    let assigned = match (&tail, floats.of_type(&element)) {
        (Expr::If(branch), Some(float)) => {
            assigned_in_arms(branch, &outputs, length, tuple_elements)
                .map(|branch| (branch, float.zero()))
        }
        _ => None,
    };
    let stmts = &mut function.block.stmts;
    stmts.pop();
    match assigned {
        Some((branch, zero)) => set_in_arms(stmts, &outputs, &zero, branch),
        None => stmts.push(syn::parse_quote!(let (#(#outputs),*) = #tail;)),
    }
    stmts.push(Stmt::Expr(syn::parse_quote!((#(#outputs),*)), None));
}

/// One local per output, `f_0`, `f_1`, .., apart from the function's names.
fn output_names(function: &syn::ItemFn, length: usize) -> Vec<syn::Ident> {
    let mut names = Names::avoiding(identifiers(function.to_token_stream()));
    (0..length)
        .map(|k| names.fresh(&format!("{}_{k}", function.sig.ident)))
        .collect()
}

/// A tail branch whose arms set `outputs` (`assigned_in_arms`): each output
/// declared `zero` first, then the branch.
fn set_in_arms(
    stmts: &mut Vec<Stmt>,
    outputs: &[syn::Ident],
    zero: &proc_macro2::TokenStream,
    branch: syn::ExprIf,
) {
    for output in outputs {
        stmts.push(syn::parse_quote!(let mut #output = #zero;));
    }
    stmts.push(Stmt::Expr(Expr::If(branch), None));
}

/// The elements of a tuple expression of `length` elements, an arm's end in
/// a function returning a tuple.
fn tuple_elements(expr: &Expr, length: usize) -> Option<Vec<Expr>> {
    match strip(expr) {
        Expr::Tuple(tuple) if tuple.elems.len() == length => {
            Some(tuple.elems.iter().cloned().collect())
        }
        _ => None,
    }
}

/// The elements of an array-valued tail: `out` -> `out[0], ..`; `[a, b]`;
/// `[v; N]` -> `v, v, ..` (`v` a constant, written once per element).
fn elements(expr: &Expr, length: usize) -> Option<Vec<Expr>> {
    match strip(expr) {
        Expr::Path(path) if path.qself.is_none() => {
            let name = path.path.get_ident()?;
            Some(
                (0..length)
                    .map(|k| {
                        let k = syn::Index::from(k);
                        syn::parse_quote_spanned!(name.span()=> #name[#k])
                    })
                    .collect(),
            )
        }
        Expr::Array(array) if array.elems.len() == length => {
            Some(array.elems.iter().cloned().collect())
        }
        // `a.map(|v| v * v)` of an array named by a path: the closure's body
        // per element, `{ let v = a[0]; v * v }` (or `f64::sqrt(a[0])` for a
        // function named).
        Expr::MethodCall(call)
            if call.method == "map"
                && call.args.len() == 1
                && matches!(strip(&call.receiver), Expr::Path(p) if p.path.get_ident().is_some()) =>
        {
            mapped_elements(call, length)
        }
        Expr::Repeat(repeat)
            if constant(&repeat.expr) && matches!(strip(&repeat.len), Expr::Lit(_)) =>
        {
            Some(vec![(*repeat.expr).clone(); length])
        }
        _ => None,
    }
}

/// The branch with each arm ending in assignments of its elements to
/// `outputs` instead of its array; `None` where an arm ends otherwise.
fn assigned_in_arms(
    branch: &syn::ExprIf,
    outputs: &[syn::Ident],
    length: usize,
    each: Elements,
) -> Option<syn::ExprIf> {
    let mut branch = branch.clone();
    assign_at_end(&mut branch.then_branch, outputs, length, each)?;
    let (_, otherwise) = branch.else_branch.as_mut()?;
    match &mut **otherwise {
        Expr::Block(block) if block.label.is_none() => {
            assign_at_end(&mut block.block, outputs, length, each)?
        }
        Expr::If(inner) => *inner = assigned_in_arms(inner, outputs, length, each)?,
        _ => return None,
    }
    Some(branch)
}

/// How an arm's end is read as elements: an array's (`elements`) or a
/// tuple's (`tuple_elements`).
type Elements = fn(&Expr, usize) -> Option<Vec<Expr>>;

fn assign_at_end(
    block: &mut syn::Block,
    outputs: &[syn::Ident],
    length: usize,
    each: Elements,
) -> Option<()> {
    let Some(Stmt::Expr(tail, None)) = block.stmts.last() else {
        return None;
    };
    let assignments: Vec<Stmt> = match strip(tail) {
        Expr::If(inner) => {
            let inner = assigned_in_arms(inner, outputs, length, each)?;
            vec![Stmt::Expr(Expr::If(inner), None)]
        }
        other => each(other, length)?
            .into_iter()
            .zip(outputs)
            .map(|(element, output)| syn::parse_quote!(#output = #element;))
            .collect(),
    };
    block.stmts.pop();
    block.stmts.extend(assignments);
    Some(())
}

/// What a repeat may copy by writing it again: a literal, a name, or a
/// call of a path without arguments (`T::zero()`), negated or not.
fn constant(expr: &Expr) -> bool {
    match strip(expr) {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Call(call) => call.args.is_empty() && matches!(strip(&call.func), Expr::Path(_)),
        Expr::Unary(unary) => matches!(unary.op, syn::UnOp::Neg(_)) && constant(&unary.expr),
        _ => false,
    }
}

/// `-> [T; 3]`: 3, and `T`.
fn literal_array(output: &syn::ReturnType) -> Option<(usize, syn::Type)> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let syn::Type::Array(array) = &**ty else {
        return None;
    };
    Some((super::usize_literal(&array.len)?, (*array.elem).clone()))
}

/// `a.map(|v| body)` of an array of `length` elements named by a path: the
/// body per element, `{ let v = a[0]; body }` (or `f(a[0])` for a function
/// named, `a.map(f64::sqrt)`).
fn mapped_elements(call: &syn::ExprMethodCall, length: usize) -> Option<Vec<Expr>> {
    let array = &call.receiver;
    let per_element = |k: usize| -> Option<Expr> {
        let k = syn::Index::from(k);
        match strip(&call.args[0]) {
            Expr::Closure(closure) if closure.inputs.len() == 1 => {
                let (param, body) = (&closure.inputs[0], &closure.body);
                // (`(#body)`: a body `{ .. } + 1.0` would end at its block.)
                Some(syn::parse_quote!({ let #param = #array[#k]; (#body) }))
            }
            Expr::Path(function) => Some(syn::parse_quote!(#function(#array[#k]))),
            _ => None,
        }
    };
    (0..length).map(per_element).collect()
}

/// Every `a.map(..)` in the body, of an array whose length the function
/// shows (a parameter `a: [T; 3]` or `&[T; 3]`, a local bound once to an
/// array literal, a repeat `[0.0; 3]` or with its type `[T; 3]`), as the
/// array of its elements mapped (`mapped_elements`): differentiated element
/// by element, where the method on a differentiated array was refused.
pub fn array_maps_as_elements(function: &mut syn::ItemFn) {
    use syn::visit::Visit;
    use syn::visit_mut::VisitMut;
    let mut lengths: std::collections::BTreeMap<syn::Ident, usize> =
        std::collections::BTreeMap::new();
    for input in &function.sig.inputs {
        if let syn::FnArg::Typed(typed) = input {
            if let (syn::Pat::Ident(p), Some(n)) = (&*typed.pat, fixed_length(&typed.ty)) {
                lengths.insert(p.ident.clone(), n);
            }
        }
    }
    struct Locals<'l>(&'l mut std::collections::BTreeMap<syn::Ident, usize>);
    impl<'ast> Visit<'ast> for Locals<'_> {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            let (ident, ty) = match &local.pat {
                syn::Pat::Ident(p) => (&p.ident, None),
                syn::Pat::Type(typed) => match &*typed.pat {
                    syn::Pat::Ident(p) => (&p.ident, Some(&*typed.ty)),
                    _ => return syn::visit::visit_local(self, local),
                },
                _ => return syn::visit::visit_local(self, local),
            };
            let from_value = local
                .init
                .as_ref()
                .and_then(|init| match strip(&init.expr) {
                    Expr::Array(array) => Some(array.elems.len()),
                    Expr::Repeat(repeat) => super::usize_literal(&repeat.len),
                    _ => None,
                });
            if let Some(n) = ty.and_then(fixed_length).or(from_value) {
                self.0.insert(ident.clone(), n);
            }
            syn::visit::visit_local(self, local);
        }
    }
    Locals(&mut lengths).visit_block(&function.block);
    // A name bound more than once may be another array, or none.
    lengths.retain(|name, _| {
        let parameter = function.sig.inputs.iter().any(|input| {
            matches!(input, syn::FnArg::Typed(t) if matches!(&*t.pat, syn::Pat::Ident(p) if p.ident == *name))
        });
        match parameter {
            true => !crate::desugar::rebound_inside(&function.block, name),
            false => super::bound_once(&function.block, name),
        }
    });
    if lengths.is_empty() {
        return;
    }
    struct Maps<'l>(&'l std::collections::BTreeMap<syn::Ident, usize>);
    impl VisitMut for Maps<'_> {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            syn::visit_mut::visit_expr_mut(self, expr);
            let Expr::MethodCall(call) = expr else {
                return;
            };
            if call.method != "map" || call.args.len() != 1 {
                return;
            }
            let Expr::Path(path) = strip(&call.receiver) else {
                return;
            };
            let Some(length) = path.path.get_ident().and_then(|name| self.0.get(name)) else {
                return;
            };
            if let Some(elements) = mapped_elements(call, *length) {
                *expr = syn::parse_quote!([#(#elements),*]);
            }
        }
    }
    Maps(&lengths).visit_block_mut(&mut function.block);
}

/// `[T; 3]` or `&[T; 3]`: 3.
fn fixed_length(ty: &syn::Type) -> Option<usize> {
    match ty {
        syn::Type::Reference(r) => fixed_length(&r.elem),
        syn::Type::Array(array) => super::usize_literal(&array.len),
        _ => None,
    }
}
