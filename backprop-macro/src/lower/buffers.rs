//! Local buffers: `vec![...]`, array literals and copies of slices, whose
//! elements are differentiable values.

use super::expressions::{contains_branch, is_float_literal, literal_float};
use super::{segment_names, span_of, strip_parens, Lowerer};
use crate::ir::{ArrayInfo, Constant, FloatTy, Hint, Node, NodeId, NodeKind, Operand};
use crate::parse::signature::Shape;
use proc_macro2::{Ident, Span};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::Expr;

impl<'a> Lowerer<'a> {
    /// `[0.0; 16]` or `vec![0.0; n]`: a buffer of floats, active when the function
    /// has differentiable inputs (what is written into it may depend on them).
    pub(super) fn buffer(
        &mut self,
        fill: &Expr,
        len: &Expr,
        fixed: bool,
        annotation: Option<&syn::Type>,
        expr: &Expr,
    ) -> Operand {
        if self.mentions_active(fill) {
            self.errors.spanned(
                fill,
                "a buffer filled with a differentiated value is written `let v = vec![x; n];` (bound by a `let` of its own), or starts from a constant, as in `[0.0; 16]`, with the values written in a loop",
            );
            return self.dummy();
        }
        let element = annotation
            .and_then(|ty| Shape::of(ty, &self.floats))
            .map(|(float, _, _)| float);
        let float = element
            .clone()
            .or_else(|| literal_float(fill, &self.floats))
            .or_else(|| {
                is_float_literal(&strip_parens(fill).to_token_stream()).then(|| self.ret.clone())
            });
        let fill = match (element, strip_parens(fill)) {
            // `let b: [f64; 3] = [0.0; 3];`: the annotation typed the literal,
            // and the generated `let` has no annotation, so the literal says it.
            (Some(float), Expr::Lit(lit)) if is_float_literal(&lit.to_token_stream()) => {
                Operand::Const(Constant {
                    tokens: float.typed_literal(&lit.to_token_stream().to_string()),
                    atomic: true,
                    float: Some(float),
                })
            }
            _ => self.expr(fill),
        };
        let len = self.expr(len);
        // A length is a `usize` (`vec![0.0; layer.n_out]`, of a field whose
        // type the function does not show): the backward pass may keep it.
        if let Operand::Node(id) = len {
            self.nodes[id]
                .ty
                .get_or_insert_with(|| syn::parse_quote!(usize));
        }
        let active = float.is_some()
            && self
                .nodes
                .iter()
                .any(|n| matches!(n.kind, NodeKind::Param) && n.active);
        let id = self.push(
            Node::new(
                Hint::Op("buffer".into()),
                NodeKind::Buffer {
                    fill,
                    len: len.clone(),
                    fixed,
                    growable: false,
                },
                span_of(expr),
            )
            .active_if(active)
            .typed(float.as_ref().map(FloatTy::to_type))
            .array_of(Some(ArrayInfo { len, fixed })),
        );
        Operand::Node(id)
    }

    /// `w.to_vec()`, `w.clone()`, or `w` into a `let mut`: a copy of an array,
    /// to write into. A copy of a data slice is a buffer like any other: what
    /// is written into it may depend on the inputs.
    pub(super) fn copied_array(&self, expr: &Expr, mutable: bool) -> Option<(NodeId, Ident)> {
        let (source, explicit) = match strip_parens(expr) {
            Expr::MethodCall(call)
                if call.args.is_empty()
                    && (call.method == "to_vec"
                        || call.method == "to_owned"
                        || call.method == "clone") =>
            {
                (strip_parens(&call.receiver), true)
            }
            // `let mut q = *y;` of a `&[f64; 3]`, as of an array by value.
            other if mutable => (super::dereferenced(other).unwrap_or(other), false),
            _ => return None,
        };
        let Expr::Path(path) = source else {
            return None;
        };
        let name = path.path.get_ident()?.clone();
        let id = self.array_local(source)?;
        // `let mut p = q;` of a data slice only copies the reference.
        (explicit || self.nodes[id].active).then_some((id, name))
    }

    /// A new buffer with the source's length, filled element by element: the
    /// loop a person writes when only `vec![0.0; n]` is allowed.
    pub(super) fn copy_array(
        &mut self,
        target: &Ident,
        source: NodeId,
        source_name: &Ident,
        expr: &Expr,
    ) {
        let Some(info) = self.nodes[source].array.clone() else {
            return;
        };
        let float = self.nodes[source]
            .float(&self.floats)
            .unwrap_or_else(|| self.ret.clone());
        let buffer = self.zero_buffer(Hint::User(target.clone()), float, info, span_of(expr));
        // `let x = x.to_vec();`: filled under another name, so that the
        // loop reads the earlier `x`, and then bound to the user's.
        let user_target = target;
        let filled = self.part_names.fresh(&format!("{target}_filled"));
        let target = match target == source_name {
            true => &filled,
            false => target,
        };
        self.declare(target, buffer);
        // A loop variable that is neither array's name.
        let index = ["k", "j", "i"]
            .into_iter()
            .find(|n| target != n && source_name != n)
            .map_or_else(
                || quote::format_ident!("k"),
                |n| quote::format_ident!("{n}"),
            );
        let looped: syn::ExprForLoop = syn::parse_quote_spanned! {expr.span()=>
            for #index in 0..#source_name.len() {
                #target[#index] = #source_name[#index];
            }
        };
        self.for_loop(&looped);
        self.declare(user_target, buffer);
    }

    /// `[a, b, c]` of differentiated values: a buffer of that length, written
    /// element by element, as a person would if only `[0.0; 3]` were allowed.
    pub(super) fn array_literal(
        &mut self,
        array: &syn::ExprArray,
        annotation: Option<&syn::Type>,
        expr: &Expr,
        fixed: bool,
    ) -> Operand {
        let values: Vec<Operand> = array.elems.iter().map(|e| self.expr(e)).collect();
        let float = annotation
            .and_then(|ty| Shape::of(ty, &self.floats))
            .map(|(float, _, _)| float)
            .or_else(|| values.iter().find_map(|v| self.float_of(v)))
            .unwrap_or_else(|| self.ret.clone());
        // Lengths and indices, spelled without a `usize` suffix.
        let constant = |n: usize| {
            let n = proc_macro2::Literal::usize_unsuffixed(n);
            Operand::Const(Constant {
                tokens: quote!(#n),
                atomic: true,
                float: None,
            })
        };
        let len = constant(array.elems.len());
        let info = ArrayInfo { len, fixed };
        let buffer = self.zero_buffer(Hint::Op("array".into()), float, info, span_of(expr));
        for ((k, value), element) in values.into_iter().enumerate().zip(&array.elems) {
            self.write_node(buffer, constant(k), value, span_of(element));
        }
        Operand::Node(buffer)
    }

    /// `Vec::new()`, `Vec::with_capacity(n)`, `vec![]`: a vector of floats
    /// that `push` fills. Its adjoint is sized by its length at the end of
    /// its block (`growable_lengths`).
    pub(super) fn growable_buffer(
        &mut self,
        annotation: Option<&syn::Type>,
        expr: &Expr,
    ) -> Operand {
        let float = annotation
            .and_then(|ty| Shape::of(ty, &self.floats))
            .map(|(float, _, _)| float)
            .unwrap_or_else(|| self.ret.clone());
        let zero = Operand::Const(Constant {
            tokens: float.zero(),
            atomic: true,
            float: Some(float.clone()),
        });
        // Until the block ends: the length it starts with.
        let len = Operand::Const(Constant {
            tokens: quote!(0),
            atomic: true,
            float: None,
        });
        let info = ArrayInfo {
            len: len.clone(),
            fixed: false,
        };
        let id = self.push(
            Node::new(
                Hint::Op("buffer".into()),
                NodeKind::Buffer {
                    fill: zero,
                    len,
                    fixed: false,
                    growable: true,
                },
                span_of(expr),
            )
            .active_if(true)
            .typed(Some(float.to_type()))
            .array_of(Some(info)),
        );
        Operand::Node(id)
    }

    /// `out.push(value)` on a vector from `Vec::new()`: a write at its length.
    pub(super) fn push_onto(&mut self, array: NodeId, value: &Expr, call: &syn::ExprMethodCall) {
        let receiver = &call.receiver;
        let index = self.inactive(&syn::parse_quote_spanned!(call.method.span()=> #receiver.len()));
        if let Operand::Node(id) = index {
            self.nodes[id].ty = Some(syn::parse_quote!(usize));
        }
        let value = self.expr(value);
        self.write_or_push(array, index, value, true, span_of(call));
    }

    /// The vector from `Vec::new()` that `expr` names.
    pub(super) fn growable(&self, expr: &Expr) -> Option<NodeId> {
        self.array_local(expr)
            .filter(|&id| matches!(self.nodes[id].kind, NodeKind::Buffer { growable: true, .. }))
    }

    /// At the end of a block: the length of each vector it made with
    /// `Vec::new()`, which sizes its adjoint.
    pub(super) fn growable_lengths(&mut self) {
        let region = self.region;
        let growing: Vec<NodeId> = (0..self.nodes.len())
            .filter(|&id| {
                self.nodes[id].region == region
                    && matches!(
                        self.nodes[id].kind,
                        NodeKind::Buffer {
                            growable: true,
                            len: Operand::Const(_),
                            ..
                        }
                    )
            })
            .collect();
        for array in growing {
            let span = self.nodes[array].span;
            let len = self.push(
                Node::new(Hint::Op("len".into()), NodeKind::Len { array }, span)
                    .typed(Some(syn::parse_quote!(usize))),
            );
            if let NodeKind::Buffer {
                len: buffer_len, ..
            } = &mut self.nodes[array].kind
            {
                *buffer_len = Operand::Node(len);
            }
            if let Some(info) = &mut self.nodes[array].array {
                info.len = Operand::Node(len);
            }
        }
    }

    /// `vec![0.0; n]`.
    pub(super) fn vec_buffer(
        &mut self,
        mac: &syn::Macro,
        annotation: Option<&syn::Type>,
        expr: &Expr,
    ) -> Operand {
        let parsed = vec_repeat(mac);
        let elements = mac
            .parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated);
        match (parsed, elements) {
            (Ok((fill, len)), _) => self.buffer(&fill, &len, false, annotation, expr),
            // `vec![a, b, c]` of differentiated values: a buffer written element
            // by element.
            (Err(_), Ok(elems)) => {
                let array = syn::ExprArray {
                    attrs: Vec::new(),
                    bracket_token: syn::token::Bracket(*mac.delimiter.span()),
                    elems,
                };
                if self.literal_is_buffer(&array) {
                    self.array_literal(&array, annotation, expr, false)
                } else {
                    // Data: the same vector, spelled without a macro so that the
                    // locals it mentions are seen.
                    let data: Expr = syn::parse_quote_spanned!(expr.span()=> #array.to_vec());
                    self.inactive(&data)
                }
            }
            _ => {
                self.errors.spanned(
                    mac,
                    "only `vec![value; length]` is supported; build other vectors outside the function",
                );
                self.dummy()
            }
        }
    }

    /// `let v = vec![x0; n];` (or `[x0; 3]`) of a value computed from the
    /// inputs, as the statements it stands for: the value once, a buffer of
    /// zeros, and a loop writing the value into each element, so that each
    /// element is a differentiated value like any other written into a
    /// buffer. `None` where the fill is a constant (a buffer as it is).
    pub(super) fn filled_buffer(
        &mut self,
        name: &Ident,
        expr: &Expr,
        annotation: Option<&syn::Type>,
    ) -> Option<Vec<syn::Stmt>> {
        let (fill, len, fixed) = match strip_parens(expr) {
            Expr::Repeat(repeat) => ((*repeat.expr).clone(), (*repeat.len).clone(), true),
            Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
                let (fill, len) = vec_repeat(&mac.mac).ok()?;
                (fill, len, false)
            }
            _ => return None,
        };
        if !self.mentions_active(&fill) {
            return None;
        }
        // An annotation types the literal itself (`0.0` under it); without
        // one, the zero says the fill's float.
        let zero = match annotation {
            Some(_) => quote!(0.0),
            None => self
                .guess_type(&fill)
                .and_then(|ty| self.floats.of_type(&ty))
                .unwrap_or_else(|| self.ret.clone())
                .zero(),
        };
        let value = self.part_names.fresh(&format!("{name}_fill"));
        let k = self.part_names.fresh("k");
        let ty = annotation.map(|ty| quote!(: #ty));
        let zeros = if fixed {
            quote!([#zero; #len])
        } else {
            quote!(vec![#zero; #len])
        };
        let span = expr.span();
        let block: syn::Block = syn::parse_quote_spanned! {span=> {
            let #value = #fill;
            let mut #name #ty = #zeros;
            for #k in 0..#name.len() {
                #name[#k] = #value;
            }
        }};
        Some(block.stmts)
    }

    /// `let p: [f64; 3] = std::array::from_fn(|i| a[i] * b[i]);` as the
    /// statements it stands for: an array of zeros, and a loop writing each
    /// element with the closure's body, its parameter the loop's index.
    /// `None` where the expression is no such call, or the annotation is not
    /// an array of floats (the length comes from it).
    pub(super) fn array_from_fn(
        &mut self,
        name: &Ident,
        expr: &Expr,
        annotation: Option<&syn::Type>,
    ) -> Option<Vec<syn::Stmt>> {
        let Expr::Call(call) = strip_parens(expr) else {
            return None;
        };
        let Expr::Path(path) = &*call.func else {
            return None;
        };
        let segments = segment_names(&path.path);
        if !segments.ends_with(&["array".to_string(), "from_fn".to_string()])
            || call.args.len() != 1
        {
            return None;
        }
        let Expr::Closure(closure) = strip_parens(&call.args[0]) else {
            return None;
        };
        let refuse = |lowerer: &mut Self, message: &str| {
            lowerer.errors.spanned(expr, message);
            let mark = lowerer.nodes.len();
            let id = lowerer.bind(name, lowerer.dummy(), mark, None);
            lowerer.declare(name, id);
            Some(Vec::new())
        };
        // `from_fn::<f64, 3, _>(..)` says the type as an annotation would.
        let spelled =
            path.path
                .segments
                .last()
                .and_then(|last| match &last.arguments {
                    syn::PathArguments::AngleBracketed(args) => {
                        match args.args.iter().collect::<Vec<_>>()[..] {
                            // (A length parses as a const, or as a type where it
                            // could be either: `N`.)
                            [syn::GenericArgument::Type(elem), len @ (syn::GenericArgument::Const(_)
                            | syn::GenericArgument::Type(_)), _] => {
                                Some(syn::parse_quote!([#elem; #len]))
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                });
        let annotation = annotation.or(spelled.as_ref());
        let array = match annotation {
            Some(syn::Type::Array(array)) => array,
            Some(_) => return None,
            None if self.mentions_active(expr) => {
                return refuse(
                    self,
                    "an array built by `std::array::from_fn` needs its type written, as in `let p: [f64; 3] = std::array::from_fn(|i| ..);`",
                )
            }
            None => return None,
        };
        // (`[_; 3]` is of the function's float.)
        if !matches!(&*array.elem, syn::Type::Infer(_)) {
            self.floats.of_type(&array.elem)?;
        }
        let body_names = crate::emit::names::identifiers(closure.body.to_token_stream());
        // (`return` in the closure's body would leave the loop's function.)
        if body_names.contains("return") {
            return None;
        }
        // The body reads an earlier variable of the array's name (`let x:
        // [f64; 3] = from_fn(|i| x[i] * 2.0);`): the loop writes the new
        // array under another name, bound to the user's after it, where the
        // loop writing it under that name would read the new one.
        let shadows = body_names.contains(&name.to_string());
        let user_name = name;
        let filled = self.part_names.fresh(&format!("{name}_filled"));
        let name = match shadows {
            true => &filled,
            false => name,
        };
        let [param] = closure.inputs.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        // `|i|`, `|k: usize|`, `|_|`: the loop's index.
        let param = match param {
            syn::Pat::Type(typed) => &*typed.pat,
            untyped => untyped,
        };
        let index = match param {
            syn::Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                ident.ident.clone()
            }
            syn::Pat::Wild(_) => self.part_names.fresh("k"),
            _ => return None,
        };
        let (ty, len, body) = (annotation, &array.len, &closure.body);
        // (Bound, not copied: the array is the user's from here on.)
        let rebound = shadows.then(|| quote::quote_spanned!(expr.span()=> let #user_name = #name;));
        let block: syn::Block = syn::parse_quote_spanned! {expr.span()=> {
            let mut #name: #ty = [0.0; #len];
            for #index in 0..#name.len() {
                #name[#index] = #body;
            }
            #rebound
        }};
        Some(block.stmts)
    }

    /// The differentiated array an iterator chain starts from: `w` in
    /// `w.iter().map(..)`.
    pub(super) fn chain_root_array(&self, expr: &Expr) -> Option<NodeId> {
        match strip_parens(expr) {
            // A reduction's result is a float, not a chain.
            Expr::MethodCall(call)
                if ["sum", "product", "fold"].contains(&call.method.to_string().as_str()) =>
            {
                None
            }
            Expr::MethodCall(call) => self.chain_root_array(&call.receiver),
            Expr::Reference(r) => self.chain_root_array(&r.expr),
            other => self.array_local(other).filter(|id| self.nodes[*id].active),
        }
    }

    /// A buffer of `len` zeros of `float`, which differentiated values are
    /// written into: an array literal, or a copy of an array.
    pub(super) fn zero_buffer(
        &mut self,
        hint: Hint,
        float: FloatTy,
        info: ArrayInfo,
        span: Span,
    ) -> NodeId {
        self.push(
            Node::new(
                hint,
                NodeKind::Buffer {
                    fill: Operand::Const(Constant {
                        tokens: float.zero(),
                        atomic: true,
                        float: Some(float.clone()),
                    }),
                    len: info.len.clone(),
                    fixed: info.fixed,
                    growable: false,
                },
                span,
            )
            .active_if(true)
            .typed(Some(float.to_type()))
            .array_of(Some(info)),
        )
    }

    /// The type of an inactive value, where its spelling tells; needed only if the
    /// backward pass reads it from the tape.
    /// Whether an array literal is a buffer of floats (lowered element by
    /// element) rather than data kept as written.
    pub(super) fn literal_is_buffer(&self, array: &syn::ExprArray) -> bool {
        let literal = Expr::Array(array.clone());
        self.mentions_active(&literal) || self.holds_floats(array) || contains_branch(&literal)
    }

    /// Whether an array literal holds floats (`[1.0, 0.0]`, `vec![T::one(), x]`:
    /// a literal, or a value whose type is known to be a float): then it is a
    /// buffer the function may write differentiated values into.
    pub(super) fn holds_floats(&self, array: &syn::ExprArray) -> bool {
        array.elems.iter().any(|e| {
            let e = match strip_parens(e) {
                Expr::Unary(u) => &*u.expr,
                other => other,
            };
            literal_float(e, &self.floats).is_some()
                || is_float_literal(&strip_parens(e).to_token_stream())
                || self
                    .guess_type(e)
                    .as_ref()
                    .and_then(|ty| self.floats.of_type(ty))
                    .is_some()
        })
    }
}

/// The fill and the length of `vec![fill; len]`.
pub(crate) fn vec_repeat(mac: &syn::Macro) -> syn::Result<(Expr, Expr)> {
    mac.parse_body_with(|input: syn::parse::ParseStream| {
        let fill: Expr = input.parse()?;
        input.parse::<syn::Token![;]>()?;
        let len: Expr = input.parse()?;
        Ok((fill, len))
    })
}

/// Whether `expr` makes an empty vector: `Vec::new()`,
/// `Vec::with_capacity(n)`, `Vec::<f64>::new()`, `vec![]`.
pub(crate) fn is_empty_vec(expr: &Expr) -> bool {
    match strip_parens(expr) {
        Expr::Call(call) => match strip_parens(&call.func) {
            Expr::Path(p) => {
                let segments = segment_names(&p.path);
                matches!(
                    segments
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .as_slice(),
                    [.., "Vec", "new"] | [.., "Vec", "with_capacity"]
                )
            }
            _ => false,
        },
        Expr::Macro(mac) => mac.mac.path.is_ident("vec") && mac.mac.tokens.is_empty(),
        _ => false,
    }
}
