//! Memory reused between gradients: `grad_into` with a tape and a gradient the
//! caller keeps, the tapes of calls refilled in place (`TapeStack`), and each
//! call site's gradient refilled by the callee's `pullback_into`. A reused
//! tape or gradient must give exactly what fresh ones give, whatever the
//! previous call left in them (other lengths, other branches).

// What a tape holds and what may be done with it, in the same test binary.
#[path = "modes/checkpoint.rs"]
mod checkpoint;
mod common;
// `jacobian_into`'s one pass with a lane per output, into the tape's lanes.
#[path = "modes/lanes.rs"]
mod lanes;
#[path = "modes/memory.rs"]
mod memory;

use backprop_runtime::{differentiate, TapeStack};
use common::{assert_gradient, Rng};

#[differentiate]
fn sqnorm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

/// Writes `out` from two parts: a callee with a `&mut` slice.
#[differentiate]
fn scaled_sum(a: &[f64], b: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[i] * b[i] + a[i];
    }
}

/// Helpers over parts of varying length, in a loop and in a branch: the tapes
/// of `sqnorm` and `scaled_sum` at each pass are spares refilled in place.
#[differentiate(wrt(w))]
fn rows(w: &[f64], lengths: &[usize], threshold: f64) -> f64 {
    let mut total = 0.0;
    let mut start = 0;
    for &len in lengths {
        let row = &w[start..start + len];
        let mut out = vec![0.0; len];
        scaled_sum(row, &w[start..start + len], &mut out);
        if out[0] > threshold {
            total += sqnorm(&out);
        } else {
            total -= sqnorm(row) * 0.5;
        }
        start += len;
    }
    total
}

/// A buffer read, then overwritten: its adjoint is not zero at the end of a
/// reversed pass (the initial values' adjoint), so memory reused without
/// clearing would leak it into the next pass's reversed writes.
#[differentiate]
#[allow(clippy::needless_range_loop)]
fn read_then_overwritten(w: &[f64], lengths: &[usize]) -> f64 {
    let mut total = 0.0;
    for &len in lengths {
        let mut h = vec![0.5; len];
        for v in &h {
            total += v * w[len % 2];
        }
        for i in 0..len {
            h[i] = w[0] * w[1] * i as f64;
        }
        total += h[len - 1];
    }
    total
}

fn random_rows(rng: &mut Rng) -> (Vec<f64>, Vec<usize>) {
    let count = 1 + (rng.next_u64() % 4) as usize;
    let lengths: Vec<usize> = (0..count)
        .map(|_| 1 + (rng.next_u64() % 5) as usize)
        .collect();
    let total: usize = lengths.iter().sum();
    let w = (0..total).map(|_| rng.uniform(-1.0, 1.0)).collect();
    (w, lengths)
}

#[test]
fn a_reused_tape_gives_what_a_fresh_one_gives() {
    let mut rng = Rng::new(17);
    let mut tape = rows::Tape::default();
    for _ in 0..40 {
        let (w, lengths) = random_rows(&mut rng);
        // Each call sees another shape: other lengths, other branches.
        let mut summed = rows::Grad::default();
        let value = rows::grad_into(&w, &lengths, 0.1, &mut tape, &mut summed);
        let (fresh_value, fresh) = rows::grad(&w, &lengths, 0.1);
        assert_eq!(value, fresh_value);
        assert_eq!(summed, fresh);
        assert_gradient(|w| rows(w, &lengths, 0.1), &w, &summed.w);
    }
}

/// Counts the allocations of the thread that makes them: the tests of this
/// binary run side by side, and each reads only its own.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // (`try_with`: a thread being torn down has no counter left.)
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: CountingAllocator = CountingAllocator;

fn allocations() -> usize {
    ALLOCATIONS.with(std::cell::Cell::get)
}

/// The norms of consecutive pairs: a call per pair, each with its own
/// gradient to fill in the backward pass.
#[differentiate]
fn pair_norms(x: &[f64]) -> f64 {
    let mut total = 0.0;
    for k in 0..x.len() / 2 {
        total += sqnorm(&x[2 * k..2 * k + 2]).sqrt();
    }
    total
}

/// `grad_with` keeps the backward pass's memory (each call site's
/// gradient) in the caller's `Work`: a minibatch allocates nothing once it
/// has grown, and sums what `grad_into` sums.
/// A call on a local buffer, scalar inputs: a `Work`, and no copies of
/// arguments in the tape (`grad_with` through `forward_into` and
/// `backward_with`).
#[differentiate]
fn spread(x: f64, n: usize) -> f64 {
    let v = vec![x * x; n];
    sqnorm(&v)
}

#[test]
fn grad_with_reused_work_allocates_nothing() {
    let (mut tape, mut work) = (spread::Tape::default(), spread::Work::default());
    let mut summed = spread::Grad::default();
    for x in [0.5, -1.5] {
        let (value, fresh) = spread::grad(x, 3);
        let before = summed.x;
        assert_eq!(
            spread::grad_with(x, 3, &mut tape, &mut summed, &mut work),
            value
        );
        // Added into: what a fresh gradient gives, to rounding.
        assert!((summed.x - before - fresh.x).abs() < 1e-12);
    }

    let mut rng = Rng::new(8);
    let batch: Vec<Vec<f64>> = (0..6)
        .map(|_| (0..8).map(|_| rng.uniform(-1.0, 1.0)).collect())
        .collect();
    let (mut tape, mut work) = (pair_norms::Tape::default(), pair_norms::Work::default());
    let mut with = pair_norms::Grad::default();
    let mut into = pair_norms::Grad::default();
    let mut into_tape = pair_norms::Tape::default();
    // The first pass grows the tape and the work.
    pair_norms::grad_with(&batch[0], &mut tape, &mut with, &mut work);
    pair_norms::grad_into(&batch[0], &mut into_tape, &mut into);
    let before = allocations();
    let mut total = 0.0;
    for x in &batch[1..] {
        total += pair_norms::grad_with(x, &mut tape, &mut with, &mut work);
    }
    assert_eq!(allocations() - before, 0, "grad_with allocated");
    for x in &batch[1..] {
        total -= pair_norms::grad_into(x, &mut into_tape, &mut into);
    }
    // (Each value once in each sum, in another order.)
    assert!(total.abs() < 1e-12, "{total}");
    assert_eq!(with.x, into.x);
    assert_gradient(pair_norms, &batch[1], &pair_norms::grad(&batch[1]).1.x);
}

/// Two outputs, through a call: a Jacobian of two rows.
#[differentiate]
fn polar(p: &[f64]) -> [f64; 2] {
    let r = sqnorm(&p[0..2]).sqrt();
    [r * p[2].cos(), r * p[2].sin()]
}

/// `jacobian_into` adds each output's gradient into its row, reading the
/// arguments themselves; `jacobian_with` does the same in the caller's
/// `Work`, allocating nothing once grown.
#[test]
fn jacobian_into_and_with_add_the_rows_jacobian_gives() {
    let points = [[0.3, -1.2, 0.7], [1.5, 0.4, -2.0], [-0.8, 0.9, 3.0]];
    let (mut tape, mut work) = (polar::Tape::default(), polar::Work::default());
    let mut rows = [polar::Grad::default(), polar::Grad::default()];
    let mut summed = [polar::Grad::default(), polar::Grad::default()];
    polar::jacobian_with(&points[0], &mut tape, &mut rows, &mut work);
    let mut expected = [vec![0.0; 3], vec![0.0; 3]];
    for p in &points {
        let (value, fresh) = polar::jacobian(p);
        for (sum, row) in expected.iter_mut().zip(&fresh) {
            sum.iter_mut().zip(&row.p).for_each(|(s, d)| *s += d);
        }
        assert_eq!(polar::jacobian_into(p, &mut tape, &mut summed), value);
        for row in &mut rows {
            row.clear();
        }
        let before = allocations();
        assert_eq!(
            polar::jacobian_with(p, &mut tape, &mut rows, &mut work),
            value
        );
        assert_eq!(allocations() - before, 0, "jacobian_with allocated");
        assert_eq!(rows[0].p, fresh[0].p);
        assert_eq!(rows[1].p, fresh[1].p);
        for (k, row) in fresh.iter().enumerate() {
            assert_gradient(|v| polar(v)[k], p, &row.p);
        }
    }
    for (sum, row) in expected.iter().zip(&summed) {
        for (a, b) in sum.iter().zip(&row.p) {
            assert!((a - b).abs() < 1e-12, "{a} != {b}");
        }
    }
}

/// Two outputs of scalars, a tuple: the tape copies no argument.
#[differentiate]
fn to_cartesian(r: f64, theta: f64) -> (f64, f64) {
    (r * theta.cos(), r * theta.sin())
}

#[test]
fn jacobian_into_without_copies_adds_the_rows_jacobian_gives() {
    let mut tape = to_cartesian::Tape::default();
    let mut rows = [to_cartesian::Grad::default(), to_cartesian::Grad::default()];
    for (r, theta) in [(1.5, 0.3), (0.7, -2.0)] {
        let (value, fresh) = to_cartesian::jacobian(r, theta);
        rows = [to_cartesian::Grad::default(), to_cartesian::Grad::default()];
        assert_eq!(
            to_cartesian::jacobian_into(r, theta, &mut tape, &mut rows),
            value
        );
        assert_eq!(rows, fresh);
    }
    // Added into: a second pass doubles the rows.
    let (_, fresh) = to_cartesian::jacobian(0.7, -2.0);
    to_cartesian::jacobian_into(0.7, -2.0, &mut tape, &mut rows);
    assert_eq!(rows[1].theta, 2.0 * fresh[1].theta);
    assert_eq!(rows[0].r, 2.0 * fresh[0].r);
}

#[test]
fn grad_into_adds_over_a_minibatch() {
    let mut rng = Rng::new(5);
    let lengths = [3, 2, 4];
    let mut tape = rows::Tape::default();
    let mut summed = rows::Grad::default();
    let mut expected = vec![0.0; 9];
    let mut total = 0.0_f64;
    for _ in 0..6 {
        let w: Vec<f64> = (0..9).map(|_| rng.uniform(-1.0, 1.0)).collect();
        total += rows::grad_into(&w, &lengths, -0.2, &mut tape, &mut summed);
        let (value, g) = rows::grad(&w, &lengths, -0.2);
        total -= value;
        for (e, d) in expected.iter_mut().zip(&g.w) {
            *e += d;
        }
    }
    assert!(total.abs() < 1e-12);
    for (a, b) in summed.w.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }
}

#[test]
fn pullback_into_starts_from_zero_whatever_the_gradient_held() {
    let w = [0.5, -1.5, 2.0];
    let (_, tape) = sqnorm::forward(&w);
    // A gradient left from a longer call, and one holding other values.
    let mut grad = sqnorm::Grad {
        x: vec![7.0, 7.0, 7.0, 7.0, 7.0],
    };
    let (dx,) = sqnorm::pullback_into(&tape, 2.0, &mut grad);
    assert_eq!(dx, &[2.0, -6.0, 8.0][..]);
    let (again,) = sqnorm::pullback_into(&tape, 1.0, &mut grad);
    assert_eq!(again, &[1.0, -3.0, 4.0][..]);
    assert_eq!(sqnorm::pullback(&tape, 1.0).0, again);
}

#[test]
fn a_tape_stack_hands_back_its_spares_in_any_order_of_use() {
    let mut tapes: TapeStack<Vec<f64>> = TapeStack::new();
    for round in 0..3 {
        tapes.clear();
        // Fewer tapes in the second round, more in the third.
        let count = [4, 2, 5][round];
        for k in 0..count {
            let tape = tapes.next_spare();
            tape.clear();
            tape.push((10 * round + k) as f64);
            tapes.keep();
        }
        assert_eq!(tapes.len(), count);
        let mut back = tapes.reader();
        for k in (0..count).rev() {
            assert_eq!(back.pop_ref(), &vec![(10 * round + k) as f64]);
        }
    }
}

#[test]
fn backward_with_reused_memory_gives_what_backward_gives() {
    let mut rng = Rng::new(29);
    let mut tape = rows::Tape::default();
    // The call sites' gradients, the `&mut` seed's copy and the buffer's
    // adjoint, kept from one backward pass to the next.
    let mut work = rows::Work::default();
    for _ in 0..40 {
        let (w, lengths) = random_rows(&mut rng);
        let seed = rng.uniform(-2.0, 2.0);
        rows::forward_into(&mut tape, &w, &lengths, 0.1);
        let mut reused = rows::Grad::default();
        rows::backward_with(&tape, seed, &mut reused, &mut work);
        assert_eq!(reused, rows::backward(&tape, seed));
    }
    let mut tape = read_then_overwritten::Tape::default();
    let mut work = read_then_overwritten::Work::default();
    for _ in 0..20 {
        let (w, lengths) = random_rows(&mut rng);
        let w = [w.as_slice(), &[0.3, -0.4]].concat();
        read_then_overwritten::forward_into(&mut tape, &w, &lengths);
        let mut reused = read_then_overwritten::Grad::default();
        read_then_overwritten::backward_with(&tape, 1.0, &mut reused, &mut work);
        assert_eq!(reused, read_then_overwritten::backward(&tape, 1.0));
        assert_gradient(|w| read_then_overwritten(w, &lengths), &w, &reused.w);
    }
}

/// A least-squares fit whose backward pass reads the data again: `grad` and
/// `grad_into` pass the arguments to it, `forward_into` copies them.
#[differentiate(wrt(w))]
fn least_squares(w: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let e = w[0] * x.sin() + w[1] * x - y;
        total += e * e;
    }
    total
}

#[test]
fn grad_reading_the_arguments_gives_what_the_copies_give() {
    let mut rng = Rng::new(37);
    let mut tape = least_squares::Tape::default();
    for n in [1, 4, 9, 2] {
        let w = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
        let xs: Vec<f64> = (0..n).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let ys: Vec<f64> = (0..n).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let (value, fused) = least_squares::grad(&w, &xs, &ys);
        let (copied_value, copied) = least_squares::forward(&w, &xs, &ys);
        assert_eq!(value, copied_value);
        assert_eq!(fused, least_squares::backward(&copied, 1.0));
        let mut summed = least_squares::Grad::default();
        least_squares::grad_into(&w, &xs, &ys, &mut tape, &mut summed);
        assert_eq!(summed, fused);
        assert_gradient(|w| least_squares(w, &xs, &ys), &w, &fused.w);
    }
}

#[test]
#[should_panic(expected = "index out of bounds")]
fn a_tape_from_grad_into_holds_no_copies_of_the_arguments() {
    let mut tape = least_squares::Tape::default();
    // A tape that held copies once...
    let _ = least_squares::forward_into(&mut tape, &[1.0, 2.0], &[0.5], &[1.0]);
    let mut g = least_squares::Grad::default();
    // ...and then filled by `grad_into`, which reads the arguments instead:
    // a backward pass on it fails loudly rather than reading old copies.
    let _ = least_squares::grad_into(&[1.0, 2.0], &[0.7], &[3.0], &mut tape, &mut g);
    let _ = least_squares::backward(&tape, 1.0);
}

/// A local array of constant length whose elements the backward pass reads
/// again (`xo` in bundle adjustment): the tape keeps an array of it, written
/// over by each forward pass, with no heap memory.
#[differentiate]
fn rotated_offset(p: &[f64], c: &[f64]) -> f64 {
    let mut xo = [0.0; 3];
    for i in 0..3 {
        xo[i] = p[i] - c[i];
    }
    let (s, co) = c[3].sin_cos();
    let a = co * xo[0] - s * xo[1];
    // Read in the branches: the backward pass reads the array again.
    if a > 0.0 {
        let b = s * xo[0] + co * xo[1];
        a * b + xo[2] * xo[2] * a
    } else {
        xo[1] * xo[2] - a
    }
}

#[test]
fn a_local_array_read_again_is_an_array_of_the_tape() {
    assert!(rotated_offset::SOURCE.contains("pub xo: [f64; 3]"));
    let mut rng = Rng::new(18);
    let mut tape = rotated_offset::Tape::default();
    let mut saw = [false; 2];
    for _ in 0..12 {
        let p: Vec<f64> = (0..3).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let c: Vec<f64> = (0..4).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let a = c[3].cos() * (p[0] - c[0]) - c[3].sin() * (p[1] - c[1]);
        saw[usize::from(a > 0.0)] = true;
        let mut summed = rotated_offset::Grad::default();
        let value = rotated_offset::grad_into(&p, &c, &mut tape, &mut summed);
        assert_eq!(tape.bytes(), std::mem::size_of_val(&tape));
        assert_eq!((value, summed.clone()), rotated_offset::grad(&p, &c));
        // The split passes read the tape's array.
        let (_, split) = rotated_offset::forward(&p, &c);
        assert_eq!(rotated_offset::backward(&split, 1.0), summed);
        assert_gradient(|p| rotated_offset(p, &c), &p, &summed.p);
        assert_gradient(|c| rotated_offset(&p, c), &c, &summed.c);
    }
    assert_eq!(saw, [true, true], "both sides of the branch");
}
