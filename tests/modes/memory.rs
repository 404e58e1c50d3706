//! What a tape holds, and what may be done with it: `tape.bytes()` grows
//! with what the forward pass saves (a loop's stacks, copies of data, the
//! tapes of calls), tapes cross threads, and one tape serves several
//! backward passes with different seeds (split mode).

use backprop_runtime::differentiate;

/// A loop whose every iteration saves a value on a stack.
#[differentiate]
fn decay(x: f64, n: usize) -> f64 {
    let mut y = x;
    for _ in 0..n {
        y = (y * 0.9).sin() + 0.1;
    }
    y
}

#[differentiate]
fn norm(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for a in v {
        s += a * a;
    }
    s.sqrt()
}

/// Calls in a loop: a tape per call, on a stack of tapes.
#[differentiate]
fn rows(w: &[f64], n: usize) -> f64 {
    let mut total = 0.0;
    for i in 0..n {
        total += norm(&w[i..i + 2]).tanh();
    }
    total
}

// `cube`, a custom rule (in `common`): its tape says nothing of its memory,
// and still the caller's `bytes` compiles and counts the rest.
use crate::common::cube;

#[differentiate]
fn with_rule(x: f64, n: usize) -> f64 {
    let mut y = x;
    for _ in 0..n {
        y = cube(y.sin());
    }
    y
}

#[test]
fn bytes_grow_with_what_the_loop_saves() {
    let (_, small) = decay::forward(0.3, 10);
    let (_, large) = decay::forward(0.3, 10_000);
    // At least one f64 per iteration, and the struct itself.
    assert!(small.bytes() >= std::mem::size_of::<decay::Tape>());
    assert!(
        large.bytes() - small.bytes() >= 8 * (10_000 - 10),
        "{} {}",
        small.bytes(),
        large.bytes()
    );
    // Not much more than what it saves: one value per iteration (a stack
    // grows by doubling, so at most twice that, plus the struct).
    assert!(large.bytes() <= 2 * 8 * 10_000 + 1024, "{}", large.bytes());
}

#[test]
fn bytes_count_the_tapes_of_calls() {
    let w: Vec<f64> = (0..101).map(|i| 0.01 * f64::from(i)).collect();
    let (_, few) = rows::forward(&w, 2);
    let (_, many) = rows::forward(&w, 100);
    // Each call's tape holds at least a copy of its two elements.
    assert!(
        many.bytes() - few.bytes() >= 98 * 2 * 8,
        "{} {}",
        few.bytes(),
        many.bytes()
    );
    let (_, tape) = with_rule::forward(0.2, 50);
    assert!(tape.bytes() >= std::mem::size_of::<with_rule::Tape>());
}

#[test]
fn tapes_cross_threads() {
    fn send_and_sync<T: Send + Sync + 'static>() {}
    send_and_sync::<decay::Tape>();
    send_and_sync::<rows::Tape>();
    send_and_sync::<with_rule::Tape>();
    let (_, tape) = rows::forward(&[0.5, -0.25, 1.5], 2);
    let handle = std::thread::spawn(move || rows::backward(&tape, 1.0));
    let g = handle
        .join()
        .expect("the backward pass ran on another thread");
    let (_, here) = rows::grad(&[0.5, -0.25, 1.5], 2);
    assert_eq!(g.w, here.w);
}

#[test]
fn one_tape_several_seeds() {
    let (_, tape) = decay::forward(0.7, 25);
    let once = decay::backward(&tape, 1.0);
    let twice = decay::backward(&tape, 2.0);
    let negative = decay::backward(&tape, -0.5);
    // The backward pass is linear in the seed, and the tape is unchanged.
    assert_eq!(twice.x, 2.0 * once.x);
    assert_eq!(negative.x, -0.5 * once.x);
    assert_eq!(decay::backward(&tape, 1.0).x, once.x);
}
