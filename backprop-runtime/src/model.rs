//! Models as structs: [`Differentiable`], which `#[derive(Differentiable)]`
//! implements, and [`Gradient`], what the gradient struct it generates can do.
//!
//! ```
//! use backprop_runtime::{differentiate, Differentiable, Gradient};
//!
//! #[derive(Differentiable)]
//! struct Line {
//!     slope: f64,
//!     offset: f64,
//! }
//!
//! #[differentiate]
//! fn loss(line: &Line, x: f64, y: f64) -> f64 {
//!     let e = line.slope * x + line.offset - y;
//!     e * e
//! }
//!
//! fn main() {
//!     let mut line = Line { slope: 0.0, offset: 0.0 };
//!     for _ in 0..200 {
//!         let (_, g) = loss::grad(&line, 2.0, 5.0);
//!         line.step(&g.line, 0.05); // line -= 0.05 * ∂loss/∂line
//!     }
//!     assert!((line.slope * 2.0 + line.offset - 5.0).abs() < 1e-9);
//! }
//! ```
//!
//! A gradient's vectors may be empty, which means zero: `Grad::default()` is
//! zero before any backward pass has sized them, and a field the function
//! does not read keeps an empty vector. Every operation here reads an empty
//! vector as zeros of the right length.

use crate::Float;

/// A struct whose float fields are differentiated: the parameter type of a
/// model. Derive it, `#[derive(Differentiable)]`: a parameter of this type
/// taken by `&` or by value in a `#[differentiate]` function gets a field in
/// the function's `Grad` of type [`Differentiable::Grad`], a struct with the
/// same field names (`MlpGrad` for `Mlp`).
///
/// Fields: floats (`f64`, `f32`, or the struct's type parameter `T`),
/// arrays and `Vec`s of them, and other structs that derive
/// `Differentiable`. Integer, `bool` and `String` fields are data; any other
/// field is data when marked `#[differentiable(skip)]`.
pub trait Differentiable {
    /// The float type of its fields.
    type Float: Float;
    /// The gradient: the same fields, each the gradient of the field.
    type Grad: Gradient<Float = Self::Float>;

    /// A zero gradient shaped like `self`: vectors as long as its vectors.
    fn zero_grad(&self) -> Self::Grad;

    /// `self += factor * grad`, field by field (an empty vector in `grad` adds
    /// nothing). Panics when a non-empty vector's length differs from the
    /// field's.
    fn add_scaled(&mut self, factor: Self::Float, grad: &Self::Grad);

    /// One step of gradient descent, `self -= rate * grad`.
    fn step(&mut self, grad: &Self::Grad, rate: Self::Float) {
        self.add_scaled(-rate, grad);
    }
}

/// What a training loop does with a gradient: zero it, sum it over a
/// minibatch, scale it, measure it.
pub trait Gradient: Clone + Default {
    /// The float type of its fields.
    type Float: Float;

    /// Zero, keeping the vectors' memory (they become empty).
    fn clear(&mut self);

    /// `self *= factor`.
    fn scale(&mut self, factor: Self::Float);

    /// `self += factor * other`: an axpy, field by field.
    fn add_scaled(&mut self, factor: Self::Float, other: &Self);

    /// `self += other`.
    fn add(&mut self, other: &Self) {
        self.add_scaled(<Self::Float as num_traits::One>::one(), other);
    }

    /// The sum of the products of the fields' floats.
    fn dot(&self, other: &Self) -> Self::Float;

    /// The Euclidean norm: `sqrt(self.dot(self))`.
    fn norm(&self) -> Self::Float {
        self.dot(self).sqrt()
    }
}

/// A vector of models (`Vec<Dense>`, a slice of structs passed whole to a
/// differentiated function): its gradient is a vector of theirs.
impl<M: Differentiable> Differentiable for Vec<M> {
    type Float = M::Float;
    type Grad = Vec<M::Grad>;

    fn zero_grad(&self) -> Self::Grad {
        self.iter().map(Differentiable::zero_grad).collect()
    }

    fn add_scaled(&mut self, factor: Self::Float, grad: &Self::Grad) {
        fields::step_each(self, factor, grad);
    }
}

/// The gradient of a vector of models, element by element (an empty one is
/// zero).
impl<G: Gradient> Gradient for Vec<G> {
    type Float = G::Float;

    fn clear(&mut self) {
        fields::clear_each(self);
    }

    fn scale(&mut self, factor: Self::Float) {
        fields::scale_each(self, factor);
    }

    fn add_scaled(&mut self, factor: Self::Float, other: &Self) {
        fields::add_scaled_each(self, factor, other);
    }

    fn dot(&self, other: &Self) -> Self::Float {
        fields::dot_each(self, other)
    }
}

/// The gradient struct of a model type: `GradOf<Mlp>` is `MlpGrad`.
pub type GradOf<P> = <P as Differentiable>::Grad;

/// The field-wise operations the derive writes, for each kind of field.
/// Not part of the API.
#[doc(hidden)]
pub mod fields {
    use crate::Float;

    /// `into += factor * from` over floats, an empty `from` adding nothing and
    /// an empty `into` (a gradient not yet sized) growing to `from`'s length.
    pub fn add_scaled_vec<T: Float>(into: &mut Vec<T>, factor: T, from: &[T]) {
        if from.is_empty() {
            return;
        }
        if into.is_empty() {
            into.resize(from.len(), T::zero());
        }
        add_scaled_slice(into, factor, from);
    }

    /// An array field of a struct taken by `&mut`, lent out of it while the
    /// function read field by field writes it: a vector moved out (its
    /// place left empty until it is put back, no copy), an array copied.
    pub trait Lend: Sized {
        /// The field's contents, taken out for a while.
        fn lend(&mut self) -> Self;
    }

    impl<T> Lend for Vec<T> {
        fn lend(&mut self) -> Self {
            core::mem::take(self)
        }
    }

    impl<T: Copy, const N: usize> Lend for [T; N] {
        fn lend(&mut self) -> Self {
            *self
        }
    }

    /// The seed of a vector field of a struct taken by `&mut`, which the
    /// backward pass reads element by element.
    ///
    /// # Panics
    /// If it is empty while the field is not: a gradient struct's empty
    /// vector stands for zeros elsewhere, but here the seed must be as long
    /// as the field (`model.zero_grad()`, then set).
    #[track_caller]
    pub fn seed_of<'a, T>(seed: &'a [T], field: &'static str, len: usize) -> &'a [T] {
        assert!(
            seed.len() == len,
            "the seed of `{field}` has {} elements, the field {len}: seed a struct taken by `&mut` with a gradient struct whose vectors are as long as its fields (`model.zero_grad()`, then set)",
            seed.len()
        );
        seed
    }

    /// `field.lend()`, for generated code.
    pub fn lend<L: Lend>(field: &mut L) -> L {
        field.lend()
    }

    /// `into += factor * from` over slices of one length (an empty `from`
    /// adds nothing).
    pub fn add_scaled_slice<T: Float>(into: &mut [T], factor: T, from: &[T]) {
        if from.is_empty() {
            return;
        }
        assert_eq!(
            into.len(),
            from.len(),
            "a gradient's vector is not as long as the field it is added to"
        );
        for (a, &b) in into.iter_mut().zip(from) {
            *a = *a + factor * b;
        }
    }

    pub fn scale_slice<T: Float>(values: &mut [T], factor: T) {
        for v in values {
            *v = *v * factor;
        }
    }

    /// The dot product, zero when either side is empty.
    pub fn dot_slice<T: Float>(a: &[T], b: &[T]) -> T {
        if a.is_empty() || b.is_empty() {
            return T::zero();
        }
        assert_eq!(a.len(), b.len(), "two gradients' vectors differ in length");
        a.iter().zip(b).fold(T::zero(), |sum, (&x, &y)| sum + x * y)
    }

    pub fn zero<T: Float>() -> T {
        T::zero()
    }

    /// Zero floats as many as `like` holds.
    pub fn zeros_like<T: Float>(like: &[T]) -> Vec<T> {
        vec![T::zero(); like.len()]
    }

    /// A field's gradient that a differentiated function's gradient, read
    /// field by field, holds as a `Vec`: moved in and out of a `Vec` field,
    /// copied into and out of an array field.
    pub trait Buffer<T> {
        /// Its floats as a `Vec`, leaving zeros: an empty `Vec`, or an array
        /// of zeros.
        fn take_vec(&mut self) -> Vec<T>;
        /// Adds `values` into it: moved into an empty `Vec`, else added
        /// element by element (an empty `values` adds nothing).
        fn add_vec(&mut self, values: Vec<T>);
        /// Adds `values` into it: copied into an empty `Vec`, else added
        /// element by element.
        fn add_slice(&mut self, values: &[T]);
    }

    impl<T: Float> Buffer<T> for Vec<T> {
        fn take_vec(&mut self) -> Vec<T> {
            core::mem::take(self)
        }
        fn add_vec(&mut self, values: Vec<T>) {
            if self.is_empty() {
                *self = values;
            } else {
                add_scaled_slice(self, T::one(), &values);
            }
        }
        fn add_slice(&mut self, values: &[T]) {
            if self.is_empty() {
                self.extend_from_slice(values);
            } else {
                add_scaled_slice(self, T::one(), values);
            }
        }
    }

    impl<T: Float, const N: usize> Buffer<T> for [T; N] {
        fn take_vec(&mut self) -> Vec<T> {
            let values = self.to_vec();
            *self = [T::zero(); N];
            values
        }
        fn add_vec(&mut self, values: Vec<T>) {
            add_scaled_slice(self, T::one(), &values);
        }
        fn add_slice(&mut self, values: &[T]) {
            add_scaled_slice(self, T::one(), values);
        }
    }

    /// The floats of one field of every struct in a slice, one after the
    /// other: `layers.iter().map(|l| &l.w[..])` as one vector.
    pub fn concat<'a, T: Float + 'a>(parts: impl Iterator<Item = &'a [T]>) -> Vec<T> {
        let mut all = Vec::new();
        for part in parts {
            all.extend_from_slice(part);
        }
        all
    }

    /// Where each struct's part starts in `concat`'s vector, and where the
    /// last one ends: `lengths` 2, 3 give `[0, 2, 5]`.
    pub fn offsets(lengths: impl Iterator<Item = usize>) -> Vec<usize> {
        let mut at = vec![0];
        let mut end = 0;
        for len in lengths {
            end += len;
            at.push(end);
        }
        at
    }

    /// `i`, after the bounds check indexing a field of an element would
    /// have done: reads of an element's field are reads of the vector of
    /// every element's, at the element's start plus `within(i, len)`.
    ///
    /// # Panics
    /// If `i >= len`, as indexing the element's field would.
    #[inline]
    #[track_caller]
    pub fn within(i: usize, len: usize) -> usize {
        assert!(
            i < len,
            "index out of bounds: the len is {len} but the index is {i}"
        );
        i
    }

    /// The length of a named part `&x[start..end]` of a list of length `len`
    /// that the generated passes read through `x` (`x[start + i]`) instead
    /// of copying it.
    ///
    /// # Panics
    /// Where taking the part would: `start > end` or `end > len`.
    #[inline]
    #[track_caller]
    pub fn part_len(start: usize, end: usize, len: usize) -> usize {
        assert!(
            start <= end,
            "slice index starts at {start} but ends at {end}"
        );
        assert!(
            end <= len,
            "range end index {end} out of range for slice of length {len}"
        );
        end - start
    }

    /// An integer field of every struct in a slice, read as counts (an
    /// index, a range's end): as `usize`s.
    pub fn counts<C: Count>(values: impl Iterator<Item = C>) -> Vec<usize> {
        values.map(Count::count).collect()
    }

    /// The integers a count can be held in.
    pub trait Count {
        /// # Panics
        /// If the count is negative, or too large for a `usize`.
        fn count(self) -> usize;
    }

    macro_rules! counts {
        ($($t:ty),*) => {$(
            impl Count for $t {
                fn count(self) -> usize {
                    usize::try_from(self).expect("a count read from a field does not fit a `usize`")
                }
            }
        )*};
    }
    counts!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, isize);

    impl Count for usize {
        fn count(self) -> usize {
            self
        }
    }

    /// A float field of every struct in a slice.
    pub fn gather<T: Float>(values: impl Iterator<Item = T>) -> Vec<T> {
        values.collect()
    }

    /// Directions of one array field of a slice of structs laid out as
    /// `concat` lays out the values: an element's empty (or missing)
    /// direction is zeros as long as its field.
    ///
    /// # Panics
    /// If a direction is neither empty nor as long as its field.
    pub fn concat_like<'a, T: Float + 'a>(
        mut directions: impl Iterator<Item = &'a [T]>,
        lengths: impl Iterator<Item = usize>,
    ) -> Vec<T> {
        let mut all = Vec::new();
        for len in lengths {
            match directions.next() {
                Some(direction) if !direction.is_empty() => {
                    assert_eq!(
                        direction.len(),
                        len,
                        "a direction's vector is not as long as its field"
                    );
                    all.extend_from_slice(direction);
                }
                _ => all.resize(all.len() + len, T::zero()),
            }
        }
        all
    }

    /// Directions of one float field of a slice of `count` structs: zero
    /// for elements the directions do not reach.
    pub fn gather_like<T: Float>(directions: impl Iterator<Item = T>, count: usize) -> Vec<T> {
        let mut all: Vec<T> = directions.take(count).collect();
        all.resize(count, T::zero());
        all
    }

    /// Adds the gradient of one array field of a slice of structs, as one
    /// vector cut at `offsets`, into each struct's gradient (made, zero,
    /// when `grads` is shorter). An empty `values` adds nothing.
    pub fn scatter_vec<G: Default, T: Float, B: Buffer<T> + ?Sized>(
        grads: &mut Vec<G>,
        values: &[T],
        offsets: &[usize],
        field: impl Fn(&mut G) -> &mut B,
    ) {
        scatter_parts(grads, values, offsets, G::default, field);
    }

    /// Part `k` of `values` (cut at `offsets`) added into `field` of
    /// `grads[k]`, the missing ones made by `zero`.
    fn scatter_parts<G, T: Float, B: Buffer<T> + ?Sized>(
        grads: &mut Vec<G>,
        values: &[T],
        offsets: &[usize],
        zero: impl FnMut() -> G,
        field: impl Fn(&mut G) -> &mut B,
    ) {
        if values.is_empty() {
            return;
        }
        let count = offsets.len().saturating_sub(1);
        if grads.len() < count {
            grads.resize_with(count, zero);
        }
        for (grad, at) in grads.iter_mut().zip(offsets.windows(2)) {
            field(grad).add_slice(&values[at[0]..at[1]]);
        }
    }

    /// Adds the gradient of one float field of a slice of structs into each
    /// struct's gradient (made, zero, when `grads` is shorter).
    pub fn scatter<G: Default, T: Float>(
        grads: &mut Vec<G>,
        values: &[T],
        field: impl Fn(&mut G) -> &mut T,
    ) {
        if grads.len() < values.len() {
            grads.resize_with(values.len(), G::default);
        }
        for (grad, &value) in grads.iter_mut().zip(values) {
            let into = field(grad);
            *into = *into + value;
        }
    }

    /// A row of a slice of rows of floats (`[f64; 3]`, `Vec<f64>`): the
    /// gradient of each row is a row.
    pub trait Row<T>: Buffer<T> {
        /// A zero row: zeros, or an empty `Vec` (read as zeros).
        fn zero_row() -> Self;
        /// Sets it to zero, keeping a `Vec`'s memory.
        fn clear_row(&mut self);
        /// Zeros as long as this row.
        fn zero_like(&self) -> Self;
    }

    impl<T: Float> Row<T> for Vec<T> {
        fn zero_row() -> Self {
            Vec::new()
        }
        fn zero_like(&self) -> Self {
            zeros_like(self)
        }
        fn clear_row(&mut self) {
            self.iter_mut().for_each(|x| *x = T::zero());
        }
    }

    impl<T: Float, const N: usize> Row<T> for [T; N] {
        fn zero_row() -> Self {
            [T::zero(); N]
        }
        fn clear_row(&mut self) {
            *self = [T::zero(); N];
        }
        fn zero_like(&self) -> Self {
            [T::zero(); N]
        }
    }

    /// Adds the gradient of a slice of rows, as one vector cut at
    /// `offsets`, into each row's gradient (made, zero, when `rows` is
    /// shorter). An empty `values` adds nothing.
    pub fn scatter_rows<T: Float, R: Row<T>, C: Rows<T, R> + ?Sized>(
        rows: &mut C,
        values: &[T],
        offsets: &[usize],
    ) {
        if values.is_empty() {
            return;
        }
        let rows = rows.at_least(offsets.len().saturating_sub(1));
        for (row, at) in rows.iter_mut().zip(offsets.windows(2)) {
            row.add_slice(&values[at[0]..at[1]]);
        }
    }

    /// A field holding rows of floats: a `Vec` of them (`Vec<[f64; 3]>`,
    /// `Vec<Vec<f64>>`), which a gradient grows to the rows it has, or an
    /// array of them (`[[f64; 3]; 2]`), which has them all.
    pub trait Rows<T, R> {
        /// Its rows, at least `count` of them (zero rows added to a `Vec`).
        ///
        /// # Panics
        /// If an array has fewer than `count` rows.
        fn at_least(&mut self, count: usize) -> &mut [R];
    }

    impl<T: Float, R: Row<T>> Rows<T, R> for Vec<R> {
        fn at_least(&mut self, count: usize) -> &mut [R] {
            if self.len() < count {
                self.resize_with(count, R::zero_row);
            }
            self
        }
    }

    impl<T: Float, R: Row<T>, const M: usize> Rows<T, R> for [R; M] {
        fn at_least(&mut self, count: usize) -> &mut [R] {
            assert!(count <= M, "a gradient of {count} rows for an array of {M}");
            self
        }
    }

    /// The rows written in place put back from the vector they were
    /// gathered into (`concat`), row after row.
    pub fn put_rows<T: Float, R: AsMut<[T]>>(rows: &mut [R], values: &[T]) {
        let mut at = 0;
        for row in rows {
            let row = row.as_mut();
            row.copy_from_slice(&values[at..at + row.len()]);
            at += row.len();
        }
    }

    /// The length of each row.
    pub fn lengths<'a, T: 'a, R: AsRef<[T]> + 'a>(
        rows: impl Iterator<Item = &'a R> + 'a,
    ) -> impl Iterator<Item = usize> + 'a {
        rows.map(|row| row.as_ref().len())
    }

    /// Zero rows as long as `rows`' rows.
    pub fn zero_rows<T: Float, R: Row<T>>(rows: &[R]) -> Vec<R> {
        rows.iter().map(Row::zero_like).collect()
    }

    /// Each element of `into` with its element of `from`, `what` they are
    /// named in the message (an empty `from` does nothing).
    ///
    /// # Panics
    /// When a non-empty `from` is not as long as `into`.
    fn each_pair<A, B>(into: &mut [A], from: &[B], what: &str, mut op: impl FnMut(&mut A, &B)) {
        if from.is_empty() {
            return;
        }
        assert_eq!(
            into.len(),
            from.len(),
            "a gradient of {} {what} for {} {what}",
            from.len(),
            into.len()
        );
        for (a, b) in into.iter_mut().zip(from) {
            op(a, b);
        }
    }

    /// `rows += factor * grads`, row by row (an empty `grads` adds nothing).
    ///
    /// # Panics
    /// When a non-empty `grads` is not as long as `rows`, or a row's length
    /// differs.
    pub fn step_rows<T: Float, R: AsMut<[T]>, G: AsRef<[T]>>(
        rows: &mut [R],
        factor: T,
        grads: &[G],
    ) {
        each_pair(rows, grads, "rows", |row, grad| {
            add_scaled_slice(row.as_mut(), factor, grad.as_ref());
        });
    }

    /// `rows *= factor`, row by row.
    pub fn scale_rows<T: Float, R: AsMut<[T]>>(rows: &mut [R], factor: T) {
        for row in rows {
            scale_slice(row.as_mut(), factor);
        }
    }

    /// `into += factor * from`, row by row: an empty `from` adds nothing, an
    /// empty `into` grows to `from`'s shape.
    pub fn add_scaled_rows<T: Float, R: Row<T> + AsRef<[T]> + AsMut<[T]>>(
        into: &mut Vec<R>,
        factor: T,
        from: &[R],
    ) {
        if from.is_empty() {
            return;
        }
        if into.is_empty() {
            *into = zero_rows(from);
        }
        step_rows(into, factor, from);
    }

    /// The sum of the rows' dot products.
    pub fn dot_rows<T: Float, R: AsRef<[T]>>(a: &[R], b: &[R]) -> T {
        a.iter().zip(b).fold(T::zero(), |sum, (x, y)| {
            sum + dot_slice(x.as_ref(), y.as_ref())
        })
    }

    /// Sets every row of a slice of rows' gradient to zero, keeping memory.
    pub fn clear_rows<T: Float, R: Row<T>>(rows: &mut [R]) {
        rows.iter_mut().for_each(Row::clear_row);
    }

    /// `models += factor * grads`, element by element, of a `Vec` of
    /// structs (an empty `grads` adds nothing).
    ///
    /// # Panics
    /// When a non-empty `grads` is not as long as `models`.
    pub fn step_each<M: super::Differentiable>(
        models: &mut [M],
        factor: M::Float,
        grads: &[M::Grad],
    ) {
        each_pair(models, grads, "structs", |model, grad| {
            model.add_scaled(factor, grad);
        });
    }

    /// `grads *= factor`, element by element.
    pub fn scale_each<G: super::Gradient>(grads: &mut [G], factor: G::Float) {
        for grad in grads {
            grad.scale(factor);
        }
    }

    /// `into += factor * from`, element by element: an empty `from` adds
    /// nothing, an empty `into` grows to `from`'s length.
    ///
    /// # Panics
    /// When neither is empty and their lengths differ.
    pub fn add_scaled_each<G: super::Gradient>(into: &mut Vec<G>, factor: G::Float, from: &[G]) {
        if from.is_empty() {
            return;
        }
        if into.is_empty() {
            into.resize_with(from.len(), G::default);
        }
        each_pair(into, from, "structs", |a, b| a.add_scaled(factor, b));
    }

    /// The sum of the elements' dot products (an empty side is zero).
    pub fn dot_each<G: super::Gradient>(a: &[G], b: &[G]) -> G::Float {
        a.iter()
            .zip(b)
            .fold(<G::Float as num_traits::Zero>::zero(), |sum, (x, y)| {
                sum + x.dot(y)
            })
    }

    /// Sets every gradient of a slice of structs to zero, keeping memory.
    pub fn clear_each<G: super::Gradient>(grads: &mut [G]) {
        for grad in grads {
            grad.clear();
        }
    }

    /// Required of every struct parameter of a differentiated function: the
    /// compiler's error, when it is missing, names this function at the
    /// parameter. Derive `Differentiable` for the type, or list the
    /// differentiated parameters in `wrt(...)` to pass this one as data.
    #[allow(non_snake_case)]
    pub const fn derive_Differentiable_for_this_parameter_or_leave_it_out_of_wrt<
        P: super::Differentiable + ?Sized,
    >() {
    }
}
