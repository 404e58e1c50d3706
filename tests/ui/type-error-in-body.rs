use backprop_runtime::differentiate;

// A type error in the body is the user's: reported at the user's tokens, not
// at the attribute for the generated copies. The twin over a generic float
// (what `hvp` runs) reports it once more in its own terms, at the same tokens.
#[differentiate]
fn f(x: f64, n: usize) -> f64 {
    let y = x * 2.0;
    y + n
}

fn main() {}
