use backprop_runtime::differentiate;

// The gradient of another differentiated function, taken on values that
// depend on the inputs (GradBench's particle: the acceleration is the
// gradient of a potential, inside the trajectory being differentiated):
// that would need the derivative of a derivative.
#[differentiate(wrt(x))]
fn potential(x: &[f64], w: f64) -> f64 {
    let a = ((x[0] - 10.0).powi(2) + (x[1] - 10.0 + w).powi(2)).sqrt();
    1.0 / a
}

#[differentiate]
fn trajectory(w: f64) -> f64 {
    let mut x = [0.0, 8.0];
    for _ in 0..10 {
        let (_, g) = potential::grad(&x, w);
        x[0] -= 0.1 * g.x[0];
        x[1] -= 0.1 * g.x[1];
    }
    x[0] * x[0]
}

// On values that do not depend on the inputs, the call is fine.
#[differentiate]
fn fixed(w: f64) -> f64 {
    let (v, g) = potential::grad(&[0.0, 8.0], 1.0);
    v * w + g.x[0]
}

fn main() {
    let _ = trajectory::grad(0.5);
    let _ = fixed::grad(0.5);
}
