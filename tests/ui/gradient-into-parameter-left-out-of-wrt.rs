use backprop_runtime::differentiate;

// In a module of its own: a function written beside its caller is inlined,
// and its body differentiated in the caller for every input.
mod helpers {
    use backprop_runtime::differentiate;

    #[differentiate(wrt(x))]
    pub fn scaled(x: f64, w: f64) -> f64 {
        x * w
    }
}
use helpers::scaled;

#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    // `y` depends on f's inputs, but `scaled` does not differentiate `w`.
    scaled(x, y)
}

fn main() {}
