//! GradBench's `lse`, `ode` and `kmeans`, transcribed from its C++ reference
//! (`cpp/gradbench/evals/*.hpp`) the way a Rust programmer writes them, with
//! their gradients written by hand as the limit. Shared by `tests/gradbench.rs`
//! and the benchmark suite.

// The helpers index as GradBench's C++ does.
#![allow(clippy::needless_range_loop, dead_code)]

use backprop_runtime::differentiate;

// ------------------------------------------------------------------- lse

/// `log(sum(exp(x)))`, shifted by the maximum.
#[differentiate]
pub fn lse(x: &[f64]) -> f64 {
    let mut a = x[0];
    for i in 1..x.len() {
        a = a.max(x[i]);
    }
    let mut s = 0.0;
    for i in 0..x.len() {
        s += (x[i] - a).exp();
    }
    s.ln() + a
}

/// Its gradient by hand: the softmax of `x`.
pub fn lse_gradient(x: &[f64], dx: &mut [f64]) -> f64 {
    let a = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for (d, v) in dx.iter_mut().zip(x) {
        *d = (v - a).exp();
        s += *d;
    }
    for d in dx.iter_mut() {
        *d /= s;
    }
    s.ln() + a
}

// ------------------------------------------------------------------- ode

/// The right-hand side: `z[0] = x[0]`, `z[i] = x[i] y[i - 1]`.
#[differentiate]
pub fn ode_fun(x: &[f64], y: &[f64], z: &mut [f64]) {
    z[0] = x[0];
    for i in 1..x.len() {
        z[i] = x[i] * y[i - 1];
    }
}

/// `s` steps of classic Runge-Kutta from `y = 0` to `t = 2`; the sum of the
/// final state (its last entry alone has a zero gradient at GradBench's sizes).
#[differentiate(wrt(x))]
pub fn ode(x: &[f64], s: usize) -> f64 {
    let n = x.len();
    let h = 2.0 / s as f64;
    let mut y = vec![0.0; n];
    let mut k1 = vec![0.0; n];
    let mut k2 = vec![0.0; n];
    let mut k3 = vec![0.0; n];
    let mut k4 = vec![0.0; n];
    let mut y_tmp = vec![0.0; n];
    for _ in 0..s {
        ode_fun(x, &y, &mut k1);
        for i in 0..n {
            y_tmp[i] = y[i] + h * k1[i] / 2.0;
        }
        ode_fun(x, &y_tmp, &mut k2);
        for i in 0..n {
            y_tmp[i] = y[i] + h * k2[i] / 2.0;
        }
        ode_fun(x, &y_tmp, &mut k3);
        for i in 0..n {
            y_tmp[i] = y[i] + h * k3[i];
        }
        ode_fun(x, &y_tmp, &mut k4);
        for i in 0..n {
            y[i] += h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0;
        }
    }
    y.iter().sum()
}

/// `z = f(x, y)` and its transpose: `dx += ..`, `dy += ..` from `dz`.
fn ode_fun_reverse(x: &[f64], y: &[f64], dz: &[f64], dx: &mut [f64], dy: &mut [f64]) {
    dx[0] += dz[0];
    for i in 1..x.len() {
        dx[i] += dz[i] * y[i - 1];
        dy[i - 1] += dz[i] * x[i];
    }
}

fn ode_fun_plain(x: &[f64], y: &[f64], z: &mut [f64]) {
    z[0] = x[0];
    for i in 1..x.len() {
        z[i] = x[i] * y[i - 1];
    }
}

/// The gradient of `ode` by hand: the steps run forward saving each step's
/// state and stage inputs, then backward through the four stages.
pub fn ode_gradient(x: &[f64], s: usize, dx: &mut [f64]) -> f64 {
    let n = x.len();
    let h = 2.0 / s as f64;
    // Per step: the state and the inputs of stages 2, 3 and 4.
    let mut saved = vec![0.0; s * 4 * n];
    let mut y = vec![0.0; n];
    let (mut k1, mut k2, mut k3, mut k4) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for step in 0..s {
        let at = &mut saved[step * 4 * n..(step + 1) * 4 * n];
        at[..n].copy_from_slice(&y);
        ode_fun_plain(x, &y, &mut k1);
        for i in 0..n {
            at[n + i] = y[i] + h * k1[i] / 2.0;
        }
        ode_fun_plain(x, &at[n..2 * n], &mut k2);
        for i in 0..n {
            at[2 * n + i] = y[i] + h * k2[i] / 2.0;
        }
        ode_fun_plain(x, &at[2 * n..3 * n], &mut k3);
        for i in 0..n {
            at[3 * n + i] = y[i] + h * k3[i];
        }
        ode_fun_plain(x, &at[3 * n..], &mut k4);
        for i in 0..n {
            y[i] += h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0;
        }
    }
    let value = y.iter().sum();
    dx.fill(0.0);
    // Backward through each step, `dy` the adjoint of its final state:
    // the stages' adjoints from the step's sum, then each stage in reverse,
    // its input `t = y + c k` adding into `dy` and into the previous stage.
    let mut dy = vec![1.0; n];
    let (mut dk1, mut dk2, mut dk3, mut dk4) =
        (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut dt = vec![0.0; n];
    for step in (0..s).rev() {
        let at = &saved[step * 4 * n..(step + 1) * 4 * n];
        let (y0, t2, t3, t4) = (&at[..n], &at[n..2 * n], &at[2 * n..3 * n], &at[3 * n..]);
        for i in 0..n {
            dk1[i] = dy[i] * h / 6.0;
            dk2[i] = dy[i] * h / 3.0;
            dk3[i] = dy[i] * h / 3.0;
            dk4[i] = dy[i] * h / 6.0;
        }
        // k4 = f(x, t4), t4 = y + h k3.
        dt.fill(0.0);
        ode_fun_reverse(x, t4, &dk4, dx, &mut dt);
        for i in 0..n {
            dy[i] += dt[i];
            dk3[i] += h * dt[i];
        }
        // k3 = f(x, t3), t3 = y + h k2 / 2.
        dt.fill(0.0);
        ode_fun_reverse(x, t3, &dk3, dx, &mut dt);
        for i in 0..n {
            dy[i] += dt[i];
            dk2[i] += h / 2.0 * dt[i];
        }
        // k2 = f(x, t2), t2 = y + h k1 / 2.
        dt.fill(0.0);
        ode_fun_reverse(x, t2, &dk2, dx, &mut dt);
        for i in 0..n {
            dy[i] += dt[i];
            dk1[i] += h / 2.0 * dt[i];
        }
        // k1 = f(x, y).
        dt.fill(0.0);
        ode_fun_reverse(x, y0, &dk1, dx, &mut dt);
        for i in 0..n {
            dy[i] += dt[i];
        }
    }
    value
}

// ---------------------------------------------------------------- kmeans

/// The squared distance of two points.
#[differentiate]
pub fn euclid_dist_2(a: &[f64], b: &[f64]) -> f64 {
    let mut dist = 0.0;
    for i in 0..a.len() {
        dist += (a[i] - b[i]) * (a[i] - b[i]);
    }
    dist
}

/// The k-means cost: each point's squared distance to its closest centroid.
#[differentiate(wrt(centroids))]
pub fn kmeans(points: &[f64], centroids: &[f64], d: usize) -> f64 {
    let (n, k) = (points.len() / d, centroids.len() / d);
    let mut cost = 0.0;
    for i in 0..n {
        let a = &points[i * d..(i + 1) * d];
        let mut closest = f64::INFINITY;
        for j in 0..k {
            closest = closest.min(euclid_dist_2(a, &centroids[j * d..(j + 1) * d]));
        }
        cost += closest;
    }
    cost
}

/// The same cost over points and centroids as rows, `&[[f64; D]]`, as a
/// Rust programmer with fixed-size points writes it.
#[differentiate(wrt(centroids))]
pub fn kmeans_rows<const D: usize>(points: &[[f64; D]], centroids: &[[f64; D]]) -> f64 {
    let mut cost = 0.0;
    for p in points {
        let mut closest = f64::INFINITY;
        for c in centroids {
            let mut dist = 0.0;
            for k in 0..D {
                dist += (p[k] - c[k]) * (p[k] - c[k]);
            }
            closest = closest.min(dist);
        }
        cost += closest;
    }
    cost
}

/// Its gradient by hand: each point pulls its closest centroid.
pub fn kmeans_gradient(points: &[f64], centroids: &[f64], d: usize, dc: &mut [f64]) -> f64 {
    let (n, k) = (points.len() / d, centroids.len() / d);
    dc.fill(0.0);
    let mut cost = 0.0;
    for i in 0..n {
        let a = &points[i * d..(i + 1) * d];
        let (mut best, mut closest) = (0, f64::INFINITY);
        for j in 0..k {
            let b = &centroids[j * d..(j + 1) * d];
            let dist: f64 = a.iter().zip(b).map(|(p, c)| (p - c) * (p - c)).sum();
            if dist < closest {
                (best, closest) = (j, dist);
            }
        }
        cost += closest;
        for (g, (p, c)) in dc[best * d..(best + 1) * d]
            .iter_mut()
            .zip(a.iter().zip(&centroids[best * d..(best + 1) * d]))
        {
            *g += 2.0 * (c - p);
        }
    }
    cost
}

// ------------------------------------------------------------------- det

/// The determinant of the minor of `a` (`n` by `n`) whose `m` rows and
/// columns are the linked lists `r`, `c` from index `n` (`r[i]` is the row
/// after row `i`): expansion along its first row, each sub-minor formed by
/// unlinking a column and restored after (GradBench's `det_of_minor`).
#[differentiate(wrt(a))]
pub fn det_of_minor(a: &[f64], n: usize, m: usize, r: &mut [usize], c: &mut [usize]) -> f64 {
    let r0: usize = r[n];
    let mut cj: usize = c[n];
    if m == 1 {
        return a[r0 * n + cj];
    }
    let mut det_m = 0.0;
    let mut sign = 1;
    r[n] = r[r0];
    let mut cj1: usize = n;
    for _ in 0..m {
        let m0j = a[r0 * n + cj];
        c[cj1] = c[cj];
        let det_s = det_of_minor(a, n, m - 1, r, c);
        c[cj1] = cj;
        if sign > 0 {
            det_m += m0j * det_s;
        } else {
            det_m -= m0j * det_s;
        }
        cj1 = cj;
        cj = c[cj];
        sign = -sign;
    }
    r[n] = r0;
    det_m
}

/// The determinant of `a`, `ell` by `ell`.
#[differentiate(wrt(a))]
pub fn det(a: &[f64], ell: usize) -> f64 {
    let mut r = vec![0usize; ell + 1];
    let mut c = vec![0usize; ell + 1];
    for i in 0..ell {
        r[i] = i + 1;
        c[i] = i + 1;
    }
    det_of_minor(a, ell, ell, &mut r, &mut c)
}

/// `det_of_minor` and its gradient by hand, in one recursion: each entry of
/// the expansion row gets `scale * sign * det(sub-minor)`, and each sub-minor
/// the scale `scale * sign * entry`.
fn det_of_minor_gradient(
    a: &[f64],
    n: usize,
    m: usize,
    r: &mut [usize],
    c: &mut [usize],
    scale: f64,
    da: &mut [f64],
) -> f64 {
    let r0 = r[n];
    let mut cj = c[n];
    if m == 1 {
        da[r0 * n + cj] += scale;
        return a[r0 * n + cj];
    }
    let mut det_m = 0.0;
    let mut sign = 1.0;
    r[n] = r[r0];
    let mut cj1 = n;
    for _ in 0..m {
        let m0j = a[r0 * n + cj];
        c[cj1] = c[cj];
        let det_s = det_of_minor_gradient(a, n, m - 1, r, c, scale * sign * m0j, da);
        c[cj1] = cj;
        da[r0 * n + cj] += scale * sign * det_s;
        det_m += sign * m0j * det_s;
        cj1 = cj;
        cj = c[cj];
        sign = -sign;
    }
    r[n] = r0;
    det_m
}

/// The determinant's gradient by hand (overwrites `da`), and the determinant.
pub fn det_gradient(a: &[f64], ell: usize, da: &mut [f64]) -> f64 {
    let mut r: Vec<usize> = (1..=ell + 1).collect();
    let mut c = r.clone();
    r[ell] = 0;
    c[ell] = 0;
    da.fill(0.0);
    det_of_minor_gradient(a, ell, ell, &mut r, &mut c, 1.0, da)
}
