use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64) -> Option<f64> {
    Some(x)
}

fn main() {}
