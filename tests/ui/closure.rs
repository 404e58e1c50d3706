use backprop_runtime::differentiate;

// Closures called in the function are inlined; these are not supported.
#[differentiate]
fn f(x: f64) -> f64 {
    let mut total = 0.0;
    let mut add = |v: f64| total += v;
    add(x);
    let early = |v: f64| {
        if v > 0.0 {
            return v;
        }
        -v
    };
    // A helper taking a function is inlined where it is given a closure or
    // a closure's name; not a path to a function.
    apply(f64::sin, x) + early(x) + total
}

fn apply(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    f(x)
}

fn main() {}
