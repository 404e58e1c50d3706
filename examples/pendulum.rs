//! Fitting a damped, driven pendulum through a long simulation, in bounded
//! memory: the gradient of the final angle after a million RK4 steps with
//! respect to the damping and the drive, by gradient descent toward a target
//! angle.
//!
//! One `#[differentiate]` function over the whole loop keeps every step's
//! intermediates on its tape (about 100 bytes a step). Here the simulation is
//! cut into segments: the forward pass keeps only each segment's starting
//! state, and the backward pass goes through the segments from the last,
//! running each one's `forward` again from its saved state and its `backward`
//! with the adjoint of its end state as the seed. Memory: one segment's tape
//! and the saved states; time: one forward pass more. (Checkpointed loops
//! inside a differentiated function are issue 15; this is the same schedule
//! written by hand.)
//!
//! `cargo run --release --example pendulum`

use backprop_runtime::differentiate;

pub const DT: f64 = 1e-3;

/// `steps` RK4 steps of `theta'' = -sin(theta) - damping * theta' + drive *
/// cos(t)` from `(theta, omega)` at time `t0`: the state at the end.
#[differentiate(wrt(theta, omega, damping, drive))]
pub fn segment(
    theta: f64,
    omega: f64,
    damping: f64,
    drive: f64,
    t0: f64,
    steps: usize,
) -> (f64, f64) {
    let dt = 1e-3_f64;
    let mut th = theta;
    let mut om = omega;
    for i in 0..steps {
        let t = t0 + i as f64 * dt;
        let k1t = om;
        let k1o = -th.sin() - damping * om + drive * t.cos();
        let k2t = om + 0.5 * dt * k1o;
        let k2o = -(th + 0.5 * dt * k1t).sin() - damping * k2t + drive * (t + 0.5 * dt).cos();
        let k3t = om + 0.5 * dt * k2o;
        let k3o = -(th + 0.5 * dt * k2t).sin() - damping * k3t + drive * (t + 0.5 * dt).cos();
        let k4t = om + dt * k3o;
        let k4o = -(th + dt * k3t).sin() - damping * k4t + drive * (t + dt).cos();
        th += dt / 6.0 * (k1t + 2.0 * k2t + 2.0 * k3t + k4t);
        om += dt / 6.0 * (k1o + 2.0 * k2o + 2.0 * k3o + k4o);
    }
    (th, om)
}

/// The final angle after `segments * per_segment` steps from rest at 0.5,
/// and its derivatives with respect to the damping and the drive, keeping
/// one segment's tape at a time. Also returns the largest memory held at
/// once: the saved states and one segment's tape.
pub fn final_angle_and_gradient(
    damping: f64,
    drive: f64,
    segments: usize,
    per_segment: usize,
) -> (f64, [f64; 2], usize) {
    // Forward: the state at the start of each segment, nothing else.
    let mut starts = Vec::with_capacity(segments);
    let mut state = (0.5, 0.0);
    for s in 0..segments {
        starts.push(state);
        let t0 = (s * per_segment) as f64 * DT;
        state = segment(state.0, state.1, damping, drive, t0, per_segment);
    }
    // Backward: each segment again from its start, then its reverse pass
    // with the adjoint of its end state as the seed.
    let (mut d_theta, mut d_omega) = (1.0, 0.0);
    let (mut d_damping, mut d_drive) = (0.0, 0.0);
    let mut tape = segment::Tape::default();
    let mut most = 0;
    for s in (0..segments).rev() {
        let (theta, omega) = starts[s];
        let t0 = (s * per_segment) as f64 * DT;
        let _ = segment::forward_into(&mut tape, theta, omega, damping, drive, t0, per_segment);
        most = most.max(tape.bytes() + starts.capacity() * std::mem::size_of::<(f64, f64)>());
        let g = segment::backward(&tape, (d_theta, d_omega));
        (d_theta, d_omega) = (g.theta, g.omega);
        d_damping += g.damping;
        d_drive += g.drive;
    }
    (state.0, [d_damping, d_drive], most)
}

fn main() {
    let (segments, per_segment) = (1000, 1000);
    let target = 1.0;
    let (mut damping, mut drive) = (0.3, 0.4);

    // The whole simulation as one segment: the tape a single function keeps.
    let (_, whole) = segment::forward(0.5, 0.0, damping, drive, 0.0, segments * per_segment);
    println!(
        "one tape over {} steps: {:.1} MiB",
        segments * per_segment,
        whole.bytes() as f64 / 1048576.0
    );
    drop(whole);

    let rate = 1.0;
    for iteration in 0..20 {
        let started = std::time::Instant::now();
        let (angle, [d_damping, d_drive], most) =
            final_angle_and_gradient(damping, drive, segments, per_segment);
        let loss = (angle - target).powi(2);
        if iteration % 5 == 0 {
            println!(
                "iteration {iteration:2}: angle {angle:+.4}, loss {loss:.2e}, gradient in {:.0} ms holding at most {:.0} KiB",
                started.elapsed().as_secs_f64() * 1e3,
                most as f64 / 1024.0
            );
        }
        // d loss / d parameter = 2 (angle - target) d angle / d parameter.
        let scale = 2.0 * (angle - target);
        damping -= rate * scale * d_damping;
        drive -= rate * scale * d_drive;
    }
    let (angle, _, _) = final_angle_and_gradient(damping, drive, segments, per_segment);
    println!(
        "fitted damping {damping:.4}, drive {drive:.4}: final angle {angle:+.4} (target {target})"
    );
}
