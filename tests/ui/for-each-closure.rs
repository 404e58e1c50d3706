use backprop_runtime::differentiate;

#[differentiate]
fn f(w: &[f64]) -> f64 {
    let mut total = 0.0;
    w.iter().for_each(|v| {
        if *v < 0.0 {
            return;
        }
        total += v * v;
    });
    total
}

fn main() {}
