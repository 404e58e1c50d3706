//! The pipeline: parse, check, lower, analyse, emit.

use crate::args::Args;
use crate::errors::{with_original_item, Errors};
use crate::lower::lower;
use crate::names::Names;
use crate::signature::Signature;
use crate::{module, paths};
use proc_macro2::TokenStream;
use quote::quote;

pub fn differentiate(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand(attr, item.clone()) {
        Ok(tokens) => tokens,
        Err(error) => with_original_item(error, item),
    }
}

fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let item: syn::Item = syn::parse2(item)?;
    let syn::Item::Fn(mut function) = item else {
        return Err(syn::Error::new_spanned(
            item,
            "#[differentiate] applies to a free function: `fn f(x: f64, ...) -> f64 { ... }`",
        ));
    };
    let mut errors = Errors::default();
    let args = Args::parse(attr).unwrap_or_else(|error| {
        errors.push(error);
        Args::default()
    });
    // The user's function stays as written. Its derivative is used through the
    // module even when the function itself is never called.
    function.attrs.push(syn::parse_quote!(#[allow(dead_code)]));

    let mut rebased = function.clone();
    paths::rebase(&mut rebased);
    let signature = Signature::from_syn(&rebased, &args, &mut errors);
    let mut names = Names::for_function(&function);
    let graph = signature
        .as_ref()
        .map(|sig| lower(&rebased.block, sig, &mut names, &mut errors));
    errors.finish()?;
    let (Some(signature), Some(graph)) = (signature, graph) else {
        return Err(syn::Error::new_spanned(
            &function.sig,
            "unsupported signature",
        ));
    };
    let lints: Vec<syn::Attribute> = function
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("allow"))
        .cloned()
        .collect();
    let module = module::generate(&signature, &graph, &mut names, &lints)?;
    Ok(quote!(#function #module))
}
