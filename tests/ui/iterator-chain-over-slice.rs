use backprop_runtime::differentiate;

// `map`, `filter` and `sum` are supported; `take` is not.
#[differentiate]
fn f(w: &[f64]) -> f64 {
    w.iter().take(2).map(|v| v * v).sum()
}

fn main() {}
