use backprop_runtime::differentiate;

const N: usize = 3;

// An array returned by its name, its length a constant: the macro cannot
// count its elements.
#[differentiate]
fn scaled(a: [f64; N], k: f64) -> [f64; N] {
    let mut out = a;
    for i in 0..N {
        out[i] *= k;
    }
    out
}

fn main() {}
