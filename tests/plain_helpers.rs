//! Plain helpers (no attribute) and methods of the user's structs, written
//! beside a differentiated function, are differentiated by being inlined
//! (`backprop-macro/src/inline/`): a user writes `fn sq(x: f64) -> f64` or
//! `impl Net { fn predict(&self, x: &[f64]) -> f64 }` once and calls it from
//! the loss. Each function here is checked against the same function with
//! its helpers written out by hand (in `by_hand`, differentiated as one
//! body) and against central differences.

// The helpers index as numeric code does.
#![allow(clippy::needless_range_loop)]

mod common;

use backprop_runtime::{differentiate, Differentiable};
use common::{assert_gradient, Rng};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Differentiable, Clone, Debug, Default)]
pub struct Net {
    pub w1: Vec<f64>,
    pub b1: Vec<f64>,
    pub w2: Vec<f64>,
    pub b2: f64,
    #[differentiable(skip)]
    pub hidden: usize,
}

impl Net {
    /// A method calling a method, given a part of the caller's data.
    pub fn predict(&self, x: &[f64]) -> f64 {
        let mut out = self.b2;
        for j in 0..self.hidden {
            out += self.w2[j] * self.unit(x, j);
        }
        out
    }

    fn unit(&self, x: &[f64], j: usize) -> f64 {
        let mut s = self.b1[j];
        for i in 0..x.len() {
            s += self.w1[j * x.len() + i] * x[i];
        }
        s.tanh()
    }
}

/// Both branches are taken by the data below.
fn huber(r: f64) -> f64 {
    if r.abs() < 0.5 {
        0.5 * r * r
    } else {
        0.5 * (r.abs() - 0.25)
    }
}

/// Loops over its slice.
fn sum_of_squares(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for t in v {
        s += t * t;
    }
    s
}

/// Integers only: called as written (it has no derivative to give).
fn row_start(k: usize, d: usize) -> usize {
    k * d
}

/// A plain helper taking the struct, calling its method and other helpers.
fn fit(net: &Net, xs: &[f64], ys: &[f64], d: usize) -> f64 {
    let mut s = 0.0;
    for k in 0..ys.len() {
        s += huber(net.predict(&xs[row_start(k, d)..row_start(k + 1, d)]) - ys[k]);
    }
    s / ys.len() as f64
}

#[differentiate]
pub fn loss(net: &Net, xs: &[f64], ys: &[f64], d: usize) -> f64 {
    fit(net, xs, ys, d) + 0.01 * sum_of_squares(&net.w1)
}

#[derive(Differentiable, Clone, Copy, Debug, Default)]
pub struct Spring {
    pub k: f64,
    pub c: f64,
}

#[derive(Differentiable, Clone, Debug, Default)]
pub struct Body {
    pub x: f64,
    pub v: f64,
}

impl Spring {
    fn force(&self, x: f64, v: f64) -> f64 {
        -self.k * x - self.c * v
    }

    /// Takes `self` by value.
    fn energy(self, x: f64) -> f64 {
        0.5 * self.k * x * x
    }
}

impl Body {
    /// Writes through `&mut self`, calls a method of another struct.
    fn step(&mut self, spring: &Spring, dt: f64) {
        let a = spring.force(self.x, self.v);
        self.v += dt * a;
        self.x += dt * self.v;
    }
}

#[differentiate]
pub fn simulate(spring: Spring, body: &mut Body, n: usize, dt: f64) -> f64 {
    for _ in 0..n {
        body.step(&spring, dt);
    }
    spring.energy(body.x) + huber(body.v)
}

/// A user's own `sigmoid`, plain, beside its caller: computed as written,
/// not as the runtime's.
fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-2.0 * t).exp())
}

/// A plain function with a custom rule beside it (its module): the rule is
/// used, not the body.
fn soft(t: f64) -> f64 {
    t.tanh()
}

static SOFT_RULE_USED: AtomicUsize = AtomicUsize::new(0);

pub mod soft {
    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        t: f64,
    }

    pub fn forward_into(tape: &mut Tape, t: f64) -> f64 {
        super::SOFT_RULE_USED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tape.t = t;
        super::soft(t)
    }

    pub type Scratch = ();

    pub fn pullback_into(tape: &Tape, seed: f64, _: &mut Scratch) -> (f64,) {
        let th = tape.t.tanh();
        (seed * (1.0 - th * th),)
    }
}

#[differentiate]
pub fn squashed(x: &[f64]) -> f64 {
    sigmoid(x[0]) * soft(x[1]) + sum_of_squares(x)
}

#[derive(Differentiable, Clone, Debug)]
pub struct Linear {
    pub w: Vec<f64>,
    pub b: f64,
}

impl Linear {
    /// A closure's parameter named as the method's (`x`), over a part.
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + self.b
    }
}

#[differentiate]
pub fn linear_mse(model: &Linear, xs: &[f64], ys: &[f64]) -> f64 {
    let d = model.w.len();
    let mut total = 0.0;
    for (k, y) in ys.iter().enumerate() {
        let r = model.predict(&xs[k * d..(k + 1) * d]) - y;
        total += r * r;
    }
    total / ys.len() as f64
}

/// A trait's method, implemented for a struct of the user's.
pub trait Potential {
    fn potential(&self, x: f64) -> f64;
}

impl Potential for Spring {
    fn potential(&self, x: f64) -> f64 {
        0.5 * self.k * x * x + self.c * x
    }
}

#[differentiate]
pub fn total_potential(spring: &Spring, xs: &[f64]) -> f64 {
    let mut total = 0.0;
    for x in xs {
        total += spring.potential(*x);
    }
    total
}

/// A plain helper with an early return, written as a guard.
fn clamp_below(t: f64) -> f64 {
    if t < 0.0 {
        return 0.0;
    }
    t
}

pub struct Line {
    pub w: f64,
    pub b: f64,
}

/// A marked `impl` whose marked method calls the block's plain one.
#[differentiate]
impl Line {
    fn predict(&self, x: f64) -> f64 {
        (self.w * x + self.b).tanh()
    }

    #[differentiate]
    pub fn loss(&self, xs: &[f64], ys: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..xs.len() {
            let e = self.predict(xs[i]) - ys[i];
            s += e * e + clamp_below(self.b - 0.25);
        }
        s
    }
}

#[derive(Differentiable, Clone, Debug)]
pub struct Dense {
    pub w: Vec<f64>,
    pub b: Vec<f64>,
    #[differentiable(skip)]
    pub inputs: usize,
}

impl Dense {
    fn unit(&self, x: &[f64], j: usize) -> f64 {
        let mut s = self.b[j];
        for i in 0..self.inputs {
            s += self.w[j * self.inputs + i] * x[i];
        }
        s.tanh()
    }
}

/// Methods of the elements of a slice of structs: a loop's and an element
/// bound by `let`.
#[differentiate]
pub fn layered(layers: &[Dense], x: &[f64]) -> f64 {
    let mut t = 0.0;
    for layer in layers {
        t += layer.unit(x, 0) * layer.unit(x, 1);
    }
    let last = &layers[layers.len() - 1];
    t + last.unit(x, 1)
}

#[derive(Differentiable, Clone, Debug)]
pub struct Layer {
    pub w: Vec<f64>,
    pub b: Vec<f64>,
    #[differentiable(skip)]
    pub inputs: usize,
    #[differentiable(skip)]
    pub outputs: usize,
}

#[derive(Differentiable, Clone, Debug)]
pub struct Mlp {
    pub layers: Vec<Layer>,
}

impl Layer {
    fn forward(&self, x: &[f64], out: &mut [f64]) {
        for j in 0..self.outputs {
            let mut s = self.b[j];
            for i in 0..self.inputs {
                s += self.w[j * self.inputs + i] * x[i];
            }
            out[j] = s.tanh();
        }
    }
}

/// A model holding its layers, each applied by its method: the struct's
/// field types are read from its definition beside the function.
#[differentiate]
pub fn mlp_loss(net: &Mlp, x: &[f64], y: f64) -> f64 {
    let mut h = x.to_vec();
    for layer in &net.layers {
        let mut next = vec![0.0; layer.outputs];
        layer.forward(&h, &mut next);
        h.copy_from_slice(&next);
    }
    let e = h[0] - y;
    e * e
}

fn sq(t: f64) -> f64 {
    t * t
}

/// Nested calls in a closure over windows; inlined in place, each call is
/// a block (`{ .. } + 100.0 * { .. }`).
#[differentiate]
pub fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| sq(1.0 - w[0]) + 100.0 * sq(w[1] - sq(w[0])))
        .sum()
}

/// A plain helper called inside a closure of an iterator chain.
#[differentiate]
pub fn variance(xs: &[f64]) -> f64 {
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    xs.iter().map(|x| sq(x - m)).sum::<f64>() / xs.len() as f64
}

/// Float references: written through (`*acc += ..`) and read.
fn accumulate(acc: &mut f64, v: f64) {
    *acc += v * v;
}

fn scaled(x: &f64, k: f64) -> f64 {
    *x * k
}

#[differentiate]
pub fn accumulated(xs: &[f64]) -> f64 {
    let mut total = 0.0;
    for x in xs {
        accumulate(&mut total, *x);
    }
    let mut first = 1.0;
    accumulate(&mut first, xs[0]);
    total + scaled(&first, 3.0)
}

fn scale(v: &mut f64, k: f64) {
    *v *= k;
}

/// A `&mut` element of `iter_mut()` passed on to a helper.
#[differentiate]
pub fn scale_each(state: &mut [f64], k: f64) {
    for o in state.iter_mut() {
        scale(o, k);
    }
}

/// A helper that writes its argument and returns it too, called as a
/// statement (its value dropped): once for a value read after, once for
/// one never read again.
fn damp(v: &mut f64, k: f64) -> f64 {
    *v *= k;
    *v
}

#[differentiate]
pub fn damped_twice(x: f64, k: f64) -> f64 {
    let mut u = x;
    damp(&mut u, k);
    let mut unused = x * 2.0;
    damp(&mut unused, k);
    u * x
}

/// A parameter bound again by an unannotated `let` that reads it (the fuzzer
/// found it refused, then called through a module it does not have).
fn shifted(v: &mut [f64], k: f64) {
    let mut k = v[0] * k + k;
    k -= 0.5 * k * k;
    for i in 0..v.len() {
        v[i] = (v[i] + k).tanh();
    }
}

#[differentiate]
pub fn shifted_sum(x: &[f64], k: f64) -> f64 {
    let mut v = x.to_vec();
    shifted(&mut v, k);
    v.iter().sum()
}

/// A parameter bound again inside a loop's body only: after the loop, `k`
/// is the parameter again (the fuzzer found the helper refused).
fn smoothed(v: &mut [f64], k: f64) {
    for i in 0..v.len() {
        let k = v[i] * k;
        v[i] += 0.5 * k.sin();
    }
    v[0] *= k;
}

#[differentiate]
pub fn smoothed_sum(x: &[f64], k: f64) -> f64 {
    let mut v = x.to_vec();
    smoothed(&mut v, k);
    v.iter().sum()
}

/// A parameter made mutable by `let mut x = x;`, a `while` loop.
fn ln_gamma(x: f64) -> f64 {
    let mut x = x;
    let mut acc = 0.0;
    while x < 7.0 {
        acc -= x.ln();
        x += 1.0;
    }
    let x3 = x * x * x;
    acc + (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x3)
}

/// A parameter shadowed by a `let` of its type.
fn squash_all(v: &mut [f64], k: f64) {
    let k: f64 = k.cos().tan();
    for i in 0..v.len() {
        v[i] = (v[i] + k).tanh();
    }
}

#[differentiate]
pub fn squashed_pair(x: f64, y: f64) -> f64 {
    let mut d = vec![x, y];
    squash_all(&mut d, x * y);
    d[0] + d[1] * x
}

#[differentiate]
pub fn log_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// Plain helpers returning vectors.
fn matvec(w: &[f64], x: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n];
    for i in 0..n {
        for j in 0..x.len() {
            out[i] += w[i * x.len() + j] * x[j];
        }
    }
    out
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[differentiate]
pub fn cross_entropy(w: &[f64], x: &[f64], label: usize) -> f64 {
    let z = matvec(w, x, 3);
    let p = softmax(&z);
    -p[label].ln()
}

/// The functions above with every helper written out by hand.
mod by_hand {
    use super::Net;
    use backprop_runtime::differentiate;

    #[differentiate]
    pub fn loss(net: &Net, xs: &[f64], ys: &[f64], d: usize) -> f64 {
        let mut s = 0.0;
        for k in 0..ys.len() {
            let mut out = net.b2;
            for j in 0..net.hidden {
                let mut u = net.b1[j];
                for i in 0..d {
                    u += net.w1[j * d + i] * xs[k * d + i];
                }
                out += net.w2[j] * u.tanh();
            }
            let r = out - ys[k];
            s += if r.abs() < 0.5 {
                0.5 * r * r
            } else {
                0.5 * (r.abs() - 0.25)
            };
        }
        let mut reg = 0.0;
        for j in 0..net.w1.len() {
            reg += net.w1[j] * net.w1[j];
        }
        s / ys.len() as f64 + 0.01 * reg
    }
}

fn net(rng: &mut Rng, d: usize, hidden: usize) -> Net {
    Net {
        w1: (0..d * hidden).map(|_| rng.uniform(-1.0, 1.0)).collect(),
        b1: (0..hidden).map(|_| rng.uniform(-0.5, 0.5)).collect(),
        w2: (0..hidden).map(|_| rng.uniform(-1.0, 1.0)).collect(),
        b2: rng.uniform(-0.5, 0.5),
        hidden,
    }
}

fn flat(net: &Net) -> Vec<f64> {
    [net.w1.clone(), net.b1.clone(), net.w2.clone(), vec![net.b2]].concat()
}

fn flat_grad(g: &NetGrad) -> Vec<f64> {
    [g.w1.clone(), g.b1.clone(), g.w2.clone(), vec![g.b2]].concat()
}

fn unflat(v: &[f64], d: usize, hidden: usize) -> Net {
    let (w1, rest) = v.split_at(d * hidden);
    let (b1, rest) = rest.split_at(hidden);
    let (w2, rest) = rest.split_at(hidden);
    Net {
        w1: w1.to_vec(),
        b1: b1.to_vec(),
        w2: w2.to_vec(),
        b2: rest[0],
        hidden,
    }
}

#[test]
fn methods_and_plain_helpers_give_the_gradient_written_out_by_hand() {
    let (d, hidden) = (3, 4);
    let mut rng = Rng::new(23);
    let mut branches = [false; 2];
    for _ in 0..8 {
        let net = net(&mut rng, d, hidden);
        let xs: Vec<f64> = (0..5 * d).map(|_| rng.uniform(-1.5, 1.5)).collect();
        let ys: Vec<f64> = (0..5).map(|_| rng.uniform(-2.0, 2.0)).collect();
        for k in 0..5 {
            let r = net.predict(&xs[k * d..(k + 1) * d]) - ys[k];
            branches[usize::from(r.abs() < 0.5)] = true;
        }
        let (value, g) = loss::grad(&net, &xs, &ys, d);
        let (expected, h) = by_hand::loss::grad(&net, &xs, &ys, d);
        assert_eq!(value.to_bits(), loss(&net, &xs, &ys, d).to_bits());
        assert!((value - expected).abs() <= 1e-12 * (1.0 + expected.abs()));
        let (g, h) = (flat_grad(&g.net), flat_grad(&h.net));
        for (a, b) in g.iter().zip(&h) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} {b}");
        }
        assert_gradient(
            |v| loss(&unflat(v, d, hidden), &xs, &ys, d),
            &flat(&net),
            &g,
        );
    }
    assert_eq!(branches, [true, true], "both sides of huber's branch");
    // Nothing is called: every helper is in the function's own code, but
    // the helper over integers.
    for helper in ["fit(", ".predict(", ".unit(", "huber(", "sum_of_squares("] {
        assert!(!loss::SOURCE.contains(helper), "{helper}");
    }
    assert!(loss::SOURCE.contains("row_start("));
}

#[test]
fn methods_taking_self_by_value_and_by_mut_reference() {
    let mut rng = Rng::new(5);
    for _ in 0..8 {
        let spring = Spring {
            k: rng.uniform(0.5, 3.0),
            c: rng.uniform(0.0, 0.5),
        };
        let start = Body {
            x: rng.uniform(-1.0, 1.0),
            v: rng.uniform(-1.0, 1.0),
        };
        let (n, dt) = (6, 0.1);
        let mut body = start.clone();
        let (value, tape) = simulate::forward(spring, &mut body, n, dt);
        let mut plain = start.clone();
        assert_eq!(
            value.to_bits(),
            simulate(spring, &mut plain, n, dt).to_bits()
        );
        assert_eq!((body.x, body.v), (plain.x, plain.v));
        // Seeded on the value and on the final state.
        let seed = BodyGrad { x: 0.5, v: -0.25 };
        let g = simulate::backward(&tape, (1.0, &seed));
        let f = |p: &[f64]| {
            let mut b = Body { x: p[2], v: p[3] };
            let value = simulate(Spring { k: p[0], c: p[1] }, &mut b, n, p[4]);
            value + 0.5 * b.x - 0.25 * b.v
        };
        assert_gradient(
            f,
            &[spring.k, spring.c, start.x, start.v, dt],
            &[g.spring.k, g.spring.c, g.body.x, g.body.v, g.dt],
        );
    }
}

#[test]
fn a_plain_helper_is_computed_as_written_and_a_custom_rule_is_kept() {
    let before = SOFT_RULE_USED.load(Ordering::Relaxed);
    for x in [[0.3, -0.7], [-1.2, 0.4], [2.0, 1.5]] {
        let (value, g) = squashed::grad(&x);
        assert_eq!(value.to_bits(), squashed(&x).to_bits());
        assert_gradient(squashed, &x, &g.x);
        // The user's sigmoid, 1 / (1 + e^(-2t)), not the runtime's.
        let s = sigmoid(x[0]);
        let expected = 2.0 * s * (1.0 - s) * soft(x[1]) + 2.0 * x[0];
        assert!((g.x[0] - expected).abs() < 1e-12);
    }
    assert!(SOFT_RULE_USED.load(Ordering::Relaxed) > before);
    assert!(squashed::SOURCE.contains("soft::"));
}

#[test]
fn a_marked_method_calling_a_plain_method_of_its_impl() {
    let (xs, ys) = ([0.5, -1.0, 2.0], [0.2, -0.4, 0.9]);
    // Both sides of the guard in `clamp_below`.
    for (w, b) in [(0.8, 0.1), (-0.3, 0.6), (1.5, -0.2)] {
        let line = Line { w, b };
        let (value, g) = line.loss_grad(&xs, &ys);
        assert_eq!(value.to_bits(), line.loss(&xs, &ys).to_bits());
        assert_gradient(
            |p| Line { w: p[0], b: p[1] }.loss(&xs, &ys),
            &[w, b],
            &[g.w, g.b],
        );
    }
}

#[test]
fn methods_of_the_elements_of_a_slice_of_structs() {
    let mut rng = Rng::new(11);
    let dense = |rng: &mut Rng| Dense {
        w: (0..4).map(|_| rng.uniform(-1.0, 1.0)).collect(),
        b: (0..2).map(|_| rng.uniform(-0.5, 0.5)).collect(),
        inputs: 2,
    };
    for _ in 0..6 {
        let layers = vec![dense(&mut rng), dense(&mut rng), dense(&mut rng)];
        let x = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
        let (value, g) = layered::grad(&layers, &x);
        assert_eq!(value.to_bits(), layered(&layers, &x).to_bits());
        let flat: Vec<f64> = layers
            .iter()
            .flat_map(|l| [l.w.clone(), l.b.clone()].concat())
            .collect();
        let analytic: Vec<f64> = g
            .layers
            .iter()
            .flat_map(|l| [l.w.clone(), l.b.clone()].concat())
            .chain(g.x.iter().copied())
            .collect();
        let f = |v: &[f64]| {
            let layers: Vec<Dense> = v[..18]
                .chunks(6)
                .map(|c| Dense {
                    w: c[..4].to_vec(),
                    b: c[4..].to_vec(),
                    inputs: 2,
                })
                .collect();
            layered(&layers, &v[18..])
        };
        assert_gradient(f, &[flat, x.to_vec()].concat(), &analytic);
    }
}

#[test]
fn methods_of_layers_held_by_a_model() {
    let mut rng = Rng::new(3);
    for _ in 0..6 {
        let layer = |rng: &mut Rng| Layer {
            w: (0..4).map(|_| rng.uniform(-1.0, 1.0)).collect(),
            b: (0..2).map(|_| rng.uniform(-0.5, 0.5)).collect(),
            inputs: 2,
            outputs: 2,
        };
        let net = Mlp {
            layers: vec![layer(&mut rng), layer(&mut rng)],
        };
        let x = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
        let (value, g) = mlp_loss::grad(&net, &x, 0.25);
        assert_eq!(value.to_bits(), mlp_loss(&net, &x, 0.25).to_bits());
        let flat: Vec<f64> = net
            .layers
            .iter()
            .flat_map(|l| [l.w.clone(), l.b.clone()].concat())
            .collect();
        let analytic: Vec<f64> = g
            .net
            .layers
            .iter()
            .flat_map(|l| [l.w.clone(), l.b.clone()].concat())
            .chain(g.x.iter().copied())
            .collect();
        let f = |v: &[f64]| {
            let layers = v[..12]
                .chunks(6)
                .map(|c| Layer {
                    w: c[..4].to_vec(),
                    b: c[4..].to_vec(),
                    inputs: 2,
                    outputs: 2,
                })
                .collect();
            mlp_loss(&Mlp { layers }, &v[12..], 0.25)
        };
        assert_gradient(f, &[flat, x.to_vec()].concat(), &analytic);
    }
}

#[test]
fn a_plain_helper_called_in_a_closure() {
    let mut rng = Rng::new(8);
    for n in [1, 2, 5] {
        let xs: Vec<f64> = (0..n).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let (value, g) = variance::grad(&xs);
        assert_eq!(value.to_bits(), variance(&xs).to_bits());
        // d/dx_i of the variance: 2 (x_i - mean) / n.
        let mean = xs.iter().sum::<f64>() / n as f64;
        for (x, d) in xs.iter().zip(&g.xs) {
            assert!((d - 2.0 * (x - mean) / n as f64).abs() < 1e-12);
        }
        assert_gradient(variance, &xs, &g.xs);
        if n > 1 {
            let (value, g) = rosenbrock::grad(&xs);
            assert_eq!(value.to_bits(), rosenbrock(&xs).to_bits());
            assert_gradient(rosenbrock, &xs, &g.x);
        }
    }
}

#[test]
fn plain_helpers_taking_float_references() {
    let mut rng = Rng::new(19);
    for n in [1, 3] {
        let xs: Vec<f64> = (0..n).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let (value, g) = accumulated::grad(&xs);
        assert_eq!(value.to_bits(), accumulated(&xs).to_bits());
        assert_gradient(accumulated, &xs, &g.xs);
        // Each element scaled in place: seeded with ones, d/dx_i = k and
        // d/dk = sum x_i.
        let k = 1.5;
        let mut state = xs.clone();
        let ((), tape) = scale_each::forward(&mut state, k);
        let ones = vec![1.0; n];
        let g = scale_each::backward(&tape, &ones[..]);
        assert!(g.state.iter().all(|d| *d == k));
        assert!((g.k - xs.iter().sum::<f64>()).abs() < 1e-12);
    }
}

#[test]
fn a_parameter_bound_again() {
    let mut rng = Rng::new(31);
    for n in [1, 4] {
        let x: Vec<f64> = (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect();
        for k in [-0.7, 0.4] {
            let (value, g) = shifted_sum::grad(&x, k);
            assert_eq!(value.to_bits(), shifted_sum(&x, k).to_bits());
            let mut point = x.clone();
            point.push(k);
            let analytic: Vec<f64> = g.x.iter().chain([&g.k]).copied().collect();
            assert_gradient(|p| shifted_sum(&p[..n], p[n]), &point, &analytic);
        }
    }
}

#[test]
fn a_parameter_bound_again_inside_a_loop() {
    for k in [-0.7, 0.4] {
        let x = [0.3, -1.1, 0.8];
        let (value, g) = smoothed_sum::grad(&x, k);
        assert_eq!(value.to_bits(), smoothed_sum(&x, k).to_bits());
        let analytic: Vec<f64> = g.x.iter().chain([&g.k]).copied().collect();
        assert_gradient(
            |p| smoothed_sum(&p[..3], p[3]),
            &[x[0], x[1], x[2], k],
            &analytic,
        );
    }
}

#[test]
fn a_helper_whose_value_is_dropped() {
    for (x, k) in [(0.3, 1.5), (-1.2, 0.25)] {
        let (value, g) = damped_twice::grad(x, k);
        assert_eq!(value.to_bits(), damped_twice(x, k).to_bits());
        assert_gradient(|p| damped_twice(p[0], p[1]), &[x, k], &[g.x, g.k]);
    }
}

#[test]
fn plain_helpers_returning_vectors() {
    let mut rng = Rng::new(29);
    for label in 0..3 {
        let w: Vec<f64> = (0..6).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let x = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
        let (value, g) = cross_entropy::grad(&w, &x, label);
        assert_eq!(value.to_bits(), cross_entropy(&w, &x, label).to_bits());
        // d/dz_i = p_i - [i == label], and z_i = w_i . x.
        let z = matvec(&w, &x, 3);
        let p = softmax(&z);
        for i in 0..3 {
            let dz = p[i] - if i == label { 1.0 } else { 0.0 };
            for j in 0..2 {
                assert!((g.w[i * 2 + j] - dz * x[j]).abs() < 1e-12);
            }
        }
        assert_gradient(|v| cross_entropy(v, &x, label), &w, &g.w);
    }
}

#[test]
fn a_parameter_made_mutable_in_a_plain_helper() {
    // Both sides of the loop's test: shifted several times, and not at all.
    // (Away from whole sums: the series is shifted one step more or less
    // there, a jump of 1e-9 in the value that finite differences see.)
    for (a, b) in [(0.3, 1.45), (3.25, 8.6), (9.1, 7.6)] {
        let (value, g) = log_beta::grad(a, b);
        assert_eq!(value.to_bits(), log_beta(a, b).to_bits());
        assert_gradient(|v| log_beta(v[0], v[1]), &[a, b], &[g.a, g.b]);
        let (value, g) = squashed_pair::grad(a, b - 1.0);
        assert_eq!(value.to_bits(), squashed_pair(a, b - 1.0).to_bits());
        assert_gradient(|v| squashed_pair(v[0], v[1]), &[a, b - 1.0], &[g.x, g.y]);
    }
}

#[test]
fn a_trait_method_of_a_struct_parameter() {
    let xs = [0.5, -1.25, 2.0];
    for (k, c) in [(1.5, 0.25), (-0.5, 2.0)] {
        let spring = Spring { k, c };
        let (value, g) = total_potential::grad(&spring, &xs);
        assert_eq!(value.to_bits(), total_potential(&spring, &xs).to_bits());
        assert_gradient(
            |v| total_potential(&Spring { k: v[0], c: v[1] }, &v[2..]),
            &[k, c, xs[0], xs[1], xs[2]],
            &[g.spring.k, g.spring.c, g.xs[0], g.xs[1], g.xs[2]],
        );
    }
}

#[test]
fn a_method_whose_closure_shadows_its_parameter() {
    let mut rng = Rng::new(31);
    for _ in 0..4 {
        let model = Linear {
            w: vec![rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)],
            b: rng.uniform(-0.5, 0.5),
        };
        let xs: Vec<f64> = (0..6).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let ys: Vec<f64> = (0..3).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let (value, g) = linear_mse::grad(&model, &xs, &ys);
        assert_eq!(value.to_bits(), linear_mse(&model, &xs, &ys).to_bits());
        let f = |v: &[f64]| {
            let m = Linear {
                w: v[..2].to_vec(),
                b: v[2],
            };
            linear_mse(&m, &v[3..], &ys)
        };
        let at = [model.w.clone(), vec![model.b], xs.clone()].concat();
        let analytic = [g.model.w.clone(), vec![g.model.b], g.xs.clone()].concat();
        assert_gradient(f, &at, &analytic);
    }
}

/// Plain helpers generic over the float, as numeric crates write them:
/// constructors of the parameter (`F::zero()`, `F::from(2.0).unwrap()`,
/// `F::epsilon()`), `F::max` passed as a function, a `where` clause, one
/// calling another. Inlined as their copies over the caller's float (`f64`
/// or `f32`); were left as calls of modules that do not exist (E0432 inside
/// the expansion).
fn generic_dot<F: backprop_runtime::Float>(a: &[F], b: &[F]) -> F {
    a.iter().zip(b).fold(F::zero(), |s, (x, y)| s + *x * *y)
}

fn generic_norm<F>(a: &[F]) -> F
where
    F: backprop_runtime::Float,
{
    let half = F::from(0.5).unwrap();
    let largest = a.iter().copied().fold(F::neg_infinity(), F::max);
    (generic_dot(a, a) + F::epsilon()).powf(half) + largest * F::from(a.len()).unwrap()
}

#[differentiate]
fn generic_helpers_f64(w: &[f64], x: &[f64]) -> f64 {
    generic_dot(w, x) / generic_norm(w)
}

#[differentiate]
fn generic_helpers_f32(w: &[f32], x: &[f32]) -> f32 {
    generic_dot(w, x) / generic_norm(w)
}

#[test]
fn helpers_generic_over_the_float() {
    let mut rng = Rng::new(17);
    for _ in 0..3 {
        let point: Vec<f64> = (0..6).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let f = |v: &[f64]| generic_helpers_f64(&v[..3], &v[3..]);
        let (value, g) = generic_helpers_f64::grad(&point[..3], &point[3..]);
        assert_eq!(value, f(&point));
        let analytic: Vec<f64> = g.w.iter().chain(&g.x).copied().collect();
        assert_gradient(f, &point, &analytic);
        // Over f32, to f32's precision.
        let (w32, x32): (Vec<f32>, Vec<f32>) = (
            point[..3].iter().map(|v| *v as f32).collect(),
            point[3..].iter().map(|v| *v as f32).collect(),
        );
        let (value_32, g_32) = generic_helpers_f32::grad(&w32, &x32);
        assert!((f64::from(value_32) - value).abs() < 1e-4 * value.abs().max(1.0));
        for (a, b) in g_32.w.iter().chain(&g_32.x).zip(&analytic) {
            assert!(
                (f64::from(*a) - b).abs() < 1e-3 * b.abs().max(1.0),
                "{a} {b}"
            );
        }
    }
}

/// A type alias of the file (`type Vec3 = [f64; 3];`) in helpers' and the
/// function's signatures and `let`s: the array it names. Helpers so
/// written were left as calls (E0433 inside the expansion), and a parameter
/// so typed was taken for a struct.
type Vec3 = [f64; 3];

fn add3(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn scaled3(a: Vec3, s: f64) -> Vec3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

fn cross3(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

#[differentiate]
fn aliased(p: Vec3, v: &[f64], dt: f64) -> f64 {
    let mut pos = p;
    let mut vel: Vec3 = [v[0], v[1], v[2]];
    for _ in 0..5 {
        vel = add3(vel, scaled3(cross3(pos, vel), dt));
        pos = add3(pos, scaled3(vel, dt));
    }
    pos[0] * pos[1] + pos[2]
}

#[test]
fn type_aliases_of_arrays() {
    let mut rng = Rng::new(31);
    for _ in 0..3 {
        let point: Vec<f64> = (0..7).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let f = |v: &[f64]| aliased([v[0], v[1], v[2]], &v[3..6], v[6]);
        let (value, g) = aliased::grad([point[0], point[1], point[2]], &point[3..6], point[6]);
        assert_eq!(value, f(&point));
        let analytic: Vec<f64> = g.p.iter().chain(&g.v).chain([&g.dt]).copied().collect();
        assert_gradient(f, &point, &analytic);
    }
}

/// The float itself by an alias of the file (`type Real = f64;`), in the
/// signature, a cast and a helper.
type Real = f64;

fn softplus_real(v: Real) -> Real {
    (1.0 + v.exp()).ln()
}

#[differentiate]
fn with_real(x: Real, w: &[Real]) -> Real {
    let scaled = x as Real * w[0];
    softplus_real(scaled) + w[1] * x
}

#[test]
fn a_float_by_an_alias() {
    for point in [[0.3, -1.2, 0.8], [-1.5, 0.4, 2.0]] {
        let f = |v: &[f64]| with_real(v[0], &v[1..]);
        let (value, g) = with_real::grad(point[0], &point[1..]);
        assert_eq!(value, f(&point));
        let analytic: Vec<f64> = [g.x].iter().chain(&g.w).copied().collect();
        assert_gradient(f, &point, &analytic);
    }
}

/// Helpers the function declares in its own body (one calling another, one
/// looping over a slice): inlined as helpers beside it are. Were refused
/// ("items inside a differentiated function are supported as `const` and
/// `use`").
#[differentiate]
fn with_nested_helpers(x: &[f64], k: f64) -> f64 {
    fn sq(v: f64) -> f64 {
        v * v
    }
    fn smooth_abs(v: f64) -> f64 {
        (sq(v) + 1e-3).sqrt()
    }
    fn weighted(v: &[f64], k: f64) -> f64 {
        let mut s = 0.0;
        for i in 0..v.len() {
            s += smooth_abs(v[i] - k) * (i as f64 + 1.0);
        }
        s
    }
    weighted(x, k) + sq(k) * x[0]
}

#[test]
fn helpers_declared_in_the_body() {
    for (x, k) in [(vec![0.3, -1.2, 2.0], 0.5), (vec![1.5, 0.2], -0.7)] {
        let (value, g) = with_nested_helpers::grad(&x, k);
        assert_eq!(value, with_nested_helpers(&x, k));
        let mut point = x.clone();
        point.push(k);
        let mut analytic = g.x.clone();
        analytic.push(g.k);
        let n = x.len();
        assert_gradient(|v| with_nested_helpers(&v[..n], v[n]), &point, &analytic);
    }
}

pub struct Tanh {
    pub w: Vec<f64>,
    pub b: Vec<f64>,
    pub n_in: usize,
    pub n_out: usize,
}

impl Tanh {
    pub fn forward(&self, x: &[f64], out: &mut [f64]) {
        for o in 0..self.n_out {
            let mut s = self.b[o];
            for i in 0..self.n_in {
                s += self.w[o * self.n_in + i] * x[i];
            }
            out[o] = s.tanh();
        }
    }
}

/// A buffer sized by a field of a data struct, `vec![0.0; layer.n_out]`,
/// filled by the struct's method: the length's type is not written
/// anywhere the macro reads, and a length is a `usize`. Was refused ("its
/// type cannot be inferred").
#[differentiate(wrt(x))]
fn layer_output(layer: &Tanh, x: &[f64]) -> f64 {
    let mut out = vec![0.0; layer.n_out];
    layer.forward(x, &mut out);
    out.iter().map(|v| v * v).sum()
}

#[test]
fn a_buffer_sized_by_a_field_of_data() {
    let layer = Tanh {
        w: vec![0.5, -0.25, 1.0, 0.75, -1.5, 0.5],
        b: vec![0.1, -0.2, 0.3],
        n_in: 2,
        n_out: 3,
    };
    for x in [[0.3, -1.2], [1.5, 0.2]] {
        let (value, g) = layer_output::grad(&layer, &x);
        assert_eq!(value, layer_output(&layer, &x));
        assert_gradient(|v| layer_output(&layer, v), &x, &g.x);
    }
}

/// A small vector type with its arithmetic as operator impls, as physics
/// code writes it (`Self`, `Self::Output`, `Mul<f64>`, `Neg`).
#[derive(Clone, Copy, Debug)]
pub struct V2 {
    pub x: f64,
    pub y: f64,
}

impl std::ops::Add for V2 {
    type Output = Self;
    fn add(self, o: Self) -> Self::Output {
        Self {
            x: self.x + o.x,
            y: self.y + o.y,
        }
    }
}

impl std::ops::Sub for V2 {
    type Output = V2;
    fn sub(self, o: V2) -> V2 {
        V2 {
            x: self.x - o.x,
            y: self.y - o.y,
        }
    }
}

impl std::ops::Mul<f64> for V2 {
    type Output = V2;
    fn mul(self, k: f64) -> V2 {
        V2 {
            x: self.x * k,
            y: self.y * k,
        }
    }
}

impl std::ops::Neg for V2 {
    type Output = V2;
    fn neg(self) -> V2 {
        V2 {
            x: -self.x,
            y: -self.y,
        }
    }
}

impl std::ops::AddAssign for V2 {
    fn add_assign(&mut self, o: V2) {
        self.x += o.x;
        self.y += o.y;
    }
}

impl std::ops::MulAssign<f64> for V2 {
    fn mul_assign(&mut self, k: f64) {
        self.x *= k;
        self.y *= k;
    }
}

impl V2 {
    pub fn norm2(self) -> f64 {
        self.x * self.x + self.y * self.y
    }

    pub fn dot(self, o: V2) -> f64 {
        self.x * o.x + self.y * o.y
    }

    /// A method calling another on `self`: both take `self` by value.
    pub fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }
}

/// A spring integrated with the operators: `-p * k` (an operator on an
/// operator's value), `v + a * dt`, `p - V2 { .. }`. Were refused (the
/// struct "used otherwise"). (Written out although `V2` has `AddAssign`.)
#[differentiate]
#[allow(clippy::assign_op_pattern)]
fn spring_by_operators(k: f64, x0: f64) -> f64 {
    let mut p = V2 { x: x0, y: 0.0 };
    let mut v = V2 { x: 0.0, y: 1.0 };
    let dt = 0.05;
    for _ in 0..40 {
        let a = -p * k;
        v = v + a * dt;
        p = p + v * dt;
    }
    let d = p - V2 { x: 1.0, y: 0.0 };
    d.norm2()
}

#[test]
fn operators_of_a_struct() {
    for (k, x0) in [(2.0, 0.5), (0.7, -1.2)] {
        let (value, g) = spring_by_operators::grad(k, x0);
        assert_eq!(value, spring_by_operators(k, x0));
        assert_gradient(|v| spring_by_operators(v[0], v[1]), &[k, x0], &[g.k, g.x0]);
    }
}

/// Quadratic drag with compound operators (`v += a * dt`, `v *= k`,
/// `impl AddAssign`, `impl MulAssign<f64>`) and a method calling another
/// (`v.norm()` is `self.dot(self).sqrt()`). The compound operators were
/// refused; and the nested method's parameter, inlined as the caller's `v`,
/// hid the loop's `v` from the assignment after it: a silent wrong gradient.
#[differentiate]
fn drag_by_compound_operators(drag: f64, vx: f64) -> f64 {
    let mut p = V2 { x: 0.0, y: 0.0 };
    let mut v = V2 { x: vx, y: 2.0 };
    let g = V2 { x: 0.0, y: -9.8 };
    let dt = 0.02;
    for _ in 0..30 {
        let a = g - v * (drag * v.norm());
        v += a * dt;
        p += v * dt;
        v *= 0.999;
    }
    p.x * p.x + p.y
}

/// The same with `v = v + ..` written out.
#[differentiate]
#[allow(clippy::assign_op_pattern)]
fn drag_by_operators(drag: f64, vx: f64) -> f64 {
    let mut p = V2 { x: 0.0, y: 0.0 };
    let mut v = V2 { x: vx, y: 2.0 };
    let g = V2 { x: 0.0, y: -9.8 };
    let dt = 0.02;
    for _ in 0..30 {
        let a = g - v * (drag * v.norm());
        v = v + a * dt;
        p = p + v * dt;
        v = v * 0.999;
    }
    p.x * p.x + p.y
}

#[test]
fn compound_operators_and_a_method_calling_another() {
    for (drag, vx) in [(0.1, 3.0), (0.4, -1.5)] {
        let (value, g) = drag_by_compound_operators::grad(drag, vx);
        assert_eq!(value, drag_by_compound_operators(drag, vx));
        let f = |v: &[f64]| drag_by_compound_operators(v[0], v[1]);
        assert_gradient(f, &[drag, vx], &[g.drag, g.vx]);
        let (value, g) = drag_by_operators::grad(drag, vx);
        assert_eq!(value, drag_by_operators(drag, vx));
        assert_gradient(
            |v| drag_by_operators(v[0], v[1]),
            &[drag, vx],
            &[g.drag, g.vx],
        );
    }
}

fn doubled_sine(x: f64) -> f64 {
    let a = x * 2.0;
    a.sin()
}

/// A helper calling a helper that binds the same name (`a`): the inner
/// `a`, set beside the outer one when both are inlined, must not hide it.
fn shifted_times_sine(x: f64) -> f64 {
    let a = x + 1.0;
    let b = doubled_sine(x);
    a * b
}

fn chained_sines(y: f64) -> f64 {
    let b = doubled_sine(y * y);
    let x = y + b;
    x * doubled_sine(x)
}

#[differentiate]
fn helpers_sharing_names(x: f64, y: f64) -> f64 {
    shifted_times_sine(x) * y + chained_sines(y)
}

#[test]
fn helpers_calling_helpers_that_bind_the_same_names() {
    for (x, y) in [(0.7, 1.3), (-1.1, 0.4)] {
        let (value, g) = helpers_sharing_names::grad(x, y);
        assert_eq!(value, helpers_sharing_names(x, y));
        let f = |v: &[f64]| helpers_sharing_names(v[0], v[1]);
        assert_gradient(f, &[x, y], &[g.x, g.y]);
    }
}

fn sine_of_product(a: f64, b: f64) -> f64 {
    let t = a * b;
    t.sin() + b
}

/// A plain helper called among a `vec!`'s elements: inlined there too (was
/// left a call of a module that does not exist: rustc's "not a crate or
/// module").
#[differentiate]
#[allow(clippy::useless_vec)]
fn helper_in_a_vec(x: f64, y: f64) -> f64 {
    let v = vec![x * 2.0, sine_of_product(x, y), sine_of_product(y, 3.0)];
    v[0] * v[1] + v[2]
}

#[test]
fn a_helper_called_inside_vec() {
    for (x, y) in [(0.3, -0.7), (1.2, 0.4)] {
        let (value, g) = helper_in_a_vec::grad(x, y);
        assert_eq!(value, helper_in_a_vec(x, y));
        assert_gradient(|v| helper_in_a_vec(v[0], v[1]), &[x, y], &[g.x, g.y]);
    }
}

/// A plain helper that prints and asserts with variables named in its
/// format strings (`"{y:.3}"`): inlined, the names given as arguments so
/// that the renamed variables print (was not inlined: rustc's "not a crate
/// or module" at the call).
fn logged_square(x: f64) -> f64 {
    let y = x * x;
    if y > 1e6 {
        println!("large: y = {y:.3} from x = {x}, {}", y + 1.0);
    }
    assert!(y >= 0.0, "negative square {y}");
    y.sin()
}

#[differentiate]
fn calls_a_logging_helper(x: f64) -> f64 {
    let y = x + 1.0;
    logged_square(x) * 2.0 + logged_square(y)
}

#[test]
fn helpers_with_format_strings_are_inlined() {
    for x in [0.7, -1.3] {
        let (value, g) = calls_a_logging_helper::grad(x);
        assert_eq!(value, calls_a_logging_helper(x));
        assert_gradient(|v| calls_a_logging_helper(v[0]), &[x], &[g.x]);
        assert!(calls_a_logging_helper::SOURCE.contains("x = x"));
    }
}

/// Helpers that take a closure, as numerical code is written: a quadrature
/// over `impl Fn(f64) -> f64`, Simpson's rule over `F: Fn(f64) -> f64` in a
/// `where` clause, a sum over `&dyn Fn(f64) -> f64`, Newton's method over
/// two type parameters, and a closure the caller named passed by name. Each
/// is inlined with the closure a closure of the block (or called by its
/// name). Were refused ("closures cannot be differentiated").
fn trapezoid(f: impl Fn(f64) -> f64, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let mut s = 0.5 * (f(a) + f(b));
    for i in 1..n {
        s += f(a + i as f64 * h);
    }
    s * h
}

fn simpson<F>(f: F, a: f64, b: f64) -> f64
where
    F: Fn(f64) -> f64,
{
    let m = 0.5 * (a + b);
    (b - a) / 6.0 * (f(a) + 4.0 * f(m) + f(b))
}

fn sum_of(f: &dyn Fn(f64) -> f64, xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for &x in xs {
        s += f(x);
    }
    s
}

fn newton<G: Fn(f64) -> f64, D: Fn(f64) -> f64>(g: G, dg: D, x0: f64) -> f64 {
    let mut x = x0;
    for _ in 0..5 {
        x -= g(x) / dg(x);
    }
    x
}

#[differentiate]
fn closures_passed_to_helpers(p: &[f64]) -> f64 {
    let k = p[0];
    let area = trapezoid(|t| (k * t).sin() * p[1], 0.0, 1.0, 8);
    let exact = simpson(|t| (p[0] * t).exp(), 0.0, p[1]);
    let total = sum_of(&|v| v * v * k, p);
    let root = newton(|x| x * x - p[0], |x| 2.0 * x, 1.0);
    let scaled = |t: f64| t * p[1] + k;
    area + exact + total + root + simpson(scaled, 0.0, 1.0)
}

#[test]
fn helpers_taking_closures() {
    for p in [[0.8, 1.2], [1.7, -0.4]] {
        let (value, g) = closures_passed_to_helpers::grad(&p);
        assert_eq!(value, closures_passed_to_helpers(&p));
        assert_gradient(closures_passed_to_helpers, &p, &g.p);
    }
}
