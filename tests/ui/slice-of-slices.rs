use backprop_runtime::differentiate;

#[differentiate]
fn f(grid: &[Vec<Vec<f64>>], x: f64) -> f64 {
    grid[0][0][0] * x
}

fn main() {}
