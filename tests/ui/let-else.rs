// `let ... else` of anything but an element at an end of a slice (or a
// slice split there): the pattern test has no derivative the macro follows.
use backprop_runtime::differentiate;

#[differentiate(wrt(x))]
fn f(x: f64, limit: Option<f64>) -> f64 {
    let Some(l) = limit else {
        return x;
    };
    x.min(l)
}

fn main() {}
