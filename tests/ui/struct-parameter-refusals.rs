use backprop_runtime::{differentiate, Differentiable};

#[derive(Differentiable)]
pub struct Layer {
    pub w: Vec<f64>,
    pub b: f64,
}

// Taken by `&mut`: a slice of them; a field that is data written; a struct
// passed whole to a function that writes it.
#[derive(Differentiable)]
pub struct Counted {
    pub b: f64,
    pub n: usize,
}

#[differentiate]
fn changes(layers: &mut [Layer], x: f64) -> f64 {
    layers[0].b * x
}

#[differentiate]
fn counts(c: &mut Counted, x: f64) {
    if c.n > 2 {
        c.n = 0;
    }
    c.b *= x;
}

#[differentiate]
fn passes(c: &mut Counted, x: f64) {
    counts(c, x);
}

#[differentiate]
fn predict(w: &[f64], b: f64, x: f64) -> f64 {
    w[0] * x + b
}

// Used whole other than as a call's argument, and a field written.
#[differentiate]
fn whole(mut layer: Layer, x: f64) -> f64 {
    layer.b = 2.0;
    let alias = &layer;
    predict(&alias.w, alias.b, x)
}

fn other(layer: &Layer) -> f64 {
    layer.b
}

// A slice of structs used otherwise than element by element: in an
// iterator chain, an element passed whole, an element's method.
#[differentiate]
fn stacked(layers: &[Layer], x: f64) -> f64 {
    let total: Vec<f64> = layers.iter().map(|l| l.b).collect();
    let mut s = layers[0].b * x + total[0];
    for layer in layers {
        s += other(layer) + layer.w[0];
    }
    s
}

// A field read both as a struct and through its fields.
#[derive(Differentiable)]
pub struct Outer {
    pub inner: Layer,
    pub scale: f64,
}

#[differentiate]
fn both(outer: &Outer) -> f64 {
    outer.inner.b * outer.scale + other(&outer.inner)
}

// (Called through its module: inlined, it would pass the loop the fields.)
#[differentiate]
#[inline(never)]
fn bias(layer: &Layer, x: f64) -> f64 {
    layer.b * x
}

// A checkpointed loop that passes the struct on: the tape cannot keep it.
#[differentiate]
fn stepped(layer: &Layer, x: f64) -> f64 {
    let mut total = 0.0;
    #[checkpoint]
    for _ in 0..3 {
        total += bias(layer, x);
    }
    total
}

fn main() {}

// A slice whose fields are read only in a chain the macro does not rewrite:
// it would be data without a word.
#[derive(Differentiable, Clone)]
pub struct Particle {
    pub mass: f64,
}

#[differentiate]
fn masses(ps: &[Particle]) -> f64 {
    let all: Vec<f64> = ps.iter().map(|p| p.mass).collect();
    all[0]
}

// A loop over a chain of its elements the macro does not rewrite.
#[differentiate]
fn every_other(ps: &[Particle]) -> f64 {
    let mut e = 0.0;
    for p in ps.iter().step_by(2) {
        e += p.mass;
    }
    e
}

