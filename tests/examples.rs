//! The examples' differentiated functions, checked against finite differences.

mod common;

#[allow(dead_code)]
#[path = "../examples/projectile.rs"]
mod projectile;

#[allow(dead_code)]
#[path = "../examples/neuron.rs"]
mod neuron;

#[allow(dead_code)]
#[path = "../examples/blog.rs"]
mod blog;

/// The README shows `examples/blog-graph.svg`: the blog function's picture
/// as the code draws it now (`BLESS=1 cargo test --test examples` rewrites
/// it), and the blog's numbers on it.
#[test]
fn the_readmes_picture_is_the_blog_functions() {
    let svg = blog::f::graph(3.0, -4.0).to_svg();
    for text in [
        "dx = 2.0596",
        "dy = 1.5922",
        "f = numer * rec_denom",
        "dx1 = 1.5832",
    ] {
        assert!(svg.contains(text), "{text}");
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/blog-graph.svg");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, &svg).unwrap();
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in == svg,
        "examples/blog-graph.svg is not the picture the code draws: rewrite it with `BLESS=1 cargo test --test examples`"
    );
}

#[test]
fn projectile_gradient_matches_finite_differences() {
    let (speed, drag, dt) = (30.0, 0.005, 1e-3);
    for degrees in [10.0_f64, 27.0, 45.0, 70.0] {
        let angle = degrees.to_radians();
        let (value, g) = projectile::landing_distance::grad(angle, speed, drag, dt);
        assert_eq!(value, projectile::landing_distance(angle, speed, drag, dt));
        let h = 1e-7;
        let numeric = (projectile::landing_distance(angle + h, speed, drag, dt)
            - projectile::landing_distance(angle - h, speed, drag, dt))
            / (2.0 * h);
        assert!(
            (numeric - g.angle).abs() <= 1e-4 * numeric.abs().max(1.0),
            "at {degrees}°: generated {} vs finite differences {numeric}",
            g.angle
        );
    }
}

#[test]
fn neuron_matches_the_course() {
    let (_, g) = neuron::neuron::grad(2.0, -3.0, -3.0, -1.0, -2.0);
    let rounded = |v: f64| (v * 100.0).round() / 100.0;
    assert_eq!([g.w0, g.w1, g.w2].map(rounded), [-0.2, -0.39, 0.2]);
    assert_eq!([g.x0, g.x1].map(rounded), [0.39, -0.59]);
    common::assert_gradient(
        |v| neuron::neuron(v[0], v[1], v[2], v[3], v[4]),
        &[2.0, -3.0, -3.0, -1.0, -2.0],
        &[g.w0, g.w1, g.w2, g.x0, g.x1],
    );
}

#[allow(dead_code)]
#[path = "../examples/mlp.rs"]
mod mlp;

#[test]
fn mlp_gradient_matches_finite_differences() {
    let mut rng = mlp::Rng(7);
    let floats: Vec<f64> = (0..mlp::PARAMS).map(|_| rng.uniform(-0.8, 0.8)).collect();
    let model = mlp::Mlp::from_floats(&floats);
    assert_eq!(model.floats(), floats);
    for (x0, x1, label) in [(0.3, -0.2, 1.0), (-0.7, 0.5, 0.0)] {
        let (value, g) = mlp::loss::grad(&model, x0, x1, label);
        assert_eq!(value, mlp::loss(&model, x0, x1, label));
        common::assert_gradient(
            |p| mlp::loss(&mlp::Mlp::from_floats(p), x0, x1, label),
            &floats,
            &mlp::gradient_floats(&g.p),
        );
    }
}

#[allow(dead_code)]
#[path = "../examples/oscillator.rs"]
mod oscillator;

#[test]
fn oscillator_gradient_matches_finite_differences_and_fits() {
    use oscillator::Oscillator;
    let truth = Oscillator { k: 4.0, c: 0.3 };
    let observed = truth.simulate(30, 0.01, 10);
    for (k, c) in [(3.0, 0.1), (5.0, 0.6)] {
        let model = Oscillator { k, c };
        let (value, g) = oscillator::loss::grad(&model, &observed, 0.01, 10);
        assert_eq!(value, oscillator::loss(&model, &observed, 0.01, 10));
        common::assert_gradient(
            |v| oscillator::loss(&Oscillator { k: v[0], c: v[1] }, &observed, 0.01, 10),
            &[k, c],
            &[g.model.k, g.model.c],
        );
    }
    let (fitted, _) = oscillator::fit(&observed, 0.01, 10, Oscillator { k: 3.0, c: 0.1 });
    assert!((fitted.k - 4.0).abs() < 1e-4 && (fitted.c - 0.3).abs() < 1e-4);
}

#[allow(dead_code)]
#[path = "../examples/newton.rs"]
mod newton;

#[test]
fn newton_with_the_generated_hessian_converges_in_a_few_steps() {
    let gradient = |p: &[f64]| newton::rosenbrock::grad(p).1.p;
    let hessian = |p: &[f64]| newton::rosenbrock::hessian(p).1;
    let (steps, at) = newton::newton(&[-1.2, 1.0], 1e-8, gradient, hessian);
    assert!(steps < 20, "{steps} Newton steps");
    assert!((at[0] - 1.0).abs() < 1e-6 && (at[1] - 1.0).abs() < 1e-6);
    let (descent_steps, _) = newton::descent(&[-1.2, 1.0], 1e-3, 1e-8, 5_000, gradient);
    assert!(descent_steps > 10 * steps);
}

#[allow(dead_code)]
#[path = "../examples/pendulum.rs"]
mod pendulum;

/// The checkpointed loop's gradient is the whole tape's, to the bit, at step
/// counts that no stretch divides, and matches finite differences.
#[test]
fn pendulum_checkpointed_gives_the_whole_gradient() {
    let (damping, drive) = (0.3, 0.4);
    for steps in [0, 1, 91, 1000, 3001] {
        let (angle, whole) = pendulum::final_angle::grad(damping, drive, steps);
        let (checkpointed_angle, checkpointed) =
            pendulum::final_angle_checkpointed::grad(damping, drive, steps);
        assert_eq!(angle, checkpointed_angle);
        assert_eq!(
            (whole.damping, whole.drive),
            (checkpointed.damping, checkpointed.drive)
        );
        common::assert_gradient(
            |p| pendulum::final_angle_checkpointed(p[0], p[1], steps),
            &[damping, drive],
            &[checkpointed.damping, checkpointed.drive],
        );
    }
}
