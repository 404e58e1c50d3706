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
