use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    x.powf() + f64::atan2(x)
}

fn main() {}
