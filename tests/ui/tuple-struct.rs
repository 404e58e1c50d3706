use backprop_runtime::differentiate;

#[derive(Clone, Copy)]
pub struct P(pub f64, pub f64);

// A tuple struct built from differentiated values: refused with what to
// write, not left to rustc inside the expansion.
#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    let p = P(x, y);
    p.0 * p.1
}

fn main() {}
