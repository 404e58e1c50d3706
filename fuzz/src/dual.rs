//! The oracle: forward-mode dual numbers, `v + d ε` with `ε² = 0`.
//!
//! This file is copied into the scratch crate the fuzzer builds; every random
//! program is printed a second time over `D` instead of `f64`, so its exact
//! directional derivative comes from here, independently of the macro. It shares
//! no code with `backprop-macro`: every rule below is written from the calculus,
//! not from the macro's table.
#![allow(dead_code, clippy::all)]

use std::cell::Cell;
use std::cmp::Ordering;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Rem, RemAssign, Sub, SubAssign};

#[derive(Clone, Copy, Debug, Default)]
pub struct D {
    pub v: f64,
    pub d: f64,
}

thread_local! {
    /// The smallest relative gap between the two sides of any comparison made
    /// since the last reset: how close the inputs are to a branch switch point.
    pub static MARGIN: Cell<f64> = const { Cell::new(f64::INFINITY) };
}

pub fn reset_margin() {
    MARGIN.with(|m| m.set(f64::INFINITY));
    OVERFLOWED.with(|o| o.set(false));
}

thread_local! {
    /// Whether some intermediate value or derivative was not finite since the
    /// last reset: an infinity that does not reach the result still turns the
    /// reverse pass's `0 * inf` into NaN, as in every reverse-mode tool.
    pub static OVERFLOWED: Cell<bool> = const { Cell::new(false) };
}

pub fn overflowed() -> bool {
    OVERFLOWED.with(|o| o.get())
}

/// Every value the oracle computes passes through here.
fn mk(v: f64, d: f64) -> D {
    if !v.is_finite() || !d.is_finite() {
        OVERFLOWED.with(|o| o.set(true));
    }
    D { v, d }
}

pub fn margin() -> f64 {
    MARGIN.with(|m| m.get())
}

/// Notes how close `a` and `b` are, where the derivative jumps between them:
/// only when the two sides move differently in this run's direction (two
/// spellings of one value compare equal in the oracle and the macro alike).
fn note_gap(a: D, b: D) {
    if a.d == b.d {
        return;
    }
    let (a, b) = (a.v, b.v);
    let gap = (a - b).abs() / a.abs().max(b.abs()).max(1.0);
    MARGIN.with(|m| m.set(m.get().min(gap)));
}

impl D {
    pub const fn c(v: f64) -> D {
        D { v, d: 0.0 }
    }
    pub fn var(v: f64, d: f64) -> D {
        D { v, d }
    }
    fn chain(self, v: f64, dv: f64) -> D {
        mk(v, self.d * dv)
    }
    pub fn exp(self) -> D {
        let e = self.v.exp();
        self.chain(e, e)
    }
    pub fn exp2(self) -> D {
        let e = self.v.exp2();
        self.chain(e, e * std::f64::consts::LN_2)
    }
    pub fn exp_m1(self) -> D {
        self.chain(self.v.exp_m1(), self.v.exp())
    }
    pub fn ln(self) -> D {
        self.chain(self.v.ln(), 1.0 / self.v)
    }
    pub fn ln_1p(self) -> D {
        self.chain(self.v.ln_1p(), 1.0 / (1.0 + self.v))
    }
    pub fn log(self, base: D) -> D {
        self.ln() / base.ln()
    }
    pub fn log2(self) -> D {
        self.chain(self.v.log2(), 1.0 / (self.v * std::f64::consts::LN_2))
    }
    pub fn log10(self) -> D {
        self.chain(self.v.log10(), 1.0 / (self.v * std::f64::consts::LN_10))
    }
    pub fn sqrt(self) -> D {
        let s = self.v.sqrt();
        self.chain(s, 0.5 / s)
    }
    pub fn cbrt(self) -> D {
        let c = self.v.cbrt();
        self.chain(c, 1.0 / (3.0 * c * c))
    }
    pub fn powi(self, n: i32) -> D {
        self.chain(self.v.powi(n), n as f64 * self.v.powi(n - 1))
    }
    pub fn powf(self, p: D) -> D {
        // d(a^b) = a^b (b' ln a + b a'/a)
        let value = self.v.powf(p.v);
        let d_base = if p.v == 0.0 { 0.0 } else { p.v * self.v.powf(p.v - 1.0) };
        let d_exp = if p.d == 0.0 { 0.0 } else { value * self.v.ln() };
        mk(value, self.d * d_base + p.d * d_exp)
    }
    pub fn recip(self) -> D {
        self.chain(1.0 / self.v, -1.0 / (self.v * self.v))
    }
    pub fn sin(self) -> D {
        self.chain(self.v.sin(), self.v.cos())
    }
    pub fn cos(self) -> D {
        self.chain(self.v.cos(), -self.v.sin())
    }
    pub fn tan(self) -> D {
        let c = self.v.cos();
        self.chain(self.v.tan(), 1.0 / (c * c))
    }
    pub fn asin(self) -> D {
        self.chain(self.v.asin(), 1.0 / (1.0 - self.v * self.v).sqrt())
    }
    pub fn acos(self) -> D {
        self.chain(self.v.acos(), -1.0 / (1.0 - self.v * self.v).sqrt())
    }
    pub fn atan(self) -> D {
        self.chain(self.v.atan(), 1.0 / (1.0 + self.v * self.v))
    }
    pub fn atan2(self, x: D) -> D {
        // atan2(y, x): dy x/(x²+y²) - dx y/(x²+y²)
        let r2 = self.v * self.v + x.v * x.v;
        mk(self.v.atan2(x.v), (self.d * x.v - x.d * self.v) / r2)
    }
    pub fn sinh(self) -> D {
        self.chain(self.v.sinh(), self.v.cosh())
    }
    pub fn cosh(self) -> D {
        self.chain(self.v.cosh(), self.v.sinh())
    }
    pub fn tanh(self) -> D {
        let t = self.v.tanh();
        self.chain(t, 1.0 - t * t)
    }
    pub fn asinh(self) -> D {
        self.chain(self.v.asinh(), 1.0 / (self.v * self.v + 1.0).sqrt())
    }
    pub fn acosh(self) -> D {
        self.chain(self.v.acosh(), 1.0 / (self.v * self.v - 1.0).sqrt())
    }
    pub fn atanh(self) -> D {
        self.chain(self.v.atanh(), 1.0 / (1.0 - self.v * self.v))
    }
    pub fn abs(self) -> D {
        note_gap(self, D::c(0.0));
        let s = if self.v >= 0.0 { 1.0 } else { -1.0 };
        self.chain(self.v.abs(), s)
    }
    pub fn to_degrees(self) -> D {
        self.chain(self.v.to_degrees(), 180.0 / std::f64::consts::PI)
    }
    pub fn to_radians(self) -> D {
        self.chain(self.v.to_radians(), std::f64::consts::PI / 180.0)
    }
    /// As `f64::max`: a `NaN` gives way to the other.
    pub fn max(self, o: D) -> D {
        note_gap(self, o);
        if o.v > self.v || self.v.is_nan() { o } else { self }
    }
    pub fn min(self, o: D) -> D {
        note_gap(self, o);
        if o.v < self.v || self.v.is_nan() { o } else { self }
    }
    pub fn clamp(self, lo: D, hi: D) -> D {
        note_gap(self, lo);
        note_gap(self, hi);
        if self.v < lo.v {
            lo
        } else if self.v > hi.v {
            hi
        } else {
            self
        }
    }
    pub fn hypot(self, o: D) -> D {
        let h = self.v.hypot(o.v);
        mk(h, (self.d * self.v + o.d * o.v) / h)
    }
    pub fn mul_add(self, a: D, b: D) -> D {
        mk(self.v.mul_add(a.v, b.v), self.d * a.v + self.v * a.d + b.d)
    }
    pub fn fract(self) -> D {
        note_gap(self, D::c(self.v.round()));
        mk(self.v.fract(), self.d)
    }
    /// `(x as f32) as f64`: the value rounded, the derivative passed through
    /// (the convention for casts between float types).
    pub fn through_f32(self) -> D {
        mk((self.v as f32) as f64, self.d)
    }

    pub fn sin_cos(self) -> (D, D) {
        (self.sin(), self.cos())
    }

    /// Tests of the value; a sign's switches at zero, as a comparison.
    pub fn is_sign_negative(self) -> bool {
        note_gap(self, D::c(0.0));
        self.v.is_sign_negative()
    }
    pub fn is_sign_positive(self) -> bool {
        note_gap(self, D::c(0.0));
        self.v.is_sign_positive()
    }
    pub fn is_finite(self) -> bool {
        self.v.is_finite()
    }
    pub fn is_nan(self) -> bool {
        self.v.is_nan()
    }

    pub fn signum(self) -> D {
        D::c(self.v.signum())
    }
    pub fn floor(self) -> D {
        note_gap(self, D::c(self.v.round()));
        D::c(self.v.floor())
    }
    pub fn ceil(self) -> D {
        note_gap(self, D::c(self.v.round()));
        D::c(self.v.ceil())
    }
    pub fn round(self) -> D {
        note_gap(self, D::c(self.v.floor() + 0.5));
        D::c(self.v.round())
    }
    pub fn trunc(self) -> D {
        note_gap(self, D::c(self.v.round()));
        D::c(self.v.trunc())
    }
}

pub fn sigmoid(x: D) -> D {
    let s = 1.0 / (1.0 + (-x.v).exp());
    x.chain(s, s * (1.0 - s))
}

pub fn relu(x: D) -> D {
    note_gap(x, D::c(0.0));
    if x.v > 0.0 { x } else { D::c(0.0) }
}

pub fn softplus(x: D) -> D {
    let value = if x.v > 0.0 { x.v + (-x.v).exp().ln_1p() } else { x.v.exp().ln_1p() };
    x.chain(value, 1.0 / (1.0 + (-x.v).exp()))
}

impl PartialEq for D {
    fn eq(&self, o: &D) -> bool {
        note_gap(*self, *o);
        self.v == o.v
    }
}

impl PartialOrd for D {
    fn partial_cmp(&self, o: &D) -> Option<Ordering> {
        note_gap(*self, *o);
        self.v.partial_cmp(&o.v)
    }
}

impl Neg for D {
    type Output = D;
    fn neg(self) -> D {
        mk(-self.v, -self.d)
    }
}

impl Neg for &D {
    type Output = D;
    fn neg(self) -> D {
        -*self
    }
}

fn add(a: D, b: D) -> D {
    mk(a.v + b.v, a.d + b.d)
}
fn sub(a: D, b: D) -> D {
    mk(a.v - b.v, a.d - b.d)
}
fn mul(a: D, b: D) -> D {
    mk(a.v * b.v, a.d * b.v + a.v * b.d)
}
fn div(a: D, b: D) -> D {
    mk(a.v / b.v, (a.d * b.v - a.v * b.d) / (b.v * b.v))
}
fn rem(a: D, b: D) -> D {
    // a % b = a - trunc(a / b) * b, with the quotient piecewise constant.
    let q = (a.v / b.v).trunc();
    let q_exact = D { v: a.v / b.v, d: a.d - b.d };
    note_gap(q_exact, D::c((a.v / b.v).round()));
    mk(a.v % b.v, a.d - q * b.d)
}

macro_rules! binary {
    ($trait:ident, $method:ident, $f:ident, $assign:ident, $assign_method:ident) => {
        impl $trait<D> for D {
            type Output = D;
            fn $method(self, o: D) -> D {
                $f(self, o)
            }
        }
        impl $trait<&D> for D {
            type Output = D;
            fn $method(self, o: &D) -> D {
                $f(self, *o)
            }
        }
        impl $trait<D> for &D {
            type Output = D;
            fn $method(self, o: D) -> D {
                $f(*self, o)
            }
        }
        impl $trait<&D> for &D {
            type Output = D;
            fn $method(self, o: &D) -> D {
                $f(*self, *o)
            }
        }
        impl $assign<D> for D {
            fn $assign_method(&mut self, o: D) {
                *self = $f(*self, o);
            }
        }
        impl $assign<&D> for D {
            fn $assign_method(&mut self, o: &D) {
                *self = $f(*self, *o);
            }
        }
    };
}

binary!(Add, add, add, AddAssign, add_assign);
binary!(Sub, sub, sub, SubAssign, sub_assign);
binary!(Mul, mul, mul, MulAssign, mul_assign);
binary!(Div, div, div, DivAssign, div_assign);
binary!(Rem, rem, rem, RemAssign, rem_assign);

impl std::iter::Sum for D {
    fn sum<I: Iterator<Item = D>>(iter: I) -> D {
        iter.fold(D::c(0.0), add)
    }
}

impl<'a> std::iter::Sum<&'a D> for D {
    fn sum<I: Iterator<Item = &'a D>>(iter: I) -> D {
        iter.fold(D::c(0.0), |a, b| add(a, *b))
    }
}

impl std::iter::Product for D {
    fn product<I: Iterator<Item = D>>(iter: I) -> D {
        iter.fold(D::c(1.0), mul)
    }
}

impl<'a> std::iter::Product<&'a D> for D {
    fn product<I: Iterator<Item = &'a D>>(iter: I) -> D {
        iter.fold(D::c(1.0), |a, b| mul(a, *b))
    }
}
