//! Aim a projectile: find the launch angle that lands it on a target, by
//! gradient descent on a gradient generated through a time-stepping simulation.
//!
//! The flight is integrated with explicit Euler steps under gravity and quadratic
//! air drag, in a `loop` that `return`s when the projectile passes the ground.
//! `#[differentiate]` turns the whole simulation, loop and branch included, into
//! a forward pass that records the trajectory and a backward pass that runs it
//! in reverse.

use backprop_runtime::differentiate;

const GRAVITY: f64 = 9.81;

/// Gradient-descent step per unit of gradient (radians per square metre).
const LEARNING_RATE: f64 = 4e-5;

/// Where a projectile launched at `angle` (radians) with `speed` (m/s) comes
/// down, with drag coefficient `drag` (1/m), integrated with time step `dt` (s).
#[differentiate(wrt(angle))]
pub fn landing_distance(angle: f64, speed: f64, drag: f64, dt: f64) -> f64 {
    let (mut x, mut y) = (0.0, 0.0);
    let (mut vx, mut vy) = (speed * angle.cos(), speed * angle.sin());
    loop {
        let v = (vx * vx + vy * vy).sqrt();
        let (next_x, next_y) = (x + vx * dt, y + vy * dt);
        vx -= drag * v * vx * dt;
        vy -= (GRAVITY + drag * v * vy) * dt;
        if next_y < 0.0 {
            // Interpolate where this step crosses the ground, so that the distance
            // is a smooth function of the angle rather than a staircase of steps.
            let crossing = y / (y - next_y);
            return x + crossing * (next_x - x);
        }
        x = next_x;
        y = next_y;
    }
}

/// The squared miss distance: the loss gradient descent minimises.
#[differentiate(wrt(angle))]
pub fn miss(angle: f64, speed: f64, drag: f64, dt: f64, target: f64) -> f64 {
    let error = landing_distance(angle, speed, drag, dt) - target;
    error * error
}

fn main() {
    let (speed, drag, dt, target) = (30.0, 0.005, 1e-3, 60.0);
    let mut angle = 10.0_f64.to_radians();
    println!("speed {speed} m/s, drag {drag} /m, dt {dt} s: aim for {target} m");
    // `cargo run --example projectile -- --graph` draws the simulation: its
    // loop with the first time steps, each value and adjoint.
    if std::env::args().any(|a| a == "--graph") {
        let picture =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/projectile-graph.svg");
        let _ = std::fs::create_dir_all(picture.parent().unwrap_or(&picture));
        match landing_distance::graph(angle, speed, drag, dt).write_svg(&picture) {
            Ok(()) => println!("the simulation's graph: {}", picture.display()),
            Err(e) => println!("could not write {}: {e}", picture.display()),
        }
    }
    println!(
        "{:>4} {:>10} {:>12} {:>14}",
        "step", "angle", "lands at", "d miss/d angle"
    );
    for step in 0..200 {
        let (loss, g) = miss::grad(angle, speed, drag, dt, target);
        let distance = landing_distance(angle, speed, drag, dt);
        println!(
            "{step:>4} {:>9.4}° {distance:>10.4} m {:>14.4}",
            angle.to_degrees(),
            g.angle
        );
        if loss.sqrt() < 1e-6 {
            println!(
                "on target after {step} steps: launch at {:.4}°",
                angle.to_degrees()
            );
            return;
        }
        // Plain gradient descent, with the step capped at about 6 degrees.
        angle -= (LEARNING_RATE * g.angle).clamp(-0.1, 0.1);
    }
    println!("did not converge; the target may be out of range");
}
