use backprop_runtime::differentiate;

#[differentiate(wrt(x))]
fn scaled(x: f64, w: f64) -> f64 {
    x * w
}

#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    // `y` depends on f's inputs, but `scaled` does not differentiate `w`.
    scaled(x, y)
}

fn main() {}
