use backprop_runtime::differentiate;

// `#[checkpoint]` marks a loop of the function body itself; its state must
// have known types and stay the loop's own.

#[differentiate]
fn nested(x: f64, n: usize) -> f64 {
    let mut y = x;
    for _ in 0..n {
        #[checkpoint]
        for _ in 0..n {
            y = y.sin();
        }
    }
    y
}

#[differentiate]
fn arguments(x: f64, n: usize) -> f64 {
    let mut y = x;
    #[checkpoint(snapshots = 1)]
    for _ in 0..n {
        y = y.sin();
    }
    #[checkpoint(every = 10)]
    for _ in 0..n {
        y = y.cos();
    }
    y
}

#[differentiate]
fn untyped(x: f64) -> f64 {
    let mut y = x;
    let mut count = 0;
    #[checkpoint]
    while count < 10 {
        y = y.sin();
        count += 1;
    }
    y
}

pub struct Chain {
    pub w: Vec<f64>,
}

#[differentiate]
impl Chain {
    #[differentiate]
    fn link(&self, t: f64) -> f64 {
        (self.w[0] * t).tanh()
    }

    #[differentiate]
    fn run(&self, x: f64, n: usize) -> f64 {
        let mut y = x;
        #[checkpoint]
        for _ in 0..n {
            y = self.link(y);
        }
        y
    }
}

#[differentiate]
fn unrolled(x: f64, y: f64) -> f64 {
    let mut s = 0.0;
    #[checkpoint]
    for v in [x, y] {
        s += v * v;
    }
    s
}

fn main() {}
