//! Functions written the way Rust numerics code is usually written, each
//! checked against finite differences: iterator folds, data slices zipped in a
//! loop, array patterns, `while` with a tolerance, `match` on an integer.

mod common;

use backprop_runtime::differentiate;
use common::assert_gradient;

#[differentiate(wrt(logits))]
fn cross_entropy(logits: &[f64], target: usize) -> f64 {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = logits.iter().map(|&z| (z - max).exp()).sum();
    sum.ln() + max - logits[target]
}

#[differentiate]
fn logsumexp(x: &[f64]) -> f64 {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

#[differentiate]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

#[differentiate]
fn ranked(x: &[f64]) -> f64 {
    x.iter()
        .enumerate()
        .map(|(i, v)| v * (i as f64 + 1.0))
        .sum()
}

#[differentiate]
fn small_arrays(x: f64, y: f64) -> f64 {
    let mut v = [0.0; 3];
    v[0] = x;
    v[1] = x * y;
    v[2] = y.sin();
    let s: f64 = v.iter().sum();
    let [a, b] = [x, y];
    s * a + b
}

#[differentiate(wrt(a, b))]
fn least_squares(a: f64, b: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(ys.iter()) {
        let r = a * x + b - y;
        loss += r * r;
    }
    loss / xs.len() as f64
}

#[differentiate]
fn newton_sqrt(a: f64) -> f64 {
    let mut y = a;
    let mut iterations = 0;
    while (y * y - a).abs() > 1e-12 && iterations < 100 {
        y -= (y * y - a) / (2.0 * y);
        iterations += 1;
    }
    y
}

#[differentiate]
fn piecewise(x: f64, n: u32) -> f64 {
    match n {
        0 => x,
        1 => x * x,
        _ => x.powi(n as i32),
    }
}

#[test]
fn softmax_cross_entropy_and_logsumexp() {
    for logits in [[0.5, -1.0, 2.0], [3.0, 3.0, -0.5]] {
        for target in 0..3 {
            let (value, g) = cross_entropy::grad(&logits, target);
            assert_eq!(value, cross_entropy(&logits, target));
            assert_gradient(|l| cross_entropy(l, target), &logits, &g.logits);
        }
        let (value, g) = logsumexp::grad(&logits);
        assert_eq!(value, logsumexp(&logits));
        assert_gradient(logsumexp, &logits, &g.x);
    }
}

#[test]
fn loops_over_indices_and_enumerations() {
    for x in [[1.2, 0.8, -0.5], [-1.0, 2.0, 0.3]] {
        let (_, g) = rosenbrock::grad(&x);
        assert_gradient(rosenbrock, &x, &g.x);
        let (value, g) = ranked::grad(&x);
        assert_eq!(value, ranked(&x));
        assert_eq!(g.x, vec![1.0, 2.0, 3.0]);
    }
}

#[test]
fn arrays_patterns_and_data_slices() {
    for (x, y) in [(0.3, 0.9), (-1.2, 2.5)] {
        check!(small_arrays(x = x, y = y));
    }
    let (xs, ys) = ([1.0, 2.0, 4.0], [2.0, 2.5, 5.5]);
    for (a, b) in [(1.0, 0.5), (-0.3, 2.0)] {
        check!(least_squares(a = a, b = b, &xs, &ys));
    }
}

#[test]
fn iterations_to_a_tolerance_and_integer_matches() {
    for a in [2.0, 0.5, 9.0] {
        let (value, g) = newton_sqrt::grad(a);
        assert!((value - f64::sqrt(a)).abs() < 1e-12);
        assert!((g.a - 0.5 / f64::sqrt(a)).abs() < 1e-9);
    }
    for n in 0..4 {
        for x in [1.5, -0.7] {
            let (_, g) = piecewise::grad(x, n);
            assert_gradient(|v| piecewise(v[0], n), &[x], &[g.x]);
        }
    }
}

/// Horner's rule from the highest coefficient: a reversed iteration.
#[differentiate]
fn horner(coefficients: &[f64], x: f64) -> f64 {
    let mut acc = 0.0;
    for c in coefficients.iter().rev() {
        acc = acc * x + c;
    }
    acc
}

#[differentiate]
fn reversed_chains(w: &[f64], x: &[f64]) -> f64 {
    let mut weight = 1.0;
    let mut total = 0.0;
    for (i, v) in w.iter().enumerate().rev() {
        total += v * weight * (i as f64);
        weight *= 0.5;
    }
    total
        + w.iter()
            .zip(x)
            .rev()
            .fold(0.0, |acc, (a, b)| acc * 0.9 + a * b)
}

#[test]
fn reversed_iterations() {
    let c = [1.0, -2.0, 0.5, 3.0];
    for x in [0.7, -1.4] {
        let (value, g) = horner::grad(&c, x);
        assert_eq!(value, horner(&c, x));
        assert_gradient(|c| horner(c, x), &c, &g.coefficients);
        assert_gradient(|v| horner(&c, v[0]), &[x], &[g.x]);
    }
    let (w, x) = ([0.3, -1.0, 2.0, 0.5], [1.0, 2.0, -0.5]);
    let (value, g) = reversed_chains::grad(&w, &x);
    assert_eq!(value, reversed_chains(&w, &x));
    assert_gradient(|w| reversed_chains(w, &x), &w, &g.w);
    assert_gradient(|x| reversed_chains(&w, x), &x, &g.x);
}

/// A loop over a data slice whose elements the backward pass needs.
#[differentiate(wrt(w))]
fn over_data(w: f64, xs: &[f64]) -> f64 {
    let mut total = 0.0;
    for x in xs {
        total += (w * x).sin();
    }
    for &x in xs.iter().rev() {
        total = total * 0.5 + w * x * x;
    }
    total
}

#[test]
fn loops_over_data_slices() {
    let xs = [0.5, -1.5, 2.0];
    for w in [0.3, -1.1] {
        check!(over_data(w = w, &xs));
    }
}

/// Floats by reference, as `std::autodiff`'s tests and C++ ports write them.
#[differentiate]
fn by_reference(x: &f64, y: &f64) -> f64 {
    x * x * y.sin() + *x / y
}

#[differentiate]
fn calls_by_reference(a: f64, b: f64) -> f64 {
    let c = a * b;
    by_reference(&c, &b) + by_reference(&a, &2.0)
}

#[test]
fn floats_passed_by_reference() {
    for (x, y) in [(0.7, 1.3), (-1.2, 0.4)] {
        let (value, g) = by_reference::grad(&x, &y);
        assert_eq!(value, by_reference(&x, &y));
        assert_gradient(|v| by_reference(&v[0], &v[1]), &[x, y], &[g.x, g.y]);
        check!(calls_by_reference(a = x, b = y));
    }
}

/// Elements dereferenced in conditions, as loops over `iter()` write them.
#[differentiate]
fn positive_part(w: &[f64]) -> f64 {
    let mut total = 0.0;
    for v in w.iter() {
        if *v > 0.0 {
            total += *v * *v;
        }
    }
    total
}

#[test]
fn dereferenced_elements() {
    let w = [0.5, -1.0, 2.0];
    let (value, g) = positive_part::grad(&w);
    assert_eq!(value, positive_part(&w));
    assert_eq!(g.w, vec![1.0, 0.0, 4.0]);
}

/// Tuples chosen by a branch or a `match`, as in an ordering or a swap.
#[differentiate]
fn ordered(x: f64, y: f64, mode: u8) -> f64 {
    let (lo, hi) = if x < y { (x, y) } else { (y, x) };
    let (a, b) = match mode {
        0 => (lo, hi * 2.0),
        1 => (hi.sin(), lo),
        _ => (lo * hi, 1.0),
    };
    // Arms that compute locals of their own before their tuple.
    let (c, d) = if a > b {
        let gap = a - b;
        (gap * gap, gap.exp())
    } else {
        let mut sum = a;
        sum += b;
        (sum, 1.0)
    };
    (hi - lo).powi(2) + a * b + c * d
}

#[test]
fn tuples_from_branches() {
    for mode in 0..3 {
        // Both orders of x and y.
        for (x, y) in [(0.3, 1.2), (1.5, -0.4)] {
            check!(ordered(x = x, y = y, mode));
        }
    }
}

#[differentiate]
fn triple(p: [f64; 3], q: &[f64]) -> f64 {
    let [a, b, c] = p;
    let [_, second] = [q[0], q[1]];
    a * b + c.exp() * second
}

/// In-place updates through `iter_mut()` (an optimiser's step, a softmax),
/// an array destructured by a pattern, and `swap`.
#[differentiate]
fn softmax_into(x: &[f64], out: &mut [f64]) {
    let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let mut z = 0.0;
    for (o, v) in out.iter_mut().zip(x) {
        *o = (v - m).exp();
        z += *o;
    }
    for o in out.iter_mut() {
        *o /= z;
    }
}

#[differentiate]
fn momentum_step(params: &[f64], grads: &[f64], rate: f64) -> f64 {
    let mut p = params.to_vec();
    for (i, q) in p.iter_mut().enumerate() {
        *q -= rate * grads[i] * (i as f64 + 1.0);
    }
    let [a, b, c] = [p[0], p[1], p[2]];
    let mut v = p.clone();

    v.swap(0, 2);
    a * b + c * v[0] + v[2].sin()
}

#[test]
fn iter_mut_patterns_and_swap() {
    let x = [0.3, -1.2, 2.0];
    let seed = [1.0, -0.5, 0.25];
    let mut out = [0.0; 3];
    let (_, tape) = softmax_into::forward(&x, &mut out);
    let mut expected = [0.0; 3];
    softmax_into(&x, &mut expected);
    assert_eq!(out, expected);
    let g = softmax_into::backward(&tape, &seed);
    let f = |v: &[f64]| {
        let mut out = [0.0; 3];
        softmax_into(v, &mut out);
        out.iter().zip(&seed).map(|(a, b)| a * b).sum()
    };
    assert_gradient(f, &x, &g.x);

    let (p, q) = ([0.5, -1.0, 2.0], [0.3, 0.7]);
    let (value, g) = triple::grad(p, &q);
    assert_eq!(value, triple(p, &q));
    let f = |v: &[f64]| triple([v[0], v[1], v[2]], &v[3..]);
    assert_gradient(
        f,
        &[0.5, -1.0, 2.0, 0.3, 0.7],
        &[g.p.to_vec(), g.q].concat(),
    );

    for (params, rate) in [([0.5, -1.0, 2.0], 0.1), ([1.5, 0.2, -0.7], 0.5)] {
        let grads = [0.2, 0.4, -0.3];
        let (value, g) = momentum_step::grad(&params, &grads, rate);
        assert_eq!(value, momentum_step(&params, &grads, rate));
        let joined = [params.to_vec(), grads.to_vec(), vec![rate]].concat();
        let f = |v: &[f64]| momentum_step(&v[..3], &v[3..6], v[6]);
        assert_gradient(f, &joined, &[g.params, g.grads, vec![g.rate]].concat());
    }
}

#[differentiate]
fn sum_of(v: &[f64]) -> f64 {
    v.iter().sum()
}

/// Vectors built by `push`: in a loop, in a branch, passed to a callee before
/// they are done, and one made afresh in each iteration of a loop.
#[allow(clippy::needless_range_loop, clippy::vec_init_then_push)]
#[differentiate]
fn pushed(x: &[f64], scale: f64) -> f64 {
    let mut out = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        if x[i] > 0.0 {
            out.push(x[i].sin() * scale);
        }
    }
    let partial = sum_of(&out);
    out.push(x[0] * x[1]);
    let mut total = partial * out[out.len() - 1];
    for v in x {
        let mut row: Vec<f64> = Vec::new();
        row.push(v * scale);
        row.push(v * v);
        total += row[0] * row[1];
    }
    total
}

#[test]
fn vectors_built_by_push() {
    for x in [[1.0, -2.0, 3.0], [-0.5, 0.25, -1.5], [0.3, 0.6, 0.9]] {
        for scale in [0.5, -1.25] {
            let (value, g) = pushed::grad(&x, scale);
            assert_eq!(value, pushed(&x, scale));
            let f = |v: &[f64]| pushed(&v[..3], v[3]);
            let point = [x[0], x[1], x[2], scale];
            assert_gradient(f, &point, &[g.x, vec![g.scale]].concat());
        }
    }
}

/// Ends of slices through `Option`, and a loop that counts from the end.
#[differentiate]
fn ends_and_reversed_count(x: &[f64], i: usize) -> f64 {
    let first = *x.first().unwrap();
    let last = x.last().copied().unwrap_or(0.0);
    let picked = x.get(i).copied().unwrap_or(1.0);
    let mut weighted = 0.0;
    for (k, v) in x.iter().rev().enumerate() {
        weighted += v * (k as f64 + 1.0);
    }
    // The iterator's ends are the slice's.
    let tail = *x.iter().last().unwrap() + x.iter().copied().next().unwrap();
    first * last + picked.sin() + weighted + tail * tail
}

#[test]
fn option_ends_and_counting_from_the_end() {
    let x = [0.5, -1.25, 2.0, 0.75];
    // An index inside the slice and one past its end (the default).
    for i in [1, 3, 7] {
        let (value, g) = ends_and_reversed_count::grad(&x, i);
        assert_eq!(value, ends_and_reversed_count(&x, i));
        assert_gradient(|v| ends_and_reversed_count(v, i), &x, &g.x);
    }
}

/// Lists of indices walked as Rust gives them: by reference, read with `*`,
/// or bound by value with `&i`.
#[differentiate(wrt(w))]
fn gathered(w: &[f64], idx: &[usize], pairs: &[usize]) -> f64 {
    let mut total = 0.0;
    for i in idx {
        let i: usize = *i;
        total += w[i] * w[i];
    }
    for &j in pairs {
        total += w[j].sin();
    }
    for k in idx {
        total += 0.5 * w[*k];
    }
    // No annotation: `*m` is an element of `idx`, a `usize`.
    for m in idx {
        let m = *m;
        let mut h = vec![0.5; m + 1];
        h[m] = w[0] * w[1];
        total += h[m] * h[0];
    }
    total
}

#[test]
fn lists_of_indices_by_reference_and_by_value() {
    let idx = [2, 0, 2];
    let pairs = [1, 3];
    for w in [[0.5, -1.0, 2.0, 0.3], [-0.7, 0.2, 1.1, -2.0]] {
        let (value, g) = gathered::grad(&w, &idx, &pairs);
        assert_eq!(value, gathered(&w, &idx, &pairs));
        assert_gradient(|w| gathered(w, &idx, &pairs), &w, &g.w);
    }
}

// ---------------------------------------------------- data of the user's types

/// An observation as a fitting program keeps it: no `Clone`, no `Debug`, no
/// `Copy` (the tape must not ask for them; what the backward pass reads of
/// it is saved instead).
pub struct Observation {
    pub t: f64,
    pub y: f64,
    pub weight: f64,
}

/// Settings passed by reference, read in the backward pass.
pub struct Settings {
    pub scale: f64,
    pub clip: f64,
}

/// A damped exponential fitted to observations, every way of reaching a
/// field: a `for` over the slice, an index, a zip with the parameters, a
/// struct pattern, and a branch on a field.
#[differentiate(wrt(p))]
#[allow(clippy::needless_range_loop)] // indexing is one of the ways tested
fn fit_loss(p: &[f64], obs: &[Observation], settings: &Settings) -> f64 {
    let mut loss = 0.0;
    for o in obs {
        let r = p[0] * (-p[1] * o.t).exp() - o.y;
        loss += o.weight * r * r;
    }
    for i in 0..obs.len() {
        let r = settings.scale * p[0] * obs[i].t - obs[i].y;
        if obs[i].t > settings.clip {
            loss += r.abs();
        } else {
            loss += 0.5 * r * r;
        }
    }
    for (o, q) in obs.iter().zip(p) {
        loss += q * o.t * o.weight;
    }
    for Observation { t, y, .. } in obs {
        loss += (p[1] * t - y).powi(2);
    }
    let n = obs.len();
    let last = &obs[n - 1];
    loss + last.y * p[1]
}

/// The same over tuples: `for &(t, y)`, `for (t, y) in .iter()`,
/// `let (t, y) = pairs[i]`, and an iterator chain.
#[differentiate(wrt(p))]
#[allow(clippy::needless_range_loop)] // indexing is one of the ways tested
fn tuple_loss(p: &[f64], pairs: &[(f64, f64)]) -> f64 {
    let mut loss = 0.0;
    for &(t, y) in pairs {
        loss += (p[0] * t - y).powi(2);
    }
    for (t, y) in pairs.iter() {
        loss += (p[1] * t + y).sin();
    }
    for i in 0..pairs.len() {
        let (t, y) = pairs[i];
        loss += p[0] * p[1] * t * y;
    }
    loss + pairs.iter().map(|pair| p[1] * pair.0 - pair.1).sum::<f64>()
}

/// A chain over a slice of structs zipped with differentiated values.
#[differentiate(wrt(k))]
fn weighted_squares(k: &[f64], obs: &[Observation]) -> f64 {
    obs.iter()
        .zip(k)
        .map(|(o, w)| o.weight * (w * o.t - o.y).powi(2))
        .sum()
}

fn observations() -> Vec<Observation> {
    [
        (0.0, 1.9, 1.0),
        (0.5, 1.2, 0.5),
        (1.0, 0.8, 2.0),
        (2.5, 0.1, 1.0),
    ]
    .into_iter()
    .map(|(t, y, weight)| Observation { t, y, weight })
    .collect()
}

#[test]
fn slices_of_structs_and_tuples_as_data() {
    let obs = observations();
    let pairs: Vec<(f64, f64)> = obs.iter().map(|o| (o.t, o.y)).collect();
    // Both sides of the branch on `t > clip`.
    for clip in [0.7, 3.0] {
        let settings = Settings { scale: 1.5, clip };
        for p in [[2.0, 0.7], [1.1, -0.3], [-0.5, 1.4]] {
            let (value, g) = fit_loss::grad(&p, &obs, &settings);
            assert_eq!(value, fit_loss(&p, &obs, &settings));
            assert_gradient(|p| fit_loss(p, &obs, &settings), &p, &g.p);
            // The split passes read only the tape: nothing of `obs` is borrowed.
            let (forward_value, tape) = fit_loss::forward(&p, &obs, &settings);
            assert_eq!(forward_value, value);
            assert_eq!(fit_loss::backward(&tape, 1.0).p, g.p);
        }
    }
    for p in [[2.0, 0.7], [1.1, -0.3]] {
        let (value, g) = tuple_loss::grad(&p, &pairs);
        assert_eq!(value, tuple_loss(&p, &pairs));
        assert_gradient(|p| tuple_loss(p, &pairs), &p, &g.p);
    }
    let k = [0.4, -1.2, 2.0, 0.9];
    let (value, g) = weighted_squares::grad(&k, &obs);
    assert_eq!(value, weighted_squares(&k, &obs));
    assert_gradient(|k| weighted_squares(k, &obs), &k, &g.k);
}

/// Patterns in loops over several slices: an enumerated element taken apart,
/// a wildcard beside a zipped element.
#[differentiate(wrt(p))]
fn enumerated_pairs(p: &[f64], pairs: &[(f64, f64)]) -> f64 {
    let mut loss = 0.0;
    for (i, &(t, y)) in pairs.iter().enumerate() {
        loss += p[i % 2] * t - y * y * p[0];
    }
    for (_, q) in pairs.iter().zip(p) {
        loss += q * q;
    }
    loss
}

#[test]
fn patterns_of_zipped_and_enumerated_elements() {
    let pairs = [(0.5, 1.0), (1.5, -0.5), (2.0, 0.25)];
    for p in [[0.3, -1.2], [2.0, 0.4]] {
        let (value, g) = enumerated_pairs::grad(&p, &pairs);
        assert_eq!(value, enumerated_pairs(&p, &pairs));
        assert_gradient(|p| enumerated_pairs(p, &pairs), &p, &g.p);
    }
}

/// An array parameter taken apart through its reference.
#[differentiate(wrt(params))]
fn spring_energy(params: &[f64; 2], x: f64) -> f64 {
    let [k, c] = *params;
    0.5 * k * x * x + c * x.powi(4)
}

#[test]
fn array_taken_apart_through_a_reference() {
    for params in [[2.0, 0.1], [-0.5, 1.5]] {
        let (value, g) = spring_energy::grad(&params, 0.7);
        assert_eq!(value, spring_energy(&params, 0.7));
        assert_gradient(|p| spring_energy(&[p[0], p[1]], 0.7), &params, &g.params);
    }
}

/// Layers written into one buffer, copied with `copy_from_slice` as clippy
/// asks: whole, and by parts.
#[differentiate(wrt(w))]
fn copied_layers(w: &[f64], x: &[f64]) -> f64 {
    let mut h = x.to_vec();
    for layer in 0..2 {
        let mut next = vec![0.0; h.len()];
        for o in 0..h.len() {
            next[o] = (w[layer * h.len() + o] * h[o] + h[(o + 1) % h.len()]).tanh();
        }
        h.copy_from_slice(&next);
    }
    let mut tail = [0.0; 4];
    tail[1..3].copy_from_slice(&h[..2]);
    tail[3..].copy_from_slice(&w[..1]);
    h.iter().sum::<f64>() + tail[1] * tail[2] * tail[3]
}

#[test]
fn buffers_copied_with_copy_from_slice() {
    let x = [0.5, -1.0, 2.0];
    for w in [
        [0.3, -0.2, 0.8, 1.1, -0.5, 0.4],
        [-1.0, 0.7, 0.1, 0.2, 0.9, -0.3],
    ] {
        let (value, g) = copied_layers::grad(&w, &x);
        assert_eq!(value, copied_layers(&w, &x));
        assert_gradient(|w| copied_layers(w, &x), &w, &g.w);
    }
}

/// `std::mem::swap` of two floats, as a sort of a pair does (its
/// second-order twin too).
#[differentiate(second_order)]
fn ordered_pair(a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (a * a, b.sin());
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    hi - 0.5 * lo
}

#[test]
fn floats_swapped_with_mem_swap() {
    // Both sides of the comparison.
    for (a, b) in [(0.3, 1.2), (1.5, 0.2), (-0.8, -0.1)] {
        let (value, g) = ordered_pair::grad(a, b);
        assert_eq!(value, ordered_pair(a, b));
        assert_gradient(|v| ordered_pair(v[0], v[1]), &[a, b], &[g.a, g.b]);
    }
}

/// A small state struct of the user's, built from a literal and used through
/// its fields: one local per field. Assigned whole with a literal too.
#[derive(Clone, Copy)]
pub struct Oscillator {
    pub x: f64,
    pub v: f64,
    pub energy: f64,
}

#[differentiate]
fn damped_oscillator(k: f64, c: f64) -> f64 {
    let mut s = Oscillator {
        x: 1.0,
        v: 0.0,
        energy: 0.5 * k,
    };
    for i in 0..40 {
        let a = -k * s.x - c * s.v;
        if i % 8 == 0 {
            s = Oscillator {
                x: s.x * 0.99,
                v: s.v + a * 0.02,
                energy: 0.5 * (s.v * s.v + k * s.x * s.x),
            };
        } else {
            s.v += a * 0.02;
            s.x += s.v * 0.02;
        }
    }
    s.x + s.energy
}

#[test]
fn a_local_struct_read_and_written_through_its_fields() {
    for (k, c) in [(2.0, 0.1), (0.5, 0.8)] {
        let (value, g) = damped_oscillator::grad(k, c);
        assert_eq!(value, damped_oscillator(k, c));
        assert_gradient(|p| damped_oscillator(p[0], p[1]), &[k, c], &[g.k, g.c]);
    }
}

#[differentiate]
fn euler_step(s: [f64; 2], k: f64, dt: f64) -> [f64; 2] {
    [s[0] + dt * s[1], s[1] - dt * k * s[0]]
}

/// A fixed-size state assigned whole: from a call returning the next state,
/// from a literal, from another array (both sides of the branch).
#[differentiate]
fn stepped_state(k: f64) -> f64 {
    let mut s = [1.0, 0.0];
    let mut t = [0.0; 2];
    for i in 0..10 {
        s = euler_step(s, k, 0.1);
        if i % 3 == 0 {
            t = [s[1] * k, s[0]];
        } else {
            t = s;
        }
    }
    s[0] + t[0] * t[1]
}

#[test]
fn fixed_size_arrays_assigned_whole() {
    for k in [2.0, 0.5] {
        let (value, g) = stepped_state::grad(k);
        assert_eq!(value, stepped_state(k));
        assert_gradient(|v| stepped_state(v[0]), &[k], &[g.k]);
    }
}

/// Samples of the user's, no derive: read only through a plain helper, the
/// slice is data even without `wrt` (an element passed whole to the helper is
/// fine).
pub struct Sample {
    pub label: usize,
}

fn weight_of(sample: &Sample) -> f64 {
    if sample.label == 0 {
        1.0
    } else {
        2.0
    }
}

#[differentiate]
fn weighted_square(k: f64, samples: &[Sample]) -> f64 {
    let mut s = 0.0;
    for sample in samples {
        s += weight_of(sample) * k * k;
    }
    s
}

#[test]
fn a_slice_of_structs_read_only_by_a_plain_helper_is_data() {
    let samples = [
        Sample { label: 0 },
        Sample { label: 1 },
        Sample { label: 0 },
    ];
    for k in [1.5, -0.5] {
        let (value, g) = weighted_square::grad(k, &samples);
        assert_eq!(value, weighted_square(k, &samples));
        assert_gradient(|v| weighted_square(v[0], &samples), &[k], &[g.k]);
    }
}

// Running maxima and minima, written as loops: the macro keeps the index of
// the element chosen (`desugar/extrema.rs`). The value is the function's to
// the bit, and the adjoint goes to the first element equal to the extremum.

#[allow(clippy::needless_range_loop)]
#[differentiate]
fn shifted_lse(x: &[f64]) -> f64 {
    let mut a = x[0];
    for i in 1..x.len() {
        a = a.max(x[i]);
    }
    let mut s = 0.0;
    for i in 0..x.len() {
        s += (x[i] - a).exp();
    }
    s.ln() + a
}

/// Every spelling: `if x[i] > m`, `f64::min`, `v.max(m)` (operands the other
/// way round), `m < x[i]`, a typed `let`, a minimum by `if`.
#[allow(clippy::needless_range_loop)]
#[differentiate]
fn extrema(x: &[f64], y: &[f64]) -> f64 {
    let mut top = x[0];
    for i in 1..x.len() {
        if x[i] > top {
            top = x[i];
        }
    }
    let mut low: f64 = y[1];
    for j in 0..y.len() {
        low = f64::min(low, y[j]);
    }
    let mut late = x[x.len() - 1];
    for k in (0..x.len()).rev() {
        late = x[k].max(late);
    }
    let mut up = y[0];
    for i in 0..y.len() {
        if up < y[i] {
            up = y[i];
        }
    }
    let mut down = x[0];
    for i in 0..x.len() {
        if x[i] < down {
            down = x[i];
        }
    }
    top * low + late.sin() + up * down
}

/// Not rewritten, and still right: a list of integers, a list whose name is
/// bound again, a loop that does more than keep the extremum.
#[allow(clippy::needless_range_loop)]
#[differentiate(wrt(x))]
fn extrema_left_alone(x: &[f64], r: &[usize]) -> f64 {
    let mut far = r[0];
    for i in 0..r.len() {
        far = far.max(r[i]);
    }
    let mut m = x[0];
    let mut seen = 0.0;
    for i in 0..x.len() {
        m = m.max(x[i]);
        seen += m;
    }
    m * seen + x[far % x.len()]
}

#[allow(clippy::needless_range_loop)]
#[differentiate]
fn running_max(x: &[f64]) -> f64 {
    let mut a = x[0];
    for i in 1..x.len() {
        a = a.max(x[i]);
    }
    2.0 * a
}

/// A softmax cross-entropy over logits computed in the function: the
/// running maximum of a local buffer.
#[differentiate(wrt(w))]
#[allow(clippy::needless_range_loop)]
fn softmax_loss(w: &[f64], x: &[f64], target: usize) -> f64 {
    let classes = w.len() / x.len();
    let mut logits = vec![0.0; classes];
    for c in 0..classes {
        for j in 0..x.len() {
            logits[c] += w[c * x.len() + j] * x[j];
        }
    }
    let mut top = logits[0];
    for c in 1..classes {
        top = top.max(logits[c]);
    }
    let mut total = 0.0;
    for c in 0..classes {
        total += (logits[c] - top).exp();
    }
    total.ln() + top - logits[target]
}

/// The generated `backward_core` in a function's `SOURCE`.
fn backward_pass(source: &str) -> &str {
    let start = source.find("fn backward_core").expect("a backward pass");
    let end = source[start..].find("\n}\n").expect("its end");
    &source[start..start + end]
}

#[test]
fn running_extrema_are_the_elements_they_choose() {
    let points: [[f64; 4]; 5] = [
        [0.3, -1.2, 2.5, 0.7],
        [2.5, 0.1, -0.4, 2.5],
        [-3.0, -2.0, -1.0, -0.5],
        [1.0, 1.0, 1.0, 1.0],
        [0.2, 4.0, -4.0, 3.9],
    ];
    for x in points {
        let y = [x[2] - 0.5, x[0] * 0.5, x[3], x[1]];
        let (value, g) = shifted_lse::grad(&x);
        assert_eq!(value.to_bits(), shifted_lse(&x).to_bits());
        assert_gradient(shifted_lse, &x, &g.x);
        let (value, g) = extrema::grad(&x, &y);
        assert_eq!(value.to_bits(), extrema(&x, &y).to_bits());
        let r = [2, 0, 3];
        let (value, h) = extrema_left_alone::grad(&x, &r);
        assert_eq!(value.to_bits(), extrema_left_alone(&x, &r).to_bits());
        // Away from ties, against finite differences.
        let distinct = x
            .iter()
            .enumerate()
            .all(|(i, a)| x[..i].iter().all(|b| a != b));
        if distinct {
            assert_gradient(|x| extrema(x, &y), &x, &g.x);
            assert_gradient(|y| extrema(&x, y), &y, &g.y);
            assert_gradient(|x| extrema_left_alone(x, &r), &x, &h.x);
        }
    }
    // A tie: the first of the equal elements gets the adjoint, as it did
    // through the chain of `max`es.
    assert_eq!(running_max::grad(&[1.0, 3.0, 3.0]).1.x, [0.0, 2.0, 0.0]);
    assert_eq!(running_max::grad(&[3.0, 1.0, 3.0]).1.x, [2.0, 0.0, 0.0]);
    assert_eq!(running_max::grad(&[-1.0, 1.0, 0.5]).1.x, [0.0, 2.0, 0.0]);
    // `max` skips a NaN where it starts, as the rewrite does.
    let (value, g) = running_max::grad(&[f64::NAN, 0.5, 2.0]);
    assert_eq!((value, &g.x[1..]), (4.0, &[0.0, 2.0][..]));
    // Rewritten: no `max` left in the backward pass, whose adjoint goes to
    // the element chosen (the forward pass keeps the maximum so far beside
    // its index, for the comparisons); the loop that does more than keep the
    // maximum keeps its `max`.
    assert!(!backward_pass(running_max::SOURCE).contains(".max("));
    assert!(!backward_pass(softmax_loss::SOURCE).contains(".max("));
    let x = [0.5, -1.0, 2.0];
    for w in [
        [0.1, 0.2, -0.3, 1.0, -0.5, 0.25],
        [2.0, 0.0, 1.0, -1.0, 0.5, 0.5],
    ] {
        for target in 0..2 {
            let (value, g) = softmax_loss::grad(&w, &x, target);
            assert_eq!(value.to_bits(), softmax_loss(&w, &x, target).to_bits());
            assert_gradient(|w| softmax_loss(w, &x, target), &w, &g.w);
        }
    }
    assert!(extrema_left_alone::SOURCE.contains(".max("));
}

// Folds that keep a maximum or minimum from a start (`f64::NEG_INFINITY`):
// the same index loop, the start staying the value when no element beats it.

/// Every spelling of the fold: `copied` and `f64::max`, `cloned` and a
/// closure, references and `|a, &b|`, a minimum, the operands the other way
/// round, a typed `let`.
#[differentiate]
fn folded_extrema(x: &[f64], y: &[f64]) -> f64 {
    let top = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let low: f64 = y.iter().cloned().fold(f64::INFINITY, |a, b| a.min(b));
    let up = y.iter().fold(-1.0e300, |m, &v| v.max(m));
    let down = x.iter().fold(f64::INFINITY, |m, &v| m.min(v));
    top * low + up.sin() + down * top
}

/// A start no element beats: the start is the value, and nothing flows back.
#[differentiate]
fn floored_max(x: &[f64]) -> f64 {
    let m = x.iter().copied().fold(10.0, f64::max);
    m * x[0]
}

#[test]
fn folded_extrema_are_the_elements_they_choose() {
    let points: [[f64; 4]; 4] = [
        [0.3, -1.2, 2.5, 0.7],
        [-3.0, -2.0, -1.0, -0.5],
        [0.2, 4.0, -4.0, 3.9],
        [1.5, 0.25, -0.75, 2.0],
    ];
    for x in points {
        let y = [x[2] - 0.5, x[0] * 0.5, x[3], x[1]];
        let (value, g) = folded_extrema::grad(&x, &y);
        assert_eq!(value.to_bits(), folded_extrema(&x, &y).to_bits());
        assert_gradient(|x| folded_extrema(x, &y), &x, &g.x);
        assert_gradient(|y| folded_extrema(&x, y), &y, &g.y);
        let (value, g) = floored_max::grad(&x);
        assert_eq!(value.to_bits(), floored_max(&x).to_bits());
        assert_gradient(floored_max, &x, &g.x);
    }
    // Above the start: the element chosen; at or below it, the start.
    assert_eq!(floored_max::grad(&[12.0, 3.0]).1.x, [12.0 + 12.0, 0.0]);
    assert_eq!(floored_max::grad(&[2.0, 3.0]).1.x, [10.0, 0.0]);
    assert_eq!(floored_max::grad(&[2.0, 10.0]).1.x, [10.0, 0.0]);
    // `NaN`s are skipped, as `max` and `min` skip them.
    assert_eq!(
        folded_extrema::grad(&[f64::NAN, 1.0], &[0.5, 0.25])
            .0
            .to_bits(),
        folded_extrema(&[f64::NAN, 1.0], &[0.5, 0.25]).to_bits()
    );
    assert!(!folded_extrema::SOURCE.contains(".max("));
    assert!(!folded_extrema::SOURCE.contains(".min("));
    assert!(!floored_max::SOURCE.contains(".max("));
}

// Running extrema of computed values (a distance per centroid): the index of
// the iteration chosen, and the value computed once more there.

#[differentiate]
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += (a[i] - b[i]) * (a[i] - b[i]);
    }
    s
}

/// Each point's squared distance to its nearest centre (`min` of a call),
/// the largest weighted sine (`f64::max`, a typed `let`), and the largest
/// of values no start beats (the start is the value).
#[differentiate(wrt(centres, w))]
#[allow(clippy::needless_range_loop)]
fn nearest(points: &[f64], centres: &[f64], w: f64, d: usize) -> f64 {
    let k = centres.len() / d;
    let mut cost = 0.0;
    for p in 0..points.len() / d {
        let a = &points[p * d..(p + 1) * d];
        let mut closest = f64::INFINITY;
        for j in 0..k {
            closest = closest.min(squared_distance(a, &centres[j * d..(j + 1) * d]));
        }
        cost += closest;
    }
    let mut top: f64 = f64::NEG_INFINITY;
    for j in 1..centres.len() {
        top = f64::max(top, (centres[j] * w).sin());
    }
    let mut floor = -1.0_f64;
    for j in 0..centres.len() {
        floor = floor.max(-centres[j] * centres[j] - 2.0);
    }
    cost + top * w + floor * w
}

/// Left alone, and still right: a range whose start is computed, and a
/// minimum of integers.
#[differentiate(wrt(x))]
#[allow(clippy::needless_range_loop)]
fn nearest_left_alone(x: &[f64], r: &[usize]) -> f64 {
    let mut m = f64::INFINITY;
    for j in x.len() / 2..x.len() {
        m = m.min(x[j] * x[j] + 1.0);
    }
    let mut low = usize::MAX;
    for j in 0..r.len() {
        low = low.min(r[j] * 2);
    }
    m * x[low % x.len()]
}

#[test]
fn running_extrema_of_computed_values_compute_the_chosen_one_again() {
    let points = [0.1, 0.2, -1.0, 0.4, 2.0, -0.3, 0.5, 0.5, -0.2, 1.5];
    let d = 2;
    for centres in [
        [0.05, 0.1, 1.1, 0.9, -1.0, 0.45],
        [0.3, -0.2, 2.0, 0.1, -0.5, 0.9],
    ] {
        for w in [0.7, -1.3] {
            let (value, g) = nearest::grad(&points, &centres, w, d);
            assert_eq!(value.to_bits(), nearest(&points, &centres, w, d).to_bits());
            assert_gradient(|c| nearest(&points, c, w, d), &centres, &g.centres);
            assert_gradient(|v| nearest(&points, &centres, v[0], d), &[w], &[g.w]);
        }
    }
    let r = [3, 1, 2];
    for x in [[0.5, -0.25, 2.0, 0.75], [1.0, 2.0, -0.5, 0.1]] {
        let (value, g) = nearest_left_alone::grad(&x, &r);
        assert_eq!(value.to_bits(), nearest_left_alone(&x, &r).to_bits());
        assert_gradient(|x| nearest_left_alone(x, &r), &x, &g.x);
    }
    // One distance differentiated per point: no `min` left, and no chain of
    // them saved; the computed start left alone keeps its `min`.
    assert!(!nearest::SOURCE.contains(".min("));
    assert!(!nearest::SOURCE.contains("f64::max(top"));
    assert!(nearest_left_alone::SOURCE.contains(".min("));
    // A tie: the first centre of two at the same distance gets the adjoint.
    let (_, g) = nearest::grad(&[0.0, 0.0], &[1.0, 0.0, -1.0, 0.0], 0.0, 2);
    assert_eq!(g.centres, [2.0, 0.0, 0.0, 0.0]);
}

/// The same with each candidate computed in the loop's body first: a
/// distance summed in a loop of its own (through a copy of the index), and a
/// score with a branch; the chosen one is computed again after the loop.
#[differentiate(wrt(centres, w))]
#[allow(clippy::needless_range_loop)]
fn nearest_computed_in_the_body(points: &[f64], centres: &[f64], w: f64, d: usize) -> f64 {
    let k = centres.len() / d;
    let mut cost = 0.0;
    for p in 0..points.len() / d {
        let mut closest = f64::INFINITY;
        for j in 0..k {
            let at = j * d;
            let mut dist = 0.0;
            for i in 0..d {
                let diff = points[p * d + i] - centres[at + i];
                dist += diff * diff;
            }
            closest = closest.min(dist);
        }
        cost += closest;
    }
    let mut best = f64::NEG_INFINITY;
    for j in 0..centres.len() {
        let mut score = centres[j] * w;
        if score < 0.0 {
            score *= -0.5;
        } else {
            score += 0.25;
        }
        best = best.max(score);
    }
    cost + best * w
}

/// Left alone, and still right: a body that changes a variable outside it
/// while computing its candidate (running it again would change it twice).
#[differentiate(wrt(x))]
#[allow(clippy::needless_range_loop)]
fn nearest_with_side_work(x: &[f64]) -> f64 {
    let mut m = f64::INFINITY;
    let mut seen = 0.0;
    for j in 0..x.len() {
        let v = x[j] * x[j] + 1.0;
        seen += v;
        m = m.min(v);
    }
    m * seen
}

#[test]
fn running_extrema_of_values_computed_in_the_body() {
    let points = [0.1, 0.2, -1.0, 0.4, 2.0, -0.3, 0.5, 0.5, -0.2, 1.5];
    for centres in [
        [0.05, 0.1, 1.1, 0.9, -1.0, 0.45],
        [0.3, -0.2, 2.0, 0.1, -0.5, 0.9],
    ] {
        for w in [0.7, -1.3] {
            let (value, g) = nearest_computed_in_the_body::grad(&points, &centres, w, 2);
            let f = |c: &[f64], w: f64| nearest_computed_in_the_body(&points, c, w, 2);
            assert_eq!(value.to_bits(), f(&centres, w).to_bits());
            assert_gradient(|c| f(c, w), &centres, &g.centres);
            assert_gradient(|v| f(&centres, v[0]), &[w], &[g.w]);
        }
    }
    for x in [[0.5, -0.25, 2.0, 0.75], [1.0, 2.0, -0.5, 0.1]] {
        let (value, g) = nearest_with_side_work::grad(&x);
        assert_eq!(value.to_bits(), nearest_with_side_work(&x).to_bits());
        assert_gradient(nearest_with_side_work, &x, &g.x);
    }
    assert!(!nearest_computed_in_the_body::SOURCE.contains(".min("));
    assert!(!nearest_computed_in_the_body::SOURCE.contains(".max("));
    assert!(nearest_with_side_work::SOURCE.contains(".min("));
    // A tie: the first centre of two at the same distance gets the adjoint.
    let (_, g) = nearest_computed_in_the_body::grad(&[0.0, 0.0], &[1.0, 0.0, -1.0, 0.0], 0.0, 2);
    assert_eq!(g.centres, [2.0, 0.0, 0.0, 0.0]);
}

/// Running extrema from starts that may be `NaN` (a parameter, `f64::NAN`)
/// and from `f64::NEG_INFINITY`, over elements (a comparison and a branch,
/// `NaN` kept giving way) and over computed values (the value kept is `min`
/// itself, and a candidate won where it changed it; from a start never
/// `NaN`, one comparison). Each skips a `NaN` candidate, as `min` and `max`
/// do, and a `NaN` start gives way to the first candidate.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn extrema_around_nans(x: &[f64], start: f64) -> f64 {
    let low = x.iter().fold(start, |m, &v| m.min(v));
    let mut high = f64::NEG_INFINITY;
    for i in 0..x.len() {
        high = high.max((x[i] - 0.5).sin());
    }
    let mut first = f64::NAN;
    for i in 0..x.len() {
        first = first.min(x[i] * x[i] - 1.0);
    }
    low * high + first
}

#[test]
fn running_extrema_skip_nans_as_min_and_max_do() {
    for name in ["low_at", "high_at", "first_at"] {
        assert!(extrema_around_nans::SOURCE.contains(name), "{name}");
    }
    // Of computed values, `min` for the value kept where the start may be
    // `NaN`, not from `NEG_INFINITY`; a fold over elements compares.
    assert!(extrema_around_nans::SOURCE.contains("first_updated"));
    assert!(!extrema_around_nans::SOURCE.contains("high_updated"));
    assert!(!extrema_around_nans::SOURCE.contains("low_updated"));
    let nan = f64::NAN;
    for x in [
        [0.3, 2.0, -1.5],
        [nan, 2.0, 0.5],
        [1.25, nan, -0.25],
        [nan, nan, 0.75],
    ] {
        for start in [nan, 0.0, 10.0, -5.0] {
            let (value, g) = extrema_around_nans::grad(&x, start);
            assert_eq!(value.to_bits(), extrema_around_nans(&x, start).to_bits());
            let plain = |x: &[f64], start: f64| extrema_around_nans(x, start);
            if x.iter().all(|v| !v.is_nan()) && !start.is_nan() {
                assert_gradient(|x| plain(x, start), &x, &g.x);
                assert_gradient(|s| plain(&x, s[0]), &[start], &[g.start]);
            }
            // A `NaN` element is never chosen: no adjoint reaches it.
            for (v, d) in x.iter().zip(&g.x) {
                if v.is_nan() {
                    assert_eq!(*d, 0.0);
                }
            }
        }
    }
    // By hand: a `NaN` start gives way and `NaN`s are skipped; both minima
    // are the last element's, the maximum the second's.
    let x = [nan, 2.0, 0.5];
    let (value, g) = extrema_around_nans::grad(&x, nan);
    let high = (2.0_f64 - 0.5).sin();
    assert_eq!(value, 0.5 * high + (0.5 * 0.5 - 1.0));
    assert_eq!(g.x, [0.0, 0.5 * (2.0_f64 - 0.5).cos(), high + 2.0 * 0.5]);
    assert_eq!(g.start, 0.0);
    // A start below every element is the minimum.
    let (_, g) = extrema_around_nans::grad(&x, -5.0);
    assert_eq!((g.x[2], g.start), (2.0 * 0.5, high));
}

/// Functions named where an adapter takes a closure.
#[differentiate]
fn named_adapters(x: &[f64]) -> f64 {
    let e: f64 = x.iter().copied().map(f64::exp).sum();
    let s: f64 = x.iter().map(|v| v * 0.5).map(f64::tanh).sum();
    e.ln() * s
}

#[differentiate]
fn named_adapters_generic<T: backprop_runtime::Float>(x: &[T]) -> T {
    x.iter()
        .copied()
        .map(T::sin)
        .fold(T::zero(), |a, b| a + b * b)
}

/// `for_each` as the loop it stands for: writing elements through
/// `iter_mut`, adding into a variable outside the closure, over a zip, with
/// a block for a body.
#[differentiate]
fn with_for_each(x: &[f64], y: &[f64], k: f64) -> f64 {
    let mut v = x.to_vec();
    v.iter_mut().for_each(|e| *e *= k);
    let mut total = 0.0;
    v.iter().zip(y).for_each(|(a, b)| total += a * b);
    x.iter().enumerate().for_each(|(i, &a)| {
        if i % 2 == 0 {
            total += a.sin();
        } else {
            total -= a * k;
        }
    });
    total
}

#[test]
fn named_functions_and_for_each() {
    for x in [vec![0.3, -1.2, 0.8], vec![1.5, 0.25, -0.5, 2.0]] {
        let (value, g) = named_adapters::grad(&x);
        assert_eq!(value, named_adapters(&x));
        assert_gradient(named_adapters, &x, &g.x);
        let (value, g) = named_adapters_generic::grad(&x);
        assert_eq!(value, named_adapters_generic(&x));
        assert_gradient(named_adapters_generic, &x, &g.x);

        let y: Vec<f64> = x.iter().map(|v| 0.5 - v).collect();
        let n = x.len();
        let (value, g) = with_for_each::grad(&x, &y, 1.3);
        assert_eq!(value, with_for_each(&x, &y, 1.3));
        let f = |p: &[f64]| with_for_each(&p[..n], &p[n..2 * n], p[2 * n]);
        let point = [x.clone(), y.clone(), vec![1.3]].concat();
        let analytic = [g.x, g.y, vec![g.k]].concat();
        assert_gradient(f, &point, &analytic);
    }
}

/// A vector taken by value, whose elements the backward pass reads again:
/// the passes that read it after the forward pass (`grad_into`,
/// `forward_into`, `graph`, `jacobian_fwd`) kept using it after moving it
/// into `forward_core` (E0382 inside the expansion).
#[differentiate]
fn owned_vector(x: Vec<f64>, k: f64) -> f64 {
    x.iter().map(|v| (v * k).sin() * v).sum()
}

#[test]
fn a_vector_taken_by_value() {
    let x = vec![0.3, -1.2, 0.8, 2.0, -0.4, 1.1, 0.6, -0.9, 1.7];
    let (value, g) = owned_vector::grad(x.clone(), 1.3);
    assert_eq!(value, owned_vector(x.clone(), 1.3));
    let n = x.len();
    let f = |p: &[f64]| owned_vector(p[..n].to_vec(), p[n]);
    let point = [x.clone(), vec![1.3]].concat();
    assert_gradient(f, &point, &[g.x.clone(), vec![g.k]].concat());
    let (_, tape) = owned_vector::forward(x.clone(), 1.3);
    assert_eq!(owned_vector::backward(&tape, 1.0), g);
    // Nine inputs: two passes of eight lanes, each given the vector again.
    let (_, j) = owned_vector::jacobian_fwd(x.clone(), 1.3);
    for (forward, reverse) in j.x.iter().chain([&j.k]).zip(g.x.iter().chain([&g.k])) {
        assert!((forward - reverse).abs() <= 1e-12 * reverse.abs().max(1.0));
    }
    // (The picture's pass sums the loop last to first: to rounding.)
    let graph = owned_vector::graph(x, 1.3);
    let drawn = graph.node("k").and_then(|n| n.adjoint).unwrap_or(f64::NAN);
    assert!((drawn - g.k).abs() <= 1e-12 * g.k.abs().max(1.0));
}

/// `if let Some(v) = x.first()` (`last()`, `get(i)`, `Some(&v)`, with and
/// without `else`): the element read where it exists. Was refused (`if let`).
#[differentiate]
fn ends_through_if_let(x: &[f64], i: usize) -> f64 {
    let mut s = 0.0;
    if let Some(v) = x.first() {
        s += *v * 2.0;
    }
    if let Some(&v) = x.last() {
        s += v * v;
    }
    if let Some(v) = x.get(i) {
        s += v.sin();
    } else {
        s -= 1.0;
    }
    s
}

#[test]
fn elements_read_through_if_let() {
    let x = [0.3, -1.2, 2.0, 0.7];
    // Both sides of `get`'s test; an empty slice takes none of the branches.
    for i in [2, 7] {
        let (value, g) = ends_through_if_let::grad(&x, i);
        assert_eq!(value, ends_through_if_let(&x, i));
        assert_gradient(|v| ends_through_if_let(v, i), &x, &g.x);
    }
    let (value, g) = ends_through_if_let::grad(&[], 0);
    assert_eq!((value, g.x.iter().all(|d| *d == 0.0)), (-1.0, true));
}

/// Data taken by value that a call moves (a `String`, a `Vec<usize>`, a
/// struct of the user's left out of `wrt`): did not compile (E0382 in
/// `jacobian_fwd`'s passes, which take the arguments again each pass; it is
/// not generated for such a function).
#[derive(Clone, Debug)]
pub struct Options {
    pub scale: f64,
    pub label: String,
}

#[differentiate(wrt(x))]
fn owned_data(x: f64, opts: Options, label: String, picks: Vec<usize>) -> f64 {
    x * opts.scale * label.len() as f64 + x * x * picks[0] as f64
}

#[test]
fn data_taken_by_value() {
    let opts = Options {
        scale: 1.5,
        label: "o".into(),
    };
    let (value, g) = owned_data::grad(2.0, opts.clone(), "ab".into(), vec![3]);
    assert_eq!(value, owned_data(2.0, opts.clone(), "ab".into(), vec![3]));
    assert_gradient(
        |v| owned_data(v[0], opts.clone(), "ab".into(), vec![3]),
        &[2.0],
        &[g.x],
    );
    assert_eq!(opts.label, "o");
}

/// `reduce` of a slice's elements with a function (`f64::max`) or a closure,
/// unwrapped or with a default: the `fold` from the first element. Was
/// refused (an unsupported chain).
#[differentiate]
fn reduced(x: &[f64]) -> f64 {
    let top = x.iter().copied().reduce(f64::max).unwrap_or(0.0);
    let low = x.iter().cloned().reduce(|a, b| a.min(b)).unwrap();
    top * low
        + x.iter()
            .copied()
            .reduce(|a, b| a * 0.5 + b)
            .expect("values")
}

#[test]
fn reductions_by_reduce() {
    for x in [[0.3, -1.2, 2.0, 0.7], [1.5, 0.2, -0.4, 0.9]] {
        let (value, g) = reduced::grad(&x);
        assert_eq!(value, reduced(&x));
        assert_gradient(reduced, &x, &g.x);
    }
}

/// A constant of the module, which a constant of the body reads.
const SCALE: f64 = 2.0;

mod units {
    pub const TURN: f64 = std::f64::consts::TAU;
}

/// `const` and `use` items among the body's statements: an array's length,
/// a constant computed from the module's, a path through `self` (the
/// generated passes sit one module deeper). Were refused as items.
#[differentiate]
fn with_items(x: &[f64]) -> f64 {
    use self::units::TURN;
    use std::f64::consts::PI;
    const EPS: f64 = 1e-3;
    const N: usize = 3;
    const HALF_SCALE: f64 = SCALE / 2.0;
    let mut acc = [0.0; N];
    for i in 0..N {
        acc[i] = (x[i] * PI).sin() * HALF_SCALE + EPS * x[i] / TURN;
    }
    acc[0] * acc[1] + acc[2]
}

#[test]
fn constants_and_uses_inside_the_body() {
    for x in [[0.3, -1.2, 2.0], [1.5, 0.2, -0.4]] {
        let (value, g) = with_items::grad(&x);
        assert_eq!(value, with_items(&x));
        assert_gradient(with_items, &x, &g.x);
    }
}

/// `all` and `any` over a differentiated slice, in a condition and bound to
/// a name: the loop that checks each element, its result not
/// differentiated. Were refused (an unsupported chain).
#[differentiate]
fn guarded(x: &[f64]) -> f64 {
    let positive = x.iter().all(|v| *v > 0.0);
    let large = x.iter().map(|v| v * v).any(|s| s > 4.0);
    let entropy = if positive {
        x.iter().map(|v| -v * v.ln()).sum()
    } else {
        x.iter().map(|v| v * v).sum::<f64>()
    };
    if large || x.iter().zip(x.iter().skip(1)).any(|(a, b)| a > b) {
        entropy * 0.5
    } else {
        entropy
    }
}

#[test]
fn all_and_any_as_conditions() {
    // Each side of each condition.
    for x in [
        [0.3, 1.2, 0.5],
        [0.3, 0.5, 1.2],
        [0.3, 2.5, 0.5],
        [-0.3, 1.2, 0.5],
        [-0.3, 0.5, 1.2],
    ] {
        let (value, g) = guarded::grad(&x);
        assert_eq!(value, guarded(&x));
        assert_gradient(guarded, &x, &g.x);
    }
}

/// A vector sorted in place (`sort_by` with `partial_cmp`, `sort_unstable_by`
/// descending with `total_cmp`) and reversed: each element's adjoint follows
/// it to where it was put. Were refused (an order changed in place).
#[differentiate]
fn order_statistics(x: &[f64]) -> f64 {
    let mut y = x.to_vec();
    y.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = y.len();
    let median = if n % 2 == 1 {
        y[n / 2]
    } else {
        0.5 * (y[n / 2 - 1] + y[n / 2])
    };
    let mut squares: Vec<f64> = x.iter().map(|v| v * v).collect();
    squares.sort_unstable_by(|&a, &b| b.total_cmp(&a));
    squares.reverse();
    median * 3.0 + squares[n - 1] * 2.0 + squares[n - 2] - squares[0]
}

#[test]
fn sorted_and_reversed_in_place() {
    for x in [
        vec![0.3, -1.2, 2.0, 0.7],
        vec![1.5, 0.2, -0.4, 0.9, -2.0],
        vec![-0.1, 0.8, 0.25],
    ] {
        let (value, g) = order_statistics::grad(&x);
        assert_eq!(value, order_statistics(&x));
        assert_gradient(order_statistics, &x, &g.x);
    }
}

/// `to_owned()` of a slice, as `to_vec()`: a copy written in place. Was
/// refused (a slice's method).
#[differentiate]
fn owned_copy(x: &[f64]) -> f64 {
    let mut v = x.to_owned();
    for i in 1..v.len() {
        v[i] += v[i - 1] * 0.5;
    }
    v.iter().map(|a| a * a).sum()
}

#[test]
fn a_slice_to_owned() {
    for x in [[0.3, -1.2, 2.0], [1.5, 0.2, -0.4]] {
        let (value, g) = owned_copy::grad(&x);
        assert_eq!(value, owned_copy(&x));
        assert_gradient(owned_copy, &x, &g.x);
    }
}

fn polar(x: f64, y: f64) -> (f64, f64) {
    (x.hypot(y), y.atan2(x))
}

/// Tuple locals read through their elements, `t.0`: a literal, a call's
/// tuple, `sin_cos`, a branch's, assigned whole and element by element, and
/// passed whole to a `let` pattern. Were refused ("a tuple of differentiated
/// values is supported only as `let (a, b) = (x, y);`").
#[differentiate]
fn tuple_locals(x: f64, y: f64) -> f64 {
    let t = (x * y, x + y);
    let r = polar(x, y);
    let sc = y.sin_cos();
    let mut acc: (f64, f64) = (t.0.sin(), 1.0);
    acc.1 *= r.0;
    let ordered = if t.0 > t.1 { (t.0, t.1) } else { (t.1, t.0) };
    for _ in 0..3 {
        acc = (acc.1 * 0.5, acc.0 + sc.1);
    }
    let (lo, hi) = ordered;
    acc.0 * acc.1 + r.1 * sc.0 + hi - 2.0 * lo
}

#[test]
fn tuple_locals_read_by_element() {
    // Both sides of `t.0 > t.1`.
    for (x, y) in [(0.7, 1.3), (-0.4, 0.9), (2.0, 0.3)] {
        check!(tuple_locals(x = x, y = y));
    }
}

/// A matrix as a vector of vectors, `vec![vec![0.0; n]; n]`, written and
/// read as `a[i][j]`, its rows' lengths and count asked, and its rows summed
/// in a chain: the log-determinant by Gaussian elimination. Was refused
/// ("only elements of a local buffer can be assigned to").
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn eliminated_log_det(x: &[f64]) -> f64 {
    let n = x.len();
    let mut a: Vec<Vec<f64>> = vec![vec![0.0; n]; n];
    for i in 0..a.len() {
        for j in 0..a[i].len() {
            a[i][j] = if i == j {
                2.0 + x[i] * x[i]
            } else {
                0.3 * x[i] * x[j]
            };
        }
    }
    let mut log_det = 0.0;
    for k in 0..n {
        let pivot = a[k][k];
        log_det += pivot.abs().ln();
        for i in k + 1..n {
            let m = a[i][k] / pivot;
            for j in k..n {
                a[i][j] -= m * a[k][j];
            }
        }
    }
    let rows: f64 = a.iter().map(|row| row.iter().sum::<f64>()).sum();
    log_det + rows / a.len() as f64
}

/// Rows of a fixed width, `vec![[0.0; 2]; n]`, in a chain over the rows.
#[differentiate]
fn paired_rows(x: &[f64]) -> f64 {
    let mut m = vec![[0.0; 2]; x.len()];
    for i in 0..x.len() {
        m[i][0] = x[i].sin();
        m[i][1] = x[i].cos() * x[0];
    }
    m.iter().map(|r| r[0] * r[1]).sum()
}

/// A small matrix written out, `[[a, b, c], ..]` of differentiated values
/// (a 3x3 `[[f64; 3]; 3]`, typed or not), multiplied, read by row and
/// element, a row viewed and a row written. Was refused ("an array of
/// differentiated values is supported as a variable").
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn written_out_matrices(x: &[f64]) -> f64 {
    let m: [[f64; 3]; 3] = [[x[0], x[1], 0.0], [x[1], x[2], x[0]], [0.0, x[0], x[2]]];
    let mut r = [[x[2].cos(), 1.0], [0.5, x[1] * x[0]]];
    let v = [1.0, 2.0, 3.0];
    let mut s = 0.0;
    for i in 0..3 {
        let mut row = 0.0;
        for j in 0..3 {
            row += m[i][j] * v[j];
        }
        s += row * row;
    }
    r[1][0] = m[2][2] * r[0][0];
    r[0] = [x[0].sin(), m[1][1]];
    let first = &r[0];
    s + first[0] * first[1] + r[1][0] * r[1][1] + m.len() as f64
}

/// A slice split at an end, as Rust spells it: `split_first`/`split_last`
/// unwrapped (the element a reference, read through `*` or not, or taken
/// by `&`), tested by `if let`, and a tuple of an element and a view.
#[differentiate]
fn split_at_the_ends(x: &[f64]) -> f64 {
    let (first, rest) = x.split_first().unwrap();
    let mut s = *first * 2.0;
    for v in rest {
        s += v * first;
    }
    let (&last, init) = x.split_last().expect("at least one element");
    let (_, tail) = x.split_first().unwrap();
    s += last * init.iter().sum::<f64>() + tail.iter().map(|v| v.sin()).sum::<f64>();
    if let Some((head, others)) = x.split_first() {
        s += *head * others.len() as f64;
    }
    if let Some((&end, _)) = x.split_last() {
        if end > 0.0 {
            s += end.exp();
        }
    } else {
        s -= 1.0;
    }
    let (a, middle) = (x[0], &x[1..x.len() - 1]);
    s + a * middle.iter().map(|v| v * v).sum::<f64>()
}

/// The same as vectors, `vec![vec![..], ..]` and `vec![[..], ..]`, walked by
/// row length and count and in a chain over the rows.
#[differentiate]
#[allow(clippy::needless_range_loop, clippy::useless_vec)]
fn written_out_vectors_of_rows(x: &[f64]) -> f64 {
    let m = vec![vec![x[0], x[1]], vec![x[2], x[0] * x[1]]];
    let n = vec![[x[1], 1.0], [x[2].sin(), x[0]]];
    let mut s = 0.0;
    for i in 0..m.len() {
        for j in 0..m[i].len() {
            s += m[i][j] * n[j][i];
        }
    }
    s + m.iter().map(|r| r[0] * r[1]).sum::<f64>()
}

/// A vector assigned a chain of `map`s over itself, as iterative code
/// writes each step (`v = v.iter().map(..).collect();`, reversed, enumerated,
/// in a loop): written back in place, every element read first.
#[differentiate]
fn collected_back(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    for _ in 0..2 {
        v = v.iter().map(|a| a * a * 0.5 + 0.25).collect();
    }
    v = v.iter().rev().cloned().collect();
    v = v
        .iter()
        .enumerate()
        .map(|(i, a)| a * (i as f64 + 1.0) + x[0])
        .collect();
    v[0] * 3.0 + v[1] * v[v.len() - 1]
}

#[test]
fn matrices_as_vectors_of_rows() {
    for x in [vec![0.3, -1.2, 2.0, 0.7], vec![1.5, 0.2, -0.4], vec![-0.8]] {
        let (value, g) = eliminated_log_det::grad(&x);
        assert_eq!(value, eliminated_log_det(&x));
        assert_gradient(eliminated_log_det, &x, &g.x);
        let (value, g) = paired_rows::grad(&x);
        assert_eq!(value, paired_rows(&x));
        assert_gradient(paired_rows, &x, &g.x);
    }
    for x in [vec![0.3, -1.2, 0.8], vec![1.1, 0.4, -2.0, 0.6]] {
        let (value, g) = collected_back::grad(&x);
        assert_eq!(value, collected_back(&x));
        assert_gradient(collected_back, &x, &g.x);
    }
    for x in [[0.3, -1.2, 0.8], [1.1, 0.4, -2.0]] {
        let (value, g) = written_out_matrices::grad(&x);
        assert_eq!(value, written_out_matrices(&x));
        assert_gradient(written_out_matrices, &x, &g.x);
        let (value, g) = written_out_vectors_of_rows::grad(&x);
        assert_eq!(value, written_out_vectors_of_rows(&x));
        assert_gradient(written_out_vectors_of_rows, &x, &g.x);
    }
}

/// Sizes and counters bound to bare integer literals, `let n = 3;`, used in
/// indices, a `vec!` length and ranges: typed `usize` as rustc infers. Were
/// refused ("its type cannot be inferred from the code").
#[differentiate]
fn product_norm(a: &[f64], b: &[f64]) -> f64 {
    let n = 3;
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            for k in 0..n {
                c[i * n + j] += a[i * n + k] * b[k * n + j];
            }
        }
    }
    let mut trace = 0.0;
    let mut d = 0;
    while d < n {
        trace += c[d * n + d].sin();
        d += 1;
    }
    c.iter().map(|v| v * v).sum::<f64>().sqrt() + trace
}

#[test]
fn literal_sizes_and_counters() {
    let mut rng = common::Rng::new(7);
    for _ in 0..3 {
        let ab: Vec<f64> = (0..18).map(|_| rng.uniform(-1.5, 1.5)).collect();
        let (a, b) = ab.split_at(9);
        let (value, g) = product_norm::grad(a, b);
        assert_eq!(value, product_norm(a, b));
        let both = [g.a, g.b].concat();
        assert_gradient(|v| product_norm(&v[..9], &v[9..]), &ab, &both);
    }
}

/// Vectors grown by `extend_from_slice` and `extend` (of a chain's values,
/// of a slice's references, of a filtered part): the loops of pushes they
/// stand for. Were refused ("changes a vector in place").
#[differentiate]
fn extended(x: &[f64], scale: f64) -> f64 {
    let squares: Vec<f64> = x.iter().map(|a| a * a).collect();
    let mut all = Vec::new();
    all.extend_from_slice(&squares);
    all.extend(x.iter().map(|a| a * scale));
    all.extend(x.iter().rev().filter(|a| **a > 0.0));
    all.extend_from_slice(&x[1..]);
    all.iter()
        .enumerate()
        .map(|(i, v)| v * (i as f64 + 1.0).sqrt())
        .sum()
}

#[test]
fn vectors_grown_by_extend() {
    for x in [[1.0, -2.0, 3.0], [-0.5, 0.25, -1.5]] {
        for scale in [0.5, -1.25] {
            let (value, g) = extended::grad(&x, scale);
            assert_eq!(value, extended(&x, scale));
            let f = |v: &[f64]| extended(&v[..3], v[3]);
            let point = [x[0], x[1], x[2], scale];
            assert_gradient(f, &point, &[g.x, vec![g.scale]].concat());
        }
    }
}

const LIMIT: usize = 2;

/// A `match` on a tuple: of comparisons (as a value), of integers with an
/// `|`, a range, a constant and a guard (as statements). Was refused ("a
/// tuple of differentiated values is supported bound by a `let`").
#[differentiate]
fn quadrant(a: f64, b: f64, n: usize) -> f64 {
    let mut r = match (a > 0.0, b > 0.0) {
        (true, true) => a * b,
        (true, false) => a - b * b,
        (false, true) => a.sin() + b,
        _ => a + b,
    };
    match (n % 3, n) {
        (2, LIMIT) => r *= 2.0,
        (0 | 1, 3..=5) => r += a * a,
        (2, _) if a > b => r -= b.exp(),
        _ => r = r * 0.5 + a,
    }
    r
}

#[test]
fn matches_on_tuples() {
    // Every quadrant, and every arm of the second `match` (its guard both ways).
    for (a, b) in [(0.7, 1.3), (0.9, -0.4), (-0.6, 0.8), (-0.5, -1.1)] {
        for n in [2, 3, 4, 5, 7, 8, 9] {
            check!(quadrant(a = a, b = b, n));
        }
    }
}

/// A vector filled with a differentiated value, then stepped in place: each
/// element starts as the same `x0`.
#[differentiate]
fn geometric_fill(x0: f64, k: f64, n: usize) -> f64 {
    let mut v = vec![x0; n];
    for i in 1..n {
        v[i] = v[i - 1] * k + 0.1;
    }
    v.iter().sum()
}

/// Arrays filled with a value (`[x; 3]`, `vec![x.sin(); n]`) read and written
/// after, beside arrays built by `std::array::from_fn`.
#[differentiate]
fn fills_and_from_fn(a: &[f64], b: &[f64]) -> f64 {
    let corner: [f64; 3] = [a[0] * a[1]; 3];
    let mut waves = vec![a[1].sin(); a.len()];
    waves[0] += corner[1];
    let products: [f64; 3] = std::array::from_fn(|i| a[i] * b[i]);
    let pairs = std::array::from_fn::<f64, 2, _>(|k: usize| {
        let t = products[k] + products[k + 1];
        t * t
    });
    let first: [f64; 2] = core::array::from_fn(|_| b[0]);
    waves.iter().zip(b).map(|(w, v)| w * v).sum::<f64>()
        + corner[2] * pairs[0]
        + pairs[1] * first[1]
}

#[differentiate]
fn sum_of_squares(v: &[f64]) -> f64 {
    v.iter().map(|q| q * q).sum()
}

/// Filled buffers where no `let` names them: iterated, and lent to a call.
#[differentiate]
fn unnamed_fills(x: f64, n: usize) -> f64 {
    let three: f64 = [x * 2.0; 3].iter().sum();
    let mut waves = 0.0;
    for v in &vec![x.sin(); n] {
        waves += v * v;
    }
    three + waves + sum_of_squares(&vec![x; n]) + sum_of_squares(&[x * 0.5; 2])
}

#[differentiate]
fn single_fill(x: f32, n: usize) -> f32 {
    let v = vec![x * 2.0; n];
    let mut s = 0.0;
    for (i, value) in v.iter().enumerate() {
        s += value * (i as f32 + 1.0);
    }
    s
}

#[test]
fn buffers_filled_with_a_value_and_arrays_from_fn() {
    for (x0, k) in [(0.7, 0.9), (-1.3, 1.4)] {
        let (value, g) = geometric_fill::grad(x0, k, 5);
        assert_eq!(value, geometric_fill(x0, k, 5));
        assert_gradient(|v| geometric_fill(v[0], v[1], 5), &[x0, k], &[g.x0, g.k]);
    }
    for (a, b) in [
        ([0.5, 1.5, -0.3], [1.1, 0.2, 0.7]),
        ([-2.0, 0.4, 1.0], [0.3, -0.8, 2.2]),
    ] {
        let (value, g) = fills_and_from_fn::grad(&a, &b);
        assert_eq!(value, fills_and_from_fn(&a, &b));
        let joined = [a, b].concat();
        assert_gradient(
            |v| fills_and_from_fn(&v[..3], &v[3..]),
            &joined,
            &[g.a, g.b].concat(),
        );
    }
    for x in [0.7, -2.1] {
        let (_, g) = unnamed_fills::grad(x, 4);
        assert_gradient(|v| unnamed_fills(v[0], 4), &[x], &[g.x]);
    }
    // d/dx of 2x (1 + 2 + 3 + 4) is 20, exactly.
    assert_eq!(single_fill::grad(0.7, 4).1.x, 20.0);
}

/// Quadrature weights, a table of constants, zipped with the inputs.
const WEIGHTS: [f64; 3] = [0.2, 0.5, 0.3];

#[differentiate]
fn weighted_by_constants(x: &[f64]) -> f64 {
    let front: f64 = WEIGHTS.iter().zip(x).map(|(w, v)| w * v.sin()).sum();
    let back = x
        .iter()
        .zip(WEIGHTS.iter())
        .map(|(v, w)| w * v * v)
        .sum::<f64>();
    let mut by_loop = 0.0;
    for (w, v) in WEIGHTS.iter().zip(x) {
        by_loop += w * v.exp();
    }
    for (v, w) in x.iter().zip(&WEIGHTS) {
        by_loop += v.cos() * w;
    }
    let mut shifts = 0.0;
    for w in &WEIGHTS {
        shifts += w + x[0] * x[1];
    }
    front + back + by_loop + shifts
}

/// References taken of constants and of data, with and without their type:
/// the backward pass takes them again (a tape holds no references).
#[differentiate(wrt(x))]
#[allow(clippy::needless_range_loop)]
fn through_references(x: &[f64], data: &[f64]) -> f64 {
    let ws: &[f64] = &WEIGHTS;
    let table = &WEIGHTS;
    let tail: &[f64] = &data[1..];
    let first = &data[0];
    let mut s = ws[0] * x[0] * x[0] + first * x[1].sin();
    for i in 0..x.len() {
        s += ws[i] * x[i].sin() + table[2 - i] * x[i] * tail[i];
    }
    // Walked by a chain whose elements the backward pass needs.
    let untyped: &[_] = &WEIGHTS;
    s += untyped
        .iter()
        .zip(x)
        .map(|(w, v)| w * v.sin() * v)
        .sum::<f64>();
    // Loops over the constant's elements, by reference, each needed too.
    for w in &WEIGHTS {
        s += w * x[0].sin() * x[1] + w.exp() * x[2];
    }
    for w in WEIGHTS.iter() {
        s += x[1].cos() * w * x[2] - *w * x[0];
    }
    s
}

/// Loops over a name bound without a type to a constant or a reference to
/// one: whether each element is a value or a reference only the compiler
/// knows, and the backward pass needs them all.
#[differentiate]
fn over_untyped_lists(x: &[f64]) -> f64 {
    let ws = &WEIGHTS;
    let vs = WEIGHTS;
    let mut s = 0.0;
    for w in ws {
        s += w * x[0] * x[1];
    }
    for w in ws.iter() {
        s += (w * 2.0).sin() * x[2] * x[2];
    }
    for (i, w) in ws.iter().enumerate() {
        let v = *w;
        if v > 0.25 {
            s += v * x[i] * x[0];
        } else {
            s -= w.exp() * x[i].cos();
        }
    }
    for w in ws.iter().rev() {
        s = s * w + x[1];
    }
    for v in vs {
        s += v * x[2].sin() * x[0];
    }
    s
}

/// Points of data in a `static` of a struct that is not `Copy`, walked by
/// reference: each element stays a reference (its fields are read).
pub struct TimedSample {
    pub t: f64,
    pub y: f64,
}

static SAMPLES: [TimedSample; 3] = [
    TimedSample { t: 0.5, y: 1.0 },
    TimedSample { t: -1.0, y: 2.0 },
    TimedSample { t: 2.0, y: -0.5 },
];

#[differentiate]
fn fit_to_samples(w: f64, b: f64) -> f64 {
    let mut loss = 0.0;
    for s in &SAMPLES {
        loss += (s.t * w + b - s.y).powi(2);
    }
    loss
}

/// Capitals name a matrix as often as a constant: `A` here is a parameter,
/// `B` a local array, both read where they are.
#[allow(non_snake_case)]
#[differentiate]
fn capitalized_variables(A: &[f64], x: &[f64]) -> f64 {
    let mut s: f64 = A.iter().zip(x).map(|(a, v)| a * v).sum();
    let B = [x[0], x[1]];
    for b in &B {
        s += b * b;
    }
    s + x.iter().zip(A.iter()).map(|(v, a)| a * v * v).sum::<f64>()
}

#[test]
fn loops_over_untyped_lists() {
    // Both sides of the branch: the elements 0.2 and 0.3, 0.5.
    for x in [[0.3, 1.1, -0.5], [-1.4, 0.2, 2.5], [0.9, -0.6, 0.1]] {
        let (value, g) = over_untyped_lists::grad(&x);
        assert_eq!(value, over_untyped_lists(&x));
        assert_gradient(over_untyped_lists, &x, &g.x);
        let (_, slope) = over_untyped_lists::tangent(&x, &[0.5, -1.0, 2.0]);
        let along = 0.5 * g.x[0] - g.x[1] + 2.0 * g.x[2];
        assert!((slope - along).abs() < 1e-12 * (1.0 + along.abs()));
    }
}

/// The ends of a slice through `let .. else`, as Rust code that guards an
/// empty slice writes them: `let Some(&first) = x.first() else { return ..
/// };`, the element by reference or not, `get(i)` through `copied()`, a
/// split, and in a loop with `continue`. Was refused ("`let ... else` is
/// not supported").
#[differentiate]
fn guarded_ends(x: &[f64], idx: &[usize]) -> f64 {
    let Some(&first) = x.first() else {
        return 0.0;
    };
    let Some(last) = x.last() else {
        return 1.0;
    };
    let Some((_, rest)) = x.split_first() else {
        return 2.0;
    };
    let mut s = first * 2.0 + last * last + (*last).sin() + rest.iter().sum::<f64>();
    for &i in idx {
        let Some(v) = x.get(i).copied() else {
            continue;
        };
        s += v * v;
    }
    s
}

#[test]
fn slices_split_at_the_ends() {
    // Both sides of `end > 0.0`.
    for x in [
        vec![0.3, -1.2, 2.0, 0.7],
        vec![1.5, 0.2, -0.4],
        vec![-0.8, 0.5],
    ] {
        let (value, g) = split_at_the_ends::grad(&x);
        assert_eq!(value, split_at_the_ends(&x));
        assert_gradient(split_at_the_ends, &x, &g.x);
    }
}

#[test]
fn ends_guarded_by_let_else() {
    let idx = [0usize, 7, 2, 2];
    for x in [vec![0.3, -1.2, 0.8], vec![1.5, 0.2], vec![-0.8]] {
        let (value, g) = guarded_ends::grad(&x, &idx);
        assert_eq!(value, guarded_ends(&x, &idx));
        assert_gradient(|x| guarded_ends(x, &idx), &x, &g.x);
    }
    // The `else` taken: the value, and nothing to differentiate.
    let (value, g) = guarded_ends::grad(&[], &idx);
    assert_eq!((value, g.x.iter().all(|d| *d == 0.0)), (0.0, true));
}

#[test]
fn tables_of_constants_zipped_with_the_inputs() {
    let (a, x) = ([0.1, 0.2, 0.3], [0.5, -0.4, 1.2]);
    let (_, g) = capitalized_variables::grad(&a, &x);
    assert_gradient(
        |v| capitalized_variables(&v[..3], &v[3..]),
        &[a, x].concat(),
        &[g.A, g.x].concat(),
    );
    for x in [[0.3, 1.1, -0.5], [-1.4, 0.2, 2.5]] {
        let (value, g) = weighted_by_constants::grad(&x);
        assert_eq!(value, weighted_by_constants(&x));
        assert_gradient(weighted_by_constants, &x, &g.x);
        let (value, g) = fit_to_samples::grad(x[0], x[1]);
        assert_eq!(value, fit_to_samples(x[0], x[1]));
        assert_gradient(|v| fit_to_samples(v[0], v[1]), &x[..2], &[g.w, g.b]);
        let data = [0.7, -1.2, 0.4, 2.0];
        let (value, g) = through_references::grad(&x, &data);
        assert_eq!(value, through_references(&x, &data));
        assert_gradient(|x| through_references(x, &data), &x, &g.x);
        // A later `backward` reads the data the tape kept, not the caller's.
        let (_, tape) = through_references::forward(&x, &data);
        assert_eq!(through_references::backward(&tape, 1.0), g);
        // Forward mode, one direction and three at once.
        let (_, slope) = through_references::tangent(&x, &data, &[0.5, -1.0, 2.0]);
        let along = 0.5 * g.x[0] - g.x[1] + 2.0 * g.x[2];
        assert!((slope - along).abs() < 1e-12 * (1.0 + along.abs()));
        let (_, rows) = through_references::jacobian_fwd(&x, &data);
        assert!(rows.x.iter().zip(&g.x).all(|(a, b)| (a - b).abs() < 1e-12));
    }
}

/// The squared distance of two points, a plain helper.
fn distance_squared(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
}

/// A list of a slice's chunks, as Rust code splits positions into atoms
/// and a flat matrix into rows: `let atoms: Vec<&[f64]> =
/// pos.chunks(3).collect();`, read by element (`atoms[i][1]`), as a chunk
/// (`atoms[i].iter()`, passed to a helper), counted and looped over; the
/// last chunk may be short. Was refused ("this iterator chain over a
/// differentiated slice is not supported"). (`&atoms[j]` borrows a
/// reference, as code written for `Vec<Vec<f64>>` does.)
#[differentiate]
#[allow(clippy::needless_borrow)]
fn pairs_of_atoms(pos: &[f64]) -> f64 {
    let atoms: Vec<&[f64]> = pos.chunks(3).collect();
    let n = atoms.len();
    let mut e = 0.0;
    for i in 0..n {
        for j in 0..i {
            e += (-distance_squared(atoms[i], &atoms[j])).exp();
        }
        e += atoms[i][0] * atoms[i].iter().sum::<f64>() / atoms[i].len() as f64;
    }
    for atom in &atoms {
        e += atom[atom.len() - 1].sin();
    }
    e
}

/// The same sum with the chunks' indices written out: the oracle.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn pairs_of_atoms_by_index(pos: &[f64]) -> f64 {
    let n = pos.len().div_ceil(3);
    let mut e = 0.0;
    for i in 0..n {
        let end_i = (3 * i + 3).min(pos.len());
        for j in 0..i {
            let mut d = 0.0;
            for k in 0..end_i - 3 * i {
                let diff = pos[3 * i + k] - pos[3 * j + k];
                d += diff * diff;
            }
            e += (-d).exp();
        }
        let mut sum = 0.0;
        for k in 3 * i..end_i {
            sum += pos[k];
        }
        e += pos[3 * i] * sum / (end_i - 3 * i) as f64;
        e += pos[end_i - 1].sin();
    }
    e
}

/// Rows of a flat matrix as a list, `chunks_exact` by a slice's length.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn rows_of_a_flat_matrix(m: &[f64], v: &[f64]) -> f64 {
    let rows = m.chunks_exact(v.len()).collect::<Vec<_>>();
    let mut total = 0.0;
    for r in 0..rows.len() {
        let mut dot = 0.0;
        for c in 0..v.len() {
            dot += rows[r][c] * v[c];
        }
        total += dot.tanh();
    }
    for row in rows.iter() {
        total += row.iter().map(|a| a * a).sum::<f64>();
    }
    total
}

/// Rows written through a list of `chunks_mut`.
#[differentiate]
#[allow(clippy::needless_range_loop, clippy::assign_op_pattern)]
fn scaled_rows(out: &mut [f64], k: f64) {
    let mut rows: Vec<&mut [f64]> = out.chunks_mut(2).collect();
    for r in 0..rows.len() {
        rows[r][0] *= k;
        rows[r][1] = rows[r][0] * rows[r][1];
    }
}

/// `scaled_rows` as a loop over `chunks_mut`.
#[differentiate]
#[allow(clippy::assign_op_pattern)]
fn scaled_rows_in_a_loop(out: &mut [f64], k: f64) {
    for row in out.chunks_mut(2) {
        row[0] *= k;
        row[1] = row[0] * row[1];
    }
}

/// Rows normalised in place, `chunks_exact_mut` enumerated, each row
/// measured by a chain and written through `iter_mut()`.
#[differentiate]
fn normalised_rows(out: &mut [f64], k: f64) {
    for (i, row) in out.chunks_exact_mut(3).enumerate() {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        for v in row.iter_mut() {
            *v *= k / norm;
        }
        row[i % 3] += 1.0;
    }
}

/// A matrix-vector product as Rust writes it: the matrix's rows zipped with
/// the output's `iter_mut()`, either side first, `chunks` or
/// `chunks_exact`, a row passed to a plain helper; and rows of a local
/// copy written through `chunks_exact_mut`; the products collected from a
/// chain over the rows. Were refused ("a loop over `iter_mut()` ... the
/// reference itself is used", "this iterator chain ... is not supported").
#[differentiate]
fn rows_times_vector(m: &[f64], x: &[f64]) -> f64 {
    let mut y = vec![0.0; m.len() / x.len()];
    for (row, yi) in m.chunks_exact(x.len()).zip(y.iter_mut()) {
        *yi = row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>().tanh();
    }
    let mut z = vec![0.0; y.len()];
    for (zi, row) in z.iter_mut().zip(m.chunks(x.len())) {
        *zi = distance_squared(row, x) + row[0] * *zi;
        *zi += row.len() as f64;
    }
    let mut w = [0.5; 2];
    let mut doubled = m.to_vec();
    for (wi, row) in w.iter_mut().zip(doubled.chunks_exact_mut(2)) {
        row[1] *= 2.0;
        *wi *= row[0] + row[1];
    }
    let products: Vec<f64> = m
        .chunks(x.len())
        .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>())
        .collect();
    let corners: Vec<f64> = m.chunks_exact(4).map(|c| c[0] * c[3]).collect();
    let collected = products.iter().map(|v| v.sin()).sum::<f64>() + corners.iter().sum::<f64>();
    y.iter().sum::<f64>()
        + z.iter().map(|v| v * v).sum::<f64>()
        + w[0] * w[1]
        + doubled[3]
        + collected
}

/// A list of chunks of an `&mut` parameter, then the parameter shadowed by
/// a local of the same name after the list's last use (found by the
/// fuzzer, seed 31: refused before).
#[differentiate]
fn chunks_then_shadowed(x0: f64, m: &mut [f64]) -> f64 {
    let w: Vec<_> = m.chunks_exact(2).collect();
    let numer = w[0][1] * x0 + w.len() as f64;
    m[2] += numer * m[1];
    let mut m: Vec<f64> = m.iter().map(|&c| c * x0).collect();
    m[1] += x0;
    numer * m[1] + m[2]
}

#[differentiate]
fn chunks_then_shadowed_of(x0: f64, m0: &[f64]) -> f64 {
    let mut m = m0.to_vec();
    chunks_then_shadowed(x0, &mut m)
}

#[test]
fn a_chunk_list_s_source_bound_again_after_its_last_use() {
    for (x0, m0) in [
        (0.7, [0.3, -1.2, 0.5, 2.0]),
        (-1.1, [1.5, 0.25, -0.75, 0.5]),
    ] {
        let (value, g) = chunks_then_shadowed_of::grad(x0, &m0);
        assert_eq!(value.to_bits(), chunks_then_shadowed_of(x0, &m0).to_bits());
        assert_gradient(|m| chunks_then_shadowed_of(x0, m), &m0, &g.m0);
        assert_gradient(|x| chunks_then_shadowed_of(x[0], &m0), &[x0], &[g.x0]);
    }
}

#[test]
fn lists_of_chunks() {
    for pos in [
        vec![0.0, 0.1, 0.3, 1.1, 0.1, 0.0, 0.2, 1.2, 0.3, 1.0],
        vec![0.5, -0.4, 0.9, 0.2, 0.7, -1.0],
        vec![0.3, 0.8],
    ] {
        let (value, g) = pairs_of_atoms::grad(&pos);
        assert_eq!(value, pairs_of_atoms(&pos));
        assert_gradient(pairs_of_atoms, &pos, &g.pos);
        let (oracle, by_index) = pairs_of_atoms_by_index::grad(&pos);
        assert!((value - oracle).abs() < 1e-12);
        assert!(g
            .pos
            .iter()
            .zip(&by_index.pos)
            .all(|(a, b)| (a - b).abs() < 1e-12));
    }
    for (m, x) in [
        ([0.1, 0.2, -0.3, 0.4, 0.5, 0.6], [0.7, -0.2]),
        ([-0.8, 0.3, 0.25, -0.1, 1.2, 0.4], [0.2, 1.1]),
    ] {
        let (value, g) = rows_times_vector::grad(&m, &x);
        assert_eq!(value, rows_times_vector(&m, &x));
        let joined: Vec<f64> = m.iter().chain(&x).copied().collect();
        let mut both = g.m.clone();
        both.extend(&g.x);
        assert_gradient(|p| rows_times_vector(&p[..6], &p[6..]), &joined, &both);
    }
    let (m, v) = ([0.1, 0.2, -0.3, 0.4, 0.5, 0.6, 1.0], [0.7, -0.2, 0.9]);
    let (value, g) = rows_of_a_flat_matrix::grad(&m, &v);
    assert_eq!(value, rows_of_a_flat_matrix(&m, &v));
    let joined: Vec<f64> = m.iter().chain(&v).copied().collect();
    let mut both = g.m.clone();
    both.extend(&g.v);
    assert_gradient(|p| rows_of_a_flat_matrix(&p[..7], &p[7..]), &joined, &both);
    assert_eq!(g.m[6], 0.0, "the remainder of chunks_exact is not read");
    // `out` is read and written: the gradient of a weighted sum of it.
    let start = [1.0, 2.0, -3.0, 4.0, 0.5, 6.0];
    let weights = [1.0, -2.0, 3.0, 0.5, 2.0, 1.5];
    let weighted = |p: &[f64]| {
        let mut out = p[..6].to_vec();
        scaled_rows(&mut out, p[6]);
        out.iter().zip(&weights).map(|(o, w)| o * w).sum::<f64>()
    };
    let mut out = start.to_vec();
    let (_, tape) = scaled_rows::forward(&mut out, 1.5);
    let g = scaled_rows::backward(&tape, &weights);
    let mut at = start.to_vec();
    at.push(1.5);
    let mut both = g.out.clone();
    both.push(g.k);
    assert_gradient(weighted, &at, &both);
    let (_, tape) = scaled_rows_in_a_loop::forward(&mut start.to_vec(), 1.5);
    let in_a_loop = scaled_rows_in_a_loop::backward(&tape, &weights);
    assert_eq!((in_a_loop.out, in_a_loop.k), (g.out, g.k));
    // Seven elements: the last is no row of `chunks_exact_mut(3)`.
    let start = [1.0, 2.0, -3.0, 4.0, 0.5, 6.0, 0.7];
    let weights = [1.0, -2.0, 3.0, 0.5, 2.0, 1.5, -1.0];
    let weighted = |p: &[f64]| {
        let mut out = p[..7].to_vec();
        normalised_rows(&mut out, p[7]);
        out.iter().zip(&weights).map(|(o, w)| o * w).sum::<f64>()
    };
    let (_, tape) = normalised_rows::forward(&mut start.to_vec(), 0.8);
    let g = normalised_rows::backward(&tape, &weights);
    let mut at = start.to_vec();
    at.push(0.8);
    let mut both = g.out.clone();
    both.push(g.k);
    assert_gradient(weighted, &at, &both);
    assert_eq!(g.out[6], weights[6], "the remainder passes through");
}

/// Rows iterated by value: a literal of them (`for charge in [[..], [..]]`,
/// GradBench's particle) and a local matrix (`for row in m`), read as the
/// buffers of rows they are.
#[differentiate]
fn rows_by_value(p: &[f64], w: f64) -> f64 {
    let mut pull = [0.0; 2];
    for charge in [[10.0, 10.0 - w], [p[2], 0.0]] {
        let d = [p[0] - charge[0], p[1] - charge[1]];
        let r = (d[0] * d[0] + d[1] * d[1]).sqrt();
        pull[0] += d[0] / (r * r * r);
        pull[1] += d[1] / (r * r * r);
    }
    let m = [[w, p[0]], [p[1] * w, 1.0], [0.5, p[2]]];
    let mut total = pull[0] * pull[1];
    for row in m {
        total += if row[0] > row[1] {
            row[0] * row[1]
        } else {
            row[1].sin()
        };
    }
    total
}

#[test]
fn rows_iterated_by_value_are_differentiated() {
    let mut saw = [false; 2];
    for (p, w) in [
        ([0.5, 8.0, 4.0], 0.3),
        ([1.5, -2.0, 3.0], -0.7),
        ([2.0, 0.2, 6.0], 1.4),
    ] {
        let (value, g) = rows_by_value::grad(&p, w);
        assert_eq!(value, rows_by_value(&p, w));
        let m = [[w, p[0]], [p[1] * w, 1.0], [0.5, p[2]]];
        for row in m {
            saw[usize::from(row[0] > row[1])] = true;
        }
        assert_gradient(|p| rows_by_value(p, w), &p, &g.p);
        assert_gradient(|v| rows_by_value(&p, v[0]), &[w], &[g.w]);
    }
    assert_eq!(saw, [true, true], "both sides of the branch");
}

/// A chain over one row of a list of rows, by index (`xs[i].iter()`) and
/// through an enumerated loop over the rows (data), and over a row of
/// differentiated rows: the row is named first, as a loop over the rows
/// names it.
#[differentiate(wrt(w))]
fn rows_dotted(w: &[f64], xs: &[Vec<f64>], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for i in 0..xs.len() {
        let pred: f64 = xs[i].iter().zip(w).map(|(a, b)| a * b).sum();
        loss += (pred - ys[i]).powi(2);
    }
    for (i, x) in xs.iter().enumerate() {
        let pred: f64 = x.iter().zip(w).map(|(a, b)| a * b).sum();
        loss += (pred - ys[i]).abs();
    }
    loss
}

#[differentiate]
#[allow(clippy::needless_range_loop)]
fn row_norms(p: &[[f64; 3]]) -> f64 {
    let mut total = 0.0;
    for i in 0..p.len() {
        total += p[i].iter().map(|v| v * v).sum::<f64>().sqrt();
    }
    total
}

#[test]
fn chains_over_a_row_of_rows() {
    let w = [0.5, -0.2, 0.1];
    let xs = vec![
        vec![1.0, 2.0, 3.0],
        vec![0.5, -1.0, 2.0],
        vec![-0.3, 0.2, 0.9],
    ];
    let ys = [1.0, 0.3, -0.4];
    let (value, g) = rows_dotted::grad(&w, &xs, &ys);
    assert_eq!(value, rows_dotted(&w, &xs, &ys));
    assert_gradient(|v| rows_dotted(v, &xs, &ys), &w, &g.w);
    let p = [[0.3, -1.2, 2.0], [0.7, 0.4, -0.1]];
    let (value, g) = row_norms::grad(&p);
    assert_eq!(value, row_norms(&p));
    let flat: Vec<f64> = p.iter().flatten().copied().collect();
    let analytic: Vec<f64> = g.p.iter().flatten().copied().collect();
    assert_gradient(
        |v| row_norms(&[[v[0], v[1], v[2]], [v[3], v[4], v[5]]]),
        &flat,
        &analytic,
    );
}
