use backprop_runtime::differentiate;

// A fold of a tuple whose closure reads a variable the `let` binds again
// (`s`, the scale, inside the closure; the sum, after it): written as a
// loop its accumulator would hide the variable, so it stays a fold, which
// is refused. Name them apart.
#[differentiate]
fn scaled(x: &[f64]) -> f64 {
    let s = 2.0;
    let (s, q) = x.iter().fold((s, 0.0), |(a, b), &v| (a + s * v, b + v));
    s * q
}

fn main() {}
