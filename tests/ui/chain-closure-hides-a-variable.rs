use backprop_runtime::differentiate;

// A chain whose closure binds a name that a later closure (or the body of a
// loop over the chain) reads from outside: written as one loop, the first
// closure's parameter would hide the variable (a wrong value, once). Name
// them apart.
#[differentiate]
fn later_closure(x: &[f64]) -> f64 {
    let k = 3.0;
    x.iter().map(|k| k * 2.0).map(|v| v * k).sum()
}

#[differentiate]
fn loop_body(x: &[f64]) -> f64 {
    let k = 3.0;
    let mut s = 0.0;
    for v in x.iter().map(|k| k * 2.0) {
        s += v * k;
    }
    s
}

fn main() {}
