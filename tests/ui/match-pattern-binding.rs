use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64, steps: Option<u32>) -> f64 {
    match steps {
        Some(n) => x.powi(n as i32),
        None => x,
    }
}

fn main() {}
