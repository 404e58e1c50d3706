//! GradBench's `lse`, `ode` and `kmeans` as a Rust programmer writes them
//! (`tests/objectives/gradbench.rs`): each gradient against central
//! differences and against the one written by hand.

mod common;
#[path = "objectives/gradbench.rs"]
mod objectives;

use common::{assert_gradient, Rng};
use objectives::*;

fn uniform(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(lo, hi)).collect()
}

#[track_caller]
fn assert_same(generated: &[f64], by_hand: &[f64]) {
    assert_eq!(generated.len(), by_hand.len());
    for (i, (a, b)) in generated.iter().zip(by_hand).enumerate() {
        assert!(
            (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0),
            "component {i}: generated {a}, by hand {b}"
        );
    }
}

#[test]
fn lse_gradient_matches() {
    let mut rng = Rng::new(51);
    for n in [1, 2, 7, 100] {
        let x = uniform(&mut rng, n, -5.0, 5.0);
        let (value, g) = lse::grad(&x);
        assert_eq!(value, objectives::lse(&x));
        assert_gradient(objectives::lse, &x, &g.x);
        let mut by_hand = vec![0.0; n];
        let hand_value = lse_gradient(&x, &mut by_hand);
        assert!((value - hand_value).abs() <= 1e-12 * value.abs().max(1.0));
        assert_same(&g.x, &by_hand);
    }
}

#[test]
fn ode_gradient_matches() {
    let mut rng = Rng::new(52);
    for (n, s) in [(1, 1), (4, 3), (8, 10)] {
        let x = uniform(&mut rng, n, 0.1, 1.0);
        let (value, g) = ode::grad(&x, s);
        assert_eq!(value, objectives::ode(&x, s));
        assert_gradient(|x| objectives::ode(x, s), &x, &g.x);
        let mut by_hand = vec![0.0; n];
        let hand_value = ode_gradient(&x, s, &mut by_hand);
        assert!((value - hand_value).abs() <= 1e-12 * value.abs().max(1.0));
        assert_same(&g.x, &by_hand);
    }
}

#[test]
fn kmeans_gradient_matches() {
    let mut rng = Rng::new(53);
    for (n, k, d) in [(5, 2, 1), (20, 4, 3), (50, 6, 2)] {
        let points = uniform(&mut rng, n * d, -1.0, 1.0);
        let centroids = uniform(&mut rng, k * d, -1.0, 1.0);
        let (value, g) = kmeans::grad(&points, &centroids, d);
        assert_eq!(value, objectives::kmeans(&points, &centroids, d));
        assert_gradient(
            |c| objectives::kmeans(&points, c, d),
            &centroids,
            &g.centroids,
        );
        let mut by_hand = vec![0.0; k * d];
        let hand_value = kmeans_gradient(&points, &centroids, d, &mut by_hand);
        assert_eq!(value, hand_value);
        assert_same(&g.centroids, &by_hand);
    }
}

#[test]
fn kmeans_over_rows_matches_the_flat_one() {
    let mut rng = Rng::new(55);
    for (n, k) in [(5, 2), (20, 4), (50, 6)] {
        let points = uniform(&mut rng, n * 3, -1.0, 1.0);
        let centroids = uniform(&mut rng, k * 3, -1.0, 1.0);
        let rows =
            |v: &[f64]| -> Vec<[f64; 3]> { v.chunks(3).map(|c| [c[0], c[1], c[2]]).collect() };
        let (value, g) = kmeans_rows::grad(&rows(&points), &rows(&centroids));
        let mut by_hand = vec![0.0; k * 3];
        let hand_value = kmeans_gradient(&points, &centroids, 3, &mut by_hand);
        assert_eq!(value, hand_value);
        let flat: Vec<f64> = g.centroids.iter().flatten().copied().collect();
        assert_same(&flat, &by_hand);
    }
}

#[test]
fn det_gradient_matches() {
    let mut rng = Rng::new(54);
    for ell in [1, 2, 3, 5] {
        let a = uniform(&mut rng, ell * ell, -1.0, 1.0);
        let (value, g) = det::grad(&a, ell);
        assert_eq!(value, objectives::det(&a, ell));
        assert_gradient(|a| objectives::det(a, ell), &a, &g.a);
        let mut by_hand = vec![0.0; ell * ell];
        let hand_value = det_gradient(&a, ell, &mut by_hand);
        assert!((value - hand_value).abs() <= 1e-12 * value.abs().max(1.0));
        assert_same(&g.a, &by_hand);
    }
    // A known case: the gradient of a determinant is its cofactor matrix.
    let (value, g) = det::grad(&[2.0, 1.0, 0.5, 3.0], 2);
    assert_eq!((value, g.a), (5.5, vec![3.0, -0.5, -1.0, 2.0]));
    // The expansion row's entry `a[r0 * n + cj]` is read again at its saved
    // index, not saved beside it; the recursion runs on one tape, each
    // iteration's values pushed together.
    let source = objectives::det_of_minor::SOURCE;
    let pushes: Vec<&str> = source.lines().filter(|l| l.contains(".push((")).collect();
    assert!(
        pushes.len() == 1 && pushes[0].contains("sum_2") && !pushes[0].contains("m0j"),
        "{pushes:?}"
    );
    assert!(source.contains("fn forward_frame") && !source.contains("TapeStack"));
}
