//! Batched forward mode, `f::tangents(args.., [direction; N])`, and
//! `f::jacobian_fwd(args..)`.
//!
//! `tangents` runs the same statements as `tangent` with N lanes in each
//! tangent, so lane k must equal `tangent` along the k-th direction to the
//! bit. `jacobian_fwd` is forward mode's gradient (or Jacobian): checked
//! against the reverse pass's `grad`/`jacobian` (an independent computation)
//! and against central differences, at several points on both sides of every
//! branch, for slices, arrays, tuples and arrays of results, calls, custom
//! rules, f32 and generic functions.

use crate::common::{central_difference, Rng};
use backprop_runtime::{differentiate, relu, Float};

fn close(a: f64, b: f64, tol: f64) {
    assert!(
        (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0),
        "{a} vs {b}"
    );
}

#[differentiate]
fn blog(x: f64, y: f64) -> f64 {
    let sigx = backprop_runtime::sigmoid(x);
    let sigy = backprop_runtime::sigmoid(y);
    let numer = x + sigy;
    let xandy = x + y;
    let xandysqr = xandy * xandy;
    let denom = xandysqr + sigx;
    numer / denom
}

/// Every rule with a zero side (`max`, `min`, `clamp`, `relu`), a loop over
/// a slice, a branch in it, a buffer.
#[differentiate]
fn kinks(w: &[f64], x: f64) -> f64 {
    let mut h = vec![0.0; w.len()];
    let mut s = 0.0;
    for i in 0..w.len() {
        h[i] = relu(w[i] * x) + w[i].max(x) - w[i].min(0.5 * x);
        if h[i] > 1.0 {
            s += h[i].clamp(-2.0, 2.5) * x;
        } else {
            s += (h[i] * w[i]).sin();
        }
    }
    s + h[0] * h[h.len() - 1]
}

#[differentiate]
fn polar(r: f64, theta: f64) -> (f64, f64) {
    (r * theta.cos(), r * theta.sin())
}

/// An array parameter by value, one by reference, and an array of results.
#[differentiate]
fn rotated(p: [f64; 3], axis: &[f64; 3], angle: f64) -> [f64; 3] {
    let (s, c) = (angle.sin(), angle.cos());
    let dot = p[0] * axis[0] + p[1] * axis[1] + p[2] * axis[2];
    [
        p[0] * c + (axis[1] * p[2] - axis[2] * p[1]) * s + axis[0] * dot * (1.0 - c),
        p[1] * c + (axis[2] * p[0] - axis[0] * p[2]) * s + axis[1] * dot * (1.0 - c),
        p[2] * c + (axis[0] * p[1] - axis[1] * p[0]) * s + axis[2] * dot * (1.0 - c),
    ]
}

#[differentiate]
fn energy<T: Float>(x: &[T], k: T) -> T {
    let mut e = T::zero();
    for i in 1..x.len() {
        let d = x[i] - x[i - 1];
        e = e + k * d * d * d.exp();
    }
    e
}

#[differentiate]
fn narrow(x: f32, y: f32) -> f32 {
    (x * y).sin() + x.exp() / (1.0 + y * y)
}

/// An f32 input of an f64 function, through casts.
#[differentiate]
fn widened(x: f32, scale: f64) -> f64 {
    let wide = f64::from(x) * scale;
    let back = (wide * wide) as f32;
    f64::from(back.sqrt()) + wide.tanh()
}

#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Calls: a helper with two results, a slice helper on a whole slice and on
/// parts, and a custom rule.
#[differentiate]
fn with_calls(w: &[f64], x: f64) -> f64 {
    let (a, b) = polar(x, w[0]);
    let whole = dot(w, w);
    let part = dot(&w[1..], &w[..w.len() - 1]);
    twice_tanh(a * b) + whole * part
}

pub fn twice_tanh(x: f64) -> f64 {
    2.0 * x.tanh()
}

pub mod twice_tanh {
    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        t: f64,
    }

    pub type Scratch = ();

    pub fn forward_into(tape: &mut Tape, x: f64) -> f64 {
        tape.t = x.tanh();
        2.0 * tape.t
    }

    pub fn pullback_into(tape: &Tape, seed: f64, _scratch: &mut Scratch) -> (f64,) {
        (seed * 2.0 * (1.0 - tape.t * tape.t),)
    }
}

fn random(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(lo, hi)).collect()
}

#[test]
fn each_lane_is_the_tangent_along_its_direction() {
    let mut rng = Rng::new(11);
    for _ in 0..20 {
        let (x, y) = (rng.uniform(-4.0, 4.0), rng.uniform(-4.0, 4.0));
        let dx: [f64; 3] = [rng.uniform(-1.0, 1.0), 1.0, 0.0];
        let dy: [f64; 3] = [rng.uniform(-1.0, 1.0), 0.0, 1.0];
        let (value, lanes) = blog::tangents(x, y, dx, dy);
        assert_eq!(value, blog(x, y));
        for k in 0..3 {
            assert_eq!(lanes[k], blog::tangent(x, y, dx[k], dy[k]).1, "lane {k}");
        }
    }
}

#[test]
fn lanes_through_kinks_loops_and_branches() {
    let mut rng = Rng::new(12);
    let mut sides = [0; 2];
    for _ in 0..40 {
        let w = random(&mut rng, 5, -2.0, 2.0);
        let x = rng.uniform(-2.0, 2.0);
        let directions: Vec<Vec<f64>> = (0..4).map(|_| random(&mut rng, 5, -1.0, 1.0)).collect();
        let dx = [0.3, -1.0, 0.0, 2.0];
        let dw: [&[f64]; 4] = std::array::from_fn(|k| directions[k].as_slice());
        let (value, lanes) = kinks::tangents(&w, x, dw, dx);
        assert_eq!(value, kinks(&w, x));
        for k in 0..4 {
            assert_eq!(lanes[k], kinks::tangent(&w, x, dw[k], dx[k]).1);
        }
        sides[usize::from(
            w.iter()
                .any(|a| relu(a * x) + a.max(x) - a.min(0.5 * x) > 1.0),
        )] += 1;
    }
    assert!(sides[0] > 0 && sides[1] > 0, "{sides:?}");
}

#[test]
fn lanes_of_tuples_arrays_generics_f32_and_calls() {
    let (value, lanes) = polar::tangents(1.5, 0.4, [1.0, 0.0, 0.5], [0.0, 1.0, -2.0]);
    assert_eq!(value, polar(1.5, 0.4));
    for (k, (dr, dt)) in [(1.0, 0.0), (0.0, 1.0), (0.5, -2.0)]
        .into_iter()
        .enumerate()
    {
        assert_eq!(lanes[k], polar::tangent(1.5, 0.4, dr, dt).1);
    }

    let (p, axis) = ([0.3, -1.2, 0.8], [0.6, 0.0, 0.8]);
    let dp = [[1.0, 0.0, 0.0], [0.2, 0.3, -0.4]];
    let daxis = [[0.0, 0.0, 0.0], [1.0, -1.0, 0.5]];
    let (value, lanes) = rotated::tangents(p, &axis, 0.7, dp, daxis, [0.5, -0.25]);
    assert_eq!(value, rotated(p, &axis, 0.7));
    for k in 0..2 {
        let dangle = [0.5, -0.25][k];
        assert_eq!(
            lanes[k],
            rotated::tangent(p, &axis, 0.7, dp[k], &daxis[k], dangle).1
        );
    }

    let x = [0.1_f32, -0.4, 0.9];
    let dirs = [[1.0_f32, 0.0, 0.0], [0.5, 0.5, -1.0]];
    let (value, lanes) = energy::tangents(&x, 0.7_f32, [&dirs[0][..], &dirs[1][..]], [0.0, 1.0]);
    assert_eq!(value, energy(&x, 0.7_f32));
    assert_eq!(lanes[0], energy::tangent(&x, 0.7_f32, &dirs[0], 0.0).1);
    assert_eq!(lanes[1], energy::tangent(&x, 0.7_f32, &dirs[1], 1.0).1);

    let (_, lanes) = widened::tangents(0.8_f32, -1.3, [1.0, 0.25], [0.0, 2.0]);
    assert_eq!(lanes[1], widened::tangent(0.8_f32, -1.3, 0.25, 2.0).1);

    let w = [0.5, -1.0, 2.0, 0.7];
    let dw = [[1.0, 0.0, 0.0, 0.0], [0.1, 0.2, -0.3, 0.4], [0.0; 4]];
    let (value, lanes) = with_calls::tangents(
        &w,
        0.3,
        [&dw[0][..], &dw[1][..], &dw[2][..]],
        [0.0, 0.5, 1.0],
    );
    assert_eq!(value, with_calls(&w, 0.3));
    for k in 0..3 {
        let dx = [0.0, 0.5, 1.0][k];
        assert_eq!(lanes[k], with_calls::tangent(&w, 0.3, &dw[k], dx).1);
    }
}

/// `jacobian_fwd`'s gradient against `grad`'s and central differences.
#[track_caller]
fn agrees(forward: &[f64], reverse: &[f64], numeric: &[f64]) {
    assert_eq!(forward.len(), reverse.len());
    for i in 0..forward.len() {
        close(forward[i], reverse[i], 1e-12);
        close(forward[i], numeric[i], 1e-6);
    }
}

#[test]
fn jacobian_fwd_is_the_gradient() {
    let mut rng = Rng::new(13);
    for _ in 0..10 {
        let (x, y) = (rng.uniform(-4.0, 4.0), rng.uniform(-4.0, 4.0));
        let (value, j) = blog::jacobian_fwd(x, y);
        let (_, g) = blog::grad(x, y);
        assert_eq!(value, blog(x, y));
        let plain = |p: &[f64]| blog(p[0], p[1]);
        let numeric: Vec<f64> = (0..2)
            .map(|i| central_difference(plain, &[x, y], i))
            .collect();
        agrees(&[j.x, j.y], &[g.x, g.y], &numeric);
    }
    // Slices longer and shorter than a block of lanes, and of 1 and 0
    // elements (beside a scalar).
    for n in [9, 4, 3, 1] {
        let w = random(&mut rng, n, -2.0, 2.0);
        let x = rng.uniform(-2.0, 2.0);
        let (value, j) = kinks::jacobian_fwd(&w, x);
        let (_, g) = kinks::grad(&w, x);
        assert_eq!(value, kinks(&w, x));
        let mut point = w.clone();
        point.push(x);
        let plain = |p: &[f64]| kinks(&p[..n], p[n]);
        let numeric: Vec<f64> = (0..=n)
            .map(|i| central_difference(plain, &point, i))
            .collect();
        let mut forward = j.w.clone();
        forward.push(j.x);
        let mut reverse = g.w.clone();
        reverse.push(g.x);
        agrees(&forward, &reverse, &numeric);
    }
    let w = [0.5, -1.0, 2.0, 0.7, 1.1];
    let (_, j) = with_calls::jacobian_fwd(&w, 0.3);
    let (_, g) = with_calls::grad(&w, 0.3);
    for i in 0..w.len() {
        close(j.w[i], g.w[i], 1e-12);
    }
    close(j.x, g.x, 1e-12);
}

#[test]
fn jacobian_fwd_of_several_results_is_the_jacobian() {
    let (value, rows) = polar::jacobian_fwd(1.5, 0.4);
    let (_, reverse) = polar::jacobian(1.5, 0.4);
    assert_eq!(value, polar(1.5, 0.4));
    for m in 0..2 {
        close(rows[m].r, reverse[m].r, 1e-14);
        close(rows[m].theta, reverse[m].theta, 1e-14);
    }
    // 7 inputs: two blocks of lanes.
    let (p, axis, angle) = ([0.3, -1.2, 0.8], [0.6, 0.0, 0.8], 0.7);
    let (value, rows) = rotated::jacobian_fwd(p, &axis, angle);
    let (_, reverse) = rotated::jacobian(p, &axis, angle);
    assert_eq!(value, rotated(p, &axis, angle));
    let point = [p[0], p[1], p[2], axis[0], axis[1], axis[2], angle];
    for m in 0..3 {
        let plain = |q: &[f64]| rotated([q[0], q[1], q[2]], &[q[3], q[4], q[5]], q[6])[m];
        let numeric: Vec<f64> = (0..7)
            .map(|i| central_difference(plain, &point, i))
            .collect();
        let forward: Vec<f64> = rows[m]
            .p
            .iter()
            .chain(&rows[m].axis)
            .copied()
            .chain([rows[m].angle])
            .collect();
        let back: Vec<f64> = reverse[m]
            .p
            .iter()
            .chain(&reverse[m].axis)
            .copied()
            .chain([reverse[m].angle])
            .collect();
        agrees(&forward, &back, &numeric);
    }
}

#[test]
fn jacobian_fwd_in_f32_generic_and_mixed_functions() {
    let (value, j) = narrow::jacobian_fwd(0.3_f32, -0.8);
    let (_, g) = narrow::grad(0.3_f32, -0.8);
    assert_eq!(value, narrow(0.3, -0.8));
    assert!((j.x - g.x).abs() <= 1e-6 && (j.y - g.y).abs() <= 1e-6);

    let x = [0.1, -0.4, 0.9, 0.2, -0.6];
    let (_, j) = energy::jacobian_fwd(&x[..], 0.7);
    let (_, g) = energy::grad(&x[..], 0.7);
    for i in 0..x.len() {
        close(j.x[i], g.x[i], 1e-12);
    }
    close(j.k, g.k, 1e-12);

    let (_, j) = widened::jacobian_fwd(0.8_f32, -1.3);
    let (_, g) = widened::grad(0.8_f32, -1.3);
    assert!(
        (j.x - g.x).abs() <= 1e-5 * g.x.abs().max(1.0),
        "{} vs {}",
        j.x,
        g.x
    );
    close(j.scale, g.scale, 1e-6);
}

/// `wrt` leaves `b` out, `n` is data, `_unused` is differentiable but never
/// read (its gradient is zero, its tangent changes nothing).
#[differentiate(wrt(a, _unused))]
fn restricted(a: &[f64], b: f64, n: usize, _unused: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        s += a[i % a.len()] * b + (a[0] * a[i % a.len()]).cos();
    }
    s
}

#[test]
fn jacobian_fwd_with_data_wrt_and_unread_parameters() {
    let a = [0.4, -0.9, 1.3, 0.2, 0.5, -0.1, 0.8, 1.9, -1.2, 0.05];
    let (value, j) = restricted::jacobian_fwd(&a, 1.7, 13, 2.0);
    let (_, g) = restricted::grad(&a, 1.7, 13, 2.0);
    assert_eq!(value, restricted(&a, 1.7, 13, 2.0));
    assert_eq!(j._unused, 0.0);
    let plain = |p: &[f64]| restricted(p, 1.7, 13, 2.0);
    let numeric: Vec<f64> = (0..a.len())
        .map(|i| central_difference(plain, &a, i))
        .collect();
    agrees(&j.a, &g.a, &numeric);
    let (_, lanes) = restricted::tangents(&a, 1.7, 13, 2.0, [&a[..], &[1.0; 10][..]], [0.0, 5.0]);
    assert_eq!(
        lanes[1],
        restricted::tangent(&a, 1.7, 13, 2.0, &[1.0; 10], 5.0).1
    );
}

/// A float read through `&f64`: its tangent is a float.
#[differentiate]
fn through_reference(x: &f64, w: &[f64]) -> f64 {
    let mut s = *x;
    for a in w {
        s = s * a + x.sin();
    }
    s
}

#[test]
fn forward_mode_of_a_float_behind_a_reference() {
    let w = [0.5, -1.5, 2.0];
    let (value, t) = through_reference::tangent(&0.7, &w, 1.0, &[0.0; 3]);
    assert_eq!(value, through_reference(&0.7, &w));
    let (_, g) = through_reference::grad(&0.7, &w);
    close(t, g.x, 1e-12);
    let (_, lanes) =
        through_reference::tangents(&0.7, &w, [1.0, 0.0], [&[0.0; 3][..], &[1.0, 2.0, 3.0][..]]);
    assert_eq!(lanes[0], t);
    assert_eq!(
        lanes[1],
        through_reference::tangent(&0.7, &w, 0.0, &[1.0, 2.0, 3.0]).1
    );
    let (_, j) = through_reference::jacobian_fwd(&0.7, &w);
    close(j.x, g.x, 1e-12);
    let plain = |p: &[f64]| through_reference(&p[0], &p[1..]);
    let point = [0.7, 0.5, -1.5, 2.0];
    for i in 0..3 {
        close(j.w[i], g.w[i], 1e-12);
        close(j.w[i], central_difference(plain, &point, i + 1), 1e-6);
    }
}

/// An integrator step written in place: the state slice and a `&mut f64`
/// clock are updated, a float is returned.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn step(state: &mut [f64], clock: &mut f64, dt: f64) -> f64 {
    let mut energy = 0.0;
    for i in 0..state.len() {
        state[i] += dt * (-state[i]).sin() + *clock * 0.1;
        energy += state[i] * state[i];
    }
    *clock += dt * energy.sqrt();
    energy
}

#[test]
fn forward_mode_of_parameters_written_in_place() {
    let (state, clock, dt) = ([0.3, -1.2, 0.8], 0.5, 0.1);
    let (dstate, dclock, ddt) = ([1.0, 0.5, -0.25], 0.75, 2.0);
    let mut s = state;
    let mut c = clock;
    let mut ds = dstate;
    let mut dc = dclock;
    let (value, dvalue) = step::tangent(&mut s, &mut c, dt, &mut ds, &mut dc, ddt);
    let (mut s2, mut c2) = (state, clock);
    assert_eq!(value, step(&mut s2, &mut c2, dt));
    assert_eq!((s, c), (s2, c2));
    // Every output's derivative along the direction, by central differences.
    let run = |t: f64| {
        let mut s: Vec<f64> = state.iter().zip(&dstate).map(|(a, b)| a + t * b).collect();
        let mut c = clock + t * dclock;
        let e = step(&mut s, &mut c, dt + t * ddt);
        (e, s, c)
    };
    let h = 1e-6;
    let ((ep, sp, cp), (em, sm, cm)) = (run(h), run(-h));
    close(dvalue, (ep - em) / (2.0 * h), 1e-6);
    for i in 0..3 {
        close(ds[i], (sp[i] - sm[i]) / (2.0 * h), 1e-6);
    }
    close(dc, (cp - cm) / (2.0 * h), 1e-6);
}

/// A helper that writes its slice in place, and one that also returns a value.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn relax_in_place(v: &mut [f64], k: f64) {
    for i in 0..v.len() {
        v[i] = v[i] * k + v[i].sin() * 0.5;
    }
}

#[differentiate]
#[allow(clippy::needless_range_loop)]
fn relax_and_measure(v: &mut [f64], k: f64) -> f64 {
    let mut energy = 0.0;
    for i in 0..v.len() {
        v[i] = (v[i] * k).tanh() + v[i];
        energy += v[i] * v[i];
    }
    energy
}

/// Calls that write a buffer through `&mut`: the whole buffer, a part of it,
/// in a loop and in a branch, a helper that also returns a value.
#[differentiate]
fn steps_in_place(x: &[f64], k: f64, n: usize) -> f64 {
    let mut h = x.to_vec();
    relax_in_place(&mut h, k);
    let e = relax_and_measure(&mut h[1..3], k * 0.5);
    for i in 0..n {
        if i % 2 == 0 {
            relax_in_place(&mut h, 0.9);
        } else {
            relax_in_place(&mut h[..2], k);
        }
    }
    h[0] * h[1] + e * h[2] + h[3]
}

#[differentiate]
#[allow(clippy::needless_range_loop)]
fn relax_generic<T: Float>(v: &mut [T], k: T) {
    for i in 0..v.len() {
        v[i] = v[i] * k + v[i].sin();
    }
}

#[differentiate]
fn steps_generic<T: Float>(x: &[T], k: T) -> T {
    let mut h = x.to_vec();
    relax_generic(&mut h, k);
    h[0] * h[1] - h[2]
}

/// Forward mode through calls that write through `&mut`: each written
/// element's tangent comes from a pullback of its own, so `tangent` along
/// every axis gives the reverse gradient, `tangents` gives `tangent` to the
/// bit, and `jacobian_fwd` gives `grad`.
#[test]
fn forward_mode_through_calls_that_write_in_place() {
    let mut rng = Rng::new(17);
    for n in [0, 1, 4] {
        let x: Vec<f64> = (0..4).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let k = rng.uniform(0.5, 1.5);
        let (value, grad) = steps_in_place::grad(&x, k, n);
        for axis in 0..5 {
            let mut dx = vec![0.0; 4];
            let mut dk = 0.0;
            match axis {
                4 => dk = 1.0,
                _ => dx[axis] = 1.0,
            }
            let (v, t) = steps_in_place::tangent(&x, k, n, &dx, dk);
            assert_eq!(v, value);
            let want = if axis == 4 { grad.k } else { grad.x[axis] };
            close(t, want, 1e-12);
            // Against the function itself.
            let f = |p: &[f64]| steps_in_place(&p[..4], p[4], n);
            let mut point = x.clone();
            point.push(k);
            close(t, central_difference(f, &point, axis), 1e-6);
        }
        let d1 = [1.0, -0.5, 0.25, 2.0];
        let d2 = [0.0, 1.0, 0.0, -1.0];
        let (_, lanes) = steps_in_place::tangents(&x, k, n, [&d1, &d2], [0.5, 0.0]);
        assert_eq!(lanes[0], steps_in_place::tangent(&x, k, n, &d1, 0.5).1);
        assert_eq!(lanes[1], steps_in_place::tangent(&x, k, n, &d2, 0.0).1);
        let (_, forward) = steps_in_place::jacobian_fwd(&x, k, n);
        for (a, b) in forward.x.iter().zip(&grad.x) {
            close(*a, *b, 1e-12);
        }
        close(forward.k, grad.k, 1e-12);
    }
    let x32 = [0.3_f32, -0.7, 0.2];
    let (_, grad) = steps_generic::grad(&x32, 1.2_f32);
    let (_, t) = steps_generic::tangent(&x32, 1.2_f32, &[0.0, 1.0, 0.0], 0.0);
    assert!((t - grad.x[1]).abs() <= 1e-5 * grad.x[1].abs().max(1.0));
}

#[differentiate]
fn bump(t: &mut f64, k: f64) -> f64 {
    *t = *t * k + k.sin();
    *t * 2.0
}

#[differentiate]
fn squash(t: &mut f64, k: f64) {
    *t = (*t * k).tanh();
}

/// Floats lent `&mut` to helpers, one of which also returns a value.
#[differentiate]
fn bumped(x: f64, k: f64) -> f64 {
    let mut a = x * 2.0;
    let e = bump(&mut a, k);
    let mut b = a + 1.0;
    squash(&mut b, e);
    if x > 0.0 {
        squash(&mut a, 0.5);
    }
    a * b + e
}

#[test]
fn forward_mode_through_floats_lent_mutably() {
    for (x, k) in [(0.3, 1.4), (-0.6, 0.8)] {
        let (value, grad) = bumped::grad(x, k);
        let (v, dx) = bumped::tangent(x, k, 1.0, 0.0);
        let (_, dk) = bumped::tangent(x, k, 0.0, 1.0);
        assert_eq!(v, value);
        close(dx, grad.x, 1e-12);
        close(dk, grad.k, 1e-12);
        let f = |p: &[f64]| bumped(p[0], p[1]);
        close(dx, central_difference(f, &[x, k], 0), 1e-6);
        let (_, lanes) = bumped::tangents(x, k, [1.0, 0.0], [0.0, 1.0]);
        assert_eq!(lanes, [dx, dk]);
        assert_eq!(bumped::jacobian_fwd(x, k).1, bumped::Grad { x: dx, k: dk });
    }
}

/// A custom rule with a forward-mode rule of its own, over a slice and a
/// float and a count (whose tangent is `NotDifferentiable`): `tangent` calls
/// it; `tangents` pulls back through the rule as for any custom rule.
pub fn weighted(w: &[f64], s: f64, n: usize) -> f64 {
    let k = n as f64;
    w.iter().map(|v| (v * s).sin()).sum::<f64>() * k
}

pub mod weighted {
    use backprop_runtime::NotDifferentiable;

    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        w: Vec<f64>,
        s: f64,
        k: f64,
    }

    pub type Scratch = Vec<f64>;

    pub fn forward_into(tape: &mut Tape, w: &[f64], s: f64, n: usize) -> f64 {
        tape.w.clear();
        tape.w.extend_from_slice(w);
        tape.s = s;
        tape.k = n as f64;
        super::weighted(w, s, n)
    }

    pub fn pullback_into<'g>(
        tape: &Tape,
        seed: f64,
        dw: &'g mut Scratch,
    ) -> (&'g [f64], f64, NotDifferentiable) {
        dw.clear();
        let mut ds = 0.0;
        for v in &tape.w {
            let c = (v * tape.s).cos() * tape.k * seed;
            dw.push(c * tape.s);
            ds += c * v;
        }
        (dw, ds, NotDifferentiable)
    }

    /// Forward mode in one pass: no reverse pass of the rule, and (to tell
    /// which ran) counted.
    pub fn tangent_rule(
        tape: &Tape,
        dots: (&[f64], f64, NotDifferentiable),
        _scratch: &mut Scratch,
    ) -> f64 {
        super::TANGENT_RULE_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (dw, ds, _) = dots;
        let mut dot = 0.0;
        for (k, v) in tape.w.iter().enumerate() {
            let c = (v * tape.s).cos() * tape.k;
            let dv = dw.get(k).copied().unwrap_or(0.0);
            dot += c * (dv * tape.s + v * ds);
        }
        dot
    }
}

static TANGENT_RULE_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[differentiate]
fn uses_weighted(w: &[f64], s: f64) -> f64 {
    let inner = weighted(w, s * 2.0, 3);
    let data_only = weighted(&[0.5, 0.25], s, 2);
    (inner * data_only).tanh()
}

#[test]
fn a_custom_rule_supplies_its_own_tangent_rule() {
    use std::sync::atomic::Ordering;
    let w = [0.3, -0.8, 1.1];
    let s = 0.7;
    let (_, grad) = uses_weighted::grad(&w, s);
    for axis in 0..4 {
        let mut dw = [0.0; 3];
        let ds = if axis == 3 { 1.0 } else { 0.0 };
        if axis < 3 {
            dw[axis] = 1.0;
        }
        let before = TANGENT_RULE_RUNS.load(Ordering::Relaxed);
        let (_, t) = uses_weighted::tangent(&w, s, &dw, ds);
        // Both calls ran the rule (the second with an empty slice: zero).
        assert_eq!(TANGENT_RULE_RUNS.load(Ordering::Relaxed), before + 2);
        let want = if axis == 3 { grad.s } else { grad.w[axis] };
        close(t, want, 1e-12);
        // The lanes pull back through the rule: the same to rounding.
        let (_, lanes) = uses_weighted::tangents(&w, s, [&dw], [ds]);
        close(lanes[0], t, 1e-12);
    }
}

/// A `&mut` slice parameter passed on to a helper that writes it, whole and
/// in part: its tangent (a `&mut` too) follows.
#[differentiate]
fn passes_on(v: &mut [f64], t: &mut f64, k: f64) -> f64 {
    relax_in_place(v, k);
    let mut s = *t + v[0];
    let e = relax_and_measure(&mut v[1..], s);
    s += e * 0.1;
    *t = s * 2.0;
    v[0] * v[1] + *t
}

#[test]
fn forward_mode_through_mut_parameters_passed_on() {
    let (v0, t0, k) = ([0.3, -0.5, 0.8], 0.4, 1.2);
    let (mut v, mut t) = (v0, t0);
    let (value, tape) = passes_on::forward(&mut v, &mut t, k);
    // One output at a time: the value, each final element of `v`, `t`.
    for output in 0..5 {
        let mut seed_v = [0.0; 3];
        let (mut seed_value, mut seed_t) = (0.0, 0.0);
        match output {
            0 => seed_value = 1.0,
            4 => seed_t = 1.0,
            j => seed_v[j - 1] = 1.0,
        }
        let g = passes_on::backward(&tape, (seed_value, &seed_v, seed_t));
        for axis in 0..5 {
            let (mut v, mut t) = (v0, t0);
            let (mut dv, mut dt, mut dk) = ([0.0; 3], 0.0, 0.0);
            match axis {
                3 => dt = 1.0,
                4 => dk = 1.0,
                j => dv[j] = 1.0,
            }
            let (val, tangent) = passes_on::tangent(&mut v, &mut t, k, &mut dv, &mut dt, dk);
            assert_eq!(val, value);
            let along = match output {
                0 => tangent,
                4 => dt,
                j => dv[j - 1],
            };
            let want = match axis {
                3 => g.t,
                4 => g.k,
                j => g.v[j],
            };
            close(along, want, 1e-12);
        }
    }
}

/// A generic function with a `&mut` slice and a `&mut` float.
#[differentiate]
fn in_place<T: Float>(v: &mut [T], t: &mut T, k: T) -> T {
    let s = *t + v[0] * k;
    *t = s * s;
    v[1] = v[1] * s + v[0].sin();
    v[0] * v[1] + *t
}

/// `tangents` of functions with `&mut` parameters: each lane's tangents
/// (the value's, and the parameters' updated in place) are `tangent`'s along
/// its direction, to the bit.
#[test]
fn lanes_of_parameters_updated_in_place() {
    let start = [0.3, -0.5, 0.8];
    let directions = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.5]];
    let k_directions = [0.0, 1.0];
    let mut lanes_v = start;
    let [mut d0, mut d1] = directions;
    relax_in_place::tangents(&mut lanes_v, 1.3, [&mut d0, &mut d1], k_directions);
    for (lane, (direction, dk)) in [d0, d1].iter().zip(directions.iter().zip(k_directions)) {
        let mut v = start;
        let mut dv = *direction;
        relax_in_place::tangent(&mut v, 1.3, &mut dv, dk);
        assert_eq!(v, lanes_v);
        assert_eq!(*lane, dv);
    }

    let (v0, t0) = ([0.3_f32, -0.5], 0.4_f32);
    let (mut v, mut t) = (v0, t0);
    let [mut a, mut b] = [[1.0_f32, 0.0], [0.0, 0.0]];
    let mut dt = [0.0_f32, 1.0];
    let (value, lanes) =
        in_place::tangents(&mut v, &mut t, 1.1, [&mut a, &mut b], &mut dt, [0.0, 0.5]);
    for (k, (dv, dk)) in [([1.0_f32, 0.0], 0.0_f32), ([0.0, 0.0], 0.5)]
        .into_iter()
        .enumerate()
    {
        let (mut v1, mut t1) = (v0, t0);
        let (mut dv1, mut dt1) = (dv, [0.0_f32, 1.0][k]);
        let (value1, tangent) = in_place::tangent(&mut v1, &mut t1, 1.1, &mut dv1, &mut dt1, dk);
        assert_eq!((value1, v1, t1), (value, v, t));
        assert_eq!(lanes[k], tangent);
        assert_eq!([a, b][k], dv1);
        assert_eq!(dt[k], dt1);
    }
}

/// A helper that writes two arrays (each element's seed picks it, zeros for
/// the other).
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn mix_into(a: &mut [f64], b: &mut [f64], k: f64) {
    for i in 0..a.len() {
        let t = a[i];
        a[i] = (b[i] * k).sin() + t;
        b[i] = t * b[i] + k;
    }
}

#[differentiate]
fn mixed_twice(x: &[f64], k: f64) -> f64 {
    let mut a = x.to_vec();
    let mut b = vec![0.5; x.len()];
    mix_into(&mut a, &mut b, k);
    mix_into(&mut b, &mut a, k * 0.5);
    a[0] * b[1] + a[1] - b[0]
}

#[test]
fn forward_mode_through_a_call_that_writes_two_arrays() {
    let x = [0.3, -0.7];
    let (value, grad) = mixed_twice::grad(&x, 1.2);
    for axis in 0..3 {
        let mut dx = [0.0; 2];
        let dk = if axis == 2 { 1.0 } else { 0.0 };
        if axis < 2 {
            dx[axis] = 1.0;
        }
        let (v, t) = mixed_twice::tangent(&x, 1.2, &dx, dk);
        assert_eq!(v, value);
        let want = if axis == 2 { grad.k } else { grad.x[axis] };
        close(t, want, 1e-12);
    }
}

/// A step of a pendulum written in place on a fixed-size state.
#[differentiate]
fn pendulum(s: &mut [f64; 3], dt: f64) {
    let (angle, speed) = (s[0], s[1]);
    s[0] = angle + dt * speed;
    s[1] = speed - dt * angle.sin() * s[2];
    s[2] *= 1.0 + dt * speed * speed;
}

/// `tangents` with a `&mut [f64; 3]`: its N directions come as one
/// `&mut [[f64; 3]; N]` and are updated in place, lane k to the bit
/// `tangent`'s along direction k.
#[test]
fn lanes_of_a_fixed_array_updated_in_place() {
    let start = [0.4, -1.1, 2.0];
    let directions = [[1.0, 0.0, 0.0], [0.0, 0.5, -1.0], [0.25, 0.25, 0.25]];
    let dt_directions = [0.0, 1.0, -0.5];
    let mut lanes_s = start;
    let mut lanes = directions;
    pendulum::tangents(&mut lanes_s, 0.05, &mut lanes, dt_directions);
    for k in 0..3 {
        let mut s = start;
        let mut ds = directions[k];
        pendulum::tangent(&mut s, 0.05, &mut ds, dt_directions[k]);
        assert_eq!(s, lanes_s);
        assert_eq!(lanes[k], ds);
    }
}

/// The seed picking output `row` of `step`: the returned energy (row 0),
/// then the state's elements, then the clock.
fn unit_seed(row: usize, n: usize) -> (f64, Vec<f64>, f64) {
    let mut state = vec![0.0; n];
    if (1..=n).contains(&row) {
        state[row - 1] = 1.0;
    }
    (
        f64::from(u8::from(row == 0)),
        state,
        f64::from(u8::from(row == n + 1)),
    )
}

/// `jacobian_fwd` of a function written in place: one row per output (the
/// returned value, then each `&mut` parameter's final elements), each input
/// its initial value. Checked against the reverse pass (`backward` with the
/// row's unit seed, an independent computation) and central differences,
/// with states long enough for several passes (each restarts from the
/// initial state), and the parameters left as the function leaves them.
#[test]
fn jacobian_fwd_of_functions_written_in_place() {
    let mut rng = Rng::new(31);
    for n in [1, 3, 6, 13] {
        let state = random(&mut rng, n, -1.5, 1.5);
        let (clock, dt) = (rng.uniform(-1.0, 1.0), rng.uniform(0.05, 0.3));
        let (mut s, mut c) = (state.clone(), clock);
        let (value, jacobian) = step::jacobian_fwd(&mut s, &mut c, dt);
        let (mut s2, mut c2) = (state.clone(), clock);
        assert_eq!(value, step(&mut s2, &mut c2, dt));
        assert_eq!((s, c), (s2, c2));
        assert_eq!(jacobian.len(), n + 2);
        let (mut s3, mut c3) = (state.clone(), clock);
        let (_, tape) = step::forward(&mut s3, &mut c3, dt);
        for (row, gradient) in jacobian.iter().enumerate() {
            let (e, seed, t) = unit_seed(row, n);
            let reverse = step::backward(&tape, (e, &seed, t));
            let mut forward = gradient.state.clone();
            forward.extend([gradient.clock, gradient.dt]);
            let mut backward = reverse.state.clone();
            backward.extend([reverse.clock, reverse.dt]);
            // The output as a function of all inputs, flattened.
            let output = |inputs: &[f64]| {
                let (mut s, mut c) = (inputs[..n].to_vec(), inputs[n]);
                let e = step(&mut s, &mut c, inputs[n + 1]);
                match row {
                    0 => e,
                    r if r <= n => s[r - 1],
                    _ => c,
                }
            };
            let mut point = state.clone();
            point.extend([clock, dt]);
            let numeric: Vec<f64> = (0..n + 2)
                .map(|i| central_difference(output, &point, i))
                .collect();
            agrees(&forward, &backward, &numeric);
        }
    }

    // A fixed-size state and no returned value: `((), rows)`.
    let start = [0.4, -1.1, 2.0];
    let mut s = start;
    let ((), jacobian) = pendulum::jacobian_fwd(&mut s, 0.05);
    let mut s2 = start;
    pendulum(&mut s2, 0.05);
    assert_eq!(s, s2);
    for (row, gradient) in jacobian.iter().enumerate() {
        let output = |inputs: &[f64]| {
            let mut s = [inputs[0], inputs[1], inputs[2]];
            pendulum(&mut s, inputs[3]);
            s[row]
        };
        let point = [start[0], start[1], start[2], 0.05];
        for (i, derivative) in gradient.s.iter().chain([&gradient.dt]).enumerate() {
            close(*derivative, central_difference(output, &point, i), 1e-6);
        }
    }
}
