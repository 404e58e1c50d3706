//! Mixed shapes: loops in loops with exits, buffers inside loops, returns from
//! nested loops, shadowing inside loops, a function without parameters.

mod common;
use backprop_runtime::differentiate;
use common::assert_gradient;

#[differentiate]
fn no_params() -> f64 {
    2.0
}

#[differentiate]
fn while_with_inner_for(x: f64, n: usize) -> f64 {
    let mut y = x;
    let mut k = 0;
    while k < n {
        for j in 0..3 {
            if j == 1 {
                continue;
            }
            y = y * 0.9 + x * j as f64;
        }
        k += 1;
        if y > 100.0 {
            break;
        }
    }
    y
}

#[differentiate]
#[allow(clippy::needless_range_loop)]
fn buffer_in_loop(x: f64, n: usize) -> f64 {
    let mut acc = 0.0;
    for i in 0..n {
        let mut tmp = [0.0; 3];
        for j in 0..3 {
            tmp[j] = x * (i + j) as f64;
        }
        acc += tmp[0] * tmp[2] - tmp[1];
    }
    acc
}

#[differentiate]
fn return_in_nested_loop(x: f64, n: usize) -> f64 {
    for i in 0..n {
        for j in 0..n {
            if (i * j) as f64 * x > 3.0 {
                return x * (i + j) as f64;
            }
        }
    }
    x.sin()
}

#[differentiate]
fn shadow_in_loop(x: f64) -> f64 {
    let mut total = 0.0;
    for i in 0..4 {
        let x = x * i as f64;
        total += x.sin();
    }
    total + x
}

#[differentiate]
fn if_else_value_in_loop(x: f64, n: usize) -> f64 {
    let mut a = x;
    for i in 0..n {
        a = if i % 2 == 0 { a * x } else { a + x.cos() };
    }
    a
}

#[test]
fn mixed_shapes() {
    assert_eq!(no_params::grad().0, 2.0);
    for n in [0, 1, 3] {
        for x in [0.3, 1.7] {
            let (v, g) = while_with_inner_for::grad(x, n);
            assert_eq!(v, while_with_inner_for(x, n));
            assert_gradient(|p| while_with_inner_for(p[0], n), &[x], &[g.x]);
            let (v, g) = buffer_in_loop::grad(x, n);
            assert_eq!(v, buffer_in_loop(x, n));
            assert_gradient(|p| buffer_in_loop(p[0], n), &[x], &[g.x]);
            let (v, g) = return_in_nested_loop::grad(x, n);
            assert_eq!(v, return_in_nested_loop(x, n));
            assert_gradient(|p| return_in_nested_loop(p[0], n), &[x], &[g.x]);
            let (v, g) = if_else_value_in_loop::grad(x, n);
            assert_eq!(v, if_else_value_in_loop(x, n));
            assert_gradient(|p| if_else_value_in_loop(p[0], n), &[x], &[g.x]);
        }
    }
    let (v, g) = shadow_in_loop::grad(0.4);
    assert_eq!(v, shadow_in_loop(0.4));
    assert_gradient(|p| shadow_in_loop(p[0]), &[0.4], &[g.x]);
}

const STEPS: usize = 4;

/// Constant ranges: the backward pass spells their counts again.
#[differentiate]
fn constant_ranges(x: f64) -> f64 {
    let mut a = x;
    for i in 2..5 {
        a = a * 0.5 + (i as f64) * x;
    }
    for k in 1..=3 {
        a += (a * k as f64).sin();
    }
    for _ in 0..STEPS {
        a *= 1.1;
    }
    a
}

#[test]
fn loops_over_constant_ranges() {
    for x in [0.3, -0.8] {
        check!(constant_ranges(x = x));
    }
}
