use backprop_runtime::differentiate;

#[differentiate]
fn spread(points: &[[f64; 3]], k: f64) -> f64 {
    let mut s = 0.0;
    for p in points {
        s += k * (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
    }
    s
}

fn main() {}
