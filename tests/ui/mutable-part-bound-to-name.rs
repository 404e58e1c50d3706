// A `&mut` part of a differentiated array bound to a name and used other
// than by index, length and calls, or split into `&mut` parts (a chunk of
// `chunks_mut` used other than by element): its writes
// would reach the parent at no clear point.
use backprop_runtime::differentiate;

#[differentiate]
fn bound(x: &mut [f64], s: f64) {
    let tail = &mut x[1..];
    tail.reverse();
    tail[0] *= s;
}

#[differentiate]
fn split(x: &mut [f64], s: f64) {
    for row in x.chunks_mut(2) {
        row[0] *= s;
        row.reverse();
    }
}

#[differentiate]
fn halves(x: &mut [f64], s: f64) -> f64 {
    let (a, b) = x.split_at_mut(1);
    a[0] *= s;
    a[0] + b[0]
}

fn main() {}
