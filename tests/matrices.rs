//! Small matrices as Rust programmers write them: 3x3 arrays of rows
//! returned by plain helpers (a literal, a local filled by loops, a branch
//! from an early return), arrays chosen by branches, and buffers of rows
//! grown by `push` and read while they grow (the bones of ADBench's hand
//! model). Each gradient against central differences, on both sides of
//! every branch.

// (Index loops, as in numeric code written by hand.)
#![allow(clippy::needless_range_loop)]

mod common;

use backprop_runtime::differentiate;
use common::{assert_gradient, Rng};

type Mat3 = [[f64; 3]; 3];

fn rot_z(t: f64) -> Mat3 {
    [
        [t.cos(), -t.sin(), 0.0],
        [t.sin(), t.cos(), 0.0],
        [0.0, 0.0, 1.0],
    ]
}

fn mat3_mul(a: &Mat3, b: &Mat3) -> Mat3 {
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

/// Rodrigues' rotation matrix, the identity near zero (an early return).
fn angle_axis(v: [f64; 3]) -> Mat3 {
    let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if norm < 1e-4 {
        return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    }
    let (x, y, z) = (v[0] / norm, v[1] / norm, v[2] / norm);
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

/// A product of helpers' matrices, one of them scaled column by column.
#[differentiate]
fn rotated(p: &[f64], t: f64) -> f64 {
    let mut r = angle_axis([p[0], p[1], p[2]]);
    for i in 0..3 {
        for j in 0..3 {
            r[i][j] *= p[3 + j];
        }
    }
    let m = mat3_mul(&r, &rot_z(t));
    let mut total = 0.0;
    for i in 0..3 {
        for j in 0..3 {
            total += m[i][j] * (1.0 + i as f64 - j as f64);
        }
    }
    total
}

#[test]
fn matrices_of_helpers_are_differentiated() {
    let mut rng = Rng::new(91);
    for near_zero in [false, true] {
        for _ in 0..4 {
            let scale = if near_zero { 1e-6 } else { 1.0 };
            let mut p: Vec<f64> = (0..3).map(|_| scale * rng.uniform(-1.0, 1.0)).collect();
            p.extend((0..3).map(|_| rng.uniform(0.5, 1.5)));
            let t = rng.uniform(-2.0, 2.0);
            let (value, g) = rotated::grad(&p, t);
            assert_eq!(value, rotated(&p, t));
            // (Near zero only the scales and `t` are smooth enough for
            // central differences: the branch is the identity there.)
            let checked = if near_zero { 3 } else { 0 };
            let f = |q: &[f64]| {
                let mut all = p.clone();
                all[checked..].copy_from_slice(q);
                rotated(&all, t)
            };
            assert_gradient(f, &p[checked..], &g.p[checked..]);
            assert_gradient(|v| rotated(&p, v[0]), &[t], &[g.t]);
            if near_zero {
                assert!(g.p[..3].iter().all(|d| *d == 0.0), "{:?}", g.p);
            }
        }
    }
}

/// Arrays chosen by branches: of floats, of rows, with statements of their
/// own in the arms, `else if`, and an arm that ends in a local array.
#[differentiate]
fn chosen(x: f64, y: f64, k: usize) -> f64 {
    let v = if x > 0.0 { [x, y] } else { [y * y, x.sin()] };
    let fallback = [y, x, x * y];
    let w = if k == 0 {
        let (a, b) = (x * 2.0, y.exp());
        [a, b, a * b]
    } else if k == 1 {
        [x - y, 1.0, y]
    } else {
        fallback
    };
    let m = if y > x {
        [[x, y], [1.0, x * y]]
    } else {
        [[y, 2.0], [x, y]]
    };
    v[0] * v[1].cos() + w[0] * w[2] - w[1] + m[0][1] * m[1][0] + m[1][1]
}

#[test]
fn arrays_chosen_by_branches_are_differentiated() {
    let mut saw = [[false; 2]; 2];
    let mut rng = Rng::new(92);
    for k in 0..3 {
        for _ in 0..6 {
            let (x, y) = (rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0));
            saw[0][usize::from(x > 0.0)] = true;
            saw[1][usize::from(y > x)] = true;
            let (value, g) = chosen::grad(x, y, k);
            assert_eq!(value, chosen(x, y, k));
            assert_gradient(|v| chosen(v[0], v[1], k), &[x, y], &[g.x, g.y]);
        }
    }
    assert_eq!(saw, [[true; 2]; 2], "both sides of each branch");
}

type Mat4 = [f64; 16];

fn mat4_mul(a: &[f64], b: &[f64]) -> Mat4 {
    let mut out = [0.0; 16];
    for i in 0..4 {
        for j in 0..4 {
            for k in 0..4 {
                out[4 * i + j] += a[4 * i + k] * b[4 * k + j];
            }
        }
    }
    out
}

/// A chain of transforms (bones): each one's absolute transform is its
/// parent's, read from the buffer while it grows, times its own, pushed.
#[differentiate(wrt(angles))]
fn chain_tip(angles: &[f64], lengths: &[f64], parents: &[i32]) -> f64 {
    let mut absolutes: Vec<Mat4> = Vec::with_capacity(parents.len());
    for b in 0..parents.len() {
        let r = rot_z(angles[b]);
        let mut local = [0.0; 16];
        for i in 0..3 {
            for j in 0..3 {
                local[4 * i + j] = r[i][j];
            }
        }
        local[3] = lengths[b];
        local[15] = 1.0;
        let absolute = if parents[b] < 0 {
            local
        } else {
            mat4_mul(&absolutes[parents[b] as usize], &local)
        };
        absolutes.push(absolute);
    }
    let mut rows = vec![[0.0; 16]; absolutes.len()];
    for b in 0..absolutes.len() {
        let copied: [f64; 16] = absolutes[b];
        rows[b] = copied;
    }
    let tip = &rows[rows.len() - 1];
    tip[3] * tip[3] + tip[7] * tip[7] + tip[0] * tip[5]
}

#[test]
fn buffers_of_rows_grown_by_push_are_differentiated() {
    let mut rng = Rng::new(93);
    let parents = [-1, 0, 1, 1, 3];
    let lengths = [1.0, 0.8, 0.5, 0.7, 0.4];
    for _ in 0..5 {
        let angles: Vec<f64> = (0..5).map(|_| rng.uniform(-1.5, 1.5)).collect();
        let (value, g) = chain_tip::grad(&angles, &lengths, &parents);
        assert_eq!(value, chain_tip(&angles, &lengths, &parents));
        assert_gradient(|a| chain_tip(a, &lengths, &parents), &angles, &g.angles);
    }
}

/// A buffer sized by a buffer of rows' length inside `vec!`: the count of
/// rows, as everywhere else (it was the count of floats, and the mean
/// below silently a third of itself).
#[differentiate]
fn mean_row_norm(p: &[f64]) -> f64 {
    let mut force = vec![[0.0; 3]; p.len() / 3];
    for i in 0..force.len() {
        force[i] = [p[3 * i], p[3 * i + 1], p[3 * i + 2]];
    }
    let mut norms = vec![0.0; force.len()];
    for i in 0..force.len() {
        norms[i] =
            (force[i][0] * force[i][0] + force[i][1] * force[i][1] + force[i][2] * force[i][2])
                .sqrt();
    }
    norms.iter().sum::<f64>() / norms.len() as f64
}

#[test]
fn vec_sized_by_rows_counts_rows() {
    let p = [0.3, -1.2, 2.0, 0.7, -0.4, 1.1, 0.5, 0.5, -0.5];
    let (value, g) = mean_row_norm::grad(&p);
    let expected: f64 = p
        .chunks(3)
        .map(|r| (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt())
        .sum::<f64>()
        / 3.0;
    assert!(
        (value - expected).abs() < 1e-12,
        "{value} against {expected}"
    );
    assert!((mean_row_norm(&p) - expected).abs() < 1e-12);
    assert_gradient(mean_row_norm, &p, &g.p);
}

fn mat3_vec(a: &Mat3, v: [f64; 3]) -> [f64; 3] {
    [
        a[0][0] * v[0] + a[0][1] * v[1] + a[0][2] * v[2],
        a[1][0] * v[0] + a[1][1] * v[1] + a[1][2] * v[2],
        a[2][0] * v[0] + a[2][1] * v[1] + a[2][2] * v[2],
    ]
}

/// Buffers of matrices: a chain of rotations grown by `push` (each read
/// through its parent while the buffer grows, passed to helpers by
/// reference, bound by reference), and one made by `vec!` of a given count
/// and written element by element; a matrix's row read as a whole.
#[differentiate(wrt(angles))]
fn matrix_chain(angles: &[f64], parents: &[usize]) -> f64 {
    let mut frames: Vec<Mat3> = Vec::new();
    for b in 0..angles.len() {
        let turn = rot_z(angles[b]);
        let frame = if b == 0 {
            turn
        } else {
            mat3_mul(&frames[parents[b]], &turn)
        };
        frames.push(frame);
    }
    let mut scaled = vec![[[0.0; 3]; 3]; frames.len()];
    for b in 0..frames.len() {
        for i in 0..3 {
            for j in 0..3 {
                scaled[b][i][j] = frames[b][i][j] * (1.0 + b as f64);
            }
        }
    }
    let first = angles[0];
    scaled[0] = [
        [first, 1.0, 0.0],
        [first * first, 2.0, first],
        [0.0, 0.0, 1.0],
    ];
    let last = &scaled[scaled.len() - 1];
    let tip = mat3_vec(&frames[frames.len() - 1], [1.0, 0.5, 0.0]);
    let row = scaled[0][1];
    tip[0] * tip[1] + last[0][1] * last[1][0] + row[0] - row[1]
}

#[test]
fn buffers_of_matrices_are_differentiated() {
    let mut rng = Rng::new(94);
    let parents = [0, 0, 1, 1, 3];
    for _ in 0..5 {
        let angles: Vec<f64> = (0..5).map(|_| rng.uniform(-1.5, 1.5)).collect();
        let (value, g) = matrix_chain::grad(&angles, &parents);
        assert_eq!(value, matrix_chain(&angles, &parents));
        assert_gradient(|a| matrix_chain(a, &parents), &angles, &g.angles);
    }
}
