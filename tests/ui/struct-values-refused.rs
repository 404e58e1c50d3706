use backprop_runtime::{differentiate, Differentiable};

#[derive(Differentiable, Clone, Copy, Debug)]
pub struct State {
    pub x: f64,
    pub v: f64,
}

// A struct returned, from a struct parameter and from floats.
#[differentiate]
pub fn advance(s0: State, dt: f64) -> State {
    let mut s = s0;
    s.x += dt * s.v;
    s
}

#[differentiate]
pub fn at_rest(x: f64) -> State {
    State { x, v: 0.0 }
}

// A copy of a parameter passed whole to a function that is not inlined.
fn kinetic(s: &State) -> f64 {
    0.5 * s.v * s.v
}

#[differentiate]
pub fn copied_then_passed(s0: State, dt: f64) -> f64 {
    let mut s = s0;
    s.x += dt * s.v;
    println!("{}", kinetic(&s));
    kinetic(&s)
}

// A local literal passed whole to a helper inside a macro's arguments,
// where calls are not inlined (without the `println!` it is accepted).
#[differentiate]
pub fn built_then_passed(x: f64, v: f64) -> f64 {
    let s = State { x, v };
    println!("{}", kinetic(&s));
    s.x * kinetic(&s)
}

// A copy whose nested struct is read (`c.pose.t`): not split yet.
#[derive(Differentiable, Clone, Copy, Debug)]
pub struct Pose {
    pub t: f64,
}

#[derive(Differentiable, Clone, Copy, Debug)]
pub struct Cam {
    pub pose: Pose,
    pub f: f64,
}

#[differentiate]
pub fn nested_copy(c0: &Cam, x: f64) -> f64 {
    let mut c = *c0;
    c.f *= 2.0;
    c.pose.t * x + c.f
}

fn main() {}
