//! Models as structs: a parameter `p: &Mlp` (or `p: Mlp`) whose type derives
//! `Differentiable` is differentiated with respect to its fields.
//!
//! The function is read field by field (`flat.rs`): `fn loss(p: &Mlp, x: &[f64])`
//! reading `p.w[i]` and `p.b` is differentiated as
//! `fn loss(p: &Mlp, p_w: &[f64], p_b: f64, x: &[f64])`, in a module hidden
//! inside `loss` (`loss::by_field::loss`), and the module `loss` the user
//! sees (`wrappers/`) takes the struct again: `loss::grad(&p, x)` returns a
//! `loss::Grad` whose field `p` is an `MlpGrad`, the struct's gradient with
//! the same field names. Which fields are differentiated is read from the
//! body (`uses.rs`): those read as floats or arrays of floats; a field used
//! as an integer (a range's end, an index, a cast) or only compared is data.

mod chains;
mod copies;
mod destructure;
mod elements;
mod flat;
mod nested;
mod rows;
mod uses;
mod wrappers;

use crate::errors::Errors;
use crate::parse::args::Args;
use crate::parse::signature::vec_element;
use proc_macro2::{Ident, TokenStream};
use quote::quote;
use uses::Use;

/// A struct parameter read field by field.
pub(super) struct Model {
    pub(super) ident: Ident,
    /// The struct's type, without the reference.
    pub(super) ty: syn::Type,
    pub(super) by_ref: bool,
    /// Taken by `&mut`: its written fields are `&mut` parameters of the
    /// function read field by field, their final values outputs.
    pub(super) mutable: bool,
    /// Passed whole to differentiated callees (`predict(p, x)`): their
    /// pullbacks hand back its gradient struct.
    pub(super) passed: bool,
    /// The fields differentiated, in the order of their paths.
    pub(super) leaves: Vec<Leaf>,
    /// A slice of structs (`layers: &[Layer]`): each field is read as one
    /// vector of every element's (`layers_w`, cut at `layers_w_at`).
    pub(super) slice: bool,
    /// Of a slice of structs: fields that are data, read only as counts or
    /// only as conditions, gathered like the others (`layers_inputs:
    /// &[usize]`), so that the backward pass has them.
    pub(super) data: Vec<DataLeaf>,
    /// A slice of rows of floats (`points: &[[f64; 3]]`, `w: &[Vec<f64>]`):
    /// read as a slice of structs whose one array field is the row
    /// (`rows.rs`), its gradient a vector of rows.
    pub(super) rows: bool,
    /// A slice of structs that is a field of a struct parameter
    /// (`model.layers`, named `model_layers` in the body: `nested.rs`): the
    /// parameter and the field.
    pub(super) owner: Option<(Ident, Ident)>,
}

impl Model {
    /// Of a slice: the gradient of one element, a gradient struct
    /// (`<Layer as Differentiable>::Grad`) or, of a slice of rows, a row.
    pub(super) fn element_grad(&self) -> Option<TokenStream> {
        let element = crate::lower::element_type(&self.ty).filter(|_| self.slice)?;
        Some(match self.rows {
            true => quote!(#element),
            false => quote!(<#element as ::backprop_runtime::Differentiable>::Grad),
        })
    }

    /// How a field is reached from the struct or an element (`.pose.rot`):
    /// nothing for a row, which is its own array.
    pub(super) fn members(&self, path: &[Ident]) -> TokenStream {
        match self.rows {
            true => quote!(),
            false => quote!(#(.#path)*),
        }
    }

    /// Whether the body writes any of its fields (it is taken by `&mut`).
    pub(super) fn writes(&self) -> bool {
        self.leaves.iter().any(|l| l.written)
    }
}

/// A data field of a slice of structs, gathered.
pub(super) struct DataLeaf {
    pub(super) path: Vec<Ident>,
    pub(super) local: Ident,
    /// `usize` (a count) or `bool` (a flag).
    pub(super) count: bool,
}

/// A differentiated field: `p.pose.rot`, read as the parameter `p_pose_rot`.
pub(super) struct Leaf {
    pub(super) path: Vec<Ident>,
    pub(super) array: bool,
    /// A field of a struct taken by `&mut` that the body writes.
    pub(super) written: bool,
    pub(super) local: Ident,
    /// Where the body first reads it: a field taken for a float that is not
    /// one is a type error there.
    pub(super) span: proc_macro2::Span,
    /// Of an array field of a slice of structs: where each element's part
    /// starts in `local` (`layers_w_at`).
    pub(super) offsets: Option<Ident>,
}

/// The expansion of a function with struct parameters, or `None` when it has
/// none (the plain pipeline serves). `user` is the function written out
/// beside its module: `function` itself, or the function as written where
/// `function` has its callees inlined.
pub fn expand_models(
    function: &syn::ItemFn,
    user: &syn::ItemFn,
    args: &Args,
) -> Option<syn::Result<TokenStream>> {
    let mut errors = Errors::default();
    let float_param =
        crate::parse::signature::generic_float(&function.sig.generics, &mut Errors::default());
    // A struct returned: said before anything the body does with it.
    if let syn::ReturnType::Type(_, ty) = &function.sig.output {
        let generics = &function.sig.generics;
        if let Some(message) = crate::parse::signature::struct_output_message(ty, generics) {
            return Some(Err(syn::Error::new_spanned(ty, message)));
        }
    }
    // (A method's model, unused in its free function, is spelled `_model`.)
    let selected = |ident: &Ident| {
        let bare = ident.to_string();
        args.wrt
            .as_ref()
            .map_or(true, |wrt| wrt.iter().any(|w| w == ident))
            && !args.data.iter().any(|d| *d == bare.trim_start_matches('_'))
    };
    // The function's own type parameters are not structs of the user's.
    let type_params: Vec<Ident> = function
        .sig
        .generics
        .type_params()
        .map(|t| t.ident.clone())
        .collect();
    let mut candidates = Vec::new();
    for (ident, typed) in named_params(&function.sig) {
        if !selected(ident) {
            continue;
        }
        let Some(Found {
            ty,
            by_ref,
            mutable,
            slice,
            rows,
        }) = struct_type(&typed.ty, float_param.as_ref(), &type_params)
        else {
            continue;
        };
        if mutable && slice && !rows {
            errors.spanned(
                &typed.ty,
                "a slice of structs taken by `&mut` cannot be differentiated yet: take it by `&` and write what the function computes into a `&mut [f64]` parameter, or list the differentiated parameters in `wrt(...)` to pass this one as data",
            );
            continue;
        }
        candidates.push(Candidate {
            ident: ident.clone(),
            ty: *ty,
            by_ref,
            mutable,
            slice,
            rows,
            written: typed.ty.clone(),
            owner: None,
        });
    }
    if candidates.is_empty() {
        return errors.finish().err().map(Err);
    }
    let mut taken = crate::emit::names::identifiers(quote!(#function));
    taken.insert(function.sig.ident.to_string());
    let mut names = crate::emit::names::Names::avoiding(taken);
    let mut body = (*function.block).clone();
    // Slices of structs held by the structs read (`model.layers`), each
    // named as a parameter of its own.
    let owners: Vec<Ident> = candidates
        .iter()
        .filter(|c| !c.slice && !c.mutable)
        .map(|c| c.ident.clone())
        .collect();
    // (Of one taken by `&mut`, not yet: they would be written in place.)
    let mutable_owners: Vec<Ident> = candidates
        .iter()
        .filter(|c| !c.slice && c.mutable)
        .map(|c| c.ident.clone())
        .collect();
    for (owner, field, rows) in nested::find(&body, &mutable_owners) {
        if let Some(at) = nested::first_use(&body, &owner, &field) {
            let what = if rows { "rows of floats" } else { "structs" };
            errors.spanned(
                at,
                format!("`{owner}.{field}` holds {what}, which are not differentiated in a struct taken by `&mut` yet: take `{owner}` by `&` where the function only reads it, or pass the field as a parameter of its own (`{field}: &mut [[f64; 3]]` for rows, `{field}: &[Layer]` for structs)"),
            );
        }
    }
    for (owner, field, rows) in nested::find(&body, &owners) {
        let Some(parent) = candidates.iter().find(|c| c.ident == owner) else {
            continue;
        };
        let local = names.fresh(&format!("{owner}_{field}"));
        nested::rename(&mut body, &owner, &field, &local);
        candidates.push(Candidate {
            ident: local,
            ty: parent.ty.clone(),
            by_ref: true,
            mutable: false,
            slice: true,
            rows,
            written: parent.written.clone(),
            owner: Some((owner, field)),
        });
    }
    // The elements of slices of structs get names of their own (aliases),
    // read as the fields of a struct parameter are.
    let slices: Vec<Ident> = candidates
        .iter()
        .filter(|c| c.slice)
        .map(|c| c.ident.clone())
        .collect();
    let structs: Vec<Ident> = candidates
        .iter()
        .filter(|c| !c.slice)
        .map(|c| c.ident.clone())
        .collect();
    let rows: Vec<Ident> = candidates
        .iter()
        .filter(|c| c.rows)
        .map(|c| c.ident.clone())
        .collect();
    rows::patterns_as_names(&mut body, &slices, &mut names);
    chains::reductions_as_loops(&mut body, &slices, float_param.as_ref());
    chains::element_copies_as_references(&mut body, &slices, &mut names);
    let all_candidates: Vec<Ident> = candidates.iter().map(|c| c.ident.clone()).collect();
    let aliases = elements::bind_elements(&mut body, &slices, &structs, &mut names, &mut errors);
    rows::rows_as_fields(&mut body, &rows, &aliases);
    // `let Params { k, c } = *p;` of a struct or an element: its fields read.
    let mut named: Vec<Ident> = structs.clone();
    named.extend(
        aliases
            .iter()
            .filter(|(_, slice)| !rows.contains(slice))
            .map(|(alias, _)| alias.clone()),
    );
    destructure::fields_as_lets(&mut body, &named);
    // `let mut s = s0;` (or `*layer` of an element): one local per field read.
    let element_types: Vec<(Ident, syn::Type)> = aliases
        .iter()
        .filter(|(_, slice)| !rows.contains(slice))
        .filter_map(|(alias, slice)| {
            let c = candidates.iter().find(|c| c.ident == *slice)?;
            Some((alias.clone(), crate::lower::element_type(&c.ty)?))
        })
        .collect();
    let params: Vec<copies::Param> = candidates
        .iter()
        .filter(|c| !c.slice)
        .map(|c| copies::Param {
            ident: &c.ident,
            ty: &c.ty,
            by_ref: c.by_ref,
        })
        .chain(element_types.iter().map(|(alias, ty)| copies::Param {
            ident: alias,
            ty,
            by_ref: true,
        }))
        .collect();
    copies::copies_as_locals(&mut body, &params, &function.sig);
    // A `Vec` of structs or rows inside an element (`block.layers` of
    // `for block in &net.blocks`): not read field by field yet.
    let elements: Vec<Ident> = aliases.keys().cloned().collect();
    for (alias, field, _) in nested::find(&body, &elements) {
        if let Some(at) = nested::first_use(&body, &alias, &field) {
            errors.spanned(
                at,
                format!("`{alias}.{field}` holds structs or rows inside an element of a slice, which is not differentiated yet: make `{field}` a slice of its own (a parameter, or a field of the struct parameter itself), or read its floats through a function of the element's fields"),
            );
        }
    }
    let mut readers = structs.clone();
    readers.extend(aliases.keys().cloned());
    let mut uses = uses::uses(&body, &readers, &slices);
    alias_uses_are_the_slices(&mut uses, &aliases);
    // By value, a struct is differentiated only if the body reads its fields
    // (an enum or an opaque value stays data); by reference, always. A slice
    // whose fields are read only as data stays data.
    let owning: Vec<Ident> = candidates
        .iter()
        .filter_map(|c| c.owner.as_ref().map(|(owner, _)| owner.clone()))
        .collect();
    candidates.retain(|c| {
        let read = uses.fields.iter().any(|((param, _), used)| {
            *param == c.ident && (!c.slice || matches!(used, Use::Scalar | Use::Array))
        });
        match c.slice {
            true => read || (uses.passed.contains(&c.ident) && !c.rows),
            false => {
                c.by_ref || uses.passed.contains(&c.ident) || read || owning.contains(&c.ident)
            }
        }
    });
    // A struct, or a slice of them, whose fields are read only where the
    // analysis does not look (a closure of a chain it does not rewrite, a
    // copy) would otherwise be data without a word.
    let unread: Vec<Ident> = all_candidates
        .iter()
        .filter(|s| !candidates.iter().any(|c| c.ident == **s))
        .cloned()
        .collect();
    chains::refuse_fields_read_in_chains(&body, &unread, &mut errors);
    // Rows of floats are never data unless `wrt` says so: rows read where
    // the analysis does not look are refused (measured only, they pass).
    let unread_rows: Vec<Ident> = unread
        .iter()
        .filter(|s| rows.contains(s))
        .cloned()
        .collect();
    elements::refuse_other_uses(&body, &unread_rows, &unread_rows, &aliases, &mut errors);
    if candidates.is_empty() {
        return errors.finish().err().map(Err);
    }
    let slices: Vec<Ident> = candidates
        .iter()
        .filter(|c| c.slice)
        .map(|c| c.ident.clone())
        .collect();

    elements::refuse_other_uses(&body, &slices, &rows, &aliases, &mut errors);
    refuse_whole_elements(&mut uses, &aliases, &slices, &mut errors);
    let params: Vec<Ident> = candidates.iter().map(|c| c.ident.clone()).collect();
    for input in &function.sig.inputs {
        if let syn::FnArg::Typed(typed) = input {
            if !matches!(&*typed.pat, syn::Pat::Ident(_)) {
                errors.spanned(
                    &typed.pat,
                    "a function with struct parameters names each parameter: destructure it in the body",
                );
            }
        }
    }
    for expr in &uses.whole {
        let is_model = matches!(expr, syn::Expr::Path(p) if p.path.get_ident().is_some_and(|i| params.contains(i)));
        if is_model {
            errors.spanned(
                expr,
                "a differentiated struct parameter is read field by field (`p.w[i]`, `let w = &p.w;`), passed whole to a differentiated function (`predict(p, x)`), or has its methods called where the `impl` (without generics) is written beside this function, in its module and file (`p.predict(x)`, inlined); it is used otherwise here: read its fields instead",
            );
        }
    }
    let mutable: Vec<Ident> = candidates
        .iter()
        .filter(|c| c.mutable)
        .map(|c| c.ident.clone())
        .collect();
    let written = written_fields(&uses, &mutable, &mut errors);
    for (_, arg) in uses.passed_args.iter().filter(|(p, _)| mutable.contains(p)) {
        errors.spanned(
            arg,
            "a struct taken by `&mut` is passed whole only to a function inlined here (a plain helper written beside this function, or a differentiated one with no loop over data or marked `#[inline]`): mark the callee `#[inline]`, or pass its fields (`step(&mut s.x, &mut s.v, dt)`)",
        );
    }
    let mut models = Vec::new();
    for Candidate {
        ident,
        ty,
        by_ref,
        mutable,
        slice,
        rows,
        owner,
        ..
    } in &candidates
    {
        let mut leaves: Vec<Leaf> = Vec::new();
        for ((param, path), used) in &uses.fields {
            if param != ident || matches!(used, Use::Data | Use::Compared) {
                continue;
            }
            let words: Vec<String> = path.iter().map(ToString::to_string).collect();
            let span = uses
                .first
                .get(&(param.clone(), path.clone()))
                .map_or_else(proc_macro2::Span::call_site, syn::spanned::Spanned::span);
            let base = format!("{ident}_{}", words.join("_"));
            let array = *used == Use::Array;
            leaves.push(Leaf {
                path: path.clone(),
                array,
                written: written.contains(&(param.clone(), path.clone())),
                local: names.fresh(&base),
                span,
                offsets: (*slice && array).then(|| names.fresh(&format!("{base}_at"))),
            });
        }
        refuse_fields_of_fields(&leaves, ident, &uses, &mut errors);
        // A slice's data fields are read from the slice, which the tape
        // cannot keep (every value computed from them would be saved, an
        // index per multiplication); those read only as counts or only as
        // conditions have a type the body fixes, and are gathered.
        let mut data = Vec::new();
        for ((param, path), used) in &uses.fields {
            if !*slice || param != ident || !matches!(used, Use::Data | Use::Compared) {
                continue;
            }
            let chain = (param.clone(), path.clone());
            let (counted, condition) = (
                uses.counted.contains(&chain),
                uses.conditions.contains(&chain),
            );
            if uses.other.contains(&chain) || counted == condition {
                // The function read field by field has the elements of a
                // slice held by a struct only through their gathered fields.
                if let (Some((owner, field)), Some(at)) = (owner, uses.first.get(&chain)) {
                    let words: Vec<String> = path.iter().map(ToString::to_string).collect();
                    errors.spanned(
                        at,
                        format!("the data field `{}` of an element of `{owner}.{field}` is read here other than only as a count (an index, a range's end) or only as a condition: compute what it gives outside the function and pass it as a parameter, or read it as a count (`let n: usize = ..;`)", words.join(".")),
                    );
                }
                continue;
            }
            let words: Vec<String> = path.iter().map(ToString::to_string).collect();
            data.push(DataLeaf {
                path: path.clone(),
                local: names.fresh(&format!("{ident}_{}", words.join("_"))),
                count: counted,
            });
        }
        models.push(Model {
            ident: ident.clone(),
            ty: ty.clone(),
            by_ref: *by_ref,
            mutable: *mutable,
            passed: uses.passed.contains(ident),
            leaves,
            slice: *slice,
            data,
            rows: *rows,
            owner: owner.clone(),
        });
    }
    if let Err(error) = errors.finish() {
        return Some(Err(error));
    }
    let spans: Vec<syn::Type> = candidates.into_iter().map(|c| *c.written).collect();
    let read = flat::Read {
        body: &body,
        aliases: &aliases,
    };
    Some(wrappers::expand(
        (function, user),
        args,
        &models,
        &spans,
        float_param,
        &read,
        &mut names,
    ))
}

/// The fields the body writes, of structs taken by `&mut` (`mutable`); a
/// write to any other struct parameter, or to a whole struct, is refused.
fn written_fields(
    uses: &uses::Uses,
    mutable: &[Ident],
    errors: &mut Errors,
) -> std::collections::BTreeSet<uses::Chain> {
    let mut written = std::collections::BTreeSet::new();
    for expr in &uses.written {
        let mut place = crate::lower::strip_parens(expr);
        while let syn::Expr::Index(index) = place {
            place = crate::lower::strip_parens(&index.expr);
        }
        // (A row of rows taken by `&mut`: `pos[i].rows`.)
        let chain = uses::chain_of(place, mutable)
            .or_else(|| uses::indexed_chain(place, mutable).map(|(slice, _, path)| (slice, path)));
        match chain.as_ref().map(|chain| (chain, uses.fields.get(chain))) {
            Some((chain, Some(uses::Use::Scalar | uses::Use::Array))) => {
                written.insert(chain.clone());
            }
            Some(_) => errors.spanned(
                expr,
                "only the float fields of a struct taken by `&mut` are written here (this one is data: an integer, a flag, or only compared): compute it outside the differentiated function",
            ),
            None => errors.spanned(
                expr,
                "a differentiated struct parameter is read-only here: take it by `&mut` to write its fields, or copy the field into a local (`let mut w = p.w.clone();`) and change that",
            ),
        }
    }
    written
}

/// A parameter that may be differentiated as a struct or a slice of them.
struct Candidate {
    ident: Ident,
    /// Without the reference: `Mlp`, `[Layer]`, `Vec<Layer>`.
    ty: syn::Type,
    by_ref: bool,
    mutable: bool,
    slice: bool,
    rows: bool,
    /// The type as written, where a missing derive is reported.
    written: Box<syn::Type>,
    /// Of a slice of structs held by a struct parameter: that parameter and
    /// the field (`ty` and `written` are the parameter's).
    owner: Option<(Ident, Ident)>,
}

/// What the body does with an element (`layer.w[i]`) it does with its slice's
/// field.
fn alias_uses_are_the_slices(uses: &mut uses::Uses, aliases: &elements::Aliases) {
    let fields = std::mem::take(&mut uses.fields);
    for ((param, path), used) in fields {
        let owner = aliases.get(&param).cloned().unwrap_or(param.clone());
        if owner != param {
            if let Some(first) = uses.first.remove(&(param.clone(), path.clone())) {
                uses.first
                    .entry((owner.clone(), path.clone()))
                    .or_insert(first);
            }
        }
        let entry = uses.fields.entry((owner, path)).or_insert(used);
        *entry = (*entry).max(used);
    }
    for reads in [&mut uses.counted, &mut uses.conditions, &mut uses.other] {
        *reads = std::mem::take(reads)
            .into_iter()
            .map(|(param, path)| (aliases.get(&param).cloned().unwrap_or(param), path))
            .collect();
    }
}

/// An element of a slice that stays differentiated (`slices`), used whole or
/// passed whole: refused, as it is read field by field. (An element of a
/// slice read only as data is data, and may be used as the user likes.)
fn refuse_whole_elements(
    uses: &mut uses::Uses,
    aliases: &elements::Aliases,
    slices: &[Ident],
    errors: &mut Errors,
) {
    let differentiated = |alias: &Ident| aliases.get(alias).is_some_and(|s| slices.contains(s));
    let alias_of = |expr: &syn::Expr| match expr {
        syn::Expr::Path(p) => p
            .path
            .get_ident()
            .filter(|i| aliases.contains_key(*i))
            .cloned(),
        _ => None,
    };
    uses.whole.retain(|expr| {
        let Some(alias) = alias_of(expr) else {
            return true;
        };
        if differentiated(&alias) {
            errors.spanned(
                expr,
                "an element of a slice of differentiated structs is read field by field (`layer.w[i]`, `&layer.w`, `layer.b`): its methods are not called and it is not passed whole yet; pass its fields to a differentiated function",
            );
        }
        false
    });
    for (param, arg) in &uses.passed_args {
        if differentiated(param) {
            errors.spanned(
                arg,
                "an element of a slice of differentiated structs is passed whole here: pass its fields instead (`predict(&layer.w, layer.b, x)`)",
            );
        }
    }
    uses.passed.retain(|param| !aliases.contains_key(param));
}

/// `p.pose` read as a float and `p.pose.rot` as an array: one of them is a
/// struct, which is read field by field, not whole.
fn refuse_fields_of_fields(leaves: &[Leaf], ident: &Ident, uses: &uses::Uses, errors: &mut Errors) {
    for outer in leaves {
        let inner = leaves
            .iter()
            .any(|l| l.path.len() > outer.path.len() && l.path.starts_with(&outer.path));
        if inner {
            let path: Vec<String> = outer.path.iter().map(ToString::to_string).collect();
            let chain = (ident.clone(), outer.path.clone());
            let at = uses
                .first
                .get(&chain)
                .map_or_else(|| quote!(#ident), |expr| quote!(#expr));
            errors.spanned(
                at,
                format!(
                    "`{ident}.{}` is a struct whose fields are read too: read it field by field here (pass its fields, not the struct)",
                    path.join(".")
                ),
            );
        }
    }
}

/// `&Mlp`, `Mlp`, `&mut Mlp`; `&[Layer]`, `Vec<Layer>`, `&[Layer; 3]`.
struct Found {
    /// Without the reference.
    ty: Box<syn::Type>,
    by_ref: bool,
    mutable: bool,
    /// Structs in a slice, a vector or an array.
    slice: bool,
    /// Rows of floats in a slice, a vector or an array.
    rows: bool,
}

/// A type of the user's (named in upper camel case, not one of std's, not the
/// float type parameter), by reference or by value, or a slice of them.
fn struct_type(
    ty: &syn::Type,
    float_param: Option<&Ident>,
    type_params: &[Ident],
) -> Option<Found> {
    let (inner, by_ref, mutable) = match ty {
        syn::Type::Reference(r) => (&*r.elem, true, r.mutability.is_some()),
        other => (other, false, false),
    };
    let element = match inner {
        syn::Type::Slice(slice) => Some(&*slice.elem),
        syn::Type::Array(array) => Some(&*array.elem),
        other => vec_element(other),
    };
    let found = |slice: bool, rows: bool| Found {
        ty: Box::new(inner.clone()),
        by_ref,
        mutable,
        slice,
        rows,
    };
    match element {
        Some(element) if rows::is_row(element, float_param) => Some(found(true, true)),
        Some(element) => user_type(element, float_param, type_params).map(|_| found(true, false)),
        None => user_type(inner, float_param, type_params).map(|_| found(false, false)),
    }
}

fn user_type<'t>(
    ty: &'t syn::Type,
    float_param: Option<&Ident>,
    type_params: &[Ident],
) -> Option<&'t syn::Type> {
    // Besides std's containers: `Self`, and std's cells (`Cell<f64>`, with
    // an argument; a struct of the user's named `Cell` has none), which a
    // function does not read field by field.
    let name = crate::parse::signature::user_type_name(ty)?;
    let bare = matches!(ty, syn::Type::Path(p) if p.path.segments.len() == 1);
    let with_argument = matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| !s.arguments.is_empty()));
    let std_cell = (name == "Cell" || name == "RefCell") && with_argument;
    let user = name != "Self"
        && !std_cell
        && float_param != Some(name)
        && !(bare && type_params.contains(name));
    user.then_some(ty)
}

/// The function's parameters that are names, with their types (a function
/// with struct parameters has no others: `expand_models` refuses patterns).
pub(super) fn named_params(sig: &syn::Signature) -> impl Iterator<Item = (&Ident, &syn::PatType)> {
    sig.inputs.iter().filter_map(|input| match input {
        syn::FnArg::Typed(typed) => match &*typed.pat {
            syn::Pat::Ident(pat) => Some((&pat.ident, typed)),
            _ => None,
        },
        syn::FnArg::Receiver(_) => None,
    })
}
