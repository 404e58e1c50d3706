use backprop_runtime::differentiate;

// `let v = [x, y];` and `f(&[x, y])` are supported; indexing an array
// expression is not.
#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    [x, y * 2.0][1]
}

fn main() {}
