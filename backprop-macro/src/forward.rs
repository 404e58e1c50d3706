//! The forward pass: one `let` per node, in the user's order and with the user's
//! names, ending with the result and the tape.

use crate::ir::{Form, Graph, Node, NodeKind, Operand};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use std::collections::BTreeSet;
use syn::visit_mut::VisitMut;

pub fn statements(graph: &Graph, saved_tapes: &BTreeSet<usize>) -> TokenStream {
    let mut body = TokenStream::new();
    for (id, node) in graph.nodes.iter().enumerate() {
        let name = &node.name;
        let annotation = node.annotation.as_ref().map(|ty| quote!(: #ty));
        let statement = match &node.kind {
            NodeKind::Param => continue,
            NodeKind::Call {
                path, args, tape, ..
            } => {
                let args = args.iter().map(|a| argument(graph, a));
                let tape = if saved_tapes.contains(&id) {
                    quote!(#tape)
                } else {
                    quote!(_)
                };
                quote!(let (#name, #tape) = #path::forward(#(#args),*);)
            }
            _ => {
                let value = value(graph, node);
                quote!(let #name #annotation = #value;)
            }
        };
        body.extend(statement);
    }
    body
}

/// An operand where any expression may stand: a call's argument.
pub fn argument(graph: &Graph, operand: &Operand) -> TokenStream {
    match operand {
        Operand::Node(id) => {
            let name = &graph.nodes[*id].name;
            quote!(#name)
        }
        Operand::Const(c) => c.tokens.clone(),
    }
}

/// An operand of an operator or a method's receiver: parenthesised if needed.
fn operand(graph: &Graph, operand: &Operand) -> TokenStream {
    match operand {
        Operand::Node(_) => argument(graph, operand),
        Operand::Const(c) => c.operand_tokens(),
    }
}

fn value(graph: &Graph, node: &Node) -> TokenStream {
    match &node.kind {
        NodeKind::Op { rule, form, args } => {
            let method = Ident::new(rule.name, Span::call_site());
            match form {
                Form::Operator => operator(graph, rule.name, args),
                Form::Method => {
                    let receiver = args.first().map(|a| operand(graph, a));
                    let rest = args.iter().skip(1).map(|a| argument(graph, a));
                    quote!(#receiver.#method(#(#rest),*))
                }
                Form::TypePath(float) => {
                    let args = args.iter().map(|a| argument(graph, a));
                    quote!(#float::#method(#(#args),*))
                }
                Form::Runtime => {
                    let args = args.iter().map(|a| argument(graph, a));
                    quote!(::backprop_runtime::#method(#(#args),*))
                }
            }
        }
        NodeKind::Cast { to, arg } => {
            let arg = operand(graph, arg);
            quote!(#arg as #to)
        }
        NodeKind::Inactive { expr, locals } => {
            let mut expr = expr.clone();
            Rename { graph, locals }.visit_expr_mut(&mut expr);
            quote!(#expr)
        }
        NodeKind::Param | NodeKind::Call { .. } => quote!(),
    }
}

fn operator(graph: &Graph, name: &str, args: &[Operand]) -> TokenStream {
    let a = args.first().map(|a| operand(graph, a)).unwrap_or_default();
    let b = args.get(1).map(|b| operand(graph, b)).unwrap_or_default();
    match name {
        "add" => quote!(#a + #b),
        "sub" => quote!(#a - #b),
        "mul" => quote!(#a * #b),
        "div" => quote!(#a / #b),
        "rem" => quote!(#a % #b),
        "neg" => quote!(-#a),
        "square" => quote!(#a * #a),
        _ => a,
    }
}

/// Renames the user's locals in verbatim code to their nodes' names.
struct Rename<'a> {
    graph: &'a Graph,
    locals: &'a [(String, usize)],
}

impl VisitMut for Rename<'_> {
    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        if let syn::Expr::Path(path) = expr {
            if let Some(ident) = path.path.get_ident() {
                let name = crate::lower::key(ident);
                if let Some((_, id)) = self.locals.iter().find(|(n, _)| *n == name) {
                    let renamed = &self.graph.nodes[*id].name;
                    *expr = syn::parse_quote!(#renamed);
                }
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}
