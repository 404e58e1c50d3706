//! The derivative rules: one table, one line of math per primitive.
//!
//! A rule returns the contribution of one operand to the adjoint of that operand:
//! the upstream adjoint `d` times the local partial derivative, written the way the
//! blog writes it (`dsigx * (sigx * (1.0 - sigx))`). Rules read saved values through
//! [`RuleCtx`], which records what the backward pass needs, so the tape holds
//! exactly that. Adding a primitive is one entry here and nothing elsewhere.
//! Literals are written for `f64`; a generic function's code gets them converted
//! (`FloatTy::literals_in`).

use crate::ir::{FloatTy, Graph, NodeId, NodeKind, Operand, Operator};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use std::collections::BTreeSet;

pub type Partial = fn(&mut RuleCtx, usize) -> TokenStream;

pub struct Rule {
    pub name: &'static str,
    /// Operands, counting a method's receiver.
    pub arity: usize,
    /// `None`: the derivative is zero wherever it exists (`floor`, `signum`), so the
    /// result does not depend on the inputs for differentiation purposes.
    pub partial: Option<Partial>,
}

/// What a rule may read while it writes its partial derivative.
pub struct RuleCtx<'a> {
    pub graph: &'a Graph,
    pub node: NodeId,
    pub adjoint: &'a Ident,
    /// A zero of the adjoint's type where it is not `0.0`: forward mode's
    /// lanes of tangents.
    pub adjoint_zero: Option<&'a TokenStream>,
    /// Values the backward pass reads; these become the tape's fields.
    pub saved: &'a mut BTreeSet<NodeId>,
    /// Whether the rule may read values the function computes after this
    /// node: in the backward pass, which runs after the forward pass; not
    /// in forward mode, which computes a tangent right after its value.
    pub later_values: bool,
}

impl RuleCtx<'_> {
    /// The upstream adjoint.
    fn d(&self) -> TokenStream {
        let d = self.adjoint;
        quote!(#d)
    }

    /// No contribution: the zero a rule's `if` gives on its other side.
    fn none(&self) -> TokenStream {
        match self.adjoint_zero {
            Some(zero) => zero.clone(),
            None => quote!(0.0),
        }
    }

    /// The node's own value, saved by the forward pass.
    fn out(&mut self) -> TokenStream {
        self.saved.insert(self.node);
        let name = &self.graph.nodes[self.node].name;
        quote!(#name)
    }

    fn operand(&self, i: usize) -> &Operand {
        &self.graph.nodes[self.node].args()[i]
    }

    /// Operand `i`'s value: a saved local, or a constant spelled again.
    fn arg(&mut self, i: usize) -> TokenStream {
        match self.operand(i).clone() {
            Operand::Node(id) => {
                self.saved.insert(id);
                let name = &self.graph.nodes[id].name;
                quote!(#name)
            }
            Operand::Const(c) => c.operand_tokens(),
        }
    }

    /// `a.method()`, or `f64::method(2.0)` when the operand is a literal whose type
    /// a method call could not infer.
    fn apply(&mut self, i: usize, method: &str) -> TokenStream {
        let method = Ident::new(method, Span::call_site());
        let is_const = matches!(self.operand(i), Operand::Const(_));
        let a = self.arg(i);
        if is_const {
            let float = self.float();
            quote!(#float::#method(#a))
        } else {
            quote!(#a.#method())
        }
    }

    /// `a.method()` of operand `i` where the function computes it already,
    /// in the same block (`let costheta = theta.cos(); let sintheta =
    /// theta.sin();`: `sin`'s rule reads `costheta`, `cos`'s `sintheta`), so
    /// the backward pass reuses that value instead of calling the function
    /// again; else `apply`. Forward mode reuses only values computed before
    /// the node.
    fn apply_reusing(&mut self, i: usize, method: &str) -> TokenStream {
        if let Operand::Node(arg) = self.operand(i) {
            let (arg, here) = (*arg, &self.graph.nodes[self.node]);
            let last = match self.later_values {
                true => self.graph.nodes.len(),
                false => self.node,
            };
            let companion = (0..last).rev().find(|&id| {
                let node = &self.graph.nodes[id];
                node.region == here.region
                    && matches!(&node.kind, NodeKind::Op { rule, args, .. }
                        if rule.name == method
                            && matches!(args.as_slice(), [Operand::Node(a)] if *a == arg))
            });
            if let Some(id) = companion {
                self.saved.insert(id);
                let name = &self.graph.nodes[id].name;
                return quote!(#name);
            }
        }
        self.apply(i, method)
    }

    /// The float type this node computes in.
    fn float(&self) -> FloatTy {
        self.graph.float_or_ret(self.node)
    }

    fn ln_2(&self) -> TokenStream {
        self.float().constant("LN_2")
    }

    fn pi(&self) -> TokenStream {
        self.float().constant("PI")
    }

    fn ln_10(&self) -> TokenStream {
        self.float().constant("LN_10")
    }

    fn int_literal(&self, i: usize) -> Option<i64> {
        match self.operand(i) {
            Operand::Const(c) => c.int_value(),
            Operand::Node(_) => None,
        }
    }
}

macro_rules! rule {
    ($name:literal, $arity:literal, |$c:ident, $i:ident| $body:expr) => {
        Rule {
            name: $name,
            arity: $arity,
            partial: Some(|$c: &mut RuleCtx, $i: usize| $body),
        }
    };
    ($name:literal, $arity:literal, zero) => {
        Rule {
            name: $name,
            arity: $arity,
            partial: None,
        }
    };
}

/// Arithmetic operators, and the two shapes lowering gives names of their own.
pub static OPERATORS: &[Rule] = &[
    rule!("add", 2, |c, _i| c.d()),
    rule!("sub", 2, |c, i| {
        let d = c.d();
        if i == 0 {
            d
        } else {
            quote!(-#d)
        }
    }),
    rule!("mul", 2, |c, i| {
        let (d, other) = (c.d(), c.arg(1 - i));
        quote!(#d * #other)
    }),
    rule!("div", 2, |c, i| {
        let (d, b) = (c.d(), c.arg(1));
        if i == 0 {
            quote!(#d / #b)
        } else {
            let a = c.arg(0);
            quote!(#d * (-#a / (#b * #b)))
        }
    }),
    rule!("rem", 2, |c, i| {
        let d = c.d();
        if i == 0 {
            d
        } else {
            let (a, b) = (c.arg(0), c.arg(1));
            quote!(-#d * (#a / #b).trunc())
        }
    }),
    rule!("neg", 1, |c, _i| {
        let d = c.d();
        quote!(-#d)
    }),
    // `a * a`: the blog's `dxandy = dxandysqr * 2*xandy`, one term instead of two.
    rule!("square", 1, |c, _i| {
        let (d, a) = (c.d(), c.arg(0));
        quote!(#d * (2.0 * #a))
    }),
    // `let a = x;`: the blog's `dsigx = ddenom * 1`.
    rule!("copy", 1, |c, _i| c.d()),
];

/// Methods of `f32` and `f64`, also callable as `f64::name(..)`.
pub static METHODS: &[Rule] = &[
    rule!("exp", 1, |c, _i| {
        let (d, y) = (c.d(), c.out());
        quote!(#d * #y)
    }),
    rule!("exp2", 1, |c, _i| {
        let (d, y, ln2) = (c.d(), c.out(), c.ln_2());
        quote!(#d * (#y * #ln2))
    }),
    rule!("exp_m1", 1, |c, _i| {
        let (d, y) = (c.d(), c.out());
        quote!(#d * (#y + 1.0))
    }),
    rule!("ln", 1, |c, _i| {
        let (d, a) = (c.d(), c.arg(0));
        quote!(#d / #a)
    }),
    rule!("ln_1p", 1, |c, _i| {
        let (d, a) = (c.d(), c.arg(0));
        quote!(#d / (1.0 + #a))
    }),
    rule!("log", 2, |c, i| {
        let d = c.d();
        let ln_base = c.apply(1, "ln");
        if i == 0 {
            let a = c.arg(0);
            quote!(#d / (#a * #ln_base))
        } else {
            let (y, base) = (c.out(), c.arg(1));
            quote!(-#d * #y / (#base * #ln_base))
        }
    }),
    rule!("log2", 1, |c, _i| {
        let (d, a, ln2) = (c.d(), c.arg(0), c.ln_2());
        quote!(#d / (#a * #ln2))
    }),
    rule!("log10", 1, |c, _i| {
        let (d, a, ln10) = (c.d(), c.arg(0), c.ln_10());
        quote!(#d / (#a * #ln10))
    }),
    rule!("sqrt", 1, |c, _i| {
        let (d, y) = (c.d(), c.out());
        quote!(#d / (2.0 * #y))
    }),
    rule!("cbrt", 1, |c, _i| {
        let (d, y) = (c.d(), c.out());
        quote!(#d / (3.0 * #y * #y))
    }),
    rule!("powi", 2, |c, _i| {
        let d = c.d();
        match c.int_literal(1) {
            // Fold the exponent so the code reads `d * (3.0 * x.powi(2))`.
            Some(2) => {
                let a = c.arg(0);
                quote!(#d * (2.0 * #a))
            }
            Some(n) => {
                let a = c.arg(0);
                let factor = proc_macro2::Literal::f64_unsuffixed(n as f64);
                let exponent = proc_macro2::Literal::i64_unsuffixed(n - 1);
                quote!(#d * (#factor * #a.powi(#exponent)))
            }
            None => {
                let (a, n) = (c.arg(0), c.arg(1));
                let factor = c.float().converted_int(&n);
                quote!(#d * (#factor * #a.powi(#n - 1)))
            }
        }
    }),
    rule!("powf", 2, |c, i| {
        let d = c.d();
        if i == 0 {
            let (a, b) = (c.arg(0), c.arg(1));
            quote!(#d * (#b * #a.powf(#b - 1.0)))
        } else {
            let (y, ln_a) = (c.out(), c.apply(0, "ln"));
            quote!(#d * (#y * #ln_a))
        }
    }),
    rule!("recip", 1, |c, _i| {
        let (d, y) = (c.d(), c.out());
        quote!(-#d * #y * #y)
    }),
    rule!("sin", 1, |c, _i| {
        let (d, cos) = (c.d(), c.apply_reusing(0, "cos"));
        quote!(#d * #cos)
    }),
    rule!("cos", 1, |c, _i| {
        let (d, sin) = (c.d(), c.apply_reusing(0, "sin"));
        quote!(-#d * #sin)
    }),
    rule!("tan", 1, |c, _i| {
        let (d, y) = (c.d(), c.out());
        quote!(#d * (1.0 + #y * #y))
    }),
    rule!("asin", 1, |c, _i| {
        let (d, a) = (c.d(), c.arg(0));
        quote!(#d / (1.0 - #a * #a).sqrt())
    }),
    rule!("acos", 1, |c, _i| {
        let (d, a) = (c.d(), c.arg(0));
        quote!(-#d / (1.0 - #a * #a).sqrt())
    }),
    rule!("atan", 1, |c, _i| {
        let (d, a) = (c.d(), c.arg(0));
        quote!(#d / (1.0 + #a * #a))
    }),
    // `y.atan2(x)`: the receiver is the ordinate.
    rule!("atan2", 2, |c, i| {
        let (d, y, x) = (c.d(), c.arg(0), c.arg(1));
        if i == 0 {
            quote!(#d * #x / (#x * #x + #y * #y))
        } else {
            quote!(-#d * #y / (#x * #x + #y * #y))
        }
    }),
    rule!("sinh", 1, |c, _i| {
        let (d, cosh) = (c.d(), c.apply(0, "cosh"));
        quote!(#d * #cosh)
    }),
    rule!("cosh", 1, |c, _i| {
        let (d, sinh) = (c.d(), c.apply(0, "sinh"));
        quote!(#d * #sinh)
    }),
    rule!("tanh", 1, |c, _i| {
        let (d, y) = (c.d(), c.out());
        quote!(#d * (1.0 - #y * #y))
    }),
    rule!("asinh", 1, |c, _i| {
        let (d, a) = (c.d(), c.arg(0));
        quote!(#d / (#a * #a + 1.0).sqrt())
    }),
    rule!("acosh", 1, |c, _i| {
        let (d, a) = (c.d(), c.arg(0));
        quote!(#d / (#a * #a - 1.0).sqrt())
    }),
    rule!("atanh", 1, |c, _i| {
        let (d, a) = (c.d(), c.arg(0));
        quote!(#d / (1.0 - #a * #a))
    }),
    // At 0 this picks `signum(0.0) == 1.0`, one of the subgradients.
    rule!("abs", 1, |c, _i| {
        let (d, sign) = (c.d(), c.apply(0, "signum"));
        quote!(#d * #sign)
    }),
    rule!("to_degrees", 1, |c, _i| {
        let (d, pi) = (c.d(), c.pi());
        quote!(#d * (180.0 / #pi))
    }),
    rule!("to_radians", 1, |c, _i| {
        let (d, pi) = (c.d(), c.pi());
        quote!(#d * (#pi / 180.0))
    }),
    rule!("signum", 1, zero),
    // Tests of a float: booleans, with no derivative.
    rule!("is_nan", 1, zero),
    rule!("is_finite", 1, zero),
    rule!("is_infinite", 1, zero),
    rule!("is_normal", 1, zero),
    rule!("is_sign_positive", 1, zero),
    rule!("is_sign_negative", 1, zero),
    rule!("floor", 1, zero),
    rule!("ceil", 1, zero),
    rule!("round", 1, zero),
    rule!("trunc", 1, zero),
    rule!("fract", 1, |c, _i| c.d()),
    // `a.rem_euclid(b)` is `a - b * q` with `q` an integer, piecewise
    // constant: `q = (a - r) / b`.
    rule!("rem_euclid", 2, |c, i| {
        let d = c.d();
        if i == 0 {
            d
        } else {
            let (a, b, r) = (c.arg(0), c.arg(1), c.out());
            quote!(-#d * ((#a - #r) / #b))
        }
    }),
    rule!("div_euclid", 2, zero),
    // The magnitude of the receiver with the sign of the argument.
    rule!("copysign", 2, |c, i| {
        if i == 0 {
            let (d, a, b) = (c.d(), c.arg(0), c.arg(1));
            quote!(#d * (#a.signum() * #b.signum()))
        } else {
            c.none()
        }
    }),
    // Ties go to the receiver, as `f64::max` returns it.
    rule!("max", 2, |c, i| {
        let (d, a, b, none) = (c.d(), c.arg(0), c.arg(1), c.none());
        if i == 0 {
            quote!(if #a >= #b { #d } else { #none })
        } else {
            quote!(if #a >= #b { #none } else { #d })
        }
    }),
    rule!("min", 2, |c, i| {
        let (d, a, b, none) = (c.d(), c.arg(0), c.arg(1), c.none());
        if i == 0 {
            quote!(if #a <= #b { #d } else { #none })
        } else {
            quote!(if #a <= #b { #none } else { #d })
        }
    }),
    rule!("clamp", 3, |c, i| {
        let (d, a, lo, hi, none) = (c.d(), c.arg(0), c.arg(1), c.arg(2), c.none());
        match i {
            0 => quote!(if (#lo..=#hi).contains(&#a) { #d } else { #none }),
            1 => quote!(if #a < #lo { #d } else { #none }),
            _ => quote!(if #a > #hi { #d } else { #none }),
        }
    }),
    rule!("hypot", 2, |c, i| {
        let (d, y, a) = (c.d(), c.out(), c.arg(i));
        quote!(#d * #a / #y)
    }),
    // `a.mul_add(b, c)` is `a * b + c`.
    rule!("mul_add", 3, |c, i| {
        let d = c.d();
        match i {
            0 => {
                let b = c.arg(1);
                quote!(#d * #b)
            }
            1 => {
                let a = c.arg(0);
                quote!(#d * #a)
            }
            _ => d,
        }
    }),
];

/// The activations `backprop_runtime` provides, called as `sigmoid(x)`.
pub static RUNTIME: &[Rule] = &[
    // The blog's `sigma' = sigma * (1 - sigma)`, reusing the saved output.
    rule!("sigmoid", 1, |c, _i| {
        let (d, y) = (c.d(), c.out());
        quote!(#d * (#y * (1.0 - #y)))
    }),
    rule!("relu", 1, |c, _i| {
        let (d, a, none) = (c.d(), c.arg(0), c.none());
        quote!(if #a > 0.0 { #d } else { #none })
    }),
    rule!("softplus", 1, |c, _i| {
        let (d, a) = (c.d(), c.arg(0));
        quote!(#d * ::backprop_runtime::sigmoid(#a))
    }),
];

/// An operator's rule: `OPERATORS` lists them in `Operator::ALL`'s order
/// (checked by a test).
pub fn operator(op: Operator) -> &'static Rule {
    &OPERATORS[op as usize]
}

pub fn method(name: &str) -> Option<&'static Rule> {
    lookup(METHODS, name)
}

/// Whether a float method is a test, `x.is_nan()`: its value a `bool`.
pub fn is_test(name: &str) -> bool {
    name.starts_with("is_") && method(name).is_some()
}

pub fn runtime(name: &str) -> Option<&'static Rule> {
    lookup(RUNTIME, name)
}

fn lookup(table: &'static [Rule], name: &str) -> Option<&'static Rule> {
    table.iter().find(|rule| rule.name == name)
}

/// The supported method names, for error messages.
pub fn method_names() -> String {
    METHODS
        .iter()
        .map(|r| r.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::{METHODS, OPERATORS, RUNTIME};
    use crate::ir::Operator;

    /// `operator` finds an operator's rule by its position.
    #[test]
    fn operators_are_in_the_order_of_the_enum() {
        assert_eq!(OPERATORS.len(), Operator::ALL.len());
        for op in Operator::ALL {
            assert_eq!(op.rule().name, op.name(), "{op:?}");
        }
    }

    #[test]
    fn names_are_unique() {
        let mut all: Vec<&str> = OPERATORS
            .iter()
            .chain(METHODS)
            .chain(RUNTIME)
            .map(|r| r.name)
            .collect();
        all.sort_unstable();
        let count = all.len();
        all.dedup();
        assert_eq!(all.len(), count);
    }
}
