//! The generated code compiles cleanly under strict lints: `#![deny(warnings)]`,
//! `missing_docs` (the generated items are documented), and clippy's default and
//! pedantic groups when CI runs `cargo clippy --all-targets -- -D warnings`.
//! Every kind of node and rule appears below at least once.

#![deny(warnings, missing_docs, unused, rust_2018_idioms)]
#![deny(clippy::all, clippy::pedantic)]

use backprop_runtime::{differentiate, relu, sigmoid, softplus};
use num_traits::Float;

const HALF: f64 = 0.5;

/// Every arithmetic operator, user-named and unnamed nodes, mutation, tuples.
#[differentiate]
#[must_use]
pub fn arithmetic(x: f64, y: f64) -> f64 {
    let (ratio, gap) = (x * y, x - y);
    let mut acc = ratio / gap + ratio % gap;
    acc += -x;
    acc *= y * y;
    acc -= HALF;
    acc /= 2.0;
    let three = 3.0;
    acc * three + { x * 2.0 }
}

/// Every unary method.
#[differentiate]
#[must_use]
pub fn methods(x: f64) -> f64 {
    let first = x.exp() + x.exp2() + x.exp_m1() + x.ln() + x.ln_1p() + x.log2() + x.log10();
    let second =
        x.sqrt() + x.cbrt() + x.powi(3) + x.powi(2) + x.recip() + x.sin() + x.cos() + x.tan();
    let third = (x * 0.1).asin() + (x * 0.1).acos() + x.atan() + x.sinh() + x.cosh() + x.tanh();
    let fourth = x.asinh()
        + (x + 2.0).acosh()
        + (x * 0.1).atanh()
        + x.abs()
        + x.fract()
        + x.to_degrees()
        + x.to_radians();
    let steps = x.signum() * x.floor() * x.ceil() * x.round() * x.trunc();
    first + second + third + fourth + steps * x
}

/// Every binary method and the activations, also by path.
#[differentiate]
#[must_use]
pub fn binary_methods(x: f64, y: f64, n: i32) -> f64 {
    let first = x.powf(y) + x.log(y) + x.atan2(y) + x.max(y) + x.min(y) + x.hypot(y);
    let second = x.mul_add(y, 1.0) + x.clamp(-1.0, y) + x.powi(n) + 2.0_f64.powf(x);
    let third = f64::exp(x) + f64::max(x, 0.0) + sigmoid(x) + relu(y) + softplus(x - y);
    first + second + third
}

/// Casts, f32, pass-through parameters, `wrt`.
#[differentiate(wrt(x))]
#[must_use]
#[allow(clippy::cast_possible_truncation)]
pub fn mixed(x: f32, scale: f64, count: usize, _unused: bool) -> f64 {
    let wide = f64::from(x) * scale;
    let narrow = (wide * 2.0) as f32;
    f64::from(narrow.sin()) + wide * f64::from(u32::try_from(count).unwrap_or(0))
}

/// A call to another differentiated function, and a result that is a parameter.
#[differentiate]
#[must_use]
pub fn calls(x: f64, y: f64) -> f64 {
    let inner = arithmetic(x, y);
    methods(inner.abs() + 1.0) * binary_methods(x, y, 2)
}

/// Branches, loops with carried variables, a call inside a loop.
#[differentiate]
#[must_use]
pub fn control_flow(x: f64, y: f64, steps: usize) -> f64 {
    let mut position = x;
    let mut velocity = y;
    let mut bounces = 0_u32;
    for step in 0..steps {
        let force = if position > 0.0 {
            -position
        } else {
            -2.0 * position
        };
        velocity += force * 0.1;
        position += velocity * 0.1;
        if step % 2 == 0 && velocity < 0.0 {
            bounces += 1;
            velocity *= 0.9;
        }
    }
    let tail = if bounces > 2 {
        calls(position, velocity)
    } else {
        position * velocity
    };
    tail + f64::from(bounces)
}

/// `while`, `loop`, labelled `break` and `continue`, `match` and early `return`.
#[differentiate]
#[must_use]
pub fn exits(x: f64, mode: u8, limit: usize) -> f64 {
    if x < -10.0 {
        return x.abs();
    }
    let mut y = x;
    let mut count = 0_usize;
    while y < 5.0 && count < limit {
        y = y * 1.5 + 1.0;
        count += 1;
    }
    'outer: for i in 0..limit {
        for j in 0..3_usize {
            if j > i {
                continue 'outer;
            }
            if y > 1e6 {
                break 'outer;
            }
            y += x;
        }
    }
    loop {
        y *= 0.5;
        if y < 10.0 {
            break;
        }
    }
    match mode {
        0 => y,
        1 | 2 => y * x,
        _ => {
            if y > 0.0 {
                return y.sqrt();
            }
            -y
        }
    }
}

/// Several outputs, and a slice.
#[differentiate]
#[must_use]
pub fn outputs(x: f64, w: &[f64]) -> (f64, f64) {
    let mut total = 0.0;
    for v in w {
        total += v * x;
    }
    (total, total * x)
}

/// The result is a parameter; another parameter is unused.
#[differentiate]
#[must_use]
pub fn identity(x: f64, _y: f64) -> f64 {
    x
}

/// A constant result.
#[differentiate]
#[must_use]
pub fn constant(_x: f64) -> f64 {
    1.0
}

/// Generic over the float type: literals, a slice, a branch, a runtime call.
///
/// # Panics
/// Never: every float type holds 0.5.
#[differentiate]
#[must_use]
pub fn generic<T: Float>(x: T, w: &[T]) -> T {
    let mut total = T::zero();
    for v in w {
        total = total + *v * x;
    }
    let bent = if total > T::one() {
        total.ln()
    } else {
        sigmoid(total)
    };
    bent * T::from(0.5).unwrap() + x.powi(2)
}

/// Writes a slice and a float in place, and passes slices whole.
#[differentiate]
pub fn writer(v: &mut [f64], scale: &mut f64) {
    for x in v.iter() {
        *scale += x * 0.5;
    }
    v[0] = v[1] * *scale;
}

/// Calls the writer on copies, and passes an array literal.
#[differentiate]
#[must_use]
pub fn caller(w: &[f64], x: f64) -> f64 {
    let mut h = w.to_vec();
    let mut scale = x;
    writer(&mut h, &mut scale);
    let pair = [h[0], scale];
    let (first, _) = outputs(x, &pair);
    first + generic::<f64>(x, &h)
}

/// Iterator chains, windows, `skip`, a closure and `&f64`.
#[differentiate]
#[must_use]
pub fn rewritten(x: &[f64], scale: &f64) -> f64 {
    let bump = |t: f64| (t * scale).exp();
    let squares: f64 = x.iter().map(|v| v * v).sum();
    let mut rough = 0.0;
    for w in x.windows(2) {
        rough += (w[1] - w[0]).powi(2);
    }
    let tail: Vec<f64> = x.iter().skip(1).map(|v| bump(*v)).collect();
    let positive = x.iter().filter(|v| **v > 0.0).fold(0.0, |acc, v| acc + v);
    squares + rough + tail.iter().sum::<f64>() + positive
}

/// Reads two lists and writes a third: callers lend the first two, add
/// their adjoints in place and give their own adjoint of the third as its
/// seed.
#[differentiate]
pub fn centre(x: &[f64], m: &[f64], out: &mut [f64]) {
    for (k, o) in out.iter_mut().enumerate() {
        *o = x[k] - m[k];
    }
}

/// Named parts read through their parents, `split_at`'s halves, a running
/// minimum kept as an index (written as an index loop, which clippy would
/// have as an iterator), a maximum by `fold`, a minimum of computed values,
/// and calls of `centre`.
#[differentiate]
#[must_use]
#[allow(clippy::needless_range_loop)]
pub fn parts(x: &[f64], m: &[f64]) -> f64 {
    let (head, tail) = x.split_at(2);
    let row = &m[1..3];
    let mut out = vec![0.0; 2];
    centre(head, row, &mut out);
    centre(tail, row, &mut out);
    let mut top = x[0];
    for v in x.iter().skip(1) {
        top = top.max(*v);
    }
    let mut low = m[0];
    for k in 1..m.len() {
        if m[k] < low {
            low = m[k];
        }
    }
    let most = m.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut nearest = f64::INFINITY;
    for k in 0..m.len() {
        nearest = nearest.min((m[k] - x[0]).abs());
    }
    out[0] * out[1] + top * low + head[1] * tail[0] + most + nearest
}

/// A model whose methods are differentiated.
pub struct Model {
    /// Weights.
    pub w: Vec<f64>,
    /// Bias.
    pub b: f64,
}

#[differentiate]
impl Model {
    /// A prediction.
    #[differentiate]
    #[must_use]
    pub fn predict(&self, x: &[f64]) -> f64 {
        let mut total = self.b;
        for (w, x) in self.w.iter().zip(x) {
            total += w * x;
        }
        total
    }

    /// A squared error.
    #[differentiate]
    #[must_use]
    pub fn loss(&self, x: &[f64], y: f64) -> f64 {
        let e = self.predict(x) - y;
        e * e
    }
}

#[test]
fn generated_code_is_lint_clean() {
    assert!(rewritten::grad(&[0.5, -1.0, 2.0], &0.3).1.x[1].is_finite());
    assert!(checked::grad(1.5, &[0.5, 2.0]).1.k.is_finite());
    assert!(Model {
        w: vec![1.0],
        b: 0.5
    }
    .loss_grad(&[2.0], 1.0)
    .1
    .b
    .is_finite());
    assert!(generic::grad(0.5_f32, &[1.0, 2.0]).1.x.is_finite());
    assert!(caller::grad(&[0.5, 1.5], 0.3).1.x.is_finite());
    let (_, g) = parts::grad(&[0.5, 1.5, -0.5, 2.0], &[0.25, 1.0, -1.0]);
    assert!(g.x.iter().chain(&g.m).all(|d| d.is_finite()));
    assert!(checkpointed::grad(&[0.5, 1.5], 0.3, 7).1.rate.is_finite());
    // Compiling this file is the test; run the generated code once too.
    assert!(arithmetic::grad(1.5, 0.5).0.is_finite());
    assert!(methods::grad(0.7).1.x.is_finite());
    assert!(binary_methods::grad(1.5, 0.5, 2).1.y.is_finite());
    assert!(mixed::grad(0.5, 2.0, 3, true).1.x.is_finite());
    assert!(calls::grad(1.5, 0.5).1.x.is_finite());
    assert!(control_flow::grad(1.5, 0.5, 3).1.y.is_finite());
    assert!(exits::grad(1.5, 3, 4).1.x.is_finite());
    assert!(outputs::jacobian(0.5, &[1.0, 2.0]).1[1].x.is_finite());
    assert!((identity::grad(1.0, 2.0).1.x - 1.0).abs() < f64::EPSILON);
    assert!(constant::grad(1.0).1._x.abs() < f64::EPSILON);
    let m = [1.0, 0.5, 0.25, 0.75, 2.0, 0.1, 1.0, 0.3, 1.5];
    assert!(matrix_norm::grad(&m, &[0.2, -0.4, 0.9])
        .1
        .m
        .iter()
        .all(|d| d.is_finite()));
}

/// Checkpointed loops: a `for` over a range with a buffer in its state, and a
/// `while` with a `break`, a call and a counter.
#[differentiate]
#[must_use]
pub fn checkpointed(start: &[f64], rate: f64, n: usize) -> f64 {
    let mut state = start.to_vec();
    let mut total = 0.0;
    #[checkpoint(snapshots = 4)]
    for i in 0..n {
        let slot = i % state.len();
        state[slot] = (state[slot] * rate).tanh() + 0.1;
        total += state[slot];
    }
    let mut steps: usize = 0;
    #[checkpoint]
    while total > 0.1 {
        total = caller(&state, total) * 0.5;
        steps += 1;
        if steps >= 5 {
            break;
        }
    }
    total
}

/// `#[expect]` on the function covers the generated copy of its code too.
#[differentiate(wrt(x))]
#[expect(
    clippy::cast_precision_loss,
    reason = "counts are small enough to be exact in an f64"
)]
#[must_use]
pub fn expected_lint(x: f64, n: usize) -> f64 {
    x * n as f64
}

/// A model as a struct, with a nested struct, an array, a vector and data.
#[derive(backprop_runtime::Differentiable, Clone, Debug)]
pub struct Net {
    /// Its layer.
    pub layer: Layer,
    /// A rotation.
    pub rot: [f64; 3],
    /// How many inputs it reads.
    pub inputs: usize,
}

/// A layer of `Net`.
#[derive(backprop_runtime::Differentiable, Clone, Debug)]
pub struct Layer {
    /// Weights.
    pub w: Vec<f64>,
    /// Bias.
    pub b: f64,
}

/// Generic over its float.
#[derive(backprop_runtime::Differentiable, Clone, Copy, Debug)]
pub struct Spring<T> {
    /// Stiffness.
    pub k: T,
}

/// A loss over a struct and a by-value struct, generic.
#[differentiate]
#[must_use]
#[allow(clippy::needless_range_loop)]
pub fn net_loss(net: &Net, x: &[f64], _unused: f64) -> f64 {
    let mut s = net.layer.b + net.rot[1].sin();
    for i in 0..net.inputs {
        s += net.layer.w[i] * x[i];
    }
    s * s
}

/// Generic, by value.
#[differentiate]
#[must_use]
pub fn spring_energy<T: Float>(spring: Spring<T>, x: T) -> T {
    spring.k * x * x
}

/// A struct passed whole to a differentiated function of it.
#[differentiate]
#[must_use]
pub fn net_twice(net: &Net, x: &[f64]) -> f64 {
    net_loss(net, x, 0.0) * net.layer.b
}

/// A generic struct by value, passed whole by reference.
#[differentiate]
#[must_use]
pub fn spring_twice<T: Float>(spring: Spring<T>, x: T) -> T {
    spring_ref(&spring, x) + spring.k
}

/// A step taking and returning a struct by value (inlined).
fn stretched(mut spring: Spring<f64>, by: f64) -> Spring<f64> {
    spring.k *= by;
    spring
}

/// A copy of a struct parameter stepped by a helper and copied again.
#[differentiate]
#[must_use]
pub fn spring_steps(spring: &Spring<f64>, x: f64) -> f64 {
    let mut s = *spring;
    let mut before = s;
    for _ in 0..3 {
        before = s;
        s = stretched(s, x);
    }
    s.k - before.k
}

/// Generic, by reference.
#[differentiate]
#[must_use]
pub fn spring_ref<T: Float>(spring: &Spring<T>, x: T) -> T {
    spring.k * x
}

/// Reversed loops that run first to last: each iteration's own element
/// (from a start of one, and mirrored) and a sum.
#[differentiate]
#[must_use]
pub fn own_elements(x: &[f64], y: &[f64]) -> f64 {
    let len = x.len();
    let last = len - 1;
    let mut shifted = vec![0.0; len];
    shifted[0] = x[0];
    for i in 1..x.len() {
        shifted[i] = x[i] * y[i - 1];
    }
    let mut mirrored = vec![0.0; len];
    for i in 0..len {
        mirrored[last - i] = shifted[i].exp() * y[i].sin();
    }
    let mut total = 0.0;
    for v in &mirrored {
        total -= v * v;
    }
    total
}

/// Points as rows, read by pattern, by index, in pairs and by reduction;
/// a ragged matrix of rows passed row by row.
#[differentiate]
#[must_use]
pub fn rows_of_points(points: &[[f64; 2]], weights: &[Vec<f64>], x: &[f64]) -> f64 {
    let mut total = 0.0;
    for (p, q) in points.iter().zip(&points[1..]) {
        let [dx, dy] = [q[0] - p[0], q[1] - p[1]];
        total += (dx * dx + dy * dy).sqrt();
    }
    for row in weights {
        total += row.iter().zip(x).map(|(w, v)| w * v).sum::<f64>();
    }
    total + points.iter().map(|p| p[0] * p[1]).sum::<f64>()
}

/// A model holding its layers in a `Vec`.
#[derive(backprop_runtime::Differentiable, Clone, Debug)]
pub struct Deep {
    /// Its layers.
    pub layers: Vec<Layer>,
    /// An output scale.
    pub scale: f64,
}

/// A loss over the layers a struct holds, by loop, index and reduction.
#[differentiate]
#[must_use]
pub fn deep_loss(deep: &Deep, x: &[f64]) -> f64 {
    let mut s = 0.0;
    for layer in &deep.layers {
        s += layer.b * layer.w.iter().zip(x).map(|(w, v)| w * v).sum::<f64>();
    }
    s += deep.layers[0].w[0] * deep.scale;
    s + deep.layers.iter().map(|layer| layer.b).sum::<f64>()
}

/// Variables read only by an assertion or dropped with `let _ =`: the
/// generated passes read them too (they were unused there, a warning).
///
/// # Panics
/// With fewer than two samples.
#[differentiate]
#[must_use]
pub fn checked(k: f64, ts: &[f64]) -> f64 {
    let n = ts.len();
    assert!(n > 1, "need two samples, got {n}");
    let twice = k * 2.0;
    debug_assert!(twice.is_finite());
    let mut total = 0.0;
    for (i, &t) in ts.iter().enumerate() {
        let _ = t;
        total += k * ts[i];
    }
    total
}

/// Several outputs: `jacobian_into` runs one backward pass with a lane per
/// output, and `LanesGrad` keeps its adjoints.
#[differentiate]
#[must_use]
pub fn projected(cam: &[f64], point: &[f64; 3], scale: f64) -> [f64; 2] {
    let mut rotated = [0.0; 3];
    for i in 0..3 {
        rotated[i] = point[i] * cam[i] + cam[3];
    }
    let depth = if rotated[2] > 0.5 { rotated[2] } else { 0.5 };
    [scale * rotated[0] / depth, scale * rotated[1] / depth]
}

/// Several outputs and a buffer: the pass with lanes keeps its buffers'
/// adjoints in `LanesWork`, and `jacobian_with` passes its `Work` by.
#[differentiate]
#[must_use]
pub fn hidden_pair(w: &[f64], x: &[f64]) -> [f64; 2] {
    let mut h = vec![0.0; x.len()];
    for i in 0..x.len() {
        h[i] = (w[i] * x[i]).tanh();
    }
    let mut a = 0.0;
    for i in 0..h.len() {
        a += h[i] * w[i];
    }
    [a, h[0]]
}

/// Short literal loops, nested, written out by the macro: their indices
/// folded (`m[3 * i + j]`), which must leave nothing clippy calls out.
#[differentiate]
#[must_use]
#[allow(clippy::needless_range_loop)]
pub fn matrix_norm(m: &[f64; 9], v: &[f64; 3]) -> f64 {
    let mut out = [0.0; 3];
    for i in 0..3 {
        for j in 0..3 {
            out[i] += m[3 * i + j] * v[j] + m[i * 3 + 1] * v[(i + j) % 3];
        }
    }
    let mut total = 0.0;
    for k in 0..3 {
        total += out[k] * out[k] * m[8 - k];
    }
    total.sqrt()
}

/// A point with the operators its user writes for it.
#[derive(Clone, Copy, backprop_runtime::Differentiable)]
pub struct P2 {
    /// Across.
    pub x: f64,
    /// Up.
    pub y: f64,
}

impl std::ops::Add for P2 {
    type Output = P2;
    fn add(self, o: P2) -> P2 {
        P2 {
            x: self.x + o.x,
            y: self.y + o.y,
        }
    }
}

impl std::ops::Mul<f64> for P2 {
    type Output = P2;
    fn mul(self, k: f64) -> P2 {
        P2 {
            x: self.x * k,
            y: self.y * k,
        }
    }
}

/// A struct's operators inlined, one on an operand in parentheses (bound
/// without them: rustc warns of parentheses around a `let`'s value).
#[differentiate]
#[must_use]
pub fn midpoint_norm(a: P2, b: P2) -> f64 {
    let m = (a + b) * 0.5;
    m.x * m.x + m.y * m.y
}

/// A table of constants walked untyped (each element saved through
/// `Borrow`), a slice split at an end, a matrix written out, a vector
/// assigned `map`s over itself, and a `match` on a differentiated value.
///
/// # Panics
/// If `x` is empty.
#[differentiate]
#[must_use]
pub fn this_sessions_forms(x: &[f64]) -> f64 {
    let table = &[0.5, -1.0, 2.0];
    let mut total = 0.0;
    for weight in table {
        total += weight * x[0] * x[1];
    }
    let (first, rest) = x.split_first().expect("an element");
    total += *first * rest.iter().sum::<f64>() + first;
    let matrix = [[x[0], x[1]], [x[1], x[0]]];
    total += matrix[0][1] * matrix[1][0];
    let mut squares = x.to_vec();
    squares = squares.iter().map(|a| a * a).collect();
    total += squares[0];
    match total {
        big if big > 1.0 => big.ln(),
        small => small * x[0],
    }
}

/// Arrays and tuples chosen by branches whose arms compute locals of their
/// own: one variable per element, set in each arm (no local left unused
/// where an element does not read it).
#[differentiate]
#[must_use]
pub fn chosen_in_arms(x: f64, y: f64) -> f64 {
    let pair = if x > 0.0 {
        [x, y]
    } else {
        let (twice, sine) = (y * 2.0, x.sin());
        [twice, sine]
    };
    let (first, second) = if y > 0.0 {
        (x, y)
    } else {
        let twice = x * 2.0;
        let grown = y.exp();
        (twice, grown)
    };
    pair[0] * pair[1] + first * second
}

/// A buffer of rows grown by `push` and read while it grows.
#[differentiate(wrt(angles))]
#[must_use]
pub fn grown_rows(angles: &[f64], parents: &[usize]) -> f64 {
    let mut frames: Vec<[f64; 2]> = Vec::with_capacity(angles.len());
    for (b, &parent) in parents.iter().enumerate() {
        let (sine, cosine) = angles[b].sin_cos();
        let frame = if b == 0 {
            [cosine, sine]
        } else {
            let prior = frames[parent];
            [
                prior[0] * cosine - prior[1] * sine,
                prior[0] * sine + prior[1] * cosine,
            ]
        };
        frames.push(frame);
    }
    frames[frames.len() - 1][0]
}
