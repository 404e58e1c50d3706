use backprop_runtime::differentiate;

#[differentiate]
fn softmax(x: &[f64]) -> Vec<f64> {
    let s: f64 = x.iter().map(|v| v.exp()).sum();
    x.iter().map(|v| v.exp() / s).collect()
}

fn main() {}
