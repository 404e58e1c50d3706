use backprop_runtime::differentiate;

#[differentiate]
fn f(mut w: [f64; 2]) -> f64 {
    w[0] = 1.0;
    w[0] + w[1]
}

fn main() {}
