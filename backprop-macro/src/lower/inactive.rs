//! Inactive values: code that does not depend on a differentiable input is
//! kept as written (one node with a template), with its type guessed for the tape.

use super::expressions::{float_function, forbidden_inside, is_float_literal, literal_float};
use super::{element_type, key, node_ident, span_of, strip_parens, Lowerer};
use crate::ir::{Constant, FloatTy, Floats, Hint, Node, NodeId, NodeKind, Operand, Operator};
use crate::rules::{self};
use proc_macro2::{Ident, Span};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, UnOp};

impl<'a> Lowerer<'a> {
    /// An inactive `a op b` built from operands (compound assignment on an inactive
    /// variable), emitted as ordinary arithmetic.
    pub(super) fn op_inactive(
        &mut self,
        op: Operator,
        a: Operand,
        b: Operand,
        span: &dyn ToTokens,
    ) -> Operand {
        let ty = self.type_of(&a).or_else(|| self.type_of(&b));
        let operand = self.inactive_template(
            |args| {
                let (l, r) = (&args[0], &args[1]);
                op.apply(l, r, proc_macro2::Span::call_site())
            },
            &[a, b],
            span,
        );
        if let Operand::Node(id) = operand {
            self.nodes[id].ty = ty;
        }
        operand
    }

    /// An inactive node computing `template` of the operands: each operand is a
    /// placeholder renamed to its node at emission, or a constant's tokens.
    pub(super) fn inactive_template(
        &mut self,
        template: impl FnOnce(Vec<proc_macro2::TokenStream>) -> proc_macro2::TokenStream,
        operands: &[Operand],
        span: &dyn ToTokens,
    ) -> Operand {
        let mut locals = Vec::new();
        let parts = operands
            .iter()
            .enumerate()
            .map(|(i, operand)| match operand {
                Operand::Node(id) => {
                    let placeholder = Ident::new(&format!("__operand{i}"), Span::call_site());
                    locals.push((placeholder.to_string(), *id));
                    quote!(#placeholder)
                }
                Operand::Const(c) => c.operand_tokens(),
            })
            .collect();
        let expr = match syn::parse2::<Expr>(template(parts)) {
            Ok(expr) => expr,
            Err(error) => {
                self.errors.push(error);
                return self.dummy();
            }
        };
        let hint = Hint::Op(self.content_hint(&expr, &locals));
        let id = self.push(Node::new(
            hint,
            NodeKind::Inactive { expr, locals },
            span_of(span),
        ));
        Operand::Node(id)
    }

    /// A value that does not depend on the differentiable inputs. A pure closed
    /// expression (literals, constants, arithmetic on them) is spelled again where
    /// it is used; anything else is computed once, as a node.
    pub(super) fn inactive(&mut self, expr: &Expr) -> Operand {
        if let Some((tokens, message)) = forbidden_inside(expr) {
            self.errors.spanned(tokens, message);
            return self.dummy();
        }
        let (known, lengths) = self.lengths_known(expr);
        // (Typed as written: a placeholder has no type of its own.)
        let ty = self.guess_type(expr);
        // `v.len()` alone: the length's node itself.
        if let ([(_, len)], Expr::Path(_)) = (lengths.as_slice(), &known) {
            return Operand::Node(*len);
        }
        let expr = &known;
        let mut locals = self.locals_in(expr);
        locals.extend(lengths);
        if locals.is_empty() && is_pure(expr, &self.floats) {
            return Operand::Const(Constant {
                tokens: expr.to_token_stream(),
                atomic: matches!(
                    strip_parens(expr),
                    Expr::Lit(_) | Expr::Path(_) | Expr::Call(_) | Expr::MethodCall(_)
                ),
                float: literal_float(expr, &self.floats),
            });
        }
        let hint = Hint::Op(self.content_hint(expr, &locals));
        let id = self.push(
            Node::new(
                hint,
                NodeKind::Inactive {
                    expr: expr.clone(),
                    locals,
                },
                expr.span(),
            )
            .typed(ty),
        );
        Operand::Node(id)
    }

    /// `expr` with each `v.len()` of a buffer made with its length
    /// (`vec![0.0; d]`, which keeps it) replaced by that length, a
    /// placeholder for its node: the backward pass has it wherever the
    /// buffer is, where reading the buffer again it could not.
    fn lengths_known(&self, expr: &Expr) -> (Expr, Vec<(String, NodeId)>) {
        struct Known<'l, 'a> {
            lowerer: &'l Lowerer<'a>,
            lengths: Vec<(String, NodeId)>,
        }
        impl VisitMut for Known<'_, '_> {
            fn visit_expr_mut(&mut self, expr: &mut Expr) {
                if let Expr::MethodCall(call) = expr {
                    if call.method == "len" && call.args.is_empty() {
                        let len =
                            self.lowerer
                                .array_local(&call.receiver)
                                .and_then(|array| match &self.lowerer.nodes[array].kind {
                                    NodeKind::Buffer {
                                        len: Operand::Node(len),
                                        growable: false,
                                        ..
                                    } if self.lowerer.nodes[*len].ty.is_some() => Some(*len),
                                    _ => None,
                                });
                        if let Some(len) = len {
                            let placeholder = format!("__len{}", self.lengths.len());
                            let ident = Ident::new(&placeholder, Span::call_site());
                            *expr = syn::parse_quote!(#ident);
                            self.lengths.push((placeholder, len));
                            return;
                        }
                    }
                }
                syn::visit_mut::visit_expr_mut(self, expr);
            }
        }
        let mut known = Known {
            lowerer: self,
            lengths: Vec::new(),
        };
        let mut expr = expr.clone();
        known.visit_expr_mut(&mut expr);
        (expr, known.lengths)
    }

    /// A name for an inactive value, from what it computes: `cond` for a test,
    /// `i_f64` for `i as f64`, `w_len` for `w.len()`, `x_j` for `x[j]`,
    /// `sum` for `j * cols + i`. `locals` maps placeholders to their nodes.
    fn content_hint(&self, expr: &Expr, locals: &[(String, NodeId)]) -> String {
        let name_of = |e: &Expr| -> Option<String> {
            let Expr::Path(path) = strip_parens(e) else {
                return None;
            };
            let name = key(path.path.get_ident()?);
            Some(match locals.iter().find(|(local, _)| *local == name) {
                Some((_, id)) if name.starts_with("__") => node_ident(&self.nodes[*id]).to_string(),
                _ => name,
            })
        };
        let hint = match strip_parens(expr) {
            Expr::Unary(syn::ExprUnary {
                op: UnOp::Not(_), ..
            }) => "cond".to_string(),
            Expr::Binary(binary) => match Operator::of_binary(&binary.op) {
                Some(op) => op.hint().to_string(),
                // Comparisons, `&&` and `||`.
                None => "cond".to_string(),
            },
            Expr::Cast(cast) => match (name_of(&cast.expr), &*cast.ty) {
                (Some(name), syn::Type::Path(ty)) => match ty.path.get_ident() {
                    Some(ty) => format!("{name}_{ty}"),
                    None => "cast".to_string(),
                },
                _ => "cast".to_string(),
            },
            Expr::MethodCall(call) => match name_of(&call.receiver) {
                Some(receiver) if call.method == "len" => format!("{receiver}_len"),
                _ => call.method.to_string(),
            },
            Expr::Index(index) => match (name_of(&index.expr), name_of(&index.index)) {
                (Some(array), Some(index)) => format!("{array}_{index}"),
                (Some(array), None) => format!("{array}_elem"),
                _ => "elem".to_string(),
            },
            Expr::Path(_) => name_of(expr).unwrap_or_else(|| "value".to_string()),
            // A `match` arm's test: `kind_is_0` for `matches!(kind, 0)`.
            Expr::Macro(mac)
                if mac
                    .mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "matches") =>
            {
                let parsed = syn::parse::Parser::parse2(
                    |input: syn::parse::ParseStream| {
                        let scrutinee: Expr = input.parse()?;
                        input.parse::<syn::Token![,]>()?;
                        let pattern = syn::Pat::parse_multi(input)?;
                        input.parse::<proc_macro2::TokenStream>()?;
                        Ok((scrutinee, pattern))
                    },
                    mac.mac.tokens.clone(),
                );
                match parsed {
                    Ok((scrutinee, pattern)) => {
                        let scrutinee = name_of(&scrutinee).unwrap_or_else(|| "value".to_string());
                        match pattern {
                            syn::Pat::Lit(syn::ExprLit {
                                lit: syn::Lit::Int(int),
                                ..
                            }) => format!("{scrutinee}_is_{}", int.base10_digits()),
                            syn::Pat::Ident(ident) => format!("{scrutinee}_is_{}", ident.ident),
                            syn::Pat::Path(path) => match path.path.segments.last() {
                                Some(last) => format!("{scrutinee}_is_{}", last.ident),
                                None => format!("{scrutinee}_arm"),
                            },
                            _ => format!("{scrutinee}_arm"),
                        }
                    }
                    Err(_) => "arm".to_string(),
                }
            }
            Expr::Call(call) => match strip_parens(&call.func) {
                Expr::Path(path) => path
                    .path
                    .segments
                    .last()
                    .map_or_else(|| "value".to_string(), |s| s.ident.to_string()),
                _ => "value".to_string(),
            },
            _ => "value".to_string(),
        };
        crate::emit::names::bare_name(&hint.to_lowercase())
    }

    /// Whether the expression's value may depend on a differentiable input. An
    /// array counts where its elements are used (`w[i]`, passing `w` on), not
    /// where only its length is (`w.len()`).
    pub(super) fn mentions_active(&self, expr: &Expr) -> bool {
        struct Finder<'l, 'a> {
            lowerer: &'l Lowerer<'a>,
            found: bool,
        }
        impl<'ast> Visit<'ast> for Finder<'_, '_> {
            fn visit_expr(&mut self, expr: &'ast Expr) {
                if self.found {
                    return;
                }
                match expr {
                    Expr::MethodCall(call)
                        if (call.method == "len" || call.method == "is_empty")
                            && self.lowerer.array_local(&call.receiver).is_some() => {}
                    // `(t * n) as usize`: an integer, piecewise constant,
                    // so `((t * n) as usize).min(m)` is integer work.
                    Expr::Cast(cast) if self.lowerer.floats.is_integer_like(&cast.ty) => {}
                    // `p.n`: a field a struct parameter's body reads as data.
                    Expr::Field(field)
                        if self
                            .lowerer
                            .local(strip_parens(&field.base))
                            .is_some_and(|id| self.lowerer.models.contains(&id)) => {}
                    Expr::Path(_) => {
                        if let Some(id) = self.lowerer.local(expr) {
                            self.found |=
                                self.lowerer.nodes[id].active || self.lowerer.models.contains(&id);
                        }
                        // A closure is inlined wherever it is called.
                        self.found |= self.lowerer.closure_named(expr).is_some();
                    }
                    _ => syn::visit::visit_expr(self, expr),
                }
            }
        }
        let mut finder = Finder {
            lowerer: self,
            found: false,
        };
        finder.visit_expr(expr);
        finder.found
    }

    pub(super) fn locals_in(&self, expr: &Expr) -> Vec<(String, NodeId)> {
        let mut finder = LocalFinder::default();
        finder.visit_expr(expr);
        let mut locals: Vec<(String, NodeId)> = Vec::new();
        for name in finder.names {
            if let Some(id) = self.variable(&name) {
                if !locals.iter().any(|(n, _)| *n == name) {
                    locals.push((name, id));
                }
            }
        }
        locals
    }

    pub(super) fn guess_type(&self, expr: &Expr) -> Option<syn::Type> {
        match expr {
            Expr::Cast(cast) => Some((*cast.ty).clone()),
            Expr::Paren(p) => self.guess_type(&p.expr),
            Expr::Group(g) => self.guess_type(&g.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => self.guess_type(&u.expr),
            // `*i` of `for i in idx`: an element of the list.
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => self
                .local(strip_parens(&u.expr))
                .and_then(|id| self.referenced.get(&id).cloned()),
            Expr::Lit(_) => literal_float(expr, &self.floats)
                .or_else(|| is_float_literal(&expr.to_token_stream()).then(|| self.ret.clone()))
                .as_ref()
                .map(FloatTy::to_type),
            Expr::Path(_) => self.local(expr).and_then(|id| self.nodes[id].ty.clone()),
            Expr::Binary(b) if Operator::of_binary(&b.op).is_some() => self
                .guess_type(&b.left)
                .or_else(|| self.guess_type(&b.right)),
            Expr::Binary(_) => Some(syn::parse_quote!(bool)),
            Expr::MethodCall(m) if rules::is_test(&m.method.to_string()) => {
                Some(syn::parse_quote!(bool))
            }
            // A float method keeps its receiver's type; one that integers
            // do not have (`powi`, `sin`) makes its receiver a float even
            // where nothing else says which (`crule(data[3]).powi(-1)`, a
            // call of a function the macro cannot see): the function's, as
            // for an unsuffixed literal.
            Expr::MethodCall(m) if rules::method(&m.method.to_string()).is_some() => {
                self.guess_type(&m.receiver).or_else(|| {
                    let integers_have = [
                        "abs",
                        "max",
                        "min",
                        "pow",
                        "signum",
                        "clamp",
                        "rem_euclid",
                        "div_euclid",
                    ];
                    let method = m.method.to_string();
                    (!integers_have.contains(&method.as_str())).then(|| self.ret.to_type())
                })
            }
            Expr::MethodCall(m) if m.method == "len" => Some(syn::parse_quote!(usize)),
            // `r.to_vec()`, `r.clone()` of a list: a `Vec` of its elements.
            Expr::MethodCall(m)
                if m.method == "to_vec" || m.method == "to_owned" || m.method == "clone" =>
            {
                let element = element_type(&self.guess_type(&m.receiver)?)?;
                Some(syn::parse_quote!(::std::vec::Vec<#element>))
            }
            // `r[n]`: an element of a list whose type is known.
            Expr::Index(index) => match self.array_local(&index.expr) {
                Some(array) if self.nodes[array].float(&self.floats).is_some() => self.nodes[array]
                    .float(&self.floats)
                    .as_ref()
                    .map(FloatTy::to_type),
                // A data slice parameter: its elements' type where the
                // signature says (`r: &[usize]`), else a float array too.
                Some(array) if matches!(self.nodes[array].kind, NodeKind::Param) => self.nodes
                    [array]
                    .ty
                    .as_ref()
                    .and_then(element_type)
                    .or_else(|| Some(self.ret.to_type())),
                _ => element_type(&self.guess_type(&index.expr)?),
            },
            Expr::MethodCall(m) if m.method == "unwrap" => self.guess_type(&m.receiver),
            // Integer arithmetic by method keeps the receiver's type.
            Expr::MethodCall(m)
                if [
                    "saturating_sub",
                    "saturating_add",
                    "wrapping_sub",
                    "wrapping_add",
                    "abs_diff",
                    "pow",
                    "div_ceil",
                ]
                .contains(&m.method.to_string().as_str()) =>
            {
                self.guess_type(&m.receiver)
            }
            Expr::Call(c) => match strip_parens(&c.func) {
                // An activation (`sigmoid(v)`): its argument's type.
                Expr::Path(p)
                    if p.path
                        .get_ident()
                        .is_some_and(|f| rules::runtime(&f.to_string()).is_some()) =>
                {
                    c.args.first().and_then(|a| {
                        self.guess_type(a)
                            .or_else(|| literal_float(a, &self.floats).map(|f| f.to_type()))
                    })
                }
                Expr::Path(p) => {
                    float_function(&p.path, &self.floats).map(|(float, _)| float.to_type())
                }
                _ => None,
            },
            _ => None,
        }
    }
}

#[derive(Default)]
pub(super) struct LocalFinder {
    names: Vec<String>,
    /// Names a closure inside binds, while its body is searched.
    shadowed: Vec<String>,
}

impl<'ast> Visit<'ast> for LocalFinder {
    fn visit_expr_path(&mut self, expr: &'ast syn::ExprPath) {
        if expr.qself.is_none() {
            if let Some(ident) = expr.path.get_ident() {
                let name = key(ident);
                if !self.shadowed.contains(&name) {
                    self.names.push(name);
                }
            }
        }
    }

    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        let bound = super::closure_bindings(closure);
        let depth = self.shadowed.len();
        self.shadowed.extend(bound);
        self.visit_expr(&closure.body);
        self.shadowed.truncate(depth);
    }
}

/// Free of side effects and cheap, so it may be spelled again in the backward pass.
pub(super) fn is_pure(expr: &Expr, floats: &Floats) -> bool {
    let pure = |e: &Expr| is_pure(e, floats);
    match expr {
        Expr::Lit(_) | Expr::Path(_) => true,
        Expr::Paren(p) => pure(&p.expr),
        Expr::Group(g) => pure(&g.expr),
        Expr::Unary(u) => pure(&u.expr),
        Expr::Binary(b) => pure(&b.left) && pure(&b.right),
        Expr::Cast(c) => pure(&c.expr),
        Expr::MethodCall(m) => {
            (rules::method(&m.method.to_string()).is_some() || m.method == "unwrap")
                && pure(&m.receiver)
                && m.args.iter().all(pure)
        }
        // `T::from(2.0)`, `T::zero()`, `f64::sqrt(2.0)`: a function of the float
        // type on constants.
        Expr::Call(c) => {
            matches!(strip_parens(&c.func), Expr::Path(p) if float_function(&p.path, floats).is_some())
                && c.args.iter().all(pure)
        }
        _ => false,
    }
}
