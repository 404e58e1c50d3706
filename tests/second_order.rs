//! Second order, forward over reverse (`hvp`, `hessian`) for functions
//! generic over their float: checked against central differences of the
//! gradient, for symmetry, and `hessian` against `hvp` along each axis and
//! along a mixed direction. Loops, branches, slices and calls included.

use backprop_runtime::{differentiate, sigmoid, Float};

// Second order of functions over `f64` and `f32`, in the same test binary.
mod common;
#[path = "modes/second_order_f64.rs"]
mod second_order_f64;

#[differentiate]
fn square_sum<T: Float>(v: &[T]) -> T {
    let mut total = T::zero();
    for a in v {
        total = total + *a * *a;
    }
    total
}

/// Rosenbrock's valley over a slice, with a branch, a call and an
/// activation on top.
#[differentiate]
fn valley<T: Float>(x: &[T], scale: T, n: usize) -> T {
    let one = T::one();
    let hundred = T::from(100.0).unwrap();
    let mut total = T::zero();
    for i in 0..n - 1 {
        let a = one - x[i];
        let b = x[i + 1] - x[i] * x[i];
        total = total + a * a + hundred * b * b;
    }
    let extra = if x[0] > T::zero() {
        sigmoid(x[0]) * x[1].exp()
    } else {
        (x[0] * scale).sin()
    };
    total * scale + extra + square_sum(x).sqrt()
}

fn gradient(x: &[f64], scale: f64, n: usize) -> Vec<f64> {
    let (_, g) = valley::grad(x, scale, n);
    [g.x, vec![g.scale]].concat()
}

#[test]
fn hvp_is_the_derivative_of_the_gradient_along_the_direction() {
    for x in [vec![0.5, -0.3, 1.2], vec![-0.7, 0.4, 0.9]] {
        let (dx, dscale) = (vec![0.3, -1.0, 0.5], 0.25);
        let (value, g, hv) = valley::hvp(&x, 1.5, 3, &dx, dscale);
        assert_eq!(value, valley(&x, 1.5, 3));
        assert_eq!([g.x.clone(), vec![g.scale]].concat(), gradient(&x, 1.5, 3));
        let h = 1e-6;
        let shifted = |t: f64| {
            let x: Vec<f64> = x.iter().zip(&dx).map(|(a, b)| a + t * b).collect();
            gradient(&x, 1.5 + t * dscale, 3)
        };
        let (plus, minus) = (shifted(h), shifted(-h));
        let got = [hv.x, vec![hv.scale]].concat();
        for (k, g) in got.iter().enumerate() {
            let numeric = (plus[k] - minus[k]) / (2.0 * h);
            assert!(
                (g - numeric).abs() <= 1e-5 * numeric.abs().max(1.0),
                "(H v)[{k}] = {g}, differences give {numeric}"
            );
        }
    }
}

#[test]
fn the_hessian_is_symmetric_and_agrees_with_hvp() {
    let x = [0.5, -0.3, 1.2];
    let (value, rows) = valley::hessian(&x, 1.5, 3);
    assert_eq!(value, valley(&x, 1.5, 3));
    assert_eq!(rows.len(), 4);
    for (i, row) in rows.iter().enumerate() {
        for (j, entry) in row.iter().enumerate() {
            assert!((entry - rows[j][i]).abs() <= 1e-9 * entry.abs().max(1.0));
        }
    }
    // H times a mixed direction is the Hessian's rows dotted with it.
    let (dx, dscale) = ([1.0, 2.0, -0.5], 0.75);
    let direction = [dx[0], dx[1], dx[2], dscale];
    let (_, _, hv) = valley::hvp(&x, 1.5, 3, &dx, dscale);
    let got = [hv.x, vec![hv.scale]].concat();
    for (row, g) in rows.iter().zip(&got) {
        let expected: f64 = row.iter().zip(&direction).map(|(a, b)| a * b).sum();
        assert!((g - expected).abs() <= 1e-9 * expected.abs().max(1.0));
    }
}

#[test]
fn a_quadratic_has_its_own_matrix_as_hessian() {
    let (_, rows) = square_sum::hessian(&[0.3_f64, -2.0]);
    assert_eq!(rows, vec![vec![2.0, 0.0], vec![0.0, 2.0]]);
    let (_, rows) = square_sum::hessian(&[0.3_f32, -2.0]);
    assert_eq!(rows, vec![vec![2.0_f32, 0.0], vec![0.0, 2.0]]);
}

/// A fit of `a * exp(b x)` to data: an array of parameters, data slices in
/// the float type (constants of the dual type), and a buffer.
#[differentiate(wrt(p))]
fn fit<T: Float>(p: [T; 2], xs: &[T], ys: &[T]) -> T {
    let mut residuals = vec![T::zero(); xs.len()];
    for i in 0..xs.len() {
        residuals[i] = p[0] * (p[1] * xs[i]).exp() - ys[i];
    }
    let mut total = T::zero();
    for r in &residuals {
        total = total + *r * *r;
    }
    total
}

#[test]
fn the_hessian_of_an_array_parameter_over_data() {
    let (xs, ys) = ([0.0, 0.5, 1.0, 1.5], [1.0, 1.6, 2.9, 4.4]);
    for p in [[1.0, 1.0], [0.5, -0.3]] {
        let (value, rows) = fit::hessian(p, &xs, &ys);
        assert_eq!(value, fit(p, &xs, &ys));
        for (i, row) in rows.iter().enumerate() {
            let mut axis = [0.0; 2];
            axis[i] = 1.0;
            let (_, _, hv) = fit::hvp(p, &xs, &ys, axis);
            assert_eq!(row.as_slice(), hv.p.as_slice());
            // And against differences of the gradient.
            let h = 1e-6;
            let mut plus = p;
            let mut minus = p;
            plus[i] += h;
            minus[i] -= h;
            let (gp, gm) = (
                fit::grad(plus, &xs, &ys).1.p,
                fit::grad(minus, &xs, &ys).1.p,
            );
            for k in 0..2 {
                let numeric = (gp[k] - gm[k]) / (2.0 * h);
                assert!((row[k] - numeric).abs() <= 1e-5 * numeric.abs().max(1.0));
            }
        }
    }
}

/// A function that writes a scratch slice and a running total through
/// `&mut`, and reads a float through `&`: its Hessian is that of the value it
/// returns, over every input's initial value; the parameters end as the
/// function leaves them.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn with_scratch<T: Float>(w: &[T], scratch: &mut [T], total: &mut T, rate: &T) -> T {
    let mut s = T::zero();
    for i in 0..w.len() {
        scratch[i] = scratch[i] * *rate + w[i].sin();
        s = s + scratch[i] * scratch[i] * w[i];
    }
    *total = *total * s + *rate;
    *total * s
}

/// The same over `f64` with a fixed-size state, through its twin.
#[differentiate(second_order)]
fn with_state(state: &mut [f64; 2], k: f64) -> f64 {
    let a = state[0];
    state[0] = a * k + state[1].cos();
    state[1] = a * a - k;
    state[0] * state[1] + k * a
}

/// The gradient of `with_scratch`'s value at a point (`backward` seeded one
/// on the value, zero on the final contents), flattened in parameter order.
fn scratch_gradient(x: &[f64]) -> Vec<f64> {
    let (w, rest) = x.split_at(3);
    let (mut scratch, mut total, rate) = (rest[..3].to_vec(), rest[3], rest[4]);
    let (_, tape) = with_scratch::forward(w, &mut scratch, &mut total, &rate);
    let g = with_scratch::backward(&tape, (1.0, &[0.0; 3], 0.0));
    [g.w, g.scratch, vec![g.total, g.rate]].concat()
}

#[test]
#[allow(clippy::needless_range_loop)]
fn second_order_of_functions_that_write_through_mut() {
    let point = [0.3, -0.8, 1.1, 0.5, -0.2, 0.9, 0.7, 1.3];
    let (w, scratch, total, rate) = (&point[..3], &point[3..6], point[6], point[7]);
    let (mut s, mut t) = (scratch.to_vec(), total);
    let (value, h) = with_scratch::hessian(w, &mut s, &mut t, &rate);
    let (mut s2, mut t2) = (scratch.to_vec(), total);
    assert_eq!(value, with_scratch(w, &mut s2, &mut t2, &rate));
    assert_eq!((&s, t), (&s2, t2));
    let n = point.len();
    for i in 0..n {
        for j in 0..n {
            assert!((h[i][j] - h[j][i]).abs() <= 1e-9 * h[i][j].abs().max(1.0));
        }
        // Row i: central differences of the gradient along input i.
        let step = 1e-6;
        let (mut up, mut down) = (point.to_vec(), point.to_vec());
        up[i] += step;
        down[i] -= step;
        let (gu, gd) = (scratch_gradient(&up), scratch_gradient(&down));
        for j in 0..n {
            let numeric = (gu[j] - gd[j]) / (2.0 * step);
            assert!(
                (h[i][j] - numeric).abs() <= 1e-5 * numeric.abs().max(1.0),
                "H[{i}][{j}] = {} vs {numeric}",
                h[i][j]
            );
        }
        // `hvp` along input i is row i, with the gradient beside it.
        let mut direction = vec![0.0; n];
        direction[i] = 1.0;
        let (mut s, mut t) = (scratch.to_vec(), total);
        let (v, g, hv) = with_scratch::hvp(
            w,
            &mut s,
            &mut t,
            &rate,
            &direction[..3],
            &direction[3..6],
            direction[6],
            direction[7],
        );
        assert_eq!((v, s, t), (value, s2.clone(), t2));
        let flat = [g.w, g.scratch, vec![g.total, g.rate]].concat();
        let gradient = scratch_gradient(&point);
        for j in 0..n {
            assert!((flat[j] - gradient[j]).abs() <= 1e-12 * gradient[j].abs().max(1.0));
        }
        let along = [hv.w, hv.scratch, vec![hv.total, hv.rate]].concat();
        for j in 0..n {
            assert!((along[j] - h[i][j]).abs() <= 1e-12 * h[i][j].abs().max(1.0));
        }
    }

    // Through the twin of an `f64` function.
    let start = [0.4, -1.2];
    let mut state = start;
    let (value, h) = with_state::hessian(&mut state, 1.7);
    let mut state2 = start;
    assert_eq!(value, with_state(&mut state2, 1.7));
    assert_eq!(state, state2);
    let gradient = |x: &[f64]| {
        let mut s = [x[0], x[1]];
        let (_, tape) = with_state::forward(&mut s, x[2]);
        let g = with_state::backward(&tape, (1.0, &[0.0, 0.0]));
        vec![g.state[0], g.state[1], g.k]
    };
    let point = [start[0], start[1], 1.7];
    for i in 0..3 {
        let step = 1e-6;
        let (mut up, mut down) = (point, point);
        up[i] += step;
        down[i] -= step;
        let (gu, gd) = (gradient(&up), gradient(&down));
        for j in 0..3 {
            let numeric = (gu[j] - gd[j]) / (2.0 * step);
            assert!((h[i][j] - numeric).abs() <= 1e-5 * numeric.abs().max(1.0));
        }
    }
    let mut state = start;
    let (_, _, hv) = with_state::hvp(&mut state, 1.7, &[0.0, 1.0], 0.0);
    assert_eq!(
        [hv.state[0], hv.state[1], hv.k],
        [h[1][0], h[1][1], h[1][2]]
    );
}

/// A function with checks and a print asks for second order: its twin
/// leaves them out (they change no value), so it has `hvp` (it had none).
#[differentiate(second_order)]
fn checked_cubic(x: f64, w: &[f64]) -> f64 {
    let n = w.len();
    assert!(n >= 2, "two weights, got {n}");
    if x > 100.0 {
        println!("large x: {x}");
    }
    x * x * x * w[0] + x * w[1]
}

#[test]
fn a_function_with_checks_has_a_hessian() {
    let w = [0.5, -2.0];
    for x in [0.7, -1.3] {
        let (value, g, hd) = checked_cubic::hvp(x, &w, 1.0, &[0.0, 0.0]);
        assert_eq!(value, checked_cubic(x, &w));
        assert!((g.x - (3.0 * x * x * w[0] + w[1])).abs() < 1e-12);
        assert!((hd.x - 6.0 * x * w[0]).abs() < 1e-12);
        assert!((hd.w[0] - 3.0 * x * x).abs() < 1e-12 && (hd.w[1] - 1.0).abs() < 1e-12);
    }
}
