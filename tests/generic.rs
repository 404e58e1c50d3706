//! Functions generic over the float type, `fn f<T: Float>(..)`, written with
//! num-traits' `Float` as generic numeric Rust is, and instantiated with `f64`
//! and `f32`.

mod common;

use backprop_runtime::{differentiate, sigmoid};
use common::assert_gradient;
use num_traits::Float;

/// The blog's function, for any float.
#[differentiate]
fn blog<T: Float>(x: T, y: T) -> T {
    let sigx = sigmoid(x);
    let numer = x + sigmoid(y);
    let xandy = x + y;
    numer / (sigx + xandy * xandy)
}

/// Literals as generic code writes them, a `where` clause, a slice, a loop and
/// a branch.
#[differentiate]
fn polynomial<T>(x: T, coefficients: &[T]) -> T
where
    T: Float,
{
    let half = T::from(0.5).unwrap();
    let mut value = T::zero();
    let mut power = T::one();
    for c in coefficients {
        value = value + *c * power;
        power = power * x;
    }
    let bent = if value > T::zero() {
        value.sqrt()
    } else {
        -(-value).sqrt() * half
    };
    bent + x.powi(3) / T::from(3).unwrap() + x.max(T::zero()) * T::epsilon()
}

/// A generic callee with a buffer it writes, and a generic caller.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn scale_all<T: Float>(v: &mut [T], by: T) {
    for i in 0..v.len() {
        v[i] = v[i] * by;
    }
}

#[differentiate]
#[allow(clippy::needless_range_loop)]
fn energy<T: Float>(x: &[T], k: T) -> T {
    let mut v = x.to_vec();
    scale_all(&mut v, k.exp());
    let mut total = T::zero();
    for i in 0..v.len() {
        total = total + blog(v[i], k) * v[i];
    }
    total
}

/// Several outputs; a method called through the trait (`Float::cos`).
#[differentiate]
fn polar<T: Float>(r: T, theta: T) -> (T, T) {
    (r * Float::cos(theta), r * theta.sin())
}

#[test]
fn the_blog_function_in_both_float_types() {
    let (value, g) = blog::grad(3.0_f64, -4.0);
    let (value32, g32) = blog::grad(3.0_f32, -4.0);
    assert_eq!(value, blog(3.0, -4.0));
    assert!((value - 1.5456).abs() < 1e-4 && (g.x - 2.0596).abs() < 1e-4);
    assert!((g.y - 1.5922).abs() < 1e-4);
    assert!((f64::from(value32) - value).abs() < 1e-6);
    assert!((f64::from(g32.x) - g.x).abs() < 1e-5 && (f64::from(g32.y) - g.y).abs() < 1e-5);
    for (x, y) in [(0.5, 1.5), (-2.0, 0.3)] {
        let (_, g) = blog::grad(x, y);
        assert_gradient(|v| blog(v[0], v[1]), &[x, y], &[g.x, g.y]);
    }
}

#[test]
fn literals_loops_and_branches() {
    // Both sides of the branch.
    for (x, coefficients) in [(0.7, [1.0, 0.5, -0.2]), (-1.3, [-2.0, 0.25, 0.1])] {
        let (value, g) = polynomial::grad(x, &coefficients);
        assert_eq!(value, polynomial(x, &coefficients));
        assert_gradient(|v| polynomial(v[0], &coefficients), &[x], &[g.x]);
        assert_gradient(|c| polynomial(x, c), &coefficients, &g.coefficients);
        let (value32, g32) = polynomial::grad(x as f32, &coefficients.map(|c| c as f32));
        assert!((f64::from(value32) - value).abs() < 1e-5);
        assert!((f64::from(g32.x) - g.x).abs() < 1e-4);
    }
}

#[test]
fn generic_callers_of_generic_callees() {
    let x = [0.3, -0.8, 1.2];
    for k in [-0.4, 0.6] {
        let (value, g) = energy::grad(&x, k);
        assert_eq!(value, energy(&x, k));
        assert_gradient(|x| energy(x, k), &x, &g.x);
        assert_gradient(|v| energy(&x, v[0]), &[k], &[g.k]);
    }
}

#[test]
fn several_outputs() {
    let (value, rows) = polar::jacobian(2.0_f64, 0.4);
    assert_eq!(value, polar(2.0, 0.4));
    assert_gradient(
        |v| polar(v[0], v[1]).0,
        &[2.0, 0.4],
        &[rows[0].r, rows[0].theta],
    );
    assert_gradient(
        |v| polar(v[0], v[1]).1,
        &[2.0, 0.4],
        &[rows[1].r, rows[1].theta],
    );
}

#[differentiate]
fn weighted_norm<T: Float>(w: &[T], scale: T) -> T {
    w.iter().fold(T::zero(), |s, &x| s + x * x * scale).sqrt()
}

#[differentiate]
fn squashed<T: Float>(x: T) -> T {
    x / (T::one() + x.abs())
}

/// A function over `f64` calls generic differentiated functions as it calls
/// any other, without `::<f64>`: their types default their float to `f64`.
#[differentiate]
fn calls_generic_helpers(w: &[f64], x: f64) -> f64 {
    let n = weighted_norm(w, x * x);
    squashed(n - x) + squashed(x) * weighted_norm(&w[1..], 0.5)
}

#[test]
fn an_f64_function_calls_generic_ones_without_naming_the_float() {
    let w = [0.3, -1.2, 0.8, 2.0];
    for x in [-0.7, 0.4, 1.9] {
        let (value, g) = calls_generic_helpers::grad(&w, x);
        assert_eq!(value, calls_generic_helpers(&w, x));
        let f = |p: &[f64]| calls_generic_helpers(&p[..4], p[4]);
        let point = [w[0], w[1], w[2], w[3], x];
        let analytic = [g.w.clone(), vec![g.x]].concat();
        assert_gradient(f, &point, &analytic);
        let (_, along) = calls_generic_helpers::tangent(&w, x, &[0.0; 4], 1.0);
        assert!((along - g.x).abs() <= 1e-12 * g.x.abs().max(1.0));
    }
}

/// A function generic over its float and an array's length whose backward
/// pass needs no memory of its own: its `Scratch` is an alias, which declares
/// `const N: usize` (it was `Scratch<T, N>`: E0747 at the signature).
#[differentiate]
fn norm_of<T: Float, const N: usize>(x: [T; N]) -> T {
    let mut s = T::zero();
    for v in x {
        s = s + v * v;
    }
    s.sqrt()
}

#[test]
fn a_float_and_a_length_as_generic_parameters() {
    let x = [1.0, 2.0, 2.0];
    let (value, g) = norm_of::grad(x);
    assert_eq!(value, 3.0);
    assert_gradient(|v| norm_of([v[0], v[1], v[2]]), &x, &g.x);
    let (value, g32) = norm_of::grad([1.0_f32, 2.0, 2.0]);
    assert_eq!(value, 3.0);
    for (a, b) in g32.x.iter().zip(g.x) {
        assert!((f64::from(*a) - b).abs() < 1e-6);
    }
}

/// Plain helpers generic over the float (no attribute), with a parameter
/// named otherwise than the caller's (`F` for `T`), over slices and floats.
fn dot<F: Float>(a: &[F], b: &[F]) -> F {
    let mut s = F::zero();
    for i in 0..a.len() {
        s = s + a[i] * b[i];
    }
    s
}

fn soft_square<F: Float>(v: F) -> F {
    let half = F::from(0.5).unwrap();
    (v * v + half).sqrt()
}

/// A generic function calling them: each inlined over the caller's `T`
/// (were calls of differentiated functions that do not exist: rustc
/// reported "`dot` is not a crate or module").
#[differentiate]
fn generic_over_plain_helpers<T: Float>(x: &[T], y: T) -> T {
    let n = dot(x, x);
    soft_square(y) * n + soft_square(n)
}

#[test]
fn a_generic_function_inlines_generic_plain_helpers() {
    let x = [0.3, -1.2, 0.5, 0.7];
    let (value, g) = generic_over_plain_helpers::grad(&x[..3], x[3]);
    assert_eq!(value, generic_over_plain_helpers(&x[..3], x[3]));
    let mut gradient = g.x.clone();
    gradient.push(g.y);
    assert_gradient(|v| generic_over_plain_helpers(&v[..3], v[3]), &x, &gradient);
    let single: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let (_, g32) = generic_over_plain_helpers::grad(&single[..3], single[3]);
    for (a, b) in g32.x.iter().zip(&g.x) {
        assert!(
            (f64::from(*a) - b).abs() < 1e-4 * (1.0 + b.abs()),
            "{a} {b}"
        );
    }
}

/// A local array read again in a branch, in a generic function: the tape
/// keeps an array of `T`, made with `T::zero()` (a `Float` need not be
/// `Default`; fuzzer seed 1, program 15782191687473683852).
#[differentiate]
fn offsets<T: Float>(p: &[T], c: T) -> T {
    let mut xo = [T::zero(); 3];
    for i in 0..3 {
        xo[i] = p[i] - c;
    }
    if xo[0] > xo[1] {
        xo[0] * xo[2]
    } else {
        xo[1].sin() - xo[2]
    }
}

#[test]
fn a_local_array_in_a_generic_tape() {
    assert!(offsets::SOURCE.contains("[T; 3]"), "{}", offsets::SOURCE);
    for p in [[0.5, -0.3, 1.2], [-0.5, 0.3, 1.2]] {
        let (value, g) = offsets::grad(&p, 0.25);
        assert_eq!(value, offsets(&p, 0.25));
        assert_gradient(|q| offsets(q, 0.25), &p, &g.p);
        let (_, g32) = offsets::grad(&p.map(|v| v as f32), 0.25_f32);
        assert!((g32.c - g.c as f32).abs() < 1e-4);
    }
}
