//! The memory a tape holds, for `Tape::bytes()`: each generated tape adds up
//! its own size and the heap memory of its fields (stacks, copies of data,
//! the tapes of the calls it holds), counted by capacity, since that is what
//! it keeps between passes.
//!
//! A field whose type says nothing about its heap memory (a custom rule's
//! tape, a value of your own type saved for a branch) counts its inline size
//! only: the generated code asks through [`Probe`], which picks
//! [`HeapBytes`] where the type has it and zero otherwise.

use crate::{Stack, TapeStack};
use core::mem::size_of;

/// Heap memory held, in bytes (by capacity).
pub trait HeapBytes {
    /// The bytes on the heap this value owns, not counting its own size.
    fn heap_bytes(&self) -> usize;
}

macro_rules! inline_only {
    ($($t:ty),*) => {
        $(impl HeapBytes for $t {
            fn heap_bytes(&self) -> usize {
                0
            }
        })*
    };
}

inline_only!(f32, f64, usize, isize, u8, u16, u32, u64, i8, i16, i32, i64, bool);

impl<T: HeapBytes> HeapBytes for crate::Dual<T> {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl<T> HeapBytes for Vec<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * size_of::<T>()
    }
}

impl<T> HeapBytes for Stack<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * size_of::<T>()
    }
}

/// The tapes' own heap memory too, spare tapes included (their memory is
/// kept for the next pass).
impl<T: HeapBytes> HeapBytes for TapeStack<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * size_of::<T>() + self.all().map(HeapBytes::heap_bytes).sum::<usize>()
    }
}

impl<A: HeapBytes, B: HeapBytes> HeapBytes for (A, B) {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes() + self.1.heap_bytes()
    }
}

/// A field asked for its heap memory: `(&&Probe(&field)).heap_bytes()` is
/// [`HeapBytes`]'s answer where the field's type implements it ([`Measured`],
/// found first), else zero ([`Unmeasured`]).
pub struct Probe<'a, T>(pub &'a T);

/// The answer of types that know their heap memory.
pub trait Measured {
    /// See [`HeapBytes::heap_bytes`].
    fn heap_bytes(&self) -> usize;
}

impl<T: HeapBytes> Measured for &Probe<'_, T> {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

/// The answer of the others: none counted.
pub trait Unmeasured {
    /// Zero: the type does not say.
    fn heap_bytes(&self) -> usize;
}

impl<T> Unmeasured for Probe<'_, T> {
    fn heap_bytes(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::{HeapBytes, Measured as _, Probe, Unmeasured as _};
    use crate::{Stack, TapeStack};

    #[test]
    fn heap_memory_by_capacity() {
        let mut stack = Stack::new();
        stack.push(1.0_f64);
        assert_eq!(stack.heap_bytes(), stack.capacity() * 8);
        let v: Vec<f32> = Vec::with_capacity(10);
        assert_eq!(v.heap_bytes(), 40);
        let mut tapes: TapeStack<Vec<f64>> = TapeStack::new();
        let tape = tapes.next_spare();
        tape.reserve_exact(4);
        let own = tape.capacity() * 8;
        tapes.keep();
        assert_eq!(
            tapes.heap_bytes(),
            tapes.capacity() * core::mem::size_of::<Vec<f64>>() + own
        );
    }

    #[test]
    // The `&&` is the point: it is what picks `Measured` first.
    #[allow(clippy::needless_borrow)]
    fn probes_fall_back_to_zero() {
        struct Opaque(#[allow(dead_code)] Vec<u8>);
        let v = vec![0_u8; 16];
        assert_eq!((&&Probe(&v)).heap_bytes(), 16);
        let opaque = Opaque(vec![0; 16]);
        assert_eq!((&&Probe(&opaque)).heap_bytes(), 0);
    }
}
