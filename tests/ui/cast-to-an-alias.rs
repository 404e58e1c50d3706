use backprop_runtime::differentiate;

pub type Real = f64;

// `Real` may be a float: a cast to it would lose the derivative without a
// word if it were taken for an integer's.
#[differentiate]
fn f(x: f64) -> f64 {
    let y = x as Real;
    y * y + x
}

fn main() {}
