//! The attribute's arguments: `#[differentiate]` or `#[differentiate(wrt(x, z))]`.

use proc_macro2::{Ident, TokenStream};
use syn::parse::Parser;

#[derive(Default)]
pub struct Args {
    /// Restricts the gradient to these parameters; `None` means every float one.
    pub wrt: Option<Vec<Ident>>,
    /// Parameters known to be data, never written by the user: the model that
    /// a method's `&self` becomes (its float fields are parameters of their own).
    pub data: Vec<Ident>,
    /// Struct parameters passed whole to differentiated callees (data here,
    /// their fields read as parameters of their own): each gets a `Grad`
    /// field of its gradient struct, which the callees' pullbacks add into.
    pub models: Vec<(Ident, syn::Type)>,
    /// `second_order`: the function's twin over a generic float (what `hvp`
    /// runs, `twin.rs`) may call other functions, through their twins
    /// (`g::generic`): every callee must be a differentiated function that
    /// has one.
    pub second_order: bool,
    /// Plain helpers beside the function (no attribute) that it calls: a
    /// call of one left after inlining (the inliner could not take its
    /// body) has no module to go through, and is refused where it is
    /// differentiated. Filled by `expand.rs`, not written by the user.
    pub plain_helpers: Vec<String>,
    /// The differentiated functions beside it whose generated functions it
    /// calls (`potential` of `potential::grad(..)`): differentiating such a
    /// call would need the derivative of a derivative. Filled by
    /// `expand.rs`.
    pub differentiated_beside: Vec<String>,
}

impl Args {
    pub fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let mut args = Args::default();
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("second_order") {
                args.second_order = true;
                return Ok(());
            }
            if !meta.path.is_ident("wrt") {
                return Err(meta.error(
                    "unknown argument; `#[differentiate]` takes `wrt(param, ...)` and `second_order`",
                ));
            }
            if args.wrt.is_some() {
                return Err(
                    meta.error("`wrt` is given twice; list every parameter in one `wrt(...)`")
                );
            }
            let mut names = Vec::new();
            meta.parse_nested_meta(|inner| match inner.path.get_ident() {
                Some(ident) => {
                    names.push(ident.clone());
                    Ok(())
                }
                None => Err(inner.error("expected a parameter name, as in `wrt(x, y)`")),
            })?;
            args.wrt = Some(names);
            Ok(())
        });
        parser.parse2(tokens)?;
        Ok(args)
    }
}
