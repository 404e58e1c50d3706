//! # backprop
//!
//! Differentiate ordinary Rust functions at compile time. Put `#[differentiate]` on
//! a numeric function and a module of the same name appears next to it, holding
//! the gradient as plain Rust: a staged forward pass that saves what the gradient
//! needs, and a backward pass that applies the chain rule node by node, the way a
//! person writes backpropagation by hand.
//!
//! ```
//! use backprop_runtime::{differentiate, sigmoid};
//!
//! #[differentiate]
//! fn f(x: f64, y: f64) -> f64 {
//!     let sigx = sigmoid(x);
//!     let sigy = sigmoid(y);
//!     let numer = x + sigy;
//!     let xandy = x + y;
//!     let xandysqr = xandy * xandy;
//!     let denom = xandysqr + sigx;
//!     let rec_denom = 1.0 / denom;
//!     numer * rec_denom
//! }
//!
//! let (value, g) = f::grad(3.0, -4.0);
//! assert!((value - 1.5456448841066441).abs() < 1e-12);
//! assert!((g.x - 2.0595697955721652).abs() < 1e-12);
//! assert!((g.y - 1.5922327514838093).abs() < 1e-12);
//!
//! // Staged: the forward pass returns a tape, the backward pass takes a seed (the
//! // derivative of an outer loss with respect to f's result).
//! let (value, tape) = f::forward(3.0, -4.0);
//! let g2 = f::backward(&tape, 2.0 * value);
//! assert!((g2.x - 2.0 * value * g.x).abs() < 1e-12);
//! ```
//!
//! ## The contract
//!
//! For `#[differentiate] pub fn f(x: f64, y: f64) -> f64`, `f` stays as written
//! and callable, and a module `f` with the same visibility appears next to it
//! (modules and functions live in different namespaces, so `use crate::f;`
//! brings both):
//!
//! | item | what it is |
//! |---|---|
//! | `f::forward(x, y) -> (f64, f::Tape)` | the value, and the intermediates the backward pass reads |
//! | `f::backward(&tape, seed) -> f::Grad` | the reverse pass; `seed` is the derivative of your final loss with respect to `f`'s result (the blog's `df = 1`) |
//! | `f::forward_into(&mut tape, x, y) -> f64` | `forward`, reusing a tape's memory |
//! | `f::backward_into(&tape, seed, &mut grad)` | `backward`, *adding* into a caller-owned `Grad` |
//! | `f::grad(x, y) -> (f64, f::Grad)` | both, with a seed of one (functions with one output and no `&mut` parameters) |
//! | `f::grad_into(x, y, &mut tape, &mut grad) -> f64` | `grad` into a tape and a gradient you keep, *adding* into `grad`; the backward pass reads the arguments themselves, and the tape's memory (with the tapes of the calls it holds) is reused |
//! | `f::backward_with(&tape, seed, &mut grad, &mut work)` | `backward_into` with the backward pass's memory in an `f::Work` you keep (for functions that need such memory: calls, buffers, `&mut` slices) |
//! | `f::jacobian(x, y) -> (value, [f::Grad; K])` | instead of `grad`, for a function with `K` outputs |
//! | `f::Grad` | one `pub` field per differentiable parameter, named after it: `g.x`; a `Vec` for a slice, an array for an array, a struct's gradient struct for a struct that derives [`Differentiable`] (see [`model`]); `Grad::default()` is zero |
//! | `f::Tape` | `pub` fields named after your `let` bindings, holding exactly what the backward pass reads; `Tape::default()` is empty |
//! | `f::pullback(&tape, seed)` | `backward` with the gradient as a tuple in parameter order ([`NotDifferentiable`] for the others) |
//! | `f::pullback_into(&tape, seed, &mut scratch)` | the same into an `f::Scratch` a differentiated caller keeps per call site, slices lent from it |
//! | `f::graph(x, y) -> graph::Graph` | the computational graph at these arguments, for a picture ([`graph`]): each node's value and adjoint (seed one; on each output where there are several), each wire's term; `.to_svg()`, `.to_dot()` |
//! | `f::SOURCE` | the generated code, pretty-printed |
//! | `f::tangent(x, y, dot_x, dot_y) -> (f64, f64)` | forward mode: the value and the derivative along `(dot_x, dot_y)`, in one pass (functions with one float result, no `&mut` or `&f64` parameters) |
//! | `f::hvp(x, y, dot_x, dot_y) -> (value, f::Grad, f::Grad)` | second order, forward over reverse: the value, the gradient and the Hessian times the direction, for a function generic over its float (`fn f<T: Float>`): its `grad` runs over [`Dual`] |
//! | `f::hessian(x, y) -> (value, Vec<Vec<_>>)` | the Hessian over the differentiable coordinates, one `hvp` per coordinate (generic functions) |
//!
//! ```
//! use backprop_runtime::differentiate;
//!
//! #[differentiate]
//! fn f(x: f64, y: f64) -> f64 {
//!     x * y.sin()
//! }
//!
//! // The derivative along (1, 2) is the gradient dotted with it.
//! let (value, along) = f::tangent(0.5, 1.5, 1.0, 2.0);
//! let (_, g) = f::grad(0.5, 1.5);
//! assert_eq!(value, f(0.5, 1.5));
//! assert!((along - (g.x + 2.0 * g.y)).abs() < 1e-15);
//! ```
//!
//! Every `f64` and `f32` parameter, and every slice, vector or array of them
//! (`&[f64]`, `&Vec<f64>`, `[f64; N]`, `&[f64; N]`), `&f64` and `&mut` form, is
//! differentiable unless `#[differentiate(wrt(x, ...))]` names a subset; other
//! parameters (integers, bools, enums, slices of integers) pass through. A
//! parameter left out of `wrt` costs nothing in the backward pass:
//!
//! ```
//! use backprop_runtime::differentiate;
//!
//! /// Mean squared error of `w` against data points.
//! #[differentiate(wrt(w))]
//! fn mse(w: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
//!     let mut total = 0.0;
//!     for i in 0..xs.len() {
//!         let e = w[0] * xs[i] + w[1] - ys[i];
//!         total += e * e;
//!     }
//!     total / xs.len() as f64
//! }
//!
//! let (loss, g) = mse::grad(&[2.0, 0.5], &[1.0, 2.0], &[2.0, 4.0]);
//! assert_eq!(loss, 0.25);
//! assert_eq!(g.w, vec![1.5, 1.0]); // `g` has no field for `xs` or `ys`
//! ```
//!
//! ## Several outputs and `jacobian`
//!
//! A function returning a tuple `(f64, f64)` or an array `[f64; N]` takes one
//! seed per output in `backward` (a vector-Jacobian product), and `jacobian`
//! gives one `Grad` per output:
//!
//! ```
//! use backprop_runtime::differentiate;
//!
//! #[differentiate]
//! fn to_cartesian(r: f64, theta: f64) -> (f64, f64) {
//!     (r * theta.cos(), r * theta.sin())
//! }
//!
//! let ((x, y), rows) = to_cartesian::jacobian(2.0, 0.0);
//! assert_eq!((x, y), (2.0, 0.0));
//! assert_eq!((rows[0].r, rows[0].theta), (1.0, 0.0)); // d x / d(r, theta)
//! assert_eq!((rows[1].r, rows[1].theta), (0.0, 2.0)); // d y / d(r, theta)
//!
//! // A weighted sum of the outputs' gradients, in one backward pass.
//! let (_, tape) = to_cartesian::forward(2.0, 0.0);
//! let g = to_cartesian::backward(&tape, (0.5, 1.0));
//! assert_eq!((g.r, g.theta), (0.5, 2.0));
//! ```
//!
//! Differentiated callers destructure it: `let (x, y) = to_cartesian(r, t);`.
//!
//! ## `&mut` parameters and their seeds
//!
//! A function may write its results into `&mut f64` and `&mut [f64]` parameters;
//! their final values are outputs too. `backward` then takes one seed per output:
//! the returned value's first (if there is one), then each `&mut` parameter's, a
//! slice for a slice. `Grad` holds the adjoint of the *initial* contents.
//!
//! ```
//! use backprop_runtime::differentiate;
//!
//! /// One explicit Euler step of `v' = -k v`, in place; returns the energy.
//! #[differentiate]
//! fn step(v: &mut [f64], k: f64) -> f64 {
//!     let mut energy = 0.0;
//!     for i in 0..v.len() {
//!         v[i] -= 0.1 * k * v[i];
//!         energy += v[i] * v[i];
//!     }
//!     energy
//! }
//!
//! let mut v = [1.0, 2.0];
//! let (energy, tape) = step::forward(&mut v, 1.0);
//! assert_eq!(v, [0.9, 1.8]);
//! // Seeds: d loss / d energy, then d loss / d (final v).
//! let g = step::backward(&tape, (0.0, &[1.0, 0.0]));
//! assert!((g.v[0] - 0.9).abs() < 1e-15 && g.v[1] == 0.0); // d v0_final / d v0
//! assert!((g.k + 0.1).abs() < 1e-15);                    // d v0_final / d k
//! # let _ = energy;
//! ```
//!
//! A differentiated caller passes `&mut h` of its own buffer (or a local
//! `&mut a` of a float), or passes on its own `&mut` parameter.
//!
//! ## Calls and custom derivative rules
//!
//! A differentiated function calls other `#[differentiate]` functions by name or
//! path: its forward pass runs the callee's `forward_into` on a tape it keeps
//! (one per call, reused by the next forward pass), its backward pass the
//! callee's `pullback_into` with a gradient it keeps per call site, which hands
//! back one adjoint per argument. Any plain function can join in by getting a
//! module with those two functions by hand: a custom rule, for a black box, a
//! closed-form derivative, or an iterative solver whose adjoint is that of its
//! solution.
//!
//! ```
//! use backprop_runtime::differentiate;
//!
//! /// Square root by Newton's method.
//! pub fn newton_sqrt(a: f64, iterations: usize) -> f64 {
//!     let mut y = a.max(1.0);
//!     for _ in 0..iterations {
//!         y = 0.5 * (y + a / y);
//!     }
//!     y
//! }
//!
//! /// Its rule: the adjoint of the converged root, 1 / (2 sqrt(a)), rather
//! /// than differentiating through the iterations.
//! pub mod newton_sqrt {
//!     use backprop_runtime::NotDifferentiable;
//!
//!     #[derive(Clone, Debug, Default)]
//!     pub struct Tape {
//!         root: f64,
//!     }
//!
//!     /// The value, saving what the adjoint needs into the caller's tape.
//!     pub fn forward_into(tape: &mut Tape, a: f64, iterations: usize) -> f64 {
//!         tape.root = super::newton_sqrt(a, iterations);
//!         tape.root
//!     }
//!
//!     /// Memory a caller keeps for each call, for `pullback_into` (any
//!     /// `Default` type): a rule with only scalar adjoints needs none.
//!     pub type Scratch = ();
//!
//!     /// One adjoint per argument, in order.
//!     pub fn pullback_into(tape: &Tape, seed: f64, _scratch: &mut Scratch) -> (f64, NotDifferentiable) {
//!         (seed / (2.0 * tape.root), NotDifferentiable)
//!     }
//! }
//!
//! #[differentiate]
//! fn hypotenuse(x: f64, y: f64) -> f64 {
//!     newton_sqrt(x * x + y * y, 30)
//! }
//!
//! fn main() {
//!     let (h, g) = hypotenuse::grad(3.0, 4.0);
//!     assert!((h - 5.0).abs() < 1e-12);
//!     assert!((g.x - 0.6).abs() < 1e-12 && (g.y - 0.8).abs() < 1e-12);
//! }
//! ```
//!
//! Passing a value that depends on the inputs to a parameter whose adjoint is
//! [`NotDifferentiable`] is a type error at that argument, never a dropped
//! gradient. A rule for a slice parameter fills the scratch memory with the
//! slice's adjoint and returns it as a slice of that memory, so a call in a
//! loop allocates nothing once the memory has grown:
//!
//! ```
//! use backprop_runtime::differentiate;
//!
//! /// The Euclidean norm, `sqrt(sum x_i^2)`.
//! pub fn norm(x: &[f64]) -> f64 {
//!     x.iter().map(|v| v * v).sum::<f64>().sqrt()
//! }
//!
//! /// Its rule: d norm / d x_i = x_i / norm.
//! pub mod norm {
//!     #[derive(Clone, Debug, Default)]
//!     pub struct Tape {
//!         x: Vec<f64>,
//!         norm: f64,
//!     }
//!
//!     pub fn forward_into(tape: &mut Tape, x: &[f64]) -> f64 {
//!         // Refilled in place: a reused tape keeps its memory.
//!         tape.x.clear();
//!         tape.x.extend_from_slice(x);
//!         tape.norm = super::norm(x);
//!         tape.norm
//!     }
//!
//!     /// The slice's adjoint, refilled at each call.
//!     pub type Scratch = Vec<f64>;
//!
//!     pub fn pullback_into<'g>(tape: &Tape, seed: f64, dx: &'g mut Scratch) -> (&'g [f64],) {
//!         dx.clear();
//!         dx.extend(tape.x.iter().map(|v| seed * v / tape.norm));
//!         (dx,)
//!     }
//! }
//!
//! #[differentiate]
//! fn rows_norm(m: &[f64], cols: usize) -> f64 {
//!     let mut total = 0.0;
//!     for r in 0..m.len() / cols {
//!         total += norm(&m[r * cols..(r + 1) * cols]);
//!     }
//!     total
//! }
//!
//! fn main() {
//!     let (value, g) = rows_norm::grad(&[3.0, 4.0, 0.0, 2.0], 2);
//!     assert!((value - 7.0).abs() < 1e-12);
//!     assert_eq!(g.m, vec![0.6, 0.8, 0.0, 1.0]);
//! }
//! ```
//!
//! ## Control flow
//!
//! `if`/`else`, `match` on integers and enums, `for`, `while`, `loop`, labelled
//! `break`/`continue` and early `return` all work, with the semantics every AD tool
//! uses: **the gradient is the gradient of the path the forward pass took.**
//! Comparisons are not differentiated; at a point where a branch switches, the
//! gradient is that of the branch taken.
//!
//! ```
//! use backprop_runtime::differentiate;
//!
//! /// x^n by repeated multiplication, clipped at 10.
//! #[differentiate]
//! fn clipped_power(x: f64, n: usize) -> f64 {
//!     let mut p = 1.0;
//!     for _ in 0..n {
//!         p *= x;
//!         if p > 10.0 {
//!             return 10.0;
//!         }
//!     }
//!     p
//! }
//!
//! assert_eq!(clipped_power::grad(2.0, 3), (8.0, clipped_power::Grad { x: 12.0 }));
//! assert_eq!(clipped_power::grad(3.0, 3), (10.0, clipped_power::Grad { x: 0.0 }));
//! ```
//!
//! ## What is supported, and what is refused
//!
//! Inside a differentiated function: `let` (with annotations, shadowing, `let
//! mut`, compound assignment, tuple patterns, `let _`), arithmetic, casts between
//! `f32` and `f64`, the float methods (`exp exp2 exp_m1 ln ln_1p log log2 log10
//! sqrt cbrt powi powf recip sin cos tan asin acos atan atan2 sinh cosh tanh asinh
//! acosh atanh abs to_degrees to_radians max min clamp hypot mul_add fract`, and
//! `signum floor ceil round trunc` with derivative zero), [`sigmoid`], [`relu`] and
//! [`softplus`], constants, code that does not depend on the inputs (kept as
//! written), slices, arrays and vectors (reads, local buffers `[0.0; N]` and
//! `vec![0.0; n]`, writes, copies with `to_vec`), loops over slices (`iter`,
//! `enumerate`, `zip`, `rev`, `windows`), iterator chains ending in `sum`,
//! `product`, `fold` or `collect` (rewritten into the loops they stand for),
//! closures bound with `let`, calls, recursion, `assert!` (left out of the
//! generated passes), and anything above inside conditions.
//!
//! Refused, with a compile error at the offending tokens that says what to write
//! instead: `async`/`const`/`unsafe`/`extern` functions, closures passed as
//! values or assigning captured variables, macros other than `vec!` and the
//! assertions, items inside the body, `if let`/`while let`, `match` on a
//! differentiated value or with bindings in patterns, struct fields and
//! references of differentiated values, containers of floats other than slices,
//! vectors and arrays (unless `wrt` leaves them out), methods without a rule.
//! All errors of one function are reported in one build, and the function
//! itself is still emitted, so the rest of the crate keeps compiling.
//!
//! ## Reading the generated code
//!
//! The generated code is meant to be read, like the blog post it grew from: one
//! `let` per node named after your bindings (`sigx`, `numer`), each node's adjoint
//! named after it (`dsigx`), and each branch that reaches a variable its own term
//! (`dx1`, `dx2`, `dx3`), summed explicitly. Three ways to see it: print
//! `f::SOURCE`; open the module's page in `cargo doc --open`; or run `cargo
//! install cargo-expand` once and then `cargo expand path::to::module`.
//!
//! ```
//! use backprop_runtime::differentiate;
//!
//! #[differentiate]
//! fn square_sum(x: f64, y: f64) -> f64 {
//!     let s = x + y;
//!     s * s
//! }
//!
//! assert!(square_sum::SOURCE.contains("pub fn backward_into"));
//! assert!(square_sum::SOURCE.contains("let ds = "));
//! ```
//!
//! ## Generic floats and methods
//!
//! A function generic over [`Float`] gets a generic module; an `impl` block
//! marked `#[differentiate]` differentiates its marked `&self` methods with
//! respect to the fields they read as floats:
//!
//! ```
//! use backprop_runtime::{differentiate, Float};
//!
//! #[differentiate]
//! fn softsign<T: Float>(x: T) -> T {
//!     x / (T::one() + x.abs())
//! }
//!
//! pub struct Line {
//!     pub slope: f64,
//!     pub offsets: Vec<f64>,
//! }
//!
//! #[differentiate]
//! impl Line {
//!     #[differentiate]
//!     pub fn at(&self, x: f64, k: usize) -> f64 {
//!         self.slope * x + self.offsets[k]
//!     }
//! }
//!
//! fn main() {
//!     let (_, g) = softsign::grad(0.5_f32);
//!     assert!((g.x - 1.0 / 2.25).abs() < 1e-6);
//!
//!     let line = Line { slope: 2.0, offsets: vec![0.5, -1.0] };
//!     let (y, g) = line.at_grad(3.0, 1);
//!     assert_eq!(y, 5.0);
//!     assert_eq!((g.slope, g.offsets, g.x), (3.0, vec![0.0, 1.0], 2.0));
//! }
//! ```
//!
//! ## Minibatches without allocation
//!
//! `forward_into` reuses a tape's memory and `backward_into` *adds* the gradient
//! into a caller-owned `Grad` (sized on first use from `Grad::default()`), so the
//! gradient of a minibatch is a sum over examples with no allocation per example
//! (as long as the function itself allocates nothing, like this one):
//!
//! ```
//! use backprop_runtime::differentiate;
//!
//! /// Squared error of a linear model `w . x + b` on one example.
//! #[differentiate(wrt(w, b))]
//! fn loss(w: &[f64], b: f64, x: &[f64], y: f64) -> f64 {
//!     let mut prediction = b;
//!     for (wi, xi) in w.iter().zip(x.iter()) {
//!         prediction += wi * xi;
//!     }
//!     let error = prediction - y;
//!     error * error
//! }
//!
//! let (w, b) = (vec![0.5, -0.25], 0.1);
//! let batch = [([1.0, 2.0], 1.0), ([0.0, -1.0], 0.5), ([3.0, 1.0], -1.0)];
//!
//! let mut tape = loss::Tape::default();
//! let mut total = loss::Grad::default();
//! for (x, y) in &batch {
//!     loss::forward_into(&mut tape, &w, b, x, *y);
//!     loss::backward_into(&tape, 1.0, &mut total);
//! }
//!
//! // The same as summing the per-example gradients.
//! let mut expected = vec![0.0; 2];
//! let mut expected_b = 0.0;
//! for (x, y) in &batch {
//!     let (_, g) = loss::grad(&w, b, x, *y);
//!     expected[0] += g.w[0];
//!     expected[1] += g.w[1];
//!     expected_b += g.b;
//! }
//! assert_eq!(total.w, expected);
//! assert_eq!(total.b, expected_b);
//! ```

pub use backprop_macro::differentiate;

mod dual;
pub use dual::Dual;

pub mod lanes;
pub use lanes::Lanes;

pub mod bytes;

pub mod checkpoint;
pub use checkpoint::Checkpoints;

pub mod graph;

pub mod lent;

pub mod model;
pub use backprop_macro::Differentiable;
pub use model::{Differentiable, GradOf, Gradient};

/// `num-traits`, whose [`Float`] generic differentiated functions are written
/// against: `fn f<T: Float>(x: T) -> T`.
pub use num_traits;
pub use num_traits::Float;

/// The float types backprop differentiates: `f32`, `f64`, and any other
/// [`Float`] a generic function is instantiated with.
///
/// ```
/// fn halve<F: backprop_runtime::Real>(x: F) -> F {
///     x / (F::one() + F::one())
/// }
/// assert_eq!(halve(3.0_f32), 1.5);
/// ```
pub trait Real: Float {}

impl<F: Float> Real for F {}

/// The logistic sigmoid, `1 / (1 + e^-x)`, computed without overflow for large
/// `|x|`. Inside `#[differentiate]` its derivative reuses the saved output, as the
/// blog does: `σ'(x) = σ(x) (1 - σ(x))`.
///
/// ```
/// use backprop_runtime::sigmoid;
/// assert_eq!(sigmoid(0.0_f64), 0.5);
/// assert!(sigmoid(-800.0_f64) >= 0.0 && sigmoid(800.0_f64) == 1.0); // no overflow
/// ```
pub fn sigmoid<F: Real>(x: F) -> F {
    // One exponential of a non-positive number, which cannot overflow, then a
    // select: as cheap as the textbook `1 / (1 + e^-x)`.
    let e = (-x.abs()).exp();
    let s = F::one() / (F::one() + e);
    if x >= F::zero() {
        s
    } else {
        e * s
    }
}

/// The rectifier, `max(x, 0)`. Its derivative is taken as 0 at 0.
///
/// ```
/// use backprop_runtime::{differentiate, relu};
/// assert_eq!((relu(-2.0_f64), relu(3.0_f64)), (0.0, 3.0));
///
/// #[differentiate]
/// fn unit(x: f64) -> f64 {
///     relu(x)
/// }
/// assert_eq!(unit::grad(0.0).1.x, 0.0);
/// assert_eq!(unit::grad(0.5).1.x, 1.0);
/// ```
pub fn relu<F: Real>(x: F) -> F {
    if x > F::zero() {
        x
    } else {
        F::zero()
    }
}

/// `ln(1 + e^x)`, a smooth rectifier, computed without overflow for large `x`.
/// Its derivative is the sigmoid.
///
/// ```
/// use backprop_runtime::softplus;
/// assert!((softplus(0.0_f64) - 2.0_f64.ln()).abs() < 1e-15);
/// assert_eq!(softplus(1000.0_f64), 1000.0); // no overflow
/// ```
pub fn softplus<F: Real>(x: F) -> F {
    // ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|)
    relu(x) + (-x.abs()).exp().ln_1p()
}

/// Beside each activation, a module of its name: `use
/// backprop_runtime::sigmoid;` imports it with the function, and a function
/// differentiated with `#[differentiate]` that calls `sigmoid(x)` by its name
/// alone checks that the name is this crate's (a function of your own named
/// `sigmoid` would otherwise get this one's derivative).
macro_rules! activation_marks {
    ($($name:ident),*) => {$(
        #[doc(hidden)]
        pub mod $name {
            /// Read by the check; nothing else.
            pub const RUNTIME_ACTIVATION: () = ();
        }
    )*};
}
activation_marks!(sigmoid, relu, softplus);

/// Stands in a `pullback` tuple for a parameter that is not differentiated (an
/// integer, or a float left out of `wrt`). A differentiated caller that passes a
/// value depending on its own inputs there gets a type error instead of a silently
/// dropped gradient.
///
/// ```
/// use backprop_runtime::{differentiate, NotDifferentiable};
///
/// #[differentiate]
/// fn scaled(x: f64, times: usize) -> f64 {
///     x * times as f64
/// }
///
/// let (_, tape) = scaled::forward(2.0, 3);
/// let (dx, dtimes) = scaled::pullback(&tape, 1.0);
/// assert_eq!((dx, dtimes), (3.0, NotDifferentiable));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotDifferentiable;

/// Values a branch or loop saves for the backward pass: the forward pass pushes
/// one per pass through the code that computes it, the backward pass reads them
/// back in reverse with a [`Reader`]. One stack per saved value, so memory grows
/// with the values actually saved. Generated tapes hold them; you rarely touch
/// one yourself.
///
/// ```
/// use backprop_runtime::Stack;
///
/// let mut saved = Stack::new();
/// for v in [1.0, 2.0, 3.0] {
///     saved.push(v);
/// }
/// assert_eq!((saved.len(), saved.as_slice()), (3, &[1.0, 2.0, 3.0][..]));
/// let mut back = saved.reader();
/// assert_eq!((back.pop(), back.pop(), back.pop()), (3.0, 2.0, 1.0));
/// saved.clear();
/// assert!(saved.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Stack<T> {
    items: Vec<T>,
}

impl<T> Default for Stack<T> {
    fn default() -> Self {
        Stack { items: Vec::new() }
    }
}

impl<T> Stack<T> {
    /// An empty stack; it allocates on the first push.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every value, keeping the memory for the next forward pass.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Saves one value.
    pub fn push(&mut self, value: T) {
        self.items.push(value);
    }

    /// How many values were saved.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// How many values fit before the stack grows: the memory it keeps.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.items.capacity()
    }

    /// Whether nothing was saved.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The saved values, oldest first.
    #[must_use]
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    /// Reads the values back, newest first, without consuming the stack (a tape
    /// can be run backward more than once).
    #[must_use]
    pub fn reader(&self) -> Reader<'_, T> {
        Reader {
            items: &self.items,
            next: self.items.len(),
        }
    }
}

/// A [`Stack`] written by the frames of a recursion, which pass it to each
/// other by value: the position to write at travels with it, in registers
/// through each call and back, instead of in the stack's length in memory,
/// which every push would store and the next load again (one long chain of
/// stores and loads through the whole recursion: a third of a determinant's
/// forward pass). The values of the pass before are written over in place;
/// [`Cursor::finish`] drops what is left of them.
///
/// ```
/// use backprop_runtime::{Cursor, Stack};
///
/// let mut saved = Stack::new();
/// for pass in [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] {
///     let mut at = Cursor::new(&mut saved);
///     for v in pass {
///         at.push(v);
///     }
///     at.finish();
/// }
/// assert_eq!(saved.as_slice(), &[4.0, 5.0, 6.0]);
/// let mut short = Cursor::new(&mut saved);
/// short.push(7.0);
/// short.finish();
/// assert_eq!(saved.as_slice(), &[7.0]);
/// ```
#[derive(Debug)]
pub struct Cursor<'s, T> {
    stack: &'s mut Stack<T>,
    at: usize,
}

impl<'s, T> Cursor<'s, T> {
    /// Writes `stack` from its start.
    pub fn new(stack: &'s mut Stack<T>) -> Self {
        Cursor { stack, at: 0 }
    }

    /// Saves one value, over the one the pass before saved there.
    #[inline]
    pub fn push(&mut self, value: T) {
        match self.stack.items.get_mut(self.at) {
            Some(item) => *item = value,
            None => self.stack.items.push(value),
        }
        self.at += 1;
    }

    /// Ends the pass: the stack holds what it saved, and no more.
    pub fn finish(self) {
        self.stack.items.truncate(self.at);
    }
}

/// Reads a [`Stack`] back in reverse, newest first; the stack itself is left
/// as it was, so a tape can be run backward several times.
///
/// ```
/// use backprop_runtime::Stack;
///
/// let mut tapes = Stack::new();
/// tapes.push(vec![1.0, 2.0]);
/// let mut back = tapes.reader();
/// assert_eq!(back.pop_ref(), &vec![1.0, 2.0]);
/// assert_eq!(tapes.len(), 1);
/// ```
#[derive(Debug)]
pub struct Reader<'a, T> {
    items: &'a [T],
    next: usize,
}

impl<'a, T> Reader<'a, T> {
    /// The newest value not read yet, by reference (a callee's tape).
    ///
    /// # Panics
    /// If every value has been read: the generated backward pass reads exactly
    /// as many values as the forward pass saved, so this means a tape from a
    /// different function was passed in.
    pub fn pop_ref(&mut self) -> &'a T {
        self.next -= 1;
        &self.items[self.next]
    }

    /// The `count` newest values not read yet, to be read oldest first: a
    /// reversed loop whose iterations may run in any order runs them first
    /// to last, each reading what its own forward iteration saved. The
    /// reader moves past them.
    ///
    /// ```
    /// use backprop_runtime::Stack;
    ///
    /// let mut saved = Stack::new();
    /// for v in [1.0, 2.0, 3.0] {
    ///     saved.push(v);
    /// }
    /// let mut back = saved.reader();
    /// let mut loop_values = back.ahead(2);
    /// assert_eq!((loop_values.read(), loop_values.read()), (2.0, 3.0));
    /// assert_eq!(back.pop(), 1.0);
    /// ```
    ///
    /// # Panics
    /// If fewer than `count` values are left (as [`Reader::pop_ref`]).
    pub fn ahead(&mut self, count: usize) -> Ahead<'a, T> {
        let start = self.next - count;
        let items = &self.items[start..self.next];
        self.next = start;
        Ahead { items, next: 0 }
    }
}

/// Values of a [`Stack`] read oldest first: see [`Reader::ahead`].
#[derive(Debug)]
pub struct Ahead<'a, T> {
    items: &'a [T],
    next: usize,
}

impl<'a, T> Ahead<'a, T> {
    /// The oldest value not read yet, by reference (a callee's tape).
    ///
    /// # Panics
    /// If every value has been read.
    pub fn read_ref(&mut self) -> &'a T {
        let item = &self.items[self.next];
        self.next += 1;
        item
    }
}

impl<T: Copy> Ahead<'_, T> {
    /// The oldest value not read yet.
    ///
    /// # Panics
    /// As [`Ahead::read_ref`].
    pub fn read(&mut self) -> T {
        *self.read_ref()
    }
}

impl<T: Copy> Reader<'_, T> {
    /// The newest value not read yet.
    ///
    /// # Panics
    /// As [`Reader::pop_ref`].
    pub fn pop(&mut self) -> T {
        *self.pop_ref()
    }
}

/// The tapes of a callee called in a loop or branch: a stack that keeps each
/// tape's memory when cleared, so the next forward pass refills the same
/// tapes (their stacks and copies) instead of allocating new ones.
///
/// ```
/// use backprop_runtime::TapeStack;
///
/// let mut tapes: TapeStack<Vec<f64>> = TapeStack::new();
/// let tape = tapes.next_spare();
/// tape.extend([1.0, 2.0]);
/// tapes.keep();
/// assert_eq!(tapes.reader().pop_ref(), &vec![1.0, 2.0]);
///
/// // Cleared, the stack hands the same tape back, its memory kept.
/// tapes.clear();
/// let again = tapes.next_spare();
/// assert!(again.capacity() >= 2);
/// assert!(tapes.is_empty());
///
/// // Lent tapes nest (a function that calls itself between lending a tape
/// // and keeping it): each is its own, live in the order kept.
/// tapes.clear();
/// tapes.next_spare().clone_from(&vec![1.0]);
/// tapes.next_spare().clone_from(&vec![2.0]);
/// tapes.keep();
/// tapes.keep();
/// let mut reader = tapes.reader();
/// assert_eq!(reader.pop_ref(), &vec![1.0]);
/// assert_eq!(reader.pop_ref(), &vec![2.0]);
/// ```
#[derive(Clone, Debug)]
pub struct TapeStack<T> {
    /// The live tapes, then (from `live` on) spare ones whose memory is kept:
    /// `next_spare` lends the one at `live` to be refilled in place and `keep`
    /// makes it live, so a forward pass walks the tapes in order and moves
    /// none, except where lent tapes nest (below).
    items: Vec<T>,
    live: usize,
    /// Tapes lent by `next_spare` and not yet kept, after the live ones. In a
    /// function that calls itself, a call's tape is lent, then the call of
    /// itself lends and keeps tapes of the same call site, then the first is
    /// kept: each `next_spare` lends a tape of its own, and `keep` makes the
    /// last one lent live (they nest), so the tapes are live in the order
    /// they are kept, as the backward pass pops them.
    lent: usize,
}

impl<T> Default for TapeStack<T> {
    fn default() -> Self {
        TapeStack {
            items: Vec::new(),
            live: 0,
            lent: 0,
        }
    }
}

impl<T> TapeStack<T> {
    /// An empty stack; it allocates on the first push.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every tape, keeping them (and their memory) as spares.
    pub fn clear(&mut self) {
        self.live = 0;
        self.lent = 0;
    }

    /// The tape to fill next, in place: the next spare one (holding what an
    /// earlier pass left, which a callee's `forward_into` overwrites) if there
    /// is one, else a new one. It stays spare until `keep`.
    #[must_use]
    pub fn next_spare(&mut self) -> &mut T
    where
        T: Default,
    {
        let spare = self.live + self.lent;
        if spare == self.items.len() {
            self.items.push(T::default());
        }
        self.lent += 1;
        &mut self.items[spare]
    }

    /// Saves the tape `next_spare` lent: it is live from now on. (Filled in
    /// place rather than moved in and out, a callee's tape costs no copy of
    /// itself per call.)
    ///
    /// # Panics
    /// If every tape `next_spare` lent is kept already.
    pub fn keep(&mut self) {
        assert!(self.lent > 0, "`keep` without `next_spare`");
        self.lent -= 1;
        // The last tape lent goes before the others still lent, which keep
        // their order; alone (no call of itself in between), it is in place.
        if self.lent > 0 {
            self.items[self.live..=self.live + self.lent].rotate_right(1);
        }
        self.live += 1;
    }

    /// How many tapes were saved.
    #[must_use]
    pub fn len(&self) -> usize {
        self.live
    }

    /// How many tapes fit before the stack grows.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.items.capacity()
    }

    /// Every tape it holds, the spare ones too (their memory is kept).
    pub fn all(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// Whether nothing was saved.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Reads the tapes back, newest first, without consuming the stack.
    #[must_use]
    pub fn reader(&self) -> Reader<'_, T> {
        Reader {
            items: &self.items[..self.live],
            next: self.live,
        }
    }
}

/// The seed of a callee that returns an array of `N` floats when the caller
/// named only its first elements (`let p = f(x); p[0] * p[2]`): those
/// elements' adjoints, then zeros. `N` is the callee's, inferred from its
/// `pullback_into`.
///
/// ```
/// let seed: [f64; 4] = backprop_runtime::array_seed([0.5, -1.0]);
/// assert_eq!(seed, [0.5, -1.0, 0.0, 0.0]);
/// ```
///
/// # Panics
/// If the callee returns fewer than `K` elements (rustc reports indexing past
/// the end of an array of known length first, in the forward pass).
#[inline]
#[must_use]
pub fn array_seed<T: Copy + num_traits::Zero, const K: usize, const N: usize>(
    first: [T; K],
) -> [T; N] {
    let mut seed = [T::zero(); N];
    seed[..K].copy_from_slice(&first);
    seed
}

/// The adjoint of a call's value that the caller passes whole to other calls
/// (`let d = sub(a, b); dot(d, d)`): a float, or an array only the callee
/// knows the length of. The generated code sums its terms from `zero` with
/// `plus`, whichever it is; a term may be a slice a callee handed back for
/// the value it was lent (`IntoSeed`).
///
/// ```
/// use backprop_runtime::Adjoint;
/// let sum: [f64; 2] = Adjoint::<f64>::plus(Adjoint::<f64>::plus(Adjoint::<f64>::zero(), [1.0, 2.0]), &[0.5, -1.0][..]);
/// assert_eq!(sum, [1.5, 1.0]);
/// assert_eq!(Adjoint::<f64>::plus(1.0, 0.5), 1.5);
/// ```
pub trait Adjoint<F>: Sized {
    /// No term yet.
    #[must_use]
    fn zero() -> Self;
    /// The sum so far plus one more term.
    #[must_use]
    fn plus<R: IntoSeed<Self>>(self, term: R) -> Self;
}

impl<F: Float> Adjoint<F> for F {
    #[inline]
    fn zero() -> Self {
        F::zero()
    }
    #[inline]
    fn plus<R: IntoSeed<Self>>(self, term: R) -> Self {
        self + term.into_seed()
    }
}

impl<F: Float, const N: usize> Adjoint<F> for [F; N] {
    #[inline]
    fn zero() -> Self {
        [F::zero(); N]
    }
    #[inline]
    fn plus<R: IntoSeed<Self>>(self, term: R) -> Self {
        let term = term.into_seed();
        core::array::from_fn(|i| self[i] + term[i])
    }
}

/// A callee's adjoint of a value the caller lent it as a slice (`let p =
/// f(x); g(&p)` with `g(p: &[f64])`) turned into the seed of the call that
/// made the value (`[f64; N]`, `N` inferred from its `pullback_into`); any
/// other adjoint is its own seed.
///
/// ```
/// use backprop_runtime::IntoSeed;
/// let seed: [f64; 2] = IntoSeed::into_seed(&[0.5, -1.0][..]);
/// assert_eq!(seed, [0.5, -1.0]);
/// let same: f64 = IntoSeed::into_seed(2.0);
/// assert_eq!(same, 2.0);
/// ```
pub trait IntoSeed<S> {
    /// The seed.
    #[must_use]
    fn into_seed(self) -> S;
}

impl<S> IntoSeed<S> for S {
    #[inline]
    fn into_seed(self) -> S {
        self
    }
}

/// # Panics
/// If the slice's length is not the array's (a callee handed back an
/// adjoint of another length than the value it was lent).
impl<F: Copy + num_traits::Zero, const N: usize> IntoSeed<[F; N]> for &[F] {
    #[inline]
    fn into_seed(self) -> [F; N] {
        let mut seed = [F::zero(); N];
        seed.copy_from_slice(self);
        seed
    }
}

/// Adds `from` into `into`, element by element: a callee's adjoint of an array
/// argument (a slice of the callee's gradient, an array, or a custom rule's
/// `Vec`), added into the caller's adjoint of that array.
///
/// ```
/// let mut caller = [1.0, 2.0];
/// backprop_runtime::accumulate(&mut caller, [0.5, -1.0]);
/// assert_eq!(caller, [1.5, 1.0]);
/// ```
///
/// An empty `from` is zero and adds nothing: the gradient of a call whose
/// backward pass did not run (its result's adjoint was zero).
///
/// # Panics
/// If the lengths differ (the callee was handed an array of another length).
#[inline]
pub fn accumulate<F: Real>(into: &mut [F], from: impl AsRef<[F]>) {
    let from = from.as_ref();
    // An empty adjoint is zero (a callee's gradient not computed).
    if from.is_empty() {
        return;
    }
    assert_eq!(
        into.len(),
        from.len(),
        "an array's adjoint has the wrong length"
    );
    for (a, b) in into.iter_mut().zip(from) {
        *a = *a + *b;
    }
}

/// Copies `from` into `into`: the adjoint of an array before a call that
/// wrote it, as the callee hands it back, replacing the caller's adjoint of
/// the array after the call.
///
/// ```
/// let mut caller = [1.0, 2.0];
/// backprop_runtime::assign(&mut caller, vec![0.5, -1.0]);
/// assert_eq!(caller, [0.5, -1.0]);
/// ```
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn assign<F: Real>(into: &mut [F], from: impl AsRef<[F]>) {
    into.copy_from_slice(from.as_ref());
}

/// Sizes a slice parameter's gradient on first use, and checks it afterwards:
/// `backward_into` adds into a `Grad` that is either fresh (`Grad::default()`,
/// empty vectors) or was made for arguments of the same lengths.
///
/// ```
/// let mut gradient: Vec<f64> = Vec::new();
/// backprop_runtime::prepare(&mut gradient, 3);
/// assert_eq!(gradient, vec![0.0; 3]);
/// ```
///
/// # Panics
/// If `gradient` is not empty and its length is not `len`:
///
/// ```should_panic
/// let mut gradient = vec![0.0; 2];
/// backprop_runtime::prepare(&mut gradient, 3);
/// ```
#[inline]
pub fn prepare<F: Real>(gradient: &mut Vec<F>, len: usize) {
    if gradient.is_empty() {
        // Element by element: a callee's gradient is often a few floats,
        // for which a call of `memset` costs more than the writes (bundle
        // adjustment's helpers take three).
        gradient.reserve(len);
        gradient.extend((0..len).map(|_| F::zero()));
    } else if gradient.len() != len {
        wrong_gradient_length(gradient.len(), len);
    }
}

#[cold]
#[inline(never)]
fn wrong_gradient_length(found: usize, len: usize) -> ! {
    panic!("a gradient vector has length {found} but its parameter has length {len}; use `Grad::default()` or a `Grad` from arguments of the same lengths")
}
