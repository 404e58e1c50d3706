//! The differentiated functions written beside a caller: in the same file
//! and the same module, so that a call `g(..)` in the caller names them.

use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The functions marked `#[differentiate]` in the module of `file` that holds
/// `caller` (found by its name and tokens), by name; `None` where the file
/// cannot be read or parsed, or `caller` is not found in it exactly once (a
/// function written by a macro, or under an attribute that changed it).
/// Functions of one name written twice (under `#[cfg]`s) are left out: which
/// one the call names is not known.
///
/// `called`: the names the caller calls; the file is parsed only where it
/// defines one of them.
pub(super) fn of(
    caller: &syn::ItemFn,
    file: &Path,
    called: &HashSet<String>,
) -> Option<HashMap<String, syn::ItemFn>> {
    let text = std::fs::read_to_string(file).ok()?;
    if !called
        .iter()
        .any(|name| text.contains(&format!("fn {name}")))
    {
        return None;
    }
    let parsed = syn::parse_file(&text).ok()?;
    let key = tokens_of(caller);
    let mut modules = Vec::new();
    find_modules(&parsed.items, caller, &key, &mut modules);
    let [items] = modules.as_slice() else {
        return None;
    };
    let functions = || {
        items.iter().filter_map(|item| match item {
            syn::Item::Fn(function) => Some(function),
            _ => None,
        })
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for function in functions() {
        *counts.entry(function.sig.ident.to_string()).or_default() += 1;
    }
    Some(
        functions()
            .filter(|function| function.sig.ident != caller.sig.ident)
            .filter(|function| counts[&function.sig.ident.to_string()] == 1)
            .filter(|function| is_differentiated(function))
            .map(|function| (function.sig.ident.to_string(), function.clone()))
            .collect(),
    )
}

/// The item lists (the file's, or an inline module's) holding a function of
/// `caller`'s name and tokens.
fn find_modules<'f>(
    items: &'f [syn::Item],
    caller: &syn::ItemFn,
    key: &str,
    into: &mut Vec<&'f [syn::Item]>,
) {
    for item in items {
        match item {
            syn::Item::Fn(function)
                if function.sig.ident == caller.sig.ident && tokens_of(function) == key =>
            {
                into.push(items);
            }
            syn::Item::Mod(module) => {
                if let Some((_, inner)) = &module.content {
                    find_modules(inner, caller, key, into);
                }
            }
            _ => {}
        }
    }
}

/// A function's signature and body as text, to recognise the caller in its
/// file (its attributes differ: the compiler hands the macro the function
/// without the attribute being expanded).
fn tokens_of(function: &syn::ItemFn) -> String {
    let (sig, block) = (&function.sig, &function.block);
    quote::quote!(#sig #block).to_string()
}

/// Marked `#[differentiate]` or `#[backprop_runtime::differentiate]` (any
/// path ending so), with arguments the macro takes.
fn is_differentiated(function: &syn::ItemFn) -> bool {
    function.attrs.iter().any(|attr| {
        let marked = attr
            .path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "differentiate");
        let arguments = match &attr.meta {
            syn::Meta::Path(_) => Some(proc_macro2::TokenStream::new()),
            syn::Meta::List(list) => Some(list.tokens.clone()),
            syn::Meta::NameValue(_) => None,
        };
        marked && arguments.is_some_and(|tokens| crate::parse::args::Args::parse(tokens).is_ok())
    })
}
