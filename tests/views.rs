//! Parts of differentiated arrays, the way Rust code passes pointers into
//! arrays: `&x[a..b]` to a helper, `let c = &x[a..b];`, `x[a..].to_vec()`,
//! `split_at`, `chunks`, `x[a..b].iter()`, and `&mut y[a..b]` to a helper that
//! writes it. Every gradient is checked against central differences of the
//! plain function, with points on both sides of the branches.

// The helpers index as ADBench's C++ does.
#![allow(clippy::needless_range_loop)]

mod common;

use backprop_runtime::{differentiate, Float};
use common::{assert_gradient, Rng};

#[differentiate]
fn sqnorm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum()
}

#[differentiate]
fn subtract(x: &[f64], y: &[f64], out: &mut [f64]) {
    for i in 0..x.len() {
        out[i] = x[i] - y[i];
    }
}

#[differentiate]
fn scale(v: &mut [f64], s: f64) {
    for k in 0..v.len() {
        v[k] *= s;
    }
}

/// ADBench's GMM inner loop, as a Rust programmer transcribes its C++: the
/// helpers take rows of `means` and `qdiags` by sub-slice.
#[differentiate(wrt(means, qdiags))]
fn mahalanobis_terms(x: &[f64], means: &[f64], qdiags: &[f64], d: usize) -> f64 {
    let k = means.len() / d;
    let mut diff = vec![0.0; d];
    let mut total = 0.0;
    for ik in 0..k {
        subtract(x, &means[ik * d..(ik + 1) * d], &mut diff);
        let q = &qdiags[ik * d..(ik + 1) * d];
        let mut weighted = 0.0;
        for j in 0..d {
            weighted += (q[j] * diff[j]) * (q[j] * diff[j]);
        }
        total += -0.5 * weighted + sqnorm(&qdiags[ik * d..(ik + 1) * d]) * 0.1;
    }
    total
}

/// Every read-only form of a part.
#[differentiate]
fn read_only_parts(x: &[f64], d: usize) -> f64 {
    let head = &x[..d];
    let tail = x[d..].to_vec();
    let (left, right) = x.split_at(d);
    let inner = &x[1..=2];
    let mut s = head[0] * tail[tail.len() - 1] + left[d - 1] * right[0];
    s += inner[0] * inner[1] + x[1..].iter().map(|v| v * v).sum::<f64>();
    for v in x[d..].iter() {
        s += v.sin();
    }
    if s > 1.0 {
        s += sqnorm(&x[d - 1..]);
    } else {
        s -= sqnorm(&x[..=1]);
    }
    s
}

/// Rows by `chunks_exact`, columns by `chunks` (the last one short), in
/// loops and in iterator chains.
#[differentiate]
fn chunked(x: &[f64], width: usize) -> f64 {
    let mut s = 0.0;
    for (i, row) in x.chunks_exact(width).enumerate() {
        s += row[0] * (i as f64 + 1.0) + sqnorm(row);
    }
    for part in x.chunks(3) {
        s += part[part.len() - 1].cos();
    }
    // The same, as iterator chains.
    s += x.chunks(3).map(|c| c[0] * c[c.len() - 1]).sum::<f64>();
    s += x
        .chunks_exact(width)
        .enumerate()
        .map(|(i, c)| c[width - 1] * i as f64)
        .sum::<f64>();
    s
}

/// `&mut` parts written by a helper, in a local copy and in a `&mut`
/// parameter.
#[differentiate]
fn written_halves(x: &[f64], s: f64) -> f64 {
    let mut h = x.to_vec();
    let n = h.len();
    scale(&mut h[..n / 2], s);
    scale(&mut h[n / 2..], s * s);
    h.iter().sum()
}

#[differentiate]
fn scale_tail(y: &mut [f64], s: f64) {
    scale(&mut y[1..], s);
    y[0] *= y[1];
}

/// A part in a generic function.
#[differentiate]
fn generic_part<T: Float>(x: &[T], k: usize) -> T {
    let c = &x[k..];
    c[0] * c[c.len() - 1]
}

fn point(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(-1.5, 1.5)).collect()
}

#[test]
fn helpers_called_on_rows_of_arrays() {
    let mut rng = Rng::new(7);
    for (d, k) in [(2, 3), (3, 1), (1, 4)] {
        let x = point(&mut rng, d);
        let means = point(&mut rng, d * k);
        let qdiags = point(&mut rng, d * k);
        let (value, g) = mahalanobis_terms::grad(&x, &means, &qdiags, d);
        assert_eq!(value, mahalanobis_terms(&x, &means, &qdiags, d));
        let joined = [means.clone(), qdiags.clone()].concat();
        let f = |v: &[f64]| {
            let (m, q) = v.split_at(d * k);
            mahalanobis_terms(&x, m, q, d)
        };
        assert_gradient(f, &joined, &[g.means, g.qdiags].concat());
    }
}

#[test]
fn read_only_parts_of_every_form() {
    let mut rng = Rng::new(11);
    for n in [3, 4, 6] {
        for d in 2..n {
            for _ in 0..3 {
                let x = point(&mut rng, n);
                let (value, g) = read_only_parts::grad(&x, d);
                assert_eq!(value, read_only_parts(&x, d));
                assert_gradient(|v| read_only_parts(v, d), &x, &g.x);
            }
        }
    }
}

#[test]
fn chunks_and_exact_chunks() {
    let mut rng = Rng::new(5);
    for (n, width) in [(6, 2), (6, 3), (7, 2), (4, 4)] {
        let x = point(&mut rng, n);
        let (value, g) = chunked::grad(&x, width);
        assert_eq!(value, chunked(&x, width));
        assert_gradient(|v| chunked(v, width), &x, &g.x);
    }
}

#[test]
fn mutable_parts_are_written_back() {
    let mut rng = Rng::new(3);
    for n in [2, 3, 6] {
        let x = point(&mut rng, n);
        let s = rng.uniform(0.5, 1.5);
        let (value, g) = written_halves::grad(&x, s);
        assert_eq!(value, written_halves(&x, s));
        let joined = [x.clone(), vec![s]].concat();
        let f = |v: &[f64]| written_halves(&v[..n], v[n]);
        assert_gradient(f, &joined, &[g.x, vec![g.s]].concat());
    }
    // Through a `&mut` parameter: the seed weighs its final contents.
    let y0 = [0.5, -1.25, 2.0];
    let s = 1.5;
    let seed = [1.0, 0.5, -2.0];
    let mut y = y0;
    let (_, tape) = scale_tail::forward(&mut y, s);
    let mut expected = y0;
    scale_tail(&mut expected, s);
    assert_eq!(y, expected);
    let g = scale_tail::backward(&tape, &seed);
    let f = |v: &[f64]| {
        let mut y = [v[0], v[1], v[2]];
        scale_tail(&mut y, v[3]);
        y.iter().zip(&seed).map(|(a, b)| a * b).sum()
    };
    assert_gradient(f, &[y0[0], y0[1], y0[2], s], &[g.y, vec![g.s]].concat());
}

#[test]
fn parts_in_generic_code() {
    let x = [0.5_f32, -2.0, 3.0];
    let (value, g) = generic_part::grad(&x, 1);
    assert_eq!(value, generic_part(&x, 1));
    assert_eq!(g.x, vec![0.0, 3.0, -2.0]);
    let x = [0.5, -2.0, 3.0, 4.0];
    let (_, g) = generic_part::grad(&x, 0);
    assert_gradient(|v| generic_part(v, 0), &x, &g.x);
}

/// Rows zipped with targets, as a least-squares fit writes them: the rows on
/// either side of the zip, a data partner and a differentiated one, `chunks`
/// with a short last row.
#[differentiate(wrt(w, bias))]
fn rows_zipped(w: &[f64], bias: &[f64], x: &[f64], y: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (row, target) in w.chunks_exact(x.len()).zip(y) {
        let pred: f64 = row.iter().zip(x).map(|(a, b)| a * b).sum();
        loss += (pred - target).powi(2);
    }
    for (b, row) in bias.iter().zip(w.chunks(x.len())) {
        loss += b * row[0] * row[row.len() - 1];
    }
    for (row, target) in w.chunks(4).zip(y.iter()) {
        loss += row.len() as f64 * target * row[0].sin();
    }
    loss
}

#[test]
fn chunks_zipped_with_a_slice() {
    let (x, y) = ([0.5, -1.0, 2.0], [0.3, -0.2]);
    let mut rng = Rng::new(17);
    for _ in 0..3 {
        let w: Vec<f64> = (0..7).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let bias = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
        let (value, g) = rows_zipped::grad(&w, &bias, &x, &y);
        assert_eq!(value, rows_zipped(&w, &bias, &x, &y));
        assert_gradient(|w| rows_zipped(w, &bias, &x, &y), &w, &g.w);
        assert_gradient(|b| rows_zipped(&w, b, &x, &y), &bias, &g.bias);
    }
}

#[differentiate]
fn scaled_product(w: &[f64], t: f64) -> f64 {
    w[0] * w[1] * t
}

/// A part bound to a name and passed to a differentiated callee whose result
/// is only compared (the call is not differentiated, computed as written):
/// the part is lent as a slice there too. Found by the fuzzer (a slice of
/// structs' field, read through a view, in a condition).
#[differentiate]
fn compared_call_on_a_part(x: &[f64], s: &[f64]) -> f64 {
    let row = &x[0..2];
    let mut acc = 0.0;
    for i in 0..s.len() {
        if scaled_product(row, s[i]) > 0.7 {
            acc += s[i] * x[2];
        }
    }
    acc + scaled_product(row, x[2])
}

#[test]
fn a_part_passed_to_a_call_in_a_condition() {
    let s = [0.5, 0.25, 1.5];
    for x in [[1.0, 2.0, 3.0], [0.3, -0.4, 1.1]] {
        let (value, g) = compared_call_on_a_part::grad(&x, &s);
        assert_eq!(value, compared_call_on_a_part(&x, &s));
        assert_gradient(|x| compared_call_on_a_part(x, &s), &x, &g.x);
    }
}

/// Named parts read through their parent: by index (in a loop and a
/// branch), measured, passed to a helper; `split_at`'s halves the same.
#[differentiate]
fn through_parents(x: &[f64], d: usize) -> f64 {
    let row = &x[1..d + 1];
    let (weights, rest) = x.split_at(d);
    let mut s = 0.0;
    for i in 0..row.len() {
        s += row[i] * weights[row.len() - 1 - i];
    }
    if !rest.is_empty() && rest[0] > 0.0 {
        s += sqnorm(rest) * row[0];
    } else {
        s -= sqnorm(row);
    }
    s
}

/// Named parts the rewrite does not read through, copied as before: one
/// bound again (the second `c` is another part), one iterated, one named in
/// a macro.
#[differentiate]
#[allow(clippy::useless_vec)]
fn copied_parts(x: &[f64]) -> f64 {
    let c = &x[..2];
    let first = c[0] * c[1];
    let c = &x[1..];
    let iterated = &x[2..];
    let pair = vec![c[0], 1.0];
    let named = &x[..3];
    let in_macro = vec![named[2], named[0]];
    first
        + c[c.len() - 1]
        + iterated.iter().map(|v| v.sin()).sum::<f64>()
        + pair[1] * in_macro[0]
        + hidden_parent(x)
}

/// A part whose parent's name is bound again before the part is read: the
/// part is of the first `x`.
#[differentiate]
fn hidden_parent(x: &[f64]) -> f64 {
    let c = &x[1..];
    let x = [x[0] * 2.0, 1.0, 1.0];
    c[0] * x[0] + hidden_by_a_closure(&x)
}

/// The same, where a closure's parameter has the parent's name.
#[differentiate]
fn hidden_by_a_closure(x: &[f64]) -> f64 {
    let c = &x[1..];
    let closure = |x: f64| x * c[0];
    closure(x[2])
}

#[test]
fn named_parts_are_read_through_their_parents() {
    let mut rng = Rng::new(23);
    for (n, d) in [(5, 2), (6, 3), (4, 3), (7, 1)] {
        for _ in 0..3 {
            let x = point(&mut rng, n);
            let (value, g) = through_parents::grad(&x, d);
            assert_eq!(value, through_parents(&x, d));
            assert_gradient(|v| through_parents(v, d), &x, &g.x);
            let (value, g) = copied_parts::grad(&x);
            assert_eq!(value, copied_parts(&x));
            assert_gradient(copied_parts, &x, &g.x);
        }
    }
    // Read through the parent: no buffer is made for a part.
    assert!(!through_parents::SOURCE.contains("vec!"));
    assert!(copied_parts::SOURCE.contains("vec!"));
}

/// An LSTM-like stack of layers over one state vector: each layer's `&mut`
/// part named, written by index, measured and passed on, with a local buffer's
/// part too.
#[differentiate]
fn layered_state(w: &[f64], state: &mut [f64], width: usize) -> f64 {
    let layers = state.len() / width;
    let mut carried = vec![0.0; width];
    for l in 0..layers {
        let part = &mut state[l * width..(l + 1) * width];
        for i in 0..part.len() {
            part[i] = (part[i] * w[l] + carried[i]).tanh();
        }
        scale(part, w[l]);
        part[0] += 0.5 * part[part.len() - 1];
        let head = &mut carried[..width / 2];
        head[0] = part[0] * w[l];
        for i in 0..width {
            carried[i] += part[i];
        }
    }
    carried.iter().sum()
}

#[test]
fn named_mutable_parts_are_written_through_their_parents() {
    let mut rng = Rng::new(11);
    for (layers, width) in [(1, 2), (2, 3), (3, 4)] {
        let w = point(&mut rng, layers);
        let s0 = point(&mut rng, layers * width);
        let seed: Vec<f64> = (0..s0.len()).map(|k| 0.25 * k as f64 - 0.5).collect();
        let mut s = s0.clone();
        let (value, tape) = layered_state::forward(&w, &mut s, width);
        let mut expected = s0.clone();
        assert_eq!(value, layered_state(&w, &mut expected, width));
        assert_eq!(s, expected);
        let g = layered_state::backward(&tape, (1.0, &seed[..]));
        let f = |v: &[f64]| {
            let mut s = v[layers..].to_vec();
            let value = layered_state(&v[..layers], &mut s, width);
            value + s.iter().zip(&seed).map(|(a, b)| a * b).sum::<f64>()
        };
        let joined = [w.clone(), s0.clone()].concat();
        assert_gradient(f, &joined, &[g.w, g.state].concat());
    }
}

#[differentiate]
fn past_the_part(x: &[f64], i: usize) -> f64 {
    let c = &x[..2];
    c[i] * 2.0
}

#[differentiate]
fn part_past_the_end(x: &[f64], end: usize) -> f64 {
    let c = &x[1..end];
    c[0]
}

#[test]
#[should_panic(expected = "index out of bounds: the len is 2 but the index is 2")]
fn an_index_past_a_part_panics_as_the_function_does() {
    let x = [1.0, 2.0, 3.0];
    assert!(std::panic::catch_unwind(|| past_the_part(&x, 2)).is_err());
    let _ = past_the_part::grad(&x, 2);
}

#[test]
#[should_panic(expected = "range end index 5 out of range for slice of length 3")]
fn a_part_past_the_end_panics_as_the_function_does() {
    let x = [1.0, 2.0, 3.0];
    assert!(std::panic::catch_unwind(|| part_past_the_end(&x, 5)).is_err());
    let _ = part_past_the_end::grad(&x, 5);
}

/// One recurrent cell, written in place: reads its weights `p`, writes its
/// state `s` (hidden values, then cell values), as ADBench's LSTM layer.
#[inline(never)]
#[differentiate]
fn cell(p: &[f64], s: &mut [f64]) {
    let n = s.len() / 2;
    for i in 0..n {
        let gate = (s[i] * p[i] + s[n + i]).tanh();
        s[n + i] = s[n + i] * gate + p[n + i];
        s[i] = gate * s[n + i].sin();
    }
}

/// The cell on each layer's part of one state, lent by `&mut` as it is;
/// between the calls, reads of the state from before and after each call.
#[differentiate]
fn stacked_cells(p: &[f64], state: &mut [f64], width: usize) -> f64 {
    let layers = state.len() / (2 * width);
    let mut total = 0.0;
    for l in 0..layers {
        let (a, b) = (2 * width * l, 2 * width * (l + 1));
        let before = state[a];
        cell(&p[a..b], &mut state[a..b]);
        total += before * state[a + 1];
    }
    total
}

/// `stacked_cells` with the cell written out in the loop, by hand.
#[differentiate]
fn stacked_cells_by_hand(p: &[f64], state: &mut [f64], width: usize) -> f64 {
    let layers = state.len() / (2 * width);
    let mut total = 0.0;
    for l in 0..layers {
        let a = 2 * width * l;
        let before = state[a];
        for i in 0..width {
            let gate = (state[a + i] * p[a + i] + state[a + width + i]).tanh();
            state[a + width + i] = state[a + width + i] * gate + p[a + width + i];
            state[a + i] = gate * state[a + width + i].sin();
        }
        total += before * state[a + 1];
    }
    total
}

#[test]
fn mutable_parts_are_lent_to_the_helper_that_writes_them() {
    let mut rng = Rng::new(23);
    for (layers, width) in [(1, 2), (2, 2), (3, 4)] {
        let p = point(&mut rng, 2 * width * layers);
        let s0 = point(&mut rng, 2 * width * layers);
        let seed: Vec<f64> = (0..s0.len()).map(|k| 0.3 * k as f64 - 0.7).collect();
        let (mut s, mut by_hand) = (s0.clone(), s0.clone());
        let (value, tape) = stacked_cells::forward(&p, &mut s, width);
        let (expected, hand_tape) = stacked_cells_by_hand::forward(&p, &mut by_hand, width);
        assert_eq!((value, &s), (expected, &by_hand));
        let g = stacked_cells::backward(&tape, (1.0, &seed[..]));
        let oracle = stacked_cells_by_hand::backward(&hand_tape, (1.0, &seed[..]));
        for (got, want) in [(&g.p, &oracle.p), (&g.state, &oracle.state)] {
            for (a, b) in got.iter().zip(want) {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} against {b}");
            }
        }
        let f = |v: &[f64]| {
            let mut s = v[p.len()..].to_vec();
            let value = stacked_cells(&v[..p.len()], &mut s, width);
            value + s.iter().zip(&seed).map(|(a, b)| a * b).sum::<f64>()
        };
        let joined = [p.clone(), s0.clone()].concat();
        let analytic = [g.p.clone(), g.state.clone()].concat();
        assert_gradient(f, &joined, &analytic);
        // Forward mode through the same calls: the tangent along a
        // direction is the gradient's dot product with it.
        let dir = point(&mut rng, joined.len());
        let mut s = s0.clone();
        let mut dot_s = dir[p.len()..].to_vec();
        let (_, dot_value) = stacked_cells::tangent(&p, &mut s, width, &dir[..p.len()], &mut dot_s);
        let along = dot_value + dot_s.iter().zip(&seed).map(|(a, b)| a * b).sum::<f64>();
        let dotted: f64 = analytic.iter().zip(&dir).map(|(a, b)| a * b).sum();
        assert!(
            (along - dotted).abs() <= 1e-10 * dotted.abs().max(1.0),
            "{along} against {dotted}"
        );
    }
    // The part is the callee's argument itself: no buffer copies it in and
    // out. (Forward mode, after `tangent`, seeds the callee's pullback with a
    // unit vector per written element.)
    let reverse = stacked_cells::SOURCE.split("pub fn tangent").next();
    assert!(!reverse.is_some_and(|code| code.contains("vec!")));
}
