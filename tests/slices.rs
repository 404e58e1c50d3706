//! Slices, arrays and vectors: reads, writes that the backward pass must undo,
//! loops over elements, and gradients over many parameters, against central
//! finite differences.

mod common;

use backprop_runtime::differentiate;
use common::{assert_gradient, central_difference, Rng};

fn random(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.uniform(-1.5, 1.5)).collect()
}

#[differentiate(wrt(w))]
fn dot(w: &[f64], x: &[f64]) -> f64 {
    let mut sum = 0.0;
    for i in 0..w.len() {
        sum += w[i] * x[i];
    }
    sum
}

/// A matrix-vector product through a local buffer, indices computed as users
/// write them.
#[differentiate(wrt(m, b))]
#[allow(clippy::needless_range_loop)]
fn layer(m: &[f64], b: &[f64], x: &[f64], rows: usize) -> f64 {
    let cols = x.len();
    let mut h = vec![0.0; rows];
    for j in 0..rows {
        let mut s = b[j];
        for i in 0..cols {
            s += m[j * cols + i] * x[i];
        }
        h[j] = s.tanh();
    }
    let mut total = 0.0;
    for j in 0..rows {
        total += h[j] * h[j];
    }
    total
}

/// Fixed-size arrays by value and by reference, and a vector.
#[differentiate]
// `&Vec<f64>` on purpose: users write it, and it must work.
#[allow(clippy::ptr_arg)]
fn shapes(a: [f64; 3], b: &[f64; 3], v: &Vec<f64>) -> f64 {
    let mut acc = 0.0;
    for i in 0..3 {
        acc += a[i] * b[i].sin() + v[i % v.len()];
    }
    acc * a[0]
}

/// Overwrites the backward pass must undo, and a buffer read after it is written
/// (prefix sums and products).
#[differentiate]
fn overwrites(w: &[f64]) -> f64 {
    let n = w.len();
    let mut buf = vec![0.0; n];
    for i in 0..n {
        buf[i] = w[i] * 2.0;
    }
    buf[0] = buf[0].exp();
    buf[0] = buf[0] * w[1] + 0.5;
    for i in 1..n {
        buf[i] += buf[i - 1] * 0.5;
        buf[i] *= w[i];
    }
    let mut fixed = [1.0; 4];
    for k in 0..4 {
        fixed[k] = buf[k % n] - fixed[(k + 3) % 4];
    }
    fixed[3] + buf[n - 1]
}

/// `for v in w.iter()`, `.enumerate()`, `.zip()`.
#[differentiate]
fn iterators(w: &[f64], x: &[f64]) -> f64 {
    let mut a = 0.0;
    for v in w.iter() {
        a += v * v;
    }
    for (i, &v) in w.iter().enumerate() {
        a += v * i as f64;
    }
    for (p, q) in w.iter().zip(x.iter()) {
        a += (p * q).sin();
    }
    for v in x {
        a *= 1.0 + v * 0.01;
    }
    a
}

#[test]
fn dot_product() {
    for n in [0, 1, 7] {
        let (w, x) = (random(1, n), random(2, n));
        let (value, g) = dot::grad(&w, &x);
        assert_eq!(value, dot(&w, &x));
        assert_eq!(g.w, x, "d(w . x)/dw = x");
    }
}

#[test]
fn matrix_vector_layer() {
    let (rows, cols) = (4, 3);
    let (m, b, x) = (random(3, rows * cols), random(4, rows), random(5, cols));
    let (value, g) = layer::grad(&m, &b, &x, rows);
    assert_eq!(value, layer(&m, &b, &x, rows));
    assert_gradient(|v| layer(v, &b, &x, rows), &m, &g.m);
    assert_gradient(|v| layer(&m, v, &x, rows), &b, &g.b);
}

#[test]
fn arrays_and_vectors() {
    let (a, b, v) = ([0.3, -1.2, 0.8], [1.1, 0.4, -0.6], vec![0.5, 2.0]);
    let (value, g) = shapes::grad(a, &b, &v);
    assert_eq!(value, shapes(a, &b, &v));
    let grad_a: [f64; 3] = g.a;
    let grad_b: [f64; 3] = g.b;
    let grad_v: Vec<f64> = g.v;
    assert_gradient(|w| shapes([w[0], w[1], w[2]], &b, &v), &a, &grad_a);
    assert_gradient(|w| shapes(a, &[w[0], w[1], w[2]], &v), &b, &grad_b);
    assert_gradient(|w| shapes(a, &b, &w.to_vec()), &v, &grad_v);
}

#[test]
fn writes_and_overwrites() {
    for n in [2, 3, 6] {
        let w = random(6 + n as u64, n);
        let (value, g) = overwrites::grad(&w);
        assert_eq!(value, overwrites(&w));
        assert_gradient(overwrites, &w, &g.w);
    }
}

#[test]
fn loops_over_elements() {
    for n in [0, 1, 5] {
        let (w, x) = (random(7, n), random(8, n + 1));
        let (value, g) = iterators::grad(&w, &x);
        assert_eq!(value, iterators(&w, &x));
        assert_gradient(|v| iterators(v, &x), &w, &g.w);
        assert_gradient(|v| iterators(&w, v), &x, &g.x);
    }
}

#[test]
fn accumulating_into_caller_owned_buffers() {
    let (rows, cols) = (3, 2);
    let (m, b) = (random(9, rows * cols), random(10, rows));
    let batch = [random(11, cols), random(12, cols), random(13, cols)];
    let mut total = layer::Grad::default();
    let mut tape = layer::Tape::default();
    for x in &batch {
        let value = layer::forward_into(&mut tape, &m, &b, x, rows);
        assert_eq!(value, layer(&m, &b, x, rows));
        layer::backward_into(&tape, 1.0, &mut total);
    }
    let mut expected = vec![0.0; m.len()];
    for x in &batch {
        for (e, g) in expected.iter_mut().zip(layer::grad(&m, &b, x, rows).1.m) {
            *e += g;
        }
    }
    for (t, e) in total.m.iter().zip(&expected) {
        assert!((t - e).abs() < 1e-12);
    }
}

/// A gradient over 100,000 parameters: right, and the tape holds what the rules
/// read, one value per element.
#[differentiate(wrt(w))]
fn wide(w: &[f64], x: &[f64]) -> f64 {
    let mut sum = 0.0;
    for i in 0..w.len() {
        sum += (w[i] * x[i]).tanh();
    }
    sum * sum
}

#[test]
fn a_hundred_thousand_parameters() {
    let n = 100_000;
    let (w, x) = (random(14, n), random(15, n));
    let (value, g) = wide::grad(&w, &x);
    assert_eq!(value, wide(&w, &x));
    assert_eq!(g.w.len(), n);
    // d/dw_i (s^2) = 2 s (1 - tanh^2(w_i x_i)) x_i
    for i in [0, 1, n / 2, n - 1] {
        let t = (w[i] * x[i]).tanh();
        let expected = 2.0 * value.sqrt() * (1.0 - t * t) * x[i];
        assert!((g.w[i] - expected).abs() <= 1e-9 * expected.abs().max(1.0));
    }
    for i in [3, 777, 54_321] {
        let numeric = central_difference(|v| wide(v, &x), &w, i);
        assert!((numeric - g.w[i]).abs() <= 1e-5 * numeric.abs().max(1.0));
    }
    let (_, tape) = wide::forward(&w, &x);
    // Two saved values per element: the `tanh` (its own derivative) on a stack,
    // and `x` copied once (the product rule's other factor). The index is
    // rebuilt from the trip count; nothing of `w` is saved.
    assert_eq!((tape.tanh.len(), tape.x.len()), (n, n));
}

#[differentiate]
fn single_precision(w: &[f32], scale: f32) -> f32 {
    let mut h = [0.0_f32; 4];
    for (i, v) in w.iter().enumerate() {
        h[i % 4] += v * scale;
    }
    let mut total = 0.0;
    for v in h {
        total += v.tanh();
    }
    total
}

#[test]
fn f32_slices() {
    let w: Vec<f32> = random(20, 6).iter().map(|&v| v as f32).collect();
    let (value, g) = single_precision::grad(&w, 0.7);
    assert_eq!(value, single_precision(&w, 0.7));
    let wide = |v: &[f64]| {
        let narrow: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        f64::from(single_precision(&narrow, 0.7))
    };
    let w64: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
    for (i, &generated) in g.w.iter().enumerate() {
        let h = 1e-2;
        let (mut up, mut down) = (w64.clone(), w64.clone());
        up[i] += h;
        down[i] -= h;
        let numeric = (wide(&up) - wide(&down)) / (2.0 * h);
        assert!(
            (numeric - f64::from(generated)).abs() < 1e-2,
            "{generated} vs {numeric}"
        );
    }
}

/// A lookup table indexed by a truncated input, with linear interpolation, and a
/// `match` on a truncated input: the index has no derivative, the interpolation
/// does.
#[differentiate(wrt(x))]
fn interpolate(table: &[f64], x: f64) -> f64 {
    let scaled = x * (table.len() - 1) as f64;
    let i = (scaled as usize).min(table.len() - 2);
    let t = scaled - i as f64;
    let base = table[i] * (1.0 - t) + table[i + 1] * t;
    match (x * 3.0) as u8 {
        0 => base,
        1 => base * x,
        _ => base + x * x,
    }
}

#[test]
fn indices_and_matches_from_truncated_inputs() {
    let table = [0.0, 1.0, 0.5, 2.0, -1.0];
    for x in [0.1, 0.37, 0.55, 0.8] {
        check!(interpolate(&table, x = x));
    }
}

/// An element read twice in a block is read (and saved) once, as the LSTM's
/// cell reads `state[i]`; a write to the array, a call that may write it
/// and a branch between the reads each keep the second read its own.
#[differentiate(wrt(x))]
fn step_in_place(x: &mut [f64], k: f64) {
    for v in x.iter_mut() {
        *v *= k;
    }
}

#[differentiate]
#[allow(clippy::needless_range_loop, clippy::assign_op_pattern)]
fn reads_again(x: &[f64]) -> f64 {
    let mut s = x.to_vec();
    let mut total = 0.0;
    for i in 0..s.len() {
        // The same element twice, nothing between: one read.
        let a = s[i] * s[i].sin();
        s[i] = a + s[i];
        // Written above: read anew.
        let b = s[i] * s[i];
        total += a * b;
    }
    let first = s[0].exp();
    step_in_place(&mut s, 1.5);
    // Changed by the call: read anew.
    let after = s[0] * first;
    if after > 0.0 {
        s[1] = after.cos();
    }
    // Perhaps written by the branch: read anew.
    total + after + s[1] * s[1] + s[0] * s[2]
}

#[test]
fn an_element_read_twice_is_read_once_until_it_may_change() {
    for seed in 0..6 {
        let x = random(100 + seed, 3);
        let (value, g) = reads_again::grad(&x);
        assert_eq!(value, reads_again(&x));
        assert_gradient(reads_again, &x, &g.x);
    }
}
