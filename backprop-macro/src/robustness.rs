//! The expansion never panics: every `#[differentiate]` item of the
//! repository's tests and examples, mutated thousands of ways (tokens deleted,
//! duplicated, swapped, operators and names replaced, statements cut out), goes
//! through `expand::differentiate`, which must return tokens that parse as Rust:
//! the generated code, or the item with `compile_error!`s at spans.
//!
//! `BACKPROP_MUTATIONS=100000 cargo test -p backprop-macro robustness` runs more.

use crate::expand::differentiate;
use proc_macro2::TokenStream;
use quote::ToTokens;
use std::path::Path;

/// Items marked `#[differentiate]`, as (attribute arguments, item) texts.
fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut items = Vec::new();
    for dir in ["tests", "tests/modes", "tests/methods", "examples"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if let Ok(file) = syn::parse_file(&text) {
                    collect(&file.items, &mut items);
                }
            }
        }
    }
    items
}

fn collect(list: &[syn::Item], out: &mut Vec<(String, String)>) {
    for item in list {
        let (attrs, nested) = match item {
            syn::Item::Fn(f) => (&f.attrs, None),
            syn::Item::Impl(i) => (&i.attrs, None),
            syn::Item::Mod(m) => (&m.attrs, m.content.as_ref().map(|(_, items)| items)),
            _ => continue,
        };
        if let Some(items) = nested {
            collect(items, out);
        }
        let Some(attr) = attrs.iter().find(|a| a.path().is_ident("differentiate")) else {
            continue;
        };
        let args = match &attr.meta {
            syn::Meta::List(list) => list.tokens.to_string(),
            _ => String::new(),
        };
        let mut item = item.clone();
        if let syn::Item::Fn(f) = &mut item {
            f.attrs.retain(|a| !a.path().is_ident("differentiate"));
        }
        if let syn::Item::Impl(i) = &mut item {
            i.attrs.retain(|a| !a.path().is_ident("differentiate"));
        }
        out.push((args, item.to_token_stream().to_string()));
    }
}

/// xorshift64*: seeded, so a failure repeats.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
    }
}

const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "%", "<", ">", "<=", ">=", "==", "!=", "&&", "||", "!", "&", "=", "+=",
    "-=", "*=", ";", ",", ".", "..", "..=", "?", "|", "'a", "0", "1.0", "_", "mut", "return",
    "break", "continue", "let", "if", "else", "for", "in", "while", "loop", "match", "=>", "as",
    "f32",
];

/// One mutation of the item's tokens, as text (pieces are separated by spaces
/// in `TokenStream`'s printing).
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut pieces: Vec<&str> = text.split(' ').collect();
    if pieces.is_empty() {
        return String::new();
    }
    let k = rng.below(pieces.len());
    let idents: Vec<&str> = pieces
        .iter()
        .copied()
        .filter(|p| {
            p.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
        })
        .collect();
    match rng.below(6) {
        0 => {
            pieces.remove(k);
        }
        1 => pieces.insert(k, pieces[k]),
        2 => {
            let j = rng.below(pieces.len());
            pieces.swap(k, j);
        }
        3 => pieces[k] = OPERATORS[rng.below(OPERATORS.len())],
        4 if !idents.is_empty() => pieces[k] = idents[rng.below(idents.len())],
        _ => {
            // Cut from here to the end of the statement.
            let end = pieces[k..]
                .iter()
                .position(|p| *p == ";")
                .map_or(pieces.len(), |e| k + e + 1);
            pieces.drain(k..end);
        }
    }
    pieces.join(" ")
}

#[test]
fn mutated_inputs_give_code_or_errors_never_a_panic() {
    let corpus = corpus();
    assert!(
        corpus.len() >= 50,
        "found only {} differentiated items",
        corpus.len()
    );
    let cases: usize = std::env::var("BACKPROP_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let mut tried = 0;
    let mut refused = 0;
    while tried < cases {
        let (args, item) = &corpus[rng.below(corpus.len())];
        let mut text = item.clone();
        for _ in 0..1 + rng.below(3) {
            text = mutate(&text, &mut rng);
        }
        let (Ok(attr), Ok(tokens)) = (args.parse::<TokenStream>(), text.parse::<TokenStream>())
        else {
            continue; // unbalanced delimiters: not tokens a macro can receive
        };
        tried += 1;
        let expanded =
            std::panic::catch_unwind(|| differentiate(attr.clone(), tokens.clone(), None))
                .unwrap_or_else(|_| {
                    panic!("the expansion panicked on:\n#[differentiate({args})]\n{text}")
                });
        let printed = expanded.to_string();
        let has_error = printed.contains("compile_error");
        refused += usize::from(has_error);
        if syn::parse2::<syn::Item>(tokens).is_ok() {
            assert!(
                syn::parse2::<syn::File>(expanded).is_ok(),
                "the expansion is not Rust for:\n#[differentiate({args})]\n{text}\n\n{printed}"
            );
        } else {
            // Not an item at all: an error, and the tokens handed back as they were.
            assert!(has_error, "no error for:\n{text}\n\n{printed}");
        }
    }
    // Most mutations break something: the errors must have been reported.
    assert!(
        refused > cases / 10,
        "only {refused} of {cases} mutated inputs were refused"
    );
}

/// A closure body that starts with a block (`|w| { .. } + 1.0`, as inlining
/// writes one too) once panicked in the reading of `windows`.
#[test]
fn a_closure_body_starting_with_a_block() {
    let item: TokenStream = "pub fn a(x: &[f64]) -> f64 { x.windows(2).map(|w| { let t: f64 = 1.0 - w[0]; t * t } + 100.0 * { let s: f64 = w[1]; s * s }).sum() }".parse().unwrap_or_default();
    let out = differentiate(TokenStream::new(), item, None);
    assert!(syn::parse2::<syn::File>(out).is_ok());
    let item: TokenStream = "pub fn b(a: [f64; 2]) -> [f64; 2] { a.map(|v| { v * v } + 1.0) }"
        .parse()
        .unwrap_or_default();
    let out = differentiate(TokenStream::new(), item, None);
    assert!(syn::parse2::<syn::File>(out).is_ok());
}
