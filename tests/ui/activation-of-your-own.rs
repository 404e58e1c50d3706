use backprop_runtime::differentiate;

// A function of the user's named like one of the runtime's activations, in
// another module: a call by its name alone would be differentiated (and
// computed) by the runtime's rule, so it is refused where it is called. (One
// written beside its caller is inlined, and so computed as written:
// `tests/inlining.rs`.)
mod mine {
    pub fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-2.0 * x).exp())
    }
}
use mine::sigmoid;

#[differentiate]
fn f(x: f64) -> f64 {
    sigmoid(x) * 3.0
}

// The same with one that is differentiated itself, in another module.
mod own {
    use backprop_runtime::differentiate;

    #[differentiate]
    pub fn relu(x: f64) -> f64 {
        x.max(0.0) * 2.0
    }
}
use own::relu;

#[differentiate]
fn g(x: f64) -> f64 {
    relu(x) + x
}

fn main() {}
