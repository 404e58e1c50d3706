use backprop_runtime::differentiate;

struct State {
    v: f64,
}

#[differentiate]
fn f(x: f64, mut s: State) -> f64 {
    s.v = x;
    x
}

fn main() {}
