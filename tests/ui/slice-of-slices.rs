use backprop_runtime::differentiate;

#[differentiate]
fn f(rows: &[Vec<f64>], x: f64) -> f64 {
    rows[0][0] * x
}

fn main() {}
