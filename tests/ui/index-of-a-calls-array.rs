use backprop_runtime::differentiate;

// In a module of their own: functions written beside their caller are
// inlined, and their arrays are then the caller's.
mod helpers {
    use backprop_runtime::differentiate;

    #[differentiate]
    pub fn pair(x: f64) -> [f64; 2] {
        [x * x, x.sin()]
    }

    #[differentiate]
    pub fn total(p: [f64; 2]) -> f64 {
        p[0] + p[1]
    }
}
use helpers::{pair, total};

/// By a value, not a literal.
#[differentiate]
fn by_value(x: f64, k: usize) -> f64 {
    let p = pair(x);
    p[k] * x
}

/// Read by index and passed on whole.
#[differentiate]
fn indexed_and_whole(x: f64) -> f64 {
    let p = pair(x);
    p[0] * total(p)
}

fn main() {}
