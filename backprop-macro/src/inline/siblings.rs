//! The differentiated functions written beside a caller: in the same file
//! and the same module, so that a call `g(..)` in the caller names them.

use super::substitute::{Stand, Substitution};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use syn::visit_mut::VisitMut;

/// What is written beside a caller, in the module of its file that holds
/// it: what a call `g(..)` or `p.m(..)` in it can name.
#[derive(Default)]
pub(super) struct Siblings {
    /// The functions, by name: marked `#[differentiate]`, or plain (see
    /// `plain`). Functions of one name written twice (under `#[cfg]`s) are
    /// left out: which one the call names is not known.
    pub(super) functions: HashMap<String, syn::ItemFn>,
    /// The names of those not marked: a plain helper (`fn sq(x: f64) ->
    /// f64`) has no derivative of its own, so it is inlined wherever it can
    /// be. A function with a module of its name beside it is a custom rule,
    /// and is not among them.
    pub(super) plain: HashSet<String>,
    /// The methods of an `impl S` or `impl Trait for S` (no generics) taking
    /// `self` in any form, as free functions of the receiver (`fn
    /// predict(this: &S, x: f64)`, `self` renamed), by `(S, method)`.
    pub(super) methods: HashMap<(String, String), syn::ItemFn>,
    /// The named fields' types of the structs without generics, by struct
    /// and field: `layer` of `for layer in &net.layers` is a `Dense` where
    /// `Net` has `layers: Vec<Dense>`.
    pub(super) fields: HashMap<String, HashMap<String, syn::Type>>,
}

/// What is written beside `caller` in the module of `file` that holds it
/// (found by its name and tokens); `None` where the file cannot be read or
/// parsed, or `caller` is not found in it exactly once (a function written
/// by a macro, or under an attribute that changed it).
///
/// `called`: the names the caller calls or calls as methods; the file is
/// parsed only where it defines one of them.
pub(super) fn of(caller: &syn::Item, file: &Path, called: &HashSet<String>) -> Option<Siblings> {
    let text = std::fs::read_to_string(file).ok()?;
    if !called
        .iter()
        .any(|name| text.contains(&format!("fn {name}")))
    {
        return None;
    }
    let parsed = syn::parse_file(&text).ok()?;
    let key = tokens_of(caller)?;
    let mut modules = Vec::new();
    find_modules(&parsed.items, &key, &mut modules);
    let [items] = modules.as_slice() else {
        return None;
    };
    let functions = || {
        items.iter().filter_map(|item| match item {
            syn::Item::Fn(function) => Some(function),
            _ => None,
        })
    };
    let modules: HashSet<String> = items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(module) => Some(module.ident.to_string()),
            _ => None,
        })
        .collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for function in functions() {
        *counts.entry(function.sig.ident.to_string()).or_default() += 1;
    }
    let mut siblings = Siblings::default();
    for function in functions() {
        let name = function.sig.ident.to_string();
        let is_caller =
            matches!(caller, syn::Item::Fn(caller) if caller.sig.ident == function.sig.ident);
        if is_caller || counts[&name] != 1 {
            continue;
        }
        match is_differentiated(function) {
            true => {}
            false if modules.contains(&name) => continue,
            false => {
                siblings.plain.insert(name.clone());
            }
        }
        siblings.functions.insert(name, function.clone());
    }
    siblings.methods = methods(items);
    siblings.fields = field_types(items);
    // `type V3 = [f64; 3];`: a helper's `a: V3` is the array it names.
    let aliases = aliases(items);
    if !aliases.is_empty() {
        let mut expand = Aliases(&aliases);
        for function in siblings
            .functions
            .values_mut()
            .chain(siblings.methods.values_mut())
        {
            expand.visit_item_fn_mut(function);
        }
    }
    Some(siblings)
}

/// `function` with the type aliases of its file written as the types they
/// name (`a: V3` of `type V3 = [f64; 3];` is `a: [f64; 3]`, the same type),
/// so that the signature and the body show what they are. The aliases are
/// those of every module of the file, where one name means one type.
pub(crate) fn aliases_expanded(function: &mut syn::ItemFn, file: &Path) {
    let Ok(text) = std::fs::read_to_string(file) else {
        return;
    };
    // (Parsed only where a line starts an alias.)
    let starts_alias = |line: &str| {
        let line = line.trim_start();
        let line = line
            .strip_prefix("pub(crate) ")
            .or_else(|| line.strip_prefix("pub "))
            .unwrap_or(line);
        line.starts_with("type ")
    };
    if !text.lines().any(starts_alias) {
        return;
    }
    let Ok(parsed) = syn::parse_file(&text) else {
        return;
    };
    fn all_items(items: &[syn::Item], into: &mut Vec<syn::Item>) {
        for item in items {
            match item {
                syn::Item::Mod(module) => {
                    if let Some((_, inner)) = &module.content {
                        all_items(inner, into);
                    }
                }
                syn::Item::Type(_) => into.push(item.clone()),
                _ => {}
            }
        }
    }
    let mut items = Vec::new();
    all_items(&parsed.items, &mut items);
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut twice = HashSet::new();
    for item in &items {
        if let syn::Item::Type(alias) = item {
            let ty = &alias.ty;
            let tokens = quote::quote!(#ty).to_string();
            if seen
                .insert(alias.ident.to_string(), tokens.clone())
                .is_some_and(|t| t != tokens)
            {
                twice.insert(alias.ident.to_string());
            }
        }
    }
    let mut aliases = aliases(&items);
    aliases.retain(|name, _| !twice.contains(name));
    if !aliases.is_empty() {
        let mut expand = Aliases(&aliases);
        expand.visit_signature_mut(&mut function.sig);
        expand.visit_block_mut(&mut function.block);
    }
}

/// The type aliases without generics among `items`, by name, each written
/// with the aliases it names expanded (`type M3 = [V3; 3];`).
fn aliases(items: &[syn::Item]) -> HashMap<String, syn::Type> {
    let mut aliases: HashMap<String, syn::Type> = items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Type(alias) if alias.generics.params.is_empty() => {
                Some((alias.ident.to_string(), (*alias.ty).clone()))
            }
            _ => None,
        })
        .collect();
    // (A few rounds: aliases of aliases; a cycle does not compile anyway.)
    for _ in 0..4 {
        let snapshot = aliases.clone();
        for ty in aliases.values_mut() {
            Aliases(&snapshot).visit_type_mut(ty);
        }
    }
    aliases
}

/// Each type named by an alias written as the type itself.
struct Aliases<'a>(&'a HashMap<String, syn::Type>);

impl syn::visit_mut::VisitMut for Aliases<'_> {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Path(path) = ty {
            let named = path
                .qself
                .is_none()
                .then(|| path.path.get_ident())
                .flatten();
            if let Some(aliased) = named.and_then(|name| self.0.get(&name.to_string())) {
                *ty = aliased.clone();
                return;
            }
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// The named fields' types of the structs among `items` without generics.
fn field_types(items: &[syn::Item]) -> HashMap<String, HashMap<String, syn::Type>> {
    items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) if s.generics.params.is_empty() => {
                let fields = s
                    .fields
                    .iter()
                    .filter_map(|field| Some((field.ident.as_ref()?.to_string(), field.ty.clone())))
                    .collect();
                Some((s.ident.to_string(), fields))
            }
            _ => None,
        })
        .collect()
}

/// The methods of the non-generic `impl`s among `items`, as free
/// functions of their receivers; a method name written twice for one type
/// is left out.
pub(super) fn methods(items: &[syn::Item]) -> HashMap<(String, String), syn::ItemFn> {
    let mut methods = HashMap::new();
    let mut twice = HashSet::new();
    for item in items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let syn::Type::Path(self_ty) = &*block.self_ty else {
            continue;
        };
        let Some(ty) = self_ty.path.get_ident().filter(|_| self_ty.qself.is_none()) else {
            continue;
        };
        // (A trait's method is called so too, `m.predict(x)` of `impl Model
        // for Line`; one name in two impls of a type is left out below.)
        if !block.generics.params.is_empty() {
            continue;
        }
        // `type Output = V2;` of an operator's trait: what `Self::Output`
        // names in its method.
        let output = block.items.iter().find_map(|item| match item {
            syn::ImplItem::Type(assoc) if assoc.ident == "Output" => Some(assoc.ty.clone()),
            _ => None,
        });
        for item in &block.items {
            let syn::ImplItem::Fn(method) = item else {
                continue;
            };
            let method = self_named(method, ty, output.as_ref());
            let Some(function) = as_free_function(ty, &method) else {
                continue;
            };
            let key = (ty.to_string(), method.sig.ident.to_string());
            if methods.insert(key.clone(), function).is_some() {
                twice.insert(key);
            }
        }
    }
    methods.retain(|key, _| !twice.contains(key));
    methods
}

/// A method with `Self` written as the type it names (`Self::Output` as
/// the impl's `Output`): `fn add(self, o: Self) -> Self::Output { Self { ..
/// } }` of `impl Add for V2` is `fn add(self, o: V2) -> V2 { V2 { .. } }`,
/// a function that can stand outside the impl. The receiver keeps its
/// `self`.
fn self_named(
    method: &syn::ImplItemFn,
    ty: &syn::Ident,
    output: Option<&syn::Type>,
) -> syn::ImplItemFn {
    fn replaced(
        tokens: proc_macro2::TokenStream,
        ty: &syn::Ident,
        output: Option<&syn::Type>,
    ) -> proc_macro2::TokenStream {
        use proc_macro2::TokenTree;
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut out = proc_macro2::TokenStream::new();
        let mut k = 0;
        while k < trees.len() {
            match &trees[k] {
                TokenTree::Ident(ident) if ident == "Self" => {
                    // `Self::Output`: four trees, `Self`, `:`, `:`, `Output`.
                    let names_output = matches!(
                        (trees.get(k + 1), trees.get(k + 2), trees.get(k + 3)),
                        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)), Some(TokenTree::Ident(o)))
                            if a.as_char() == ':' && b.as_char() == ':' && o == "Output"
                    );
                    match (names_output, output) {
                        (true, Some(output)) => {
                            out.extend(quote::quote!(#output));
                            k += 4;
                            continue;
                        }
                        _ => out.extend(quote::quote!(#ty)),
                    }
                }
                TokenTree::Group(group) => {
                    let mut inner = proc_macro2::Group::new(
                        group.delimiter(),
                        replaced(group.stream(), ty, output),
                    );
                    inner.set_span(group.span());
                    out.extend([TokenTree::Group(inner)]);
                }
                other => out.extend([other.clone()]),
            }
            k += 1;
        }
        out
    }
    let tokens = quote::ToTokens::to_token_stream(method);
    if !crate::emit::names::identifiers(tokens.clone()).contains("Self") {
        return method.clone();
    }
    syn::parse2(replaced(tokens, ty, output)).unwrap_or_else(|_| method.clone())
}

/// `fn m(&self, x: f64)` of `impl S` as `fn m(this: &S, x: f64)`, `self`
/// renamed in the body (to a name it does not use); `None` for an
/// associated function (no receiver), a receiver typed otherwise (`self:
/// Box<Self>`), or a body naming `Self`.
fn as_free_function(ty: &syn::Ident, method: &syn::ImplItemFn) -> Option<syn::ItemFn> {
    let syn::FnArg::Receiver(receiver) = method.sig.inputs.first()? else {
        return None;
    };
    let body = &method.block;
    let used = crate::emit::names::identifiers(quote::quote!(#body));
    let reference = match &receiver.kind {
        syn::ReceiverKind::Value => None,
        syn::ReceiverKind::Reference(_, _, mutability) => Some(mutability.is_some()),
        _ => return None,
    };
    if used.contains("Self") || method.modifiers.defaultness.is_some() {
        return None;
    }
    let this = (1..)
        .map(|k| match k {
            1 => "this".to_string(),
            k => format!("this_{k}"),
        })
        .find(|name| !used.contains(name))?;
    let this = syn::Ident::new(&this, proc_macro2::Span::call_site());
    let param_ty: syn::Type = match reference {
        Some(true) => syn::parse_quote!(&mut #ty),
        Some(false) => syn::parse_quote!(&#ty),
        None => syn::parse_quote!(#ty),
    };
    let mutability = receiver.mutability.filter(|_| reference.is_none());
    let mut sig = method.sig.clone();
    sig.inputs[0] = syn::parse_quote!(#mutability #this: #param_ty);
    let mut block = method.block.clone();
    let shared = HashMap::new();
    Substitution {
        names: HashMap::from([("self".to_string(), Stand::Name(this))]),
        shared: &shared,
    }
    .visit_block_mut(&mut block);
    Some(syn::ItemFn {
        attrs: method.attrs.clone(),
        vis: syn::Visibility::Inherited,
        modifiers: syn::FnModifiers::default(),
        sig,
        block: Box::new(block),
    })
}

/// The item lists (the file's, or an inline module's) holding an item of
/// the tokens `key` (`tokens_of`).
fn find_modules<'f>(items: &'f [syn::Item], key: &str, into: &mut Vec<&'f [syn::Item]>) {
    for item in items {
        match item {
            syn::Item::Mod(module) => {
                if let Some((_, inner)) = &module.content {
                    find_modules(inner, key, into);
                }
            }
            item if tokens_of(item).as_deref() == Some(key) => into.push(items),
            _ => {}
        }
    }
}

/// A function's signature and body, or an `impl` block's header and items,
/// as text, to recognise the caller in its file (its attributes differ: the
/// compiler hands the macro the item without the attribute being
/// expanded); `None` for other items.
fn tokens_of(item: &syn::Item) -> Option<String> {
    match item {
        syn::Item::Fn(function) => {
            let (sig, block) = (&function.sig, &function.block);
            Some(quote::quote!(fn #sig #block).to_string())
        }
        syn::Item::Impl(block) => {
            let (generics, self_ty, items) = (&block.generics, &block.self_ty, &block.items);
            let header = block
                .trait_
                .as_ref()
                .map(|(path, _)| quote::quote!(#path for));
            Some(quote::quote!(impl #generics #header #self_ty { #(#items)* }).to_string())
        }
        _ => None,
    }
}

/// Marked `#[differentiate]` or `#[backprop_runtime::differentiate]` (any
/// path ending so), with arguments the macro takes.
pub(super) fn is_differentiated(function: &syn::ItemFn) -> bool {
    function.attrs.iter().any(|attr| {
        let marked = attr
            .path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "differentiate");
        let arguments = match &attr.meta {
            syn::Meta::Path(_) => Some(proc_macro2::TokenStream::new()),
            syn::Meta::List(list) => Some(list.tokens.clone()),
            syn::Meta::NameValue(_) => None,
        };
        marked && arguments.is_some_and(|tokens| crate::parse::args::Args::parse(tokens).is_ok())
    })
}
