//! The pipeline: parse, check, lower, analyse, emit.

use crate::analysis::activity::Activity;
use crate::emit::backward;
use crate::emit::module;
use crate::emit::names::Names;
use crate::errors::{with_original_item, Errors};
use crate::ir::Floats;
use crate::lower::lower;
use crate::parse::args::Args;
use crate::parse::signature::{self, Signature};
use crate::valid;
use proc_macro2::TokenStream;
use quote::quote;

/// `file`: where the function is written, if the compiler says (its
/// siblings' calls are inlined).
pub fn differentiate(
    attr: TokenStream,
    item: TokenStream,
    file: Option<&std::path::Path>,
) -> TokenStream {
    match expand(attr, item.clone(), file) {
        Ok(tokens) => tokens,
        Err(error) => with_original_item(error, crate::parse::checkpoint::strip_item(item)),
    }
}

fn expand(
    attr: TokenStream,
    item: TokenStream,
    file: Option<&std::path::Path>,
) -> syn::Result<TokenStream> {
    let item: syn::Item = syn::parse2(item)?;
    let mut function = match item {
        syn::Item::Fn(function) => function,
        syn::Item::Impl(block) => return crate::parse::method::expand_impl(attr, block, file),
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "#[differentiate] applies to a function `fn f(x: f64, ...) -> f64 { ... }`, or to an `impl` block whose methods are marked `#[differentiate]`",
            ))
        }
    };
    let mut errors = Errors::default();
    let mut args = Args::parse(attr).unwrap_or_else(|error| {
        errors.push(error);
        Args::default()
    });
    // The code generated from the function does without its lifetimes,
    // and writes the type aliases of its file as the types they name (`V3`
    // is `[f64; 3]`). (The function as written finds itself in its file.)
    let mut generated = crate::parse::lifetimes::without_lifetimes(&function);
    // (Before inlining, which hoists a call out of a branch's condition to
    // between a `let y;` and the branch that gives it its value.)
    crate::desugar::deferred_lets::deferred_lets_as_values(&mut generated.block);
    if let Some(file) = file {
        crate::inline::siblings::aliases_expanded(&mut generated, file);
    }
    // Calls of the functions beside it inlined: plain helpers, methods and
    // differentiated functions; where what that writes is refused, only the
    // differentiated ones (a second try, written only then); else none,
    // each call made through its module.
    let inline = |plain: bool| {
        file.filter(|_| errors.is_empty())
            .map(|file| crate::inline::callees_inlined(&function, &generated, file, plain))
            .unwrap_or_default()
    };
    let attempt = |plain: bool| inline(plain).function;
    let crate::inline::Inlined {
        function: first,
        plain_helpers,
        differentiated_beside,
    } = inline(true);
    args.plain_helpers = plain_helpers;
    args.differentiated_beside = differentiated_beside;
    let tries = || {
        first
            .iter()
            .cloned()
            .chain(std::iter::once_with(|| first.as_ref().and_then(|_| attempt(false))).flatten())
    };
    for inlined in tries() {
        match crate::parse::model::expand_models(&inlined, &generated, &args) {
            Some(Ok(expansion)) => return Ok(expansion),
            Some(Err(_)) => {}
            // Not a function over structs.
            None => break,
        }
    }
    if let Some(expansion) = crate::parse::model::expand_models(&generated, &generated, &args) {
        errors.finish()?;
        // (The function is emitted from that copy too: a function returning
        // values means the same without its lifetimes.)
        return expansion;
    }
    let module =
        match tries().find_map(|inlined| module_of(&inlined, &args, Errors::default()).ok()) {
            Some(module) => module,
            // A plain helper has no module to be called through: what the
            // function with it inlined is refused for, not a call of it.
            None => match first.filter(|first| !same_function(attempt(false).as_ref(), first)) {
                Some(first) => module_of(&first, &args, errors)?,
                None => module_of(&generated, &args, errors)?,
            },
        };
    // The user's function stays as written. Its derivative is used through the
    // module even when the function itself is never called.
    function.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    crate::parse::checkpoint::strip(&mut function.block);
    Ok(quote!(#function #module))
}

/// Whether `a` is `b`, token for token.
fn same_function(a: Option<&syn::ItemFn>, b: &syn::ItemFn) -> bool {
    a.is_some_and(|a| quote!(#a).to_string() == quote!(#b).to_string())
}

/// The module of a function (`f::forward`, `f::backward`, ...), or every problem
/// found on the way, with `errors` found before. The whole pipeline, in order.
pub fn module_of(function: &syn::ItemFn, args: &Args, errors: Errors) -> syn::Result<TokenStream> {
    pipeline(function, args, errors, false).map(|(module, _)| module)
}

/// `module_of`, and which optional functions the module has.
pub fn module_and_made(
    function: &syn::ItemFn,
    args: &Args,
    errors: Errors,
) -> syn::Result<(TokenStream, module::Made)> {
    pipeline(function, args, errors, false)
}

/// `module_of`, or with `twin`, the module of a function's twin over a
/// generic float, which sits inside the function's own module (no `SOURCE`
/// or docs of its own: the outer module's show it).
fn pipeline(
    function: &syn::ItemFn,
    args: &Args,
    mut errors: Errors,
    twin: bool,
) -> syn::Result<(TokenStream, module::Made)> {
    // Parse: which types are floats (with a generic function's `T`), then the
    // signature.
    let generic = signature::generic_float(&function.sig.generics, &mut errors);
    let floats = Floats::new(generic);
    // The body's own `const` and `use` items, for the module.
    let mut rebased = function.clone();
    let items = crate::parse::items::take_items(&mut rebased.block);
    // Validate: constructs refused wherever they appear (a `loop`'s value
    // read after it first, where its `break`s then carry none).
    crate::desugar::loop_values::loop_values_after_loops(&mut rebased.block);
    valid::check(&rebased.block, &mut errors);
    // Desugar: the user's syntax in a smaller language (`desugar`).
    crate::desugar::desugar(&mut rebased, &floats);
    let signature = Signature::from_syn(&rebased, args, &floats, &mut errors)
        .map(|signature| Signature { items, ..signature });
    // Lower: the body becomes a Wengert list.
    let mut names = Names::for_function(function);
    let graph = signature
        .as_ref()
        .map(|sig| lower(&rebased.block, sig, &mut names, &mut errors));
    if let Some(graph) = &graph {
        crate::analysis::checkpoint::check(graph, &mut errors);
    }
    errors.finish()?;
    let (Some(signature), Some(graph)) = (signature, graph) else {
        return Err(syn::Error::new_spanned(
            &function.sig,
            "unsupported signature",
        ));
    };
    // Analyse: which nodes get an adjoint (the tape plan is asked by the
    // backward emitter, value by value).
    let activity = Activity::of(&graph);
    // Emit: the backward pass decides what the tape holds; the forward pass
    // and the module are written around it.
    // `graph`'s backward pass is the same, with recording calls: written
    // from the same names, so its locals and the tape's fields are the same.
    // The calls of a function to itself share its tape where the tape
    // allows (`emit/frames.rs`); else the pass is written again without.
    let recording_names = names.clone();
    let mut written = names.clone();
    let mut backward = backward::generate(&graph, &activity, &signature, &mut written, None, true);
    let share = crate::emit::frames::shareable(&signature, &graph, &backward);
    match share {
        true => names = written,
        false if backward.frames.is_some() => {
            backward = backward::generate(&graph, &activity, &signature, &mut names, None, false);
        }
        false => names = written,
    }
    // `jacobian_into`'s pass with lanes, where every adjoint can be lanes
    // (`emit/lanes.rs`): written from the same names too.
    let lanes = crate::emit::lanes::lanes_pass(
        &graph,
        &activity,
        &signature,
        recording_names.clone(),
        &backward,
        &mut names,
    );
    let recorded = (!twin).then(|| {
        let mut names = recording_names;
        let recorder = names.fresh("recorder");
        let backward = backward::generate(
            &graph,
            &activity,
            &signature,
            &mut names,
            Some(recorder.clone()),
            share,
        );
        module::Recording {
            backward,
            recorder,
            names,
        }
    });
    let lints = lint_attributes(&function.attrs);
    // Second order of a function over `f64` or `f32`, asked for with
    // `second_order`, runs through its twin over a generic float; a twin the
    // pipeline refuses is dropped. (Asked for, not always made: the twin
    // doubles the expansion's work, and rustc checks it like any code, so a
    // type error in the body would be reported once more in its terms.)
    // Its name is `generic` (callers' twins call `g::generic`), so a
    // function that uses that name itself has none.
    let twin_name = names.fresh("generic");
    let wanted = args.second_order && twin_name == "generic" && crate::emit::has_twin(&signature);
    let twin_module = wanted
        .then(|| crate::twin::generic_twin(function, &twin_name))
        .flatten()
        .and_then(|twin| pipeline(&twin, args, Errors::default(), true).ok())
        .map(|(module, _)| module)
        .map(|module| (twin_name, module));
    module::assemble(
        &signature,
        &graph,
        &backward,
        &mut names,
        &lints,
        module::Nesting {
            twin: twin_module,
            is_twin: twin,
        },
        module::Again { recorded, lanes },
    )
}

/// The user's `#[allow(..)]` and `#[expect(..)]` on the function, for the
/// generated module, which repeats its code. An `expect` becomes an `allow`
/// there: the generated code need not trip the lint again, and an unmet
/// expectation would be a warning of its own.
pub fn lint_attributes(attrs: &[syn::Attribute]) -> Vec<syn::Attribute> {
    attrs
        .iter()
        .filter_map(|attr| {
            if attr.path().is_ident("allow") {
                return Some(attr.clone());
            }
            let syn::Meta::List(list) = &attr.meta else {
                return None;
            };
            if !list.path.is_ident("expect") {
                return None;
            }
            // `reason = ".."` is kept: `allow` takes it too.
            let lints = &list.tokens;
            Some(syn::parse_quote_spanned!(attr.pound_token.span=> #[allow(#lints)]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::differentiate;
    use crate::emit::pretty::pretty;
    use quote::quote;

    fn expand(item: proc_macro2::TokenStream) -> String {
        pretty(differentiate(quote!(), item, None))
    }

    #[test]
    fn blog_function_has_the_blogs_sums() {
        let code = expand(quote! {
            fn f(x: f64, y: f64) -> f64 {
                let sigx = sigmoid(x);
                let sigy = sigmoid(y);
                let numer = x + sigy;
                let xandy = x + y;
                let xandysqr = xandy * xandy;
                let denom = xandysqr + sigx;
                let rec_denom = 1.0 / denom;
                numer * rec_denom
            }
        });
        assert!(code.contains("let dx = dx1 + dx2 + dx3;"), "{code}");
        assert!(code.contains("let dy = dy1 + dy2;"), "{code}");
        assert!(code.contains("let dsigx = ddenom;"), "{code}");
        assert!(
            code.contains("let dxandy = dxandysqr * (2.0 * xandy);"),
            "{code}"
        );
        assert!(!code.contains("compile_error"), "{code}");
    }

    #[test]
    fn refusals_keep_the_original_item() {
        let code = differentiate(
            quote!(),
            quote!(
                fn f(x: f64) -> f64 {
                    let g = |v: f64| v;
                    apply(g, x)
                }
            ),
            None,
        );
        let code = code.to_string();
        assert!(code.contains("compile_error"), "{code}");
        assert!(code.contains("fn f"), "{code}");
    }

    /// Odd and broken inputs give errors, never a panic.
    #[test]
    fn never_panics_on_odd_input() {
        let inputs = [
            quote!(),
            quote!(fn),
            quote!(
                struct S;
            ),
            quote!(
                fn f() -> f64 {}
            ),
            quote!(
                fn f() -> f64 {
                    1.0
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    x = x;
                    x
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let (a, b) = (x,);
                    a
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let (a, (b, c)) = (x, (x, x));
                    a
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    x.powi()
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    f64::exp()
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    sigmoid()
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    (x)(x)
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    <f64>::exp(x)
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    g::<f64>(x)
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    undefined += x;
                    x
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    return;
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    {
                        x
                    }
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    'a: {
                        x
                    }
                }
            ),
            quote!(
                fn f(r#x: f64) -> f64 {
                    r#x * 2.0
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let g = |a: f64, b: f64| a * b;
                    g(x)
                }
            ),
            quote!(
                fn f(x: f64) -> f64 {
                    let g = |(a, b): (f64, f64)| a * b;
                    let h = async |a: f64| a;
                    g((x, x)) + g
                }
            ),
            quote!(
                impl M {
                    #[differentiate]
                    fn f(&self, x: f64) -> f64 {
                        self.a.b[0] * self[1] * x
                    }
                }
            ),
            quote!(
                fn f(x: &[f64]) -> f64 {
                    x.iter().map(|a, b| a).sum::<f64>()
                        + x.iter().fold(0.0, |a| a)
                        + x.iter().map(g).product()
                }
            ),
            quote!(
                fn f(x: f64, x2: f64) -> f64 {
                    let x = x * x2;
                    let x = x + 1.0;
                    x
                }
            ),
        ];
        for input in inputs {
            let _ = differentiate(quote!(), input, None);
        }
        for attr in [
            quote!(wrt),
            quote!(wrt()),
            quote!(wrt(1)),
            quote!(wrt(x), wrt(x)),
            quote!(wrt = 1),
        ] {
            let _ = differentiate(
                attr,
                quote!(
                    fn f(x: f64) -> f64 {
                        x
                    }
                ),
                None,
            );
        }
    }
}
