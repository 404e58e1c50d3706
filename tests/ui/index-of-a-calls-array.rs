use backprop_runtime::differentiate;

#[differentiate]
fn pair(x: f64) -> [f64; 2] {
    [x * x, x.sin()]
}

#[differentiate]
fn f(x: f64) -> f64 {
    let p = pair(x);
    p[0] * p[1]
}

fn main() {}
