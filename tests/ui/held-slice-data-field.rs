use backprop_runtime::{differentiate, Differentiable};

#[derive(Differentiable, Clone)]
pub struct Dense {
    w: Vec<f64>,
    inputs: usize,
}

#[derive(Differentiable, Clone)]
pub struct Mlp {
    layers: Vec<Dense>,
    scale: f64,
}

// A data field of an element of `model.layers` read both as a count and as
// a condition: the function read field by field would need the layers
// themselves.
#[differentiate]
fn loss(model: &Mlp, x: &[f64]) -> f64 {
    let mut s = 0.0;
    for layer in &model.layers {
        if layer.inputs > 1 {
            for i in 0..layer.inputs {
                s += layer.w[i] * x[i];
            }
        }
    }
    s * model.scale
}

fn main() {}
