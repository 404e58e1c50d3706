use backprop_runtime::{differentiate, Float};

#[differentiate]
fn f<T: Float>(x: T, v: f64) -> T {
    let y = T::from(v * 2.0).unwrap();
    y * x
}

fn main() {}
