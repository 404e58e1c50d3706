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

    /// What a caller keeps per call for `pullback_into`: nothing here.
    pub type Scratch = ();

    pub fn forward_into(tape: &mut Tape, x: f64) -> f64 {
        tape.x = x;
        super::cube(x)
    }

    pub fn pullback_into(tape: &Tape, seed: f64, _scratch: &mut Scratch) -> (f64, f64) {
        (seed * 3.0 * tape.x * tape.x, 0.0)
    }
}

#[differentiate]
fn f(x: f64) -> f64 {
    cube(x) + x
}

fn main() {}
