use backprop_runtime::differentiate;
use num_traits::Float;

#[differentiate]
fn square<T: Float>(x: T) -> T {
    x * x
}

// A function over `f32` names the float of a generic callee:
// `square::<f32>(x)` (the callee's types default to `f64`).
#[differentiate]
fn f(x: f32) -> f32 {
    square(x) + 1.0
}

fn main() {}
