//! Calls between differentiated functions: the caller runs the callee's `forward`
//! and, in its own backward pass, the callee's `pullback`.
//!
//! The functions called here are marked `#[inline(never)]`: the file tests
//! the call through the callee's module (what calls across modules and files,
//! and recursion, use), which a call of a function written beside its caller
//! would otherwise not make (it is inlined; `tests/inlining.rs`).

mod common;

use backprop_runtime::differentiate;
use common::Rng;

#[inline(never)]
#[differentiate]
fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[inline(never)]
#[differentiate]
fn blog(x: f64, y: f64) -> f64 {
    let sigx = sig(x);
    let sigy = sig(y);
    (x + sigy) / (sigx + (x + y).powi(2))
}

#[inline(never)]
#[differentiate]
fn weighted(x: f64, n: i32, w: f64) -> f64 {
    x.powi(n) * w
}

/// `w` is left out of `wrt`: a caller may pass it only values that do not depend
/// on the caller's inputs (a type error says so otherwise).
#[inline(never)]
#[differentiate(wrt(x))]
fn scaled(x: f64, w: f64) -> f64 {
    x.sin() * w
}

#[inline(never)]
#[differentiate]
fn level_one(a: f64, b: f64) -> f64 {
    let s = weighted(a, 3, b);
    s + sig(a * b)
}

#[inline(never)]
#[differentiate]
fn level_two(x: f64, y: f64, n: i32) -> f64 {
    let first = level_one(x, y);
    let second = level_one(first, x);
    second * weighted(y, n, first) + scaled(x, 2.0 * n as f64)
}

#[inline(never)]
#[differentiate]
fn same_argument_twice(x: f64) -> f64 {
    weighted(x, 2, x) + level_one(x, x)
}

#[differentiate]
fn unused_call(x: f64) -> f64 {
    let _ignored = sig(x);
    x * 2.0
}

mod helpers {
    use backprop_runtime::differentiate;

    #[differentiate]
    pub fn cube(x: f32) -> f32 {
        x * x * x
    }
}

#[inline(never)]
#[differentiate]
fn calls_by_path(x: f32) -> f32 {
    helpers::cube(x) + crate::helpers::cube(x * 2.0)
}

#[test]
fn the_blog_helper_agrees_with_the_primitive() {
    for (x, y) in [(3.0, -4.0), (0.5, 1.5), (-2.0, 0.1)] {
        check!(blog(x = x, y = y));
    }
    let (_, g) = blog::grad(3.0, -4.0);
    assert!((g.x - 2.0595697955721652).abs() < 1e-12);
    assert!((g.y - 1.5922327514838093).abs() < 1e-12);
}

#[test]
fn three_levels_of_calls() {
    let mut rng = Rng::new(11);
    for _ in 0..25 {
        let (x, y) = (rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5));
        let n = (rng.next_u64() % 4) as i32;
        check!(level_two(x = x, y = y, n));
    }
}

#[test]
fn the_same_argument_in_two_positions() {
    for x in [0.4, -1.1, 2.0] {
        check!(same_argument_twice(x = x));
    }
}

#[test]
fn a_call_whose_result_is_unused_costs_nothing_backward() {
    let (_, tape) = unused_call::forward(0.3);
    let unused_call::Tape {} = tape;
    assert_eq!(unused_call::grad(0.3).1.x, 2.0);
}

#[test]
fn calls_by_path_and_in_f32() {
    for x in [0.5_f32, -1.5] {
        let (value, g) = calls_by_path::grad(x);
        assert_eq!(value, calls_by_path(x));
        let h = 1e-2_f64;
        let wide = |v: f64| calls_by_path(v as f32) as f64;
        let numeric = (wide(x as f64 + h) - wide(x as f64 - h)) / (2.0 * h);
        assert!((numeric - g.x as f64).abs() < 1e-3 * numeric.abs().max(1.0));
    }
}

#[test]
fn pullback_returns_the_gradient_by_position() {
    let (_, tape) = weighted::forward(1.5, 3, 2.0);
    let (dx, marker, dw) = weighted::pullback(&tape, 1.0);
    let g = weighted::backward(&tape, 1.0);
    assert_eq!((dx, dw), (g.x, g.w));
    assert_eq!(marker, backprop_runtime::NotDifferentiable);
}

#[inline(never)]
#[differentiate]
fn root(x: f64) -> f64 {
    x.sqrt()
}

/// The smaller of a line and a root: at `x = 0` the line is taken, and the
/// root, not taken, has an infinite derivative there.
#[differentiate]
fn line_or_root(x: f64) -> f64 {
    (x - 1.0).min(root(x))
}

#[test]
fn a_call_whose_result_is_not_taken_adds_nothing() {
    // Its adjoint is exactly zero: its backward pass does not run, so the
    // infinite derivative of the root does not turn the gradient into NaN
    // (0 × ∞), as a hand-written gradient would not.
    let (value, g) = line_or_root::grad(0.0);
    assert_eq!(value, -1.0);
    assert_eq!(g.x, 1.0);
    // Where the root is taken, its derivative is there.
    let (_, g) = line_or_root::grad(4.0);
    assert_eq!(g.x, 0.25);
}

#[inline(never)]
#[differentiate]
fn push_on(x: &mut f64, by: f64) {
    *x = *x * by + by;
}

#[inline(never)]
#[differentiate]
fn grow(x: &mut f64, by: f64) -> f64 {
    *x += by * by;
    *x * by
}

/// A `&mut f64` parameter passed on as it is (`push_on(x, k)`), and
/// reborrowed (`&mut *x`): the callee writes the value it holds. Both were
/// refused ("this statement's value is not used", "only local variables can
/// be passed by `&mut`").
#[inline(never)]
#[differentiate]
fn passes_on(x: &mut f64, k: f64) -> f64 {
    push_on(x, k);
    *x *= k;
    let r = grow(&mut *x, 0.5);
    r + grow(x, 2.0 * k)
}

#[test]
fn a_mut_f64_parameter_passed_on_to_callees() {
    for (x0, k) in [(1.5, 0.7), (-0.4, 1.3), (0.2, -0.9)] {
        let mut x = x0;
        let (value, tape) = passes_on::forward(&mut x, k);
        let mut plain = x0;
        assert_eq!(value, passes_on(&mut plain, k));
        assert_eq!(x, plain);
        let g = passes_on::backward(&tape, (1.0, 0.5));
        let sum = |v: &[f64]| {
            let mut x = v[0];
            let r = passes_on(&mut x, v[1]);
            r + 0.5 * x
        };
        common::assert_gradient(sum, &[x0, k], &[g.x, g.k]);
        // Forward mode: the value's tangent and the final value's, in place.
        let (mut x, mut dx) = (x0, 1.0);
        let (_, d_value) = passes_on::tangent(&mut x, k, &mut dx, 0.0);
        assert!((d_value + 0.5 * dx - g.x).abs() <= 1e-12 * g.x.abs().max(1.0));
    }
}

#[inline(never)]
#[differentiate]
fn energy_step(s: &mut [f64], dt: f64) -> f64 {
    let mut e = 0.0;
    for v in s.iter_mut() {
        *v -= dt * v.sin();
        e += *v * *v;
    }
    e
}

/// Calls that write their arguments and return a value nobody reads
/// (`grow(&mut y, k);`): the callee's seed has a zero for the value, which
/// only the callee knows it has (`seed_without_value`). Did not compile
/// (`expected (f64, f64), found f64` at the attribute).
#[inline(never)]
#[differentiate]
fn drops_values(x0: f64, k: f64) -> f64 {
    let mut y = x0;
    grow(&mut y, k);
    let mut s = vec![x0, k, 0.3];
    energy_step(&mut s, 0.1);
    energy_step(&mut s, 0.2);
    push_on(&mut y, 0.5);
    y * k + s[0] * s[1]
}

#[test]
fn calls_whose_values_are_dropped() {
    for (x0, k) in [(1.5, 0.7), (-0.4, 1.3), (0.2, -0.9)] {
        let (value, g) = drops_values::grad(x0, k);
        assert_eq!(value, drops_values(x0, k));
        common::assert_gradient(|v| drops_values(v[0], v[1]), &[x0, k], &[g.x0, g.k]);
        let (_, along) = drops_values::tangent(x0, k, 0.3, -0.8);
        let expected = 0.3 * g.x0 - 0.8 * g.k;
        assert!((along - expected).abs() <= 1e-12 * expected.abs().max(1.0));
    }
}

/// A differentiated function's own gradient, called inside another on
/// values that do not depend on the inputs: a constant there, the call
/// computed as written (on values that do, it is refused:
/// `tests/ui/nested-differentiation.rs`).
#[differentiate(wrt(x))]
fn potential(x: &[f64], w: f64) -> f64 {
    ((x[0] - 1.0).powi(2) + (x[1] + w).powi(2)).sqrt().recip()
}

#[differentiate]
fn scaled_by_a_fixed_gradient(w: f64) -> f64 {
    let (v, g) = potential::grad(&[0.5, 2.0], 1.5);
    v * w.sin() + g.x[0] * w * w
}

#[test]
fn a_gradient_of_constants_is_a_constant() {
    let (value, fixed) = potential::grad(&[0.5, 2.0], 1.5);
    for w in [-0.7, 0.3, 1.9] {
        let (v, g) = scaled_by_a_fixed_gradient::grad(w);
        assert_eq!(v, scaled_by_a_fixed_gradient(w));
        let expected = value * w.cos() + fixed.x[0] * 2.0 * w;
        assert!((g.w - expected).abs() < 1e-12, "{} against {expected}", g.w);
        common::assert_gradient(|p| scaled_by_a_fixed_gradient(p[0]), &[w], &[g.w]);
    }
}

/// GradBench's `particle` with the inner gradient written by hand: the
/// acceleration `-grad_x p(x; w)`, `p` the sum of the inverse distances to
/// the charges `(10, 10 - w)` and `(10, 0)`, stepped by naive Euler until
/// the particle would cross the x axis; the result is the square of where
/// it crosses, by linear interpolation.
fn acceleration(x: [f64; 2], w: f64) -> [f64; 2] {
    let mut a = [0.0; 2];
    for charge in [[10.0, 10.0 - w], [10.0, 0.0]] {
        let d = [x[0] - charge[0], x[1] - charge[1]];
        let r = (d[0] * d[0] + d[1] * d[1]).sqrt();
        a[0] += d[0] / (r * r * r);
        a[1] += d[1] / (r * r * r);
    }
    a
}

#[differentiate]
fn particle(w: f64) -> f64 {
    let dt = 0.1;
    let mut x = [0.0, 8.0];
    let mut v = [0.75, 0.0];
    loop {
        let a = acceleration(x, w);
        let next = [x[0] + dt * v[0], x[1] + dt * v[1]];
        if next[1] <= 0.0 {
            let dt_f = -x[1] / v[1];
            let crossing = x[0] + dt_f * v[0];
            return crossing * crossing;
        }
        x = next;
        v = [v[0] + dt * a[0], v[1] + dt * a[1]];
    }
}

#[test]
fn gradbench_particle_with_its_inner_gradient_by_hand() {
    for w in [0.0, 0.1, 0.3] {
        let (value, g) = particle::grad(w);
        assert_eq!(value, particle(w));
        common::assert_gradient(|p| particle(p[0]), &[w], &[g.w]);
    }
}
