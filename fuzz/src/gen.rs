//! A seeded generator of random, valid programs over the language the README
//! says `#[differentiate]` supports.
//!
//! Values are kept in safe domains by construction (`ln` of a positive
//! expression, `asin` of a squashed one), every slice and buffer has the
//! program's one length, and every index is in bounds, so a program that the
//! macro refuses or gets wrong is the macro's problem, not the generator's.

use crate::ast::*;

/// splitmix64: small, seedable, and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The seed of program `index` of a run seeded `seed`.
pub fn program_seed(seed: u64, index: u64) -> u64 {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0x2545_f491_4f6c_dd1d));
    rng.next()
}

/// Names users write, including the ones the macro generates for itself.
const NAMES: &[&str] = &[
    "a", "b", "t", "u", "v", "w", "acc", "dx", "dx1", "dy", "tape", "grad", "seed", "value", "sum",
    "prod", "exp", "tmp", "c", "c_2", "df", "d1", "out", "h", "sigx", "numer", "denom", "total",
    "x_2", "dacc", "broke", "returned", "running", "float", "i_2",
];

#[derive(Clone)]
struct Arr {
    name: String,
    /// A local buffer rather than a parameter.
    local: bool,
    /// Passed as `&b`: a local buffer or an array parameter, not a slice.
    by_ref: bool,
    /// Can be written: a local buffer, or a `&mut [F]` parameter.
    writable: bool,
}

#[derive(Clone, Default)]
struct Scope {
    /// Float locals and scalar parameters, with whether they can be assigned.
    scalars: Vec<(String, bool)>,
    /// `&mut F` (true) and `&F` (false) parameters.
    refs: Vec<(String, bool)>,
    /// Integers, with whether they index directly (always below the length).
    ints: Vec<(String, bool)>,
    arrays: Vec<Arr>,
    /// Closures bound with `let`, taking one float.
    closures: Vec<String>,
    /// Lists of indices (`&mut [usize]`), permutations of `0..LEN`.
    lists: Vec<String>,
    /// Struct locals `St<F>`, their fields among `scalars` (`st0.a`).
    structs: Vec<String>,
    /// Tuple locals, their elements among `scalars` (`t.0`).
    tuples: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HelperKind {
    Scalar,
    SliceRead,
    SliceWrite,
    MutScalar,
    Pair,
    Ref,
    /// `fn h(a: F, depth: usize) -> F`, calling itself `depth` times.
    Recursive,
    /// `fn h(v: &[F], a: F, depth: usize) -> F`, calling itself once or twice
    /// per level on the same slice: the calls share one tape (frames).
    RecursiveSlice,
    /// `fn h(v: &[F], k: F) -> F` that reads `v` only in `for i in 0..v.len()`:
    /// called on parts of arrays, `h(&b[1..3], e)`.
    PartRead,
    /// `fn h(v: &[F], w: &[F], k: F) -> F` reading both in `for i in
    /// 0..v.len()`: called on two parts of the same length, of the same or of
    /// different arrays (a call that lends one and has the callee keep the
    /// other, where one is a buffer written later).
    PartPair,
    /// `fn h(v: &mut [F], w: &[F], k: F)` reading and writing `v` only in
    /// `for i in 0..v.len()`: called on a part of a writable array and a part
    /// of the same length of another, `h(&mut b[1..3], &a[0..2], e);`.
    PartWrite,
    /// `fn hs(s: St<F>, k: F) -> St<F>`, a plain helper taking and returning
    /// a struct: `main` steps struct locals with it (`st = hs(st, k);`),
    /// copies them and reads their fields.
    Step,
}

#[derive(Clone)]
struct Helper {
    name: String,
    kind: HelperKind,
}

struct Gen {
    rng: Rng,
    float: Float,
    len: usize,
    scope: Scope,
    helpers: Vec<Helper>,
    /// Statements left to write in this function.
    budget: usize,
    depth: usize,
    /// Enclosing loops: their label, and whether `break`/`continue` may appear.
    loops: Vec<Option<String>>,
    labels: usize,
    counters: usize,
    can_return: bool,
    /// Names in use in this function, to pick fresh ones.
    used: Vec<String>,
    in_helper: bool,
    /// `main` is a method of `Model`, reading `self.w` and `self.b`.
    method: bool,
    /// The `Step` helper, with the generator its struct statements draw
    /// from (so the programs of a seed without one stay what they were).
    step: Option<(String, Rng)>,
    /// In a third of the programs, helpers call the scalar helpers written
    /// before them (`h1`'s body calls `h0`), drawing those calls from a
    /// generator of their own. Inlined one into the other, their locals
    /// (drawn from the same names) meet in one body.
    nested: Option<Rng>,
}

pub fn program(seed: u64) -> Program {
    let mut rng = Rng::new(seed);
    let float = match rng.below(10) {
        0 => Float::F32,
        1 | 2 => Float::Generic,
        _ => Float::F64,
    };
    // 2 to 5: loops over `0..len` of at most four iterations with
    // straight bodies are written out by the macro, so a quarter of the
    // programs keep those loops as loops.
    let len = 2 + rng.below(4);
    let mut g = Gen {
        rng,
        float,
        len,
        scope: Scope::default(),
        helpers: Vec::new(),
        budget: 0,
        depth: 0,
        loops: Vec::new(),
        labels: 0,
        counters: 0,
        can_return: false,
        used: Vec::new(),
        in_helper: false,
        method: false,
        step: None,
        nested: None,
    };
    let mut nested = Rng::new(seed ^ 0x4e57_ed00_ca11_0001);
    if nested.chance(1.0 / 3.0) {
        g.nested = Some(nested);
    }
    let mut helpers = Vec::new();
    // A program whose helpers nest has a scalar helper first for the others
    // (and `main`) to call.
    if g.nested.is_some() {
        helpers.push(g.helper("hn", HelperKind::Scalar));
        g.helpers.push(Helper {
            name: "hn".to_string(),
            kind: HelperKind::Scalar,
        });
    }
    let count = [0, 0, 1, 1, 2][g.rng.below(5)];
    for k in 0..count {
        let kind = *g.rng.pick(&[
            HelperKind::Scalar,
            HelperKind::Scalar,
            HelperKind::SliceRead,
            HelperKind::SliceWrite,
            HelperKind::MutScalar,
            HelperKind::Pair,
            HelperKind::Ref,
            HelperKind::Recursive,
            HelperKind::RecursiveSlice,
            HelperKind::PartRead,
            HelperKind::PartPair,
            HelperKind::PartWrite,
            HelperKind::PartWrite,
        ]);
        let f = g.helper(&format!("h{k}"), kind);
        helpers.push(f);
        g.helpers.push(Helper {
            name: format!("h{k}"),
            kind,
        });
    }
    // Drawn from a generator of its own: a third of the programs over a
    // named float have a helper that takes and returns a struct.
    let mut steps = Rng::new(seed ^ 0x57ec_0057_a7e0_0001);
    if float != Float::Generic && steps.chance(1.0 / 3.0) {
        let f = g.drawing_from(&mut steps, |g| g.helper("hs", HelperKind::Step));
        // (A label is not inlined, and a plain helper must be.)
        if !format!("{:?}", f.body).contains("label: Some") {
            helpers.push(f);
            g.step = Some(("hs".to_string(), steps));
        }
    }
    g.method = float == Float::F64 && g.rng.chance(0.15);
    let main = g.main();
    let model = g.method.then(|| {
        let w = (0..len).map(|_| g.away_from_zero(1.5)).collect();
        (w, g.away_from_zero(1.5))
    });
    let inputs = main
        .params
        .iter()
        .map(|p| match p.ty {
            PTy::Scalar | PTy::MutScalar | PTy::RefScalar => vec![g.away_from_zero(2.0)],
            PTy::Slice | PTy::Data | PTy::MutSlice | PTy::Array | PTy::ArrayRef | PTy::VecRef => {
                (0..len).map(|_| g.away_from_zero(1.5)).collect()
            }
            PTy::Int => vec![g.rng.below(len + 1) as f64],
            PTy::Struct => unreachable!("main takes no struct"),
            PTy::IntList => {
                // A permutation: every value a valid index.
                let shift = g.rng.below(len);
                (0..len).map(|i| ((i + shift) % len) as f64).collect()
            }
        })
        .collect();
    // Drawn from a generator of its own, so the programs of a seed stay what
    // they were before checkpoints were fuzzed.
    let mut marks = Rng::new(seed ^ 0x5eed_c4ec_4b01_7000);
    let mut main = main;
    // (A method's checkpointed loop may not read the model: refused.)
    main.checkpoint = (marks.chance(0.5) && model.is_none()).then(|| [2, 3, 5][marks.below(3)]);
    // Drawn after: the programs' pairs travel as tuples, arrays, or arrays
    // bound whole and read by index.
    let pairs = [Pairs::Tuple, Pairs::Array, Pairs::Whole][marks.below(3)];
    main.pairs = pairs;
    for helper in &mut helpers {
        helper.pairs = pairs;
    }
    // Drawn from a generator of its own: half the helpers that write a float
    // through `&mut` also return it, a value their callers' statements drop.
    let mut returns = Rng::new(seed ^ 0x0dd5_eed5_7a7e_0001);
    for (helper, kind) in helpers.iter_mut().zip(&g.helpers) {
        if kind.kind == HelperKind::MutScalar && returns.chance(0.5) {
            helper.ret = Ret::Scalar(E::Deref("a".into()));
        }
    }
    // Drawn from a generator of its own: half the helpers ask to be inlined
    // (`#[inline]`), whatever their loops; the others are inlined where they
    // loop over no slice.
    let mut inlines = Rng::new(seed ^ 0x1a11_e5ee_d000_0042);
    for helper in &mut helpers {
        helper.inline = inlines.chance(0.5);
    }
    // Drawn from a generator of its own: a third of the helpers that do not
    // call themselves are plain (no attribute).
    let mut plains = Rng::new(seed ^ 0x91a1_2e1f_e200_0017);
    for (helper, kind) in helpers.iter_mut().zip(&g.helpers) {
        // (Not one with a labelled loop: a label is not inlined.)
        let labelled = format!("{:?}", helper.body).contains("label: Some");
        let recursive = matches!(
            kind.kind,
            HelperKind::Recursive | HelperKind::RecursiveSlice
        );
        helper.plain =
            plains.chance(1.0 / 3.0) && !recursive && !labelled && !returns_nested(&helper.body, 0);
    }
    // A helper that returns a struct has no derivative of its own: plain.
    for helper in &mut helpers {
        helper.plain |= matches!(helper.ret, Ret::Struct(..));
    }
    // Drawn last: half the models are struct parameters of a free function,
    // which returns one float and takes no `&mut` parameters.
    let plain = matches!(main.ret, Ret::Scalar(_))
        && main
            .params
            .iter()
            .all(|q| !matches!(q.ty, PTy::MutScalar | PTy::MutSlice));
    let free_model = model.is_some() && plain && marks.chance(0.5);
    let whole_model = free_model && marks.chance(0.5);
    // (Only where the body reads the model: a slice of structs whose fields
    // are not read is data, and has no gradient.)
    let reads_model =
        format!("{main:?}").contains("\"self.w\"") || format!("{main:?}").contains("\"self.b\"");
    let sliced_model = free_model && !whole_model && reads_model && marks.chance(0.5);
    // Drawn from a generator of its own: half the slices of models are a
    // field of a struct.
    let held_model = sliced_model && Rng::new(seed ^ 0x4e1d_5eed_0000_0017).chance(0.5);
    Program {
        held_model,
        free_model,
        whole_model,
        sliced_model,
        model,
        seed,
        float,
        len,
        helpers,
        main,
        inputs,
    }
}

impl Gen {
    fn away_from_zero(&mut self, r: f64) -> f64 {
        let x = self.rng.uniform(0.1, r);
        let x = (x * 1000.0).round() / 1000.0;
        if self.rng.chance(0.5) {
            -x
        } else {
            x
        }
    }

    fn reset(&mut self, params: &[Param]) {
        self.scope = Scope::default();
        self.loops.clear();
        self.depth = 0;
        self.used = params.iter().map(|p| p.name.clone()).collect();
        self.used
            .extend(self.helpers.iter().map(|h| h.name.clone()));
        for p in params {
            let name = p.name.clone();
            match p.ty {
                PTy::Scalar => self.scope.scalars.push((name, false)),
                PTy::Slice | PTy::Data | PTy::Array | PTy::ArrayRef | PTy::VecRef => {
                    self.scope.arrays.push(Arr {
                        name,
                        local: false,
                        by_ref: p.ty == PTy::Array,
                        writable: false,
                    })
                }
                PTy::MutSlice => self.scope.arrays.push(Arr {
                    name,
                    local: false,
                    by_ref: false,
                    writable: true,
                }),
                PTy::MutScalar => self.scope.refs.push((name, true)),
                PTy::RefScalar => self.scope.refs.push((name, false)),
                PTy::Int => self.scope.ints.push((name, false)),
                PTy::IntList => self.scope.lists.push(name),
                PTy::Struct => {
                    for field in ["a", "b"] {
                        self.scope.scalars.push((format!("{name}.{field}"), false));
                    }
                }
            }
        }
    }

    fn helper(&mut self, name: &str, kind: HelperKind) -> Func {
        let p = |n: &str, ty| Param { name: n.into(), ty };
        let params = match kind {
            HelperKind::Scalar | HelperKind::Pair => vec![p("a", PTy::Scalar), p("b", PTy::Scalar)],
            HelperKind::SliceRead | HelperKind::PartRead => {
                vec![p("v", PTy::Slice), p("k", PTy::Scalar)]
            }
            HelperKind::PartPair => {
                vec![p("v", PTy::Slice), p("w", PTy::Slice), p("k", PTy::Scalar)]
            }
            HelperKind::SliceWrite => vec![p("v", PTy::MutSlice), p("k", PTy::Scalar)],
            HelperKind::PartWrite => {
                vec![
                    p("v", PTy::MutSlice),
                    p("w", PTy::Slice),
                    p("k", PTy::Scalar),
                ]
            }
            HelperKind::MutScalar => vec![p("a", PTy::MutScalar), p("k", PTy::Scalar)],
            HelperKind::Ref => vec![p("a", PTy::RefScalar)],
            HelperKind::Recursive => vec![p("a", PTy::Scalar), p("depth", PTy::Int)],
            HelperKind::Step => vec![p("s", PTy::Struct), p("k", PTy::Scalar)],
            HelperKind::RecursiveSlice => {
                vec![
                    p("v", PTy::Slice),
                    p("a", PTy::Scalar),
                    p("depth", PTy::Int),
                ]
            }
        };
        let recursive = matches!(kind, HelperKind::Recursive | HelperKind::RecursiveSlice);
        self.reset(&params);
        if matches!(kind, HelperKind::PartRead | HelperKind::PartPair) {
            return self.part_reader(name, params);
        }
        if kind == HelperKind::PartWrite {
            return self.part_writer(name, params);
        }
        self.in_helper = true;
        self.budget = 1 + self.rng.below(3);
        self.can_return = matches!(
            kind,
            HelperKind::Scalar | HelperKind::SliceRead | HelperKind::Ref
        );
        let mut body = Vec::new();
        if recursive {
            // The base case first, then the body, then the call one level down.
            let base = self.expr(1);
            body.push(S::If {
                cond: C::ICmp("==", I::Var("depth".into()), I::Lit(0)),
                then: vec![S::Return(base)],
                els: None,
            });
        }
        // In a program whose helpers nest, most helpers start from a call
        // of one written before them.
        if let Some(call) = self.nested_call(1) {
            let name = self.fresh();
            self.declare_scalar(&name, false);
            body.push(S::Let {
                name,
                mutable: false,
                annot: false,
                value: call,
            });
        }
        body.extend(self.body());
        // One call one level down, or with a slice, one or two (a tree of
        // calls, each level's values between the next level's on the stacks).
        let calls = match kind {
            HelperKind::Recursive => 1,
            HelperKind::RecursiveSlice => 1 + self.rng.below(2),
            _ => 0,
        };
        for _ in 0..calls {
            let down = self.squash_expr();
            let mut args = vec![Arg::E(down), Arg::Int(I::Pred("depth".into()))];
            if kind == HelperKind::RecursiveSlice {
                // (`&v` where a copy took the parameter's name.)
                let copied = self.scope.arrays.iter().any(|a| a.name == "v" && a.local);
                args.insert(0, Arg::Slice("v".into(), copied));
            }
            let r = self.fresh();
            body.push(S::Let {
                name: r.clone(),
                mutable: false,
                annot: false,
                value: E::Call(name.into(), args),
            });
            self.scope.scalars.push((r, false));
        }
        if kind == HelperKind::SliceWrite {
            // Make sure the helper writes its slice.
            let i = "i".to_string();
            let old = E::Index("v".into(), I::Var(i.clone()));
            let value = self.combine(old);
            body.push(S::For {
                label: None,
                var: i.clone(),
                lo: 0,
                hi: I::Len("v".into()),
                rev: false,
                body: vec![S::Write {
                    name: "v".into(),
                    idx: I::Var(i),
                    op: None,
                    value,
                }],
            });
        }
        if kind == HelperKind::MutScalar {
            let value = self.combine(E::Deref("a".into()));
            body.push(S::AssignDeref {
                name: "a".into(),
                op: self.maybe_op(),
                value,
            });
        }
        let ret = match kind {
            HelperKind::Pair => Ret::Pair(self.tail(), self.tail()),
            // Half the time `..s` gives `b`.
            HelperKind::Step => Ret::Struct(self.tail(), self.rng.chance(0.5).then(|| self.tail())),
            HelperKind::SliceWrite | HelperKind::MutScalar => Ret::Unit,
            _ => Ret::Scalar(self.tail()),
        };
        self.in_helper = false;
        helper_func(name, params, body, ret)
    }

    /// `let mut s = k; for i in 0..v.len() { s = step(s, v[i] * w[i]); v[i]
    /// = new(v[i], s); }`: a body that is right for any length of `v`, and
    /// reads each element of `v` before and after writing it.
    fn part_writer(&mut self, name: &str, params: Vec<Param>) -> Func {
        let v = || E::Index("v".into(), I::Var("i".into()));
        let w = || E::Index("w".into(), I::Var("i".into()));
        let s = || E::Var("s".into());
        let bin = |op, a, b| E::Bin(op, Box::new(a), Box::new(b));
        let step = match self.rng.below(2) {
            0 => E::M1(
                "tanh",
                Box::new(bin('+', bin('*', s(), E::Lit(0.5)), bin('*', v(), w()))),
            ),
            _ => bin('+', s(), bin('*', v(), E::M1("sin", Box::new(w())))),
        };
        let new = match self.rng.below(3) {
            0 => bin('*', v(), E::M1("cos", Box::new(s()))),
            1 => bin('+', bin('*', v(), E::Lit(0.5)), bin('*', s(), w())),
            _ => E::M1("tanh", Box::new(bin('+', v(), s()))),
        };
        let body = running_over_v(vec![
            S::Assign {
                name: "s".into(),
                op: None,
                value: step,
            },
            S::Write {
                name: "v".into(),
                idx: I::Var("i".into()),
                op: None,
                value: new,
            },
        ]);
        helper_func(name, params, body, Ret::Unit)
    }

    /// `let mut s = k; for i in 0..v.len() { s = combine(s, v[i]); } s`: a
    /// body that is right for any length of `v`.
    fn part_reader(&mut self, name: &str, params: Vec<Param>) -> Func {
        // With a second slice, `v[i] * w[i]` where the one would read `v[i]`.
        let element = match params.len() {
            3 => E::Bin(
                '*',
                Box::new(E::Index("v".into(), I::Var("i".into()))),
                Box::new(E::Index("w".into(), I::Var("i".into()))),
            ),
            _ => E::Index("v".into(), I::Var("i".into())),
        };
        let s = || E::Var("s".into());
        let step = match self.rng.below(3) {
            0 => E::Bin(
                '+',
                Box::new(s()),
                Box::new(E::Bin('*', Box::new(element.clone()), Box::new(element))),
            ),
            1 => E::M1(
                "tanh",
                Box::new(E::Bin(
                    '+',
                    Box::new(E::Bin('*', Box::new(s()), Box::new(E::Lit(0.5)))),
                    Box::new(element),
                )),
            ),
            _ => E::Bin(
                '+',
                Box::new(s()),
                Box::new(E::Bin(
                    '*',
                    Box::new(element),
                    Box::new(E::M1("sin", Box::new(s()))),
                )),
            ),
        };
        let body = running_over_v(vec![S::Assign {
            name: "s".into(),
            op: None,
            value: step,
        }]);
        helper_func(name, params, body, Ret::Scalar(s()))
    }

    fn main(&mut self) -> Func {
        let mut params = Vec::new();
        let scalar_names = [
            ["x", "y", "z"],
            ["x0", "x1", "x2"],
            ["dx", "tape", "grad"],
            ["p", "q", "r"],
        ];
        let names = *self.rng.pick(&scalar_names);
        for name in names.iter().take(1 + self.rng.below(3)) {
            params.push(Param {
                name: name.to_string(),
                ty: PTy::Scalar,
            });
        }
        if self.rng.chance(0.5) {
            params.push(Param {
                name: "s".into(),
                ty: PTy::Slice,
            });
        }
        if self.rng.chance(0.3) {
            params.push(Param {
                name: "data".into(),
                ty: PTy::Data,
            });
        }
        if self.rng.chance(0.15) {
            params.push(Param {
                name: "w".into(),
                ty: PTy::Array,
            });
        }
        if self.rng.chance(0.08) {
            params.push(Param {
                name: "wr".into(),
                ty: PTy::ArrayRef,
            });
        }
        if self.rng.chance(0.08) {
            params.push(Param {
                name: "vr".into(),
                ty: PTy::VecRef,
            });
        }
        if self.rng.chance(0.15) {
            params.push(Param {
                name: "perm".into(),
                ty: PTy::IntList,
            });
        }
        if self.rng.chance(0.3) {
            params.push(Param {
                name: "n".into(),
                ty: PTy::Int,
            });
        }
        if self.rng.chance(0.15) {
            params.push(Param {
                name: "m".into(),
                ty: PTy::MutSlice,
            });
        }
        if self.rng.chance(0.1) {
            params.push(Param {
                name: "state".into(),
                ty: PTy::MutScalar,
            });
        }
        if self.rng.chance(0.1) {
            params.push(Param {
                name: "scale".into(),
                ty: PTy::RefScalar,
            });
        }
        if self.method {
            // A method here takes floats, a slice and a count besides `&self`.
            params.retain(|p| matches!(p.ty, PTy::Scalar | PTy::Slice | PTy::Int));
        }
        let wrt =
            !self.method && (params.iter().any(|p| p.ty == PTy::Data) || self.rng.chance(0.05));
        self.reset(&params);
        if self.method {
            // Read only; `local` keeps `self.w.len()` out of ranges, where
            // the macro would take the field for data.
            self.scope.arrays.push(Arr {
                name: "self.w".into(),
                local: true,
                by_ref: true,
                writable: false,
            });
            self.scope.scalars.push(("self.b".into(), false));
        }
        let has_mut = params
            .iter()
            .any(|p| matches!(p.ty, PTy::MutSlice | PTy::MutScalar));
        let ret_kind = if has_mut && self.rng.chance(0.3) {
            0
        } else if !has_mut && !self.method && self.rng.chance(0.1) {
            2
        } else {
            1
        };
        self.can_return = ret_kind == 1;
        self.budget = 3 + self.rng.below(8);
        let mut body = self.body();
        // Every `&mut` parameter is written at least once.
        for p in &params {
            match p.ty {
                PTy::MutSlice => {
                    let idx = I::Lit(self.rng.below(self.len));
                    let value = self.expr(1);
                    body.push(S::Write {
                        name: p.name.clone(),
                        idx,
                        op: Some('+'),
                        value,
                    });
                }
                PTy::MutScalar => {
                    let value = self.expr(1);
                    body.push(S::AssignDeref {
                        name: p.name.clone(),
                        op: Some('*'),
                        value,
                    });
                }
                _ => {}
            }
        }
        let ret = match ret_kind {
            0 => Ret::Unit,
            1 if self.method => {
                // Both fields read as floats, so both have a gradient.
                let fields = E::Bin(
                    '+',
                    Box::new(E::Bin(
                        '*',
                        Box::new(E::Lit(0.5)),
                        Box::new(E::Var("self.b".into())),
                    )),
                    Box::new(E::Index("self.w".into(), I::Lit(0))),
                );
                Ret::Scalar(E::Bin('+', Box::new(self.tail()), Box::new(fields)))
            }
            1 => Ret::Scalar(self.tail()),
            _ if self.rng.chance(0.5) => Ret::Pair(self.tail(), self.tail()),
            _ => Ret::Array(self.tail(), self.tail()),
        };
        Func {
            name: "f".into(),
            params,
            body,
            ret,
            wrt,
            checkpoint: None,
            pairs: Pairs::Tuple,
            inline: false,
            plain: false,
        }
    }

    /// A result that depends on several of the values computed so far.
    fn tail(&mut self) -> E {
        let mut e = self.expr(1);
        let vars: Vec<String> = self.scope.scalars.iter().map(|(n, _)| n.clone()).collect();
        for _ in 0..2 {
            if vars.is_empty() {
                break;
            }
            let v = E::Var(self.rng.pick(&vars).clone());
            let k = self.lit();
            e = E::Bin(
                '+',
                Box::new(e),
                Box::new(E::Bin('*', Box::new(E::Lit(k)), Box::new(v))),
            );
        }
        if let Some(arr) = self.readable_array() {
            let idx = I::Lit(self.rng.below(self.len));
            e = E::Bin('+', Box::new(e), Box::new(E::Index(arr, idx)));
        }
        e
    }

    fn fresh(&mut self) -> String {
        for _ in 0..4 {
            let name = self.rng.pick(NAMES).to_string();
            if !self.used.contains(&name) {
                self.used.push(name.clone());
                return name;
            }
        }
        let name = format!("v{}", self.used.len());
        self.used.push(name.clone());
        name
    }

    fn lit(&mut self) -> f64 {
        *self
            .rng
            .pick(&[0.5, 2.0, 1.5, 0.25, 3.0, 0.1, 1.0, 0.75, 1.25])
    }

    fn maybe_op(&mut self) -> Option<char> {
        *self
            .rng
            .pick(&[None, Some('+'), Some('+'), Some('-'), Some('*')])
    }

    /// A function's body: statements until the budget is spent, with the
    /// locals left in scope for the result.
    fn body(&mut self) -> Vec<S> {
        let mut out = Vec::new();
        while self.budget > 0 {
            self.budget -= 1;
            self.stmt(&mut out);
        }
        out
    }

    fn block(&mut self) -> Vec<S> {
        let mark = self.scope.clone();
        let mut out = Vec::new();
        let n = 1 + self.rng.below(3);
        for _ in 0..n {
            if self.budget == 0 {
                break;
            }
            self.budget -= 1;
            self.stmt(&mut out);
        }
        self.scope = mark;
        out
    }

    /// Binds a float: a shadowing `let` hides the old binding, mutable or not.
    /// `let v = &a[lo..hi];` and a local computed from it: elements by
    /// index, its length, and a helper given it whole (one that reads any
    /// length, `PartRead`). Read only in that statement, so the array may be
    /// written after it.
    fn view_and_read(&mut self, out: &mut Vec<S>) {
        let array = self.rng.pick(&self.scope.arrays).name.clone();
        if self.rng.chance(0.3) {
            return self.chunks_and_read(out, array);
        }
        let view = self.fresh();
        let lo = self.rng.below(self.len);
        let hi = lo + 1 + self.rng.below(self.len - lo);
        let inclusive = self.rng.chance(0.3);
        out.push(S::View {
            name: view.clone(),
            array,
            lo,
            hi,
            inclusive,
        });
        let n = hi - lo;
        let first = E::Index(view.clone(), I::Lit(self.rng.below(n)));
        let last = E::Index(view.clone(), I::Lit(n - 1));
        let mut value = E::Bin(
            '+',
            Box::new(E::Bin('*', Box::new(first), Box::new(self.expr(1)))),
            Box::new(E::Bin(
                '*',
                Box::new(E::IntF(I::Len(view.clone()))),
                Box::new(last),
            )),
        );
        if let Some(h) = self.pick_part_reader() {
            let arg = E::Index(view.clone(), I::Lit(0));
            let call = E::Call(h, vec![Arg::Slice(view, false), Arg::E(arg)]);
            value = E::Bin('+', Box::new(value), Box::new(call));
        }
        self.bind_fresh(out, value);
    }

    /// A helper that reads a part of any length (`PartRead`), picked, where
    /// there is one and this is not a helper's body.
    fn pick_part_reader(&mut self) -> Option<String> {
        let takes_slice = self
            .helpers
            .iter()
            .filter(|h| h.kind == HelperKind::PartRead)
            .map(|h| h.name.clone())
            .collect::<Vec<_>>();
        (!takes_slice.is_empty() && !self.in_helper).then(|| self.rng.pick(&takes_slice).clone())
    }

    /// `let v = value;`, a fresh local.
    fn bind_fresh(&mut self, out: &mut Vec<S>, value: E) {
        let name = self.fresh();
        self.declare_scalar(&name, false);
        out.push(S::Let {
            name,
            mutable: false,
            annot: false,
            value,
        });
    }

    /// `let rows: Vec<_> = a.chunks(size).collect();` and a local computed
    /// from it: an element of a chunk (`rows[r][c]`), the number of chunks,
    /// and a helper given a chunk (`rows[r]` or `&rows[r]`). The last chunk
    /// of `chunks` may be short; `chunks_exact` leaves the rest out.
    fn chunks_and_read(&mut self, out: &mut Vec<S>, array: String) {
        let name = self.fresh();
        let size = 1 + self.rng.below(self.len);
        let exact = self.rng.chance(0.5);
        out.push(S::Chunks {
            name: name.clone(),
            array,
            size,
            exact,
        });
        let count = if exact {
            self.len / size
        } else {
            self.len.div_ceil(size)
        };
        let chunk_len = |r: usize| size.min(self.len - r * size);
        let r = self.rng.below(count);
        let element = E::Index(format!("{name}[{r}]"), I::Lit(self.rng.below(chunk_len(r))));
        let mut value = E::Bin(
            '+',
            Box::new(E::Bin('*', Box::new(element), Box::new(self.expr(1)))),
            Box::new(E::IntF(I::Len(name.clone()))),
        );
        if let Some(h) = self.pick_part_reader() {
            let r = self.rng.below(count);
            let arg = E::Index(format!("{name}[{r}]"), I::Lit(0));
            let borrowed = self.rng.chance(0.5);
            let chunk = Arg::Slice(format!("{name}[{r}]"), borrowed);
            let call = E::Call(h, vec![chunk, Arg::E(arg)]);
            value = E::Bin('+', Box::new(value), Box::new(call));
        }
        self.bind_fresh(out, value);
    }

    /// `for row in a.chunks_mut(size) { row[col] op= value; }`: a write
    /// into each chunk (`chunks_exact_mut`, `enumerate()`d too), the value
    /// perhaps reading another element of the chunk and the chunk's index.
    /// The value reads no array the loop borrows.
    fn chunk_write(&mut self, out: &mut Vec<S>, array: String) {
        let size = 1 + self.rng.below(self.len);
        let exact = self.rng.chance(0.5);
        // The shortest chunk: the last of `chunks_mut` may be short.
        let shortest = match self.len % size {
            0 => size,
            _ if exact => size,
            rest => rest,
        };
        let col = self.rng.below(shortest);
        let var = self.fresh();
        let index = self.rng.chance(0.4).then(|| self.fresh());
        let op = self.maybe_op();
        let arrays = self.scope.arrays.clone();
        self.scope.arrays.retain(|a| a.name != array);
        let mut value = if op == Some('*') {
            self.squash_expr()
        } else {
            self.expr(1)
        };
        self.scope.arrays = arrays;
        if op != Some('*') {
            if let Some(i) = &index {
                let scaled = E::Bin(
                    '*',
                    Box::new(E::IntF(I::Var(i.clone()))),
                    Box::new(E::Lit(0.25)),
                );
                value = E::Bin('+', Box::new(value), Box::new(scaled));
            }
            if self.rng.chance(0.5) {
                let other = E::Index(var.clone(), I::Lit(self.rng.below(shortest)));
                value = E::Bin('+', Box::new(value), Box::new(other));
            }
        }
        out.push(S::ChunkWrite {
            var,
            index,
            array,
            size,
            exact,
            col,
            op,
            value,
        });
    }

    /// `let mut m = a[e]; for i in lo..LEN { m = m.max(a[i]); }` (or `min`,
    /// or `if a[i] > m { m = a[i]; }`), forwards or backwards, or `let m =
    /// a.iter().copied().fold(NEG_INFINITY, max);`: the running extremum the
    /// macro keeps as an index.
    fn running_extremum(&mut self, out: &mut Vec<S>) {
        let array = self.rng.pick(&self.scope.arrays).name.clone();
        let name = self.fresh();
        if self.rng.chance(0.3) {
            // `let m = a.iter().copied().fold(NEG_INFINITY, max);`, whole.
            out.push(S::Let {
                name: name.clone(),
                mutable: false,
                annot: false,
                value: E::Chain(Box::new(Chain::FoldMax { slice: array })),
            });
            self.declare_scalar(&name, false);
            return;
        }
        if self.rng.chance(0.3) {
            self.computed_extremum(out, array, name);
            return;
        }
        let var = format!("i{}", self.counters);
        self.counters += 1;
        let start = self.rng.below(self.len);
        out.push(S::Let {
            name: name.clone(),
            mutable: true,
            annot: false,
            value: E::Index(array.clone(), I::Lit(start)),
        });
        let element = E::Index(array, I::Var(var.clone()));
        let (method, order) = match self.rng.below(2) {
            0 => ("max", ">"),
            _ => ("min", "<"),
        };
        let update = match self.rng.below(3) {
            0 => S::Assign {
                name: name.clone(),
                op: None,
                value: E::M2(method, Box::new(E::Var(name.clone())), Box::new(element)),
            },
            1 => S::Assign {
                name: name.clone(),
                op: None,
                value: E::M2(method, Box::new(element), Box::new(E::Var(name.clone()))),
            },
            _ => S::If {
                cond: C::Cmp(order, element.clone(), E::Var(name.clone())),
                then: vec![S::Assign {
                    name: name.clone(),
                    op: None,
                    value: element,
                }],
                els: None,
            },
        };
        out.push(self.loop_to_len(var, true, vec![update]));
        self.declare_scalar(&name, true);
    }

    /// `let mut s = e; for i in lo..LEN { s += e1; w[i] = e2; }` (or `-=`,
    /// `w[i] +=`, `w[LEN - 1 - i]`, forwards or backwards), `e2` perhaps
    /// reading the running sum: the loops whose reverse may run first to
    /// last, and the running sum read in the body, whose reverse may not.
    fn elementwise_loop(&mut self, out: &mut Vec<S>) {
        let sum = self.fresh();
        let start = self.expr(1);
        out.push(S::Let {
            name: sum.clone(),
            mutable: true,
            annot: false,
            value: start,
        });
        let var = format!("i{}", self.counters);
        self.counters += 1;
        // The body's expressions first: a buffer of its own is then written
        // only where the loop's variable says.
        let mark = self.scope.clone();
        self.scope.ints.push((var.clone(), true));
        let term = self.expr(2);
        let mut value = self.expr(2);
        if self.rng.chance(0.4) {
            let read = E::Var(sum.clone());
            value = E::Bin('*', Box::new(self.squash(read)), Box::new(value));
        }
        self.scope = mark;
        let writable = self.writable_arrays();
        let array = match writable.is_empty() || self.rng.chance(0.5) {
            // `let mut w = vec![0.0; LEN];`
            true => {
                let name = self.fresh();
                out.push(S::Buf {
                    name: name.clone(),
                    vec: true,
                    annot: false,
                    init: BufInit::Zeros(None),
                });
                self.scope.arrays.push(Arr {
                    name: name.clone(),
                    local: true,
                    by_ref: true,
                    writable: true,
                });
                name
            }
            false => self.rng.pick(&writable).name.clone(),
        };
        let idx = match self.rng.chance(0.3) {
            true => I::Mirror(Box::new(I::Var(var.clone())), self.len),
            false => I::Var(var.clone()),
        };
        // The list written also read whole by a helper, now and then: each
        // iteration then reads what the ones before it wrote.
        let readers: Vec<String> = self
            .helpers
            .iter()
            .filter(|h| matches!(h.kind, HelperKind::PartRead | HelperKind::SliceRead))
            .map(|h| h.name.clone())
            .collect();
        if !readers.is_empty() && self.rng.chance(0.3) {
            let helper = self.rng.pick(&readers).clone();
            let by_ref = self
                .scope
                .arrays
                .iter()
                .any(|a| a.name == array && a.by_ref);
            let call = E::Call(
                helper,
                vec![Arg::Slice(array.clone(), by_ref), Arg::E(E::Lit(0.5))],
            );
            value = E::Bin('+', Box::new(value), Box::new(call));
        }
        let op = *self.rng.pick(&[None, Some('+')]);
        let body = vec![
            S::Assign {
                name: sum.clone(),
                op: Some(*self.rng.pick(&['+', '-'])),
                value: term,
            },
            S::Write {
                name: array,
                idx,
                op,
                value,
            },
        ];
        out.push(self.loop_to_len(var, true, body));
        self.declare_scalar(&sum, true);
    }

    /// `let mut m = -2.0; for i in lo..LEN { m = m.max(3.0 * squash(a[i] * e)); }`
    /// (or `min` from 2.0): a running extremum of computed values, which the
    /// macro keeps as the iteration chosen and computes once more; the start
    /// wins now and then. Now and then from `f64::NAN` (which the first
    /// candidate replaces) or a variable: starts that may be `NaN`, which
    /// the macro updates by `max` itself.
    fn computed_extremum(&mut self, out: &mut Vec<S>, array: String, name: String) {
        let var = format!("i{}", self.counters);
        self.counters += 1;
        let (method, start) = match self.rng.below(2) {
            0 => ("max", -2.0),
            _ => ("min", 2.0),
        };
        let start = match self.rng.below(6) {
            0 => E::Nan,
            1 if !self.scope.scalars.is_empty() => {
                let k = self.rng.below(self.scope.scalars.len());
                E::Var(self.scope.scalars[k].0.clone())
            }
            _ => E::Lit(start),
        };
        out.push(S::Let {
            name: name.clone(),
            mutable: true,
            annot: false,
            value: start,
        });
        let mark = self.scope.clone();
        self.scope.ints.push((var.clone(), true));
        let factor = self.expr(1);
        self.scope = mark;
        let element = E::Index(array, I::Var(var.clone()));
        let inner = self.squash(E::Bin('*', Box::new(element), Box::new(factor)));
        let value = E::Bin('*', Box::new(E::Lit(3.0)), Box::new(inner));
        let (receiver, argument) = match self.rng.chance(0.5) {
            true => (E::Var(name.clone()), value),
            false => (value, E::Var(name.clone())),
        };
        let update = S::Assign {
            name: name.clone(),
            op: None,
            value: E::M2(method, Box::new(receiver), Box::new(argument)),
        };
        out.push(self.loop_to_len(var, false, vec![update]));
        self.declare_scalar(&name, true);
    }

    /// `for var in lo..LEN { body }` (`lo` 0 or 1), reversed now and then
    /// where `reversible`.
    fn loop_to_len(&mut self, var: String, reversible: bool, body: Vec<S>) -> S {
        let lo = self.rng.below(2);
        S::For {
            label: None,
            var,
            lo,
            hi: I::Lit(self.len),
            rev: reversible && self.rng.chance(0.3),
            body,
        }
    }

    /// Runs `f` with `rng` as the generator, and gives it back.
    fn drawing_from<T>(&mut self, rng: &mut Rng, f: impl FnOnce(&mut Self) -> T) -> T {
        std::mem::swap(&mut self.rng, rng);
        let value = f(self);
        std::mem::swap(&mut self.rng, rng);
        value
    }

    /// A statement on struct locals: a new one from a literal, from the
    /// helper `call` stepping another, or copying another; or one stepped in
    /// place.
    fn struct_stmt(&mut self, call: &str, out: &mut Vec<S>) {
        let structs = self.scope.structs.clone();
        let choice = match structs.is_empty() {
            true => 0,
            false => [0, 1, 1, 2, 3][self.rng.below(5)],
        };
        if choice == 1 {
            let name = self.rng.pick(&structs).clone();
            let k = self.expr(1);
            out.push(S::StepStruct {
                name,
                call: call.to_string(),
                k,
            });
            return;
        }
        let init = match choice {
            0 => StructInit::Lit(self.expr(1), self.expr(1)),
            2 => StructInit::Call {
                call: call.to_string(),
                source: self.rng.pick(&structs).clone(),
                k: self.expr(1),
            },
            _ => StructInit::Copy(self.rng.pick(&structs).clone()),
        };
        // Half the steps bind their source's name again (`let mut st0 =
        // hs(st0, k);`): the old value's uses end there.
        let shadowing = match &init {
            StructInit::Call { source, .. } if self.rng.chance(0.5) => Some(source.clone()),
            _ => None,
        };
        let name = shadowing.unwrap_or_else(|| {
            self.counters += 1;
            format!("st{}", self.counters - 1)
        });
        for field in ["a", "b"] {
            self.declare_scalar(&format!("{name}.{field}"), false);
        }
        self.scope.structs.retain(|st| *st != name);
        self.scope.structs.push(name.clone());
        out.push(S::LetStruct { name, init });
    }

    fn declare_scalar(&mut self, name: &str, mutable: bool) {
        self.scope.scalars.retain(|(n, _)| n != name);
        self.scope.scalars.push((name.to_string(), mutable));
    }

    /// The slice and array parameters (not local buffers), by name.
    fn param_arrays(&self) -> Vec<String> {
        self.scope
            .arrays
            .iter()
            .filter(|a| !a.local)
            .map(|a| a.name.clone())
            .collect()
    }

    fn mutable_scalars(&self) -> Vec<String> {
        self.scope
            .scalars
            .iter()
            .filter(|(_, m)| *m)
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn writable_arrays(&self) -> Vec<Arr> {
        self.scope
            .arrays
            .iter()
            .filter(|a| a.writable)
            .cloned()
            .collect()
    }

    fn readable_array(&mut self) -> Option<String> {
        if self.scope.arrays.is_empty() {
            return None;
        }
        let names: Vec<String> = self.scope.arrays.iter().map(|a| a.name.clone()).collect();
        Some(self.rng.pick(&names).clone())
    }

    /// An index below the length.
    fn index(&mut self) -> I {
        let direct: Vec<String> = self
            .scope
            .ints
            .iter()
            .filter(|(_, d)| *d)
            .map(|(n, _)| n.clone())
            .collect();
        let any: Vec<String> = self.scope.ints.iter().map(|(n, _)| n.clone()).collect();
        match self.rng.below(4) {
            0 | 1 if !direct.is_empty() => I::Var(self.rng.pick(&direct).clone()),
            2 if !any.is_empty() => {
                let v = self.rng.pick(&any).clone();
                I::AddMod(Box::new(I::Var(v)), self.rng.below(self.len), self.len)
            }
            3 if !self.scope.lists.is_empty() => {
                let list = self.rng.pick(&self.scope.lists).clone();
                I::ListRead(list, Box::new(I::Lit(self.rng.below(self.len))))
            }
            _ => I::Lit(self.rng.below(self.len)),
        }
    }

    fn stmt(&mut self, out: &mut Vec<S>) {
        if !self.in_helper {
            if let Some((call, mut rng)) = self.step.take() {
                let chosen = rng.chance(0.3);
                if chosen {
                    self.drawing_from(&mut rng, |g| g.struct_stmt(&call, out));
                }
                self.step = Some((call, rng));
                if chosen {
                    return;
                }
            }
        }
        let in_loop = !self.loops.is_empty();
        let nested = self.depth < 2;
        loop {
            match self.rng.below(32) {
                0..=3 if self.rng.chance(0.15) && !self.scope.arrays.is_empty() => {
                    self.view_and_read(out);
                }
                0..=3 if self.rng.chance(0.1) && !self.scope.arrays.is_empty() => {
                    self.running_extremum(out);
                }
                0..=3 if self.rng.chance(0.12) && !self.in_helper => {
                    self.elementwise_loop(out);
                }
                0..=3 if self.rng.chance(0.08) => {
                    // `let v; if c { v = a; } else { v = b; }`.
                    let (cond, then, els) = (self.cond(), self.expr(2), self.expr(2));
                    let name = self.fresh();
                    self.declare_scalar(&name, false);
                    out.push(S::Deferred {
                        name,
                        cond,
                        then,
                        els,
                    });
                }
                0..=3 => {
                    let value = self.expr(2);
                    // Shadowing, of anything but a field (`self.b`).
                    let names: Vec<String> = self
                        .scope
                        .scalars
                        .iter()
                        .map(|(n, _)| n.clone())
                        .filter(|n| !n.contains('.'))
                        .collect();
                    let name = if self.rng.chance(0.2) && !names.is_empty() {
                        self.rng.pick(&names).clone()
                    } else {
                        self.fresh()
                    };
                    let mutable = self.rng.chance(0.5);
                    let annot = self.rng.chance(0.2);
                    self.declare_scalar(&name, mutable);
                    out.push(S::Let {
                        name,
                        mutable,
                        annot,
                        value,
                    });
                }
                4..=6 => {
                    let targets = self.mutable_scalars();
                    if targets.is_empty() {
                        continue;
                    }
                    let name = self.rng.pick(&targets).clone();
                    let op = self.maybe_op();
                    let value = if op == Some('*') {
                        self.squash_expr()
                    } else {
                        self.expr(2)
                    };
                    out.push(S::Assign { name, op, value });
                }
                7 => {
                    if self.scope.arrays.iter().filter(|a| a.local).count() >= 2 {
                        continue;
                    }
                    let vec = self.rng.chance(0.5);
                    let annot = self.rng.chance(0.3);
                    let params: Vec<String> = self.param_arrays();
                    let init = match self.rng.below(5) {
                        0 if vec && !params.is_empty() => {
                            BufInit::Zeros(Some(self.rng.pick(&params).clone()))
                        }
                        1 if !self.in_helper => {
                            BufInit::Elems((0..self.len).map(|_| self.expr(1)).collect())
                        }
                        2 if vec && !params.is_empty() => {
                            BufInit::Copy(self.rng.pick(&params).clone())
                        }
                        3 if vec && !params.is_empty() && !self.in_helper => {
                            let slice = self.rng.pick(&params).clone();
                            let var = self.fresh();
                            self.scope.scalars.push((var.clone(), false));
                            let body = self.expr(1);
                            self.scope.scalars.pop();
                            BufInit::Collect { slice, var, body }
                        }
                        4 if !vec && !self.in_helper => BufInit::Chosen {
                            cond: self.cond(),
                            then: (0..self.len).map(|_| self.expr(1)).collect(),
                            els: (0..self.len).map(|_| self.expr(1)).collect(),
                        },
                        _ => BufInit::Zeros(None),
                    };
                    // A copy may take its source's name (`let x = x.to_vec();`),
                    // which the buffer's filling must not read.
                    let name = match &init {
                        BufInit::Copy(source) | BufInit::Collect { slice: source, .. }
                            if self.rng.chance(0.5) =>
                        {
                            source.clone()
                        }
                        _ => self.fresh(),
                    };
                    // `collect` needs the annotation.
                    let annot = annot || matches!(init, BufInit::Collect { .. });
                    // A parameter the buffer hides is no longer in scope.
                    self.scope.arrays.retain(|a| a.name != name);
                    self.scope.arrays.push(Arr {
                        name: name.clone(),
                        local: true,
                        by_ref: true,
                        writable: true,
                    });
                    out.push(S::Buf {
                        name,
                        vec,
                        annot,
                        init,
                    });
                }
                8..=9 => {
                    let arrays = self.writable_arrays();
                    if arrays.is_empty() {
                        continue;
                    }
                    let arr = self.rng.pick(&arrays).name.clone();
                    if self.rng.chance(0.2) {
                        self.chunk_write(out, arr);
                        continue;
                    }
                    let idx = self.index();
                    let op = self.maybe_op();
                    let value = if op == Some('*') {
                        self.squash_expr()
                    } else {
                        self.expr(2)
                    };
                    out.push(S::Write {
                        name: arr,
                        idx,
                        op,
                        value,
                    });
                }
                10..=11 if nested => {
                    let cond = self.cond();
                    self.depth += 1;
                    let mut then = self.block();
                    if in_loop && self.rng.chance(0.4) {
                        then.push(self.exit());
                    } else if self.can_return && self.rng.chance(0.15) {
                        let e = self.expr(1);
                        then.push(S::Return(e));
                    }
                    let els = if self.rng.chance(0.5) {
                        Some(self.block())
                    } else {
                        None
                    };
                    self.depth -= 1;
                    out.push(S::If { cond, then, els });
                }
                12..=13 if nested && self.loops.len() < 2 => {
                    let var = format!("i{}", self.counters);
                    self.counters += 1;
                    let label = if self.rng.chance(0.2) {
                        self.labels += 1;
                        Some(format!("'l{}", self.labels))
                    } else {
                        None
                    };
                    let params: Vec<String> = self.param_arrays();
                    let (hi, direct) = match self.rng.below(4) {
                        0 if !params.is_empty() => (I::Len(self.rng.pick(&params).clone()), true),
                        1 => (I::Lit(2), false),
                        _ => (I::Lit(self.len), true),
                    };
                    let lo = if self.rng.chance(0.2) { 1 } else { 0 };
                    let rev = self.rng.chance(0.2);
                    let body = self.loop_body(label.clone(), Some((var.clone(), direct)));
                    out.push(S::For {
                        label,
                        var,
                        lo,
                        hi,
                        rev,
                        body,
                    });
                }
                14 if nested && self.loops.len() < 2 => {
                    let Some(slice) = self.readable_array() else {
                        continue;
                    };
                    let var = self.fresh();
                    let index = if self.rng.chance(0.3) {
                        let i = format!("i{}", self.counters);
                        self.counters += 1;
                        Some(i)
                    } else {
                        None
                    };
                    let by_ref = self.rng.chance(0.7);
                    let list = match self.scope.lists.is_empty() || !self.rng.chance(0.3) {
                        true => None,
                        false => {
                            let r = self.rng.pick(&self.scope.lists).clone();
                            let j = format!("j{}", self.counters);
                            self.counters += 1;
                            Some((r, j))
                        }
                    };
                    let mark = self.scope.clone();
                    if let Some((_, j)) = &list {
                        // The loop borrows the list: not written, nor read
                        // otherwise, inside. Its elements index directly.
                        self.scope.lists.clear();
                        self.scope.ints.push((j.clone(), true));
                    }
                    // The loop borrows the slice: no writes to it inside.
                    for a in &mut self.scope.arrays {
                        if a.name == slice {
                            a.writable = false;
                        }
                    }
                    self.scope.scalars.push((var.clone(), false));
                    if let Some(i) = &index {
                        self.scope.ints.push((i.clone(), true));
                    }
                    let body = self.loop_body(None, None);
                    self.scope = mark;
                    out.push(S::ForEach {
                        var,
                        index,
                        slice,
                        by_ref,
                        list,
                        body,
                    });
                }
                15 if nested && self.loops.len() < 2 => {
                    let counter = format!("k{}", self.counters);
                    self.counters += 1;
                    let limit = 1 + self.rng.below(3);
                    let body = self.loop_body(None, Some((counter.clone(), false)));
                    if self.rng.chance(0.5) {
                        out.push(S::While {
                            counter,
                            limit,
                            body,
                        });
                    } else {
                        out.push(S::Loop {
                            counter,
                            limit,
                            body,
                        });
                    }
                }
                16 if nested && self.rng.chance(0.4) => {
                    // A match on a float, as a piecewise function: guards
                    // on the bound value, then a catch-all that binds it.
                    let scrut = self.expr(1);
                    let var = self.fresh();
                    self.depth += 1;
                    let mut arms = Vec::new();
                    let second = self.rng.chance(0.5).then_some('>');
                    let guards = [Some('<')]
                        .into_iter()
                        .chain(second.map(Some))
                        .chain([None]);
                    for guard in guards {
                        let Some(op) = guard else {
                            self.scope.scalars.push((var.clone(), false));
                            arms.push((None, self.block()));
                            self.scope.scalars.pop();
                            continue;
                        };
                        let c = *self.rng.pick(&[-0.5, 0.0, 0.25, 1.0]);
                        self.scope.scalars.push((var.clone(), false));
                        arms.push((Some((op, c)), self.block()));
                        self.scope.scalars.pop();
                    }
                    self.depth -= 1;
                    out.push(S::FloatMatch { scrut, var, arms });
                }
                16 if nested => {
                    let ints: Vec<String> =
                        self.scope.ints.iter().map(|(n, _)| n.clone()).collect();
                    let scrut = if ints.is_empty() {
                        continue;
                    } else {
                        I::AddMod(Box::new(I::Var(self.rng.pick(&ints).clone())), 0, 3)
                    };
                    self.depth += 1;
                    let patterns: [&str; 3] = *self.rng.pick(&[
                        ["0", "1 | 2", "_"],
                        ["0..=1", "big if big > 1", "_"],
                        ["2", "1", "_"],
                        // Guards that divide by zero if run out of turn: after
                        // an arm that failed, or before their own pattern.
                        ["0", "big if 6 / big > 2", "_"],
                        ["big @ 1..=2 if 6 / big > 2", "0", "_"],
                    ]);
                    let arms = patterns
                        .iter()
                        .map(|p| (p.to_string(), self.block()))
                        .collect();
                    self.depth -= 1;
                    out.push(S::Match { scrut, arms });
                }
                17 => {
                    let e = self.expr(1);
                    out.push(S::Discard(e));
                }
                18..=19 if !self.helpers.is_empty() && !self.in_helper => {
                    let h = self.rng.pick(&self.helpers.clone()).clone();
                    match h.kind {
                        HelperKind::SliceWrite => {
                            let arrays = self.writable_arrays();
                            if arrays.is_empty() {
                                continue;
                            }
                            let arr = self.rng.pick(&arrays).clone();
                            let k = self.expr_without(1, &arr.name);
                            out.push(S::CallStmt(
                                h.name,
                                vec![Arg::MutSlice(arr.name, arr.by_ref), Arg::E(k)],
                            ));
                        }
                        HelperKind::PartWrite => {
                            let arrays = self.writable_arrays();
                            if arrays.is_empty() {
                                continue;
                            }
                            let arr = self.rng.pick(&arrays).clone();
                            let others: Vec<String> = self
                                .scope
                                .arrays
                                .iter()
                                .filter(|a| a.name != arr.name)
                                .map(|a| a.name.clone())
                                .collect();
                            if others.is_empty() {
                                continue;
                            }
                            let read = self.rng.pick(&others).clone();
                            let n = 1 + self.rng.below(self.len);
                            let (lo_v, lo_w) = (
                                self.rng.below(self.len - n + 1),
                                self.rng.below(self.len - n + 1),
                            );
                            let k = self.expr_without(1, &arr.name);
                            out.push(S::CallStmt(
                                h.name,
                                vec![
                                    Arg::MutPart(arr.name, lo_v, lo_v + n),
                                    Arg::Part(read, lo_w, lo_w + n),
                                    Arg::E(k),
                                ],
                            ));
                        }
                        HelperKind::MutScalar => {
                            let targets = self.mutable_scalars();
                            if targets.is_empty() {
                                continue;
                            }
                            let t = self.rng.pick(&targets).clone();
                            let k = self.expr_without(1, &t);
                            out.push(S::CallStmt(h.name, vec![Arg::MutScalar(t), Arg::E(k)]));
                        }
                        HelperKind::Pair => {
                            let names = [self.fresh(), self.fresh()];
                            let args = vec![Arg::E(self.expr(1)), Arg::E(self.expr(1))];
                            for n in &names {
                                self.scope.scalars.push((n.clone(), false));
                            }
                            out.push(S::LetPair {
                                names,
                                call: h.name,
                                args,
                            });
                        }
                        _ => continue,
                    }
                }
                20 => {
                    let Some(arr) = self.readable_array() else {
                        continue;
                    };
                    let name = format!("j{}", self.counters);
                    self.counters += 1;
                    let value = match self.rng.below(2) {
                        0 => I::Len(arr),
                        _ => self.index(),
                    };
                    let direct = !matches!(value, I::Len(_));
                    self.scope.ints.push((name.clone(), direct));
                    out.push(S::IntLet { name, value });
                }
                22 if !self.scope.tuples.is_empty() && self.rng.chance(0.3) => {
                    // A tuple local assigned whole, its new elements read
                    // from its old ones.
                    let name = self.rng.pick(&self.scope.tuples.clone()).clone();
                    let values = [self.expr(1), self.expr(1)];
                    out.push(S::AssignTuple { name, values });
                }
                22 if self.rng.chance(0.5) => {
                    let values = [self.expr(1), self.expr(1)];
                    let name = self.fresh();
                    for k in 0..2 {
                        self.declare_scalar(&format!("{name}.{k}"), true);
                    }
                    self.scope.tuples.push(name.clone());
                    out.push(S::LetTupleLocal { name, values });
                }
                22 => {
                    let values = [self.expr(1), self.expr(1)];
                    let names = [self.fresh(), self.fresh()];
                    for n in &names {
                        self.declare_scalar(n, false);
                    }
                    out.push(S::LetTuple { names, values });
                }
                23 => {
                    let name = self.fresh();
                    let param = self.fresh();
                    // It borrows what it captures: nothing that is written later.
                    let mark = self.scope.clone();
                    self.scope.scalars.retain(|(_, mutable)| !mutable);
                    // (Nor a struct's field: the struct is stepped whole.)
                    let structs = std::mem::take(&mut self.scope.structs);
                    self.scope.scalars.retain(|(n, _)| {
                        !structs.iter().any(|st| n.starts_with(&format!("{st}.")))
                    });
                    self.scope.arrays.retain(|a| !a.writable);
                    self.scope.refs.retain(|(_, mutable)| !mutable);
                    // Lists of indices are rewritten later.
                    self.scope.lists.clear();
                    self.scope.scalars.push((param.clone(), false));
                    let body = self.expr(2);
                    self.scope = mark;
                    self.scope.closures.push(name.clone());
                    out.push(S::Closure { name, param, body });
                }
                24 if !self.scope.lists.is_empty() => {
                    // Another valid index: a rotation of the list's values.
                    let name = self.rng.pick(&self.scope.lists).clone();
                    let idx = self.index();
                    let value = I::ListRead(name.clone(), Box::new(self.index()));
                    out.push(S::ListWrite { name, idx, value });
                }
                26 if nested && self.loops.len() < 2 => {
                    let var = format!("i{}", self.counters);
                    self.counters += 1;
                    let (hi, step) = (self.len - 1, 1 + self.rng.below(2));
                    let body = self.loop_body(None, Some((var.clone(), true)));
                    out.push(S::ForStep {
                        var,
                        hi,
                        step,
                        body,
                    });
                }
                27 if nested && self.loops.len() < 2 => {
                    let cond = self.simple_cond();
                    let counter = format!("k{}", self.counters);
                    self.counters += 1;
                    let limit = 1 + self.rng.below(4);
                    let body = self.loop_body(None, Some((counter.clone(), false)));
                    out.push(S::WhileFloat {
                        cond,
                        counter,
                        limit,
                        body,
                    });
                }
                28 => {
                    let value = self.expr(1);
                    let names = [self.fresh(), self.fresh()];
                    for n in &names {
                        self.declare_scalar(n, false);
                    }
                    out.push(S::SinCos { names, value });
                }
                29 => {
                    let names: Vec<String> = self
                        .mutable_scalars()
                        .into_iter()
                        .filter(|n| !n.contains('.'))
                        .collect();
                    if names.len() < 2 {
                        continue;
                    }
                    let a = self.rng.pick(&names).clone();
                    let b = self.rng.pick(&names).clone();
                    if a == b {
                        continue;
                    }
                    out.push(S::Swap(a, b));
                }
                30 => {
                    let arrays: Vec<Arr> = self
                        .writable_arrays()
                        .into_iter()
                        .filter(|a| !a.name.contains('.'))
                        .collect();
                    if arrays.is_empty() {
                        continue;
                    }
                    let name = self.rng.pick(&arrays).name.clone();
                    let var = self.fresh();
                    // The loop borrows the array: its value reads `*var`, not
                    // the array.
                    let mark = self.scope.clone();
                    self.scope.arrays.retain(|a| a.name != name);
                    let value = self.combine(E::Deref(var.clone()));
                    self.scope = mark;
                    out.push(S::IterMut { name, var, value });
                }
                31 => {
                    if self.scope.arrays.iter().filter(|a| a.local).count() >= 2 {
                        continue;
                    }
                    let name = self.fresh();
                    let counter = format!("c{}", self.counters);
                    self.counters += 1;
                    self.scope.ints.push((counter.clone(), true));
                    let value = self.expr(1);
                    self.scope.ints.pop();
                    self.scope.arrays.push(Arr {
                        name: name.clone(),
                        local: true,
                        by_ref: true,
                        writable: true,
                    });
                    out.push(S::PushBuf {
                        name,
                        counter,
                        len: self.len,
                        value,
                    });
                }
                21 if in_loop => {
                    let cond = self.cond();
                    let exit = self.exit();
                    out.push(S::If {
                        cond,
                        then: vec![exit],
                        els: None,
                    });
                }
                _ => continue,
            }
            return;
        }
    }

    fn exit(&mut self) -> S {
        let labels: Vec<String> = self.loops.iter().flatten().cloned().collect();
        let label = if !labels.is_empty() && self.rng.chance(0.5) {
            Some(self.rng.pick(&labels).clone())
        } else {
            None
        };
        if self.rng.chance(0.5) {
            S::Break(label)
        } else {
            S::Continue(label)
        }
    }

    fn loop_body(&mut self, label: Option<String>, var: Option<(String, bool)>) -> Vec<S> {
        let mark = self.scope.clone();
        if let Some(v) = var {
            self.scope.ints.push(v);
        }
        self.loops.push(label);
        self.depth += 1;
        let body = self.block();
        self.depth -= 1;
        self.loops.pop();
        self.scope = mark;
        body
    }

    fn cond(&mut self) -> C {
        match self.rng.below(8) {
            0 if !self.scope.ints.is_empty() => {
                let ints: Vec<String> = self.scope.ints.iter().map(|(n, _)| n.clone()).collect();
                let v = self.rng.pick(&ints).clone();
                let op = ["<", ">", "==", "!="][self.rng.below(4)];
                C::ICmp(op, I::Var(v), I::Lit(self.rng.below(3)))
            }
            1 => C::And(Box::new(self.simple_cond()), Box::new(self.simple_cond())),
            2 => C::Or(Box::new(self.simple_cond()), Box::new(self.simple_cond())),
            3 => C::Not(Box::new(self.simple_cond())),
            5 if self.rng.chance(0.5) => {
                let test = *self.rng.pick(&[
                    "is_sign_negative",
                    "is_sign_positive",
                    "is_finite",
                    "is_nan",
                ]);
                C::Test(test, self.expr(1))
            }
            4 if !self.in_helper => match self.chain() {
                Some(chain) => C::ChainGt(Box::new(chain), self.lit()),
                None => self.simple_cond(),
            },
            _ => self.simple_cond(),
        }
    }

    fn simple_cond(&mut self) -> C {
        let op = *self.rng.pick(&["<", ">", "<=", ">="]);
        let a = self.expr(1);
        let b = if self.rng.chance(0.5) {
            E::Lit(self.lit())
        } else {
            self.expr(1)
        };
        C::Cmp(op, a, b)
    }

    fn squash(&mut self, e: E) -> E {
        match self.rng.below(6) {
            0 => E::M1("tanh", Box::new(e)),
            1 => E::M1("sin", Box::new(e)),
            2 => E::M1("cos", Box::new(e)),
            3 => E::M1("atan", Box::new(e)),
            4 => E::Act("sigmoid", Box::new(e)),
            _ => E::M1(
                "tanh",
                Box::new(E::Bin('*', Box::new(E::Lit(0.5)), Box::new(e))),
            ),
        }
    }

    fn squash_expr(&mut self) -> E {
        let e = self.expr(1);
        self.squash(e)
    }

    /// A strictly positive expression, bounded away from zero.
    fn positive(&mut self, e: E) -> E {
        let b = Box::new(e.clone());
        match self.rng.below(7) {
            0 => E::Bin(
                '+',
                Box::new(E::Bin('*', b.clone(), b)),
                Box::new(E::Lit(0.5)),
            ),
            1 => E::M1("exp", Box::new(self.squash(e))),
            2 => E::Bin('+', Box::new(E::Lit(1.5)), Box::new(E::M1("sin", b))),
            3 => E::Bin('+', Box::new(E::M1("abs", b)), Box::new(E::Lit(0.25))),
            4 => E::M2("hypot", b, Box::new(E::Lit(1.0))),
            5 => E::Bin('+', Box::new(E::Act("softplus", b)), Box::new(E::Lit(0.1))),
            _ => E::Bin('+', Box::new(E::Powi(b, 2)), Box::new(E::Lit(1.0))),
        }
    }

    /// `old` combined with a new value, for updates that must use the old one.
    fn combine(&mut self, old: E) -> E {
        let k = if self.scope.scalars.is_empty() {
            E::Lit(self.lit())
        } else {
            self.expr(1)
        };
        match self.rng.below(3) {
            0 => E::Bin('*', Box::new(old), Box::new(self.squash(k))),
            1 => E::Bin('+', Box::new(old), Box::new(k)),
            _ => E::M1("tanh", Box::new(E::Bin('+', Box::new(old), Box::new(k)))),
        }
    }

    fn leaf(&mut self) -> E {
        loop {
            match self.rng.below(10) {
                0..=4 if !self.scope.scalars.is_empty() => {
                    let names: Vec<String> =
                        self.scope.scalars.iter().map(|(n, _)| n.clone()).collect();
                    return E::Var(self.rng.pick(&names).clone());
                }
                5 | 6 => {
                    if let Some(arr) = self.readable_array() {
                        let idx = self.index();
                        return E::Index(arr, idx);
                    }
                }
                7 if !self.scope.refs.is_empty() => {
                    let refs: Vec<String> =
                        self.scope.refs.iter().map(|(n, _)| n.clone()).collect();
                    return E::Deref(self.rng.pick(&refs).clone());
                }
                8 if !self.scope.ints.is_empty() => {
                    let ints: Vec<String> =
                        self.scope.ints.iter().map(|(n, _)| n.clone()).collect();
                    return E::IntF(I::Var(self.rng.pick(&ints).clone()));
                }
                9 => {
                    return if self.rng.chance(0.1) {
                        E::Pi
                    } else {
                        E::Lit(self.lit())
                    }
                }
                _ => {}
            }
        }
    }

    fn expr(&mut self, depth: usize) -> E {
        if depth == 0 || self.rng.chance(0.25) {
            return self.leaf();
        }
        let d = depth - 1;
        match self.rng.below(28) {
            // The model's other marked method.
            27 if self.method && !self.in_helper => {
                E::Call("self.g".into(), vec![Arg::E(self.expr(d))])
            }
            // A round trip through `f32`, in `f64` programs only: generic code
            // has no second float type, the oracle of an `f32` program would
            // round where the program does not, and a method's field in an
            // `as` cast would count as data.
            26 if self.float == Float::F64 && !self.method => E::Cast(Box::new(self.expr(d))),
            0..=2 => {
                let op = *self.rng.pick(&['+', '-', '*']);
                E::Bin(op, Box::new(self.expr(d)), Box::new(self.expr(d)))
            }
            3 => {
                let a = self.expr(d);
                let b = self.expr(d);
                E::Bin('/', Box::new(a), Box::new(self.positive(b)))
            }
            4 => E::Neg(Box::new(self.expr(d))),
            5 => {
                let m = *self.rng.pick(&[
                    "sin",
                    "cos",
                    "tanh",
                    "atan",
                    "asinh",
                    "abs",
                    "to_radians",
                    "to_degrees",
                    "signum",
                    "floor",
                    "ceil",
                    "round",
                    "trunc",
                    "fract",
                ]);
                E::M1(m, Box::new(self.expr(d)))
            }
            6 => {
                let m = *self
                    .rng
                    .pick(&["sqrt", "ln", "log2", "log10", "ln_1p", "recip", "cbrt"]);
                let e = self.expr(d);
                E::M1(m, Box::new(self.positive(e)))
            }
            7 => {
                let m = *self
                    .rng
                    .pick(&["exp", "exp2", "exp_m1", "sinh", "cosh", "tan"]);
                let e = self.squash_expr();
                E::M1(m, Box::new(e))
            }
            8 => {
                let m = *self.rng.pick(&["asin", "acos", "atanh"]);
                let e = self.expr(d);
                let inner = E::Bin(
                    '*',
                    Box::new(E::Lit(0.9)),
                    Box::new(E::M1("tanh", Box::new(e))),
                );
                E::M1(m, Box::new(inner))
            }
            9 => {
                let e = self.expr(d);
                let inner = E::Bin(
                    '+',
                    Box::new(E::Powi(Box::new(e), 2)),
                    Box::new(E::Lit(1.5)),
                );
                E::M1("acosh", Box::new(inner))
            }
            10 if !self.scope.ints.is_empty() && self.rng.chance(0.3) => {
                let ints: Vec<String> = self.scope.ints.iter().map(|(n, _)| n.clone()).collect();
                let k = I::AddMod(Box::new(I::Var(self.rng.pick(&ints).clone())), 0, 4);
                E::PowiVar(Box::new(self.expr(d)), k)
            }
            10 => E::Powi(Box::new(self.expr(d)), *self.rng.pick(&[2, 3, -1, 0, 1])),
            // A custom derivative rule (printed for `f64` programs only).
            11 if self.float == Float::F64 && self.rng.chance(0.3) => {
                E::CustomRule(Box::new(self.expr(d)))
            }
            11 => {
                let m = *self.rng.pick(&["max", "min", "atan2", "hypot"]);
                E::M2(m, Box::new(self.expr(d)), Box::new(self.expr(d)))
            }
            12 => {
                let base = self.expr(d);
                let base = self.positive(base);
                let exp = self.squash_expr();
                E::M2("powf", Box::new(base), Box::new(exp))
            }
            13 => {
                let arg = self.expr(d);
                let arg = self.positive(arg);
                E::M2(
                    "log",
                    Box::new(arg),
                    Box::new(E::Lit(*self.rng.pick(&[2.0, 3.0, 10.0]))),
                )
            }
            14 => E::MulAdd(
                Box::new(self.expr(d)),
                Box::new(self.expr(d)),
                Box::new(self.expr(d)),
            ),
            15 => E::Clamp(Box::new(self.expr(d)), -1.0, 1.25),
            16 => {
                let f = *self.rng.pick(&["sigmoid", "relu", "softplus"]);
                E::Act(f, Box::new(self.expr(d)))
            }
            17 => {
                let m = *self.rng.pick(&["sin", "cos", "tanh", "atan"]);
                E::Path1(m, Box::new(self.expr(d)))
            }
            18 => E::Branch(
                Box::new(self.cond()),
                Box::new(self.expr(d)),
                Box::new(self.expr(d)),
            ),
            19 | 20 if !self.helpers.is_empty() && !self.in_helper => self.call(d),
            19 | 20 if self.in_helper && self.nested.is_some() => match self.nested_call(d) {
                Some(call) => call,
                None => self.leaf(),
            },
            21 if !self.in_helper => match self.chain() {
                Some(c) => E::Chain(Box::new(c)),
                None => self.leaf(),
            },
            22 => {
                let t = self.fresh();
                let a = self.expr(d);
                self.scope.scalars.push((t.clone(), false));
                let b = self.expr(d);
                self.scope.scalars.pop();
                E::Block(t, Box::new(a), Box::new(b))
            }
            24 if !self.scope.closures.is_empty() => {
                let f = self.rng.pick(&self.scope.closures.clone()).clone();
                E::CallClosure(f, Box::new(self.expr(d)))
            }
            23 => {
                let a = self.expr(d);
                E::Bin(
                    '%',
                    Box::new(a),
                    Box::new(E::Lit(*self.rng.pick(&[0.7, 1.3, 2.5]))),
                )
            }
            _ => self.leaf(),
        }
    }

    /// An expression that does not read `name` (borrowed mutably beside it).
    fn expr_without(&mut self, depth: usize, name: &str) -> E {
        let e = self.expr(depth);
        if format!("{e:?}").contains(&format!("{name:?}")) {
            E::Lit(self.lit())
        } else {
            e
        }
    }

    /// In a helper, a call of a scalar helper written before it, its
    /// arguments drawn from the nested calls' generator; `None` where there
    /// is none (or that generator says not this time).
    fn nested_call(&mut self, d: usize) -> Option<E> {
        let earlier: Vec<String> = self
            .helpers
            .iter()
            .filter(|h| h.kind == HelperKind::Scalar)
            .map(|h| h.name.clone())
            .collect();
        let mut rng = self.nested.take()?;
        let call = self.drawing_from(&mut rng, |g| {
            if earlier.is_empty() || !g.rng.chance(0.6) {
                return None;
            }
            let h = g.rng.pick(&earlier).clone();
            Some(E::Call(h, vec![Arg::E(g.expr(d)), Arg::E(g.leaf())]))
        });
        self.nested = Some(rng);
        call
    }

    fn call(&mut self, d: usize) -> E {
        let helpers: Vec<Helper> = self
            .helpers
            .iter()
            .filter(|h| {
                matches!(
                    h.kind,
                    HelperKind::Scalar
                        | HelperKind::SliceRead
                        | HelperKind::Ref
                        | HelperKind::Recursive
                        | HelperKind::RecursiveSlice
                        | HelperKind::PartRead
                        | HelperKind::PartPair
                )
            })
            .cloned()
            .collect();
        if helpers.is_empty() {
            return self.leaf();
        }
        let h = self.rng.pick(&helpers).clone();
        match h.kind {
            // A quarter of the time the first argument is another helper's
            // value passed straight on (`h1(h0(a, b), c)`): forward mode
            // chains the pullbacks through it.
            HelperKind::Scalar if self.rng.chance(0.25) => {
                let inner = self.rng.pick(&helpers).clone();
                let first = match inner.kind {
                    HelperKind::Scalar => {
                        E::Call(inner.name, vec![Arg::E(self.leaf()), Arg::E(self.leaf())])
                    }
                    _ => self.expr(d),
                };
                E::Call(h.name, vec![Arg::E(first), Arg::E(self.expr(d))])
            }
            HelperKind::Scalar => E::Call(h.name, vec![Arg::E(self.expr(d)), Arg::E(self.expr(d))]),
            HelperKind::Recursive => {
                let depth = I::Lit(self.rng.below(4));
                E::Call(h.name, vec![Arg::E(self.expr(d)), Arg::Int(depth)])
            }
            HelperKind::RecursiveSlice => {
                if self.scope.arrays.is_empty() {
                    return self.leaf();
                }
                let arr = self.rng.pick(&self.scope.arrays.clone()).clone();
                let depth = I::Lit(self.rng.below(4));
                let value = self.expr(d);
                E::Call(
                    h.name,
                    vec![
                        Arg::Slice(arr.name, arr.by_ref),
                        Arg::E(value),
                        Arg::Int(depth),
                    ],
                )
            }
            HelperKind::PartRead => {
                let Some(arr) = self.readable_array() else {
                    return self.leaf();
                };
                let lo = self.rng.below(self.len);
                let hi = lo + 1 + self.rng.below(self.len - lo);
                E::Call(h.name, vec![Arg::Part(arr, lo, hi), Arg::E(self.expr(d))])
            }
            HelperKind::PartPair => {
                let (Some(a), Some(b)) = (self.readable_array(), self.readable_array()) else {
                    return self.leaf();
                };
                let n = 1 + self.rng.below(self.len);
                let (lo_a, lo_b) = (
                    self.rng.below(self.len - n + 1),
                    self.rng.below(self.len - n + 1),
                );
                E::Call(
                    h.name,
                    vec![
                        Arg::Part(a, lo_a, lo_a + n),
                        Arg::Part(b, lo_b, lo_b + n),
                        Arg::E(self.expr(d)),
                    ],
                )
            }
            HelperKind::SliceRead => {
                if self.scope.arrays.is_empty() {
                    return self.leaf();
                }
                let arr = self.rng.pick(&self.scope.arrays.clone()).clone();
                E::Call(
                    h.name,
                    vec![Arg::Slice(arr.name, arr.by_ref), Arg::E(self.expr(d))],
                )
            }
            _ => {
                if self.scope.scalars.is_empty() {
                    return self.leaf();
                }
                let names: Vec<String> =
                    self.scope.scalars.iter().map(|(n, _)| n.clone()).collect();
                E::Call(
                    h.name,
                    vec![Arg::RefScalar(E::Var(self.rng.pick(&names).clone()))],
                )
            }
        }
    }

    fn chain(&mut self) -> Option<Chain> {
        let slice = self.readable_array()?;
        let mark = self.scope.clone();
        let var = self.fresh();
        self.scope.scalars.push((var.clone(), false));
        // `Float` has no `Sum` or `Product`: generic code folds.
        let choice = if self.float == Float::Generic {
            3 + self.rng.below(2)
        } else {
            self.rng.below(5)
        };
        let chain = match choice {
            0 => {
                let a = self.fresh();
                self.scope.scalars.push((a.clone(), false));
                let body = self.expr(1);
                Chain::Windows {
                    slice,
                    a: var,
                    b: a,
                    body,
                }
            }
            1 => {
                let adapter = match self.rng.below(7) {
                    0 => Adapter::Rev,
                    1 => {
                        let i = self.fresh();
                        self.scope.ints.push((i.clone(), true));
                        Adapter::Enumerate(i)
                    }
                    2 => Adapter::Filter(*self.rng.pick(&[-0.5, 0.0, 0.5])),
                    3 => Adapter::Skip(1),
                    4 => Adapter::Copied,
                    _ => Adapter::None,
                };
                let body = self.expr(1);
                Chain::SumMap {
                    slice,
                    adapter,
                    var,
                    body,
                }
            }
            2 => {
                let other = self.readable_array()?;
                let y = self.fresh();
                self.scope.scalars.push((y.clone(), false));
                let body = self.expr(1);
                Chain::Zip {
                    a: slice,
                    b: other,
                    x: var,
                    y,
                    body,
                }
            }
            3 => {
                let acc = self.fresh();
                self.scope.scalars.push((acc.clone(), false));
                let body = self.expr(2);
                Chain::Fold {
                    slice,
                    init: self.lit(),
                    acc,
                    var,
                    body,
                }
            }
            _ => {
                if self.rng.chance(0.5) || self.float == Float::Generic {
                    Chain::FoldMax { slice }
                } else {
                    let body = self.squash_expr();
                    Chain::Product { slice, var, body }
                }
            }
        };
        self.scope = mark;
        Some(chain)
    }
}

/// A helper as the generator writes them: neither `wrt`, checkpointed,
/// inlined nor plain.
fn helper_func(name: &str, params: Vec<Param>, body: Vec<S>, ret: Ret) -> Func {
    Func {
        name: name.into(),
        params,
        body,
        ret,
        wrt: false,
        checkpoint: None,
        pairs: Pairs::Tuple,
        inline: false,
        plain: false,
    }
}

/// `let mut s = k; for i in 0..v.len() { step }`: right for any length of
/// `v`, so a helper with this body can be called on parts.
fn running_over_v(step: Vec<S>) -> Vec<S> {
    vec![
        S::Let {
            name: "s".into(),
            mutable: true,
            annot: false,
            value: E::Var("k".into()),
        },
        S::For {
            label: None,
            var: "i".into(),
            lo: 0,
            hi: I::Len("v".into()),
            rev: false,
            body: step,
        },
    ]
}

/// Whether a `return` sits anywhere but at the top of `body` or directly in
/// a branch of a top-level `if` (a guard): a plain helper must be inlined,
/// and one returning from inside a loop, a `match` or a nested block cannot.
fn returns_nested(body: &[S], depth: usize) -> bool {
    body.iter().any(|s| match s {
        S::Return(_) => depth > 1,
        S::If { then, els, .. } => {
            returns_nested(then, depth + 1)
                || els.as_deref().is_some_and(|e| returns_nested(e, depth + 1))
        }
        S::For { body, .. }
        | S::ForStep { body, .. }
        | S::WhileFloat { body, .. }
        | S::ForEach { body, .. }
        | S::While { body, .. }
        | S::Loop { body, .. } => returns_nested(body, depth + 2),
        S::Match { arms, .. } => arms.iter().any(|(_, b)| returns_nested(b, depth + 2)),
        S::FloatMatch { arms, .. } => arms.iter().any(|(_, b)| returns_nested(b, depth + 2)),
        _ => false,
    })
}
