//! ADBench's objectives (`tests/objectives/adbench.rs`), written with helpers
//! over sub-slices: they compile as written, and every component of each
//! gradient matches central differences.

mod common;
#[path = "objectives/adbench_manual.rs"]
mod manual;
#[path = "objectives/adbench.rs"]
mod objectives;

use common::{assert_gradient, Rng};
use objectives::*;

fn uniform(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(-0.5, 0.5)).collect()
}

/// Every component of the GMM gradient against central differences and
/// against the hand-written gradient, at ADBench's smaller size and a few
/// random ones, with and without the prior's `m`.
#[test]
fn gmm_gradient() {
    let mut rng = Rng::new(17);
    for (d, k, n, m) in [
        (2, 3, 4, 0),
        (3, 2, 5, 2),
        (2, 5, 20, 0),
        (3, 4, 7, 1),
        (5, 3, 6, 2),
        (1, 2, 3, 0),
    ] {
        let icf_sz = d * (d + 1) / 2;
        let alphas = uniform(&mut rng, k);
        let means = uniform(&mut rng, d * k);
        let icf = uniform(&mut rng, icf_sz * k);
        let x = uniform(&mut rng, d * n);
        let (value, g) = gmm_objective::grad(d, k, n, &alphas, &means, &icf, &x, 1.5, m);
        assert_eq!(
            value,
            gmm_objective(d, k, n, &alphas, &means, &icf, &x, 1.5, m)
        );
        let generated = [g.alphas, g.means, g.icf].concat();
        let point = [alphas.clone(), means.clone(), icf.clone()].concat();
        let f = |v: &[f64]| {
            let (a, rest) = v.split_at(k);
            let (mu, q) = rest.split_at(d * k);
            gmm_objective(d, k, n, a, mu, q, &x, 1.5, m)
        };
        assert_gradient(f, &point, &generated);
        let (mut da, mut dm, mut di) = (vec![0.0; k], vec![0.0; d * k], vec![0.0; icf_sz * k]);
        let by_hand = manual::gmm_gradient(
            d, k, n, &alphas, &means, &icf, &x, 1.5, m, &mut da, &mut dm, &mut di,
        );
        // The two ln Gamma approximations of the constant differ by about 1e-9.
        assert!(
            (value - by_hand).abs() <= 1e-8 * value.abs().max(1.0),
            "{value} vs {by_hand}"
        );
        let hand = [da, dm, di].concat();
        for (i, (a, b)) in generated.iter().zip(&hand).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0),
                "d={d} k={k}: component {i}: generated {a}, by hand {b}"
            );
        }
    }
}

#[test]
fn bundle_adjustment_jacobian() {
    let feat = [1.0, 2.0];
    // A rotation, and none (the other branch of Rodrigues' formula).
    for rot in [[0.1, -0.2, 0.3], [0.0, 0.0, 0.0]] {
        let cam = [
            rot[0], rot[1], rot[2], 0.5, 0.4, -3.0, 500.0, 10.0, 20.0, 1e-3, 1e-6,
        ];
        let x = [0.3, -0.1, 2.0];
        let w = 0.8;
        let (value, tape) = compute_reproj_error::forward(&cam, &x, w, &feat);
        assert_eq!(value, compute_reproj_error(&cam, &x, w, &feat));
        let point: Vec<f64> = cam.iter().chain(&x).chain(&[w]).copied().collect();
        for (row, seed) in [[1.0, 0.0], [0.0, 1.0]].into_iter().enumerate() {
            let g = compute_reproj_error::backward(&tape, seed);
            let f = |p: &[f64]| compute_reproj_error(&p[..11], &p[11..14], p[14], &feat)[row];
            // At a zero rotation the branch for small angles runs; its first
            // derivative is that of Rodrigues' formula, so the same check holds.
            let analytic: Vec<f64> = g.cam.iter().chain(&g.x).chain(&[g.w]).copied().collect();
            assert_gradient(f, &point, &analytic);
        }
    }
}

/// Each bundle-adjustment Jacobian row, generated, against the one derived
/// by hand, on both branches of Rodrigues' formula and at random cameras.
#[test]
fn bundle_adjustment_jacobian_matches_the_hand_written_one() {
    let mut rng = Rng::new(43);
    let mut cases: Vec<([f64; 11], [f64; 3])> = vec![(
        [0.0, 0.0, 0.0, 0.5, 0.4, -3.0, 500.0, 10.0, 20.0, 1e-3, 1e-6],
        [0.3, -0.1, 2.0],
    )];
    for _ in 0..6 {
        let mut cam = [0.0; 11];
        for (i, c) in cam.iter_mut().enumerate() {
            *c = match i {
                6 => rng.uniform(100.0, 800.0),
                9 => rng.uniform(-1e-2, 1e-2),
                10 => rng.uniform(-1e-4, 1e-4),
                _ => rng.uniform(-0.5, 0.5),
            };
        }
        let x = [
            rng.uniform(-1.0, 1.0),
            rng.uniform(-1.0, 1.0),
            rng.uniform(2.0, 4.0),
        ];
        cases.push((cam, x));
    }
    let (w, feat) = (0.8, [1.0, 2.0]);
    for (cam, x) in cases {
        let mut by_hand = [[0.0; 15]; 2];
        let error = manual::reprojection_jacobian(&cam, &x, w, &feat, &mut by_hand);
        let (value, tape) = compute_reproj_error::forward(&cam, &x, w, &feat);
        for row in 0..2 {
            assert!((value[row] - error[row]).abs() <= 1e-12 * value[row].abs().max(1.0));
            let mut seed = [0.0; 2];
            seed[row] = 1.0;
            let g = compute_reproj_error::backward(&tape, seed);
            let generated: Vec<f64> = g.cam.iter().chain(&g.x).chain(&[g.w]).copied().collect();
            for (j, (a, b)) in generated.iter().zip(&by_hand[row]).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-10 * a.abs().max(b.abs()).max(1.0),
                    "row {row}, column {j}: generated {a}, by hand {b} (rotation {:?})",
                    &cam[..3]
                );
            }
        }
    }
}

#[test]
fn lstm_gradient() {
    let mut rng = Rng::new(23);
    for (l, c, b) in [(1, 4, 2), (2, 5, 3), (4, 6, 2)] {
        let main_params = uniform(&mut rng, 8 * b * l);
        let extra = uniform(&mut rng, 3 * b);
        let state = uniform(&mut rng, 2 * b * l);
        let sequence = uniform(&mut rng, b * c);
        let (value, g) = lstm_objective::grad(&main_params, &extra, &state, &sequence, b);
        assert_eq!(
            value,
            lstm_objective(&main_params, &extra, &state, &sequence, b)
        );
        let point = [main_params.clone(), extra.clone()].concat();
        let f = |v: &[f64]| {
            let (m, e) = v.split_at(8 * b * l);
            lstm_objective(m, e, &state, &sequence, b)
        };
        assert_gradient(
            f,
            &point,
            &[g.main_params.clone(), g.extra_params.clone()].concat(),
        );
        // And against backpropagation through time written by hand.
        let (mut dm, mut de) = (vec![0.0; main_params.len()], vec![0.0; extra.len()]);
        let by_hand =
            manual::lstm_gradient(&main_params, &extra, &state, &sequence, b, &mut dm, &mut de);
        assert!(
            (value - by_hand).abs() <= 1e-12 * value.abs().max(1.0),
            "{value} vs {by_hand}"
        );
        let generated = [g.main_params, g.extra_params].concat();
        for (i, (a, h)) in generated.iter().zip(dm.iter().chain(&de)).enumerate() {
            assert!(
                (a - h).abs() <= 1e-12 * a.abs().max(h.abs()).max(1.0),
                "l={l} b={b}: component {i}: generated {a}, by hand {h}"
            );
        }
    }
}

/// A rigid transform: a rotation by three random angles and a random move.
fn rigid(rng: &mut Rng) -> Mat4 {
    let r = euler_angles_to_rotation_matrix([
        rng.uniform(-1.0, 1.0),
        rng.uniform(-1.0, 1.0),
        rng.uniform(-1.0, 1.0),
    ]);
    let mut m = [[0.0; 4]; 4];
    for i in 0..3 {
        m[i][..3].copy_from_slice(&r[i]);
        m[i][3] = rng.uniform(-1.0, 1.0);
    }
    m[3][3] = 1.0;
    m
}

/// ADBench's hand model's shape: 22 bones in five chains of four under a
/// root, random rest transforms, 40 vertices, 30 correspondences.
fn hand_model(rng: &mut Rng, mirrored: bool) -> HandModel {
    let n_bones = 22;
    let n_verts = 40;
    HandModel {
        parents: (0..n_bones)
            .map(|b| match b {
                0 => -1,
                _ if b % 4 == 1 => 0,
                _ => b - 1,
            })
            .collect(),
        base_relatives: (0..n_bones).map(|_| rigid(rng)).collect(),
        inverse_base_absolutes: (0..n_bones).map(|_| rigid(rng)).collect(),
        base_positions: (0..n_verts)
            .map(|_| {
                [
                    rng.uniform(-1.0, 1.0),
                    rng.uniform(-1.0, 1.0),
                    rng.uniform(-1.0, 1.0),
                    1.0,
                ]
            })
            .collect(),
        weights: (0..n_bones)
            .map(|_| (0..n_verts).map(|_| rng.uniform(0.0, 1.0)).collect())
            .collect(),
        is_mirrored: mirrored,
    }
}

/// The hand objective's vector-Jacobian products (a random seed on the
/// residuals) against central differences of the seeded sum, for a mirrored
/// hand and not, and its `tangent` against the same; the residuals the
/// forward pass writes are the function's.
#[test]
fn hand_objective_vjp_and_tangent() {
    let mut rng = Rng::new(31);
    for mirrored in [false, true] {
        let model = hand_model(&mut rng, mirrored);
        let correspondences: Vec<usize> = (0..30).map(|k| (7 * k) % 40).collect();
        let points: Vec<[f64; 3]> = (0..30)
            .map(|_| {
                [
                    rng.uniform(-1.0, 1.0),
                    rng.uniform(-1.0, 1.0),
                    rng.uniform(-1.0, 1.0),
                ]
            })
            .collect();
        let theta = uniform(&mut rng, 26)
            .iter()
            .map(|t| 0.3 * t)
            .collect::<Vec<_>>();
        let seed = uniform(&mut rng, 90);
        let residuals = |t: &[f64]| {
            let mut err = vec![0.0; 90];
            hand_objective(t, &model, &points, &correspondences, &mut err);
            err
        };
        let seeded = |t: &[f64]| {
            residuals(t)
                .iter()
                .zip(&seed)
                .map(|(e, s)| e * s)
                .sum::<f64>()
        };
        let mut err = vec![0.0; 90];
        let (_, tape) =
            hand_objective::forward(&theta, &model, &points, &correspondences, &mut err);
        assert_eq!(err, residuals(&theta));
        let g = hand_objective::backward(&tape, &seed);
        assert_gradient(seeded, &theta, &g.theta);
        // One direction forward: the residuals' change, seeded.
        let direction = uniform(&mut rng, 26);
        let mut err = vec![0.0; 90];
        let mut dot_err = vec![0.0; 90];
        hand_objective::tangent(
            &theta,
            &model,
            &points,
            &correspondences,
            &mut err,
            &direction,
            &mut dot_err,
        );
        let along: f64 = g.theta.iter().zip(&direction).map(|(a, b)| a * b).sum();
        let forward: f64 = dot_err.iter().zip(&seed).map(|(a, b)| a * b).sum();
        assert!(
            (along - forward).abs() < 1e-9 * along.abs().max(1.0),
            "{along} against {forward}"
        );
    }
}
