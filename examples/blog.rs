//! The blog post's example, differentiated by `#[differentiate]`:
//! `f(x, y) = (x + sigmoid(y)) / (sigmoid(x) + (x + y)^2)` at x = 3, y = -4.
//!
//! The function is written with the blog's node names; its backward pass is
//! generated. The blog's hand-written backward pass is transcribed below, and the
//! two must agree. The example also draws the blog's circuit from the
//! function (`f::graph`): `target/blog-graph.svg`.

use backprop_runtime::{differentiate, sigmoid};

#[differentiate]
pub fn f(x: f64, y: f64) -> f64 {
    let sigx = sigmoid(x);
    let sigy = sigmoid(y);
    let numer = x + sigy;
    let xandy = x + y;
    let xandysqr = xandy * xandy;
    let denom = xandysqr + sigx;
    let rec_denom = 1.0 / denom;
    numer * rec_denom
}

/// The blog's `sig` helper, itself differentiated: a caller uses its generated
/// forward and backward.
#[differentiate]
pub fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The same function built on the helper.
#[differentiate]
pub fn f_with_helper(x: f64, y: f64) -> f64 {
    (x + sig(y)) / (sig(x) + (x + y).powi(2))
}

/// The blog's backward pass, transcribed line for line.
pub fn blog_by_hand(x: f64, y: f64) -> (f64, f64, f64) {
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let sigx = sig(x);
    let sigy = sig(y);
    let numer = x + sigy;
    let xandy = x + y;
    let xandysqr = xandy * xandy;
    let denom = xandysqr + sigx;
    let rec_denom = 1.0 / denom;
    let f = numer * rec_denom;

    let df = 1.0;
    let drec_denom = df * numer;
    let ddenom = drec_denom * (-1.0 / (denom * denom));
    let dsigx = ddenom * 1.0;
    let dxandysqr = ddenom * 1.0;
    let dx1 = dsigx * (sigx * (1.0 - sigx));
    let dxandy = dxandysqr * 2.0 * xandy;
    let dx2 = dxandy * 1.0;
    let dy1 = dxandy * 1.0;
    let dnumer = df * rec_denom;
    let dx3 = dnumer * 1.0;
    let dsigy = dnumer * 1.0;
    let dy2 = dsigy * (sigy * (1.0 - sigy));
    let dx = dx1 + dx2 + dx3;
    let dy = dy1 + dy2;
    (f, dx, dy)
}

fn main() {
    let (x, y) = (3.0, -4.0);
    let (value, g) = f::grad(x, y);
    println!("f output is {value:.2}");
    println!("dx and dy equal to {:.2},{:.2}", g.x, g.y);

    let (by_hand, dx, dy) = blog_by_hand(x, y);
    println!();
    println!("                 value                dx                   dy");
    println!("generated   {value:<20} {:<20} {:<20}", g.x, g.y);
    println!("by hand     {by_hand:<20} {dx:<20} {dy:<20}");
    let (helper_value, helper) = f_with_helper::grad(x, y);
    println!(
        "via sig()   {helper_value:<20} {:<20} {:<20}",
        helper.x, helper.y
    );
    let worst = [
        value - by_hand,
        g.x - dx,
        g.y - dy,
        helper.x - dx,
        helper.y - dy,
    ]
    .iter()
    .fold(0.0_f64, |m, e| m.max(e.abs()));
    assert!(
        worst <= 1e-12,
        "generated and hand-written disagree by {worst}"
    );
    println!("largest difference: {worst:e}");

    // The blog's circuit, drawn from the function at the same point: each
    // value above its node, each adjoint below it, each wire's term on it.
    let picture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/blog-graph.svg");
    let written = picture
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| f::graph(x, y).write_svg(&picture));
    match written {
        Ok(()) => println!(
            "the graph, values above and gradients below: {}",
            picture.display()
        ),
        Err(e) => println!("could not write {}: {e}", picture.display()),
    }

    println!();
    println!("The generated code (f::SOURCE; `cargo expand --example blog` shows the same):");
    println!();
    print!("{}", f::SOURCE);
}
