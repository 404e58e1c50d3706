//! Newton's method with the generated Hessian, against gradient descent with
//! the generated gradient, on two problems: Rosenbrock's valley and a small
//! logistic regression. Newton's step solves `H step = -g`; the Hessian comes
//! from `hessian`, one forward-over-reverse `hvp` per coordinate.
//!
//!     cargo run --example newton

use backprop_runtime::{differentiate, Float};

/// Rosenbrock's valley: the minimum at (1, 1) lies in a long curved trough
/// where gradient descent crawls.
#[differentiate]
pub fn rosenbrock<T: Float>(p: &[T]) -> T {
    let a = T::one() - p[0];
    let b = p[1] - p[0] * p[0];
    a * a + T::from(100.0).unwrap() * b * b
}

/// The mean logistic loss of a weight vector on fixed points, with a small
/// ridge term so the minimum is unique.
#[differentiate(wrt(w))]
pub fn logistic<T: Float>(w: &[T], xs: &[T], ys: &[T]) -> T {
    let d = w.len();
    let n = ys.len();
    let mut total = T::zero();
    for k in 0..n {
        let mut z = T::zero();
        for j in 0..d {
            z = z + w[j] * xs[k * d + j];
        }
        // log(1 + exp(-y z)), written stably.
        let m = -ys[k] * z;
        total = total + m.max(T::zero()) + (-m.abs()).exp().ln_1p();
    }
    let mut ridge = T::zero();
    for v in w {
        ridge = ridge + *v * *v;
    }
    total / T::from(n).unwrap() + T::from(0.01).unwrap() * ridge
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting.
pub fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (above, below) = a.split_at_mut(col + 1);
        let pivot_row = &above[col];
        for (offset, row) in below.iter_mut().enumerate() {
            let factor = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= factor * p;
            }
            b[col + 1 + offset] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let rest: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    x
}

/// Iterations of Newton's method until the gradient's norm is below `tol`.
pub fn newton(
    start: &[f64],
    tol: f64,
    gradient: impl Fn(&[f64]) -> Vec<f64>,
    hessian: impl Fn(&[f64]) -> Vec<Vec<f64>>,
) -> (usize, Vec<f64>) {
    let mut p = start.to_vec();
    for iteration in 0..100 {
        let g = gradient(&p);
        if g.iter().map(|v| v * v).sum::<f64>().sqrt() < tol {
            return (iteration, p);
        }
        let step = solve(hessian(&p), g.iter().map(|v| -v).collect());
        p.iter_mut().zip(&step).for_each(|(a, s)| *a += s);
    }
    (100, p)
}

/// Iterations of gradient descent with a fixed step until the gradient's norm
/// is below `tol` (or a cap).
pub fn descent(
    start: &[f64],
    step: f64,
    tol: f64,
    cap: usize,
    gradient: impl Fn(&[f64]) -> Vec<f64>,
) -> (usize, Vec<f64>) {
    let mut p = start.to_vec();
    for iteration in 0..cap {
        let g = gradient(&p);
        if g.iter().map(|v| v * v).sum::<f64>().sqrt() < tol {
            return (iteration, p);
        }
        p.iter_mut().zip(&g).for_each(|(a, g)| *a -= step * g);
    }
    (cap, p)
}

fn main() {
    let tol = 1e-8;
    let start = [-1.2, 1.0];
    let gradient = |p: &[f64]| rosenbrock::grad(p).1.p;
    let hessian = |p: &[f64]| rosenbrock::hessian(p).1;
    let (steps, at) = newton(&start, tol, gradient, hessian);
    println!(
        "Rosenbrock from {start:?}: Newton {steps} iterations to ({:.6}, {:.6})",
        at[0], at[1]
    );
    let (steps, at) = descent(&start, 1e-3, tol, 200_000, gradient);
    println!(
        "  gradient descent (step 1e-3): {steps} iterations to ({:.6}, {:.6})",
        at[0], at[1]
    );

    // Points on either side of a line through the origin, some mislabelled.
    let d = 3;
    let xs: Vec<f64> = (0..40)
        .flat_map(|k| {
            let t = k as f64 * 0.37;
            [t.sin() * 2.0, (t * 1.3).cos() * 1.5, 1.0]
        })
        .collect();
    let ys: Vec<f64> = (0..40)
        .map(|k| {
            let (a, b) = (xs[k * d], xs[k * d + 1]);
            let side = if a - 0.5 * b + 0.2 > 0.0 { 1.0 } else { -1.0 };
            if k % 9 == 0 {
                -side
            } else {
                side
            }
        })
        .collect();
    let zero = vec![0.0; d];
    let gradient = |w: &[f64]| logistic::grad(w, &xs, &ys).1.w;
    let hessian = |w: &[f64]| logistic::hessian(w, &xs, &ys).1;
    let (steps, w) = newton(&zero, tol, gradient, hessian);
    println!(
        "logistic regression, 40 points: Newton {steps} iterations to w = ({:.4}, {:.4}, {:.4})",
        w[0], w[1], w[2]
    );
    let (steps, _) = descent(&zero, 0.5, tol, 200_000, gradient);
    println!("  gradient descent (step 0.5): {steps} iterations");
}
