//! Generated names never collide with the user's: variables called like the
//! adjoints, the tape or the module's functions just work.

mod common;

use backprop_runtime::differentiate;
use common::assert_gradient;

/// Every local is named like something the generator would want to use.
#[differentiate]
#[allow(clippy::similar_names)]
fn collisions(x: f64, dx: f64, tape: f64) -> f64 {
    let dx1 = x * dx;
    let dx2 = dx1.sin() + tape;
    let d_x = dx2 * x;
    let grad = d_x + x.exp();
    let _t1 = grad * tape;
    let df = _t1 + x * x;
    let value = df / (1.0 + dx * dx);
    let seed = value.cos();
    let sum = seed + x;
    let prod = sum * dx;
    let exp = prod.exp() * 0.1;
    let collisions_out = exp + dx1;
    let forward = collisions_out * 2.0;
    let backward = forward - x;
    let pullback = backward + tape;
    backward * pullback
}

#[differentiate]
fn callee(value: f64) -> f64 {
    value * value
}

/// A user's `dcallee_out` and `callee_out_tape` beside a call.
#[differentiate]
#[allow(clippy::similar_names)]
fn call_collisions(x: f64) -> f64 {
    let dcallee_out = x * 2.0;
    let callee_out_tape = dcallee_out + 1.0;
    callee(callee_out_tape) + callee(x)
}

/// A parameter named like the function, and a result named like its adjoint.
#[differentiate]
fn f(f: f64, df: f64) -> f64 {
    let g = f * df;
    g * f
}

#[test]
fn user_names_that_look_generated() {
    for (x, dx, tape) in [(0.3, 0.7, -0.2), (-1.0, 0.4, 0.5)] {
        check!(collisions(x = x, dx = dx, tape = tape));
    }
}

#[test]
fn names_around_calls() {
    for x in [0.3, -1.2] {
        check!(call_collisions(x = x));
    }
}

#[test]
fn parameters_named_like_the_function() {
    for (a, b) in [(0.3, 0.7), (-1.0, 2.0)] {
        check!(f(f = a, df = b));
    }
}

/// The user's own `Option`, `Vec` or `Result` do not disturb the generated code,
/// which names what it needs by absolute path.
mod shadowed_prelude {
    #![allow(dead_code)]
    use backprop_runtime::differentiate;

    struct Option;
    struct Vec;
    struct Result;
    struct Clone;
    struct Debug;
    fn sigmoid(_: f64) -> f64 {
        unreachable!("the runtime's sigmoid is meant")
    }

    #[differentiate]
    pub fn with_shadows(x: f64) -> f64 {
        backprop_runtime::sigmoid(x) * x
    }
}

#[test]
fn shadowed_prelude_names() {
    let (value, g) = shadowed_prelude::with_shadows::grad(0.4);
    assert_eq!(value, shadowed_prelude::with_shadows(0.4));
    assert_gradient(|v| shadowed_prelude::with_shadows(v[0]), &[0.4], &[g.x]);
}

/// Raw identifiers, also ones that are keywords.
#[differentiate]
fn raw_identifiers(r#type: f64, r#x: f64) -> f64 {
    let r#match = r#type * x;
    r#match.sin() + r#x
}

#[test]
fn raw_identifiers_work() {
    for (a, b) in [(0.3, 0.7), (-1.0, 2.0)] {
        let (value, g) = raw_identifiers::grad(a, b);
        assert_eq!(value, raw_identifiers(a, b));
        assert_gradient(|v| raw_identifiers(v[0], v[1]), &[a, b], &[g.r#type, g.x]);
    }
}

/// Names the loop machinery would pick: stacks, trip counts, copies, flags.
#[differentiate]
#[allow(clippy::similar_names)]
fn loop_collisions(x: f64, w: &[f64], n: usize) -> f64 {
    let mut trips = 0.0;
    let mut running = x;
    let mut broke = 1.0;
    for i in 0..n {
        let x_stack = running * x;
        let w_copy = w[i % w.len()];
        let skipped = x_stack.sin() + w_copy;
        if skipped > 10.0 {
            break;
        }
        running = skipped;
        trips += 1.0;
        broke *= 0.9;
    }
    running * trips + broke
}

#[test]
fn loop_machinery_names() {
    let w = [0.3, -0.2, 0.8];
    for (x, n) in [(0.4, 3), (1.3, 6)] {
        let (value, g) = loop_collisions::grad(x, &w, n);
        assert_eq!(value, loop_collisions(x, &w, n));
        assert_gradient(|v| loop_collisions(v[0], &w, n), &[x], &[g.x]);
        assert_gradient(|v| loop_collisions(x, v, n), &w, &g.w);
    }
}

/// A function called inside a macro's tokens (`vec![..]`) keeps its name: no
/// generated local may take it. (The fuzzer found `softplus(dx)` inside
/// `vec![..]` given a local named `softplus`, which then hid the function
/// for an inactive `softplus(i as f64)` beside it: a compile error.)
mod inside_macros {
    use backprop_runtime::{differentiate, sigmoid, softplus};

    #[differentiate]
    #[allow(clippy::useless_vec)]
    pub fn names_inside_macros(x: f64, n: usize) -> f64 {
        let mut total = 0.0;
        for i in 0..n {
            let parts = vec![
                (softplus(x) + 0.1).ln(),
                x.powf(sigmoid(softplus(i as f64))),
            ];
            total += parts[0] * parts[1];
        }
        total
    }
}
use inside_macros::names_inside_macros;

#[test]
fn functions_named_inside_macros_are_not_shadowed() {
    for (x, n) in [(0.3, 2), (1.2, 3)] {
        let (value, g) = names_inside_macros::grad(x, n);
        assert_eq!(value, names_inside_macros(x, n));
        assert_gradient(|x| names_inside_macros(x[0], n), &[x], &[g.x]);
    }
}

/// A lending call's arguments are computed before the callee's module is
/// glob-imported for the dispatch: a variable named like one of the module's
/// items (`grad`, `tangent`, `forward`) stays the variable. (The fuzzer found
/// `h(&a[0..2], &s[0..2], grad)` passing the callee's `grad` function.)
#[differentiate]
fn weighted_parts(a: &[f64], s: &[f64]) -> f64 {
    let mut grad = 0.0;
    for (forward, &backward) in s.iter().enumerate() {
        let tangent = backward * 0.5;
        grad += weighted_sum(&a[forward..forward + 1], tangent);
    }
    grad + weighted_sum(a, grad)
}

#[differentiate]
#[allow(clippy::needless_range_loop)]
fn weighted_sum(v: &[f64], by: f64) -> f64 {
    let mut total = 0.0;
    for i in 0..v.len() {
        total += v[i] * v[i] * by;
    }
    total
}

#[test]
fn a_variable_named_like_a_callee_item_is_passed_to_a_lending_call() {
    let s = [0.5, -1.0];
    for a in [[0.3, 1.2, -0.4], [1.5, -0.6, 0.2]] {
        let (value, g) = weighted_parts::grad(&a, &s);
        assert_eq!(value, weighted_parts(&a, &s));
        assert_gradient(|a| weighted_parts(a, &s), &a, &g.a);
        // Forward mode's call of the callee's tangent rule, the same way.
        let direction = [1.0, -0.5, 0.25];
        let (_, along) = weighted_parts::tangent(&a, &s, &direction, &[0.0, 0.0]);
        let expected: f64 = g.a.iter().zip(direction).map(|(d, v)| d * v).sum();
        assert!((along - expected).abs() < 1e-12, "{along} {expected}");
    }
}
