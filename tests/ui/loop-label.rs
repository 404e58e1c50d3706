use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64, n: usize) -> f64 {
    let mut y = x;
    'outer: for _ in 0..n {
        y *= 2.0;
    }
    y
}

fn main() {}
