//! Hand-written gradients of ADBench's objectives, derived on paper the way
//! ADBench's `manual` module derives them: the limit the generated gradients
//! are measured against, and an oracle independent of the macro (it shares
//! no code with `adbench.rs`).
//!
//! GMM, per point `x` and component `k`, with `c = x - mu_k`, `Q_k` lower
//! triangular (diagonal `exp(q_k)`, below it `l_k`) and `t_k = alpha_k +
//! sum(q_k) - |Q_k c|^2 / 2`: the point's log-sum-exp over `k` weighs each
//! component by `w_k = softmax(t)_k`, and
//! `dt_k/dalpha_k = 1`, `dt_k/dmu_k = Q_k^T Q_k c`,
//! `dt_k/dq_ki = 1 - exp(q_ki) c_i (Q_k c)_i`,
//! `dt_k/dl_k(i,j) = -c_i (Q_k c)_j` (row `j` > column `i`).
//! The Wishart prior adds `gamma^2 exp(q)^2 - m` and `gamma^2 l`; the
//! `- n logsumexp(alpha)` term adds `-n softmax(alpha)`.

#![allow(clippy::too_many_arguments, clippy::needless_range_loop, dead_code)]

/// The gradient of ADBench's GMM objective into `d_alphas`, `d_means`,
/// `d_icf` (overwritten), and its value.
pub fn gmm_gradient(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    gamma: f64,
    m: i32,
    d_alphas: &mut [f64],
    d_means: &mut [f64],
    d_icf: &mut [f64],
) -> f64 {
    let icf_sz = d * (d + 1) / 2;
    d_alphas.fill(0.0);
    d_means.fill(0.0);
    d_icf.fill(0.0);
    // exp of each diagonal, and each component's sum of log-diagonals.
    let mut qdiags = vec![0.0; d * k];
    let mut sum_qs = vec![0.0; k];
    for ik in 0..k {
        for id in 0..d {
            let q = icf[ik * icf_sz + id];
            qdiags[ik * d + id] = q.exp();
            sum_qs[ik] += q;
        }
    }
    let mut centered = vec![0.0; d];
    let mut qc = vec![0.0; d * k];
    let mut terms = vec![0.0; k];
    // Per component, the partials of its term at this point.
    let mut means_partial = vec![0.0; d * k];
    let mut icf_partial = vec![0.0; icf_sz * k];
    let mut total = 0.0;
    for ix in 0..n {
        let point = &x[ix * d..(ix + 1) * d];
        for ik in 0..k {
            let qdiag = &qdiags[ik * d..(ik + 1) * d];
            let lower = &icf[ik * icf_sz + d..(ik + 1) * icf_sz];
            for id in 0..d {
                centered[id] = point[id] - means[ik * d + id];
            }
            // Q c, with the strictly lower part stored column by column.
            let qc = &mut qc[ik * d..(ik + 1) * d];
            for id in 0..d {
                qc[id] = qdiag[id] * centered[id];
            }
            let mut at = 0;
            for col in 0..d {
                for row in col + 1..d {
                    qc[row] += lower[at] * centered[col];
                    at += 1;
                }
            }
            // Q^T (Q c), the means' partial.
            let mp = &mut means_partial[ik * d..(ik + 1) * d];
            for id in 0..d {
                mp[id] = qdiag[id] * qc[id];
            }
            let ip = &mut icf_partial[ik * icf_sz..(ik + 1) * icf_sz];
            let mut at = 0;
            for col in 0..d {
                for row in col + 1..d {
                    mp[col] += lower[at] * qc[row];
                    ip[d + at] = -centered[col] * qc[row];
                    at += 1;
                }
            }
            for id in 0..d {
                ip[id] = 1.0 - qdiag[id] * centered[id] * qc[id];
            }
            let norm: f64 = qc.iter().map(|v| v * v).sum();
            terms[ik] = alphas[ik] + sum_qs[ik] - 0.5 * norm;
        }
        total += softmax_in_place(&mut terms);
        for ik in 0..k {
            let weight = terms[ik];
            d_alphas[ik] += weight;
            for id in 0..d {
                d_means[ik * d + id] += weight * means_partial[ik * d + id];
            }
            for i in 0..icf_sz {
                d_icf[ik * icf_sz + i] += weight * icf_partial[ik * icf_sz + i];
            }
        }
    }
    let mut weights = alphas.to_vec();
    let lse_alphas = softmax_in_place(&mut weights);
    let gamma2 = gamma * gamma;
    let mut prior = 0.0;
    for ik in 0..k {
        d_alphas[ik] -= n as f64 * weights[ik];
        let mut frobenius = 0.0;
        for id in 0..d {
            let q = qdiags[ik * d + id];
            frobenius += q * q;
            d_icf[ik * icf_sz + id] += gamma2 * q * q - f64::from(m);
        }
        for i in d..icf_sz {
            let l = icf[ik * icf_sz + i];
            frobenius += l * l;
            d_icf[ik * icf_sz + i] += gamma2 * l;
        }
        prior += 0.5 * gamma2 * frobenius - f64::from(m) * sum_qs[ik];
    }
    let constant = -((n * d) as f64) * 0.5 * (2.0 * std::f64::consts::PI).ln();
    constant + total - n as f64 * lse_alphas + prior - k as f64 * wishart_constant(d, gamma, m)
}

/// `log(sum(exp(v)))`, leaving `softmax(v)` in `v`.
fn softmax_in_place(v: &mut [f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for e in v.iter_mut() {
        *e = (*e - max).exp();
        sum += *e;
    }
    for e in v.iter_mut() {
        *e /= sum;
    }
    sum.ln() + max
}

/// The Wishart prior's normalising constant, per component.
fn wishart_constant(p: usize, gamma: f64, m: i32) -> f64 {
    let n = p + m as usize + 1;
    let a = 0.5 * n as f64;
    // log of the multivariate gamma function Gamma_p(a).
    let mut log_gamma = 0.25 * (p * (p - 1)) as f64 * std::f64::consts::PI.ln();
    for j in 1..=p {
        log_gamma += ln_gamma(a + 0.5 * (1.0 - j as f64));
    }
    (n * p) as f64 * (gamma.ln() - 0.5 * 2f64.ln()) - log_gamma
}

/// `ln Gamma(x)` for `x > 0` (Lanczos, g = 7, nine terms).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

// ------------------------------------------------------ bundle adjustment
//
// The reprojection error `w (f distort(p(R X_c)) + x0 - feat)`, with the
// camera `[r (3), C (3), f, x0 (2), k (2)]`, `X_c = X - C`, `p(v) = (v0/v2,
// v1/v2)` and `distort(p) = p (1 + k0 |p|^2 + k1 |p|^4)`. Rodrigues'
// rotation by `r` (angle `t = |r|`) is `c X + (s/t) (r x X) + ((1-c)/t^2) r
// (r . X)`, with `c = cos t`, `s = sin t`; its Jacobians, by the product rule
// on each term (`d t / d r = r^T / t`, `d (r x X) / d r = -[X]x`):
// `d/dX = c I + (s/t) [r]x + ((1-c)/t^2) r r^T`,
// `d/dr = -s X r^T / t + (r x X) a' r^T / t - (s/t) [X]x
//        + r (r . X) b' r^T / t + ((1-c)/t^2) ((r . X) I + r X^T)`,
// where `a' = (t c - s) / t^2` and `b' = (t s - 2 (1 - c)) / t^3`. At `r = 0`
// the rotation is `X + r x X`: `d/dX = I + [r]x`, `d/dr = -[X]x`.

type M3 = [[f64; 3]; 3];

/// `[v]x`, the matrix of `u -> v x u`.
fn skew(v: [f64; 3]) -> M3 {
    [[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]]
}

fn cross3(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot3(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The rotated point and its Jacobians with respect to `r` and to `X`.
fn rodrigues_with_jacobians(r: [f64; 3], x: [f64; 3]) -> ([f64; 3], M3, M3) {
    let t2 = dot3(r, r);
    if t2 == 0.0 {
        let rx = cross3(r, x);
        let rotated = [x[0] + rx[0], x[1] + rx[1], x[2] + rx[2]];
        let mut by_x = skew(r);
        for (i, row) in by_x.iter_mut().enumerate() {
            row[i] += 1.0;
        }
        let by_r = skew(x).map(|row| row.map(|v| -v));
        return (rotated, by_r, by_x);
    }
    let t = t2.sqrt();
    let (c, s) = (t.cos(), t.sin());
    let (a, b) = (s / t, (1.0 - c) / t2);
    let (da, db) = ((t * c - s) / t2, (t * s - 2.0 * (1.0 - c)) / (t2 * t));
    let rx = cross3(r, x);
    let rdx = dot3(r, x);
    let mut rotated = [0.0; 3];
    for i in 0..3 {
        rotated[i] = c * x[i] + a * rx[i] + b * r[i] * rdx;
    }
    let (skew_r, skew_x) = (skew(r), skew(x));
    let mut by_x = [[0.0; 3]; 3];
    let mut by_r = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            let identity = if i == j { 1.0 } else { 0.0 };
            by_x[i][j] = c * identity + a * skew_r[i][j] + b * r[i] * r[j];
            // d/dr_j of each term; d t / d r_j = r_j / t.
            let k = r[j] / t;
            by_r[i][j] = -s * x[i] * k + rx[i] * da * k - a * skew_x[i][j]
                + r[i] * rdx * db * k
                + b * (rdx * identity + r[i] * x[j]);
        }
    }
    (rotated, by_r, by_x)
}

/// One observation's 2x15 Jacobian of the weighted reprojection error, rows
/// over `cam (11), X (3), w`, and the error.
pub fn reprojection_jacobian(
    cam: &[f64],
    x: &[f64],
    w: f64,
    feat: &[f64],
    jacobian: &mut [[f64; 15]; 2],
) -> [f64; 2] {
    let r = [cam[0], cam[1], cam[2]];
    let centered = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let (v, by_r, by_x) = rodrigues_with_jacobians(r, centered);
    let p = [v[0] / v[2], v[1] / v[2]];
    // d p / d v.
    let dp = [
        [1.0 / v[2], 0.0, -v[0] / (v[2] * v[2])],
        [0.0, 1.0 / v[2], -v[1] / (v[2] * v[2])],
    ];
    let rsq = p[0] * p[0] + p[1] * p[1];
    let (k0, k1) = (cam[9], cam[10]);
    let l = 1.0 + k0 * rsq + k1 * rsq * rsq;
    let distorted = [p[0] * l, p[1] * l];
    // d distorted / d p = l I + (2 k0 + 4 k1 |p|^2) p p^T.
    let slope = 2.0 * k0 + 4.0 * k1 * rsq;
    let dd = [
        [l + slope * p[0] * p[0], slope * p[0] * p[1]],
        [slope * p[1] * p[0], l + slope * p[1] * p[1]],
    ];
    let f = cam[6];
    let proj = [f * distorted[0] + cam[7], f * distorted[1] + cam[8]];
    for (row, jac) in jacobian.iter_mut().enumerate() {
        // d err_row / d v = w f (dd dp)[row].
        let mut by_v = [0.0; 3];
        for (k, entry) in by_v.iter_mut().enumerate() {
            *entry = w * f * (dd[row][0] * dp[0][k] + dd[row][1] * dp[1][k]);
        }
        *jac = [0.0; 15];
        for j in 0..3 {
            let through_r: f64 = (0..3).map(|k| by_v[k] * by_r[k][j]).sum();
            let through_x: f64 = (0..3).map(|k| by_v[k] * by_x[k][j]).sum();
            jac[j] = through_r;
            jac[3 + j] = -through_x;
            jac[11 + j] = through_x;
        }
        jac[6] = w * distorted[row];
        jac[7 + row] = w;
        jac[9] = w * f * p[row] * rsq;
        jac[10] = w * f * p[row] * rsq * rsq;
        jac[14] = proj[row] - feat[row];
    }
    [w * (proj[0] - feat[0]), w * (proj[1] - feat[1])]
}

// ------------------------------------------------------------------- LSTM
//
// Backpropagation through time, by hand. Per step `t`, layer `l` and unit
// `i`, with `x` the layer's input and `h`, `c` its state before the step:
// `f = s(x w_i + b_i)`, `g = s(h w_{b+i} + b_{b+i})`, `o = s(x w_{2b+i} +
// b_{2b+i})`, `u = tanh(h w_{3b+i} + b_{3b+i})`, `c' = c f + g u`, `h' = o
// tanh(c')`. The prediction `y = h'_last e_{b+i} + e_{2b+i}` is normalised
// by `log(sum exp(y) + 2)`, and the loss is minus the mean of the next
// character's entries times it. The reverse carries each layer's `dh`, `dc`
// from step `t + 1` to `t`.

/// The intermediates of one unit at one step and layer.
#[derive(Clone, Copy, Default)]
struct Unit {
    x: f64,
    h: f64,
    c: f64,
    f: f64,
    g: f64,
    o: f64,
    u: f64,
    tanh_c: f64,
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// The LSTM loss's gradient into `d_main` and `d_extra` (overwritten), and
/// the loss.
pub fn lstm_gradient(
    main_params: &[f64],
    extra_params: &[f64],
    state0: &[f64],
    sequence: &[f64],
    b: usize,
    d_main: &mut [f64],
    d_extra: &mut [f64],
) -> f64 {
    let layers = state0.len() / (2 * b);
    let steps = sequence.len() / b - 1;
    let count = (steps * b) as f64;
    let mut state = state0.to_vec();
    let mut units = vec![Unit::default(); steps * layers * b];
    let mut predictions = vec![0.0; steps * b];
    let mut last_hidden = vec![0.0; steps * b];
    let mut total = 0.0;
    let mut x = vec![0.0; b];
    for t in 0..steps {
        let input = &sequence[t * b..(t + 1) * b];
        for i in 0..b {
            x[i] = input[i] * extra_params[i];
        }
        for l in 0..layers {
            let p = &main_params[8 * b * l..8 * b * (l + 1)];
            for i in 0..b {
                let (h, c) = (state[2 * b * l + i], state[2 * b * l + b + i]);
                let f = sigmoid(x[i] * p[i] + p[4 * b + i]);
                let g = sigmoid(h * p[b + i] + p[5 * b + i]);
                let o = sigmoid(x[i] * p[2 * b + i] + p[6 * b + i]);
                let u = (h * p[3 * b + i] + p[7 * b + i]).tanh();
                let c_next = c * f + g * u;
                let tanh_c = c_next.tanh();
                units[(t * layers + l) * b + i] = Unit {
                    x: x[i],
                    h,
                    c,
                    f,
                    g,
                    o,
                    u,
                    tanh_c,
                };
                state[2 * b * l + b + i] = c_next;
                state[2 * b * l + i] = o * tanh_c;
            }
            for i in 0..b {
                x[i] = state[2 * b * l + i];
            }
        }
        let y = &mut predictions[t * b..(t + 1) * b];
        for i in 0..b {
            last_hidden[t * b + i] = x[i];
            y[i] = x[i] * extra_params[b + i] + extra_params[2 * b + i];
        }
        let lse = (y.iter().map(|v| v.exp()).sum::<f64>() + 2.0).ln();
        let next = &sequence[(t + 1) * b..(t + 2) * b];
        for i in 0..b {
            total += next[i] * (y[i] - lse);
        }
    }
    d_main.fill(0.0);
    d_extra.fill(0.0);
    // Each layer's state adjoints, carried from step t + 1 back to t.
    let mut dh = vec![0.0; layers * b];
    let mut dc = vec![0.0; layers * b];
    let mut dx = vec![0.0; b];
    let scale = -1.0 / count;
    for t in (0..steps).rev() {
        let y = &predictions[t * b..(t + 1) * b];
        let next = &sequence[(t + 1) * b..(t + 2) * b];
        let sum_exp = y.iter().map(|v| v.exp()).sum::<f64>() + 2.0;
        let dnorm_total: f64 = next.iter().map(|n| scale * n).sum();
        for i in 0..b {
            // d loss / d y_i: through y_i itself and through the log-sum-exp.
            let dy = scale * next[i] - dnorm_total * y[i].exp() / sum_exp;
            d_extra[b + i] += dy * last_hidden[t * b + i];
            d_extra[2 * b + i] += dy;
            dx[i] = dy * extra_params[b + i];
        }
        for l in (0..layers).rev() {
            let p = &main_params[8 * b * l..8 * b * (l + 1)];
            let dp = &mut d_main[8 * b * l..8 * b * (l + 1)];
            for i in 0..b {
                let unit = units[(t * layers + l) * b + i];
                let dh_next = dx[i] + dh[l * b + i];
                let dc_next = dc[l * b + i] + dh_next * unit.o * (1.0 - unit.tanh_c * unit.tanh_c);
                let zf = dc_next * unit.c * unit.f * (1.0 - unit.f);
                let zg = dc_next * unit.u * unit.g * (1.0 - unit.g);
                let zo = dh_next * unit.tanh_c * unit.o * (1.0 - unit.o);
                let zu = dc_next * unit.g * (1.0 - unit.u * unit.u);
                dp[i] += zf * unit.x;
                dp[4 * b + i] += zf;
                dp[b + i] += zg * unit.h;
                dp[5 * b + i] += zg;
                dp[2 * b + i] += zo * unit.x;
                dp[6 * b + i] += zo;
                dp[3 * b + i] += zu * unit.h;
                dp[7 * b + i] += zu;
                // The layer's input, and its state before the step.
                dx[i] = zf * p[i] + zo * p[2 * b + i];
                dh[l * b + i] = zg * p[b + i] + zu * p[3 * b + i];
                dc[l * b + i] = dc_next * unit.f;
            }
        }
        let input = &sequence[t * b..(t + 1) * b];
        for i in 0..b {
            d_extra[i] += dx[i] * input[i];
        }
    }
    -total / count
}
