//! Fixed-size rows of floats as a struct's field, `w: [[f64; 3]; 2]` (a
//! small weight matrix), in `methods.rs`'s test binary: read by two
//! indices, by rows bound from it, in loops over its rows, generic over the
//! float; its gradient the same array, against central differences; and
//! the derive's operations on it.

#![allow(clippy::needless_range_loop)]

use crate::common::assert_gradient;
use backprop_runtime::{differentiate, Differentiable, Float, Gradient};

#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Layer<T> {
    w: [[T; 3]; 2],
    b: [T; 2],
}

fn layer_from(v: &[f64]) -> Layer<f64> {
    Layer {
        w: [[v[0], v[1], v[2]], [v[3], v[4], v[5]]],
        b: [v[6], v[7]],
    }
}

fn layer_grad_as_vec(g: &LayerGrad<f64>) -> Vec<f64> {
    let mut v: Vec<f64> = g.w.iter().flatten().copied().collect();
    v.extend_from_slice(&g.b);
    v
}

/// Two indices, a row bound by `&`, a loop over the rows with `enumerate`,
/// and the row count.
#[differentiate]
fn layer_loss<T: Float>(layer: &Layer<T>, x: [T; 3]) -> T {
    let mut total = T::zero();
    for i in 0..2 {
        let mut z = layer.b[i];
        for j in 0..3 {
            z = z + layer.w[i][j] * x[j];
        }
        total = total + z.tanh();
    }
    let first = &layer.w[0];
    total = total + first[1] * first[2];
    for (i, row) in layer.w.iter().enumerate() {
        total = total + row[i] * row[i] * T::from(layer.w.len()).unwrap();
    }
    total
}

#[test]
fn a_fixed_size_matrix_field_has_a_gradient_of_its_shape() {
    let point = [0.3, -0.2, 0.5, 0.1, 0.7, -0.4, 0.05, -0.1];
    let x = [0.5, -1.0, 2.0];
    let layer = layer_from(&point);
    let (value, g) = layer_loss::grad(&layer, x);
    assert_eq!(value, layer_loss(&layer, x));
    assert_gradient(
        |v| layer_loss(&layer_from(v), x),
        &point,
        &layer_grad_as_vec(&g.layer),
    );
    // At f32, the same derivative.
    let narrow = Layer {
        w: layer.w.map(|row| row.map(|v| v as f32)),
        b: layer.b.map(|v| v as f32),
    };
    let (_, g32) = layer_loss::grad(&narrow, x.map(|v| v as f32));
    for (a, b) in layer_grad_as_vec(&g.layer).iter().zip(
        g32.layer
            .w
            .iter()
            .flatten()
            .chain(&g32.layer.b)
            .map(|&v| v as f64),
    ) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}

#[test]
fn the_derive_steps_scales_and_zeroes_a_matrix_field() {
    let mut layer = layer_from(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    let g = LayerGrad {
        w: [[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]],
        b: [2.0, 0.0],
    };
    layer.step(&g, 0.5);
    assert_eq!(layer.w, [[0.5, 2.0, 3.5], [3.75, 4.75, 5.75]]);
    assert_eq!(layer.b, [6.0, 8.0]);
    let mut sum = g.clone();
    sum.add_scaled(2.0, &g);
    assert_eq!(sum.w, [[3.0, 0.0, -3.0], [1.5, 1.5, 1.5]]);
    assert_eq!(sum.dot(&g), 3.0 * (1.0 + 1.0 + 0.75) + 3.0 * 4.0);
    sum.scale(0.5);
    assert_eq!(sum.b, [3.0, 0.0]);
    sum.clear();
    assert_eq!(sum, LayerGrad::default());
    assert_eq!(layer.zero_grad(), LayerGrad::default());
}
