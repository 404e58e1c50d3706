use backprop_runtime::differentiate;

// A custom rule has no twin over a generic float: a caller marked
// `second_order` cannot call it, and rustc says so at the call.
pub fn cube(x: f64) -> f64 {
    x * x * x
}

pub mod cube {
    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        x: f64,
    }
    pub type Scratch = ();
    pub fn forward_into(tape: &mut Tape, x: f64) -> f64 {
        tape.x = x;
        super::cube(x)
    }
    pub fn pullback_into(tape: &Tape, seed: f64, _scratch: &mut Scratch) -> (f64,) {
        (seed * 3.0 * tape.x * tape.x,)
    }
}

#[differentiate(second_order)]
fn outer(x: f64) -> f64 {
    cube(x) + x
}

fn main() {}
