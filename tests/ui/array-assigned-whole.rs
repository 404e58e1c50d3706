use backprop_runtime::differentiate;

// A layer loop that moves its name to the next layer's values: refused (the
// name would keep reading the old buffer).
#[differentiate]
fn layers(w: &[f64], x: &[f64]) -> f64 {
    let mut h = x.to_vec();
    for _ in 0..2 {
        let mut next = vec![0.0; h.len()];
        for o in 0..h.len() {
            next[o] = (w[o] * h[o]).tanh();
        }
        h = next;
    }
    h.iter().sum()
}


// The same with the buffers swapped, one of them not bound to `vec![..]`
// or `.to_vec()` (two such vectors are swapped element by element).
#[differentiate]
fn swapped(w: &[f64], x: &[f64]) -> f64 {
    let mut h = x.to_vec();
    let mut next = h.clone();
    for _ in 0..2 {
        for o in 0..h.len() {
            next[o] = (w[o] * h[o]).tanh();
        }
        std::mem::swap(&mut h, &mut next);
    }
    h.iter().sum()
}

// A vector assigned a `collect` whose length may differ from its own (a
// chain of `map`s over itself is written back in place: `tests/idioms.rs`).
#[differentiate]
fn differences(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    v = v.windows(2).map(|w| w[1] - w[0]).collect();
    v.iter().sum()
}

fn main() {}
