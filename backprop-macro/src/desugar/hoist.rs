//! Values computed inside conditions, moved out into `let`s before lowering.
//!
//! A condition is kept as the user wrote it (comparisons have no derivative),
//! so everything inside it must be plain code. An `if`, `match`, block or
//! iterator chain inside a condition is not: it is evaluated first, into a
//! named local, and the condition reads the local:
//!
//! ```text
//! if (if x > 0.0 { x } else { y }) < 1.0 { .. }
//! if xs.iter().map(|v| v * v).sum::<f64>() > 1.0 { .. }
//! ```
//!
//! become
//!
//! ```text
//! let picked = if x > 0.0 { x } else { y };
//! if picked < 1.0 { .. }
//! let total = xs.iter().map(|v| v * v).sum::<f64>();
//! if total > 1.0 { .. }
//! ```
//!
//! Each value is still evaluated exactly when it was: `a && b` with such a
//! value in `b` is `if a { .. b } else { false }`, an `else if` condition moves
//! into its `else` block, and a `while` condition into the `loop` the `while`
//! stands for.

use crate::emit::names::{identifiers, Names};
use quote::ToTokens;
use syn::visit_mut::VisitMut;
use syn::{BinOp, Expr, Stmt, UnOp};

pub fn hoist_conditions(block: &mut syn::Block) {
    let names = Names::avoiding(identifiers(block.to_token_stream()));
    let closures = closure_names(block);
    Hoister { names, closures }.visit_block_mut(block);
}

struct Hoister {
    names: Names,
    /// Names bound to closures (`let f = |t: f64| ...;`): a closure is inlined
    /// where it is called, so its calls cannot stay in a condition either.
    closures: Vec<String>,
}

impl VisitMut for Hoister {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        syn::visit_mut::visit_block_mut(self, block);
        let mut stmts = Vec::with_capacity(block.stmts.len());
        for stmt in std::mem::take(&mut block.stmts) {
            self.flatten(stmt, &mut stmts);
        }
        block.stmts = stmts;
    }

    // A closure's body is code of its own: what its conditions need is
    // computed at the start of each call.
    fn visit_expr_closure_mut(&mut self, closure: &mut syn::ExprClosure) {
        syn::visit_mut::visit_expr_closure_mut(self, closure);
        let mut lets = Vec::new();
        self.value(&mut closure.body, &mut lets);
        let lets = self.flattened(lets);
        if !lets.is_empty() {
            let body = &closure.body;
            if let Some(block) = reparse(quote::quote!({ #(#lets)* #body })) {
                *closure.body = block;
            }
        }
    }
}

impl Hoister {
    /// `stmt` after the `let`s moved out of it, which may have conditions of
    /// their own (`if (if a < b { .. }) < c`).
    fn flatten(&mut self, mut stmt: Stmt, out: &mut Vec<Stmt>) {
        for hoisted in self.statement(&mut stmt) {
            self.flatten(hoisted, out);
        }
        out.push(stmt);
    }

    /// `lets` with what moves out of their own conditions before each.
    fn flattened(&mut self, lets: Vec<Stmt>) -> Vec<Stmt> {
        let mut out = Vec::new();
        for stmt in lets {
            self.flatten(stmt, &mut out);
        }
        out
    }

    /// The `let`s to put before `stmt`, after rewriting it to read them.
    fn statement(&mut self, stmt: &mut Stmt) -> Vec<Stmt> {
        let mut lets = Vec::new();
        match stmt {
            Stmt::Local(local) => {
                if let Some(init) = &mut local.init {
                    self.value(&mut init.expr, &mut lets);
                }
            }
            Stmt::Expr(expr, _) => match expr {
                Expr::While(looped) => {
                    if let Some(rewritten) = self.while_loop(looped) {
                        *expr = rewritten;
                    }
                }
                Expr::Assign(assign) => self.operands(&mut assign.right, false, &mut lets),
                Expr::Return(ret) => {
                    if let Some(value) = &mut ret.expr {
                        self.value(value, &mut lets);
                    }
                }
                other => self.value(other, &mut lets),
            },
            _ => {}
        }
        lets
    }

    /// An expression whose value is used: an `if` or `match` at its top stays
    /// (lowering takes those), its condition or scrutinee is searched.
    fn value(&mut self, expr: &mut Expr, lets: &mut Vec<Stmt>) {
        match expr {
            Expr::If(branch) => self.branch(branch, lets),
            Expr::Match(matched) => self.operands(&mut matched.expr, true, lets),
            Expr::Paren(p) => self.value(&mut p.expr, lets),
            other => self.operands(other, false, lets),
        }
    }

    /// `if c1 { .. } else if c2 { .. }`: `c1`'s values go before the `if`,
    /// `c2`'s into a block around the `else if`.
    fn branch(&mut self, branch: &mut syn::ExprIf, lets: &mut Vec<Stmt>) {
        self.operands(&mut branch.cond, true, lets);
        if let Some((_, otherwise)) = &mut branch.else_branch {
            if let Expr::If(inner) = otherwise.as_mut() {
                let mut inner_lets = Vec::new();
                self.branch(inner, &mut inner_lets);
                let inner_lets = self.flattened(inner_lets);
                if !inner_lets.is_empty() {
                    let inner = Expr::If(inner.clone());
                    if let Some(block) = reparse(quote::quote!({ #(#inner_lets)* #inner })) {
                        **otherwise = block;
                    }
                }
            }
        }
    }

    /// `'l: while c { body }` with values to move out of `c` is
    /// `'l: loop { let t = ..; if !c { break; } body }`.
    fn while_loop(&mut self, looped: &mut syn::ExprWhile) -> Option<Expr> {
        let mut lets = Vec::new();
        self.operands(&mut looped.cond, true, &mut lets);
        if lets.is_empty() {
            return None;
        }
        let lets = self.flattened(lets);
        let syn::ExprWhile {
            attrs,
            label,
            cond,
            body,
            ..
        } = looped;
        let stmts = &body.stmts;
        reparse(quote::quote! {
            #(#attrs)* #label loop {
                #(#lets)*
                if !(#cond) { break; }
                #(#stmts)*
            }
        })
    }

    fn closure_call(&self, expr: &Expr) -> Option<&'static str> {
        let Expr::Call(call) = expr else { return None };
        let Expr::Path(path) = crate::lower::strip_parens(&call.func) else {
            return None;
        };
        let name = path.path.get_ident()?.to_string();
        self.closures.contains(&name).then_some("called")
    }

    /// Searches the parts of `expr` that are always evaluated; inside a
    /// condition (`in_condition`), moves out what lowering cannot keep there.
    fn operands(&mut self, expr: &mut Expr, in_condition: bool, lets: &mut Vec<Stmt>) {
        if in_condition {
            if let Some(base) = movable(expr).or_else(|| self.closure_call(expr)) {
                let name = self.names.fresh(base);
                if let Some(binding) = reparse(quote::quote!(let #name = #expr;)) {
                    *expr = syn::parse_quote!(#name);
                    lets.push(binding);
                }
                return;
            }
        }
        match expr {
            Expr::Paren(p) => self.operands(&mut p.expr, in_condition, lets),
            Expr::Group(g) => self.operands(&mut g.expr, in_condition, lets),
            Expr::Binary(b) => match b.op {
                BinOp::And(_) | BinOp::Or(_) => {
                    self.operands(&mut b.left, true, lets);
                    // The right side runs only sometimes: what it needs moves
                    // into the branch where it runs, `a && b` being
                    // `if a { b } else { false }`.
                    let mut inner = Vec::new();
                    self.operands(&mut b.right, true, &mut inner);
                    let inner = self.flattened(inner);
                    if !inner.is_empty() {
                        let (left, right) = (&b.left, &b.right);
                        let rewritten = match b.op {
                            BinOp::And(_) => reparse(
                                quote::quote!(if #left { #(#inner)* #right } else { false }),
                            ),
                            _ => {
                                reparse(quote::quote!(if #left { true } else { #(#inner)* #right }))
                            }
                        };
                        if let Some(rewritten) = rewritten {
                            *expr = rewritten;
                            self.operands(expr, in_condition, lets);
                        }
                    }
                }
                op => {
                    let compares = matches!(
                        op,
                        BinOp::Lt(_)
                            | BinOp::Le(_)
                            | BinOp::Gt(_)
                            | BinOp::Ge(_)
                            | BinOp::Eq(_)
                            | BinOp::Ne(_)
                    );
                    self.operands(&mut b.left, in_condition || compares, lets);
                    self.operands(&mut b.right, in_condition || compares, lets);
                }
            },
            Expr::Unary(u) => {
                let negates = matches!(u.op, UnOp::Not(_));
                self.operands(&mut u.expr, in_condition || negates, lets);
            }
            Expr::Cast(c) => self.operands(&mut c.expr, in_condition, lets),
            Expr::MethodCall(call) => {
                self.operands(&mut call.receiver, in_condition, lets);
                for arg in &mut call.args {
                    self.operands(arg, in_condition, lets);
                }
            }
            Expr::Call(call) => {
                for arg in &mut call.args {
                    self.operands(arg, in_condition, lets);
                }
            }
            Expr::Array(array) => {
                for element in &mut array.elems {
                    self.operands(element, in_condition, lets);
                }
            }
            Expr::Tuple(tuple) => {
                for element in &mut tuple.elems {
                    self.operands(element, in_condition, lets);
                }
            }
            Expr::Index(index) => {
                self.operands(&mut index.expr, in_condition, lets);
                self.operands(&mut index.index, in_condition, lets);
            }
            // `vec![a, b]`: its elements, as an array's.
            Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
                let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
                if let Ok(mut elements) = syn::parse::Parser::parse2(parser, mac.mac.tokens.clone())
                {
                    for element in &mut elements {
                        // The macro's tokens are not visited as code: its
                        // closures and blocks are processed here.
                        self.visit_expr_mut(element);
                        self.operands(element, in_condition, lets);
                    }
                    mac.mac.tokens = elements.to_token_stream();
                }
            }
            // An `if` or `match` evaluated here always evaluates its condition.
            Expr::If(branch) => self.branch(branch, lets),
            Expr::Match(matched) => self.operands(&mut matched.expr, true, lets),
            _ => {}
        }
    }
}

/// What must move out of a condition, and the name to give it.
fn movable(expr: &Expr) -> Option<&'static str> {
    if diverges(expr) {
        return None;
    }
    match expr {
        Expr::If(_) => Some("picked"),
        Expr::Match(_) => Some("matched"),
        Expr::Block(b) if b.label.is_none() => Some("block"),
        Expr::MethodCall(call) if receiver_is_chain(call) => match call.method.to_string().as_str()
        {
            "sum" => Some("total"),
            "product" => Some("product"),
            "fold" => Some("folded"),
            _ => None,
        },
        _ => None,
    }
}

/// Rewritten code, parsed back; `None` where the user's tokens do not fit
/// there (the code is then left as it was, and lowering reports it).
fn reparse<T: syn::parse::Parse>(tokens: proc_macro2::TokenStream) -> Option<T> {
    syn::parse2(tokens).ok()
}

/// The names `let` binds to closures anywhere in `block`.
fn closure_names(block: &syn::Block) -> Vec<String> {
    struct Finder(Vec<String>);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            if let (syn::Pat::Ident(p), Some(init)) = (&local.pat, &local.init) {
                if matches!(crate::lower::strip_parens(&init.expr), Expr::Closure(_)) {
                    self.0.push(p.ident.to_string());
                }
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut finder = Finder(Vec::new());
    syn::visit::Visit::visit_block(&mut finder, block);
    finder.0
}

/// `xs.iter().map(..)` before `.sum()`: a method call on a method call.
fn receiver_is_chain(call: &syn::ExprMethodCall) -> bool {
    matches!(
        crate::lower::strip_parens(&call.receiver),
        Expr::MethodCall(_)
    )
}

/// Whether `expr` contains `return`, `break`, `continue` or `?`, which must
/// stay where they are.
fn diverges(expr: &Expr) -> bool {
    /// Whether it finds a jump out of the expression: a `return` or `?`
    /// anywhere, a `break` or `continue` other than of a loop inside it.
    struct Finder {
        out: bool,
        /// Loops inside the expression around the visit, by label.
        loops: Vec<Option<String>>,
    }
    impl Finder {
        fn inside(&mut self, label: Option<&syn::Label>, visit: impl FnOnce(&mut Self)) {
            self.loops.push(label.map(|l| l.name.ident.to_string()));
            visit(self);
            self.loops.pop();
        }

        fn leaves(&self, label: Option<&syn::Lifetime>) -> bool {
            match label {
                None => self.loops.is_empty(),
                Some(label) => !self.loops.contains(&Some(label.ident.to_string())),
            }
        }
    }
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::Return(_) | Expr::Try(_) => self.out = true,
                Expr::Break(jump) => self.out |= self.leaves(jump.label.as_ref()),
                Expr::Continue(jump) => self.out |= self.leaves(jump.label.as_ref()),
                Expr::Loop(looped) => {
                    self.inside(looped.label.as_ref(), |f| f.visit_block(&looped.body))
                }
                Expr::While(looped) => {
                    self.visit_expr(&looped.cond);
                    self.inside(looped.label.as_ref(), |f| f.visit_block(&looped.body));
                }
                Expr::ForLoop(looped) => {
                    self.visit_expr(&looped.expr);
                    self.inside(looped.label.as_ref(), |f| f.visit_block(&looped.body));
                }
                Expr::Closure(_) => {}
                _ => syn::visit::visit_expr(self, expr),
            }
        }
    }
    let mut finder = Finder {
        out: false,
        loops: Vec::new(),
    };
    syn::visit::Visit::visit_expr(&mut finder, expr);
    finder.out
}

#[cfg(test)]
mod tests {
    use super::hoist_conditions;
    use quote::ToTokens;
    use syn::parse_quote;

    fn hoisted(mut block: syn::Block) -> String {
        hoist_conditions(&mut block);
        block.to_token_stream().to_string()
    }

    fn tokens(block: syn::Block) -> String {
        block.to_token_stream().to_string()
    }

    #[test]
    fn a_branch_in_a_condition_is_evaluated_first() {
        let out = hoisted(parse_quote!({
            if (if x > 0.0 { x } else { y }) < 1.0 {
                z = x;
            }
        }));
        assert!(
            out.starts_with("{ let picked = if x > 0.0 { x } else { y } ;"),
            "{out}"
        );
        assert!(out.contains("if (picked) < 1.0"), "{out}");
    }

    #[test]
    fn a_loop_inside_a_condition_is_no_jump_out_of_it() {
        let out = hoisted(parse_quote!({
            while {
                loop {
                    if k > 2 {
                        break;
                    }
                    k += 1;
                }
                x
            } < 1.0
            {
                z = x;
            }
        }));
        assert!(out.starts_with("{ loop { let block ="), "{out}");
        let kept = hoisted(parse_quote!({
            'outer: loop {
                while {
                    loop {
                        break 'outer;
                    }
                    x
                } < 1.0
                {
                    z = x;
                }
            }
        }));
        assert!(!kept.contains("let block"), "{kept}");
    }

    #[test]
    fn plain_conditions_are_left_alone() {
        let block: syn::Block = parse_quote!({
            if x > 0.0 && n < 3 {
                z = x;
            }
            while i < n {
                i += 1;
            }
        });
        assert_eq!(hoisted(block.clone()), tokens(block));
    }

    #[test]
    fn a_short_circuit_keeps_its_order() {
        let out = hoisted(parse_quote!({
            if n > 0 && xs.iter().sum::<f64>() > 1.0 {
                z = x;
            }
        }));
        // The sum runs only when `n > 0`, as before.
        let test = out.find("n > 0").expect("the first test");
        let sum = out.find("sum").expect("the sum");
        assert!(test < sum, "{out}");
    }
}
