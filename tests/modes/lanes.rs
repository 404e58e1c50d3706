//! `jacobian_into` of a function with several outputs runs one backward
//! pass with a lane per output (`emit/lanes.rs`). Lane k does exactly the
//! arithmetic of the pass seeded with output k alone, so each row must equal
//! `backward_into` with that unit seed to the bit (the plain pass, generated
//! separately: an independent check of the lanes' code), whole `Grad`s
//! compared, sizes of unreached parameters included. Also against central
//! differences, on both sides of every branch, with the tape and rows
//! reused across calls of other lengths.

use crate::common::{central_difference, Rng};
use backprop_runtime::{differentiate, relu, sigmoid, softplus};

/// Slices, a fixed array and a scalar differentiated, a data slice, a loop
/// whose values go on a stack, a branch in it, `max`, a local array.
#[differentiate(wrt(p, q, s))]
fn mixer(p: &[f64], q: &[f64; 3], s: f64, data: &[f64]) -> [f64; 3] {
    let mut acc = [0.0; 3];
    for i in 0..p.len() {
        let t = p[i] * data[i % data.len()];
        if t > 0.0 {
            acc[i % 3] += t.sin() * s;
        } else {
            acc[i % 3] -= (t * s).exp();
        }
    }
    let n = q[0] * q[0] + q[1] * q[1] + q[2] * q[2];
    [
        acc[0] + n.sqrt(),
        acc[1] * q[1] + s.max(q[2]),
        acc[2] / (1.0 + n),
    ]
}

/// `b` is differentiated but reaches no output: its row stays as the plain
/// pass leaves it.
#[differentiate(wrt(a, b))]
fn ignores_b(a: &[f64], b: &[f64]) -> [f64; 2] {
    let _ = b.len();
    [a[0] * a[1], a[1].tanh()]
}

#[differentiate]
fn single(x: f32, v: &[f32]) -> [f32; 2] {
    let mut s = 0.0;
    for e in v {
        s += e * x;
    }
    [s * s, (s - x).abs()]
}

#[differentiate]
fn helper(v: &[f64], x: f64) -> f64 {
    let mut s = 0.0;
    for e in v {
        s += (e * x).sin();
    }
    s
}

/// A call left after inlining (a loop over a slice of any length in the
/// callee): passes one per output.
#[differentiate]
fn calls_helper(v: &[f64], x: f64, y: f64) -> [f64; 2] {
    [helper(v, x) * y, helper(v, y)]
}

fn data(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(-1.5, 1.5)).collect()
}

#[test]
fn the_lanes_pass_is_the_one_jacobian_into_runs() {
    assert!(mixer::SOURCE.contains("fn backward_lanes"));
    assert!(ignores_b::SOURCE.contains("fn backward_lanes"));
    assert!(single::SOURCE.contains("fn backward_lanes"));
    assert!(!calls_helper::SOURCE.contains("fn backward_lanes"));
}

#[test]
fn each_lane_is_the_pass_seeded_with_its_output_to_the_bit() {
    let mut rng = Rng::new(71);
    let mut tape = mixer::Tape::default();
    let mut rows: [mixer::Grad; 3] = Default::default();
    // Lengths that change from call to call: the tape's lanes are resized.
    for n in [7, 2, 9, 9, 1] {
        let p = data(&mut rng, n);
        let q = [
            rng.uniform(-1.0, 1.0),
            rng.uniform(-1.0, 1.0),
            rng.uniform(-1.0, 1.0),
        ];
        let s = rng.uniform(0.2, 1.5);
        let d = data(&mut rng, 4);
        for row in &mut rows {
            row.clear();
        }
        let value = mixer::jacobian_into(&p, &q, s, &d, &mut tape, &mut rows);
        assert_eq!(value, mixer(&p, &q, s, &d));
        let (_, plain_tape) = mixer::forward(&p, &q, s, &d);
        for (k, row) in rows.iter().enumerate() {
            let mut seed = [0.0; 3];
            seed[k] = 1.0;
            assert_eq!(
                *row,
                mixer::backward(&plain_tape, seed),
                "output {k}, n = {n}"
            );
        }
        // `jacobian` is the same.
        assert_eq!(mixer::jacobian(&p, &q, s, &d).1, rows);
    }
    let (_, rows) = ignores_b::jacobian(&[0.3, -0.7], &[1.0, 2.0, 3.0]);
    let (_, tape) = ignores_b::forward(&[0.3, -0.7], &[1.0, 2.0, 3.0]);
    assert_eq!(rows[0], ignores_b::backward(&tape, [1.0, 0.0]));
    assert_eq!(rows[1], ignores_b::backward(&tape, [0.0, 1.0]));
    let (_, rows) = single::jacobian(0.7, &[0.5, -2.0, 1.25]);
    let (_, tape) = single::forward(0.7, &[0.5, -2.0, 1.25]);
    assert_eq!(rows[0], single::backward(&tape, [1.0, 0.0]));
    assert_eq!(rows[1], single::backward(&tape, [0.0, 1.0]));
}

#[test]
fn rows_are_added_into() {
    let (p, q, d) = ([0.4, -0.3, 1.1], [0.2, -0.5, 0.9], [0.7, -1.2]);
    let mut tape = mixer::Tape::default();
    let mut rows: [mixer::Grad; 3] = Default::default();
    mixer::jacobian_into(&p, &q, 0.8, &d, &mut tape, &mut rows);
    let once = rows.clone();
    mixer::jacobian_into(&p, &q, 0.8, &d, &mut tape, &mut rows);
    for (twice, once) in rows.iter().zip(&once) {
        for (a, b) in twice.p.iter().zip(&once.p) {
            assert_eq!(*a, 2.0 * b);
        }
        for (a, b) in twice.q.iter().zip(&once.q) {
            assert_eq!(*a, 2.0 * b);
        }
        assert_eq!(twice.s, 2.0 * once.s);
    }
}

#[test]
fn the_jacobian_matches_central_differences_on_both_sides_of_each_branch() {
    let mut rng = Rng::new(72);
    let mut saw = [false; 2];
    for _ in 0..8 {
        let n = 5;
        let mut x = data(&mut rng, n + 3);
        x.push(rng.uniform(0.3, 1.4));
        let d = data(&mut rng, 3);
        let f = |x: &[f64], k: usize| {
            let q = [x[n], x[n + 1], x[n + 2]];
            mixer(&x[..n], &q, x[n + 3], &d)[k]
        };
        for i in 0..n {
            saw[usize::from(x[i] * d[i % 3] > 0.0)] = true;
        }
        let q = [x[n], x[n + 1], x[n + 2]];
        let (_, rows) = mixer::jacobian(&x[..n], &q, x[n + 3], &d);
        for (k, row) in rows.iter().enumerate() {
            let analytic: Vec<f64> = row.p.iter().chain(&row.q).copied().chain([row.s]).collect();
            for (i, a) in analytic.iter().enumerate() {
                let numeric = central_difference(|x| f(x, k), &x, i);
                assert!(
                    (a - numeric).abs() <= 1e-6 * a.abs().max(1.0),
                    "output {k}, input {i}: {a} against {numeric}"
                );
            }
        }
    }
    assert_eq!(saw, [true, true], "both sides of the branch");
    let v = [0.5, -1.0, 2.0];
    let (_, rows) = calls_helper::jacobian(&v, 0.3, -0.8);
    let numeric = central_difference(|u| calls_helper(&v, u[0], u[1])[0], &[0.3, -0.8], 1);
    assert!((rows[0].y - numeric).abs() < 1e-6);
}

/// A tuple of results: seeds a tuple of lanes.
#[differentiate]
fn to_polar(x: f64, y: f64) -> (f64, f64, f64) {
    let r2 = x * x + y * y;
    (r2.sqrt(), y.atan2(x), r2)
}

#[test]
fn a_tuple_of_results_gets_the_pass_with_lanes_too() {
    assert!(to_polar::SOURCE.contains("fn backward_lanes"));
    for (x, y) in [(0.3, -1.2), (-2.0, 0.5)] {
        let (value, rows) = to_polar::jacobian(x, y);
        assert_eq!(value, to_polar(x, y));
        let (_, tape) = to_polar::forward(x, y);
        assert_eq!(rows[0], to_polar::backward(&tape, (1.0, 0.0, 0.0)));
        assert_eq!(rows[1], to_polar::backward(&tape, (0.0, 1.0, 0.0)));
        assert_eq!(rows[2], to_polar::backward(&tape, (0.0, 0.0, 1.0)));
        let numeric = central_difference(|v| to_polar(v[0], v[1]).1, &[x, y], 0);
        assert!((rows[1].x - numeric).abs() < 1e-7);
    }
}

/// Every rule of the table in one function with three outputs: each rule's
/// term, written for lanes, against the same rule in the plain pass.
#[differentiate]
fn every_rule(x: f64, y: f64) -> [f64; 3] {
    let a = x.exp()
        + x.exp2()
        + x.exp_m1()
        + (x * x + 1.0).ln()
        + (x * x).ln_1p()
        + (y * y + 2.0).log(3.0);
    let b = (x * x + 1.0).log2()
        + (y * y + 1.0).log10()
        + (x * x + 1.0).sqrt()
        + x.cbrt()
        + x.powi(3)
        + (x * x + 1.0).powf(y);
    let c = (x + 3.0).recip()
        + x.sin()
        + y.cos()
        + (0.3 * x).tan()
        + (0.2 * x).asin()
        + (0.1 * y).acos()
        + x.atan()
        + y.atan2(x);
    let d = x.sinh()
        + y.cosh()
        + x.tanh()
        + x.asinh()
        + (y * y + 1.5).acosh()
        + (0.3 * x).atanh()
        + x.abs()
        + x.to_degrees()
        + y.to_radians();
    let e = x.signum() * y
        + x.floor()
        + y.ceil()
        + x.round()
        + y.trunc()
        + x.fract()
        + x.rem_euclid(0.7)
        + x.copysign(y);
    let f = x.max(y)
        + x.min(y)
        + x.clamp(-0.5, 0.5)
        + x.hypot(y)
        + x.mul_add(y, 2.0)
        + sigmoid(x)
        + relu(y)
        + softplus(x);
    let g = x % 0.3 + (x - y) / (x * x + 1.0) - (-y);
    [a + b, c + d * e, f * g]
}

#[test]
fn every_rule_of_the_table_runs_on_lanes() {
    assert!(every_rule::SOURCE.contains("fn backward_lanes"));
    // Both sides of `max`, `min`, `clamp`, `relu` and `abs`.
    for (x, y) in [(0.4, -0.7), (-0.3, 1.2), (0.45, 0.2)] {
        let (value, rows) = every_rule::jacobian(x, y);
        assert_eq!(value, every_rule(x, y));
        let (_, tape) = every_rule::forward(x, y);
        for (k, row) in rows.iter().enumerate() {
            let mut seed = [0.0; 3];
            seed[k] = 1.0;
            assert_eq!(
                *row,
                every_rule::backward(&tape, seed),
                "output {k} at ({x}, {y})"
            );
        }
    }
}

/// A buffer whose adjoint is a vector of lanes in `LanesWork`, which the
/// tape keeps (`Work` holds the plain passes' one).
#[differentiate]
fn hidden_pair(w: &[f64], x: &[f64]) -> [f64; 2] {
    let mut h = vec![0.0; x.len()];
    for i in 0..x.len() {
        h[i] = (w[i] * x[i]).tanh();
    }
    let mut a = 0.0;
    let mut b = 0.0;
    for i in 0..h.len() {
        a += h[i] * w[i];
        b += h[i] * h[i];
    }
    [a, b.sqrt()]
}

#[test]
fn buffers_adjoints_are_vectors_of_lanes() {
    assert!(hidden_pair::SOURCE.contains("fn backward_lanes"));
    assert!(hidden_pair::SOURCE.contains("struct LanesWork"));
    let mut rng = Rng::new(73);
    let mut tape = hidden_pair::Tape::default();
    let mut work = hidden_pair::Work::default();
    let mut rows: [hidden_pair::Grad; 2] = Default::default();
    for n in [3, 5, 1, 5] {
        let (w, x) = (data(&mut rng, n), data(&mut rng, n));
        for row in &mut rows {
            row.clear();
        }
        hidden_pair::jacobian_with(&w, &x, &mut tape, &mut rows, &mut work);
        let (_, plain) = hidden_pair::forward(&w, &x);
        assert_eq!(
            rows[0],
            hidden_pair::backward(&plain, [1.0, 0.0]),
            "n = {n}"
        );
        assert_eq!(
            rows[1],
            hidden_pair::backward(&plain, [0.0, 1.0]),
            "n = {n}"
        );
        for (k, row) in rows.iter().enumerate() {
            for i in 0..n {
                let numeric = central_difference(|v| hidden_pair(v, &x)[k], &w, i);
                assert!((row.w[i] - numeric).abs() < 1e-7);
            }
        }
    }
}

/// A slice read only at constant indices (as helpers over `&cam[3..6]` are
/// after inlining): its adjoint is a local array of lanes (`lanes::Prefix`),
/// and the rows take the slice's length, zeros past the indices read. The
/// branch not taken reads past the end of a short slice.
#[differentiate(wrt(cam, x))]
fn constant_reads(cam: &[f64], x: &[f64], long: bool) -> [f64; 2] {
    let rotated = [cam[0] * x[0] - cam[1] * x[1], cam[1] * x[0] + cam[0] * x[1]];
    let depth = if long { cam[5] + x[2] } else { 2.0 + x[2] };
    [
        rotated[0] / depth + cam[2],
        (rotated[1] / depth).sin() * cam[3],
    ]
}

#[test]
fn slices_read_at_constant_indices_have_arrays_of_lanes() {
    assert!(constant_reads::SOURCE.contains("lanes::Prefix<f64, 2, 6>"));
    assert!(constant_reads::SOURCE.contains("lanes::Prefix<f64, 2, 3>"));
    let mut rng = Rng::new(73);
    let mut tape = constant_reads::Tape::default();
    let mut rows: [constant_reads::Grad; 2] = Default::default();
    // Longer than the indices read, exactly as long, and shorter (with the
    // branch that reads `cam[5]` not taken); `x` longer than read too.
    for (n, long) in [(9, true), (6, true), (4, false), (6, false), (4, false)] {
        let cam = data(&mut rng, n);
        let x = data(&mut rng, 3 + n % 2);
        let long = long && cam[5] + x[2] != 0.0;
        for row in &mut rows {
            row.clear();
        }
        let value = constant_reads::jacobian_into(&cam, &x, long, &mut tape, &mut rows);
        assert_eq!(value, constant_reads(&cam, &x, long));
        let (_, plain_tape) = constant_reads::forward(&cam, &x, long);
        for (k, row) in rows.iter().enumerate() {
            let mut seed = [0.0; 2];
            seed[k] = 1.0;
            let plain = constant_reads::backward(&plain_tape, seed);
            assert_eq!(*row, plain, "output {k}, n = {n}");
            assert_eq!((row.cam.len(), row.x.len()), (cam.len(), x.len()));
            let inputs: Vec<f64> = cam.iter().chain(&x).copied().collect();
            let f = |v: &[f64]| constant_reads(&v[..n], &v[n..], long)[k];
            for (i, a) in row.cam.iter().chain(&row.x).enumerate() {
                let numeric = central_difference(f, &inputs, i);
                assert!(
                    (a - numeric).abs() <= 1e-6 * a.abs().max(1.0),
                    "output {k}, input {i}, n = {n}: {a} against {numeric}"
                );
            }
        }
        // Added into rows that already hold a gradient: twice the rows.
        let once = rows.clone();
        constant_reads::jacobian_into(&cam, &x, long, &mut tape, &mut rows);
        for (twice, once) in rows.iter().zip(&once) {
            for (a, b) in twice
                .cam
                .iter()
                .chain(&twice.x)
                .zip(once.cam.iter().chain(&once.x))
            {
                assert_eq!(*a, 2.0 * b);
            }
        }
    }
}
