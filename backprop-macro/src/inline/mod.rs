//! Calls of the functions written beside the caller, replaced by their
//! bodies before the caller is differentiated: differentiated ones
//! (`#[differentiate]`), plain helpers (no attribute: they have no
//! derivative of their own, so this is how they get one), and methods of
//! the user's structs called on a parameter, on `self`, or on an element of
//! a list of them (`for layer in &net.layers { layer.forward(..) }`).
//!
//! A call through a callee's module costs a tape, a scratch gradient and the
//! lending of each slice, per call: next to a three-line helper (`cross`,
//! `sqnorm`, one LSTM cell) that is most of the cost, which is why
//! hand-written backpropagation through helpers is written as one function.
//! Where the macro can see the callee it does the same: a call `g(a, &mut b)`
//! of a function `g` marked `#[differentiate]` in the caller's module and
//! file becomes a block,
//!
//! ```text
//! let rsq = sqsum(proj);                  let rsq = {
//!                                             let mut res = 0.0;
//!                                             for i in 0..proj.len() {
//!                                                 res += proj[i] * proj[i];
//!                                             }
//!                                             res
//!                                         };
//! ```
//!
//! its parameters the caller's variables where the arguments name them
//! (`x` is `proj`; `&w` indexed is `w`), bound with `let` otherwise
//! (`let rot = &cam[0..3];`, a part read through its parent), its locals
//! renamed where the caller uses their names. The block evaluates what the
//! call evaluates, in the same order. The callee's own calls are inlined
//! first; a function never inlines itself (recursion keeps its calls).
//!
//! Which differentiated callees: those with no loop over data (straight-line helpers,
//! loops over literal ranges), whose call costs more than their work; one
//! marked `#[inline]` or `#[inline(always)]` whatever its loops; never one
//! marked `#[inline(never)]`. A callee that loops over its slices is
//! called unless it asks: its own backward pass runs its loops first to last
//! over lent slices and copies a buffer it reads once per call, where the
//! caller's, with the loop inside its own, often cannot (measured: ADBench's
//! GMM at d = 10, GradBench's `ode` and `kmeans` are slower inlined; the
//! LSTM, GMM at d = 2 and bundle adjustment faster). A callee that loops
//! over its slices is inlined where each slice it is given has a length the
//! code fixes, at most `SHORT` (`sqsum(&cam[0..3])`, `sqsum(proj)` of a
//! `let proj = [0.0; 2];`, a parameter `[f64; 3]`): its loops are then as
//! short as a straight-line helper's. Such calls are found in a second
//! pass, once the other callees are inlined, where the names they are
//! given are the caller's own (bundle adjustment's `sqsum` calls inside
//! `rodrigues_rotate_point` and `radial_distort`: 206 to 175 ns per 2x15
//! Jacobian).
//! Plain helpers and methods whatever their loops (a plain helper whose
//! signature names no float, `fn row(k: usize) -> usize`, stays a call, as
//! do one given no arguments, `fn table() -> Vec<(f64, f64)>`, whose result
//! is data, and a plain function with a custom rule, a module of its name,
//! beside it). Calls inside closures are inlined in place.
//! Inlining is declined (the
//! call stays a call, as correct, slower; for a plain helper, a compile
//! error at the call, as before) for callees it cannot write as a
//! block that means the same: generic ones,
//! `return` or `?` in the body (but early returns at its top, as guards), a parameter other than a float, integer,
//! array, slice or `Vec` reference, a parameter bound again, labels, items
//! inside, format strings naming variables, bodies past `MOST_TOKENS`, or a
//! name the callee uses that the caller binds to something else. The
//! compiler must say which file a function is in (Rust 1.88); where it does
//! not, or the function is not found in it (written by a macro), nothing is
//! inlined.

mod generic;
pub(crate) mod siblings;
pub(crate) mod substitute;

use crate::emit::names::identifiers;
use quote::ToTokens;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use substitute::{Stand, Substitution};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// The largest callee body inlined, in tokens once its own calls are
/// inlined: helpers of a few dozen lines; a larger function is called.
const MOST_TOKENS: usize = 3000;

/// What inlining gives: the function with its callees inlined (`None`
/// where none was), and the plain helpers beside it in its file (no
/// attribute, a float in their signature) that it calls, each inlined or
/// not: a call of one left standing has no module to go through
/// (`Args::plain_helpers`).
#[derive(Default)]
pub struct Inlined {
    pub function: Option<syn::ItemFn>,
    pub plain_helpers: Vec<String>,
    /// The differentiated functions beside it whose generated functions it
    /// calls (`Args::differentiated_beside`).
    pub differentiated_beside: Vec<String>,
}

/// `generated` (the function as the pipeline takes it) with the calls of its
/// siblings inlined. `written` is the function as written, to find it in
/// `file`.
///
/// `plain`: whether plain helpers and methods are inlined too, or only the
/// differentiated functions (the second try, where what the first wrote
/// is refused).
pub fn callees_inlined(
    written: &syn::ItemFn,
    generated: &syn::ItemFn,
    file: &Path,
    plain: bool,
) -> Inlined {
    let called = called_names(&generated.block);
    if called.is_empty() {
        return Inlined::default();
    }
    let nested = nested_functions(&generated.block);
    let siblings = match siblings::of(&syn::Item::Fn(written.clone()), file, &called) {
        Some(siblings) => siblings,
        None if plain && !nested.is_empty() => siblings::Siblings::default(),
        None => return Inlined::default(),
    };
    let plain_helpers = plain_helpers_called(&siblings, &called);
    let differentiated_beside = called
        .iter()
        .filter(|name| siblings.functions.contains_key(*name) && !siblings.plain.contains(*name))
        .cloned()
        .collect();
    Inlined {
        function: inlined(generated, siblings, nested, &called, plain),
        plain_helpers,
        differentiated_beside,
    }
}

/// `generated` with the calls of `siblings` (and of the functions `nested`
/// in its body) inlined; `None` where none is.
fn inlined(
    generated: &syn::ItemFn,
    mut siblings: siblings::Siblings,
    nested: Vec<syn::ItemFn>,
    called: &HashSet<String>,
    plain: bool,
) -> Option<syn::ItemFn> {
    // A function the body declares for itself (`fn sq(v: f64) -> f64`) is
    // a plain helper its calls name, before one of the file's.
    for function in nested {
        let name = function.sig.ident.to_string();
        siblings.plain.insert(name.clone());
        siblings.functions.insert(name, function);
    }
    if !plain {
        let helpers = std::mem::take(&mut siblings.plain);
        siblings.functions.retain(|name, _| !helpers.contains(name));
        siblings.methods.clear();
    }
    let methods: HashSet<&String> = siblings.methods.keys().map(|(_, method)| method).collect();
    if !called
        .iter()
        .any(|name| siblings.functions.contains_key(name) || methods.contains(name))
    {
        return None;
    }
    let mut function = generated.clone();
    let receivers = receiver_types(&generated.sig);
    let mut inliner = Inliner::new(
        &siblings,
        generated.to_token_stream(),
        &generated.block,
        &generated.sig,
        receivers,
    );
    inliner.visit_block_mut(&mut function.block);
    let mut inlined = inliner.inlined;
    inlined += short_lists(&mut function, &siblings, &generated.sig);
    if inlined == 0 {
        return None;
    }
    nested_functions_dropped(&mut function.block);
    Some(function)
}

/// The longest list a callee that loops over it is inlined for (a point,
/// a quaternion, a small matrix): its loop is then as cheap as the
/// caller's own code, where the call's tape and lent slices are not.
const SHORT: usize = 16;

/// The second pass: once the callees are inlined, a call left standing of
/// one that loops over its slices (`sqsum(proj)` inside an inlined
/// `radial_distort`, whose `proj` is now the caller's `[0.0; 2]`) is
/// inlined where each slice it is given has a length the code fixes.
/// Returns how many calls were.
fn short_lists(
    function: &mut syn::ItemFn,
    siblings: &siblings::Siblings,
    sig: &syn::Signature,
) -> usize {
    let fixed = fixed_lengths(function);
    if fixed.is_empty() && !mentions_literal_part(&function.block) {
        return 0;
    }
    let receivers = receiver_types(sig);
    let mut inliner = Inliner::new(
        siblings,
        function.to_token_stream(),
        &function.block,
        &function.sig,
        receivers,
    );
    inliner.fixed = fixed;
    let mut block = (*function.block).clone();
    inliner.visit_block_mut(&mut block);
    if inliner.inlined > 0 {
        *function.block = block;
    }
    inliner.inlined
}

/// Whether a block passes `&x[a..b]` of literals anywhere.
fn mentions_literal_part(block: &syn::Block) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            self.0 |= literal_part_len(expr).is_some();
            syn::visit::visit_expr(self, expr);
        }
    }
    let mut finder = Finder(false);
    finder.visit_block(block);
    finder.0
}

/// `&x[a..b]` (or `&mut`, `a..=b`, `..b`) with literal bounds: its length.
fn literal_part_len(expr: &Expr) -> Option<usize> {
    let Expr::Reference(reference) = crate::lower::strip_parens(expr) else {
        return None;
    };
    let Expr::Index(index) = crate::lower::strip_parens(&reference.expr) else {
        return None;
    };
    let Expr::Range(range) = crate::lower::strip_parens(&index.index) else {
        return None;
    };
    let number = |bound: &Option<Box<Expr>>| match bound.as_deref() {
        None => Some(0),
        Some(bound) => crate::desugar::usize_literal(bound),
    };
    let start = number(&range.start)?;
    let end = range.end.as_ref().and(number(&range.end))?;
    let end = match range.limits {
        syn::RangeLimits::HalfOpen(_) => end,
        syn::RangeLimits::Closed(_) => end + 1,
    };
    end.checked_sub(start)
}

/// The length of a list argument the code fixes: a literal part, or a
/// name (`proj`, `&proj`, `&mut proj`) of `fixed`.
fn fixed_length(arg: &Expr, fixed: &HashMap<String, usize>) -> Option<usize> {
    if let Some(len) = literal_part_len(arg) {
        return Some(len);
    }
    let named = match crate::lower::strip_parens(arg) {
        Expr::Reference(reference) => crate::lower::strip_parens(&reference.expr),
        other => other,
    };
    let Expr::Path(path) = named else {
        return None;
    };
    fixed.get(&path.path.get_ident()?.to_string()).copied()
}

/// Names bound once in the function (and not its parameters' names) to a
/// list of a length the code fixes: `[v; 3]`, `[a, b, c]`, `vec![0.0; 2]`
/// or `&x[0..3]`, or typed `[f64; 3]`; and parameters typed `[f64; 3]` or
/// `&[f64; 3]`.
fn fixed_lengths(function: &syn::ItemFn) -> HashMap<String, usize> {
    use crate::desugar::usize_literal;
    struct Lets {
        lengths: HashMap<String, Option<usize>>,
    }
    fn array_len(ty: &syn::Type) -> Option<usize> {
        match ty {
            syn::Type::Array(array) => usize_literal(&array.len),
            syn::Type::Reference(reference) => array_len(&reference.elem),
            _ => None,
        }
    }
    fn value_len(expr: &Expr) -> Option<usize> {
        match crate::lower::strip_parens(expr) {
            Expr::Repeat(repeat) => usize_literal(&repeat.len),
            Expr::Array(array) => Some(array.elems.len()),
            Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
                let (_, len) = crate::lower::vec_repeat(&mac.mac).ok()?;
                usize_literal(&len)
            }
            other => literal_part_len(other),
        }
    }
    impl<'ast> Visit<'ast> for Lets {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            let (pat, ty) = match &local.pat {
                syn::Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
                other => (other, None),
            };
            match pat {
                syn::Pat::Ident(ident) if ident.subpat.is_none() => {
                    let len = ty
                        .and_then(array_len)
                        .or_else(|| local.init.as_ref().and_then(|init| value_len(&init.expr)));
                    let name = ident.ident.to_string();
                    // Bound twice: which one a call sees is not the name's to say.
                    let entry = match self.lengths.contains_key(&name) {
                        true => None,
                        false => len,
                    };
                    self.lengths.insert(name, entry);
                }
                other => self.visit_pat(other),
            }
            if let Some(init) = &local.init {
                self.visit_expr(&init.expr);
                if let Some((_, diverge)) = &init.diverge {
                    self.visit_expr(diverge);
                }
            }
        }
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            // Bound by a pattern elsewhere (a loop, a closure, a `match`).
            self.lengths.insert(pat.ident.to_string(), None);
            syn::visit::visit_pat_ident(self, pat);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut lets = Lets {
        lengths: HashMap::new(),
    };
    for input in &function.sig.inputs {
        if let syn::FnArg::Typed(typed) = input {
            if let syn::Pat::Ident(ident) = &*typed.pat {
                lets.lengths
                    .insert(ident.ident.to_string(), array_len(&typed.ty));
            }
        }
    }
    lets.visit_block(&function.block);
    lets.lengths
        .into_iter()
        .filter_map(|(name, len)| Some((name, len?)))
        .collect()
}

/// The plain helpers among `siblings` (a float in their signature) that
/// are `called`.
fn plain_helpers_called(siblings: &siblings::Siblings, called: &HashSet<String>) -> Vec<String> {
    let mut helpers: Vec<String> = siblings
        .plain
        .iter()
        .filter(|name| called.contains(*name))
        .filter(|name| {
            siblings.functions.get(*name).is_some_and(|helper| {
                mentions_a_float(&helper.sig) || generic::float_param(&helper.sig).is_some()
            })
        })
        .cloned()
        .collect();
    helpers.sort();
    helpers
}

/// The type of a struct literal `V2 { .. }`, or of a block (an inlined
/// method's) or parentheses ending in one.
fn literal_type(expr: &Expr) -> Option<syn::Type> {
    match expr {
        Expr::Paren(paren) => literal_type(&paren.expr),
        Expr::Block(block) => match block.block.stmts.last()? {
            syn::Stmt::Expr(tail, None) => literal_type(tail),
            _ => None,
        },
        Expr::Struct(literal) if literal.qself.is_none() && literal.rest.is_none() => {
            let path = &literal.path;
            let ty: syn::Type = syn::parse_quote!(#path);
            user_type(&ty).is_some().then_some(ty)
        }
        _ => None,
    }
}

/// The method an arithmetic operator calls on a struct of the user's
/// (`Add::add` for `+`, `AddAssign::add_assign` for `+=`, a `&mut self`
/// method inlined as any other).
fn operator_method(op: &syn::BinOp) -> Option<&'static str> {
    use syn::BinOp as B;
    Some(match op {
        B::Add(_) => "add",
        B::Sub(_) => "sub",
        B::Mul(_) => "mul",
        B::Div(_) => "div",
        B::AddAssign(_) => "add_assign",
        B::SubAssign(_) => "sub_assign",
        B::MulAssign(_) => "mul_assign",
        B::DivAssign(_) => "div_assign",
        _ => return None,
    })
}

/// The functions declared among the body's own statements, without
/// generics or `self` (what a plain helper is).
fn nested_functions(block: &syn::Block) -> Vec<syn::ItemFn> {
    block
        .stmts
        .iter()
        .filter_map(|stmt| match stmt {
            syn::Stmt::Item(syn::Item::Fn(function)) => Some(function.clone()),
            _ => None,
        })
        .collect()
}

/// The body without the functions it declares that nothing calls any more
/// (all their calls inlined); one still called stays, and is refused.
fn nested_functions_dropped(block: &mut syn::Block) {
    let called = called_names(block);
    block.stmts.retain(|stmt| match stmt {
        syn::Stmt::Item(syn::Item::Fn(function)) => {
            called.contains(&function.sig.ident.to_string())
        }
        _ => true,
    });
}

/// In a marked `impl` block, the marked methods with their calls of the
/// block's unmarked methods on `self` (`self.predict(x)`) inlined, and of
/// the plain and differentiated functions written beside the block in
/// `file`, as a function's are (`callees_inlined`). `block` is as written
/// (its methods still marked); `marked` names the
/// block's marked methods, which stay calls (each has its derivative).
pub fn self_calls_inlined(
    block: &syn::ItemImpl,
    marked: &HashSet<String>,
    methods: &mut [&mut syn::ImplItemFn],
    file: Option<&Path>,
) {
    let mut called = HashSet::new();
    for method in methods.iter() {
        called.extend(called_names(&method.block));
    }
    let beside = file
        .and_then(|file| siblings::of(&syn::Item::Impl(block.clone()), file, &called))
        .unwrap_or_default();
    let mut plain = block.clone();
    plain.items.retain(
        |item| !matches!(item, syn::ImplItem::Fn(f) if marked.contains(&f.sig.ident.to_string())),
    );
    let siblings = siblings::Siblings {
        methods: siblings::methods(&[syn::Item::Impl(plain)]),
        ..beside
    };
    let self_ty = &block.self_ty;
    for method in methods.iter_mut() {
        let receivers = HashMap::from([("self".to_string(), syn::parse_quote!(&#self_ty))]);
        let tokens = method.to_token_stream();
        let mut inliner = Inliner::new(&siblings, tokens, &method.block, &method.sig, receivers);
        inliner.visit_block_mut(&mut method.block);
    }
}

struct Inliner<'s> {
    siblings: &'s siblings::Siblings,
    /// Every name in the function and in what was inlined into it: a local
    /// of a callee is renamed away from them.
    taken: HashSet<String>,
    /// The names bound in the function being inlined into (its parameters,
    /// `let`s, loop variables, closures' parameters): a callee that uses one
    /// of them for something of its own (a constant, a function) is not
    /// inlined, as the caller's binding would hide it.
    bound: HashSet<String>,
    /// The functions being inlined, outermost first: none inlines itself.
    stack: Vec<String>,
    /// For each function of `stack`, its parameters whose type names a type
    /// of the user's (`m: &Line`): a method called on one (`m.predict(x)`)
    /// is looked for among that type's.
    receivers: Vec<HashMap<String, syn::Type>>,
    inlined: usize,
    /// One for each statement being visited, innermost last.
    frames: Vec<Frame>,
    /// How many conditions the expression being visited is under, in its
    /// statement (`b` of `a && b`, a `match` arm, an `else if`).
    conditional: usize,
    /// Names bound to parts (`let row = &x[a..b];`, `split_at`'s halves):
    /// given to a parameter the callee iterates, the part would be copied.
    parts: HashSet<String>,
    /// Which parameters of each sibling take a shared reference.
    shared: HashMap<String, Vec<bool>>,
    /// The float the function computes in, which a helper generic over the
    /// float is inlined over (`generic.rs`).
    float: Option<proc_macro2::Ident>,
    /// The function's own float parameter (`T` of `fn f<T: Float>`), which
    /// a helper generic over the float is inlined over in its stead.
    float_param: Option<proc_macro2::Ident>,
    /// Names of lists whose length the code fixes (`let proj = [0.0; 2];`,
    /// `let rot = &cam[0..3];`, bound once), each with its length: a
    /// callee that loops over its slices is inlined where every slice it is
    /// given is one of them, its loops as short as the literals say (the
    /// second pass, `short_lists`).
    fixed: HashMap<String, usize>,
}

/// The statements hoisted out of the statement being visited: an inlined
/// call's statements go before it, and its value stays in its place, where
/// nothing in the statement evaluated before the call can change what the
/// call reads (`open`).
#[derive(Default)]
struct Frame {
    hoisted: Vec<syn::Stmt>,
    open: bool,
}

impl VisitMut for Inliner<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        let conditional = std::mem::take(&mut self.conditional);
        let mut stmts = Vec::with_capacity(block.stmts.len());
        // `let layer = &layers[l];`: a receiver of `Layer`'s methods to the
        // end of the block.
        let mut elements = Vec::new();
        for mut stmt in std::mem::take(&mut block.stmts) {
            // (`v += a;` of a struct with `impl AddAssign`: a call too.)
            let whole_call = match &stmt {
                syn::Stmt::Expr(Expr::Call(_) | Expr::MethodCall(_), _) => true,
                syn::Stmt::Expr(Expr::Binary(binary), _) => {
                    operator_method(&binary.op).is_some_and(|method| method.ends_with("_assign"))
                }
                _ => false,
            };
            self.frames.push(Frame {
                hoisted: Vec::new(),
                open: reads_only(&stmt),
            });
            self.visit_stmt_mut(&mut stmt);
            let frame = self.frames.pop().unwrap_or_default();
            stmts.extend(frame.hoisted);
            if let syn::Stmt::Local(syn::Local {
                pat,
                init: Some(init),
                ..
            }) = &stmt
            {
                let bound = self
                    .element_bound(pat, &init.expr, true)
                    .or_else(|| self.struct_bound(pat, &init.expr));
                if let Some((name, ty)) = bound {
                    let before = self.set_receiver(&name, ty);
                    elements.push((name, before));
                }
            }
            match stmt {
                // `g(a, &mut b);`: the body in its place.
                syn::Stmt::Expr(Expr::Paren(paren), _)
                    if whole_call && matches!(*paren.expr, Expr::Block(_)) =>
                {
                    if let Expr::Block(inlined) = *paren.expr {
                        stmts.extend(as_statements(inlined.block.stmts));
                    }
                }
                stmt => stmts.push(stmt),
            }
        }
        block.stmts = stmts;
        self.conditional = conditional;
        for (name, before) in elements.into_iter().rev() {
            self.restore_receiver(name, before);
        }
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            // A closure's body (`.map(|x| sq(x - m))`): what is inlined
            // there stays in place, and its parameters are names the
            // callee must not use for its own.
            Expr::Closure(closure) => {
                let outer_bound = self.bound.clone();
                self.bound.extend(closure_params(closure));
                self.conditionally(|inliner| inliner.visit_expr_mut(&mut closure.body));
                self.bound = outer_bound;
            }
            Expr::Call(call) => {
                for arg in call.args.iter_mut() {
                    self.visit_expr_mut(arg);
                }
                if let Some((block, writes)) = self.inlined(call) {
                    *expr = self.hoisted(block, writes);
                }
            }
            Expr::MethodCall(call) => {
                self.visit_expr_mut(&mut call.receiver);
                for arg in call.args.iter_mut() {
                    self.visit_expr_mut(arg);
                }
                if let Some((block, writes)) = self.inlined_method(call) {
                    *expr = self.hoisted(block, writes);
                }
            }
            // `u + v` of a struct of the user's with `impl Add for V2`:
            // the method `add` it calls.
            Expr::Binary(binary) if operator_method(&binary.op).is_some() => {
                self.visit_expr_mut(&mut binary.left);
                self.visit_expr_mut(&mut binary.right);
                if let Some(method) = operator_method(&binary.op) {
                    let right = (*binary.right).clone();
                    if let Some(inlined) = self.inlined_operator(&binary.left, method, Some(right))
                    {
                        *expr = inlined;
                    }
                }
            }
            Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Neg(_)) => {
                self.visit_expr_mut(&mut unary.expr);
                if let Some(inlined) = self.inlined_operator(&unary.expr, "neg", None) {
                    *expr = inlined;
                }
            }
            // Evaluated or not: what is inlined there stays in place.
            Expr::Binary(binary) if matches!(binary.op, syn::BinOp::And(_) | syn::BinOp::Or(_)) => {
                self.visit_expr_mut(&mut binary.left);
                self.conditionally(|inliner| inliner.visit_expr_mut(&mut binary.right));
            }
            Expr::If(branch) => {
                self.visit_expr_mut(&mut branch.cond);
                self.visit_block_mut(&mut branch.then_branch);
                if let Some((_, other)) = &mut branch.else_branch {
                    self.conditionally(|inliner| inliner.visit_expr_mut(other));
                }
            }
            Expr::Match(choice) => {
                self.visit_expr_mut(&mut choice.expr);
                self.conditionally(|inliner| {
                    for arm in choice.arms.iter_mut() {
                        inliner.visit_arm_mut(arm);
                    }
                });
            }
            Expr::While(looped) => {
                self.conditionally(|inliner| inliner.visit_expr_mut(&mut looped.cond));
                self.visit_block_mut(&mut looped.body);
            }
            // `for layer in layers`: `layer.forward(..)` is a method of
            // `Layer`.
            Expr::ForLoop(looped) => {
                self.visit_expr_mut(&mut looped.expr);
                let bound = self.element_bound(&looped.pat, &looped.expr, false);
                self.with_receiver(bound, |inliner| inliner.visit_block_mut(&mut looped.body));
            }
            // `vec![a, h(x)]`: its elements are values like any other.
            Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
                crate::parse::method::visit_macro_arguments(self, &mut mac.mac);
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

impl<'s> Inliner<'s> {
    /// An inliner for the function (or method) of `tokens`, `block` and
    /// `sig`, whose parameters of the user's types are `receivers`.
    /// Whether every slice `callee` takes is given a list of a length the
    /// code fixes, at most `SHORT`: `sqsum(&cam[0..3])`, `sqsum(proj)` of a
    /// `let proj = [0.0; 2];`. (At least one slice.)
    fn given_short_lists(&self, callee: &syn::ItemFn, args: &[Expr]) -> bool {
        let mut slices = 0;
        for (input, arg) in callee.sig.inputs.iter().zip(args) {
            let syn::FnArg::Typed(typed) = input else {
                return false;
            };
            let syn::Type::Reference(reference) = &*typed.ty else {
                continue;
            };
            if !matches!(&*reference.elem, syn::Type::Slice(_)) {
                continue;
            }
            slices += 1;
            match fixed_length(arg, &self.fixed) {
                Some(len) if len <= SHORT => {}
                _ => return false,
            }
        }
        slices > 0
    }

    fn new(
        siblings: &'s siblings::Siblings,
        tokens: proc_macro2::TokenStream,
        block: &syn::Block,
        sig: &syn::Signature,
        receivers: HashMap<String, syn::Type>,
    ) -> Self {
        Inliner {
            siblings,
            taken: identifiers(tokens),
            bound: bound_names(block, sig),
            stack: vec![sig.ident.to_string()],
            receivers: vec![receivers],
            inlined: 0,
            frames: Vec::new(),
            conditional: 0,
            parts: part_names(block),
            shared: siblings
                .functions
                .iter()
                .map(|(name, function)| (name.clone(), shared_params(function)))
                .collect(),
            float: generic::caller_float(sig),
            float_param: generic::float_param(sig),
            fixed: HashMap::new(),
        }
    }

    /// `l` of `for l in layers` or `let l = &layers[i];`, where `layers` is
    /// a list of a type of the user's: the name, and `&Layer`.
    fn element_bound(
        &self,
        pat: &syn::Pat,
        list: &Expr,
        indexed: bool,
    ) -> Option<(String, syn::Type)> {
        let syn::Pat::Ident(pat) = pat else {
            return None;
        };
        let (list, field) = list_named(list, indexed)?;
        let ty = self.receivers.last()?.get(&list.to_string())?;
        let ty = match field {
            None => ty,
            // A field of a struct of the user's.
            Some(field) => {
                let (owner, _) = user_type(ty)?;
                self.siblings
                    .fields
                    .get(&owner.to_string())?
                    .get(&field.to_string())?
            }
        };
        Some((pat.ident.to_string(), element_type(ty)?))
    }

    /// `let mut s = State { .. };`, `let s: State = ..;`, or a copy of a
    /// struct known as a receiver (`let mut s = s0;`, `*p`, `p.clone()`): a
    /// local struct, the name and its type, whose methods written beside
    /// the caller are inlined as a parameter's are (`desugar/records.rs`
    /// then splits it).
    fn struct_bound(&self, pat: &syn::Pat, init: &Expr) -> Option<(String, syn::Type)> {
        let (pat, annotated) = match pat {
            syn::Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
            other => (other, None),
        };
        let syn::Pat::Ident(pat) = pat else {
            return None;
        };
        let ty: syn::Type = match (annotated, crate::lower::strip_parens(init)) {
            (Some(ty), _) => ty.clone(),
            (None, Expr::Struct(literal)) if literal.qself.is_none() => {
                let mut path = literal.path.clone();
                for segment in &mut path.segments {
                    if let syn::PathArguments::AngleBracketed(arguments) = &mut segment.arguments {
                        arguments.colon2_token = None;
                    }
                }
                syn::parse_quote!(#path)
            }
            (None, copied) => {
                let source = match copied {
                    Expr::Unary(unary) if matches!(unary.op, syn::UnOp::Deref(_)) => &*unary.expr,
                    Expr::MethodCall(call) if call.method == "clone" && call.args.is_empty() => {
                        &*call.receiver
                    }
                    other => other,
                };
                let Expr::Path(path) = crate::lower::strip_parens(source) else {
                    return None;
                };
                let name = path.path.get_ident()?.to_string();
                match self.receivers.last()?.get(&name)? {
                    syn::Type::Reference(reference) => (*reference.elem).clone(),
                    ty => ty.clone(),
                }
            }
        };
        // (A struct of the user's by value: its methods are looked up by
        // its name.)
        matches!(user_type(&ty), Some((_, None))).then(|| (pat.ident.to_string(), ty))
    }

    /// Runs `visit` with `bound` (a name and its type) known as a receiver.
    fn with_receiver(&mut self, bound: Option<(String, syn::Type)>, visit: impl FnOnce(&mut Self)) {
        let Some((name, ty)) = bound else {
            return visit(self);
        };
        let before = self.set_receiver(&name, ty);
        visit(self);
        self.restore_receiver(name, before);
    }

    /// `name` known as a receiver of type `ty`; what it was before.
    fn set_receiver(&mut self, name: &str, ty: syn::Type) -> Option<syn::Type> {
        self.receivers
            .last_mut()
            .and_then(|frame| frame.insert(name.to_string(), ty))
    }

    /// `name` as it was before `set_receiver`.
    fn restore_receiver(&mut self, name: String, before: Option<syn::Type>) {
        if let Some(frame) = self.receivers.last_mut() {
            match before {
                Some(before) => frame.insert(name, before),
                None => frame.remove(&name),
            };
        }
    }

    /// Runs `visit` on code evaluated only under a condition.
    fn conditionally(&mut self, visit: impl FnOnce(&mut Self)) {
        self.conditional += 1;
        visit(self);
        self.conditional -= 1;
    }

    /// An inlined call's value in its place, its statements before the
    /// statement it is in where they can go there (always evaluated, in a
    /// statement that only reads, from a callee that writes none of its
    /// arguments); else the block in its place.
    fn hoisted(&mut self, mut block: syn::Block, writes: bool) -> Expr {
        let conditional = self.conditional > 0;
        let tail = match block.stmts.last() {
            Some(syn::Stmt::Expr(tail, None)) => Some(tail.clone()),
            _ => None,
        };
        match (self.frames.last_mut(), tail) {
            (Some(frame), Some(tail)) if frame.open && !conditional && !writes => {
                block.stmts.pop();
                frame.hoisted.extend(block.stmts);
                tail
            }
            // In parentheses: a block printed first in a statement
            // (`{ .. } + 1.0`) would end the statement there.
            _ => Expr::Paren(syn::ExprParen {
                attrs: Vec::new(),
                paren_token: Default::default(),
                expr: Box::new(Expr::Block(syn::ExprBlock {
                    attrs: Vec::new(),
                    label: None,
                    block,
                })),
            }),
        }
    }

    /// `left + right` (or `-left`, `right` none) where `left` is a struct of
    /// the user's whose type implements the operator (`impl Add for V2`):
    /// the method's body inlined. A `left` that is not a name (`-p * k`,
    /// the value of an operator inlined before) is bound to one first,
    /// where its type shows (a struct literal).
    fn inlined_operator(&mut self, left: &Expr, method: &str, right: Option<Expr>) -> Option<Expr> {
        let method = syn::Ident::new(method, proc_macro2::Span::call_site());
        let args: Vec<Expr> = right.into_iter().collect();
        if let Expr::Path(_) = crate::lower::strip_parens(left) {
            let call: syn::ExprMethodCall = syn::parse_quote!((#left).#method(#(#args),*));
            let (block, writes) = self.inlined_method(&call)?;
            return Some(self.hoisted(block, writes));
        }
        let ty = literal_type(left)?;
        let value = self.fresh("value");
        let before = self.set_receiver(&value.to_string(), ty);
        let call: syn::ExprMethodCall = syn::parse_quote!(#value.#method(#(#args),*));
        let inlined = self.inlined_method(&call);
        self.restore_receiver(value.to_string(), before);
        let (mut block, writes) = inlined?;
        // (Without the parentheses `(a + b) * 0.5` needs: rustc warns of
        // those around a `let`'s value.)
        let left = crate::lower::strip_parens(left);
        block
            .stmts
            .insert(0, syn::parse_quote!(let #value = #left;));
        Some(self.hoisted(block, writes))
    }

    /// The block standing for `call` and whether the callee writes an
    /// argument (a `&mut` parameter), or `None` where it stays a call.
    fn inlined(&mut self, call: &syn::ExprCall) -> Option<(syn::Block, bool)> {
        let name = callee_name(call)?;
        if self.bound.contains(&name) {
            return None;
        }
        let callee = self.siblings.functions.get(&name)?;
        let plain = self.siblings.plain.contains(&name);
        // A plain helper generic over the float: its copy over the caller's.
        let specialized = match (plain, &self.float, &self.float_param) {
            (true, Some(float), _) => generic::specialized(callee, float),
            (true, None, Some(param)) => generic::over_param(callee, param),
            _ => None,
        };
        // A plain helper over integers only (`index(i, j)`) has no
        // derivative to give.
        if plain && specialized.is_none() && !mentions_a_float(&callee.sig) {
            return None;
        }
        // Nor one given nothing (`fn table() -> Vec<(f64, f64)>`): what it
        // returns is data, which the caller may walk as it is, where its
        // body (a `vec!` of tuples) may be what the macro cannot lower.
        if plain && call.args.is_empty() {
            return None;
        }
        let callee = specialized.as_ref().unwrap_or(callee);
        let args: Vec<Expr> = call.args.iter().cloned().collect();
        let at = syn::spanned::Spanned::span(&call.func);
        self.inline_call(&name, &name, callee, plain, &args, at)
    }

    /// `m.predict(x)` of a variable whose type has that method beside the
    /// caller: inlined as `predict(m, x)` would be, the receiver passed as
    /// the method takes it (`&m` to `&self` where `m` is a value).
    fn inlined_method(&mut self, call: &syn::ExprMethodCall) -> Option<(syn::Block, bool)> {
        if call.turbofish.is_some() {
            return None;
        }
        // A variable of a known type, or a value whose type its end tells
        // (`(u + v).norm()`: the inlined `add`'s block ends in a `V2 {..}`).
        let (receiver, ty): (Expr, syn::Type) = match crate::lower::strip_parens(&call.receiver) {
            Expr::Path(path) if path.qself.is_none() => {
                let name = path.path.get_ident()?;
                let ty = self.receivers.last()?.get(&name.to_string())?.clone();
                (syn::parse_quote!(#name), ty)
            }
            value => (syn::parse_quote!((#value)), literal_type(value)?),
        };
        let (owner, by_ref) = user_type(&ty)?;
        let method = call.method.to_string();
        let callee = self
            .siblings
            .methods
            .get(&(owner.to_string(), method.clone()))?;
        let takes_ref = match callee.sig.inputs.first()? {
            syn::FnArg::Typed(typed) => match &*typed.ty {
                syn::Type::Reference(reference) => Some(reference.mutability.is_some()),
                _ => None,
            },
            syn::FnArg::Receiver(_) => return None,
        };
        let first: Expr = match (takes_ref, by_ref) {
            (Some(true), None) => syn::parse_quote!(&mut #receiver),
            (Some(false), None) => syn::parse_quote!(&#receiver),
            // A `&mut` method called on a shared reference does not compile.
            (Some(true), Some(false)) => return None,
            _ => syn::parse_quote!(#receiver),
        };
        let mut args = vec![first];
        args.extend(call.args.iter().cloned());
        let at = call.method.span();
        self.inline_call(
            &format!("{owner}::{method}"),
            &method,
            callee,
            true,
            &args,
            at,
        )
    }

    /// The block standing for a call of `callee` with `args`; `key` tells
    /// it in the stack of functions being inlined, `name` names its value.
    /// A `plain` callee (no derivative of its own) is inlined whatever its
    /// loops. Its tokens (read from the file, with no place of their own)
    /// are placed `at` the call: what is refused in them is reported there.
    fn inline_call(
        &mut self,
        key: &str,
        name: &str,
        callee: &syn::ItemFn,
        plain: bool,
        args: &[Expr],
        at: proc_macro2::Span,
    ) -> Option<(syn::Block, bool)> {
        if self.stack.iter().any(|on| on == key) {
            return None;
        }
        match inline_hint(callee) {
            Hint::Never => return None,
            Hint::None
                if !plain
                    && loops_over_data(&callee.block)
                    && !self.given_short_lists(callee, args) =>
            {
                return None
            }
            Hint::None | Hint::Asked => {}
        }
        let mut params = inlinable_params(callee, self.float_param.as_ref())?;
        // Early returns at the top of the body are branches (`if x < 0.0 {
        // return 0.0; } x`), as in a function the macro differentiates.
        let mut body = placed_at(&callee.block, at);
        crate::desugar::deferred_lets::deferred_lets_as_values(&mut body);
        format_names_as_arguments(&mut body);
        crate::desugar::returns::early_returns_as_branches(&mut body);
        final_return_as_tail(&mut body);
        parameters_made_mutable(&mut body, &mut params);
        shadowing_lets_renamed(&mut body, &callee.sig, &params);
        if params.len() != args.len() || !inlinable_body(&body) {
            return None;
        }
        // A closure parameter is given a closure written at the call or
        // the name of one (not a value computed otherwise).
        let closures = closure_type_params(&callee.sig.generics);
        if params.iter().zip(args).any(|((_, ty, _), arg)| {
            is_closure_type(ty, &closures) && closure_argument(arg).is_none()
        }) {
            return None;
        }
        // A struct taken by reference stands for the caller's variable: it
        // is never bound. (One taken by value is bound where it is not the
        // caller's variable, `let mut s_2: State = s;`, a copy that
        // `desugar/records.rs` reads field by field.)
        for (k, ((_, ty, mutable), arg)) in params.iter().zip(args).enumerate() {
            // (Nor is a reference to a float, unless a copy does.)
            let float_reference = matches!(ty, syn::Type::Reference(r) if is_float(&r.elem));
            let struct_reference = matches!(user_type(ty), Some((_, Some(_))));
            if (struct_reference || float_reference)
                && referenced_value(ty, arg).is_none()
                && stand_for(ty, *mutable, args, k).is_none()
            {
                return None;
            }
        }
        let callee_bound = bound_names(&body, &callee.sig);
        // A name the callee uses but does not bind (a constant, a function)
        // must mean the same at the call.
        if used_names(&body)
            .iter()
            .any(|used| !callee_bound.contains(used) && self.bound.contains(used))
        {
            return None;
        }
        // A parameter bound again in the body (by a `let`, a loop): its uses
        // after are of another value, which substitution would not tell
        // apart. (A closure's parameter of its name, `.zip(x).map(|(w, x)|
        // ..)`, is: substitution leaves the closure's own alone.)
        let mut body_bound = BoundNames(HashSet::new());
        body_bound.visit_block(&without_closure_params(&body));
        if params
            .iter()
            .any(|(param, ..)| body_bound.0.contains(&param.to_string()))
        {
            return None;
        }
        // A part given to a parameter the body iterates or slices would be
        // copied (`lower/views.rs`); the call lends it.
        // (A struct is no part: `let layer = &layers[l];` is an element. A
        // plain callee has no call to keep: copied it is.)
        if !plain
            && params.iter().zip(args).any(|((param, ty, _), arg)| {
                user_type(ty).is_none()
                    && (is_part(ty, arg) || self.names_part(arg))
                    && !only_indexed(&body, param)
            })
        {
            return None;
        }
        self.parts.extend(part_names(&body));
        // Its body stands where the call is: inside it, the names bound
        // around the call and its own.
        let outer_bound = self.bound.clone();
        // The callee's own names are taken while its calls are inlined:
        // a local of a call inlined into it, hoisted beside the callee's
        // own `let`s, must not hide one of them (`let a = x + 1.0; let b =
        // inner(x); a * b` with `let a` in `inner` too; a method's `this`
        // passed on to another method).
        let own: Vec<String> = callee_bound
            .iter()
            .filter(|name| !self.taken.contains(*name))
            .cloned()
            .collect();
        self.taken.extend(own.iter().cloned());
        self.bound.extend(callee_bound);
        self.stack.push(key.to_string());
        self.receivers.push(receiver_types(&callee.sig));
        let inlined_before = self.inlined;
        self.visit_block_mut(&mut body);
        for name in &own {
            self.taken.remove(name);
        }
        self.receivers.pop();
        self.stack.pop();
        self.bound = outer_bound;
        if count_tokens(body.to_token_stream()) > MOST_TOKENS {
            self.inlined = inlined_before;
            return None;
        }
        let block = self.standing_in(name, callee, &params, args, body);
        self.inlined += 1;
        let writes = params.iter().any(|(_, ty, _)| {
            matches!(ty, syn::Type::Reference(reference) if reference.mutability.is_some())
        });
        Some((block, writes))
    }

    /// `body` as a block in the caller: the parameters bound or replaced by
    /// the arguments, the locals renamed away from the caller's names.
    fn standing_in(
        &mut self,
        name: &str,
        callee: &syn::ItemFn,
        params: &[(syn::Ident, syn::Type, bool)],
        args: &[Expr],
        mut body: syn::Block,
    ) -> syn::Block {
        let mut names = HashMap::new();
        let param_names: HashSet<String> =
            params.iter().map(|(param, ..)| param.to_string()).collect();
        let mut locals: Vec<String> = bound_names(&body, &callee.sig)
            .into_iter()
            .filter(|local| !param_names.contains(local))
            .collect();
        locals.sort();
        for local in locals {
            if self.taken.contains(&local) {
                let fresh = self.fresh(&local);
                names.insert(local, Stand::Name(fresh));
            } else {
                self.taken.insert(local);
            }
        }
        let closures = closure_type_params(&callee.sig.generics);
        let mut lets: Vec<syn::Stmt> = Vec::new();
        for (k, ((param, ty, mutable), arg)) in params.iter().zip(args).enumerate() {
            // A closure passed to `f: impl Fn(f64) -> f64`: a closure of the
            // block, which the callee's `f(t)` calls as the caller's own.
            // (One the caller named is called by that name.)
            if is_closure_type(ty, &closures) {
                match closure_argument(arg) {
                    Some(ClosureArgument::Written(closure)) => {
                        let local = self.local_named(param);
                        lets.push(syn::parse_quote!(let #local = #closure;));
                        names.insert(param.to_string(), Stand::Name(local));
                        continue;
                    }
                    Some(ClosureArgument::Named(name)) => {
                        names.insert(param.to_string(), Stand::Name(name.clone()));
                        continue;
                    }
                    None => {}
                }
            }
            // `&[x, 1.0]`, `&v.to_vec()`: the value bound, and the
            // parameter a reference to it.
            if let Some(value) = referenced_value(ty, arg) {
                let local = self.local_named(param);
                let mutability = value.mutability.map(|_| quote::quote!(mut));
                let inner = &value.expr;
                lets.push(syn::parse_quote!(let #mutability #local = #inner;));
                let value: Expr = match value.mutability {
                    Some(_) => syn::parse_quote!(&mut #local),
                    None => syn::parse_quote!(&#local),
                };
                names.insert(
                    param.to_string(),
                    Stand::Reference {
                        variable: local,
                        value,
                    },
                );
                continue;
            }
            let standing = stand_for(ty, *mutable, args, k);
            match standing {
                Some(stand) => {
                    names.insert(param.to_string(), stand);
                }
                None => {
                    let local = self.local_named(param);
                    let mutability = mutable.then(|| quote::quote!(mut));
                    // A part is bound untyped, so that it is read through
                    // its parent (`lower/views.rs`).
                    lets.push(match ty {
                        syn::Type::Reference(_) => {
                            syn::parse_quote!(let #mutability #local = #arg;)
                        }
                        _ => syn::parse_quote!(let #mutability #local: #ty = #arg;),
                    });
                    names.insert(param.to_string(), Stand::Name(local));
                }
            }
        }
        Substitution {
            names,
            shared: &self.shared,
        }
        .visit_block_mut(&mut body);
        self.taken.extend(identifiers(body.to_token_stream()));
        typed_tail(name, &callee.sig.output, &mut body, self);
        lets.extend(body.stmts);
        syn::Block {
            brace_token: body.brace_token,
            stmts: lets,
        }
    }

    /// Whether `arg` is a name bound to a part.
    fn names_part(&self, arg: &Expr) -> bool {
        matches!(crate::lower::strip_parens(arg), Expr::Path(path)
            if path.path.get_ident().is_some_and(|name| self.parts.contains(&name.to_string())))
    }

    /// `name` where the caller does not use it, else a fresh one; now
    /// taken.
    fn local_named(&mut self, param: &syn::Ident) -> syn::Ident {
        match self.taken.contains(&param.to_string()) {
            true => self.fresh(&param.to_string()),
            false => {
                self.taken.insert(param.to_string());
                param.clone()
            }
        }
    }

    /// `name_2`, `name_3`, ...: the first not taken, now taken.
    fn fresh(&mut self, name: &str) -> syn::Ident {
        let fresh = (2..)
            .map(|k| format!("{name}_{k}"))
            .find(|candidate| !self.taken.contains(candidate))
            .unwrap_or_default();
        self.taken.insert(fresh.clone());
        syn::Ident::new(&fresh, proc_macro2::Span::call_site())
    }
}

/// `let mut x = x;` first in a body (a parameter made mutable, as Rust
/// programmers write it) is the parameter taken as `mut x`; and a
/// parameter shadowed in the body's own statements by a `let` of its type
/// (`let k: f64 = k.cos();`) is the parameter, `mut`, assigned (`k =
/// k.cos();`).
fn parameters_made_mutable(body: &mut syn::Block, params: &mut [(syn::Ident, syn::Type, bool)]) {
    for stmt in body.stmts.iter_mut() {
        let syn::Stmt::Local(local) = &*stmt else {
            continue;
        };
        let (syn::Pat::Type(typed), Some(init)) = (&local.pat, &local.init) else {
            continue;
        };
        let syn::Pat::Ident(pat) = &*typed.pat else {
            continue;
        };
        if init.diverge.is_some() || pat.by_ref.is_some() || pat.subpat.is_some() {
            continue;
        }
        let same_type = |ty: &syn::Type| {
            ty.to_token_stream().to_string() == typed.ty.to_token_stream().to_string()
        };
        let Some(param) = params.iter_mut().find(|(param, ty, _)| {
            *param == pat.ident && same_type(ty) && !matches!(ty, syn::Type::Reference(_))
        }) else {
            continue;
        };
        param.2 = true;
        let (name, value) = (&pat.ident, &init.expr);
        *stmt = syn::parse_quote!(#name = #value;);
    }
    while let Some(syn::Stmt::Local(local)) = body.stmts.first() {
        let pat = match &local.pat {
            syn::Pat::Type(typed) => &*typed.pat,
            other => other,
        };
        let (syn::Pat::Ident(pat), Some(init)) = (pat, &local.init) else {
            return;
        };
        let same = matches!(crate::lower::strip_parens(&init.expr), Expr::Path(path) if path.path.is_ident(&pat.ident));
        let param = params.iter_mut().find(|(param, ..)| *param == pat.ident);
        match (
            param,
            same && pat.mutability.is_some() && init.diverge.is_none(),
        ) {
            (Some(param), true) => {
                param.2 = true;
                body.stmts.remove(0);
            }
            _ => return,
        }
    }
}

/// A parameter bound again by a `let` (`let mut k = v[2];` in a helper
/// taking `k`, of another type or unannotated), in the body or a block
/// inside it (a loop's): that binding and the statements after it in its
/// block get a name of their own, so that the parameter's uses before it
/// (its own value included) and outside that block stay the parameter's,
/// given the argument, and those after are the local's.
fn shadowing_lets_renamed(
    body: &mut syn::Block,
    sig: &syn::Signature,
    params: &[(syn::Ident, syn::Type, bool)],
) {
    let mut taken = bound_names(body, sig);
    taken.extend(used_names(body));
    let params: Vec<&syn::Ident> = params.iter().map(|(param, ..)| param).collect();
    Shadows {
        taken,
        params: &params,
    }
    .visit_block_mut(body);
}

struct Shadows<'p> {
    taken: HashSet<String>,
    params: &'p [&'p syn::Ident],
}

impl VisitMut for Shadows<'_> {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        for k in 0..block.stmts.len() {
            let (before, after) = block.stmts.split_at_mut(k + 1);
            let Some(syn::Stmt::Local(local)) = before.last_mut() else {
                continue;
            };
            let pat = match &local.pat {
                syn::Pat::Type(typed) => &*typed.pat,
                other => other,
            };
            let syn::Pat::Ident(pat) = pat else {
                continue;
            };
            if !self.params.contains(&&pat.ident) {
                continue;
            }
            let base = pat.ident.to_string();
            let fresh = (2..)
                .map(|n| format!("{base}_{n}"))
                .find(|name| !self.taken.contains(name))
                .unwrap_or_default();
            self.taken.insert(fresh.clone());
            let fresh = syn::Ident::new(&fresh, pat.ident.span());
            substitute::rename_binding(local, after, &base, fresh);
        }
        // The blocks inside, their own `let`s.
        syn::visit_mut::visit_block_mut(self, block);
    }

    // (A closure's body is its own: its parameters are other names.)
    fn visit_expr_closure_mut(&mut self, _: &mut syn::ExprClosure) {}
}

/// `..; return v;` ending a body is `..; v`.
fn final_return_as_tail(body: &mut syn::Block) {
    if let Some(syn::Stmt::Expr(Expr::Return(ret), _)) = body.stmts.last() {
        if let Some(value) = &ret.expr {
            let value = (**value).clone();
            body.stmts.pop();
            body.stmts.push(syn::Stmt::Expr(value, None));
        }
    }
}

/// A body's statements spliced into a block, where the call was a statement:
/// its last expression, if any, ended with `;` where it needs one, and a
/// value the call returned (`*a` of a helper that also writes `a`) dropped
/// as a `let _ = ..;` says.
fn as_statements(mut stmts: Vec<syn::Stmt>) -> Vec<syn::Stmt> {
    let Some(syn::Stmt::Expr(last, None)) = stmts.last() else {
        return stmts;
    };
    let block_like = matches!(
        last,
        Expr::Block(_)
            | Expr::If(_)
            | Expr::ForLoop(_)
            | Expr::While(_)
            | Expr::Loop(_)
            | Expr::Match(_)
            | Expr::Unsafe(_)
    );
    // A call or an assignment is a statement of its own.
    let statement = matches!(
        last,
        Expr::Call(_) | Expr::MethodCall(_) | Expr::Assign(_) | Expr::Macro(_)
    ) || matches!(last, Expr::Binary(b) if crate::desugar::is_compound_assignment(&b.op));
    if block_like {
        return stmts;
    }
    let last = match stmts.pop() {
        Some(syn::Stmt::Expr(last, _)) => last,
        _ => return stmts,
    };
    stmts.push(match statement {
        true => syn::Stmt::Expr(last, Some(Default::default())),
        false => syn::parse_quote!(let _ = #last;),
    });
    stmts
}

/// Whether a statement's own expression (its `let` value, its condition,
/// the expression it is) only reads: no `&mut`, no method that changes its
/// receiver, no assignment but the statement's own. The statements of an
/// inlined call can then go before it: nothing evaluated before the call in
/// the statement changes what it reads.
fn reads_only(stmt: &syn::Stmt) -> bool {
    let head: Option<&Expr> = match stmt {
        syn::Stmt::Local(local) => match &local.init {
            Some(init) if init.diverge.is_none() => Some(&init.expr),
            Some(_) => None,
            None => return true,
        },
        syn::Stmt::Expr(expr, _) => Some(match expr {
            Expr::If(branch) => &branch.cond,
            Expr::ForLoop(looped) => &looped.expr,
            Expr::Match(choice) => &choice.expr,
            Expr::Assign(assign) => &assign.right,
            Expr::Binary(binary) if crate::desugar::is_compound_assignment(&binary.op) => {
                &binary.right
            }
            other => other,
        }),
        _ => None,
    };
    let Some(head) = head else {
        return false;
    };
    /// A `&mut`, or a method that changes its receiver (a function of the
    /// user's named `push` does not; a macro's tokens are read as words).
    struct Changes(bool);
    impl<'ast> Visit<'ast> for Changes {
        fn visit_expr_reference(&mut self, reference: &'ast syn::ExprReference) {
            self.0 |= reference.mutability.is_some();
            syn::visit::visit_expr_reference(self, reference);
        }
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            // (`sort_by`, `extend_from_slice`, `chunks_mut` too.)
            let method = call.method.to_string();
            self.0 |= CHANGING.iter().any(|m| method.starts_with(m)) || method.ends_with("_mut");
            syn::visit::visit_expr_method_call(self, call);
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            let words = identifiers(mac.tokens.clone());
            self.0 |= words.contains("mut") || CHANGING.iter().any(|m| words.contains(*m));
        }
    }
    let mut changes = Changes(false);
    changes.visit_expr(head);
    !changes.0 && !crate::desugar::assigns(head)
}

/// Methods that change their receiver (and those their names start).
const CHANGING: &[&str] = &[
    "push",
    "pop",
    "insert",
    "remove",
    "swap",
    "clear",
    "extend",
    "truncate",
    "resize",
    "fill",
    "sort",
    "reverse",
    "copy_from_slice",
    "iter_mut",
    "retain",
    "drain",
];

/// The names a block binds to parts of arrays: `let` of a reference to an
/// index (`&x[a..b]`), and the halves of `split_at`.
fn part_names(block: &syn::Block) -> HashSet<String> {
    struct Finder(HashSet<String>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            if let Some(init) = &local.init {
                let part = match crate::lower::strip_parens(&init.expr) {
                    Expr::Reference(reference) => {
                        matches!(crate::lower::strip_parens(&reference.expr), Expr::Index(_))
                    }
                    Expr::MethodCall(call) => call.method.to_string().starts_with("split_at"),
                    _ => false,
                };
                if part {
                    let mut names = BoundNames(HashSet::new());
                    names.visit_pat(&local.pat);
                    self.0.extend(names.0);
                }
            }
            syn::visit::visit_local(self, local);
        }
    }
    let mut finder = Finder(HashSet::new());
    finder.visit_block(block);
    finder.0
}

struct BoundNames(HashSet<String>);

/// The names a closure's parameters bind.
fn closure_params(closure: &syn::ExprClosure) -> HashSet<String> {
    let mut names = BoundNames(HashSet::new());
    for input in &closure.inputs {
        names.visit_pat(input);
    }
    names.0
}

/// `body` with its closures' parameters taken out (`|(w, x)| ..` as `||
/// ..`): the names the rest binds.
fn without_closure_params(body: &syn::Block) -> syn::Block {
    struct Strip;
    impl VisitMut for Strip {
        fn visit_expr_closure_mut(&mut self, closure: &mut syn::ExprClosure) {
            closure.inputs.clear();
            syn::visit_mut::visit_expr_closure_mut(self, closure);
        }
    }
    let mut body = body.clone();
    Strip.visit_block_mut(&mut body);
    body
}

impl<'ast> Visit<'ast> for BoundNames {
    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        self.0.insert(pat.ident.to_string());
        syn::visit::visit_pat_ident(self, pat);
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// `&x[a..b]` (or `&mut`) given to a reference parameter.
fn is_part(ty: &syn::Type, arg: &Expr) -> bool {
    matches!(ty, syn::Type::Reference(_))
        && matches!(crate::lower::strip_parens(arg), Expr::Reference(reference)
            if matches!(crate::lower::strip_parens(&reference.expr), Expr::Index(_)))
}

/// Whether `body` only indexes `param` (`p[i]`), measures it (`p.len()`,
/// `p.is_empty()`) and passes it to functions: the uses a part bound to a
/// name is read through its parent for.
fn only_indexed(body: &syn::Block, param: &syn::Ident) -> bool {
    struct Uses<'p> {
        param: &'p syn::Ident,
        other: bool,
    }
    impl Uses<'_> {
        fn is_param(&self, expr: &Expr) -> bool {
            matches!(crate::lower::strip_parens(expr), Expr::Path(path) if path.path.is_ident(self.param))
        }
    }
    impl<'ast> Visit<'ast> for Uses<'_> {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::Index(index) if self.is_param(&index.expr) => {
                    self.other |=
                        matches!(crate::lower::strip_parens(&index.index), Expr::Range(_));
                    self.visit_expr(&index.index);
                }
                Expr::MethodCall(call) if self.is_param(&call.receiver) => {
                    self.other |= !matches!(call.method.to_string().as_str(), "len" | "is_empty");
                }
                // Passed on to a method (`self.hidden_at(x, j)`), as to a
                // function.
                Expr::MethodCall(call) => {
                    self.visit_expr(&call.receiver);
                    for arg in &call.args {
                        if !self.is_param(arg) {
                            self.visit_expr(arg);
                        }
                    }
                }
                Expr::Call(call) => {
                    self.visit_expr(&call.func);
                    for arg in &call.args {
                        if !self.is_param(arg) {
                            self.visit_expr(arg);
                        }
                    }
                }
                _ if self.is_param(expr) => self.other = true,
                _ => syn::visit::visit_expr(self, expr),
            }
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            self.other |= identifiers(mac.tokens.clone()).contains(&self.param.to_string());
        }
    }
    let mut uses = Uses {
        param,
        other: false,
    };
    uses.visit_block(body);
    !uses.other
}

/// `&e` given to a reference parameter where `e` is a value, not a place
/// (`&[x, 1.0]`, `&v.to_vec()`): `e` is bound, and the parameter refers to it.
fn referenced_value<'a>(ty: &syn::Type, arg: &'a Expr) -> Option<&'a syn::ExprReference> {
    let syn::Type::Reference(param) = ty else {
        return None;
    };
    // `&self.b`, `&v[i]` given a `&f64`: a copy of the float does.
    let float = is_float(&param.elem);
    match crate::lower::strip_parens(arg) {
        Expr::Reference(reference) => match crate::lower::strip_parens(&reference.expr) {
            Expr::Path(_) => None,
            Expr::Index(_) | Expr::Field(_) if !float || reference.mutability.is_some() => None,
            _ => Some(reference),
        },
        _ => None,
    }
}

/// What a parameter stands for, when its argument `args[k]` names a
/// variable of the caller; `None` where it is bound with `let` instead. A
/// value parameter (not `mut`) given a variable that no other argument
/// names is that variable; a reference parameter given a variable (a
/// slice, or `&v`, `&mut v`) is that variable, read through the reference.
fn stand_for(ty: &syn::Type, mutable: bool, args: &[Expr], k: usize) -> Option<Stand> {
    let arg = &args[k];
    let variable = |expr: &Expr| match crate::lower::strip_parens(expr) {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident().cloned(),
        _ => None,
    };
    if let syn::Type::Reference(_) = ty {
        return match crate::lower::strip_parens(arg) {
            Expr::Reference(reference) => Some(Stand::Reference {
                variable: variable(&reference.expr)?,
                value: arg.clone(),
            }),
            plain => variable(plain).map(Stand::Name),
        };
    }
    let name = variable(arg).filter(|_| !mutable)?;
    let named_elsewhere = args.iter().enumerate().any(|(j, other)| {
        j != k && identifiers(other.to_token_stream()).contains(&name.to_string())
    });
    (!named_elsewhere).then_some(Stand::Name(name))
}

/// A tail whose type comes from the callee's return type (`v.iter().sum()`)
/// is bound to a typed local first, which the block then ends with.
fn typed_tail(name: &str, output: &syn::ReturnType, body: &mut syn::Block, inliner: &mut Inliner) {
    let syn::ReturnType::Type(_, ty) = output else {
        return;
    };
    let Some(syn::Stmt::Expr(tail, None)) = body.stmts.last() else {
        return;
    };
    let generic = ["sum", "product", "into", "collect", "fold", "parse"];
    let names = identifiers(tail.to_token_stream());
    if !generic.iter().any(|method| names.contains(*method)) {
        return;
    }
    let tail = tail.clone();
    let value = inliner.local_named(&quote::format_ident!("{name}_value"));
    body.stmts.pop();
    body.stmts.push(syn::parse_quote!(let #value: #ty = #tail;));
    body.stmts
        .push(syn::Stmt::Expr(syn::parse_quote!(#value), None));
}

/// For each parameter of a function, whether it takes a shared reference.
fn shared_params(function: &syn::ItemFn) -> Vec<bool> {
    function
        .sig
        .inputs
        .iter()
        .map(|input| {
            matches!(input, syn::FnArg::Typed(typed)
                if matches!(&*typed.ty, syn::Type::Reference(r) if r.mutability.is_none()))
        })
        .collect()
}

/// What the callee's `#[inline]` attribute asks.
enum Hint {
    /// `#[inline(never)]`: called through its module, as the user asks (a
    /// large function called in many places, or a tape to look into).
    Never,
    /// `#[inline]` or `#[inline(always)]`: inlined wherever it can be.
    Asked,
    /// No attribute: inlined where it has no loop over data.
    None,
}

fn inline_hint(callee: &syn::ItemFn) -> Hint {
    let mut hint = Hint::None;
    for attr in &callee.attrs {
        match &attr.meta {
            syn::Meta::List(list) if list.path.is_ident("inline") => {
                hint = match list.tokens.to_string().trim() {
                    "never" => Hint::Never,
                    _ => Hint::Asked,
                };
            }
            syn::Meta::Path(path) if path.is_ident("inline") => hint = Hint::Asked,
            _ => {}
        }
    }
    hint
}

/// Whether a body loops over something whose length it is given (`for i in
/// 0..x.len()`, `for v in x`, `x.iter().map(..).sum()`, `while`): there the
/// call's cost is small beside the loop's, and the callee's own backward pass
/// (its loops run first to last over lent slices) is faster than the
/// caller's would be with the loop in it. Loops over literal ranges (`for i
/// in 0..3`) are not.
fn loops_over_data(block: &syn::Block) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::ForLoop(looped) => {
                    let literal = |bound: &Option<Box<Expr>>| {
                        bound.as_deref().is_some_and(|bound| {
                            matches!(crate::lower::strip_parens(bound), Expr::Lit(_))
                        })
                    };
                    let literal_range = matches!(crate::lower::strip_parens(&looped.expr),
                        Expr::Range(range) if literal(&range.start) && literal(&range.end));
                    self.0 |= !literal_range;
                }
                Expr::While(_) | Expr::Loop(_) => self.0 = true,
                Expr::MethodCall(call)
                    if [
                        "iter",
                        "iter_mut",
                        "into_iter",
                        "chunks",
                        "chunks_exact",
                        "windows",
                    ]
                    .contains(&call.method.to_string().as_str()) =>
                {
                    self.0 = true;
                }
                _ => {}
            }
            syn::visit::visit_expr(self, expr);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut finder = Finder(false);
    finder.visit_block(block);
    finder.0
}

/// The callee's parameters as (name, type, `mut`), where each is one name
/// of a type the block can bind; `None` for callees that are not inlined
/// (generic, `async`, `unsafe`, methods).
fn inlinable_params(
    callee: &syn::ItemFn,
    float_param: Option<&syn::Ident>,
) -> Option<Vec<(syn::Ident, syn::Type, bool)>> {
    let sig = &callee.sig;
    // (Type parameters bounded by `Fn` only, `F: Fn(f64) -> f64`, are the
    // closures passed; any other makes the callee generic.)
    let closures = closure_type_params(&sig.generics);
    let generic = sig.generics.params.iter().any(|param| match param {
        syn::GenericParam::Lifetime(_) => false,
        syn::GenericParam::Type(t) => !closures.contains(&t.ident),
        syn::GenericParam::Const(_) => true,
    });
    if generic
        || sig.asyncness.is_some()
        || matches!(sig.safety, syn::Safety::Unsafe(_))
        || sig.constness.is_some()
        || sig.abi.is_some()
        || sig.variadic.is_some()
    {
        return None;
    }
    sig.inputs
        .iter()
        .map(|input| {
            let syn::FnArg::Typed(typed) = input else {
                return None;
            };
            let syn::Pat::Ident(pat) = &*typed.pat else {
                return None;
            };
            if pat.by_ref.is_some()
                || pat.subpat.is_some()
                || !(bindable(&typed.ty, float_param)
                    || user_type(&typed.ty).is_some()
                    || is_closure_type(&typed.ty, &closures))
            {
                return None;
            }
            Some((
                pat.ident.clone(),
                (*typed.ty).clone(),
                pat.mutability.is_some(),
            ))
        })
        .collect()
}

/// `impl Fn(f64) -> f64` (or `FnMut`, `FnOnce`), `&dyn Fn(..)`, `&impl
/// Fn(..)`, or `F` / `&F` of a type parameter in `closures`: a parameter a
/// closure is passed to.
fn is_closure_type(ty: &syn::Type, closures: &[syn::Ident]) -> bool {
    let bounds = match ty {
        syn::Type::ImplTrait(bounded) => &bounded.bounds,
        syn::Type::Path(path) => {
            return path
                .path
                .get_ident()
                .is_some_and(|name| closures.contains(name))
        }
        syn::Type::Reference(r) if r.mutability.is_none() => match &*r.elem {
            syn::Type::ImplTrait(bounded) => &bounded.bounds,
            syn::Type::TraitObject(object) => &object.bounds,
            inner @ syn::Type::Path(_) => return is_closure_type(inner, closures),
            _ => return false,
        },
        _ => return false,
    };
    bounds.iter().any(is_fn_bound)
}

fn is_fn_bound(bound: &syn::TypeParamBound) -> bool {
    match bound {
        syn::TypeParamBound::Trait(t) => t.path.segments.last().is_some_and(|last| {
            ["Fn", "FnMut", "FnOnce"].contains(&last.ident.to_string().as_str())
        }),
        _ => false,
    }
}

/// The type parameters bounded by `Fn` (`F: Fn(f64) -> f64`, or in the
/// `where` clause) and by nothing else.
fn closure_type_params(generics: &syn::Generics) -> Vec<syn::Ident> {
    generics
        .type_params()
        .filter(|param| {
            let mut bounds: Vec<&syn::TypeParamBound> = param.bounds.iter().collect();
            for predicate in generics.where_clause.iter().flat_map(|w| &w.predicates) {
                if let syn::WherePredicate::Type(typed) = predicate {
                    let named = matches!(&typed.bounded_ty, syn::Type::Path(p) if p.path.is_ident(&param.ident));
                    if named {
                        bounds.extend(&typed.bounds);
                    }
                }
            }
            !bounds.is_empty() && bounds.iter().all(|bound| is_fn_bound(bound))
        })
        .map(|param| param.ident.clone())
        .collect()
}

/// A closure as a call's argument: written there, `|t| ..` or `&|t| ..`,
/// or a name the caller bound one to, `f` or `&f`.
enum ClosureArgument<'a> {
    Written(&'a syn::ExprClosure),
    Named(&'a syn::Ident),
}

fn closure_argument(arg: &Expr) -> Option<ClosureArgument<'_>> {
    match crate::lower::strip_parens(arg) {
        Expr::Closure(closure) => Some(ClosureArgument::Written(closure)),
        Expr::Path(path) if path.qself.is_none() => {
            path.path.get_ident().map(ClosureArgument::Named)
        }
        Expr::Reference(r) if r.mutability.is_none() => closure_argument(&r.expr),
        _ => None,
    }
}

/// Floats (and the caller's float parameter, `float_param`), integers,
/// `bool`, arrays of them, and references to slices, arrays and `Vec`s.
fn bindable(ty: &syn::Type, float_param: Option<&syn::Ident>) -> bool {
    let bindable = |ty: &syn::Type| bindable(ty, float_param);
    match ty {
        syn::Type::Path(path) => {
            path.qself.is_none()
                && path.path.get_ident().is_some_and(|ident| {
                    [
                        "f64", "f32", "usize", "isize", "u8", "u16", "u32", "u64", "i8", "i16",
                        "i32", "i64", "bool",
                    ]
                    .contains(&ident.to_string().as_str())
                        || Some(ident) == float_param
                })
        }
        syn::Type::Array(array) => bindable(&array.elem),
        syn::Type::Reference(reference) => match &*reference.elem {
            // `acc: &mut f64`: read and written as `*acc`.
            float if is_float(float) => true,
            syn::Type::Slice(slice) => bindable(&slice.elem),
            syn::Type::Array(array) => bindable(&array.elem),
            syn::Type::Path(path) => path.path.segments.last().is_some_and(|segment| {
                segment.ident == "Vec"
                    && match &segment.arguments {
                        syn::PathArguments::AngleBracketed(args) => {
                            args.args.iter().all(|arg| match arg {
                                syn::GenericArgument::Type(ty) => bindable(ty),
                                _ => false,
                            })
                        }
                        _ => false,
                    }
            }),
            _ => false,
        },
        syn::Type::Paren(inner) => bindable(&inner.elem),
        _ => false,
    }
}

/// No `return`, `?`, label, item or format string naming a variable
/// (`"{x}"`) outside its closures: the body means the same as a block.
fn inlinable_body(block: &syn::Block) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::Return(_) | Expr::Try(_) => self.0 = false,
                Expr::ForLoop(syn::ExprForLoop { label: Some(_), .. })
                | Expr::While(syn::ExprWhile { label: Some(_), .. })
                | Expr::Loop(syn::ExprLoop { label: Some(_), .. })
                | Expr::Block(syn::ExprBlock { label: Some(_), .. }) => self.0 = false,
                Expr::Closure(closure) => self.visit_expr(&closure.body),
                _ => syn::visit::visit_expr(self, expr),
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {
            self.0 = false;
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            self.0 &= format_names_not_given(mac).is_empty();
        }
    }
    let mut finder = Finder(true);
    finder.visit_block(block);
    finder.0
}

/// The names a macro's format string reads (`"{y}"`) that its arguments do
/// not give by name (`y = ..`).
fn format_names_not_given(mac: &syn::Macro) -> HashSet<String> {
    let mut names = crate::emit::names::format_string_names(mac.tokens.clone());
    let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
    if let Ok(args) = syn::parse::Parser::parse2(parser, mac.tokens.clone()) {
        for arg in &args {
            if let Expr::Assign(assign) = arg {
                if let Expr::Path(path) = &*assign.left {
                    if let Some(name) = path.path.get_ident() {
                        names.remove(&name.to_string());
                    }
                }
            }
        }
    }
    names
}

/// A format string's captured names given as named arguments (`println!("y
/// = {y}")` is `println!("y = {y}", y = y)`), so that renaming the
/// variable, as inlining does, renames what is printed.
fn format_names_as_arguments(body: &mut syn::Block) {
    struct Writer;
    impl VisitMut for Writer {
        fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
            let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
            let Ok(mut args) = syn::parse::Parser::parse2(parser, mac.tokens.clone()) else {
                return;
            };
            // (The format string follows the condition of `assert!`, the
            // writer of `write!`.)
            let format = args.iter().any(|arg| {
                matches!(
                    arg,
                    Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(_),
                        ..
                    })
                )
            });
            let mut missing: Vec<String> = format_names_not_given(mac).into_iter().collect();
            if !format || missing.is_empty() {
                return;
            }
            missing.sort();
            for name in &missing {
                let ident = syn::Ident::new(name, syn::spanned::Spanned::span(&mac.path));
                args.push(syn::parse_quote!(#ident = #ident));
            }
            mac.tokens = quote::quote!(#args);
        }
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    }
    Writer.visit_block_mut(body);
}

/// The names called as `name(..)` or as methods `v.name(..)`.
fn called_names(block: &syn::Block) -> HashSet<String> {
    struct Finder(HashSet<String>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
            if let Some(name) = callee_name(call).or_else(|| generated_of(call)) {
                self.0.insert(name);
            }
            syn::visit::visit_expr_call(self, call);
        }
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            self.0.insert(call.method.to_string());
            syn::visit::visit_expr_method_call(self, call);
        }
        // (An operator may call a method of a struct of the user's.)
        fn visit_expr_binary(&mut self, binary: &'ast syn::ExprBinary) {
            if let Some(method) = operator_method(&binary.op) {
                self.0.insert(method.to_string());
            }
            syn::visit::visit_expr_binary(self, binary);
        }
        fn visit_expr_unary(&mut self, unary: &'ast syn::ExprUnary) {
            if matches!(unary.op, syn::UnOp::Neg(_)) {
                self.0.insert("neg".to_string());
            }
            syn::visit::visit_expr_unary(self, unary);
        }
        // (`vec![a, h(x)]`: inlined there too.)
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            if mac.path.is_ident("vec") {
                crate::parse::method::read_macro_arguments(self, mac);
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut finder = Finder(HashSet::new());
    finder.visit_block(block);
    finder.0
}

/// The functions `#[differentiate]` writes in a function's module.
const GENERATED: &[&str] = &[
    "grad",
    "grad_into",
    "grad_with",
    "forward",
    "forward_into",
    "forward_lent",
    "backward",
    "backward_into",
    "backward_with",
    "pullback",
    "pullback_into",
    "pullback_lent",
    "jacobian",
    "jacobian_into",
    "jacobian_with",
    "jacobian_fwd",
    "tangent",
    "tangents",
    "hvp",
    "hessian",
];

/// `block` with every token placed at `at`.
fn placed_at(block: &syn::Block, at: proc_macro2::Span) -> syn::Block {
    fn placed(tokens: proc_macro2::TokenStream, at: proc_macro2::Span) -> proc_macro2::TokenStream {
        tokens
            .into_iter()
            .map(|mut token| {
                if let proc_macro2::TokenTree::Group(group) = &token {
                    let mut inner =
                        proc_macro2::Group::new(group.delimiter(), placed(group.stream(), at));
                    inner.set_span(at);
                    token = proc_macro2::TokenTree::Group(inner);
                } else {
                    token.set_span(at);
                }
                token
            })
            .collect()
    }
    syn::parse2(placed(quote::ToTokens::to_token_stream(block), at))
        .unwrap_or_else(|_| block.clone())
}

/// `g` of a call `g::grad(..)` of a function `#[differentiate]` writes.
fn generated_of(call: &syn::ExprCall) -> Option<String> {
    let Expr::Path(path) = crate::lower::strip_parens(&call.func) else {
        return None;
    };
    generated_path(&path.path).map(|(module, _)| module.to_string())
}

/// `g` and `grad` of a path `g::grad`, a function `#[differentiate]`
/// writes in the module of a function `g`.
pub(crate) fn generated_path(path: &syn::Path) -> Option<(&syn::Ident, &syn::Ident)> {
    match path.segments.iter().collect::<Vec<_>>()[..] {
        [module, function] if GENERATED.contains(&function.ident.to_string().as_str()) => {
            Some((&module.ident, &function.ident))
        }
        _ => None,
    }
}

/// `g` of a call `g(..)`: one name, no generic arguments.
fn callee_name(call: &syn::ExprCall) -> Option<String> {
    match crate::lower::strip_parens(&call.func) {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
            Some(path.path.get_ident()?.to_string())
        }
        _ => None,
    }
}

/// The names a function binds: its parameters and every name a pattern in
/// its body binds (`let`, `for`, `match`, closures' parameters).
fn bound_names(block: &syn::Block, sig: &syn::Signature) -> HashSet<String> {
    let mut finder = BoundNames(HashSet::new());
    for input in &sig.inputs {
        finder.visit_fn_arg(input);
    }
    finder.visit_block(block);
    finder.0
}

/// The single names a body reads (`x`, `D`, `cross` of `cross(..)`).
fn used_names(block: &syn::Block) -> HashSet<String> {
    struct Finder(HashSet<String>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
            if let (None, Some(ident)) = (&path.qself, path.path.get_ident()) {
                self.0.insert(ident.to_string());
            }
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            self.0.extend(identifiers(mac.tokens.clone()));
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut finder = Finder(HashSet::new());
    finder.visit_block(block);
    finder.0
}

fn count_tokens(tokens: proc_macro2::TokenStream) -> usize {
    tokens
        .into_iter()
        .map(|tree| match tree {
            proc_macro2::TokenTree::Group(group) => 1 + count_tokens(group.stream()),
            _ => 1,
        })
        .sum()
}

/// `S`, `&S` or `&mut S` for a type of one name that is not a float,
/// integer or `bool` (a struct of the user's, as far as tokens tell), or
/// such a type over a float (`Pair<f64>`): the name, and whether it is a
/// reference (`Some(true)` for `&mut`).
fn user_type(ty: &syn::Type) -> Option<(&syn::Ident, Option<bool>)> {
    let (inner, by_ref) = match ty {
        syn::Type::Reference(reference) => (&*reference.elem, Some(reference.mutability.is_some())),
        other => (other, None),
    };
    let syn::Type::Path(path) = inner else {
        return None;
    };
    let [segment] = path.path.segments.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let over_floats = match &segment.arguments {
        syn::PathArguments::None => true,
        syn::PathArguments::AngleBracketed(arguments) => arguments
            .args
            .iter()
            .all(|argument| matches!(argument, syn::GenericArgument::Type(ty) if is_float(ty))),
        syn::PathArguments::Parenthesized(_) => false,
    };
    if path.qself.is_some() || path.path.leading_colon.is_some() || !over_floats {
        return None;
    }
    let ident = &segment.ident;
    let known = [
        "f64", "f32", "usize", "isize", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64",
        "bool", "Vec", "String", "str", "Self",
    ];
    (!known.contains(&ident.to_string().as_str())).then_some((ident, by_ref))
}

/// A function's parameters whose type is a type of the user's or a list of
/// them (`&[Layer]`), by name.
fn receiver_types(sig: &syn::Signature) -> HashMap<String, syn::Type> {
    sig.inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(typed) => match &*typed.pat {
                syn::Pat::Ident(pat)
                    if user_type(&typed.ty).is_some() || element_type(&typed.ty).is_some() =>
                {
                    Some((pat.ident.to_string(), (*typed.ty).clone()))
                }
                _ => None,
            },
            syn::FnArg::Receiver(_) => None,
        })
        .collect()
}

/// `f64` or `f32`.
fn is_float(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(path) if path.path.is_ident("f64") || path.path.is_ident("f32"))
}

/// Whether a signature names `f64` or `f32` anywhere.
fn mentions_a_float(sig: &syn::Signature) -> bool {
    let names = identifiers(sig.to_token_stream());
    names.contains("f64") || names.contains("f32")
}

/// `&S` for a list of a type of the user's: `&[S]`, `&mut [S]`, `&Vec<S>`,
/// `Vec<S>`, `[S; N]`, `&[S; N]`.
fn element_type(ty: &syn::Type) -> Option<syn::Type> {
    let element = crate::lower::element_type(ty)?;
    matches!(user_type(&element), Some((_, None))).then(|| syn::parse_quote!(&#element))
}

/// The list a loop runs over, or a `let` refers to an element of: `xs`,
/// `&xs`, `xs.iter()` (`for l in ..`), `&xs[i]` (`let l = ..`), or a field
/// `net.layers` in their place: the name, and the field.
fn list_named(expr: &Expr, indexed: bool) -> Option<(&syn::Ident, Option<&syn::Ident>)> {
    fn named(expr: &Expr) -> Option<(&syn::Ident, Option<&syn::Ident>)> {
        match crate::lower::strip_parens(expr) {
            Expr::Path(path) if path.qself.is_none() => Some((path.path.get_ident()?, None)),
            Expr::Field(field) => match (&field.member, crate::lower::strip_parens(&field.base)) {
                (syn::Member::Named(member), Expr::Path(path)) if path.qself.is_none() => {
                    Some((path.path.get_ident()?, Some(member)))
                }
                _ => None,
            },
            _ => None,
        }
    }
    match (crate::lower::strip_parens(expr), indexed) {
        (Expr::Reference(reference), true) => match crate::lower::strip_parens(&reference.expr) {
            Expr::Index(index) if !matches!(*index.index, Expr::Range(_)) => named(&index.expr),
            _ => None,
        },
        (Expr::Reference(reference), false) if reference.mutability.is_none() => {
            named(&reference.expr)
        }
        (Expr::MethodCall(call), false) if call.method == "iter" && call.args.is_empty() => {
            named(&call.receiver)
        }
        (plain, false) => named(plain),
        _ => None,
    }
}
