// A loop over a local whose type the macro cannot see (`let w = W;` of a
// constant) whose elements the backward pass needs: they are references
// (`&f64`), and the message says to give the list a type.
use backprop_runtime::differentiate;

const W: [f64; 3] = [0.5, 1.5, -2.0];

#[differentiate]
fn weighted(x: &[f64]) -> f64 {
    let w = W;
    let mut s = 0.0;
    for (i, v) in w.iter().enumerate() {
        s += v * x[i] * x[i];
    }
    s
}

fn main() {}
