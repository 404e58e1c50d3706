//! The seeds of `backward` over the structs: the value's, and where the
//! function writes a struct taken by `&mut`, a gradient struct for it,
//! spread over the flat function's seeds of the fields it writes.

use super::named_params;
use super::Api;
use proc_macro2::TokenStream;
use quote::quote;

impl Api<'_> {
    /// The type of `backward`'s seed, and the flat function's seed made from
    /// it (`seed`): the value's, then, where the function writes through
    /// `&mut`, one per parameter written (a struct's is a gradient struct of
    /// its type, its vectors as long as the fields'), as the flat function's
    /// are one per output.
    pub(super) fn seeds(&self) -> (TokenStream, TokenStream, Vec<TokenStream>) {
        let float = &self.sig.ret;
        let seed = &self.seed;
        if !self.writes() {
            return (quote!(#float), quote!(#seed), Vec::new());
        }
        let mut types = Vec::new();
        if self.sig.returns_value {
            types.push(quote!(#float));
        }
        // Where each parameter's seed is among the wrapper's.
        let mut positions = std::collections::BTreeMap::new();
        for (ident, _) in named_params(&self.seen.sig) {
            let ty = match self.models.iter().find(|m| m.ident == *ident) {
                // Rows written: a gradient of rows, `&[[f64; 3]]`.
                Some(model) if model.writes() && model.rows => {
                    let row = model.element_grad();
                    quote!(&[#row])
                }
                Some(model) if model.writes() => {
                    let ty = &model.ty;
                    quote!(&<#ty as ::backprop_runtime::Differentiable>::Grad)
                }
                Some(_) => continue,
                None => match self.sig.inouts().find(|(_, p)| p.ident == *ident) {
                    Some((_, param)) => {
                        let float = param.differentiable.as_ref().unwrap_or(float);
                        match param.writes_array() {
                            true => quote!(&[#float]),
                            false => quote!(#float),
                        }
                    }
                    None => continue,
                },
            };
            positions.insert(ident.to_string(), types.len());
            types.push(ty);
        }
        let single = types.len() == 1;
        let part = |k: usize| match single {
            true => quote!(#seed),
            false => {
                let k = proc_macro2::Literal::usize_unsuffixed(k);
                quote!(#seed.#k)
            }
        };
        let mut flat = Vec::new();
        if self.sig.returns_value {
            flat.push(part(0));
        }
        for (_, param) in self.sig.inouts() {
            let leaf = self.models.iter().find_map(|m| {
                let leaf = m.leaves.iter().find(|l| l.local == param.ident)?;
                Some((m, leaf))
            });
            flat.push(match leaf {
                Some((model, _)) if model.rows => {
                    let part = part(positions.get(&model.ident.to_string()).copied().unwrap_or_default());
                    quote!(&::backprop_runtime::model::fields::concat(#part.iter().map(|row| &row[..]))[..])
                }
                Some((model, leaf)) => {
                    let part = part(positions.get(&model.ident.to_string()).copied().unwrap_or_default());
                    let path = &leaf.path;
                    match self.seed_lengths.get(&leaf.local.to_string()) {
                        Some(j) => {
                            let (tape, j) = (&self.tape, proc_macro2::Literal::usize_unsuffixed(*j));
                            let words: Vec<String> = path.iter().map(ToString::to_string).collect();
                            let field = format!("{}.{}", model.ident, words.join("."));
                            quote!(::backprop_runtime::model::fields::seed_of(&#part.#(#path).*[..], #field, #tape.shapes[#j][0]))
                        }
                        None => quote!(#part.#(#path).*),
                    }
                }
                None => part(positions.get(&param.ident.to_string()).copied().unwrap_or_default()),
            });
        }
        let tuple = |items: &[TokenStream]| match items.len() {
            1 => quote!(#(#items)*),
            _ => quote!((#(#items),*)),
        };
        let through = self.passed_through(&positions, &part);
        (tuple(&types), tuple(&flat), through)
    }

    /// A struct taken by `&mut` is an output whole: its fields the body does
    /// not write leave it as they came in, so their seeds are their
    /// gradients' terms. Before the flat backward pass (whose `take_flat`
    /// left the fields it reads at zero), each such struct's gradient gets
    /// its whole seed, and the fields written are set to zero again: their
    /// seeds reach the flat pass, whose gradient has those terms already.
    fn passed_through(
        &self,
        positions: &std::collections::BTreeMap<String, usize>,
        part: &dyn Fn(usize) -> TokenStream,
    ) -> Vec<TokenStream> {
        let gradient = &self.gradient;
        let mut code = Vec::new();
        // (Rows written are written whole: no seed passes through.)
        for model in self.models.iter().filter(|m| m.mutable && !m.rows) {
            let Some(&at) = positions.get(&model.ident.to_string()) else {
                continue;
            };
            let (ident, part) = (&model.ident, part(at));
            code.push(quote!(::backprop_runtime::Gradient::add(&mut #gradient.#ident, #part);));
            for leaf in model.leaves.iter().filter(|l| l.written) {
                let path = &leaf.path;
                code.push(match leaf.array {
                    true => quote!(let _ = ::backprop_runtime::model::fields::Buffer::take_vec(&mut #gradient.#ident.#(#path).*);),
                    false => quote!(#gradient.#ident.#(#path).* = ::backprop_runtime::model::fields::zero();),
                });
            }
        }
        code
    }
}
