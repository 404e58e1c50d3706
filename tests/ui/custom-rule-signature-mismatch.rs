use backprop_runtime::differentiate;

fn cube(x: f64) -> f64 {
    x * x * x
}

/// A custom rule whose pullback does not match `cube`'s one argument.
mod cube {
    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        x: f64,
    }

    pub fn forward(x: f64) -> (f64, Tape) {
        (super::cube(x), Tape { x })
    }

    pub fn pullback(tape: &Tape, seed: f64) -> (f64, f64) {
        (seed * 3.0 * tape.x * tape.x, 0.0)
    }
}

#[differentiate]
fn f(x: f64) -> f64 {
    cube(x) + x
}

fn main() {}
