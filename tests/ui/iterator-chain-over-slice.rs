use backprop_runtime::differentiate;

// `map`, `filter`, `take`, `step_by`, `sum`, `max_by` are supported;
// `take_while` is not.
#[differentiate]
fn f(w: &[f64]) -> f64 {
    w.iter().map(|v| v * v).take_while(|v| *v < 4.0).sum()
}

fn main() {}
