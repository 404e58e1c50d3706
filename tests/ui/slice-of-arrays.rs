use backprop_runtime::differentiate;

// Rows written in place are written by index, not through `iter_mut`.
#[differentiate]
fn shift(points: &mut [[f64; 3]], k: f64) {
    for p in points.iter_mut() {
        p[0] += k;
    }
}

fn total(points: &[[f64; 2]]) -> f64 {
    points.iter().map(|p| p[0] + p[1]).sum()
}

// Rows read whole by a chain other than a reduction, or passed whole: they
// would be data.
#[differentiate]
fn spread(points: &[[f64; 2]], k: f64) -> f64 {
    let firsts: Vec<f64> = points.iter().map(|p| p[0]).collect();
    k * firsts[0] + total(points)
}

// Only measured: a method, or a function that never reads the floats.
#[differentiate]
fn count(points: &[[f64; 2]], k: f64) -> f64 {
    k * points.len() as f64
}

fn main() {}
