//! The programs the fuzzer writes: a small typed model of the Rust the README
//! says `#[differentiate]` supports, printable as user code (f64, f32, generic)
//! and as the oracle's dual-number code.

/// A float expression.
#[derive(Clone, Debug)]
pub enum E {
    /// A non-negative literal (negative ones are `Neg(Lit)`).
    Lit(f64),
    Var(String),
    /// `*a` of a `&mut f64` or `&f64` parameter.
    Deref(String),
    /// An integer converted: `i as f64`.
    IntF(I),
    Bin(char, Box<E>, Box<E>),
    Neg(Box<E>),
    /// `e.exp()`, `e.tanh()`, ...
    M1(&'static str, Box<E>),
    /// `f64::exp(e)`: a method called by path.
    Path1(&'static str, Box<E>),
    Powi(Box<E>, i32),
    /// `e.powi(k as i32)` with an integer variable `k`.
    PowiVar(Box<E>, I),
    /// A custom rule's call, `crule(e)`: a plain function with a hand-written
    /// `crule` module (`Tape`, `forward`, `pullback`).
    CustomRule(Box<E>),
    /// `e.max(f)`, `e.atan2(f)`, `e.hypot(f)`, `e.powf(f)`, `e.log(f)`, `e.min(f)`.
    M2(&'static str, Box<E>, Box<E>),
    MulAdd(Box<E>, Box<E>, Box<E>),
    Clamp(Box<E>, f64, f64),
    /// `sigmoid(e)`, `relu(e)`, `softplus(e)`: the runtime's activations.
    Act(&'static str, Box<E>),
    /// `s[i]`: an element of a slice or buffer.
    Index(String, I),
    Branch(Box<C>, Box<E>, Box<E>),
    Call(String, Vec<Arg>),
    Chain(Box<Chain>),
    /// A call of a closure bound with `let`.
    CallClosure(String, Box<E>),
    /// `((e as f32) as f64)`: a round trip through the other float type.
    Cast(Box<E>),
    Pi,
    /// `f64::NAN`: the start of a running extremum, which the first
    /// candidate replaces.
    Nan,
    /// `{ let t = e; body }`: a block expression.
    Block(String, Box<E>, Box<E>),
}

/// An integer (`usize`) expression: never depends on the inputs.
#[derive(Clone, Debug)]
pub enum I {
    Lit(usize),
    Var(String),
    Len(String),
    /// `(i + k) % m`.
    AddMod(Box<I>, usize, usize),
    /// `r[i]` of a list of indices (its values are always below the length).
    ListRead(String, Box<I>),
    /// `(n - 1)`, of a recursion depth known to be positive.
    Pred(String),
    /// `(m - 1 - i)`: the loop variable's mirror in a list of length `m`.
    Mirror(Box<I>, usize),
}

/// A condition.
#[derive(Clone, Debug)]
pub enum C {
    Cmp(&'static str, E, E),
    ICmp(&'static str, I, I),
    And(Box<C>, Box<C>),
    Or(Box<C>, Box<C>),
    Not(Box<C>),
    /// An iterator chain inside a condition.
    ChainGt(Box<Chain>, f64),
    /// A test of a float, `e.is_sign_negative()`.
    Test(&'static str, E),
}

#[derive(Clone, Debug)]
pub enum Arg {
    E(E),
    /// A whole slice or buffer, passed by reference: `&b` or `s`.
    Slice(String, bool),
    /// `&mut b`, or a `&mut` parameter passed on.
    MutSlice(String, bool),
    MutScalar(String),
    RefScalar(E),
    /// An integer argument: a recursion depth.
    Int(I),
    /// `&s[lo..hi]`: a part of a slice or buffer, lent to a helper.
    Part(String, usize, usize),
    /// `&mut b[lo..hi]`: a part of a writable slice or buffer, lent to a
    /// helper that writes it.
    MutPart(String, usize, usize),
}

/// Iterator chains over one slice (and a second, zipped).
#[derive(Clone, Debug)]
pub enum Chain {
    /// `s.iter().map(|v| body).sum::<F>()`; `body` reads `v` by reference.
    SumMap {
        slice: String,
        adapter: Adapter,
        var: String,
        body: E,
    },
    /// `s.windows(2).map(|w| { let a = w[0]; let b = w[1]; body }).sum::<F>()`.
    Windows {
        slice: String,
        a: String,
        b: String,
        body: E,
    },
    /// `a.iter().zip(b.iter()).map(|(x, y)| body).sum::<F>()`.
    Zip {
        a: String,
        b: String,
        x: String,
        y: String,
        body: E,
    },
    /// `s.iter().fold(init, |acc, &v| body)`.
    Fold {
        slice: String,
        init: f64,
        acc: String,
        var: String,
        body: E,
    },
    /// `s.iter().copied().fold(F::NEG_INFINITY, F::max)`.
    FoldMax { slice: String },
    /// `s.iter().map(|v| body).product::<F>()`.
    Product { slice: String, var: String, body: E },
}

/// What comes between `iter()` and `map` in a chain.
#[derive(Clone, Debug)]
pub enum Adapter {
    None,
    Rev,
    /// `.enumerate()`, the index named.
    Enumerate(String),
    /// `.filter(|&&v| v > t)`.
    Filter(f64),
    Skip(usize),
    Copied,
}

#[derive(Clone, Debug)]
pub enum BufInit {
    /// `[0.0; L]` or `vec![0.0; L]` / `vec![0.0; s.len()]`.
    Zeros(Option<String>),
    /// `[a, b, c]` / `vec![a, b, c]`.
    Elems(Vec<E>),
    /// `s.to_vec()`.
    Copy(String),
    /// `s.iter().map(|&v| body).collect()`, into a `Vec`.
    Collect { slice: String, var: String, body: E },
    /// `if cond { [a, b, c] } else { [d, e, f] }`: an array chosen by a
    /// branch (never a `Vec`).
    Chosen { cond: C, then: Vec<E>, els: Vec<E> },
}

/// A float match arm's guard on its bound value: `v < c` as `('<', c)`;
/// none for the catch-all.
pub type Guard = Option<(char, f64)>;

#[derive(Clone, Debug)]
pub enum S {
    Let {
        name: String,
        mutable: bool,
        annot: bool,
        value: E,
    },
    /// `let v = &a[lo..hi];` (or `&a[lo..=hi - 1]`): a named part of an
    /// array, read by the statement after it.
    View {
        name: String,
        array: String,
        lo: usize,
        hi: usize,
        inclusive: bool,
    },
    /// `let rows: Vec<_> = a.chunks(size).collect();` (or `chunks_exact`):
    /// a list of an array's chunks, read by the statement after it.
    Chunks {
        name: String,
        array: String,
        size: usize,
        exact: bool,
    },
    /// `for row in a.chunks_mut(size) { row[col] op= value; }` (or
    /// `chunks_exact_mut`, or `for (i, row) in ...enumerate()`, `i` in the
    /// value): a write into every chunk of a writable array.
    ChunkWrite {
        var: String,
        index: Option<String>,
        array: String,
        size: usize,
        exact: bool,
        col: usize,
        op: Option<char>,
        value: E,
    },
    /// `let k: usize = i + 1;`-style integer locals, and index reads of
    /// integer lists.
    IntLet {
        name: String,
        value: I,
    },
    Assign {
        name: String,
        op: Option<char>,
        value: E,
    },
    /// `*a = e;` / `*a += e;` for a `&mut f64` parameter.
    AssignDeref {
        name: String,
        op: Option<char>,
        value: E,
    },
    Buf {
        name: String,
        vec: bool,
        annot: bool,
        init: BufInit,
    },
    Write {
        name: String,
        idx: I,
        op: Option<char>,
        value: E,
    },
    If {
        cond: C,
        then: Vec<S>,
        els: Option<Vec<S>>,
    },
    For {
        label: Option<String>,
        var: String,
        lo: usize,
        hi: I,
        rev: bool,
        body: Vec<S>,
    },
    /// `for i in (0..=hi).step_by(step)`.
    ForStep {
        var: String,
        hi: usize,
        step: usize,
        body: Vec<S>,
    },
    /// `while cond && k < limit { k += 1; body }`: a float condition, bounded.
    WhileFloat {
        cond: C,
        counter: String,
        limit: usize,
        body: Vec<S>,
    },
    /// `let (s, c) = e.sin_cos();`
    SinCos {
        names: [String; 2],
        value: E,
    },
    /// `for v in s.iter()` (or `for &v in s`), with an optional index from
    /// `enumerate`.
    ForEach {
        var: String,
        index: Option<String>,
        slice: String,
        by_ref: bool,
        /// `.zip(r.iter())` of a list of indices, its element named:
        /// `for (&v, &j) in s.iter().zip(r.iter())`.
        list: Option<(String, String)>,
        body: Vec<S>,
    },
    While {
        counter: String,
        limit: usize,
        body: Vec<S>,
    },
    Loop {
        counter: String,
        limit: usize,
        body: Vec<S>,
    },
    Break(Option<String>),
    Continue(Option<String>),
    Return(E),
    Match {
        scrut: I,
        arms: Vec<(String, Vec<S>)>,
    },
    /// `match e { v if v < c => {..} .. v => {..} }` on a float: each arm
    /// binds `var` (a guard `(op, c)` tests it), the last without a guard.
    FloatMatch {
        scrut: E,
        var: String,
        arms: Vec<(Guard, Vec<S>)>,
    },
    /// `let v; if cond { v = then; } else { v = els; }`: a value given
    /// right after its declaration.
    Deferred {
        name: String,
        cond: C,
        then: E,
        els: E,
    },
    /// `let _ = e;`
    Discard(E),
    /// `(a, b) = (b, a);`: a destructuring assignment.
    Swap(String, String),
    /// `for o in b.iter_mut() { *o = value; }`, `value` reading `*o`.
    IterMut {
        name: String,
        var: String,
        value: E,
    },
    /// `let mut b = Vec::new(); for c in 0..len { b.push(value); }`.
    PushBuf {
        name: String,
        counter: String,
        len: usize,
        value: E,
    },
    /// A call statement: `h(&mut b, e);`.
    CallStmt(String, Vec<Arg>),
    /// `let (p, q) = h(a, b);`
    LetPair {
        names: [String; 2],
        call: String,
        args: Vec<Arg>,
    },
    /// `r[i] = v;` into a list of indices.
    ListWrite {
        name: String,
        idx: I,
        value: I,
    },
    /// `let (p, q) = (e1, e2);`
    LetTuple {
        names: [String; 2],
        values: [E; 2],
    },
    /// `let mut t = (e1, e2);`, read and written as `t.0` and `t.1`.
    LetTupleLocal {
        name: String,
        values: [E; 2],
    },
    /// `t = (e1, e2);`: a tuple local assigned whole.
    AssignTuple {
        name: String,
        values: [E; 2],
    },
    /// `let name = |param: F| body;`, called as `name(e)`.
    Closure {
        name: String,
        param: String,
        body: E,
    },
    /// `let mut name = ..;` of a struct `St<F>`, read as `name.a`, `name.b`.
    LetStruct {
        name: String,
        init: StructInit,
    },
    /// `name = step(name, k);`: a struct stepped in place by a helper that
    /// takes and returns it.
    StepStruct {
        name: String,
        call: String,
        k: E,
    },
}

/// How a struct local starts.
#[derive(Clone, Debug)]
pub enum StructInit {
    /// `St { a: .., b: .. }`.
    Lit(E, E),
    /// `step(source, k)`.
    Call { call: String, source: String, k: E },
    /// `source` (a copy).
    Copy(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PTy {
    Scalar,
    /// `&[F]`, differentiated.
    Slice,
    /// `&[F]`, left out of `wrt`.
    Data,
    /// `&mut [F]`: its final contents are an output.
    MutSlice,
    /// `&mut F`.
    MutScalar,
    /// `&F`.
    RefScalar,
    /// `[F; LEN]`, by value.
    Array,
    /// `&[F; LEN]`.
    ArrayRef,
    /// `&Vec<F>`.
    VecRef,
    Int,
    /// `&mut [usize]`: a list of indices, a permutation of `0..LEN`.
    IntList,
    /// `St<F>` by value: `struct St<T> { a: T, b: T }`, read as `s.a`, `s.b`.
    Struct,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub ty: PTy,
}

#[derive(Clone, Debug)]
pub enum Ret {
    Scalar(E),
    Pair(E, E),
    /// `-> [F; 2]`.
    Array(E, E),
    /// `-> St<F>`: `St { a: .., b: .. }`, or with `None`, `St { a: .., ..s }`.
    Struct(E, Option<E>),
    Unit,
}

#[derive(Clone, Debug)]
pub struct Func {
    pub name: String,
    pub params: Vec<Param>,
    pub body: Vec<S>,
    pub ret: Ret,
    /// Listed in `wrt(..)`: needed when a data slice is present.
    pub wrt: bool,
    /// `#[checkpoint(snapshots = k)]` on each loop of the body itself (of
    /// `main`, before any `return`), in the user's code.
    pub checkpoint: Option<usize>,
    /// How a helper's two results travel: a tuple, `(a, b)` and `let (p,
    /// q) = h(..)`; an array, `[a, b]` and `let [p, q] = h(..)`; or an array
    /// bound whole, `let p_q = h(..)`, read as `p_q[0]` and `p_q[1]`.
    pub pairs: Pairs,
    /// `#[inline]` on a helper: inlined into its callers (written beside
    /// them) whatever its loops.
    pub inline: bool,
    /// A plain helper, written with no attribute (over `f64` and `f32`):
    /// inlined into its callers, its only way to a derivative.
    pub plain: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Pairs {
    #[default]
    Tuple,
    Array,
    Whole,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Float {
    F64,
    F32,
    Generic,
}

#[derive(Clone, Debug)]
pub struct Program {
    pub seed: u64,
    pub float: Float,
    /// Length of every slice and buffer.
    pub len: usize,
    pub helpers: Vec<Func>,
    pub main: Func,
    /// Inputs, by parameter of `main`: scalars one value, slices `len` values,
    /// integers one value.
    pub inputs: Vec<Vec<f64>>,
    /// `Some((w, b))`: `main` is a method `f(&self, ..)` of
    /// `struct Model { w: Vec<f64>, b: f64 }`, reading `self.w` and `self.b`.
    pub model: Option<(Vec<f64>, f64)>,
    /// With a model: `main` is instead the free function `f(model: &Model,
    /// ..)` of a `Model` that derives `Differentiable`, reading `model.w` and
    /// `model.b` (the oracle stays the method).
    pub free_model: bool,
    /// With a free model: the other method `g` is a differentiated function
    /// of the model itself, `model_g(model, t)`, not of its fields.
    pub whole_model: bool,
    /// With a free model whose `g` takes its fields: `main` takes a slice of
    /// models, `f(models: &[Model], ..)`, and reads the second,
    /// `let model = &models[1];` (the first is a decoy, its gradient zero).
    pub sliced_model: bool,
    /// With a slice of models: the slice is a field of a struct instead,
    /// `f(holder: &Holder, ..)` reading `let model = &holder.models[1];`.
    pub held_model: bool,
}

impl Program {
    /// A size measure for shrinking: the number of AST nodes.
    pub fn size(&self) -> usize {
        self.helpers.iter().map(Func::size).sum::<usize>() + self.main.size()
    }
}

impl Func {
    pub fn size(&self) -> usize {
        let ret = match &self.ret {
            Ret::Scalar(e) => e.size(),
            Ret::Pair(a, b) | Ret::Array(a, b) => a.size() + b.size(),
            Ret::Struct(a, b) => a.size() + b.as_ref().map_or(0, E::size),
            Ret::Unit => 0,
        };
        self.params.len() + stmts_size(&self.body) + ret
    }
}

pub fn stmts_size(body: &[S]) -> usize {
    body.iter().map(S::size).sum()
}

impl S {
    pub fn size(&self) -> usize {
        1 + match self {
            S::Let { value, .. } | S::Assign { value, .. } | S::AssignDeref { value, .. } => {
                value.size()
            }
            S::Write { value, .. } | S::ChunkWrite { value, .. } => 1 + value.size(),
            S::IntLet { .. }
            | S::View { .. }
            | S::Chunks { .. }
            | S::Break(_)
            | S::Continue(_)
            | S::ListWrite { .. }
            | S::Swap(..) => 0,
            S::IterMut { value, .. } | S::PushBuf { value, .. } => 1 + value.size(),
            S::Buf { init, .. } => match init {
                BufInit::Elems(es) => es.iter().map(E::size).sum(),
                _ => 1,
            },
            S::If { cond, then, els } => {
                cond.size() + stmts_size(then) + els.as_deref().map_or(0, stmts_size)
            }
            S::For { body, .. }
            | S::ForStep { body, .. }
            | S::WhileFloat { body, .. }
            | S::ForEach { body, .. }
            | S::While { body, .. }
            | S::Loop { body, .. } => 1 + stmts_size(body),
            S::Return(e) | S::Discard(e) => e.size(),
            S::Deferred {
                cond, then, els, ..
            } => cond.size() + then.size() + els.size(),
            S::Match { arms, .. } => arms.iter().map(|(_, b)| 1 + stmts_size(b)).sum(),
            S::FloatMatch { arms, .. } => arms.iter().map(|(_, b)| 1 + stmts_size(b)).sum(),
            S::CallStmt(_, args) | S::LetPair { args, .. } => args.iter().map(Arg::size).sum(),
            S::LetTuple { values, .. }
            | S::LetTupleLocal { values, .. }
            | S::AssignTuple { values, .. } => values.iter().map(E::size).sum(),
            S::SinCos { value, .. } => value.size(),
            S::Closure { body, .. } => body.size(),
            S::LetStruct { init, .. } => match init {
                StructInit::Lit(a, b) => a.size() + b.size(),
                StructInit::Call { k, .. } => 1 + k.size(),
                StructInit::Copy(_) => 1,
            },
            S::StepStruct { k, .. } => 1 + k.size(),
        }
    }
}

impl Arg {
    fn size(&self) -> usize {
        match self {
            Arg::E(e) | Arg::RefScalar(e) => e.size(),
            _ => 1,
        }
    }
}

impl C {
    pub fn size(&self) -> usize {
        match self {
            C::Cmp(_, a, b) => 1 + a.size() + b.size(),
            C::ICmp(..) => 1,
            C::And(a, b) | C::Or(a, b) => 1 + a.size() + b.size(),
            C::Not(a) => 1 + a.size(),
            C::ChainGt(c, _) => 1 + c.size(),
            C::Test(_, e) => 1 + e.size(),
        }
    }
}

impl Chain {
    pub fn size(&self) -> usize {
        match self {
            Chain::SumMap { body, .. }
            | Chain::Zip { body, .. }
            | Chain::Fold { body, .. }
            | Chain::Product { body, .. }
            | Chain::Windows { body, .. } => 2 + body.size(),
            Chain::FoldMax { .. } => 2,
        }
    }
}

impl E {
    pub fn size(&self) -> usize {
        match self {
            E::Lit(_) | E::Var(_) | E::Deref(_) | E::IntF(_) | E::Pi | E::Nan | E::Index(..) => 1,
            E::Bin(_, a, b) | E::M2(_, a, b) => 1 + a.size() + b.size(),
            E::Neg(a)
            | E::CallClosure(_, a)
            | E::PowiVar(a, _)
            | E::CustomRule(a)
            | E::Cast(a)
            | E::M1(_, a)
            | E::Path1(_, a)
            | E::Powi(a, _)
            | E::Clamp(a, ..)
            | E::Act(_, a) => 1 + a.size(),
            E::MulAdd(a, b, c) => 1 + a.size() + b.size() + c.size(),
            E::Branch(c, a, b) => 1 + c.size() + a.size() + b.size(),
            E::Call(_, args) => 1 + args.iter().map(Arg::size).sum::<usize>(),
            E::Chain(c) => c.size(),
            E::Block(_, a, b) => 1 + a.size() + b.size(),
        }
    }
}
