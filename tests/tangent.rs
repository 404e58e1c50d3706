//! Forward mode, `f::tangent(args.., dot_args..)`: the derivative along a
//! direction, in one pass. Checked against the gradient dotted with the
//! direction (an independent computation: the reverse pass) and against
//! central differences along the direction, at several points and
//! directions, on both sides of every branch.

mod common;
// N directions at once and `jacobian_fwd`, in the same test binary.
#[path = "modes/batched.rs"]
mod batched;
// The picture of a graph, `f::graph`, too.
#[path = "modes/graph.rs"]
mod graph;

use backprop_runtime::{differentiate, sigmoid, Float};
use common::Rng;

#[differentiate]
fn blog(x: f64, y: f64) -> f64 {
    let sigx = sigmoid(x);
    let sigy = sigmoid(y);
    let numer = x + sigy;
    let xandy = x + y;
    let xandysqr = xandy * xandy;
    let denom = xandysqr + sigx;
    numer / denom
}

/// Loops, a buffer, a branch inside the loop, a `match` at the end.
#[differentiate]
fn layered(w: &[f64], x: f64, n: usize) -> f64 {
    let mut h = vec![0.0; w.len()];
    for i in 0..w.len() {
        h[i] = (w[i] * x).tanh();
    }
    let mut s = 0.0_f64;
    for k in 0..n {
        if s > 1.0 {
            s = s.sqrt() + h[k % h.len()];
        } else {
            s += h[k % h.len()] * x.exp();
        }
    }
    match n % 3 {
        0 => s * 2.0,
        1 => s.max(x) + w[0].abs(),
        _ => s + x.powi(3),
    }
}

/// Chains, a vector built by `push`, a `while` with a final `break`.
#[differentiate]
fn chained(v: &[f64], rate: f64) -> f64 {
    let total: f64 = v.iter().map(|a| a * a * rate).sum();
    let mut pushed = Vec::new();
    for a in v {
        pushed.push(a.sin() + total);
    }
    let mut y = pushed[0];
    let mut steps = 0;
    while y < 5.0 {
        y = y * 1.5 + rate;
        steps += 1;
        if steps == 6 {
            break;
        }
    }
    y + pushed[pushed.len() - 1]
}

#[differentiate]
fn in_f32(x: f32, y: f32) -> f32 {
    (x * y).sin() + (x as f64).exp() as f32
}

#[differentiate]
fn generic_energy<T: Float>(x: &[T], k: T) -> T {
    let half = T::from(0.5).unwrap();
    let mut total = T::zero();
    for v in x {
        total = total + half * k * *v * *v;
    }
    total
}

#[track_caller]
fn close(a: f64, b: f64, tol: f64) {
    assert!(
        (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0),
        "{a} vs {b}"
    );
}

#[test]
fn the_blog_s_function_along_each_axis_is_its_gradient() {
    let (value, dx) = blog::tangent(3.0, -4.0, 1.0, 0.0);
    let (_, dy) = blog::tangent(3.0, -4.0, 0.0, 1.0);
    let (plain, g) = blog::grad(3.0, -4.0);
    assert_eq!(value, plain);
    close(dx, g.x, 1e-14);
    close(dy, g.y, 1e-14);
    // The blog's numbers.
    assert_eq!(format!("{value:.2} {dx:.2} {dy:.2}"), "1.55 2.06 1.59");
}

#[test]
fn loops_branches_and_buffers() {
    let mut rng = Rng::new(9);
    for n in [0, 1, 2, 3, 7, 12] {
        for _ in 0..4 {
            let w: Vec<f64> = (0..3).map(|_| rng.uniform(-1.5, 1.5)).collect();
            let x = rng.uniform(-1.0, 1.5);
            let dw: Vec<f64> = (0..3).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let dx = rng.uniform(-1.0, 1.0);
            let (value, tangent) = layered::tangent(&w, x, n, &dw, dx);
            assert_eq!(value, layered(&w, x, n));
            let (_, g) = layered::grad(&w, x, n);
            let along: f64 = g.w.iter().zip(&dw).map(|(a, b)| a * b).sum::<f64>() + g.x * dx;
            close(tangent, along, 1e-12);
            let h = 1e-6;
            let shifted = |t: f64| {
                let w: Vec<f64> = w.iter().zip(&dw).map(|(a, b)| a + t * b).collect();
                layered(&w, x + t * dx, n)
            };
            close(tangent, (shifted(h) - shifted(-h)) / (2.0 * h), 1e-5);
        }
    }
}

#[test]
fn chains_pushes_and_a_final_break() {
    for (v, rate) in [
        (vec![0.5, -1.0, 2.0], 0.3),
        (vec![0.1, 0.2], 1.7),
        (vec![2.0, 3.0], 0.05),
    ] {
        let dv: Vec<f64> = v.iter().map(|a| 0.5 - a * 0.25).collect();
        let (value, tangent) = chained::tangent(&v, rate, &dv, -0.75);
        assert_eq!(value, chained(&v, rate));
        let (_, g) = chained::grad(&v, rate);
        let along: f64 = g.v.iter().zip(&dv).map(|(a, b)| a * b).sum::<f64>() - 0.75 * g.rate;
        close(tangent, along, 1e-12);
    }
}

#[test]
fn f32_and_generic_functions() {
    let (value, tangent) = in_f32::tangent(0.4, -1.2, 1.0, 2.0);
    let (plain, g) = in_f32::grad(0.4, -1.2);
    assert_eq!(value, plain);
    close(f64::from(tangent), f64::from(g.x + 2.0 * g.y), 1e-6);
    let x = [0.5_f64, -2.0, 3.0];
    let dx = [1.0, 0.0, -1.0];
    let (value, tangent) = generic_energy::tangent(&x, 0.7, &dx, 0.2);
    let (plain, g) = generic_energy::grad(&x, 0.7);
    assert_eq!(value, plain);
    let along: f64 = g.x.iter().zip(&dx).map(|(a, b)| a * b).sum::<f64>() + 0.2 * g.k;
    close(tangent, along, 1e-14);
}

#[differentiate]
fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[differentiate]
fn polar(r: f64, theta: f64) -> (f64, f64) {
    (r * theta.cos(), r * theta.sin())
}

/// Calls: a scalar helper, a slice helper on a whole slice and on a part, a
/// helper with two outputs, and a custom rule.
#[differentiate]
fn with_calls(w: &[f64], x: f64) -> f64 {
    let (a, b) = polar(x, w[0]);
    let whole = dot(w, w);
    let part = dot(&w[1..], &w[..w.len() - 1]);
    sig(a * b) + whole * part + erf_like(x)
}

/// A custom rule: a plain function and a module with the reverse protocol.
pub fn erf_like(x: f64) -> f64 {
    x.tanh() * 1.1
}

pub mod erf_like {
    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        x: f64,
    }

    /// What a caller keeps per call for `pullback_into`: nothing here.
    pub type Scratch = ();

    pub fn forward_into(tape: &mut Tape, x: f64) -> f64 {
        tape.x = x;
        super::erf_like(x)
    }

    pub fn pullback_into(tape: &Tape, seed: f64, _scratch: &mut Scratch) -> (f64,) {
        let t = tape.x.tanh();
        (seed * 1.1 * (1.0 - t * t),)
    }
}

#[test]
fn calls_take_their_tangent_from_the_callee_s_pullback() {
    for (w, x) in [
        (vec![0.5, -1.0, 2.0], 0.3),
        (vec![1.5, 0.25, -0.5, 0.8], -1.2),
    ] {
        let dw: Vec<f64> = w.iter().map(|a| 0.25 - a * 0.5).collect();
        let (value, tangent) = with_calls::tangent(&w, x, &dw, 0.6);
        assert_eq!(value, with_calls(&w, x));
        let (_, g) = with_calls::grad(&w, x);
        let along: f64 = g.w.iter().zip(&dw).map(|(a, b)| a * b).sum::<f64>() + 0.6 * g.x;
        close(tangent, along, 1e-12);
    }
}

/// A helper returning an array, and helpers taking one whole.
#[differentiate]
fn pair(x: f64, y: f64) -> [f64; 2] {
    [x.sin() * y, x * y + 0.5]
}

#[differentiate]
fn norm_of(p: [f64; 2]) -> f64 {
    (p[0] * p[0] + p[1] * p[1]).sqrt()
}

#[differentiate]
fn angle_of(p: &[f64; 2]) -> f64 {
    p[1].atan2(p[0])
}

#[differentiate]
fn bent(x: f64) -> f64 {
    3.0 * x - x * x
}

/// Values of calls passed whole to other calls: an array bound first and
/// lent, one passed straight on, floats passed on through two calls and
/// into a custom rule. Nothing shows the macro that `pair`'s value is an
/// array: forward mode chains each reader's pullback into the call's.
#[differentiate]
fn passed_on(x: f64, y: f64) -> f64 {
    let p = pair(x, y);
    let q = pair(bent(y), x);
    // A chain whose value nothing reads: no tangent, no tape kept.
    let _unread = norm_of(pair(y, x));
    norm_of(p) * angle_of(&q) + norm_of(pair(y, bent(bent(x)))) + erf_like(bent(y))
}

#[differentiate]
fn pair_generic<T: Float>(x: T, y: T) -> [T; 2] {
    [x.cos() * y, x - y * y]
}

#[differentiate]
fn spread<T: Float>(p: [T; 2]) -> T {
    p[0] * p[1].exp()
}

#[differentiate]
fn passed_on_generic<T: Float>(x: T, y: T) -> T {
    spread(pair_generic(x, y)) * spread(pair_generic(y, x))
}

#[test]
fn arrays_calls_return_passed_whole_to_other_calls() {
    let mut rng = Rng::new(41);
    for _ in 0..6 {
        let (x, y) = (rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0));
        let (dx, dy) = (rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0));
        let (value, tangent) = passed_on::tangent(x, y, dx, dy);
        assert_eq!(value, passed_on(x, y));
        let (_, g) = passed_on::grad(x, y);
        close(tangent, g.x * dx + g.y * dy, 1e-12);
        let h = 1e-6;
        let numeric =
            (passed_on(x + h * dx, y + h * dy) - passed_on(x - h * dx, y - h * dy)) / (2.0 * h);
        close(tangent, numeric, 1e-6);
        // N directions: lane 0 is `tangent`'s to the bit.
        let (_, lanes) = passed_on::tangents(x, y, [dx, 1.0], [dy, 0.0]);
        assert_eq!(lanes[0], tangent);
        close(lanes[1], g.x, 1e-12);
        let (_, j) = passed_on::jacobian_fwd(x, y);
        close(j.x, g.x, 1e-12);
        close(j.y, g.y, 1e-12);

        let (value, tangent) = passed_on_generic::tangent(x as f32, y as f32, dx as f32, dy as f32);
        assert_eq!(value, passed_on_generic(x as f32, y as f32));
        let (_, g) = passed_on_generic::grad(x, y);
        let (_, tangent64) = passed_on_generic::tangent(x, y, dx, dy);
        close(tangent64, g.x * dx + g.y * dy, 1e-12);
        close(f64::from(tangent), tangent64, 1e-3);
    }
}
