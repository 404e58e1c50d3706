use backprop_runtime::differentiate;

// `map`, `filter`, `take` and `sum` are supported; `step_by` is not.
#[differentiate]
fn f(w: &[f64]) -> f64 {
    w.iter().step_by(2).map(|v| v * v).sum()
}

fn main() {}
