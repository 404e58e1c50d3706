use backprop_runtime::differentiate;

// A type error in the body is the user's: reported once, at the user's tokens,
// not a second time at the attribute for the generated copy.
#[differentiate]
fn f(x: f64, n: usize) -> f64 {
    let y = x * 2.0;
    y + n
}

fn main() {}
