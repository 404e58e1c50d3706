//! Iterator chains over differentiated slices, as Rust is usually written:
//! rewritten into the loops they stand for, then differentiated.

mod common;

use backprop_runtime::differentiate;
use common::assert_gradient;
use num_traits::Float;

#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[differentiate]
fn norms(v: &[f64]) -> f64 {
    let squares: f64 = v.iter().map(|x| x * x).sum();
    let total = v.iter().sum::<f64>();
    let product: f64 = v.iter().map(|&x| 1.0 + x * x).product();
    let largest = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let soft = v.iter().fold(0.0, |acc, &x| acc + x.exp()).ln();
    squares.sqrt() + total + product.ln() + largest + soft
}

#[differentiate]
fn chained_maps(w: &[f64], x: &[f64]) -> f64 {
    let scaled: Vec<f64> = w
        .iter()
        .zip(x.iter())
        .map(|(a, b)| a * b)
        .map(|z| z.tanh())
        .collect();
    let mut out = 0.0;
    for (i, s) in scaled.iter().enumerate() {
        out += s * (i as f64 + 1.0);
    }
    out + scaled.iter().map(|s: &f64| s.powi(2)).sum::<f64>()
}

#[differentiate]
fn mean_square<T: Float>(v: &[T]) -> T {
    let n = T::from(v.len()).unwrap();
    v.iter().map(|&x| x * x).fold(T::zero(), |acc, y| acc + y) / n
}

#[test]
fn sums_products_and_folds() {
    for v in [[0.3, -1.2, 0.8], [2.0, 0.1, -0.4]] {
        let (value, g) = norms::grad(&v);
        assert_eq!(value, norms(&v));
        assert_gradient(norms, &v, &g.v);
    }
    let (a, b) = ([1.0, 2.0, 3.0], [0.5, -1.0, 2.0]);
    let (value, g) = dot::grad(&a, &b);
    assert_eq!(value, 4.5);
    assert_eq!((g.a, g.b), (b.to_vec(), a.to_vec()));
}

#[test]
fn collected_maps_and_generic_chains() {
    let (w, x) = ([0.3, -0.7, 1.1], [1.0, 0.5, -2.0]);
    let (value, g) = chained_maps::grad(&w, &x);
    assert_eq!(value, chained_maps(&w, &x));
    assert_gradient(|w| chained_maps(w, &x), &w, &g.w);
    assert_gradient(|x| chained_maps(&w, x), &x, &g.x);
    let (value, g) = mean_square::grad(&w);
    assert_eq!(value, mean_square(&w));
    assert_gradient(mean_square, &w, &g.v);
}

#[differentiate]
fn filtered(margins: &[f64], w: &[f64]) -> f64 {
    let hinge: f64 = margins.iter().filter(|m| **m > 0.0).map(|m| m * m).sum();
    let positive = w
        .iter()
        .copied()
        .filter(|&v| v > 0.1)
        .fold(0.0, |acc, v| acc + v.ln());
    let pairs: f64 = margins
        .iter()
        .zip(w)
        .map(|(m, v)| m * v)
        .filter(|p| p.abs() < 1.0)
        .map(|p| p.sin())
        .sum();
    // A filter that ignores part of a pair (`_`), with and without `&`.
    let kept: f64 = margins
        .iter()
        .zip(w)
        .filter(|(m, _)| **m > 0.0)
        .map(|(m, v)| m * v)
        .sum();
    let kept_too: f64 = w
        .iter()
        .zip(margins)
        .filter(|&(_, m)| *m < 1.0)
        .map(|(v, m)| v * m.cos())
        .sum();
    hinge + positive + pairs + kept + kept_too
}

#[test]
fn filters_keep_the_items_they_pass() {
    // Items on both sides of every filter.
    let (margins, w) = ([0.5, -1.0, 2.0, 0.3], [0.2, 0.05, 0.4, 3.0]);
    let (value, g) = filtered::grad(&margins, &w);
    assert_eq!(value, filtered(&margins, &w));
    assert_gradient(|m| filtered(m, &w), &margins, &g.margins);
    assert_gradient(|w| filtered(&margins, w), &w, &g.w);
}

/// Windows of a path: a smoothness penalty.
#[differentiate]
fn roughness(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for w in x.windows(3) {
        total += (w[0] - 2.0 * w[1] + w[2]).powi(2) / w.len() as f64;
    }
    // Last window first: the order shows in the value.
    for w in x.windows(2).rev() {
        total = total * 0.5 + w[0] * w[1];
    }
    total + x.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>()
}

#[test]
fn windows_of_a_slice() {
    for x in [[0.0, 1.0, 1.5, 3.0, 2.0], [1.0, -0.5, 0.25, 0.0, 4.0]] {
        let (value, g) = roughness::grad(&x);
        assert_eq!(value, roughness(&x));
        assert_gradient(roughness, &x, &g.x);
    }
    // Shorter than a window: no windows at all.
    assert_eq!(roughness::grad(&[2.0]).1.x, vec![0.0]);
}

/// `skip` and `take` move the loop's bounds.
#[differentiate]
fn bounded(x: &[f64], k: usize) -> f64 {
    let head: f64 = x.iter().take(k).map(|v| v * v).sum();
    let mut tail = 0.0;
    for (i, v) in x.iter().enumerate().skip(1) {
        tail += v.sin() * i as f64;
    }
    let middle: Vec<f64> = x.iter().skip(1).take(2).map(|v| v.exp()).collect();
    let mut shifted = 0.0;
    for (a, b) in x.iter().zip(x.iter()).skip(k).rev() {
        shifted += a * b;
    }
    head + tail + middle.iter().sum::<f64>() + shifted
}

#[test]
fn skip_and_take() {
    let x = [0.5, -1.0, 2.0, 0.3];
    for k in [0, 2, 9] {
        let (value, g) = bounded::grad(&x, k);
        assert_eq!(value, bounded(&x, k));
        assert_gradient(|x| bounded(x, k), &x, &g.x);
    }
}

/// Chains over a range of indices with a closure that computes differentiated
/// values (ADBench GMM's log-sum-exp over components), next to integer chains
/// with closures kept as written, whose parameters shadow the function's
/// locals.
#[differentiate(wrt(x))]
fn over_indices(x: &[f64], idx: &[usize], d: usize) -> f64 {
    let i = 1;
    let k = x.len() / d;
    let picked: usize = idx.iter().map(|&i| i * 2).sum::<usize>() + i;
    let total: f64 = (0..k).map(|c| (x[c * d] - x[c * d + 1]).exp()).sum();
    let largest = (0..k).map(|c| x[c * d]).fold(f64::NEG_INFINITY, f64::max);
    total.ln() + largest * picked as f64 + (1..=2).map(|j| x[j] * x[j - 1]).product::<f64>()
}

#[test]
fn chains_over_ranges_and_closures_over_data() {
    for x in [[0.3, -1.0, 2.0, 0.5], [-0.7, 0.2, 0.1, 1.5]] {
        for (idx, d) in [(vec![1_usize, 2], 2), (vec![], 2), (vec![3], 4)] {
            let (value, g) = over_indices::grad(&x, &idx, d);
            assert_eq!(value, over_indices(&x, &idx, d));
            assert_gradient(|v| over_indices(v, &idx, d), &x, &g.x);
        }
    }
}

/// A local view of data zipped with a differentiated slice, on either side,
/// in an iterator chain and in a `for` loop (`let row = &xs[a..b];`).
#[differentiate(wrt(w, b))]
fn rows_loss(w: &[f64], b: f64, xs: &[f64], ys: &[f64], dim: usize) -> f64 {
    let mut total = 0.0;
    for k in 0..ys.len() {
        let row = &xs[k * dim..(k + 1) * dim];
        let pred: f64 = w.iter().zip(row).map(|(w, x)| w * x).sum::<f64>() + b;
        let mut other = 0.0;
        for (x, w) in row.iter().zip(w) {
            other += x * w * w;
        }
        let err = pred - ys[k];
        total += err * err + other;
    }
    total / ys.len() as f64
}

#[test]
fn local_views_of_data_zipped_with_differentiated_slices() {
    let xs = [1.0, 2.0, 3.0, 4.0, -1.0, 0.5];
    let ys = [0.1, 0.2, 0.3];
    let point = [0.3, -0.2, 0.1];
    let (value, g) = rows_loss::grad(&point[..2], point[2], &xs, &ys, 2);
    assert_eq!(value, rows_loss(&point[..2], point[2], &xs, &ys, 2));
    let mut generated = g.w.clone();
    generated.push(g.b);
    common::assert_gradient(
        |p| rows_loss(&p[..2], p[2], &xs, &ys, 2),
        &point,
        &generated,
    );
}

/// An inner closure's parameter with the outer one's name is another value:
/// `win[0]` inside reads the inner window. (Found by the fuzzer: the outer
/// window's reads were rewritten inside the inner closure too, a wrong value
/// with no message.) The same for an element of `iter_mut`. (A local struct
/// split into its fields refuses a name bound again.)
#[differentiate]
fn nested_windows(w: &[f64], d: &[f64], x: f64) -> f64 {
    w.windows(2)
        .map(|win| {
            let outer = win[0] * win[1];
            d.windows(2)
                .map(|win| win[0] * x + win[1] + outer)
                .sum::<f64>()
        })
        .sum::<f64>()
}

#[differentiate]
fn shadowed_names(v: &[f64], x: f64) -> f64 {
    let mut out = vec![0.0; v.len()];
    for (o, &e) in out.iter_mut().zip(v) {
        *o = e * x;
        let scaled = v.iter().map(|o| o * 2.0 * e).sum::<f64>();
        *o += scaled;
    }
    let twice = v.iter().map(|out| out * x).sum::<f64>();
    twice + out.iter().sum::<f64>()
}

#[test]
fn a_name_bound_again_inside_is_another_value() {
    let d = [0.5, -1.0, 2.0];
    for (w, x) in [([0.3, -0.7, 1.1, 0.4], 0.6), ([2.0, 0.1, -0.4, -1.5], -1.2)] {
        let (value, g) = nested_windows::grad(&w, &d, x);
        assert_eq!(value, nested_windows(&w, &d, x));
        assert_gradient(|w| nested_windows(w, &d, x), &w, &g.w);
        assert_gradient(|x| nested_windows(&w, &d, x[0]), &[x], &[g.x]);
        let (value, g) = shadowed_names::grad(&w, x);
        assert_eq!(value, shadowed_names(&w, x));
        assert_gradient(|w| shadowed_names(w, x), &w, &g.v);
        assert_gradient(|x| shadowed_names(&w, x[0]), &[x], &[g.x]);
    }
}

/// A zip enumerated, `for (i, (a, b)) in x.iter().zip(y).enumerate()`, with
/// references taken apart, over a differentiated slice and a data one.
#[differentiate]
fn zipped_and_counted(x: &[f64], y: &[f64], data: &[f64]) -> f64 {
    let mut m = vec![0.0; x.len()];
    let mut s = 0.0;
    for (i, (xi, &yi)) in x.iter().zip(y.iter()).enumerate() {
        m[i] = 0.9 * xi + 0.1 * yi * xi;
        s += m[i].powi(2) * (i as f64 + 1.0);
    }
    for (k, (a, d)) in y.iter().zip(data).enumerate() {
        if k % 2 == 0 {
            s += a * d;
        } else {
            s -= a.sin();
        }
    }
    s.sqrt()
}

#[test]
fn zip_then_enumerate_in_a_for_loop() {
    let data = [0.5, -1.0, 2.0, 0.25];
    for (x, y) in [
        (vec![0.3, 1.2, -0.7, 2.0], vec![0.1, 0.2, 0.3, 0.4]),
        (vec![1.5, -0.4, 0.8], vec![-0.3, 0.9, 1.1, 0.6]),
    ] {
        let (value, g) = zipped_and_counted::grad(&x, &y, &data);
        assert_eq!(value, zipped_and_counted(&x, &y, &data));
        let n = x.len();
        let f = |p: &[f64]| zipped_and_counted(&p[..n], &p[n..], &data);
        let point = [x.clone(), y.clone()].concat();
        let analytic = [g.x, g.y].concat();
        assert_gradient(f, &point, &analytic);
    }
}

/// `step_by` over a slice's elements: alone, after `skip` and `rev`, in a
/// reduction and in a `collect`; every element on and off the stride.
#[differentiate]
fn strided(x: &[f64], y: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in x.iter().step_by(2) {
        s += v * v;
    }
    for v in x.iter().skip(1).rev().step_by(3) {
        s += v.sin();
    }
    let thirds: Vec<f64> = y.iter().step_by(2).map(|v| v * 3.0).collect();
    s + x.iter().rev().step_by(2).map(|v| v.abs()).sum::<f64>() + thirds.iter().sum::<f64>()
}

#[test]
fn strided_iteration_over_slices() {
    for n in [1, 4, 7] {
        let x: Vec<f64> = (0..n).map(|k| 0.7 * k as f64 - 1.3).collect();
        let y = [0.3, -0.2, 0.1, 0.9, 0.4];
        let (value, g) = strided::grad(&x, &y);
        assert_eq!(value, strided(&x, &y));
        assert_gradient(|x| strided(x, &y), &x, &g.x);
        assert_gradient(|y| strided(&x, y), &y, &g.y);
    }
}

/// A side of a zip that skips or takes: consecutive pairs (`x.iter().zip(
/// x.iter().skip(1))`), the skip on either side, a `take` after it, in a
/// chain and in a `for` loop. Were refused (a loop over values that depend
/// on the inputs).
#[differentiate]
fn consecutive(x: &[f64], k: usize) -> f64 {
    let variation: f64 = x
        .iter()
        .zip(x.iter().skip(1))
        .map(|(a, b)| (b - a).abs())
        .sum();
    let backwards: f64 = x.iter().skip(1).zip(x).map(|(a, b)| a * b).sum();
    let mut windowed = 0.0;
    for (a, b) in x.iter().take(k).zip(x.iter().skip(2).take(k + 1)) {
        windowed += a.sin() * b;
    }
    variation + backwards + windowed
}

#[test]
fn zip_sides_that_skip_or_take() {
    for x in [[0.3, -1.2, 2.0, 0.7, 1.1], [1.5, 0.2, -0.4, 0.9, -2.0]] {
        // `take` shorter and longer than what is left.
        for k in [0, 2, 9] {
            let (value, g) = consecutive::grad(&x, k);
            assert_eq!(value, consecutive(&x, k));
            assert_gradient(|v| consecutive(v, k), &x, &g.x);
        }
    }
}

/// A range's chain collected into a vector (a layer's units, each a sum
/// over the inputs), from 0 and from 1 inclusive. Was refused (`collect`
/// taken for a float method).
#[differentiate]
fn units(x: &[f64], w: &[f64]) -> f64 {
    let n = x.len();
    let hidden: Vec<f64> = (0..3)
        .map(|j| (0..n).map(|i| w[j * n + i] * x[i]).sum::<f64>().tanh())
        .collect();
    let weights: Vec<f64> = (1..=n).map(|k| x[k - 1] * k as f64).collect();
    hidden.iter().sum::<f64>() * weights.iter().map(|v| v.sin()).sum::<f64>()
}

#[test]
fn a_range_collected() {
    let mut rng = common::Rng::new(5);
    for _ in 0..3 {
        let point: Vec<f64> = (0..8).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let f = |v: &[f64]| units(&v[..2], &v[2..]);
        let (value, g) = units::grad(&point[..2], &point[2..]);
        assert_eq!(value, f(&point));
        let analytic: Vec<f64> = g.x.iter().chain(&g.w).copied().collect();
        assert_gradient(f, &point, &analytic);
    }
}

/// `fold` with a tuple of accumulators taken apart by its `let`: one pass
/// for a sum and a sum of squares, a minimum, a maximum and a count over a
/// mapped zip. Was refused (an unsupported chain).
#[differentiate]
fn one_pass(x: &[f64], y: &[f64]) -> f64 {
    let (s, q) = x.iter().fold((0.0, 0.0), |(s, q), &v| (s + v, q + v * v));
    let n = x.len() as f64;
    let variance = q / n - (s / n) * (s / n);
    let (lo, hi, count) = x
        .iter()
        .zip(y)
        .map(|(a, b)| a * b)
        .fold((f64::INFINITY, f64::NEG_INFINITY, 0), |(l, h, c), p| {
            (l.min(p), h.max(p), c + 1)
        });
    variance + (hi - lo) / count as f64
}

#[test]
fn folds_of_tuples() {
    let mut rng = common::Rng::new(9);
    for _ in 0..4 {
        let point: Vec<f64> = (0..8).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let f = |v: &[f64]| one_pass(&v[..4], &v[4..]);
        let (value, g) = one_pass::grad(&point[..4], &point[4..]);
        assert_eq!(value, f(&point));
        let analytic: Vec<f64> = g.x.iter().chain(&g.y).copied().collect();
        assert_gradient(f, &point, &analytic);
    }
}

/// `for` loops over chains that end in `filter` or `map` (and then
/// `enumerate`): the loop over the source, each item adapted and tested at
/// the top of the body (`continue` and `break` inside keep their meaning). Were refused (a loop over values
/// that depend on the inputs).
#[differentiate]
fn adapted_loops(x: &[f64], y: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in x.iter().filter(|v| v.abs() > 0.2) {
        s += v.sin();
    }
    for (k, p) in x.iter().zip(y).map(|(a, b)| a * b).enumerate() {
        if k == 3 {
            break;
        }
        if p < -0.5 {
            continue;
        }
        s += p * p;
    }
    for &v in y.iter().filter(|&&v| v > 0.0) {
        s *= 1.0 + 0.1 * v;
    }
    s
}

#[test]
fn loops_over_adapted_chains() {
    let mut rng = common::Rng::new(21);
    for _ in 0..5 {
        let point: Vec<f64> = (0..10).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let f = |v: &[f64]| adapted_loops(&v[..5], &v[5..]);
        let (value, g) = adapted_loops::grad(&point[..5], &point[5..]);
        assert_eq!(value, f(&point));
        let analytic: Vec<f64> = g.x.iter().chain(&g.y).copied().collect();
        assert_gradient(f, &point, &analytic);
    }
}

/// `max_by` and `min_by` with a comparison of the items themselves
/// (`total_cmp`, `partial_cmp(..).unwrap()`, `f64::total_cmp`, reversed with
/// `b` first), unwrapped: the largest or smallest item's adjoint. Were
/// refused (an unsupported chain).
#[differentiate]
fn extremes_by(x: &[f64], y: &[f64]) -> f64 {
    let largest = x
        .iter()
        .map(|v| v * v)
        .max_by(|a, b| a.total_cmp(b))
        .unwrap();
    let smallest = x
        .iter()
        .zip(y)
        .map(|(a, b)| a - b)
        .min_by(|a, b| a.partial_cmp(b).unwrap())
        .expect("items");
    let reversed = y.iter().copied().max_by(|a, b| b.total_cmp(a)).unwrap();
    let plain = y.iter().copied().min_by(f64::total_cmp).unwrap();
    largest * smallest + reversed.sin() + plain * 2.0
}

#[test]
fn extremes_by_a_comparator() {
    let mut rng = common::Rng::new(33);
    for _ in 0..5 {
        let point: Vec<f64> = (0..10).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let f = |v: &[f64]| extremes_by(&v[..5], &v[5..]);
        let (value, g) = extremes_by::grad(&point[..5], &point[5..]);
        assert_eq!(value, f(&point));
        let analytic: Vec<f64> = g.x.iter().chain(&g.y).copied().collect();
        assert_gradient(f, &point, &analytic);
    }
    // Signed zeros, which `total_cmp` orders (-0.0 below 0.0) and the
    // comparisons see equal: the value keeps the sign the iterator picks.
    let signed = |v: f64| 1.0 / v;
    for (x, y) in [
        ([0.0, -0.0, -0.5], [-0.0, 0.0, 0.7]),
        ([-0.0, 0.0, 0.0], [0.0, -0.0, -0.0]),
    ] {
        let value = extremes_by::grad(&x, &y).0;
        assert_eq!(signed(value), signed(extremes_by(&x, &y)));
    }
}

/// `count` and `position` over a differentiated slice's chain: integers
/// the loop counts (an index read after, a count that scales). Were refused
/// (an unsupported chain).
#[differentiate]
fn counted(x: &[f64]) -> f64 {
    let positive = x.iter().filter(|v| **v > 0.0).count();
    let first_large = x.iter().position(|v| *v > 0.5).unwrap_or(0);
    let last = x.iter().map(|v| v * v).position(|s| s > 0.04).unwrap();
    x[first_large] * positive as f64 + x[last].sin()
}

#[test]
fn counts_and_positions() {
    // Each side of each test: no element past 0.5, several, the first
    // squared past 0.04 early and late.
    for x in [
        [0.3, -1.2, 2.0, 0.7],
        [0.1, 0.15, 0.3, -0.4],
        [-0.1, 0.1, -0.3, 0.9],
    ] {
        let (value, g) = counted::grad(&x);
        assert_eq!(value, counted(&x));
        assert_gradient(counted, &x, &g.x);
    }
}

/// `skip` and `take` after `rev()`: the last elements, or all but them,
/// from the end down; also after a `skip` or `take` before the `rev()`.
/// Were refused ("this loop iterates over values that depend on the
/// differentiated inputs").
#[differentiate]
fn from_the_end(x: &[f64]) -> f64 {
    let last_two: f64 = x.iter().rev().take(2).map(|v| v * v).sum();
    let but_last = x.iter().rev().skip(1).fold(0.0, |acc, v| acc * 0.5 + v);
    let inner: f64 = x.iter().skip(1).rev().take(3).map(|v| v.sin()).sum();
    let mut weighted = 0.0;
    for v in x.iter().take(4).rev().skip(1) {
        weighted = weighted * 0.7 + v;
    }
    last_two * but_last + inner + weighted
}

#[test]
fn parts_taken_from_the_end() {
    // Shorter than every count, as long, and longer.
    for x in [
        vec![0.4],
        vec![0.4, -1.1],
        vec![0.3, -1.2, 2.0, 0.7],
        vec![1.5, 0.2, -0.4, 0.9, -2.0, 0.6],
    ] {
        let (value, g) = from_the_end::grad(&x);
        assert_eq!(value, from_the_end(&x));
        assert_gradient(from_the_end, &x, &g.x);
    }
}

/// Zips of three slices, `a.iter().zip(b).zip(c)`, yielding `((x, y), w)`:
/// in a chain, a `for` loop and enumerated, with a data slice among them.
/// Were refused.
#[differentiate(wrt(x, w))]
fn weighted_residuals(x: &[f64], y: &[f64], w: &[f64]) -> f64 {
    let chained: f64 = x
        .iter()
        .zip(y)
        .zip(w)
        .map(|((a, b), c)| c * (a - b).powi(2))
        .sum();
    let mut looped = 0.0;
    for ((&a, b), &c) in w.iter().zip(x.iter()).zip(y) {
        looped += a.exp() * b - c;
    }
    let mut counted = 0.0;
    for (i, ((a, b), c)) in y.iter().zip(w).zip(x).enumerate() {
        counted += (i as f64 + 1.0) * a * b * c.sin();
    }
    chained + looped * counted
}

#[test]
fn zips_of_three_slices() {
    let y = [0.5, -0.25, 1.5, 2.0];
    for (x, w) in [
        (vec![0.3, -1.2, 2.0], vec![1.0, 0.5, 2.0, 0.1]),
        (vec![1.5, 0.2, -0.4, 0.9], vec![0.7, -0.3, 1.1, 0.4]),
    ] {
        let (value, g) = weighted_residuals::grad(&x, &y, &w);
        assert_eq!(value, weighted_residuals(&x, &y, &w));
        let n = x.len();
        let point = [x.clone(), w.clone()].concat();
        let analytic = [g.x, g.w].concat();
        assert_gradient(
            |v| weighted_residuals(&v[..n], &y, &v[n..]),
            &point,
            &analytic,
        );
    }
}

/// Chains and loops over array literals (`[x, y, t].iter()`, `for q in
/// &[..]`, `vec![..].iter()`), `into_iter()` of parameters and local
/// arrays, and a fold whose accumulator is named as the list it folds
/// (`a.iter().fold(0.0, |a, v| ..)`). The literals were refused ("`sum` is
/// not a float method"), `into_iter` of a name refused as a chain, and the
/// fold's accumulator hid the list (rustc: no method `iter` on a float).
#[differentiate]
#[allow(clippy::useless_vec)]
fn literal_sources(x: &[f64], w: [f64; 2], s: f64) -> f64 {
    let t = x[0] + s;
    let mixed: f64 = [x[1], s, t].iter().map(|&q| q * t).sum();
    let mut by_loop = 0.0;
    for q in &[s, t * t] {
        by_loop += q.sin();
    }
    let from_vec = vec![s, 2.0 * t].iter().map(|v| v.exp()).product::<f64>();
    let a = [s, t];
    let folded = a.iter().fold(0.0, |a, v| a + v * v);
    let owned: f64 = w.into_iter().zip(x).map(|(p, q)| p * q).sum();
    let local: f64 = a.into_iter().map(|v| v * folded).sum();
    let largest = [s, t, 0.5]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    mixed + by_loop + from_vec + folded + owned + local + largest
}

#[test]
fn chains_over_array_literals_and_into_iter() {
    for (s, x0) in [(0.3, 0.6), (-0.9, 0.2), (0.8, -1.4)] {
        let x = [x0, -0.7, 0.4];
        let w = [0.5, -0.25];
        let (value, g) = literal_sources::grad(&x, w, s);
        assert_eq!(value, literal_sources(&x, w, s));
        let point = [x[0], x[1], x[2], w[0], w[1], s];
        let f = |v: &[f64]| literal_sources(&v[..3], [v[3], v[4]], v[5]);
        let mut gradient = g.x.clone();
        gradient.extend(g.w);
        gradient.push(g.s);
        assert_gradient(f, &point, &gradient);
    }
}

/// Weights of a constant, bound to a typed local (`let w: [f64; 3] = W;`,
/// `let w: Vec<f64> = ..`, `let w: &[f64] = &W;`) and walked by reference,
/// by value and with `enumerate()`, on both sides of a branch on the weight,
/// and in chains.
/// Before, the loop kept `w` as written and the tape saved each `v` of
/// `for v in w.iter()` as a float, where Rust gives `&f64` (rustc: E0308 at
/// the loop's pattern); now such a local is an array of data, read by index.
const WEIGHTS: [f64; 3] = [0.5, 1.5, -2.0];

#[differentiate]
#[allow(clippy::useless_vec)]
fn constant_weights(x: &[f64]) -> f64 {
    let w: [f64; 3] = WEIGHTS;
    let mut s = 0.0;
    for v in w.iter() {
        s += v * x[0] * x[1];
    }
    for (i, v) in w.iter().enumerate() {
        if *v > 0.0 {
            s += v * x[i].exp();
        } else {
            s -= x[i] * x[i] * v;
        }
    }
    let mut owned: Vec<f64> = vec![0.25, -0.5, 0.75];
    owned[1] = 4.0;
    for v in owned {
        s += v * x[2].sin();
    }
    let borrowed: &[f64] = &WEIGHTS;
    for &v in borrowed {
        s += v * x[0].cos() * x[1];
    }
    // Chains over them, the typed local on either side of `zip`.
    let chained: f64 = w.iter().zip(x).map(|(a, v)| a * v * v).sum();
    let zipped = x
        .iter()
        .zip(borrowed)
        .map(|(v, a)| a * v.sin())
        .sum::<f64>();
    s + w[0] * x[1] + chained + zipped
}

#[test]
fn typed_locals_of_constants_are_walked_as_arrays() {
    for x in [[0.3, -0.7, 1.1], [-0.4, 0.9, -1.3], [1.2, 0.1, 0.5]] {
        let (value, g) = constant_weights::grad(&x);
        assert_eq!(value, constant_weights(&x));
        assert_gradient(constant_weights, &x, &g.x);
    }
}

/// `std::iter::zip(a, b)`, the function form of `a.into_iter().zip(b)`, in
/// a loop and in chains, over differentiated slices and data.
#[differentiate(wrt(a, b))]
fn zipped_by_function(a: &[f64], b: &[f64], data: &[f64]) -> f64 {
    let mut s = 0.0;
    for (p, q) in std::iter::zip(a, b) {
        s += p * q.sin();
    }
    let weighted: f64 = core::iter::zip(data, a).map(|(d, v)| d * v * v).sum();
    let pairs = std::iter::zip(&b[1..], a.iter())
        .map(|(u, v)| u * v)
        .sum::<f64>();
    s + weighted + pairs
}

#[test]
fn the_zip_function_is_the_method() {
    let data = [0.5, -1.5, 2.0];
    for (a, b) in [
        ([0.3, -0.7, 1.1], [1.2, 0.1, 0.5]),
        ([-0.4, 0.9, -1.3], [0.2, -0.6, 0.8]),
    ] {
        let (value, g) = zipped_by_function::grad(&a, &b, &data);
        assert_eq!(value, zipped_by_function(&a, &b, &data));
        assert_gradient(|a| zipped_by_function(a, &b, &data), &a, &g.a);
        assert_gradient(|b| zipped_by_function(&a, b, &data), &b, &g.b);
    }
}

/// Chains over a range of indices: a `fold` straight on the range, and a
/// `map` whose bound is an integer bound to a bare literal. A range folded
/// into a tuple, or with the item ignored (`|(p, q), _|`, a recurrence run
/// a number of times, as `lax.fori_loop` is), was refused.
#[differentiate]
fn over_index_ranges(x: &[f64]) -> f64 {
    let n = 2;
    let pairs = (0..n).map(|i| x[i] * x[i + 1]).sum::<f64>();
    let ring = (0..x.len()).fold(0.0, |acc, i| acc + x[i] * x[(i + 1) % x.len()].sin());
    let weighted = (1..=n).fold(1.0, |p, k| p * (1.0 + x[k] * k as f64));
    let (a, b) = (0..4).fold((x[0], x[1]), |(p, q), _| (q, p * 0.5 + q.sin()));
    let (lo, hi) = (0..x.len())
        .rev()
        .fold((x[2], x[2]), |(lo, hi), i| (lo.min(x[i]), hi.max(x[i])));
    let halved = (0..3).fold(x[2], |h, _| 0.5 * h + 1.0);
    pairs + ring * weighted + a * b + (hi - lo) * halved
}

#[test]
fn ranges_are_folded_and_mapped_by_index() {
    for x in [[0.3, -0.7, 1.1], [-0.4, 0.9, -1.3], [1.2, 0.1, 0.5]] {
        let (value, g) = over_index_ranges::grad(&x);
        assert_eq!(value, over_index_ranges(&x));
        assert_gradient(over_index_ranges, &x, &g.x);
    }
}

/// The index of the largest and the smallest element as Rust writes it,
/// `enumerate()` then `max_by`/`min_by` unwrapped; the index shows in the
/// value, so ties must go where the iterator's go.
#[differentiate]
fn arg_extrema(x: &[f64]) -> f64 {
    let (hi, _) = x
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.partial_cmp(b.1).unwrap())
        .unwrap();
    let (lo, &smallest) = x
        .iter()
        .enumerate()
        .min_by(|(_, p), (_, q)| p.total_cmp(q))
        .unwrap();
    // The element as the iterator gives it, a reference (`*top`).
    let (_, top) = x
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap();
    10.0 * hi as f64 + lo as f64 + x[hi] * x[0].sin() + smallest * smallest + *top * top
}

#[test]
fn arg_extrema_are_the_indices_the_iterator_picks() {
    for x in [[0.3, -1.2, 2.5, 0.7], [-0.8, 0.2, 0.9, 0.1]] {
        let (value, g) = arg_extrema::grad(&x);
        assert_eq!(value, arg_extrema(&x));
        assert_gradient(arg_extrema, &x, &g.x);
    }
    // Ties (no derivative across them): the last of the maxima (index 2),
    // the first of the minima (index 1), as the value shows.
    let x = [1.5, -0.5, 1.5, -0.5];
    let (value, g) = arg_extrema::grad(&x);
    assert_eq!(value, arg_extrema(&x));
    let expected = [1.5 * 1.5_f64.cos(), -1.0, 1.5_f64.sin() + 3.0, 0.0];
    assert!(g.x.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-15));
    assert_eq!(value, 21.0 + 1.5 * 1.5_f64.sin() + 0.25 + 2.25);
    // Signed zeros: equal to `partial_cmp` (the last of the maxima, index
    // 2), ordered by `total_cmp` (-0.0 the smaller: index 2 again, where
    // the first of equal minima would be index 1).
    for x in [[0.5, 0.0, -0.0, 0.5], [-0.0, 0.0, 1.0, 1.0]] {
        assert_eq!(arg_extrema::grad(&x).0, arg_extrema(&x));
    }
}

/// An iterator bound to a name and consumed by the next statement, as
/// written to name a step: the chain where it is consumed.
#[differentiate]
fn named_iterators(x: &[f64], y: &[f64]) -> f64 {
    let squares = x.iter().map(|v| v * v);
    let total: f64 = squares.sum();
    let products = x.iter().zip(y).map(|(a, b)| a * b.sin());
    total * products.sum::<f64>()
}

#[test]
fn named_iterators_are_their_chains() {
    for (x, y) in [
        ([0.3, -0.7, 1.1], [1.2, 0.1, 0.5]),
        ([-0.4, 0.9, -1.3], [0.2, -0.6, 0.8]),
    ] {
        let (value, g) = named_iterators::grad(&x, &y);
        assert_eq!(value, named_iterators(&x, &y));
        assert_gradient(|x| named_iterators(x, &y), &x, &g.x);
        assert_gradient(|y| named_iterators(&x, y), &y, &g.y);
    }
}
