use backprop_runtime::differentiate;

// `const`, `use` and helper functions among the body's own statements are
// supported; inside a block of it, or other items, are not.
#[differentiate]
fn f(x: f64) -> f64 {
    const K: f64 = 2.0;
    let mut y = x * K;
    if y > 1.0 {
        const H: f64 = 0.5;
        y *= H;
    }
    fn square(v: f64) -> f64 {
        v * v
    }
    #[derive(Clone, Copy)]
    struct Scale(f64);
    square(y)
}

fn main() {}
