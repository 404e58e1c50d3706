use backprop_runtime::differentiate;

#[differentiate]
fn f(w: &mut [f64], x: f64) -> f64 {
    w[0] = x;
    x
}

fn main() {}
