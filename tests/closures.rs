//! Closures bound with `let` inside a differentiated function are inlined at
//! each call, with the variables they captured where they were written.

mod common;

use backprop_runtime::differentiate;
use common::assert_gradient;

#[differentiate]
fn with_closures(x: f64, y: f64) -> f64 {
    let scale = x * 0.5;
    let bump = |t: f64| (t * scale).exp();
    let square = |t| t * t;
    // Shadowing after the closure does not change what it captured.
    let scale = 10.0;
    let mut total = 0.0;
    for i in 0..3 {
        total += bump(y + i as f64) * scale;
    }
    total + square(bump(x)) + square(2.0)
}

#[differentiate]
fn closure_with_a_body(w: &[f64], x: f64) -> f64 {
    let activate = |z: f64| {
        if z > 0.0 {
            z
        } else {
            0.1 * z
        }
    };
    let mut out = 0.0;
    for wi in w {
        out += activate(wi * x);
    }
    out
}

/// A closure over a list (`|v: &[f64]|`), called with the function's lists:
/// its loops and chains read them by index.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn closure_over_lists(x: &[f64], y: &[f64]) -> f64 {
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let weighted = |v: &[f64], k: f64| {
        let mut s = 0.0;
        for i in 0..v.len() {
            s += v[i] * k.powi(i as i32);
        }
        s
    };
    norm(x) * norm(y) + weighted(y, x[0])
}

#[test]
fn closures_are_inlined() {
    let (x, y) = ([0.5, -1.0, 2.0], [1.5, 0.25, -0.75]);
    let (value, g) = closure_over_lists::grad(&x, &y);
    assert_eq!(value, closure_over_lists(&x, &y));
    assert_gradient(|v| closure_over_lists(v, &y), &x, &g.x);
    assert_gradient(|v| closure_over_lists(&x, v), &y, &g.y);
    for (x, y) in [(0.3, -0.4), (-1.0, 0.8)] {
        check!(with_closures(x = x, y = y));
    }
    let w = [0.5, -1.0, 2.0];
    // Both sides of the closure's branch.
    for x in [0.7, -0.3] {
        let (value, g) = closure_with_a_body::grad(&w, x);
        assert_eq!(value, closure_with_a_body(&w, x));
        assert_gradient(|w| closure_with_a_body(w, x), &w, &g.w);
        assert_gradient(|v| closure_with_a_body(&w, v[0]), &[x], &[g.x]);
    }
}

/// Closures returning arrays, as an ODE's right-hand side is written: an
/// array literal as the value (was refused: "an array of differentiated
/// values is supported as a variable"), with a type or a block.
#[differentiate(wrt(k, c))]
fn euler_with_closures(k: f64, c: f64, observed: &[f64]) -> f64 {
    let rhs = |s: [f64; 2]| -> [f64; 2] { [s[1], -k * s[0] - c * s[1]] };
    let step = |s: [f64; 2], d: [f64; 2]| [s[0] + 0.1 * d[0], s[1] + 0.1 * d[1]];
    let mut s = [1.0, 0.0];
    let mut loss = 0.0;
    for &o in observed {
        let d = rhs(s);
        s = step(s, d);
        loss += (s[0] - o).powi(2);
    }
    loss
}

#[test]
fn closures_returning_arrays() {
    let observed: Vec<f64> = (0..20).map(|i| (i as f64 * 0.3).cos() * 0.9).collect();
    for (k, c) in [(2.0, 0.3), (0.7, -0.2)] {
        let (value, g) = euler_with_closures::grad(k, c, &observed);
        assert_eq!(value, euler_with_closures(k, c, &observed));
        let f = |v: &[f64]| euler_with_closures(v[0], v[1], &observed);
        assert_gradient(f, &[k, c], &[g.k, g.c]);
    }
}

/// Closures returning tuples: destructured, bound and read by element,
/// one element of a call read directly, and a body with a `let` before
/// its tuple (were refused: "a tuple of differentiated values is supported
/// bound by a `let`").
#[differentiate]
fn closures_returning_tuples(x: f64, y: f64) -> f64 {
    let scaled = |s: f64| (s.sin() * y, s.cos());
    let (a, b) = scaled(x);
    let c = scaled(y * 2.0);
    let polar = |t: f64| {
        let r = x * x + 1.0;
        (r * t.cos(), r * t.sin())
    };
    let mut total = 0.0;
    for k in 0..3 {
        let (px, py) = polar(k as f64 * 0.5 + y);
        total += px * py;
    }
    a * b + c.0 * c.1 + scaled(x + y).1 + total
}

#[test]
fn closures_returning_tuples_are_one_closure_per_element() {
    for (x, y) in [(0.3, -0.7), (1.1, 0.4)] {
        let (value, g) = closures_returning_tuples::grad(x, y);
        assert_eq!(value, closures_returning_tuples(x, y));
        assert_gradient(
            |v| closures_returning_tuples(v[0], v[1]),
            &[x, y],
            &[g.x, g.y],
        );
    }
}

/// A closure over a state array passed by reference, `rhs(&y)`, as an ODE
/// step's right-hand side is written: the parameter names the array.
#[differentiate]
fn midpoint_steps(k: f64, y0: &[f64]) -> f64 {
    let mut y = [y0[0], y0[1]];
    let rhs = |state: &[f64; 2]| -> [f64; 2] { [state[1], -k * state[0].sin()] };
    let dt = 0.05;
    for _ in 0..20 {
        let slope = rhs(&y);
        let half = [y[0] + 0.5 * dt * slope[0], y[1] + 0.5 * dt * slope[1]];
        let mid = rhs(&half);
        y[0] += dt * mid[0];
        y[1] += dt * mid[1];
    }
    y[0] * y[0] + y[1]
}

#[test]
fn a_closure_given_an_array_by_reference() {
    for (k, y0) in [(2.0, [0.5, 0.0]), (0.7, [-1.0, 0.3])] {
        let (value, g) = midpoint_steps::grad(k, &y0);
        assert_eq!(value, midpoint_steps(k, &y0));
        let mut all = vec![k];
        all.extend_from_slice(&y0);
        let mut analytic = vec![g.k];
        analytic.extend_from_slice(&g.y0);
        common::assert_gradient(|p| midpoint_steps(p[0], &p[1..]), &all, &analytic);
    }
}
