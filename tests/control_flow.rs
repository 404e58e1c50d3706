//! Branches and loops: the gradient of the path the forward pass took, checked
//! against central finite differences on both sides of every branch and at trip
//! counts 0, 1 and many.

mod common;

use backprop_runtime::differentiate;
use common::{assert_gradient, Rng};

#[differentiate]
fn if_expression(x: f64, y: f64) -> f64 {
    let a = if x > y { x * y } else { y.sin() - x };
    a * a + x
}

#[differentiate]
fn huber(residual: f64, delta: f64) -> f64 {
    if residual.abs() <= delta {
        0.5 * residual * residual
    } else {
        delta * (residual.abs() - 0.5 * delta)
    }
}

#[differentiate]
fn leaky_relu(x: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        0.01 * x
    }
}

/// A statement `if` without `else` that assigns outer variables.
#[differentiate]
fn assigns_in_one_branch(x: f64, y: f64) -> f64 {
    let mut a = x * 2.0;
    let mut b = y;
    if x < y {
        a *= y;
        b += x.exp();
    }
    a + b * b
}

#[differentiate]
fn else_if_chain(x: f64, n: i32, flag: bool) -> f64 {
    let scale = if n > 2 && flag {
        x.powi(3)
    } else if n == 2 || !flag {
        x.sin() * 2.0
    } else {
        let t = x * x;
        t.sqrt() + t
    };
    scale * x
}

#[differentiate]
fn nested_branches(x: f64, y: f64) -> f64 {
    let mut out = x;
    if x > 0.0 {
        if y > 0.0 {
            out *= y;
        } else {
            out -= y * y;
        }
        out = out.tanh();
    } else {
        out = (out * y).exp();
    }
    out + y
}

#[differentiate]
fn accumulate(x: f64, n: usize) -> f64 {
    let mut acc = 0.0;
    for i in 0..n {
        acc += x * i as f64 + x.sin();
    }
    acc
}

/// Horner's rule over constant coefficients.
#[differentiate]
fn horner(x: f64) -> f64 {
    let mut p = 0.0;
    for c in [1.5, -2.0, 0.5, 3.0] {
        p = p * x + c;
    }
    p
}

/// A loop over differentiable values: unrolled.
#[differentiate]
fn over_values(a: f64, b: f64, c: f64) -> f64 {
    let mut sum = 0.0;
    let mut product = 1.0;
    for v in [a, b, c] {
        sum += v * v;
        product *= v;
    }
    sum + product
}

#[differentiate]
fn ranges(x: f64, n: usize) -> f64 {
    let mut a = x;
    for i in (0..n).rev() {
        a = a * 0.5 + (i as f64) * x;
    }
    for i in (1..=n).step_by(2) {
        a += x.powi(i as i32);
    }
    a
}

/// Newton's method for the square root: the gradient of the iteration.
#[differentiate]
fn newton_sqrt(x: f64) -> f64 {
    let mut y = x;
    for _ in 0..30 {
        y = 0.5 * (y + x / y);
    }
    y
}

#[differentiate]
fn nested_loops(x: f64, y: f64, n: usize) -> f64 {
    let mut total = 0.0;
    for i in 0..n {
        let mut row = y;
        for j in 0..3 {
            row = row * x + (i * j) as f64;
        }
        total += row.sin();
    }
    total
}

/// A branch inside a loop, with a loop-carried value.
#[differentiate]
fn branch_in_loop(x: f64, n: usize) -> f64 {
    let mut p = x;
    let mut count = 0;
    for i in 0..n {
        let step = p * x;
        if step > 1.0 || i % 3 == 0 {
            p = step.ln_1p();
            count += 1;
        } else {
            p += x;
        }
    }
    p * count as f64 + p
}

/// A loop inside a branch.
#[differentiate]
fn loop_in_branch(x: f64, n: usize) -> f64 {
    let mut a = x;
    if n > 1 {
        for _ in 0..n {
            a *= x;
        }
    } else {
        a = a.exp();
    }
    a
}

/// Two loop variables feeding each other.
#[differentiate]
fn coupled(x: f64, y: f64, n: usize) -> f64 {
    let mut p = x;
    let mut q = y;
    for _ in 0..n {
        let old_p = p;
        p = p * 0.9 + q * 0.1;
        q = q * 0.9 - old_p.sin() * 0.1;
    }
    p * q
}

#[differentiate]
fn helper(x: f64, k: f64) -> f64 {
    (x * k).tanh()
}

/// A differentiated callee inside a loop: its tapes are stacked.
#[differentiate]
fn calls_in_loop(x: f64, n: usize) -> f64 {
    let mut a = x;
    for i in 0..n {
        a = helper(a, x) + i as f64;
    }
    a
}

fn points(seed: u64, count: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..count).map(|_| rng.uniform(lo, hi)).collect()
}

#[test]
fn if_as_an_expression_on_both_sides() {
    for (x, y) in [(2.0, 1.0), (0.5, 1.5), (-1.0, -2.0), (-2.0, 0.3)] {
        check!(if_expression(x = x, y = y));
    }
}

#[test]
fn huber_loss_on_both_sides() {
    for (r, d) in [(0.3, 1.0), (-0.5, 1.0), (2.0, 1.0), (-3.0, 0.5)] {
        check!(huber(residual = r, delta = d));
    }
}

#[test]
fn leaky_relu_on_both_sides() {
    for x in [-2.0, -0.1, 0.1, 3.0] {
        check!(leaky_relu(x = x));
    }
}

#[test]
fn a_branch_that_assigns_outer_variables() {
    for (x, y) in [(0.5, 1.5), (1.5, 0.5), (-1.0, 0.0)] {
        check!(assigns_in_one_branch(x = x, y = y));
    }
}

#[test]
fn else_if_chains_on_every_arm() {
    for (n, flag) in [(3, true), (2, true), (5, false), (1, true)] {
        for x in [0.7, 1.9] {
            check!(else_if_chain(x = x, n, flag));
        }
    }
}

#[test]
fn nested_branches_on_every_path() {
    for (x, y) in [(0.5, 1.5), (0.5, -1.5), (-0.5, 1.5), (-0.5, -1.5)] {
        check!(nested_branches(x = x, y = y));
    }
}

#[test]
fn loops_at_zero_one_and_many_trips() {
    for n in [0, 1, 2, 17] {
        for x in points(n as u64 + 1, 3, -2.0, 2.0) {
            check!(accumulate(x = x, n));
            check!(ranges(x = x, n));
            check!(nested_loops(x = x, y = 0.3, n));
        }
    }
}

#[test]
fn loops_over_arrays() {
    for x in points(5, 5, -2.0, 2.0) {
        check!(horner(x = x));
        check!(over_values(a = x, b = 0.5, c = -1.5));
    }
}

#[test]
fn newton_iteration() {
    for x in [0.5, 2.0, 9.0] {
        let (value, g) = newton_sqrt::grad(x);
        assert_eq!(value, newton_sqrt(x));
        assert!((value - x.sqrt()).abs() < 1e-12);
        // The iteration's derivative converges to the derivative of the square root.
        assert!(
            (g.x - 0.5 / x.sqrt()).abs() < 1e-9,
            "{} vs {}",
            g.x,
            0.5 / x.sqrt()
        );
        assert_gradient(|v| newton_sqrt(v[0]), &[x], &[g.x]);
    }
}

#[test]
fn branches_inside_loops_and_loops_inside_branches() {
    for n in [0, 1, 4, 9] {
        for x in points(n as u64 + 10, 4, 0.1, 1.4) {
            check!(branch_in_loop(x = x, n));
            check!(loop_in_branch(x = x, n));
        }
    }
}

/// Variables that trade values each iteration: the next value of one is the
/// other's value at the start, so neither can be read from the variable once
/// the other is assigned.
#[allow(clippy::manual_swap)]
#[differentiate]
fn trading_places(x: f64, y: f64, n: usize) -> f64 {
    let mut a = x;
    let mut b = y;
    let mut c = x * y;
    for _ in 0..n {
        let t = a;
        a = b;
        b = t;
        (a, c) = (c, a * 0.5);
    }
    a * 2.0 + b * 3.0 + c
}

#[test]
fn variables_that_swap_inside_a_loop() {
    for n in [0, 1, 2, 3, 7] {
        for (x, y) in [(0.4, -0.8), (1.3, 0.2)] {
            check!(trading_places(x = x, y = y, n));
        }
    }
}

#[test]
fn coupled_loop_variables() {
    for n in [0, 1, 5, 30] {
        for (x, y) in [(0.4, -0.8), (1.3, 0.2)] {
            check!(coupled(x = x, y = y, n));
        }
    }
}

#[test]
fn differentiated_calls_inside_loops() {
    for n in [0, 1, 6] {
        for x in [0.3, -0.9] {
            check!(calls_in_loop(x = x, n));
        }
    }
}

/// `a <- a * (1 + x / n)` a million times: the gradient is right, and the tape
/// holds one value per iteration for the one stack the product rule needs.
#[differentiate]
fn compound_growth(x: f64, n: usize) -> f64 {
    let mut a = 1.0;
    let rate = 1.0 + x / n as f64;
    for _ in 0..n {
        a *= rate;
    }
    a
}

#[test]
fn a_million_iterations() {
    let n = 1_000_000;
    let x = 0.7;
    let (value, g) = compound_growth::grad(x, n);
    let exact = (1.0 + x / n as f64).powi(n as i32);
    assert!((value - exact).abs() < 1e-6 * exact);
    // d/dx (1 + x/n)^n = (1 + x/n)^(n-1)
    let derivative = (1.0 + x / n as f64).powi(n as i32 - 1);
    assert!(
        (g.x - derivative).abs() < 1e-6 * derivative,
        "{} vs {derivative}",
        g.x
    );
    let (_, tape) = compound_growth::forward(x, n);
    // The iteration-start value of `a` (its second version, `a_2`) is all the
    // product rule needs; `rate` is saved once, and the range's bound, which
    // the backward pass runs again reversed.
    assert_eq!(tape.a_2.len(), n);
    assert_eq!(tape.rate, 1.0 + x / n as f64);
    assert_eq!(tape.n, n);
}

#[differentiate]
fn with_continue(x: f64, n: usize) -> f64 {
    let mut acc = 0.0;
    for i in 0..n {
        if i % 2 == 1 {
            continue;
        }
        let term = x.powi(i as i32);
        acc += term;
        if acc > 100.0 {
            continue;
        }
        acc *= 1.01;
    }
    acc
}

#[differentiate]
fn with_break(x: f64, n: usize) -> f64 {
    let mut y = x;
    for _ in 0..n {
        y = y * y + 0.1;
        if y > 5.0 {
            break;
        }
        y *= 0.9;
    }
    y
}

/// A `break` that ends the body, over a constant range: the loop may stop
/// before its range ends, so the backward pass must not replay all ten
/// iterations.
#[differentiate]
fn heron_sqrt(a: f64) -> f64 {
    let mut r = a.max(1.0);
    for _ in 0..10 {
        let next = 0.5 * (r + a / r);
        let step = (next - r).abs();
        r = next;
        if step < 1e-3 {
            break;
        }
    }
    r
}

/// A `while` whose body ends in a `break` tested on a value of the body.
#[differentiate]
fn while_with_final_break(x: f64, limit: f64) -> f64 {
    let mut v = x;
    let mut k = 0;
    while v < limit {
        let grown = v * 1.3 + x.sin();
        v = grown;
        k += 1;
        if k == 6 {
            break;
        }
    }
    v * x
}

/// `continue` after work of its own, and a labelled `continue` of the loop
/// itself.
#[differentiate]
fn continue_after_work(x: f64, n: usize) -> f64 {
    let mut acc = x;
    'steps: for i in 0..n {
        if i % 3 == 0 {
            acc = acc * 0.5 + x;
            continue 'steps;
        }
        if acc > 4.0 {
            continue;
        }
        acc += x * x;
    }
    acc
}

#[differentiate]
fn labelled(x: f64, n: usize) -> f64 {
    let mut total = 0.0;
    'rows: for i in 0..n {
        for j in 0..n {
            if j > i {
                continue 'rows;
            }
            total += x * (i + j) as f64;
            if total > 50.0 {
                break 'rows;
            }
        }
        total = total.sin() + x;
    }
    total
}

#[differentiate]
fn while_loop(x: f64) -> f64 {
    let mut y = x;
    let mut steps = 0;
    while y < 10.0 && steps < 100 {
        y = y * 1.5 + x;
        steps += 1;
    }
    y / f64::from(steps + 1)
}

#[differentiate]
fn plain_loop(x: f64) -> f64 {
    let mut y = x;
    loop {
        y = y.sin() + y * 1.2;
        if y > 3.0 {
            break;
        }
    }
    y
}

#[differentiate]
fn early_returns(x: f64, n: usize) -> f64 {
    if x < 0.0 {
        return x * x;
    }
    let mut y = x;
    for i in 0..n {
        y = y * 1.1 + i as f64;
        if y > 20.0 {
            return y.ln();
        }
    }
    y.sqrt()
}

/// An early return whose `if` has an `else` that goes on (`else { y += ..;
/// }`): the rest of the body runs after that `else`. (A plain helper
/// written so was not inlined: rustc reported "`hn` is not a crate or
/// module" at its call.)
#[differentiate]
fn return_or_else(x: f64, n: usize) -> f64 {
    let mut y = x * 0.5;
    if x < 0.0 {
        return y * y;
    } else if n > 3 {
        return y.exp();
    } else {
        y += x.sin();
        for _ in 0..n {
            y *= 1.1;
        }
    }
    shifted_unless_small(y, x) + y
}

#[allow(clippy::needless_else)]
fn shifted_unless_small(a: f64, b: f64) -> f64 {
    let t = a * 2.0;
    if a < 0.25 {
        return t;
    } else {
    }
    t + b * b
}

/// A `loop`'s value, as Newton's method is written in Rust: `let root =
/// loop { .. break x; .. };` (was refused: "`break` with a value is not
/// supported"), two `break`s with the same value.
#[differentiate]
fn newton_root(a: f64) -> f64 {
    let mut x = a;
    let mut n = 0;
    let root = loop {
        n += 1;
        if n > 50 {
            break x;
        }
        let next = x - (x.cos() - x) / (-x.sin() - 1.0);
        if (next - x).abs() < 1e-13 {
            break x;
        }
        x = next;
    };
    root * a
}

/// A labelled `loop` as the body's value, left from an inner loop (`break
/// 'outer x * y`) and from its own body.
#[differentiate]
fn loop_as_value(a: f64, b: f64) -> f64 {
    let mut x = a;
    let mut y = b;
    'outer: loop {
        for _ in 0..3 {
            x = x * 0.5 + y;
            if x > 10.0 {
                break 'outer x * y;
            }
        }
        y += 1.0;
        if y > 5.0 {
            break x * y;
        }
    }
}

#[test]
fn loops_with_values() {
    for a in [0.5, 2.0, -0.3] {
        check!(newton_root(a = a));
    }
    // Each `break` in turn, away from where one takes over from the other.
    for (a, b) in [(0.5, 0.2), (3.1, 4.3), (1.0, 1.7), (9.0, 6.5)] {
        check!(loop_as_value(a = a, b = b));
    }
}

#[differentiate]
fn matches(x: f64, n: u8, flag: bool) -> f64 {
    let scale = match n {
        0 => x,
        1 | 2 => x * x,
        3..=5 => {
            let t = x.sin();
            t * 2.0
        }
        _ if flag => x.exp(),
        _ => -x,
    };
    let mut extra = 0.0;
    match n % 3 {
        0 => extra += x,
        _ => {
            extra -= scale;
        }
    }
    scale + extra
}

#[test]
fn continue_skips_the_rest_of_the_iteration() {
    for n in [0, 1, 2, 7, 12] {
        for x in [0.5, 1.2, 2.5] {
            check!(with_continue(x = x, n));
        }
    }
}

#[test]
fn break_leaves_the_loop() {
    for n in [0, 1, 3, 20] {
        for x in [0.3, 1.1, 2.2] {
            check!(with_break(x = x, n));
        }
    }
}

#[test]
fn a_break_that_ends_the_body_stops_between_iterations() {
    // Converges in a few steps (break), or runs all ten (large `a`).
    for a in [0.3, 2.0, 9.0, 1e6] {
        check!(heron_sqrt(a = a));
    }
    let (_, tape) = heron_sqrt::forward(2.0);
    assert!(tape.trips < 10, "stopped early: {} trips", tape.trips);
    // The loop stops at the condition, at the `break`, or never runs.
    for (x, limit) in [(0.5, 2.0), (0.5, 1e9), (3.0, 1.0), (0.1, 0.4)] {
        check!(while_with_final_break(x = x, limit = limit));
    }
}

#[test]
fn continue_after_work_of_its_own() {
    for n in [0, 1, 4, 9] {
        for x in [0.3, 1.5, 2.5] {
            check!(continue_after_work(x = x, n));
        }
    }
}

#[test]
fn labelled_break_and_continue() {
    for n in [0, 1, 3, 6] {
        for x in [0.2, 1.0, 3.0] {
            check!(labelled(x = x, n));
        }
    }
}

#[test]
fn while_and_loop() {
    for x in [0.5, 2.0, 12.0] {
        check!(while_loop(x = x));
        check!(plain_loop(x = x));
    }
}

#[test]
fn return_from_anywhere() {
    for n in [0, 1, 5, 40] {
        for x in [-1.5, 0.7, 3.0, 25.0] {
            check!(early_returns(x = x, n));
            check!(return_or_else(x = x, n));
        }
    }
}

#[test]
fn match_on_every_arm() {
    for n in 0..8 {
        for flag in [true, false] {
            for x in [0.4, -1.3] {
                check!(matches(x = x, n, flag));
            }
        }
    }
}

/// `match` inside a loop, on a value computed from the inputs and on a
/// `bool` with no `_` arm: each iteration's reverse takes the arm its
/// forward took.
#[differentiate]
fn match_in_loop(x: f64, n: usize, flag: bool) -> f64 {
    let mut y = x;
    for i in 0..n {
        let bucket = (y.abs() * 3.0) as u32 % 4;
        y = match bucket {
            0 => y * 1.5 + 0.1,
            1 | 2 => y.sin() + x,
            _ => y * x * 0.5,
        };
        match flag {
            true => y += i as f64 * 0.01,
            false => y -= x * 0.1,
        }
    }
    y
}

#[test]
fn match_inside_a_loop() {
    for n in [0, 1, 2, 5, 9] {
        for flag in [true, false] {
            for x in [0.2, 0.45, 0.9, -1.3] {
                check!(match_in_loop(x = x, n, flag));
            }
        }
    }
}

/// A loop condition with a side effect (Clad issue 746's shape).
#[differentiate]
fn condition_with_side_effect(x: f64, n: usize) -> f64 {
    let mut i = 0;
    let mut y = x;
    while {
        i += 1;
        i <= n
    } {
        y = y * x + 1.0;
    }
    y * i as f64
}

/// Locals declared inside loop bodies, shadowing outer names (Clad issue 440's
/// shape, with values instead of references).
#[differentiate]
fn locals_in_loops(x: f64, n: usize) -> f64 {
    let t = x * 2.0;
    let mut acc = t;
    for i in 0..n {
        let t = acc * x;
        let u = t.sin() + i as f64;
        let mut inner = u;
        for _ in 0..2 {
            let t = inner * 0.5;
            inner = t + x;
        }
        acc = inner + t;
    }
    acc + t
}

#[test]
fn conditions_with_side_effects() {
    for n in [0, 1, 4] {
        for x in [0.3, 0.9] {
            check!(condition_with_side_effect(x = x, n));
        }
    }
}

#[test]
fn locals_declared_inside_loops() {
    for n in [0, 1, 3] {
        for x in [0.3, -0.7] {
            check!(locals_in_loops(x = x, n));
        }
    }
}

#[differentiate]
fn running_sum(x: f64, n: usize) -> f64 {
    let mut acc = 0.0;
    for _ in 0..n {
        acc += x;
    }
    acc
}

#[test]
fn an_accumulator_saves_nothing() {
    // `acc += x` needs no value in the backward pass: the tape holds only the
    // range's bound, for the reversed loop.
    let (_, tape) = running_sum::forward(0.5, 1000);
    let running_sum::Tape { n } = tape;
    assert_eq!(n, 1000);
    assert_eq!(running_sum::grad(0.5, 1000).1.x, 1000.0);
}

#[derive(Clone, Copy)]
// `Scaled`'s field is never read: it is there for the `Scaled(..)` pattern.
#[allow(dead_code)]
enum Shape {
    Line,
    Parabola,
    Scaled(f64),
}

const THRESHOLD: u32 = 3;

#[differentiate]
fn match_enum(x: f64, shape: Shape, k: u32) -> f64 {
    let base = match shape {
        Shape::Line => x,
        Shape::Parabola => x * x,
        Shape::Scaled(..) => x.exp(),
    };
    match k {
        THRESHOLD => base * 3.0,
        0 | 1 => base,
        n if n > 10 => base.sin(),
        _ => base + x,
    }
}

#[test]
fn match_on_enums_constants_and_guards() {
    for shape in [Shape::Line, Shape::Parabola, Shape::Scaled(2.0)] {
        for k in [0, 1, 3, 5, 11] {
            for x in [0.4, -1.1] {
                check!(match_enum(x = x, shape, k));
            }
        }
    }
}

// Loops of at most four iterations over a literal range, straight-line
// bodies: written out by the macro (`desugar/unroll.rs`), so their values
// are fields of the tape and nothing is pushed on a stack.

/// A rotation about an axis, the 3x3 matrix built and applied by nested
/// literal loops, as geometry code writes it.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn rotated_norm(axis: [f64; 3], angle: f64, p: [f64; 3]) -> f64 {
    let (s, c) = (angle.sin(), angle.cos());
    let mut m = [0.0; 9];
    for i in 0..3 {
        for j in 0..3 {
            m[3 * i + j] = axis[i] * axis[j] * (1.0 - c);
        }
        m[3 * i + i] += c;
    }
    m[1] -= axis[2] * s;
    m[3] += axis[2] * s;
    m[2] += axis[1] * s;
    m[6] -= axis[1] * s;
    m[5] -= axis[0] * s;
    m[7] += axis[0] * s;
    let mut q = [0.0; 3];
    for i in 0..3 {
        for j in 0..3 {
            q[i] += m[3 * i + j] * p[j];
        }
    }
    let mut total = 0.0;
    for k in 0..3 {
        total += (k as f64 + 1.0) * q[k] * q[k];
    }
    total
}

/// Reversed, closed and length-bounded ranges, and a loop that stays one
/// (five iterations) beside them.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn mixed_ranges(x: &[f64]) -> f64 {
    let mut acc = [0.0; 2];
    let mut t = 0.0;
    for i in (0..3).rev() {
        t = t * x[i] + x[i].sin();
    }
    for k in 1..=2 {
        acc[k - 1] = t * x[k] + k as f64;
    }
    for i in 0..acc.len() {
        t += acc[i] * acc[i];
    }
    for i in 0..5 {
        t += (x[i % 3] * t).tanh();
    }
    t
}

#[test]
fn short_literal_loops_are_written_out_and_differentiate_right() {
    let mut rng = Rng::new(31);
    for _ in 0..5 {
        let mut v: Vec<f64> = (0..7).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        v[..3].iter_mut().for_each(|a| *a /= norm);
        let split = |v: &[f64]| ([v[0], v[1], v[2]], v[3], [v[4], v[5], v[6]]);
        let (axis, angle, p) = split(&v);
        let (value, g) = rotated_norm::grad(axis, angle, p);
        assert_eq!(value, rotated_norm(axis, angle, p));
        let mut analytic = g.axis.to_vec();
        analytic.push(g.angle);
        analytic.extend(g.p);
        assert_gradient(
            |v| {
                let (axis, angle, p) = split(v);
                rotated_norm(axis, angle, p)
            },
            &v,
            &analytic,
        );
        // Written out: no stack, so the tape holds nothing on the heap.
        let (_, tape) = rotated_norm::forward(axis, angle, p);
        assert_eq!(tape.bytes(), std::mem::size_of_val(&tape));

        let x = [v[0], v[1] * 2.0, v[4]];
        let (value, g) = mixed_ranges::grad(&x);
        assert_eq!(value, mixed_ranges(&x));
        assert_gradient(mixed_ranges, &x, &g.x);
        // The loop of five pushes its values; the short ones do not.
        let (_, tape) = mixed_ranges::forward(&x);
        assert!(tape.bytes() > std::mem::size_of_val(&tape));
    }
}

/// Loops the macro keeps: the variable as a method's receiver, inside a
/// macro, or bound again; a branch in the body. Each must still compile and
/// differentiate as the loop it is.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn kept_loops(x: &[f64]) -> f64 {
    let mut t = 0.0;
    for i in 0..3 {
        t += x[i] * (i.pow(2) as f64);
    }
    for i in 0..3 {
        assert!(i < x.len());
        t += x[i].exp();
    }
    for i in 0..3 {
        let i = 2 - i;
        t *= 1.0 + 0.1 * x[i];
    }
    for i in 0..3 {
        if x[i] > 0.0 {
            t += x[i] * x[i];
        }
    }
    t
}

#[test]
fn loops_not_written_out_still_differentiate_right() {
    for x in [[0.3, -0.7, 1.1], [-0.2, 0.5, -1.3]] {
        let (value, g) = kept_loops::grad(&x);
        assert_eq!(value, kept_loops(&x));
        assert_gradient(kept_loops, &x, &g.x);
        let (_, tape) = kept_loops::forward(&x);
        assert!(tape.bytes() > std::mem::size_of_val(&tape));
    }
}

/// A `match` on a differentiated value, as a piecewise function is written:
/// arms that bind it under guards, float ranges (`..=-1.0`, `p @ lo..=hi`),
/// a catch-all. The arms' tests are conditions (not differentiated); the
/// value flows through each arm's binding. Was refused ("compare it with
/// `if`").
#[differentiate]
fn piecewise_by_match(x: &[f64]) -> f64 {
    let r = match x[0] * x[1] {
        ..=-1.0 => x[2],
        p @ -1.0..=0.5 => p * p,
        p => p.sin() + x[0],
    };
    let q = match x[2] {
        t if t > 0.0 => t.sqrt(),
        t if t > -1.0 => t * t * x[0],
        _ => -x[2],
    };
    r * x[1] + q
}

#[test]
fn matches_on_differentiated_values() {
    // Every arm of both: x0 * x1 below -1, in [-1, 0.5], above; x2 above
    // 0, in (-1, 0], below -1.
    for x in [
        [0.5, 1.5, 2.0],
        [-0.5, 1.2, -0.3],
        [2.0, -0.9, -2.5],
        [0.3, 0.2, 0.7],
    ] {
        let (value, g) = piecewise_by_match::grad(&x);
        assert_eq!(value, piecewise_by_match(&x));
        assert_gradient(piecewise_by_match, &x, &g.x);
        let (_, slope) = piecewise_by_match::tangent(&x, &[0.5, -1.0, 2.0]);
        let along = 0.5 * g.x[0] - g.x[1] + 2.0 * g.x[2];
        assert!((slope - along).abs() < 1e-12 * (1.0 + along.abs()));
    }
}

/// A variable declared without a value and given one on every path of the
/// branch after it (`let y; if c { y = a; } else { y = b; }`, nested, and
/// through a `match`, or `let y; y = a;`): the `let` of the branch's value. Was refused ("a
/// `let` without a value").
#[differentiate]
#[allow(clippy::needless_late_init)]
fn assigned_later(x: &[f64]) -> f64 {
    let y;
    if x[0] > 0.0 {
        let t = x[0].sqrt();
        y = t * x[1];
    } else if x[1] > 0.0 {
        y = x[1].exp();
    } else {
        y = -x[0] * x[1];
    }
    let mut z: f64;
    match (x[0] > x[1], x[1] > 0.5) {
        (true, true) => z = y * y,
        (true, false) => {
            let w = y.sin();
            z = w * x[0];
        }
        _ => z = y + x[1],
    }
    z *= 2.0;
    let scaled;
    scaled = z * x[0];
    // A pair, each path giving both in either order.
    let (lo, hi);
    if x[0] < x[1] {
        lo = x[0];
        hi = x[1] * 2.0;
    } else {
        hi = x[0] * 2.0;
        lo = x[1];
    }
    scaled + y + hi * lo
}

#[test]
fn values_given_after_the_declaration() {
    // Every path of both branches.
    for x in [
        [0.8, 0.6],
        [0.8, 0.3],
        [0.4, 0.9],
        [-0.5, 0.7],
        [-0.5, -0.2],
    ] {
        let (value, g) = assigned_later::grad(&x);
        assert_eq!(value, assigned_later(&x));
        assert_gradient(assigned_later, &x, &g.x);
    }
}
