use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64, mut steps: Option<u32>) -> f64 {
    let mut y = x;
    while let Some(k) = steps {
        y *= 2.0;
        steps = k.checked_sub(1);
    }
    y
}

fn main() {}
