use backprop_runtime::differentiate;

// A value given later than the statement after the `let` (`let y; if c { y
// = a; } else { y = b; }` right after it is supported).
#[differentiate]
fn f(x: f64) -> f64 {
    let y;
    let z = x * 2.0;
    y = z + 1.0;
    y
}

fn main() {}
