use backprop_runtime::differentiate;

fn total(v: &[f64]) -> f64 {
    v.iter().sum()
}

#[differentiate]
fn f(w: &[f64]) -> f64 {
    total(w) * 2.0
}

fn main() {}
