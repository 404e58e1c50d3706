// An array built by `std::array::from_fn` from differentiated values needs
// its type written: the macro cannot see its length. (One built from an
// earlier array of its own name is supported: `tests/regression.rs`.)
use backprop_runtime::differentiate;

#[differentiate]
fn untyped(a: &[f64]) -> f64 {
    let p = std::array::from_fn(|i| a[i] * 2.0);
    let q: [f64; 2] = p;
    q[0] + q[1]
}

fn main() {}
