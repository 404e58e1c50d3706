use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    const K: f64 = 2.0;
    x * K
}

fn main() {}
