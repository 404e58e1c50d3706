//! A callee's body made to stand in the caller: its parameters replaced by
//! the caller's arguments, its locals renamed where the caller uses their
//! names.

use proc_macro2::{TokenStream, TokenTree};
use std::collections::HashMap;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// What a name of the callee stands for in the caller.
pub(super) enum Stand {
    /// Another name: a local renamed, or a parameter given the caller's
    /// variable (`sqsum(rot)`: `x` is `rot`).
    Name(syn::Ident),
    /// A parameter given a reference to the caller's variable (`cross(&w, ..)`):
    /// indexed and called methods on, it is the variable (`a[1]` is `w[1]`);
    /// anywhere else the reference (`sqsum(a)` is `sqsum(&w)`).
    Reference { variable: syn::Ident, value: Expr },
}

impl Stand {
    fn variable(&self) -> &syn::Ident {
        match self {
            Stand::Name(name) => name,
            Stand::Reference { variable, .. } => variable,
        }
    }
}

/// A `let`'s binding of `from` renamed `to`, with every use of it in the
/// statements after it (its scope, to the end of its block): what a
/// shadowing `let` is renamed by.
pub(crate) fn rename_binding(
    local: &mut syn::Local,
    after: &mut [syn::Stmt],
    from: &str,
    to: syn::Ident,
) {
    let no_calls = HashMap::new();
    let mut rename = Substitution {
        names: HashMap::from([(from.to_string(), Stand::Name(to))]),
        shared: &no_calls,
    };
    rename.visit_pat_mut(&mut local.pat);
    for stmt in after {
        rename.visit_stmt_mut(stmt);
    }
}

/// `expr` with each name of `renames` written as its new name (a closure's
/// parameters of those names left alone inside it).
pub(crate) fn renamed(expr: &mut Expr, renames: &[(syn::Ident, syn::Ident)]) {
    let no_calls = HashMap::new();
    let mut rename = Substitution {
        names: renames
            .iter()
            .map(|(from, to)| (from.to_string(), Stand::Name(to.clone())))
            .collect(),
        shared: &no_calls,
    };
    rename.visit_expr_mut(expr);
}

pub(super) struct Substitution<'s> {
    pub(super) names: HashMap<String, Stand>,
    /// For each function the body may call by name, which parameters take a
    /// shared reference: a `&mut` parameter passed on to one is passed as
    /// `&v` (`sqsum(proj)` of `proj: &mut [f64]` given `&mut proj` is
    /// `sqsum(&proj)`), as the compiler would reborrow it.
    pub(super) shared: &'s HashMap<String, Vec<bool>>,
}

impl Substitution<'_> {
    fn of(&self, expr: &Expr) -> Option<&Stand> {
        match expr {
            Expr::Path(path) if path.qself.is_none() => {
                let ident = path.path.get_ident()?;
                self.names.get(&ident.to_string())
            }
            _ => None,
        }
    }

    fn variable_of(&self, expr: &Expr) -> Option<Expr> {
        let variable = self.of(expr)?.variable();
        Some(syn::parse_quote!(#variable))
    }

    fn renamed(&self, ident: &syn::Ident) -> Option<syn::Ident> {
        match self.names.get(&ident.to_string())? {
            Stand::Name(name) => Some(name.clone()),
            Stand::Reference { variable, .. } => Some(variable.clone()),
        }
    }

    /// A macro's tokens (`assert!(a.len() == 3)`) with each name the body
    /// uses replaced by its variable: not after `.` (a method or field),
    /// `::` or `'` (a label), nor before `!` or `::` (a macro or a path).
    fn tokens(&self, tokens: TokenStream) -> TokenStream {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let punct = |tree: Option<&TokenTree>, ch: char| matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == ch);
        // `name = value` among a format macro's arguments: `name` is the
        // format string's, not a variable (`==` is a joint `=`).
        let names_argument = |tree: Option<&TokenTree>| {
            matches!(tree, Some(TokenTree::Punct(p))
                if p.as_char() == '=' && p.spacing() == proc_macro2::Spacing::Alone)
        };
        let mut out = Vec::with_capacity(trees.len());
        for (k, tree) in trees.iter().enumerate() {
            let before = k.checked_sub(1).and_then(|j| trees.get(j));
            let after = trees.get(k + 1);
            match tree {
                TokenTree::Ident(ident)
                    if !punct(before, '.')
                        && !punct(before, ':')
                        && !punct(before, '\'')
                        && !punct(after, '!')
                        && !punct(after, ':')
                        && !names_argument(after) =>
                {
                    let mut name = self.renamed(ident).unwrap_or_else(|| ident.clone());
                    name.set_span(ident.span());
                    out.push(TokenTree::Ident(name));
                }
                TokenTree::Group(group) => {
                    let mut inner =
                        proc_macro2::Group::new(group.delimiter(), self.tokens(group.stream()));
                    inner.set_span(group.span());
                    out.push(TokenTree::Group(inner));
                }
                other => out.push(other.clone()),
            }
        }
        out.into_iter().collect()
    }
}

impl VisitMut for Substitution<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Index(index) if self.of(&index.expr).is_some() => {
                if let Some(variable) = self.variable_of(&index.expr) {
                    *index.expr = variable;
                }
                self.visit_expr_mut(&mut index.index);
            }
            // `*acc` of `acc` given `&mut total` is `total`.
            Expr::Unary(unary)
                if matches!(unary.op, syn::UnOp::Deref(_))
                    && matches!(self.of(&unary.expr), Some(Stand::Reference { .. })) =>
            {
                if let Some(variable) = self.variable_of(&unary.expr) {
                    *expr = variable;
                }
            }
            // `this.k` of `this` given `&m` is `m.k`.
            Expr::Field(field) if self.of(&field.base).is_some() => {
                if let Some(variable) = self.variable_of(&field.base) {
                    *field.base = variable;
                }
            }
            Expr::MethodCall(call) if self.of(&call.receiver).is_some() => {
                if let Some(variable) = self.variable_of(&call.receiver) {
                    *call.receiver = variable;
                }
                for arg in call.args.iter_mut() {
                    self.visit_expr_mut(arg);
                }
            }
            Expr::Call(call) => {
                self.visit_expr_mut(&mut call.func);
                let callee = match crate::lower::strip_parens(&call.func) {
                    Expr::Path(path) => path.path.get_ident().map(ToString::to_string),
                    _ => None,
                };
                let shared = callee.and_then(|name| self.shared.get(&name));
                for (k, arg) in call.args.iter_mut().enumerate() {
                    let reborrowed = match (self.of(arg), shared) {
                        (Some(Stand::Reference { variable, value }), Some(shared))
                            if shared.get(k) == Some(&true)
                                && matches!(value, Expr::Reference(r) if r.mutability.is_some()) =>
                        {
                            Some(syn::parse_quote!(&#variable))
                        }
                        _ => None,
                    };
                    match reborrowed {
                        Some(shared) => *arg = shared,
                        None => self.visit_expr_mut(arg),
                    }
                }
            }
            // Names its parameters bind are its own inside it.
            Expr::Closure(closure) => {
                let hidden: Vec<(String, Stand)> = super::closure_params(closure)
                    .iter()
                    .filter_map(|name| self.names.remove_entry(name))
                    .collect();
                self.visit_expr_mut(&mut closure.body);
                self.names.extend(hidden);
            }
            Expr::Path(_) => match self.of(expr) {
                Some(Stand::Name(name)) => *expr = syn::parse_quote!(#name),
                Some(Stand::Reference { value, .. }) => *expr = value.clone(),
                None => {}
            },
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_pat_ident_mut(&mut self, pat: &mut syn::PatIdent) {
        if let Some(name) = self.renamed(&pat.ident) {
            pat.ident = name;
        }
        syn::visit_mut::visit_pat_ident_mut(self, pat);
    }

    /// `Point { x }` with `x` renamed is `Point { x: x_2 }`.
    fn visit_field_value_mut(&mut self, field: &mut syn::FieldValue) {
        if field.colon_token.is_none() {
            field.colon_token = Some(Default::default());
        }
        syn::visit_mut::visit_field_value_mut(self, field);
    }

    /// `let Point { x, .. } = p;` with `x` renamed is `Point { x: x_2, .. }`.
    fn visit_field_pat_mut(&mut self, field: &mut syn::FieldPat) {
        if field.colon_token.is_none() {
            field.colon_token = Some(Default::default());
        }
        syn::visit_mut::visit_field_pat_mut(self, field);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        mac.tokens = self.tokens(std::mem::take(&mut mac.tokens));
    }
}
