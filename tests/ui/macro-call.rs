use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let label = format!("{x}");
    let y = x * x;
    y + label.len() as f64
}

fn main() {}
