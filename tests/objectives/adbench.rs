//! ADBench's three objectives (GMM with its Wishart prior, bundle
//! adjustment's reprojection error, the LSTM loss), transcribed from its C++
//! (`src/cpp/shared/gmm.h`, `ba.h`, `lstm.h`) the way a Rust programmer
//! writes them: small helpers called on sub-slices (`&means[ik * d..]`,
//! `&cam[9..11]`, `&mut state[2 * b * i..]`). Shared by `tests/adbench.rs`
//! (gradients against central differences) and the benchmark suite.

// The helpers index as ADBench's C++ does.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments, dead_code)]

use backprop_runtime::{differentiate, sigmoid};

// ---------------------------------------------------------------- GMM

#[differentiate]
pub fn arr_max(x: &[f64]) -> f64 {
    let mut m = x[0];
    for i in 1..x.len() {
        if x[i] > m {
            m = x[i];
        }
    }
    m
}

#[differentiate]
pub fn logsumexp(x: &[f64]) -> f64 {
    let mx = arr_max(x);
    let mut semx = 0.0;
    for v in x {
        semx += (v - mx).exp();
    }
    semx.ln() + mx
}

#[differentiate]
pub fn sqnorm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

#[differentiate(wrt(y, out))]
pub fn subtract(x: &[f64], y: &[f64], out: &mut [f64]) {
    for i in 0..x.len() {
        out[i] = x[i] - y[i];
    }
}

#[differentiate]
pub fn qtimesx(qdiag: &[f64], ltri: &[f64], x: &[f64], out: &mut [f64]) {
    let d = x.len();
    for id in 0..d {
        out[id] = qdiag[id] * x[id];
    }
    let mut lparamsidx = 0;
    for i in 0..d {
        for j in i + 1..d {
            out[j] += ltri[lparamsidx] * x[i];
            lparamsidx += 1;
        }
    }
}

#[differentiate]
pub fn preprocess_qs(d: usize, k: usize, icf: &[f64], sum_qs: &mut [f64], qdiags: &mut [f64]) {
    let icf_sz = d * (d + 1) / 2;
    for ik in 0..k {
        sum_qs[ik] = 0.0;
        for id in 0..d {
            let q = icf[ik * icf_sz + id];
            sum_qs[ik] += q;
            qdiags[ik * d + id] = q.exp();
        }
    }
}

pub fn log_gamma_distrib(a: f64, p: usize) -> f64 {
    let mut out = 0.25 * (p * (p - 1)) as f64 * std::f64::consts::PI.ln();
    for j in 1..=p {
        out += ln_gamma(a + 0.5 * (1.0 - j as f64));
    }
    out
}

pub fn ln_gamma(x: f64) -> f64 {
    // Stirling's series after shifting x past 7: within 1e-9 of ln Gamma.
    let mut x = x;
    let mut acc = 0.0;
    while x < 7.0 {
        acc -= x.ln();
        x += 1.0;
    }
    let x3 = x * x * x;
    acc + (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x3)
        + 1.0 / (1260.0 * x3 * x * x)
}

#[differentiate(wrt(sum_qs, qdiags, icf))]
pub fn log_wishart_prior(
    p: usize,
    k: usize,
    gamma: f64,
    m: i32,
    sum_qs: &[f64],
    qdiags: &[f64],
    icf: &[f64],
) -> f64 {
    let n = p + m as usize + 1;
    let icf_sz = p * (p + 1) / 2;
    let c = (n * p) as f64 * (gamma.ln() - 0.5 * 2f64.ln()) - log_gamma_distrib(0.5 * n as f64, p);
    let mut out = 0.0;
    for ik in 0..k {
        let frobenius = sqnorm(&qdiags[ik * p..(ik + 1) * p])
            + sqnorm(&icf[ik * icf_sz + p..(ik + 1) * icf_sz]);
        out += 0.5 * gamma * gamma * frobenius - m as f64 * sum_qs[ik];
    }
    out - k as f64 * c
}

#[differentiate(wrt(alphas, means, icf))]
pub fn gmm_objective(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    gamma: f64,
    m: i32,
) -> f64 {
    let constant = -((n * d) as f64) * 0.5 * (2.0 * std::f64::consts::PI).ln();
    let icf_sz = d * (d + 1) / 2;
    let mut qdiags = vec![0.0; d * k];
    let mut sum_qs = vec![0.0; k];
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    preprocess_qs(d, k, icf, &mut sum_qs, &mut qdiags);
    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            subtract(
                &x[ix * d..(ix + 1) * d],
                &means[ik * d..(ik + 1) * d],
                &mut xcentered,
            );
            qtimesx(
                &qdiags[ik * d..(ik + 1) * d],
                &icf[ik * icf_sz + d..(ik + 1) * icf_sz],
                &xcentered,
                &mut qxcentered,
            );
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm(&qxcentered);
        }
        slse += logsumexp(&main_term);
    }
    let lse_alphas = logsumexp(alphas);
    constant + slse - n as f64 * lse_alphas
        + log_wishart_prior(d, k, gamma, m, &sum_qs, &qdiags, icf)
}

// -------------------------------------------------- bundle adjustment

#[differentiate]
pub fn sqsum(x: &[f64]) -> f64 {
    let mut res = 0.0;
    for i in 0..x.len() {
        res += x[i] * x[i];
    }
    res
}

#[differentiate]
pub fn cross(a: &[f64], b: &[f64], out: &mut [f64]) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

#[differentiate]
pub fn rodrigues_rotate_point(rot: &[f64], pt: &[f64], rotated: &mut [f64]) {
    let sqtheta = sqsum(rot);
    if sqtheta != 0.0 {
        let theta = sqtheta.sqrt();
        let costheta = theta.cos();
        let sintheta = theta.sin();
        let theta_inverse = 1.0 / theta;
        let mut w = [0.0; 3];
        for i in 0..3 {
            w[i] = rot[i] * theta_inverse;
        }
        let mut w_cross_pt = [0.0; 3];
        cross(&w, pt, &mut w_cross_pt);
        let tmp = (w[0] * pt[0] + w[1] * pt[1] + w[2] * pt[2]) * (1.0 - costheta);
        for i in 0..3 {
            rotated[i] = pt[i] * costheta + w_cross_pt[i] * sintheta + w[i] * tmp;
        }
    } else {
        let mut rot_cross_pt = [0.0; 3];
        cross(rot, pt, &mut rot_cross_pt);
        for i in 0..3 {
            rotated[i] = pt[i] + rot_cross_pt[i];
        }
    }
}

#[differentiate]
pub fn radial_distort(rad_params: &[f64], proj: &mut [f64]) {
    let rsq = sqsum(proj);
    let l = 1.0 + rad_params[0] * rsq + rad_params[1] * rsq * rsq;
    proj[0] *= l;
    proj[1] *= l;
}

#[differentiate]
pub fn project(cam: &[f64], x: &[f64], proj: &mut [f64]) {
    let c = &cam[3..6];
    let xo = [x[0] - c[0], x[1] - c[1], x[2] - c[2]];
    let mut xcam = [0.0; 3];
    rodrigues_rotate_point(&cam[0..3], &xo, &mut xcam);
    proj[0] = xcam[0] / xcam[2];
    proj[1] = xcam[1] / xcam[2];
    radial_distort(&cam[9..11], proj);
    proj[0] = proj[0] * cam[6] + cam[7];
    proj[1] = proj[1] * cam[6] + cam[8];
}

#[differentiate(wrt(cam, x, w))]
pub fn compute_reproj_error(cam: &[f64], x: &[f64], w: f64, feat: &[f64]) -> [f64; 2] {
    let mut proj = [0.0; 2];
    project(cam, x, &mut proj);
    [w * (proj[0] - feat[0]), w * (proj[1] - feat[1])]
}

// ---------------------------------------------------------------- LSTM

#[differentiate]
pub fn logsumexp_plus_two(v: &[f64]) -> f64 {
    let mut sum = 0.0;
    for i in 0..v.len() {
        sum += v[i].exp();
    }
    sum += 2.0;
    sum.ln()
}

/// One layer: `params` holds four weight rows then four bias rows, `state`
/// the hidden values then the cell values.
#[differentiate]
pub fn lstm_model(params: &[f64], state: &mut [f64], input: &[f64]) {
    let h = input.len();
    let (weight, bias) = params.split_at(4 * h);
    for i in 0..h {
        let forget = sigmoid(input[i] * weight[i] + bias[i]);
        let ingate = sigmoid(state[i] * weight[h + i] + bias[h + i]);
        let outgate = sigmoid(input[i] * weight[2 * h + i] + bias[2 * h + i]);
        let change = (state[i] * weight[3 * h + i] + bias[3 * h + i]).tanh();
        state[h + i] = state[h + i] * forget + ingate * change;
        state[i] = outgate * state[h + i].tanh();
    }
}

#[differentiate]
pub fn lstm_predict(
    main_params: &[f64],
    extra_params: &[f64],
    state: &mut [f64],
    input: &[f64],
    output: &mut [f64],
) {
    let b = input.len();
    let l = state.len() / (2 * b);
    let mut layer_output = vec![0.0; b];
    for i in 0..b {
        layer_output[i] = input[i] * extra_params[i];
    }
    for i in 0..l {
        lstm_model(
            &main_params[8 * b * i..8 * b * (i + 1)],
            &mut state[2 * b * i..2 * b * (i + 1)],
            &layer_output,
        );
        for j in 0..b {
            layer_output[j] = state[2 * b * i + j];
        }
    }
    for i in 0..b {
        output[i] = layer_output[i] * extra_params[b + i] + extra_params[2 * b + i];
    }
}

#[differentiate(wrt(main_params, extra_params))]
pub fn lstm_objective(
    main_params: &[f64],
    extra_params: &[f64],
    state0: &[f64],
    sequence: &[f64],
    b: usize,
) -> f64 {
    let c = sequence.len() / b;
    let mut state = state0.to_vec();
    let mut total = 0.0;
    let mut count = 0;
    let mut ypred = vec![0.0; b];
    let mut ynorm = vec![0.0; b];
    for t in 0..c - 1 {
        lstm_predict(
            main_params,
            extra_params,
            &mut state,
            &sequence[t * b..(t + 1) * b],
            &mut ypred,
        );
        let lse = logsumexp_plus_two(&ypred);
        for i in 0..b {
            ynorm[i] = ypred[i] - lse;
        }
        for i in 0..b {
            total += sequence[(t + 1) * b + i] * ynorm[i];
        }
        count += b;
    }
    -total / count as f64
}

// ------------------------------------------------------ hand tracking
//
// ADBench's hand model (`hand_light_matrix.h`): each bone's pose (three
// Euler angles, some fixed at zero) turns its rest transform; the absolute
// transforms are chained from each bone's parent; the vertices are skinned
// by the bones' weights; the whole is rotated, scaled and moved by the
// global pose; the residuals are data points minus their corresponding
// vertices. Rotations and transforms are arrays of rows, the transforms in
// a buffer that grows bone by bone.

pub type Mat3 = [[f64; 3]; 3];
pub type Mat4 = [[f64; 4]; 4];

/// The hand's rest pose, read as data.
pub struct HandModel {
    /// Each bone's parent, `-1` for the root (parents come first).
    pub parents: Vec<i32>,
    pub base_relatives: Vec<Mat4>,
    pub inverse_base_absolutes: Vec<Mat4>,
    /// Homogeneous rest positions of the vertices.
    pub base_positions: Vec<[f64; 4]>,
    /// `weights[bone][vertex]`.
    pub weights: Vec<Vec<f64>>,
    pub is_mirrored: bool,
}

pub fn angle_axis_to_rotation_matrix(angle_axis: [f64; 3]) -> Mat3 {
    let norm = (angle_axis[0] * angle_axis[0]
        + angle_axis[1] * angle_axis[1]
        + angle_axis[2] * angle_axis[2])
        .sqrt();
    if norm < 0.0001 {
        return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    }
    let (x, y, z) = (
        angle_axis[0] / norm,
        angle_axis[1] / norm,
        angle_axis[2] / norm,
    );
    let (s, c) = norm.sin_cos();
    [
        [
            x * x + (1.0 - x * x) * c,
            x * y * (1.0 - c) - z * s,
            x * z * (1.0 - c) + y * s,
        ],
        [
            x * y * (1.0 - c) + z * s,
            y * y + (1.0 - y * y) * c,
            y * z * (1.0 - c) - x * s,
        ],
        [
            x * z * (1.0 - c) - y * s,
            z * y * (1.0 - c) + x * s,
            z * z + (1.0 - z * z) * c,
        ],
    ]
}

pub fn mat3_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            for k in 0..3 {
                out[i][j] += a[i][k] * b[k][j];
            }
        }
    }
    out
}

pub fn mat4_mul(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut out = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            for k in 0..4 {
                out[i][j] += a[i][k] * b[k][j];
            }
        }
    }
    out
}

/// The rotation of Euler angles given as `(x, z, y)`.
pub fn euler_angles_to_rotation_matrix(xzy: [f64; 3]) -> Mat3 {
    let (tx, ty, tz) = (xzy[0], xzy[2], xzy[1]);
    let rx = [
        [1.0, 0.0, 0.0],
        [0.0, tx.cos(), -tx.sin()],
        [0.0, tx.sin(), tx.cos()],
    ];
    let ry = [
        [ty.cos(), 0.0, ty.sin()],
        [0.0, 1.0, 0.0],
        [-ty.sin(), 0.0, ty.cos()],
    ];
    let rz = [
        [tz.cos(), -tz.sin(), 0.0],
        [tz.sin(), tz.cos(), 0.0],
        [0.0, 0.0, 1.0],
    ];
    mat3_mul(&mat3_mul(&rz, &ry), &rx)
}

/// The residuals of the 26 pose parameters `theta` (global rotation,
/// global translation, then four per finger) against `points`, each
/// against the vertex `correspondences` names, into `err`.
#[differentiate(wrt(theta, err))]
pub fn hand_objective(
    theta: &[f64],
    model: &HandModel,
    points: &[[f64; 3]],
    correspondences: &[usize],
    err: &mut [f64],
) {
    let n_bones = model.parents.len();
    // The pose's columns: global rotation, scale, translation, then a
    // column of angles per bone.
    let mut pose = vec![[0.0; 3]; n_bones + 3];
    pose[0] = [theta[0], theta[1], theta[2]];
    pose[1] = [1.0, 1.0, 1.0];
    pose[2] = [theta[3], theta[4], theta[5]];
    let mut i_theta = 6;
    let mut i_pose = 5;
    for _finger in 0..5 {
        for joint in 2..=4 {
            pose[i_pose][0] = theta[i_theta];
            i_theta += 1;
            if joint == 2 {
                pose[i_pose][1] = theta[i_theta];
                i_theta += 1;
            }
            i_pose += 1;
        }
        i_pose += 1;
    }
    let mut absolutes: Vec<Mat4> = Vec::with_capacity(n_bones);
    for b in 0..n_bones {
        let r = euler_angles_to_rotation_matrix(pose[b + 3]);
        let mut turn = [[0.0; 4]; 4];
        for i in 0..3 {
            for j in 0..3 {
                turn[i][j] = r[i][j];
            }
        }
        turn[3][3] = 1.0;
        let relative = mat4_mul(&model.base_relatives[b], &turn);
        let absolute = if model.parents[b] < 0 {
            relative
        } else {
            mat4_mul(&absolutes[model.parents[b] as usize], &relative)
        };
        absolutes.push(absolute);
    }
    let n_verts = model.base_positions.len();
    let mut positions = vec![[0.0; 3]; n_verts];
    for b in 0..n_bones {
        let transform = mat4_mul(&absolutes[b], &model.inverse_base_absolutes[b]);
        for v in 0..n_verts {
            let rest = model.base_positions[v];
            for i in 0..3 {
                let moved = transform[i][0] * rest[0]
                    + transform[i][1] * rest[1]
                    + transform[i][2] * rest[2]
                    + transform[i][3] * rest[3];
                positions[v][i] += moved * model.weights[b][v];
            }
        }
    }
    if model.is_mirrored {
        for v in 0..n_verts {
            positions[v][0] = -positions[v][0];
        }
    }
    let mut global = angle_axis_to_rotation_matrix(pose[0]);
    for i in 0..3 {
        for j in 0..3 {
            global[i][j] *= pose[1][j];
        }
    }
    for (k, &c) in correspondences.iter().enumerate() {
        let vertex = positions[c];
        for i in 0..3 {
            let placed = global[i][0] * vertex[0]
                + global[i][1] * vertex[1]
                + global[i][2] * vertex[2]
                + pose[2][i];
            err[3 * k + i] = points[k][i] - placed;
        }
    }
}
