//! The lending call protocol: its fallbacks for callees that copy, and the
//! trait its `pullback_lent` reads the arguments with.
//!
//! A function that `#[differentiate]` writes and that takes a list by shared
//! reference can be called without copying the lists it reads into its tape:
//! its module has `LENDS = true`, `forward_lent(tape, (args,), keep)`, which
//! copies a list only where `keep` says so, and `pullback_lent(tape, seed,
//! scratch, (args,), (sinks,))`, to which the caller lends the other lists
//! again (Tapenade's and Enzyme's adjoints take the primal inputs again the
//! same way; a kept list is passed again as `()`, and the callee reads its own
//! copy: [`Again`]) and, for each list, the part of its own adjoint to add the
//! list's adjoint into ([`Sink`]; `()` for the scratch). A differentiated caller lends each list it can pass again
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

/// Where `pullback_lent` adds the adjoint of a list it gets again: a part
/// of the caller's own adjoint (`&mut [T]`, added into in place: nothing
/// zeroed, copied or added afterwards), `()`, the scratch's vector, set to
/// zero, which `pullback_lent` hands back as `pullback_into` does, or
/// [`Discard`], for a list the caller does not differentiate. A callee
/// that adds into a `&mut [T]` hands back an empty slice at that position,
/// which callers read as zero.
pub trait Sink<T> {
    /// The adjoint to add into, `len` long: this part of the caller's, or
    /// `scratch` made `len` zeros (an empty `scratch`; one of that length is
    /// added into, as `backward_into` adds into a `Grad`).
    ///
    /// # Panics
    /// If the caller's part is not `len` long.
    fn target<'s>(self, scratch: &'s mut Vec<T>, len: usize) -> &'s mut [T]
    where
        Self: 's;

    /// Empties the scratch's vector before the backward pass, so that an
    /// adjoint it never reaches is handed back as zero (an empty slice).
    #[inline]
    fn clear(&self, scratch: &mut Vec<T>) {
        scratch.clear();
    }
}

impl<T> Sink<T> for &mut [T] {
    #[inline]
    fn target<'s>(self, _scratch: &'s mut Vec<T>, len: usize) -> &'s mut [T]
    where
        Self: 's,
    {
        if self.len() != len {
            wrong_part_length(self.len(), len);
        }
        self
    }
}

#[cold]
#[inline(never)]
fn wrong_part_length(found: usize, len: usize) -> ! {
    panic!("a list's adjoint given to its callee has length {found}, but the list has length {len}")
}

/// The adjoint of a list the caller does not differentiate (its data: the
/// points k-means measures distances from), which nobody reads: the callee
/// adds into its scratch's vector, which keeps its length and contents from
/// call to call, so no call zeroes it again (a few floats zeroed per call
/// were a tenth of k-means' backward pass). It is filled with `NaN` when
/// sized: were any backward pass ever to read it, its gradient would say so.
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl<T: crate::Real> Sink<T> for Discard {
    #[inline]
    fn target<'s>(self, scratch: &'s mut Vec<T>, len: usize) -> &'s mut [T]
    where
        Self: 's,
    {
        if scratch.len() != len {
            scratch.clear();
            scratch.resize(len, T::nan());
        }
        &mut scratch[..]
    }

    #[inline]
    fn clear(&self, _scratch: &mut Vec<T>) {}
}

impl<T: crate::Real> Sink<T> for () {
    #[inline]
    fn target<'s>(self, scratch: &'s mut Vec<T>, len: usize) -> &'s mut [T]
    where
        Self: 's,
    {
        crate::prepare(scratch, len);
        &mut scratch[..]
    }
}

/// The seed `pullback_lent` gets for a list the callee writes (`&mut [T]`):
/// the adjoint of its final contents, as a slice to copy (`&[T]`, the
/// result handed back as `pullback_into` hands it), or [`Seeded`], the
/// caller's own adjoint holding it, which the callee's backward pass turns
/// into the adjoint of the list's initial contents in place (nothing copied
/// in or handed back).
pub trait Seed<T> {
    /// The adjoint to run the backward pass on, `len` long, and whether the
    /// result is to be handed back: `work` filled with the seed, or the
    /// caller's adjoint itself.
    ///
    /// # Panics
    /// If the seed is not `len` long.
    fn start<'s>(self, work: &'s mut Vec<T>, len: usize) -> (&'s mut [T], bool)
    where
        Self: 's;
}

impl<T: Copy> Seed<T> for &[T] {
    #[inline]
    fn start<'s>(self, work: &'s mut Vec<T>, len: usize) -> (&'s mut [T], bool)
    where
        Self: 's,
    {
        if self.len() != len {
            wrong_part_length(self.len(), len);
        }
        work.clear();
        work.extend_from_slice(self);
        (&mut work[..], true)
    }
}

/// A caller's adjoint of a list its callee writes, holding the adjoint of
/// the list's final contents; the callee leaves in it that of its initial
/// contents ([`Seed`]).
pub struct Seeded<'a, T>(pub &'a mut [T]);

impl<'a, T> Seed<T> for Seeded<'a, T> {
    #[inline]
    fn start<'s>(self, _work: &'s mut Vec<T>, len: usize) -> (&'s mut [T], bool)
    where
        Self: 's,
    {
        if self.0.len() != len {
            wrong_part_length(self.0.len(), len);
        }
        (self.0, false)
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
pub fn pullback_lent<Tape, Seed, Scratch, Args, Sinks, Adjoints>(
    _tape: Tape,
    _seed: Seed,
    _scratch: Scratch,
    _args: Args,
    _sinks: Sinks,
) -> Adjoints {
    unreachable!("a callee without `pullback_lent` is pulled back through `pullback_into`")
}
