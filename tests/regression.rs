//! Programs that once failed, each named after what went wrong: the
//! reproducers of issues 10 and 18 and what the differential fuzzer (`fuzz/`)
//! found.
//! Every case compares the value with the plain function and the gradient with
//! finite differences, at points on both sides of its branches.
// The reproducers are kept as they were found, indexing loops and all.
#![allow(
    clippy::needless_range_loop,
    clippy::let_and_return,
    clippy::useless_vec,
    clippy::manual_swap
)]

mod common;

use backprop_runtime::{differentiate, Float};
use common::check;

/// A `vec!` sized by a slice's length inside a loop: its length was not
/// available where the backward pass allocates the buffer's adjoint.
#[differentiate]
fn buffer_sized_by_slice_in_loop(x: f64, s: &[f64]) -> f64 {
    let mut tot = x;
    for i in 0..2 {
        let mut h = vec![0.0; s.len()];
        h[0] = tot * s[i];
        tot += h[0];
    }
    tot
}

/// The same inside a branch.
#[differentiate]
fn buffer_sized_by_slice_in_branch(x: f64, s: &[f64]) -> f64 {
    let mut tot = x * x;
    if x > 0.0 {
        let mut h = vec![0.0; s.len()];
        h[1] = x * s[1];
        tot += h[1].sin();
    }
    tot
}

/// The same after an early return, with the length bound first.
#[differentiate]
fn buffer_sized_after_early_return(x: f64, y: f64, ws: &[f64]) -> f64 {
    if y > 0.0 {
        return y * x;
    }
    let n = ws.len();
    let mut z = vec![0.0; n];
    z[0] = ws[0] * x;
    z[0] + y * x
}

#[test]
fn buffers_sized_by_a_slice_in_nested_code() {
    let s = [0.5, -1.5, 2.0];
    check(
        &[&[1.5, 0.5, -1.5, 2.0], &[-0.7, 0.3, 0.2, -0.4]],
        |v| buffer_sized_by_slice_in_loop(v[0], &v[1..]),
        |v| {
            let (value, g) = buffer_sized_by_slice_in_loop::grad(v[0], &v[1..]);
            (value, [vec![g.x], g.s].concat())
        },
    );
    for x in [0.8, -0.8] {
        check(
            &[&[x]],
            |v| buffer_sized_by_slice_in_branch(v[0], &s),
            |v| {
                let (value, g) = buffer_sized_by_slice_in_branch::grad(v[0], &s);
                (value, vec![g.x])
            },
        );
    }
    check(
        &[
            &[1.2, 0.4, 0.5, 2.0],
            &[1.2, -0.4, 0.5, 2.0],
            &[-0.3, -2.0, -1.0, 0.1],
        ],
        |v| buffer_sized_after_early_return(v[0], v[1], &v[2..]),
        |v| {
            let (value, g) = buffer_sized_after_early_return::grad(v[0], v[1], &v[2..]);
            (value, [vec![g.x, g.y], g.ws].concat())
        },
    );
}

/// A buffer's type annotation was dropped: `b[0].exp()` was a method call on
/// an ambiguous float.
#[differentiate]
fn annotated_buffers(x: f64, g: &[f64]) -> f64 {
    let b: [f64; 3] = [0.0; 3];
    let mut v: Vec<f64> = vec![0.0; 3];
    let beta = 0.9;
    let mut m: [f64; 3] = [0.0; 3];
    for i in 0..3 {
        m[i] = m[i].mul_add(beta, g[i] * x);
        v[i] = v[i].max(m[i]);
    }
    b[0].exp() * x + m[2] * v[1]
}

#[test]
fn buffers_with_type_annotations() {
    check(
        &[&[1.5, 1.0, 2.0, 3.0], &[-0.5, 0.3, -2.0, 0.7]],
        |v| annotated_buffers(v[0], &v[1..]),
        |v| {
            let (value, g) = annotated_buffers::grad(v[0], &v[1..]);
            (value, [vec![g.x], g.g].concat())
        },
    );
}

/// Iterator chains, `if` expressions and blocks inside conditions (of `if`,
/// `else if`, `while` and the right side of `&&`) were refused.
#[differentiate]
fn values_computed_in_conditions(x: f64, xs: &[f64]) -> f64 {
    let mut acc = x;
    if xs.iter().map(|&v| v * v).sum::<f64>() > 1.0 {
        acc *= 2.0;
    } else if (if x > 0.0 { x } else { -x }) < 0.5 {
        acc += 1.0;
    }
    if x * x > 0.01 && {
        let t = x.sin();
        t * 2.0
    } > 0.1
    {
        acc += x.exp();
    }
    let mut k = 0;
    while (if x > 0.0 { x } else { 1.0 }) * (k as f64) < 2.0 {
        acc += x * k as f64;
        k += 1;
    }
    acc
}

#[test]
fn conditions_with_chains_branches_and_blocks() {
    for point in [
        [0.3, 0.2, 0.1],
        [0.3, 2.0, 1.0],
        [-0.2, 0.1, 0.1],
        [-1.5, 0.1, 0.3],
        [1.1, 0.4, -0.2],
    ] {
        check(
            &[&point],
            |v| values_computed_in_conditions(v[0], &v[1..]),
            |v| {
                let (value, g) = values_computed_in_conditions::grad(v[0], &v[1..]);
                (value, [vec![g.x], g.xs].concat())
            },
        );
    }
}

/// `return` inside a loop over differentiated values got the message for
/// `break`/`continue`.
#[differentiate]
fn return_in_loop_over_values(a: f64, b: f64) -> f64 {
    let mut acc = 0.0;
    for v in [a, b] {
        if v > 1.0 {
            return acc + v;
        }
        acc += v * v;
    }
    acc
}

/// `let _ = ...;` (valid Rust, in Clad's test suite) was refused.
#[differentiate]
fn discarded_value(x: f64) -> f64 {
    let _ = x;
    let _ = x.exp();
    x * x
}

#[test]
fn returns_in_unrolled_loops_and_discarded_values() {
    check(
        &[&[0.5, 2.0], &[1.5, 0.3], &[0.5, 0.7]],
        |v| return_in_loop_over_values(v[0], v[1]),
        |v| {
            let (value, g) = return_in_loop_over_values::grad(v[0], v[1]);
            (value, vec![g.a, g.b])
        },
    );
    check(
        &[&[0.4], &[-1.3]],
        |v| discarded_value(v[0]),
        |v| {
            let (value, g) = discarded_value::grad(v[0]);
            (value, vec![g.x])
        },
    );
}

#[differentiate]
fn scale_in_place(v: &mut [f64], k: f64) {
    for i in 0..v.len() {
        v[i] *= k;
    }
}

/// A copy of a data slice, written and passed `&mut` to a differentiated
/// callee (ADBench's objectives are written this way): it was refused, or got
/// a scalar adjoint and failed to compile.
#[differentiate(wrt(k))]
fn copy_of_data(k: f64, data: &[f64]) -> f64 {
    let mut v = data.to_vec();
    v[0] += k;
    scale_in_place(&mut v, k);
    for _ in 0..2 {
        let mut w = data.to_vec();
        w[1] *= k;
        v[1] += w[1];
    }
    v.iter().sum()
}

/// `a.iter().zip(b)` with `a` data and `b` differentiated: "`sum` is not a
/// float method".
#[differentiate(wrt(b))]
fn zip_with_data_first(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[test]
fn data_slices_copied_and_zipped() {
    let data = [0.5, -1.0, 2.0];
    check(
        &[&[1.3], &[-0.6]],
        |v| copy_of_data(v[0], &data),
        |v| {
            let (value, g) = copy_of_data::grad(v[0], &data);
            (value, vec![g.k])
        },
    );
    check(
        &[&[0.1, 0.9, -2.0], &[1.0, 1.0, 1.0]],
        |v| zip_with_data_first(&data, v),
        |v| {
            let (value, g) = zip_with_data_first::grad(&data, v);
            (value, g.b)
        },
    );
}

/// A generic function with an early return: the unused value of the block
/// that returned was `Default::default()`, which `T: Float` does not have.
#[differentiate]
fn generic_early_return<T: Float>(a: T, b: T) -> T {
    if a < T::from(0.25).unwrap() {
        return a * b;
    }
    b + a.sin()
}

/// A constant expression bound to a variable the backward pass reads: its
/// type was not known, `(0.75_f64.powi(2) + 1.5).acosh() * 3.0`.
#[differentiate]
fn constant_expression_saved(p: f64) -> f64 {
    let mut value = (0.75_f64.powi(2) + 1.5).acosh() * 3.0;
    if p > 0.0 {
        value *= p;
    }
    value * p
}

/// An array literal whose elements are branches; `floor` of a branch; a
/// block inside an iterator chain's closure.
#[differentiate]
fn branches_inside_values(x: f64, s: &[f64]) -> f64 {
    let a = [if x > 0.0 { x } else { -x }, x * 2.0];
    let f = (if x > 1.0 { x } else { 2.5 }).floor();
    let t = s
        .iter()
        .map(|&v| {
            if {
                let w = v * x;
                w
            } > 0.0
            {
                v
            } else {
                x
            }
        })
        .sum::<f64>();
    a[0] * a[1] + f * x + t
}

#[test]
fn found_by_the_fuzzer() {
    for point in [[0.1, 2.0], [0.7, -0.5]] {
        check(
            &[&point],
            |v| generic_early_return(v[0], v[1]),
            |v| {
                let (value, g) = generic_early_return::grad(v[0], v[1]);
                (value, vec![g.a, g.b])
            },
        );
    }
    check(
        &[&[0.6], &[-0.6]],
        |v| constant_expression_saved(v[0]),
        |v| {
            let (value, g) = constant_expression_saved::grad(v[0]);
            (value, vec![g.p])
        },
    );
    for point in [[1.7, 0.5, -0.5], [-0.4, 0.5, -0.5], [0.6, 0.3, 1.2]] {
        check(
            &[&point],
            |v| branches_inside_values(v[0], &v[1..]),
            |v| {
                let (value, g) = branches_inside_values::grad(v[0], &v[1..]);
                (value, [vec![g.x], g.s].concat())
            },
        );
    }
}

/// A closure called inside a condition stayed in the kept condition, where
/// the generated code has no closure (closures are inlined where called).
#[differentiate]
fn closure_called_in_condition(p: f64) -> f64 {
    let t = |u: f64| u * p;
    let mut acc = p;
    for _ in 0..3 {
        let q = if t(p) <= 0.5 { p * 2.0 } else { p.sin() };
        acc += q;
    }
    acc
}

/// `collect` and a `vec!` holding an iterator chain, over a data slice.
#[differentiate(wrt(x))]
fn chains_over_data(x: f64, data: &[f64]) -> f64 {
    let scaled: Vec<f64> = data.iter().map(|&d| d * x).collect();
    let both = vec![
        data[1],
        data.iter()
            .zip(data.iter())
            .map(|(&a, &b)| a * b)
            .sum::<f64>(),
    ];
    scaled[0] * both[1] + scaled[1] * x
}

#[test]
fn closures_and_chains_over_data() {
    check(
        &[&[0.3], &[0.9], &[-0.4]],
        |v| closure_called_in_condition(v[0]),
        |v| {
            let (value, g) = closure_called_in_condition::grad(v[0]);
            (value, vec![g.p])
        },
    );
    let data = [0.5, -1.5, 2.0];
    check(
        &[&[0.3], &[-1.1]],
        |v| chains_over_data(v[0], &data),
        |v| {
            let (value, g) = chains_over_data::grad(v[0], &data);
            (value, vec![g.x])
        },
    );
}

/// A `vec!` of floats that do not depend on the inputs (`prod` is a constant)
/// was kept as data, and writing into it was refused.
#[differentiate]
fn vector_of_constants_written(p: f64) -> f64 {
    let prod = 1.0;
    let mut v = vec![(prod * 2.0_f64).acosh(), prod, prod];
    for i in 0..3 {
        v[i] += p * (i as f64 + 1.0);
    }
    v[1] * v[2]
}

/// An `if` whose condition holds another `if`, as an element of `vec!`.
#[differentiate]
fn branch_in_vector_element(x: f64, y: f64) -> f64 {
    let v = vec![
        x,
        if (if y < 0.75 { 3.0 } else { x }) > 1.0 {
            x * y
        } else {
            y
        },
    ];
    v[0] * v[1]
}

#[test]
fn vectors_of_constants_and_branches() {
    check(
        &[&[0.3], &[-1.2]],
        |v| vector_of_constants_written(v[0]),
        |v| {
            let (value, g) = vector_of_constants_written::grad(v[0]);
            (value, vec![g.p])
        },
    );
    for point in [[0.5, 0.2], [2.0, 1.5], [0.5, 1.5]] {
        check(
            &[&point],
            |v| branch_in_vector_element(v[0], v[1]),
            |v| {
                let (value, g) = branch_in_vector_element::grad(v[0], v[1]);
                (value, vec![g.x, g.y])
            },
        );
    }
}

/// `println!`, `eprintln!` and `dbg!` while debugging were refused; they run
/// in the forward pass, with the values the names have at that point.
#[differentiate]
fn prints_while_debugging(x: f64, s: &[f64]) -> f64 {
    let mut acc = x;
    for i in 0..s.len() {
        acc *= s[i];
        println!("step {i}: acc = {acc}");
    }
    dbg!(acc);
    eprintln!("{:?} {}", s, x);
    acc
}

#[test]
fn printing_macros_in_the_forward_pass() {
    check(
        &[&[1.5, 2.0, 3.0], &[-0.5, 0.3, 1.1]],
        |v| prints_while_debugging(v[0], &v[1..]),
        |v| {
            let (value, g) = prints_while_debugging::grad(v[0], &v[1..]);
            (value, [vec![g.x], g.s].concat())
        },
    );
}

/// A chain in a condition inside a closure inside `vec![..]`: the macro's
/// tokens were not searched for conditions.
#[differentiate]
fn chain_in_closure_in_vector(x: f64, s: &[f64]) -> f64 {
    let v = vec![
        1.0,
        s.iter()
            .map(|&c| {
                if s.iter().fold(0.0, |acc, &t| acc + t) >= c {
                    x * c
                } else {
                    x
                }
            })
            .sum::<f64>(),
    ];
    v[0] + v[1]
}

#[test]
fn chains_in_closures_in_vectors() {
    check(
        &[&[0.7, 0.5, 2.0, -1.0], &[-1.3, 3.0, 0.1, 0.2]],
        |v| chain_in_closure_in_vector(v[0], &v[1..]),
        |v| {
            let (value, g) = chain_in_closure_in_vector::grad(v[0], &v[1..]);
            (value, [vec![g.x], g.s].concat())
        },
    );
}

// Issue 18: GradBench's problems as a Rust programmer writes them.

/// `&mut [usize]` passed to a callee that differentiates only `a`: the caller
/// gave the list a float adjoint (`cannot find value dr`).
#[differentiate(wrt(a))]
fn pick(a: &[f64], r: &mut [usize]) -> f64 {
    let i: usize = r[0];
    r[1] = i;
    a[i] * a[i]
}

#[differentiate]
fn pick_caller(a: &[f64]) -> f64 {
    let mut r = vec![1usize; 2];
    let first = pick(a, &mut r);
    first + a[r[1]]
}

/// A `&mut [f64]` parameter passed on to a callee that only reads it, beside
/// a buffer it writes: the shape of every in-place ODE stepper.
#[differentiate]
fn rhs(y: &[f64], z: &mut [f64]) {
    for i in 0..y.len() {
        z[i] = 2.0 * y[i] * y[(i + 1) % y.len()];
    }
}

#[differentiate]
fn euler_step(y: &mut [f64], h: f64) {
    let mut k = vec![0.0; y.len()];
    rhs(y, &mut k);
    for i in 0..y.len() {
        y[i] += h * k[i];
    }
}

#[differentiate]
fn integrate(y0: &[f64], h: f64) -> f64 {
    let mut y = y0.to_vec();
    for _ in 0..3 {
        euler_step(&mut y, h);
    }
    y.iter().sum()
}

/// Determinant by cofactor expansion over a list of rows in play, which the
/// recursion rewrites and restores (GradBench's `det`).
#[differentiate(wrt(a))]
fn det_of(a: &[f64], p: usize, n: usize, r: &mut [usize], c: usize) -> f64 {
    if n == 1 {
        return a[r[0] * p + c];
    }
    let mut total = 0.0;
    let mut sign = 1.0;
    for k in 0..n {
        let row = r[k];
        let r0 = r[n - 1];
        r[k] = r0;
        let minor = det_of(a, p, n - 1, r, c + 1);
        r[k] = row;
        total += sign * a[row * p + c] * minor;
        sign = -sign;
    }
    total
}

#[differentiate(wrt(a))]
fn det(a: &[f64], p: usize) -> f64 {
    let mut r = vec![0usize; p];
    for i in 0..p {
        r[i] = i;
    }
    det_of(a, p, p, &mut r, 0)
}

/// A copy of an index list, written; an element read after a later write.
#[differentiate(wrt(a))]
fn swapped_copy(a: &[f64], idx: &[usize]) -> f64 {
    let mut r = idx.to_vec();
    let first = r[0];
    r[0] = r[1];
    r[1] = first;
    a[r[0]] * a[r[1]] * a[first]
}

/// A plain helper that writes the list, called as a statement.
fn set(r: &mut [usize], k: usize, v: usize) {
    r[k] = v;
}

#[differentiate(wrt(a))]
fn with_plain_helper(a: &[f64], r: &mut [usize], n: usize) -> f64 {
    let before = a[r[n]];
    let r0 = r[0];
    set(r, n, r[r0]);
    before * a[r[n]]
}

#[test]
fn index_lists_and_mut_slices_passed_on() {
    check(&[&[0.5, 1.5, -2.0], &[1.0, -0.3, 0.7]], pick_caller, |v| {
        let (value, g) = pick_caller::grad(v);
        (value, g.a)
    });
    // Forward mode too: the list lent `&mut` is data, with no tangent.
    for v in [[0.5, 1.5, -2.0], [1.0, -0.3, 0.7]] {
        let (_, g) = pick_caller::grad(&v);
        for axis in 0..3 {
            let mut direction = [0.0; 3];
            direction[axis] = 1.0;
            let (value, along) = pick_caller::tangent(&v, &direction);
            assert_eq!(value, pick_caller(&v));
            assert!((along - g.a[axis]).abs() <= 1e-12 * g.a[axis].abs().max(1.0));
        }
        let (_, j) = pick_caller::jacobian_fwd(&v);
        for (forward, reverse) in j.a.iter().zip(&g.a) {
            assert!((forward - reverse).abs() <= 1e-12 * reverse.abs().max(1.0));
        }
    }
    check(
        &[&[0.5, 1.5, -2.0, 0.1], &[1.0, -0.3, 0.7, 0.2]],
        |v| integrate(&v[1..], v[0] * 0.1),
        |v| {
            let (value, g) = integrate::grad(&v[1..], v[0] * 0.1);
            (value, [vec![g.h * 0.1], g.y0].concat())
        },
    );
    let a = [2.0, 1.0, 0.5, -1.0, 3.0, 0.25, 0.5, 1.5, 4.0];
    check(
        &[&a, &[1.0, 0.0, 2.0, 0.5, 1.0, -1.0, 3.0, 2.0, 0.25]],
        |v| det(v, 3),
        |v| {
            let (value, g) = det::grad(v, 3);
            (value, g.a)
        },
    );
    check(
        &[&[1.0, 2.0, 3.0], &[-0.5, 0.25, 2.0]],
        |v| swapped_copy(v, &[0, 2]),
        |v| {
            let (value, g) = swapped_copy::grad(v, &[0, 2]);
            (value, g.a)
        },
    );
    check(
        &[&[1.0, 2.0, 3.0], &[-0.5, 0.25, 2.0]],
        |v| with_plain_helper(v, &mut [2, 0, 1], 1),
        |v| {
            let (value, g) = with_plain_helper::grad(v, &mut [2, 0, 1], 1);
            (value, g.a)
        },
    );
}

/// A `&mut [usize]` read inside a loop: the tape held the reference itself
/// (`missing lifetime specifier`); it now keeps a copy of the contents.
#[differentiate]
fn list_read_in_loop(x: f64, perm: &mut [usize], m: &mut [f64]) -> f64 {
    let mut z: f64 = x;
    for _ in 0..4 {
        z += m[perm[1]] * x;
    }
    for i in (1..m.len()).rev() {
        m[i] += z;
    }
    m[2]
}

#[test]
fn lists_read_in_loops() {
    for point in [[0.5, 1.0, -2.0, 3.0], [-1.5, 0.3, 0.7, 0.2]] {
        let value = |v: &[f64]| {
            let mut m = v[1..].to_vec();
            list_read_in_loop(v[0], &mut [2, 1, 0], &mut m)
        };
        check(&[&point], value, |v| {
            let mut m = v[1..].to_vec();
            let (value, tape) = list_read_in_loop::forward(v[0], &mut [2, 1, 0], &mut m);
            let g = list_read_in_loop::backward(&tape, (1.0, &[0.0, 0.0, 0.0]));
            (value, [vec![g.x], g.m].concat())
        });
    }
}

/// `T::from(x).unwrap()` of a differentiated `x: T` was refused ("`unwrap` is
/// not a float method"): it is the same value.
#[differentiate]
fn generic_self_conversion<T: Float>(x: T, y: T) -> T {
    let z = T::from(x * y).unwrap();
    z * x + T::from(2.5).unwrap()
}

#[test]
fn conversions_to_the_same_float() {
    check(
        &[&[3.0, 0.5], &[-1.2, 2.0]],
        |v| generic_self_conversion(v[0], v[1]),
        |v| {
            let (value, g) = generic_self_conversion::grad(v[0], v[1]);
            (value, vec![g.x, g.y])
        },
    );
}

/// A closure call as the receiver of a method with no derivative
/// (`df(1.25).signum()`) was kept as written, where no closure exists.
#[differentiate]
fn closure_under_piecewise_constant(p: f32, q: f32) -> f32 {
    let df = |prod: f32| prod * q;
    let sum = df(1.25).signum();
    sum * p + df(p).floor() * q
}

#[test]
fn closures_under_methods_without_derivative() {
    for (p, q) in [(0.5_f32, 2.0_f32), (-1.3, 0.7)] {
        let (value, g) = closure_under_piecewise_constant::grad(p, q);
        assert_eq!(value, closure_under_piecewise_constant(p, q));
        // floor and signum are flat: the value is sum * p + floor(p q) * q.
        let expected_q = (p * q).floor();
        assert_eq!((g.p, g.q), ((1.25 * q).signum(), expected_q));
    }
}

/// An iterator chain or a branch inside a cast of values that do not depend
/// on the inputs (`f64::from(chain) as f32`) was kept as written and refused.
#[differentiate(wrt(p))]
fn casts_of_computed_data(p: f32, data: &[f32], n: usize) -> f32 {
    let sigx = f64::from(
        data.windows(2)
            .map(|win| {
                let t = win[0];
                t.mul_add(data[1], n as f32)
            })
            .sum::<f32>(),
    ) as f32;
    let mut running = 1.25;
    running += f64::from(if running <= 2.0 { running } else { 0.5 }) as f32;
    sigx * p + running * p
}

#[test]
fn casts_of_chains_and_branches() {
    for p in [0.5_f32, -2.0] {
        let data = [1.0_f32, 2.0, 3.0];
        let (value, g) = casts_of_computed_data::grad(p, &data, 2);
        assert_eq!(value, casts_of_computed_data(p, &data, 2));
        // Linear in p: the slope is sigx + running = 10 + 2.5.
        assert_eq!(g.p, 12.5);
    }
}

/// Methods: a local named like a field (`let w = ..`) renamed the field's
/// `Grad` entry to `w_2`; `self.w` inside `vec![..]` was left as `self.w` in
/// the free function (E0424).
pub struct Model {
    pub w: Vec<f64>,
    pub b: f64,
}

#[differentiate]
impl Model {
    #[differentiate]
    pub fn shadows(&self, x: f64) -> f64 {
        let b = x * 2.0;
        let w = self.w[0] * self.b;
        let v = vec![b, self.w[1], w];
        v[0] * v[1] + v[2] * x
    }
}

#[test]
fn method_locals_named_like_fields() {
    for (w, b, x) in [([1.5, -2.0], 0.5, 3.0), ([0.3, 0.7], -1.2, -0.4)] {
        check(
            &[&[w[0], w[1], b, x]],
            |v| {
                Model {
                    w: v[..2].to_vec(),
                    b: v[2],
                }
                .shadows(v[3])
            },
            |v| {
                let model = Model {
                    w: v[..2].to_vec(),
                    b: v[2],
                };
                let (value, g) = model.shadows_grad(v[3]);
                (value, vec![g.w[0], g.w[1], g.b, g.x])
            },
        );
    }
}

#[differentiate]
fn square_of(a: &f64) -> f64 {
    *a * *a
}

/// A float field passed to a `&f64` parameter (`square_of(&self.b)`) was
/// taken for an array, and `self.b.powi(2)` then refused.
pub struct Scaled {
    pub w: Vec<f64>,
    pub b: f64,
}

#[differentiate]
impl Scaled {
    #[differentiate]
    pub fn energy(&self, q: f64) -> f64 {
        square_of(&self.b) + self.b.powi(2) * q + self.w[1].min(self.w[0])
    }
}

#[test]
fn float_fields_passed_by_reference() {
    for point in [[1.5, -2.0, 0.5, 3.0], [0.3, 0.7, -1.2, -0.4]] {
        check(
            &[&point],
            |v| {
                Scaled {
                    w: v[..2].to_vec(),
                    b: v[2],
                }
                .energy(v[3])
            },
            |v| {
                let model = Scaled {
                    w: v[..2].to_vec(),
                    b: v[2],
                };
                let (value, g) = model.energy_grad(v[3]);
                (value, vec![g.w[0], g.w[1], g.b, g.q])
            },
        );
    }
}

/// A marked method called in another's condition (`if self.g(t) >= ..`) was
/// kept as a call of a function that did not exist (only its module did).
pub struct Pair {
    pub w: Vec<f64>,
    pub b: f64,
}

#[differentiate]
impl Pair {
    #[differentiate]
    pub fn g(&self, t: f64) -> f64 {
        (self.b * t).tanh() + self.w[1] * t
    }

    #[differentiate]
    pub fn f(&self, p: f64) -> f64 {
        if self.g(p) >= self.w[0] {
            self.g(p * 2.0)
        } else {
            p * self.b
        }
    }
}

#[test]
fn marked_methods_called_in_conditions() {
    for point in [
        [0.1, 0.5, 0.8, 1.5],
        [2.0, -0.5, 0.8, 1.5],
        [0.3, 0.7, -1.2, -0.4],
    ] {
        check(
            &[&point],
            |v| {
                Pair {
                    w: v[..2].to_vec(),
                    b: v[2],
                }
                .f(v[3])
            },
            |v| {
                let model = Pair {
                    w: v[..2].to_vec(),
                    b: v[2],
                };
                let (value, g) = model.f_grad(v[3]);
                (value, vec![g.w[0], g.w[1], g.b, g.p])
            },
        );
    }
}

/// A `vec!` of values read from a data slice, zipped with itself with a
/// tuple pattern: the elements' type was unknown, so the vector was kept as
/// data and the loop refused (`only for name in ...`).
#[differentiate(wrt(x))]
fn zip_of_vector_from_data(x: f64, data: &[f64]) -> f64 {
    let dy = data[1];
    let w = vec![dy, dy * x];
    w.iter()
        .zip(w.iter())
        .map(|(&p, &q)| p * q * x)
        .sum::<f64>()
}

#[test]
fn vectors_of_data_zipped() {
    let data = [1.0, 2.0];
    check(
        &[&[1.5], &[-0.7]],
        |v| zip_of_vector_from_data(v[0], &data),
        |v| {
            let (value, g) = zip_of_vector_from_data::grad(v[0], &data);
            (value, vec![g.x])
        },
    );
}

/// A `match` arm's guard runs only when the arms before it failed and its own
/// pattern matched, as in Rust: the gradient evaluated every arm's test up
/// front, and `v[i]` panicked (index out of bounds) where the function does
/// not.
#[differentiate(wrt(x))]
fn guard_reads_only_in_bounds(x: f64, v: &[f64], i: usize) -> f64 {
    match i {
        _ if i >= v.len() => x,
        _ if v[i] > 0.0 => x * v[i],
        _ => -x,
    }
}

#[differentiate(wrt(x))]
fn guard_after_its_pattern(x: f64, v: &[f64], i: usize) -> f64 {
    match i {
        0..=1 if v[i] > 0.0 => x * v[i],
        n if n < 10 => x * x,
        _ => -x.sin(),
    }
}

#[test]
fn match_guards_run_lazily_on_every_arm() {
    let v = [1.5, -2.0];
    for i in [0, 1, 2, 5, 20] {
        for x in [0.7, -1.3] {
            check!(guard_reads_only_in_bounds(x = x, &v, i));
            check!(guard_after_its_pattern(x = x, &v, i));
        }
    }
}

/// A `match` arm whose code is one loop over a slice (run by index, with
/// `#[allow(clippy::needless_range_loop)]` on it) printed as `pat => #[allow]
/// for ..,`: "attributes on expressions are experimental" (the fuzzer, seed 1).
#[differentiate(wrt(x))]
fn loop_as_an_arm(x: f64, s: &[f64], n: usize) -> f64 {
    // Nothing in the arms reaches the result: the first is the loop alone.
    match n % 3 {
        0 => {
            for &v in s.iter() {
                let _ = (v * x).sin();
            }
        }
        1 => {
            let _ = x.cos();
        }
        _ => {
            let _ = x.exp();
        }
    }
    x * s[1]
}

#[test]
fn a_match_arm_that_is_a_loop() {
    let s = [0.5, -1.0, 2.0];
    for n in 0..3 {
        for x in [0.7, -1.3] {
            check!(loop_as_an_arm(x = x, &s, n));
        }
    }
}

/// A buffer whose elements are written once per pass of an outer loop: each
/// value written is overwritten by the next pass, so it cannot be read back
/// from the buffer's final contents (the fuzzer, seed 321: the backward pass
/// read every pass's `tanh` as the last one's).
#[differentiate]
fn rewritten_each_pass(x: f64) -> f64 {
    let mut h = [0.0; 2];
    for _ in 0..3 {
        for k in 0..2 {
            h[k] = (h[k] + x).tanh();
        }
    }
    h[1]
}

#[test]
fn values_overwritten_by_a_later_pass_are_kept() {
    for x in [0.3, -0.8, 1.4] {
        check!(rewritten_each_pass(x = x));
    }
}

/// A match whose arms return early, one of them ending in a loop: with the
/// returns desugared, that arm's code is the loop and then its results, which
/// were printed without braces, `_ => for .. {} (returned, result),`, a call
/// of the loop to rustc (the fuzzer, seed 1899274548548722170).
#[differentiate(wrt(x))]
#[allow(clippy::needless_return)]
fn returns_beside_a_loop_arm(x: f64, w: [f64; 3], data: &[f64], n: usize) -> f64 {
    match n % 4 {
        0 => {}
        1 | 2 => {
            return 1.5 * x;
        }
        _ => for _ in 0..data.len() {},
    }
    w[1] * x
}

#[test]
fn an_arm_that_ends_in_a_loop_keeps_its_braces() {
    let data = [0.5, 2.0];
    for n in 0..4 {
        for x in [0.7, -1.3] {
            check!(returns_beside_a_loop_arm(x = x, [0.5, -1.0, 2.0], &data, n));
        }
    }
}

/// `s.sin()` on the `&mut f64` of an `iter_mut()` loop is `(*s).sin()`;
/// the loop was left as written and refused ("iterates over values that
/// depend on the differentiated inputs"), found drawing a graph.
#[differentiate(wrt(rate, data))]
fn method_on_an_iter_mut_element(data: &[f64], rate: f64) -> f64 {
    let mut state = data.to_vec();
    for s in state.iter_mut() {
        *s -= rate * s.sin() * s.abs();
    }
    state[0] * state[1] + state[2]
}

#[test]
fn a_method_on_an_iter_mut_element_reads_the_element() {
    for rate in [0.3, -0.8] {
        let data = [0.4, -1.1, 2.0];
        let (value, g) = method_on_an_iter_mut_element::grad(&data, rate);
        assert_eq!(value, method_on_an_iter_mut_element(&data, rate));
        let f = |v: &[f64]| method_on_an_iter_mut_element(&v[1..], v[0]);
        let point = [rate, data[0], data[1], data[2]];
        let mut analytic = vec![g.rate];
        analytic.extend(&g.data);
        common::assert_gradient(f, &point, &analytic);
    }
}

#[differentiate]
fn two_results(a: f64, b: f64) -> (f64, f64) {
    (a * b, a + b)
}

/// A call of a function with several results, bound whole and never read:
/// forward mode pulled back through it with a float seed where the callee
/// takes a tuple (E0308 inside the expansion; the fuzzer, seed 2718, once
/// pairs could travel as arrays).
#[differentiate]
#[allow(unused_variables)]
fn unread_results(x: f64, m: &mut [f64]) {
    let unread = two_results(x.sin(), x.cos());
    m[0] += x * x;
}

#[test]
fn a_call_whose_results_nothing_reads_has_no_tangent() {
    let mut m = [0.5, 1.0];
    let mut dot_m = [0.0, 0.0];
    unread_results::tangent(0.3, &mut m, 1.0, &mut dot_m);
    assert_eq!(m, [0.5 + 0.09, 1.0]);
    assert!((dot_m[0] - 0.6).abs() < 1e-15);
    let mut m = [0.5, 1.0];
    let (_, tape) = unread_results::forward(0.3, &mut m);
    let g = unread_results::backward(&tape, &[1.0, 0.0]);
    assert!((g.x - 0.6).abs() < 1e-15);
}

#[differentiate]
fn pair_of(x: f64) -> [f64; 2] {
    [x * x, x.sin()]
}

#[differentiate]
fn weighted_pair(p: [f64; 2]) -> f64 {
    p[0] + 3.0 * p[1]
}

/// A local array of differentiated values passed by value to a callee: its
/// tangent went to the callee's forward-mode rule as the array where a slice
/// was expected (E0308 inside the expansion), found writing a message.
#[differentiate]
fn array_passed_by_value(x: f64) -> f64 {
    let [a, b] = pair_of(x);
    let q = [a, b];
    a * weighted_pair(q)
}

/// A call's array read by index in a condition as well: no adjoint flows
/// there, so it is no use of the array whole (the fuzzer, seed 2718).
#[differentiate]
fn elements_in_a_condition(x: f64) -> f64 {
    let p = pair_of(x);
    if p[0] > 0.3 && p[1] < 2.0 {
        p[1] * x
    } else {
        p[0]
    }
}

#[test]
fn arrays_by_value_and_elements_in_conditions() {
    for x in [0.7, 0.3, -1.2] {
        check!(array_passed_by_value(x = x));
        check!(elements_in_a_condition(x = x));
        let (_, g) = array_passed_by_value::grad(x);
        let (_, along) = array_passed_by_value::tangent(x, 1.0);
        assert!((along - g.x).abs() < 1e-12 * g.x.abs().max(1.0));
        let (_, g) = elements_in_a_condition::grad(x);
        let (_, along) = elements_in_a_condition::tangent(x, 1.0);
        assert!((along - g.x).abs() < 1e-12 * g.x.abs().max(1.0));
    }
}

/// A call returning an array whose result is read only in a condition: no
/// element of it carries a derivative, and forward mode took its tangent as
/// a float's (a type error at the attribute; fuzzer, program
/// 12398244693171781967, older than the session that found it).
#[differentiate]
fn product_and_sum(a: f64, b: f64) -> [f64; 2] {
    [a * b, a + b]
}

#[differentiate]
fn array_result_only_compared(x: f64, y: f64) -> f64 {
    let p = product_and_sum(x, y);
    let mut scale = 1.0;
    if p[0] < 0.2 {
        scale = 2.0;
    }
    // A call's value whose only reader is a write (a push): its tangent is
    // read (the first fix missed this, found by the fuzzer again).
    let mut pushed = Vec::new();
    for k in 0..2 {
        pushed.push(squared_call(x + k as f64));
    }
    scale * x * y + pushed[1]
}

#[differentiate]
fn squared_call(a: f64) -> f64 {
    a * a
}

#[test]
fn an_array_result_read_only_in_a_condition() {
    for (x, y) in [(0.5, 0.7), (-0.3, 0.2)] {
        check(
            &[&[x, y]],
            |v| array_result_only_compared(v[0], v[1]),
            |v| {
                let (value, g) = array_result_only_compared::grad(v[0], v[1]);
                (value, vec![g.x, g.y])
            },
        );
        let (value, dot) = array_result_only_compared::tangent(x, y, 1.0, -0.5);
        let (_, g) = array_result_only_compared::grad(x, y);
        assert_eq!(value, array_result_only_compared(x, y));
        assert!((dot - (g.x - 0.5 * g.y)).abs() < 1e-12);
    }
}

/// A table read by linear interpolation, its index an integer cast of a
/// differentiated value clamped by an integer method:
/// `((t * n) as usize).min(n - 2)` is integer work (it was lowered as a
/// float `min`, a type error inside the expansion).
#[differentiate]
fn interpolated(t: f64, table: &[f64]) -> f64 {
    let scaled = t * (table.len() - 1) as f64;
    let i = (scaled as usize).min(table.len() - 2);
    let j = ((t * 2.0).floor() as usize).clamp(0, table.len() - 1);
    let frac = scaled - i as f64;
    table[i] * (1.0 - frac) + table[i + 1] * frac + table[j] * t
}

#[test]
fn an_integer_cast_of_a_differentiated_value_clamped_by_a_method() {
    // Each interval, and past the end (the index clamped).
    for t in [0.1, 0.45, 0.8, 1.2] {
        check(
            &[&[t, 1.0, 2.5, 4.0, 3.0]],
            |v| interpolated(v[0], &v[1..]),
            |v| {
                let (value, g) = interpolated::grad(v[0], &v[1..]);
                (value, [vec![g.t], g.table].concat())
            },
        );
    }
}

/// Assertions are made by the generated passes as by the function: a
/// gradient at a point the function refuses panics as the function does.
#[differentiate]
fn asserted(x: f64) -> f64 {
    assert!(x > 0.0, "x must be positive");
    // Lists compared whole keep their types in the generated passes.
    let pair = [x, 2.0 * x];
    let copy = vec![x, 2.0 * x];
    assert_eq!(pair, [x, 2.0 * x]);
    assert_eq!(copy, vec![x, 2.0 * x], "copied: {copy:?}");
    x.ln() * copy[1]
}

#[test]
fn an_assertion_fails_in_the_gradient_as_in_the_function() {
    check(
        &[&[0.5], &[2.0]],
        |v| asserted(v[0]),
        |v| {
            let (value, g) = asserted::grad(v[0]);
            (value, vec![g.x])
        },
    );
    assert!(std::panic::catch_unwind(|| asserted::grad(-1.0)).is_err());
}

/// A double buffer swapped each step, `std::mem::swap(&mut cur, &mut next)`
/// (an explicit heat equation), and a local vector checked and printed:
/// swapped element by element, and lent to the statements (it was moved
/// into them, a borrow error inside the expansion).
#[differentiate]
fn heat_swapped(u0: &[f64], alpha: f64, steps: usize) -> f64 {
    let n = u0.len();
    let mut cur = u0.to_vec();
    let mut next = vec![0.0; n];
    for _ in 0..steps {
        for i in 1..n - 1 {
            next[i] = cur[i] + alpha * (cur[i - 1] - 2.0 * cur[i] + cur[i + 1]);
        }
        next[0] = cur[0];
        next[n - 1] = cur[n - 1];
        std::mem::swap(&mut cur, &mut next);
    }
    assert_eq!(cur.len(), n);
    if steps > 100 {
        println!("{cur:?}");
    }
    cur[n / 2] * cur[1]
}

#[test]
fn a_double_buffer_swapped_each_step() {
    for steps in [1, 4] {
        check(
            &[
                &[0.0, 0.5, 1.0, 0.2, 0.0, 0.2],
                &[1.0, -0.5, 0.3, 0.7, 0.1, 0.1],
            ],
            |v| heat_swapped(&v[..5], v[5], steps),
            |v| {
                let (value, g) = heat_swapped::grad(&v[..5], v[5], steps);
                (value, [g.u0, vec![g.alpha]].concat())
            },
        );
    }
}

/// Lifetime parameters, in the signature and a `where` clause: the
/// generated code does without them (it was refused: "one type parameter").
#[differentiate]
fn with_lifetimes<'a, 'b>(x: &'a [f64], rows: &'b [Vec<f64>]) -> f64
where
    'a: 'b,
{
    let first: &'a [f64] = x;
    let mut s = 0.0;
    for row in rows {
        for (j, v) in row.iter().enumerate() {
            s += first[j] * v * x[j];
        }
    }
    s
}

#[test]
fn lifetime_parameters() {
    let rows = vec![vec![1.0, 2.0], vec![3.0, -4.0]];
    check(
        &[&[0.5, -1.0], &[2.0, 0.25]],
        |v| with_lifetimes(v, &rows),
        |v| {
            let (value, g) = with_lifetimes::grad(v, &rows);
            (value, g.x)
        },
    );
}

/// The length of a vector collected from a chain over a parameter, read to
/// size another (`vec![0.0; e.len()]`), was a placeholder the backward pass
/// could not type ("its type cannot be inferred").
#[differentiate(wrt(out))]
fn sized_by_a_collected_vector(out: &[f64], label: usize) -> f64 {
    let e: Vec<f64> = out.iter().map(|v| v.exp()).collect();
    let mut p = vec![0.0; e.len()];
    for i in 0..e.len() {
        p[i] = e[i] * 2.0;
    }
    p[label] * out[0]
}

#[test]
fn a_length_of_a_collected_vector() {
    check(
        &[&[0.5, -1.0, 0.25], &[2.0, 0.25, -0.5]],
        |v| sized_by_a_collected_vector(v, 1),
        |v| {
            let (value, g) = sized_by_a_collected_vector::grad(v, 1);
            (value, g.out)
        },
    );
}

/// A part of a data slice bound to a name (`let v = &data[0..2];`, as an
/// inlined helper given `&data[0..2]` binds it) was refused for want of a
/// type; it is read through its parent, as a differentiated one is.
#[differentiate(wrt(x))]
fn over_a_part_of_data(x: f64, data: &[f64]) -> f64 {
    let v = &data[1..3];
    let mut s = x;
    for i in 0..v.len() {
        s = s * v[i] + x;
    }
    s
}

#[test]
fn a_named_part_of_a_data_slice() {
    let data = [0.5, -1.5, 2.0, 4.0];
    check(
        &[&[0.75], &[-2.0]],
        |v| over_a_part_of_data(v[0], &data),
        |v| {
            let (value, g) = over_a_part_of_data::grad(v[0], &data);
            (value, vec![g.x])
        },
    );
}

/// A plain helper with a loop of its own (`loop { if k >= 2 { break; } .. }`)
/// called in a `while` condition: the `break` of its inner loop was taken for
/// one leaving the condition, which was then not moved out of it (refused;
/// fuzzer seed 10577196794239685632).
fn settles(a: f64, b: f64) -> f64 {
    let mut k = 0;
    let mut c = b;
    loop {
        if k >= 2 {
            break;
        }
        c = 0.5 * c + a;
        k += 1;
    }
    c * c
}

#[differentiate]
fn while_on_a_helper_with_a_loop(x: f64, y: f64) -> f64 {
    let mut s = 0.0;
    for _ in 0..3 {
        let mut k = 0;
        while settles(x, s) < 4.0 && k < 2 {
            s += x * y;
            k += 1;
        }
    }
    s
}

#[test]
fn a_helper_with_a_loop_in_a_while_condition() {
    check(
        &[&[0.3, 0.5], &[1.1, -0.4], &[-0.8, 0.9]],
        |v| while_on_a_helper_with_a_loop(v[0], v[1]),
        |v| {
            let (value, g) = while_on_a_helper_with_a_loop::grad(v[0], v[1]);
            (value, vec![g.x, g.y])
        },
    );
}

/// A list of indices zipped with a data slice, `for (x, &y) in
/// xs.iter().zip(ys)`: the backward pass read `ys[k]` again, but the tape
/// kept no copy of `ys` (only lists of floats were copied), and the
/// generated code did not compile (E0425, `ys` not found).
#[differentiate(wrt(w))]
fn softmax_regression(w: &[f64], xs: &[Vec<f64>], ys: &[usize], classes: usize) -> f64 {
    let d = xs[0].len();
    let mut loss = 0.0;
    for (x, &y) in xs.iter().zip(ys) {
        let mut logits = vec![0.0; classes];
        for c in 0..classes {
            for j in 0..d {
                logits[c] += w[c * d + j] * x[j];
            }
        }
        let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + logits.iter().map(|z| (z - m).exp()).sum::<f64>().ln();
        loss += lse - logits[y];
    }
    loss / xs.len() as f64
}

#[test]
fn a_list_of_indices_zipped_with_data() {
    let xs = vec![vec![0.5, -1.0], vec![1.5, 0.25], vec![-0.75, 2.0]];
    let ys = [2, 0, 1];
    check(
        &[
            &[0.1, -0.2, 0.3, 0.4, -0.5, 0.6],
            &[1.0, 0.5, -1.5, 0.25, 0.0, -0.75],
        ],
        |w| softmax_regression(w, &xs, &ys, 3),
        |w| {
            let (value, g) = softmax_regression::grad(w, &xs, &ys, 3);
            (value, g.w)
        },
    );
}

/// Tests of a float (`is_sign_negative`, `is_nan`, `is_finite`) deciding a
/// branch: the tape kept the decision as a float (its type taken from the
/// receiver), and the generated code did not compile (E0308).
#[differentiate]
fn signed_product(x: f64, y: f64) -> f64 {
    if x.is_nan() || !y.is_finite() {
        0.0
    } else if x.is_sign_negative() {
        -x * y
    } else {
        let big = (x * y).is_sign_positive();
        if big {
            x * y * y
        } else {
            x + y
        }
    }
}

#[test]
fn tests_of_a_float_deciding_branches() {
    check(
        &[&[-0.7, 1.3], &[0.4, 2.0], &[0.6, -1.5]],
        |v| signed_product(v[0], v[1]),
        |v| {
            let (value, g) = signed_product::grad(v[0], v[1]);
            (value, vec![g.x, g.y])
        },
    );
    let (value, g) = signed_product::grad(f64::NAN, 1.0);
    assert_eq!((value, g.x, g.y), (0.0, 0.0, 0.0));
}

/// A reference pattern inside a loop's tuple pattern over data: `for (i,
/// &p) in perm.iter().enumerate()` bound `p` to the reference (`*p` was
/// dropped as if `p` were a float the lowering holds by value), and `for
/// (&(i, j), &kk) in edges.iter().zip(k)` dereferenced an element read by
/// value. The generated code did not compile (E0277, E0614).
#[differentiate(wrt(x))]
fn permuted_springs(x: &[f64], perm: &[usize], edges: &[(usize, usize)], k: &[f64]) -> f64 {
    let mut y = vec![0.0; x.len()];
    for (i, &p) in perm.iter().enumerate() {
        y[p] = x[i] * (i as f64 + 1.0);
    }
    let mut e = 0.0;
    for (&(i, j), &kk) in edges.iter().zip(k) {
        let d = y[i] - y[j];
        e += 0.5 * kk * d * d;
    }
    e
}

#[test]
fn reference_patterns_in_loops_over_data() {
    let perm = [2, 0, 3, 1];
    let edges = [(0, 1), (1, 2), (3, 0), (2, 3)];
    let k = [1.0, 0.5, 2.0, 1.5];
    check(
        &[&[0.3, -1.2, 2.0, 0.7], &[1.5, 0.2, -0.4, 0.9]],
        |x| permuted_springs(x, &perm, &edges, &k),
        |x| {
            let (value, g) = permuted_springs::grad(x, &perm, &edges, &k);
            (value, g.x)
        },
    );
}

/// Lists of indices read the ways Rust gives their items: `copied()` in a
/// chain (the chain's loop ran over `idx.iter()`, dropping `copied`, so
/// `x[i]` indexed by a reference), a field of a tuple reached through a
/// reference (`for (i, w) in pairs.iter()`, `*i`: a value once read), and
/// a reference inside an enumerated tuple.
#[differentiate(wrt(x))]
fn index_lists_read_every_way(x: &[f64], idx: &[usize], pairs: &[(usize, f64)]) -> f64 {
    let copied: f64 = idx.iter().copied().map(|i| x[i].exp()).sum();
    let cloned: f64 = idx.iter().cloned().map(|i| x[i] * x[i]).sum();
    let mut through = 0.0;
    for (i, w) in pairs.iter() {
        through += w * x[*i] * x[*i];
    }
    for &(i, w) in pairs {
        through += w * x[i];
    }
    let mut enumerated = 0.0;
    for (k, &i) in idx.iter().enumerate().rev() {
        enumerated += x[i] * (k as f64 + 1.0);
    }
    copied + cloned * through + enumerated
}

#[test]
fn index_lists_read_by_value_and_by_reference() {
    let idx = [2, 0, 3, 3];
    let pairs = [(1, 0.5), (3, -1.5), (0, 2.0)];
    check(
        &[&[0.3, -1.2, 2.0, 0.7], &[1.5, 0.2, -0.4, 0.9]],
        |x| index_lists_read_every_way(x, &idx, &pairs),
        |x| {
            let (value, g) = index_lists_read_every_way::grad(x, &idx, &pairs);
            (value, g.x)
        },
    );
}

/// A loop over a data list of tuples holding a vector, `for (x, y) in
/// samples` with `samples: &[(Vec<f64>, f64)]`: the loop's `let (x, y) =
/// item;` moved the vector out of the list (E0507). Each part is now a
/// `let` of its own, the vector borrowed as Rust binds it.
#[differentiate(wrt(w))]
fn sample_loss(w: &[f64], samples: &[(Vec<f64>, f64)]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in samples {
        let p: f64 = x.iter().zip(w).map(|(a, b)| a * b).sum();
        loss += (p - y).powi(2);
    }
    loss
}

#[test]
fn a_list_of_tuples_holding_vectors() {
    let samples = vec![(vec![0.5, -1.0], 1.0), (vec![1.5, 0.25], -0.5)];
    check(
        &[&[0.3, -1.2], &[1.5, 0.2]],
        |w| sample_loss(w, &samples),
        |w| {
            let (value, g) = sample_loss::grad(w, &samples);
            (value, g.w)
        },
    );
}

use common::cube;

/// A float method on a call of a function the macro cannot see (a custom
/// rule on data), kept for the backward pass: the value was refused as
/// untyped (fuzz seed 1, program 1754660687037778451). `powi` makes it a
/// float.
#[differentiate(wrt(x, y))]
fn float_method_on_an_unseen_call(x: f64, y: f64, data: &[f64]) -> f64 {
    let scale = cube(data[1]).powi(-1);
    let mut t = x;
    #[checkpoint]
    for _ in 0..3 {
        t = (t + y / (scale.abs() + 0.25)).tanh();
    }
    t * x
}

#[test]
fn a_float_method_types_the_value_it_is_called_on() {
    let data = [0.3, -0.6, 1.1];
    check(
        &[&[0.4, -0.3], &[-0.8, 0.5]],
        |v| float_method_on_an_unseen_call(v[0], v[1], &data),
        |v| {
            let (value, g) = float_method_on_an_unseen_call::grad(v[0], v[1], &data);
            (value, vec![g.x, g.y])
        },
    );
}

/// A buffer bound to the name of the slice it is built from: the loop that
/// filled the new buffer read the new one (zeros), a silently wrong value
/// and gradient (`collect`, `to_vec`, a part's `to_vec`), a panic, or a
/// refusal (`from_fn`); and a `collect` whose closure's parameter has the
/// buffer's name wrote into the parameter.
#[differentiate]
fn shadowed_sources(x: &[f64]) -> f64 {
    let x: Vec<f64> = x.iter().map(|v| v * 2.0 + 1.0).collect();
    let y: Vec<f64> = x.iter().map(|y| y.sin()).collect();
    let x = x.to_vec();
    let x = x[1..].to_vec();
    let x: [f64; 2] = std::array::from_fn(|i| x[i] * y[i]);
    let x = x.iter().rev().cloned().collect::<Vec<f64>>();
    let (x, rest) = x.split_first().unwrap();
    x * rest[0] + *x
}

#[test]
fn buffers_named_after_their_sources() {
    check(
        &[&[0.4, -0.3, 1.2], &[-0.8, 0.5, 0.1]],
        shadowed_sources,
        |v| {
            let (value, g) = shadowed_sources::grad(v);
            (value, g.x)
        },
    );
}

/// A `&mut [usize]` parameter walked by a `zip` and then written: it was
/// refused ("only buffers and `&mut` parameters can be written to", fuzz
/// seed 58, program 2629908879895158247). The indices read before the write
/// must be the ones the backward pass uses.
#[differentiate(wrt(x))]
fn zipped_then_written(x: &[f64], perm: &mut [usize]) -> f64 {
    let mut s = 0.0;
    for (v, &j) in x.iter().zip(perm.iter()) {
        s += v * x[j] * x[j];
    }
    perm[0] = perm[1];
    perm[2] = 0;
    s + x[perm[0]] * x[perm[2]].sin()
}

#[test]
fn index_lists_written_after_a_zip() {
    let start = [2usize, 0, 1];
    check(
        &[&[0.4, -0.3, 1.2], &[-0.8, 0.5, 0.1]],
        |v| zipped_then_written(v, &mut start.clone()),
        |v| {
            let mut perm = start;
            let (value, g) = zipped_then_written::grad(v, &mut perm);
            assert_eq!(perm, [0, 0, 0]);
            (value, g.x)
        },
    );
}

// Elements added to in place (`out[j] += e`, and `out[j] = e + out[j]`,
// `out[j] -= e`, `out[j] = out[j] - e`): the backward pass leaves their
// adjoint where it is instead of zeroing it for the write and adding the
// same value back for the read. Not where the read is used again
// (`out[j] = out[j] + out[j] * s`), nor across a call between the read
// and the write. Checked against central differences, and the Jacobian's
// pass with lanes against one backward pass per output.

const LAYER: usize = 3;

/// A call between a read and the write back: the element's adjoint is
/// zeroed and added back as usual.
#[differentiate]
fn halved<T: Float>(v: T) -> T {
    v * T::from(0.5).unwrap()
}

#[differentiate]
#[allow(clippy::assign_op_pattern)]
fn added_in_place(w: &[f64], x: &[f64]) -> [f64; 2] {
    let mut out = [0.0; LAYER];
    for j in 0..LAYER {
        for i in 0..x.len() {
            out[j] += w[j * x.len() + i] * x[i];
        }
        out[j] = 0.5 * x[j % 2] + out[j];
        out[j] -= w[j].sin();
        out[j] = out[j] - w[j] * w[j];
        if out[j] > 0.0 {
            out[j] = out[j] + out[j] * w[0];
        } else {
            out[j] = out[j] + halved(w[1] * out[j]);
        }
    }
    let mut total = [0.0; 2];
    for j in 0..LAYER {
        total[j % 2] += out[j].tanh();
    }
    total
}

#[test]
fn elements_added_to_in_place() {
    let sum = |p: &[f64]| {
        let v = added_in_place(&p[..6], &p[6..]);
        v[0] + 2.0 * v[1]
    };
    for p in [
        [0.3, -0.8, 1.2, 0.5, -0.1, 0.9, 0.7, -0.4],
        [-1.3, 0.2, 0.4, -0.6, 1.5, 0.05, 0.6, 1.1],
    ] {
        let (value, rows) = added_in_place::jacobian(&p[..6], &p[6..]);
        assert_eq!(value, added_in_place(&p[..6], &p[6..]));
        let mut gradient: Vec<f64> = rows[0]
            .w
            .iter()
            .zip(&rows[1].w)
            .map(|(a, b)| a + 2.0 * b)
            .collect();
        gradient.extend(rows[0].x.iter().zip(&rows[1].x).map(|(a, b)| a + 2.0 * b));
        common::assert_gradient(sum, &p, &gradient);
        // One backward pass per output: the same rows, to the bit.
        let (_, tape) = added_in_place::forward(&p[..6], &p[6..]);
        for (k, row) in rows.iter().enumerate() {
            let mut seed = [0.0; 2];
            seed[k] = 1.0;
            let g = added_in_place::backward(&tape, seed);
            assert_eq!((&g.w, &g.x), (&row.w, &row.x));
        }
    }
}

/// A layer whose loops run to constants (`0..IN`): the indices `j * IN + i`
/// are computed again in the backward pass, not stacked. They were
/// stacked for a session (a loop variable over a range of constants was
/// taken for a possible reference), and the MLP benchmark's gradient took
/// twice the hand-written time.
#[differentiate(wrt(p))]
fn layer_to_constants(p: &[f64], x: &[f64]) -> f64 {
    const IN: usize = 2;
    let mut total = 0.0;
    for j in 0..LAYER {
        let mut s = p[LAYER * IN + j];
        for i in 0..IN {
            s += p[j * IN + i] * x[i];
        }
        total += s.tanh();
    }
    total
}

#[test]
fn loops_to_constants_stack_nothing() {
    let p = [0.3, -0.8, 1.2, 0.5, -0.1, 0.9, 0.7, -0.4, 0.2];
    let x = [0.6, -1.1];
    let (value, g) = layer_to_constants::grad(&p, &x);
    assert_eq!(value, layer_to_constants(&p, &x));
    common::assert_gradient(|p| layer_to_constants(p, &x), &p, &g.p);
    // (Each `tanh` is on a stack: no buffer keeps it.)
    let source = layer_to_constants::SOURCE;
    assert!(source.contains("Stack<f64>"), "{source}");
    assert!(
        !source.contains("Stack<usize>") && !source.contains("Stack<(usize"),
        "{source}"
    );
}
