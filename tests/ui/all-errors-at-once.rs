use backprop_runtime::differentiate;

// Every problem in the function is reported in one build.
#[differentiate(wrt(x, q))]
fn f(x: f64) -> f64 {
    let a = x.next_up();
    let b = if x > 0.0 { a } else { x };
    let c = format!("{b}");
    x * b
}

fn main() {}
