//! The intermediate representation: a Wengert list.
//!
//! One [`Node`] per primitive operation, in evaluation order, like the blog's
//! `sigx`, `numer`, `denom`. Lowering builds it, the analyses annotate it, and both
//! passes are emitted from it.

pub mod ops;
pub mod traverse;
mod uses;

pub use ops::Operator;

use crate::rules::Rule;
use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, ToTokens};

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FloatTy {
    F32,
    F64,
    /// The type parameter of a generic function, `T` in `fn f<T: Float>`.
    Generic(Ident),
}

/// The float types of the function being differentiated: `f32`, `f64`, and
/// its type parameter if it is generic. Whether a type is a float depends on
/// the function, so every stage asks the one `Floats` it was given.
#[derive(Clone, Default)]
pub struct Floats {
    generic: Option<Ident>,
}

impl Floats {
    pub fn new(generic: Option<Ident>) -> Floats {
        Floats { generic }
    }

    /// A zero of the float of a function that may be generic: `T`'s, or an
    /// unsuffixed `0.0` that takes the type of what it is set to.
    pub fn some_zero(&self) -> TokenStream {
        match &self.generic {
            Some(t) => FloatTy::Generic(t.clone()).zero(),
            None => quote!(0.0),
        }
    }

    pub fn of_type(&self, ty: &syn::Type) -> Option<FloatTy> {
        match ty {
            syn::Type::Path(p) if p.qself.is_none() => {
                let ident = p.path.get_ident()?;
                self.of_ident(ident)
            }
            syn::Type::Paren(p) => self.of_type(&p.elem),
            syn::Type::Group(g) => self.of_type(&g.elem),
            _ => None,
        }
    }

    pub fn of_ident(&self, ident: &Ident) -> Option<FloatTy> {
        if ident == "f64" {
            Some(FloatTy::F64)
        } else if ident == "f32" {
            Some(FloatTy::F32)
        } else if self.generic.as_ref() == Some(ident) {
            Some(FloatTy::Generic(ident.clone()))
        } else {
            None
        }
    }

    /// Whether values of this type are `Copy`: floats, integers, `bool`, `char`.
    pub fn is_copy(&self, ty: &syn::Type) -> bool {
        const PRIMITIVE: &[&str] = &[
            "usize", "isize", "u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128",
            "bool", "char",
        ];
        self.of_type(ty).is_some()
            || matches!(ty, syn::Type::Path(p) if p.path.get_ident().is_some_and(|i| PRIMITIVE.contains(&i.to_string().as_str())))
    }

    /// An integer, `bool` or `char`: a value with no derivative (a cast to
    /// one truncates).
    pub fn is_integer_like(&self, ty: &syn::Type) -> bool {
        self.is_copy(ty) && self.of_type(ty).is_none()
    }

    /// A float, an integer, `bool` or `char`, or tuples and arrays of them:
    /// what a tape can copy without asking the type for `Clone` (a struct of
    /// the user's may not have it, and need not).
    pub fn is_plain(&self, ty: &syn::Type) -> bool {
        match ty {
            syn::Type::Tuple(t) => t.elems.iter().all(|e| self.is_plain(e)),
            syn::Type::Array(a) => self.is_plain(&a.elem),
            syn::Type::Paren(p) => self.is_plain(&p.elem),
            syn::Type::Group(g) => self.is_plain(&g.elem),
            other => self.is_copy(other),
        }
    }
}

impl FloatTy {
    pub fn from_suffix(suffix: &str) -> Option<FloatTy> {
        match suffix {
            "f64" => Some(FloatTy::F64),
            "f32" => Some(FloatTy::F32),
            _ => None,
        }
    }

    fn ident(&self) -> Ident {
        match self {
            FloatTy::F32 => Ident::new("f32", Span::call_site()),
            FloatTy::F64 => Ident::new("f64", Span::call_site()),
            FloatTy::Generic(t) => t.clone(),
        }
    }

    pub fn to_type(&self) -> syn::Type {
        let ident = self.ident();
        syn::parse_quote!(#ident)
    }

    pub fn zero(&self) -> TokenStream {
        match self {
            FloatTy::F32 => quote!(0.0_f32),
            FloatTy::F64 => quote!(0.0_f64),
            FloatTy::Generic(_) => self.literal("0.0"),
        }
    }

    pub fn one(&self) -> TokenStream {
        match self {
            FloatTy::F32 => quote!(1.0_f32),
            FloatTy::F64 => quote!(1.0_f64),
            FloatTy::Generic(_) => self.literal("1.0"),
        }
    }

    /// A float literal in this type: as written for `f32`/`f64` (inference types
    /// it), `T::zero()`, `T::one()` or `T::from(2.0).unwrap()` for a generic `T`.
    pub fn literal(&self, digits: &str) -> TokenStream {
        let lit: TokenStream = digits.parse().unwrap_or_else(|_| quote!(0.0));
        match self {
            FloatTy::F32 | FloatTy::F64 => lit,
            FloatTy::Generic(_) => {
                let t = self.ident();
                match digits {
                    "0.0" => quote!(#t::zero()),
                    "1.0" => quote!(#t::one()),
                    _ => quote!(#t::from(#lit).unwrap()),
                }
            }
        }
    }

    /// A float literal that names its type: `0.0_f64`, `T::zero()`.
    pub fn typed_literal(&self, digits: &str) -> TokenStream {
        match self {
            FloatTy::F32 | FloatTy::F64 => format!("{digits}_{self}")
                .parse()
                .unwrap_or_else(|_| self.zero()),
            FloatTy::Generic(_) => self.literal(digits),
        }
    }

    /// A constant of `core::f64::consts` (`PI`, `LN_2`) in this type.
    pub fn constant(&self, name: &str) -> TokenStream {
        let name = Ident::new(name, Span::call_site());
        match self {
            FloatTy::F32 | FloatTy::F64 => quote!(::core::#self::consts::#name),
            FloatTy::Generic(_) => {
                let t = self.ident();
                quote!(#t::from(::core::f64::consts::#name).unwrap())
            }
        }
    }

    /// An integer `n` converted to this type.
    pub fn converted_int(&self, n: &TokenStream) -> TokenStream {
        match self {
            FloatTy::F32 | FloatTy::F64 => quote!(#n as #self),
            FloatTy::Generic(_) => {
                let t = self.ident();
                quote!(#t::from(#n).unwrap())
            }
        }
    }

    /// Rewrites the float literals of a derivative rule's code (`2.0 * a`) for a
    /// generic float (`T::from(2.0).unwrap() * a`). The arguments of a `from`
    /// call are the user's conversions and stay as written.
    pub fn literals_in(&self, tokens: TokenStream) -> TokenStream {
        if !matches!(self, FloatTy::Generic(_)) {
            return tokens;
        }
        use proc_macro2::TokenTree;
        let mut out = TokenStream::new();
        let mut after_from = false;
        for tree in tokens {
            match tree {
                TokenTree::Group(group) if !after_from => {
                    let inner = self.literals_in(group.stream());
                    let mut rebuilt = proc_macro2::Group::new(group.delimiter(), inner);
                    rebuilt.set_span(group.span());
                    out.extend([TokenTree::Group(rebuilt)]);
                }
                TokenTree::Literal(lit) if is_unsuffixed_float(&lit.to_string()) => {
                    out.extend(self.literal(&lit.to_string()));
                }
                other => {
                    after_from = matches!(&other, TokenTree::Ident(i) if i == "from");
                    out.extend([other]);
                    continue;
                }
            }
            after_from = false;
        }
        out
    }
}

impl FloatTy {
    /// `place += term;`, or `place = place + term;` for a generic float, whose
    /// `Float` bound does not include `AddAssign`.
    /// `span` locates the operator, for type errors about the term.
    pub fn add_assign(&self, place: &TokenStream, term: &TokenStream, span: Span) -> TokenStream {
        match self {
            FloatTy::Generic(_) => quote::quote_spanned!(span=> #place = #place + #term;),
            FloatTy::F32 | FloatTy::F64 => quote::quote_spanned!(span=> #place += #term;),
        }
    }
}

fn is_unsuffixed_float(text: &str) -> bool {
    text.parse::<f64>().is_ok() && text.contains('.') && !text.contains('_')
}

impl std::fmt::Display for FloatTy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.ident())
    }
}

impl ToTokens for FloatTy {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.ident().to_tokens(tokens);
    }
}

pub type NodeId = usize;

/// Where a part of an array starts and where it ends (exclusive).
pub type Bounds = (Operand, Operand);

/// A value an operation reads.
#[derive(Clone)]
pub enum Operand {
    /// The value of an earlier node (or parameter).
    Node(NodeId),
    /// A closed, pure expression that mentions no local: a literal, a constant,
    /// arithmetic on those. It is re-emitted wherever it is needed instead of saved.
    Const(Constant),
}

impl Operand {
    /// The same value: the same node, or constants spelled alike (an
    /// element's index, compared).
    pub fn same(&self, other: &Operand) -> bool {
        match (self, other) {
            (Operand::Node(a), Operand::Node(b)) => a == b,
            (Operand::Const(a), Operand::Const(b)) => a.tokens.to_string() == b.tokens.to_string(),
            _ => false,
        }
    }
}

#[derive(Clone)]
pub struct Constant {
    pub tokens: TokenStream,
    /// A literal or a path: never needs parentheses.
    pub atomic: bool,
    /// Its float type, when its spelling says (`2.0_f32`, `f64::consts::PI`).
    pub float: Option<FloatTy>,
}

impl Constant {
    /// A literal list (`&[0.5, 0.25]`, `[1.0, 2.0]`, `vec![..]`), not a number.
    pub fn is_list(&self) -> bool {
        let text = self.tokens.to_string();
        text.starts_with('&') || text.starts_with('[') || text.contains("vec !")
    }

    /// The tokens, parenthesised if they are not a single literal or path, so they
    /// can stand as an operand of any operator.
    pub fn operand_tokens(&self) -> TokenStream {
        let tokens = &self.tokens;
        if self.atomic {
            tokens.clone()
        } else {
            quote!((#tokens))
        }
    }

    /// An integer literal's value, for rules that can fold it (`powi(3)`).
    pub fn int_value(&self) -> Option<i64> {
        let lit: syn::LitInt = syn::parse2(self.tokens.clone()).ok()?;
        lit.base10_parse().ok()
    }
}

/// How the forward pass spells an operation, so it reads as the user wrote it.
#[derive(Clone)]
pub enum Form {
    /// `a + b`, `-a`: the operator itself.
    Operator(Operator),
    /// `a.exp()`, `a.powf(b)`.
    Method,
    /// `f64::exp(a)`.
    TypePath(FloatTy),
    /// `sigmoid(a)`: one of the runtime's activations; `bare` when called
    /// by its name alone, which the module checks names the runtime's.
    Runtime { bare: bool },
}

/// How a call passes an argument.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Borrow {
    /// A value, or an array local that is already a reference (`w: &[f64]`).
    Plain,
    /// `&h`: an array passed by shared reference.
    Shared,
    /// `&mut h` (or `&mut a` of a float): the callee writes it.
    Mutable,
    /// An `&mut [f64]` parameter passed on as it is: the callee writes it.
    PassedOn,
    /// `&mut r` of data (a list of indices): the callee may change it, but it
    /// has no adjoint, so it is no output of the call.
    MutableData,
}

impl Borrow {
    /// The callee writes the argument: its final value is one of the call's
    /// outputs.
    pub fn writes(self) -> bool {
        matches!(self, Borrow::Mutable | Borrow::PassedOn)
    }
}

#[derive(Clone)]
pub enum NodeKind {
    /// A parameter of the function; it is active if it is differentiable.
    Param,
    /// A primitive operation with a derivative rule.
    Op {
        rule: &'static Rule,
        form: Form,
        args: Vec<Operand>,
    },
    /// `x as f32`: the one primitive whose rule needs both float types.
    Cast { to: FloatTy, arg: Operand },
    /// A call to another differentiated function: its `forward` runs here, its
    /// `pullback` runs in our backward pass.
    Call {
        path: syn::Path,
        args: Vec<Operand>,
        /// The local that holds the callee's tape.
        tape: Ident,
        /// Where the user wrote each argument, for errors about its gradient.
        arg_spans: Vec<Span>,
        /// How many outputs the callee returns: one, or a tuple whose elements
        /// are `Element` nodes.
        outputs: usize,
        /// How each argument is passed: arrays as the user wrote them (`w`,
        /// `&h`, `&mut h`), since the callee takes them by reference.
        borrows: Vec<Borrow>,
        /// The generic arguments of the callee's `Tape`: `<f64>` of
        /// `dot::<f64>(..)`, `<T>` in a generic function, or none.
        tape_args: TokenStream,
        /// The `Element` nodes that name its outputs (registered as they are
        /// built, by `Lowerer::push_detached`).
        elements: Vec<NodeId>,
        /// For an argument `&x[a..b]` of a differentiated array: `a` and `b`.
        /// The part is lent as it is, and the callee's adjoint of it is added
        /// into that part of `x`'s.
        parts: Vec<Option<Bounds>>,
        /// The returned array is longer than the elements named
        /// (`let [a, b, ..] = f(x);`): its seed is theirs, then zeros
        /// (`array_seed`).
        rest: bool,
    },
    /// `a` in `let (a, b) = f(x);`: one output of a call with several.
    Element {
        call: NodeId,
        index: usize,
        source: ElementSource,
    },
    /// A value chosen by a branch: `let a = if c { x } else { y };`, or a variable
    /// that a branch assigns. Its `If` statement computes it.
    Merge,
    /// A variable a loop assigns, at the start of an iteration.
    LoopParam,
    /// A variable a loop assigns, after the loop.
    LoopOut,
    /// The loop's own variable (`i` in `for i in 0..n`): never differentiable.
    LoopVar,
    /// How many times a loop ran, counted by the forward pass.
    LoopTrips,
    /// A local buffer, `[0.0; 16]` or `vec![0.0; n]`, filled with a constant;
    /// or, `growable`, a `Vec::new()` that pushes fill, whose `len` is then
    /// its length at the end of its block.
    Buffer {
        fill: Operand,
        len: Operand,
        fixed: bool,
        growable: bool,
    },
    /// `a[i]`: one element of an array (a parameter or a buffer).
    Read { array: NodeId, index: Operand },
    /// `a[i] = value`: a statement, with no value of its own. With `push`,
    /// `a.push(value)`, `index` being the length before it.
    Write {
        array: NodeId,
        index: Operand,
        value: Operand,
        push: bool,
    },
    /// `a.len()`, measured by the forward pass when the backward pass needs it.
    Len { array: NodeId },
    /// A value that does not depend on a differentiable input (integer arithmetic,
    /// `n as f64`, calls on constants): emitted as the user wrote it, with the
    /// locals it mentions renamed to their nodes' names.
    Inactive {
        expr: syn::Expr,
        locals: Vec<(String, NodeId)>,
    },
}

/// How the forward pass gets an output of a call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ElementSource {
    /// A field of the returned tuple: `out.0`.
    Field,
    /// An element of the returned array: `out[0]`.
    Item,
    /// The returned value itself (a call that also writes `&mut` arguments).
    Value,
    /// A `&mut` argument after the call: the forward pass passes this node's
    /// local, initialised from the argument, by `&mut`.
    Argument(usize),
}

/// Where a node's name comes from.
#[derive(Clone)]
pub enum Hint {
    /// The user's `let` binding (or the function's name, for its result).
    User(Ident),
    /// A short name for an unnamed intermediate: `sum`, `exp`, `prod`.
    Op(String),
}

#[derive(Clone)]
pub struct Node {
    /// The local's name in the generated code, chosen once lowering is done.
    pub name: Ident,
    pub hint: Hint,
    pub kind: NodeKind,
    /// Depends on a differentiable input.
    pub active: bool,
    /// The Rust type, where it is known; needed when the value is saved on the tape.
    pub ty: Option<syn::Type>,
    /// The user's annotation, repeated in the forward pass.
    pub annotation: Option<syn::Type>,
    /// The user's tokens this node came from, for error messages.
    pub span: Span,
    /// The block it is computed in.
    pub region: RegionId,
    /// For an array (a slice parameter, a buffer): its length.
    pub array: Option<ArrayInfo>,
}

/// What the backward pass needs to know of an array to hold its adjoint.
#[derive(Clone)]
pub struct ArrayInfo {
    /// A constant (`16`, `N`) or the node that measures the length.
    pub len: Operand,
    /// A fixed-size array: its adjoint is an array on the stack, not a `Vec`.
    pub fixed: bool,
}

/// The name of a node until `assign_names` gives it its own (and of a call's
/// tape until then).
pub fn unnamed() -> Ident {
    Ident::new("__unnamed", Span::call_site())
}

/// The loop variable a node is, or copies: itself, a part of the tuple it
/// gives (`item.1` of `for (i, v) in w.iter().enumerate()`), or a copy of
/// either (`let v = item.1;`). Such a value is typed by the list walked.
pub fn loop_variable_of(nodes: &[Node], id: NodeId) -> Option<NodeId> {
    match &nodes[id].kind {
        NodeKind::LoopVar => Some(id),
        NodeKind::Inactive { expr, locals } => {
            match (crate::lower::strip_parens(expr), &locals[..]) {
                (syn::Expr::Path(_) | syn::Expr::Field(_), [(_, inner)]) => {
                    loop_variable_of(nodes, *inner)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

impl Node {
    /// A node computed by `kind`, named from `hint` once the body is lowered:
    /// inactive, of no known type and not an array until said otherwise.
    pub fn new(hint: Hint, kind: NodeKind, span: Span) -> Node {
        Node {
            name: unnamed(),
            hint,
            kind,
            active: false,
            ty: None,
            annotation: None,
            span,
            region: 0,
            array: None,
        }
    }

    pub fn active_if(mut self, active: bool) -> Node {
        self.active = active;
        self
    }

    pub fn typed(mut self, ty: Option<syn::Type>) -> Node {
        self.ty = ty;
        self
    }

    pub fn array_of(mut self, array: Option<ArrayInfo>) -> Node {
        self.array = array;
        self
    }

    /// A node the user did not name, created while lowering one expression.
    pub fn is_unnamed_intermediate(&self) -> bool {
        matches!(self.hint, Hint::Op(_)) && !matches!(self.kind, NodeKind::Param)
    }

    pub fn float(&self, floats: &Floats) -> Option<FloatTy> {
        self.ty.as_ref().and_then(|ty| floats.of_type(ty))
    }

    pub fn args(&self) -> &[Operand] {
        match &self.kind {
            NodeKind::Op { args, .. } | NodeKind::Call { args, .. } => args,
            NodeKind::Cast { arg, .. } => std::slice::from_ref(arg),
            NodeKind::Write { value, .. } => std::slice::from_ref(value),
            _ => &[],
        }
    }
}

pub type RegionId = usize;
pub type StmtId = usize;

/// A block of code: the function body (region 0), a branch, or a loop body.
pub struct RegionInfo {
    pub parent: Option<RegionId>,
    /// The branch or loop statement this block belongs to.
    pub owner: Option<StmtId>,
}

/// The body's structure. Nodes live in one flat list; statements say in which
/// block, and under which branch or loop, each is computed.
pub enum Stmt {
    Node(NodeId),
    If(If),
    Loop(Box<Loop>),
    /// `if !cond { break; }` at the top of a `while` loop's body (one with no
    /// `break` of its own): the iteration that stops here computed nothing
    /// the gradient needs, so it is not counted and the backward pass has
    /// nothing to undo.
    BreakUnless(Operand),
}

pub struct Block {
    pub region: RegionId,
    pub stmts: Vec<Stmt>,
    /// What the block hands back to its statement: a branch's value and the
    /// variables it assigns, or a loop body's next values of its variables.
    pub results: Vec<Operand>,
}

/// `if cond { .. } else { .. }`, or a `match` on a value that does not depend
/// on the inputs; both passes take the same arm.
pub struct If {
    pub id: StmtId,
    pub test: Test,
    /// The blocks it chooses between: `then` and `else` for a condition, one
    /// per pattern for a `match`.
    pub arms: Vec<Block>,
    /// One `Merge` node per result, defined by this statement.
    pub merges: Vec<NodeId>,
}

/// How a branch chooses its arm.
pub enum Test {
    /// `if cond`: the first arm when it holds, the second otherwise.
    Cond(Operand),
    /// `match scrutinee { patterns[0] => .., patterns[1] => .. }`, one pattern
    /// per arm, without guards; as exhaustive as the user's `match`.
    Match {
        scrutinee: Operand,
        patterns: Vec<syn::Pat>,
    },
}

impl Test {
    /// The value the test reads.
    pub fn operand(&self) -> &Operand {
        match self {
            Test::Cond(cond) => cond,
            Test::Match { scrutinee, .. } => scrutinee,
        }
    }
}

/// `for pat in iter { .. }`, `while`, `loop`. The forward pass counts the iterations; the backward
/// pass runs the body's reverse as many times, popping what each one saved.
pub struct Loop {
    pub id: StmtId,
    /// The loop variable's node, or `None` for `_` (and for `loop`/`while`).
    pub var: Option<NodeId>,
    /// The iterable, kept as written (it never depends on the inputs); `None` for
    /// `loop` and `while`, which run until their break flag is set.
    pub iter: Option<syn::Expr>,
    pub iter_locals: Vec<(String, NodeId)>,
    /// Variables the body assigns; the body's results are their next values.
    pub carried: Vec<Carried>,
    pub body: Block,
    /// The `LoopTrips` node that counts iterations.
    pub trips: NodeId,
    /// The break flag at the start of an iteration: the forward loop stops when
    /// it is set.
    pub exit: Option<NodeId>,
    /// `if c { break; }` as the body's last statement: after each complete
    /// iteration (its variables updated, its trip counted) the loop stops
    /// when `c` holds. Every iteration the backward pass reverses is whole.
    pub until: Option<Operand>,
    /// For a loop over `start..end` or `start..=end` with a constant start: the
    /// start. The loop variable of iteration `k` is then `start + k`, and the
    /// backward pass rebuilds it from the trip count instead of saving it.
    pub var_start: Option<TokenStream>,
    /// For a loop over a constant range without `break`: its iteration count,
    /// spelled again in the backward pass instead of saved.
    pub fixed_trips: Option<TokenStream>,
    /// A loop over the elements of slices (`for v in &h`), run by index: the
    /// index is there to read the elements, as clippy's `needless_range_loop`
    /// would not have it in code a person writes.
    pub over_slices: bool,
    /// `#[checkpoint]`: the forward pass keeps the loop's state every few
    /// iterations, and the backward pass runs each stretch between two kept
    /// states again before reversing it.
    pub checkpoint: Option<crate::parse::checkpoint::Checkpoint>,
}

pub struct Carried {
    /// The value before the loop.
    pub init: Operand,
    /// The value at the start of an iteration (a `LoopParam` node in the body).
    pub param: NodeId,
    /// The value after the loop (a `LoopOut` node).
    pub out: NodeId,
}

/// A lowered function body.
pub struct Graph {
    pub nodes: Vec<Node>,
    pub regions: Vec<RegionInfo>,
    /// The function body; its results are what the function returns.
    pub body: Block,
    /// What the function returns: one value, or the elements of its tuple or
    /// array.
    pub outputs: Vec<Operand>,
    /// The function's return type, the type of the seed.
    pub ret: FloatTy,
    /// Which types are floats in this function.
    pub floats: Floats,
    /// `&mut [f64]` parameters: their final contents are outputs too.
    pub written_params: Vec<NodeId>,
    /// Data the function changes in place (lists of indices): what is read
    /// from it is saved for the backward pass, never read again.
    pub changed_data: Vec<NodeId>,
    /// Variables of a `for` over a list whose type the function does not
    /// show (`for w in ws` of `let ws = &W;`): each element may be a value or
    /// a reference to one, so a saved one is taken through `Borrow` (which
    /// both are), and nothing reads it again from the saved value.
    pub maybe_references: std::collections::BTreeSet<NodeId>,
}

impl Graph {
    /// Whether a node is, or copies, the variable of a `for` whose elements
    /// may be references (`maybe_references`).
    pub fn maybe_reference(&self, id: NodeId) -> bool {
        loop_variable_of(&self.nodes, id).is_some_and(|var| self.maybe_references.contains(&var))
    }

    /// The float type a node computes in, where its type says.
    pub fn float(&self, id: NodeId) -> Option<FloatTy> {
        self.nodes[id].float(&self.floats)
    }

    /// The float type a node computes in, or the function's.
    pub fn float_or_ret(&self, id: NodeId) -> FloatTy {
        self.float(id).unwrap_or_else(|| self.ret.clone())
    }

    /// The `Element` nodes of a call's outputs: (node, output index, source).
    pub fn elements_of(
        &self,
        call: NodeId,
    ) -> impl Iterator<Item = (NodeId, usize, ElementSource)> + '_ {
        let elements: &[NodeId] = match &self.nodes[call].kind {
            NodeKind::Call { elements, .. } => elements,
            _ => &[],
        };
        elements
            .iter()
            .filter_map(move |&id| match self.nodes[id].kind {
                NodeKind::Element { index, source, .. } => Some((id, index, source)),
                _ => None,
            })
    }

    /// The arrays a call writes (passed by `&mut`).
    pub fn writes_to_arrays(&self, call: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let (args, borrows): (&[Operand], &[Borrow]) = match &self.nodes[call].kind {
            NodeKind::Call { args, borrows, .. } => (args, borrows),
            _ => (&[], &[]),
        };
        args.iter()
            .zip(borrows)
            .filter_map(move |(arg, borrow)| match arg {
                Operand::Node(id) if borrow.writes() && self.nodes[*id].array.is_some() => {
                    Some(*id)
                }
                _ => None,
            })
    }

    /// A call's outputs: how many values it returns, then the arguments it
    /// writes through `&mut`, in order (their final contents are outputs too).
    pub fn call_outputs(&self, call: NodeId) -> (usize, Vec<&Operand>) {
        let NodeKind::Call {
            args,
            borrows,
            outputs,
            ..
        } = &self.nodes[call].kind
        else {
            return (0, Vec::new());
        };
        let written: Vec<&Operand> = args
            .iter()
            .zip(borrows)
            .filter(|(_, b)| b.writes())
            .map(|(a, _)| a)
            .collect();
        (outputs - written.len(), written)
    }

    /// Whether a call takes `array` by `&mut` as data (a list of indices).
    pub fn passed_as_mutable_data(&self, array: NodeId) -> bool {
        self.nodes.iter().any(|n| match &n.kind {
            NodeKind::Call { args, borrows, .. } => args.iter().zip(borrows).any(|(a, b)| {
                *b == Borrow::MutableData && matches!(a, Operand::Node(id) if *id == array)
            }),
            _ => false,
        })
    }

    /// The statements that change an array's contents: writes of elements, and
    /// calls that take it by `&mut`.
    pub fn writes_to(&self, array: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(id, n)| match &n.kind {
                NodeKind::Write { array: a, .. } => *a == array,
                NodeKind::Call { .. } => self.writes_to_arrays(*id).any(|a| a == array),
                _ => false,
            })
            .map(|(id, _)| id)
    }

    /// Whether `region` is `ancestor` or a block nested in it.
    pub fn within(&self, region: RegionId, ancestor: RegionId) -> bool {
        let mut current = Some(region);
        while let Some(r) = current {
            if r == ancestor {
                return true;
            }
            current = self.regions[r].parent;
        }
        false
    }

    /// The statement directly inside `ancestor` that contains `region`, or `None`
    /// when `region` is `ancestor` itself.
    pub fn child_statement(&self, region: RegionId, ancestor: RegionId) -> Option<StmtId> {
        let mut current = region;
        while current != ancestor {
            let info = &self.regions[current];
            let parent = info.parent?;
            if parent == ancestor {
                return info.owner;
            }
            current = parent;
        }
        None
    }
}
