use backprop_runtime::differentiate;
use core::ffi::c_double;

// `c_double` (an alias written in another crate) may be a float: a cast to
// it would lose the derivative without a word if it were taken for an
// integer's. (An alias written in the function's own file, `type Real =
// f64;`, is read as the type it names.)
#[differentiate]
fn f(x: f64) -> f64 {
    let y = x as c_double;
    y * y + x
}

fn main() {}
