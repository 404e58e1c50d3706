//! Shared helpers: central finite differences and a seeded random source.
#![allow(dead_code)]

/// Central difference of `f` along coordinate `i` of `x`.
pub fn central_difference(f: impl Fn(&[f64]) -> f64, x: &[f64], i: usize) -> f64 {
    let h = 1e-6 * x[i].abs().max(1.0);
    let mut plus = x.to_vec();
    let mut minus = x.to_vec();
    plus[i] += h;
    minus[i] -= h;
    (f(&plus) - f(&minus)) / (2.0 * h)
}

/// Asserts that `analytic` matches the central difference of `f` in every
/// coordinate, to a relative tolerance that catches a wrong sign or factor.
#[track_caller]
pub fn assert_gradient(f: impl Fn(&[f64]) -> f64, x: &[f64], analytic: &[f64]) {
    assert_eq!(x.len(), analytic.len());
    for (i, &generated) in analytic.iter().enumerate() {
        let numeric = central_difference(&f, x, i);
        let scale = numeric.abs().max(generated.abs()).max(1.0);
        assert!(
            (numeric - generated).abs() <= 1e-6 * scale,
            "d/dx{i} at {x:?}: generated {generated} but finite differences give {numeric}"
        );
    }
}

/// xorshift64*: a small seeded generator, so property tests repeat.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * unit
    }
}

/// At each point: `grad`'s value equals the plain function's, and its
/// gradient matches central differences of the plain function. `grad` returns
/// the value and the gradient flattened in the order of the point's
/// coordinates.
#[track_caller]
pub fn check(
    points: &[&[f64]],
    plain: impl Fn(&[f64]) -> f64,
    grad: impl Fn(&[f64]) -> (f64, Vec<f64>),
) {
    for point in points {
        let (value, gradient) = grad(point);
        assert_eq!(value, plain(point), "value at {point:?}");
        assert_gradient(&plain, point, &gradient);
    }
}

/// One line per case: `check!(f(x = 0.5, y = -1.0, n))` checks, at that
/// point, that `f::grad` returns `f`'s value and a gradient that matches
/// central differences of `f`. Arguments written `name = value` are the
/// differentiated ones (`name` is the parameter, and so the field of `Grad`);
/// the others are passed as they are.
#[macro_export]
macro_rules! check {
    ($f:ident ( $($args:tt)* )) => {
        // `args` is named here and passed down, so every rule's uses of it
        // are the same variable.
        $crate::check!(@sort args $f [] [] [] $($args)* ,)
    };
    // Sorts the arguments, one at a time, into the call's, the point's values
    // and the gradient's fields.
    (@sort $it:ident $f:ident [$($call:tt)*] [$($point:expr),*] [$($field:ident),*]
        $name:ident = $value:expr, $($rest:tt)*) => {
        $crate::check!(@sort $it $f [$($call)* $it.next().unwrap_or_default(),]
            [$($point,)* $value] [$($field,)* $name] $($rest)*)
    };
    (@sort $it:ident $f:ident [$($call:tt)*] [$($point:expr),*] [$($field:ident),*]
        $value:expr, $($rest:tt)*) => {
        $crate::check!(@sort $it $f [$($call)* $value,] [$($point),*] [$($field),*] $($rest)*)
    };
    (@sort $it:ident $f:ident [$($call:tt)*] [$($point:expr),*] [$($field:ident),*] $(,)*) => {{
        let point = [$($point),*];
        $crate::common::check(
            &[&point[..]],
            |v| {
                let mut $it = v.iter().copied();
                $f($($call)*)
            },
            |v| {
                let mut $it = v.iter().copied();
                let (value, g) = $f::grad($($call)*);
                (value, vec![$(g.$field),*])
            },
        );
    }};
}

/// A custom rule, for the tests of its callers' tapes and second order:
/// beside its `f64` protocol, a `generic` module with the same protocol over
/// any float, which the twins of `second_order` callers call (and run over
/// dual numbers). Its tape says nothing of its memory.
pub fn cube(x: f64) -> f64 {
    x * x * x
}

pub mod cube {
    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        x: f64,
    }
    pub type Scratch = ();
    pub fn forward_into(tape: &mut Tape, x: f64) -> f64 {
        tape.x = x;
        super::cube(x)
    }
    pub fn pullback_into(tape: &Tape, seed: f64, _scratch: &mut Scratch) -> (f64,) {
        (seed * 3.0 * tape.x * tape.x,)
    }

    pub mod generic {
        use backprop_runtime::Float;

        #[derive(Clone, Debug)]
        pub struct Tape<T> {
            x: T,
        }
        impl<T: Float> Default for Tape<T> {
            fn default() -> Self {
                Tape { x: T::zero() }
            }
        }
        pub type Scratch<T> = core::marker::PhantomData<T>;
        pub fn forward_into<T: Float>(tape: &mut Tape<T>, x: T) -> T {
            tape.x = x;
            x * x * x
        }
        pub fn pullback_into<T: Float>(tape: &Tape<T>, seed: T, _scratch: &mut Scratch<T>) -> (T,) {
            let three = T::from(3.0).unwrap_or_else(T::nan);
            (seed * three * tape.x * tape.x,)
        }
    }
}
