//! The generated code, checked in: every change to what the macro emits shows up
//! in review as a diff of `tests/snapshots/expansions.rs`. That file is also
//! compiled back as source here, and must agree with the macro's own output.
//!
//! After an intended change: `BLESS=1 cargo test --test snapshot`, then review
//! the diff.

use backprop_runtime::{differentiate, sigmoid};
use num_traits::Float;

/// The blog's function, with the blog's node names.
#[differentiate]
fn f(x: f64, y: f64) -> f64 {
    let sigx = sigmoid(x);
    let sigy = sigmoid(y);
    let numer = x + sigy;
    let xandy = x + y;
    let xandysqr = xandy * xandy;
    let denom = xandysqr + sigx;
    let rec_denom = 1.0 / denom;
    numer * rec_denom
}

/// The blog's `sig` helper, differentiated on its own.
#[differentiate]
fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The blog's function written inline, calling the helper.
#[differentiate]
fn f_inline(x: f64, y: f64) -> f64 {
    (x + sig(y)) / (sig(x) + (x + y).powi(2))
}

/// Mutation, shadowing, a pass-through parameter and `wrt`, in f32.
#[differentiate(wrt(x))]
fn damped(x: f32, rate: f32, steps: i32) -> f32 {
    let mut v = x * rate;
    v -= v.powi(steps) * 0.5;
    let v = v.tanh();
    v * x
}

/// A loop and a branch: the push/pop code of the tape's stacks.
#[differentiate]
fn soft_power(x: f64, n: usize) -> f64 {
    let mut p = 1.0;
    for i in 0..n {
        if i % 2 == 0 {
            p *= x;
        } else {
            p = p * x.sin() + 1.0;
        }
    }
    if p > 1.0 {
        p.ln() + 1.0
    } else {
        p
    }
}

/// Generic over the float type, with a slice written in place by a call.
#[differentiate]
fn scaled_logistic<T: Float>(w: &[T], x: T) -> T {
    let mut h = w.to_vec();
    scale(&mut h, x);
    let mut total = T::zero();
    for v in &h {
        total = total + sigmoid(*v);
    }
    total * T::from(0.5).unwrap()
}

/// Writes its first argument: its seed is the adjoint of the final contents.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn scale<T: Float>(v: &mut [T], by: T) {
    for i in 0..v.len() {
        v[i] = v[i] * by;
    }
}

/// An iterator chain, rewritten into its loop.
#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A model whose methods are differentiated with respect to its fields.
pub struct Linear {
    pub w: Vec<f64>,
    pub b: f64,
}

#[differentiate]
impl Linear {
    #[differentiate]
    fn predict(&self, x: &[f64]) -> f64 {
        dot(&self.w, x) + self.b
    }

    #[differentiate]
    fn loss(&self, x: &[f64], y: f64) -> f64 {
        let e = self.predict(x) - y;
        e * e
    }
}

const FUNCTIONS: &[(&str, &str)] = &[
    ("f", f::SOURCE),
    ("sig", sig::SOURCE),
    ("f_inline", f_inline::SOURCE),
    ("damped", damped::SOURCE),
    ("soft_power", soft_power::SOURCE),
    ("scaled_logistic", scaled_logistic::SOURCE),
    ("scale", scale::SOURCE),
    ("dot", dot::SOURCE),
    ("linear_predict", linear_predict::SOURCE),
    ("linear_loss", linear_loss::SOURCE),
];

fn render() -> String {
    let mut out = String::from(
        "// Generated code of the functions in tests/snapshot.rs, as their `SOURCE`\n\
         // constants print it. Rewrite with `BLESS=1 cargo test --test snapshot`.\n",
    );
    for (name, source) in FUNCTIONS {
        out.push_str(&format!(
            "\npub mod {name} {{\n    #[allow(unused_imports)]\n    use super::*;\n\n"
        ));
        for line in source.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str(&format!("    {line}\n"));
            }
        }
        out.push_str("}\n");
    }
    out
}

#[test]
fn expansion_matches_the_snapshot() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/expansions.rs");
    let rendered = render();
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, &rendered).expect("write the snapshot");
        return;
    }
    let checked_in = std::fs::read_to_string(path).expect("read the snapshot");
    if checked_in != rendered {
        let first = checked_in
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "the generated code changed (first difference at line {}); review it and run \
             `BLESS=1 cargo test --test snapshot`\n\ngenerated now:\n{rendered}",
            first + 1
        );
    }
}

/// The snapshot, compiled as ordinary source.
#[allow(dead_code, clippy::all)]
mod pasted {
    use super::Linear;
    use num_traits::Float;
    include!("snapshots/expansions.rs");
}

#[test]
fn pasted_expansion_compiles_and_agrees() {
    for (x, y) in [(3.0, -4.0), (0.5, 1.5)] {
        let (pasted_value, pasted) = pasted::f::grad(x, y);
        let (value, g) = f::grad(x, y);
        assert_eq!((pasted_value, pasted.x, pasted.y), (value, g.x, g.y));
        let (pasted_value, pasted) = pasted::f_inline::grad(x, y);
        let (value, g) = f_inline::grad(x, y);
        assert_eq!((pasted_value, pasted.x, pasted.y), (value, g.x, g.y));
    }
    for n in [0, 1, 4] {
        let (pasted_value, pasted) = pasted::soft_power::grad(1.3, n);
        let (value, g) = soft_power::grad(1.3, n);
        assert_eq!((pasted_value, pasted.x), (value, g.x));
    }
    let w = [0.5, -1.5, 2.0];
    let (pasted_value, pasted) = pasted::scaled_logistic::grad(&w, 0.8);
    let (value, g) = scaled_logistic::grad(&w, 0.8);
    assert_eq!((pasted_value, pasted.w, pasted.x), (value, g.w, g.x));
    let model = Linear {
        w: vec![0.5, -1.0],
        b: 0.25,
    };
    let x = [2.0, 0.5];
    let (pasted_value, pasted) = pasted::linear_loss::grad(&model, &model.w, model.b, &x, 1.5);
    let (value, g) = model.loss_grad(&x, 1.5);
    assert_eq!((pasted_value, pasted.w, pasted.b), (value, g.w, g.b));
    let (pasted_value, pasted) = pasted::damped::grad(0.7, 1.3, 3);
    let (value, g) = damped::grad(0.7, 1.3, 3);
    assert_eq!((pasted_value, pasted.x), (value, g.x));
}
