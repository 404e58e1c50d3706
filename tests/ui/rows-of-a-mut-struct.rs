use backprop_runtime::{differentiate, Differentiable};

#[derive(Differentiable, Clone, Debug)]
pub struct St { pub w: [[f64; 2]; 2], pub k: f64 }

// Rows held by a struct taken by `&mut`: not written in place yet.
#[differentiate]
pub fn relax(s: &mut St, rate: f64) {
    for i in 0..2 {
        for j in 0..2 {
            s.w[i][j] *= 1.0 - rate * s.k;
        }
    }
}
fn main() {}
