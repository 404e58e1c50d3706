//! Methods: `#[differentiate]` on an `impl` block and on the methods to
//! differentiate, which read their weights through `&self`.

mod common;

// Models as structs that derive `Differentiable`, functions over them.
#[path = "methods/structs.rs"]
mod structs;

#[path = "methods/slices_of_structs.rs"]
mod slices_of_structs;

#[path = "methods/mut_structs.rs"]
mod mut_structs;

// Structs as values: copies of a parameter, helpers returning a struct.
#[path = "methods/struct_values.rs"]
mod struct_values;

// Slices of structs held by a struct: `model.layers`.
#[path = "methods/held_slices.rs"]
mod held_slices;

// Slices of rows of floats: `&[[f64; 3]]`, `&[Vec<f64>]`.
#[path = "methods/rows.rs"]
mod rows;

#[path = "methods/grids.rs"]
mod grids;

use backprop_runtime::differentiate;
use common::assert_gradient;
use num_traits::Float;

/// A linear model: weights in a `Vec`, a bias, a size used as an integer.
#[derive(Clone)]
pub struct Linear {
    pub w: Vec<f64>,
    pub b: f64,
    pub inputs: usize,
}

#[differentiate]
impl Linear {
    pub fn new(w: Vec<f64>, b: f64) -> Self {
        let inputs = w.len();
        Linear { w, b, inputs }
    }

    #[differentiate]
    #[allow(clippy::needless_range_loop)]
    pub fn predict(&self, x: &[f64]) -> f64 {
        let mut total = self.b;
        for i in 0..self.inputs {
            total += self.w[i] * x[i];
        }
        total
    }

    /// Calls another differentiated method and an associated function.
    #[differentiate]
    pub fn loss(&self, x: &[f64], target: f64) -> f64 {
        let error = self.predict(x) - target;
        error * error + Self::penalty(self.b, 0.01)
    }

    #[differentiate]
    fn penalty(b: f64, strength: f64) -> f64 {
        strength * b * b
    }
}

/// Gradient descent on a method's gradient.
fn fit(model: &mut Linear, data: &[([f64; 2], f64)], steps: usize) -> f64 {
    let mut last = f64::INFINITY;
    for _ in 0..steps {
        let mut total = 0.0;
        let mut dw = [0.0; 2];
        let mut db = 0.0;
        for (x, y) in data {
            let (loss, g) = model.loss_grad(x, *y);
            total += loss;
            dw[0] += g.w[0];
            dw[1] += g.w[1];
            db += g.b;
        }
        model.w[0] -= 0.05 * dw[0];
        model.w[1] -= 0.05 * dw[1];
        model.b -= 0.05 * db;
        last = total;
    }
    last
}

#[test]
fn a_method_reading_fields_against_finite_differences() {
    let x = [1.0, 2.0, -1.5];
    for (w, b, target) in [([0.5, -0.3, 0.2], 0.7, 2.0), ([-1.0, 0.4, 0.9], -0.2, -0.5)] {
        let model = Linear::new(w.to_vec(), b);
        let (value, g) = model.loss_grad(&x, target);
        assert_eq!(value, model.loss(&x, target));
        let with = |w: &[f64], b: f64| Linear::new(w.to_vec(), b);
        assert_gradient(|w| with(w, b).loss(&x, target), &w, &g.w);
        assert_gradient(|v| with(&w, v[0]).loss(&x, target), &[b], &[g.b]);
        assert_gradient(|x| model.loss(x, target), &x, &g.x);
        assert_gradient(|v| model.loss(&x, v[0]), &[target], &[g.target]);
        // The tape-returning form, and the module beside the impl.
        let (value, tape) = model.loss_forward(&x, target);
        assert_eq!(value, model.loss(&x, target));
        assert_eq!(linear_loss::backward(&tape, 1.0), g);
        // The picture: the fields' gradients and the call of `predict`.
        let graph = model.loss_graph(&x, target);
        assert_eq!(graph.node("b").and_then(|n| n.adjoint), Some(g.b));
        assert_eq!(
            graph.node("w").and_then(|n| n.gradient.clone()),
            Some(backprop_runtime::graph::Shown::array(&g.w))
        );
        assert!(graph.nodes.iter().any(|n| n.op.contains("predict")));
    }
}

#[test]
fn training_with_method_gradients() {
    let data = [
        ([1.0, 0.0], 2.0),
        ([0.0, 1.0], -1.0),
        ([1.0, 1.0], 1.0),
        ([2.0, 1.0], 3.0),
    ];
    let mut model = Linear::new(vec![0.0, 0.0], 0.0);
    let first = fit(&mut model, &data, 1);
    let last = fit(&mut model, &data, 300);
    assert!(last < first * 0.01, "{first} -> {last}");
}

/// A small network in fixed arrays, a branch, and a field of a field (data).
pub struct Config {
    pub leak: f64,
}

pub struct Net {
    pub hidden: [f64; 4],
    pub out: [f64; 4],
    pub config: Config,
}

#[differentiate]
impl Net {
    #[differentiate]
    fn activate(&self, z: f64) -> f64 {
        if z > 0.0 {
            z
        } else {
            self.config.leak * z
        }
    }

    #[differentiate]
    pub fn forward(&self, x: f64) -> f64 {
        let mut y = 0.0;
        for j in 0..4 {
            let h = self.activate(self.hidden[j] * x);
            y += self.out[j] * h;
        }
        y.tanh()
    }
}

#[test]
fn fixed_array_fields_branches_and_data_fields() {
    let net = Net {
        hidden: [0.5, -1.0, 2.0, -0.25],
        out: [1.0, 0.5, -0.3, 2.0],
        config: Config { leak: 0.1 },
    };
    // Both sides of the branch, for every unit.
    for x in [0.8, -1.1] {
        let (value, g) = net.forward_grad(x);
        assert_eq!(value, net.forward(x));
        let with_hidden = |h: &[f64]| {
            let n = Net {
                hidden: [h[0], h[1], h[2], h[3]],
                out: net.out,
                config: Config { leak: 0.1 },
            };
            n.forward(x)
        };
        assert_gradient(with_hidden, &net.hidden, &g.hidden);
        let with_out = |o: &[f64]| {
            let n = Net {
                hidden: net.hidden,
                out: [o[0], o[1], o[2], o[3]],
                config: Config { leak: 0.1 },
            };
            n.forward(x)
        };
        assert_gradient(with_out, &net.out, &g.out);
        assert_gradient(|v| net.forward(v[0]), &[x], &[g.x]);
    }
}

/// A generic impl.
pub struct Poly<T> {
    pub coefficients: Vec<T>,
}

#[differentiate]
impl<T: Float> Poly<T> {
    #[differentiate]
    pub fn eval(&self, x: T) -> T {
        let n = self.coefficients.len();
        let mut acc = T::zero();
        for i in 0..n {
            acc = acc * x + self.coefficients[n - 1 - i];
        }
        acc
    }
}

#[test]
fn a_generic_impl() {
    let p = Poly {
        coefficients: vec![1.0, -2.0, 0.5],
    };
    let (value, g) = p.eval_grad(1.5);
    assert_eq!(value, p.eval(1.5));
    assert_gradient(
        |c| {
            Poly {
                coefficients: c.to_vec(),
            }
            .eval(1.5)
        },
        &p.coefficients,
        &g.coefficients,
    );
    assert_gradient(|v| p.eval(v[0]), &[1.5], &[g.x]);
    let p32 = Poly {
        coefficients: vec![1.0_f32, -2.0, 0.5],
    };
    assert!((f64::from(p32.eval_grad(1.5).1.x) - g.x).abs() < 1e-5);
}

/// Everything at once: a generic impl, a closure over a field, an iterator
/// chain over a field, windows, and a call of a generic free function.
pub struct Smoother<T> {
    pub weights: Vec<T>,
    pub strength: T,
    pub order: usize,
}

#[differentiate]
fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).fold(T::zero(), |acc, (x, y)| acc + *x * *y)
}

#[differentiate]
impl<T: Float> Smoother<T> {
    #[differentiate]
    pub fn cost(&self, signal: &[T]) -> T {
        let penalty = |d: T| self.strength * d * d;
        let mut rough = T::zero();
        for w in self.weights.windows(2) {
            rough = rough + penalty(w[1] - w[0]);
        }
        let fit = dot(&self.weights, signal);
        let spread = self
            .weights
            .iter()
            .map(|v| v.powi(2))
            .fold(T::zero(), |a, b| a + b);
        rough + fit * fit + spread / T::from(self.order).unwrap()
    }
}

#[test]
fn generic_method_with_closures_windows_and_calls() {
    let model = Smoother {
        weights: vec![0.5, -0.2, 0.9, 1.4],
        strength: 0.7,
        order: 3,
    };
    let signal = [1.0, 0.5, -0.5, 2.0];
    let (value, g) = model.cost_grad(&signal);
    assert_eq!(value, model.cost(&signal));
    let with = |w: &[f64], s: f64| Smoother {
        weights: w.to_vec(),
        strength: s,
        order: 3,
    };
    assert_gradient(|w| with(w, 0.7).cost(&signal), &model.weights, &g.weights);
    assert_gradient(
        |v| with(&model.weights, v[0]).cost(&signal),
        &[0.7],
        &[g.strength],
    );
    assert_gradient(|s| model.cost(s), &signal, &g.signal);
}
