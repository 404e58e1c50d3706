//! A marked method rewritten as a free function of the model, its fields and
//! its parameters: `self.w` becomes the parameter `w`, `self.predict(x)` a
//! call of the free function `linear_predict`.

use super::fields::Use;
use super::{self_field, snake_case, Marked};
use crate::emit::names::Names;
use crate::lower::strip_parens as strip;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};
use std::collections::{BTreeMap, HashSet};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// The identifiers of a method, but for the fields it reads through `self`:
/// the names a new local must avoid.
pub(super) fn identifiers(method: &syn::ImplItemFn) -> HashSet<String> {
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
pub(super) struct Locals {
    pub(super) model: Ident,
    pub(super) fields: BTreeMap<String, Ident>,
    /// New names for the user's bindings that have a field's name
    /// (`let w = self.w[0];`): the field keeps its name, which `Grad` shows.
    pub(super) shadows: BTreeMap<String, Ident>,
}

pub(super) fn locals(m: &Marked, type_ident: &Ident) -> Locals {
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

/// The value and length of a macro of the repeat form, `vec![v; n]`.
pub(crate) fn repeat_in(mac: &syn::Macro) -> Option<syn::ExprRepeat> {
    let tokens = &mac.tokens;
    syn::parse2(quote!([#tokens])).ok()
}

/// `vec![2.0, self.w[3]]`, `println!("{}", self.b)`: a macro's arguments are
/// code too, when they parse as expressions, and are rewritten like the rest.
pub(crate) fn visit_macro_arguments(visitor: &mut impl VisitMut, mac: &mut syn::Macro) {
    // `vec![v; n]`: both.
    if let Some(mut repeat) = repeat_in(mac) {
        visitor.visit_expr_mut(&mut repeat.expr);
        visitor.visit_expr_mut(&mut repeat.len);
        let (value, len) = (&repeat.expr, &repeat.len);
        mac.tokens = quote!(#value; #len);
        return;
    }
    let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
    if let Ok(mut args) = syn::parse::Parser::parse2(parser, mac.tokens.clone()) {
        for arg in &mut args {
            visitor.visit_expr_mut(arg);
        }
        mac.tokens = quote!(#args);
    }
}

/// The same for a visitor that only reads: each argument that parses as an
/// expression visited as one.
pub(crate) fn read_macro_arguments<V>(visitor: &mut V, mac: &syn::Macro)
where
    V: for<'ast> syn::visit::Visit<'ast>,
{
    if let Some(repeat) = repeat_in(mac) {
        visitor.visit_expr(&repeat.expr);
        visitor.visit_expr(&repeat.len);
        return;
    }
    let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
    if let Ok(args) = syn::parse::Parser::parse2(parser, mac.tokens.clone()) {
        for arg in &args {
            visitor.visit_expr(arg);
        }
    }
}

/// Renames the user's bindings and uses of a name in `renames` (not
/// `self.w`, a field access, which the method rewriting replaces).
pub(super) struct RenameShadows<'a>(&'a BTreeMap<String, Ident>);

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
pub(super) fn float_type(method: &syn::ImplItemFn) -> syn::Type {
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
pub(super) fn free_function(
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
pub(super) struct Rewrite<'a> {
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
