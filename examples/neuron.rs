//! The CS231n sigmoid neuron: `f(w, x) = 1 / (1 + e^-(w0 x0 + w1 x1 + w2))` at
//! w = [2, -3, -3], x = [-1, -2]. The course gives dw = [-0.20, -0.39, 0.20] and
//! dx = [0.39, -0.59].

use backprop_runtime::{differentiate, sigmoid};

/// Written out the way the course's circuit diagram draws it.
#[differentiate]
pub fn neuron(w0: f64, w1: f64, w2: f64, x0: f64, x1: f64) -> f64 {
    let dot = w0 * x0 + w1 * x1 + w2;
    1.0 / (1.0 + (-dot).exp())
}

/// The same neuron with the sigmoid as one node, as the course then suggests.
#[differentiate]
pub fn neuron_gate(w0: f64, w1: f64, w2: f64, x0: f64, x1: f64) -> f64 {
    let dot = w0 * x0 + w1 * x1 + w2;
    sigmoid(dot)
}

fn main() {
    let (w, x) = ([2.0, -3.0, -3.0], [-1.0, -2.0]);
    let (value, g) = neuron::grad(w[0], w[1], w[2], x[0], x[1]);
    println!("f = {value:.2}");
    println!("dw = [{:.2}, {:.2}, {:.2}]", g.w0, g.w1, g.w2);
    println!("dx = [{:.2}, {:.2}]", g.x0, g.x1);

    let (_, gate) = neuron_gate::grad(w[0], w[1], w[2], x[0], x[1]);
    let worst = [
        g.w0 - gate.w0,
        g.w1 - gate.w1,
        g.w2 - gate.w2,
        g.x0 - gate.x0,
        g.x1 - gate.x1,
    ]
    .iter()
    .fold(0.0_f64, |m, e| m.max(e.abs()));
    println!("sigmoid as one gate agrees to {worst:e}");
    println!();
    println!("The generated backward pass of the gate version:");
    println!();
    let source = neuron_gate::SOURCE;
    let start = source.find("pub fn backward").unwrap_or(0);
    let end = source[start..]
        .find("\n}\n")
        .map_or(source.len(), |e| start + e + 3);
    print!("{}", &source[start..end]);
}
