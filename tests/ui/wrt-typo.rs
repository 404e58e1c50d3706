use backprop_runtime::differentiate;

#[differentiate(wrt(w, bais))]
fn f(w: f64, bias: f64) -> f64 {
    w * bias
}

fn main() {}
