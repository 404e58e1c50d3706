//! The `#[differentiate]` attribute of backprop.
//!
//! Users depend on `backprop-runtime`, which re-exports this macro; see its
//! documentation and the README. The stages, one file each:
//! `args` and `signature` read the attribute and the function's signature,
//! `lower` turns the body into the Wengert list of `ir`, `analysis` finds
//! which nodes need an adjoint, `forward` and `backward` emit the two passes
//! using the derivative table in `rules`, and `module` assembles them.
//! `method` turns the marked methods of an `impl` block into such functions,
//! `hoist` moves values computed inside conditions into `let`s before them,
//! `desugar` iterator chains over slices into the loops they stand for.

mod analysis;
mod args;
mod backward;
mod desugar;
mod errors;
mod expand;
mod forward;
mod hoist;
mod ir;
mod lower;
mod method;
mod module;
mod names;
mod paths;
mod pretty;
#[cfg(test)]
mod robustness;
mod rules;
mod signature;

use proc_macro::TokenStream;

/// Generates the gradient of a function at compile time, as readable Rust.
///
/// ```text
/// #[differentiate]                  // every float parameter
/// #[differentiate(wrt(w, b))]       // only these; the others are data
/// fn loss(w: &[f64], b: f64, x: &[f64], y: f64) -> f64 { ... }
/// ```
///
/// The function stays as written; a module of the same name appears next to
/// it:
///
/// - `loss::grad(args) -> (value, loss::Grad)`: the value and the gradient
///   (`g.w`, `g.b`: one field per differentiated parameter; a `Vec` for a
///   slice). Functions with several outputs (a tuple or array) have
///   `loss::jacobian(args) -> (value, [Grad; K])` instead.
/// - `loss::forward(args) -> (value, loss::Tape)` and
///   `loss::backward(&tape, seed) -> loss::Grad`: the two passes, with the
///   seed being the derivative of an outer loss with respect to the result
///   (one seed per output; `&mut` parameters' final values are outputs too).
/// - `loss::forward_into(&mut tape, args)` and
///   `loss::backward_into(&tape, seed, &mut grad)`: the same without
///   allocating, *adding* into `grad`, for minibatches.
/// - `loss::pullback(&tape, seed)`: the gradient as a tuple in parameter
///   order, used by differentiated callers; `loss::SOURCE`: the generated code.
///
/// Inside: arithmetic, float methods, `sigmoid`/`relu`/`softplus`, `let`,
/// `if`/`match`/loops/`break`/`continue`/`return`, slices, arrays, `Vec`,
/// iterator chains, closures, calls to other differentiated functions or custom
/// rules, generic `T: Float`, methods of a marked `impl` block. The gradient is
/// that of the path the forward pass took. Anything else is a compile error at
/// the offending tokens saying what to write instead.
///
/// The crate `backprop_runtime` documents each point with examples.
#[proc_macro_attribute]
pub fn differentiate(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::differentiate(attr.into(), item.into()).into()
}
