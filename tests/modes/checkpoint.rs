//! `#[checkpoint]` loops: the gradient of each marked loop equals the same
//! loop's without the mark to rounding (here: to the bit, since the stretches
//! run the same operations again), on both sides of branches, with `break`,
//! buffers, fixed arrays, `&mut` slices, calls and iterators, at trip counts
//! 0, 1 and counts that are multiples of nothing; and against finite
//! differences. The tape's memory stops growing with the trip count.

use crate::common::assert_gradient;
use backprop_runtime::{differentiate, sigmoid, Float};

/// Writes the function twice: `$plain` as given, `$marked` with
/// `#[checkpoint(snapshots = $snapshots)]` on the loop in the middle block.
macro_rules! with_and_without_checkpoint {
    ($snapshots:literal; $(#[$attr:meta])* fn $plain:ident / $marked:ident
        $(<$t:ident: Float>)? ($($params:tt)*) -> $ret:ident {
        { $($before:tt)* }
        { $($looped:tt)* }
        { $($after:tt)* }
    }) => {
        $(#[$attr])*
        fn $plain $(<$t: Float>)? ($($params)*) -> $ret {
            $($before)*
            $($looped)*
            $($after)*
        }

        $(#[$attr])*
        fn $marked $(<$t: Float>)? ($($params)*) -> $ret {
            $($before)*
            #[checkpoint(snapshots = $snapshots)]
            $($looped)*
            $($after)*
        }
    };
}

/// The two functions' results agree to the bit: their `Debug` forms are the
/// same (each is a module of its own, so their `Grad`s are different types
/// with the same fields).
#[track_caller]
fn assert_same(plain: impl std::fmt::Debug, marked: impl std::fmt::Debug) {
    assert_eq!(format!("{plain:?}"), format!("{marked:?}"));
}

/// The trip counts every test runs: none, one, and counts that no stretch
/// length divides.
const TRIPS: [usize; 7] = [0, 1, 2, 3, 7, 13, 101];

with_and_without_checkpoint! { 3;
    /// A branch in the loop, taken on alternate iterations.
    #[differentiate]
    fn soft_power / soft_power_marked(x: f64, n: usize) -> f64 {
        { let mut p = 1.0; }
        {
            for i in 0..n {
                if i % 2 == 0 {
                    p *= x;
                } else {
                    p = p * x.sin() + 1.0;
                }
            }
        }
        { p }
    }
}

#[test]
fn a_branch_on_both_sides_at_every_trip_count() {
    for n in TRIPS {
        for x in [0.9, -1.3] {
            let (value, plain) = soft_power::grad(x, n);
            let (marked_value, marked) = soft_power_marked::grad(x, n);
            assert_eq!(value, marked_value);
            assert_same(&plain, &marked);
            let f = |p: &[f64]| soft_power_marked(p[0], n);
            assert_gradient(f, &[x], &[marked.x]);
        }
    }
}

#[differentiate]
fn relax(h: f64, k: f64) -> f64 {
    h * k.cos() + 0.1 * h.sin()
}

with_and_without_checkpoint! { 2;
    /// `while` with a `break`, an integer counter and a call.
    #[differentiate]
    fn halve / halve_marked(x: f64, limit: f64, most: usize) -> f64 {
        { let mut v = x; let mut steps: usize = 0; }
        {
            while v > limit {
                v = relax(v, x) * 0.5 + x.sin() * 0.1;
                steps += 1;
                if steps >= most {
                    break;
                }
            }
        }
        { v * x }
    }
}

#[test]
fn while_with_break_and_a_call() {
    for most in TRIPS {
        for (x, limit) in [(3.0, 0.5), (0.7, 0.1), (0.2, 1.0), (5.0, 1e-3)] {
            let plain = halve::grad(x, limit, most);
            assert_same(&plain, halve_marked::grad(x, limit, most));
            let f = |p: &[f64]| halve_marked(p[0], limit, most);
            assert_gradient(f, &[x], &[plain.1.x]);
        }
    }
}

with_and_without_checkpoint! { 2;
    /// `loop` whose `break`s are in the middle of the body (flags), then a
    /// loop over a slice's elements.
    #[differentiate]
    fn walk / walk_marked(w: &[f64], x: f64, most: usize) -> f64 {
        { let mut acc = x; let mut count: usize = 0; }
        {
            loop {
                if count >= most {
                    break;
                }
                acc = (acc * 1.1).sin() + w[count % w.len()];
                if acc > 1.5 {
                    break;
                }
                count += 1;
            }
        }
        {
            let mut s = acc;
            for v in w.iter() {
                s = s * v + v.exp();
            }
            s
        }
    }
}

with_and_without_checkpoint! { 4;
    /// A loop over the elements of two slices.
    #[differentiate]
    fn zipped / zipped_marked(w: &[f64], v: &[f64], x: f64) -> f64 {
        { let mut s = x; }
        {
            for (a, b) in w.iter().zip(v) {
                s = (s * a).tanh() + b * s;
            }
        }
        { s }
    }
}

#[test]
fn loop_with_breaks_and_loops_over_slices() {
    let w = [0.3, -0.2, 0.5, 0.1, -0.7];
    for most in TRIPS {
        for x in [0.1, 0.9, -1.0] {
            let plain = walk::grad(&w, x, most);
            assert_same(&plain, walk_marked::grad(&w, x, most));
            let f = |p: &[f64]| walk_marked(&p[..5], p[5], most);
            let mut point = w.to_vec();
            point.push(x);
            let mut gradient = plain.1.w.clone();
            gradient.push(plain.1.x);
            assert_gradient(f, &point, &gradient);
        }
    }
    for len in [0, 1, 4, 9] {
        let w: Vec<f64> = (0..len).map(|k| 0.3 * k as f64 - 0.5).collect();
        let v: Vec<f64> = (0..len).map(|k| 0.1 * k as f64 + 0.2).collect();
        assert_same(zipped::grad(&w, &v, 0.4), zipped_marked::grad(&w, &v, 0.4));
    }
}

with_and_without_checkpoint! { 4;
    /// A buffer the loop writes (its state), a buffer inside the loop, and
    /// nested loops.
    #[differentiate]
    #[allow(clippy::manual_memcpy, clippy::needless_range_loop)]
    fn heat / heat_marked(u0: &[f64], k: f64, steps: usize) -> f64 {
        { let n = u0.len(); let mut u = u0.to_vec(); }
        {
            for _ in 0..steps {
                let mut next = vec![0.0; n];
                for i in 1..n - 1 {
                    next[i] = u[i] + k * (u[i - 1] - 2.0 * u[i] + u[i + 1]).tanh();
                }
                for i in 1..n - 1 {
                    u[i] = next[i];
                }
            }
        }
        {
            let mut total = 0.0;
            for i in 0..n {
                total += u[i] * u[i];
            }
            total
        }
    }
}

with_and_without_checkpoint! { 3;
    /// A fixed array as the loop's state.
    #[differentiate]
    fn spin / spin_marked(a: f64, b: f64, steps: usize) -> f64 {
        { let mut s = [0.0; 3]; s[0] = a; s[1] = b; }
        {
            for _ in 0..steps {
                let t = s[0];
                s[0] = s[1] * 0.9 + (s[2] * a).sin();
                s[1] = s[2] - 0.1 * t;
                s[2] = t * b + 0.05;
            }
        }
        { s[0] + s[1] * s[2] }
    }
}

#[test]
fn arrays_in_the_state() {
    let u0 = [0.1, 0.5, -0.3, 0.8, 0.2, 0.0];
    for steps in TRIPS {
        let plain = heat::grad(&u0, 0.3, steps);
        assert_same(&plain, heat_marked::grad(&u0, 0.3, steps));
        let f = |p: &[f64]| heat_marked(&p[..6], p[6], steps);
        let mut point = u0.to_vec();
        point.push(0.3);
        let mut gradient = plain.1.u0.clone();
        gradient.push(plain.1.k);
        assert_gradient(f, &point, &gradient);

        let plain = spin::grad(0.7, -0.4, steps);
        assert_same(&plain, spin_marked::grad(0.7, -0.4, steps));
        let f = |p: &[f64]| spin_marked(p[0], p[1], steps);
        assert_gradient(f, &[0.7, -0.4], &[plain.1.a, plain.1.b]);
    }
}

with_and_without_checkpoint! { 3;
    /// A `&mut [f64]` the loop updates in place, through a call: the
    /// slice's final contents are outputs too.
    #[differentiate]
    fn integrate / integrate_marked(v: &mut [f64], rate: f64, steps: usize) -> f64 {
        { let mut energy = 0.0; }
        {
            for _ in 0..steps {
                decay_all(v, rate);
                energy += v[0] * v[0];
            }
        }
        { energy }
    }
}

#[differentiate]
#[allow(clippy::needless_range_loop)]
fn decay_all(v: &mut [f64], rate: f64) {
    for i in 0..v.len() {
        v[i] = v[i] * (1.0 - rate) + (v[i] * rate).sin() * 0.1;
    }
}

#[test]
fn a_mut_slice_updated_through_a_call() {
    for steps in TRIPS {
        let start = [0.4, -0.9, 1.3];
        let (mut v1, mut v2) = (start, start);
        let (value, tape) = integrate::forward(&mut v1, 0.2, steps);
        let (marked_value, marked_tape) = integrate_marked::forward(&mut v2, 0.2, steps);
        assert_eq!((value, v1), (marked_value, v2));
        // Seeds for the value and for each final element.
        let seeds = [0.3, -1.0, 2.0];
        let plain = integrate::backward(&tape, (1.0, &seeds));
        let marked = integrate_marked::backward(&marked_tape, (1.0, &seeds));
        assert_same(&plain, &marked);
        let f = |p: &[f64]| {
            let mut v = p[..3].to_vec();
            let energy = integrate_marked(&mut v, p[3], steps);
            energy + v.iter().zip(&seeds).map(|(a, s)| a * s).sum::<f64>()
        };
        let mut point = start.to_vec();
        point.push(0.2);
        let mut gradient = marked.v.clone();
        gradient.push(marked.rate);
        assert_gradient(f, &point, &gradient);
    }
}

with_and_without_checkpoint! { 3;
    /// A buffer written after the loop, and a list of indices the function
    /// changes in place (both kept with the state).
    #[differentiate(wrt(x))]
    fn shuffled / shuffled_marked(x: f64, order: &mut [usize], n: usize) -> f64 {
        { let mut w = vec![0.5; order.len()]; w[1] = x; let mut y = x; }
        {
            for i in 0..n {
                y = y * w[order[i % 3]] + 0.1;
                let k = order[0];
                order[0] = order[1];
                order[1] = order[2];
                order[2] = k;
            }
        }
        { w[0] = y; y + w[0] * w[1] }
    }
}

#[test]
fn arrays_changed_after_the_loop_and_lists_changed_in_place() {
    for n in TRIPS {
        let (mut a, mut b) = ([2, 0, 1], [2, 0, 1]);
        let plain = shuffled::grad(0.8, &mut a, n);
        assert_same(&plain, shuffled_marked::grad(0.8, &mut b, n));
        assert_eq!(a, b);
        let f = |p: &[f64]| shuffled_marked(p[0], &mut [2, 0, 1], n);
        assert_gradient(f, &[0.8], &[plain.1.x]);
    }
}

with_and_without_checkpoint! { 5;
    /// Generic over the float, so also in `f32`.
    #[differentiate]
    fn logistic / logistic_marked<T: Float>(r: T, x0: T, steps: usize) -> T {
        { let mut x = x0; }
        {
            for _ in 0..steps {
                x = r * x * (T::one() - x);
            }
        }
        { x }
    }
}

#[test]
fn generic_and_f32() {
    for steps in TRIPS {
        assert_same(
            logistic::grad(3.1_f64, 0.2, steps),
            logistic_marked::grad(3.1_f64, 0.2, steps),
        );
        assert_same(
            logistic::grad(2.5_f32, 0.3, steps),
            logistic_marked::grad(2.5_f32, 0.3, steps),
        );
        // Forward mode ignores the mark: it saves nothing.
        assert_eq!(
            logistic::tangent(3.1_f64, 0.2, steps, 1.0, 0.0),
            logistic_marked::tangent(3.1_f64, 0.2, steps, 1.0, 0.0)
        );
    }
}

/// The tape keeps at most `snapshots` states, however long the loop runs; the
/// unmarked loop's tape grows with it.
#[differentiate]
fn decay_marked(x: f64, n: usize) -> f64 {
    let mut y = x;
    #[checkpoint(snapshots = 64)]
    for _ in 0..n {
        y = (y * 0.9).sin() + 0.1;
    }
    y
}

#[differentiate]
fn decay_plain(x: f64, n: usize) -> f64 {
    let mut y = x;
    for _ in 0..n {
        y = (y * 0.9).sin() + 0.1;
    }
    y
}

#[test]
fn the_tape_stops_growing_with_the_trip_count() {
    let bytes = |n: usize| decay_marked::forward(0.5, n).1.bytes();
    let plain = |n: usize| decay_plain::forward(0.5, n).1.bytes();
    assert!(bytes(100_000) <= bytes(1_000));
    assert!(bytes(100_000) <= 64 * 8 + 256, "{}", bytes(100_000));
    assert!(plain(100_000) >= 100 * plain(1_000) / 2);
    for n in [1_000, 100_000] {
        assert_same(decay_plain::grad(0.5, n), decay_marked::grad(0.5, n));
    }
}

#[test]
fn one_checkpointed_tape_several_seeds() {
    let (_, tape) = soft_power_marked::forward(0.8, 13);
    let (_, plain_tape) = soft_power::forward(0.8, 13);
    let once = soft_power_marked::backward(&tape, 1.0);
    let twice = soft_power_marked::backward(&tape, 2.0);
    assert_eq!(twice.x, 2.0 * once.x);
    assert_same(once, soft_power::backward(&plain_tape, 1.0));
}

with_and_without_checkpoint! { 2;
    /// Second order through the twin: the twin's loop is checkpointed too.
    #[differentiate(second_order)]
    fn orbit / orbit_marked(x: f64, y: f64, n: usize) -> f64 {
        { let mut a = x; let mut b = y; }
        {
            for _ in 0..n {
                let t = a;
                a = a * 0.8 - (b * 0.3).sin();
                b = b * 0.9 + t * t * 0.1;
            }
        }
        { a * b }
    }
}

#[test]
fn second_order_through_a_checkpointed_loop() {
    for n in [0, 1, 6] {
        assert_same(
            orbit::hvp(0.3, -0.7, n, 1.0, 0.5),
            orbit_marked::hvp(0.3, -0.7, n, 1.0, 0.5),
        );
    }
}

/// The user's `from` and `to`, read inside the loop: the generated code's
/// own names must not hide them. Written out (not through the macro above,
/// whose hygiene would keep the user's names apart anyway).
#[differentiate]
fn ranged(x: f64, from: usize, to: usize) -> f64 {
    let mut y = x;
    let state = 0.5;
    let stretch = 2.0;
    for i in from..to {
        y = (y * state).sin() + stretch * (i as f64) * 0.01;
    }
    y
}

#[differentiate]
fn ranged_marked(x: f64, from: usize, to: usize) -> f64 {
    let mut y = x;
    let state = 0.5;
    let stretch = 2.0;
    #[checkpoint(snapshots = 2)]
    for i in from..to {
        y = (y * state).sin() + stretch * (i as f64) * 0.01;
    }
    y
}

#[test]
fn the_users_names_are_not_hidden() {
    for (from, to) in [(0, 0), (3, 4), (2, 41)] {
        assert_same(
            ranged::grad(0.4, from, to),
            ranged_marked::grad(0.4, from, to),
        );
    }
}

/// A `&mut` slice the loop writes, and a name the state's copy of it would
/// take (`v_start`).
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn relax_from_start(v: &mut [f64], rate: f64, n: usize) -> f64 {
    let v_start = v[0];
    for _ in 0..n {
        for i in 0..v.len() {
            v[i] = v[i] * rate + v_start * 0.1;
        }
    }
    v[0] * v_start
}

#[differentiate]
#[allow(clippy::needless_range_loop)]
fn relax_from_start_marked(v: &mut [f64], rate: f64, n: usize) -> f64 {
    let v_start = v[0];
    #[checkpoint(snapshots = 2)]
    for _ in 0..n {
        for i in 0..v.len() {
            v[i] = v[i] * rate + v_start * 0.1;
        }
    }
    v[0] * v_start
}

#[test]
fn the_state_of_a_mut_slice_has_a_name_of_its_own() {
    for n in [0, 1, 7] {
        let (mut a, mut b) = ([0.5, -0.2], [0.5, -0.2]);
        let (value, tape) = relax_from_start::forward(&mut a, 0.9, n);
        let (marked_value, marked_tape) = relax_from_start_marked::forward(&mut b, 0.9, n);
        assert_eq!((value, a), (marked_value, b));
        let seeds = [0.3, -0.7];
        assert_same(
            relax_from_start::backward(&tape, (1.0, &seeds)),
            relax_from_start_marked::backward(&marked_tape, (1.0, &seeds)),
        );
    }
}

/// A checkpointed loop carrying a value the body changes only through an
/// activation of data (`level + sigmoid(value).ceil()`), set again after the
/// loop: its state's type is the activation's argument's (it was refused:
/// "its type cannot be inferred"; a program of the fuzzer's).
#[differentiate]
fn carried_constant<T: Float>(x: T, y: T) -> T {
    let mut value = T::sin(x);
    #[checkpoint(snapshots = 5)]
    for i in 1..4_usize {
        value = value - y.powi((i % 4) as i32);
    }
    let mut level = sigmoid(T::from(1.25).unwrap());
    let mut total = [T::zero(); 4];
    #[checkpoint(snapshots = 5)]
    for i in (1..4).rev() {
        level = level + sigmoid(value).ceil();
        total[i] = (T::from(0.5).unwrap() * level).tanh()
            * (x / ((value * y).abs() + T::from(0.25).unwrap()));
    }
    level = (T::from(0.25).unwrap().powi(2) + T::one()).powf(level.sin());
    total[1] * level + total[3] * y
}

#[test]
fn a_carried_value_made_of_constants_is_kept() {
    for (x, y) in [(0.3, 1.2), (-0.8, 0.7)] {
        let (value, g) = carried_constant::grad(x, y);
        assert_eq!(value, carried_constant(x, y));
        let f = |p: &[f64]| carried_constant(p[0], p[1]);
        assert_gradient(f, &[x, y], &[g.x, g.y]);
    }
}
