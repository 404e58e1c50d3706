//! Models as structs (in `methods.rs`'s test binary): `#[derive(Differentiable)]`
//! and functions over struct parameters, each gradient against central
//! differences of the plain function, with the model's floats moved in and
//! out of one vector.

use crate::common::{assert_gradient, Rng};
use backprop_runtime::{differentiate, Differentiable, Float, GradOf, Gradient};

#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Layer {
    w: Vec<f64>,
    b: f64,
}

/// Every kind of field: a nested struct, an array, a float, integer data,
/// a field marked as data.
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Model {
    head: Layer,
    rot: [f64; 3],
    scale: f64,
    inputs: usize,
    #[differentiable(skip)]
    label: Option<String>,
}

#[derive(Differentiable, Clone, Copy, Debug, PartialEq)]
pub struct Params<T> {
    k: T,
    c: T,
}

fn model_from(v: &[f64]) -> Model {
    Model {
        head: Layer {
            w: v[0..3].to_vec(),
            b: v[3],
        },
        rot: [v[4], v[5], v[6]],
        scale: v[7],
        inputs: 3,
        label: Some("m".into()),
    }
}

fn model_grad_as_vec(g: &GradOf<Model>) -> Vec<f64> {
    let mut v = g.head.w.clone();
    v.push(g.head.b);
    v.extend_from_slice(&g.rot);
    v.push(g.scale);
    v
}

/// Floats of every field kind; `inputs` (data) bounds the loop, `scale` is
/// compared as well as read; a branch on a field.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn model_loss(m: &Model, x: &[f64]) -> f64 {
    let mut s = m.head.b;
    for i in 0..m.inputs {
        s += m.head.w[i] * x[i];
    }
    let r = m.rot[0] * m.rot[1] - m.rot[2].sin();
    let t = if m.scale > 1.0 {
        s * m.scale
    } else {
        s / m.scale
    };
    (t + r).powi(2)
}

#[test]
fn every_field_kind_against_finite_differences() {
    let x = [1.0, 2.0, -0.5];
    let mut rng = Rng::new(17);
    // `scale` both sides of the branch.
    for scale in [0.7, 1.6, 2.3, 0.4] {
        let mut v: Vec<f64> = (0..8).map(|_| rng.uniform(-1.0, 1.0)).collect();
        v[7] = scale;
        let m = model_from(&v);
        let (value, g) = model_loss::grad(&m, &x);
        assert_eq!(value, model_loss(&m, &x));
        assert_gradient(
            |v| model_loss(&model_from(v), &x),
            &v,
            &model_grad_as_vec(&g.m),
        );
        assert_gradient(|x| model_loss(&m, x), &x, &g.x);
    }
}

#[test]
fn forward_backward_and_grad_into_agree_with_grad() {
    let m = model_from(&[0.5, -0.3, 0.2, 0.1, 0.3, 0.7, -0.2, 1.5]);
    let (xa, xb) = ([1.0, 2.0, 3.0], [-1.0, 0.5, 0.25]);
    let (_, ga) = model_loss::grad(&m, &xa);
    let (_, gb) = model_loss::grad(&m, &xb);
    // A minibatch: `grad_into` adds, reusing its tape and gradient.
    let mut tape = model_loss::Tape::default();
    let mut sum = model_loss::Grad::default();
    let va = model_loss::grad_into(&m, &xa, &mut tape, &mut sum);
    let vb = model_loss::grad_into(&m, &xb, &mut tape, &mut sum);
    assert_eq!((va, vb), (model_loss(&m, &xa), model_loss(&m, &xb)));
    let mut expected = ga.m.clone();
    expected.add(&gb.m);
    assert_eq!(sum.m, expected);
    // The split API with a seed of two is twice the gradient.
    let (value, tape) = model_loss::forward(&m, &xa);
    assert_eq!(value, model_loss(&m, &xa));
    let twice = model_loss::backward(&tape, 2.0);
    let mut doubled = ga.m.clone();
    doubled.scale(2.0);
    assert_eq!(twice.m, doubled);
    let mut into = model_loss::Grad::default();
    model_loss::backward_into(&tape, 1.0, &mut into);
    model_loss::backward_into(&tape, 1.0, &mut into);
    assert_eq!(into.m, doubled);
    into.clear();
    assert_eq!(into, model_loss::Grad::default());
}

/// Several struct parameters, one by value, with fields passed to
/// differentiated callees.
#[differentiate]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += a[i] * b[i];
    }
    s
}

#[differentiate]
fn square(v: f64) -> f64 {
    v * v
}

#[differentiate]
fn two_layers(first: &Layer, second: Layer, x: &[f64]) -> f64 {
    let h = (dot(&first.w, x) + first.b).tanh();
    let out = second.w[0] * h + second.w[1] * h * h + second.b;
    square(out)
}

#[test]
fn several_structs_one_by_value_and_fields_passed_to_callees() {
    let x = [0.3, -0.8, 1.1];
    let layer = |v: &[f64]| Layer {
        w: v[..v.len() - 1].to_vec(),
        b: v[v.len() - 1],
    };
    let first = [0.2, -0.4, 0.9, 0.05];
    let second = [1.3, -0.7, 0.2];
    let (value, g) = two_layers::grad(&layer(&first), layer(&second), &x);
    assert_eq!(value, two_layers(&layer(&first), layer(&second), &x));
    let mut dfirst = g.first.w.clone();
    dfirst.push(g.first.b);
    assert_gradient(
        |v| two_layers(&layer(v), layer(&second), &x),
        &first,
        &dfirst,
    );
    let mut dsecond = g.second.w.clone();
    dsecond.push(g.second.b);
    assert_gradient(
        |v| two_layers(&layer(&first), layer(v), &x),
        &second,
        &dsecond,
    );
}

/// A generic struct over the function's float, by value, in `f64` and `f32`.
#[differentiate]
fn spring<T: Float>(p: Params<T>, x: T) -> T {
    let half = T::from(0.5).unwrap();
    half * p.k * x * x + p.c * x.abs()
}

#[test]
fn generic_structs_in_f64_and_f32() {
    for (k, c, x) in [(2.0, 0.5, 3.0), (0.7, -1.2, -0.4)] {
        let (value, g) = spring::grad(Params { k, c }, x);
        assert_eq!(value, spring(Params { k, c }, x));
        assert_gradient(
            |v| spring(Params { k: v[0], c: v[1] }, v[2]),
            &[k, c, x],
            &[g.p.k, g.p.c, g.x],
        );
        let (value32, g32) = spring::grad(
            Params {
                k: k as f32,
                c: c as f32,
            },
            x as f32,
        );
        assert!((f64::from(value32) - value).abs() < 1e-5 * value.abs().max(1.0));
        assert!((f64::from(g32.p.k) - g.p.k).abs() < 1e-5 * g.p.k.abs().max(1.0));
        assert!((f64::from(g32.p.c) - g.p.c).abs() < 1e-5 * g.p.c.abs().max(1.0));
    }
}

/// A struct with `f32` fields.
#[derive(Differentiable, Clone, Copy)]
pub struct Gain {
    gain: f32,
    bias: [f32; 2],
}

#[differentiate]
fn gained(g: &Gain, x: f32) -> f32 {
    (g.gain * x + g.bias[0]).exp() - g.bias[1] * x
}

#[test]
fn f32_fields() {
    let g = Gain {
        gain: 0.4,
        bias: [0.1, -0.3],
    };
    let (_, d) = gained::grad(&g, 1.5);
    let e = (0.4_f32 * 1.5 + 0.1).exp();
    assert!((d.g.gain - e * 1.5).abs() < 1e-5);
    assert!((d.g.bias[0] - e).abs() < 1e-5);
    assert!((d.g.bias[1] + 1.5).abs() < 1e-6);
}

/// The operations a training loop needs, on a gradient whose vectors may be
/// empty (zero).
#[test]
fn gradient_and_model_operations() {
    let m = model_from(&[0.5, -0.3, 0.2, 0.1, 0.3, 0.7, -0.2, 1.5]);
    let zero = m.zero_grad();
    assert_eq!(zero.head.w, vec![0.0; 3]);
    assert_eq!((zero.scale, zero.rot), (0.0, [0.0; 3]));
    let (_, g) = model_loss::grad(&m, &[1.0, 2.0, 3.0]);
    let g = g.m;
    // Empty vectors are zero: adding to and from the default.
    let mut acc = GradOf::<Model>::default();
    assert!(acc.head.w.is_empty());
    acc.add_scaled(2.0, &g);
    acc.add_scaled(-1.0, &g);
    assert_eq!(acc, g);
    acc.add(&GradOf::<Model>::default());
    assert_eq!(acc, g);
    let flat = model_grad_as_vec(&g);
    let squared: f64 = flat.iter().map(|v| v * v).sum();
    assert!((g.dot(&g) - squared).abs() < 1e-12 * squared);
    assert!((g.norm() - squared.sqrt()).abs() < 1e-12 * squared.sqrt());
    assert_eq!(g.dot(&GradOf::<Model>::default()), 0.0);
    let mut scaled = g.clone();
    scaled.scale(0.5);
    assert_eq!(scaled.head.b, 0.5 * g.head.b);
    scaled.clear();
    assert!(scaled.head.w.is_empty() && scaled.scale == 0.0);
    // A step moves every differentiated field, and no data field.
    let mut stepped = m.clone();
    stepped.step(&g, 0.1);
    for (after, (before, d)) in stepped.head.w.iter().zip(m.head.w.iter().zip(&g.head.w)) {
        assert_eq!(*after, before - 0.1 * d);
    }
    assert_eq!(stepped.rot[2], m.rot[2] - 0.1 * g.rot[2]);
    assert_eq!((stepped.inputs, &stepped.label), (m.inputs, &m.label));
    // An empty gradient vector steps nothing.
    let mut unchanged = m.clone();
    unchanged.step(&GradOf::<Model>::default(), 0.1);
    assert_eq!(unchanged, m);
}

#[derive(Differentiable, Clone)]
pub struct Line {
    slope: f64,
    offset: f64,
}

#[differentiate]
fn squared_error(line: &Line, x: &[f64], y: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..x.len() {
        let e = line.slope * x[i] + line.offset - y[i];
        total += e * e;
    }
    total / x.len() as f64
}

/// Fitting a line by gradient descent, the model stepped by its gradient.
#[test]
fn a_training_loop_fits_a_line() {
    let x: Vec<f64> = (0..20).map(|i| f64::from(i) / 10.0).collect();
    let y: Vec<f64> = x.iter().map(|x| 3.0 * x - 1.0).collect();
    let mut line = Line {
        slope: 0.0,
        offset: 0.0,
    };
    let mut tape = squared_error::Tape::default();
    let mut grad = squared_error::Grad::default();
    for _ in 0..2000 {
        grad.clear();
        squared_error::grad_into(&line, &x, &y, &mut tape, &mut grad);
        line.step(&grad.line, 0.2);
    }
    assert!((line.slope - 3.0).abs() < 1e-6, "{}", line.slope);
    assert!((line.offset + 1.0).abs() < 1e-6, "{}", line.offset);
}

/// A struct left out of `wrt` is data, as before: no `Differentiable` needed.
pub struct Config {
    rate: f64,
}

#[differentiate(wrt(x))]
fn scaled(config: &Config, x: f64) -> f64 {
    config.rate * x * x
}

#[test]
fn a_struct_left_out_of_wrt_is_data() {
    let (_, g) = scaled::grad(&Config { rate: 3.0 }, 2.0);
    assert_eq!(g.x, 12.0);
}

/// The picture of a function over a struct names the fields' nodes.
#[test]
fn the_graph_draws_the_fields() {
    let m = model_from(&[0.5, -0.3, 0.2, 0.1, 0.3, 0.7, -0.2, 1.5]);
    let x = [1.0, 2.0, 3.0];
    let graph = model_loss::graph(&m, &x);
    let (_, g) = model_loss::grad(&m, &x);
    let node = graph.node("m_scale").expect("a node for the field `scale`");
    assert_eq!(node.adjoint, Some(g.m.scale));
}

/// The README's example: parts of a field passed to a callee, in a loop, the
/// model stepped by the mean gradient of a minibatch.
#[derive(Differentiable, Clone)]
pub struct Mlp {
    pub w1: Vec<f64>,
    pub b1: Vec<f64>,
    pub w2: Vec<f64>,
    pub b2: f64,
}

#[differentiate(wrt(p))]
pub fn mlp_loss(p: &Mlp, x: &[f64], y: f64) -> f64 {
    let mut z = p.b2;
    for j in 0..p.b1.len() {
        let h = (dot(&p.w1[j * x.len()..(j + 1) * x.len()], x) + p.b1[j]).tanh();
        z += p.w2[j] * h;
    }
    (z - y) * (z - y)
}

#[test]
fn the_readmes_model_with_parts_of_fields_passed_to_a_callee() {
    let mut rng = Rng::new(5);
    let mut floats = |n: usize| -> Vec<f64> { (0..n).map(|_| rng.uniform(-0.7, 0.7)).collect() };
    let model = Mlp {
        w1: floats(6),
        b1: floats(3),
        w2: floats(3),
        b2: 0.2,
    };
    let batch = [(vec![0.3, -0.4], 0.5), (vec![-0.9, 0.1], -0.2)];
    let as_vec = |m: &Mlp| -> Vec<f64> {
        let mut v = m.w1.clone();
        v.extend(&m.b1);
        v.extend(&m.w2);
        v.push(m.b2);
        v
    };
    let from_vec = |v: &[f64]| Mlp {
        w1: v[0..6].to_vec(),
        b1: v[6..9].to_vec(),
        w2: v[9..12].to_vec(),
        b2: v[12],
    };
    let mut tape = mlp_loss::Tape::default();
    let mut g = mlp_loss::Grad::default();
    for (x, y) in &batch {
        mlp_loss::grad_into(&model, x, *y, &mut tape, &mut g);
    }
    let total = |v: &[f64]| {
        batch
            .iter()
            .map(|(x, y)| mlp_loss(&from_vec(v), x, *y))
            .sum::<f64>()
    };
    let mut generated = g.p.w1.clone();
    generated.extend(&g.p.b1);
    generated.extend(&g.p.w2);
    generated.push(g.p.b2);
    assert_gradient(total, &as_vec(&model), &generated);
    // A step against the gradient lowers the loss.
    let mut stepped = model.clone();
    stepped.step(&g.p, 0.1 / batch.len() as f64);
    assert!(total(&as_vec(&stepped)) < total(&as_vec(&model)));
}

/// Found by the fuzzer: `sin_cos`, a float method with no rule of its own
/// here, read a float field as an array; `clone` and `iter` of a vector field.
#[derive(Differentiable)]
pub struct Wave {
    phase: f64,
    amplitudes: Vec<f64>,
}

#[differentiate]
fn wave(w: &Wave, t: f64) -> f64 {
    let (s, c) = (w.phase * t).sin_cos();
    let (s2, c2) = w.phase.sin_cos();
    let copy = w.amplitudes.clone();
    let total: f64 = w.amplitudes.iter().sum();
    copy[0] * s + copy[1] * c + total * s2 * c2
}

#[test]
fn float_methods_and_vector_methods_on_fields() {
    let (phase, amplitudes, t) = (0.7, vec![1.3, -0.4, 0.25], 1.9);
    let make = |v: &[f64]| Wave {
        phase: v[0],
        amplitudes: v[1..].to_vec(),
    };
    let mut point = vec![phase];
    point.extend(&amplitudes);
    let (value, g) = wave::grad(&make(&point), t);
    assert_eq!(value, wave(&make(&point), t));
    let mut generated = vec![g.w.phase];
    generated.extend(&g.w.amplitudes);
    assert_gradient(|v| wave(&make(v), t), &point, &generated);
}

/// Forward mode over a struct: the tangent along a direction of the model's
/// shape and of `x` is the gradient dotted with it.
#[test]
fn tangent_over_a_struct_is_the_gradient_along_the_direction() {
    let m = model_from(&[0.5, -0.3, 0.2, 0.1, 0.3, 0.7, -0.2, 1.5]);
    let x = [1.0, 2.0, -0.5];
    let mut direction = m.zero_grad();
    direction.head.w = vec![0.3, -1.0, 0.25];
    direction.head.b = 0.5;
    direction.rot = [0.1, 0.2, -0.7];
    direction.scale = -0.4;
    let dot_x = [0.2, 0.0, -1.5];
    let (value, tangent) = model_loss::tangent(&m, &x, &direction, &dot_x);
    let (v, g) = model_loss::grad(&m, &x);
    assert_eq!(value, v);
    let along_x: f64 = g.x.iter().zip(&dot_x).map(|(a, b)| a * b).sum();
    let expected = g.m.dot(&direction) + along_x;
    assert!(
        (tangent - expected).abs() <= 1e-12 * expected.abs().max(1.0),
        "{tangent} vs {expected}"
    );
    // Generic, by value.
    let p = Params { k: 0.7, c: -0.2 };
    let (_, t) = spring::tangent(p, 1.3, &Params { k: 1.0, c: 0.0 }.zero_grad(), 0.0);
    assert_eq!(t, 0.0);
    let mut unit_k = p.zero_grad();
    unit_k.k = 1.0;
    let (_, dk) = spring::tangent(p, 1.3, &unit_k, 0.0);
    assert_eq!(dk, spring::grad(p, 1.3).1.p.k);
}

/// A struct made only of other structs takes its float from them; an integer
/// field read in a range and in index arithmetic is data.
#[derive(Differentiable, Clone)]
pub struct Net {
    hidden: Dense,
    out: Layer,
}

#[derive(Differentiable, Clone)]
pub struct Dense {
    w: Vec<f64>,
    b: Vec<f64>,
    inputs: usize,
}

#[differentiate(wrt(net))]
#[allow(clippy::needless_range_loop)]
fn net_loss(net: &Net, x: &[f64], y: f64) -> f64 {
    let width = net.hidden.b.len();
    let mut h = vec![0.0; width];
    for j in 0..width {
        let mut s = net.hidden.b[j];
        for i in 0..net.hidden.inputs {
            s += net.hidden.w[j * net.hidden.inputs + i] * x[i];
        }
        h[j] = s.tanh();
    }
    let mut z = net.out.b;
    for j in 0..width {
        z += net.out.w[j] * h[j];
    }
    if z > y {
        (z - y) * (z - y)
    } else {
        0.5 * (y - z).abs()
    }
}

/// A camera as a struct of arrays and a float, the point and observation as
/// arrays by value: a bundle-adjustment residual.
#[derive(Differentiable, Clone, Copy)]
pub struct Camera {
    rot: [f64; 3],
    center: [f64; 3],
    focal: f64,
}

#[differentiate]
fn reprojection(cam: &Camera, point: [f64; 3], observed: [f64; 2]) -> f64 {
    let p = [
        point[0] - cam.center[0],
        point[1] - cam.center[1],
        point[2] - cam.center[2],
    ];
    let c = (cam.rot[0] * cam.rot[0] + cam.rot[1] * cam.rot[1] + cam.rot[2] * cam.rot[2])
        .sqrt()
        .cos();
    let q = [
        c * p[0] + cam.rot[1] * p[2] - cam.rot[2] * p[1],
        c * p[1] + cam.rot[2] * p[0] - cam.rot[0] * p[2],
        c * p[2] + cam.rot[0] * p[1] - cam.rot[1] * p[0],
    ];
    let u = cam.focal * q[0] / q[2] - observed[0];
    let v = cam.focal * q[1] / q[2] - observed[1];
    u * u + v * v
}

#[test]
fn nested_structs_only_and_a_camera() {
    let make_net = |v: &[f64]| Net {
        hidden: Dense {
            w: v[0..6].to_vec(),
            b: v[6..9].to_vec(),
            inputs: 2,
        },
        out: Layer {
            w: v[9..12].to_vec(),
            b: v[12],
        },
    };
    let mut rng = Rng::new(11);
    let x = [1.0, -1.0];
    // Both arms of the branch on `z > y`.
    for y in [-3.0, 3.0] {
        let v: Vec<f64> = (0..13).map(|_| rng.uniform(-0.8, 0.8)).collect();
        let (value, g) = net_loss::grad(&make_net(&v), &x, y);
        assert_eq!(value, net_loss(&make_net(&v), &x, y));
        let mut generated = g.net.hidden.w.clone();
        generated.extend(&g.net.hidden.b);
        generated.extend(&g.net.out.w);
        generated.push(g.net.out.b);
        assert_gradient(|v| net_loss(&make_net(v), &x, y), &v, &generated);
    }
    let make_cam = |v: &[f64]| Camera {
        rot: [v[0], v[1], v[2]],
        center: [v[3], v[4], v[5]],
        focal: v[6],
    };
    let v = [0.1, 0.2, 0.3, 0.0, 0.1, -5.0, 2.0];
    let (point, observed) = ([0.3, 0.2, 1.0], [0.1, 0.05]);
    let (_, g) = reprojection::grad(&make_cam(&v), point, observed);
    let mut generated = g.cam.rot.to_vec();
    generated.extend(g.cam.center);
    generated.push(g.cam.focal);
    assert_gradient(
        |v| reprojection(&make_cam(v), point, observed),
        &v,
        &generated,
    );
    assert_gradient(
        |p| reprojection(&make_cam(&v), [p[0], p[1], p[2]], observed),
        &point,
        &g.point,
    );
}

/// A model passed whole to differentiated functions of it: the callees'
/// pullbacks hand back its gradient struct, added to what the caller reads
/// itself; in a loop, a branch, through two levels of calls, by value and by
/// reference, generic.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn predict(layer: &Layer, x: &[f64]) -> f64 {
    let mut s = layer.b;
    for i in 0..x.len() {
        s += layer.w[i] * x[i];
    }
    s.tanh()
}

#[differentiate]
fn residual(layer: &Layer, x: &[f64], y: f64) -> f64 {
    let e = predict(layer, x) - y;
    e * e
}

#[differentiate(wrt(layer))]
fn batch_loss(layer: Layer, xs: &[f64], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for k in 0..ys.len() {
        let x = &xs[2 * k..2 * k + 2];
        total += if ys[k] > 0.0 {
            residual(&layer, x, ys[k])
        } else {
            0.5 * predict(&layer, x).abs()
        };
    }
    total + 0.1 * layer.b * layer.b + layer.w[0] * layer.w[1]
}

#[test]
fn structs_passed_whole_to_differentiated_functions() {
    let xs = [1.0, 2.0, -1.0, 0.5, 0.3, 0.3, -0.4, 0.9];
    let ys = [0.2, -0.1, 0.4, -0.3];
    let layer = |v: &[f64]| Layer {
        w: v[0..2].to_vec(),
        b: v[2],
    };
    let mut rng = Rng::new(23);
    for _ in 0..3 {
        let v: Vec<f64> = (0..3).map(|_| rng.uniform(-0.8, 0.8)).collect();
        let (value, g) = batch_loss::grad(layer(&v), &xs, &ys);
        assert_eq!(value, batch_loss(layer(&v), &xs, &ys));
        let mut generated = g.layer.w.clone();
        generated.push(g.layer.b);
        assert_gradient(|v| batch_loss(layer(v), &xs, &ys), &v, &generated);
        // Accumulated twice by `grad_into`, and through the split API.
        let mut tape = batch_loss::Tape::default();
        let mut twice = batch_loss::Grad::default();
        batch_loss::grad_into(layer(&v), &xs, &ys, &mut tape, &mut twice);
        batch_loss::grad_into(layer(&v), &xs, &ys, &mut tape, &mut twice);
        // (Summed in another order than twice one gradient: to rounding.)
        let mut expected = g.layer.clone();
        expected.scale(2.0);
        let close = |a: &GradOf<Layer>| {
            let mut difference = a.clone();
            difference.add_scaled(-1.0, &expected);
            assert!(
                difference.norm() <= 1e-12 * expected.norm(),
                "{a:?} vs {expected:?}"
            );
        };
        close(&twice.layer);
        let (_, tape) = batch_loss::forward(layer(&v), &xs, &ys);
        close(&batch_loss::backward(&tape, 2.0).layer);
        // The picture's parameters are the fields read here.
        let graph = batch_loss::graph(layer(&v), &xs, &ys);
        assert!(graph.node("layer_b").is_some());
    }
}

#[differentiate]
fn spring_inner<T: Float>(p: &Params<T>, x: T) -> T {
    p.k * x * x + p.c
}

#[differentiate]
fn spring_outer<T: Float>(p: Params<T>, x: T) -> T {
    spring_inner(&p, x) * spring_inner(&p, x * x) + p.c * x
}

#[test]
fn generic_structs_passed_whole() {
    let (k, c, x) = (0.7, -0.3, 1.4);
    let (value, g) = spring_outer::grad(Params { k, c }, x);
    assert_eq!(value, spring_outer(Params { k, c }, x));
    assert_gradient(
        |v| spring_outer(Params { k: v[0], c: v[1] }, v[2]),
        &[k, c, x],
        &[g.p.k, g.p.c, g.x],
    );
    let (_, g32) = spring_outer::grad(
        Params {
            k: 0.7_f32,
            c: -0.3,
        },
        1.4,
    );
    assert!((f64::from(g32.p.k) - g.p.k).abs() < 1e-4 * g.p.k.abs().max(1.0));
}

/// How a field is used decides what it is: a count in index arithmetic, a
/// length's divisor, a loop bound through a name, is data; a float also cast
/// to an integer is still differentiated (its other uses need its gradient);
/// a vector iterated in a `for`, zipped, split in chunks, measured.
#[derive(Differentiable, Clone)]
pub struct Grid {
    w: Vec<f64>,
    rows: usize,
    scale: f64,
}

#[differentiate(wrt(g))]
fn grid_loss(g: &Grid, x: &[f64]) -> f64 {
    let cols = g.w.len() / g.rows;
    let mut total = 0.0;
    for (w, xi) in g.w.iter().zip(x) {
        total += w * xi;
    }
    for (r, row) in g.w.chunks(cols).enumerate() {
        total += row[0] * (r as f64 + 1.0);
    }
    let bins = (g.scale * 10.0) as usize;
    let k = g.scale;
    let n: usize = g.rows;
    total * k + (bins % 3) as f64 + g.w[n * cols - 1] * g.scale
}

#[test]
fn counts_casts_aliases_and_slice_methods_of_fields() {
    let x = [1.0, 2.0, 3.0, 4.0];
    let make = |v: &[f64]| Grid {
        w: v[0..4].to_vec(),
        rows: 2,
        scale: v[4],
    };
    let v = [0.1, 0.2, -0.3, 0.4, 0.52];
    let (value, g) = grid_loss::grad(&make(&v), &x);
    assert_eq!(value, grid_loss(&make(&v), &x));
    let mut generated = g.g.w.clone();
    generated.push(g.g.scale);
    assert!(
        g.g.scale != 0.0,
        "a float field also cast keeps its gradient"
    );
    assert_gradient(|v| grid_loss(&make(v), &x), &v, &generated);
}

/// Forward mode through calls a struct is passed to whole: each call's
/// tangent adds the callee's gradient of the struct dotted with its direction.
#[test]
fn tangent_through_structs_passed_whole() {
    let xs = [1.0, 2.0, -1.0, 0.5, 0.3, 0.3, -0.4, 0.9];
    let ys = [0.2, -0.1, 0.4, -0.3];
    let layer = Layer {
        w: vec![0.4, -0.6],
        b: 0.15,
    };
    let direction = Layer {
        w: vec![0.0; 2],
        b: 0.0,
    };
    let mut along = direction.zero_grad();
    along.w = vec![0.7, -0.2];
    along.b = 1.3;
    let (value, tangent) = batch_loss::tangent(layer.clone(), &xs, &ys, &along);
    let (v, g) = batch_loss::grad(layer.clone(), &xs, &ys);
    assert_eq!(value, v);
    let expected = g.layer.dot(&along);
    assert!(
        (tangent - expected).abs() <= 1e-12 * expected.abs().max(1.0),
        "{tangent} vs {expected}"
    );
    let p = Params { k: 0.7, c: -0.3 };
    let mut unit = p.zero_grad();
    unit.c = 1.0;
    let (_, dc) = spring_outer::tangent(p, 1.4, &unit, 0.0);
    let (_, g) = spring_outer::grad(p, 1.4);
    assert!((dc - g.p.c).abs() <= 1e-12 * g.p.c.abs().max(1.0));
    let (_, dx) = spring_outer::tangent(p, 1.4, &p.zero_grad(), 1.0);
    assert!((dx - g.x).abs() <= 1e-12 * g.x.abs().max(1.0));
}

#[differentiate]
fn times_referenced(v: &f64, x: f64) -> f64 {
    *v * x * x
}

/// A float field lent by reference (`&layer.b` to an `&f64` parameter; read
/// as a float elsewhere, which says what it is), an array field by
/// reference: found by the fuzzer, the float field was passed as a value.
#[differentiate]
fn field_lent(layer: &Layer, x: f64) -> f64 {
    times_referenced(&layer.b, x) + 0.5 * layer.b + dot(&layer.w, &layer.w)
}

#[test]
fn a_float_field_lent_by_reference() {
    let layer = Layer {
        w: vec![0.5, -1.5],
        b: 0.7,
    };
    let (value, g) = field_lent::grad(&layer, 1.3);
    assert_eq!(value, field_lent(&layer, 1.3));
    let as_vec = |v: &[f64]| Layer {
        w: v[..2].to_vec(),
        b: v[2],
    };
    let mut analytic = g.layer.w.clone();
    analytic.push(g.layer.b);
    assert_gradient(
        |v| field_lent(&as_vec(v), 1.3),
        &[0.5, -1.5, 0.7],
        &analytic,
    );
}

/// A flag and a kind beside a float: read as conditions (`if s.on`, `&&`,
/// `!`, `match`), they are data. (A flag was taken for a float: found
/// writing a layer with an `activated` switch.)
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Switch {
    gain: f64,
    on: bool,
    off: bool,
    kind: u8,
}

#[differentiate]
fn switched(s: &Switch, x: f64) -> f64 {
    let mut y = s.gain * x;
    if s.on && !s.off {
        y = y.tanh();
    }
    match s.kind {
        0 => y * 2.0,
        _ => y,
    }
}

#[test]
fn flags_read_as_conditions_are_data() {
    for (on, kind) in [(true, 0), (false, 1), (true, 3)] {
        let s = Switch {
            gain: 0.8,
            on,
            off: false,
            kind,
        };
        let (value, g) = switched::grad(&s, 1.3);
        assert_eq!(value, switched(&s, 1.3));
        let with = |gain: f64| Switch { gain, ..s.clone() };
        assert_gradient(|v| switched(&with(v[0]), 1.3), &[0.8], &[g.s.gain]);
    }
}

/// Copies of array fields the body changes: `let mut a = p.rot;`, a typed
/// one, `p.head.w.clone()`; and `let mut q = *r;` of an array behind a
/// reference. Each was refused or did not compile (the field was taken for
/// a float, or the copy for the field itself).
#[differentiate]
fn changed_copies(m: &Model, r: &[f64; 3], x: f64) -> f64 {
    let mut rot = m.rot;
    let mut typed: [f64; 3] = m.rot;
    let mut w = m.head.w.clone();
    let mut q = *r;
    for k in 0..3 {
        rot[k] *= x;
        typed[k] += w[k];
        w[k] = w[k] * q[k] + m.scale;
        q[k] -= rot[k];
    }
    rot[0] * typed[1] + w[2] * q[0] + q[2]
}

#[test]
fn copies_of_array_fields_changed_in_the_body() {
    let mut rng = Rng::new(67);
    for _ in 0..3 {
        let v: Vec<f64> = (0..8).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let r = [
            rng.uniform(-1.0, 1.0),
            rng.uniform(-1.0, 1.0),
            rng.uniform(-1.0, 1.0),
        ];
        let x = rng.uniform(-1.0, 1.0);
        let (value, g) = changed_copies::grad(&model_from(&v), &r, x);
        assert_eq!(value, changed_copies(&model_from(&v), &r, x));
        let mut point = v.clone();
        point.extend_from_slice(&r);
        point.push(x);
        let mut analytic = model_grad_as_vec(&g.m);
        analytic.extend_from_slice(&g.r);
        analytic.push(g.x);
        assert_gradient(
            |p| changed_copies(&model_from(&p[..8]), &[p[8], p[9], p[10]], p[11]),
            &point,
            &analytic,
        );
    }
}

/// `model_loss` without its data field (the struct itself is then not a
/// parameter of the function read field by field, which second order
/// covers): `hvp` over the struct, at `f64` through the twin.
#[differentiate(second_order)]
fn model_loss_2nd(m: &Model, x: &[f64]) -> f64 {
    let mut s = m.head.b;
    for (i, xi) in x.iter().enumerate() {
        s += m.head.w[i] * xi;
    }
    let r = m.rot[0] * m.rot[1] - m.rot[2].sin();
    (s * m.scale + r).powi(2) + (m.scale * m.head.w[0]).tanh()
}

#[differentiate]
fn spring_2nd<T: Float>(p: &Params<T>, x: T) -> T {
    (p.k * x).sin() * p.c + p.k * p.k * p.c
}

#[test]
fn hvp_over_model_structs() {
    let x = [1.0, 2.0, -0.5];
    let mut rng = Rng::new(71);
    for _ in 0..3 {
        let v: Vec<f64> = (0..8).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let d: Vec<f64> = (0..8).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let dx: Vec<f64> = (0..3).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let m = model_from(&v);
        let mut direction = m.zero_grad();
        direction.head.w.copy_from_slice(&d[0..3]);
        direction.head.b = d[3];
        direction.rot.copy_from_slice(&d[4..7]);
        direction.scale = d[7];
        let (value, g, hv) = model_loss_2nd::hvp(&m, &x, &direction, &dx);
        let (plain_value, plain) = model_loss_2nd::grad(&m, &x);
        assert_eq!(value, plain_value);
        assert_eq!(model_grad_as_vec(&g.m), model_grad_as_vec(&plain.m));
        // The Hessian along (d, dx): the central difference of the gradient.
        let h = 1e-6;
        let at = |t: f64| {
            let moved: Vec<f64> = v.iter().zip(&d).map(|(a, b)| a + t * b).collect();
            let xs: Vec<f64> = x.iter().zip(&dx).map(|(a, b)| a + t * b).collect();
            let (_, g) = model_loss_2nd::grad(&model_from(&moved), &xs);
            let mut all = model_grad_as_vec(&g.m);
            all.extend_from_slice(&g.x);
            all
        };
        let (plus, minus) = (at(h), at(-h));
        let mut generated = model_grad_as_vec(&hv.m);
        generated.extend_from_slice(&hv.x);
        for (k, got) in generated.iter().enumerate() {
            let numeric = (plus[k] - minus[k]) / (2.0 * h);
            assert!(
                (got - numeric).abs() <= 1e-5 * numeric.abs().max(1.0),
                "coordinate {k}: {got} against {numeric}"
            );
        }
    }
    // A generic struct, through `Dual`: d2/dk2 and d2/dk dc by hand.
    let (p, x) = (Params { k: 0.7, c: 1.3 }, 0.4);
    let (_, _, hv) = spring_2nd::hvp(&p, x, &ParamsGrad { k: 1.0, c: 0.0 }, 0.0);
    let hkk = -x * x * (p.k * x).sin() * p.c + 2.0 * p.c;
    let hkc = x * (p.k * x).cos() + 2.0 * p.k;
    assert!((hv.p.k - hkk).abs() < 1e-12 && (hv.p.c - hkc).abs() < 1e-12);
}

/// A struct taken apart by patterns: nested, with `..`, a renamed field,
/// a float read through `*`, and a generic struct copied out of its
/// reference.
#[differentiate]
fn taken_apart(m: &Model, x: &[f64]) -> f64 {
    let Model {
        head: Layer { w, b: bias },
        rot,
        scale,
        ..
    } = m;
    let mut s = *bias;
    for i in 0..w.len() {
        s += w[i] * x[i] * rot[i];
    }
    s * *scale
}

#[differentiate]
fn params_apart<T: Float>(p: &Params<T>, x: T) -> T {
    let Params { k, c } = *p;
    k * x * x + c.sin()
}

#[test]
fn structs_taken_apart_by_patterns() {
    let mut rng = Rng::new(17);
    for _ in 0..3 {
        let v: Vec<f64> = (0..8).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let x = [0.5, -1.5, 2.0];
        let (value, g) = taken_apart::grad(&model_from(&v), &x);
        assert_eq!(value, taken_apart(&model_from(&v), &x));
        assert_gradient(
            |v| taken_apart(&model_from(v), &x),
            &v,
            &model_grad_as_vec(&g.m),
        );
        let p = Params {
            k: rng.uniform(-1.0, 1.0),
            c: rng.uniform(-1.0, 1.0),
        };
        let t = rng.uniform(-1.0, 1.0);
        let (_, g) = params_apart::grad(&p, t);
        assert_gradient(
            |v| params_apart(&Params { k: v[0], c: v[1] }, t),
            &[p.k, p.c],
            &[g.p.k, g.p.c],
        );
    }
}

/// Two fields of the same nested struct and no float of its own: the derive
/// once asked the compiler to prove the nested float equal to itself
/// (E0275, overflow); a two-layer network is written this way.
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct TwoLayers {
    first: Layer,
    second: Layer,
}

#[differentiate]
fn nested_twice(net: &TwoLayers, x: f64) -> f64 {
    let mut h = net.first.b;
    for w in &net.first.w {
        h += w * x;
    }
    let h = h.tanh();
    let mut out = net.second.b;
    for w in &net.second.w {
        out += w * h;
    }
    out * out
}

#[test]
fn two_fields_of_one_nested_struct() {
    let mut rng = Rng::new(12);
    let from = |v: &[f64]| TwoLayers {
        first: Layer {
            w: v[0..2].to_vec(),
            b: v[2],
        },
        second: Layer {
            w: v[3..5].to_vec(),
            b: v[5],
        },
    };
    for _ in 0..3 {
        let point: Vec<f64> = (0..7).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let f = |v: &[f64]| nested_twice(&from(v), v[6]);
        let (value, g) = nested_twice::grad(&from(&point), point[6]);
        assert_eq!(value, f(&point));
        let mut analytic = g.net.first.w.clone();
        analytic.push(g.net.first.b);
        analytic.extend(&g.net.second.w);
        analytic.extend([g.net.second.b, g.x]);
        assert_gradient(f, &point, &analytic);
    }
}
