//! A multilayer perceptron trained end to end with gradients from
//! `#[differentiate]` alone: 2 inputs, two hidden layers of 16 tanh units and a
//! sigmoid output, on two interleaved spirals, with minibatch SGD (momentum).
//!
//! The model is a struct that derives `Differentiable`; the loss is ordinary
//! Rust over it, and its gradient is an `MlpGrad`, the same fields. Each
//! minibatch's gradient is summed with `loss::grad_into`, reusing one tape and
//! one gradient: no allocation per example. The first gradient is checked
//! against finite differences, and the loss curve is written to
//! `target/mlp-loss.svg`.

use backprop_runtime::{differentiate, softplus, Differentiable, GradOf, Gradient};

/// Hidden units per layer.
pub const H: usize = 16;
/// The number of parameters.
pub const PARAMS: usize = 2 * H + H + H * H + H + H + 1;

/// The network's weights and biases, layer by layer.
#[derive(Differentiable, Clone, Debug)]
pub struct Mlp {
    /// First layer: `w1[2 * j + i]` from input `i` to unit `j`.
    pub w1: Vec<f64>,
    pub b1: Vec<f64>,
    /// Second layer: `w2[H * j + i]` from unit `i` to unit `j`.
    pub w2: Vec<f64>,
    pub b2: Vec<f64>,
    /// Output layer.
    pub w3: Vec<f64>,
    pub b3: f64,
}

impl Mlp {
    /// The parameters from one vector, layer by layer (for checks).
    pub fn from_floats(v: &[f64]) -> Mlp {
        let mut rest = v;
        let mut take = |n: usize| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head.to_vec()
        };
        let (w1, b1, w2, b2, w3) = (take(2 * H), take(H), take(H * H), take(H), take(H));
        Mlp {
            w1,
            b1,
            w2,
            b2,
            w3,
            b3: take(1)[0],
        }
    }

    /// Every parameter in one vector, in `from_floats`' order.
    pub fn floats(&self) -> Vec<f64> {
        [&self.w1, &self.b1, &self.w2, &self.b2, &self.w3]
            .into_iter()
            .flatten()
            .copied()
            .chain([self.b3])
            .collect()
    }
}

/// A gradient in `Mlp::floats`' order.
pub fn gradient_floats(g: &GradOf<Mlp>) -> Vec<f64> {
    [&g.w1, &g.b1, &g.w2, &g.b2, &g.w3]
        .into_iter()
        .flatten()
        .copied()
        .chain([g.b3])
        .collect()
}

/// Binary cross-entropy of the network's output for one example, from the
/// output's logit: `softplus(z) - label * z` (that is, `-ln p` for label 1 and
/// `-ln(1 - p)` for label 0, with `p = sigmoid(z)`).
#[differentiate(wrt(p))]
#[allow(clippy::needless_range_loop)] // `j` indexes a layer's weights too
pub fn loss(p: &Mlp, x0: f64, x1: f64, label: f64) -> f64 {
    let mut h1 = [0.0; H];
    for j in 0..H {
        let s = p.w1[2 * j] * x0 + p.w1[2 * j + 1] * x1 + p.b1[j];
        h1[j] = s.tanh();
    }
    let mut h2 = [0.0; H];
    for j in 0..H {
        let mut s = p.b2[j];
        for (i, &h) in h1.iter().enumerate() {
            s += p.w2[H * j + i] * h;
        }
        h2[j] = s.tanh();
    }
    let mut z = p.b3;
    for (i, &h) in h2.iter().enumerate() {
        z += p.w3[i] * h;
    }
    softplus(z) - label * z
}

/// The predicted probability of label 1: the loss for label 1 is `-ln p`.
pub fn probability(p: &Mlp, x0: f64, x1: f64) -> f64 {
    (-loss(p, x0, x1, 1.0)).exp()
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

fn accuracy(p: &Mlp, data: &[(f64, f64, f64)]) -> f64 {
    let correct = data
        .iter()
        .filter(|&&(x0, x1, label)| (probability(p, x0, x1) > 0.5) == (label > 0.5))
        .count();
    correct as f64 / data.len() as f64
}

/// The first gradient against central differences, every coordinate.
fn check_gradient(p: &Mlp, (x0, x1, label): (f64, f64, f64)) -> f64 {
    let (_, g) = loss::grad(p, x0, x1, label);
    let generated = gradient_floats(&g.p);
    let floats = p.floats();
    let mut worst = 0.0_f64;
    let mut probe = floats.clone();
    for i in 0..floats.len() {
        let h = 1e-6;
        probe[i] = floats[i] + h;
        let up = loss(&Mlp::from_floats(&probe), x0, x1, label);
        probe[i] = floats[i] - h;
        let down = loss(&Mlp::from_floats(&probe), x0, x1, label);
        probe[i] = floats[i];
        let numeric = (up - down) / (2.0 * h);
        worst = worst.max((numeric - generated[i]).abs() / numeric.abs().max(1.0));
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
    // Glorot-like uniform weights, zero biases.
    let mut layer = |n: usize, fan_in: f64| -> Vec<f64> {
        (0..n)
            .map(|_| rng.uniform(-1.0, 1.0) * (3.0 / fan_in).sqrt())
            .collect()
    };
    let (w1, w2, w3) = (
        layer(2 * H, 2.0),
        layer(H * H, H as f64),
        layer(H, H as f64),
    );
    let mut params = Mlp {
        w1,
        b1: vec![0.0; H],
        w2,
        b2: vec![0.0; H],
        w3,
        b3: 0.0,
    };

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
    let mut velocity = params.zero_grad();
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
            gradient.clear();
            for &k in chunk {
                let (x0, x1, label) = data[k];
                total += loss::grad_into(&params, x0, x1, label, &mut tape, &mut gradient);
            }
            // Momentum: v = momentum v - rate * mean gradient; p += v.
            velocity.scale(momentum);
            velocity.add_scaled(-rate / chunk.len() as f64, &gradient.p);
            params.add_scaled(1.0, &velocity);
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
