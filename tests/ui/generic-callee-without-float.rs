use backprop_runtime::differentiate;
use num_traits::Float;

#[differentiate]
fn square<T: Float>(x: T) -> T {
    x * x
}

// A function over `f64` names the float of a generic callee: `square::<f64>(x)`.
#[differentiate]
fn f(x: f64) -> f64 {
    square(x) + 1.0
}

fn main() {}
