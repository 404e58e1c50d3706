use backprop_runtime::differentiate;

// A closure taking an array by value and changing it changes its own copy:
// it must not be read as the caller's array (refused, not aliased).
#[differentiate]
fn f(x: [f64; 2]) -> f64 {
    let mut a = [x[0], x[1]];
    let zeroed = |mut v: [f64; 2]| {
        v[0] = 0.0;
        v[0] + v[1]
    };
    let r = zeroed(a);
    a[1] *= 2.0;
    r + a[0] * a[1]
}

fn main() {}
