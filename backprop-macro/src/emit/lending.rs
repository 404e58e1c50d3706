//! Calls that lend their slices instead of copying them
//! (`backprop_runtime::lent`): the call site's dispatch on the callee's
//! `LENDS`, shared by the forward pass (`forward_lent` or `forward_into`) and
//! the backward pass (`pullback_lent` or `pullback_into`). Which calls lend is
//! the backward pass's choice (`backward::lending`): it must be able to lend
//! the same slices again.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// A call that lends (the backward pass's choice, which the forward pass
/// follows): the callee's module, and for each argument whether the callee
/// keeps a copy of it.
pub(crate) struct Lending {
    pub(crate) module: syn::Path,
    pub(crate) keep: Vec<bool>,
    /// Which arguments are lists of floats the callee takes by shared
    /// reference (a slice parameter or a part of one, a buffer kept): the
    /// ones whose adjoint a caller that does not differentiate them discards.
    pub(crate) shared_floats: Vec<bool>,
}

/// Whether a function takes a list by shared reference (`&[f64]`, `&Vec<f64>`,
/// `&[f64; 3]`, `&[usize]`): only then is there anything to lend, and its
/// module has `LENDS`, `forward_lent` and `pullback_lent`.
pub(crate) fn takes_slices(sig: &crate::parse::signature::Signature) -> bool {
    sig.params.iter().any(|p| is_lent(&p.ty))
}

/// A parameter type a caller lends again: a list by shared reference. The
/// others (`&mut [f64]`, arrays by value, floats) it passes as `()` to
/// `pullback_lent`, and their copies, where the backward pass reads them,
/// are the callee's.
pub(crate) fn is_lent(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Reference(r) if r.mutability.is_none())
        && crate::lower::element_type(ty).is_some()
}

/// A parameter whose adjoint the backward pass adds where its caller says
/// (`lent::Sink`, a parameter of `backward_core`): a differentiated slice
/// taken by shared reference (`&[f64]`, `&Vec<f64>`), so only added into.
/// A lending caller passes the part of its own adjoint the argument is of.
pub(crate) fn adds_in_place(param: &crate::parse::signature::Param) -> bool {
    is_lent(&param.ty)
        && param.differentiable.is_some()
        && matches!(param.shape, Some(crate::parse::signature::Shape::Slice))
        && !param.inout
        && param.model.is_none()
}

/// The callee's module, to glob-import: the call's path without generic
/// arguments. `None` where a glob import cannot name it (`Self::m`, a path
/// with generic arguments inside it): such a call copies.
pub(crate) fn module_of(path: &syn::Path) -> Option<syn::Path> {
    let first = path.segments.first()?;
    if first.ident == "Self" {
        return None;
    }
    let inner = path.segments.iter().take(path.segments.len() - 1);
    if inner.clone().any(|s| !s.arguments.is_none()) {
        return None;
    }
    let mut module = path.clone();
    if let Some(last) = module.segments.last_mut() {
        last.arguments = syn::PathArguments::None;
    }
    Some(module)
}

/// The locals `dispatch` binds the backward pass's sinks to, `into_0`, ..:
/// the seeds and sinks a call site builds name them.
pub(crate) fn sink_names(count: usize) -> Vec<Ident> {
    (0..count).map(|k| format_ident!("into_{k}")).collect()
}

/// The arguments bound to `lent_0`, `lent_1`, .. and the sinks to `into_0`,
/// .. (`dispatch`): the names of the arguments' locals, and the bindings.
pub(crate) fn bound(args: &[TokenStream], sinks: &[TokenStream]) -> (Vec<Ident>, TokenStream) {
    let names: Vec<Ident> = (0..args.len()).map(|k| format_ident!("lent_{k}")).collect();
    let into = sink_names(sinks.len());
    let sinks = (!sinks.is_empty()).then(|| quote!(let (#(#into,)*) = (#(#sinks,)*);));
    let bind = quote! {
        let (#(#names,)*) = (#(#args,)*);
        #sinks
    };
    (names, bind)
}

/// `lent` where the callee's module has `LENDS = true`, else `copying`: the
/// runtime's fallbacks glob-imported, then the callee's module in a block
/// inside, whose items hide them. The branch not taken is compiled out. The
/// arguments are computed first, outside both imports, into `lent_0`,
/// `lent_1`, .. (the names `lent` and `copying` are given), and so are the
/// backward pass's `sinks` (where to add each list's adjoint) into `into_0`,
/// .. (`sink_names`, which the caller's `lent` names itself): inside, an item of the callee's module would hide a local of the same
/// name (a user's variable `grad` beside the callee's `grad` function, found
/// by the fuzzer).
pub(crate) fn dispatch(
    module: &syn::Path,
    args: &[TokenStream],
    sinks: &[TokenStream],
    lent: impl FnOnce(&[Ident]) -> TokenStream,
    copying: impl FnOnce(&[Ident]) -> TokenStream,
) -> TokenStream {
    let (names, bind) = bound(args, sinks);
    let (lent, copying) = (lent(&names), copying(&names));
    quote! {{
        #bind
        {
            #[allow(unused_imports, clippy::wildcard_imports)]
            use ::backprop_runtime::lent::*;
            {
                #[allow(unused_imports, clippy::wildcard_imports)]
                use #module::*;
                if LENDS { #lent } else { #copying }
            }
        }
    }}
}
