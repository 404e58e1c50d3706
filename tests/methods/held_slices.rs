//! Slices of structs held by a struct (in `methods.rs`'s test binary): a
//! model `Mlp { layers: Vec<Dense>, scale }` whose loss reads
//! `model.layers` element by element, each gradient against central
//! differences of the plain function, with the model's floats moved in and
//! out of one vector; and the derive's operations on `Vec<Dense>` fields.

// Indexing is one of the ways of naming an element tested here.
#![allow(clippy::needless_range_loop)]

use crate::common::{assert_gradient, Rng};
use backprop_runtime::{differentiate, Differentiable, Float, Gradient};

#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Dense {
    w: Vec<f64>,
    b: Vec<f64>,
    inputs: usize,
}

#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Mlp {
    layers: Vec<Dense>,
    scale: f64,
}

/// Layers of 3 -> 2 -> 1 and the scale, from one vector of their floats.
fn mlp_from(v: &[f64]) -> Mlp {
    Mlp {
        layers: vec![
            Dense {
                w: v[0..6].to_vec(),
                b: v[6..8].to_vec(),
                inputs: 3,
            },
            Dense {
                w: v[8..10].to_vec(),
                b: v[10..11].to_vec(),
                inputs: 2,
            },
        ],
        scale: v[11],
    }
}

fn mlp_grad_as_vec(g: &MlpGrad) -> Vec<f64> {
    let mut v = Vec::new();
    for layer in &g.layers {
        v.extend_from_slice(&layer.w);
        v.extend_from_slice(&layer.b);
    }
    v.push(g.scale);
    v
}

/// The layers in a loop over the field, a count field, the buffer between
/// layers, and the model's own float.
#[differentiate]
fn loss(model: &Mlp, x: &[f64], y: f64) -> f64 {
    let mut h = x.to_vec();
    for layer in &model.layers {
        let mut next = vec![0.0; h.len()];
        for o in 0..layer.b.len() {
            let mut s = layer.b[o];
            for i in 0..layer.inputs {
                s += layer.w[o * layer.inputs + i] * h[i];
            }
            next[o] = s.tanh();
        }
        h.copy_from_slice(&next);
    }
    let d = model.scale * h[0] - y;
    d * d
}

/// The other ways of naming an element of a held slice: by index, by a
/// name bound to one, in a reduction, and its length.
#[differentiate]
fn indexed(model: &Mlp, x: f64) -> f64 {
    let mut s = 0.0;
    for l in 0..model.layers.len() {
        s += model.layers[l].w[1] * model.layers[l].b[0] * x;
    }
    let last = &model.layers[model.layers.len() - 1];
    s += last.w[0].sin() * model.scale;
    s + model
        .layers
        .iter()
        .map(|layer| layer.b.iter().sum::<f64>())
        .sum::<f64>()
}

#[test]
fn a_model_holding_its_layers() {
    let mut rng = Rng::new(21);
    let x = [0.5, -1.0, 2.0];
    for _ in 0..4 {
        let v: Vec<f64> = (0..12).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let y = rng.uniform(-1.0, 1.0);
        let (value, g) = loss::grad(&mlp_from(&v), &x, y);
        assert_eq!(value, loss(&mlp_from(&v), &x, y));
        assert_eq!(g.model.layers.len(), 2);
        assert_gradient(
            |v| loss(&mlp_from(v), &x, y),
            &v,
            &mlp_grad_as_vec(&g.model),
        );
        assert_gradient(|x| loss(&mlp_from(&v), x, y), &x, &g.x);
        let t = rng.uniform(-1.0, 1.0);
        let (value, g) = indexed::grad(&mlp_from(&v), t);
        assert_eq!(value, indexed(&mlp_from(&v), t));
        assert_gradient(|v| indexed(&mlp_from(v), t), &v, &mlp_grad_as_vec(&g.model));
        assert_gradient(|t| indexed(&mlp_from(&v), t[0]), &[t], &[g.x]);
    }
}

#[test]
fn training_a_model_with_its_gradient_struct() {
    let v: Vec<f64> = (0..12).map(|k| 0.1 * k as f64 - 0.5).collect();
    let mut model = mlp_from(&v);
    let (x, y) = ([0.5, -1.0, 2.0], 0.25);
    let start = loss(&model, &x, y);
    // The derive's operations on a `Vec` of structs: zero, sum, scale, dot.
    let mut total = model.zero_grad();
    assert_eq!(total.layers.len(), 2);
    assert_eq!(total.layers[0].w, vec![0.0; 6]);
    let (_, g) = loss::grad(&model, &x, y);
    total.add(&g.model);
    total.add(&g.model);
    let mut doubled = g.model.clone();
    doubled.scale(2.0);
    assert_eq!(total, doubled);
    assert!((total.dot(&g.model) - 2.0 * g.model.norm().powi(2)).abs() < 1e-12);
    total.clear();
    assert_eq!(total.norm(), 0.0);
    for _ in 0..20 {
        let (_, g) = loss::grad(&model, &x, y);
        model.step(&g.model, 0.1);
    }
    assert!(loss(&model, &x, y) < 0.1 * start);
}

/// A generic chain of cells: forward mode and second order over it.
#[derive(Differentiable, Clone, Debug)]
pub struct Cell<T> {
    k: T,
    v: [T; 2],
}
#[derive(Differentiable, Clone, Debug)]
pub struct Chain<T> {
    cells: Vec<Cell<T>>,
    decay: T,
}
#[differentiate]
fn energy<T: Float>(c: &Chain<T>, x: &[T]) -> T {
    let mut e = T::zero();
    for l in 0..c.cells.len() {
        e = e + c.cells[l].k * x[l] * x[l] + c.cells[l].v[0] * c.cells[l].v[1];
    }
    e * c.decay
        + c.cells
            .iter()
            .fold(T::zero(), |acc, cell| acc + cell.v[1] * cell.k.sin())
}

#[test]
fn tangent_and_hvp_over_a_held_slice() {
    let cell = |k: f64, a: f64, b: f64| Cell { k, v: [a, b] };
    let c = Chain {
        cells: vec![
            cell(0.5, 1.0, 2.0),
            cell(-0.3, 0.2, -0.7),
            cell(1.1, 0.0, 0.4),
        ],
        decay: 0.9,
    };
    let x = [0.3, -0.2, 0.8];
    let (_, g) = energy::grad(&c, &x);
    let mut dir = c.zero_grad();
    dir.cells[2].v[1] = 1.0;
    dir.cells[0].k = -0.5;
    dir.decay = 0.25;
    let (_, tangent) = energy::tangent(&c, &x, &dir, &[0.0; 3]);
    assert!((tangent - g.c.dot(&dir)).abs() < 1e-12);
    // The Hessian along `dir`, against differences of the gradient.
    let (_, _, hv) = energy::hvp(&c, &x, &dir, &[0.0; 3]);
    let h = 1e-6;
    let moved = |t: f64| {
        let mut m = c.clone();
        m.add_scaled(t, &dir);
        energy::grad(&m, &x).1.c
    };
    let (plus, minus) = (moved(h), moved(-h));
    for l in 0..3 {
        let numeric = (plus.cells[l].k - minus.cells[l].k) / (2.0 * h);
        assert!((numeric - hv.c.cells[l].k).abs() < 1e-6, "{l}");
        let numeric = (plus.cells[l].v[1] - minus.cells[l].v[1]) / (2.0 * h);
        assert!((numeric - hv.c.cells[l].v[1]).abs() < 1e-6, "{l}");
    }
}

/// An element named `model` (a word of the runtime's paths the generated
/// code calls) in a function asking for second order, whose twin reads the
/// layers' gathered fields.
#[differentiate(second_order)]
fn picked(net: &Mlp, t: f64) -> f64 {
    let model = &net.layers[1];
    model.w[0] * t * t + model.b[0] * model.w[1] * net.scale
}

#[test]
fn second_order_over_an_element_named_model() {
    let v: Vec<f64> = (0..12).map(|k| 0.2 * k as f64 - 1.1).collect();
    let net = mlp_from(&v);
    let t = 0.7;
    let (value, g) = picked::grad(&net, t);
    assert_eq!(value, picked(&net, t));
    assert_gradient(|v| picked(&mlp_from(v), t), &v, &mlp_grad_as_vec(&g.net));
    let mut dir = net.zero_grad();
    dir.layers[1].b[0] = 1.0;
    dir.scale = -0.5;
    let (_, _, hv) = picked::hvp(&net, t, &dir, 0.25);
    // d/dw1 of the gradient along the direction: b0 * scale moves by
    // 1 * scale + b0 * (-0.5); d/dt of dw0 = t * t moves by 2 * t * 0.25.
    let expected_w1 = net.scale - 0.5 * net.layers[1].b[0];
    assert!((hv.net.layers[1].w[1] - expected_w1).abs() < 1e-12);
    assert!((hv.net.layers[1].w[0] - 2.0 * t * 0.25).abs() < 1e-12);
}

/// Elements taken apart in the loop's pattern and by a `let`.
#[differentiate]
fn layers_apart(model: &Mlp, x: f64) -> f64 {
    let mut s = 0.0;
    for Dense { w, b, .. } in &model.layers {
        s += w[0] * x + b[0];
    }
    for layer in &model.layers {
        let Dense { w, .. } = layer;
        s += w.iter().map(|v| v * v).sum::<f64>();
    }
    s * model.scale
}

#[test]
fn elements_taken_apart_by_patterns() {
    let v: Vec<f64> = (0..12).map(|k| 0.15 * k as f64 - 0.8).collect();
    let (value, g) = layers_apart::grad(&mlp_from(&v), 0.3);
    assert_eq!(value, layers_apart(&mlp_from(&v), 0.3));
    assert_gradient(
        |v| layers_apart(&mlp_from(v), 0.3),
        &v,
        &mlp_grad_as_vec(&g.model),
    );
}

/// Rows held by a struct: points and a ragged matrix.
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Mesh {
    vertices: Vec<[f64; 2]>,
    weights: Vec<Vec<f64>>,
    stiffness: f64,
}

fn mesh_from(v: &[f64]) -> Mesh {
    Mesh {
        vertices: v[0..6].chunks(2).map(|c| [c[0], c[1]]).collect(),
        weights: vec![v[6..8].to_vec(), v[8..9].to_vec()],
        stiffness: v[9],
    }
}

fn mesh_grad_as_vec(g: &MeshGrad) -> Vec<f64> {
    let mut v: Vec<f64> = g.vertices.iter().flatten().copied().collect();
    v.extend(g.weights.iter().flatten());
    v.push(g.stiffness);
    v
}

/// Rows by index, by an array pattern, and a row in a loop.
#[differentiate]
fn mesh_energy(mesh: &Mesh, x: &[f64]) -> f64 {
    let mut e = 0.0;
    for i in 0..mesh.vertices.len() {
        let j = (i + 1) % mesh.vertices.len();
        let dx = mesh.vertices[i][0] - mesh.vertices[j][0];
        let dy = mesh.vertices[i][1] - mesh.vertices[j][1];
        e += mesh.stiffness * (dx * dx + dy * dy);
    }
    for [a, b] in &mesh.vertices {
        e += a * b.sin();
    }
    for row in &mesh.weights {
        let mut s = 0.0;
        for k in 0..row.len() {
            s += row[k] * x[k];
        }
        e += s.tanh();
    }
    e
}

#[test]
fn rows_held_by_a_struct() {
    let mut rng = Rng::new(33);
    let x = [0.5, -1.0];
    for _ in 0..3 {
        let v: Vec<f64> = (0..10).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let (value, g) = mesh_energy::grad(&mesh_from(&v), &x);
        assert_eq!(value, mesh_energy(&mesh_from(&v), &x));
        assert_gradient(
            |v| mesh_energy(&mesh_from(v), &x),
            &v,
            &mesh_grad_as_vec(&g.mesh),
        );
    }
    // The derive's operations on rows: zero of the same shape, sums, dot,
    // clear, and a step.
    let mesh = mesh_from(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]);
    let (value, g) = mesh_energy::grad(&mesh, &x);
    let mut total = mesh.zero_grad();
    assert_eq!(total.weights[0], vec![0.0; 2]);
    total.add(&g.mesh);
    total.add_scaled(1.0, &g.mesh);
    assert!((total.dot(&g.mesh) - 2.0 * g.mesh.norm().powi(2)).abs() < 1e-12);
    total.clear();
    assert_eq!(total.norm(), 0.0);
    let mut stepped = mesh.clone();
    stepped.step(&g.mesh, 1e-3);
    assert!(mesh_energy(&stepped, &x) < value);
}

/// An element named `model` read inside a macro's arguments (`vec![..]`),
/// where the generated code's `::backprop_runtime::model::` paths are too.
#[differentiate]
#[allow(clippy::useless_vec)]
fn in_a_macro(net: &Mlp, t: f64) -> f64 {
    let model = &net.layers[1];
    let v = vec![t.mul_add(model.w[1], t), model.b[0]];
    v[0] * v[1] + net.scale
}

#[test]
fn an_element_named_model_read_in_a_macro() {
    let v: Vec<f64> = (0..12).map(|k| 0.2 * k as f64 - 1.1).collect();
    let (value, g) = in_a_macro::grad(&mlp_from(&v), 0.7);
    assert_eq!(value, in_a_macro(&mlp_from(&v), 0.7));
    assert_gradient(
        |v| in_a_macro(&mlp_from(v), 0.7),
        &v,
        &mlp_grad_as_vec(&g.net),
    );
}
