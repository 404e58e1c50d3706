//! Statements and blocks: the function body, `let`-free statements, blocks
//! with a value, and the statements kept as written (prints, assertions).

use super::calls::has_mut_argument;
use super::exits::{has_early_return, may_exit};
use super::expressions::unsupported;
use super::scopes::{Binding, Key};
use super::{key, span_of, strip_parens, Header, Lowerer, Tail};
use crate::ir::{Constant, FloatTy, Hint, Node, NodeKind, Operand, Operator};
use crate::valid;
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use syn::{Expr, Stmt};

impl<'a> Lowerer<'a> {
    /// The function's body. With an early `return`, the result is the returned
    /// value if the return flag is set, else the body's final value.
    pub(super) fn function_body(&mut self, block: &syn::Block) -> Operand {
        if !has_early_return(block) {
            return self
                .block(block, Tail::Value)
                .unwrap_or_else(|| self.dummy());
        }
        self.declare_flag(Key::Returned, "returned");
        let zero = self.ret.zero();
        let initial = self.push(
            Node::new(
                Hint::Op("result".into()),
                NodeKind::Inactive {
                    expr: syn::parse_quote!(#zero),
                    locals: Vec::new(),
                },
                Span::call_site(),
            )
            .typed(Some(self.ret.to_type())),
        );
        self.declare_key(Key::ReturnValue, Binding::Node(initial));
        self.returns = true;
        let value = self
            .block(block, Tail::Value)
            .unwrap_or_else(|| self.dummy());
        let returned = self
            .lookup(&Key::Returned)
            .map_or_else(|| self.dummy(), Operand::Node);
        let early = self
            .lookup(&Key::ReturnValue)
            .map_or_else(|| self.dummy(), Operand::Node);
        self.branch_with(
            returned,
            true,
            block.brace_token.span.close(),
            &mut |_| Some(early.clone()),
            Some(&mut |_| Some(value.clone())),
        )
    }

    /// The body of a function returning a tuple or an array: its last expression
    /// is a tuple or array expression, one output per element.
    pub(super) fn several_outputs(&mut self, block: &syn::Block, fn_name: &Ident) -> Vec<Operand> {
        if has_early_return(block) {
            self.errors.push(syn::Error::new(
                block.brace_token.span.open(),
                "`return` before the end is not supported in a function with several outputs; end with the tuple or array",
            ));
            return Vec::new();
        }
        let (last, rest) = match block.stmts.split_last() {
            Some((Stmt::Expr(expr, None), rest)) => (strip_parens(expr), rest),
            _ => {
                self.errors.push(syn::Error::new(
                    block.brace_token.span.close(),
                    "a function with several outputs must end with a tuple `(a, b)` or an array `[a, b]` expression",
                ));
                return Vec::new();
            }
        };
        self.scopes.push(Vec::new());
        self.stmts(rest, Tail::Unit, block.brace_token.span.close());
        let elements: Vec<&Expr> = match last {
            Expr::Tuple(tuple) => tuple.elems.iter().collect(),
            Expr::Array(array) => array.elems.iter().collect(),
            // `out` with `-> [f64; N]`, `N` a constant: `desugar/array_results`
            // names the elements only for a literal length.
            other @ Expr::Path(_) => {
                self.errors.spanned(
                    other,
                    "a function with several outputs ends with a tuple `(a, b)` or an array `[a, b]` expression; an array returned by its name needs the length written as a literal in the return type (`-> [f64; 3]`), or end with its elements (`[out[0], out[1], out[2]]`)",
                );
                Vec::new()
            }
            other => {
                self.errors.spanned(
                    other,
                    "a function with several outputs must end with a tuple `(a, b)` or an array `[a, b]` expression",
                );
                Vec::new()
            }
        };
        let outputs = elements
            .into_iter()
            .enumerate()
            .map(|(k, element)| {
                let mark = self.nodes.len();
                let output = self.expr(element);
                if let Operand::Node(id) = output {
                    if id >= mark && self.nodes[id].is_unnamed_intermediate() {
                        self.nodes[id].hint = Hint::Op(format!("{}_{k}", key(fn_name)));
                    }
                }
                output
            })
            .collect();
        self.scopes.pop();
        outputs
    }

    /// Lowers a block, in a scope of its own, into the current region; returns its
    /// value.
    pub(super) fn block(&mut self, block: &syn::Block, tail: Tail) -> Option<Operand> {
        self.scopes.push(Vec::new());
        let result = self.stmts(&block.stmts, tail, block.brace_token.span.close());
        self.scopes.pop();
        result
    }

    pub(super) fn stmts(&mut self, stmts: &[Stmt], tail: Tail, close: Span) -> Option<Operand> {
        let mut result = None;
        for (i, stmt) in stmts.iter().enumerate() {
            // `x.split_at(k)` as the two parts it binds, then each named part
            // of a differentiated array (`let c = &x[a..b];`) read through
            // its parent by the statements after it.
            if let Some(mut parts) = self.split_at_lets(stmt) {
                parts.extend_from_slice(&stmts[i + 1..]);
                return self.stmts(&parts, tail, close);
            }
            if let Some(rest) = self.view_of_part(stmt, &stmts[i + 1..]) {
                return self.stmts(&rest, tail, close);
            }
            let last = i + 1 == stmts.len();
            // Parts of differentiated arrays it takes (`&x[a..b]`) are copied
            // first, and those taken by `&mut` are written back after it.
            let copied = self.parts_copied(stmt);
            let stmt = match &copied {
                Some(parts) => {
                    self.stmts(&parts.before, Tail::Unit, close);
                    match &parts.stmt {
                        Some(stmt) => stmt,
                        None => continue,
                    }
                }
                None => stmt,
            };
            match stmt {
                Stmt::Local(local) => self.local_stmt(local),
                Stmt::Expr(Expr::Return(ret), _) if tail == Tail::Value && last => {
                    result = Some(match &ret.expr {
                        Some(expr) => self.expr(expr),
                        None => {
                            self.errors
                                .spanned(ret, "a differentiated function must return a value");
                            self.dummy()
                        }
                    });
                }
                Stmt::Expr(expr @ (Expr::If(_) | Expr::Match(_)), semi) => {
                    let wants_value = last && semi.is_none() && tail != Tail::Unit;
                    let value = match expr {
                        Expr::If(branch) => self.branch(branch, wants_value),
                        Expr::Match(matched) => self.match_expr(matched, wants_value),
                        _ => self.dummy(),
                    };
                    if wants_value {
                        result = Some(value);
                    }
                }
                Stmt::Expr(expr, None)
                    if last && tail != Tail::Unit && !is_statement_only(expr) =>
                {
                    result = Some(self.expr(expr))
                }
                Stmt::Expr(expr, _) => {
                    self.expr_statement(expr);
                    // `loop` as a block's last statement only ends by `return`.
                    let endless = matches!(expr, Expr::Loop(_));
                    if last && tail != Tail::Unit && (diverges(expr) || endless) {
                        // The block's value is never used on this path.
                        result = Some(unused_float(&self.ret));
                    }
                }
                // Refused by `valid::check`.
                Stmt::Item(_) => {}
                // Checks do not change the value, but the forward pass makes
                // them as the function does (and a variable read only by
                // one is read in the generated code too).
                Stmt::Macro(mac) if is_assertion(&mac.mac) => {
                    self.kept_macro_statement(&mac.mac, "checked")
                }
                Stmt::Macro(mac) if is_print(&mac.mac) => {
                    self.kept_macro_statement(&mac.mac, "printed")
                }
                Stmt::Macro(mac) => self.errors.spanned(&mac.mac, MACRO_MESSAGE),
            }
            if let Some(parts) = &copied {
                self.stmts(&parts.after, Tail::Unit, close);
            }
            if !last && may_exit(stmt) {
                // The rest runs only if this statement did not leave the block
                // (`break`, `continue` or `return` inside it).
                let rest = &stmts[i + 1..];
                let wants_value = tail != Tail::Unit;
                let continuing = self.not_exited(stmt);
                return Some(self.branch_with(
                    continuing,
                    wants_value,
                    span_of(stmt),
                    &mut |s| s.stmts(rest, tail, close),
                    None,
                ))
                .filter(|_| wants_value);
            }
        }
        if result.is_none() && tail != Tail::Unit {
            self.errors.push(syn::Error::new(
                close,
                "expected a final expression: the block must end with the value it computes",
            ));
        }
        result
    }

    /// An expression used as a statement: assignments, branches, loops, exits.
    pub(super) fn expr_statement(&mut self, expr: &Expr) {
        if valid::refusal(expr).is_some() {
            // Reported by `valid::check`.
            return;
        }
        match expr {
            Expr::Assign(assign) => self.assign(assign),
            Expr::Binary(binary) if Operator::of_compound(&binary.op).is_some() => self.compound_assign(binary),
            Expr::If(branch) => {
                self.branch(branch, false);
            }
            Expr::Match(matched) => {
                self.match_expr(matched, false);
            }
            Expr::ForLoop(looped) => {
                self.mark_checkpoint(&looped.attrs);
                self.for_loop(looped);
                self.unclaimed_checkpoint();
            }
            Expr::While(looped) => {
                self.mark_checkpoint(&looped.attrs);
                self.lower_loop(looped.label.as_ref(), Header::While(&looped.cond), &looped.body)
            }
            Expr::Loop(looped) => {
                self.mark_checkpoint(&looped.attrs);
                self.lower_loop(looped.label.as_ref(), Header::Infinite, &looped.body)
            }
            Expr::Break(exit) => {
                self.exit_loop(exit.label.as_ref(), false, expr);
            }
            Expr::Continue(exit) => self.exit_loop(exit.label.as_ref(), true, expr),
            Expr::Return(ret) => self.early_return(ret),
            Expr::Call(call)
                if has_mut_argument(call)
                    || self.passes_written_param(call)
                    || self.passes_scalar_inout(call) =>
            {
                self.call_with_mut_arguments(call, expr, false);
            }
            Expr::Macro(mac) if is_assertion(&mac.mac) => {
                self.kept_macro_statement(&mac.mac, "checked")
            }
            Expr::Macro(mac) if is_print(&mac.mac) => self.kept_macro_statement(&mac.mac, "printed"),
            Expr::Block(b) if b.label.is_none() => {
                self.block(&b.block, Tail::Unit);
            }
            // A plain function called for its effect on data (`set(r, n, v);`
            // writing a list of indices): kept as written.
            Expr::Call(call) if !self.mentions_active(expr) => self.data_call(call, expr),
            // `out.push(v)` onto a vector from `Vec::new()`.
            Expr::MethodCall(call)
                if call.method == "push"
                    && call.args.len() == 1
                    && self.growable(&call.receiver).is_some() =>
            {
                if let Some(array) = self.growable(&call.receiver) {
                    self.push_onto(array, &call.args[0], call);
                }
            }
            // `v.swap(i, j)` of an array: the two element writes it stands for.
            Expr::MethodCall(call)
                if call.method == "swap"
                    && call.args.len() == 2
                    && self.array_local(&call.receiver).is_some() =>
            {
                let (array, i, j) = (&call.receiver, &call.args[0], &call.args[1]);
                let [first, second, held] =
                    ["i", "j", "held"].map(|name| self.part_names.fresh(&format!("swap_{name}")));
                let swapped: syn::Block = syn::parse_quote_spanned! {call.method.span()=> {
                    let #first: usize = #i;
                    let #second: usize = #j;
                    let #held = #array[#first];
                    #array[#first] = #array[#second];
                    #array[#second] = #held;
                }};
                self.block(&swapped, Tail::Unit);
            }
            // `v.reverse()`, `v.sort_by(|a, b| a.partial_cmp(b).unwrap())` of
            // an array: the swaps they stand for.
            Expr::MethodCall(call)
                if self.array_local(&call.receiver).is_some() && reorder(call).is_some() =>
            {
                if let Some(order) = reorder(call) {
                    let swaps = reordered(call, order, &mut self.part_names);
                    self.block(&swaps, Tail::Unit);
                }
            }
            // A vector's length or order changed in place.
            Expr::MethodCall(call)
                if [
                    "push", "clear", "truncate", "resize", "extend", "extend_from_slice", "append",
                    "insert", "remove", "pop", "retain", "drain", "dedup", "sort", "sort_by",
                    "sort_unstable_by", "reverse", "rotate_left", "rotate_right",
                ]
                .contains(&call.method.to_string().as_str()) =>
            {
                if call.method == "sort_by" || call.method == "sort_unstable_by" {
                    return self.errors.spanned(
                        expr,
                        format!("`{}` is supported with a comparison of the elements themselves, ascending (`|a, b| a.partial_cmp(b).unwrap()`, `|a, b| a.total_cmp(b)`, `f64::total_cmp`) or descending (`b` first); sort by anything else into a vector of its own, filled in the order wanted", call.method),
                    );
                }
                self.errors.spanned(
                    expr,
                    format!("`{}` changes a vector in place, which a differentiated function does not do yet: give each stage a buffer of its own (`let mut next = vec![0.0; n];`) and copy it where it belongs (`h[..n].copy_from_slice(&next[..n]);`, with `h` as long as the longest stage), or fill a vector that starts empty (`Vec::new()`, `Vec::with_capacity(n)`) with `push` or `extend`", call.method),
                );
            }
            Expr::MethodCall(call) if call.method == "for_each" => self.errors.spanned(
                expr,
                "`for_each` whose closure returns early is not supported (a `return` or `?` there leaves the closure, not the function); write the loop it stands for, with `continue` for the `return`: `for v in w.iter() { if *v < 0.0 { continue; } total += v * v; }`",
            ),
            _ => match unsupported(expr) {
                Some(message) => self.errors.spanned(expr, message),
                None => self.errors.spanned(
                    expr,
                    "this statement's value is not used; a differentiated function is built from `let` bindings, assignments, calls that write `&mut` arguments, branches, loops and a final expression (write `let _ = ...;` to compute a value and drop it)",
                ),
            },
        }
    }

    /// `println!("{x}")`, `dbg!(x)`, `assert!(n > 0)`: made by the forward
    /// pass, with the values the names have at that point (the generated code
    /// names versions of a variable differently, so each is bound to its name
    /// first). Nothing in it gets an adjoint.
    pub(super) fn kept_macro_statement(&mut self, mac: &syn::Macro, hint: &str) {
        let mut names = Vec::new();
        names_in_macro(mac.tokens.clone(), &mut names);
        let mut seen = Vec::new();
        let mut operands = Vec::new();
        for name in names {
            if seen.contains(&name) {
                continue;
            }
            if let Some(id) = self.variable(&name) {
                seen.push(name);
                operands.push(Operand::Node(id));
            }
        }
        let bound: Vec<Ident> = seen
            .iter()
            .map(|n| Ident::new(n, Span::call_site()))
            .collect();
        // A vector is lent, not moved into the statement, and read through
        // the loan where the macro names it, `(*v)`, so that it keeps its
        // type there (`assert_eq!(v, w)` compares vectors, not a reference
        // with a vector). In a format string the loan prints the same.
        let lent: Vec<&String> = seen
            .iter()
            .zip(&operands)
            .filter(|(_, operand)| {
                matches!(operand, Operand::Node(id) if self.nodes[*id].array.is_some())
            })
            .map(|(name, _)| name)
            .collect();
        let borrows: Vec<TokenStream> = seen
            .iter()
            .map(|name| match lent.contains(&name) {
                true => quote!(&),
                false => quote!(),
            })
            .collect();
        let mut mac = mac.clone();
        mac.tokens = read_through_loans(mac.tokens, &lent);
        let operand = self.inactive_template(
            |values| quote!({ #(let #bound = #borrows #values;)* #mac; }),
            &operands,
            &mac,
        );
        self.as_statement(&operand, hint);
    }
}

pub(super) const MACRO_MESSAGE: &str =
    "macros cannot be differentiated: `#[differentiate]` sees only the macro call, not its expansion; write the computation as plain Rust (`vec!`, `println!`, `eprintln!`, `dbg!` and the assertions are accepted)";

/// `println!`, `eprintln!`, `print!`, `eprint!`, `dbg!`: for debugging.
pub(crate) fn is_print(mac: &syn::Macro) -> bool {
    mac.path.get_ident().is_some_and(|name| {
        matches!(
            name.to_string().as_str(),
            "println" | "eprintln" | "print" | "eprint" | "dbg"
        )
    })
}

/// The names a macro's tokens may read: identifiers, and the `{name}` and
/// `{name:?}` captures of its string literals.
pub(super) fn names_in_macro(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Ident(ident) => out.push(key(&ident)),
            proc_macro2::TokenTree::Group(group) => names_in_macro(group.stream(), out),
            proc_macro2::TokenTree::Literal(lit) => {
                let text = lit.to_string();
                for capture in text.split('{').skip(1) {
                    let name: String = capture
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                        out.push(name);
                    }
                }
            }
            proc_macro2::TokenTree::Punct(_) => {}
        }
    }
}

/// The tokens with each of `lent` read through its loan, `(*v)`, where it is
/// a variable (not a field or method after `.`, nor a path or macro before
/// `::` or `!`).
fn read_through_loans(tokens: TokenStream, lent: &[&String]) -> TokenStream {
    use proc_macro2::{Delimiter, Group, Punct, Spacing, TokenTree};
    if lent.is_empty() {
        return tokens;
    }
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let punct_at =
        |k: usize, c: char| matches!(trees.get(k), Some(TokenTree::Punct(p)) if p.as_char() == c);
    // A member (`x.v`), a path (`v::K`), a macro (`v!`) or a named argument
    // (`v: ..`) is not the variable.
    let not_a_variable =
        |k: usize| (k > 0 && punct_at(k - 1, '.')) || punct_at(k + 1, ':') || punct_at(k + 1, '!');
    let mut out = TokenStream::new();
    for (k, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident)
                if lent.iter().any(|name| **name == key(ident)) && !not_a_variable(k) =>
            {
                let mut star = Punct::new('*', Spacing::Alone);
                star.set_span(ident.span());
                let inner: TokenStream = [TokenTree::Punct(star), TokenTree::Ident(ident.clone())]
                    .into_iter()
                    .collect();
                let mut group = Group::new(Delimiter::Parenthesis, inner);
                group.set_span(ident.span());
                out.extend([TokenTree::Group(group)]);
            }
            TokenTree::Group(group) => {
                let mut inner =
                    Group::new(group.delimiter(), read_through_loans(group.stream(), lent));
                inner.set_span(group.span());
                out.extend([TokenTree::Group(inner)]);
            }
            other => out.extend([other.clone()]),
        }
    }
    out
}

/// `assert!`, `debug_assert!` and their `_eq`/`_ne` forms.
pub(crate) fn is_assertion(mac: &syn::Macro) -> bool {
    mac.path.get_ident().is_some_and(|name| {
        matches!(
            name.to_string().as_str(),
            "assert"
                | "assert_eq"
                | "assert_ne"
                | "debug_assert"
                | "debug_assert_eq"
                | "debug_assert_ne"
        )
    })
}

/// Statements that are expressions but have no value to give.
pub(super) fn is_statement_only(expr: &Expr) -> bool {
    diverges(expr)
        || matches!(
            expr,
            Expr::Assign(_) | Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_)
        )
        || matches!(expr, Expr::Binary(b) if Operator::of_compound(&b.op).is_some())
}

pub(super) fn diverges(expr: &Expr) -> bool {
    matches!(expr, Expr::Break(_) | Expr::Continue(_) | Expr::Return(_))
}

/// The value of a block on a path that left it: never used, any float will do
/// (a zero, since a generic `T: Float` has no `Default`).
pub(super) fn unused_float(float: &FloatTy) -> Operand {
    Operand::Const(Constant {
        tokens: float.zero(),
        atomic: true,
        float: Some(float.clone()),
    })
}

/// How a vector is reordered in place: `v.reverse()`, or `v.sort_by(..)`
/// (or `sort_unstable_by`) with a comparison of the elements by value,
/// ascending (`a.partial_cmp(b).unwrap()`, `a.total_cmp(b)`,
/// `f64::total_cmp`) or descending (`b` first).
#[derive(Clone, Copy)]
enum Reorder {
    Reverse,
    Sort { descending: bool },
}

fn reorder(call: &syn::ExprMethodCall) -> Option<Reorder> {
    match call.method.to_string().as_str() {
        "reverse" if call.args.is_empty() => Some(Reorder::Reverse),
        "sort_by" | "sort_unstable_by" if call.args.len() == 1 => {
            let descending = crate::desugar::comparison_order(&call.args[0])?;
            Some(Reorder::Sort { descending })
        }
        _ => None,
    }
}

/// The swaps a reordering stands for: of the halves for `reverse`; of an
/// insertion sort for a sort, which keeps equal elements in order as
/// `sort_by` does. Each element's adjoint follows it to where it was put.
fn reordered(
    call: &syn::ExprMethodCall,
    order: Reorder,
    names: &mut crate::emit::names::Names,
) -> syn::Block {
    let array = &call.receiver;
    let span = call.method.span();
    match order {
        Reorder::Reverse => {
            let [len, i] = ["len", "i"].map(|name| names.fresh(&format!("reverse_{name}")));
            syn::parse_quote_spanned! {span=> {
                let #len = #array.len();
                for #i in 0..#len / 2 {
                    #array.swap(#i, #len - 1 - #i);
                }
            }}
        }
        Reorder::Sort { descending } => {
            let [i, j] = ["i", "j"].map(|name| names.fresh(&format!("sort_{name}")));
            let out_of_order: syn::Expr = match descending {
                false => syn::parse_quote_spanned!(span=> #array[#j - 1] > #array[#j]),
                true => syn::parse_quote_spanned!(span=> #array[#j - 1] < #array[#j]),
            };
            syn::parse_quote_spanned! {span=> {
                for #i in 1..#array.len() {
                    let mut #j = #i;
                    while #j > 0 && #out_of_order {
                        #array.swap(#j - 1, #j);
                        #j -= 1;
                    }
                }
            }}
        }
    }
}
