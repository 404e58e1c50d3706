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

/// Generates the gradient of a function at compile time. See `backprop_runtime`.
#[proc_macro_attribute]
pub fn differentiate(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::differentiate(attr.into(), item.into()).into()
}
