//! The `#[differentiate]` attribute of backprop.
//!
//! Users depend on `backprop-runtime`, which re-exports this macro; see its
//! documentation and the README.
//!
//! The source follows the pipeline that `expand::module_of` runs, one folder a
//! stage, one file a construct:
//!
//! - `parse/`: the attribute's arguments (`args`), a loop's `#[checkpoint]`
//!   (`checkpoint`), the signature (`signature`), and `impl` blocks, whose
//!   marked methods become functions (`method/`).
//! - `inline`: calls of differentiated functions written beside the caller
//!   (same file, same module) replaced by their bodies, before anything else.
//! - `valid`: constructs refused wherever they appear, each with its reason.
//! - `desugar/`: syntax in, syntax out: paths one module deeper (`paths`),
//!   destructuring assignments as tuple `let`s (`assignments`), values out of
//!   conditions (`hoist`), early returns at the top of the body and `continue`
//!   at the top of a loop's body as `if`/`else` (`returns`, `continues`),
//!   iterator chains as loops (`iterators`, which lowering calls where it
//!   meets one).
//! - `lower/`: the body becomes the Wengert list of `ir/`, one file per
//!   language construct (`loops`, `branches`, `exits`, `slices`, `calls`, ...).
//!   To change how `while` is differentiated, open `lower/loops.rs`.
//! - `ir/`: the list, its operators (`ops`), the one walk over its statements
//!   (`traverse`), and `Floats`, which says which types are floats in the
//!   function being expanded.
//! - `analysis/`: which nodes need an adjoint and how many terms each has
//!   (`activity`); where the backward pass gets each value it reads (`tape`);
//!   what a checkpointed loop keeps as its state (`checkpoint`).
//! - `emit/`: the forward pass, the backward pass (using the derivative table
//!   in `rules`; a checkpointed loop's stretches in `backward/checkpoint`),
//!   forward mode (`tangent`, the forward pass with tangents from
//!   the same table), the picture (`graph`: the passes again with recording
//!   calls), the items around them, names, and a printed copy (`pretty`).
//! - `errors`: errors collected with their spans, reported together.
//!
//! `testing` (tests only) takes a function through the stages for the unit
//! tests that sit beside each stage.

mod analysis;
mod derive;
mod desugar;
mod emit;
mod errors;
mod expand;
mod inline;
mod ir;
mod lower;
mod parse;
#[cfg(test)]
mod robustness;
mod rules;
#[cfg(test)]
mod testing;
mod twin;
mod valid;

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
/// - `loss::tangent(args, dot_args) -> (value, tangent)`: forward mode, the
///   derivative along a direction, for functions with one float result and
///   no `&mut` parameters.
/// - `loss::graph(args)`: the computational graph at these arguments, each
///   node's value and adjoint and each wire's term, to draw
///   (`backprop_runtime::graph`).
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
    let file = file_of(&item);
    expand::differentiate(attr.into(), item.into(), file.as_deref()).into()
}

/// The file the function is written in, where the compiler says (Rust 1.88
/// and later): calls of the differentiated functions written beside it are
/// inlined (`inline`).
fn file_of(item: &TokenStream) -> Option<std::path::PathBuf> {
    // Compiled only where the build script found Rust 1.88 or later.
    #[cfg(backprop_sees_files)]
    #[allow(clippy::incompatible_msrv)]
    {
        item.clone().into_iter().next()?.span().local_file()
    }
    #[cfg(not(backprop_sees_files))]
    {
        let _ = item;
        None
    }
}

/// Makes a struct a differentiable parameter type: a model.
///
/// ```text
/// #[derive(Differentiable)]
/// struct Mlp {
///     w1: Vec<f64>,            // a Vec: its gradient is a Vec
///     b2: f64,                 // a float
///     rot: [f64; 3],           // an array
///     head: Layer,             // another struct that derives Differentiable
///     layers: usize,           // data: integers, bool, String
///     #[differentiable(skip)]
///     name: Option<String>,    // data, marked
/// }
/// ```
///
/// generates `MlpGrad`, the same fields holding their gradients
/// (`Clone`, `Debug`, `PartialEq`, `Default` = zero), and implements
/// `backprop_runtime::Differentiable` for `Mlp` (`zero_grad`, `add_scaled`,
/// `step`) and `backprop_runtime::Gradient` for `MlpGrad` (`clear`, `scale`,
/// `add_scaled`, `add`, `dot`, `norm`). A `#[differentiate]` function taking
/// an `&Mlp` or an `Mlp` differentiates with respect to its fields: its
/// `Grad` has an `MlpGrad` for it. Generic structs (`struct Params<T> { k: T }`)
/// are differentiable over their float type parameter.
#[proc_macro_derive(Differentiable, attributes(differentiable))]
pub fn derive_differentiable(item: TokenStream) -> TokenStream {
    derive::derive(item.into()).into()
}
