use backprop_runtime::differentiate;

/// A tuple local borrowed mutably: its elements cannot stand for it.
#[differentiate]
fn f(x: f64) -> f64 {
    let mut pair = (x, x);
    let held = &mut pair;
    held.0 *= 2.0;
    pair.0 * pair.1
}

/// A tuple taken apart from what is not a place the body can read again.
#[differentiate(wrt(x))]
fn g(x: f64, pairs: &[(f64, f64)]) -> f64 {
    let (a, b) = pairs.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
    x * a * b
}

fn main() {}
