use backprop_runtime::differentiate;

#[differentiate(wrt(x))]
fn f(x: f64, limit: Option<f64>) -> f64 {
    if let Some(l) = limit {
        x.min(l)
    } else {
        x
    }
}

fn main() {}
