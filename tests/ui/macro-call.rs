use backprop_runtime::differentiate;

#[differentiate]
fn f(x: f64) -> f64 {
    println!("{x}");
    let y = vec![x][0];
    y
}

fn main() {}
