use backprop_runtime::Differentiable;

#[derive(Differentiable)]
pub enum Choice {
    A(f64),
}

#[derive(Differentiable)]
pub struct Pair(f64, f64);

#[derive(Differentiable)]
pub struct Stack {
    layers: Vec<Vec<Vec<f64>>>,
    grid: [[[f64; 2]; 2]; 2],
    #[differentiable(skipped)]
    name: String,
    weight: f64,
}

#[derive(Differentiable)]
pub struct Counts {
    n: usize,
}

fn main() {}
