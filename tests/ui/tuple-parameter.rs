use backprop_runtime::differentiate;

// A tuple of floats as a parameter: an array, separate parameters or a
// struct instead.
#[differentiate]
fn f(p: (f64, f64), k: f64) -> f64 {
    let (x, y) = p;
    x * k + y
}

fn main() {}
