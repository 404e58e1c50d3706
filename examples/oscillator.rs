//! Fitting a physical model: the stiffness and damping of a damped oscillator,
//! recovered from observed positions by gradient descent.
//!
//! The model is a struct generic over the float type that derives
//! `Differentiable`. The loss steps the state in place with a differentiated
//! helper that takes `&mut [T]`, passing it the model's fields; its gradient
//! has an `OscillatorGrad` for the model, which `model.step` applies. The same
//! code fits in `f64` and in `f32`.

use backprop_runtime::{differentiate, Differentiable, Float};

/// One semi-implicit Euler step of `x'' = -k x - c x'`, in place.
#[differentiate]
pub fn step<T: Float>(state: &mut [T], k: T, c: T, dt: T) {
    let acceleration = -k * state[0] - c * state[1];
    state[1] = state[1] + dt * acceleration;
    state[0] = state[0] + dt * state[1];
}

/// A unit mass on a spring with stiffness `k` and damping `c`.
#[derive(Differentiable, Clone, Copy, Debug)]
pub struct Oscillator<T> {
    pub k: T,
    pub c: T,
}

impl<T: Float> Oscillator<T> {
    /// The positions every `every` steps of `dt`, from rest at 1.
    pub fn simulate(&self, samples: usize, dt: T, every: usize) -> Vec<T> {
        let mut state = [T::one(), T::zero()];
        let mut positions = Vec::with_capacity(samples);
        for _ in 0..samples {
            for _ in 0..every {
                step(&mut state, self.k, self.c, dt);
            }
            positions.push(state[0]);
        }
        positions
    }
}

/// The mean squared error of the simulated positions against `observed`.
#[differentiate(wrt(model))]
pub fn loss<T: Float>(model: &Oscillator<T>, observed: &[T], dt: T, every: usize) -> T {
    let mut state = vec![T::one(), T::zero()];
    let mut total = T::zero();
    for position in observed {
        for _ in 0..every {
            step(&mut state, model.k, model.c, dt);
        }
        let error = state[0] - *position;
        total = total + error * error;
    }
    total / T::from(observed.len()).unwrap()
}

/// Gradient descent on `(k, c)` from a first guess; returns the fitted model
/// and the number of steps taken.
pub fn fit<T: Float>(
    observed: &[T],
    dt: T,
    every: usize,
    guess: Oscillator<T>,
) -> (Oscillator<T>, usize) {
    let mut model = guess;
    let rate = T::from(0.5).unwrap();
    for iteration in 0..20_000 {
        let (value, g) = loss::grad(&model, observed, dt, every);
        if value < T::from(1e-12).unwrap() {
            return (model, iteration);
        }
        model.step(&g.model, rate);
    }
    (model, 20_000)
}

fn main() {
    let truth = Oscillator { k: 4.0, c: 0.3 };
    let (dt, every) = (0.01, 10);
    let observed = truth.simulate(60, dt, every);
    let (fitted, steps) = fit(&observed, dt, every, Oscillator { k: 3.0, c: 0.1 });
    println!("true  k = {:.4}, c = {:.4}", truth.k, truth.c);
    println!(
        "fit   k = {:.4}, c = {:.4} after {steps} gradient steps (f64)",
        fitted.k, fitted.c
    );

    let observed32: Vec<f32> = observed.iter().map(|&x| x as f32).collect();
    let (fitted32, steps32) = fit(&observed32, 0.01_f32, every, Oscillator { k: 3.0, c: 0.1 });
    println!(
        "fit   k = {:.4}, c = {:.4} after {steps32} gradient steps (f32)",
        fitted32.k, fitted32.c
    );
}
