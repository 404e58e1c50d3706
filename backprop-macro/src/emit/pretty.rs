//! The generated code as text, so a user can read it without installing
//! anything: it is printed into the generated module's documentation and its
//! `SOURCE` constant by `prettyplease`, the printer `cargo expand` uses, less
//! the doc attributes (the module's rustdoc shows those already).

use proc_macro2::TokenStream;
use syn::visit_mut::VisitMut;

/// The items of `tokens`, printed. Tokens that are not items (never the case
/// for what the macro emits) are printed as the token stream spells them.
pub fn pretty(tokens: TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(mut file) => {
            WithoutDocs.visit_file_mut(&mut file);
            separate_items(&prettyplease::unparse(&file))
        }
        Err(_) => format!("{tokens}\n"),
    }
}

/// A blank line between top-level items, as rustfmt leaves them: after an
/// item's closing brace or a one-line item (`type A = B;`).
fn separate_items(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + 64);
    let mut previous = "";
    for line in code.lines() {
        let starts_item = !line.starts_with(char::is_whitespace) && line != "}";
        let ended_item = previous == "}"
            || (!previous.starts_with(char::is_whitespace) && previous.ends_with(';'));
        if starts_item && ended_item {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
        previous = line;
    }
    out
}

struct WithoutDocs;

impl VisitMut for WithoutDocs {
    fn visit_attributes_mut(&mut self, attrs: &mut Vec<syn::Attribute>) {
        attrs.retain(|attr| !attr.path().is_ident("doc"));
        for attr in attrs {
            self.visit_attribute_mut(attr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pretty;
    use quote::quote;

    #[test]
    fn prints_items_as_rustfmt_would_and_drops_docs() {
        let code = quote! {
            /// A tape.
            #[derive(Clone, Debug)]
            pub struct Tape { pub a: f64, pub b: f32 }
            pub fn backward(tape: &Tape, df: f64) -> f64 {
                let Tape { a, b } = *tape;
                let da = if a >= b { df } else { 0.0 };
                *tape.a = da; da
            }
        };
        let expected = "\
#[derive(Clone, Debug)]
pub struct Tape {
    pub a: f64,
    pub b: f32,
}

pub fn backward(tape: &Tape, df: f64) -> f64 {
    let Tape { a, b } = *tape;
    let da = if a >= b { df } else { 0.0 };
    *tape.a = da;
    da
}
";
        assert_eq!(pretty(code), expected);
    }
}
