//! Functions that call themselves over lists, on one tape: each call pushes
//! its values on the outermost call's stacks and its frame last, and the
//! backward pass pops them in exactly the reverse order
//! (`backprop-macro/src/emit/frames.rs`). Each shape against central
//! differences at several depths and points, both sides of every branch,
//! and through every entry point that runs the passes (`grad`, `forward`
//! then `backward`, a differentiated caller, forward mode, the picture).

mod common;

use backprop_runtime::differentiate;
use common::{assert_gradient, Rng};

/// Two calls of itself in a branch that runs at most once (its values are
/// written into the frame) over the halves of a range.
#[differentiate(wrt(a))]
fn tree(a: &[f64], lo: usize, hi: usize) -> f64 {
    if hi - lo == 1 {
        a[lo].sin() + 1.5
    } else {
        let mid = (lo + hi) / 2;
        let left = tree(a, lo, mid);
        let right = tree(a, mid, hi);
        left * right + (left - right).tanh()
    }
}

/// A float carried down the recursion; a loop whose iterations commute
/// (its reverse reads its stack oldest first) before the call.
#[differentiate]
fn walk(x: f64, w: &[f64], k: usize) -> f64 {
    if k == w.len() {
        return x.sin();
    }
    let mut s = 0.0;
    for wi in &w[k..] {
        s += (wi * x).exp() * 0.1;
    }
    let inner = walk(x * w[k] + s, w, k + 1);
    inner * s + x * x
}

/// Calls in a loop whose results are compared: those not chosen get a zero
/// seed, and their backward passes still pop what they pushed.
#[differentiate(wrt(a))]
fn smallest(a: &[f64], n: usize) -> f64 {
    if n == 1 {
        return (a[0] - 0.3).powi(2);
    }
    let mut best = a[0] * 10.0;
    for k in 0..2 {
        let v = smallest(&a[k..], n - 1) + a[k] * 0.5;
        best = best.min(v);
    }
    best
}

/// A return out of the loop that holds the call (its trip count saved), and
/// a loop over the list after it whose reverse reads its stack oldest first.
#[differentiate(wrt(w))]
fn seek(w: &[f64], depth: usize) -> f64 {
    if depth == 0 {
        return w[0].sin() + w[1];
    }
    let mut acc = 0.0;
    for k in 0..3 {
        let v = seek(&w[k..], depth - 1);
        if v * w[k] > 1.2 {
            return v * 0.5 + acc;
        }
        acc += v * w[k];
    }
    let mut t = acc;
    for x in w.iter() {
        t += x * x * 0.01;
    }
    t
}

/// A float and a list passed on as they are to every call of itself: the
/// float's value and the list's length are the same in every frame, kept
/// once in the tape; the float's adjoint is still each call's.
#[differentiate]
fn scaled_tree(a: &[f64], s: f64, lo: usize, hi: usize) -> f64 {
    if hi - lo == 1 {
        return (a[lo] * s).sin();
    }
    let mid = (lo + hi) / 2;
    s * scaled_tree(a, s, lo, mid) * scaled_tree(a, s, mid, hi) + s * s
}

/// An inner call not chosen by `min` whose own derivative is infinite
/// (`sqrt` at 0): its zero seed must add nothing, not 0 x inf = NaN.
#[differentiate(wrt(a))]
fn rooted(a: &[f64], n: usize) -> f64 {
    if n == 0 {
        return a[0].sqrt();
    }
    let inner = rooted(a, n - 1);
    inner.min(a[1] * 2.0) + a[1]
}

/// A float recursion (no list to lend) with a call whose value is only
/// compared: that call runs on a tape of its own, as the backward pass
/// never pops what it would push.
#[differentiate]
fn compared(x: f64, n: u32) -> f64 {
    if n == 0 {
        return x.sin();
    }
    let y = compared(x * 0.9, n - 1);
    let z = compared(x * 1.1, n - 1);
    if z > 0.0 {
        y * x
    } else {
        y + x
    }
}

/// A differentiated caller of a recursion, which lends it its slice.
#[differentiate]
fn tree_of_squares(a: &[f64]) -> f64 {
    let squares: Vec<f64> = a.iter().map(|v| v * v).collect();
    tree(&squares, 0, squares.len()) + a[0]
}

/// A call of another differentiated function in each frame, made before
/// the call of itself and saved after it: the inner frames lend and keep
/// tapes of the same call site in between, so each frame's tape must stay
/// its own.
#[differentiate]
fn bent(v: &[f64], a: f64, depth: usize) -> f64 {
    if depth == 0 {
        return v[0] * a;
    }
    let b = bend(a, v[1]);
    let h = bent(v, b.sin(), depth - 1);
    h * h + v[1] * a
}

#[inline(never)]
#[differentiate]
fn bend(a: f64, w: f64) -> f64 {
    a.sin() * 2.0 + a * w
}

/// `bent` at depth 3, written out by hand.
#[differentiate]
fn bent_by_hand(v: &[f64], a: f64) -> f64 {
    let b3 = (a.sin() * 2.0 + a * v[1]).sin();
    let b2 = (b3.sin() * 2.0 + b3 * v[1]).sin();
    let b1 = (b2.sin() * 2.0 + b2 * v[1]).sin();
    let h1 = v[0] * b1;
    let h2 = h1 * h1 + v[1] * b2;
    let h3 = h2 * h2 + v[1] * b3;
    h3 * h3 + v[1] * a
}

fn points(len: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = Rng::new(seed);
    (0..3)
        .map(|_| (0..len).map(|_| rng.uniform(-1.2, 1.2)).collect())
        .collect()
}

#[test]
fn two_calls_in_a_branch() {
    for len in [1, 2, 3, 7, 16] {
        for a in points(len, 11 + len as u64) {
            let (value, g) = tree::grad(&a, 0, len);
            assert_eq!(value, tree(&a, 0, len));
            assert_gradient(|a| tree(a, 0, len), &a, &g.a);
            // The tape run backward again, from its own copy of `a`.
            let (_, tape) = tree::forward(&a, 0, len);
            assert_eq!(tree::backward(&tape, 1.0).a, g.a);
        }
    }
}

#[test]
fn a_float_carried_down() {
    for len in [0, 1, 4] {
        for w in points(len, 5) {
            for x in [-0.7, 0.4, 1.1] {
                let (value, g) = walk::grad(x, &w, 0);
                assert_eq!(value, walk(x, &w, 0));
                let mut point = vec![x];
                point.extend(&w);
                let analytic: Vec<f64> = [g.x].iter().chain(&g.w).copied().collect();
                assert_gradient(|p| walk(p[0], &p[1..], 0), &point, &analytic);
            }
        }
    }
}

#[test]
fn calls_not_chosen() {
    for n in [1, 2, 3, 5] {
        for a in points(n + 1, 23) {
            let (value, g) = smallest::grad(&a, n);
            assert_eq!(value, smallest(&a, n));
            assert_gradient(|a| smallest(a, n), &a, &g.a);
        }
    }
}

#[test]
fn a_return_out_of_the_loop_that_holds_the_call() {
    let mut returned = [false; 2];
    for seed in 0..6 {
        for a in points(12, 40 + seed) {
            for depth in 0..4 {
                let (value, g) = seek::grad(&a, depth);
                assert_eq!(value, seek(&a, depth));
                assert_gradient(|a| seek(a, depth), &a, &g.w);
                if depth > 0 {
                    let early = (0..3).any(|k| seek(&a[k..], depth - 1) * a[k] > 1.2);
                    returned[usize::from(early)] = true;
                }
            }
        }
    }
    assert_eq!(returned, [true, true], "both ways out of the loop");
}

#[test]
fn values_the_same_in_every_frame() {
    for len in [1, 2, 5, 9] {
        for a in points(len, 60 + len as u64) {
            for s in [-0.8, 0.6, 1.3] {
                let (value, g) = scaled_tree::grad(&a, s, 0, len);
                assert_eq!(value, scaled_tree(&a, s, 0, len));
                let mut point = a.clone();
                point.push(s);
                let analytic: Vec<f64> = g.a.iter().chain([&g.s]).copied().collect();
                assert_gradient(
                    |p| scaled_tree(&p[..len], p[len], 0, len),
                    &point,
                    &analytic,
                );
            }
        }
    }
    // `s` and `a.len()` once in the tape, not in each frame.
    let source = scaled_tree::SOURCE;
    let frame = &source[source.find("pub struct Frame").expect("a frame")..];
    let frame = &frame[..frame.find('}').expect("its end")];
    assert!(
        !frame.contains("pub s:") && !frame.contains("a_len"),
        "{frame}"
    );
    assert!(source.contains("tape.s = s;"));
}

#[test]
fn a_zero_seed_adds_nothing() {
    for n in 1..4 {
        // min(sqrt(0), -1) at the innermost level: `sqrt` is not chosen;
        // each level above chooses the call (f_n = f_(n-1) - 0.5), so
        // d/da[1] = 2 + 1 + (n - 1).
        let (_, g) = rooted::grad(&[0.0, -0.5], n);
        assert_eq!(g.a, vec![0.0, n as f64 + 2.0], "n = {n}");
        // Away from the kink and the root, against central differences.
        let a = [0.8, 0.6];
        let (_, g) = rooted::grad(&a, n);
        assert_gradient(|a| rooted(a, n), &a, &g.a);
    }
}

#[test]
fn a_call_only_compared() {
    for n in [0, 1, 2, 5] {
        // Both sides of the comparison: sin(1.1^k x) changes sign.
        for x in [0.7, 2.5, -0.4, 3.3] {
            let (value, g) = compared::grad(x, n);
            assert_eq!(value, compared(x, n));
            assert_gradient(|p| compared(p[0], n), &[x], &[g.x]);
        }
    }
}

#[test]
fn called_from_a_differentiated_caller() {
    for len in [1, 5, 8] {
        for a in points(len, 3) {
            let (value, g) = tree_of_squares::grad(&a);
            assert_eq!(value, tree_of_squares(&a));
            assert_gradient(tree_of_squares, &a, &g.a);
        }
    }
}

#[test]
fn forward_mode_and_the_picture() {
    let a = [0.3, -0.8, 1.1, 0.2, -0.4];
    let (_, g) = tree::grad(&a, 0, a.len());
    let direction = [0.5, -1.0, 0.25, 2.0, 1.0];
    let (_, along) = tree::tangent(&a, 0, a.len(), &direction);
    let expected: f64 = g.a.iter().zip(direction).map(|(g, d)| g * d).sum();
    assert!((along - expected).abs() < 1e-12 * expected.abs().max(1.0));
    let graph = tree::graph(&a, 0, a.len());
    match graph.node("a").and_then(|n| n.gradient.clone()) {
        Some(backprop_runtime::graph::Shown::Array { head, .. }) => {
            assert_eq!(head, g.a[..head.len()]);
        }
        other => panic!("the picture shows {other:?} for a's gradient"),
    }
}

#[test]
fn one_tape_for_the_whole_recursion() {
    // Its memory is the stacks', not a tape per call: a few floats per call.
    let a: Vec<f64> = (0..64).map(|k| (k as f64 * 0.37).sin()).collect();
    let (_, tape) = tree::forward(&a, 0, a.len());
    let calls = 2 * a.len() - 1;
    assert!(
        tape.bytes() < calls * 48 + a.len() * 8 + 1024,
        "{} bytes for {calls} calls",
        tape.bytes()
    );
}

#[test]
fn a_call_before_the_call_of_itself_keeps_its_own_tape() {
    // One tape and gradient for every point, as an optimiser reuses them.
    let mut tape = bent::Tape::default();
    let mut g = bent::Grad::default();
    for v in points(2, 41) {
        for a in [0.4, -0.9, 1.3] {
            g.clear();
            let value = bent::grad_into(&v, a, 3, &mut tape, &mut g);
            assert_eq!(value, bent(&v, a, 3));
            let (_, oracle) = bent_by_hand::grad(&v, a);
            for (got, want) in
                g.v.iter()
                    .chain([&g.a])
                    .zip(oracle.v.iter().chain([&oracle.a]))
            {
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "{got} against {want}"
                );
            }
            let joined = [v.clone(), vec![a]].concat();
            assert_gradient(
                |p| bent(&p[..2], p[2], 3),
                &joined,
                &[g.v.clone(), vec![g.a]].concat(),
            );
        }
    }
}

/// A generic function calling itself whose own tape holds the float type
/// only through its calls' tapes (`TapeStack<Tape<T>>`: every value it
/// saves is an integer or a flag): rustc refused the tape ("type parameter
/// `T` is only used recursively", fuzz seed 59) until it got its marker.
#[differentiate]
fn only_recursive_float<T: backprop_runtime::Float>(v: &[T], a: T, depth: usize) -> T {
    if depth == 0 {
        return T::from(depth).unwrap().cos();
    }
    let v = v.to_vec();
    let below = only_recursive_float(&v, T::from(0.3).unwrap(), depth - 1);
    T::from(1.5).unwrap() * below + T::from(0.1).unwrap() * a + v[1]
}

#[test]
fn a_tape_whose_float_is_only_in_its_calls() {
    for depth in [0, 1, 3] {
        let v = [0.4, -1.1];
        let (value, g) = only_recursive_float::grad(&v, 0.7, depth);
        assert_eq!(value, only_recursive_float(&v, 0.7, depth));
        assert_gradient(
            |p| only_recursive_float(&p[..2], p[2], depth),
            &[0.4, -1.1, 0.7],
            &[g.v, vec![g.a]].concat(),
        );
    }
}

/// A recursion that returns nothing and writes a list: its frames hand
/// their stacks back alone (a tuple of one cursor).
#[differentiate]
fn pile(x: &[f64], out: &mut [f64], depth: usize) {
    if depth > 0 {
        out[0] += x[0] * x[0] * depth as f64;
        out[1] += x[1].sin();
        pile(x, out, depth - 1);
    }
}

#[differentiate]
fn piled(x: &[f64]) -> f64 {
    let mut out = vec![0.0; 2];
    pile(x, &mut out, 3);
    out[0] * out[1]
}

#[test]
fn a_recursion_that_returns_nothing_writes_its_list() {
    assert!(pile::SOURCE.contains("fn forward_frame"));
    for x in [[0.7, -0.4], [-1.3, 2.2]] {
        let (value, g) = piled::grad(&x);
        assert_eq!(value.to_bits(), piled(&x).to_bits());
        assert_gradient(piled, &x, &g.x);
    }
}
