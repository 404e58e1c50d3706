use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let _ = x.exp();
    x
}

fn main() {}
