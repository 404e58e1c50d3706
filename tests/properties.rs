//! Composite functions against finite differences at many seeded random points:
//! the kind of code users write (losses, physical models, activations), where
//! the rules combine.

mod common;

use backprop_runtime::{differentiate, relu, sigmoid, softplus};
use common::{assert_gradient, Rng};

/// The blog's function.
#[differentiate]
fn blog(x: f64, y: f64) -> f64 {
    (x + sigmoid(y)) / (sigmoid(x) + (x + y).powi(2))
}

/// The CS231n neuron.
#[differentiate]
fn neuron(w0: f64, w1: f64, w2: f64, x0: f64, x1: f64) -> f64 {
    let dot = w0 * x0 + w1 * x1 + w2;
    1.0 / (1.0 + (-dot).exp())
}

/// A two-unit network with a binary cross-entropy loss.
#[differentiate(wrt(a, b, c, d, e))]
fn tiny_network(a: f64, b: f64, c: f64, d: f64, e: f64, input: f64, label: f64) -> f64 {
    let h1 = (a * input + b).tanh();
    let h2 = relu(c * input - b) + softplus(d * h1);
    let p = sigmoid(e * h2 + h1);
    -(label * p.ln() + (1.0 - label) * (1.0 - p).ln())
}

/// A damped oscillator's position, and the Rosenbrock valley.
#[differentiate]
fn physics(amplitude: f64, damping: f64, omega: f64, t: f64) -> f64 {
    let envelope = amplitude * (-damping * t).exp();
    let phase = omega * t;
    envelope * phase.cos()
        + (1.0 - amplitude).powi(2)
        + 100.0 * (damping - amplitude * amplitude).powi(2)
}

/// Heavy reuse: every value feeds several nodes.
#[differentiate]
fn reuse(x: f64, y: f64, z: f64) -> f64 {
    let a = x * y + z;
    let b = a * x - y.sin() * a;
    let c = b.hypot(a) + x.atan2(z) + (a * b * z).cbrt();
    let mut acc = c;
    acc *= a;
    acc += b.max(c) - x.min(y);
    acc / (1.0 + z * z) + f64::mul_add(x, y, z).sqrt()
}

fn check<const N: usize>(
    seed: u64,
    ranges: [(f64, f64); N],
    f: impl Fn(&[f64]) -> f64,
    grad: impl Fn(&[f64]) -> (f64, Vec<f64>),
) {
    let mut rng = Rng::new(seed);
    for _ in 0..200 {
        let x: Vec<f64> = ranges.iter().map(|&(lo, hi)| rng.uniform(lo, hi)).collect();
        let (value, g) = grad(&x);
        assert_eq!(value, f(&x), "forward value at {x:?}");
        assert_gradient(&f, &x, &g);
    }
}

#[test]
fn blog_function_at_random_points() {
    check(
        1,
        [(-5.0, 5.0), (-5.0, 5.0)],
        |v| blog(v[0], v[1]),
        |v| {
            let (value, g) = blog::grad(v[0], v[1]);
            (value, vec![g.x, g.y])
        },
    );
}

#[test]
fn neuron_at_random_points() {
    check(
        2,
        [(-3.0, 3.0); 5],
        |v| neuron(v[0], v[1], v[2], v[3], v[4]),
        |v| {
            let (value, g) = neuron::grad(v[0], v[1], v[2], v[3], v[4]);
            (value, vec![g.w0, g.w1, g.w2, g.x0, g.x1])
        },
    );
}

#[test]
fn tiny_network_at_random_points() {
    for (input, label) in [(0.3, 1.0), (-1.2, 0.0), (2.0, 1.0)] {
        check(
            3,
            [(-2.0, 2.0); 5],
            |v| tiny_network(v[0], v[1], v[2], v[3], v[4], input, label),
            |v| {
                let (value, g) = tiny_network::grad(v[0], v[1], v[2], v[3], v[4], input, label);
                (value, vec![g.a, g.b, g.c, g.d, g.e])
            },
        );
    }
}

#[test]
fn physics_at_random_points() {
    check(
        4,
        [(0.5, 2.0), (0.0, 1.0), (0.5, 5.0), (0.0, 3.0)],
        |v| physics(v[0], v[1], v[2], v[3]),
        |v| {
            let (value, g) = physics::grad(v[0], v[1], v[2], v[3]);
            (value, vec![g.amplitude, g.damping, g.omega, g.t])
        },
    );
}

#[test]
fn heavy_reuse_at_random_points() {
    check(
        5,
        [(0.5, 2.0), (0.5, 2.0), (0.5, 2.0)],
        |v| reuse(v[0], v[1], v[2]),
        |v| {
            let (value, g) = reuse::grad(v[0], v[1], v[2]);
            (value, vec![g.x, g.y, g.z])
        },
    );
}
