use backprop_runtime::differentiate;

// A scratch buffer the function writes is an output like any other: it cannot
// be left out of the gradient.
#[differentiate(wrt(x))]
fn f(scratch: &mut [f64], x: f64) -> f64 {
    scratch[0] = x * x;
    scratch[0] + x
}

fn main() {}
