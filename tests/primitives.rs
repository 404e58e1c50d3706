//! Every primitive's derivative rule against central finite differences, at
//! several points, on both sides of every kink.

mod common;

use backprop_runtime::differentiate;
use common::assert_gradient;

/// A one-argument primitive: `$name(x)` computes `$body`, checked at each point.
macro_rules! unary {
    ($($name:ident: |$x:ident| $body:expr, at [$($p:expr),*];)*) => {$(
        #[test]
        fn $name() {
            #[differentiate]
            fn f($x: f64) -> f64 {
                $body
            }
            for p in [$($p),*] {
                let (value, g) = f::grad(p);
                assert_eq!(value, f(p), "forward value at {p}");
                assert_gradient(|v| f(v[0]), &[p], &[g.$x]);
            }
        }
    )*};
}

/// A two-argument primitive, differentiated in both arguments.
macro_rules! binary {
    ($($name:ident: |$x:ident, $y:ident| $body:expr, at [$(($p:expr, $q:expr)),*];)*) => {$(
        #[test]
        fn $name() {
            #[differentiate]
            fn f($x: f64, $y: f64) -> f64 {
                $body
            }
            for (p, q) in [$(($p, $q)),*] {
                let (value, g) = f::grad(p, q);
                assert_eq!(value, f(p, q), "forward value at {p}, {q}");
                assert_gradient(|v| f(v[0], v[1]), &[p, q], &[g.$x, g.$y]);
            }
        }
    )*};
}

unary! {
    exp: |x| x.exp(), at [-2.0, 0.0, 0.7, 3.0];
    exp_path: |x| f64::exp(x), at [-2.0, 0.7];
    sin_through_the_trait: |x| backprop_runtime::Float::sin(x) * x, at [-2.0, 0.7];
    exp2: |x| x.exp2(), at [-1.5, 0.0, 2.5];
    exp_m1: |x| x.exp_m1(), at [-1.0, 1e-3, 2.0];
    ln: |x| x.ln(), at [0.3, 1.0, 7.5];
    ln_1p: |x| x.ln_1p(), at [-0.5, 0.0, 4.0];
    log2: |x| x.log2(), at [0.25, 3.0];
    log10: |x| x.log10(), at [0.25, 30.0];
    sqrt: |x| x.sqrt(), at [0.04, 1.0, 9.0];
    cbrt: |x| x.cbrt(), at [-8.0, 0.3, 27.0];
    powi_3: |x| x.powi(3), at [-1.5, 0.5, 2.0];
    powi_2: |x| x.powi(2), at [-1.5, 2.0];
    powi_negative: |x| x.powi(-2), at [-1.5, 0.5];
    powi_zero: |x| x.powi(0) + x, at [-1.5, 0.5];
    recip: |x| x.recip(), at [-2.0, 0.5];
    sin: |x| x.sin(), at [-1.0, 0.0, 2.0];
    cos: |x| x.cos(), at [-1.0, 0.0, 2.0];
    tan: |x| x.tan(), at [-1.0, 0.3];
    asin: |x| x.asin(), at [-0.8, 0.0, 0.5];
    acos: |x| x.acos(), at [-0.8, 0.0, 0.5];
    atan: |x| x.atan(), at [-3.0, 0.0, 0.5];
    sinh: |x| x.sinh(), at [-2.0, 0.5];
    cosh: |x| x.cosh(), at [-2.0, 0.5];
    tanh: |x| x.tanh(), at [-2.0, 0.0, 0.5];
    asinh: |x| x.asinh(), at [-2.0, 0.5];
    acosh: |x| x.acosh(), at [1.5, 4.0];
    atanh: |x| x.atanh(), at [-0.6, 0.0, 0.5];
    abs: |x| x.abs(), at [-2.0, 0.5];
    signum: |x| x.signum() * x, at [-2.0, 0.5];
    floor: |x| x.floor() + x * x, at [-2.5, 0.5];
    ceil: |x| x.ceil() * x, at [-2.5, 0.5];
    round: |x| x.round() * x, at [-2.3, 0.4];
    trunc: |x| x.trunc() * x, at [-2.3, 0.4];
    fract: |x| x.fract(), at [-2.3, 0.4];
    to_degrees: |x| x.to_degrees(), at [-2.0, 0.0, 3.0];
    to_radians: |x| x.to_radians(), at [-200.0, 0.0, 3.0];
    neg: |x| -x, at [-2.0, 3.0];
    square: |x| x * x, at [-2.0, 3.0];
    sigmoid: |x| backprop_runtime::sigmoid(x), at [-30.0, -2.0, 0.0, 1.5, 30.0];
    relu: |x| backprop_runtime::relu(x), at [-2.0, 1.5];
    softplus: |x| backprop_runtime::softplus(x), at [-30.0, -2.0, 0.0, 1.5, 40.0];
    clamp_inside: |x| x.clamp(-1.0, 2.0), at [-3.0, 0.5, 3.0];
    literal_receiver: |x| 2.0_f64.powf(x), at [-1.0, 1.5];
    constant_operand: |x| x * std::f64::consts::PI + 1.0 / x, at [-1.0, 1.5];
}

binary! {
    add: |x, y| x + y, at [(1.0, 2.0), (-3.0, 0.5)];
    hypot_through_the_trait: |x, y| backprop_runtime::Float::hypot(x, y), at [(1.0, 2.0), (-3.0, 0.5)];
    sub: |x, y| x - y, at [(1.0, 2.0), (-3.0, 0.5)];
    mul: |x, y| x * y, at [(1.0, 2.0), (-3.0, 0.5)];
    div: |x, y| x / y, at [(1.0, 2.0), (-3.0, 0.5)];
    rem: |x, y| x % y, at [(7.3, 2.0), (-3.0, 0.7)];
    powf: |x, y| x.powf(y), at [(1.5, 2.0), (0.5, -1.3), (3.0, 0.5)];
    log: |x, y| x.log(y), at [(8.0, 2.0), (0.5, 3.0)];
    atan2: |x, y| x.atan2(y), at [(1.0, 2.0), (-1.0, -0.5), (0.3, -2.0)];
    atan2_path: |x, y| f64::atan2(x, y), at [(1.0, 2.0), (-1.0, -0.5)];
    max: |x, y| x.max(y), at [(1.0, 2.0), (3.0, -1.0)];
    min: |x, y| x.min(y), at [(1.0, 2.0), (3.0, -1.0)];
    max_path: |x, y| f64::max(x, y), at [(1.0, 2.0), (3.0, -1.0)];
    hypot: |x, y| x.hypot(y), at [(3.0, 4.0), (-1.0, 0.5)];
    mul_add: |x, y| x.mul_add(y, x), at [(3.0, 4.0), (-1.0, 0.5)];
    mul_add_last: |x, y| 2.0_f64.mul_add(x, y * y), at [(3.0, 4.0), (-1.0, 0.5)];
    clamp_bounds: |x, y| 0.5_f64.clamp(x, y), at [(0.7, 2.0), (-1.0, 0.2), (-1.0, 2.0)];
    clamp_all: |x, y| x.clamp(y, y + 1.0), at [(0.5, 0.0), (-1.0, 0.0), (2.0, 0.0)];
    rem_euclid: |x, y| x.rem_euclid(y), at [(7.3, 2.0), (-3.0, 0.7), (5.5, -1.5)];
    div_euclid: |x, y| x.div_euclid(y) * x + y, at [(7.3, 2.0), (-3.0, 0.7)];
    copysign: |x, y| x.copysign(y) * y, at [(1.5, 2.0), (-0.5, 3.0), (2.0, -1.0)];
}

/// `x.powi(n)` with an integer parameter: the exponent is saved on the tape.
#[test]
fn powi_with_integer_parameter() {
    #[differentiate]
    fn f(x: f64, n: i32) -> f64 {
        x.powi(n)
    }
    for (x, n) in [(1.5, 3), (-0.7, 4), (2.0, -1), (1.3, 0)] {
        check!(f(x = x, n));
    }
}

/// The f32 rules, checked against f64 finite differences of the f32 function.
#[test]
fn f32_primitives() {
    #[differentiate]
    fn f(x: f32, y: f32) -> f32 {
        let a = x.exp2() * y.ln() + x.powi(3) / y;
        let b = (x * y).sin().atan2(y) + x.log10() * y.sqrt();
        a * b.tanh() + backprop_runtime::sigmoid(x - y) + backprop_runtime::Float::cos(x * y)
    }
    for (x, y) in [(0.5_f32, 1.5_f32), (1.2, 0.3)] {
        let (_, g) = f::grad(x, y);
        let wide = |v: &[f64]| f(v[0] as f32, v[1] as f32) as f64;
        for (i, analytic) in [g.x, g.y].into_iter().enumerate() {
            let h = 1e-3;
            let mut p = [x as f64, y as f64];
            let mut m = p;
            p[i] += h;
            m[i] -= h;
            let numeric = (wide(&p) - wide(&m)) / (2.0 * h);
            assert!(
                (numeric - analytic as f64).abs() <= 2e-3 * numeric.abs().max(1.0),
                "coordinate {i}: {analytic} vs {numeric}"
            );
        }
    }
}

/// `as f32` and back: the adjoint is cast back at each step. Finite differences
/// need a step far above f32's resolution here.
#[test]
fn cast_between_float_types() {
    #[differentiate]
    fn f(x: f64) -> f64 {
        let narrow = (x * x) as f32;
        let y = narrow.sin() * 3.0_f32;
        // `into` to a type the `let` names, as `f64::from`.
        let wide: f64 = y.into();
        let count: f64 = 2_i32.into();
        wide * count + x
    }
    for x in [0.5, -1.2, 2.0] {
        let (_, g) = f::grad(x);
        let h = 1e-3;
        let numeric = (f(x + h) - f(x - h)) / (2.0 * h);
        assert!(
            (numeric - g.x).abs() <= 1e-3 * numeric.abs().max(1.0),
            "{} vs {numeric}",
            g.x
        );
    }
}

/// `sin` and `cos` of the same angle, as a rotation computes them: each
/// rule reads the other's value instead of calling the function again
/// (before and after it, in a loop and in a branch), and forward mode, which
/// computes a tangent right after its value, reads only the one before.
#[differentiate]
fn rotations(angles: &[f64], r: f64) -> f64 {
    let mut x = r;
    let mut y = 0.5 * r;
    for a in angles {
        let c = a.cos();
        let s = a.sin();
        let turned = c * x - s * y;
        y = s * x + c * y;
        x = turned;
    }
    let t = x * y;
    if t > 0.0 {
        let s = t.sin();
        let c = t.cos();
        x * s + y * c
    } else {
        x * t.cos()
    }
}

#[test]
fn sines_and_cosines_of_one_angle_share_their_values() {
    for (angles, r) in [
        (vec![0.3, -1.2, 2.5], 1.5),
        (vec![0.7, 0.1], -0.8),
        (vec![2.0, 1.0, -0.4], 0.9),
    ] {
        let (value, g) = rotations::grad(&angles, r);
        assert_eq!(value.to_bits(), rotations(&angles, r).to_bits());
        let f = |v: &[f64]| rotations(&v[1..], v[0]);
        let joined = [vec![r], angles.clone()].concat();
        assert_gradient(f, &joined, &[vec![g.r], g.angles.clone()].concat());
        // Forward mode along each coordinate gives the same partials.
        let mut direction = vec![0.0; angles.len()];
        for k in 0..angles.len() {
            direction[k] = 1.0;
            let (_, dot) = rotations::tangent(&angles, r, &direction, 0.0);
            assert!((dot - g.angles[k]).abs() <= 1e-12 * (1.0 + dot.abs()));
            direction[k] = 0.0;
        }
    }
}
