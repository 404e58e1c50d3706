use backprop_runtime::differentiate;

// `map`, `filter`, `take`, `step_by` and `sum` are supported; `max_by` is not.
#[differentiate]
fn f(w: &[f64]) -> f64 {
    w.iter().map(|v| v * v).max_by(|a, b| a.total_cmp(b)).unwrap()
}

fn main() {}
