//! The generated code, one snapshot per construct: `tests/snapshots/<name>.rs`
//! holds the functions below as written (in a comment) and the module the
//! macro generates for each, as its `SOURCE` prints it. Every change to what the
//! macro emits shows up in review as a diff there. The snapshots are compiled
//! back as source here (with clippy's lints on, as CI runs clippy on the
//! tests) and must agree with the macro's own output.
//!
//! After an intended change: `BLESS=1 cargo test --test snapshot`, then review
//! the diff.

use backprop_runtime::{differentiate, sigmoid};
use num_traits::Float;

/// The blog's function, with the blog's node names.
#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    let sigx = sigmoid(x);
    let sigy = sigmoid(y);
    let numer = x + sigy;
    let xandy = x + y;
    let xandysqr = xandy * xandy;
    let denom = xandysqr + sigx;
    let rec_denom = 1.0 / denom;
    numer * rec_denom
}

/// The blog's `sig` helper, differentiated on its own, and called through
/// its module (as from another module; beside its caller it would be
/// inlined, see `rotated`).
#[inline(never)]
#[differentiate]
fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The blog's function written inline, calling the helper.
#[differentiate]
fn f_inline(x: f64, y: f64) -> f64 {
    (x + sig(y)) / (sig(x) + (x + y).powi(2))
}

/// Two helpers written beside their caller, inlined: a part bound to a
/// name, an array read and written by name, a value returned.
#[differentiate]
fn cross(a: &[f64], b: &[f64], out: &mut [f64]) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

#[differentiate]
fn inner_product(a: &[f64], b: &[f64]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[differentiate]
fn rotated(cam: &[f64], x: &[f64; 3]) -> f64 {
    let mut turned = [0.0; 3];
    cross(&cam[0..3], x, &mut turned);
    inner_product(&turned, x) + cam[3] * inner_product(x, x)
}

/// Mutation, shadowing, a pass-through parameter and `wrt`, in f32.
#[differentiate(wrt(x))]
fn damped(x: f32, rate: f32, steps: i32) -> f32 {
    let mut v = x * rate;
    v -= v.powi(steps) * 0.5;
    let v = v.tanh();
    v * x
}

/// `if` with a value, and one without `else` that assigns.
#[differentiate]
fn clipped(x: f64, y: f64) -> f64 {
    let mut z = x * y;
    if z > 1.0 {
        z = z.sqrt();
    }
    let w = if x > y { z * x } else { z - y };
    w + z
}

/// A `for` loop over a range, carrying two variables.
#[differentiate]
fn power_series(x: f64, n: usize) -> f64 {
    let mut term = 1.0;
    let mut total = 0.0;
    for k in 1..n {
        term = term * x / k as f64;
        total += term;
    }
    total
}

/// `while` with no `break`: Newton's iteration for the square root.
#[differentiate]
fn newton_sqrt(a: f64) -> f64 {
    let mut g = a.max(1.0);
    while (g * g - a).abs() > 1e-12 * a {
        g = 0.5 * (g + a / g);
    }
    g
}

/// `while` with a `break`.
#[differentiate]
fn halve_until(x: f64, limit: f64) -> f64 {
    let mut v = x;
    let mut steps = 0;
    while v > limit {
        v = v * 0.5 + x.sin() * 0.1;
        steps += 1;
        if steps == 20 {
            break;
        }
    }
    v * x
}

/// An early `return`.
#[differentiate]
fn early_return(x: f64, y: f64) -> f64 {
    if x < 0.0 {
        return y * y;
    }
    let z = x * y;
    z.sin()
}

/// `continue` in a loop over a slice.
#[differentiate]
fn even_terms(w: &[f64], x: f64) -> f64 {
    let mut total = 0.0;
    for (i, wi) in w.iter().enumerate() {
        if i % 2 == 1 {
            continue;
        }
        total += wi * x;
    }
    total
}

/// `match` on an integer.
#[differentiate]
fn piecewise(x: f64, kind: u8) -> f64 {
    match kind {
        0 => x * x,
        1 => x.exp(),
        _ => -x,
    }
}

/// Slices read and a slice parameter's gradient: the mean squared error of a
/// linear model.
#[differentiate(wrt(w))]
fn mse(w: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let e = w[0] * x + w[1] - y;
        total += e * e;
    }
    total / xs.len() as f64
}

/// The squared distance from a data point to the nearest of `centres`,
/// through a helper: the helper's adjoint of the point goes nowhere
/// (`lent::Discard`), of the centre into that part of the caller's; the
/// running minimum from `f64::INFINITY` is the index of the centre, chosen
/// by one comparison a candidate at a time.
#[differentiate(wrt(centres))]
fn nearest(point: &[f64], centres: &[f64]) -> f64 {
    let d = point.len();
    let mut best = f64::INFINITY;
    for j in 0..centres.len() / d {
        best = best.min(squared_distance(point, &centres[j * d..(j + 1) * d]));
    }
    best
}

#[inline(never)]
#[differentiate]
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..a.len() {
        total += (a[i] - b[i]) * (a[i] - b[i]);
    }
    total
}

/// A loop and a branch: the push/pop code of the tape's stacks.
#[differentiate]
fn soft_power(x: f64, n: usize) -> f64 {
    let mut p = 1.0;
    for i in 0..n {
        if i % 2 == 0 {
            p *= x;
        } else {
            p = p * x.sin() + 1.0;
        }
    }
    if p > 1.0 {
        p.ln() + 1.0
    } else {
        p
    }
}

/// A checkpointed loop: its state kept every few steps, each stretch run
/// again by the backward pass before it is reversed.
#[differentiate]
fn spring(x0: f64, k: f64, steps: usize) -> f64 {
    let mut x = x0;
    let mut v = 0.0;
    #[checkpoint(snapshots = 32)]
    for _ in 0..steps {
        let a = -k * x - 0.1 * v;
        v += 0.01 * a;
        x += 0.01 * v;
    }
    x * x
}

/// Generic over the float type, with a slice written in place by a call.
#[differentiate]
fn scaled_logistic<T: Float>(w: &[T], x: T) -> T {
    let mut h = w.to_vec();
    scale(&mut h, x);
    let mut total = T::zero();
    for v in &h {
        total = total + sigmoid(*v);
    }
    total * T::from(0.5).unwrap()
}

/// Writes its first argument: its seed is the adjoint of the final contents.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn scale<T: Float>(v: &mut [T], by: T) {
    for i in 0..v.len() {
        v[i] = v[i] * by;
    }
}

/// Parts of a slice lent by `&mut` to a helper that writes them: the
/// helper works on each part in place, and its pullback on that part of
/// the adjoint (nothing copied in or out).
#[differentiate]
fn damped_halves(h: &mut [f64], rates: &[f64]) {
    let n = h.len() / 2;
    damp(&mut h[..n], &rates[..n]);
    damp(&mut h[n..], &rates[n..]);
}

/// Scales each element by its rate, in place.
#[differentiate]
fn damp(v: &mut [f64], rates: &[f64]) {
    for (x, r) in v.iter_mut().zip(rates) {
        *x *= r;
    }
}

/// An iterator chain, rewritten into its loop.
#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A function that calls itself, in a loop of two iterations (written out:
/// two calls): its calls share one tape, each pushing its frame, which
/// holds both calls' values.
#[differentiate(wrt(w))]
fn nested_sum(w: &[f64], depth: usize) -> f64 {
    if depth == 0 {
        return w[0].sin();
    }
    let mut total = 0.0;
    for k in 0..2 {
        let inner = nested_sum(&w[k..], depth - 1);
        total += w[k] * inner;
    }
    total
}

/// A state as a struct, stepped by a plain helper that takes and returns it:
/// one local per field (`b_x`, `b_v`), the helper inlined.
#[derive(Clone, Copy)]
struct Body {
    x: f64,
    v: f64,
}

fn step(b: Body, k: f64, dt: f64) -> Body {
    Body {
        x: b.x + dt * b.v,
        v: b.v - dt * k * b.x,
    }
}

#[differentiate]
fn orbit(x0: f64, v0: f64, k: f64) -> f64 {
    let mut b = Body { x: x0, v: v0 };
    for _ in 0..10 {
        b = step(b, k, 0.1);
    }
    b.x * b.x + b.v * b.v
}

/// A loop of three iterations over a literal range, written out: each
/// iteration's values are fields of the tape, its indices constants.
#[differentiate]
fn weighted_sines(w: [f64; 3], x: [f64; 3]) -> f64 {
    let mut total = 0.0;
    for i in 0..3 {
        total += w[i] * x[i].sin();
    }
    total.sqrt()
}

/// A model whose methods are differentiated with respect to its fields.
pub struct Linear {
    pub w: Vec<f64>,
    pub b: f64,
}

/// Two outputs: `jacobian_into` runs one backward pass with two lanes.
#[differentiate]
fn polar(p: &[f64], scale: f64) -> [f64; 2] {
    let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
    [scale * r, p[1].atan2(p[0])]
}

#[differentiate]
impl Linear {
    #[differentiate]
    fn predict(&self, x: &[f64]) -> f64 {
        dot(&self.w, x) + self.b
    }

    #[differentiate]
    fn loss(&self, x: &[f64], y: f64) -> f64 {
        let e = self.predict(x) - y;
        e * e
    }
}

/// Each snapshot: its file name, what it shows, and its functions (each a
/// function of this file and the `SOURCE` of its module).
type Snapshot = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const SNAPSHOTS: &[Snapshot] = &[
    (
        "straight_line",
        "the blog's function, node by node",
        &[("f", f::SOURCE)],
    ),
    (
        "call",
        "a call of another differentiated function",
        &[("sig", sig::SOURCE), ("f_inline", f_inline::SOURCE)],
    ),
    (
        "inlined",
        "calls of functions written beside the caller, inlined",
        &[("rotated", rotated::SOURCE)],
    ),
    (
        "mutation",
        "reassignment, compound assignment and shadowing, in f32, with `wrt`",
        &[("damped", damped::SOURCE)],
    ),
    (
        "if",
        "`if` with and without `else`",
        &[("clipped", clipped::SOURCE)],
    ),
    (
        "for",
        "a `for` loop over a range",
        &[("power_series", power_series::SOURCE)],
    ),
    (
        "for_with_branch",
        "a branch inside a loop, and one after it",
        &[("soft_power", soft_power::SOURCE)],
    ),
    (
        "while",
        "`while` with no `break`",
        &[("newton_sqrt", newton_sqrt::SOURCE)],
    ),
    (
        "while_break",
        "`while` with a `break`",
        &[("halve_until", halve_until::SOURCE)],
    ),
    (
        "checkpoint",
        "a `#[checkpoint]` loop",
        &[("spring", spring::SOURCE)],
    ),
    (
        "return",
        "an early `return`",
        &[("early_return", early_return::SOURCE)],
    ),
    (
        "continue",
        "`continue` in a loop over a slice",
        &[("even_terms", even_terms::SOURCE)],
    ),
    (
        "match",
        "`match` on an integer",
        &[("piecewise", piecewise::SOURCE)],
    ),
    (
        "slices",
        "slices read, and a slice written in place",
        &[
            ("mse", mse::SOURCE),
            ("scale", scale::SOURCE),
            ("damped_halves", damped_halves::SOURCE),
            ("nearest", nearest::SOURCE),
        ],
    ),
    (
        "generic",
        "a generic float type, and a buffer passed by `&mut`",
        &[("scaled_logistic", scaled_logistic::SOURCE)],
    ),
    (
        "iterator_chain",
        "an iterator chain, rewritten into its loop",
        &[("dot", dot::SOURCE)],
    ),
    (
        "recursion",
        "a function that calls itself, on one tape",
        &[("nested_sum", nested_sum::SOURCE)],
    ),
    (
        "struct_values",
        "a struct as a value, stepped by a helper that returns it",
        &[("orbit", orbit::SOURCE)],
    ),
    (
        "unrolled",
        "a short loop over a literal range, written out",
        &[("weighted_sines", weighted_sines::SOURCE)],
    ),
    (
        "jacobian",
        "several outputs: a Jacobian, in one backward pass with a lane per output",
        &[("polar", polar::SOURCE)],
    ),
    (
        "method",
        "methods of a model, differentiated with respect to its fields",
        &[
            ("linear_predict", linear_predict::SOURCE),
            ("linear_loss", linear_loss::SOURCE),
        ],
    ),
];

/// This file's text of a function (or, for a method, of its `impl` block):
/// from its doc comment to its closing brace.
fn input_text(name: &str) -> String {
    let this_file = include_str!("snapshot.rs");
    let lines: Vec<&str> = this_file.lines().collect();
    let method = name.strip_prefix("linear_");
    let start = lines
        .iter()
        .position(|line| match method {
            Some(_) => *line == "impl Linear {",
            None => line.starts_with(&format!("fn {name}")),
        })
        .expect("every snapshot function is defined in this file");
    let mut first = start;
    while first > 0 && (lines[first - 1].starts_with("///") || lines[first - 1].starts_with("#[")) {
        first -= 1;
    }
    let end = start
        + lines[start..]
            .iter()
            .position(|l| *l == "}")
            .expect("closing brace");
    lines[first..=end].join("\n")
}

fn render(about: &str, functions: &[(&str, &str)]) -> String {
    let mut out = format!(
        "// Snapshot: {about}. Generated by tests/snapshot.rs; rewrite with\n\
         // `BLESS=1 cargo test --test snapshot`.\n"
    );
    for (name, source) in functions {
        let input = input_text(name);
        if !out.contains(&input) {
            out.push_str("\n// The function as written:\n//\n");
            for line in input.lines() {
                out.push_str(&format!("// {line}\n").replace("// \n", "//\n"));
            }
        }
        out.push_str(&format!(
            "\n// Generated:\npub mod {name} {{\n    #[allow(unused_imports)]\n    use super::*;\n\n"
        ));
        for line in source.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str(&format!("    {line}\n"));
            }
        }
        out.push_str("}\n");
    }
    out
}

#[test]
fn expansions_match_the_snapshots() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");
    let bless = std::env::var_os("BLESS").is_some();
    let mut changed = Vec::new();
    for (file, about, functions) in SNAPSHOTS {
        let path = format!("{dir}/{file}.rs");
        let rendered = render(about, functions);
        if bless {
            std::fs::write(&path, &rendered).expect("write the snapshot");
            continue;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        if checked_in != rendered {
            changed.push(format!("{file}.rs:\n{rendered}"));
        }
    }
    assert!(
        changed.is_empty(),
        "the generated code changed; review it and run `BLESS=1 cargo test --test snapshot`\n\n{}",
        changed.join("\n")
    );
}

/// The snapshots, compiled as ordinary source. Each wrapper's glob import is
/// there for the generated module's own `use super::*`.
#[allow(dead_code, unused_imports)]
mod pasted {
    use super::*;

    pub mod straight_line {
        use super::*;
        include!("snapshots/straight_line.rs");
    }
    pub mod call {
        use super::*;
        include!("snapshots/call.rs");
    }
    pub mod mutation {
        use super::*;
        include!("snapshots/mutation.rs");
    }
    pub mod if_else {
        use super::*;
        include!("snapshots/if.rs");
    }
    pub mod for_loop {
        use super::*;
        include!("snapshots/for.rs");
    }
    pub mod for_with_branch {
        use super::*;
        include!("snapshots/for_with_branch.rs");
    }
    pub mod while_loop {
        use super::*;
        include!("snapshots/while.rs");
    }
    pub mod while_break {
        use super::*;
        include!("snapshots/while_break.rs");
    }
    pub mod checkpoint {
        use super::*;
        include!("snapshots/checkpoint.rs");
    }
    pub mod early {
        use super::*;
        include!("snapshots/return.rs");
    }
    pub mod skip {
        use super::*;
        include!("snapshots/continue.rs");
    }
    pub mod matched {
        use super::*;
        include!("snapshots/match.rs");
    }
    pub mod slices {
        use super::*;
        include!("snapshots/slices.rs");
    }
    pub mod generic {
        use super::*;
        include!("snapshots/generic.rs");
    }
    pub mod iterator_chain {
        use super::*;
        include!("snapshots/iterator_chain.rs");
    }
    pub mod method {
        use super::*;
        include!("snapshots/method.rs");
    }
    pub mod struct_values {
        use super::*;
        include!("snapshots/struct_values.rs");
    }
    pub mod jacobian {
        use super::*;
        include!("snapshots/jacobian.rs");
    }
    pub mod unrolled {
        use super::*;
        include!("snapshots/unrolled.rs");
    }
}

/// Both `grad`s give the same value and the same gradient (their `Grad`
/// types are distinct, so they are compared as printed).
macro_rules! agree {
    ($pasted:expr, $macro:expr) => {
        assert_eq!(format!("{:?}", $pasted), format!("{:?}", $macro))
    };
}

/// The pasted code computes what the macro's code computes, on both sides of
/// every branch.
#[test]
fn pasted_expansions_compile_and_agree() {
    use pasted::*;
    for (x, y) in [(3.0, -4.0), (0.5, 1.5)] {
        agree!(
            jacobian::polar::jacobian(&[x, y], 1.5),
            polar::jacobian(&[x, y], 1.5)
        );
        agree!(
            struct_values::orbit::grad(x, y, 2.0),
            orbit::grad(x, y, 2.0)
        );
        agree!(straight_line::f::grad(x, y), f::grad(x, y));
        let (w, v) = ([x, y, 0.25], [y, 1.0, x]);
        agree!(
            unrolled::weighted_sines::grad(w, v),
            weighted_sines::grad(w, v)
        );
        agree!(call::f_inline::grad(x, y), f_inline::grad(x, y));
        agree!(if_else::clipped::grad(x, y), clipped::grad(x, y));
        agree!(early::early_return::grad(x, y), early_return::grad(x, y));
        agree!(early::early_return::grad(-x, y), early_return::grad(-x, y));
    }
    for n in [0, 1, 4] {
        agree!(
            for_with_branch::soft_power::grad(1.3, n),
            soft_power::grad(1.3, n)
        );
        agree!(
            for_loop::power_series::grad(0.7, n),
            power_series::grad(0.7, n)
        );
    }
    for steps in [0, 1, 100, 1001] {
        agree!(
            checkpoint::spring::grad(0.5, 3.0, steps),
            spring::grad(0.5, 3.0, steps)
        );
    }
    for limit in [0.1, 2.0, 1e-9] {
        agree!(
            while_break::halve_until::grad(3.0, limit),
            halve_until::grad(3.0, limit)
        );
    }
    for a in [0.25, 2.0, 9.0] {
        agree!(while_loop::newton_sqrt::grad(a), newton_sqrt::grad(a));
    }
    for kind in 0..3 {
        agree!(
            matched::piecewise::grad(0.8, kind),
            piecewise::grad(0.8, kind)
        );
    }
    let w = [0.5, -1.5, 2.0];
    agree!(skip::even_terms::grad(&w, 0.8), even_terms::grad(&w, 0.8));
    agree!(
        generic::scaled_logistic::grad(&w, 0.8),
        scaled_logistic::grad(&w, 0.8)
    );
    agree!(iterator_chain::dot::grad(&w, &w), dot::grad(&w, &w));
    let (xs, ys) = ([0.5, 1.0, 2.0], [1.0, 0.0, -1.0]);
    agree!(slices::mse::grad(&w, &xs, &ys), mse::grad(&w, &xs, &ys));
    let model = Linear {
        w: vec![0.5, -1.0],
        b: 0.25,
    };
    let x = [2.0, 0.5];
    let (pasted_value, pasted) = method::linear_loss::grad(&model, &model.w, model.b, &x, 1.5);
    let (value, g) = model.loss_grad(&x, 1.5);
    agree!((pasted_value, pasted.w, pasted.b), (value, g.w, g.b));
    agree!(
        mutation::damped::grad(0.7, 1.3, 3),
        damped::grad(0.7, 1.3, 3)
    );
}
