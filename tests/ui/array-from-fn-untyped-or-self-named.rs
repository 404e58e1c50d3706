use backprop_runtime::differentiate;

#[differentiate]
fn untyped(a: &[f64]) -> f64 {
    let p = std::array::from_fn(|i| a[i] * 2.0);
    let q: [f64; 2] = p;
    q[0] + q[1]
}

#[differentiate]
fn same_name(a: &[f64]) -> f64 {
    let p: [f64; 2] = [a[0], a[1]];
    let p: [f64; 2] = std::array::from_fn(|i| p[i] * 2.0);
    p[0]
}

fn main() {}
