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
    let square = |v: f64| v * v;
    apply(square, x) + early(x) + total
}

fn apply(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    f(x)
}

fn main() {}
