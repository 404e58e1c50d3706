//! The fallbacks of the lending call protocol, for callees that copy.
//!
//! A function that `#[differentiate]` writes can be called without copying
//! the slices it reads into its tape: its module has `LENDS = true`,
//! `forward_lent(tape, (args,))`, which saves no copy of them, and
//! `pullback_lent(tape, seed, scratch, (args,))`, to which the caller lends
//! the same slices again (Tapenade's and Enzyme's adjoints take the primal
//! inputs again the same way). A differentiated caller lends where each slice
//! argument is one it can lend again unchanged in its backward pass (a slice
//! parameter or a part of one).
//!
//! A custom rule need not write them. The call site glob-imports this module,
//! then the callee's module in a block inside (an inner glob import hides an
//! outer one), and branches on `LENDS`: a module without these items gets the
//! ones here, `LENDS = false`, and its `forward_into` and `pullback_into` run.
//! The two functions here are never called; they only give the branch that is
//! not taken a type.

/// Whether the callee's module lends: `false` for one that does not say.
pub const LENDS: bool = false;

/// Never called (`LENDS` is `false` where this is the callee's).
///
/// # Panics
/// Always.
pub fn forward_lent<Tape, Args, Value>(_tape: Tape, _args: Args) -> Value {
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
