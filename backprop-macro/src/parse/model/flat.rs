//! The function read field by field: each struct parameter `p` is followed by
//! one parameter per field the body differentiates (`p_w: &[f64]`,
//! `p_b: f64`), and `p.w` in the body becomes `p_w`. The struct itself stays,
//! as data, for its other fields (`p.n`).
//!
//! A slice of structs `layers` is followed by one vector per field, every
//! element's in turn (`layers_b: &[f64]`, and `layers_w: &[f64]` cut at
//! `layers_w_at: &[usize]` for an array field). An element's name
//! (`let layer = &layers[l];`, see `elements.rs`) gets its index
//! (`layer_at`) and a view of each array field
//! (`let layer_w = &layers_w[layers_w_at[layer_at]..layers_w_at[layer_at + 1]];`)
//! and float field (`let layer_b = layers_b[layer_at];`), where the rest of
//! the block reads them; `layers[l].b` is `layers_b[l]`. An indexed read of
//! an array field reads the vector itself (`element_read`), and data fields
//! read as counts or conditions are gathered vectors too.

use super::elements::{element_binding, Aliases};
use super::uses::{chain_of, indexed_chain};
use super::{Leaf, Model};
use crate::emit::names::Names;
use crate::parse::method::visit_macro_arguments;
use proc_macro2::{Ident, TokenStream};
use quote::quote;
use std::collections::BTreeMap;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::Expr;

/// The body as the model analysis read it (loops over slices of structs
/// already loops over indices) and the elements' names.
pub(super) struct Read<'a> {
    pub(super) body: &'a syn::Block,
    pub(super) aliases: &'a Aliases,
}

/// The function over the fields, `pub` (it is called from the module beside
/// it), with the same name, generics and result; and the struct parameters
/// it no longer takes (every field it reads is a parameter of its own).
pub(super) fn flat_function(
    function: &syn::ItemFn,
    read: &Read,
    models: &[Model],
    float: &syn::Type,
    names: &mut Names,
) -> (syn::ItemFn, std::collections::BTreeSet<String>) {
    let mut body = read.body.clone();
    let params: Vec<Ident> = models
        .iter()
        .filter(|m| !m.slice)
        .map(|m| m.ident.clone())
        .collect();
    let slices: Vec<Ident> = models
        .iter()
        .filter(|m| m.slice)
        .map(|m| m.ident.clone())
        .collect();
    let elements = read
        .aliases
        .iter()
        .filter_map(|(alias, slice)| {
            let model = models.iter().find(|m| m.ident == *slice)?;
            let views = model
                .leaves
                .iter()
                .map(|leaf| {
                    let words: Vec<String> = leaf.path.iter().map(ToString::to_string).collect();
                    let view = names.fresh(&format!("{alias}_{}", words.join("_")));
                    (leaf.path.clone(), view)
                })
                .collect();
            let element = Element {
                model,
                at: names.fresh(&format!("{alias}_at")),
                views,
            };
            Some((alias.clone(), element))
        })
        .collect();
    Rewrite {
        models,
        params: &params,
        slices: &slices,
        elements: &elements,
    }
    .visit_block_mut(&mut body);
    let still_read = variables_read(&body);
    let mut unread = std::collections::BTreeSet::new();
    let mut inputs: Vec<TokenStream> = Vec::new();
    for input in &function.sig.inputs {
        let syn::FnArg::Typed(typed) = input else {
            continue;
        };
        let model = match &*typed.pat {
            syn::Pat::Ident(p) => models.iter().find(|m| m.ident == p.ident),
            _ => None,
        };
        let Some(model) = model else {
            inputs.push(quote!(#typed));
            continue;
        };
        let (ident, ty) = (&model.ident, &model.ty);
        // A struct whose every field read is differentiated is not read
        // itself: not a parameter (so the function is one of floats and
        // slices only, which second order covers).
        if still_read.contains(&ident.to_string()) {
            // A slice of structs as a slice, whatever holds it (`Vec<Layer>`).
            match crate::lower::element_type(ty).filter(|_| model.slice) {
                Some(element) => inputs.push(quote!(#ident: &[#element])),
                None => inputs.push(quote!(#ident: &#ty)),
            }
        } else {
            unread.insert(ident.to_string());
        }
        field_inputs(model, float, &mut inputs);
        // The slices of structs it holds, right after it.
        for held in models
            .iter()
            .filter(|m| m.owner.as_ref().is_some_and(|(owner, _)| owner == ident))
        {
            field_inputs(held, float, &mut inputs);
        }
    }
    let (ident, output) = (&function.sig.ident, &function.sig.output);
    let (params, _, where_clause) = function.sig.generics.split_for_impl();
    let attrs = crate::expand::lint_attributes(&function.attrs);
    let flat = syn::parse_quote! {
        #(#attrs)*
        pub fn #ident #params (#(#inputs),*) #output #where_clause #body
    };
    (flat, unread)
}

/// Where a part `a..b` (or `a..=b`, `a..`) of something `len` long ends.
fn range_end(range: &syn::ExprRange, len: &TokenStream) -> TokenStream {
    match (&range.end, &range.limits) {
        (Some(b), syn::RangeLimits::HalfOpen(_)) => quote!((#b)),
        (Some(b), syn::RangeLimits::Closed(_)) => quote!((#b) + 1),
        (None, _) => len.clone(),
    }
}

/// The names the body reads as variables (a path of one segment; a word of
/// a macro's arguments), not the segments of longer paths
/// (`::backprop_runtime::model::fields::within` reads no `model`).
fn variables_read(body: &syn::Block) -> std::collections::BTreeSet<String> {
    struct Reads(std::collections::BTreeSet<String>);
    impl<'ast> syn::visit::Visit<'ast> for Reads {
        fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
            if let Some(ident) = path.path.get_ident() {
                self.0.insert(ident.to_string());
            }
        }
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            words_outside_paths(mac.tokens.clone(), &mut self.0);
        }
    }
    let mut reads = Reads(std::collections::BTreeSet::new());
    syn::visit::Visit::visit_block(&mut reads, body);
    reads.0
}

/// The words of a macro's arguments that are not segments of a longer path
/// (`vec![::backprop_runtime::model::fields::within(i, n)]` reads no
/// `model`): whatever names a variable there.
fn words_outside_paths(tokens: TokenStream, words: &mut std::collections::BTreeSet<String>) {
    let trees: Vec<proc_macro2::TokenTree> = tokens.into_iter().collect();
    let is_colon = |t: Option<&proc_macro2::TokenTree>| matches!(t, Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == ':');
    for (k, tree) in trees.iter().enumerate() {
        match tree {
            proc_macro2::TokenTree::Ident(ident) => {
                let after_path = k >= 2 && is_colon(trees.get(k - 1)) && is_colon(trees.get(k - 2));
                let before_path = is_colon(trees.get(k + 1)) && is_colon(trees.get(k + 2));
                if !after_path && !before_path {
                    words.insert(ident.to_string());
                }
            }
            proc_macro2::TokenTree::Group(group) => words_outside_paths(group.stream(), words),
            _ => {}
        }
    }
}

/// The parameters a struct (or slice of them) is read as: its data fields
/// gathered, then its differentiated fields.
fn field_inputs(model: &Model, float: &syn::Type, inputs: &mut Vec<TokenStream>) {
    for data in &model.data {
        let local = &data.local;
        inputs.push(match data.count {
            true => quote!(#local: &[usize]),
            false => quote!(#local: &[bool]),
        });
    }
    for leaf in &model.leaves {
        let local = &leaf.local;
        inputs.push(match (model.slice, leaf.array) {
            (false, true) if leaf.written => quote!(#local: &mut [#float]),
            (false, false) if leaf.written => quote!(#local: &mut #float),
            (false, true) | (true, false) => quote!(#local: &[#float]),
            (false, false) => quote!(#local: #float),
            (true, true) => {
                let offsets = &leaf.offsets;
                match leaf.written {
                    true => quote!(#local: &mut [#float], #offsets: &[usize]),
                    false => quote!(#local: &[#float], #offsets: &[usize]),
                }
            }
        });
    }
}

/// An element's name: its slice, the name of its index, and by field path
/// the local each field is read into where the block reads it whole (a view
/// of an array field, the value of a float field).
struct Element<'a> {
    model: &'a Model,
    at: Ident,
    views: BTreeMap<Vec<Ident>, Ident>,
}

/// `p.w` becomes `p_w`, `&p.w` of an array field `p_w` too; the fields of
/// elements of slices as above.
struct Rewrite<'a> {
    models: &'a [Model],
    params: &'a [Ident],
    slices: &'a [Ident],
    elements: &'a BTreeMap<Ident, Element<'a>>,
}

impl Rewrite<'_> {
    /// What a field read becomes, if it is a differentiated one: a name
    /// (`p_w`, `layer_w`, `p_b`) or an expression (`layers_b[layer_at]`).
    fn field(&self, expr: &Expr) -> Option<FieldRead> {
        if let Some((param, path)) = chain_of(expr, self.params) {
            let model = self.models.iter().find(|m| m.ident == param)?;
            let leaf = find_leaf(model, &path)?;
            let local = &leaf.local;
            return Some(match (leaf.array, leaf.written) {
                (true, _) => FieldRead::Slice(local.clone()),
                (false, false) => FieldRead::Name(local.clone()),
                // A float field written in place: its `&mut` parameter.
                (false, true) => FieldRead::Written(local.clone()),
            });
        }
        if let Some((alias, path)) = chain_of(expr, &self.aliases()) {
            let element = self.elements.get(&alias)?;
            let at = &element.at;
            if let Some(data) = element.model.data.iter().find(|d| d.path == path) {
                let local = &data.local;
                return Some(FieldRead::Place(syn::parse_quote!(#local[#at])));
            }
            let leaf = find_leaf(element.model, &path)?;
            let view = element.views.get(&path)?.clone();
            return Some(match leaf.array {
                true => FieldRead::Slice(view),
                // A float field: a local of the element's (`&layer.b` is a
                // reference to it, as to any float).
                false => FieldRead::Name(view),
            });
        }
        let (slice, index, path) = indexed_chain(expr, self.slices)?;
        let model = self.models.iter().find(|m| m.ident == slice)?;
        if let Some(data) = model.data.iter().find(|d| d.path == path) {
            let local = &data.local;
            return Some(FieldRead::Place(syn::parse_quote!(#local[#index])));
        }
        let leaf = find_leaf(model, &path)?;
        let local = &leaf.local;
        Some(FieldRead::Place(match &leaf.offsets {
            Some(at) => syn::parse_quote!(#local[#at[#index]..#at[(#index) + 1]]),
            None => syn::parse_quote!(#local[#index]),
        }))
    }

    /// `layer.w[i]` (or `layers[l].w[i]`) of an array field of a slice of
    /// structs: a read of the vector of every element's, at the element's
    /// start plus `i` (bounds-checked against the element's field), which
    /// the backward pass reads again instead of saving it (a view would be
    /// a copy, overwritten by the next element's).
    fn element_read(&self, index: &syn::ExprIndex) -> Option<Expr> {
        let (local, offsets, element) = self.element_field(&index.expr)?;
        let mut local = local.clone();
        local.set_span(local.span().located_at(index.expr.span()));
        let within = quote!(::backprop_runtime::model::fields::within);
        let start = quote!(#offsets[#element]);
        let len = quote!(#offsets[#element + 1] - #offsets[#element]);
        // A part (`layer.w[a..b]`): the same part of the vector, its end
        // checked against the element's field.
        if let Expr::Range(range) = crate::lower::strip_parens(&index.index) {
            let from = match &range.start {
                Some(a) => quote!(#start + (#a)),
                None => start.clone(),
            };
            let end = range_end(range, &len);
            return Some(syn::parse_quote! {
                #local[#from..#start + #within(#end, #len + 1)]
            });
        }
        let i = &index.index;
        Some(syn::parse_quote! {
            #local[#start + #within(#i, #len)]
        })
    }

    /// `points.len()` of a slice of rows (or of structs held by a struct,
    /// `model.layers`), and the length of a part of it (`points[a..].len()`):
    /// counted from where the rows start (or from a gathered float field),
    /// so that the function read field by field need not take the rows
    /// themselves (a function of floats and slices only, which second order
    /// covers; and a slice held by a struct is not a parameter).
    fn rows_len(&self, call: &syn::ExprMethodCall) -> Option<Expr> {
        if call.method != "len" || !call.args.is_empty() {
            return None;
        }
        let (slice, part) = match crate::lower::strip_parens(&call.receiver) {
            Expr::Index(index) => match crate::lower::strip_parens(&index.index) {
                Expr::Range(range) => (&*index.expr, Some(range)),
                _ => return None,
            },
            other => (other, None),
        };
        let Expr::Path(path) = crate::lower::strip_parens(slice) else {
            return None;
        };
        let model = self
            .models
            .iter()
            .find(|m| (m.rows || m.owner.is_some()) && path.path.is_ident(&m.ident))?;
        let leaf = model.leaves.first()?;
        let len: Expr = match &leaf.offsets {
            Some(offsets) => syn::parse_quote!((#offsets.len() - 1)),
            // A float field, gathered: one per element.
            None => {
                let local = &leaf.local;
                syn::parse_quote!(#local.len())
            }
        };
        let Some(range) = part else {
            return Some(len);
        };
        let start = range
            .start
            .as_ref()
            .map_or_else(|| quote!(0), |a| quote!(#a));
        let end = range_end(range, &quote!(#len));
        Some(syn::parse_quote!(::backprop_runtime::model::fields::part_len(#start, #end, #len)))
    }

    /// `layer.w.len()`: where the next element's part starts less where
    /// this one's does (no view of it is taken).
    fn element_len(&self, call: &syn::ExprMethodCall) -> Option<Expr> {
        if call.method != "len" || !call.args.is_empty() {
            return None;
        }
        let (_, offsets, element) = self.element_field(&call.receiver)?;
        Some(syn::parse_quote!((#offsets[#element + 1] - #offsets[#element])))
    }

    /// The vector, offsets and element index of an array field of an element
    /// (`layer.w`, `layers[l].w`).
    fn element_field(&self, expr: &Expr) -> Option<(&Ident, &Ident, TokenStream)> {
        let (model, element, path) = if let Some((alias, path)) = chain_of(expr, &self.aliases()) {
            let element = self.elements.get(&alias)?;
            let at = &element.at;
            (element.model, quote!(#at), path)
        } else {
            let (slice, at, path) = indexed_chain(expr, self.slices)?;
            let model = self.models.iter().find(|m| m.ident == slice)?;
            (model, quote!((#at)), path)
        };
        let leaf = find_leaf(model, &path)?;
        Some((&leaf.local, leaf.offsets.as_ref()?, element))
    }

    fn aliases(&self) -> Vec<Ident> {
        self.elements.keys().cloned().collect()
    }

    /// `let layer = &layers[E];` becomes its index, and what the rest of the
    /// block reads of it: the element itself (for fields that are data) and
    /// views of its array fields.
    fn bind_element(&self, local: &syn::Local, rest: &[syn::Stmt]) -> Option<Vec<syn::Stmt>> {
        let (alias, slice, index) = element_binding(local, self.slices)?;
        let element = self.elements.get(&alias)?;
        let read = variables_read(&syn::Block {
            brace_token: syn::token::Brace::default(),
            stmts: rest.to_vec(),
        });
        let reads = |name: &Ident| read.contains(&name.to_string());
        let at = &element.at;
        let mut stmts: Vec<syn::Stmt> = Vec::new();
        if reads(&alias) {
            stmts.push(syn::parse_quote!(let #alias = &#slice[#at];));
        }
        for leaf in &element.model.leaves {
            let Some(view) = element.views.get(&leaf.path).filter(|view| reads(view)) else {
                continue;
            };
            let local = &leaf.local;
            stmts.push(match &leaf.offsets {
                Some(offsets) => {
                    syn::parse_quote!(let #view = &#local[#offsets[#at]..#offsets[#at + 1]];)
                }
                None => syn::parse_quote!(let #view = #local[#at];),
            });
        }
        if !stmts.is_empty() || reads(at) {
            stmts.insert(0, syn::parse_quote!(let #at: usize = #index;));
        }
        Some(stmts)
    }
}

fn find_leaf<'m>(model: &'m Model, path: &[Ident]) -> Option<&'m Leaf> {
    model.leaves.iter().find(|leaf| leaf.path == path)
}

enum FieldRead {
    /// A float field's parameter.
    Name(Ident),
    /// A float field's `&mut` parameter, of a struct taken by `&mut` whose
    /// body writes it: read and written through it, `(*s_x)`.
    Written(Ident),
    /// An array field's parameter, or an element's view of one: a slice.
    Slice(Ident),
    /// An element of a field's vector, or a part of it.
    Place(Expr),
}

impl VisitMut for Rewrite<'_> {
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        visit_macro_arguments(self, mac);
    }

    /// `let mut a = p.a;` (or `p.a.clone()`) of an array field: a copy the
    /// body may change, `p_a.to_vec()` (the field is a slice here).
    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        let pat = match &local.pat {
            syn::Pat::Type(t) => &*t.pat,
            other => other,
        };
        let mutable = matches!(pat, syn::Pat::Ident(p) if p.mutability.is_some());
        if let Some(init) = local.init.as_mut().filter(|_| mutable) {
            let source = match crate::lower::strip_parens(&init.expr) {
                Expr::MethodCall(call) if call.method == "clone" && call.args.is_empty() => {
                    &*call.receiver
                }
                other => other,
            };
            if let Some(FieldRead::Slice(field)) = self.field(source) {
                *init.expr = syn::parse_quote_spanned!(init.expr.span()=> #field.to_vec());
                // A typed copy (`let mut a: [f64; 3] = p.a;`) is a vector here.
                if let syn::Pat::Type(typed) = &local.pat {
                    local.pat = (*typed.pat).clone();
                }
                return;
            }
        }
        syn::visit_mut::visit_local_mut(self, local);
    }

    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        syn::visit_mut::visit_block_mut(self, block);
        let stmts = std::mem::take(&mut block.stmts);
        for (k, stmt) in stmts.iter().enumerate() {
            match stmt {
                syn::Stmt::Local(local) => match self.bind_element(local, &stmts[k + 1..]) {
                    Some(bound) => block.stmts.extend(bound),
                    None => block.stmts.push(stmt.clone()),
                },
                _ => block.stmts.push(stmt.clone()),
            }
        }
    }

    /// `predict(&p, x)` of a struct taken by value: the function read field by
    /// field takes it by reference already, `predict(p, x)`.
    fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
        for arg in &mut call.args {
            let passed = super::uses::passed_whole(arg, self.params)
                .or_else(|| super::uses::passed_whole(arg, self.slices));
            if let Some(param) = passed {
                *arg = syn::parse_quote!(#param);
            }
        }
        syn::visit_mut::visit_expr_call_mut(self, call);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // The field's local where the user wrote the field, so that messages
        // about it point there.
        let at = |local: &Ident, expr: &Expr| {
            let mut local = local.clone();
            local.set_span(local.span().located_at(expr.span()));
            local
        };
        let element = match &*expr {
            Expr::Index(index) => self.element_read(index),
            Expr::MethodCall(call) => self.element_len(call).or_else(|| self.rows_len(call)),
            _ => None,
        };
        if let Some(mut read) = element {
            // The index may read fields itself.
            syn::visit_mut::visit_expr_mut(self, &mut read);
            *expr = read;
            return;
        }
        // `&p.w` of an array field is its slice parameter (or view); `&p.b`
        // of a float field stays a reference, `&p_b`.
        // `&mut s.v` and `&mut s.x` of fields written in place are their
        // `&mut` parameters.
        if let Expr::Reference(r) = expr {
            // (A float field's is lent on as `&mut *s_x`, which the lowering
            // reads as the variable it holds.)
            let lent = match (self.field(&r.expr), r.mutability.is_some()) {
                (Some(FieldRead::Slice(local)), _) => Some(quote!(#local)),
                (Some(FieldRead::Written(local)), true) => Some(quote!(&mut *#local)),
                _ => None,
            };
            if let Some(lent) = lent {
                *expr = syn::parse_quote_spanned!(expr.span()=> #lent);
                return;
            }
        }
        match self.field(expr) {
            Some(FieldRead::Name(local) | FieldRead::Slice(local)) => {
                let local = at(&local, expr);
                *expr = syn::parse_quote!(#local);
            }
            Some(FieldRead::Written(local)) => {
                let local = at(&local, expr);
                *expr = syn::parse_quote!((*#local));
            }
            Some(FieldRead::Place(mut place)) => {
                // The index may read fields itself (`layers[p.k].b`).
                syn::visit_mut::visit_expr_mut(self, &mut place);
                *expr = place;
            }
            None => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }
}
