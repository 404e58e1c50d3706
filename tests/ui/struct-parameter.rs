use backprop_runtime::differentiate;

pub struct Params {
    pub k: f64,
}

#[differentiate]
fn f(p: &Params, x: f64) -> f64 {
    p.k * x
}

fn main() {}
