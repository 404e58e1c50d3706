//! Dual numbers `re + eps·ε` (ε² = 0) that are a [`Float`]: a generic
//! differentiated function run over `Dual<f64>` carries a directional
//! derivative through every operation of its forward *and* backward pass, so
//! the gradient's `eps` parts are a Hessian-vector product (forward over
//! reverse). It is the arithmetic a second source transformation of the
//! reverse pass would write, node by node; the generic code the macro already
//! emits for `T: Float` is that program.
//!
//! Comparisons look at `re` only: control flow follows the values, as the
//! derivative of the path the values take. Derivative conventions where a
//! function has none are the reverse pass's: `abs` uses `signum` (1 at +0),
//! `max`/`min` give ties to the receiver, `floor`, `round`, `signum` have
//! derivative zero.

use num_traits::{Float, Num, NumCast, One, ToPrimitive, Zero};
use std::cmp::Ordering;
use std::num::FpCategory;
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

/// `re + eps·ε`: a value and its derivative along one direction.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dual<T> {
    /// The value.
    pub re: T,
    /// Its derivative along the direction.
    pub eps: T,
}

impl<T: Float> Dual<T> {
    /// A value moving with speed `eps`.
    pub fn new(re: T, eps: T) -> Self {
        Dual { re, eps }
    }

    /// A value that does not move.
    pub fn constant(re: T) -> Self {
        Dual { re, eps: T::zero() }
    }

    /// `f(re)`, with derivative `f'(re)`.
    fn chain(self, value: T, slope: T) -> Self {
        Dual {
            re: value,
            eps: slope * self.eps,
        }
    }
}

impl<T: Float> PartialEq for Dual<T> {
    fn eq(&self, other: &Self) -> bool {
        self.re == other.re
    }
}

impl<T: Float> PartialOrd for Dual<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.re.partial_cmp(&other.re)
    }
}

impl<T: Float> Add for Dual<T> {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Dual::new(self.re + o.re, self.eps + o.eps)
    }
}

impl<T: Float> Sub for Dual<T> {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        Dual::new(self.re - o.re, self.eps - o.eps)
    }
}

impl<T: Float> Mul for Dual<T> {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        Dual::new(self.re * o.re, self.eps * o.re + self.re * o.eps)
    }
}

impl<T: Float> Div for Dual<T> {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        let q = self.re / o.re;
        Dual::new(q, (self.eps - q * o.eps) / o.re)
    }
}

impl<T: Float> Rem for Dual<T> {
    type Output = Self;
    /// `a - b * trunc(a / b)`, the quotient held fixed.
    fn rem(self, o: Self) -> Self {
        let n = (self.re / o.re).trunc();
        Dual::new(self.re % o.re, self.eps - n * o.eps)
    }
}

impl<T: Float> Neg for Dual<T> {
    type Output = Self;
    fn neg(self) -> Self {
        Dual::new(-self.re, -self.eps)
    }
}

/// `iter.sum()` in a function generic over `T: Float + Sum`, which `hvp`
/// runs over `Dual<T>`.
impl<T: Float> core::iter::Sum for Dual<T> {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::zero(), |a, b| a + b)
    }
}

impl<T: Float> core::iter::Product for Dual<T> {
    fn product<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::one(), |a, b| a * b)
    }
}

impl<T: Float> Zero for Dual<T> {
    fn zero() -> Self {
        Dual::constant(T::zero())
    }
    fn is_zero(&self) -> bool {
        self.re.is_zero()
    }
}

impl<T: Float> One for Dual<T> {
    fn one() -> Self {
        Dual::constant(T::one())
    }
}

impl<T: Float> Num for Dual<T> {
    type FromStrRadixErr = T::FromStrRadixErr;
    fn from_str_radix(s: &str, radix: u32) -> Result<Self, Self::FromStrRadixErr> {
        T::from_str_radix(s, radix).map(Dual::constant)
    }
}

impl<T: Float> ToPrimitive for Dual<T> {
    fn to_i64(&self) -> Option<i64> {
        self.re.to_i64()
    }
    fn to_u64(&self) -> Option<u64> {
        self.re.to_u64()
    }
    fn to_f64(&self) -> Option<f64> {
        self.re.to_f64()
    }
}

impl<T: Float> NumCast for Dual<T> {
    fn from<N: ToPrimitive>(n: N) -> Option<Self> {
        T::from(n).map(Dual::constant)
    }
}

impl<T: Float> Float for Dual<T> {
    fn nan() -> Self {
        Dual::constant(T::nan())
    }
    fn infinity() -> Self {
        Dual::constant(T::infinity())
    }
    fn neg_infinity() -> Self {
        Dual::constant(T::neg_infinity())
    }
    fn neg_zero() -> Self {
        Dual::constant(T::neg_zero())
    }
    fn min_value() -> Self {
        Dual::constant(T::min_value())
    }
    fn min_positive_value() -> Self {
        Dual::constant(T::min_positive_value())
    }
    fn max_value() -> Self {
        Dual::constant(T::max_value())
    }
    fn epsilon() -> Self {
        Dual::constant(T::epsilon())
    }
    fn is_nan(self) -> bool {
        self.re.is_nan()
    }
    fn is_infinite(self) -> bool {
        self.re.is_infinite()
    }
    fn is_finite(self) -> bool {
        self.re.is_finite()
    }
    fn is_normal(self) -> bool {
        self.re.is_normal()
    }
    fn classify(self) -> FpCategory {
        self.re.classify()
    }
    fn floor(self) -> Self {
        Dual::constant(self.re.floor())
    }
    fn ceil(self) -> Self {
        Dual::constant(self.re.ceil())
    }
    fn round(self) -> Self {
        Dual::constant(self.re.round())
    }
    fn trunc(self) -> Self {
        Dual::constant(self.re.trunc())
    }
    fn fract(self) -> Self {
        Dual::new(self.re.fract(), self.eps)
    }
    fn abs(self) -> Self {
        // `signum` is 1 at +0, as the reverse pass's rule.
        self.chain(self.re.abs(), self.re.signum())
    }
    fn signum(self) -> Self {
        Dual::constant(self.re.signum())
    }
    fn is_sign_positive(self) -> bool {
        self.re.is_sign_positive()
    }
    fn is_sign_negative(self) -> bool {
        self.re.is_sign_negative()
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    fn recip(self) -> Self {
        let r = self.re.recip();
        self.chain(r, -r * r)
    }
    fn powi(self, n: i32) -> Self {
        if n == 0 {
            return Dual::one();
        }
        let slope = T::from(n).unwrap_or_else(T::zero) * self.re.powi(n - 1);
        self.chain(self.re.powi(n), slope)
    }
    fn powf(self, b: Self) -> Self {
        let value = self.re.powf(b.re);
        let through_base = if self.eps.is_zero() {
            T::zero()
        } else {
            self.eps * b.re * self.re.powf(b.re - T::one())
        };
        // An exponent that does not move adds nothing (and `ln` of a
        // negative base is not asked).
        let through_exponent = if b.eps.is_zero() {
            T::zero()
        } else {
            b.eps * value * self.re.ln()
        };
        Dual::new(value, through_base + through_exponent)
    }
    fn sqrt(self) -> Self {
        let s = self.re.sqrt();
        self.chain(s, (s + s).recip())
    }
    fn exp(self) -> Self {
        let e = self.re.exp();
        self.chain(e, e)
    }
    fn exp2(self) -> Self {
        let e = self.re.exp2();
        self.chain(
            e,
            e * T::from(std::f64::consts::LN_2).unwrap_or_else(T::zero),
        )
    }
    fn ln(self) -> Self {
        self.chain(self.re.ln(), self.re.recip())
    }
    fn log(self, base: Self) -> Self {
        self.ln() / base.ln()
    }
    fn log2(self) -> Self {
        let ln2 = T::from(std::f64::consts::LN_2).unwrap_or_else(T::one);
        self.chain(self.re.log2(), (self.re * ln2).recip())
    }
    fn log10(self) -> Self {
        let ln10 = T::from(std::f64::consts::LN_10).unwrap_or_else(T::one);
        self.chain(self.re.log10(), (self.re * ln10).recip())
    }
    fn max(self, o: Self) -> Self {
        // Ties to the receiver, as the reverse pass's rule.
        if self.re >= o.re || o.re.is_nan() {
            self
        } else {
            o
        }
    }
    fn min(self, o: Self) -> Self {
        if self.re <= o.re || o.re.is_nan() {
            self
        } else {
            o
        }
    }
    fn abs_sub(self, o: Self) -> Self {
        if self.re > o.re {
            self - o
        } else {
            Dual::zero()
        }
    }
    fn cbrt(self) -> Self {
        let c = self.re.cbrt();
        let three = T::from(3.0).unwrap_or_else(T::one);
        self.chain(c, (three * c * c).recip())
    }
    fn hypot(self, o: Self) -> Self {
        let h = self.re.hypot(o.re);
        Dual::new(h, (self.re * self.eps + o.re * o.eps) / h)
    }
    fn sin(self) -> Self {
        self.chain(self.re.sin(), self.re.cos())
    }
    fn cos(self) -> Self {
        self.chain(self.re.cos(), -self.re.sin())
    }
    fn tan(self) -> Self {
        let t = self.re.tan();
        self.chain(t, T::one() + t * t)
    }
    fn asin(self) -> Self {
        self.chain(
            self.re.asin(),
            (T::one() - self.re * self.re).sqrt().recip(),
        )
    }
    fn acos(self) -> Self {
        self.chain(
            self.re.acos(),
            -(T::one() - self.re * self.re).sqrt().recip(),
        )
    }
    fn atan(self) -> Self {
        self.chain(self.re.atan(), (T::one() + self.re * self.re).recip())
    }
    fn atan2(self, x: Self) -> Self {
        let r2 = self.re * self.re + x.re * x.re;
        Dual::new(
            self.re.atan2(x.re),
            (x.re * self.eps - self.re * x.eps) / r2,
        )
    }
    fn sin_cos(self) -> (Self, Self) {
        (self.sin(), self.cos())
    }
    fn exp_m1(self) -> Self {
        self.chain(self.re.exp_m1(), self.re.exp())
    }
    fn ln_1p(self) -> Self {
        self.chain(self.re.ln_1p(), (T::one() + self.re).recip())
    }
    fn sinh(self) -> Self {
        self.chain(self.re.sinh(), self.re.cosh())
    }
    fn cosh(self) -> Self {
        self.chain(self.re.cosh(), self.re.sinh())
    }
    fn tanh(self) -> Self {
        let t = self.re.tanh();
        self.chain(t, T::one() - t * t)
    }
    fn asinh(self) -> Self {
        self.chain(
            self.re.asinh(),
            (self.re * self.re + T::one()).sqrt().recip(),
        )
    }
    fn acosh(self) -> Self {
        self.chain(
            self.re.acosh(),
            (self.re * self.re - T::one()).sqrt().recip(),
        )
    }
    fn atanh(self) -> Self {
        self.chain(self.re.atanh(), (T::one() - self.re * self.re).recip())
    }
    fn integer_decode(self) -> (u64, i16, i8) {
        self.re.integer_decode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Unary = fn(Dual<f64>) -> Dual<f64>;
    type Binary = fn(Dual<f64>, Dual<f64>) -> Dual<f64>;

    /// Each method's `eps` against a central difference of its `re`.
    #[test]
    fn every_method_matches_central_differences() {
        let unary: [(&str, Unary); 24] = [
            ("sqrt", Float::sqrt),
            ("exp", Float::exp),
            ("exp2", Float::exp2),
            ("ln", Float::ln),
            ("log2", Float::log2),
            ("log10", Float::log10),
            ("cbrt", Float::cbrt),
            ("sin", Float::sin),
            ("cos", Float::cos),
            ("tan", Float::tan),
            ("asin", Float::asin),
            ("acos", Float::acos),
            ("atan", Float::atan),
            ("exp_m1", Float::exp_m1),
            ("ln_1p", Float::ln_1p),
            ("sinh", Float::sinh),
            ("cosh", Float::cosh),
            ("tanh", Float::tanh),
            ("asinh", Float::asinh),
            ("atanh", Float::atanh),
            ("recip", Float::recip),
            ("abs", Float::abs),
            ("powi", |d| d.powi(3)),
            ("fract", Float::fract),
        ];
        for x in [0.3, 0.55, 0.8] {
            for (name, f) in unary {
                let h = 1e-6;
                let numeric =
                    (f(Dual::constant(x + h)).re - f(Dual::constant(x - h)).re) / (2.0 * h);
                let got = f(Dual::new(x, 1.0)).eps;
                assert!(
                    (got - numeric).abs() < 1e-6,
                    "{name} at {x}: {got} vs {numeric}"
                );
            }
            let acosh = Dual::new(x + 1.5, 1.0).acosh().eps;
            assert!((acosh - 1.0 / ((x + 1.5) * (x + 1.5) - 1.0).sqrt()).abs() < 1e-12);
        }
        let binary: [(&str, Binary); 9] = [
            ("add", |a, b| a + b),
            ("sub", |a, b| a - b),
            ("mul", |a, b| a * b),
            ("div", |a, b| a / b),
            ("rem", |a, b| a % b),
            ("powf", Float::powf),
            ("hypot", Float::hypot),
            ("atan2", Float::atan2),
            ("log", Float::log),
        ];
        for (x, y) in [(0.7, 1.9), (2.3, 0.6)] {
            for (name, f) in binary {
                let h = 1e-6;
                let along = |t: f64| f(Dual::constant(x + t), Dual::constant(y - 2.0 * t)).re;
                let numeric = (along(h) - along(-h)) / (2.0 * h);
                let got = f(Dual::new(x, 1.0), Dual::new(y, -2.0)).eps;
                assert!(
                    (got - numeric).abs() < 1e-6,
                    "{name} at ({x}, {y}): {got} vs {numeric}"
                );
            }
        }
    }

    #[test]
    fn comparisons_follow_the_values() {
        let (a, b) = (Dual::new(1.0, 5.0), Dual::new(1.0, -3.0));
        assert!(a == b && a >= b && a <= b);
        assert_eq!(a.max(b).eps, 5.0);
        assert_eq!(Dual::new(2.0, 1.0).powf(Dual::constant(2.0)).eps, 4.0);
        // A constant exponent of a negative base asks no logarithm.
        assert_eq!(Dual::new(-2.0, 1.0).powf(Dual::constant(2.0)).eps, -4.0);
    }
}
