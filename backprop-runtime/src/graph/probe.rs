//! How the generated recording code hands the recorder any value: a float,
//! an array, or anything else, chosen by method resolution.

use super::Recorder;
use num_traits::ToPrimitive;

/// A value the generated recording code hands the recorder, whatever its
/// type: a float is written out, an array's head too, anything else (a
/// tuple of results) only counted. Method resolution tries the traits in that
/// order on `(&&&Probe(&v)).record(..)`, one dereference a level (the
/// scalar's impl is on `&&Probe`, the arrays' on `&Probe`, the rest's on
/// `Probe`), so no type the user's code computes fails to compile.
#[doc(hidden)]
pub struct Probe<'a, V: ?Sized>(pub &'a V);

#[doc(hidden)]
pub trait RecordScalar {
    fn record(&self, recorder: &mut Recorder, node: usize);
    fn adjoint(&self, recorder: &mut Recorder, node: usize);
    fn term(&self, recorder: &mut Recorder, edge: usize);
}

impl<V: ToPrimitive + Copy> RecordScalar for &&Probe<'_, V> {
    fn record(&self, recorder: &mut Recorder, node: usize) {
        recorder.value(node, *self.0);
    }
    fn adjoint(&self, recorder: &mut Recorder, node: usize) {
        recorder.adjoint(node, *self.0);
    }
    fn term(&self, recorder: &mut Recorder, edge: usize) {
        recorder.term(edge, *self.0);
    }
}

#[doc(hidden)]
pub trait RecordSlice {
    fn record(&self, recorder: &mut Recorder, node: usize);
    fn adjoint(&self, recorder: &mut Recorder, node: usize);
    fn term(&self, recorder: &mut Recorder, edge: usize);
}

impl<E: ToPrimitive + Copy, V: std::ops::Deref<Target = [E]>> RecordSlice for &Probe<'_, V> {
    fn record(&self, recorder: &mut Recorder, node: usize) {
        recorder.array(node, self.0);
    }
    fn adjoint(&self, recorder: &mut Recorder, node: usize) {
        recorder.visit(node);
    }
    fn term(&self, _: &mut Recorder, _: usize) {}
}

/// Fixed arrays, at the same level as slices and vectors: a trait of their
/// own, since one trait's impls for `V: Deref<Target = [E]>` and for
/// `[E; N]` would overlap for all rustc knows (`core` may one day implement
/// `Deref` for arrays).
#[doc(hidden)]
pub trait RecordFixed {
    fn record(&self, recorder: &mut Recorder, node: usize);
    fn adjoint(&self, recorder: &mut Recorder, node: usize);
    fn term(&self, recorder: &mut Recorder, edge: usize);
}

impl<E: ToPrimitive + Copy, const N: usize> RecordFixed for &Probe<'_, [E; N]> {
    fn record(&self, recorder: &mut Recorder, node: usize) {
        recorder.array(node, self.0);
    }
    fn adjoint(&self, recorder: &mut Recorder, node: usize) {
        recorder.visit(node);
    }
    fn term(&self, _: &mut Recorder, _: usize) {}
}

#[doc(hidden)]
pub trait RecordAny {
    fn record(&self, recorder: &mut Recorder, node: usize);
    fn adjoint(&self, recorder: &mut Recorder, node: usize);
    fn term(&self, recorder: &mut Recorder, edge: usize);
}

impl<V: ?Sized> RecordAny for Probe<'_, V> {
    fn record(&self, recorder: &mut Recorder, node: usize) {
        recorder.occur(node);
    }
    fn adjoint(&self, recorder: &mut Recorder, node: usize) {
        recorder.visit(node);
    }
    fn term(&self, _: &mut Recorder, _: usize) {}
}
