use backprop_runtime::differentiate;

// Called through its module (inlined, `*v` would be `*o`, which is
// differentiated: tests/plain_helpers.rs).
#[differentiate]
#[inline(never)]
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
