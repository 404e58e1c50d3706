//! The arithmetic operators: how each is written, what its result is called,
//! and its derivative rule, in one place.

use crate::rules::{self, Rule};
use proc_macro2::TokenStream;
use quote::quote;
use syn::BinOp;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Operator {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Neg,
    /// `a * a`: one operand, so its adjoint gets one term (`2 a`), not two.
    Square,
    /// `let b = a;` of a differentiated value: a node of its own, so that `b`
    /// has an adjoint of its own, as in the blog.
    Copy,
}

impl Operator {
    /// Every operator, in the order of `rules::OPERATORS` (checked there).
    #[cfg(test)]
    pub const ALL: [Operator; 8] = [
        Operator::Add,
        Operator::Sub,
        Operator::Mul,
        Operator::Div,
        Operator::Rem,
        Operator::Neg,
        Operator::Square,
        Operator::Copy,
    ];

    /// `a + b` and the other arithmetic operators; `None` for comparisons and
    /// logic, which have no derivative.
    pub fn of_binary(op: &BinOp) -> Option<Operator> {
        Some(match op {
            BinOp::Add(_) => Operator::Add,
            BinOp::Sub(_) => Operator::Sub,
            BinOp::Mul(_) => Operator::Mul,
            BinOp::Div(_) => Operator::Div,
            BinOp::Rem(_) => Operator::Rem,
            _ => return None,
        })
    }

    /// `a += b` and the other compound assignments.
    pub fn of_compound(op: &BinOp) -> Option<Operator> {
        Some(match op {
            BinOp::AddAssign(_) => Operator::Add,
            BinOp::SubAssign(_) => Operator::Sub,
            BinOp::MulAssign(_) => Operator::Mul,
            BinOp::DivAssign(_) => Operator::Div,
            BinOp::RemAssign(_) => Operator::Rem,
            _ => return None,
        })
    }

    /// The rule's name in the derivative table (checked there: the rule is
    /// found by position).
    #[cfg(test)]
    pub fn name(self) -> &'static str {
        match self {
            Operator::Add => "add",
            Operator::Sub => "sub",
            Operator::Mul => "mul",
            Operator::Div => "div",
            Operator::Rem => "rem",
            Operator::Neg => "neg",
            Operator::Square => "square",
            Operator::Copy => "copy",
        }
    }

    /// What a result is called when the user did not name it (`sum`, `prod`).
    pub fn hint(self) -> &'static str {
        match self {
            Operator::Add => "sum",
            Operator::Sub => "diff",
            Operator::Mul => "prod",
            Operator::Div => "quot",
            Operator::Rem => "rem",
            Operator::Neg => "neg",
            Operator::Square => "sq",
            Operator::Copy => "copy",
        }
    }

    pub fn rule(self) -> &'static Rule {
        rules::operator(self)
    }

    /// The operator applied to its operands, in the forward pass.
    pub fn apply(self, a: &TokenStream, b: &TokenStream, span: proc_macro2::Span) -> TokenStream {
        match self {
            Operator::Add => quote::quote_spanned!(span=> #a + #b),
            Operator::Sub => quote::quote_spanned!(span=> #a - #b),
            Operator::Mul => quote::quote_spanned!(span=> #a * #b),
            Operator::Div => quote::quote_spanned!(span=> #a / #b),
            Operator::Rem => quote::quote_spanned!(span=> #a % #b),
            Operator::Neg => quote::quote_spanned!(span=> -#a),
            Operator::Square => quote!(#a * #a),
            Operator::Copy => quote!(#a),
        }
    }
}
