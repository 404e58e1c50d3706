use backprop_runtime::differentiate;

// A plain helper beside its caller is inlined; what the inlined body holds
// that the macro refuses (a `format!`) is reported, at the call (the
// helper's tokens are read from the file, where they have no place a
// compile error could point at), not a call of the helper through a module
// it does not have.
fn scaled(a: &mut f64, k: f64) -> f64 {
    *a *= k;
    let label = format!("{}", a);
    *a + label.len() as f64
}

#[differentiate]
fn f(x: f64) -> f64 {
    let mut u = x;
    let t = scaled(&mut u, 0.25);
    x * 2.0 + t
}

fn main() {}
