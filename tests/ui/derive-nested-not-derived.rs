use backprop_runtime::Differentiable;

// A field of a struct type that does not derive `Differentiable` itself.
pub struct Layer {
    pub w: Vec<f64>,
}

#[derive(Differentiable)]
pub struct Net {
    pub layer: Layer,
    pub scale: f64,
}

fn main() {}
