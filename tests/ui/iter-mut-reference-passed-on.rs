use backprop_runtime::differentiate;

#[differentiate]
fn scale(v: &mut f64, k: f64) {
    *v *= k;
}

#[differentiate]
fn f(state: &mut [f64], k: f64) {
    for o in state.iter_mut() {
        scale(o, k);
    }
}

fn main() {}
