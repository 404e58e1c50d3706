use backprop_runtime::differentiate;

#[differentiate]
fn f<T>(x: f64, _t: T) -> f64 {
    x * x
}

fn main() {}
