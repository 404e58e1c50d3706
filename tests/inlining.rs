//! Calls of differentiated functions written beside their caller are inlined
//! (`backprop-macro/src/inline/`). The caller here is written twice: beside
//! its helpers, where their calls are inlined, and in the module `called`,
//! which imports them, where each call goes through the callee's module.
//! Both must give the function's value to the bit and the same gradient,
//! which central differences check too.

// The helpers index as numeric code does.
#![allow(clippy::needless_range_loop)]

mod common;

use backprop_runtime::differentiate;
use common::{assert_gradient, Rng};

const LIMIT: f64 = 4.0;

/// Loops over its slice: inlined because it asks.
#[inline]
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

/// Calls a helper itself; a local named as the caller's.
#[differentiate]
pub fn rotate(rot: &[f64], pt: &[f64], rotated: &mut [f64]) {
    let s = sqsum(rot);
    if s != 0.0 {
        let theta = s.sqrt();
        let mut w = [0.0; 3];
        for i in 0..3 {
            w[i] = rot[i] / theta;
        }
        let mut wx = [0.0; 3];
        cross(&w, pt, &mut wx);
        for i in 0..3 {
            rotated[i] = pt[i] * theta.cos() + wx[i] * theta.sin();
        }
    } else {
        cross(rot, pt, rotated);
        for i in 0..3 {
            rotated[i] += pt[i];
        }
    }
}

/// A value parameter written, a constant, a chain ending the body.
#[inline(always)]
#[differentiate]
pub fn clipped_mean(mut scale: f64, v: &[f64]) -> f64 {
    if scale > LIMIT {
        scale = LIMIT;
    }
    v.iter().map(|t| t * scale).sum::<f64>() / v.len() as f64
}

/// A part written through its parent.
#[inline]
#[differentiate]
pub fn cell(w: &[f64], state: &mut [f64]) {
    for i in 0..state.len() {
        state[i] = (state[i] * w[i] + w[w.len() - 1]).tanh();
    }
}

/// The caller: parts passed, a helper called in an `&&`, in a
/// `match` arm, twice in one expression, in a loop, on its own
/// result; a local `s` and `w` as the helpers have.
#[differentiate]
pub fn model(cam: &[f64], x: &[f64], state: &mut [f64], k: usize) -> f64 {
    let s = cam[0] * 0.5;
    let w = [x[0], x[1], x[2]];
    let mut turned = [0.0; 3];
    rotate(&cam[0..3], &w, &mut turned);
    shrink(&mut turned);
    let mut total = sqsum(&turned) + s * sqsum(x);
    if total > 1.0 && sqsum(&cam[3..5]) < 100.0 {
        total += clipped_mean(cam[3], x);
    }
    total += match k {
        0 => clipped_mean(2.0 * cam[4], &turned),
        _ => 0.5 * s,
    };
    for layer in 0..2 {
        cell(&cam[3..6], &mut state[2 * layer..2 * layer + 3]);
        total += state[2 * layer] * sqsum(&state[..2]);
    }
    total += 0.25 * norm1(x) + 0.125 * squares(&turned);
    total + relu(total - 3.0)
}

/// Loops over its slice and does not ask: called.
#[differentiate]
pub fn norm1(v: &[f64]) -> f64 {
    let mut total = 0.0;
    for t in v {
        total += t.abs();
    }
    total
}

/// A closure's parameter named as the helper's parameter: inlined, the
/// closure's own name left alone inside it.
#[inline]
#[differentiate]
pub fn squares(x: &[f64]) -> f64 {
    x.iter().map(|x| x * x).sum::<f64>()
}

/// A `&mut` parameter passed on to a helper that reads it (called).
#[differentiate]
pub fn shrink(out: &mut [f64]) {
    let n = norm1(out);
    for i in 0..3 {
        out[i] /= 1.0 + n;
    }
}

/// A user's own function named as a runtime activation: computed as
/// written.
#[differentiate]
pub fn relu(t: f64) -> f64 {
    0.1 * t.max(0.0)
}

/// Recursion: its own call stays a call.
#[differentiate]
pub fn power(x: f64, n: u32) -> f64 {
    match n {
        0 => 1.0,
        _ => x * power(x, n - 1) + sqsum(&[x, 1.0]) * 0.0,
    }
}

/// `model` again, in a module of its own: its helpers are imported, so each
/// call goes through the callee's module.
mod called {
    use super::{cell, clipped_mean, norm1, rotate, shrink, sqsum, squares};
    use backprop_runtime::differentiate;

    #[differentiate]
    pub fn model(cam: &[f64], x: &[f64], state: &mut [f64], k: usize) -> f64 {
        // Not the same tokens as the first (`0.5 * cam[0]` is the same
        // float): a function written twice as it is is not inlined.
        let s = 0.5 * cam[0];
        let w = [x[0], x[1], x[2]];
        let mut turned = [0.0; 3];
        rotate(&cam[0..3], &w, &mut turned);
        shrink(&mut turned);
        let mut total = sqsum(&turned) + s * sqsum(x);
        if total > 1.0 && sqsum(&cam[3..5]) < 100.0 {
            total += clipped_mean(cam[3], x);
        }
        total += match k {
            0 => clipped_mean(2.0 * cam[4], &turned),
            _ => 0.5 * s,
        };
        for layer in 0..2 {
            cell(&cam[3..6], &mut state[2 * layer..2 * layer + 3]);
            total += state[2 * layer] * sqsum(&state[..2]);
        }
        total += 0.25 * norm1(x) + 0.125 * squares(&turned);
        // `relu` written out: called by its name through its module, the
        // user's `relu` is refused (ui activation-of-your-own).
        total + 0.1 * (total - 3.0).max(0.0)
    }
}

fn inputs(rng: &mut Rng) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let cam: Vec<f64> = (0..6).map(|_| rng.uniform(-1.5, 1.5)).collect();
    let x: Vec<f64> = (0..3).map(|_| rng.uniform(-2.0, 2.0)).collect();
    let state: Vec<f64> = (0..5).map(|_| rng.uniform(-1.0, 1.0)).collect();
    (cam, x, state)
}

#[test]
fn inlined_calls_give_what_calls_give() {
    let mut rng = Rng::new(17);
    for trial in 0..12 {
        let (mut cam, x, state0) = inputs(&mut rng);
        if trial == 0 {
            // The rotation's other branch.
            cam[..3].fill(0.0);
        }
        if trial == 1 {
            // The clipped scale.
            cam[4] = 5.0;
        }
        for k in [0, 1] {
            let (mut s1, mut s2) = (state0.clone(), state0.clone());
            let (v1, t1) = model::forward(&cam, &x, &mut s1, k);
            let (v2, t2) = called::model::forward(&cam, &x, &mut s2, k);
            let mut plain = state0.clone();
            assert_eq!(v1.to_bits(), model(&cam, &x, &mut plain, k).to_bits());
            assert_eq!(v1.to_bits(), v2.to_bits());
            assert_eq!(s1, plain);
            assert_eq!(s2, plain);
            let seed: Vec<f64> = (0..5).map(|i| 0.3 * i as f64 - 0.4).collect();
            let g1 = model::backward(&t1, (1.0, &seed[..]));
            let g2 = called::model::backward(&t2, (1.0, &seed[..]));
            for (a, b) in g1
                .cam
                .iter()
                .chain(&g1.x)
                .chain(&g1.state)
                .zip(g2.cam.iter().chain(&g2.x).chain(&g2.state))
            {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} {b}");
            }
            let f = |v: &[f64]| {
                let mut s = v[9..].to_vec();
                let value = model(&v[..6], &v[6..9], &mut s, k);
                value + s.iter().zip(&seed).map(|(a, b)| a * b).sum::<f64>()
            };
            let joined = [cam.clone(), x.clone(), state0.clone()].concat();
            assert_gradient(f, &joined, &[g1.cam, g1.x, g1.state].concat());
        }
    }
}

#[test]
fn inlined_functions_are_inlined_and_recursion_is_called() {
    // No call of a helper is left in the caller's generated code.
    for helper in [
        "sqsum::",
        "cross::",
        "rotate::",
        "cell::",
        "clipped_mean::",
        "shrink::",
        "relu",
    ] {
        assert!(!model::SOURCE.contains(helper), "{helper}");
    }
    for helper in [
        "sqsum::",
        "rotate::",
        "cell::",
        "clipped_mean::",
        "shrink::",
    ] {
        assert!(called::model::SOURCE.contains(helper), "{helper}");
    }
    // A helper with a loop over data that does not ask is called.
    assert!(model::SOURCE.contains("norm1::"));
    assert!(!model::SOURCE.contains("squares::"));
    assert!(power::SOURCE.contains("power::"));
    assert!(!power::SOURCE.contains("sqsum::"));
    for x in [0.5, -1.25] {
        let (value, g) = power::grad(x, 3);
        assert_eq!(value.to_bits(), power(x, 3).to_bits());
        assert_gradient(|v| power(v[0], 3), &[x], &[g.x]);
    }
    // The user's `relu`, not the runtime's: 0.1 t for t > 0.
    let (value, g) = relu::grad(2.0);
    assert_eq!((value, g.t), (0.2, 0.1));
}

/// A helper that loops over its slice: called where the slice's length is
/// the data's, inlined where the code fixes it.
#[differentiate]
fn sum_of_squares(v: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..v.len() {
        total += v[i] * v[i];
    }
    total
}

/// Every slice given has a length the code fixes: a literal part, a local
/// array, a typed parameter.
#[differentiate]
fn short_lists_only(p: &[f64], corner: &[f64; 2]) -> f64 {
    let q = [p[0] * 2.0, p[1].sin()];
    let head = &p[1..4];
    sum_of_squares(&p[0..3]) * sum_of_squares(&q) + sum_of_squares(head) + sum_of_squares(corner)
}

/// The same with the whole slice too: that call stays a call.
#[differentiate]
fn short_and_long_lists(p: &[f64]) -> f64 {
    let q = [p[0] * 2.0, p[1].sin()];
    sum_of_squares(&q) + sum_of_squares(p)
}

/// One call of the helper, for the count of its mentions per call.
#[differentiate]
fn one_long_list(p: &[f64]) -> f64 {
    sum_of_squares(p)
}

#[test]
fn looping_helpers_given_short_fixed_lists_are_inlined() {
    assert!(!short_lists_only::SOURCE.contains("sum_of_squares::"));
    let mentions = |source: &str| source.matches("sum_of_squares::").count();
    assert!(mentions(one_long_list::SOURCE) > 0);
    assert_eq!(
        mentions(short_and_long_lists::SOURCE),
        mentions(one_long_list::SOURCE)
    );
    for p in [[0.3, -1.2, 0.7, 2.0], [1.5, 0.4, -2.0, 0.1]] {
        let corner = [p[3], -p[2]];
        let (value, g) = short_lists_only::grad(&p, &corner);
        assert_eq!(value, short_lists_only(&p, &corner));
        let joined = [&p[..], &corner[..]].concat();
        assert_gradient(
            |v| short_lists_only(&v[..4], &[v[4], v[5]]),
            &joined,
            &[&g.p[..], &g.corner[..]].concat(),
        );
        let (value, g) = short_and_long_lists::grad(&p);
        assert_eq!(value, short_and_long_lists(&p));
        assert_gradient(short_and_long_lists, &p, &g.p);
    }
}
