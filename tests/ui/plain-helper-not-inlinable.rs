use backprop_runtime::differentiate;

// A plain helper the inliner cannot take (a `return` inside its loop) has
// no module to be called through: the call is refused with what to write,
// not left to rustc ("`first_above` is not a crate or module").
fn first_above(v: &[f64], at: f64) -> f64 {
    for x in v {
        if *x > at {
            return *x;
        }
    }
    0.0
}

#[differentiate]
fn f(x: &[f64]) -> f64 {
    first_above(x, 1.0) * 2.0
}

// Called on data only, it stays an ordinary call.
#[differentiate(wrt(w))]
fn g(w: f64, data: &[f64]) -> f64 {
    first_above(data, 1.0) * w
}

fn main() {}
