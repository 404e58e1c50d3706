//! Slices of structs (in `methods.rs`'s test binary): `layers: &[Layer]`,
//! read element by element in every way the body can name an element, each
//! gradient against central differences of the plain function, with every
//! layer's floats moved in and out of one vector.

// Indexing is one of the ways of naming an element tested here.
#![allow(clippy::needless_range_loop, clippy::manual_memcpy)]

use crate::common::{assert_gradient, Rng};
// The differentiated dot product the struct tests define (function and module).
use crate::structs::dot;
use backprop_runtime::{differentiate, Differentiable, Float, Gradient};

/// A dense layer: weights, biases, a gain, and its input count (data).
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Dense {
    w: Vec<f64>,
    b: Vec<f64>,
    gain: f64,
    inputs: usize,
}

/// Layers of 3 -> 2 -> 1, from one vector of their floats.
fn layers_from(v: &[f64]) -> Vec<Dense> {
    vec![
        Dense {
            w: v[0..6].to_vec(),
            b: v[6..8].to_vec(),
            gain: v[8],
            inputs: 3,
        },
        Dense {
            w: v[9..11].to_vec(),
            b: v[11..12].to_vec(),
            gain: v[12],
            inputs: 2,
        },
    ]
}

fn grads_as_vec(g: &[DenseGrad]) -> Vec<f64> {
    let mut v = Vec::new();
    for layer in g {
        v.extend_from_slice(&layer.w);
        v.extend_from_slice(&layer.b);
        v.push(layer.gain);
    }
    v
}

/// A network over a slice of layers: `for layer in layers`, a view of a
/// row passed to a differentiated callee, a data field, a branch on a
/// float field, and the buffer written in place between layers.
#[differentiate(wrt(layers))]
fn network(layers: &[Dense], x: &[f64]) -> f64 {
    let mut h = x.to_vec();
    let mut width = x.len();
    for layer in layers {
        let outputs = layer.b.len();
        let mut next = vec![0.0; h.len()];
        for o in 0..outputs {
            let row = &layer.w[o * layer.inputs..(o + 1) * layer.inputs];
            let z = dot(row, &h[..layer.inputs]) + layer.b[o];
            next[o] = if layer.gain > 1.0 {
                z.tanh() * layer.gain
            } else {
                z * layer.gain
            };
        }
        for i in 0..h.len() {
            h[i] = next[i];
        }
        width = outputs;
    }
    h[..width].iter().sum()
}

#[test]
fn a_network_over_a_slice_of_layers() {
    let x = [0.5, -1.0, 2.0];
    let mut rng = Rng::new(5);
    // Each layer's gain on both sides of the branch.
    for (g0, g1) in [(1.4, 0.8), (0.6, 1.3), (2.0, 1.1)] {
        let mut v: Vec<f64> = (0..13).map(|_| rng.uniform(-1.0, 1.0)).collect();
        v[8] = g0;
        v[12] = g1;
        let layers = layers_from(&v);
        let (value, g) = network::grad(&layers, &x);
        assert_eq!(value, network(&layers, &x));
        assert_eq!(g.layers.len(), 2);
        assert_gradient(
            |v| network(&layers_from(v), &x),
            &v,
            &grads_as_vec(&g.layers),
        );
    }
}

/// Every other way of naming an element: an index (`layers[l].w[i]`,
/// `layers[l].gain`, `&layers[l].w` passed on, `layers[l].w.len()`), a name
/// bound to it (`let first = &layers[0];`), `.iter().enumerate().rev()`.
#[differentiate]
fn indexed(layers: &[Dense], x: f64) -> f64 {
    let mut s = 0.0;
    for l in 0..layers.len() {
        s += layers[l].gain * x + layers[l].w[1] * layers[l].b[0];
        s += dot(&layers[l].w, &layers[l].w) / layers[l].w.len() as f64;
    }
    for (l, layer) in layers.iter().enumerate().rev() {
        s = s * layer.gain + (l + 1) as f64 * layer.w.iter().sum::<f64>();
    }
    let first = &layers[0];
    s + first.inputs as f64 * first.gain * first.b[1]
}

#[test]
fn elements_by_index_by_name_and_in_reverse() {
    let mut rng = Rng::new(9);
    for _ in 0..3 {
        let v: Vec<f64> = (0..13).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let layers = layers_from(&v);
        let x = rng.uniform(-1.0, 1.0);
        let (value, g) = indexed::grad(&layers, x);
        assert_eq!(value, indexed(&layers, x));
        assert_gradient(
            |v| indexed(&layers_from(v), x),
            &v,
            &grads_as_vec(&g.layers),
        );
        assert_gradient(|x| indexed(&layers, x[0]), &[x], &[g.x]);
    }
}

#[test]
fn minibatches_and_the_split_passes_over_a_slice_of_layers() {
    let v: Vec<f64> = (0..13).map(|k| 0.1 * k as f64 - 0.6).collect();
    let layers = layers_from(&v);
    let (xa, xb) = ([1.0, 2.0, 3.0], [-1.0, 0.5, 0.25]);
    let (_, ga) = network::grad(&layers, &xa);
    let (_, gb) = network::grad(&layers, &xb);
    // `grad_into` adds, reusing its tape and gradient.
    let mut tape = network::Tape::default();
    let mut sum = network::Grad::default();
    network::grad_into(&layers, &xa, &mut tape, &mut sum);
    network::grad_into(&layers, &xb, &mut tape, &mut sum);
    for ((s, a), b) in sum.layers.iter().zip(&ga.layers).zip(&gb.layers) {
        let mut expected = a.clone();
        expected.add(b);
        assert_eq!(*s, expected);
    }
    // The split passes, with a seed of two, into a gradient used before.
    let (value, tape) = network::forward(&layers, &xa);
    assert_eq!(value, network(&layers, &xa));
    assert!(tape.bytes() > 0);
    let twice = network::backward(&tape, 2.0);
    let mut into = network::Grad::default();
    network::backward_into(&tape, 1.0, &mut into);
    network::backward_into(&tape, 1.0, &mut into);
    for ((t, i), a) in twice.layers.iter().zip(&into.layers).zip(&ga.layers) {
        let mut doubled = a.clone();
        doubled.scale(2.0);
        assert_eq!((t, i), (&doubled, &doubled));
    }
    // Cleared, each layer's gradient is zero and keeps its place.
    into.clear();
    assert!(into.layers.iter().all(|g| g.norm() == 0.0));
    // A training step with the gradient of each layer.
    let mut trained = layers.clone();
    for (layer, g) in trained.iter_mut().zip(&ga.layers) {
        layer.step(g, 0.01);
    }
    assert!(network(&trained, &xa) < network(&layers, &xa));
}

/// A generic layer in a `Vec` taken by value, in f32.
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Unit<T> {
    k: T,
    coeffs: [T; 2],
}

#[differentiate]
fn cell_sum<T: Float>(cells: Vec<Unit<T>>, x: T) -> T {
    let mut s = T::zero();
    for cell in cells.iter() {
        s = s + cell.k * (x * cell.coeffs[0]).sin() + cell.coeffs[1];
    }
    s
}

#[test]
fn a_vector_of_generic_cells_by_value_in_f32() {
    let make = |v: &[f32]| -> Vec<Unit<f32>> {
        v.chunks(3)
            .map(|c| Unit {
                k: c[0],
                coeffs: [c[1], c[2]],
            })
            .collect()
    };
    let v = [0.5_f32, 1.2, -0.3, -0.7, 0.4, 0.9];
    let (value, g) = cell_sum::grad(make(&v), 0.8_f32);
    assert_eq!(value, cell_sum(make(&v), 0.8));
    let analytic: Vec<f32> = g
        .cells
        .iter()
        .flat_map(|c| [c.k, c.coeffs[0], c.coeffs[1]])
        .collect();
    for (i, &a) in analytic.iter().enumerate() {
        let h = 1e-3_f32;
        let (mut up, mut down) = (v, v);
        up[i] += h;
        down[i] -= h;
        let numeric = (cell_sum(make(&up), 0.8) - cell_sum(make(&down), 0.8)) / (2.0 * h);
        assert!((numeric - a).abs() < 2e-3, "d/dv{i}: {a} vs {numeric}");
    }
}

#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Inner {
    w: Vec<f64>,
    s: f64,
}

/// Nested structs in an array of structs, beside a struct and a second slice.
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Block {
    inner: Inner,
    rot: [f64; 2],
    k: f64,
}

#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Head {
    b: f64,
}

#[differentiate]
fn blocks_and_heads(blocks: &[Block; 2], head: &Head, others: &[Head], x: f64) -> f64 {
    let mut s = head.b;
    if blocks.is_empty() {
        return s;
    }
    for block in blocks.iter().rev() {
        s = s * block.k + block.inner.s * block.rot[1] + block.inner.w[0] * x;
    }
    for (i, o) in others.iter().enumerate() {
        // Both sides, at the points below.
        if o.b > 0.0 {
            let b = &blocks[i % 2];
            s += o.b * b.rot[0];
        } else {
            s -= o.b * o.b;
        }
    }
    s
}

/// 2 blocks of 6 floats, the head, 3 other heads.
fn unpack(v: &[f64]) -> ([Block; 2], Head, Vec<Head>) {
    let block = |u: &[f64]| Block {
        inner: Inner {
            w: u[0..2].to_vec(),
            s: u[2],
        },
        rot: [u[3], u[4]],
        k: u[5],
    };
    (
        [block(&v[0..6]), block(&v[6..12])],
        Head { b: v[12] },
        v[13..16].iter().map(|&b| Head { b }).collect(),
    )
}

#[test]
fn nested_structs_in_an_array_beside_a_struct_and_another_slice() {
    let mut rng = Rng::new(21);
    for _ in 0..3 {
        let v: Vec<f64> = (0..16).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let (blocks, head, others) = unpack(&v);
        let (value, g) = blocks_and_heads::grad(&blocks, &head, &others, 0.7);
        assert_eq!(value, blocks_and_heads(&blocks, &head, &others, 0.7));
        let mut analytic = Vec::new();
        for b in &g.blocks {
            analytic.extend_from_slice(&b.inner.w);
            analytic.extend([b.inner.s, b.rot[0], b.rot[1], b.k]);
        }
        analytic.push(g.head.b);
        analytic.extend(g.others.iter().map(|h| h.b));
        assert_gradient(
            |v| {
                let (blocks, head, others) = unpack(v);
                blocks_and_heads(&blocks, &head, &others, 0.7)
            },
            &v,
            &analytic,
        );
    }
    // No other heads: their gradient is empty.
    let (blocks, head, _) = unpack(&[0.5; 16]);
    assert!(blocks_and_heads::grad(&blocks, &head, &[], 0.7)
        .1
        .others
        .is_empty());
}

#[test]
fn tangent_over_a_slice_of_layers_is_the_gradient_along_the_direction() {
    let mut rng = Rng::new(33);
    let v: Vec<f64> = (0..13).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let layers = layers_from(&v);
    let x = [0.5, -1.0, 2.0];
    let (_, g) = network::grad(&layers, &x);
    // A direction for every float of every layer, as gradient structs.
    let d: Vec<f64> = (0..13).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let direction: Vec<DenseGrad> = layers_from(&d)
        .iter()
        .map(|l| DenseGrad {
            w: l.w.clone(),
            b: l.b.clone(),
            gain: l.gain,
        })
        .collect();
    let (value, dot) = network::tangent(&layers, &x, &direction);
    assert_eq!(value, network(&layers, &x));
    let expected: f64 = grads_as_vec(&g.layers)
        .iter()
        .zip(&d)
        .map(|(a, b)| a * b)
        .sum();
    assert!((dot - expected).abs() < 1e-12 * expected.abs().max(1.0));
    // A missing direction is zero: only the first layer's.
    let (_, first) = network::tangent(&layers, &x, &direction[..1]);
    let expected_first: f64 = grads_as_vec(&g.layers[..1])
        .iter()
        .zip(&d)
        .map(|(a, b)| a * b)
        .sum();
    assert!((first - expected_first).abs() < 1e-12 * expected_first.abs().max(1.0));
}

/// Data fields gathered for the backward pass: a `u32` count (a range's
/// end), a flag; a part of a field (`&layer.w[a..]`) passed on; an index
/// read from the body.
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Taps {
    w: Vec<f64>,
    used: u32,
    skip: bool,
}

#[differentiate]
fn tapped(taps: &[Taps], x: f64, k: usize) -> f64 {
    let mut s = 0.0;
    for t in taps {
        if t.skip {
            continue;
        }
        for i in 0..t.used {
            s += t.w[i as usize] * x.powi(i as i32);
        }
        s += dot(&t.w[1..], &t.w[1..]) + t.w[k];
    }
    s
}

fn taps_from(v: &[f64]) -> Vec<Taps> {
    vec![
        Taps {
            w: v[0..3].to_vec(),
            used: 2,
            skip: false,
        },
        Taps {
            w: v[3..5].to_vec(),
            used: 2,
            skip: true,
        },
        Taps {
            w: v[5..9].to_vec(),
            used: 3,
            skip: false,
        },
    ]
}

#[test]
fn counts_flags_and_parts_of_fields_of_a_slice_of_structs() {
    let mut rng = Rng::new(8);
    let v: Vec<f64> = (0..9).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let taps = taps_from(&v);
    let (value, g) = tapped::grad(&taps, 0.6, 1);
    assert_eq!(value, tapped(&taps, 0.6, 1));
    let analytic: Vec<f64> = g.taps.iter().flat_map(|t| t.w.clone()).collect();
    assert_gradient(|v| tapped(&taps_from(v), 0.6, 1), &v, &analytic);
}

/// An index past an element's field panics in the gradient as in the
/// function (the field is read from the vector of every element's, where
/// the next element's would be).
#[test]
#[should_panic(expected = "index out of bounds")]
fn an_index_past_an_elements_field_panics() {
    let taps = taps_from(&[0.5; 9]);
    // The first element's field has 3 floats.
    let _ = tapped::grad(&taps, 0.6, 3);
}

#[differentiate]
fn cubed(v: &f64) -> f64 {
    *v * *v * *v
}

/// A float field of an element lent by reference (`cubed(&o.b)`), read in a
/// loop: found by the fuzzer, it was a reference into the vector of every
/// element's.
#[differentiate]
fn heads_cubed(heads: &[Head], x: f64) -> f64 {
    let mut s = 0.0;
    for o in heads {
        for _ in 0..2 {
            s += cubed(&o.b) * x + o.b;
        }
    }
    s
}

#[test]
fn a_float_field_of_an_element_lent_by_reference() {
    let values = [0.5, -1.2, 0.8];
    let heads: Vec<Head> = values.iter().map(|&b| Head { b }).collect();
    let (value, g) = heads_cubed::grad(&heads, 0.7);
    assert_eq!(value, heads_cubed(&heads, 0.7));
    let analytic: Vec<f64> = g.heads.iter().map(|h| h.b).collect();
    assert_gradient(
        |v| heads_cubed(&v.iter().map(|&b| Head { b }).collect::<Vec<_>>(), 0.7),
        &values,
        &analytic,
    );
}

/// Reductions over a slice of structs: `map(..).sum()`, `fold`, with
/// `enumerate`, a filter on a float field, and one over a generic slice;
/// a chain over a slice of enums beside them stays data. They were data
/// without a word when the chain was the slice's only use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Scaled,
    Plain,
}

#[differentiate]
fn reductions(layers: &[Dense], kinds: &[Kind], x: f64) -> f64 {
    let gains: f64 = layers.iter().map(|l| l.gain * l.b[0]).sum();
    let weighted = layers
        .iter()
        .enumerate()
        .fold(0.0, |acc, (i, l)| acc + (i as f64 + 1.0) * l.w[i] * x);
    let positive: f64 = layers.iter().filter(|l| l.gain > 0.0).map(|l| l.gain).sum();
    let scaled = kinds.iter().filter(|k| **k == Kind::Scaled).count() as f64;
    gains * weighted + positive * scaled
}

#[differentiate]
fn generic_gains<T: Float>(cells: &[Unit<T>], x: T) -> T {
    cells
        .iter()
        .fold(T::one(), |acc, c| acc * (c.k * x + c.coeffs[1]))
}

#[test]
fn reductions_over_a_slice_of_structs() {
    let mut rng = Rng::new(53);
    let kinds = [Kind::Scaled, Kind::Plain, Kind::Scaled];
    for _ in 0..3 {
        let mut v: Vec<f64> = (0..13).map(|_| rng.uniform(-1.0, 1.0)).collect();
        v[12] = -v[12].abs(); // the filter drops the second layer
        let x = rng.uniform(-1.0, 1.0);
        let layers = layers_from(&v);
        let (value, g) = reductions::grad(&layers, &kinds, x);
        assert_eq!(value, reductions(&layers, &kinds, x));
        let mut point = v.clone();
        point.push(x);
        let mut analytic = grads_as_vec(&g.layers);
        analytic.push(g.x);
        assert_gradient(
            |p| reductions(&layers_from(&p[..13]), &kinds, p[13]),
            &point,
            &analytic,
        );
    }
    let unit = |k: f64, c: f64| Unit {
        k,
        coeffs: [0.0, c],
    };
    let cells = vec![unit(0.5, -0.3), unit(1.2, 0.4)];
    let (_, g) = generic_gains::grad(&cells, 0.7);
    let f = |p: &[f64]| generic_gains(&[unit(p[0], p[1]), unit(p[2], p[3])], p[4]);
    assert_gradient(
        f,
        &[0.5, -0.3, 1.2, 0.4, 0.7],
        &[
            g.cells[0].k,
            g.cells[0].coeffs[1],
            g.cells[1].k,
            g.cells[1].coeffs[1],
            g.x,
        ],
    );
}

/// Loops over the elements through `zip`, `skip`, `take`, `enumerate` after
/// `skip` and `rev` after `take`: each element's index and its partner's. The
/// first two were data without a word (no gradient for `layers`).
#[differentiate]
fn adapted_loops(layers: &[Dense], w: &[f64]) -> f64 {
    let mut s = 0.0;
    for (layer, &f) in layers.iter().zip(w) {
        s += layer.gain * f * layer.b[0];
    }
    for layer in layers.iter().skip(1) {
        s += layer.gain * layer.gain;
    }
    for (j, layer) in layers.iter().skip(1).enumerate() {
        s += (j as f64 + 2.0) * layer.w[0];
    }
    for ((k, layer), x) in layers.iter().enumerate().zip(w.iter()).take(1).rev() {
        s += layer.b[0] * x * (k as f64 + 0.5);
    }
    s
}

#[test]
fn loops_over_zipped_skipped_and_taken_elements() {
    let mut rng = Rng::new(59);
    for _ in 0..3 {
        let v: Vec<f64> = (0..13).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let w = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0), 5.0];
        let (value, g) = adapted_loops::grad(&layers_from(&v), &w);
        assert_eq!(value, adapted_loops(&layers_from(&v), &w));
        let mut point = v.clone();
        point.extend_from_slice(&w);
        let mut analytic = grads_as_vec(&g.layers);
        analytic.extend_from_slice(&g.w);
        assert_gradient(
            |p| adapted_loops(&layers_from(&p[..13]), &p[13..]),
            &point,
            &analytic,
        );
    }
}

/// An element bound by copying or unwrapping it: `layers[0].clone()`,
/// `*layers.last().unwrap()`'s reference, `layers.get(1).unwrap()`. The
/// first was data without a word; the second did not compile.
#[differentiate]
fn bound_elements(layers: &[Dense], x: f64) -> f64 {
    let first = layers[0].clone();
    let last = layers.last().unwrap();
    let second = layers.get(1).expect("two layers");
    first.gain * x + last.b[0] * second.w[1] + first.w[2]
}

#[test]
fn elements_bound_by_copies_and_unwraps() {
    let mut rng = Rng::new(61);
    let v: Vec<f64> = (0..13).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let (value, g) = bound_elements::grad(&layers_from(&v), 0.3);
    assert_eq!(value, bound_elements(&layers_from(&v), 0.3));
    let mut analytic = grads_as_vec(&g.layers);
    analytic.push(g.x);
    let mut point = v.clone();
    point.push(0.3);
    assert_gradient(
        |p| bound_elements(&layers_from(&p[..13]), p[13]),
        &point,
        &analytic,
    );
}

/// A slice of structs passed whole to a differentiated function, in a loop,
/// beside the caller's own read of an element's field.
#[differentiate]
fn chain_of_units(units: &[Unit<f64>], x: f64) -> f64 {
    let mut h = x;
    for unit in units {
        h = (unit.k * h + unit.coeffs[0]).tanh() + unit.coeffs[1] * h;
    }
    h
}

#[differentiate]
fn fitted(units: &[Unit<f64>], xs: &[f64], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..xs.len() {
        let d = chain_of_units(units, xs[i]) - ys[i];
        total += d * d;
    }
    total + 0.1 * units[0].k * units[0].k
}

#[test]
fn a_slice_of_structs_passed_whole() {
    let unit = |v: &[f64]| Unit {
        k: v[0],
        coeffs: [v[1], v[2]],
    };
    let make = |v: &[f64]| -> Vec<Unit<f64>> { v.chunks(3).map(unit).collect() };
    let as_vec = |g: &[UnitGrad<f64>]| -> Vec<f64> {
        g.iter()
            .flat_map(|u| [u.k, u.coeffs[0], u.coeffs[1]])
            .collect()
    };
    let mut rng = Rng::new(29);
    let (xs, ys) = ([0.3, -0.5, 1.0], [0.1, 0.2, -0.3]);
    for _ in 0..3 {
        let v: Vec<f64> = (0..6).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let (value, g) = fitted::grad(&make(&v), &xs, &ys);
        assert_eq!(value, fitted(&make(&v), &xs, &ys));
        assert_eq!(g.units.len(), 2);
        assert_gradient(|v| fitted(&make(v), &xs, &ys), &v, &as_vec(&g.units));
        // Forward mode: the gradient along a direction of the slice's own.
        let dir: Vec<UnitGrad<f64>> = (0..2)
            .map(|k| UnitGrad {
                k: 0.5 - k as f64,
                coeffs: [0.25, -1.0],
            })
            .collect();
        let (_, tangent) = fitted::tangent(&make(&v), &xs, &ys, &dir, &[0.0; 3], &[0.0; 3]);
        let expected: f64 = as_vec(&g.units)
            .iter()
            .zip(as_vec(&dir))
            .map(|(a, b)| a * b)
            .sum();
        assert!((tangent - expected).abs() < 1e-12, "{tangent} {expected}");
        // A vector of models steps with its gradient.
        let mut stepped = make(&v);
        stepped.step(&g.units, 0.05);
        assert!(fitted(&stepped, &xs, &ys) < value);
    }
}
