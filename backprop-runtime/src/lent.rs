//! The lending call protocol: its fallbacks for callees that copy, and the
//! trait its `pullback_lent` reads the arguments with.
//!
//! A function that `#[differentiate]` writes and that takes a list by shared
//! reference can be called without copying the lists it reads into its tape:
//! its module has `LENDS = true`, `forward_lent(tape, (args,), keep)`, which
//! copies a list only where `keep` says so, and `pullback_lent(tape, seed,
//! scratch, (args,))`, to which the caller lends the other lists again
//! (Tapenade's and Enzyme's adjoints take the primal inputs again the same
//! way; a kept list is passed again as `()`, and the callee reads its own
//! copy: [`Again`]). A differentiated caller lends each list it can pass again
//! unchanged in its backward pass (a slice parameter or a part of one, a
//! buffer nothing writes after the call) and has the callee keep the others.
//!
//! A custom rule need not write these items. The call site glob-imports this
//! module, then the callee's module in a block inside (an inner glob import
//! hides an outer one), and branches on `LENDS`: a module without these items
//! gets the ones here, `LENDS = false`, and its `forward_into` and
//! `pullback_into` run. The two functions here are never called; they only
//! give the branch that is not taken a type.

/// A list `pullback_lent` gets again: lent (`&[T]`, `&[T; N]`: read it), or
/// `()` where the caller had the callee keep a copy (read that).
pub trait Again<T> {
    /// The list: this one, or `kept`.
    fn or<'s>(&'s self, kept: &'s [T]) -> &'s [T];
}

impl<T> Again<T> for &[T] {
    fn or<'s>(&'s self, _kept: &'s [T]) -> &'s [T] {
        self
    }
}

impl<T, const N: usize> Again<T> for &[T; N] {
    fn or<'s>(&'s self, _kept: &'s [T]) -> &'s [T] {
        &self[..]
    }
}

impl<T> Again<T> for () {
    fn or<'s>(&'s self, kept: &'s [T]) -> &'s [T] {
        kept
    }
}

/// Whether the callee's module lends: `false` for one that does not say.
pub const LENDS: bool = false;

/// Never called (`LENDS` is `false` where this is the callee's).
///
/// # Panics
/// Always.
pub fn forward_lent<Tape, Args, Keep, Value>(_tape: Tape, _args: Args, _keep: Keep) -> Value {
    unreachable!("a callee without `forward_lent` is called through `forward_into`")
}

/// Never called (`LENDS` is `false` where this is the callee's).
///
/// # Panics
/// Always.
pub fn pullback_lent<Tape, Seed, Scratch, Args, Adjoints>(
    _tape: Tape,
    _seed: Seed,
    _scratch: Scratch,
    _args: Args,
) -> Adjoints {
    unreachable!("a callee without `pullback_lent` is pulled back through `pullback_into`")
}
