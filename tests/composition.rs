//! Composition: custom derivative rules through the same protocol as calls
//! between differentiated functions, and recursion.

mod common;

use backprop_runtime::differentiate;
use common::assert_gradient;

/// `x^(2^n)` by repeated squaring, recursively.
#[differentiate]
fn repeated_square(x: f64, n: u32) -> f64 {
    if n == 0 {
        x
    } else {
        let y = repeated_square(x, n - 1);
        y * y
    }
}

/// Mutual shape: a recursive helper with a float accumulator.
#[differentiate]
fn continued_fraction(x: f64, depth: u32) -> f64 {
    if depth == 0 {
        1.0
    } else {
        1.0 + x / continued_fraction(x, depth - 1)
    }
}

#[test]
fn recursion() {
    for n in [0, 1, 3] {
        for x in [0.9, 1.1] {
            check!(repeated_square(x = x, n));
        }
    }
    for depth in [0, 1, 6] {
        for x in [0.5, 2.0] {
            check!(continued_fraction(x = x, depth));
        }
    }
}

/// The error function, by the Abramowitz–Stegun approximation 7.1.26 (error
/// below 1.5e-7): a black box whose derivative is known in closed form,
/// `2/sqrt(pi) exp(-x^2)`.
pub fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x >= 0.0 {
        y
    } else {
        -y
    }
}

/// A custom rule for `erf`: the two functions of the module a
/// `#[differentiate]` function gets that differentiated callers use,
/// `forward_into` and `pullback_into`.
pub mod erf {
    /// What the rule needs: the argument.
    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        x: f64,
    }

    /// What a caller keeps per call for `pullback_into`: nothing here.
    pub type Scratch = ();

    pub fn forward_into(tape: &mut Tape, x: f64) -> f64 {
        tape.x = x;
        super::erf(x)
    }

    /// The adjoint of each argument, in order; a scalar rule needs no
    /// gradient of its own to fill.
    pub fn pullback_into(tape: &Tape, seed: f64, _scratch: &mut Scratch) -> (f64,) {
        let slope = 2.0 / std::f64::consts::PI.sqrt() * (-tape.x * tape.x).exp();
        (seed * slope,)
    }
}

/// The square root by Newton's method, with the adjoint of the converged
/// solution (`d sqrt(a) / da = 1 / (2 sqrt(a))`) instead of differentiating
/// through the iterations.
pub fn newton_sqrt(a: f64, iterations: usize) -> f64 {
    let mut y = a.max(1.0);
    for _ in 0..iterations {
        y = 0.5 * (y + a / y);
    }
    y
}

pub mod newton_sqrt {
    use backprop_runtime::NotDifferentiable;

    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        root: f64,
    }

    /// What a caller keeps per call for `pullback_into`: nothing here.
    pub type Scratch = ();

    pub fn forward_into(tape: &mut Tape, a: f64, iterations: usize) -> f64 {
        tape.root = super::newton_sqrt(a, iterations);
        tape.root
    }

    pub fn pullback_into(
        tape: &Tape,
        seed: f64,
        _scratch: &mut Scratch,
    ) -> (f64, NotDifferentiable) {
        (seed / (2.0 * tape.root), NotDifferentiable)
    }
}

#[differentiate]
fn uses_custom_rules(x: f64, y: f64) -> f64 {
    let e = erf(x * y);
    let r = newton_sqrt(x * x + y * y, 40);
    e * r + erf(r - 1.0)
}

#[test]
fn custom_rules_compose_with_generated_code() {
    for (x, y) in [(0.3, 0.8), (-0.6, 1.4), (1.2, -0.4)] {
        let (value, g) = uses_custom_rules::grad(x, y);
        assert_eq!(value, uses_custom_rules(x, y));
        // erf is an approximation: its true derivative differs from the
        // approximation's by about 1e-6, which the tolerance below allows.
        let numeric_x = common::central_difference(|v| uses_custom_rules(v[0], v[1]), &[x, y], 0);
        let numeric_y = common::central_difference(|v| uses_custom_rules(v[0], v[1]), &[x, y], 1);
        assert!((numeric_x - g.x).abs() < 1e-5, "{} vs {numeric_x}", g.x);
        assert!((numeric_y - g.y).abs() < 1e-5, "{} vs {numeric_y}", g.y);
    }
}

/// Several outputs: polar to Cartesian coordinates.
#[differentiate]
fn to_cartesian(r: f64, theta: f64) -> (f64, f64) {
    let (s, c) = theta.sin_cos();
    (r * c, r * s)
}

/// An array of outputs: a softmax of three scores.
#[differentiate]
fn softmax3(a: f64, b: f64, c: f64) -> [f64; 3] {
    let top = a.max(b).max(c);
    let (ea, eb, ec) = ((a - top).exp(), (b - top).exp(), (c - top).exp());
    let total = ea + eb + ec;
    [ea / total, eb / total, ec / total]
}

#[test]
fn several_outputs_vector_jacobian_products() {
    let (r, theta) = (1.5, 0.7);
    let ((x, y), tape) = to_cartesian::forward(r, theta);
    assert_eq!((x, y), to_cartesian(r, theta));
    // A vector-Jacobian product: one seed per output.
    let (sx, sy) = (0.3, -1.2);
    let g = to_cartesian::backward(&tape, (sx, sy));
    let expected_r = sx * theta.cos() + sy * theta.sin();
    let expected_theta = -sx * r * theta.sin() + sy * r * theta.cos();
    assert!((g.r - expected_r).abs() < 1e-12 && (g.theta - expected_theta).abs() < 1e-12);
}

#[test]
fn jacobians_against_finite_differences() {
    let (value, rows) = to_cartesian::jacobian(1.5, 0.7);
    assert_eq!(value, to_cartesian(1.5, 0.7));
    assert_gradient(
        |v| to_cartesian(v[0], v[1]).0,
        &[1.5, 0.7],
        &[rows[0].r, rows[0].theta],
    );
    assert_gradient(
        |v| to_cartesian(v[0], v[1]).1,
        &[1.5, 0.7],
        &[rows[1].r, rows[1].theta],
    );

    let point = [0.2, -1.0, 0.9];
    let (value, rows) = softmax3::jacobian(point[0], point[1], point[2]);
    assert_eq!(value, softmax3(point[0], point[1], point[2]));
    for (k, row) in rows.iter().enumerate() {
        assert_gradient(
            |v| softmax3(v[0], v[1], v[2])[k],
            &point,
            &[row.a, row.b, row.c],
        );
    }
}

/// Arrays of outputs ended the ways vector code ends them: a local array by
/// its name, after a guard that returns a repeat (`[0.0; 3]`), in a chain of
/// guards (`else if`), generic over the float.
#[differentiate]
fn scaled_unit<T: backprop_runtime::Float>(v: [T; 3], k: T) -> [T; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if n < T::from(1e-3).unwrap() {
        return [T::zero(); 3];
    }
    let mut out = v;
    for i in 0..3 {
        out[i] = v[i] * k / n;
    }
    out
}

#[differentiate]
#[allow(clippy::needless_return)]
fn clipped_pair(x: f64, y: f64) -> [f64; 2] {
    if x > 1.0 {
        return [x * y, y];
    } else if x < -1.0 {
        return [-1.0; 2];
    }
    let mut r = [x, y];
    r[1] *= x.sin();
    return r;
}

/// An array mapped whole (`a.map(..)`), by a closure and by a function
/// named, one behind a guard.
#[differentiate]
fn mapped(a: [f64; 2]) -> [f64; 2] {
    if a[0] > 5.0 {
        return a.map(f64::sqrt);
    }
    a.map(|v: f64| {
        let w = v.exp();
        w * a[1]
    })
}

/// Arrays mapped inside the body: a parameter's, and a local literal's.
#[differentiate]
fn mapped_inside(a: [f64; 3], k: f64) -> f64 {
    let n = a.iter().map(|v| v * v).sum::<f64>().sqrt();
    let unit = a.map(|v| v / n);
    let pair = [unit[0] * k, unit[2]];
    let squares = pair.map(|v| v * v);
    unit[1] * k + squares[0] - squares[1]
}

/// A caller reading the named array's elements.
#[differentiate]
fn cross_norm(a: [f64; 3], b: [f64; 3]) -> f64 {
    let c = cross(a, b);
    (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt()
}

#[differentiate]
#[allow(clippy::needless_range_loop)]
fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    let mut r = [0.0; 3];
    for i in 0..3 {
        let (j, k) = ((i + 1) % 3, (i + 2) % 3);
        r[i] = a[j] * b[k] - a[k] * b[j];
    }
    r
}

#[test]
fn arrays_returned_by_name_repeat_and_guards() {
    let v = [0.3, -1.2, 0.5];
    let (value, rows) = scaled_unit::jacobian(v, 1.5);
    assert_eq!(value, scaled_unit(v, 1.5));
    for (k, row) in rows.iter().enumerate() {
        let point = [v[0], v[1], v[2], 1.5];
        let analytic = [row.v[0], row.v[1], row.v[2], row.k];
        assert_gradient(
            |p| scaled_unit([p[0], p[1], p[2]], p[3])[k],
            &point,
            &analytic,
        );
    }
    // The guard's side: zeros, and no derivative through them.
    let (value, rows) = scaled_unit::jacobian([0.0, 1e-4, 0.0], 1.5);
    assert_eq!(value, [0.0; 3]);
    assert!(rows.iter().all(|row| row.k == 0.0));
    let (value32, _) = scaled_unit::jacobian([0.3_f32, -1.2, 0.5], 1.5);
    assert_eq!(value32, scaled_unit([0.3_f32, -1.2, 0.5], 1.5));

    for x in [2.0, -2.0, 0.5] {
        let (value, rows) = clipped_pair::jacobian(x, 3.0);
        assert_eq!(value, clipped_pair(x, 3.0));
        for (k, row) in rows.iter().enumerate() {
            assert_gradient(|p| clipped_pair(p[0], p[1])[k], &[x, 3.0], &[row.x, row.y]);
        }
    }

    let (value, g) = mapped_inside::grad([1.0, -2.0, 0.5], 1.5);
    assert_eq!(value, mapped_inside([1.0, -2.0, 0.5], 1.5));
    assert_gradient(
        |p| mapped_inside([p[0], p[1], p[2]], p[3]),
        &[1.0, -2.0, 0.5, 1.5],
        &[g.a[0], g.a[1], g.a[2], g.k],
    );

    for a in [[1.0, 2.0], [9.0, 4.0]] {
        let (value, rows) = mapped::jacobian(a);
        assert_eq!(value, mapped(a));
        for (k, row) in rows.iter().enumerate() {
            assert_gradient(|p| mapped([p[0], p[1]])[k], &a, &row.a);
        }
    }

    let (a, b) = ([1.0, 2.0, 3.0], [0.5, -1.0, 2.0]);
    let (value, g) = cross_norm::grad(a, b);
    assert_eq!(value, cross_norm(a, b));
    let point = [a, b].concat();
    let analytic = [g.a, g.b].concat();
    assert_gradient(
        |p| cross_norm([p[0], p[1], p[2]], [p[3], p[4], p[5]]),
        &point,
        &analytic,
    );
}

/// A Runge-Kutta step over a small state, each stage's array read by the
/// loop's index (`k1[i]`), one of them bound with its type.
#[differentiate]
fn oscillator(s: [f64; 2], k: f64) -> [f64; 2] {
    [s[1], -k * s[0] - 0.1 * s[1]]
}

#[differentiate]
#[allow(clippy::needless_range_loop)]
fn rk4_stepped(s: [f64; 2], k: f64, dt: f64) -> [f64; 2] {
    let k1 = oscillator(s, k);
    let mut mid = s;
    for i in 0..2 {
        mid[i] = s[i] + 0.5 * dt * k1[i];
    }
    let k2: [f64; 2] = oscillator(mid, k);
    for i in 0..=1 {
        mid[i] = s[i] + 0.5 * dt * k2[i];
    }
    let k3 = oscillator(mid, k);
    for i in 0..2 {
        mid[i] = s[i] + dt * k3[i];
    }
    let k4 = oscillator(mid, k);
    let mut out = s;
    for i in 0..2 {
        out[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
    out
}

#[differentiate]
fn fitted_oscillator(k: f64, observed: &[f64]) -> f64 {
    let mut s = [1.0, 0.0];
    let mut loss = 0.0;
    for o in observed {
        s = rk4_stepped(s, k, 0.1);
        loss += (s[0] - o) * (s[0] - o);
    }
    loss
}

#[test]
fn arrays_calls_return_read_by_a_loop_s_index() {
    let observed = [0.9, 0.7, 0.4, 0.1, -0.2];
    for k in [2.0, 0.5] {
        let (value, g) = fitted_oscillator::grad(k, &observed);
        assert_eq!(value, fitted_oscillator(k, &observed));
        assert_gradient(|v| fitted_oscillator(v[0], &observed), &[k], &[g.k]);
    }
    let (value, rows) = rk4_stepped::jacobian([0.3, -0.8], 1.7, 0.05);
    assert_eq!(value, rk4_stepped([0.3, -0.8], 1.7, 0.05));
    for (j, row) in rows.iter().enumerate() {
        assert_gradient(
            |p| rk4_stepped([p[0], p[1]], p[2], 0.05)[j],
            &[0.3, -0.8, 1.7],
            &[row.s[0], row.s[1], row.k],
        );
    }
}

/// A caller of a function with several outputs.
#[differentiate]
fn distance_after_turn(r: f64, theta: f64, turn: f64) -> f64 {
    let (x, y) = to_cartesian(r, theta + turn);
    let (_, only_y) = to_cartesian(r * 0.5, theta);
    (x - 1.0).hypot(y + 2.0) + only_y
}

#[test]
fn calls_of_functions_with_several_outputs() {
    for (r, theta, turn) in [(1.5, 0.7, 0.2), (0.4, -2.0, 1.1)] {
        check!(distance_after_turn(r = r, theta = theta, turn = turn));
    }
}

/// A callee that writes its results into `&mut` parameters.
#[differentiate]
fn update(i: &mut f64, j: &mut f64, rate: f64) {
    let old = *i;
    *i = old * *j + rate;
    *j += old.sin() * rate;
}

/// One that also returns a value.
#[differentiate]
fn step(v: &mut f64, dt: f64) -> f64 {
    let force = -*v * 0.5;
    *v += force * dt;
    force * force
}

#[differentiate]
fn uses_mut_callees(x: f64, y: f64) -> f64 {
    let mut a = x;
    let mut b = y;
    update(&mut a, &mut b, 0.3);
    update(&mut b, &mut a, x);
    let mut v = a * b;
    let mut energy = 0.0;
    for _ in 0..3 {
        energy += step(&mut v, 0.1);
    }
    a + b * v + energy
}

#[test]
fn callees_with_mut_parameters() {
    for (x, y) in [(0.4, 1.3), (-0.9, 0.2)] {
        check!(uses_mut_callees(x = x, y = y));
    }
    // The callee itself: outputs are the final values of `i` and `j`.
    let (mut i, mut j) = (0.7, -0.4);
    let ((), tape) = update::forward(&mut i, &mut j, 0.3);
    let (i0, j0) = (0.7_f64, -0.4_f64);
    assert_eq!((i, j), (i0 * j0 + 0.3, j0 + i0.sin() * 0.3));
    let g = update::backward(&tape, (1.0, 0.0));
    assert!((g.i - j0).abs() < 1e-12 && (g.j - i0).abs() < 1e-12 && (g.rate - 1.0).abs() < 1e-12);
}

/// Level one of three: rescales a buffer in place to unit length.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn normalize(v: &mut [f64]) {
    let mut total = 0.0;
    for x in v.iter() {
        total += x * x;
    }
    let norm = total.sqrt();
    for i in 0..v.len() {
        v[i] /= norm;
    }
}

/// Level two: writes a layer's activations into `out`, normalises them with a
/// call that passes `out` on, scales a `&mut f64` gain, and returns a penalty.
#[differentiate]
fn layer(w: &[f64], x: &[f64], out: &mut [f64], gain: &mut f64) -> f64 {
    for i in 0..out.len() {
        out[i] = (w[i] * x[i] + *gain).tanh();
    }
    normalize(out);
    *gain *= out[0];
    let mut penalty = 0.0;
    for wi in w {
        penalty += wi * wi;
    }
    0.01 * penalty
}

/// Level three: a loss over a local buffer the layer fills.
#[differentiate]
fn chained_loss(w: &[f64], x: &[f64], g0: f64) -> f64 {
    let mut h = vec![0.0; x.len()];
    let mut gain = g0;
    let penalty = layer(w, x, &mut h, &mut gain);
    let mut fit = 0.0;
    for i in 0..h.len() {
        fit += h[i] * x[i];
    }
    gain * fit + penalty
}

#[test]
fn a_callee_that_writes_a_slice() {
    // The callee on its own: the seed is the adjoint of the final contents,
    // the gradient that of the initial contents.
    for start in [[3.0, -4.0, 1.0], [0.2, 0.5, -0.1]] {
        let mut v = start;
        let ((), tape) = normalize::forward(&mut v);
        let mut expected = start;
        normalize(&mut expected);
        assert_eq!(v, expected);
        let weights = [0.7, -1.1, 0.4];
        let g = normalize::backward(&tape, &weights);
        let weighted = |s: &[f64]| {
            let mut v = s.to_vec();
            normalize(&mut v);
            v.iter().zip(&weights).map(|(a, b)| a * b).sum::<f64>()
        };
        assert_gradient(weighted, &start, &g.v);
    }
}

#[test]
fn three_levels_with_slices_and_mut_helpers() {
    let x = [0.5, -1.2, 0.8, 2.0];
    for (w, g0) in [
        ([0.3, -0.4, 1.1, 0.2], 0.5),
        ([-1.0, 0.6, 0.05, -0.7], -1.3),
    ] {
        let (value, g) = chained_loss::grad(&w, &x, g0);
        assert_eq!(value, chained_loss(&w, &x, g0));
        assert_gradient(|w| chained_loss(w, &x, g0), &w, &g.w);
        assert_gradient(|v| chained_loss(&w, &x, v[0]), &[g0], &[g.g0]);
        assert_gradient(|x| chained_loss(&w, x, g0), &x, &g.x);
    }
}

/// Callers destructure an array of outputs like a tuple.
#[differentiate]
fn softmax_pick(a: f64, b: f64) -> f64 {
    let [p, _, r] = softmax3(a, b, a * b);
    p * r.ln()
}

#[test]
fn calls_of_functions_returning_arrays() {
    for (a, b) in [(0.3, -0.5), (1.2, 2.0)] {
        check!(softmax_pick(a = a, b = b));
    }
}

/// A rotation that returns its result as an array, as helpers do.
#[differentiate]
fn rotate<T: backprop_runtime::Float>(v: &[T], angle: T) -> [T; 3] {
    let (s, c) = angle.sin_cos();
    [c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]]
}

/// `let r = rotate(..); r[0]`: the elements read by literal indices are the
/// call's outputs, as if named `let [r_0, r_1, ..] = rotate(..);`; the
/// others get a zero seed. Read inside a loop and a branch too.
#[differentiate]
fn projected(v: &[f64], angle: f64, focal: f64, n: usize) -> f64 {
    let r = rotate::<f64>(v, angle);
    let mut total = focal * r[0] / (r[2] + 3.0);
    for k in 0..n {
        if k % 2 == 0 {
            total += r[1] * k as f64;
        } else {
            total -= r[0] * r[0];
        }
    }
    total
}

/// The same, generic, and with the call inside the loop.
#[differentiate]
fn swept<T: backprop_runtime::Float>(v: &[T], step: T, n: usize) -> T {
    let mut sum = T::zero();
    for k in 0..n {
        let r = rotate(v, step * T::from(k).unwrap());
        sum = sum + r[1] * r[1] - r[2];
    }
    sum
}

#[test]
fn a_calls_array_read_by_index_against_finite_differences() {
    let v = [0.4, -1.1, 0.8];
    for (angle, focal, n) in [(0.3, 2.0, 0), (-0.8, 1.5, 3), (1.9, 0.7, 6)] {
        let (value, g) = projected::grad(&v, angle, focal, n);
        assert_eq!(value, projected(&v, angle, focal, n));
        let point = [angle, focal, v[0], v[1], v[2]];
        let f = |p: &[f64]| projected(&p[2..], p[0], p[1], n);
        let mut analytic = vec![g.angle, g.focal];
        analytic.extend(&g.v);
        assert_gradient(f, &point, &analytic);
        // Forward mode along the angle, and the picture's gradient.
        let (_, along) = projected::tangent(&v, angle, focal, n, &[0.0; 3], 1.0, 0.0);
        assert!((along - g.angle).abs() < 1e-12 * g.angle.abs().max(1.0));
        let graph = projected::graph(&v, angle, focal, n);
        assert_eq!(graph.node("angle").and_then(|n| n.adjoint), Some(g.angle));
    }
    for n in [1, 4] {
        let (_, g) = swept::grad(&v, 0.35, n);
        let f = |p: &[f64]| swept(&p[1..], p[0], n);
        let mut analytic = vec![g.step];
        analytic.extend(&g.v);
        assert_gradient(f, &[0.35, v[0], v[1], v[2]], &analytic);
        let v32 = [0.4_f32, -1.1, 0.8];
        let (value, g32) = swept::grad(&v32, 0.35_f32, n);
        assert_eq!(value, swept(&v32, 0.35_f32, n));
        assert!((f64::from(g32.step) - g.step).abs() < 1e-4 * g.step.abs().max(1.0));
    }
}

/// Small vector helpers returning arrays, as Rust users write them.
#[differentiate]
fn sub3<T: backprop_runtime::Float>(a: [T; 3], b: [T; 3]) -> [T; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

#[differentiate]
fn dot3<T: backprop_runtime::Float>(a: [T; 3], b: [T; 3]) -> T {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Lent as a slice: its adjoint comes back as a slice.
#[differentiate]
fn weighted(v: &[f64]) -> f64 {
    v[0] * v[1].exp() - v[2].sin()
}

/// An array a call returns passed whole to several calls, to the same call
/// twice, lent as a slice, and again in a loop: its adjoint's terms are
/// arrays (summed by `backprop_runtime::Adjoint`), and one is a slice
/// (`IntoSeed`).
#[differentiate]
fn spread(a: [f64; 3], b: [f64; 3], n: usize) -> f64 {
    let d = sub3::<f64>(a, b);
    let mut s = dot3::<f64>(d, d) + weighted(&d);
    for k in 0..n {
        s = s * 0.5 + dot3::<f64>(d, b) * k as f64 + weighted(&d);
    }
    s
}

/// The same generic: `hvp` runs its gradient over dual numbers.
#[differentiate]
fn spread_generic<T: backprop_runtime::Float>(a: [T; 3], b: [T; 3]) -> T {
    let d = sub3(a, b);
    dot3(d, d) * dot3(d, b)
}

#[test]
fn arrays_calls_return_passed_whole_to_several_calls() {
    let b = [0.5, -0.25, 1.5];
    for (a, n) in [
        ([1.0, 2.0, 3.0], 0),
        ([-0.3, 0.8, 0.1], 2),
        ([2.0, -1.0, 0.4], 5),
    ] {
        let (value, g) = spread::grad(a, b, n);
        assert_eq!(value, spread(a, b, n));
        let point = [a[0], a[1], a[2], b[0], b[1], b[2]];
        let f = |p: &[f64]| spread([p[0], p[1], p[2]], [p[3], p[4], p[5]], n);
        let analytic: Vec<f64> = g.a.iter().chain(&g.b).copied().collect();
        assert_gradient(f, &point, &analytic);
        // Forward mode chains the same pullbacks; the picture's adjoints.
        let (_, along) = spread::tangent(a, b, n, [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]);
        let expected = g.a[0] + g.b[2];
        assert!((along - expected).abs() < 1e-12 * expected.abs().max(1.0));
        let graph = spread::graph(a, b, n);
        match graph.node("a").and_then(|n| n.gradient.clone()) {
            Some(backprop_runtime::graph::Shown::Array { head, .. }) => assert_eq!(head, g.a),
            other => panic!("the picture shows {other:?} for a's gradient"),
        }

        let (_, g) = spread_generic::grad(a, b);
        let f = |p: &[f64]| spread_generic([p[0], p[1], p[2]], [p[3], p[4], p[5]]);
        let analytic: Vec<f64> = g.a.iter().chain(&g.b).copied().collect();
        assert_gradient(f, &point, &analytic);
        // H v along a[1]: central differences of the gradient.
        let (_, _, hv) = spread_generic::hvp(a, b, [0.0, 1.0, 0.0], [0.0; 3]);
        let h = 1e-5;
        let (_, up) = spread_generic::grad([a[0], a[1] + h, a[2]], b);
        let (_, down) = spread_generic::grad([a[0], a[1] - h, a[2]], b);
        for i in 0..3 {
            let numeric = (up.a[i] - down.a[i]) / (2.0 * h);
            assert!(
                (hv.a[i] - numeric).abs() < 1e-5 * numeric.abs().max(1.0),
                "{} vs {numeric}",
                hv.a[i]
            );
        }
    }
}

/// A tuple of results from a guard at the top: the early return becomes a
/// branch whose arms end in tuples.
#[differentiate]
fn guarded_pair(v: &[f64], t: f64) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, t);
    }
    let s = v[0] * t;
    (s.sin(), t * s)
}

/// A tuple of results from a `match` at the end.
#[differentiate]
fn matched_pair(x: f64, k: u8) -> (f64, f64) {
    match k {
        0 => (x, x * x),
        1 => (x.sin(), 2.0),
        _ => (x.exp(), x),
    }
}

/// A tuple of results from an `if` chain at the end.
#[differentiate]
fn branched_pair(x: f64, y: f64) -> (f64, f64) {
    if x > y {
        (x * y, y)
    } else if x < 0.0 {
        (x, x)
    } else {
        (y.sin(), x + y)
    }
}

#[test]
fn a_tuple_of_results_may_come_from_a_branch_at_the_end() {
    let d = |f: &dyn Fn(&[f64]) -> f64, at: &[f64], i: usize| common::central_difference(f, at, i);
    for (v, t) in [(vec![0.7], 1.3), (vec![-0.4, 2.0], 0.6)] {
        let (value, rows) = guarded_pair::jacobian(&v, t);
        assert_eq!(value, guarded_pair(&v, t));
        let at = [v[0], t];
        let f = |k: usize| {
            let rest = v[1..].to_vec();
            move |a: &[f64]| {
                let mut w = vec![a[0]];
                w.extend(&rest);
                let r = guarded_pair(&w, a[1]);
                [r.0, r.1][k]
            }
        };
        for (k, row) in rows.iter().enumerate() {
            assert!((row.v[0] - d(&f(k), &at, 0)).abs() < 1e-7);
            assert!((row.t - d(&f(k), &at, 1)).abs() < 1e-7);
        }
    }
    // The guard taken: the second output is `t`.
    let (value, rows) = guarded_pair::jacobian(&[], 2.0);
    assert_eq!(value, (0.0, 2.0));
    assert_eq!((rows[0].t, rows[1].t), (0.0, 1.0));
    for k in 0..3 {
        let (_, rows) = matched_pair::jacobian(0.5, k);
        for (out, row) in rows.iter().enumerate() {
            let numeric = d(
                &|a: &[f64]| {
                    let r = matched_pair(a[0], k);
                    [r.0, r.1][out]
                },
                &[0.5],
                0,
            );
            assert!((row.x - numeric).abs() < 1e-7, "k = {k}, output {out}");
        }
    }
    for (x, y) in [(1.0, 0.5), (-1.0, 0.5), (0.2, 0.5)] {
        let (_, rows) = branched_pair::jacobian(x, y);
        for (out, row) in rows.iter().enumerate() {
            let f = |a: &[f64]| {
                let r = branched_pair(a[0], a[1]);
                [r.0, r.1][out]
            };
            assert!((row.x - d(&f, &[x, y], 0)).abs() < 1e-7);
            assert!((row.y - d(&f, &[x, y], 1)).abs() < 1e-7);
        }
    }
}

/// A struct with array fields, stepped by a plain helper that returns a
/// new one: `b = step_body(b, ..)` assigns the arrays (bound first, then
/// copied) and the float together.
#[derive(Clone, Copy)]
struct Body {
    pos: [f64; 2],
    vel: [f64; 2],
    mass: f64,
}

fn step_body(b: Body, dt: f64, g: f64) -> Body {
    Body {
        pos: [b.pos[0] + dt * b.vel[0], b.pos[1] + dt * b.vel[1]],
        vel: [b.vel[0], b.vel[1] - dt * g / b.mass],
        mass: b.mass * 0.99,
    }
}

#[differentiate]
fn flight(v0: &[f64], g: f64) -> f64 {
    let mut b = Body {
        pos: [0.0, 0.0],
        vel: [v0[0], v0[1]],
        mass: 2.0,
    };
    for _ in 0..20 {
        b = step_body(b, 0.05, g);
    }
    b.pos[0] * b.pos[1] + b.mass * b.vel[1]
}

/// A method of the user's called on an operator's result, `(cur - prev).norm()`.
#[derive(Clone, Copy)]
struct V2 {
    x: f64,
    y: f64,
}

impl std::ops::Sub for V2 {
    type Output = V2;
    fn sub(self, o: V2) -> V2 {
        V2 {
            x: self.x - o.x,
            y: self.y - o.y,
        }
    }
}

impl V2 {
    fn norm(self) -> f64 {
        (self.x * self.x + self.y * self.y).sqrt()
    }
}

#[differentiate]
fn path_length(p: &[f64]) -> f64 {
    let mut total = 0.0;
    let mut prev = V2 { x: p[0], y: p[1] };
    for i in 1..p.len() / 2 {
        let cur = V2 {
            x: p[2 * i],
            y: p[2 * i + 1],
        };
        total += (cur - prev).norm();
        prev = cur;
    }
    total
}

#[test]
fn structs_of_arrays_and_methods_on_values() {
    for v0 in [[1.0, 2.0], [-0.5, 3.0]] {
        let (value, g) = flight::grad(&v0, 9.8);
        assert_eq!(value, flight(&v0, 9.8));
        assert_gradient(|v| flight(v, 9.8), &v0, &g.v0);
        assert_gradient(|v| flight(&v0, v[0]), &[9.8], &[g.g]);
    }
    let p = [0.0, 0.0, 1.0, 0.5, 2.0, -0.5, 2.5, 1.0];
    let (value, g) = path_length::grad(&p);
    assert_eq!(value, path_length(&p));
    assert_gradient(path_length, &p, &g.p);
}
