use backprop_runtime::differentiate;

// A vector's length or order changed in place: refused with what to write.
#[differentiate]
fn stages(w: &[f64], x: &[f64]) -> f64 {
    let mut h = x.to_vec();
    let mut next = Vec::new();
    for o in 0..h.len() {
        next.push((w[0] * h[o]).tanh());
    }
    h.clear();
    h.extend_from_slice(&next);
    // Grown, though it did not start empty.
    h.push(w[1]);
    h.extend(x.iter().map(|v| v * w[0]));
    h.iter().sum()
}

// Sorted by something other than the elements themselves (`reverse`, and
// `sort_by` on the elements, are supported).
#[differentiate]
fn by_magnitude(x: &[f64]) -> f64 {
    let mut h = x.to_vec();
    h.reverse();
    h.sort_by(|a, b| a.abs().partial_cmp(&b.abs()).unwrap());
    h[0]
}

fn main() {}
