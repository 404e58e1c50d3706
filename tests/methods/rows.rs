//! Slices of rows of floats (in `methods.rs`'s test binary): points as
//! `&[[f64; 3]]`, matrices as `&[Vec<f64>]`, read in every way the body can
//! name a row, each gradient against central differences of the plain
//! function at several random points, with the rows moved in and out of one
//! vector.

// Indexing is one of the ways of naming a row tested here.
#![allow(clippy::needless_range_loop)]

use crate::common::{assert_gradient, Rng};
use backprop_runtime::{differentiate, Float};

fn rows<const N: usize>(v: &[f64]) -> Vec<[f64; N]> {
    v.chunks(N).map(|c| c.try_into().unwrap()).collect()
}

fn flat<const N: usize>(rows: &[[f64; N]]) -> Vec<f64> {
    rows.iter().flatten().copied().collect()
}

fn random(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(-2.0, 2.0)).collect()
}

/// Pairwise potential energy: `enumerate`, a loop over the part after a
/// row, an array literal destructured.
#[differentiate]
fn energy(pos: &[[f64; 3]], k: f64) -> f64 {
    let mut e = 0.0;
    for (i, p) in pos.iter().enumerate() {
        for q in &pos[i + 1..] {
            let [dx, dy, dz] = [p[0] - q[0], p[1] - q[1], p[2] - q[2]];
            e += k / (dx * dx + dy * dy + dz * dz + 0.5).sqrt();
        }
    }
    e
}

#[test]
fn pairwise_energy_over_points() {
    let mut rng = Rng::new(7);
    for _ in 0..4 {
        let x = random(&mut rng, 12);
        let k = rng.uniform(0.5, 2.0);
        let (value, g) = energy::grad(&rows::<3>(&x), k);
        assert_eq!(value, energy(&rows::<3>(&x), k));
        assert_eq!(g.pos.len(), 4);
        assert_gradient(|x| energy(&rows::<3>(x), k), &x, &flat(&g.pos));
        assert_gradient(|k| energy(&rows::<3>(&x), k[0]), &[k], &[g.k]);
    }
}

/// The shoelace area: rows copied by destructuring, an index computed.
#[differentiate]
fn area(poly: &[[f64; 2]]) -> f64 {
    let n = poly.len();
    let mut a = 0.0;
    for i in 0..n {
        let [x0, y0] = poly[i];
        let [x1, y1] = poly[(i + 1) % n];
        a += x0 * y1 - x1 * y0;
    }
    0.5 * a
}

/// Patterns in loops (`&[x, y]`, `[x, y]` by reference, read through `*`),
/// a branch on a row's float, and a reduction over the rows.
#[differentiate]
fn patterns(poly: &[[f64; 2]]) -> f64 {
    let mut s = 0.0;
    for &[x, y] in poly {
        s += x * y * y;
    }
    for (i, [x, y]) in poly.iter().enumerate() {
        if *x > 0.0 {
            s += (i as f64) * x.sin() * *y;
        } else {
            s -= y.exp();
        }
    }
    s + poly.iter().map(|p| p[0] * p[1]).sum::<f64>()
}

/// Neighbours paired by `zip` with the rows after the first, both ways.
#[differentiate]
fn bending<T: Float>(pts: &[[T; 2]], w: T) -> T {
    let mut s = T::zero();
    for (p, q) in pts.iter().zip(pts.iter().skip(1)) {
        s = s + w * (p[0] * q[1] - p[1] * q[0]).powi(2);
    }
    for (p, q) in pts.iter().zip(&pts[1..]) {
        s = s + (q[0] - p[0]).abs();
    }
    s
}

#[test]
fn polygons_read_by_patterns_and_pairs() {
    let mut rng = Rng::new(11);
    for _ in 0..4 {
        let x = random(&mut rng, 10);
        let w = rng.uniform(0.5, 2.0);
        let (value, g) = area::grad(&rows::<2>(&x));
        assert_eq!(value, area(&rows::<2>(&x)));
        assert_gradient(|x| area(&rows::<2>(x)), &x, &flat(&g.poly));
        let (value, g) = patterns::grad(&rows::<2>(&x));
        assert_eq!(value, patterns(&rows::<2>(&x)));
        assert_gradient(|x| patterns(&rows::<2>(x)), &x, &flat(&g.poly));
        let (value, g) = bending::grad(&rows::<2>(&x), w);
        assert_eq!(value, bending(&rows::<2>(&x), w));
        assert_gradient(|x| bending(&rows::<2>(x), w), &x, &flat(&g.pts));
        assert_gradient(|w| bending(&rows::<2>(&x), w[0]), &[w], &[g.w]);
    }
}

#[test]
fn rows_of_f32() {
    #[differentiate]
    fn spin(pts: &[[f32; 2]]) -> f32 {
        let mut s = 0.0f32;
        for p in pts {
            s += p[0].exp() * p[1];
        }
        s
    }
    let pts = vec![[0.5f32, 1.0], [-0.25, 2.0]];
    let (_, g) = spin::grad(&pts);
    for (row, p) in g.pts.iter().zip(&pts) {
        assert!((row[0] - p[0].exp() * p[1]).abs() < 1e-5);
        assert!((row[1] - p[0].exp()).abs() < 1e-5);
    }
}

#[differentiate]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// A layer as rows of different lengths: each row passed to a
/// differentiated callee, and read by index.
#[differentiate]
fn ragged(w: &[Vec<f64>], x: &[f64]) -> f64 {
    let mut total = 0.0;
    for row in w {
        total += dot(row, &x[..row.len()]).tanh();
    }
    for i in 0..w.len() {
        for j in 0..w[i].len() {
            total += w[i][j] * x[j] * x[j];
        }
    }
    total
}

#[test]
fn ragged_rows_passed_to_a_callee() {
    let mut rng = Rng::new(3);
    let shape = [3, 1, 2];
    for _ in 0..4 {
        let v = random(&mut rng, 6);
        let x = random(&mut rng, 3);
        let split = |v: &[f64]| -> Vec<Vec<f64>> {
            let mut at = 0;
            shape
                .iter()
                .map(|&n| {
                    at += n;
                    v[at - n..at].to_vec()
                })
                .collect()
        };
        let (value, g) = ragged::grad(&split(&v), &x);
        assert_eq!(value, ragged(&split(&v), &x));
        let lengths: Vec<usize> = g.w.iter().map(Vec::len).collect();
        assert_eq!(lengths, shape);
        assert_gradient(|v| ragged(&split(v), &x), &v, &g.w.concat());
        assert_gradient(|x| ragged(&split(&v), x), &x, &g.x);
    }
}

#[test]
fn second_order_and_tangents_over_rows() {
    let x = [0.5, 1.0, 2.0, -1.0, 0.3, 0.3];
    let pts = rows::<2>(&x);
    let w = 1.5;
    let dot_pts = [[1.0, 0.0], [0.0, -0.5], [0.25, 0.0]];
    let (value, g, hv) = bending::hvp(&pts, w, &dot_pts, 0.5);
    assert_eq!(value, bending(&pts, w));
    assert_eq!(flat(&g.pts), flat(&bending::grad(&pts, w).1.pts));
    // Against central differences of the gradient along the direction.
    let h = 1e-6;
    let along = |t: f64| {
        let moved: Vec<f64> = x
            .iter()
            .zip(flat(&dot_pts))
            .map(|(a, d)| a + t * d)
            .collect();
        bending::grad(&rows::<2>(&moved), w + 0.5 * t).1
    };
    let (plus, minus) = (along(h), along(-h));
    for (k, &generated) in flat(&hv.pts).iter().enumerate() {
        let numeric = (flat(&plus.pts)[k] - flat(&minus.pts)[k]) / (2.0 * h);
        assert!(
            (numeric - generated).abs() < 1e-5,
            "{k}: {generated} {numeric}"
        );
    }
    // The tangent is the gradient's dot with the direction.
    let (value, tangent) = energy::tangent(
        &rows::<3>(&[0.0, 0.1, 0.2, 1.0, -1.0, 0.5]),
        1.0,
        &[[1.0, 0.5, 0.0], [0.0, 0.0, -1.0]],
        0.5,
    );
    let (_, g) = energy::grad(&rows::<3>(&[0.0, 0.1, 0.2, 1.0, -1.0, 0.5]), 1.0);
    let expected = g.pos[0][0] + 0.5 * g.pos[0][1] - g.pos[1][2] + 0.5 * g.k;
    assert_eq!(value, g.k);
    assert!((tangent - expected).abs() < 1e-12);
}

#[test]
fn gradients_over_rows_add_up_and_clear() {
    let pts = rows::<3>(&[0.0, 0.1, 0.2, 1.0, -1.0, 0.5, 0.3, 0.3, 0.3]);
    let (_, once) = energy::grad(&pts, 1.0);
    let mut tape = energy::Tape::default();
    let mut total = energy::Grad::default();
    for _ in 0..2 {
        energy::forward_into(&mut tape, &pts, 1.0);
        energy::backward_into(&tape, 1.0, &mut total);
    }
    assert_eq!(
        flat(&total.pos),
        flat(&once.pos).iter().map(|g| 2.0 * g).collect::<Vec<_>>()
    );
    total.clear();
    assert!(flat(&total.pos).iter().all(|g| *g == 0.0));
    energy::backward_into(&tape, 1.0, &mut total);
    assert_eq!(flat(&total.pos), flat(&once.pos));
}

/// A local buffer of rows (`vec![[0.0; 2]; n]`, `[[0.0; 3]; 2]`): element
/// writes, whole-row writes (`[a, b, c]`, `[x; 3]`), a loop over its rows,
/// a row passed to a callee, an index that is not a literal, its length.
#[differentiate]
fn forces(pos: &[[f64; 2]], dt: f64) -> f64 {
    let n = pos.len();
    let mut force = vec![[0.0; 2]; n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                let dx = pos[j][0] - pos[i][0];
                let dy = pos[j][1] - pos[i][1];
                let r2 = dx * dx + dy * dy + 0.1;
                force[i][0] += dx / r2;
                force[i][1] += dy / r2;
            }
        }
    }
    let mut e = 0.0;
    for i in 0..force.len() {
        e += (pos[i][0] + dt * force[i][0]).powi(2) + (pos[i][1] + dt * force[i][1]).powi(2);
    }
    let mut r = [[0.0; 3]; 2];
    r[0] = [pos[0][0], pos[0][1] * 2.0, dt];
    r[1] = [pos[1][0].sin(); 3];
    for row in &r {
        e += row[0] * row[1] + row[2];
    }
    let k = n - 1;
    e + r[1][k.min(2)] * dot(&r[0], &r[1])
}

#[test]
fn local_buffers_of_rows() {
    let mut rng = Rng::new(41);
    for _ in 0..3 {
        let x = random(&mut rng, 6);
        let dt = rng.uniform(0.05, 0.2);
        let (value, g) = forces::grad(&rows::<2>(&x), dt);
        assert_eq!(value, forces(&rows::<2>(&x), dt));
        assert_gradient(|x| forces(&rows::<2>(x), dt), &x, &flat(&g.pos));
        assert_gradient(|t| forces(&rows::<2>(&x), t[0]), &[dt], &[g.dt]);
    }
}

/// Rows taken by `&mut`: written in place element by element, read before
/// and after; the seed of the rows' final values is a gradient of rows.
#[differentiate]
fn drift(pos: &mut [[f64; 2]], vel: &[[f64; 2]], dt: f64) -> f64 {
    let mut e = 0.0;
    for i in 0..pos.len() {
        e += pos[i][0] * pos[i][1];
        pos[i][0] += dt * vel[i][0];
        pos[i][1] += dt * vel[i][1] * pos[i][0];
    }
    e + pos[0][1].sin()
}

#[test]
fn rows_written_in_place() {
    let mut rng = Rng::new(51);
    for _ in 0..3 {
        let p = random(&mut rng, 6);
        let v = random(&mut rng, 6);
        let dt = rng.uniform(0.05, 0.2);
        let seed_value = rng.uniform(0.5, 1.5);
        let seed_rows = random(&mut rng, 6);
        // The scalar whose gradient the seeds ask for: the value and the
        // final rows, weighted.
        let weighted = |p: &[f64], v: &[f64], dt: f64| {
            let mut moved = rows::<2>(p);
            let value = drift(&mut moved, &rows::<2>(v), dt);
            seed_value * value
                + flat(&moved)
                    .iter()
                    .zip(&seed_rows)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
        };
        let mut moved = rows::<2>(&p);
        let (value, tape) = drift::forward(&mut moved, &rows::<2>(&v), dt);
        let mut plain = rows::<2>(&p);
        assert_eq!(value, drift(&mut plain, &rows::<2>(&v), dt));
        assert_eq!(moved, plain);
        let g = drift::backward(&tape, (seed_value, &rows::<2>(&seed_rows)));
        assert_gradient(|p| weighted(p, &v, dt), &p, &flat(&g.pos));
        assert_gradient(|v| weighted(&p, v, dt), &v, &flat(&g.vel));
        assert_gradient(|t| weighted(&p, &v, t[0]), &[dt], &[g.dt]);
    }
}

/// A method over rows: the weights from `&self`, the points as rows.
pub struct Pinhole {
    pub focal: f64,
    pub shift: [f64; 2],
}

#[differentiate]
impl Pinhole {
    #[differentiate]
    pub fn error(&self, pts: &[[f64; 3]], obs: &[f64]) -> f64 {
        let mut e = 0.0;
        for (i, p) in pts.iter().enumerate() {
            let u = self.focal * p[0] / p[2] + self.shift[0];
            let v = self.focal * p[1] / p[2] + self.shift[1];
            e += (u - obs[2 * i]).powi(2) + (v - obs[2 * i + 1]).powi(2);
        }
        e
    }
}

#[test]
fn a_method_over_rows() {
    let cam = Pinhole {
        focal: 1.5,
        shift: [0.1, -0.2],
    };
    let x = [0.5, 0.2, 2.0, -0.3, 0.4, 3.0];
    let obs = [0.4, 0.0, -0.1, 0.1];
    let (value, g) = cam.error_grad(&rows::<3>(&x), &obs);
    assert_eq!(value, cam.error(&rows::<3>(&x), &obs));
    assert_gradient(|x| cam.error(&rows::<3>(x), &obs), &x, &flat(&g.pts));
    let at = |focal: f64| {
        Pinhole {
            focal,
            shift: cam.shift,
        }
        .error(&rows::<3>(&x), &obs)
    };
    assert_gradient(|f| at(f[0]), &[cam.focal], &[g.focal]);
}

/// Rows left out of `wrt` (data) read in loops over them, enumerated, and a
/// row passed whole to a callee: loops over indices in the generated code.
#[differentiate(wrt(w))]
fn fit(w: &[f64], xs: &[[f64; 2]], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for (i, x) in xs.iter().enumerate() {
        let r = dot(x, w) - ys[i];
        total += r * r;
    }
    for x in xs {
        total += 0.1 * (w[0] * x[0]).sin();
    }
    total
}

#[test]
fn loops_over_rows_left_out_of_wrt() {
    let mut rng = Rng::new(61);
    let xs = rows::<2>(&random(&mut rng, 8));
    let ys = random(&mut rng, 4);
    for _ in 0..3 {
        let w = random(&mut rng, 2);
        let (value, g) = fit::grad(&w, &xs, &ys);
        assert_eq!(value, fit(&w, &xs, &ys));
        assert_gradient(|w| fit(w, &xs, &ys), &w, &g.w);
    }
}

#[test]
fn forward_mode_over_rows_written_in_place() {
    let (p, v) = (random(&mut Rng::new(71), 6), random(&mut Rng::new(72), 6));
    let dir = [1.0, 0.0, -0.5, 0.25, 0.0, 2.0];
    let mut moved = rows::<2>(&p);
    let mut dot = rows::<2>(&dir);
    let (value, tangent) = drift::tangent(
        &mut moved,
        &rows::<2>(&v),
        0.1,
        &mut dot,
        &rows::<2>(&[0.0; 6]),
        0.0,
    );
    let mut plain = rows::<2>(&p);
    assert_eq!(value, drift(&mut plain, &rows::<2>(&v), 0.1));
    assert_eq!(moved, plain);
    // Against central differences along the direction: the value's and
    // each final row's.
    let h = 1e-6;
    let run = |s: f64| {
        let shifted: Vec<f64> = p.iter().zip(&dir).map(|(a, d)| a + s * d).collect();
        let mut q = rows::<2>(&shifted);
        let value = drift(&mut q, &rows::<2>(&v), 0.1);
        (value, flat(&q))
    };
    let ((a, qa), (b, qb)) = (run(h), run(-h));
    assert!((tangent - (a - b) / (2.0 * h)).abs() < 1e-6);
    for ((x, y), t) in qa.iter().zip(&qb).zip(flat(&dot)) {
        assert!((t - (x - y) / (2.0 * h)).abs() < 1e-6);
    }
}

/// A local buffer of rows whose rows are swapped: each element of the two
/// rows, not two floats of the flat buffer.
#[differentiate]
fn swapped(x: &[f64]) -> f64 {
    let mut r = vec![[0.0; 2]; x.len()];
    for i in 0..3 {
        r[i][0] = x[i] * x[i];
        r[i][1] = x[i].sin();
    }
    r.swap(0, 2);
    r[0][0] * 3.0 + r[0][1] * 2.0 + r[2][1]
}

#[test]
fn rows_of_a_local_buffer_swapped() {
    let x = [0.3, -0.7, 1.2];
    let (value, g) = swapped::grad(&x);
    assert_eq!(value, swapped(&x));
    assert_gradient(swapped, &x, &g.x);
}
