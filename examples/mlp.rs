//! A multilayer perceptron trained end to end with gradients from
//! `#[differentiate]` alone: 2 inputs, two hidden layers of 16 tanh units and a
//! sigmoid output, on two interleaved spirals, with minibatch SGD (momentum).
//!
//! The loss is ordinary Rust over a slice of parameters. Each minibatch's
//! gradient is summed with `loss::backward_into`, reusing one tape and one
//! gradient buffer: no allocation per example. The first gradient is checked
//! against finite differences, and the loss curve is written to
//! `target/mlp-loss.svg`.

use backprop_runtime::{differentiate, softplus};

/// Hidden units per layer.
pub const H: usize = 16;
/// Where each layer's weights start in the parameter slice.
const W1: usize = 0;
const B1: usize = W1 + 2 * H;
const W2: usize = B1 + H;
const B2: usize = W2 + H * H;
const W3: usize = B2 + H;
const B3: usize = W3 + H;
/// The number of parameters.
pub const PARAMS: usize = B3 + 1;

/// Binary cross-entropy of the network's output for one example, from the
/// output's logit: `softplus(z) - label * z` (that is, `-ln p` for label 1 and
/// `-ln(1 - p)` for label 0, with `p = sigmoid(z)`).
#[differentiate(wrt(params))]
pub fn loss(params: &[f64], x0: f64, x1: f64, label: f64) -> f64 {
    let mut h1 = [0.0; H];
    for j in 0..H {
        let s = params[W1 + 2 * j] * x0 + params[W1 + 2 * j + 1] * x1 + params[B1 + j];
        h1[j] = s.tanh();
    }
    let mut h2 = [0.0; H];
    for j in 0..H {
        let mut s = params[B2 + j];
        for (i, &h) in h1.iter().enumerate() {
            s += params[W2 + H * j + i] * h;
        }
        h2[j] = s.tanh();
    }
    let mut z = params[B3];
    for (i, &h) in h2.iter().enumerate() {
        z += params[W3 + i] * h;
    }
    softplus(z) - label * z
}

/// The predicted probability of label 1: the loss for label 1 is `-ln p`.
pub fn probability(params: &[f64], x0: f64, x1: f64) -> f64 {
    (-loss(params, x0, x1, 1.0)).exp()
}

/// xorshift64*: seeded, so runs repeat.
pub struct Rng(pub u64);

impl Rng {
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        lo + (hi - lo) * (bits as f64 / (1u64 << 53) as f64)
    }
}

/// Two interleaved spirals: (x0, x1, label).
pub fn spirals(per_class: usize, rng: &mut Rng) -> Vec<(f64, f64, f64)> {
    let mut data = Vec::with_capacity(2 * per_class);
    for k in 0..per_class {
        let t = k as f64 / per_class as f64;
        let (radius, angle) = (0.1 + 0.9 * t, 3.0 * std::f64::consts::PI * t);
        for (label, offset) in [(0.0, 0.0), (1.0, std::f64::consts::PI)] {
            let noise = (rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03));
            let (s, c) = (angle + offset).sin_cos();
            data.push((radius * c + noise.0, radius * s + noise.1, label));
        }
    }
    data
}

fn accuracy(params: &[f64], data: &[(f64, f64, f64)]) -> f64 {
    let correct = data
        .iter()
        .filter(|&&(x0, x1, label)| (probability(params, x0, x1) > 0.5) == (label > 0.5))
        .count();
    correct as f64 / data.len() as f64
}

/// The first gradient against central differences, every coordinate.
fn check_gradient(params: &[f64], (x0, x1, label): (f64, f64, f64)) -> f64 {
    let (_, g) = loss::grad(params, x0, x1, label);
    let mut worst = 0.0_f64;
    let mut probe = params.to_vec();
    for i in 0..params.len() {
        let h = 1e-6;
        probe[i] = params[i] + h;
        let up = loss(&probe, x0, x1, label);
        probe[i] = params[i] - h;
        let down = loss(&probe, x0, x1, label);
        probe[i] = params[i];
        let numeric = (up - down) / (2.0 * h);
        worst = worst.max((numeric - g.params[i]).abs() / numeric.abs().max(1.0));
    }
    worst
}

/// The loss curve as an SVG a person can open.
fn write_svg(losses: &[f64], path: &std::path::Path) -> std::io::Result<()> {
    let (width, height, margin) = (640.0, 360.0, 40.0);
    let top = losses.iter().copied().fold(f64::MIN, f64::max);
    let points: Vec<String> = losses
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let x = margin + (width - 2.0 * margin) * i as f64 / (losses.len().max(2) - 1) as f64;
            let y = height - margin - (height - 2.0 * margin) * l / top;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<line x1="{margin}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="black"/>
<line x1="{margin}" y1="{margin}" x2="{margin}" y2="{bottom}" stroke="black"/>
<text x="{mid}" y="{label_y}" text-anchor="middle">epoch (0 to {epochs})</text>
<text x="{margin}" y="{title_y}">mean cross-entropy loss (0 to {top:.3})</text>
<polyline fill="none" stroke="steelblue" stroke-width="2" points="{points}"/>
</svg>
"##,
        bottom = height - margin,
        right = width - margin,
        mid = width / 2.0,
        label_y = height - 10.0,
        title_y = margin - 10.0,
        epochs = losses.len().saturating_sub(1),
        points = points.join(" "),
    );
    std::fs::write(path, svg)
}

fn main() {
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let data = spirals(200, &mut rng);
    let mut params: Vec<f64> = (0..PARAMS)
        .map(|i| {
            let fan_in = if i < B1 { 2.0 } else { H as f64 };
            rng.uniform(-1.0, 1.0) * (3.0 / fan_in).sqrt()
        })
        .collect();
    for bias in [B1..W2, B2..W3, B3..PARAMS] {
        params[bias].fill(0.0);
    }

    // `cargo run --release --example mlp -- --graph` draws one example's
    // loss: its loops with their first iterations, each value and adjoint.
    if std::env::args().any(|a| a == "--graph") {
        let (x0, x1, label) = data[7];
        let picture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/mlp-graph.svg");
        let _ = std::fs::create_dir_all(picture.parent().unwrap_or(&picture));
        match loss::graph(&params, x0, x1, label).write_svg(&picture) {
            Ok(()) => println!("the loss's graph at one example: {}", picture.display()),
            Err(e) => println!("could not write {}: {e}", picture.display()),
        }
    }

    let worst = check_gradient(&params, data[7]);
    println!("first gradient vs central differences over {PARAMS} parameters: worst relative error {worst:.1e}");
    assert!(
        worst < 1e-6,
        "the generated gradient disagrees with finite differences"
    );

    let (epochs, batch, rate, momentum) = (600, 32, 0.05, 0.9);
    let mut velocity = vec![0.0; PARAMS];
    let mut tape = loss::Tape::default();
    let mut gradient = loss::Grad::default();
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut losses = Vec::with_capacity(epochs);
    let start = std::time::Instant::now();
    for epoch in 0..epochs {
        // Shuffle (Fisher-Yates) so minibatches differ from epoch to epoch.
        for i in (1..order.len()).rev() {
            let j = (rng.uniform(0.0, 1.0) * (i + 1) as f64) as usize;
            order.swap(i, j.min(i));
        }
        let mut total = 0.0;
        for chunk in order.chunks(batch) {
            gradient.params.iter_mut().for_each(|g| *g = 0.0);
            for &k in chunk {
                let (x0, x1, label) = data[k];
                total += loss::forward_into(&mut tape, &params, x0, x1, label);
                loss::backward_into(&tape, 1.0, &mut gradient);
            }
            let scale = rate / chunk.len() as f64;
            for ((p, v), g) in params.iter_mut().zip(&mut velocity).zip(&gradient.params) {
                *v = momentum * *v - scale * g;
                *p += *v;
            }
        }
        let mean = total / data.len() as f64;
        losses.push(mean);
        if epoch % 50 == 0 || epoch + 1 == epochs {
            println!(
                "epoch {epoch:>4}  loss {mean:.4}  accuracy {:.1}%",
                100.0 * accuracy(&params, &data)
            );
        }
    }
    let final_accuracy = accuracy(&params, &data);
    println!(
        "trained in {:.2?}: training accuracy {:.1}% on {} points",
        start.elapsed(),
        100.0 * final_accuracy,
        data.len()
    );
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let path = target.join("mlp-loss.svg");
    match std::fs::create_dir_all(&target).and_then(|()| write_svg(&losses, &path)) {
        Ok(()) => println!("loss curve: {}", path.display()),
        Err(error) => println!("could not write the loss curve: {error}"),
    }
}
