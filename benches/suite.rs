//! The benchmark suite: generated gradients against the hand-written limit and
//! against the peers a user would pick instead, each as a ratio measured in the
//! same run. `cargo bench` runs it and prints the README's table at the end.
//!
//! 1. The blog's function: hand-written backward, generated `grad`, the plain
//!    function, num-dual's forward-mode `gradient`, ad_trait's reverse mode.
//! 2. An MLP loss over 833 parameters (8-32-16-1, tanh): hand-written backprop,
//!    the generated gradient through `backward_into`, ad_trait, and num-dual's
//!    per-example cost (one forward-mode pass per parameter).
//! 3. Scaling from about 100 to 100,000 parameters: time and peak tape memory.
//! 4. Expansion cost of the macro on long straight-line and loop-heavy functions.
//! 5. ADBench's GMM, bundle adjustment and LSTM, written with helpers over
//!    sub-slices: the gradient's time against the objective's, and its memory.
//! 6. Other modes: `tangent` against the function, `tangents` (8 directions
//!    in one pass) against 8 `tangent`s, `jacobian_fwd` against the reverse
//!    `jacobian`, `hvp` against the gradient, `hessian` against `hvp` and
//!    against num-dual's and ad_trait's Hessians.
//! 7. A long simulation (RK4, 10^4 to 10^6 steps): gradient time and tape
//!    size, the baseline for checkpointing.

use backprop_runtime::differentiate;
use criterion::Criterion;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

// ---------------------------------------------------------------------------
// Memory: a counting allocator, for the tape's peak size.

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most memory `run` holds at once beyond what was held before it.
fn peak_bytes<T>(run: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = run();
    (out, PEAK.load(Ordering::Relaxed) - base)
}

// ---------------------------------------------------------------------------
// 1. The blog's function.

/// The blog example's function and its hand-written backward pass, measured as
/// the example runs them.
#[allow(dead_code)]
#[path = "../examples/blog.rs"]
mod blog_example;

mod blog {
    use ad_trait::nalgebra::ComplexField;
    use ad_trait::AD;
    use num_dual::DualNum;

    /// For num-dual: the same function over dual numbers.
    pub fn dual<D: DualNum<Primitive = f64> + Copy>(x: D, y: D) -> D {
        let one = D::from(1.0);
        let sig = |v: D| one / (one + (-v).exp());
        (x + sig(y)) / (sig(x) + (x + y) * (x + y))
    }

    /// For ad_trait: the same function over its AD types.
    pub fn generic<T: AD>(x: T, y: T) -> T {
        let one = T::constant(1.0);
        let sig = |v: T| one / (one + ComplexField::exp(-v));
        (x + sig(y)) / (sig(x) + (x + y) * (x + y))
    }
}

fn bench_blog(c: &mut Criterion) {
    use ad_trait::reverse_ad::adr::adr;
    use nalgebra::SVector;
    use num_dual::{gradient, DualSVec64};

    // The implementations agree before they are timed.
    let (value, g) = blog_example::f::grad(3.0, -4.0);
    let (hand, dx, dy) = blog_example::blog_by_hand(3.0, -4.0);
    assert!((value - hand).abs() < 1e-12 && (g.x - dx).abs() < 1e-12 && (g.y - dy).abs() < 1e-12);

    let mut group = c.benchmark_group("blog");
    group.bench_function("hand-written", |b| {
        b.iter(|| blog_example::blog_by_hand(black_box(3.0), black_box(-4.0)))
    });
    group.bench_function("generated", |b| {
        b.iter(|| blog_example::f::grad(black_box(3.0), black_box(-4.0)))
    });
    group.bench_function("function", |b| {
        b.iter(|| blog_example::f(black_box(3.0), black_box(-4.0)))
    });
    group.bench_function("num-dual", |b| {
        b.iter(|| {
            let point = SVector::from([black_box(3.0), black_box(-4.0)]);
            gradient(
                |v: SVector<DualSVec64<2>, 2>| blog::dual(v[0], v[1]),
                &point,
            )
        })
    });
    group.bench_function("ad_trait", |b| {
        b.iter(|| {
            let x = adr::new_variable(black_box(3.0), true);
            let y = adr::new_variable(black_box(-4.0), false);
            let out = blog::generic(x, y);
            let grad = out.get_backwards_mode_grad();
            (out.value(), grad.wrt(&x), grad.wrt(&y))
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------
// 2. An MLP loss over 833 parameters: 8 inputs, 32 and 16 tanh units, 1 output.

mod mlp {
    use super::differentiate;
    use ad_trait::nalgebra::ComplexField;
    use ad_trait::AD;
    use num_dual::DualNum;

    pub const I: usize = 8;
    pub const H1: usize = 32;
    pub const H2: usize = 16;
    const W1: usize = 0;
    const B1: usize = W1 + I * H1;
    const W2: usize = B1 + H1;
    const B2: usize = W2 + H1 * H2;
    const W3: usize = B2 + H2;
    const B3: usize = W3 + H2;
    pub const PARAMS: usize = B3 + 1;

    /// Squared error of the network's output on one example.
    #[differentiate(wrt(p))]
    #[allow(clippy::needless_range_loop)]
    pub fn loss(p: &[f64], x: &[f64], y: f64) -> f64 {
        let mut h1 = [0.0; H1];
        for j in 0..H1 {
            let mut s = p[B1 + j];
            for i in 0..I {
                s += p[W1 + j * I + i] * x[i];
            }
            h1[j] = s.tanh();
        }
        let mut h2 = [0.0; H2];
        for j in 0..H2 {
            let mut s = p[B2 + j];
            for i in 0..H1 {
                s += p[W2 + j * H1 + i] * h1[i];
            }
            h2[j] = s.tanh();
        }
        let mut z = p[B3];
        for i in 0..H2 {
            z += p[W3 + i] * h2[i];
        }
        let e = z - y;
        e * e
    }

    /// The same network as a model struct, one vector per layer's weights.
    #[derive(backprop_runtime::Differentiable, Clone)]
    pub struct Net {
        pub w1: Vec<f64>,
        pub b1: Vec<f64>,
        pub w2: Vec<f64>,
        pub b2: Vec<f64>,
        pub w3: Vec<f64>,
        pub b3: f64,
    }

    impl Net {
        /// The layers of a parameter vector laid out as `loss` reads it.
        pub fn from_params(p: &[f64]) -> Net {
            Net {
                w1: p[W1..B1].to_vec(),
                b1: p[B1..W2].to_vec(),
                w2: p[W2..B2].to_vec(),
                b2: p[B2..W3].to_vec(),
                w3: p[W3..B3].to_vec(),
                b3: p[B3],
            }
        }
    }

    /// `loss` over the struct: the same arithmetic, each field a slice.
    #[differentiate(wrt(net))]
    #[allow(clippy::needless_range_loop)]
    pub fn loss_struct(net: &Net, x: &[f64], y: f64) -> f64 {
        let mut h1 = [0.0; H1];
        for j in 0..H1 {
            let mut s = net.b1[j];
            for i in 0..I {
                s += net.w1[j * I + i] * x[i];
            }
            h1[j] = s.tanh();
        }
        let mut h2 = [0.0; H2];
        for j in 0..H2 {
            let mut s = net.b2[j];
            for i in 0..H1 {
                s += net.w2[j * H1 + i] * h1[i];
            }
            h2[j] = s.tanh();
        }
        let mut z = net.b3;
        for i in 0..H2 {
            z += net.w3[i] * h2[i];
        }
        let e = z - y;
        e * e
    }

    /// The network as a slice of layers, the way a library of layers is
    /// written: each layer its own struct, the activations in one buffer as
    /// wide as the widest layer.
    #[derive(backprop_runtime::Differentiable, Clone)]
    pub struct Dense {
        pub w: Vec<f64>,
        pub b: Vec<f64>,
        pub inputs: usize,
        pub activated: bool,
    }

    /// The three layers of a parameter vector laid out as `loss` reads it.
    pub fn layers_from_params(p: &[f64]) -> Vec<Dense> {
        vec![
            Dense {
                w: p[W1..B1].to_vec(),
                b: p[B1..W2].to_vec(),
                inputs: I,
                activated: true,
            },
            Dense {
                w: p[W2..B2].to_vec(),
                b: p[B2..W3].to_vec(),
                inputs: H1,
                activated: true,
            },
            Dense {
                w: p[W3..B3].to_vec(),
                b: vec![p[B3]],
                inputs: H2,
                activated: false,
            },
        ]
    }

    /// `loss` over the slice of layers: a layer loop.
    #[differentiate(wrt(layers))]
    pub fn loss_layers(layers: &[Dense], x: &[f64], y: f64) -> f64 {
        let mut h = [0.0; H1];
        h[..I].copy_from_slice(x);
        for layer in layers {
            let mut next = [0.0; H1];
            for j in 0..layer.b.len() {
                let mut s = layer.b[j];
                for i in 0..layer.inputs {
                    s += layer.w[j * layer.inputs + i] * h[i];
                }
                next[j] = if layer.activated { s.tanh() } else { s };
            }
            h.copy_from_slice(&next);
        }
        let e = h[0] - y;
        e * e
    }

    /// `loss_struct` over separate slices: the struct's layout (a vector per
    /// layer) without the struct, for a comparison in the same memory.
    #[differentiate(wrt(w1, b1, w2, b2, w3, b3))]
    #[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
    pub fn loss_slices(
        w1: &[f64],
        b1: &[f64],
        w2: &[f64],
        b2: &[f64],
        w3: &[f64],
        b3: f64,
        x: &[f64],
        y: f64,
    ) -> f64 {
        let mut h1 = [0.0; H1];
        for j in 0..H1 {
            let mut s = b1[j];
            for i in 0..I {
                s += w1[j * I + i] * x[i];
            }
            h1[j] = s.tanh();
        }
        let mut h2 = [0.0; H2];
        for j in 0..H2 {
            let mut s = b2[j];
            for i in 0..H1 {
                s += w2[j * H1 + i] * h1[i];
            }
            h2[j] = s.tanh();
        }
        let mut z = b3;
        for i in 0..H2 {
            z += w3[i] * h2[i];
        }
        let e = z - y;
        e * e
    }

    /// Backpropagation written by hand, the way a careful engineer writes it:
    /// activations kept on the stack, gradients accumulated in place.
    #[allow(clippy::needless_range_loop)]
    pub fn by_hand(p: &[f64], x: &[f64], y: f64, g: &mut [f64]) -> f64 {
        let mut h1 = [0.0; H1];
        for j in 0..H1 {
            let row = &p[W1 + j * I..W1 + (j + 1) * I];
            let s = p[B1 + j] + row.iter().zip(x).map(|(w, x)| w * x).sum::<f64>();
            h1[j] = s.tanh();
        }
        let mut h2 = [0.0; H2];
        for j in 0..H2 {
            let row = &p[W2 + j * H1..W2 + (j + 1) * H1];
            let s = p[B2 + j] + row.iter().zip(&h1).map(|(w, h)| w * h).sum::<f64>();
            h2[j] = s.tanh();
        }
        let z = p[B3]
            + p[W3..W3 + H2]
                .iter()
                .zip(&h2)
                .map(|(w, h)| w * h)
                .sum::<f64>();
        let e = z - y;
        let dz = 2.0 * e;
        g[B3] += dz;
        let mut dh2 = [0.0; H2];
        for i in 0..H2 {
            g[W3 + i] += dz * h2[i];
            dh2[i] = dz * p[W3 + i];
        }
        let mut dh1 = [0.0; H1];
        for j in 0..H2 {
            let ds = dh2[j] * (1.0 - h2[j] * h2[j]);
            g[B2 + j] += ds;
            let row = W2 + j * H1;
            for i in 0..H1 {
                g[row + i] += ds * h1[i];
                dh1[i] += ds * p[row + i];
            }
        }
        for j in 0..H1 {
            let ds = dh1[j] * (1.0 - h1[j] * h1[j]);
            g[B1 + j] += ds;
            let row = W1 + j * I;
            for i in 0..I {
                g[row + i] += ds * x[i];
            }
        }
        e * e
    }

    /// The same scalar code over another number type (ad_trait, num-dual).
    macro_rules! generic_loss {
        ($name:ident, $bound:path, $constant:expr, $tanh:expr) => {
            // `s = s + ..`: not every number type here implements `+=`.
            #[allow(clippy::needless_range_loop, clippy::assign_op_pattern)]
            pub fn $name<T: $bound + Copy>(p: &[T], x: &[f64], y: f64) -> T {
                let constant = $constant;
                let tanh = $tanh;
                let mut h1 = [constant(0.0); H1];
                for j in 0..H1 {
                    let mut s = p[B1 + j];
                    for i in 0..I {
                        s = s + p[W1 + j * I + i] * constant(x[i]);
                    }
                    h1[j] = tanh(s);
                }
                let mut h2 = [constant(0.0); H2];
                for j in 0..H2 {
                    let mut s = p[B2 + j];
                    for i in 0..H1 {
                        s = s + p[W2 + j * H1 + i] * h1[i];
                    }
                    h2[j] = tanh(s);
                }
                let mut z = p[B3];
                for i in 0..H2 {
                    z = z + p[W3 + i] * h2[i];
                }
                let e = z - constant(y);
                e * e
            }
        };
    }

    generic_loss!(ad, AD, |v: f64| T::constant(v), |v: T| ComplexField::tanh(
        v
    ));
    generic_loss!(
        dual,
        DualNum<Primitive = f64>,
        |v: f64| T::from(v),
        |v: T| v.tanh()
    );

    pub fn random(seed: u64, n: usize) -> Vec<f64> {
        let mut state = seed.max(1);
        (0..n)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
                (bits as f64 / (1u64 << 53) as f64 - 0.5) * 0.6
            })
            .collect()
    }
}

fn bench_mlp(c: &mut Criterion) {
    use ad_trait::reverse_ad::adr::adr;
    use num_dual::Dual64;

    let (p, x, y) = (mlp::random(1, mlp::PARAMS), mlp::random(2, mlp::I), 0.3);
    // The implementations agree before they are timed.
    let mut hand = vec![0.0; mlp::PARAMS];
    mlp::by_hand(&p, &x, y, &mut hand);
    let (_, generated) = mlp::loss::grad(&p, &x, y);
    let worst = hand
        .iter()
        .zip(&generated.p)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-12,
        "hand-written and generated MLP gradients differ by {worst}"
    );

    let mut group = c.benchmark_group("mlp");
    let mut g = vec![0.0; mlp::PARAMS];
    group.bench_function("hand-written", |b| {
        b.iter(|| {
            g.iter_mut().for_each(|v| *v = 0.0);
            mlp::by_hand(black_box(&p), black_box(&x), y, &mut g)
        })
    });
    let mut tape = mlp::loss::Tape::default();
    let mut grad = mlp::loss::Grad::default();
    group.bench_function("generated", |b| {
        b.iter(|| {
            grad.p.iter_mut().for_each(|v| *v = 0.0);
            let value = mlp::loss::forward_into(&mut tape, black_box(&p), black_box(&x), y);
            mlp::loss::backward_into(&tape, 1.0, &mut grad);
            value
        })
    });
    // The fused path: the backward pass reads `p` and `x` themselves.
    group.bench_function("generated grad_into", |b| {
        b.iter(|| {
            grad.p.iter_mut().for_each(|v| *v = 0.0);
            mlp::loss::grad_into(black_box(&p), black_box(&x), y, &mut tape, &mut grad)
        })
    });
    // The same network as a model struct: `grad_into` over `&Net`.
    let net = mlp::Net::from_params(&p);
    let (_, by_struct) = mlp::loss_struct::grad(&net, &x, y);
    let flat: Vec<f64> = [
        &by_struct.net.w1,
        &by_struct.net.b1,
        &by_struct.net.w2,
        &by_struct.net.b2,
        &by_struct.net.w3,
    ]
    .into_iter()
    .flatten()
    .copied()
    .chain([by_struct.net.b3])
    .collect();
    assert_eq!(flat, generated.p, "the struct's gradient is the slice's");
    let ((), slice_bytes) = peak_bytes(|| drop(mlp::loss::grad(&p, &x, y)));
    let ((), struct_bytes) = peak_bytes(|| drop(mlp::loss_struct::grad(&net, &x, y)));
    println!("mlp peak memory of one grad: slice {slice_bytes} B, struct {struct_bytes} B");
    let mut struct_tape = mlp::loss_struct::Tape::default();
    let mut struct_grad = mlp::loss_struct::Grad::default();
    group.bench_function("generated grad_into, model struct", |b| {
        b.iter(|| {
            struct_grad.clear();
            mlp::loss_struct::grad_into(
                black_box(&net),
                black_box(&x),
                y,
                &mut struct_tape,
                &mut struct_grad,
            )
        })
    });
    // A slice of layer structs: the same arithmetic in a layer loop, its
    // fields gathered into one vector each per call.
    let layers = mlp::layers_from_params(&p);
    let (_, by_layers) = mlp::loss_layers::grad(&layers, &x, y);
    let layered: Vec<f64> = by_layers
        .layers
        .iter()
        .flat_map(|l| l.w.iter().chain(&l.b))
        .copied()
        .collect();
    // Layer by layer, weights then biases: the struct's fields in order.
    let reordered = &flat;
    let worst = layered
        .iter()
        .zip(reordered)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-12,
        "the layers' gradient is the struct's ({worst:e})"
    );
    let ((), layers_bytes) = peak_bytes(|| drop(mlp::loss_layers::grad(&layers, &x, y)));
    println!("mlp peak memory of one grad over a slice of layers: {layers_bytes} B");
    let mut layers_tape = mlp::loss_layers::Tape::default();
    let mut layers_grad = mlp::loss_layers::Grad::default();
    group.bench_function("generated grad_into, slice of layers", |b| {
        b.iter(|| {
            layers_grad.clear();
            mlp::loss_layers::grad_into(
                black_box(&layers),
                black_box(&x),
                y,
                &mut layers_tape,
                &mut layers_grad,
            )
        })
    });
    // The same vectors passed as separate slices: the struct's memory layout
    // (a vector per layer, each allocated on its own) without the struct.
    let mut slices_tape = mlp::loss_slices::Tape::default();
    let mut slices_grad = mlp::loss_slices::Grad::default();
    group.bench_function("generated grad_into, separate slices", |b| {
        b.iter(|| {
            slices_grad.clear();
            mlp::loss_slices::grad_into(
                black_box(&net.w1),
                black_box(&net.b1),
                black_box(&net.w2),
                black_box(&net.b2),
                black_box(&net.w3),
                net.b3,
                black_box(&x),
                y,
                &mut slices_tape,
                &mut slices_grad,
            )
        })
    });
    group.bench_function("ad_trait", |b| {
        b.iter(|| {
            let vars: Vec<adr> = p
                .iter()
                .enumerate()
                .map(|(i, &v)| adr::new_variable(v, i == 0))
                .collect();
            let out = mlp::ad(&vars, black_box(&x), y);
            let grad = out.get_backwards_mode_grad();
            vars.iter().map(|v| grad.wrt(v)).sum::<f64>()
        })
    });
    // Forward mode needs one pass per parameter: time one, report it times 833.
    group.bench_function("num-dual per parameter", |b| {
        b.iter(|| {
            let duals: Vec<Dual64> = p
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if i == 7 {
                        Dual64::from(v).derivative()
                    } else {
                        Dual64::from(v)
                    }
                })
                .collect();
            mlp::dual(&duals, black_box(&x), y).eps
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------
// 3. Scaling: one hidden layer of H tanh units on 8 inputs, 10 H + 1 parameters.

mod wide {
    use super::differentiate;

    pub const I: usize = 8;

    #[differentiate(wrt(p))]
    #[allow(clippy::needless_range_loop)]
    pub fn loss(p: &[f64], x: &[f64], y: f64, hidden: usize) -> f64 {
        let out = hidden * (I + 1);
        let mut z = p[out + hidden];
        for j in 0..hidden {
            let mut s = p[hidden * I + j];
            for i in 0..I {
                s += p[j * I + i] * x[i];
            }
            z += p[out + j] * s.tanh();
        }
        let e = z - y;
        e * e
    }

    #[allow(clippy::needless_range_loop)]
    pub fn by_hand(
        p: &[f64],
        x: &[f64],
        y: f64,
        hidden: usize,
        g: &mut [f64],
        h: &mut Vec<f64>,
    ) -> f64 {
        let out = hidden * (I + 1);
        h.clear();
        let mut z = p[out + hidden];
        for j in 0..hidden {
            let row = &p[j * I..(j + 1) * I];
            let s = p[hidden * I + j] + row.iter().zip(x).map(|(w, x)| w * x).sum::<f64>();
            let t = s.tanh();
            h.push(t);
            z += p[out + j] * t;
        }
        let e = z - y;
        let dz = 2.0 * e;
        g[out + hidden] += dz;
        for j in 0..hidden {
            g[out + j] += dz * h[j];
            let ds = dz * p[out + j] * (1.0 - h[j] * h[j]);
            g[hidden * I + j] += ds;
            for i in 0..I {
                g[j * I + i] += ds * x[i];
            }
        }
        e * e
    }
}

pub const WIDTHS: [usize; 4] = [10, 100, 1_000, 10_000];

fn bench_scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaling");
    for hidden in WIDTHS {
        let params = 10 * hidden + 1;
        let (p, x) = (mlp::random(3, params), mlp::random(4, wide::I));
        let mut g = vec![0.0; params];
        let mut h = Vec::with_capacity(hidden);
        group.bench_function(format!("hand-written {params}"), |b| {
            b.iter(|| {
                g.iter_mut().for_each(|v| *v = 0.0);
                wide::by_hand(black_box(&p), &x, 0.3, hidden, &mut g, &mut h)
            })
        });
        let mut tape = wide::loss::Tape::default();
        let mut grad = wide::loss::Grad::default();
        group.bench_function(format!("generated {params}"), |b| {
            b.iter(|| {
                grad.p.iter_mut().for_each(|v| *v = 0.0);
                let value = wide::loss::forward_into(&mut tape, black_box(&p), &x, 0.3, hidden);
                wide::loss::backward_into(&tape, 1.0, &mut grad);
                value
            })
        });
    }
    group.finish();
}

/// Peak memory of one forward pass's tape, per parameter count.
fn tape_memory() -> Vec<(usize, usize)> {
    WIDTHS
        .iter()
        .map(|&hidden| {
            let params = 10 * hidden + 1;
            let (p, x) = (mlp::random(3, params), mlp::random(4, wide::I));
            let (_, bytes) = peak_bytes(|| wide::loss::forward(&p, &x, 0.3, hidden));
            (params, bytes)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// 4. Expansion cost: the macro's own stages, compiled into this binary.

// The macro's stages at this crate's root, where their `crate::` paths point
// (the same list as `backprop-macro/src/lib.rs`).
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/analysis/mod.rs"]
mod analysis;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/derive.rs"]
mod derive;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/desugar/mod.rs"]
mod desugar;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/emit/mod.rs"]
mod emit;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/errors.rs"]
mod errors;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/expand.rs"]
mod expand;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/inline/mod.rs"]
mod inline;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/ir/mod.rs"]
mod ir;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/lower/mod.rs"]
mod lower;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/parse/mod.rs"]
mod parse;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/rules.rs"]
mod rules;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/twin.rs"]
mod twin;
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/valid.rs"]
mod valid;
// The stages' unit tests (compiled, not run, here) use it.
#[cfg(test)]
#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../backprop-macro/src/testing.rs"]
mod testing;

/// A straight-line function of `nodes` operations.
fn straight_line(nodes: usize) -> proc_macro2::TokenStream {
    let mut body = quote::quote!(let v0 = x * y;);
    for k in 1..nodes {
        let (prev, next) = (
            quote::format_ident!("v{}", k - 1),
            quote::format_ident!("v{k}"),
        );
        body.extend(match k % 4 {
            0 => quote::quote!(let #next = #prev * x + y;),
            1 => quote::quote!(let #next = #prev.sin() + x;),
            2 => quote::quote!(let #next = #prev * #prev - y;),
            _ => quote::quote!(let #next = (#prev * 0.5).tanh();),
        });
    }
    let last = quote::format_ident!("v{}", nodes - 1);
    quote::quote!(fn long(x: f64, y: f64) -> f64 { #body #last })
}

/// A function of `loops` loops, each with a branch and a carried variable.
fn loop_heavy(loops: usize) -> proc_macro2::TokenStream {
    let mut body = quote::quote!(let mut a = x;);
    for k in 0..loops {
        let k = k as u64;
        body.extend(quote::quote! {
            for i in 0..n {
                let t = a * x + i as f64;
                if t > #k as f64 {
                    a = t.sin();
                } else {
                    a += t * y;
                }
            }
        });
    }
    quote::quote!(fn loopy(x: f64, y: f64, n: usize) -> f64 { #body a })
}

fn bench_expansion(c: &mut Criterion) {
    let mut group = c.benchmark_group("expansion");
    for nodes in [125, 250, 500] {
        let item = straight_line(nodes);
        group.bench_function(format!("straight-line {nodes}"), |b| {
            b.iter(|| expand::differentiate(proc_macro2::TokenStream::new(), item.clone(), None))
        });
    }
    for loops in [10, 20, 40] {
        let item = loop_heavy(loops);
        group.bench_function(format!("loops {loops}"), |b| {
            b.iter(|| expand::differentiate(proc_macro2::TokenStream::new(), item.clone(), None))
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// 5. ADBench's objectives written with helpers over sub-slices (the same code
//    the tests check): the gradient's cost against the objective's and, for
//    GMM, against a hand-written gradient derived as ADBench's manual module
//    derives it; and the memory one gradient holds.

#[path = "../tests/objectives/adbench.rs"]
mod adbench;
#[path = "../tests/objectives/adbench_manual.rs"]
mod adbench_manual;

/// GMM problems `(d, K)` with 1000 points, as ADBench's sizes.
const GMM_SIZES: [(usize, usize); 2] = [(2, 5), (10, 50)];
const GMM_POINTS: usize = 1000;
/// Bundle adjustment: observations of 49 cameras' points, as ADBench draws them.
const BA_OBSERVATIONS: usize = 1000;
/// LSTM `(layers, characters, bits per character)`.
const LSTM_SIZES: [(usize, usize, usize); 2] = [(2, 1024, 14), (4, 1024, 14)];

struct Gmm {
    d: usize,
    k: usize,
    alphas: Vec<f64>,
    means: Vec<f64>,
    icf: Vec<f64>,
    x: Vec<f64>,
}

fn gmm_problem(d: usize, k: usize) -> Gmm {
    Gmm {
        d,
        k,
        alphas: mlp::random(11, k),
        means: mlp::random(12, d * k),
        icf: mlp::random(13, d * (d + 1) / 2 * k),
        x: mlp::random(14, d * GMM_POINTS),
    }
}

impl Gmm {
    fn objective(&self) -> f64 {
        adbench::gmm_objective(
            self.d,
            self.k,
            GMM_POINTS,
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            1.0,
            0,
        )
    }

    fn gradient(&self) -> f64 {
        let (value, g) = adbench::gmm_objective::grad(
            self.d,
            self.k,
            GMM_POINTS,
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            1.0,
            0,
        );
        value + g.icf[0]
    }

    /// The hand-written gradient, into buffers kept from the previous run.
    fn gradient_by_hand(&self, out: &mut [Vec<f64>; 3]) -> f64 {
        let [da, dm, di] = out;
        adbench_manual::gmm_gradient(
            self.d,
            self.k,
            GMM_POINTS,
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            1.0,
            0,
            da,
            dm,
            di,
        )
    }

    /// The gradient into a tape and a gradient kept from the previous run.
    fn gradient_into(
        &self,
        tape: &mut adbench::gmm_objective::Tape,
        grad: &mut adbench::gmm_objective::Grad,
    ) -> f64 {
        adbench::gmm_objective::grad_into(
            self.d,
            self.k,
            GMM_POINTS,
            &self.alphas,
            &self.means,
            &self.icf,
            &self.x,
            1.0,
            0,
            tape,
            grad,
        )
    }
}

/// The cameras ADBench's smallest instance has (`ba1_n49_m7776_p31843`).
const BA_CAMERAS: usize = 49;

/// The cameras (ADBench's layout, 11 parameters each) and the points they
/// see. As ADBench's reader does, one camera is repeated `BA_CAMERAS`
/// times and observation `i` is seen by camera `i % BA_CAMERAS`: with a
/// single camera for every observation, LLVM hoisted the camera's rotation
/// (its `sin`, `cos` and `sqrt`) out of the hand-written loop, which no
/// real problem allows.
fn ba_problem() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let one = [
        0.1, -0.2, 0.3, 0.5, 0.4, -3.0, 500.0, 10.0, 20.0, 1e-3, 1e-6,
    ];
    let cams: Vec<f64> = (0..BA_CAMERAS).flat_map(|_| one).collect();
    let points: Vec<f64> = mlp::random(21, 3 * BA_OBSERVATIONS)
        .iter()
        .enumerate()
        .map(|(i, v)| if i % 3 == 2 { 2.0 + v } else { *v })
        .collect();
    let feats = mlp::random(22, 2 * BA_OBSERVATIONS);
    (cams, points, feats)
}

/// The camera that sees observation `i`.
fn ba_camera(cams: &[f64], i: usize) -> &[f64] {
    let c = i % BA_CAMERAS;
    &cams[11 * c..11 * c + 11]
}

fn ba_objective(cams: &[f64], points: &[f64], feats: &[f64]) -> f64 {
    (0..BA_OBSERVATIONS)
        .map(|i| {
            let e = adbench::compute_reproj_error(
                ba_camera(cams, i),
                &points[3 * i..3 * i + 3],
                0.8,
                &feats[2 * i..2 * i + 2],
            );
            e[0] + e[1]
        })
        .sum()
}

/// Each observation's 2x15 Jacobian: one forward pass, two backward passes
/// reading the arguments themselves (`jacobian_into`), into one tape and two
/// rows reused from observation to observation.
fn ba_jacobian(cams: &[f64], points: &[f64], feats: &[f64]) -> f64 {
    use adbench::compute_reproj_error::{jacobian_into, Grad, Tape};
    let mut total = 0.0;
    let mut tape = Tape::default();
    let mut rows = [Grad::default(), Grad::default()];
    for i in 0..BA_OBSERVATIONS {
        for row in &mut rows {
            row.clear();
        }
        let e = jacobian_into(
            ba_camera(cams, i),
            &points[3 * i..3 * i + 3],
            0.8,
            &feats[2 * i..2 * i + 2],
            &mut tape,
            &mut rows,
        );
        for row in &rows {
            total += row.cam[6] + row.x[2] + row.w;
        }
        total += e[0];
    }
    total
}

/// The same Jacobians by hand.
fn ba_jacobian_by_hand(cams: &[f64], points: &[f64], feats: &[f64]) -> f64 {
    let mut total = 0.0;
    let mut rows = [[0.0; 15]; 2];
    for i in 0..BA_OBSERVATIONS {
        let e = adbench_manual::reprojection_jacobian(
            ba_camera(cams, i),
            &points[3 * i..3 * i + 3],
            0.8,
            &feats[2 * i..2 * i + 2],
            &mut rows,
        );
        total += rows[0][6] + rows[0][13] + rows[0][14] + rows[1][6] + rows[1][13] + rows[1][14];
        total += e[0];
    }
    total
}

struct Lstm {
    b: usize,
    main_params: Vec<f64>,
    extra: Vec<f64>,
    state: Vec<f64>,
    sequence: Vec<f64>,
}

fn lstm_problem(l: usize, c: usize, b: usize) -> Lstm {
    Lstm {
        b,
        main_params: mlp::random(31, 8 * b * l),
        extra: mlp::random(32, 3 * b),
        state: mlp::random(33, 2 * b * l),
        sequence: mlp::random(34, b * c),
    }
}

fn bench_adbench(c: &mut Criterion) -> Vec<(String, usize)> {
    let mut memory = Vec::new();
    let mut group = c.benchmark_group("adbench");
    group.sample_size(10);
    for (d, k) in GMM_SIZES {
        let problem = gmm_problem(d, k);
        group.bench_function(format!("gmm d={d} K={k} objective"), |b| {
            b.iter(|| black_box(&problem).objective())
        });
        group.bench_function(format!("gmm d={d} K={k} gradient"), |b| {
            b.iter(|| black_box(&problem).gradient())
        });
        let mut tape = adbench::gmm_objective::Tape::default();
        let mut grad = adbench::gmm_objective::Grad::default();
        group.bench_function(format!("gmm d={d} K={k} gradient reused"), |b| {
            b.iter(|| black_box(&problem).gradient_into(&mut tape, &mut grad))
        });
        let icf_sz = d * (d + 1) / 2;
        let mut out = [vec![0.0; k], vec![0.0; d * k], vec![0.0; icf_sz * k]];
        group.bench_function(format!("gmm d={d} K={k} manual"), |b| {
            b.iter(|| black_box(&problem).gradient_by_hand(&mut out))
        });
        let (_, bytes) = peak_bytes(|| problem.gradient());
        memory.push((format!("gmm d={d} K={k}"), bytes));
    }
    let (cams, points, feats) = ba_problem();
    group.bench_function("ba objective", |b| {
        b.iter(|| ba_objective(black_box(&cams), &points, &feats))
    });
    group.bench_function("ba jacobian", |b| {
        b.iter(|| ba_jacobian(black_box(&cams), &points, &feats))
    });
    group.bench_function("ba manual", |b| {
        b.iter(|| ba_jacobian_by_hand(black_box(&cams), &points, &feats))
    });
    let (_, bytes) = peak_bytes(|| ba_jacobian(&cams, &points, &feats));
    memory.push(("ba".to_string(), bytes));
    for (l, chars, bits) in LSTM_SIZES {
        let p = lstm_problem(l, chars, bits);
        group.bench_function(format!("lstm l={l} objective"), |b| {
            b.iter(|| {
                adbench::lstm_objective(
                    black_box(&p.main_params),
                    &p.extra,
                    &p.state,
                    &p.sequence,
                    p.b,
                )
            })
        });
        group.bench_function(format!("lstm l={l} gradient"), |b| {
            b.iter(|| {
                let (value, g) = adbench::lstm_objective::grad(
                    black_box(&p.main_params),
                    &p.extra,
                    &p.state,
                    &p.sequence,
                    p.b,
                );
                value + g.main_params[0]
            })
        });
        let (mut dm, mut de) = (vec![0.0; p.main_params.len()], vec![0.0; p.extra.len()]);
        group.bench_function(format!("lstm l={l} manual"), |b| {
            b.iter(|| {
                adbench_manual::lstm_gradient(
                    black_box(&p.main_params),
                    &p.extra,
                    &p.state,
                    &p.sequence,
                    p.b,
                    &mut dm,
                    &mut de,
                )
            })
        });
        let mut tape = adbench::lstm_objective::Tape::default();
        let mut grad = adbench::lstm_objective::Grad::default();
        group.bench_function(format!("lstm l={l} gradient reused"), |b| {
            b.iter(|| {
                adbench::lstm_objective::grad_into(
                    black_box(&p.main_params),
                    &p.extra,
                    &p.state,
                    &p.sequence,
                    p.b,
                    &mut tape,
                    &mut grad,
                )
            })
        });
        let (_, bytes) = peak_bytes(|| {
            adbench::lstm_objective::grad(&p.main_params, &p.extra, &p.state, &p.sequence, p.b)
        });
        memory.push((format!("lstm l={l}"), bytes));
    }
    group.finish();
    memory
}

// ---------------------------------------------------------------------------
// 6. Other modes: forward mode's `tangent` against the function, and
//    forward-over-reverse `hvp` against the gradient, on an extended
//    Rosenbrock function over a generic float.

mod modes {
    use backprop_runtime::{differentiate, Float};

    pub const N: usize = 10;

    #[differentiate]
    pub fn rosenbrock<T: Float>(x: &[T]) -> T {
        let hundred = T::from(100.0).unwrap();
        let mut total = T::zero();
        for i in 0..x.len() - 1 {
            let a = T::one() - x[i];
            let b = x[i + 1] - x[i] * x[i];
            total = total + a * a + hundred * b * b;
        }
        total
    }

    /// The blog's function, with second order asked for.
    #[differentiate(second_order)]
    pub fn blog(x: f64, y: f64) -> f64 {
        let sigx = backprop_runtime::sigmoid(x);
        let sigy = backprop_runtime::sigmoid(y);
        let numer = x + sigy;
        let xandy = x + y;
        let denom = xandy * xandy + sigx;
        numer / denom
    }

    /// A planar arm of three links: joint angles and link lengths in, each
    /// joint's position out (6 outputs of 6 inputs), for `jacobian_fwd`.
    #[differentiate]
    pub fn arm(angles: [f64; 3], lengths: [f64; 3]) -> [f64; 6] {
        let a1 = angles[0];
        let a2 = a1 + angles[1];
        let a3 = a2 + angles[2];
        let (x1, y1) = (lengths[0] * a1.cos(), lengths[0] * a1.sin());
        let (x2, y2) = (x1 + lengths[1] * a2.cos(), y1 + lengths[1] * a2.sin());
        let (x3, y3) = (x2 + lengths[2] * a3.cos(), y2 + lengths[2] * a3.sin());
        [x1, y1, x2, y2, x3, y3]
    }

    /// For ad_trait's forward-over-reverse Hessian: the function as its
    /// engine takes it.
    #[derive(Clone)]
    pub struct RosenbrockAd;

    impl<T: ad_trait::AD> ad_trait::differentiable_function::DifferentiableFunctionTrait<T>
        for RosenbrockAd
    {
        const NAME: &'static str = "rosenbrock";

        fn call(&self, x: &[T], _freeze: bool) -> Vec<T> {
            let (one, hundred) = (T::constant(1.0), T::constant(100.0));
            let mut total = T::constant(0.0);
            for i in 0..x.len() - 1 {
                let a = one - x[i];
                let b = x[i + 1] - x[i] * x[i];
                total = total + a * a + hundred * b * b;
            }
            vec![total]
        }

        fn num_inputs(&self) -> usize {
            N
        }

        fn num_outputs(&self) -> usize {
            1
        }
    }

    /// For num-dual's hyper-dual Hessian: the same function over its numbers.
    pub fn rosenbrock_dual<D: num_dual::DualNum<Primitive = f64> + Copy>(x: &[D]) -> D {
        let (one, hundred) = (D::from(1.0), D::from(100.0));
        let mut total = D::from(0.0);
        for i in 0..x.len() - 1 {
            let a = one - x[i];
            let b = x[i + 1] - x[i] * x[i];
            total = total + a * a + hundred * b * b;
        }
        total
    }
}

fn bench_modes(c: &mut Criterion) {
    let mut group = c.benchmark_group("modes");
    group.bench_function("blog tangent", |b| {
        b.iter(|| blog_example::f::tangent(black_box(3.0), black_box(-4.0), 1.0, 0.0))
    });
    // The blog's function over `f64`, asking for second order: its `hvp`
    // runs through the twin the macro writes over a generic float.
    group.bench_function("blog hvp", |b| {
        b.iter(|| modes::blog::hvp(black_box(3.0), black_box(-4.0), 1.0, 0.0))
    });
    let (p, x, y) = (mlp::random(1, mlp::PARAMS), mlp::random(2, mlp::I), 0.3);
    let direction = mlp::random(5, mlp::PARAMS);
    group.bench_function("mlp function", |b| {
        b.iter(|| mlp::loss(black_box(&p), black_box(&x), y))
    });
    group.bench_function("mlp tangent", |b| {
        b.iter(|| mlp::loss::tangent(black_box(&p), black_box(&x), y, &direction))
    });
    // Eight directions: one `tangents` pass against eight `tangent`s.
    let directions: Vec<Vec<f64>> = (0..8).map(|k| mlp::random(10 + k, mlp::PARAMS)).collect();
    let eight: [&[f64]; 8] = std::array::from_fn(|k| directions[k].as_slice());
    let (_, lanes) = mlp::loss::tangents(&p, &x, y, eight);
    for k in 0..8 {
        let (_, one) = mlp::loss::tangent(&p, &x, y, eight[k]);
        assert_eq!(lanes[k], one);
    }
    group.bench_function("mlp tangents 8", |b| {
        b.iter(|| mlp::loss::tangents(black_box(&p), black_box(&x), y, eight))
    });
    group.bench_function("mlp tangent x8", |b| {
        b.iter(|| {
            eight.map(|direction| mlp::loss::tangent(black_box(&p), black_box(&x), y, direction).1)
        })
    });
    // A Jacobian with as many outputs as inputs: forward mode's two passes
    // of four lanes against reverse mode's six backward passes.
    let (angles, lengths) = ([0.3, -0.7, 1.1], [1.0, 0.8, 0.5]);
    let (_, rows) = modes::arm::jacobian_fwd(angles, lengths);
    let (_, reverse) = modes::arm::jacobian(angles, lengths);
    for (row, back) in rows.iter().zip(&reverse) {
        for i in 0..3 {
            assert!((row.angles[i] - back.angles[i]).abs() < 1e-12);
            assert!((row.lengths[i] - back.lengths[i]).abs() < 1e-12);
        }
    }
    group.bench_function("arm function", |b| {
        b.iter(|| modes::arm(black_box(angles), black_box(lengths)))
    });
    group.bench_function("arm jacobian_fwd", |b| {
        b.iter(|| modes::arm::jacobian_fwd(black_box(angles), black_box(lengths)))
    });
    group.bench_function("arm jacobian", |b| {
        b.iter(|| modes::arm::jacobian(black_box(angles), black_box(lengths)))
    });
    let point: Vec<f64> = (0..modes::N).map(|i| 0.1 * i as f64 - 0.3).collect();
    let v: Vec<f64> = (0..modes::N).map(|i| 1.0 - 0.05 * i as f64).collect();
    group.bench_function("rosenbrock gradient", |b| {
        b.iter(|| modes::rosenbrock::grad(black_box(&point[..])))
    });
    group.bench_function("rosenbrock hvp", |b| {
        b.iter(|| modes::rosenbrock::hvp(black_box(&point[..]), &v[..]))
    });
    group.bench_function("rosenbrock hessian", |b| {
        b.iter(|| modes::rosenbrock::hessian(black_box(&point[..])))
    });
    // num-dual's Hessian: one pass over second-order dual numbers that carry
    // the whole gradient and Hessian.
    let fixed = nalgebra::SVector::<f64, { modes::N }>::from_column_slice(&point);
    let (_, _, matrix) = num_dual::hessian(
        |x: nalgebra::SVector<num_dual::Dual2SVec64<{ modes::N }>, { modes::N }>| {
            modes::rosenbrock_dual(x.as_slice())
        },
        &fixed,
    );
    let (_, rows) = modes::rosenbrock::hessian(&point[..]);
    for (i, row) in rows.iter().enumerate() {
        for (j, entry) in row.iter().enumerate() {
            assert!((entry - matrix[(i, j)]).abs() <= 1e-9 * entry.abs().max(1.0));
        }
    }
    // ad_trait's forward over reverse: its reverse-mode numbers carrying
    // ten tangent lanes, one pass for the whole Hessian.
    {
        use ad_trait::differentiable_function::HessianAD_FOR;
        use ad_trait::function_engine::FunctionEngine;
        let engine = FunctionEngine::new(
            modes::RosenbrockAd,
            // One type serves every AD number (`call` is generic).
            modes::RosenbrockAd,
            HessianAD_FOR::<{ modes::N }>::new(),
        );
        let (_, _, theirs) = engine.hessian(&point);
        for (i, row) in rows.iter().enumerate() {
            for (j, entry) in row.iter().enumerate() {
                assert!((entry - theirs[0][(i, j)]).abs() <= 1e-9 * entry.abs().max(1.0));
            }
        }
        group.bench_function("rosenbrock hessian ad_trait", |b| {
            b.iter(|| engine.hessian(black_box(&point)))
        });
    }
    group.bench_function("rosenbrock hessian num-dual", |b| {
        b.iter(|| {
            num_dual::hessian(
                |x: nalgebra::SVector<num_dual::Dual2SVec64<{ modes::N }>, { modes::N }>| {
                    modes::rosenbrock_dual(x.as_slice())
                },
                black_box(&fixed),
            )
        })
    });
    group.finish();
}

fn print_modes_table() {
    let ns = |id: &str| mean_ns("modes", id).unwrap_or(f64::NAN);
    println!("\n| other modes | time | ratio |");
    println!("|---|---|---|");
    let tangent = ns("blog tangent");
    let blog_function = mean_ns("blog", "function").unwrap_or(f64::NAN);
    println!(
        "| blog `tangent` | {tangent:.1} ns | tangent / function = {:.2} |",
        tangent / blog_function
    );
    let blog_grad = mean_ns("blog", "generated").unwrap_or(f64::NAN);
    let hvp = ns("blog hvp");
    println!(
        "| blog `hvp` (an `f64` function, through its generic twin) | {hvp:.1} ns | hvp / gradient = {:.2} |",
        hvp / blog_grad
    );
    let (tangent, function) = (ns("mlp tangent"), ns("mlp function"));
    println!(
        "| MLP `tangent`, one direction | {:.2} µs | tangent / function = {:.2} |",
        tangent / 1e3,
        tangent / function
    );
    let (lanes, singles) = (ns("mlp tangents 8"), ns("mlp tangent x8"));
    println!(
        "| MLP `tangents`, 8 directions in one pass | {:.2} µs | tangents / (8 x tangent) = {:.2}; / function = {:.1} |",
        lanes / 1e3,
        lanes / singles,
        lanes / function
    );
    let (arm, forward, reverse) = (
        ns("arm function"),
        ns("arm jacobian_fwd"),
        ns("arm jacobian"),
    );
    println!(
        "| 3-link arm, 6x6 `jacobian_fwd` | {forward:.0} ns | / reverse `jacobian` = {:.2}; / function = {:.1} |",
        forward / reverse,
        forward / arm
    );
    let (gradient, hvp, hessian) = (
        ns("rosenbrock gradient"),
        ns("rosenbrock hvp"),
        ns("rosenbrock hessian"),
    );
    println!(
        "| Rosenbrock n={} `hvp` | {:.2} µs | hvp / gradient = {:.2} |",
        modes::N,
        hvp / 1e3,
        hvp / gradient
    );
    println!(
        "| Rosenbrock n={} `hessian` | {:.2} µs | hessian / hvp = {:.1} (n = {}) |",
        modes::N,
        hessian / 1e3,
        hessian / hvp,
        modes::N
    );
    let peer = ns("rosenbrock hessian ad_trait");
    println!(
        "| Rosenbrock n={} ad_trait `hessian` (forward over reverse, 10 lanes) | {:.2} µs | {:.2} x generated `hessian` |",
        modes::N,
        peer / 1e3,
        peer / hessian
    );
    let peer = ns("rosenbrock hessian num-dual");
    println!(
        "| Rosenbrock n={} num-dual `hessian` (second-order dual numbers) | {:.2} µs | {:.2} x generated `hessian` |",
        modes::N,
        peer / 1e3,
        peer / hessian
    );
}

// ---------------------------------------------------------------------------
// The table.

/// Criterion's mean estimate for a benchmark, in nanoseconds.
fn mean_ns(group: &str, id: &str) -> Option<f64> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/criterion")
        .join(group)
        .join(id.replace('/', "_"))
        .join("new/estimates.json");
    let json = std::fs::read_to_string(dir).ok()?;
    let mean = json.split("\"mean\"").nth(1)?;
    let estimate = mean.split("\"point_estimate\":").nth(1)?;
    estimate.split([',', '}']).next()?.trim().parse().ok()
}

fn print_adbench_table(memory: &[(String, usize)]) {
    let ns = |id: &str| mean_ns("adbench", id).unwrap_or(f64::NAN);
    println!("\n| ADBench, written with helpers | objective | `grad` | `grad` / objective | `grad_into`, tape reused | `grad_into` / objective | by hand | `grad_into` / by hand | peak memory of one `grad` |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let row = |name: &str, objective: &str, gradient: &str| {
        let (o, g) = (ns(objective), ns(gradient));
        // Bundle adjustment's Jacobian always reuses its tape.
        let reused = mean_ns("adbench", &format!("{gradient} reused")).unwrap_or(g);
        let (by_hand, ratio) = match mean_ns("adbench", &format!("{name} manual")) {
            Some(m) => (format!("{:.2} ms", m / 1e6), format!("{:.1}", reused / m)),
            None => ("not ported".to_string(), "-".to_string()),
        };
        let bytes = memory
            .iter()
            .find(|(m, _)| m == name)
            .map_or(0, |(_, b)| *b);
        let memory = match bytes {
            b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
            b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
        };
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.1} | {:.2} ms | {:.1} | {by_hand} | {ratio} | {memory} |",
            o / 1e6,
            g / 1e6,
            g / o,
            reused / 1e6,
            reused / o,
        );
    };
    for (d, k) in GMM_SIZES {
        let name = format!("gmm d={d} K={k}");
        row(
            &name,
            &format!("{name} objective"),
            &format!("{name} gradient"),
        );
    }
    row("ba", "ba objective", "ba jacobian");
    for (l, _, _) in LSTM_SIZES {
        let name = format!("lstm l={l}");
        row(
            &name,
            &format!("{name} objective"),
            &format!("{name} gradient"),
        );
    }
}

fn print_table(memory: &[(usize, usize)]) {
    let ns = |g: &str, id: &str| mean_ns(g, id).unwrap_or(f64::NAN);
    let ratio = |a: f64, b: f64| format!("{:.2}", a / b);
    println!("\n## Results (mean time; ratios in the same run)\n");
    let hand = ns("blog", "hand-written");
    let generated = ns("blog", "generated");
    println!("| blog function | time | ratio |");
    println!("|---|---|---|");
    println!("| hand-written backward (the limit) | {hand:.1} ns | 1.00 |");
    println!(
        "| generated `grad` | {generated:.1} ns | {} |",
        ratio(generated, hand)
    );
    let plain = ns("blog", "function");
    println!(
        "| the function alone | {plain:.1} ns | gradient / function = {} |",
        ratio(generated, plain)
    );
    let dual = ns("blog", "num-dual");
    println!(
        "| num-dual `gradient` | {dual:.1} ns | {} x generated |",
        ratio(dual, generated)
    );
    let adr = ns("blog", "ad_trait");
    println!(
        "| ad_trait `adr` | {adr:.1} ns | {} x generated |",
        ratio(adr, generated)
    );

    let hand = ns("mlp", "hand-written");
    let generated = ns("mlp", "generated");
    let adr = ns("mlp", "ad_trait");
    let dual = ns("mlp", "num-dual per parameter") * mlp::PARAMS as f64;
    println!("\n| MLP, {} parameters | time | ratio |", mlp::PARAMS);
    println!("|---|---|---|");
    println!("| hand-written backprop | {:.2} µs | 1.00 |", hand / 1e3);
    println!(
        "| generated, `forward_into` + `backward_into` | {:.2} µs | {} |",
        generated / 1e3,
        ratio(generated, hand)
    );
    let fused = ns("mlp", "generated grad_into");
    println!(
        "| generated, `grad_into` (reads the arguments) | {:.2} µs | {} |",
        fused / 1e3,
        ratio(fused, hand)
    );
    let (by_struct, by_slices, by_layers) = (
        ns("mlp", "generated grad_into, model struct"),
        ns("mlp", "generated grad_into, separate slices"),
        ns("mlp", "generated grad_into, slice of layers"),
    );
    println!(
        "| generated `grad_into` over a model struct | {:.2} µs | / the same over separate slices: {} |",
        by_struct / 1e3,
        ratio(by_struct, by_slices)
    );
    println!(
        "| generated `grad_into` over a slice of layers (`&[Dense]`, a layer loop) | {:.2} µs | / hand-written: {}; / model struct: {} |",
        by_layers / 1e3,
        ratio(by_layers, hand),
        ratio(by_layers, by_struct)
    );
    println!(
        "| ad_trait `adr` | {:.2} µs | {} x generated |",
        adr / 1e3,
        ratio(adr, generated)
    );
    println!(
        "| num-dual, one pass per parameter | {:.2} µs | {} x generated |",
        dual / 1e3,
        ratio(dual, generated)
    );

    println!("\n| parameters | hand-written | generated | ratio | peak tape memory | bytes per parameter |");
    println!("|---|---|---|---|---|---|");
    for (&hidden, &(params, bytes)) in WIDTHS.iter().zip(memory) {
        let _ = hidden;
        let hand = ns("scaling", &format!("hand-written {params}"));
        let generated = ns("scaling", &format!("generated {params}"));
        println!(
            "| {params} | {:.2} µs | {:.2} µs | {} | {:.1} KiB | {:.1} |",
            hand / 1e3,
            generated / 1e3,
            ratio(generated, hand),
            bytes as f64 / 1024.0,
            bytes as f64 / params as f64
        );
    }

    println!("\n| expansion of | time | per unit |");
    println!("|---|---|---|");
    for nodes in [125, 250, 500] {
        let t = ns("expansion", &format!("straight-line {nodes}"));
        println!(
            "| straight line, {nodes} nodes | {:.2} ms | {:.2} µs per node |",
            t / 1e6,
            t / 1e3 / nodes as f64
        );
    }
    for loops in [10, 20, 40] {
        let t = ns("expansion", &format!("loops {loops}"));
        println!(
            "| {loops} loops with a branch | {:.2} ms | {:.1} µs per loop |",
            t / 1e6,
            t / 1e3 / loops as f64
        );
    }
}

// ---------------------------------------------------------------------------
// 7. GradBench's `lse`, `ode` and `kmeans` as transcribed (the tests check
//    them), each against its gradient written by hand, at GradBench's sizes.

#[path = "../tests/objectives/gradbench.rs"]
mod gradbench;

const LSE_N: usize = 10_000;
const ODE_SIZE: (usize, usize) = (1_000, 100);
/// Points, centroids, dimension.
const KMEANS_SIZE: (usize, usize, usize) = (1_000, 10, 8);
/// The matrix's order for `det` (by minors: ell! terms).
const DET_ELL: usize = 7;

/// A problem's objective, generated gradient and gradient by hand, timed in
/// the same run as `{name} objective`, `{name} gradient` and `{name} manual`.
fn bench_three_ways(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut objective: impl FnMut() -> f64,
    mut gradient: impl FnMut() -> f64,
    mut manual: impl FnMut() -> f64,
) {
    group.bench_function(format!("{name} objective"), |b| b.iter(&mut objective));
    group.bench_function(format!("{name} gradient"), |b| b.iter(&mut gradient));
    group.bench_function(format!("{name} manual"), |b| b.iter(&mut manual));
}

fn bench_gradbench(c: &mut Criterion) -> Vec<(String, usize)> {
    let mut memory = Vec::new();
    let mut group = c.benchmark_group("gradbench");
    group.sample_size(10);

    let x: Vec<f64> = mlp::random(61, LSE_N).iter().map(|v| 10.0 * v).collect();
    let (mut tape, mut grad) = Default::default();
    let mut dx = vec![0.0; LSE_N];
    bench_three_ways(
        &mut group,
        "lse",
        || gradbench::lse(black_box(&x)),
        || gradbench::lse::grad_into(black_box(&x), &mut tape, &mut grad),
        || gradbench::lse_gradient(black_box(&x), &mut dx),
    );
    memory.push(("lse".to_string(), peak_bytes(|| gradbench::lse::grad(&x)).1));

    let (n, steps) = ODE_SIZE;
    let x: Vec<f64> = mlp::random(62, n).iter().map(|v| 0.5 + 0.5 * v).collect();
    let (mut tape, mut grad) = Default::default();
    let mut dx = vec![0.0; n];
    bench_three_ways(
        &mut group,
        "ode",
        || gradbench::ode(black_box(&x), steps),
        || gradbench::ode::grad_into(black_box(&x), steps, &mut tape, &mut grad),
        || gradbench::ode_gradient(black_box(&x), steps, &mut dx),
    );
    memory.push((
        "ode".to_string(),
        peak_bytes(|| gradbench::ode::grad(&x, steps)).1,
    ));

    let (n, k, d) = KMEANS_SIZE;
    let (points, centroids) = (mlp::random(63, n * d), mlp::random(64, k * d));
    let (mut tape, mut grad) = Default::default();
    let mut dc = vec![0.0; k * d];
    bench_three_ways(
        &mut group,
        "kmeans",
        || gradbench::kmeans(black_box(&points), &centroids, d),
        || gradbench::kmeans::grad_into(black_box(&points), &centroids, d, &mut tape, &mut grad),
        || gradbench::kmeans_gradient(black_box(&points), &centroids, d, &mut dc),
    );
    let kmeans_grad = || gradbench::kmeans::grad(&points, &centroids, d);
    memory.push(("kmeans".to_string(), peak_bytes(kmeans_grad).1));

    // The same problem with points and centroids as rows, `&[[f64; 8]]`.
    let rows = |v: &[f64]| -> Vec<[f64; 8]> {
        v.chunks(8)
            .map(|c| c.try_into().expect("rows of 8"))
            .collect()
    };
    let (point_rows, centroid_rows) = (rows(&points), rows(&centroids));
    let (mut tape, mut grad) = Default::default();
    bench_three_ways(
        &mut group,
        "kmeans rows",
        || gradbench::kmeans_rows(black_box(&point_rows), &centroid_rows),
        || {
            gradbench::kmeans_rows::grad_into(
                black_box(&point_rows),
                &centroid_rows,
                &mut tape,
                &mut grad,
            )
        },
        || gradbench::kmeans_gradient(black_box(&points), &centroids, d, &mut dc),
    );
    let rows_grad = || gradbench::kmeans_rows::grad(&point_rows, &centroid_rows);
    memory.push(("kmeans rows".to_string(), peak_bytes(rows_grad).1));

    let a = mlp::random(65, DET_ELL * DET_ELL);
    let (mut tape, mut grad) = Default::default();
    let mut da = vec![0.0; DET_ELL * DET_ELL];
    bench_three_ways(
        &mut group,
        "det",
        || gradbench::det(black_box(&a), DET_ELL),
        || gradbench::det::grad_into(black_box(&a), DET_ELL, &mut tape, &mut grad),
        || gradbench::det_gradient(black_box(&a), DET_ELL, &mut da),
    );
    memory.push((
        "det".to_string(),
        peak_bytes(|| gradbench::det::grad(&a, DET_ELL)).1,
    ));

    group.finish();
    memory
}

fn print_gradbench_table(memory: &[(String, usize)]) {
    let ns = |id: &str| mean_ns("gradbench", id).unwrap_or(f64::NAN);
    println!("\n| GradBench, as transcribed | objective | `grad_into`, tape reused | by hand | generated / by hand | peak memory of one `grad` |");
    println!("|---|---|---|---|---|---|");
    for name in ["lse", "ode", "kmeans", "kmeans rows", "det"] {
        let (o, g, m) = (
            ns(&format!("{name} objective")),
            ns(&format!("{name} gradient")),
            ns(&format!("{name} manual")),
        );
        let bytes = memory
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, b)| *b);
        println!(
            "| {name} | {:.1} µs | {:.1} µs | {:.1} µs | {:.2} | {:.1} KiB |",
            o / 1e3,
            g / 1e3,
            m / 1e3,
            g / m,
            bytes as f64 / 1024.0
        );
    }
}

// ---------------------------------------------------------------------------
// 7. Long simulations (issue 15): a damped, driven pendulum integrated with
//    RK4, its final angle differentiated with respect to the damping and the
//    drive, with the loop as written and marked `#[checkpoint]`: the
//    gradient's time, the tape's size and the peak memory of one gradient at
//    10^4, 10^5 and 10^6 steps.

/// The pendulum of `examples/pendulum.rs`, its loop as written and marked.
#[allow(dead_code)]
#[path = "../examples/pendulum.rs"]
mod pendulum_example;

mod simulation {
    pub use super::pendulum_example::{
        final_angle as pendulum, final_angle_checkpointed as checkpointed,
    };
    use backprop_runtime::differentiate;

    pub const STEPS: [usize; 3] = [10_000, 100_000, 1_000_000];

    /// The pendulum's state as a struct, stepped by helpers that take and
    /// return it: the same RK4 step as `pendulum`, in the same order.
    #[derive(Clone, Copy)]
    pub struct State {
        theta: f64,
        omega: f64,
    }

    fn accel(s: State, damping: f64, drive: f64, t: f64) -> f64 {
        -s.theta.sin() - damping * s.omega + drive * t.cos()
    }

    fn rk4(s: State, damping: f64, drive: f64, t: f64, dt: f64) -> State {
        let k1t = s.omega;
        let k1o = accel(s, damping, drive, t);
        let k2t = s.omega + 0.5 * dt * k1o;
        let half = State {
            theta: s.theta + 0.5 * dt * k1t,
            omega: k2t,
        };
        let k2o = accel(half, damping, drive, t + 0.5 * dt);
        let k3t = s.omega + 0.5 * dt * k2o;
        let other = State {
            theta: s.theta + 0.5 * dt * k2t,
            omega: k3t,
        };
        let k3o = accel(other, damping, drive, t + 0.5 * dt);
        let k4t = s.omega + dt * k3o;
        let end = State {
            theta: s.theta + dt * k3t,
            omega: k4t,
        };
        let k4o = accel(end, damping, drive, t + dt);
        State {
            theta: s.theta + dt / 6.0 * (k1t + 2.0 * k2t + 2.0 * k3t + k4t),
            omega: s.omega + dt / 6.0 * (k1o + 2.0 * k2o + 2.0 * k3o + k4o),
        }
    }

    #[differentiate(wrt(damping, drive))]
    pub fn pendulum_struct(damping: f64, drive: f64, steps: usize) -> f64 {
        let dt = 1e-3_f64;
        let mut s = State {
            theta: 0.5,
            omega: 0.0,
        };
        for i in 0..steps {
            s = rk4(s, damping, drive, i as f64 * dt, dt);
        }
        s.theta
    }
}

/// One step count's memory: the tape's `bytes()` and the peak heap memory of
/// one `grad`, as written and checkpointed.
struct SimulationMemory {
    steps: usize,
    bytes: usize,
    peak: usize,
    checkpointed_bytes: usize,
    checkpointed_peak: usize,
    /// Of the version over a state struct, where it runs.
    struct_peak: Option<usize>,
}

fn bench_simulation(c: &mut Criterion) -> Vec<SimulationMemory> {
    let mut group = c.benchmark_group("simulation");
    group.sample_size(10);
    let mut memory = Vec::new();
    for steps in simulation::STEPS {
        let (_, tape) = simulation::pendulum::forward(0.2, 0.5, steps);
        let (plain, peak) = peak_bytes(|| simulation::pendulum::grad(0.2, 0.5, steps));
        let (_, checkpointed_tape) = simulation::checkpointed::forward(0.2, 0.5, steps);
        let (checkpointed, checkpointed_peak) =
            peak_bytes(|| simulation::checkpointed::grad(0.2, 0.5, steps));
        // The same gradient, to the bit: the stretches run the same steps.
        assert_eq!(format!("{plain:?}"), format!("{checkpointed:?}"));
        memory.push(SimulationMemory {
            steps,
            bytes: tape.bytes(),
            peak,
            checkpointed_bytes: checkpointed_tape.bytes(),
            checkpointed_peak,
            struct_peak: None,
        });
        group.bench_function(format!("function {steps}"), |b| {
            b.iter(|| simulation::pendulum(black_box(0.2), 0.5, steps))
        });
        group.bench_function(format!("grad {steps}"), |b| {
            b.iter(|| simulation::pendulum::grad(black_box(0.2), 0.5, steps))
        });
        group.bench_function(format!("grad checkpointed {steps}"), |b| {
            b.iter(|| simulation::checkpointed::grad(black_box(0.2), 0.5, steps))
        });
        if steps <= 100_000 {
            // The state as a struct stepped by helpers: the same gradient.
            let (structs, struct_peak) =
                peak_bytes(|| simulation::pendulum_struct::grad(0.2, 0.5, steps));
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
            assert!(
                close(structs.1.damping, plain.1.damping) && close(structs.1.drive, plain.1.drive)
            );
            memory.last_mut().expect("pushed above").struct_peak = Some(struct_peak);
            group.bench_function(format!("grad struct {steps}"), |b| {
                b.iter(|| simulation::pendulum_struct::grad(black_box(0.2), 0.5, steps))
            });
        }
    }
    group.finish();
    memory
}

fn print_simulation_table(memory: &[SimulationMemory]) {
    println!("\n| RK4 pendulum | function | `grad` | `grad`, `#[checkpoint]` | checkpointed / plain `grad` | `tape.bytes()` | checkpointed `tape.bytes()` | peak memory of one `grad` | checkpointed |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mib = |bytes: usize| bytes as f64 / 1048576.0;
    for m in memory {
        let steps = m.steps;
        let f = mean_ns("simulation", &format!("function {steps}")).unwrap_or(f64::NAN);
        let g = mean_ns("simulation", &format!("grad {steps}")).unwrap_or(f64::NAN);
        let c = mean_ns("simulation", &format!("grad checkpointed {steps}")).unwrap_or(f64::NAN);
        println!(
            "| {steps} steps | {:.2} ms | {:.2} ms ({:.1} x function) | {:.2} ms ({:.1} x function) | {:.2} | {:.1} MiB | {:.1} KiB | {:.1} MiB | {:.1} KiB |",
            f / 1e6,
            g / 1e6,
            g / f,
            c / 1e6,
            c / f,
            c / g,
            mib(m.bytes),
            m.checkpointed_bytes as f64 / 1024.0,
            mib(m.peak),
            m.checkpointed_peak as f64 / 1024.0,
        );
    }
    println!("\n| RK4 pendulum, the state a struct stepped by helpers (`s = rk4(s, ..)`) | `grad` | / over floats, same run | peak memory of one `grad` | over floats |");
    println!("|---|---|---|---|---|");
    for m in memory {
        let Some(struct_peak) = m.struct_peak else {
            continue;
        };
        let steps = m.steps;
        let g = mean_ns("simulation", &format!("grad {steps}")).unwrap_or(f64::NAN);
        let s = mean_ns("simulation", &format!("grad struct {steps}")).unwrap_or(f64::NAN);
        println!(
            "| {steps} steps | {:.2} ms | {:.2} | {:.1} MiB | {:.1} MiB |",
            s / 1e6,
            s / g,
            mib(struct_peak),
            mib(m.peak),
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_blog(&mut criterion);
    bench_mlp(&mut criterion);
    bench_scaling(&mut criterion);
    bench_expansion(&mut criterion);
    let adbench_memory = bench_adbench(&mut criterion);
    bench_modes(&mut criterion);
    let gradbench_memory = bench_gradbench(&mut criterion);
    let simulation_memory = bench_simulation(&mut criterion);
    criterion.final_summary();
    print_table(&tape_memory());
    print_adbench_table(&adbench_memory);
    print_modes_table();
    print_gradbench_table(&gradbench_memory);
    print_simulation_table(&simulation_memory);
}
