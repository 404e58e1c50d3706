//! Reversed loops that run first to last (`analysis/order.rs`): where no
//! iteration's reverse feeds another's, and where one does (a recurrence, one
//! element written again and again, a list of indices that repeats one, a
//! product carried along, a running sum read in the body, a list written
//! element by element and read whole by a call), each against finite
//! differences, and the order each one's backward pass runs in, read from
//! its source.

#![allow(clippy::needless_range_loop)] // index loops are the subject here

mod common;

use backprop_runtime::differentiate;
use common::assert_gradient;

/// Each iteration writes its own element (`z[i]`, and `z[n - 1 - i]`
/// mirrored) and adds into a sum: every reversed loop runs forwards.
#[differentiate]
fn own_elements(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    let mut z = vec![0.0; n];
    z[0] = x[0];
    for i in 1..n {
        z[i] = x[i] * y[i - 1];
    }
    let mut mirrored = vec![0.0; n];
    for i in 0..n {
        let old = z[i];
        z[i] = old.sin() + y[i];
        mirrored[n - 1 - i] = z[i] * (i as f64 + 1.0);
    }
    let mut s = 0.0;
    for i in 0..n {
        s -= mirrored[i] * mirrored[i] - x[i];
    }
    s
}

/// `z[i]` from `z[i - 1]`: the reverse of iteration `i` feeds iteration
/// `i - 1`'s.
#[differentiate]
fn recurrence(x: &[f64]) -> f64 {
    let mut z = vec![1.0; x.len()];
    for i in 1..x.len() {
        z[i] = z[i - 1] * x[i] + x[i - 1];
    }
    z[x.len() - 1]
}

/// One element written by every iteration: only the last write counts.
#[differentiate]
fn same_element(x: &[f64]) -> f64 {
    let mut z = [0.0; 2];
    for i in 0..x.len() {
        z[1] = x[i] * x[i];
    }
    z[1]
}

/// Elements chosen by a list of indices that names one twice.
#[differentiate(wrt(x))]
fn through_indices(x: &[f64], order: &[usize]) -> f64 {
    let mut z = vec![0.0; x.len()];
    for k in 0..order.len() {
        let j = order[k];
        z[j] = x[k] * 3.0;
    }
    let mut s = 0.0;
    for i in 0..z.len() {
        s += z[i] * z[i];
    }
    s
}

/// A running sum read in the body: its adjoint grows from one reversed
/// iteration to the next, though its update is a sum.
#[differentiate]
fn running_sum(x: &[f64]) -> f64 {
    let mut s = 0.0;
    let mut z = vec![0.0; x.len()];
    for i in 0..x.len() {
        s += x[i];
        z[i] = s * s;
    }
    let mut total = 0.0;
    for i in 0..x.len() {
        total += z[i] * (i as f64 + 0.5);
    }
    total
}

/// The sum of a list, differentiated.
#[differentiate]
fn total(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i];
    }
    s
}

/// A list written at `i` and read whole by a call in the same loop: each
/// iteration reads what the ones before it wrote.
#[differentiate]
fn read_whole_by_a_call(x: &[f64]) -> f64 {
    let mut z = vec![0.0; x.len()];
    for i in 0..x.len() {
        z[i] = x[i] * total(&z) + x[i] * x[i];
    }
    total(&z)
}

/// Sums chosen by a branch: each arm adds or subtracts, or passes the sum
/// on (`continue`); the test may read the sum.
#[differentiate]
fn conditional_sums(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if x[i] > 0.0 {
            s += x[i] * 3.0;
        } else {
            s -= x[i] * 2.0;
        }
    }
    let mut t = 1.0;
    for i in 0..x.len() {
        if t > 2.0 {
            continue;
        }
        t += x[i] * x[i];
    }
    s * t
}

/// A branch that grows the sum by a multiple of itself: the adjoint
/// changes from one iteration to the next.
#[differentiate]
fn conditional_growth(x: &[f64]) -> f64 {
    let mut s = 1.0;
    for i in 0..x.len() {
        if x[i] > 0.0 {
            s = s + s * x[i];
        }
    }
    s
}

/// A product carried along: each iteration's adjoint scales the next's.
#[differentiate]
fn carried_product(x: &[f64]) -> f64 {
    let mut p = 1.0;
    for i in 0..x.len() {
        p *= x[i] + 0.5;
    }
    p
}

/// A function's backward pass, from its source.
fn backward_pass(source: &str) -> &str {
    let start = source.find("fn backward_core").expect("a backward_core");
    let length = source[start..].find("\n}\n").expect("its end");
    &source[start..start + length]
}

fn points(n: usize) -> Vec<Vec<f64>> {
    let mut rng = common::Rng::new(n as u64);
    (0..4)
        .map(|_| (0..n).map(|_| rng.uniform(-1.5, 1.5)).collect())
        .collect()
}

#[test]
fn loops_of_own_elements_run_forwards_and_are_right() {
    for n in [1, 2, 5, 9] {
        for x in points(2 * n) {
            let (xs, ys) = x.split_at(n);
            let (_, g) = own_elements::grad(xs, ys);
            let whole: Vec<f64> = g.x.iter().chain(&g.y).copied().collect();
            assert_gradient(|v| own_elements(&v[..n], &v[n..]), &x, &whole);
        }
    }
    let backward = backward_pass(own_elements::SOURCE);
    assert!(!backward.contains(".rev()"), "{backward}");
    // `old.sin()`'s `old`, saved per iteration, read oldest first.
    assert!(backward.contains("old_stack.ahead("), "{backward}");
    for x in points(7) {
        let g = conditional_sums::grad(&x).1.x;
        assert_gradient(conditional_sums, &x, &g);
    }
    let backward = backward_pass(conditional_sums::SOURCE);
    assert!(!backward.contains(".rev()"), "{backward}");
}

#[test]
fn loops_whose_iterations_feed_each_other_stay_reversed_and_are_right() {
    for n in [2, 3, 7] {
        for x in points(n) {
            assert_gradient(recurrence, &x, &recurrence::grad(&x).1.x);
            assert_gradient(same_element, &x, &same_element::grad(&x).1.x);
            assert_gradient(carried_product, &x, &carried_product::grad(&x).1.x);
            assert_gradient(running_sum, &x, &running_sum::grad(&x).1.x);
            let g = conditional_growth::grad(&x).1.x;
            assert_gradient(conditional_growth, &x, &g);
            let g = read_whole_by_a_call::grad(&x).1.x;
            assert_gradient(read_whole_by_a_call, &x, &g);
        }
    }
    for source in [
        recurrence::SOURCE,
        same_element::SOURCE,
        carried_product::SOURCE,
    ] {
        assert!(backward_pass(source).contains(".rev()"), "{source}");
    }
}

#[test]
fn a_list_of_indices_that_repeats_one_keeps_the_last_write() {
    // `z[1]` is written from `x[0]`, then from `x[2]`: `x[0]` has no effect.
    let order = [1, 0, 1, 3];
    for x in points(4) {
        let (_, g) = through_indices::grad(&x, &order);
        assert_eq!(g.x[0], 0.0);
        assert_gradient(|v| through_indices(v, &order), &x, &g.x);
    }
}

/// Shapes at the edge of the rule, each against finite differences whatever
/// order its loops run in: a write in one arm of a branch, an inner loop
/// reading what the outer one wrote, two lists written at `i` and `i + 1`, a
/// reversed range, an `&mut` parameter written in place, calls in the loop
/// that read lists it does not write, a stepped range, a matrix-vector
/// product, a `continue`.
#[differentiate]
fn edge_shapes(x: &[f64], y: &mut [f64]) -> f64 {
    let n = x.len();
    let mut z = vec![0.0; n];
    let mut w = vec![0.0; n + 1];
    for i in 0..n {
        if i % 2 == 0 {
            z[i] = x[i].exp();
        } else {
            w[i + 1] = x[i] * 3.0;
        }
    }
    let mut s = 0.0;
    for i in 0..n {
        z[i] += w[i + 1] * 0.5;
        for j in 0..n {
            s += z[i] * x[j];
        }
    }
    for i in (0..n).rev() {
        y[i] = y[i] * x[i] + total(&x[..i]);
        s -= y[i].sin();
    }
    for i in (0..n).step_by(2) {
        z[i] = z[i] * z[i] + x[i];
        s += z[i];
    }
    // A matrix-vector product: the inner loop adds into the outer one's
    // element again and again.
    let mut v = vec![0.0; n];
    for i in 0..n {
        for j in 0..n {
            v[i] += z[j] * x[(i + j) % n] * 0.25;
        }
        v[i] = v[i].tanh();
    }
    for i in 0..n {
        if v[i] > 0.1 {
            continue;
        }
        s += v[i] * x[i];
    }
    s
}

#[test]
fn shapes_at_the_edge_of_the_rule_are_right() {
    for n in [1, 2, 3, 6] {
        for v in points(2 * n) {
            let (x, y0) = v.split_at(n);
            let mut y = y0.to_vec();
            let (_, tape) = edge_shapes::forward(x, &mut y);
            let g = edge_shapes::backward(&tape, (1.0, &vec![0.0; n]));
            let value = |v: &[f64]| {
                let mut y = v[n..].to_vec();
                edge_shapes(&v[..n], &mut y)
            };
            let whole: Vec<f64> = g.x.iter().chain(&g.y).copied().collect();
            assert_gradient(value, &v, &whole);
        }
    }
}
