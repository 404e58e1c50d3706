//! Second order of functions written over `f64` or `f32`, asked for with
//! `#[differentiate(second_order)]`: `hvp` and `hessian` run through the
//! function's twin over a generic float (the macro writes it again with `T`
//! for the float, `T::from(2.0).unwrap()` for each literal,
//! `T::from(n).unwrap()` for `n as f64`). Checked against central
//! differences of the (first-order, `f64`) gradient, for symmetry, and
//! `hessian` against `hvp` along each axis, on both sides of every branch.

use backprop_runtime::{differentiate, relu, sigmoid};

/// Literals, casts of integers, a constant of `f64`, a buffer from `vec!`,
/// an iterator chain, a closure, a branch and a loop with a `break`.
#[differentiate(second_order)]
fn everyday(x: &[f64], scale: f64, n: usize) -> f64 {
    let mut h = vec![0.0; x.len()];
    let soft = |v: f64| v / (1.0 + v * v).sqrt();
    for i in 0..x.len() {
        h[i] = soft(x[i] * scale) + (i as f64) * 0.25 * x[i].powi(2);
        if h[i] > 2.0 {
            break;
        }
    }
    let total: f64 = h.iter().map(|v| v * v).sum();
    let bend = if x[0] > 0.0 {
        sigmoid(x[0]) * x[1].exp()
    } else {
        (x[0] * scale).sin() + std::f64::consts::PI * x[1]
    };
    total * scale + bend + relu(x[2] - 0.1) * n as f64 + f64::max(x[1], 0.5 * x[0])
}

#[differentiate(second_order)]
fn small(x: f32, y: f32) -> f32 {
    (x * y).sin() + x.exp() / (1.0 + y * y)
}

/// Scalars and an array, with `f64::` method paths.
#[differentiate(second_order)]
fn planar(p: [f64; 2], k: f64) -> f64 {
    let r = f64::hypot(p[0], p[1]);
    k * (r - 1.0).powi(2) + f64::atan2(p[1], p[0]) * 0.1 + f64::EPSILON
}

fn gradient(x: &[f64], scale: f64, n: usize) -> Vec<f64> {
    let (_, g) = everyday::grad(x, scale, n);
    [g.x, vec![g.scale]].concat()
}

/// `H v` against central differences of the gradient along `v`.
#[track_caller]
fn matches_differences(hv: &[f64], along: impl Fn(f64) -> Vec<f64>, tol: f64) {
    let h = 1e-6;
    let (plus, minus) = (along(h), along(-h));
    for (k, got) in hv.iter().enumerate() {
        let numeric = (plus[k] - minus[k]) / (2.0 * h);
        assert!(
            (got - numeric).abs() <= tol * numeric.abs().max(1.0),
            "(H v)[{k}] = {got}, differences give {numeric}"
        );
    }
}

#[test]
fn hvp_of_an_f64_function_is_the_derivative_of_its_gradient() {
    let mut sides = [false; 2];
    for x in [
        vec![0.5, -0.3, 1.2, 0.4],
        vec![-0.7, 0.4, 0.9, -1.1],
        vec![1.9, 0.8, 0.05, 2.5],
    ] {
        sides[usize::from(x[0] > 0.0)] = true;
        let (dx, dscale) = (vec![0.3, -1.0, 0.5, 0.2], 0.25);
        let (value, g, hv) = everyday::hvp(&x, 1.5, 3, &dx, dscale);
        assert_eq!(value, everyday(&x, 1.5, 3));
        assert_eq!([g.x.clone(), vec![g.scale]].concat(), gradient(&x, 1.5, 3));
        let along = |t: f64| {
            let x: Vec<f64> = x.iter().zip(&dx).map(|(a, b)| a + t * b).collect();
            gradient(&x, 1.5 + t * dscale, 3)
        };
        matches_differences(&[hv.x, vec![hv.scale]].concat(), along, 1e-5);
    }
    assert!(sides[0] && sides[1]);
}

#[test]
#[allow(clippy::needless_range_loop)]
fn hessians_are_symmetric_and_agree_with_hvp() {
    let x = [0.5, -0.3, 1.2, 0.4];
    let (value, rows) = everyday::hessian(&x, 1.5, 3);
    assert_eq!(value, everyday(&x, 1.5, 3));
    assert_eq!(rows.len(), 5);
    for i in 0..5 {
        for j in 0..5 {
            let scale = rows[i][j].abs().max(1.0);
            assert!(
                (rows[i][j] - rows[j][i]).abs() <= 1e-12 * scale,
                "H[{i}][{j}]"
            );
        }
        let mut dx = vec![0.0; 4];
        let mut dscale = 0.0;
        if i < 4 {
            dx[i] = 1.0;
        } else {
            dscale = 1.0;
        }
        let (_, _, hv) = everyday::hvp(&x, 1.5, 3, &dx, dscale);
        assert_eq!(rows[i], [hv.x, vec![hv.scale]].concat());
    }

    let (_, rows) = planar::hessian([0.6, -0.8], 2.0);
    let grad = |p: [f64; 2], k: f64| {
        let (_, g) = planar::grad(p, k);
        vec![g.p[0], g.p[1], g.k]
    };
    for (i, row) in rows.iter().enumerate() {
        let mut v = [0.0; 3];
        v[i] = 1.0;
        let along = |t: f64| grad([0.6 + t * v[0], -0.8 + t * v[1]], 2.0 + t * v[2]);
        matches_differences(row, along, 1e-5);
    }
}

#[test]
fn hvp_of_an_f32_function() {
    let (value, g, hv) = small::hvp(0.3, -0.8, 1.0, 0.5);
    assert_eq!(value, small(0.3, -0.8));
    let (_, first) = small::grad(0.3, -0.8);
    assert_eq!((g.x, g.y), (first.x, first.y));
    // Differences of the f32 gradient are coarse: compare with the closed
    // form of this small function instead.
    let (x, y) = (0.3_f64, -0.8_f64);
    let (c, s) = ((x * y).cos(), (x * y).sin());
    let d = 1.0 + y * y;
    let hxx = -y * y * s + x.exp() / d;
    let hxy = c - x * y * s - x.exp() * 2.0 * y / (d * d);
    let hyy = -x * x * s + x.exp() * (6.0 * y * y - 2.0) / (d * d * d);
    let (want_x, want_y) = (hxx + 0.5 * hxy, hxy + 0.5 * hyy);
    assert!(
        (f64::from(hv.x) - want_x).abs() < 1e-4,
        "{} vs {want_x}",
        hv.x
    );
    assert!(
        (f64::from(hv.y) - want_y).abs() < 1e-4,
        "{} vs {want_y}",
        hv.y
    );
}

/// A function that names a type `T` itself: the twin picks another name for
/// its float.
#[allow(dead_code)]
struct T;

#[differentiate(second_order)]
fn names_t(x: f64) -> f64 {
    let _marker: Option<T> = None;
    x.powi(3)
}

#[test]
fn the_twin_avoids_the_function_s_names() {
    let (_, _, hv) = names_t::hvp(2.0, 1.0);
    assert_eq!(hv.x, 12.0);
    let source = names_t::SOURCE;
    assert!(source.contains("F: ::backprop_runtime::Float"), "{source}");
    assert!(!source.contains("T: ::backprop_runtime::Float"), "{source}");
}

#[differentiate(second_order)]
fn soft(v: f64) -> f64 {
    v / (1.0 + v * v).sqrt()
}

#[differentiate(second_order)]
fn energy(x: &[f64]) -> f64 {
    let mut e = 0.0;
    for i in 1..x.len() {
        e += (x[i] - x[i - 1]).powi(2);
    }
    e
}

/// Calls of other functions over `f64`, which ask for second order too: the
/// twin calls theirs (`soft::generic`, `energy::generic`), on a whole slice
/// and a part.
#[differentiate(second_order)]
fn composed(x: &[f64], k: f64) -> f64 {
    let mut s = 0.0;
    for a in x {
        s += soft(k * a);
    }
    s + energy(x) * k + energy(&x[1..]).sqrt()
}

#[test]
#[allow(clippy::needless_range_loop)]
fn second_order_through_the_callees_twins() {
    let grad = |x: &[f64], k: f64| {
        let (_, g) = composed::grad(x, k);
        [g.x, vec![g.k]].concat()
    };
    for x in [vec![0.5, -0.3, 1.2, 0.4], vec![-1.5, 0.2, 0.9, 2.0]] {
        let (dx, dk) = (vec![0.3, -1.0, 0.5, 0.2], -0.75);
        let (value, g, hv) = composed::hvp(&x, 1.5, &dx, dk);
        assert_eq!(value, composed(&x, 1.5));
        assert_eq!([g.x.clone(), vec![g.k]].concat(), grad(&x, 1.5));
        let along = |t: f64| {
            let x: Vec<f64> = x.iter().zip(&dx).map(|(a, b)| a + t * b).collect();
            grad(&x, 1.5 + t * dk)
        };
        matches_differences(&[hv.x, vec![hv.k]].concat(), along, 1e-5);
    }
    let (_, rows) = composed::hessian(&[0.5, -0.3, 1.2], 0.8);
    for i in 0..4 {
        for j in 0..4 {
            assert!((rows[i][j] - rows[j][i]).abs() <= 1e-12 * rows[i][j].abs().max(1.0));
        }
    }
}

// `cube`, a custom rule usable in second order, is in `common`.
/// One step of an ODE's right-hand side, written in place: returns nothing,
/// so it has no `hvp` of its own, but its twin serves its callers'.
#[inline(never)]
#[differentiate(second_order)]
fn rhs(y: &[f64], k: &mut [f64]) {
    for i in 0..y.len() {
        k[i] = -y[i] * y[(i + 1) % y.len()].sin();
    }
}

/// Two Euler steps through `rhs`, writing parts of a state buffer.
#[differentiate(second_order)]
fn stepped(y0: &[f64], dt: f64) -> f64 {
    let n = y0.len();
    let mut y = y0.to_vec();
    let mut k = vec![0.0; 2 * n];
    for step in 0..2 {
        rhs(&y, &mut k[step * n..(step + 1) * n]);
        for i in 0..n {
            y[i] += dt * k[step * n + i];
        }
    }
    y.iter().map(|v| v * v).sum::<f64>() + k[0] * k[n]
}

#[test]
fn second_order_through_a_callee_that_writes_its_slice() {
    let grad = |y: &[f64], dt: f64| {
        let (_, g) = stepped::grad(y, dt);
        [g.y0, vec![g.dt]].concat()
    };
    for y in [vec![0.5, -0.3, 1.2], vec![-1.5, 0.2, 0.9]] {
        let (dy, ddt) = (vec![0.3, -1.0, 0.5], 0.4);
        let (value, g, hv) = stepped::hvp(&y, 0.1, &dy, ddt);
        assert_eq!(value, stepped(&y, 0.1));
        assert_eq!([g.y0.clone(), vec![g.dt]].concat(), grad(&y, 0.1));
        let along = |t: f64| {
            let y: Vec<f64> = y.iter().zip(&dy).map(|(a, b)| a + t * b).collect();
            grad(&y, 0.1 + t * ddt)
        };
        matches_differences(&[hv.y0, vec![hv.dt]].concat(), along, 1e-5);
    }
}

use crate::common::cube;

#[differentiate(second_order)]
fn through_rule(x: f64, y: f64) -> f64 {
    cube(x * y) + cube(y).sin()
}

#[test]
fn second_order_through_a_custom_rule_with_a_generic_version() {
    for (x, y) in [(0.7, -0.4), (-1.1, 0.9)] {
        let (_, _, hv) = through_rule::hvp(x, y, 1.0, 0.5);
        let grad = |x: f64, y: f64| {
            let (_, g) = through_rule::grad(x, y);
            vec![g.x, g.y]
        };
        matches_differences(&[hv.x, hv.y], |t| grad(x + t, y + 0.5 * t), 1e-5);
        // The closed form: f = (x y)^3 + sin(y^3).
        let hxx = 6.0 * x * y.powi(3);
        let hxy = 9.0 * x * x * y * y;
        let hyy =
            6.0 * x.powi(3) * y + 6.0 * y * (y.powi(3)).cos() - 9.0 * y.powi(4) * (y.powi(3)).sin();
        assert!((hv.x - (hxx + 0.5 * hxy)).abs() < 1e-9 * hxx.abs().max(1.0));
        assert!((hv.y - (hxy + 0.5 * hyy)).abs() < 1e-9 * hyy.abs().max(1.0));
    }
}
