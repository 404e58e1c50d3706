use backprop_runtime::differentiate;
use num_traits::Float;

// One type parameter, the float type, bounded by `Float`.
#[differentiate]
fn two_types<T: Float, U: Float>(x: T, y: U) -> T {
    x * T::from(y).unwrap()
}

#[differentiate]
fn no_bound<T: Copy>(x: T) -> T {
    x
}

fn main() {}
