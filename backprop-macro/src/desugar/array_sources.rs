//! An array literal an iterator chain starts from (`[x, y, t].iter().map(|q|
//! q * t).sum()`, `[a, b].into_iter()`, `vec![a, b].iter()`, `[x; 3].iter()`)
//! or a loop iterates by reference (`for q in &[x, y]`, `for q in &vec![x;
//! n]`) is a local array first, `let
//! values = [x, y, t];` before the statement, so the chain reads a named array as
//! any other. The elements are computed where they were, before the rest
//! of the statement; a literal inside a closure, a loop's condition or an
//! operand evaluated only sometimes (`c && ..`, a `match` arm) is left as
//! written. An array literal a closure returns is bound the same way,
//! inside the closure.

use crate::emit::names::{identifiers, Names};
use crate::lower::strip_parens as strip;
use quote::ToTokens;
use syn::visit_mut::VisitMut;
use syn::{Expr, Stmt};

pub fn array_sources_bound(function: &mut syn::ItemFn) {
    let names = Names::avoiding(identifiers(function.block.to_token_stream()));
    // Names the function binds (`A: &[f64]`, `let B = ..`): variables, not
    // constants, whatever their case.
    let mut bindings = Bindings(std::collections::BTreeMap::new());
    syn::visit::Visit::visit_signature(&mut bindings, &function.sig);
    syn::visit::Visit::visit_block(&mut bindings, &function.block);
    let variables = bindings.0.into_keys().collect();
    Binder { names, variables }.visit_block_mut(&mut function.block);
    into_iters_as_iters(function);
}

/// `x.into_iter()` where `x` is a list of floats whose kind the function
/// shows: `x.iter()` of a parameter taken by reference (`&[f64]`, `&Vec<f64>`,
/// `&[f64; 3]`: the same items), `x.iter().copied()` of an array taken by
/// value or a local bound once to a literal of plain elements (`[a, b]`,
/// `vec![a, b]`, `[0.0; 3]`: the same values). Other names are left as
/// written.
fn into_iters_as_iters(function: &mut syn::ItemFn) {
    let mut bound = Bindings(std::collections::BTreeMap::new());
    syn::visit::Visit::visit_block(&mut bound, &function.block);
    let mut lists = std::collections::BTreeMap::new();
    let mut params = std::collections::BTreeSet::new();
    for input in &function.sig.inputs {
        let syn::FnArg::Typed(typed) = input else {
            continue;
        };
        let syn::Pat::Ident(pat) = &*typed.pat else {
            continue;
        };
        let name = pat.ident.to_string();
        params.insert(name.clone());
        if bound.0.contains_key(&name) {
            continue;
        }
        match &*typed.ty {
            syn::Type::Reference(_) if list_of_scalars(&typed.ty) => {
                lists.insert(name, false);
            }
            // (Copied: of numbers, or of the function's own type
            // parameter, a `Float`, which is `Copy`.)
            syn::Type::Array(array) if copy_type(&array.elem, &function.sig.generics) => {
                lists.insert(name, true);
            }
            _ => {}
        }
    }
    for (name, (count, plain_literal)) in &bound.0 {
        if *count == 1 && *plain_literal && !params.contains(name) {
            lists.insert(name.clone(), true);
        }
    }
    if !lists.is_empty() {
        IntoIters { lists }.visit_block_mut(&mut function.block);
    }
}

/// How many times each name is bound in the body (patterns anywhere), and
/// whether its one `let` gives it a literal list of plain elements.
struct Bindings(std::collections::BTreeMap<String, (usize, bool)>);

impl<'ast> syn::visit::Visit<'ast> for Bindings {
    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let (syn::Pat::Ident(pat), Some(init)) = (&local.pat, &local.init) {
            let entry = self.0.entry(pat.ident.to_string()).or_default();
            entry.1 = plain_literal(&init.expr);
        }
        syn::visit::visit_local(self, local);
    }

    fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
        self.0.entry(pat.ident.to_string()).or_default().0 += 1;
        syn::visit::visit_pat_ident(self, pat);
    }

    // (A closure's parameters are names of its own: `IntoIters` leaves
    // alone a closure that binds a list's name.)
    fn visit_expr_closure(&mut self, closure: &'ast syn::ExprClosure) {
        self.visit_expr(&closure.body);
    }
}

/// `[a, b]`, `[0.0; n]` or `vec![a, b]` whose elements are no lists.
fn plain_literal(expr: &Expr) -> bool {
    let plain = |e: &Expr| !matches!(strip(e), Expr::Array(_) | Expr::Repeat(_) | Expr::Macro(_));
    match strip(expr) {
        Expr::Array(array) => array.elems.iter().all(plain),
        Expr::Repeat(repeat) => plain(&repeat.expr),
        Expr::Macro(mac) if mac.mac.path.is_ident("vec") => {
            // (`vec![0.0; n]`, else `vec![a, b]`.)
            if let Some(repeat) = crate::parse::method::repeat_in(&mac.mac) {
                return plain(&repeat.expr);
            }
            let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
            syn::parse::Parser::parse2(parser, mac.mac.tokens.clone())
                .is_ok_and(|elements| elements.iter().all(plain))
        }
        _ => false,
    }
}

/// A primitive number or `bool`, or a type parameter of `generics`.
fn copy_type(ty: &syn::Type, generics: &syn::Generics) -> bool {
    let syn::Type::Path(path) = ty else {
        return false;
    };
    let Some(name) = path.path.get_ident().filter(|_| path.qself.is_none()) else {
        return false;
    };
    let primitive = [
        "f64", "f32", "usize", "isize", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64",
        "bool",
    ];
    primitive.contains(&name.to_string().as_str())
        || generics.type_params().any(|p| p.ident == *name)
}

fn scalar_type(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(path) if path.qself.is_none() && path.path.get_ident().is_some())
}

/// `&[E]`, `&mut [E]`, `&Vec<E>`, `&[E; N]` of a single-name `E`.
fn list_of_scalars(ty: &syn::Type) -> bool {
    let syn::Type::Reference(reference) = ty else {
        return false;
    };
    match &*reference.elem {
        syn::Type::Slice(slice) => scalar_type(&slice.elem),
        syn::Type::Array(array) => scalar_type(&array.elem),
        syn::Type::Path(path) => path.path.segments.last().is_some_and(|last| {
            last.ident == "Vec"
                && matches!(&last.arguments, syn::PathArguments::AngleBracketed(args)
                    if args.args.len() == 1
                        && matches!(&args.args[0], syn::GenericArgument::Type(e) if scalar_type(e)))
        }),
        _ => false,
    }
}

/// The lists `into_iter` is rewritten on: whether by `iter().copied()`.
struct IntoIters {
    lists: std::collections::BTreeMap<String, bool>,
}

impl VisitMut for IntoIters {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Closure(closure) = expr {
            let params = identifiers(closure.inputs.to_token_stream());
            if self.lists.keys().any(|list| params.contains(list)) {
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
        let Expr::MethodCall(call) = expr else {
            return;
        };
        if call.method != "into_iter" || !call.args.is_empty() || call.turbofish.is_some() {
            return;
        }
        let Expr::Path(path) = strip(&call.receiver) else {
            return;
        };
        let Some(copied) = path
            .path
            .get_ident()
            .and_then(|name| self.lists.get(&name.to_string()))
        else {
            return;
        };
        let receiver = &call.receiver;
        let span = call.method.span();
        *expr = match copied {
            true => syn::parse_quote_spanned!(span=> #receiver.iter().copied()),
            false => syn::parse_quote_spanned!(span=> #receiver.iter()),
        };
    }
}

struct Binder {
    names: Names,
    variables: std::collections::BTreeSet<String>,
}

impl VisitMut for Binder {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        syn::visit_mut::visit_block_mut(self, block);
        let mut stmts = Vec::with_capacity(block.stmts.len());
        for mut stmt in std::mem::take(&mut block.stmts) {
            let mut finder = Sources {
                names: &mut self.names,
                variables: &self.variables,
                lets: Vec::new(),
            };
            finder.visit_stmt_mut(&mut stmt);
            stmts.extend(finder.lets);
            stmts.push(stmt);
        }
        block.stmts = stmts;
    }

    /// An array a closure returns as a literal, `|s: f64| [s.sin(),
    /// s.cos()]` (or a block ending in one), is bound first, `{ let values
    /// = [..]; values }`: an array is a variable where the closure is
    /// inlined.
    fn visit_expr_closure_mut(&mut self, closure: &mut syn::ExprClosure) {
        syn::visit_mut::visit_expr_closure_mut(self, closure);
        let tail = match &mut *closure.body {
            Expr::Block(block) => match block.block.stmts.last_mut() {
                Some(Stmt::Expr(tail, None)) => tail,
                _ => return,
            },
            body => body,
        };
        if !matches!(strip(tail), Expr::Array(_)) {
            return;
        }
        let mut name = self.names.fresh("values");
        name.set_span(syn::spanned::Spanned::span(&*tail));
        let array = tail.clone();
        *tail = syn::parse_quote!({
            let #name = #array;
            #name
        });
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// The literals a statement iterates where it runs once, each replaced by
/// a fresh name bound in `lets`.
struct Sources<'a> {
    names: &'a mut Names,
    variables: &'a std::collections::BTreeSet<String>,
    lets: Vec<Stmt>,
}

impl Sources<'_> {
    /// `let values = array;` among the statement's `lets`: the name.
    fn bound(&mut self, array: Expr) -> syn::Ident {
        // (Spanned at the literal: where a chain over it is refused.)
        let mut name = self.names.fresh("values");
        name.set_span(syn::spanned::Spanned::span(&array));
        self.lets.push(syn::parse_quote!(let #name = #array;));
        name
    }
}

impl VisitMut for Sources<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            // Run sometimes, many times, or elsewhere; a nested block binds
            // its own.
            Expr::Closure(_) | Expr::Block(_) | Expr::Loop(_) | Expr::Match(_) => {}
            Expr::While(_) | Expr::Async(_) | Expr::Unsafe(_) | Expr::Const(_) => {}
            Expr::If(branch) => self.visit_expr_mut(&mut branch.cond),
            // `for q in &[x, y]` (by value, `for q in [x, y]`, is read as
            // the array it is).
            Expr::ForLoop(each) => match strip(&each.expr) {
                Expr::Reference(reference) if constant_list(&reference.expr, self.variables) => {
                    let constant = (*reference.expr).clone();
                    let name = self.bound(syn::parse_quote!(&#constant));
                    *each.expr = syn::parse_quote!(#name);
                    by_value(each);
                }
                Expr::MethodCall(call)
                    if call.method == "iter"
                        && call.args.is_empty()
                        && constant_list(&call.receiver, self.variables) =>
                {
                    let constant = (*call.receiver).clone();
                    let name = self.bound(syn::parse_quote!(&#constant));
                    *each.expr = syn::parse_quote!(#name);
                    by_value(each);
                }
                Expr::Reference(reference) if literal_list(&reference.expr) => {
                    let mut array = (*reference.expr).clone();
                    self.visit_expr_mut(&mut array);
                    let name = self.bound(array);
                    *each.expr = syn::parse_quote!(&#name);
                }
                _ => self.visit_expr_mut(&mut each.expr),
            },
            Expr::Binary(binary) if matches!(binary.op, syn::BinOp::And(_) | syn::BinOp::Or(_)) => {
                self.visit_expr_mut(&mut binary.left);
            }
            Expr::MethodCall(call) if iterates(&call.method) => {
                let receiver = match strip(&call.receiver) {
                    Expr::Reference(reference) => strip(&reference.expr),
                    other => other,
                };
                if constant_list(receiver, self.variables) {
                    let constant = receiver.clone();
                    let name = self.bound(syn::parse_quote!(&#constant));
                    *call.receiver = syn::parse_quote!(#name);
                } else if row_of_rows(receiver) {
                    // `xs[i].iter()` of rows (`&[Vec<f64>]`, `&[[f64; 3]]`):
                    // a named row, `let values = &xs[i];`, as a loop over
                    // the rows names it.
                    let row = receiver.clone();
                    let name = self.bound(syn::parse_quote!(&#row));
                    *call.receiver = syn::parse_quote!(#name);
                } else if literal_list(receiver) {
                    let mut array = receiver.clone();
                    syn::visit_mut::visit_expr_mut(self, &mut array);
                    let name = self.bound(array);
                    *call.receiver = syn::parse_quote!(#name);
                }
                syn::visit_mut::visit_expr_method_call_mut(self, call);
            }
            // `x.iter().zip(&W)`, `.zip(W.iter())` of a constant list.
            Expr::MethodCall(call) if call.method == "zip" && call.args.len() == 1 => {
                let constant = match strip(&call.args[0]) {
                    Expr::Reference(r)
                        if r.mutability.is_none() && constant_list(&r.expr, self.variables) =>
                    {
                        Some((*r.expr).clone())
                    }
                    Expr::MethodCall(m)
                        if m.method == "iter" && constant_list(&m.receiver, self.variables) =>
                    {
                        Some((*m.receiver).clone())
                    }
                    _ => None,
                };
                if let Some(constant) = constant {
                    let name = self.bound(syn::parse_quote!(&#constant));
                    call.args[0] = syn::parse_quote!(#name.iter());
                }
                syn::visit_mut::visit_expr_method_call_mut(self, call);
            }
            // `g(&vec![x; n])`, `g(&[x; 3])`: the buffer a `let` makes.
            Expr::Call(call) => {
                for arg in call.args.iter_mut() {
                    if let Expr::Reference(reference) = arg {
                        if reference.mutability.is_none() && made_buffer(&reference.expr) {
                            let mut buffer = (*reference.expr).clone();
                            self.visit_expr_mut(&mut buffer);
                            let name = self.bound(buffer);
                            *reference.expr = syn::parse_quote!(#name);
                        }
                    }
                }
                syn::visit_mut::visit_expr_call_mut(self, call);
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    // (Items are not this function's code.)
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// `for w in &W { .. w .. *w .. }` as `for &w in &W { .. w .. w .. }`: the
/// element a float, not a reference to one, which the backward pass can
/// keep. Left as written where a macro or a closure might use the name, the
/// body reads a field of it, or binds it again.
fn by_value(each: &mut syn::ExprForLoop) {
    let syn::Pat::Ident(p) = &*each.pat else {
        return;
    };
    if p.by_ref.is_some() || p.mutability.is_some() || p.subpat.is_some() {
        return;
    }
    let name = p.ident.clone();
    // A field read (`p.x`) says the elements are structs or tuples, which
    // may not be `Copy`: left as written.
    struct Unsure<'n>(&'n syn::Ident, bool);
    impl<'ast> syn::visit::Visit<'ast> for Unsure<'_> {
        fn visit_macro(&mut self, _: &'ast syn::Macro) {
            self.1 = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {
            self.1 = true;
        }
        fn visit_expr_field(&mut self, field: &'ast syn::ExprField) {
            self.1 |= matches!(strip(&field.base), Expr::Path(p) if p.path.is_ident(self.0));
            syn::visit::visit_expr_field(self, field);
        }
    }
    let mut unsure = Unsure(&name, false);
    syn::visit::Visit::visit_block(&mut unsure, &each.body);
    if unsure.1 || crate::desugar::rebound_inside(&each.body, &name) {
        return;
    }
    crate::desugar::derefs_as_values(&mut each.body.stmts, &name);
    *each.pat = syn::parse_quote!(&#name);
}

/// `W` or `consts::W`: a constant (or static) by Rust's naming, a list where
/// it is iterated. Bound as `let values = &W;`, it is read as a list of data
/// like a parameter's (iterated where it is, the path is not a list the
/// lowering knows).
fn constant_list(expr: &Expr, variables: &std::collections::BTreeSet<String>) -> bool {
    let Expr::Path(path) = strip(expr) else {
        return false;
    };
    let variable = path
        .path
        .get_ident()
        .is_some_and(|name| variables.contains(&name.to_string()));
    !variable
        && path.qself.is_none()
        && path.path.segments.last().is_some_and(|last| {
            let name = last.ident.to_string();
            last.arguments.is_none()
                && name.chars().any(|c| c.is_ascii_uppercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
}

/// `xs[i]`: a row of a list of rows, named by a path and indexed by an
/// expression that is no range.
fn row_of_rows(expr: &Expr) -> bool {
    matches!(strip(expr), Expr::Index(index)
        if matches!(strip(&index.expr), Expr::Path(p) if p.path.get_ident().is_some())
            && !matches!(strip(&index.index), Expr::Range(_)))
}

/// `[x; 3]`, `vec![x, y]`, `vec![x; n]`: a buffer only a `let` makes (an
/// array literal, `[x, y]`, is read where it is).
fn made_buffer(expr: &Expr) -> bool {
    match strip(expr) {
        Expr::Repeat(_) => true,
        Expr::Macro(mac) => mac.mac.path.is_ident("vec"),
        _ => false,
    }
}

/// `[x, y]`, `[x; 3]`, `vec![x, y]`, `vec![x; n]`.
fn literal_list(expr: &Expr) -> bool {
    matches!(strip(expr), Expr::Array(_)) || made_buffer(expr)
}

fn iterates(method: &syn::Ident) -> bool {
    method == "iter" || method == "into_iter"
}
