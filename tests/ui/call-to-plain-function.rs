use backprop_runtime::differentiate;

// A plain helper in another module: the macro cannot see its body (one
// written beside the caller is inlined: `tests/inlining.rs`), and it has no
// derivative of its own.
mod helpers {
    pub fn helper(x: f64) -> f64 {
        x * 2.0
    }
}
use helpers::helper;

#[differentiate]
fn f(x: f64) -> f64 {
    helper(x) + 1.0
}

fn main() {}
