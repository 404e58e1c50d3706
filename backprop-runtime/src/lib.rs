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
//! For `#[differentiate] fn f(x: f64, y: f64) -> f64`, the module `f` holds:
//! - `f::forward(x, y) -> (f64, f::Tape)`: the value and the saved intermediates;
//! - `f::backward(&tape, seed) -> f::Grad`: the reverse pass;
//! - `f::forward_into(&mut tape, x, y) -> f64` and
//!   `f::backward_into(&tape, seed, &mut grad)`: the same, reusing a tape and
//!   adding into a gradient (see below);
//! - `f::grad(x, y) -> (f64, f::Grad)`: both, with a seed of one;
//! - `f::Grad`: one field per differentiable parameter (`g.x`, `g.y`);
//! - `f::pullback`: `backward` with the gradient as a tuple in parameter order,
//!   which differentiated callers of `f` use;
//! - `f::SOURCE`: the generated code, pretty-printed.
//!
//! Every `f64` and `f32` parameter, and every slice, vector or array of them
//! (`&[f64]`, `&Vec<f64>`, `[f64; N]`, `&[f64; N]`), is differentiable unless
//! `#[differentiate(wrt(x, ...))]` names a subset; other parameters pass through.
//! A slice's gradient is a `Vec`, an array's an array. `&mut` parameters are
//! written in place; their final values are outputs of the function.
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

/// `num-traits`, whose [`Float`] generic differentiated functions are written
/// against: `fn f<T: Float>(x: T) -> T`.
pub use num_traits;
pub use num_traits::Float;

/// The float types backprop differentiates: `f32`, `f64`, and any other
/// [`Float`] a generic function is instantiated with.
pub trait Real: Float {}

impl<F: Float> Real for F {}

/// The logistic sigmoid, `1 / (1 + e^-x)`, computed without overflow for large
/// `|x|`. Inside `#[differentiate]` its derivative reuses the saved output, as the
/// blog does: `σ'(x) = σ(x) (1 - σ(x))`.
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
pub fn relu<F: Real>(x: F) -> F {
    if x > F::zero() {
        x
    } else {
        F::zero()
    }
}

/// `ln(1 + e^x)`, a smooth rectifier, computed without overflow for large `x`.
/// Its derivative is the sigmoid.
pub fn softplus<F: Real>(x: F) -> F {
    // ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|)
    relu(x) + (-x.abs()).exp().ln_1p()
}

/// Stands in a `pullback` tuple for a parameter that is not differentiated (an
/// integer, or a float left out of `wrt`). A differentiated caller that passes a
/// value depending on its own inputs there gets a type error instead of a silently
/// dropped gradient.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotDifferentiable;

/// Values a branch or loop saves for the backward pass: the forward pass pushes
/// one per pass through the code that computes it, the backward pass reads them
/// back in reverse with a [`Reader`]. One stack per saved value, so memory grows
/// with the values actually saved.
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

/// Reads a [`Stack`] back in reverse.
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

/// Sizes a slice parameter's gradient on first use, and checks it afterwards:
/// Adds `from` into `into`, element by element: a callee's adjoint of an array
/// argument, added into the caller's adjoint of that array.
///
/// # Panics
/// If the lengths differ (the callee was handed an array of another length).
#[inline]
pub fn accumulate<F: Real>(into: &mut [F], from: &[F]) {
    assert_eq!(
        into.len(),
        from.len(),
        "an array's adjoint has the wrong length"
    );
    for (a, b) in into.iter_mut().zip(from) {
        *a = *a + *b;
    }
}

/// `backward_into` adds into a `Grad` that is either fresh (`Grad::default()`,
/// empty vectors) or was made for arguments of the same lengths.
///
/// # Panics
/// If `gradient` is not empty and its length is not `len`.
pub fn prepare<F: Real>(gradient: &mut Vec<F>, len: usize) {
    if gradient.is_empty() {
        gradient.resize(len, F::zero());
    }
    assert_eq!(
        gradient.len(),
        len,
        "a gradient vector has length {} but its parameter has length {len}; use `Grad::default()` or a `Grad` from arguments of the same lengths",
        gradient.len()
    );
}
