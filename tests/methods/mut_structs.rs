//! Structs taken by `&mut` (in `methods.rs`'s test binary): a step that
//! writes a model's fields in place. Its outputs are the fields' final values
//! (and the value it returns); `backward` takes a gradient struct as their
//! seed and gives the gradient of the seeded sum over the initial values.
//! Each is checked against central differences of that sum through the plain
//! function, and `tangent` against `backward` (`w . J d = (J^T w) . d`).

use crate::common::{assert_gradient, Rng};
use backprop_runtime::{differentiate, Differentiable, Float, GradOf};

#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Pose {
    at: [f64; 2],
}

/// Every kind of field, written and read: a float, a vector, an array, a
/// nested struct's array, a float only read, a count (data).
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct State {
    x: f64,
    v: Vec<f64>,
    rot: [f64; 2],
    pose: Pose,
    k: f64,
    n: usize,
}

/// Returns nothing: every output is a field.
#[differentiate]
fn step(s: &mut State, dt: f64) {
    for i in 0..s.n {
        s.v[i] -= dt * s.k * s.x.sin() * s.rot[i % 2];
    }
    s.x += dt * s.v[0];
    s.rot[1] = s.rot[0] * s.x;
    s.pose.at[0] += dt * s.rot[1];
    if s.x > 0.0 {
        s.v[1] *= 1.0 - dt;
    } else {
        s.v[1] = s.pose.at[1] * s.x;
    }
}

#[derive(Differentiable, Clone, Copy, Debug, PartialEq)]
pub struct Params<T> {
    k: T,
    c: T,
}

/// Returns a value too, reads a struct by `&` beside the one it writes, and
/// writes a plain `&mut` slice.
#[differentiate]
fn damped(s: &mut State, p: &Params<f64>, log: &mut [f64], dt: f64) -> f64 {
    let force = -p.k * s.x - p.c * s.v[0];
    s.v[0] += dt * force;
    s.x += dt * s.v[0];
    log[0] = force * force;
    log[1] += s.x;
    0.5 * s.v[0] * s.v[0] + 0.5 * p.k * s.x * s.x
}

fn state_from(v: &[f64]) -> State {
    State {
        x: v[0],
        v: v[1..4].to_vec(),
        rot: [v[4], v[5]],
        pose: Pose { at: [v[6], v[7]] },
        k: v[8],
        n: 3,
    }
}

fn state_as_vec(s: &State) -> Vec<f64> {
    let mut v = vec![s.x];
    v.extend_from_slice(&s.v);
    v.extend_from_slice(&s.rot);
    v.extend_from_slice(&s.pose.at);
    v.push(s.k);
    v
}

fn grad_as_vec(g: &GradOf<State>) -> Vec<f64> {
    let mut v = vec![g.x];
    v.extend_from_slice(&g.v);
    v.extend_from_slice(&g.rot);
    v.extend_from_slice(&g.pose.at);
    v.push(g.k);
    v
}

/// A gradient struct holding `v` (a seed or a direction).
fn grad_from(state: &State, v: &[f64]) -> GradOf<State> {
    let mut g = state.zero_grad();
    g.x = v[0];
    g.v.copy_from_slice(&v[1..4]);
    g.rot = [v[4], v[5]];
    g.pose.at = [v[6], v[7]];
    g.k = v[8];
    g
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// Asserts that a gradient over the initial state and one float (`g`), of
/// the final state seeded with `w`, matches central differences of that
/// seeded sum through the plain function `f`, at `start` and `scalar`.
fn assert_state_gradient(
    f: impl Fn(&mut State, f64),
    start: &[f64],
    scalar: f64,
    w: &[f64],
    (g_state, g_scalar): (&GradOf<State>, f64),
) {
    let sum = |v: &[f64]| {
        let mut s = state_from(&v[..9]);
        f(&mut s, v[9]);
        dot(w, &state_as_vec(&s))
    };
    let mut point = start.to_vec();
    point.push(scalar);
    let mut analytic = grad_as_vec(g_state);
    analytic.push(g_scalar);
    assert_gradient(sum, &point, &analytic);
}

fn random(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

#[test]
fn a_step_that_writes_a_struct_in_place() {
    let mut rng = Rng::new(17);
    // Both sides of the branch on `s.x`.
    for x in [0.4, -0.6, 1.3] {
        let mut start = random(&mut rng, 9);
        start[0] = x;
        let dt = 0.1;
        let s0 = state_from(&start);
        // The state ends as the plain function leaves it.
        let mut written = s0.clone();
        let ((), tape) = step::forward(&mut written, dt);
        let mut plain = s0.clone();
        step(&mut plain, dt);
        assert_eq!(written, plain);
        for _ in 0..2 {
            let w = random(&mut rng, 9);
            let seed = grad_from(&s0, &w);
            let g = step::backward(&tape, &seed);
            assert_state_gradient(step, &start, dt, &w, (&g.s, g.dt));
            // Forward mode along a direction, against the same gradient.
            let d = random(&mut rng, 9);
            let mut again = s0.clone();
            let mut direction = grad_from(&s0, &d);
            step::tangent(&mut again, dt, &mut direction, 0.0);
            assert_eq!(again, plain);
            let along = dot(&w, &grad_as_vec(&direction));
            let expected = dot(&grad_as_vec(&g.s), &d);
            assert!((along - expected).abs() <= 1e-12 * expected.abs().max(1.0));
        }
    }
}

#[test]
fn a_value_and_writes_through_a_struct_and_a_slice() {
    let mut rng = Rng::new(29);
    for _ in 0..3 {
        let start = random(&mut rng, 9);
        let params = [rng.uniform(0.5, 2.0), rng.uniform(0.1, 0.5)];
        let log0 = random(&mut rng, 2);
        let dt = 0.05;
        let (c, w, w_log) = (
            rng.uniform(-1.0, 1.0),
            random(&mut rng, 9),
            random(&mut rng, 2),
        );
        let s0 = state_from(&start);
        let p = Params {
            k: params[0],
            c: params[1],
        };
        let mut s = s0.clone();
        let mut log = log0.clone();
        let (value, tape) = damped::forward(&mut s, &p, &mut log, dt);
        let (mut plain_s, mut plain_log) = (s0.clone(), log0.clone());
        assert_eq!(value, damped(&mut plain_s, &p, &mut plain_log, dt));
        assert_eq!((&s, &log), (&plain_s, &plain_log));
        let seed = grad_from(&s0, &w);
        let g = damped::backward(&tape, (c, &seed, &w_log[..]));
        let sum = |v: &[f64]| {
            let mut s = state_from(&v[..9]);
            let p = Params { k: v[9], c: v[10] };
            let mut log = v[11..13].to_vec();
            let value = damped(&mut s, &p, &mut log, v[13]);
            c * value + dot(&w, &state_as_vec(&s)) + dot(&w_log, &log)
        };
        let mut point = start.clone();
        point.extend_from_slice(&params);
        point.extend_from_slice(&log0);
        point.push(dt);
        let mut analytic = grad_as_vec(&g.s);
        analytic.extend_from_slice(&[g.p.k, g.p.c]);
        analytic.extend_from_slice(&g.log);
        analytic.push(g.dt);
        assert_gradient(sum, &point, &analytic);
        // A tape and a gradient kept: the same numbers, added into.
        let mut kept = damped::Tape::default();
        let (mut s, mut log) = (s0.clone(), log0.clone());
        assert_eq!(
            damped::forward_into(&mut kept, &mut s, &p, &mut log, dt),
            value
        );
        let mut into = damped::Grad::default();
        damped::backward_into(&kept, (c, &seed, &w_log[..]), &mut into);
        damped::backward_into(&kept, (c, &seed, &w_log[..]), &mut into);
        assert_eq!(into.s.x, 2.0 * g.s.x);
        assert_eq!(into.p.k, 2.0 * g.p.k);
    }
}

/// A generic oscillator, at `f64` and `f32`.
#[derive(Differentiable, Clone, Copy, Debug, PartialEq)]
pub struct Oscillator<T> {
    x: T,
    v: T,
}

#[differentiate]
fn leapfrog<T: Float>(o: &mut Oscillator<T>, p: &Params<T>, dt: T, steps: usize) {
    for _ in 0..steps {
        let half = T::from(0.5).unwrap();
        o.v = o.v - half * dt * (p.k * o.x + p.c * o.v);
        o.x = o.x + dt * o.v;
        o.v = o.v - half * dt * (p.k * o.x + p.c * o.v);
    }
}

#[test]
fn a_generic_struct_written_in_place_at_f64_and_f32() {
    let p = Params { k: 1.5, c: 0.2 };
    let o0 = Oscillator { x: 0.8, v: -0.3 };
    let (wx, wv) = (0.7, -1.1);
    let mut o = o0;
    let ((), tape) = leapfrog::forward(&mut o, &p, 0.1, 20);
    let g = leapfrog::backward(&tape, &OscillatorGrad { x: wx, v: wv });
    let sum = |v: &[f64]| {
        let mut o = Oscillator { x: v[0], v: v[1] };
        leapfrog(&mut o, &Params { k: v[2], c: v[3] }, v[4], 20);
        wx * o.x + wv * o.v
    };
    assert_gradient(
        sum,
        &[0.8, -0.3, 1.5, 0.2, 0.1],
        &[g.o.x, g.o.v, g.p.k, g.p.c, g.dt],
    );
    // At `f32`: the same gradient to `f32`'s precision.
    let mut o32 = Oscillator {
        x: 0.8_f32,
        v: -0.3,
    };
    let p32 = Params { k: 1.5_f32, c: 0.2 };
    let ((), tape) = leapfrog::forward(&mut o32, &p32, 0.1, 20);
    let g32 = leapfrog::backward(
        &tape,
        &OscillatorGrad {
            x: 0.7_f32,
            v: -1.1,
        },
    );
    assert!((o32.x as f64 - o.x).abs() < 1e-5);
    for (a, b) in [
        (g32.o.x, g.o.x),
        (g32.o.v, g.o.v),
        (g32.p.k, g.p.k),
        (g32.dt, g.dt),
    ] {
        assert!(
            (a as f64 - b).abs() <= 1e-4 * b.abs().max(1.0),
            "{a} against {b}"
        );
    }
}

/// A gradient struct's empty vector stands for zeros elsewhere; as the seed of
/// a field written in place it must be as long as the field.
#[test]
#[should_panic(expected = "the seed of `s.v` has 0 elements, the field 3")]
fn a_seed_shorter_than_its_field_is_refused_at_run_time() {
    let mut s = state_from(&[0.1; 9]);
    let ((), tape) = step::forward(&mut s, 0.1);
    let _ = step::backward(&tape, &GradOf::<State>::default());
}

#[differentiate]
fn nudge(x: &mut f64, by: f64) {
    *x += by * by;
}

/// A float field lent to a function that writes it (`nudge(&mut s.x, k)`), a
/// vector field to one that writes a slice.
#[differentiate]
fn lends_fields(s: &mut State, k: f64) {
    nudge(&mut s.x, k);
    s.x *= k;
    scale(&mut s.v, s.x);
}

#[differentiate]
fn scale(v: &mut [f64], by: f64) {
    for e in v.iter_mut() {
        *e *= by;
    }
}

#[test]
fn fields_lent_to_functions_that_write_them() {
    let mut rng = Rng::new(41);
    let start = random(&mut rng, 9);
    let k = 0.8;
    let s0 = state_from(&start);
    let mut s = s0.clone();
    let ((), tape) = lends_fields::forward(&mut s, k);
    let mut plain = s0.clone();
    lends_fields(&mut plain, k);
    assert_eq!(s, plain);
    let w = random(&mut rng, 9);
    let g = lends_fields::backward(&tape, &grad_from(&s0, &w));
    assert_state_gradient(lends_fields, &start, k, &w, (&g.s, g.k));
}
