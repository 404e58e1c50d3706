//! Names for generated locals: readable, and never one the user's code mentions.
//!
//! Every identifier the user's function could use as a value (bindings, parameters,
//! single-segment paths such as constants) is reserved up front. A generated name
//! is the readable choice (`dx`, `dx1`, `sum`) when that is free, and otherwise the
//! same name with a suffix, so a user variable called `dx` or `tape` just works.

use proc_macro2::{Ident, Span, TokenStream};
use std::collections::HashSet;
use syn::visit::Visit;

#[derive(Clone)]
pub struct Names {
    taken: HashSet<String>,
    /// Identifiers the user's code mentions; a user binding may still claim its own.
    reserved: HashSet<String>,
}

impl Names {
    pub fn for_function(item: &syn::ItemFn) -> Names {
        let mut collector = Collector::default();
        collector.visit_item_fn(item);
        Names {
            taken: HashSet::new(),
            reserved: collector.idents,
        }
    }

    /// Names that avoid every identifier in `reserved`: for code that rewrites
    /// the user's before lowering (iterator chains, methods).
    pub fn avoiding(reserved: HashSet<String>) -> Names {
        Names {
            taken: HashSet::new(),
            reserved,
        }
    }

    /// The name for a user binding: its own name the first time, a fresh variant
    /// when the user shadows or reassigns it.
    pub fn binding(&mut self, ident: &Ident) -> Ident {
        let name = bare(&ident.to_string());
        if self.taken.insert(name.clone()) {
            return ident.clone();
        }
        self.fresh(&name)
    }

    /// `base` if free, else `base_2`, `base_3`, ... The underscore keeps a second
    /// version of `v` (`v_2`, adjoint `dv_2`) apart from the terms of `v`'s adjoint
    /// (`dv1`, `dv2`).
    pub fn fresh(&mut self, base: &str) -> Ident {
        let base = bare(base);
        let mut candidate = base.clone();
        let mut n = 2;
        while !self.is_free(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(candidate.clone());
        Ident::new(&candidate, Span::call_site())
    }

    /// The first free of several readable choices, falling back to suffixes of the
    /// last one.
    pub fn first_free(&mut self, choices: &[String]) -> Ident {
        for choice in choices {
            if self.is_free(&bare(choice)) {
                return self.fresh(choice);
            }
        }
        self.fresh(choices.last().map(String::as_str).unwrap_or("v"))
    }

    fn is_free(&self, name: &str) -> bool {
        !self.taken.contains(name) && !self.reserved.contains(name) && !is_keyword(name)
    }
}

/// A name without raw-identifier markers: `r#type` is `type`, and `dr#type` (an
/// adjoint's name built from it) is `dtype`. Keywords are then never free, so a
/// generated name is always a valid plain identifier.
fn bare(name: &str) -> String {
    name.replace("r#", "")
}

/// A valid plain identifier made from a generated name's base.
pub fn bare_name(name: &str) -> String {
    let name = bare(name);
    if is_keyword(&name) {
        format!("{name}_")
    } else {
        name
    }
}

fn is_keyword(name: &str) -> bool {
    syn::parse_str::<Ident>(name).is_err()
}

/// The names the string literals among the tokens capture in braces, as a
/// format string does (`x` and `s` of `"{x} {s:?}"`).
pub fn format_string_names(tokens: TokenStream) -> HashSet<String> {
    let mut names = HashSet::new();
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Literal(literal) => {
                let text = literal.to_string();
                if !text.contains('"') {
                    continue;
                }
                for piece in text.split('{').skip(1) {
                    let name: String = piece
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
                        names.insert(name);
                    }
                }
            }
            proc_macro2::TokenTree::Group(group) => {
                names.extend(format_string_names(group.stream()))
            }
            _ => {}
        }
    }
    names
}

/// Every identifier in the tokens, macro bodies included.
pub fn identifiers(tokens: TokenStream) -> HashSet<String> {
    fn walk(tokens: TokenStream, into: &mut HashSet<String>) {
        for tree in tokens {
            match tree {
                proc_macro2::TokenTree::Ident(ident) => {
                    into.insert(bare(&ident.to_string()));
                }
                proc_macro2::TokenTree::Group(group) => walk(group.stream(), into),
                _ => {}
            }
        }
    }
    let mut names = HashSet::new();
    walk(tokens, &mut names);
    names
}

#[derive(Default)]
struct Collector {
    idents: HashSet<String>,
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        self.idents.insert(bare(&pat.ident.to_string()));
        syn::visit::visit_pat_ident(self, pat);
    }

    fn visit_expr_path(&mut self, expr: &'ast syn::ExprPath) {
        if let Some(first) = expr.path.segments.first() {
            self.idents.insert(bare(&first.ident.to_string()));
        }
        syn::visit::visit_expr_path(self, expr);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Its identifiers at any depth (`vec![(softplus(x) + 0.1).ln()]`,
        // `println!("{}", f(x))`): they name the user's values and functions
        // there too. (Only the top level was read: a local named `softplus`
        // hid the function called inside `vec![..]`, found by the fuzzer.)
        self.idents.extend(identifiers(mac.tokens.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::Names;
    use proc_macro2::{Ident, Span};

    fn names_for(item: syn::ItemFn) -> Names {
        Names::for_function(&item)
    }

    #[test]
    fn generated_names_avoid_every_user_name() {
        let mut names = names_for(syn::parse_quote! {
            fn f(x: f64, dx: f64) -> f64 { let dx1 = x * dx; let tape = dx1; tape + SCALE }
        });
        assert_eq!(names.fresh("dx"), "dx_2");
        assert_eq!(names.fresh("dx1"), "dx1_2");
        assert_eq!(names.fresh("tape"), "tape_2");
        assert_eq!(names.fresh("SCALE"), "SCALE_2");
        assert_eq!(names.fresh("sum"), "sum");
        assert_eq!(names.fresh("sum"), "sum_2");
        assert_eq!(names.first_free(&["dx".into(), "d_x".into()]), "d_x");
    }

    #[test]
    fn a_user_binding_keeps_its_name_until_shadowed() {
        let mut names = names_for(syn::parse_quote!(
            fn f(x: f64) -> f64 {
                let x = x;
                x
            }
        ));
        let x = Ident::new("x", Span::call_site());
        assert_eq!(names.binding(&x), "x");
        assert_eq!(names.binding(&x), "x_2");
    }

    #[test]
    fn keywords_are_never_chosen() {
        let mut names = names_for(syn::parse_quote!(
            fn f() -> f64 {
                1.0
            }
        ));
        assert_eq!(names.fresh("fn"), "fn_2");
    }
}
