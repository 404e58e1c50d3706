use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    x.sin();
    x
}

fn main() {}
