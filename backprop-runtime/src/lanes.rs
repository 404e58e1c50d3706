//! `Lanes<T, N>`: N tangents carried side by side, what `f::tangents` (N
//! directional derivatives in one pass) and `f::jacobian_fwd` compute with.
//!
//! Forward mode is linear in the tangents: a node's tangent is a sum of its
//! operands' tangents, each times a partial derivative that only depends on
//! the values. So the generated code for one tangent (`let dot_sq = dot_x *
//! (2.0 * x);`) computes N of them when `dot_x` holds N lanes, with the value
//! and its partial computed once. `Lanes` supports exactly what that code
//! does: adding and subtracting lanes, negating them, and scaling them by a
//! value from the right (the generated code always writes the tangent first).
//!
//! Reverse mode is linear in the adjoints the same way, so `f::jacobian_into`
//! of a function with M outputs runs one backward pass with M lanes, each
//! output's unit seed in its own lane ([`unit_seeds`]), instead of M passes:
//! the partials are computed and the tape read once. Its adjoints are summed
//! into vectors of lanes ([`prepare`]), then lane `k` is added into row `k`
//! of the Jacobian ([`add_lane`]). A slice the function reads only at
//! constant indices (`cam[0]`, .., `cam[10]`) has instead a local array of
//! lanes for those elements, handed over as a [`Prefix`].

use core::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};
use num_traits::Float;

/// N tangents of one value, one per direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lanes<T, const N: usize>(pub [T; N]);

impl<T: Float, const N: usize> Lanes<T, N> {
    /// Every lane zero.
    #[inline]
    #[must_use]
    pub fn zero() -> Self {
        Lanes([T::zero(); N])
    }

    /// Lane `coordinate - first` one, the others zero: the seed of the
    /// `coordinate`-th input in the block of N inputs starting at `first`.
    #[inline]
    #[must_use]
    pub fn unit(coordinate: usize, first: usize) -> Self {
        let mut lanes = Self::zero();
        if let Some(lane) = coordinate.checked_sub(first) {
            if lane < N {
                lanes.0[lane] = T::one();
            }
        }
        lanes
    }

    /// Each lane converted, for a cast in the function (`x as f32`).
    #[inline]
    #[must_use]
    pub fn cast<U: Float>(self) -> Lanes<U, N> {
        Lanes(self.0.map(convert))
    }

    /// The tangent of the `coordinate`-th input, when it is in this block:
    /// what `jacobian_fwd` reads out into each output's gradient (in the
    /// input's float, `f32` for an `f32` input of an `f64` function).
    #[inline]
    pub fn read_into<U: Float>(&self, coordinate: usize, first: usize, into: &mut U) {
        if let Some(lane) = coordinate.checked_sub(first) {
            if lane < N {
                *into = convert(self.0[lane]);
            }
        }
    }
}

impl<T: Float, const N: usize> Lanes<T, N> {
    /// `read_into` for the elements of a slice (or array) whose first
    /// element is input `offset`: those in this block get their lane.
    #[inline]
    pub fn read_slice<U: Float>(&self, into: &mut [U], offset: usize, first: usize) {
        for (lane, &tangent) in self.0.iter().enumerate() {
            let element = (first + lane).checked_sub(offset);
            if let Some(slot) = element.and_then(|i| into.get_mut(i)) {
                *slot = convert(tangent);
            }
        }
    }
}

/// One float as another, as `as` converts them (`NumCast` between floats
/// never fails; infinities and NaN map to themselves).
#[inline]
fn convert<T: Float, U: Float>(t: T) -> U {
    U::from(t).unwrap_or_else(U::nan)
}

/// N directions over a slice, as `f::tangents` takes them (`[&[f64]; N]`),
/// turned element by element into lanes (`Vec<Lanes>`).
#[must_use]
pub fn gather<T: Float, const N: usize>(directions: &[&[T]; N]) -> Vec<Lanes<T, N>> {
    let len = directions.first().map_or(0, |d| d.len());
    assert!(
        directions.iter().all(|d| d.len() == len),
        "the {N} directions of one slice differ in length"
    );
    (0..len)
        .map(|i| Lanes(core::array::from_fn(|k| directions[k][i])))
        .collect()
}

/// The lanes back into the N directions they were gathered from: a `&mut`
/// slice's tangents after `tangents` updated them in place.
pub fn scatter<T: Float, const N: usize>(lanes: &[Lanes<T, N>], directions: [&mut [T]; N]) {
    for (k, direction) in directions.into_iter().enumerate() {
        for (slot, lane) in direction.iter_mut().zip(lanes) {
            *slot = lane.0[k];
        }
    }
}

/// N directions over an array (`[[f64; M]; N]`), element by element.
#[must_use]
pub fn gather_array<T: Float, const M: usize, const N: usize>(
    directions: &[[T; M]; N],
) -> [Lanes<T, N>; M] {
    core::array::from_fn(|i| Lanes(core::array::from_fn(|k| directions[k][i])))
}

/// The lanes back into the N directions of an array (`&mut [[f64; M]; N]`):
/// a `&mut [f64; M]`'s tangents after `tangents` updated them in place.
pub fn scatter_array<T: Float, const M: usize, const N: usize>(
    lanes: &[Lanes<T, N>; M],
    directions: &mut [[T; M]; N],
) {
    for (k, direction) in directions.iter_mut().enumerate() {
        for (slot, lane) in direction.iter_mut().zip(lanes) {
            *slot = lane.0[k];
        }
    }
}

/// Unit seeds for a slice whose first element is input `offset`, in the
/// block starting at `first` (the vector keeps its memory between blocks).
pub fn units<T: Float, const N: usize>(
    seeds: &mut Vec<Lanes<T, N>>,
    len: usize,
    offset: usize,
    first: usize,
) {
    seeds.clear();
    seeds.extend((0..len).map(|i| Lanes::unit(offset + i, first)));
}

/// The seeds of a backward pass with one lane per output: output `k`'s
/// adjoint is one in lane `k`, zero in the others.
#[inline]
#[must_use]
pub fn unit_seeds<T: Float, const N: usize>() -> [Lanes<T, N>; N] {
    core::array::from_fn(|k| Lanes::unit(k, 0))
}

/// An adjoint of lanes made `len` zeros for the pass about to add into it,
/// in the memory it has (`LanesGrad` is the pass's own, kept in the tape:
/// a length from an earlier call of other lengths is simply replaced).
#[inline]
pub fn prepare<T: Float, const N: usize>(adjoint: &mut Vec<Lanes<T, N>>, len: usize) {
    if adjoint.len() == len {
        adjoint.fill(Lanes::zero());
    } else {
        // Element by element, as `crate::prepare` does: for the few
        // elements of a typical parameter a call of `memset` costs more.
        adjoint.clear();
        adjoint.reserve(len);
        adjoint.extend((0..len).map(|_| Lanes::zero()));
    }
}

/// Lane `k` of a slice's adjoint added into row `k` of a Jacobian (that
/// output's gradient), sized on first use as `backward_into` sizes it. An
/// adjoint the pass never sized (its parameter was not reached) adds nothing.
#[inline]
pub fn add_lane<T: Float, const N: usize>(lanes: &[Lanes<T, N>], k: usize, row: &mut Vec<T>) {
    if lanes.is_empty() {
        return;
    }
    if row.is_empty() {
        // A row just cleared (a Jacobian per observation): the lane itself.
        row.reserve(lanes.len());
        row.extend(lanes.iter().map(|lane| lane.0[k]));
        return;
    }
    crate::prepare(row, lanes.len());
    add_lane_into(lanes, k, row);
}

/// Lane `k` of an array's adjoint added into row `k`'s array.
#[inline]
pub fn add_lane_into<T: Float, const N: usize>(lanes: &[Lanes<T, N>], k: usize, row: &mut [T]) {
    for (slot, lane) in row.iter_mut().zip(lanes) {
        *slot = *slot + lane.0[k];
    }
}

/// The adjoint, in lanes, of a slice read only at constant indices below
/// `M`: the lanes of its first `M` elements (the others are zero) and the
/// slice's length. The pass with lanes sums into a local `[Lanes; M]`,
/// which lives in registers and needs no sizing, and hands it over so.
#[derive(Clone, Copy, Debug)]
pub struct Prefix<T, const N: usize, const M: usize> {
    pub lanes: [Lanes<T, N>; M],
    pub len: usize,
}

impl<T: Float, const N: usize, const M: usize> Default for Prefix<T, N, M> {
    fn default() -> Self {
        Prefix {
            lanes: [Lanes::zero(); M],
            len: 0,
        }
    }
}

impl<T: Float, const N: usize, const M: usize> Prefix<T, N, M> {
    /// Not reached by the pass: adds nothing (as a vector never sized).
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Lane `k` added into row `k` of the Jacobian, sized on first use to
    /// the slice's length; an index the function read past the slice's end
    /// (in a branch not taken) has a zero adjoint and no element to go to.
    #[inline]
    pub fn add_lane(&self, k: usize, row: &mut Vec<T>) {
        if self.len >= M {
            // All `M` known: a loop of a length the optimiser sees, unrolled.
            add_known(&self.lanes, self.len, k, row);
        } else if self.len > 0 {
            self.add_shorter(k, row);
        }
    }

    /// A slice shorter than `M`: indices past its end were read in a branch
    /// not taken.
    #[inline(never)]
    fn add_shorter(&self, k: usize, row: &mut Vec<T>) {
        add_known(&self.lanes[..self.len], self.len, k, row);
    }
}

/// Lane `k` of `known`, the lanes of a slice's first elements, added into
/// row `k`, whose other elements up to `len` get zero. Always inlined, so
/// that the loops over an array's lanes are unrolled.
#[inline(always)]
fn add_known<T: Float, const N: usize>(
    known: &[Lanes<T, N>],
    len: usize,
    k: usize,
    row: &mut Vec<T>,
) {
    if row.is_empty() {
        row.reserve(len);
        row.extend(known.iter().map(|lane| lane.0[k]));
        row.resize(len, T::zero());
        return;
    }
    crate::prepare(row, len);
    add_lane_into(known, k, row);
}

impl<T: Float, const N: usize> Default for Lanes<T, N> {
    fn default() -> Self {
        Self::zero()
    }
}

impl<T: Float, const N: usize> Add for Lanes<T, N> {
    type Output = Self;
    #[inline]
    fn add(self, other: Self) -> Self {
        Lanes(core::array::from_fn(|k| self.0[k] + other.0[k]))
    }
}

impl<T: Float, const N: usize> Sub for Lanes<T, N> {
    type Output = Self;
    #[inline]
    fn sub(self, other: Self) -> Self {
        Lanes(core::array::from_fn(|k| self.0[k] - other.0[k]))
    }
}

impl<T: Float, const N: usize> Neg for Lanes<T, N> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        Lanes(self.0.map(|t| -t))
    }
}

/// Scaling by a partial derivative.
impl<T: Float, const N: usize> Mul<T> for Lanes<T, N> {
    type Output = Self;
    #[inline]
    fn mul(self, factor: T) -> Self {
        Lanes(self.0.map(|t| t * factor))
    }
}

impl<T: Float, const N: usize> Div<T> for Lanes<T, N> {
    type Output = Self;
    #[inline]
    fn div(self, divisor: T) -> Self {
        Lanes(self.0.map(|t| t / divisor))
    }
}

// By a reference too, as `f64 * &f64` is: the generated code multiplies by a
// local as the user bound it (`let first = &data[0];`).
impl<T: Float, const N: usize> Mul<&T> for Lanes<T, N> {
    type Output = Self;
    #[inline]
    fn mul(self, factor: &T) -> Self {
        self * *factor
    }
}

impl<T: Float, const N: usize> Div<&T> for Lanes<T, N> {
    type Output = Self;
    #[inline]
    fn div(self, divisor: &T) -> Self {
        self / *divisor
    }
}

impl<T: Float, const N: usize> AddAssign for Lanes<T, N> {
    #[inline]
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

impl<T: Float, const N: usize> SubAssign for Lanes<T, N> {
    #[inline]
    fn sub_assign(&mut self, other: Self) {
        *self = *self - other;
    }
}

#[cfg(test)]
mod tests {
    use super::{gather, gather_array, units, Lanes};

    #[test]
    fn arithmetic_is_per_lane() {
        let a = Lanes([1.0, 2.0, 3.0]);
        let b = Lanes([0.5, -1.0, 4.0]);
        assert_eq!(a + b, Lanes([1.5, 1.0, 7.0]));
        assert_eq!(a - b, Lanes([0.5, 3.0, -1.0]));
        assert_eq!(-a, Lanes([-1.0, -2.0, -3.0]));
        assert_eq!(a * 2.0, Lanes([2.0, 4.0, 6.0]));
        assert_eq!(a / 2.0, Lanes([0.5, 1.0, 1.5]));
        let mut c = a;
        c += b;
        c -= a;
        assert_eq!(c, b);
        assert_eq!(a.cast::<f32>(), Lanes([1.0_f32, 2.0, 3.0]));
    }

    #[test]
    fn lanes_are_added_into_their_rows() {
        assert_eq!(
            super::unit_seeds::<f64, 2>(),
            [Lanes([1.0, 0.0]), Lanes([0.0, 1.0])]
        );
        let mut adjoint = vec![Lanes([5.0, 5.0])];
        super::prepare::<f64, 2>(&mut adjoint, 2);
        assert_eq!(adjoint, [Lanes::zero(); 2]);
        adjoint[1] += Lanes([3.0, -1.0]);
        let (mut row0, mut row1) = (Vec::new(), vec![10.0, 20.0]);
        super::add_lane(&adjoint, 0, &mut row0);
        super::add_lane(&adjoint, 1, &mut row1);
        assert_eq!((row0, row1), (vec![0.0, 3.0], vec![10.0, 19.0]));
        // An adjoint never sized leaves its row as it was.
        let mut untouched: Vec<f64> = Vec::new();
        super::add_lane::<f64, 2>(&[], 0, &mut untouched);
        assert!(untouched.is_empty());
    }

    #[test]
    fn units_seed_one_block() {
        assert_eq!(Lanes::<f64, 4>::unit(5, 4), Lanes([0.0, 1.0, 0.0, 0.0]));
        assert_eq!(Lanes::<f64, 4>::unit(3, 4), Lanes::zero());
        assert_eq!(Lanes::<f64, 4>::unit(8, 4), Lanes::zero());
        let mut seeds = Vec::new();
        units::<f64, 2>(&mut seeds, 3, 1, 2);
        assert_eq!(
            seeds,
            [Lanes([0.0, 0.0]), Lanes([1.0, 0.0]), Lanes([0.0, 1.0])]
        );
        let mut into = -1.0;
        Lanes([7.0, 8.0]).read_into(3, 2, &mut into);
        assert_eq!(into, 8.0);
        Lanes([7.0, 8.0]).read_into(4, 2, &mut into);
        assert_eq!(into, 8.0);
        let mut row = [0.0; 3];
        Lanes([7.0, 8.0]).read_slice(&mut row, 3, 4);
        assert_eq!(row, [0.0, 7.0, 8.0]);
        Lanes([5.0, 6.0]).read_slice(&mut row, 3, 2);
        assert_eq!(row, [6.0, 7.0, 8.0]);
    }

    #[test]
    fn gather_turns_directions_into_lanes() {
        let (d0, d1) = ([1.0, 2.0], [3.0, 4.0]);
        assert_eq!(
            gather(&[&d0[..], &d1[..]]),
            [Lanes([1.0, 3.0]), Lanes([2.0, 4.0])]
        );
        assert_eq!(
            gather_array(&[d0, d1]),
            [Lanes([1.0, 3.0]), Lanes([2.0, 4.0])]
        );
    }
}
