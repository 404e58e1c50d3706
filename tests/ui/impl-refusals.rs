use backprop_runtime::differentiate;

pub struct Model {
    w: f64,
}

// A method that changes the model is not a function of it.
#[differentiate]
impl Model {
    #[differentiate]
    fn step(&mut self, x: f64) -> f64 {
        self.w * x
    }
}

pub struct Other {
    w: f64,
}

// Nothing marked.
#[differentiate]
impl Other {
    fn loss(&self, x: f64) -> f64 {
        self.w * x
    }
}

trait Loss {
    fn loss(&self, x: f64) -> f64;
}

#[differentiate]
impl Loss for Other {
    #[differentiate]
    fn loss(&self, x: f64) -> f64 {
        self.w * x
    }
}

pub struct Layers {
    w: Vec<Vec<f64>>,
}

#[differentiate]
impl Layers {
    #[differentiate]
    fn first(&self, x: f64) -> f64 {
        self.w[0][0] * x
    }
}

fn main() {}
