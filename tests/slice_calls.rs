//! Differentiated slices and arrays passed whole to other differentiated
//! functions: the callee's pullback hands back the array's adjoint, which the
//! caller adds into its own.
//!
//! The functions called here are marked `#[inline(never)]`: the file tests
//! the call through the callee's module (what calls across modules and files,
//! and recursion, use), which a call of a function written beside its caller
//! would otherwise not make (it is inlined; `tests/inlining.rs`).

mod common;

use backprop_runtime::differentiate;
use common::assert_gradient;

#[inline(never)]
#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += a[i] * b[i];
    }
    s
}

#[inline(never)]
#[differentiate]
fn norm_squared(v: &[f64]) -> f64 {
    dot(v, v)
}

/// A slice parameter, a local vector passed by `&`, and data passed along.
#[inline(never)]
#[differentiate(wrt(w))]
#[allow(clippy::needless_range_loop)]
fn layer_loss(w: &[f64], x: &[f64]) -> f64 {
    let mut h = vec![0.0; x.len()];
    for i in 0..x.len() {
        h[i] = (w[i] * x[i]).tanh();
    }
    let fit = dot(&h, x);
    // The buffer is overwritten after the call: the callee kept its own copy.
    for i in 0..h.len() {
        h[i] = h[i] * h[i];
    }
    fit + 0.1 * norm_squared(w) + dot(&h, w)
}

#[inline(never)]
#[differentiate]
fn weighted(w: [f64; 3], x: f64) -> f64 {
    let mut buf = [0.0; 3];
    buf[0] = x;
    buf[1] = x * x;
    buf[2] = x.sin();
    dot(&w, &buf)
}

#[test]
fn a_slice_parameter_passed_on() {
    for v in [[1.0, -2.0, 0.5], [0.3, 0.0, 4.0]] {
        let (value, g) = norm_squared::grad(&v);
        assert_eq!(value, norm_squared(&v));
        assert_gradient(norm_squared, &v, &g.v);
    }
}

#[test]
fn a_buffer_passed_by_reference_then_overwritten() {
    let x = [0.5, -1.0, 2.0, 0.25];
    for w in [[0.1, 0.2, -0.3, 0.7], [-1.0, 0.5, 0.9, -0.2]] {
        let (value, g) = layer_loss::grad(&w, &x);
        assert_eq!(value, layer_loss(&w, &x));
        assert_gradient(|w| layer_loss(w, &x), &w, &g.w);
    }
}

#[test]
fn a_fixed_array_and_a_local_array_passed_on() {
    for (w, x) in [([1.0, -0.5, 2.0], 0.7), ([0.0, 3.0, -1.0], -1.3)] {
        let (value, g) = weighted::grad(w, x);
        assert_eq!(value, weighted(w, x));
        assert_gradient(
            |v| weighted([v[0], v[1], v[2]], v[3]),
            &[w[0], w[1], w[2], x],
            &[g.w[0], g.w[1], g.w[2], g.x],
        );
    }
}

/// One explicit Euler step of `v' = -k v + sin(v)` in place, returning the
/// step's energy.
#[inline(never)]
#[differentiate]
#[allow(clippy::ptr_arg, clippy::needless_range_loop)]
fn euler_step(v: &mut Vec<f64>, k: f64, dt: f64) -> f64 {
    let mut energy = 0.0;
    for i in 0..v.len() {
        let rate = -k * v[i] + v[i].sin();
        v[i] += dt * rate;
        energy += rate * rate;
    }
    energy
}

/// A fixed array written in place: a rotation by `angle`.
#[inline(never)]
#[differentiate]
fn rotate(p: &mut [f64; 2], angle: f64) {
    let (s, c) = angle.sin_cos();
    let x = p[0];
    p[0] = c * x - s * p[1];
    p[1] = s * x + c * p[1];
}

/// Writers called in a loop (their tapes are stacked), a written buffer read by
/// a read-only callee, and a `&mut` parameter passed on to a reader.
#[inline(never)]
#[differentiate]
fn simulate(v0: &[f64], k: f64, angle: f64) -> f64 {
    let mut v = v0.to_vec();
    let mut energy = 0.0;
    for _ in 0..4 {
        energy += euler_step(&mut v, k, 0.1);
    }
    let mut p = [v[0], 1.0];
    rotate(&mut p, angle);
    rotate(&mut p, angle * 0.5);
    energy + dot(&v, v0) + p[0] * p[1]
}

#[test]
fn writers_in_loops_and_fixed_arrays() {
    let v0 = [0.4, -1.1, 2.0];
    for (k, angle) in [(0.7, 0.3), (-0.2, 2.5)] {
        let (value, g) = simulate::grad(&v0, k, angle);
        assert_eq!(value, simulate(&v0, k, angle));
        assert_gradient(|v| simulate(v, k, angle), &v0, &g.v0);
        assert_gradient(|v| simulate(&v0, v[0], v[1]), &[k, angle], &[g.k, g.angle]);
    }
}

/// The writer alone: seeds for its value and its final contents.
#[test]
fn a_writer_with_a_value_takes_both_seeds() {
    let start = vec![0.3, -0.8];
    let mut v = start.clone();
    let (energy, tape) = euler_step::forward(&mut v, 0.5, 0.1);
    let mut expected = start.clone();
    assert_eq!(energy, euler_step(&mut expected, 0.5, 0.1));
    assert_eq!(v, expected);
    let seed_v = [1.5, -0.25];
    let g = euler_step::backward(&tape, (0.7, &seed_v));
    let weighted = |s: &[f64]| {
        let mut v = s.to_vec();
        let e = euler_step(&mut v, 0.5, 0.1);
        0.7 * e + v[0] * seed_v[0] + v[1] * seed_v[1]
    };
    assert_gradient(weighted, &start, &g.v);
}

/// Arrays of differentiated values built in place: bound to a variable, and
/// passed straight to a callee.
#[inline(never)]
#[differentiate]
fn arrays_of_values(x: f64, y: f64) -> f64 {
    let v = [x * y, y.exp(), 1.0];
    let first = dot(&v, &[x, x, y]);
    let w = [v[0] - v[1], x];
    first + weighted(w_of(w), y) + dot(&w, &w)
}

#[inline(never)]
#[differentiate]
fn w_of(w: [f64; 2]) -> [f64; 3] {
    [w[0], w[1] * w[0], 0.5]
}

#[test]
fn arrays_built_from_differentiated_values() {
    for (x, y) in [(0.3, -0.6), (1.4, 0.9)] {
        check!(arrays_of_values(x = x, y = y));
    }
}

/// Copies of differentiated arrays, to write into.
#[inline(never)]
#[differentiate]
fn copies(w: &[f64], a: [f64; 2]) -> f64 {
    let mut v = w.to_vec();
    let mut b = a;
    let mut c = v.clone();
    for i in 0..v.len() {
        v[i] *= v[i];
        c[i] += b[i % 2];
    }
    b[0] *= b[1];
    dot(&v, &c) + b[0] + w[0]
}

#[test]
fn copies_of_arrays_are_buffers() {
    for (w, a) in [
        ([0.5, -1.0, 2.0], [0.3, 0.7]),
        ([1.5, 0.1, -0.4], [-2.0, 0.9]),
    ] {
        let (value, g) = copies::grad(&w, a);
        assert_eq!(value, copies(&w, a));
        assert_gradient(|w| copies(w, a), &w, &g.w);
        assert_gradient(|a| copies(&w, [a[0], a[1]]), &a, &g.a);
    }
}

/// Const generic lengths, and `vec![..]` of differentiated values.
#[inline(never)]
#[differentiate]
#[allow(clippy::useless_vec)]
fn const_length<const N: usize>(w: [f64; N], x: f64) -> f64 {
    let v = vec![x, x * x, w[0]];
    let order: Vec<usize> = vec![2, 0, 1];
    let mut total = 0.0;
    for i in 0..N {
        total += w[i] * v[order[i % 3]];
    }
    total
}

#[test]
fn const_generic_arrays_and_vec_literals() {
    let w = [0.5, -1.0, 2.0, 0.25];
    for x in [0.7, -1.3] {
        let (value, g) = const_length::grad(w, x);
        assert_eq!(value, const_length(w, x));
        assert_gradient(|w| const_length([w[0], w[1], w[2], w[3]], x), &w, &g.w);
        assert_gradient(|v| const_length(w, v[0]), &[x], &[g.x]);
    }
}

/// An output-only `&mut` slice, as C ports write `void f(const double* x, double* y)`.
#[inline(never)]
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn into_outputs(x: &[f64], y: &mut [f64]) {
    for i in 0..x.len() {
        y[i] = x[i].sin() * x[0];
    }
}

#[test]
fn an_output_only_mut_slice() {
    let x = [0.5, 1.5];
    let mut y = [9.0, 9.0];
    let ((), tape) = into_outputs::forward(&x, &mut y);
    assert_eq!(y, [0.5f64.sin() * 0.5, 1.5f64.sin() * 0.5]);
    let seed = [1.0, 2.0];
    let g = into_outputs::backward(&tape, &seed);
    let weighted = |x: &[f64]| {
        let mut y = [0.0; 2];
        into_outputs(x, &mut y);
        y[0] * seed[0] + y[1] * seed[1]
    };
    assert_gradient(weighted, &x, &g.x);
    // What `y` held before does not matter.
    assert_eq!(g.y, vec![0.0, 0.0]);
}

// ------------------------------------------------------------ lending
//
// A call lends its slices (`backprop_runtime::lent`) where the caller can
// pass each one again, unchanged, in its backward pass: the callee's tape
// keeps no copy of them. The gradients are those of the copying protocol
// (finite differences here), and the callees' tapes are seen to be empty of
// copies.

#[inline(never)]
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += (a[i] - b[i]) * (a[i] - b[i]);
    }
    s
}

/// k-means' cost: a part of a data slice bound to a name, a part of a
/// differentiated slice, in a loop.
#[inline(never)]
#[differentiate(wrt(centres))]
fn nearest_cost(points: &[f64], centres: &[f64], d: usize) -> f64 {
    let mut cost = 0.0;
    for i in 0..points.len() / d {
        let p = &points[i * d..(i + 1) * d];
        let mut best = f64::INFINITY;
        for j in 0..centres.len() / d {
            best = best.min(sq_dist(p, &centres[j * d..(j + 1) * d]));
        }
        cost += best;
    }
    cost
}

#[test]
fn calls_lend_parts_of_slices_and_the_callees_tapes_copy_nothing() {
    let points = [0.0, 0.1, 1.0, 1.2, -0.5, 0.3, 2.0, 2.5];
    for centres in [[0.2, 0.0, 1.5, 1.9], [-1.0, 0.5, 1.0, 1.0]] {
        let (value, g) = nearest_cost::grad(&points, &centres, 2);
        assert_eq!(value, nearest_cost(&points, &centres, 2));
        assert_gradient(|c| nearest_cost(&points, c, 2), &centres, &g.centres);
        // The split passes read the caller's copies (one per call of it).
        let (_, tape) = nearest_cost::forward(&points, &centres, 2);
        let twice = nearest_cost::backward(&tape, 2.0);
        let doubled: Vec<f64> = g.centres.iter().map(|d| 2.0 * d).collect();
        assert_eq!(twice.centres, doubled);
        // One differentiated call per point: the nearest centre's distance,
        // computed again once the loop has chosen it (`desugar/extrema.rs`).
        let callees: Vec<&sq_dist::Tape> = tape.sq_dist_out_tape.all().collect();
        assert_eq!(callees.len(), 4);
        assert!(callees.iter().all(|t| t.a.is_empty() && t.b.is_empty()));
    }
}

#[test]
fn a_lending_callee_adds_into_the_callers_adjoint_in_place() {
    let points = [0.0, 0.1, 1.0, 1.2, -0.5, 0.3, 2.0, 2.5];
    let centres = [0.2, 0.0, 1.5, 1.9];
    let (a, b) = (&points[2..4], &centres[0..2]);
    let mut tape = sq_dist::Tape::default();
    sq_dist::forward_lent(&mut tape, (a, b), [false, false]);
    // What `pullback_into` hands back, against what `pullback_lent` adds.
    let mut scratch = sq_dist::Scratch::default();
    let (da, db) = sq_dist::pullback_into(&sq_dist::forward(a, b).1, 2.0, &mut scratch);
    let (da, db) = (da.to_vec(), db.to_vec());
    let mut caller = [10.0, 20.0, 30.0, 40.0];
    let (handed_a, handed_b) =
        sq_dist::pullback_lent(&tape, 2.0, &mut scratch, (a, b), ((), &mut caller[1..3]));
    // `b`'s adjoint was added where the caller said, and is not handed back.
    assert_eq!(handed_a, &da[..]);
    assert!(handed_b.is_empty());
    assert_eq!((caller[0], caller[3]), (10.0, 40.0));
    // Each term added into the caller's value, not summed first: equal up
    // to rounding.
    assert_close(&caller[1..3], &[20.0 + db[0], 30.0 + db[1]]);
    // The caller does so for the part of `centres` in its backward pass.
    let (_, g) = nearest_cost::grad(&points, &centres, 2);
    assert_gradient(|c| nearest_cost(&points, c, 2), &centres, &g.centres);
}

/// Two parts of one slice in one call, one slice passed twice, and a part
/// passed on twice: each argument's adjoint is added once (the first part of
/// an adjoint in place, the others through the callee's scratch: two `&mut`
/// of one adjoint cannot be lent at once).
#[inline(never)]
#[differentiate]
fn halves(x: &[f64]) -> f64 {
    let h = x.len() / 2;
    sq_dist(&x[..h], &x[h..]) + dot(x, x) + 0.5 * norm_squared(&x[1..])
}

#[test]
fn parts_of_one_slice_in_one_call_are_added_once_each() {
    for x in [[0.3, -1.2, 0.8, 2.0], [1.5, 0.25, -0.75, -2.0]] {
        let (value, g) = halves::grad(&x);
        assert_eq!(value, halves(&x));
        assert_gradient(halves, &x, &g.x);
        let (_, tape) = halves::forward(&x);
        let mut twice = halves::backward(&tape, 1.0);
        halves::backward_into(&tape, 1.0, &mut twice);
        let doubled: Vec<f64> = g.x.iter().map(|d| 2.0 * d).collect();
        assert_close(&twice.x, &doubled);
    }
}

fn assert_close(found: &[f64], expected: &[f64]) {
    assert_eq!(found.len(), expected.len());
    for (f, e) in found.iter().zip(expected) {
        assert!(
            (f - e).abs() <= 1e-12 * (1.0 + e.abs()),
            "{found:?} != {expected:?}"
        );
    }
}

/// A callee returning an array (its seed built from the elements used), and
/// a `&mut` output, lent around.
#[inline(never)]
#[differentiate]
fn spread(w: &[f64], t: f64) -> [f64; 2] {
    [w[0] * t.sin(), w[1] * w[0] + t]
}

#[inline(never)]
#[differentiate(wrt(y, out))]
#[allow(clippy::needless_range_loop)]
fn minus(x: &[f64], y: &[f64], out: &mut [f64]) {
    for i in 0..x.len() {
        out[i] = x[i] - y[i];
    }
}

/// A custom rule without the lending items, returning an array: called
/// through `forward_into` and `pullback_into`, as before lending.
fn swap_scale(v: &[f64]) -> [f64; 2] {
    [v[1] * 2.0, v[0] * v[0]]
}

mod swap_scale {
    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        v: Vec<f64>,
    }

    pub fn forward_into(tape: &mut Tape, v: &[f64]) -> [f64; 2] {
        tape.v.clear();
        tape.v.extend_from_slice(v);
        super::swap_scale(v)
    }

    pub type Scratch = Vec<f64>;

    pub fn pullback_into<'g>(tape: &Tape, seed: [f64; 2], dv: &'g mut Scratch) -> (&'g [f64],) {
        dv.clear();
        dv.resize(tape.v.len(), 0.0);
        dv[1] += 2.0 * seed[0];
        dv[0] += 2.0 * tape.v[0] * seed[1];
        (dv,)
    }
}

#[inline(never)]
#[differentiate(wrt(w, t))]
fn spread_loss(x: &[f64], w: &[f64], t: f64) -> f64 {
    let mut total = 0.0;
    let mut centred = vec![0.0; 2];
    for k in 0..w.len() / 2 {
        let s = spread(&w[2 * k..2 * k + 2], t);
        minus(&x[2 * k..2 * k + 2], &w[2 * k..2 * k + 2], &mut centred);
        let q = swap_scale(&w[2 * k..2 * k + 2]);
        total += s[0] * s[1] + centred[0] * centred[1] * t + q[1] * t;
    }
    total
}

#[test]
fn lent_calls_with_array_results_and_mut_outputs() {
    let x = [0.5, -0.25, 1.5, 0.75];
    for (w, t) in [([0.3, -1.2, 0.8, 0.4], 0.7), ([1.1, 0.2, -0.6, 2.0], -1.3)] {
        let (value, g) = spread_loss::grad(&x, &w, t);
        assert_eq!(value, spread_loss(&x, &w, t));
        assert_gradient(|w| spread_loss(&x, w, t), &w, &g.w);
        assert_gradient(|t| spread_loss(&x, &w, t[0]), &[t], &[g.t]);
    }
}

/// A buffer filled once and then only read, lent to every call (the
/// caller's tape keeps one copy of it); a chain of lending calls.
#[inline(never)]
#[differentiate]
fn scaled(v: &[f64], by: f64) -> f64 {
    by * sq_dist(&v[..1], &v[1..2])
}

#[inline(never)]
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn basis_fit(w: &[f64], xs: &[f64]) -> f64 {
    let n = w.len();
    let mut basis = vec![0.0; n];
    for i in 0..n {
        basis[i] = (w[i] * 0.5).cos();
    }
    let mut total = 0.0;
    for r in 0..xs.len() / n {
        total += sq_dist(&basis, &xs[r * n..(r + 1) * n]) + scaled(&w[..2], xs[r]);
    }
    total
}

#[test]
fn a_buffer_nothing_writes_after_the_calls_is_lent_to_each() {
    let xs = [0.5, -1.0, 0.25, 2.0, 1.0, -0.5];
    for w in [[0.3, -0.7, 1.1], [2.0, 0.1, -0.4]] {
        let (value, g) = basis_fit::grad(&w, &xs);
        assert_eq!(value, basis_fit(&w, &xs));
        assert_gradient(|w| basis_fit(w, &xs), &w, &g.w);
        let (_, tape) = basis_fit::forward(&w, &xs);
        assert_eq!(tape.basis.len(), 3);
        assert!(tape
            .sq_dist_out_tape
            .all()
            .all(|t| t.a.is_empty() && t.b.is_empty()));
    }
}

/// A custom rule that lends: `LENDS`, `forward_lent` (the arguments as a
/// tuple; no copy) and `pullback_lent` (the same arguments again).
fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

mod norm {
    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        pub x: Vec<f64>,
        pub norm: f64,
    }

    pub fn forward_into(tape: &mut Tape, x: &[f64]) -> f64 {
        tape.x.clear();
        tape.x.extend_from_slice(x);
        tape.norm = super::norm(x);
        tape.norm
    }

    pub type Scratch = Vec<f64>;

    pub fn pullback_into<'g>(tape: &Tape, seed: f64, dx: &'g mut Scratch) -> (&'g [f64],) {
        pullback_lent(tape, seed, dx, ((),), ((),))
    }

    pub const LENDS: bool = true;

    /// `keep[0]`: whether the caller cannot lend `x` again (then it passes
    /// `()` to `pullback_lent`, which reads this copy).
    pub fn forward_lent(tape: &mut Tape, (x,): (&[f64],), keep: [bool; 1]) -> f64 {
        tape.x.clear();
        if keep[0] {
            tape.x.extend_from_slice(x);
        }
        tape.norm = super::norm(x);
        tape.norm
    }

    /// `into`: where to add `x`'s adjoint (a part of the caller's, or `()`
    /// for `dx`, handed back; `dx` stays empty otherwise, which reads as zero).
    pub fn pullback_lent<'g>(
        tape: &Tape,
        seed: f64,
        dx: &'g mut Scratch,
        (x,): (impl backprop_runtime::lent::Again<f64>,),
        (into,): (impl backprop_runtime::lent::Sink<f64>,),
    ) -> (&'g [f64],) {
        let x = x.or(&tape.x);
        dx.clear();
        for (d, v) in into.target(dx, x.len()).iter_mut().zip(x) {
            *d += seed * v / tape.norm;
        }
        (dx,)
    }
}

#[inline(never)]
#[differentiate]
fn rows_norm(m: &[f64], cols: usize) -> f64 {
    let mut total = 0.0;
    for r in 0..m.len() / cols {
        total += norm(&m[r * cols..(r + 1) * cols]);
    }
    total
}

#[test]
fn a_custom_rule_that_lends_is_called_through_its_lending_items() {
    let m = [0.5, -1.0, 2.0, 0.25, 1.5, -0.75];
    let (value, g) = rows_norm::grad(&m, 3);
    assert_eq!(value, rows_norm(&m, 3));
    assert_gradient(|m| rows_norm(m, 3), &m, &g.m);
    let (_, tape) = rows_norm::forward(&m, 3);
    let tapes: Vec<&norm::Tape> = tape.norm_out_tape.all().collect();
    assert_eq!(tapes.len(), 2);
    assert!(tapes.iter().all(|t| t.x.is_empty() && t.norm > 0.0));
}

/// A call that lends one list and has the callee keep the others: an
/// `&mut [f64]` parameter passed on to a `&[f64]` parameter (its contents
/// change after the call), a buffer written again after the call, and an
/// `&mut` output (the shape of every in-place ODE stepper).
#[inline(never)]
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn rates(k: &[f64], y: &[f64], dy: &mut [f64]) {
    for i in 0..y.len() {
        dy[i] = -k[i] * y[i] * y[i];
    }
}

#[inline(never)]
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn euler(k: &[f64], y: &mut [f64], dt: f64) {
    let mut dy = vec![0.0; y.len()];
    let mut half = vec![0.0; y.len()];
    // Five steps: a loop of at most four would be written out, each call
    // with a tape of its own.
    for _ in 0..5 {
        rates(k, y, &mut dy);
        for i in 0..y.len() {
            half[i] = y[i] + 0.5 * dt * dy[i];
        }
        rates(k, &half, &mut dy);
        for i in 0..y.len() {
            y[i] += dt * dy[i];
        }
    }
}

#[inline(never)]
#[differentiate(wrt(k, y0))]
fn decay_loss(k: &[f64], y0: &[f64], dt: f64) -> f64 {
    let mut y = y0.to_vec();
    euler(k, &mut y, dt);
    y[0] * y[1] + y[1]
}

#[test]
fn a_call_lends_some_lists_and_has_the_callee_keep_the_others() {
    let y0 = [1.0, 0.5];
    for k in [[0.3, 0.8], [1.5, -0.2]] {
        let (value, g) = decay_loss::grad(&k, &y0, 0.1);
        assert_eq!(value, decay_loss(&k, &y0, 0.1));
        assert_gradient(|k| decay_loss(k, &y0, 0.1), &k, &g.k);
        assert_gradient(|y0| decay_loss(&k, y0, 0.1), &y0, &g.y0);
        // `k` is lent to every call of `rates`; `y` and `half` are kept.
        let mut y = y0;
        let ((), tape) = euler::forward(&k, &mut y, 0.1);
        let calls: Vec<&rates::Tape> = tape
            .rates_out_tape
            .all()
            .chain(tape.rates_out_2_tape.all())
            .collect();
        assert_eq!(calls.len(), 10);
        assert!(calls.iter().all(|t| t.k.is_empty() && t.y.len() == 2));
    }
}

#[test]
fn a_list_the_callee_writes_is_worked_on_in_the_callers_adjoint() {
    use backprop_runtime::lent::Seeded;
    let (k, y0) = ([0.3, 0.8], [1.0, 0.5]);
    let mut y = y0;
    let ((), tape) = euler::forward(&k, &mut y, 0.1);
    let seed = [0.75, -1.25];
    // As `pullback_into` hands back the adjoint of `y` before the call.
    let mut scratch = euler::Scratch::default();
    let (dk, dy, ddt) = euler::pullback_into(&tape, &seed, &mut scratch);
    let (dk, dy) = (dk.to_vec(), dy.to_vec());
    // The caller's adjoint of `y`, holding the seed, becomes it in place.
    let mut caller = seed;
    let (in_place_dk, handed_dy, in_place_ddt) = euler::pullback_lent(
        &tape,
        Seeded(&mut caller[..]),
        &mut scratch,
        (&k[..], (), ()),
        ((), (), ()),
    );
    assert_eq!((in_place_dk, in_place_ddt), (&dk[..], ddt));
    assert!(handed_dy.is_empty());
    assert_eq!(caller.to_vec(), dy);
}

/// Buffers a callee writes, read and written again around the calls (the
/// shape of GMM's `xcentered`): the callee works on their adjoints in place.
#[inline(never)]
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn difference(x: &[f64], y: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = x[i] - y[i];
    }
}

#[inline(never)]
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn scale_by(v: &mut [f64], s: f64) {
    for i in 0..v.len() {
        v[i] *= s;
    }
}

#[inline(never)]
#[differentiate]
fn centred_norms(x: &[f64], means: &[f64], d: usize) -> f64 {
    let mut centred = vec![0.0; d];
    let mut fixed = [0.0; 2];
    let mut total = 0.0;
    for k in 0..means.len() / d {
        difference(x, &means[k * d..(k + 1) * d], &mut centred);
        scale_by(&mut centred, x[0]);
        difference(&centred[..2], &x[..2], &mut fixed);
        total += centred[0] * centred[d - 1] + fixed[1] * fixed[0];
    }
    total
}

#[test]
fn buffers_written_by_callees_are_worked_on_in_place() {
    let x = [0.5, -1.0, 2.0];
    for means in [
        [0.1, 0.2, 0.3, -1.0, 0.5, 2.5],
        [1.5, -0.5, 0.0, 0.25, 0.75, -2.0],
    ] {
        let (value, g) = centred_norms::grad(&x, &means, 3);
        assert_eq!(value, centred_norms(&x, &means, 3));
        assert_gradient(|m| centred_norms(&x, m, 3), &means, &g.means);
        assert_gradient(|x| centred_norms(x, &means, 3), &x, &g.x);
    }
}

/// A part of a data slice bound to a name in the function's body, lent
/// again (computed again at the call in the backward pass), beside a part of
/// a differentiated slice and a named part of it (a copy, kept).
#[inline(never)]
#[differentiate(wrt(cam))]
fn reprojection(cam: &[f64], features: &[f64], i: usize) -> f64 {
    let feature = &features[2 * i..2 * i + 2];
    let centre = &cam[2..4];
    let moved = sq_dist(&cam[0..2], feature);
    moved * sq_dist(centre, feature) + sq_dist(feature, &cam[..2]).sqrt()
}

#[test]
fn a_named_part_of_data_in_the_body_is_lent_again() {
    let features = [0.5, -1.0, 2.0, 0.25, -0.75, 1.5];
    for (cam, i) in [([0.3, 0.1, -0.4, 0.9], 1), ([1.2, -0.6, 0.2, 0.4], 2)] {
        let (value, g) = reprojection::grad(&cam, &features, i);
        assert_eq!(value, reprojection(&cam, &features, i));
        assert_gradient(|c| reprojection(c, &features, i), &cam, &g.cam);
        let (_, tape) = reprojection::forward(&cam, &features, i);
        assert!(tape.moved_tape.a.is_empty() && tape.moved_tape.b.is_empty());
        // `centre` is a copy of its own (a buffer), lent too: nothing
        // writes it after the call.
        assert!(tape.sq_dist_out_tape.a.is_empty());
    }
}

/// A part of an `&mut [f64]` parameter passed by shared reference to a
/// lending call (`&m[0..2]`: a new shared borrow, not a reborrow of `m`;
/// the fuzzer found it reborrowed as `&mut`, a compile error).
#[inline(never)]
#[differentiate]
fn nudge(p: f64, s: &[f64], m: &mut [f64]) {
    m[1] -= sq_dist(&m[0..2], &s[0..2]) * p;
}

#[inline(never)]
#[differentiate(wrt(p, m0))]
fn nudged(p: f64, s: &[f64], m0: &[f64]) -> f64 {
    let mut m = m0.to_vec();
    nudge(p, s, &mut m);
    m[1] * m[0] + m[1]
}

#[test]
fn a_shared_part_of_a_mut_parameter_is_lent() {
    let s = [0.5, -1.0];
    for (p, m0) in [(0.7, [0.3, 1.2]), (-1.1, [2.0, -0.4])] {
        let (value, g) = nudged::grad(p, &s, &m0);
        assert_eq!(value, nudged(p, &s, &m0));
        assert_gradient(|m| nudged(p, &s, m), &m0, &g.m0);
        assert_gradient(|p| nudged(p[0], &s, &m0), &[p], &[g.p]);
    }
}

/// An `&mut [f64]` parameter passed on whole to a recursive call, and a
/// generic callee writing a buffer, in f64 and f32: the callees work on the
/// callers' adjoints in place, at every depth.
#[inline(never)]
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn smooth(k: &[f64], y: &mut [f64], depth: usize) {
    if depth > 0 {
        for i in 1..y.len() {
            y[i] += k[0] * y[i - 1] * y[i];
        }
        smooth(k, y, depth - 1);
        y[0] *= k[1];
    }
}

#[inline(never)]
#[differentiate(wrt(k, y0))]
fn smoothed(k: &[f64], y0: &[f64], depth: usize) -> f64 {
    let mut y = y0.to_vec();
    smooth(k, &mut y, depth);
    let mut fixed = [y[0], y[1], y[2]];
    smooth(&k[1..], &mut fixed, 1);
    y[2] * y[1] + fixed[2] + fixed[0]
}

#[inline(never)]
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn axpy<T: backprop_runtime::Float>(a: T, x: &[T], y: &mut [T]) {
    for i in 0..y.len() {
        y[i] = y[i] + a * x[i] * y[i];
    }
}

#[inline(never)]
#[differentiate]
fn axpy_twice<T: backprop_runtime::Float>(a: T, x: &[T]) -> T {
    let mut y = vec![T::one(); x.len()];
    axpy(a, x, &mut y);
    axpy(a * a, &x[1..], &mut y[..x.len() - 1]);
    axpy(a, x, &mut y);
    y[0] * y[x.len() - 1]
}

#[test]
fn written_lists_in_place_through_recursion_and_generics() {
    let y0 = [0.5, -0.25, 1.5, 0.75];
    for k in [[0.3, 0.8, -0.4], [-0.6, 1.1, 0.2]] {
        for depth in 0..4 {
            let (value, g) = smoothed::grad(&k, &y0, depth);
            assert_eq!(value, smoothed(&k, &y0, depth));
            assert_gradient(|k| smoothed(k, &y0, depth), &k, &g.k);
            assert_gradient(|y0| smoothed(&k, y0, depth), &y0, &g.y0);
        }
    }
    let x = [0.5, -1.0, 0.25];
    for a in [0.7, -1.3] {
        let (value, g) = axpy_twice::grad(a, &x);
        assert_eq!(value, axpy_twice(a, &x));
        assert_gradient(|a| axpy_twice(a[0], &x), &[a], &[g.a]);
        assert_gradient(|x| axpy_twice(a, x), &x, &g.x);
        let x32 = x.map(|v| v as f32);
        let (value, g32) = axpy_twice::grad(a as f32, &x32);
        assert_eq!(value, axpy_twice(a as f32, &x32));
        assert!((f64::from(g32.a) - g.a).abs() < 1e-3 * (1.0 + g.a.abs()));
    }
    // Each whole list written by a lending callee is its seed, in place (a
    // `&mut` part is a copy written back, whole to the callee).
    assert_eq!(smooth::SOURCE.matches("lent::Seeded(").count(), 1);
    assert_eq!(smoothed::SOURCE.matches("lent::Seeded(").count(), 2);
    assert_eq!(axpy_twice::SOURCE.matches("lent::Seeded(").count(), 3);
}

/// A helper whose both lists it differentiates, called on parts of data of
/// every length at one call site: its adjoint of the data part goes nowhere
/// (`lent::Discard`), a vector kept from call to call and sized again as
/// the lengths change; of the weights, into that part of the caller's.
#[inline(never)]
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn weighted_squares(a: &[f64], w: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..a.len() {
        total += a[i] * w[i] * w[i] + (a[i] - w[i]).sin();
    }
    total
}

#[differentiate(wrt(w))]
fn over_prefixes(data: &[f64], w: &[f64]) -> f64 {
    let mut total = 0.0;
    for n in (1..=data.len()).rev() {
        total += weighted_squares(&data[..n], &w[..n]) * n as f64;
    }
    for n in 1..=data.len() {
        total += weighted_squares(&data[n - 1..], &w[n - 1..]);
    }
    total
}

#[test]
fn the_adjoint_of_data_passed_to_a_helper_goes_nowhere() {
    assert!(over_prefixes::SOURCE.contains("lent::Discard"));
    let data = [0.4, -1.3, 2.2, 0.9, -0.6];
    let (mut tape, mut grad) = (
        over_prefixes::Tape::default(),
        over_prefixes::Grad::default(),
    );
    let mut work = over_prefixes::Work::default();
    for w in [[0.5, 1.5, -0.5, 2.0, 0.25], [-1.0, 0.3, 0.8, -0.2, 1.1]] {
        // Twice on one `Work`: the discarded vector kept from the first.
        for _ in 0..2 {
            grad.clear();
            let value = over_prefixes::grad_with(&data, &w, &mut tape, &mut grad, &mut work);
            assert_eq!(value.to_bits(), over_prefixes(&data, &w).to_bits());
            assert!(grad.w.iter().all(|g| g.is_finite()));
            assert_gradient(|w| over_prefixes(&data, w), &w, &grad.w);
        }
    }
}
