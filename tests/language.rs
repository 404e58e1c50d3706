//! The supported straight-line language, construct by construct, each against
//! central finite differences at several points.

mod common;

use backprop_runtime::{differentiate, sigmoid};
use common::{assert_gradient, Rng};

const SCALE: f64 = 2.5;

#[derive(Clone, Copy)]
enum Mode {
    Plain,
    Scaled,
}

impl Mode {
    fn factor(self) -> f64 {
        match self {
            Mode::Plain => 1.0,
            Mode::Scaled => 3.0,
        }
    }
}

#[differentiate]
fn lets_and_annotations(x: f64, y: f64) -> f64 {
    let a: f64 = x * y;
    let b = a.sin() + y;
    let c: f64 = 2.0;
    b * c - a / SCALE
}

#[differentiate]
fn shadowing(x: f64, y: f64) -> f64 {
    let x = x * y;
    let x = x.exp() + y;
    let y = x * x;
    y - x
}

#[differentiate]
fn mutation(x: f64, y: f64) -> f64 {
    let mut acc = 0.0;
    acc += x * y;
    acc -= y.cos();
    acc *= x;
    acc /= 1.0 + y * y;
    let mut p = x;
    p = p * p + acc;
    p += 1.0;
    p
}

#[differentiate]
fn tuples(x: f64, y: f64) -> f64 {
    let (a, b) = (x * 2.0, y.sin());
    let (a, b) = (b, a);
    let (c, d): (f64, f64) = (a * b, a - b);
    c * d + a
}

#[differentiate]
#[allow(clippy::double_parens)]
fn blocks_and_parens(x: f64, y: f64) -> f64 {
    let inner = {
        let t = x * y;
        let u = (t + 1.0).ln();
        u * (x - y)
    };
    -(inner + -x) * (y)
}

#[differentiate]
fn casts_and_integers(x: f64, n: i32, k: usize) -> f64 {
    let m = n * 2 + 1;
    let scale = m as f64 / k as f64;
    x.powi(m) * scale + (k as f64) * x
}

#[differentiate]
fn constants(x: f64) -> f64 {
    let angle = x * std::f64::consts::PI / 180.0;
    angle.sin() * SCALE + core::f64::consts::E.powf(x)
}

#[differentiate]
// The user's allow applies to the generated forward pass too.
#[allow(clippy::needless_return)]
fn final_return(x: f64, y: f64) -> f64 {
    let z = x * y + y;
    return z * z.cos();
}

#[differentiate(wrt(x))]
fn only_x(x: f64, y: f64) -> f64 {
    x * y.exp() + y * y
}

#[differentiate]
fn pass_through(x: f64, mode: Mode, flag: bool, n: u8) -> f64 {
    let factor = mode.factor();
    let sign = f64::from(u8::from(flag)) * 2.0 - 1.0;
    x * factor * sign + n as f64
}

#[differentiate]
fn single_precision(x: f32, y: f32) -> f32 {
    let s = sigmoid(x * y);
    s * y.ln() + x
}

#[differentiate]
fn unused_parameter(x: f64, _y: f64) -> f64 {
    x.exp()
}

#[differentiate]
fn returns_parameter(x: f64, y: f64) -> f64 {
    let _unused = y.sin();
    x
}

#[differentiate]
fn constant_result(_x: f64) -> f64 {
    4.0
}

#[differentiate]
fn dead_code_is_skipped(x: f64, y: f64) -> f64 {
    let _dead = (x * y).exp();
    x * 3.0
}

#[test]
fn let_bindings_with_and_without_annotations() {
    for (x, y) in [(0.5, 1.5), (-1.0, 2.0), (2.0, -0.3)] {
        check!(lets_and_annotations(x = x, y = y));
    }
}

#[test]
fn shadowed_bindings() {
    for (x, y) in [(0.5, 1.5), (-1.0, 0.2)] {
        check!(shadowing(x = x, y = y));
    }
}

#[test]
fn reassignment_and_compound_assignment() {
    for (x, y) in [(0.5, 1.5), (-1.0, 0.2), (3.0, -2.0)] {
        check!(mutation(x = x, y = y));
    }
}

#[test]
fn tuple_destructuring_evaluates_before_binding() {
    for (x, y) in [(0.5, 1.5), (-1.0, 0.2)] {
        check!(tuples(x = x, y = y));
    }
}

#[test]
fn block_expressions_and_parentheses() {
    for (x, y) in [(0.5, 1.5), (1.0, 0.2)] {
        check!(blocks_and_parens(x = x, y = y));
    }
}

#[test]
fn integer_parameters_and_casts() {
    for (x, n, k) in [(0.7, 1, 3), (-1.3, 2, 5), (1.1, -1, 2)] {
        check!(casts_and_integers(x = x, n, k));
    }
}

#[test]
fn library_and_user_constants() {
    for x in [0.5, 30.0, -2.0] {
        check!(constants(x = x));
    }
}

#[test]
fn return_as_last_statement() {
    for (x, y) in [(0.5, 1.5), (-1.0, 0.2)] {
        check!(final_return(x = x, y = y));
    }
}

#[test]
fn wrt_restricts_the_gradient() {
    for (x, y) in [(0.5, 1.5), (-1.0, 0.2)] {
        let (value, g) = only_x::grad(x, y);
        assert_eq!(value, only_x(x, y));
        // `Grad` has the field `x` only; `y` is treated as a constant.
        let only_x::Grad { x: dx } = g;
        assert_gradient(|v| only_x(v[0], y), &[x], &[dx]);
    }
}

#[test]
fn non_float_parameters_pass_through() {
    for (mode, flag, n) in [(Mode::Plain, true, 3), (Mode::Scaled, false, 0)] {
        for x in [0.5, -2.0] {
            check!(pass_through(x = x, mode, flag, n));
        }
    }
}

#[test]
fn f32_functions() {
    for (x, y) in [(0.5_f32, 1.5_f32), (-1.0, 0.2)] {
        let (value, g) = single_precision::grad(x, y);
        assert_eq!(value, single_precision(x, y));
        let wide = |v: &[f64]| single_precision(v[0] as f32, v[1] as f32) as f64;
        let h = 1e-2;
        let dx = (wide(&[x as f64 + h, y as f64]) - wide(&[x as f64 - h, y as f64])) / (2.0 * h);
        let dy = (wide(&[x as f64, y as f64 + h]) - wide(&[x as f64, y as f64 - h])) / (2.0 * h);
        assert!(
            (dx - g.x as f64).abs() < 1e-2 * dx.abs().max(1.0),
            "{} vs {dx}",
            g.x
        );
        assert!(
            (dy - g.y as f64).abs() < 1e-2 * dy.abs().max(1.0),
            "{} vs {dy}",
            g.y
        );
    }
}

#[test]
fn parameters_the_result_does_not_use_get_zero() {
    let (_, g) = unused_parameter::grad(0.3, 7.0);
    assert_eq!(g.x, 0.3_f64.exp());
    assert_eq!(g._y, 0.0);
    let (_, g) = returns_parameter::grad(2.0, 5.0);
    assert_eq!((g.x, g.y), (1.0, 0.0));
    let (value, g) = constant_result::grad(1.0);
    assert_eq!((value, g._x), (4.0, 0.0));
    let (_, g) = dead_code_is_skipped::grad(1.0, 2.0);
    assert_eq!((g.x, g.y), (3.0, 0.0));
}

#[test]
fn the_tape_holds_only_what_the_backward_pass_reads() {
    // `x * 3.0` reads nothing: the derivative is the constant 3.
    let (_, tape) = dead_code_is_skipped::forward(1.0, 2.0);
    let dead_code_is_skipped::Tape {} = tape;
    // `x * y` needs both; `a.sin()` needs `a`; `b * c` needs `c` (a constant
    // binding) but not `b`; `a / SCALE` needs nothing.
    let (_, tape) = lets_and_annotations::forward(1.0, 2.0);
    let lets_and_annotations::Tape { x, y, a, c } = tape;
    assert_eq!((x, y, a, c), (1.0, 2.0, 2.0, 2.0));
}

#[test]
fn the_seed_scales_the_gradient() {
    let mut rng = Rng::new(7);
    for _ in 0..20 {
        let (x, y, seed) = (
            rng.uniform(-2.0, 2.0),
            rng.uniform(-2.0, 2.0),
            rng.uniform(-3.0, 3.0),
        );
        let (_, g) = mutation::grad(x, y);
        let (_, tape) = mutation::forward(x, y);
        let scaled = mutation::backward(&tape, seed);
        assert!((scaled.x - seed * g.x).abs() <= 1e-12 * (1.0 + g.x.abs() * seed.abs()));
        assert!((scaled.y - seed * g.y).abs() <= 1e-12 * (1.0 + g.y.abs() * seed.abs()));
    }
}

/// Paths that start at `self` or `super` still name the user's items, although
/// the generated code lives one module deeper.
mod nested {
    pub const OFFSET: f64 = 0.25;

    pub mod inner {
        use backprop_runtime::differentiate;

        pub const FACTOR: f64 = 1.5;

        #[differentiate]
        pub fn relative_paths(x: f64) -> f64 {
            x * self::FACTOR + super::OFFSET * x.sin()
        }
    }
}

#[test]
fn relative_paths_are_rebased() {
    for x in [0.3, -1.0] {
        let (value, g) = nested::inner::relative_paths::grad(x);
        assert_eq!(value, nested::inner::relative_paths(x));
        assert_gradient(|v| nested::inner::relative_paths(v[0]), &[x], &[g.x]);
    }
}

/// Idioms of numeric Rust code: `sin_cos`, tests of floats, assertions.
#[differentiate]
fn idioms(x: f64, y: f64) -> f64 {
    debug_assert!(y.is_finite(), "y must be finite");
    assert!(!x.is_infinite());
    let (s, c) = (x * y).sin_cos();
    let safe = if s.is_nan() || !c.is_finite() {
        0.0
    } else {
        s * c
    };
    let sign = if x.is_sign_negative() { -1.0 } else { 1.0 };
    safe + sign * y
}

#[test]
fn common_idioms() {
    for (x, y) in [(0.3, 1.7), (-1.2, 0.4)] {
        check!(idioms(x = x, y = y));
    }
}
