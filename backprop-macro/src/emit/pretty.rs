//! A small pretty-printer for the code we generate, so a user can read it without
//! installing anything: it is printed into the generated module's documentation and
//! its `SOURCE` constant. It knows only the shapes we emit (items, `let` statements,
//! expressions) and leaves out doc attributes; `cargo expand` shows the same code.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

pub fn pretty(tokens: TokenStream) -> String {
    let toks = lex(tokens);
    let mut printer = Printer::default();
    printer.block_items(&toks);
    let mut out = printer.out.trim_end().to_string();
    out.push('\n');
    out
}

#[derive(Clone, Debug)]
enum Tok {
    Word(String),
    Literal(String),
    Op(String),
    Group(Delimiter, Vec<Tok>),
}

impl Tok {
    fn is_op(&self, op: &str) -> bool {
        matches!(self, Tok::Op(o) if o == op)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self, Tok::Word(w) if w == word)
    }
}

/// Token trees to tokens, joining multi-character operators and dropping doc
/// attributes.
fn lex(tokens: TokenStream) -> Vec<Tok> {
    let mut out = lex_trees(tokens);
    mark_generics(&mut out);
    out
}

/// `Stack<f64>`: angle brackets after a type name, `::` or a function's name
/// are generics, printed
/// without spaces (`<`/`>` stay comparisons elsewhere).
fn mark_generics(toks: &mut [Tok]) {
    let mut depth = 0usize;
    for i in 0..toks.len() {
        let opens = toks[i].is_op("<")
            && i > 0
            && match &toks[i - 1] {
                Tok::Word(w) => w.starts_with(char::is_uppercase),
                Tok::Op(o) => o == "::",
                _ => false,
            }
            // `fn forward<T: Float>`, `impl<T: Float>`.
            || toks[i].is_op("<")
                && (i > 1 && toks[i - 2].is_word("fn") || i > 0 && toks[i - 1].is_word("impl"));
        if opens {
            depth += 1;
            toks[i] = Tok::Op("<generic".into());
        } else if depth > 0 && toks[i].is_op(">") {
            depth -= 1;
            toks[i] = Tok::Op(">generic".into());
        } else if let Tok::Group(_, inner) = &mut toks[i] {
            mark_generics(inner);
        }
    }
}

fn lex_trees(tokens: TokenStream) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::new();
    let mut joining = false;
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => out.push(Tok::Word(ident.to_string())),
            TokenTree::Literal(lit) => out.push(Tok::Literal(lit.to_string())),
            TokenTree::Punct(punct) => {
                let ch = punct.as_char();
                match out.last_mut() {
                    Some(Tok::Op(op)) if joining => op.push(ch),
                    _ => out.push(Tok::Op(ch.to_string())),
                }
                joining = punct.spacing() == proc_macro2::Spacing::Joint && ch != '\'';
                continue;
            }
            TokenTree::Group(group) => {
                let inner = lex_trees(group.stream());
                let is_doc = group.delimiter() == Delimiter::Bracket
                    && inner.first().is_some_and(|t| t.is_word("doc"));
                if is_doc {
                    if out.last().is_some_and(|t| t.is_op("!")) {
                        out.pop();
                    }
                    if out.last().is_some_and(|t| t.is_op("#")) {
                        out.pop();
                    }
                } else if group.delimiter() == Delimiter::None {
                    out.extend(inner);
                } else {
                    out.push(Tok::Group(group.delimiter(), inner));
                }
            }
        }
        joining = false;
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as", "else", "fn", "for", "if", "in", "let", "match", "mod", "move", "mut", "pub", "ref",
    "return", "struct", "use", "where", "while", "const", "impl", "dyn",
];

#[derive(Default)]
struct Printer {
    out: String,
    indent: usize,
}

impl Printer {
    fn newline(&mut self) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        self.out.push('\n');
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
    }

    fn at_line_start(&self) -> bool {
        self.out.trim_end_matches(' ').ends_with('\n') || self.out.is_empty()
    }

    /// A sequence of statements or items, one per line.
    fn block_items(&mut self, toks: &[Tok]) {
        let mut prev: Option<&Tok> = None;
        let mut prev2: Option<&Tok> = None;
        for (i, tok) in toks.iter().enumerate() {
            self.token(prev2, prev, tok, true);
            let next = toks.get(i + 1);
            match tok {
                Tok::Op(op) if op == ";" => self.newline(),
                // An attribute, `#[..]` or `#![..]` (not `vec![..]`).
                Tok::Group(Delimiter::Bracket, _)
                    if prev.is_some_and(|p| p.is_op("#"))
                        || prev.is_some_and(|p| p.is_op("!"))
                            && prev2.is_some_and(|p| p.is_op("#")) =>
                {
                    self.newline()
                }
                Tok::Group(Delimiter::Brace, inner) if is_multiline(inner) => {
                    // `} else`, `};`, `},` and a pattern's `} = *tape;`.
                    let continues = next.is_some_and(|n| {
                        n.is_word("else") || n.is_op(";") || n.is_op(",") || n.is_op("=")
                    });
                    if !continues {
                        self.newline();
                        if self.indent == 0 && next.is_some() {
                            self.newline();
                        }
                    }
                }
                _ => {}
            }
            prev2 = prev;
            prev = Some(tok);
        }
    }

    /// Tokens inside parentheses, brackets or an inline brace.
    fn inline(&mut self, toks: &[Tok]) {
        let mut prev: Option<&Tok> = None;
        let mut prev2: Option<&Tok> = None;
        for tok in toks {
            self.token(prev2, prev, tok, false);
            prev2 = prev;
            prev = Some(tok);
        }
    }

    fn token(&mut self, prev2: Option<&Tok>, prev: Option<&Tok>, tok: &Tok, in_block: bool) {
        if !self.at_line_start() && space_between(prev2, prev, tok) {
            self.out.push(' ');
        }
        match tok {
            Tok::Op(s) if s.ends_with("generic") => self.out.push_str(&s[..1]),
            Tok::Word(s) | Tok::Literal(s) | Tok::Op(s) => self.out.push_str(s),
            Tok::Group(Delimiter::Parenthesis, inner) => {
                self.out.push('(');
                self.inline(inner);
                self.out.push(')');
            }
            Tok::Group(Delimiter::Bracket, inner) => {
                self.out.push('[');
                self.inline(inner);
                self.out.push(']');
            }
            Tok::Group(_, inner) if inner.is_empty() => self.out.push_str("{}"),
            Tok::Group(_, inner) if is_multiline(inner) => {
                self.out.push('{');
                self.indent += 1;
                self.newline();
                if has_top_level(inner, ";") || !has_top_level(inner, ",") {
                    self.block_items(inner);
                } else {
                    self.fields(inner);
                }
                self.indent -= 1;
                while self.out.ends_with(' ') || self.out.ends_with('\n') {
                    self.out.pop();
                }
                self.newline();
                self.out.push('}');
            }
            Tok::Group(_, inner) => {
                self.out.push_str("{ ");
                self.inline(inner);
                self.out.push_str(" }");
            }
        }
        let _ = in_block;
    }

    /// Struct fields, one per line.
    fn fields(&mut self, toks: &[Tok]) {
        for (i, field) in toks.split(|t| t.is_op(",")).enumerate() {
            if field.is_empty() {
                continue;
            }
            if i > 0 {
                self.newline();
            }
            self.block_items(field);
            // `..` closes a pattern and takes no comma.
            if !matches!(field, [t] if t.is_op("..")) {
                self.out.push(',');
            }
        }
    }
}

fn has_top_level(toks: &[Tok], op: &str) -> bool {
    toks.iter().any(|t| t.is_op(op))
}

fn is_multiline(inner: &[Tok]) -> bool {
    has_top_level(inner, ";")
        || has_top_level(inner, "#")
        || inner.iter().any(|t| t.is_word("pub") || t.is_word("fn"))
        || flat_len(inner) > 60
}

fn flat_len(toks: &[Tok]) -> usize {
    toks.iter()
        .map(|t| match t {
            Tok::Word(s) | Tok::Literal(s) | Tok::Op(s) => s.len() + 1,
            Tok::Group(_, inner) => flat_len(inner) + 2,
        })
        .sum()
}

/// Is `tok` (an operator) used as a prefix here, judging by what precedes it?
fn is_prefix(before: Option<&Tok>) -> bool {
    match before {
        None => true,
        Some(Tok::Op(_)) => true,
        Some(Tok::Word(w)) => KEYWORDS.contains(&w.as_str()),
        _ => false,
    }
}

fn space_between(prev2: Option<&Tok>, prev: Option<&Tok>, next: &Tok) -> bool {
    let Some(prev) = prev else {
        return false;
    };
    // After an operator that binds to what follows.
    if let Tok::Op(op) = prev {
        match op.as_str() {
            "." | "::" | "#" | ".." | "..=" | "<generic" => return false,
            "!" if prev2.is_some_and(|p| p.is_op("#")) => return false,
            "-" | "&" | "*" | "!" if is_prefix(prev2) => return false,
            _ => {}
        }
    }
    match next {
        Tok::Op(op) => match op.as_str() {
            "," | ";" | "." | "?" | ":" | "<generic" | ">generic" => false,
            ".." | "..=" => prev.is_op(","),
            "::" => match prev {
                Tok::Word(w) => KEYWORDS.contains(&w.as_str()),
                Tok::Op(o) => o != ">",
                _ => true,
            },
            "!" => !matches!(prev, Tok::Word(w) if !KEYWORDS.contains(&w.as_str())),
            _ => true,
        },
        Tok::Group(Delimiter::Parenthesis, _) => match prev {
            // `PhantomData<fn() -> T>`.
            Tok::Word(w) if w == "fn" => !prev2.is_some_and(|p| p.is_op("<generic")),
            Tok::Word(w) => KEYWORDS.contains(&w.as_str()),
            Tok::Group(..) => false,
            // `fn forward<T>(..)`.
            Tok::Op(op) => op != "!" && op != ">generic",
            _ => true,
        },
        Tok::Group(Delimiter::Bracket, _) => {
            !matches!(prev, Tok::Op(o) if o == "#" || o == "!")
                && !matches!(prev, Tok::Word(w) if !KEYWORDS.contains(&w.as_str()))
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::pretty;
    use quote::quote;

    #[test]
    fn prints_statements_one_per_line() {
        let code = quote! {
            pub fn backward(tape: &Tape, df: f64) -> Grad {
                let Tape { numer, rec_denom } = *tape;
                let dx1 = -df * numer.sin() / (2.0 * rec_denom);
                Grad { x: dx1 }
            }
        };
        let expected = "\
pub fn backward(tape: &Tape, df: f64) -> Grad {
    let Tape { numer, rec_denom } = *tape;
    let dx1 = -df * numer.sin() / (2.0 * rec_denom);
    Grad { x: dx1 }
}
";
        assert_eq!(pretty(code), expected);
    }

    #[test]
    fn prints_struct_fields_one_per_line_and_drops_docs() {
        let code = quote! {
            /// A tape.
            #[derive(Clone, Debug)]
            pub struct Tape { pub a: f64, pub b: ::core::primitive::f32 }
            pub const N: usize = 1;
        };
        let expected = "\
#[derive(Clone, Debug)]
pub struct Tape {
    pub a: f64,
    pub b: ::core::primitive::f32,
}

pub const N: usize = 1;
";
        assert_eq!(pretty(code), expected);
    }

    #[test]
    fn keeps_inline_expressions_on_one_line() {
        let code = quote! {
            let da = if a >= b { d } else { 0.0 };
            let (dx, _) = sig::pullback(&sigx_tape, -ds);
            let y = (lo..=hi).contains(&a);
        };
        let expected = "\
let da = if a >= b { d } else { 0.0 };
let (dx, _) = sig::pullback(&sigx_tape, -ds);
let y = (lo..=hi).contains(&a);
";
        assert_eq!(pretty(code), expected);
    }
}
