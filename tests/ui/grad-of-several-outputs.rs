#![deny(deprecated)]
use backprop_runtime::differentiate;

#[differentiate]
fn polar(r: f64, theta: f64) -> (f64, f64) {
    (r * theta.cos(), r * theta.sin())
}

fn main() {
    let _ = polar::grad(1.0, 0.5);
}
