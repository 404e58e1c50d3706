use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let pair = (x, x);
    let (a, b) = pair;
    a * b
}

fn main() {}
