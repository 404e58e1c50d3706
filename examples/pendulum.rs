//! Fitting a damped, driven pendulum through a long simulation in bounded
//! memory: the final angle after a million RK4 steps, differentiated with
//! respect to the damping and the drive, steered toward a target angle by
//! gradient descent.
//!
//! The loop over the steps is marked `#[checkpoint]`: the forward pass keeps
//! the pendulum's state (angle, speed) at most 1024 times, evenly spaced, and
//! none of the steps' intermediates; the backward pass runs each stretch
//! between two kept states again from its state, then reverses it. Memory:
//! 1024 states and one stretch's intermediates, where the same loop unmarked
//! keeps every step's (about 100 bytes a step); time: the steps run once
//! more.
//!
//! `cargo run --release --example pendulum`

use backprop_runtime::differentiate;

/// The pendulum, its loop preceded by `$mark` (the attribute, or nothing):
/// written once, compiled twice, to compare.
macro_rules! pendulum {
    ($(#[$doc:meta])* $name:ident $($mark:tt)*) => {
        $(#[$doc])*
        #[differentiate(wrt(damping, drive))]
        pub fn $name(damping: f64, drive: f64, steps: usize) -> f64 {
            let dt = 1e-3_f64;
            let mut theta = 0.5_f64;
            let mut omega = 0.0_f64;
            $($mark)*
            for i in 0..steps {
                let t = i as f64 * dt;
                let k1t = omega;
                let k1o = -theta.sin() - damping * omega + drive * t.cos();
                let k2t = omega + 0.5 * dt * k1o;
                let k2o = -(theta + 0.5 * dt * k1t).sin() - damping * k2t
                    + drive * (t + 0.5 * dt).cos();
                let k3t = omega + 0.5 * dt * k2o;
                let k3o = -(theta + 0.5 * dt * k2t).sin() - damping * k3t
                    + drive * (t + 0.5 * dt).cos();
                let k4t = omega + dt * k3o;
                let k4o = -(theta + dt * k3t).sin() - damping * k4t + drive * (t + dt).cos();
                theta += dt / 6.0 * (k1t + 2.0 * k2t + 2.0 * k3t + k4t);
                omega += dt / 6.0 * (k1o + 2.0 * k2o + 2.0 * k3o + k4o);
            }
            theta
        }
    };
}

pendulum! {
    /// `steps` RK4 steps of `theta'' = -sin(theta) - damping * theta' +
    /// drive * cos(t)` from rest at 0.5: the final angle. Its tape keeps every
    /// step.
    final_angle
}

pendulum! {
    /// `final_angle` with its loop marked `#[checkpoint]`.
    final_angle_checkpointed #[checkpoint]
}

/// How long `run` takes, in milliseconds, and what it returns.
fn timed<T>(run: impl FnOnce() -> T) -> (T, f64) {
    let started = std::time::Instant::now();
    let out = run();
    (out, started.elapsed().as_secs_f64() * 1e3)
}

fn main() {
    let steps = 1_000_000;
    let target = 1.0;
    let (mut damping, mut drive) = (0.3, 0.4);

    // The same gradient both ways; the memory each tape holds.
    let ((_, plain), plain_ms) = timed(|| final_angle::grad(damping, drive, steps));
    let (_, plain_tape) = final_angle::forward(damping, drive, steps);
    let mut tape = final_angle_checkpointed::Tape::default();
    let mut gradient = final_angle_checkpointed::Grad::default();
    let (_, checkpointed_ms) = timed(|| {
        final_angle_checkpointed::grad_into(damping, drive, steps, &mut tape, &mut gradient)
    });
    assert_eq!(
        (plain.damping, plain.drive),
        (gradient.damping, gradient.drive)
    );
    println!(
        "{steps} steps: gradient in {plain_ms:.0} ms with a {:.1} MiB tape; with #[checkpoint], in {checkpointed_ms:.0} ms with a {:.1} KiB tape (the same gradient)",
        plain_tape.bytes() as f64 / 1048576.0,
        tape.bytes() as f64 / 1024.0,
    );
    drop(plain_tape);

    // Gradient descent on (angle - target)^2, reusing the tape's memory.
    let rate = 1.0;
    for iteration in 0..12 {
        gradient.clear();
        let (angle, ms) = timed(|| {
            final_angle_checkpointed::grad_into(damping, drive, steps, &mut tape, &mut gradient)
        });
        let loss = (angle - target).powi(2);
        if iteration % 3 == 0 {
            println!(
                "iteration {iteration:2}: angle {angle:+.4}, loss {loss:.2e}, gradient in {ms:.0} ms, tape {:.1} KiB",
                tape.bytes() as f64 / 1024.0
            );
        }
        // d loss / d parameter = 2 (angle - target) d angle / d parameter.
        let scale = 2.0 * (angle - target);
        damping -= rate * scale * gradient.damping;
        drive -= rate * scale * gradient.drive;
    }
    let angle = final_angle_checkpointed(damping, drive, steps);
    println!(
        "fitted damping {damping:.4}, drive {drive:.4}: final angle {angle:+.4} (target {target})"
    );
}
