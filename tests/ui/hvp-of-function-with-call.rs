use backprop_runtime::differentiate;

#[differentiate]
fn square(x: f64) -> f64 {
    x * x
}

// Over `f64`, second order runs through the function written again over a
// generic float; a call of another function (here `square`, over `f64`)
// cannot be written that way, so `outer` has no `hvp`: write it over
// `T: Float` (and `square` too).
#[differentiate]
fn outer(x: f64) -> f64 {
    square(x) + x
}

fn main() {
    let _ = square::hvp(2.0, 1.0);
    let _ = outer::hvp(2.0, 1.0);
}
