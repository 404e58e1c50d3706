//! Methods: `#[differentiate]` on an `impl` block differentiates the methods
//! marked `#[differentiate]` inside it.
//!
//! A method reads its model through `&self`. Its derivative is taken with
//! respect to the fields it reads as floats or float arrays (the weights) and
//! its own float parameters. Each marked method becomes a free function of the
//! model (as data), those fields and its parameters, which is differentiated like
//! any function: `fn loss(&self, x: &[f64]) -> f64` reading `self.w` and `self.b`
//! becomes `fn linear_loss(linear: &Linear, w: &[f64], b: f64, x: &[f64]) -> f64`,
//! whose module `linear_loss` is emitted beside the impl. The impl gains
//! `loss_grad(&self, x)` and `loss_forward(&self, x)`.
//!
//! A field is data, not differentiated, when the body uses it as an integer: in a
//! range, as an index, cast with `as`, or converted with `T::from`.

use crate::emit::names::Names;
use crate::errors::Errors;
use crate::lower::strip_parens as strip;
use crate::parse::args::Args;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, ImplItem};

/// How a method uses a field of `self`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Use {
    /// A float: differentiated.
    Scalar,
    /// Indexed, iterated, measured or passed by reference: a float array,
    /// differentiated.
    Array,
    /// Used as an integer, or a field of a field: passed through.
    Data,
}

/// A marked method.
struct Marked {
    method: syn::ImplItemFn,
    args: TokenStream,
    /// The module of its derivative, and the name of its free function.
    module: Ident,
    /// The differentiated fields it reads, itself or through the marked methods
    /// it calls.
    fields: Vec<Ident>,
}

pub fn expand_impl(attr: TokenStream, block: syn::ItemImpl) -> syn::Result<TokenStream> {
    let mut stripped = block.clone();
    let mut ignored = Errors::default();
    take_marked_methods(&mut stripped, &format_ident!("model"), &mut ignored);
    // On errors the impl stays, without the markers, which would otherwise be
    // expanded one by one and report that they need the impl's attribute.
    Ok(match expand_marked(attr, block) {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = error.into_compile_error();
            tokens.extend(quote!(#stripped));
            tokens
        }
    })
}

fn expand_marked(attr: TokenStream, mut block: syn::ItemImpl) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    if !attr.is_empty() {
        errors.spanned(
            &attr,
            "`#[differentiate]` on an `impl` block takes no arguments; give `wrt(...)` to a method",
        );
    }
    if let Some((path, _)) = &block.trait_ {
        errors.spanned(
            path,
            "methods of trait impls cannot be differentiated; differentiate an inherent method and call it from the trait's",
        );
    }
    let type_ident = match &*block.self_ty {
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    };
    let Some(type_ident) = type_ident else {
        return Err(syn::Error::new_spanned(
            &block.self_ty,
            "`#[differentiate]` applies to the `impl` block of a named struct",
        ));
    };
    let any_marker = block.items.iter().any(|item| {
        matches!(item, ImplItem::Fn(f) if f.attrs.iter().any(|a| a.path().is_ident("differentiate")))
    });
    let mut marked = take_marked_methods(&mut block, &type_ident, &mut errors);
    if !any_marker {
        errors.spanned(
            &block.self_ty,
            "mark the methods to differentiate with `#[differentiate]`, as in `#[differentiate] fn loss(&self, x: f64) -> f64`",
        );
    }
    for m in &marked {
        refuse_nested_fields(&m.method, &mut errors);
    }
    errors.finish()?;
    let uses = field_uses(&marked);
    collect_fields(&mut marked, &uses);
    let mut modules = TokenStream::new();
    let mut wrappers = Vec::new();
    let mut errors = Errors::default();
    for m in &marked {
        let free = free_function(m, &marked, &block, &type_ident, &uses);
        let args = match Args::parse(m.args.clone()) {
            Ok(mut args) => {
                args.data.push(locals(m, &type_ident).model);
                args
            }
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        match crate::expand::module_of(&free, &args, Errors::default()) {
            Ok(module) => {
                // The free function itself too: a call of one marked method in
                // another's condition (`if self.g(t) > 0.0`) is kept as written,
                // and calls it.
                // It repeats the user's method, whose own lints apply there.
                let mut plain = free.clone();
                plain.attrs.push(syn::parse_quote!(#[doc(hidden)]));
                plain
                    .attrs
                    .push(syn::parse_quote!(#[allow(dead_code, clippy::all, clippy::pedantic)]));
                modules.extend(quote!(#plain));
                modules.extend(module);
            }
            Err(error) => errors.push(error),
        }
        wrappers.extend(wrapper_methods(m, &block, &uses));
    }
    errors.finish()?;
    block.items.extend(wrappers);
    Ok(quote!(#block #modules))
}

/// The methods marked `#[differentiate]`, with the marker removed.
fn take_marked_methods(
    block: &mut syn::ItemImpl,
    type_ident: &Ident,
    errors: &mut Errors,
) -> Vec<Marked> {
    let mut marked = Vec::new();
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        let Some(position) = method
            .attrs
            .iter()
            .position(|a| a.path().is_ident("differentiate"))
        else {
            continue;
        };
        let attr = method.attrs.remove(position);
        let args = match attr.meta {
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::List(list) => list.tokens,
            syn::Meta::NameValue(value) => {
                errors.spanned(
                    value,
                    "expected `#[differentiate]` or `#[differentiate(wrt(...))]`",
                );
                continue;
            }
        };
        if let Some(receiver) = method.sig.receiver() {
            if !matches!(receiver.kind, syn::ReceiverKind::Reference(_, _, None)) {
                errors.spanned(
                    receiver,
                    "a differentiated method takes `&self`; write the model's update as a separate method",
                );
                continue;
            }
        }
        let module = format_ident!(
            "{}_{}",
            snake_case(&type_ident.to_string()),
            method.sig.ident.to_string().trim_start_matches("r#")
        );
        marked.push(Marked {
            method: method.clone(),
            args,
            module,
            fields: Vec::new(),
        });
    }
    marked
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `self.w` as an expression: the field's name.
fn self_field(expr: &Expr) -> Option<&Ident> {
    let Expr::Field(field) = strip(expr) else {
        return None;
    };
    let syn::Member::Named(name) = &field.member else {
        return None;
    };
    matches!(strip(&field.base), Expr::Path(p) if p.path.is_ident("self")).then_some(name)
}

/// `self.layers[l][i]`: weights in nested vectors have no slice to differentiate
/// with respect to.
fn refuse_nested_fields(method: &syn::ImplItemFn, errors: &mut Errors) {
    struct Nested<'e>(&'e mut Errors);
    impl<'ast> Visit<'ast> for Nested<'_> {
        fn visit_expr_index(&mut self, index: &'ast syn::ExprIndex) {
            if let Expr::Index(inner) = strip(&index.expr) {
                if self_field(&inner.expr).is_some() {
                    self.0.spanned(
                        index,
                        "weights in nested vectors are not supported; flatten them into one `Vec<f64>` and index it as `w[l * width + i]`",
                    );
                    return;
                }
            }
            syn::visit::visit_expr_index(self, index);
        }
    }
    Nested(errors).visit_block(&method.block);
}

/// How the marked methods, all together, use each field of `self`: the
/// strongest use wins (data over array over scalar), so every method agrees.
fn field_uses(marked: &[Marked]) -> BTreeMap<String, Use> {
    #[derive(Default)]
    struct Uses {
        uses: BTreeMap<String, Use>,
        /// Fields passed by reference (`&self.w`): an array passed whole, or
        /// a float passed to a `&f64` parameter; their other uses decide.
        referenced: BTreeSet<String>,
        /// Fields used as floats: receivers of float methods, operands of
        /// arithmetic.
        as_float: BTreeSet<String>,
    }
    impl Uses {
        fn mark(&mut self, expr: &Expr, used: Use) {
            if let Some(name) = self_field(expr) {
                let entry = self.uses.entry(name.to_string()).or_insert(used);
                *entry = (*entry).max(used);
            }
        }
        fn note(set: &mut BTreeSet<String>, expr: &Expr) {
            if let Some(name) = self_field(expr) {
                set.insert(name.to_string());
            }
        }
    }
    impl<'ast> Visit<'ast> for Uses {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::Index(index) => {
                    self.mark(&index.index, Use::Data);
                    self.mark(&index.expr, Use::Array);
                }
                Expr::Range(range) => {
                    for end in range.start.iter().chain(&range.end) {
                        self.mark(end, Use::Data);
                    }
                }
                Expr::Cast(cast) => self.mark(&cast.expr, Use::Data),
                // `T::from(self.n)`: a count converted to the float type.
                Expr::Call(call) => {
                    let converts = matches!(strip(&call.func), Expr::Path(p)
                        if p.path.segments.len() == 2
                            && p.path.segments[1].ident == "from"
                            && p.path.segments[0].ident != "f64"
                            && p.path.segments[0].ident != "f32");
                    if converts {
                        for arg in &call.args {
                            self.mark(arg, Use::Data);
                        }
                    }
                }
                Expr::MethodCall(call) if call.method == "len" || call.method == "iter" => {
                    self.mark(&call.receiver, Use::Array);
                }
                Expr::MethodCall(call)
                    if crate::rules::method(&call.method.to_string()).is_some() =>
                {
                    Self::note(&mut self.as_float, &call.receiver);
                }
                Expr::Binary(binary) => {
                    Self::note(&mut self.as_float, &binary.left);
                    Self::note(&mut self.as_float, &binary.right);
                }
                Expr::Reference(r) => Self::note(&mut self.referenced, &r.expr),
                Expr::Field(field) => {
                    // `self.layer.w`: a field of a field is data.
                    self.mark(&field.base, Use::Data);
                    self.mark(expr, Use::Scalar);
                }
                _ => {}
            }
            syn::visit::visit_expr(self, expr);
        }
    }
    let mut uses = Uses::default();
    for m in marked {
        uses.visit_block(&m.method.block);
    }
    // `h(&self.b)` of a field also used as a float passes a `&f64`; any
    // other field passed by reference is an array.
    let Uses {
        mut uses,
        referenced,
        as_float,
    } = uses;
    for name in referenced {
        let passed = if as_float.contains(&name) {
            Use::Scalar
        } else {
            Use::Array
        };
        let entry = uses.entry(name).or_insert(passed);
        *entry = (*entry).max(passed);
    }
    uses
}

/// Each method's differentiated fields: those it reads, and those of the
/// marked methods it calls, to a fixpoint.
fn collect_fields(marked: &mut [Marked], uses: &BTreeMap<String, Use>) {
    struct Reads<'a> {
        uses: &'a BTreeMap<String, Use>,
        fields: Vec<Ident>,
        calls: BTreeSet<String>,
    }
    impl<'ast> Visit<'ast> for Reads<'_> {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            if let Some(name) = self_field(expr) {
                let differentiated = self.uses.get(&name.to_string()) != Some(&Use::Data);
                if differentiated && !self.fields.contains(name) {
                    self.fields.push(name.clone());
                }
            }
            match expr {
                Expr::MethodCall(call) if matches!(strip(&call.receiver), Expr::Path(p) if p.path.is_ident("self")) =>
                {
                    self.calls.insert(call.method.to_string());
                }
                Expr::Call(call) => {
                    if let Expr::Path(p) = strip(&call.func) {
                        if p.path.segments.len() == 2 && p.path.segments[0].ident == "Self" {
                            self.calls.insert(p.path.segments[1].ident.to_string());
                        }
                    }
                }
                _ => {}
            }
            syn::visit::visit_expr(self, expr);
        }
    }
    let mut calls = Vec::new();
    for m in marked.iter_mut() {
        let mut reads = Reads {
            uses,
            fields: Vec::new(),
            calls: BTreeSet::new(),
        };
        reads.visit_block(&m.method.block);
        m.fields = reads.fields;
        calls.push(reads.calls);
    }
    loop {
        let mut changed = false;
        for i in 0..marked.len() {
            for j in 0..marked.len() {
                if i == j || !calls[i].contains(&marked[j].method.sig.ident.to_string()) {
                    continue;
                }
                for field in marked[j].fields.clone() {
                    if !marked[i].fields.contains(&field) {
                        marked[i].fields.push(field);
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// The identifiers of a method, but for the fields it reads through `self`:
/// the names a new local must avoid.
fn identifiers(method: &syn::ImplItemFn) -> HashSet<String> {
    struct Seen(HashSet<String>);
    impl<'ast> Visit<'ast> for Seen {
        fn visit_ident(&mut self, ident: &'ast Ident) {
            self.0.insert(ident.to_string());
        }
        fn visit_expr_field(&mut self, field: &'ast syn::ExprField) {
            self.visit_expr(&field.base);
            if let syn::Member::Named(name) = &field.member {
                let on_self =
                    matches!(strip(&field.base), Expr::Path(p) if p.path.is_ident("self"));
                if !on_self {
                    self.visit_ident(name);
                }
            }
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            self.0
                .extend(crate::emit::names::identifiers(mac.tokens.clone()));
            syn::visit::visit_macro(self, mac);
        }
    }
    let mut seen = Seen(HashSet::new());
    seen.visit_impl_item_fn(method);
    seen.0
}

/// The names the free function gives the model and each field it reads.
struct Locals {
    model: Ident,
    fields: BTreeMap<String, Ident>,
    /// New names for the user's bindings that have a field's name
    /// (`let w = self.w[0];`): the field keeps its name, which `Grad` shows.
    shadows: BTreeMap<String, Ident>,
}

fn locals(m: &Marked, type_ident: &Ident) -> Locals {
    let mut taken = identifiers(&m.method);
    taken.insert(m.module.to_string());
    let mut names = Names::avoiding(taken);
    let model = names.fresh(&snake_case(&type_ident.to_string()));
    let fields = m
        .fields
        .iter()
        .map(|f| (f.to_string(), f.clone()))
        .collect();
    let shadows = m
        .fields
        .iter()
        .map(|f| (f.to_string(), names.fresh(&f.to_string())))
        .collect();
    Locals {
        model,
        fields,
        shadows,
    }
}

/// `vec![2.0, self.w[3]]`, `println!("{}", self.b)`: a macro's arguments are
/// code too, when they parse as expressions, and are rewritten like the rest.
fn visit_macro_arguments(visitor: &mut impl VisitMut, mac: &mut syn::Macro) {
    let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
    if let Ok(mut args) = syn::parse::Parser::parse2(parser, mac.tokens.clone()) {
        for arg in &mut args {
            visitor.visit_expr_mut(arg);
        }
        mac.tokens = quote!(#args);
    }
}

/// Renames the user's bindings and uses of a name in `renames` (not
/// `self.w`, a field access, which the method rewriting replaces).
struct RenameShadows<'a>(&'a BTreeMap<String, Ident>);

impl VisitMut for RenameShadows<'_> {
    fn visit_pat_ident_mut(&mut self, pat: &mut syn::PatIdent) {
        if let Some(name) = self.0.get(&pat.ident.to_string()) {
            pat.ident = name.clone();
        }
        syn::visit_mut::visit_pat_ident_mut(self, pat);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        visit_macro_arguments(self, mac);
    }

    fn visit_expr_path_mut(&mut self, expr: &mut syn::ExprPath) {
        if expr.qself.is_none() && expr.path.segments.len() == 1 {
            let segment = &mut expr.path.segments[0];
            if let Some(name) = self.0.get(&segment.ident.to_string()) {
                segment.ident = name.clone();
            }
        }
    }
}

/// The float type a method computes in: its return type's.
fn float_type(method: &syn::ImplItemFn) -> syn::Type {
    fn first_float(ty: &syn::Type) -> Option<syn::Type> {
        match ty {
            syn::Type::Tuple(t) => t.elems.first().and_then(first_float),
            syn::Type::Array(a) => first_float(&a.elem),
            syn::Type::Paren(p) => first_float(&p.elem),
            syn::Type::Path(_) => Some(ty.clone()),
            _ => None,
        }
    }
    match &method.sig.output {
        syn::ReturnType::Type(_, ty) => first_float(ty),
        syn::ReturnType::Default => None,
    }
    .unwrap_or_else(|| syn::parse_quote!(f64))
}

/// The marked method as a free function of the model, its fields and its
/// parameters.
fn free_function(
    m: &Marked,
    marked: &[Marked],
    block: &syn::ItemImpl,
    type_ident: &Ident,
    uses: &BTreeMap<String, Use>,
) -> syn::ItemFn {
    let names = locals(m, type_ident);
    let float = float_type(&m.method);
    let self_ty = &block.self_ty;
    let model = &names.model;
    let mut inputs: Vec<TokenStream> = Vec::new();
    if m.method.sig.receiver().is_some() {
        inputs.push(quote!(#model: &#self_ty));
        for field in &m.fields {
            let local = &names.fields[&field.to_string()];
            match uses.get(&field.to_string()) {
                Some(Use::Array) => inputs.push(quote!(#local: &[#float])),
                _ => inputs.push(quote!(#local: #float)),
            }
        }
    }
    let mut rename = RenameShadows(&names.shadows);
    for input in &m.method.sig.inputs {
        if let syn::FnArg::Typed(typed) = input {
            let mut typed = typed.clone();
            rename.visit_pat_mut(&mut typed.pat);
            inputs.push(quote!(#typed));
        }
    }
    let mut body = m.method.block.clone();
    rename.visit_block_mut(&mut body);
    Rewrite {
        names: &names,
        uses,
        marked,
        self_ty,
    }
    .visit_block_mut(&mut body);
    // A method that reads no data field and calls no other marked method does
    // not use the model: its parameter says so, for the lints.
    let has_self = m.method.sig.receiver().is_some();
    if has_self && !crate::emit::names::identifiers(quote!(#body)).contains(&model.to_string()) {
        if let Some(first) = inputs.first_mut() {
            let unused = format_ident!("_{}", model);
            *first = quote!(#unused: &#self_ty);
        }
    }
    let mut generics = block.generics.clone();
    generics
        .params
        .extend(m.method.sig.generics.params.iter().cloned());
    if let Some(clause) = &m.method.sig.generics.where_clause {
        generics
            .make_where_clause()
            .predicates
            .extend(clause.predicates.iter().cloned());
    }
    let (ident, output) = (&m.module, &m.method.sig.output);
    let (params, _, where_clause) = generics.split_for_impl();
    let attrs = crate::expand::lint_attributes(&m.method.attrs);
    let vis = &m.method.vis;
    syn::parse_quote! {
        #(#attrs)*
        #vis fn #ident #params (#(#inputs),*) #output #where_clause #body
    }
}

/// `self.w` becomes the field's local, `self.n` (data) `model.n`, a call of a
/// marked method a call of its free function with the fields it reads, `Self`
/// the type.
struct Rewrite<'a> {
    names: &'a Locals,
    uses: &'a BTreeMap<String, Use>,
    marked: &'a [Marked],
    self_ty: &'a syn::Type,
}

impl Rewrite<'_> {
    fn field_local(&self, expr: &Expr) -> Option<Ident> {
        let name = self_field(expr)?.to_string();
        if self.uses.get(&name) == Some(&Use::Data) {
            return None;
        }
        self.names.fields.get(&name).cloned()
    }

    fn marked(&self, method: &Ident) -> Option<&Marked> {
        self.marked.iter().find(|m| m.method.sig.ident == *method)
    }

    /// The arguments a call of a marked method passes before its own: the model
    /// and the callee's fields.
    fn leading_args(&self, callee: &Marked) -> Vec<Expr> {
        if callee.method.sig.receiver().is_none() {
            return Vec::new();
        }
        let model = &self.names.model;
        let mut args: Vec<Expr> = vec![syn::parse_quote!(#model)];
        for field in &callee.fields {
            let local = &self.names.fields[&field.to_string()];
            args.push(syn::parse_quote!(#local));
        }
        args
    }
}

impl VisitMut for Rewrite<'_> {
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        visit_macro_arguments(self, mac);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // `&self.w` of an array field is the field's slice itself.
        if let Expr::Reference(r) = expr {
            if r.mutability.is_none() {
                if let Some(local) = self.field_local(&r.expr) {
                    if self.uses.get(
                        &self_field(&r.expr)
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    ) == Some(&Use::Array)
                    {
                        *expr = syn::parse_quote!(#local);
                        return;
                    }
                }
            }
        }
        if let Some(local) = self.field_local(expr) {
            *expr = syn::parse_quote!(#local);
            return;
        }
        if let Expr::MethodCall(call) = expr {
            let on_self = matches!(strip(&call.receiver), Expr::Path(p) if p.path.is_ident("self"));
            if let Some(callee) = on_self.then(|| self.marked(&call.method)).flatten() {
                let module = &callee.module;
                let mut args = self.leading_args(callee);
                args.extend(call.args.iter().cloned());
                let mut call_expr: syn::ExprCall = syn::parse_quote!(#module(#(#args),*));
                call_expr.attrs = call.attrs.clone();
                *expr = Expr::Call(call_expr);
                syn::visit_mut::visit_expr_mut(self, expr);
                return;
            }
        }
        if let Expr::Call(call) = expr {
            if let Expr::Path(p) = strip(&call.func) {
                let segments = &p.path.segments;
                if segments.len() == 2 && segments[0].ident == "Self" {
                    if let Some(callee) = self.marked(&segments[1].ident) {
                        let module = &callee.module;
                        *call.func = syn::parse_quote!(#module);
                    }
                }
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }

    fn visit_expr_path_mut(&mut self, path: &mut syn::ExprPath) {
        if path.path.is_ident("self") {
            let model = &self.names.model;
            *path = syn::parse_quote!(#model);
            return;
        }
        syn::visit_mut::visit_expr_path_mut(self, path);
    }

    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        if path.segments.first().is_some_and(|s| s.ident == "Self") && path.segments.len() > 1 {
            let self_ty = self.self_ty;
            let rest: Vec<_> = path.segments.iter().skip(1).cloned().collect();
            *path = syn::parse_quote!(#self_ty::#(#rest)::*);
        }
        syn::visit_mut::visit_path_mut(self, path);
    }

    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Path(p) = ty {
            if p.qself.is_none() && p.path.is_ident("Self") {
                *ty = self.self_ty.clone();
                return;
            }
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// `loss_grad(&self, x)` and `loss_forward(&self, x)` in the impl, which pass
/// the fields to the module's functions.
fn wrapper_methods(
    m: &Marked,
    block: &syn::ItemImpl,
    uses: &BTreeMap<String, Use>,
) -> Vec<ImplItem> {
    let method = &m.method;
    let name = &method.sig.ident;
    let module = &m.module;
    let vis = &method.vis;
    let mut args: Vec<TokenStream> = Vec::new();
    let has_self = method.sig.receiver().is_some();
    if has_self {
        args.push(quote!(self));
        for field in &m.fields {
            args.push(match uses.get(&field.to_string()) {
                Some(Use::Array) => quote!(&self.#field),
                _ => quote!(self.#field),
            });
        }
    }
    let mut params = Vec::new();
    for input in &method.sig.inputs {
        if let syn::FnArg::Typed(typed) = input {
            let ident = match &*typed.pat {
                syn::Pat::Ident(p) => p.ident.clone(),
                _ => continue,
            };
            let ty = &typed.ty;
            // `_y` would be a used underscore binding here.
            let bare = ident.to_string();
            let passed = match bare.strip_prefix('_') {
                Some(rest) if !rest.is_empty() => format_ident!("{rest}"),
                _ => ident.clone(),
            };
            params.push(quote!(#passed: #ty));
            args.push(quote!(#passed));
        }
    }
    let receiver = if has_self { quote!(&self,) } else { quote!() };
    let generics = &method.sig.generics;
    let (method_params, _, where_clause) = generics.split_for_impl();
    let float_args = float_args(m, block);
    let ret = match &method.sig.output {
        syn::ReturnType::Type(_, ty) => quote!(#ty),
        syn::ReturnType::Default => quote!(()),
    };
    let grad_name = format_ident!("{}_grad", name.to_string().trim_start_matches("r#"));
    let forward_name = format_ident!("{}_forward", name.to_string().trim_start_matches("r#"));
    let grad_doc = format!(
        "`{name}` and its gradient with respect to the fields it reads as floats and its float parameters: `{module}::grad`."
    );
    let forward_doc = format!(
        "`{name}` and the tape of its backward pass, `{module}::backward`: `{module}::forward`."
    );
    let single_output = matches!(&method.sig.output, syn::ReturnType::Type(_, ty) if !matches!(&**ty, syn::Type::Tuple(_) | syn::Type::Array(_)));
    let writes = method.sig.inputs.iter().any(|input| {
        matches!(input, syn::FnArg::Typed(t) if matches!(&*t.ty, syn::Type::Reference(r) if r.mutability.is_some()))
    });
    let mut items: Vec<ImplItem> = vec![syn::parse_quote! {
        #[doc = #forward_doc]
        #[must_use]
        #vis fn #forward_name #method_params (#receiver #(#params),*) -> (#ret, #module::Tape #float_args) #where_clause {
            #module::forward(#(#args),*)
        }
    }];
    if single_output && !writes {
        items.push(syn::parse_quote! {
            #[doc = #grad_doc]
            #[must_use]
            #vis fn #grad_name #method_params (#receiver #(#params),*) -> (#ret, #module::Grad #float_args) #where_clause {
                #module::grad(#(#args),*)
            }
        });
    }
    items
}

/// `<T>` when the impl or the method is generic over the float type.
fn float_args(m: &Marked, block: &syn::ItemImpl) -> TokenStream {
    let float = block
        .generics
        .type_params()
        .chain(m.method.sig.generics.type_params())
        .next()
        .map(|t| t.ident.clone());
    match float {
        Some(t) => quote!(<#t>),
        None => quote!(),
    }
}
