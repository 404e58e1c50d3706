use backprop_runtime::differentiate;

// Over `f64`, second order is asked for: `#[differentiate(second_order)]`
// writes the function again over a generic float, whose reverse pass `hvp`
// runs over dual numbers. Without it there is no `hvp`.
#[differentiate]
fn square(x: f64) -> f64 {
    x * x
}

#[differentiate(second_order)]
fn cube(x: f64) -> f64 {
    x * x * x
}

fn main() {
    let _ = cube::hvp(2.0, 1.0);
    let _ = square::hvp(2.0, 1.0);
}
