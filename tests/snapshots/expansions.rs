// Generated code of the functions in tests/snapshot.rs, as their `SOURCE`
// constants print it. Rewrite with `BLESS=1 cargo test --test snapshot`.

pub mod f {
    #[allow(unused_imports)]
    use super::*;

    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        pub sigx: f64,
        pub sigy: f64,
        pub numer: f64,
        pub xandy: f64,
        pub denom: f64,
        pub rec_denom: f64,
    }

    #[derive(Clone, Debug, PartialEq)]
    #[allow(clippy::pub_underscore_fields)]
    pub struct Grad {
        pub x: f64,
        pub y: f64,
    }

    impl ::core::default::Default for Grad {
        fn default() -> Self { Grad { x: 0.0_f64, y: 0.0_f64 } }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward_into(tape: &mut Tape, x: f64, y: f64) -> f64 {
        let sigx = ::backprop_runtime::sigmoid(x);
        let sigy = ::backprop_runtime::sigmoid(y);
        let numer = x + sigy;
        let xandy = x + y;
        let xandysqr = xandy * xandy;
        let denom = xandysqr + sigx;
        let rec_denom = 1.0 / denom;
        let f = numer * rec_denom;
        *tape = Tape { sigx, sigy, numer, xandy, denom, rec_denom };
        f
    }

    #[must_use]
    #[inline]
    pub fn forward(x: f64, y: f64) -> (f64, Tape) {
        let mut tape = Tape::default();
        let value = self::forward_into(&mut tape, x, y);
        (value, tape)
    }

    #[inline]
    pub fn backward_into(tape: &Tape, df: f64, grad: &mut Grad) {
        let Tape { sigx, sigy, numer, xandy, denom, rec_denom } = *tape;
        let dnumer = df * rec_denom;
        let drec_denom = df * numer;
        let ddenom = drec_denom * (-1.0 / (denom * denom));
        let dxandysqr = ddenom;
        let dsigx = ddenom;
        let dxandy = dxandysqr * (2.0 * xandy);
        let dx1 = dxandy;
        let dy1 = dxandy;
        let dx2 = dnumer;
        let dsigy = dnumer;
        let dy2 = dsigy * (sigy * (1.0 - sigy));
        let dx3 = dsigx * (sigx * (1.0 - sigx));
        let dy = dy1 + dy2;
        let dx = dx1 + dx2 + dx3;
        grad.x += dx;
        grad.y += dy;
    }

    #[must_use]
    #[inline]
    pub fn backward(tape: &Tape, seed: f64) -> Grad {
        let mut grad = Grad::default();
        self::backward_into(tape, seed, &mut grad);
        grad
    }

    #[must_use]
    #[inline]
    pub fn grad(x: f64, y: f64) -> (f64, Grad) {
        let (value, tape) = self::forward(x, y);
        (value, self::backward(&tape, 1.0_f64))
    }

    #[must_use]
    pub fn pullback(tape: &Tape, seed: f64) -> (f64, f64) {
        let g = self::backward(tape, seed);
        (g.x, g.y)
    }
}

pub mod sig {
    #[allow(unused_imports)]
    use super::*;

    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        pub exp: f64,
        pub sum: f64,
    }

    #[derive(Clone, Debug, PartialEq)]
    #[allow(clippy::pub_underscore_fields)]
    pub struct Grad {
        pub x: f64
    }

    impl ::core::default::Default for Grad {
        fn default() -> Self { Grad { x: 0.0_f64 } }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward_into(tape: &mut Tape, x: f64) -> f64 {
        let neg = -x;
        let exp = neg.exp();
        let sum = 1.0 + exp;
        let sig = 1.0 / sum;
        *tape = Tape { exp, sum };
        sig
    }

    #[must_use]
    #[inline]
    pub fn forward(x: f64) -> (f64, Tape) {
        let mut tape = Tape::default();
        let value = self::forward_into(&mut tape, x);
        (value, tape)
    }

    #[inline]
    pub fn backward_into(tape: &Tape, dsig: f64, grad: &mut Grad) {
        let Tape { exp, sum } = *tape;
        let dsum = dsig * (-1.0 / (sum * sum));
        let dexp = dsum;
        let dneg = dexp * exp;
        let dx = -dneg;
        grad.x += dx;
    }

    #[must_use]
    #[inline]
    pub fn backward(tape: &Tape, seed: f64) -> Grad {
        let mut grad = Grad::default();
        self::backward_into(tape, seed, &mut grad);
        grad
    }

    #[must_use]
    #[inline]
    pub fn grad(x: f64) -> (f64, Grad) {
        let (value, tape) = self::forward(x);
        (value, self::backward(&tape, 1.0_f64))
    }

    #[must_use]
    pub fn pullback(tape: &Tape, seed: f64) -> (f64,) {
        let g = self::backward(tape, seed);
        (g.x,)
    }
}

pub mod f_inline {
    #[allow(unused_imports)]
    use super::*;

    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        pub sig_out_tape: sig::Tape,
        pub sum: f64,
        pub sig_out_2_tape: sig::Tape,
        pub sum_2: f64,
        pub sum_3: f64,
    }

    #[derive(Clone, Debug, PartialEq)]
    #[allow(clippy::pub_underscore_fields)]
    pub struct Grad {
        pub x: f64,
        pub y: f64,
    }

    impl ::core::default::Default for Grad {
        fn default() -> Self { Grad { x: 0.0_f64, y: 0.0_f64 } }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward_into(tape: &mut Tape, x: f64, y: f64) -> f64 {
        let (sig_out, sig_out_tape) = sig::forward(y);
        let sum = x + sig_out;
        let (sig_out_2, sig_out_2_tape) = sig::forward(x);
        let sum_2 = x + y;
        let powi = sum_2.powi(2);
        let sum_3 = sig_out_2 + powi;
        let f_inline = sum / sum_3;
        *tape = Tape { sig_out_tape, sum, sig_out_2_tape, sum_2, sum_3 };
        f_inline
    }

    #[must_use]
    #[inline]
    pub fn forward(x: f64, y: f64) -> (f64, Tape) {
        let mut tape = Tape::default();
        let value = self::forward_into(&mut tape, x, y);
        (value, tape)
    }

    #[inline]
    pub fn backward_into(tape: &Tape, df_inline: f64, grad: &mut Grad) {
        let Tape { ref sig_out_tape, sum, ref sig_out_2_tape, sum_2, sum_3 } = *tape;
        let dsum = df_inline / sum_3;
        let dsum_3 = df_inline * (-sum / (sum_3 * sum_3));
        let dsig_out_2 = dsum_3;
        let dpowi = dsum_3;
        let dsum_2 = dpowi * (2.0 * sum_2);
        let dx1 = dsum_2;
        let dy1 = dsum_2;
        let (dx2,) = sig::pullback(sig_out_2_tape, dsig_out_2);
        let dx3 = dsum;
        let dsig_out = dsum;
        let (dy2,) = sig::pullback(sig_out_tape, dsig_out);
        let dy = dy1 + dy2;
        let dx = dx1 + dx2 + dx3;
        grad.x += dx;
        grad.y += dy;
    }

    #[must_use]
    #[inline]
    pub fn backward(tape: &Tape, seed: f64) -> Grad {
        let mut grad = Grad::default();
        self::backward_into(tape, seed, &mut grad);
        grad
    }

    #[must_use]
    #[inline]
    pub fn grad(x: f64, y: f64) -> (f64, Grad) {
        let (value, tape) = self::forward(x, y);
        (value, self::backward(&tape, 1.0_f64))
    }

    #[must_use]
    pub fn pullback(tape: &Tape, seed: f64) -> (f64, f64) {
        let g = self::backward(tape, seed);
        (g.x, g.y)
    }
}

pub mod damped {
    #[allow(unused_imports)]
    use super::*;

    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        pub x: f32,
        pub rate: f32,
        pub steps: i32,
        pub v: f32,
        pub v_3: f32,
    }

    #[derive(Clone, Debug, PartialEq)]
    #[allow(clippy::pub_underscore_fields)]
    pub struct Grad {
        pub x: f32
    }

    impl ::core::default::Default for Grad {
        fn default() -> Self { Grad { x: 0.0_f32 } }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward_into(tape: &mut Tape, x: f32, rate: f32, steps: i32) -> f32 {
        let v = x * rate;
        let powi = v.powi(steps);
        let prod = powi * 0.5;
        let v_2 = v - prod;
        let v_3 = v_2.tanh();
        let damped = v_3 * x;
        *tape = Tape { x, rate, steps, v, v_3 };
        damped
    }

    #[must_use]
    #[inline]
    pub fn forward(x: f32, rate: f32, steps: i32) -> (f32, Tape) {
        let mut tape = Tape::default();
        let value = self::forward_into(&mut tape, x, rate, steps);
        (value, tape)
    }

    #[inline]
    pub fn backward_into(tape: &Tape, ddamped: f32, grad: &mut Grad) {
        let Tape { x, rate, steps, v, v_3 } = *tape;
        let dv_3 = ddamped * x;
        let dx1 = ddamped * v_3;
        let dv_2 = dv_3 * (1.0 - v_3 * v_3);
        let dv1 = dv_2;
        let dprod = -dv_2;
        let dpowi = dprod * 0.5;
        let dv2 = dpowi * (steps as f32 * v.powi(steps - 1));
        let dv = dv1 + dv2;
        let dx2 = dv * rate;
        let dx = dx1 + dx2;
        grad.x += dx;
    }

    #[must_use]
    #[inline]
    pub fn backward(tape: &Tape, seed: f32) -> Grad {
        let mut grad = Grad::default();
        self::backward_into(tape, seed, &mut grad);
        grad
    }

    #[must_use]
    #[inline]
    pub fn grad(x: f32, rate: f32, steps: i32) -> (f32, Grad) {
        let (value, tape) = self::forward(x, rate, steps);
        (value, self::backward(&tape, 1.0_f32))
    }

    #[must_use]
    pub fn pullback(tape: &Tape, seed: f32) -> (f32, ::backprop_runtime::NotDifferentiable, ::backprop_runtime::NotDifferentiable) {
        let g = self::backward(tape, seed);
        (g.x, ::backprop_runtime::NotDifferentiable, ::backprop_runtime::NotDifferentiable)
    }
}

pub mod soft_power {
    #[allow(unused_imports)]
    use super::*;

    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        pub x: f64,
        pub p_2: ::backprop_runtime::Stack<f64>,
        pub sin: ::backprop_runtime::Stack<f64>,
        pub p_6: f64,
        pub trips: usize,
        pub c_2: bool,
    }

    #[derive(Clone, Debug, PartialEq)]
    #[allow(clippy::pub_underscore_fields)]
    pub struct Grad {
        pub x: f64
    }

    impl ::core::default::Default for Grad {
        fn default() -> Self { Grad { x: 0.0_f64 } }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward_into(tape: &mut Tape, x: f64, n: usize) -> f64 {
        let mut p_2_stack = ::core::mem::take(&mut tape.p_2);
        p_2_stack.clear();
        let mut sin_stack = ::core::mem::take(&mut tape.sin);
        sin_stack.clear();
        let p = 1.0;
        let mut p_6 = p;
        let mut trips = 0_usize;
        for i in 0..n {
            let p_2 = p_6;
            let c = i % 2 == 0;
            let p_5 = if c {
                let p_3 = p_2 * x;
                p_3
            } else {
                let sin = x.sin();
                let prod = p_2 * sin;
                let p_4 = prod + 1.0;
                sin_stack.push(sin);
                p_4
            };
            p_2_stack.push(p_2);
            p_6 = p_5;
            trips += 1;
        }
        let c_2 = p_6 > 1.0;
        let soft_power = if c_2 {
            let ln = p_6.ln();
            let sum = ln + 1.0;
            sum
        } else { p_6 };
        *tape = Tape { x, p_6, trips, c_2, p_2: p_2_stack, sin: sin_stack };
        soft_power
    }

    #[must_use]
    #[inline]
    pub fn forward(x: f64, n: usize) -> (f64, Tape) {
        let mut tape = Tape::default();
        let value = self::forward_into(&mut tape, x, n);
        (value, tape)
    }

    #[inline]
    pub fn backward_into(tape: &Tape, dsoft_power: f64, grad: &mut Grad) {
        let Tape { x, p_6, trips, c_2, .. } = *tape;
        let mut p_2_stack = tape.p_2.reader();
        let mut sin_stack = tape.sin.reader();
        let mut dp_6 = 0.0_f64;
        if c_2 {
            let dsum = dsoft_power;
            let dln = dsum;
            dp_6 += dln / p_6;
        } else {
            dp_6 += dsoft_power;
        }
        let mut dx = 0.0_f64;
        for i in (0..trips).rev() {
            let p_2 = p_2_stack.pop();
            let c = i % 2 == 0;
            let dp_5 = dp_6;
            let mut dp_2 = 0.0_f64;
            if c {
                let dp_3 = dp_5;
                dp_2 += dp_3 * x;
                dx += dp_3 * p_2;
            } else {
                let sin = sin_stack.pop();
                let dp_4 = dp_5;
                let dprod = dp_4;
                dp_2 += dprod * sin;
                let dsin = dprod * p_2;
                dx += dsin * x.cos();
            }
            dp_6 = dp_2;
        }
        grad.x += dx;
    }

    #[must_use]
    #[inline]
    pub fn backward(tape: &Tape, seed: f64) -> Grad {
        let mut grad = Grad::default();
        self::backward_into(tape, seed, &mut grad);
        grad
    }

    #[must_use]
    #[inline]
    pub fn grad(x: f64, n: usize) -> (f64, Grad) {
        let (value, tape) = self::forward(x, n);
        (value, self::backward(&tape, 1.0_f64))
    }

    #[must_use]
    pub fn pullback(tape: &Tape, seed: f64) -> (f64, ::backprop_runtime::NotDifferentiable) {
        let g = self::backward(tape, seed);
        (g.x, ::backprop_runtime::NotDifferentiable)
    }
}

pub mod scaled_logistic {
    #[allow(unused_imports)]
    use super::*;

    #[derive(Clone, Debug)]
    pub struct Tape<T: Float> {
        pub w_len: usize,
        pub trips: usize,
        pub scale_out_tape: scale::Tape<T>,
        pub sigmoid_2: ::backprop_runtime::Stack<T>,
        pub trips_2: usize,
        pub float: ::core::marker::PhantomData<fn() -> T>,
    }

    impl<T: Float> ::core::default::Default for Tape<T> {
        fn default() -> Self {
            Tape {
                w_len: ::core::default::Default::default(),
                trips: ::core::default::Default::default(),
                scale_out_tape: ::core::default::Default::default(),
                sigmoid_2: ::core::default::Default::default(),
                trips_2: ::core::default::Default::default(),
                float: ::core::marker::PhantomData,
            }
        }
    }

    #[derive(Clone, Debug, PartialEq)]
    #[allow(clippy::pub_underscore_fields)]
    pub struct Grad<T: Float> {
        pub w: ::std::vec::Vec<T>,
        pub x: T,
    }

    impl<T: Float> ::core::default::Default for Grad<T> {
        fn default() -> Self { Grad { w: ::std::vec::Vec::new(), x: T::zero() } }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward_into<T: Float>(tape: &mut Tape<T>, w: &[T], x: T) -> T {
        let mut sigmoid_2_stack = ::core::mem::take(&mut tape.sigmoid_2);
        sigmoid_2_stack.clear();
        let w_len = w.len();
        let mut h = ::std::vec![T::zero(); w_len];
        let mut trips = 0_usize;
        for k in 0..w.len() {
            let w_i = w[k];
            h[k] = w_i;
            trips += 1;
        }
        let (_, scale_out_tape) = scale::forward(&mut h, x);
        let total = T::zero();
        let mut total_4 = total;
        let mut trips_2 = 0_usize;
        for k_2 in 0..h.len() {
            let total_2 = total_4;
            let v = h[k_2];
            let sigmoid_2 = ::backprop_runtime::sigmoid(v);
            let total_3 = total_2 + sigmoid_2;
            sigmoid_2_stack.push(sigmoid_2);
            total_4 = total_3;
            trips_2 += 1;
        }
        let scaled_logistic = total_4 * T::from(0.5).unwrap();
        *tape = Tape {
            w_len,
            trips,
            scale_out_tape,
            trips_2,
            sigmoid_2: sigmoid_2_stack,
            float: ::core::marker::PhantomData,
        };
        scaled_logistic
    }

    #[must_use]
    #[inline]
    pub fn forward<T: Float>(w: &[T], x: T) -> (T, Tape<T>) {
        let mut tape = Tape::default();
        let value = self::forward_into(&mut tape, w, x);
        (value, tape)
    }

    #[inline]
    pub fn backward_into<T: Float>(tape: &Tape<T>, dscaled_logistic: T, grad: &mut Grad<T>) {
        let Tape { w_len, trips, ref scale_out_tape, trips_2, .. } = *tape;
        let mut sigmoid_2_stack = tape.sigmoid_2.reader();
        ::backprop_runtime::prepare(&mut grad.w, w_len);
        let dw = &mut grad.w;
        let mut dh = ::std::vec![T::zero(); w_len];
        let mut dtotal_4 = dscaled_logistic * T::from(0.5).unwrap();
        for k_2 in (0..trips_2).rev() {
            let sigmoid_2 = sigmoid_2_stack.pop();
            let dtotal_3 = dtotal_4;
            let dtotal_2 = dtotal_3;
            let dsigmoid_2 = dtotal_3;
            let dv = dsigmoid_2 * (sigmoid_2 * (T::one() - sigmoid_2));
            dh[k_2] = dh[k_2] + dv;
            dtotal_4 = dtotal_2;
        }
        let (dh_scale_out, dx) = scale::pullback(scale_out_tape, &dh[..]);
        dh[..].copy_from_slice(&dh_scale_out[..]);
        for k in (0..trips).rev() {
            let dw_i = dh[k];
            dh[k] = T::zero();
            dw[k] = dw[k] + dw_i;
        }
        grad.x = grad.x + dx;
    }

    #[must_use]
    #[inline]
    pub fn backward<T: Float>(tape: &Tape<T>, seed: T) -> Grad<T> {
        let mut grad = Grad::default();
        self::backward_into(tape, seed, &mut grad);
        grad
    }

    #[must_use]
    #[inline]
    pub fn grad<T: Float>(w: &[T], x: T) -> (T, Grad<T>) {
        let (value, tape) = self::forward(w, x);
        (value, self::backward(&tape, T::one()))
    }

    #[must_use]
    pub fn pullback<T: Float>(tape: &Tape<T>, seed: T) -> (::std::vec::Vec<T>, T) {
        let g = self::backward(tape, seed);
        (g.w, g.x)
    }
}

pub mod scale {
    #[allow(unused_imports)]
    use super::*;

    #[derive(Clone, Debug)]
    pub struct Tape<T: Float> {
        pub by: T,
        pub v_len: usize,
        pub v_i: ::backprop_runtime::Stack<T>,
        pub trips: usize,
        pub float: ::core::marker::PhantomData<fn() -> T>,
    }

    impl<T: Float> ::core::default::Default for Tape<T> {
        fn default() -> Self {
            Tape {
                by: T::zero(),
                v_len: ::core::default::Default::default(),
                v_i: ::core::default::Default::default(),
                trips: ::core::default::Default::default(),
                float: ::core::marker::PhantomData,
            }
        }
    }

    #[derive(Clone, Debug, PartialEq)]
    #[allow(clippy::pub_underscore_fields)]
    pub struct Grad<T: Float> {
        pub v: ::std::vec::Vec<T>,
        pub by: T,
    }

    impl<T: Float> ::core::default::Default for Grad<T> {
        fn default() -> Self { Grad { v: ::std::vec::Vec::new(), by: T::zero() } }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward_into<T: Float>(tape: &mut Tape<T>, v: &mut [T], by: T) {
        let mut v_i_stack = ::core::mem::take(&mut tape.v_i);
        v_i_stack.clear();
        let v_len = v.len();
        let mut trips = 0_usize;
        for i in 0..v.len() {
            let v_i = v[i];
            let prod = v_i * by;
            v[i] = prod;
            v_i_stack.push(v_i);
            trips += 1;
        }
        * tape = Tape {
            by,
            v_len,
            trips,
            v_i: v_i_stack,
            float: ::core::marker::PhantomData,
        };
    }

    #[must_use]
    #[inline]
    pub fn forward<T: Float>(v: &mut [T], by: T) -> ((), Tape<T>) {
        let mut tape = Tape::default();
        self::forward_into(&mut tape, v, by);
        ((), tape)
    }

    #[inline]
    pub fn backward_into<T: Float>(tape: &Tape<T>, dv_final: &[T], grad: &mut Grad<T>) {
        let Tape { by, v_len, trips, .. } = *tape;
        let mut v_i_stack = tape.v_i.reader();
        ::backprop_runtime::prepare(&mut grad.v, v_len);
        let mut dv = dv_final.to_vec();
        let mut dby = T::zero();
        for i in (0..trips).rev() {
            let v_i = v_i_stack.pop();
            let dprod = dv[i];
            dv[i] = T::zero();
            let dv_i = dprod * by;
            dby = dby + dprod * v_i;
            dv[i] = dv[i] + dv_i;
        }
        ::backprop_runtime::accumulate(&mut grad.v[..], &dv[..]);
        grad.by = grad.by + dby;
    }

    #[must_use]
    #[inline]
    pub fn backward<T: Float>(tape: &Tape<T>, seed: &[T]) -> Grad<T> {
        let mut grad = Grad::default();
        self::backward_into(tape, seed, &mut grad);
        grad
    }

    #[must_use]
    pub fn pullback<T: Float>(tape: &Tape<T>, seed: &[T]) -> (::std::vec::Vec<T>, T) {
        let g = self::backward(tape, seed);
        (g.v, g.by)
    }
}

pub mod dot {
    #[allow(unused_imports)]
    use super::*;

    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        pub a_len: usize,
        pub b_len: usize,
        pub trips: usize,
        pub a: ::std::vec::Vec<f64>,
        pub b: ::std::vec::Vec<f64>,
    }

    #[derive(Clone, Debug, PartialEq)]
    #[allow(clippy::pub_underscore_fields)]
    pub struct Grad {
        pub a: ::std::vec::Vec<f64>,
        pub b: ::std::vec::Vec<f64>,
    }

    impl ::core::default::Default for Grad {
        fn default() -> Self {
            Grad {
                a: ::std::vec::Vec::new(),
                b: ::std::vec::Vec::new(),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward_into(tape: &mut Tape, a: &[f64], b: &[f64]) -> f64 {
        let a_len = a.len();
        let b_len = b.len();
        let total = 0.0_f64;
        let mut total_4 = total;
        let mut trips = 0_usize;
        for k in 0..a.len().min(b.len()) {
            let total_2 = total_4;
            let x = a[k];
            let y = b[k];
            let prod = x * y;
            let total_3 = total_2 + prod;
            total_4 = total_3;
            trips += 1;
        }
        let mut a_copy = ::core::mem::take(&mut tape.a);
        a_copy.clear();
        a_copy.extend_from_slice(&a[..]);
        let mut b_copy = ::core::mem::take(&mut tape.b);
        b_copy.clear();
        b_copy.extend_from_slice(&b[..]);
        *tape = Tape { a_len, b_len, trips, a: a_copy, b: b_copy };
        total_4
    }

    #[must_use]
    #[inline]
    pub fn forward(a: &[f64], b: &[f64]) -> (f64, Tape) {
        let mut tape = Tape::default();
        let value = self::forward_into(&mut tape, a, b);
        (value, tape)
    }

    #[inline]
    pub fn backward_into(tape: &Tape, mut dtotal_4: f64, grad: &mut Grad) {
        let Tape { a_len, b_len, trips, .. } = *tape;
        let a = tape.a.as_slice();
        let b = tape.b.as_slice();
        ::backprop_runtime::prepare(&mut grad.a, a_len);
        let da = &mut grad.a;
        ::backprop_runtime::prepare(&mut grad.b, b_len);
        let db = &mut grad.b;
        for k in (0..trips).rev() {
            let x = a[k];
            let y = b[k];
            let dtotal_3 = dtotal_4;
            let dtotal_2 = dtotal_3;
            let dprod = dtotal_3;
            let dx = dprod * y;
            let dy = dprod * x;
            db[k] += dy;
            da[k] += dx;
            dtotal_4 = dtotal_2;
        }
    }

    #[must_use]
    #[inline]
    pub fn backward(tape: &Tape, seed: f64) -> Grad {
        let mut grad = Grad::default();
        self::backward_into(tape, seed, &mut grad);
        grad
    }

    #[must_use]
    #[inline]
    pub fn grad(a: &[f64], b: &[f64]) -> (f64, Grad) {
        let (value, tape) = self::forward(a, b);
        (value, self::backward(&tape, 1.0_f64))
    }

    #[must_use]
    pub fn pullback(tape: &Tape, seed: f64) -> (::std::vec::Vec<f64>, ::std::vec::Vec<f64>) {
        let g = self::backward(tape, seed);
        (g.a, g.b)
    }
}

pub mod linear_predict {
    #[allow(unused_imports)]
    use super::*;

    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        pub w_len: usize,
        pub x_len: usize,
        pub dot_out_tape: dot::Tape,
    }

    #[derive(Clone, Debug, PartialEq)]
    #[allow(clippy::pub_underscore_fields)]
    pub struct Grad {
        pub w: ::std::vec::Vec<f64>,
        pub b: f64,
        pub x: ::std::vec::Vec<f64>,
    }

    impl ::core::default::Default for Grad {
        fn default() -> Self {
            Grad {
                w: ::std::vec::Vec::new(),
                b: 0.0_f64,
                x: ::std::vec::Vec::new(),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward_into(tape: &mut Tape, _linear: &Linear, w: &[f64], b: f64, x: &[f64]) -> f64 {
        let w_len = w.len();
        let x_len = x.len();
        let (dot_out, dot_out_tape) = dot::forward(w, x);
        let linear_predict = dot_out + b;
        *tape = Tape { w_len, x_len, dot_out_tape };
        linear_predict
    }

    #[must_use]
    #[inline]
    pub fn forward(linear: &Linear, w: &[f64], b: f64, x: &[f64]) -> (f64, Tape) {
        let mut tape = Tape::default();
        let value = self::forward_into(&mut tape, linear, w, b, x);
        (value, tape)
    }

    #[inline]
    pub fn backward_into(tape: &Tape, dlinear_predict: f64, grad: &mut Grad) {
        let Tape { w_len, x_len, ref dot_out_tape } = *tape;
        ::backprop_runtime::prepare(&mut grad.w, w_len);
        let dw = &mut grad.w;
        ::backprop_runtime::prepare(&mut grad.x, x_len);
        let dx = &mut grad.x;
        let ddot_out = dlinear_predict;
        let db = dlinear_predict;
        let (dw_dot_out, dx_dot_out) = dot::pullback(dot_out_tape, ddot_out);
        ::backprop_runtime::accumulate(&mut dw[..], &dw_dot_out[..]);
        ::backprop_runtime::accumulate(&mut dx[..], &dx_dot_out[..]);
        grad.b += db;
    }

    #[must_use]
    #[inline]
    pub fn backward(tape: &Tape, seed: f64) -> Grad {
        let mut grad = Grad::default();
        self::backward_into(tape, seed, &mut grad);
        grad
    }

    #[must_use]
    #[inline]
    pub fn grad(linear: &Linear, w: &[f64], b: f64, x: &[f64]) -> (f64, Grad) {
        let (value, tape) = self::forward(linear, w, b, x);
        (value, self::backward(&tape, 1.0_f64))
    }

    #[must_use]
    pub fn pullback(tape: &Tape, seed: f64) -> (::backprop_runtime::NotDifferentiable, ::std::vec::Vec<f64>, f64, ::std::vec::Vec<f64>) {
        let g = self::backward(tape, seed);
        (::backprop_runtime::NotDifferentiable, g.w, g.b, g.x)
    }
}

pub mod linear_loss {
    #[allow(unused_imports)]
    use super::*;

    #[derive(Clone, Debug, Default)]
    pub struct Tape {
        pub w_len: usize,
        pub x_len: usize,
        pub linear_predict_out_tape: linear_predict::Tape,
        pub e: f64,
    }

    #[derive(Clone, Debug, PartialEq)]
    #[allow(clippy::pub_underscore_fields)]
    pub struct Grad {
        pub w: ::std::vec::Vec<f64>,
        pub b: f64,
        pub x: ::std::vec::Vec<f64>,
        pub y: f64,
    }

    impl ::core::default::Default for Grad {
        fn default() -> Self {
            Grad {
                w: ::std::vec::Vec::new(),
                b: 0.0_f64,
                x: ::std::vec::Vec::new(),
                y: 0.0_f64,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn forward_into(tape: &mut Tape, linear: &Linear, w: &[f64], b: f64, x: &[f64], y: f64) -> f64 {
        let w_len = w.len();
        let x_len = x.len();
        let (linear_predict_out, linear_predict_out_tape) = linear_predict::forward(linear, w, b, x);
        let e = linear_predict_out - y;
        let linear_loss = e * e;
        *tape = Tape { w_len, x_len, linear_predict_out_tape, e };
        linear_loss
    }

    #[must_use]
    #[inline]
    pub fn forward(linear: &Linear, w: &[f64], b: f64, x: &[f64], y: f64) -> (f64, Tape) {
        let mut tape = Tape::default();
        let value = self::forward_into(&mut tape, linear, w, b, x, y);
        (value, tape)
    }

    #[inline]
    pub fn backward_into(tape: &Tape, dlinear_loss: f64, grad: &mut Grad) {
        let Tape { w_len, x_len, ref linear_predict_out_tape, e } = *tape;
        ::backprop_runtime::prepare(&mut grad.w, w_len);
        let dw = &mut grad.w;
        ::backprop_runtime::prepare(&mut grad.x, x_len);
        let dx = &mut grad.x;
        let de = dlinear_loss * (2.0 * e);
        let dlinear_predict_out = de;
        let dy = -de;
        let (_, dw_linear_predict_out, db, dx_linear_predict_out) = linear_predict::pullback(linear_predict_out_tape, dlinear_predict_out);
        ::backprop_runtime::accumulate(&mut dw[..], &dw_linear_predict_out[..]);
        ::backprop_runtime::accumulate(&mut dx[..], &dx_linear_predict_out[..]);
        grad.b += db;
        grad.y += dy;
    }

    #[must_use]
    #[inline]
    pub fn backward(tape: &Tape, seed: f64) -> Grad {
        let mut grad = Grad::default();
        self::backward_into(tape, seed, &mut grad);
        grad
    }

    #[must_use]
    #[inline]
    pub fn grad(linear: &Linear, w: &[f64], b: f64, x: &[f64], y: f64) -> (f64, Grad) {
        let (value, tape) = self::forward(linear, w, b, x, y);
        (value, self::backward(&tape, 1.0_f64))
    }

    #[must_use]
    pub fn pullback(tape: &Tape, seed: f64) -> (::backprop_runtime::NotDifferentiable, ::std::vec::Vec<f64>, f64, ::std::vec::Vec<f64>, f64) {
        let g = self::backward(tape, seed);
        (::backprop_runtime::NotDifferentiable, g.w, g.b, g.x, g.y)
    }
}
