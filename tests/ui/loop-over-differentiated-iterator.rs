use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    let mut total = 0.0;
    for v in std::iter::repeat(x).take(3) {
        total += v * y;
    }
    total
}

fn main() {}
