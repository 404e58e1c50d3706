//! Structs as values (in `methods.rs`'s test binary): a copy of a struct
//! parameter stepped by plain helpers that take and return the struct by
//! value, `let mut s = s0; for .. { s = step(s, k, dt); }`, the way a
//! simulation is written. Each copy is one local per field; each gradient is
//! checked against central differences of the plain function, on both sides
//! of the helpers' branches.

use crate::common::{assert_gradient, Rng};
use backprop_runtime::{differentiate, Differentiable, Float};

/// A state with a float only read (`m`) and a count (`n`, data).
#[derive(Differentiable, Clone, Copy, Debug, PartialEq)]
pub struct Body {
    x: f64,
    v: f64,
    m: f64,
    n: usize,
}

/// Taken and returned by value: a new state from a literal, with a branch.
fn step(s: Body, k: f64, dt: f64) -> Body {
    let a = if s.x > 0.0 {
        -k * s.x / s.m
    } else {
        -k * s.x.sin() - 0.1 * s.v
    };
    Body {
        x: s.x + dt * s.v,
        v: s.v + dt * a,
        ..s
    }
}

/// Taken by `mut` value, written field by field and returned.
fn kick(mut s: Body, impulse: f64) -> Body {
    s.v += impulse / s.m;
    s
}

/// Read by reference.
fn energy(s: &Body, k: f64) -> f64 {
    0.5 * s.m * s.v * s.v + 0.5 * k * s.x * s.x
}

/// A copy of a parameter stepped in a loop; a copy of the state kept from
/// the iteration before (`prev`); helpers called on each other's results.
#[differentiate]
fn travelled(s0: Body, k: f64, dt: f64) -> f64 {
    let mut s = s0;
    let mut path = 0.0;
    for _ in 0..s0.n {
        let prev = s;
        s = kick(step(s, k, dt), 0.01 * k);
        path += (s.x - prev.x) * (s.x - prev.x);
    }
    path + energy(&s, k)
}

/// The same from a parameter taken by reference (`*p`, a copy), and the
/// final state bound with `let` from a call.
#[differentiate]
fn settled(p: &Body, k: f64, dt: f64) -> f64 {
    let mut s = *p;
    for _ in 0..3 {
        s = step(s, k, dt);
    }
    let last = step(step(s, k, dt), k, dt);
    energy(&last, k) + last.x
}

fn body(v: &[f64]) -> Body {
    Body {
        x: v[0],
        v: v[1],
        m: v[2],
        n: 4,
    }
}

fn gradient_of(g: &<Body as Differentiable>::Grad, k: f64, dt: f64) -> Vec<f64> {
    vec![g.x, g.v, g.m, k, dt]
}

#[test]
fn a_copied_state_stepped_by_helpers_that_return_it() {
    let mut rng = Rng::new(41);
    // `x` on both sides of `step`'s branch, and crossing it on the way.
    for x in [0.7, -0.5, 0.05, -1.2] {
        let point = [x, rng.uniform(-1.0, 1.0), rng.uniform(0.5, 2.0), 1.5, 0.2];
        let f = |v: &[f64]| travelled(body(v), v[3], v[4]);
        let (value, g) = travelled::grad(body(&point), point[3], point[4]);
        assert_eq!(value, f(&point));
        assert_gradient(f, &point, &gradient_of(&g.s0, g.k, g.dt));

        let f = |v: &[f64]| settled(&body(v), v[3], v[4]);
        let (value, g) = settled::grad(&body(&point), point[3], point[4]);
        assert_eq!(value, f(&point));
        assert_gradient(f, &point, &gradient_of(&g.p, g.k, g.dt));
    }
}

/// Fields read inside macros: `vec![..]`, `assert!`, `debug_assert!`.
#[differentiate]
#[allow(clippy::useless_vec)]
fn listed(s0: Body, k: f64) -> f64 {
    let mut s = s0;
    s = step(s, k, 0.1);
    assert!(s.m > 0.0, "mass {}", s.m);
    let v = vec![s.x * k, s.v, s.x + s.v];
    debug_assert!(v.len() == 3);
    v[0] * v[1] - v[2]
}

#[test]
fn fields_read_inside_macros() {
    for x in [0.4, -0.9] {
        let point = [x, 0.3, 1.2, 1.5];
        let f = |v: &[f64]| listed(body(v), v[3]);
        let (value, g) = listed::grad(body(&point), point[3]);
        assert_eq!(value, f(&point));
        assert_gradient(f, &point, &[g.s0.x, g.s0.v, g.s0.m, g.k]);
    }
}

/// A generic struct over the float, copied and assigned whole from a
/// literal and from another local.
#[derive(Differentiable, Clone, Copy, Debug, PartialEq)]
pub struct Pair<T> {
    a: T,
    b: T,
}

fn rotate(p: Pair<f64>, w: f64) -> Pair<f64> {
    Pair {
        a: p.a * w.cos() - p.b * w.sin(),
        b: p.a * w.sin() + p.b * w.cos(),
    }
}

#[differentiate]
fn spun<T: Float>(p0: Pair<T>, w: T) -> T {
    let mut p = p0;
    let mut q = p0;
    for _ in 0..3 {
        q = p;
        p = Pair {
            a: p.a * w + p.b,
            b: p.b - p.a * w,
        };
    }
    p.a * p.b + q.a * q.a
}

#[test]
fn a_generic_struct_copied_and_assigned_whole() {
    for (a, b, w) in [(0.3, 0.7, 0.9), (-1.1, 0.4, -0.3)] {
        let f = |v: &[f64]| spun(Pair { a: v[0], b: v[1] }, v[2]);
        let (value, g) = spun::grad(Pair { a, b }, w);
        assert_eq!(value, f(&[a, b, w]));
        assert_gradient(f, &[a, b, w], &[g.p0.a, g.p0.b, g.w]);
        // In f32, the same gradient to f32's precision.
        let (_, g32) = spun::grad(
            Pair {
                a: a as f32,
                b: b as f32,
            },
            w as f32,
        );
        assert!((f64::from(g32.p0.a) - g.p0.a).abs() < 1e-4 * g.p0.a.abs().max(1.0));
        assert!((f64::from(g32.w) - g.w).abs() < 1e-4 * g.w.abs().max(1.0));
    }
    // A helper taking the generic struct by value, inlined.
    let f = |v: &[f64]| spun_rotated(Pair { a: v[0], b: v[1] }, v[2]);
    let (_, g) = spun_rotated::grad(Pair { a: 0.3, b: -0.8 }, 0.6);
    assert_gradient(f, &[0.3, -0.8, 0.6], &[g.p0.a, g.p0.b, g.w]);
}

#[differentiate]
fn spun_rotated(p0: Pair<f64>, w: f64) -> f64 {
    let mut p = p0;
    for _ in 0..2 {
        p = rotate(p, w);
    }
    p.a - 2.0 * p.b * p.b
}

/// A struct with a vector field, copied by value and written by index.
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Weights {
    w: Vec<f64>,
    c: f64,
}

#[differentiate]
fn nudged(v0: Weights, x: f64) -> f64 {
    let mut v = v0;
    v.w[0] += x * v.c;
    v.c *= x;
    v.w[0] * v.w[1] + v.c
}

#[test]
fn a_copy_with_a_vector_field_written_by_index() {
    let f = |v: &[f64]| {
        nudged(
            Weights {
                w: v[..2].to_vec(),
                c: v[2],
            },
            v[3],
        )
    };
    let point = [1.0, 2.0, 0.5, 0.9];
    let (value, g) = nudged::grad(
        Weights {
            w: vec![1.0, 2.0],
            c: 0.5,
        },
        0.9,
    );
    assert_eq!(value, f(&point));
    assert_gradient(f, &point, &[g.v0.w[0], g.v0.w[1], g.v0.c, g.x]);
}

/// A model with a vector, trained by a helper that takes it by value and
/// returns it: clones of the parameter and of the local, a vector field
/// assigned whole (`n = sgd(n, ..)`), a literal based on the local itself
/// (`n = Net { b: .., ..n }`), and a copy kept from before.
#[derive(Differentiable, Clone, Debug, PartialEq)]
pub struct Net {
    w: Vec<f64>,
    b: f64,
}

fn sgd(mut n: Net, x: f64, lr: f64) -> Net {
    for i in 0..n.w.len() {
        n.w[i] -= lr * (n.w[i] * x + n.b).tanh();
    }
    n.b -= lr * n.b;
    n
}

#[differentiate]
fn unrolled(n0: &Net, x: f64, lr: f64) -> f64 {
    let mut n = n0.clone();
    let first = n.clone();
    for _ in 0..3 {
        n = sgd(n, x, lr);
    }
    // The vector left as it is (it was once assigned whole, refused).
    n = Net { b: n.b * x, ..n };
    let mut s = 0.0;
    for i in 0..n.w.len() {
        s += n.w[i] * n.w[i] - first.w[i] * n.b;
    }
    s
}

#[test]
fn a_model_trained_by_a_helper_that_returns_it() {
    let mut rng = Rng::new(7);
    for _ in 0..3 {
        let point: Vec<f64> = (0..6).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let net = |v: &[f64]| Net {
            w: v[..4].to_vec(),
            b: v[4],
        };
        let f = |v: &[f64]| unrolled(&net(v), v[5], 0.3);
        let (value, g) = unrolled::grad(&net(&point), point[5], 0.3);
        assert_eq!(value, f(&point));
        let mut analytic = g.n0.w.clone();
        analytic.extend([g.n0.b, g.x]);
        assert_gradient(f, &point, &analytic);
    }
}

/// A literal based on a parameter (`..*p`): the fields it does not name are
/// the parameter's.
#[differentiate]
fn updated(p: &Pair<f64>, x: f64) -> f64 {
    let q = Pair { a: x * p.b, ..*p };
    q.a * q.b.sin()
}

#[test]
fn a_literal_based_on_a_parameter() {
    for (a, b, x) in [(0.3, 2.0, 1.5), (-0.7, -0.4, 0.2)] {
        let f = |v: &[f64]| updated(&Pair { a: v[0], b: v[1] }, v[2]);
        let (_, g) = updated::grad(&Pair { a, b }, x);
        assert_gradient(f, &[a, b, x], &[g.p.a, g.p.b, g.x]);
    }
}

/// Copies of elements of a slice of structs, changed (`let mut b = *body;`
/// of the loop's element, `bodies[0].clone()`, `bodies[len - 1]`), and
/// stepped by a helper.
fn push(mut b: Body, f: f64, dt: f64) -> Body {
    b.v += dt * f / b.m;
    b.x += dt * b.v;
    b
}

#[differentiate]
#[allow(clippy::clone_on_copy)]
fn kinetic_after(bodies: &[Body], g: f64, dt: f64) -> f64 {
    let mut e = 0.0;
    for body in bodies {
        let mut b = *body;
        for _ in 0..3 {
            b = push(b, -g * b.x, dt);
        }
        e += 0.5 * b.m * b.v * b.v + body.x;
    }
    let mut first = bodies[0].clone();
    first.x *= 2.0;
    let mut last = bodies[bodies.len() - 1];
    last.v -= first.x;
    e + first.x * first.m + last.v * last.v
}

#[test]
fn copies_of_elements_changed_and_stepped() {
    let mut rng = Rng::new(3);
    for _ in 0..3 {
        let point: Vec<f64> = (0..8).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let bodies = |v: &[f64]| -> Vec<Body> {
            (0..2)
                .map(|k| Body {
                    x: v[3 * k],
                    v: v[3 * k + 1],
                    m: 1.5 + v[3 * k + 2],
                    n: 0,
                })
                .collect()
        };
        let f = |v: &[f64]| kinetic_after(&bodies(v), v[6], v[7]);
        let (value, g) = kinetic_after::grad(&bodies(&point), point[6], point[7]);
        assert_eq!(value, f(&point));
        let mut analytic: Vec<f64> = g.bodies.iter().flat_map(|b| [b.x, b.v, b.m]).collect();
        analytic.extend([g.g, g.dt]);
        assert_gradient(f, &point, &analytic);
    }
}

/// Methods of a local struct's type, written beside the function in an
/// `impl` without attribute: `self` by value returning a new state, `&mut
/// self` changing it, `&self` reading it; inlined as a parameter's are.
impl Body {
    fn stepped(self, k: f64, dt: f64) -> Body {
        Body {
            x: self.x + dt * self.v,
            v: self.v - dt * k * self.x / self.m,
            ..self
        }
    }

    fn kick(&mut self, j: f64) {
        self.v += j / self.m;
    }

    fn energy(&self, k: f64) -> f64 {
        0.5 * self.m * self.v * self.v + 0.5 * k * self.x * self.x
    }
}

#[differentiate]
fn energy_after(s0: &Body, k: f64, dt: f64) -> f64 {
    let mut s = *s0;
    for _ in 0..4 {
        s = s.stepped(k, dt);
        if s.x > 0.0 {
            s.kick(0.1 * dt);
        }
    }
    let at_rest = Body { v: 0.0, ..s };
    s.energy(k) - at_rest.energy(k)
}

#[test]
fn methods_of_a_local_struct() {
    for x in [0.5, -0.4, 0.02] {
        let point = [x, -0.3, 1.3, 2.0, 0.1];
        let f = |v: &[f64]| energy_after(&body(v), v[3], v[4]);
        let (value, g) = energy_after::grad(&body(&point), point[3], point[4]);
        assert_eq!(value, f(&point));
        assert_gradient(f, &point, &gradient_of(&g.s0, g.k, g.dt));
    }
}

/// A state from literals (`x: 0.5`, typed by the struct), whose fields have
/// methods called: their locals are typed with the function's float.
#[differentiate]
fn from_rest(k: f64) -> f64 {
    let mut s = Body {
        x: 0.5,
        v: -0.25,
        m: 1.0,
        n: 0,
    };
    s = step(s, k, 0.1);
    s.x.sin() * s.v.exp()
}

#[test]
fn a_state_from_literals_with_methods_on_its_fields() {
    for k in [0.3, 2.0] {
        let (value, g) = from_rest::grad(k);
        assert_eq!(value, from_rest(k));
        assert_gradient(|v| from_rest(v[0]), &[k], &[g.k]);
    }
}

/// A struct bound again by `let` (`let s = step(s, ..);`, `let s = Body {
/// x: 1.0, ..s };`): the uses after each `let` are of the new value (they
/// were once read from the first value's locals, a wrong gradient).
#[differentiate]
fn rebound(s0: Body, k: f64) -> f64 {
    let s = s0;
    let before = s.x * 2.0;
    let s = step(s, k, 0.1);
    let middle = s.x;
    let s = Body { x: 1.0, ..s };
    s.x * s.v + before + middle
}

#[test]
fn a_struct_bound_again() {
    for x in [0.6, -0.8] {
        let point = [x, 0.3, 1.2, 1.5];
        let f = |v: &[f64]| rebound(body(v), v[3]);
        let (value, g) = rebound::grad(body(&point), point[3]);
        assert_eq!(value, f(&point));
        assert_gradient(f, &point, &[g.s0.x, g.s0.v, g.s0.m, g.k]);
    }
}

/// A struct the macro knows from its literal alone (no derive).
#[derive(Clone, Copy)]
struct Point {
    x: f64,
    v: f64,
}

fn advance(p: Point, k: f64) -> Point {
    Point {
        x: p.x + 0.1 * p.v,
        v: p.v - 0.1 * k * p.x.sin(),
    }
}

/// A struct bound again inside a nested block (a loop's body, a branch, a
/// bare block): another value there, and the outer one's again after it.
#[differentiate]
fn shadowed_inside(x: f64, v: f64, k: f64) -> f64 {
    let start = Point { x, v };
    let mut p = start;
    let mut inside = 0.0;
    for _ in 0..2 {
        let mut p = advance(p, k);
        p.v *= 0.5;
        inside += p.x * p.v;
    }
    if k > 1.0 {
        let p = advance(p, 2.0 * k);
        inside += p.v;
    }
    {
        let p = Point { x: 2.0 * p.x, ..p };
        inside += p.x * p.x;
    }
    p.v += inside;
    p.x * p.v + start.x
}

/// A copy of a struct local bound again in the same block, the copy passed
/// to a helper (`let q = p; let q = advance(q, k);`): three values, the
/// first still read after the others (once refused: the copy and the
/// helper's result shared a name, so neither could be split).
#[differentiate]
fn copy_bound_again(x: f64, v: f64, k: f64) -> f64 {
    let p = Point { x, v };
    let q = p;
    let q = advance(q, k);
    let q = Point { v: q.v * q.x, ..q };
    let r = advance(q, 2.0 * k);
    let r = advance(r, k);
    q.x * q.v + r.x * p.v + r.v
}

#[test]
fn a_copy_bound_again_in_its_block() {
    for (x, k) in [(0.6, 1.5), (-0.8, 0.4)] {
        let point = [x, 0.3, k];
        let f = |p: &[f64]| copy_bound_again(p[0], p[1], p[2]);
        let (value, g) = copy_bound_again::grad(x, 0.3, k);
        assert_eq!(value, f(&point));
        assert_gradient(f, &point, &[g.x, g.v, g.k]);
    }
}

#[test]
fn a_struct_bound_again_inside_a_nested_block() {
    // `k` on both sides of the branch.
    for (x, k) in [(0.6, 1.5), (-0.8, 1.5), (0.6, 0.5), (-0.4, 0.7)] {
        let point = [x, 0.3, k];
        let f = |p: &[f64]| shadowed_inside(p[0], p[1], p[2]);
        let (value, g) = shadowed_inside::grad(x, 0.3, k);
        assert_eq!(value, f(&point));
        assert_gradient(f, &point, &[g.x, g.v, g.k]);
    }
}
