use backprop_runtime::{differentiate, Differentiable};

#[derive(Differentiable, Clone)]
pub struct Dense {
    w: Vec<f64>,
}

#[derive(Differentiable, Clone)]
pub struct Block {
    layers: Vec<Dense>,
}

#[derive(Differentiable, Clone)]
pub struct Net {
    blocks: Vec<Block>,
}

// A `Vec` of structs inside an element of a slice of structs.
#[differentiate]
fn nested(net: &Net, x: f64) -> f64 {
    let mut s = 0.0;
    for block in &net.blocks {
        for layer in &block.layers {
            s += layer.w[0] * x;
        }
    }
    s
}

fn main() {}
