use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    let mut total = 0.0;
    for v in [x, y] {
        if v > 1.0 {
            break;
        }
        total += v;
    }
    total
}

fn main() {}
