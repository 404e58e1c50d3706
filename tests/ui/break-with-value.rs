use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    let mut y = x;
    let z = loop {
        y *= 2.0;
        let doubled = y * 2.0;
        if y > 10.0 {
            break doubled;
        }
        if y < -10.0 {
            break y;
        }
    };
    z
}

fn main() {}
