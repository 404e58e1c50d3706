use backprop_runtime::differentiate;

// `map` and `sum` are supported; `filter` is not.
#[differentiate]
fn f(w: &[f64]) -> f64 {
    w.iter().filter(|v| **v > 0.0).map(|v| v * v).sum()
}

fn main() {}
