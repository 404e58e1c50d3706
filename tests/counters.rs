//! Running indices, as code transcribed from C keeps them (`idx += 1` in the
//! loop that uses `idx`): the backward pass starts from the counter's value
//! after the loop and steps it back, instead of saving it at each iteration.
//! Each case against central differences; the last ones are counters the plan
//! must not step back (updated in a branch, or in a loop that breaks).

mod common;

use backprop_runtime::differentiate;
use common::{assert_gradient, Rng};

/// A packed strictly lower triangle, walked as ADBench's `Qtimesx` walks it.
#[differentiate(wrt(w, x))]
fn packed_lower(w: &[f64], x: &[f64]) -> f64 {
    let d = x.len();
    let mut idx = 0;
    let mut total = 0.0;
    for i in 0..d {
        for j in i + 1..d {
            total += w[idx] * x[i] * x[j].sin();
            idx += 1;
        }
    }
    // The final value, after both loops.
    total + w[idx - 1]
}

/// A step of two from an offset, and the counter read in a branch and
/// assigned after it.
#[differentiate(wrt(w))]
fn strided(w: &[f64], start: usize) -> f64 {
    let mut at = start;
    let mut total = 0.0;
    for k in 0..(w.len() - start) / 2 {
        if k % 2 == 0 {
            total += w[at] * w[at + 1];
        } else {
            total -= w[at].exp();
        }
        at += 2;
    }
    total
}

/// A counter in a loop that stops after a whole iteration (`if c { break; }`
/// at the end of the body), and one in a `while`.
#[differentiate(wrt(w))]
fn until_and_while(w: &[f64], limit: f64) -> f64 {
    let mut i = 0;
    let mut total = 0.0;
    loop {
        total += w[i] * w[i];
        i += 1;
        if total > limit || i == w.len() {
            break;
        }
    }
    let mut j = 0;
    while j < w.len() {
        total += (w[j] * total).tanh();
        j += 1;
    }
    total
}

/// Not counters: updated in a branch, and in a loop left from its middle.
#[allow(clippy::explicit_counter_loop)]
#[differentiate(wrt(w))]
fn not_counters(w: &[f64], limit: f64) -> f64 {
    let mut at = 0;
    let mut total = 0.0;
    for k in 0..w.len() {
        total += w[at] * w[k];
        if w[k] > 0.0 {
            at += 1;
        }
    }
    let mut i = 0;
    for _ in 0..w.len() {
        if total > limit {
            break;
        }
        total += w[i].sin();
        i += 1;
    }
    total
}

/// A counter whose type nothing names (`let mut k = 0;`, used in an index
/// expression): saving its value after the loop needs a type, so it stays an
/// ordinary saved variable (the fuzzer found it refused).
#[differentiate]
fn untyped_counter(x: f64, m: &mut [f64]) {
    if x > -10.0 {
        let mut k = 0;
        while x < 1.5 && k < 3 {
            k += 1;
            m[(k + 1) % 2] -= (0.9 * x.tanh()).sin();
        }
    }
    m[0] += 0.5 * x;
}

fn random(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

#[test]
fn counters_in_nested_loops() {
    let mut rng = Rng::new(3);
    for d in [2, 3, 5] {
        let w = random(&mut rng, d * (d - 1) / 2);
        let x = random(&mut rng, d);
        let (value, g) = packed_lower::grad(&w, &x);
        assert_eq!(value, packed_lower(&w, &x));
        assert_gradient(|w| packed_lower(w, &x), &w, &g.w);
        assert_gradient(|x| packed_lower(&w, x), &x, &g.x);
    }
}

#[test]
fn counters_with_a_step_and_a_start() {
    let mut rng = Rng::new(4);
    for (n, start) in [(9, 1), (12, 0), (7, 3)] {
        let w = random(&mut rng, n);
        let (value, g) = strided::grad(&w, start);
        assert_eq!(value, strided(&w, start));
        assert_gradient(|w| strided(w, start), &w, &g.w);
    }
}

#[test]
fn counters_of_loops_that_stop_after_a_whole_iteration() {
    let mut rng = Rng::new(5);
    // Limits that stop the first loop early, and that it never reaches.
    for limit in [0.3, 1.0, 100.0] {
        let w = random(&mut rng, 6);
        let (value, g) = until_and_while::grad(&w, limit);
        assert_eq!(value, until_and_while(&w, limit));
        assert_gradient(|w| until_and_while(w, limit), &w, &g.w);
    }
}

#[test]
fn variables_that_are_not_counters() {
    let mut rng = Rng::new(6);
    for limit in [-0.5, 0.5, 100.0] {
        let w = random(&mut rng, 7);
        let (value, g) = not_counters::grad(&w, limit);
        assert_eq!(value, not_counters(&w, limit));
        assert_gradient(|w| not_counters(w, limit), &w, &g.w);
    }
}

#[test]
fn a_counter_of_unknown_type_is_saved() {
    for x in [0.3, 2.0] {
        let f = |x: f64, k: usize| {
            let mut m = [0.2, -0.4];
            untyped_counter(x, &mut m);
            m[k]
        };
        let mut m = [0.2, -0.4];
        let ((), tape) = untyped_counter::forward(x, &mut m);
        for k in 0..2 {
            let seed = if k == 0 { [1.0, 0.0] } else { [0.0, 1.0] };
            let g = untyped_counter::backward(&tape, &seed);
            let h = 1e-6;
            let numeric = (f(x + h, k) - f(x - h, k)) / (2.0 * h);
            assert!((g.x - numeric).abs() < 1e-6, "{} vs {numeric}", g.x);
        }
    }
}

#[test]
fn a_counter_is_stepped_back_not_saved() {
    // The tape of the packed triangle holds the counter once per outer
    // iteration (its value after the inner loop), not once per element.
    let source = packed_lower::SOURCE;
    assert!(source.contains("-= 1;"), "{source}");
    assert_eq!(source.matches("Stack<usize>").count(), 1, "{source}");
}

/// A difference of inputs nothing changes, in a loop: the backward pass
/// computes it again (`let diff = a_i - b_i;`) instead of popping it.
#[differentiate]
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut dist = 0.0;
    for i in 0..a.len() {
        dist += (a[i] - b[i]) * (a[i] - b[i]) + (a[i] * b[i]).sin();
    }
    dist
}

#[test]
fn cheap_arithmetic_of_inputs_is_recomputed_not_saved() {
    let mut rng = Rng::new(8);
    for n in [1, 3, 6] {
        let (a, b) = (random(&mut rng, n), random(&mut rng, n));
        let (value, g) = squared_distance::grad(&a, &b);
        assert_eq!(value, squared_distance(&a, &b));
        assert_gradient(|a| squared_distance(a, &b), &a, &g.a);
        assert_gradient(|b| squared_distance(&a, b), &b, &g.b);
        // The split API reads the copies the tape keeps: the same gradient.
        let (_, tape) = squared_distance::forward(&a, &b);
        assert_eq!(squared_distance::backward(&tape, 1.0), g);
    }
    let source = squared_distance::SOURCE;
    assert!(source.contains("let diff = a_i - b_i;"), "{source}");
    assert!(!source.contains("diff_stack"), "{source}");
}
