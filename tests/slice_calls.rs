//! Differentiated slices and arrays passed whole to other differentiated
//! functions: the callee's pullback hands back the array's adjoint, which the
//! caller adds into its own.

mod common;

use backprop_runtime::differentiate;
use common::assert_gradient;

#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += a[i] * b[i];
    }
    s
}

#[differentiate]
fn norm_squared(v: &[f64]) -> f64 {
    dot(v, v)
}

/// A slice parameter, a local vector passed by `&`, and data passed along.
#[differentiate(wrt(w))]
#[allow(clippy::needless_range_loop)]
fn layer_loss(w: &[f64], x: &[f64]) -> f64 {
    let mut h = vec![0.0; x.len()];
    for i in 0..x.len() {
        h[i] = (w[i] * x[i]).tanh();
    }
    let fit = dot(&h, x);
    // The buffer is overwritten after the call: the callee kept its own copy.
    for i in 0..h.len() {
        h[i] = h[i] * h[i];
    }
    fit + 0.1 * norm_squared(w) + dot(&h, w)
}

#[differentiate]
fn weighted(w: [f64; 3], x: f64) -> f64 {
    let mut buf = [0.0; 3];
    buf[0] = x;
    buf[1] = x * x;
    buf[2] = x.sin();
    dot(&w, &buf)
}

#[test]
fn a_slice_parameter_passed_on() {
    for v in [[1.0, -2.0, 0.5], [0.3, 0.0, 4.0]] {
        let (value, g) = norm_squared::grad(&v);
        assert_eq!(value, norm_squared(&v));
        assert_gradient(norm_squared, &v, &g.v);
    }
}

#[test]
fn a_buffer_passed_by_reference_then_overwritten() {
    let x = [0.5, -1.0, 2.0, 0.25];
    for w in [[0.1, 0.2, -0.3, 0.7], [-1.0, 0.5, 0.9, -0.2]] {
        let (value, g) = layer_loss::grad(&w, &x);
        assert_eq!(value, layer_loss(&w, &x));
        assert_gradient(|w| layer_loss(w, &x), &w, &g.w);
    }
}

#[test]
fn a_fixed_array_and_a_local_array_passed_on() {
    for (w, x) in [([1.0, -0.5, 2.0], 0.7), ([0.0, 3.0, -1.0], -1.3)] {
        let (value, g) = weighted::grad(w, x);
        assert_eq!(value, weighted(w, x));
        assert_gradient(
            |v| weighted([v[0], v[1], v[2]], v[3]),
            &[w[0], w[1], w[2], x],
            &[g.w[0], g.w[1], g.w[2], g.x],
        );
    }
}

/// One explicit Euler step of `v' = -k v + sin(v)` in place, returning the
/// step's energy.
#[differentiate]
#[allow(clippy::ptr_arg, clippy::needless_range_loop)]
fn euler_step(v: &mut Vec<f64>, k: f64, dt: f64) -> f64 {
    let mut energy = 0.0;
    for i in 0..v.len() {
        let rate = -k * v[i] + v[i].sin();
        v[i] += dt * rate;
        energy += rate * rate;
    }
    energy
}

/// A fixed array written in place: a rotation by `angle`.
#[differentiate]
fn rotate(p: &mut [f64; 2], angle: f64) {
    let (s, c) = angle.sin_cos();
    let x = p[0];
    p[0] = c * x - s * p[1];
    p[1] = s * x + c * p[1];
}

/// Writers called in a loop (their tapes are stacked), a written buffer read by
/// a read-only callee, and a `&mut` parameter passed on to a reader.
#[differentiate]
fn simulate(v0: &[f64], k: f64, angle: f64) -> f64 {
    let mut v = v0.to_vec();
    let mut energy = 0.0;
    for _ in 0..4 {
        energy += euler_step(&mut v, k, 0.1);
    }
    let mut p = [v[0], 1.0];
    rotate(&mut p, angle);
    rotate(&mut p, angle * 0.5);
    energy + dot(&v, v0) + p[0] * p[1]
}

#[test]
fn writers_in_loops_and_fixed_arrays() {
    let v0 = [0.4, -1.1, 2.0];
    for (k, angle) in [(0.7, 0.3), (-0.2, 2.5)] {
        let (value, g) = simulate::grad(&v0, k, angle);
        assert_eq!(value, simulate(&v0, k, angle));
        assert_gradient(|v| simulate(v, k, angle), &v0, &g.v0);
        assert_gradient(|v| simulate(&v0, v[0], v[1]), &[k, angle], &[g.k, g.angle]);
    }
}

/// The writer alone: seeds for its value and its final contents.
#[test]
fn a_writer_with_a_value_takes_both_seeds() {
    let start = vec![0.3, -0.8];
    let mut v = start.clone();
    let (energy, tape) = euler_step::forward(&mut v, 0.5, 0.1);
    let mut expected = start.clone();
    assert_eq!(energy, euler_step(&mut expected, 0.5, 0.1));
    assert_eq!(v, expected);
    let seed_v = [1.5, -0.25];
    let g = euler_step::backward(&tape, (0.7, &seed_v));
    let weighted = |s: &[f64]| {
        let mut v = s.to_vec();
        let e = euler_step(&mut v, 0.5, 0.1);
        0.7 * e + v[0] * seed_v[0] + v[1] * seed_v[1]
    };
    assert_gradient(weighted, &start, &g.v);
}

/// Arrays of differentiated values built in place: bound to a variable, and
/// passed straight to a callee.
#[differentiate]
fn arrays_of_values(x: f64, y: f64) -> f64 {
    let v = [x * y, y.exp(), 1.0];
    let first = dot(&v, &[x, x, y]);
    let w = [v[0] - v[1], x];
    first + weighted(w_of(w), y) + dot(&w, &w)
}

#[differentiate]
fn w_of(w: [f64; 2]) -> [f64; 3] {
    [w[0], w[1] * w[0], 0.5]
}

#[test]
fn arrays_built_from_differentiated_values() {
    for (x, y) in [(0.3, -0.6), (1.4, 0.9)] {
        check!(arrays_of_values(x = x, y = y));
    }
}

/// Copies of differentiated arrays, to write into.
#[differentiate]
fn copies(w: &[f64], a: [f64; 2]) -> f64 {
    let mut v = w.to_vec();
    let mut b = a;
    let mut c = v.clone();
    for i in 0..v.len() {
        v[i] *= v[i];
        c[i] += b[i % 2];
    }
    b[0] *= b[1];
    dot(&v, &c) + b[0] + w[0]
}

#[test]
fn copies_of_arrays_are_buffers() {
    for (w, a) in [
        ([0.5, -1.0, 2.0], [0.3, 0.7]),
        ([1.5, 0.1, -0.4], [-2.0, 0.9]),
    ] {
        let (value, g) = copies::grad(&w, a);
        assert_eq!(value, copies(&w, a));
        assert_gradient(|w| copies(w, a), &w, &g.w);
        assert_gradient(|a| copies(&w, [a[0], a[1]]), &a, &g.a);
    }
}

/// Const generic lengths, and `vec![..]` of differentiated values.
#[differentiate]
#[allow(clippy::useless_vec)]
fn const_length<const N: usize>(w: [f64; N], x: f64) -> f64 {
    let v = vec![x, x * x, w[0]];
    let order: Vec<usize> = vec![2, 0, 1];
    let mut total = 0.0;
    for i in 0..N {
        total += w[i] * v[order[i % 3]];
    }
    total
}

#[test]
fn const_generic_arrays_and_vec_literals() {
    let w = [0.5, -1.0, 2.0, 0.25];
    for x in [0.7, -1.3] {
        let (value, g) = const_length::grad(w, x);
        assert_eq!(value, const_length(w, x));
        assert_gradient(|w| const_length([w[0], w[1], w[2], w[3]], x), &w, &g.w);
        assert_gradient(|v| const_length(w, v[0]), &[x], &[g.x]);
    }
}

/// An output-only `&mut` slice, as C ports write `void f(const double* x, double* y)`.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn into_outputs(x: &[f64], y: &mut [f64]) {
    for i in 0..x.len() {
        y[i] = x[i].sin() * x[0];
    }
}

#[test]
fn an_output_only_mut_slice() {
    let x = [0.5, 1.5];
    let mut y = [9.0, 9.0];
    let ((), tape) = into_outputs::forward(&x, &mut y);
    assert_eq!(y, [0.5f64.sin() * 0.5, 1.5f64.sin() * 0.5]);
    let seed = [1.0, 2.0];
    let g = into_outputs::backward(&tape, &seed);
    let weighted = |x: &[f64]| {
        let mut y = [0.0; 2];
        into_outputs(x, &mut y);
        y[0] * seed[0] + y[1] * seed[1]
    };
    assert_gradient(weighted, &x, &g.x);
    // What `y` held before does not matter.
    assert_eq!(g.y, vec![0.0, 0.0]);
}
