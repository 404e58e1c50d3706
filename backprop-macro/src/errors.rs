//! Error collection: every problem in a function is reported in one build.
//!
//! Lowering keeps going after an error (it substitutes a harmless operand) so that
//! the user sees all unsupported constructs at once, as serde's `Ctxt` does.

use proc_macro2::TokenStream;
use quote::ToTokens;
use std::fmt::Display;

#[derive(Default)]
pub struct Errors {
    first: Option<syn::Error>,
}

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.first {
            Some(first) => first.combine(error),
            None => self.first = Some(error),
        }
    }

    pub fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Whether nothing has gone wrong so far.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// `Ok(())` if nothing went wrong, else all errors combined into one.
    pub fn finish(self) -> syn::Result<()> {
        match self.first {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// The compile errors, followed by the user's item unchanged: the rest of the crate
/// (and the IDE) keep seeing the function while the user fixes what we refused.
pub fn with_original_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let mut tokens = error.into_compile_error();
    tokens.extend(item);
    tokens
}
