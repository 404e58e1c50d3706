//! Calls in reverse: a call of a differentiated function becomes a call of
//! its `pullback_into`, with the call's tape, the adjoints of its outputs and
//! a gradient the call site reuses.

use super::Pass;
use crate::ir::{Borrow, Bounds, NodeId, NodeKind, Operand, RegionId};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// What a pullback's result is bound to.
struct PullbackPattern {
    /// One per argument; bound as a tuple spanned at the call (`tuple`).
    patterns: Vec<TokenStream>,
    span: proc_macro2::Span,
    /// Terms of values defined outside the current branch or loop, added to
    /// their accumulators after the call.
    accumulated: Vec<(Operand, Ident)>,
    /// Adjoints of whole arrays (or of the part passed), added (or copied)
    /// element by element: (the argument's position, the array, the
    /// callee's adjoint, the part).
    whole_arrays: Vec<(usize, NodeId, Ident, Option<Bounds>)>,
    /// The terms bound by the pattern itself: (the argument's node, the
    /// term), for `graph`'s recording.
    locals: Vec<(NodeId, Ident)>,
    /// Gradients of struct parameters passed whole (`parse/model`), added
    /// into their `Grad` fields: (the parameter, the callee's gradient).
    models: Vec<(NodeId, Ident)>,
}

impl Pass<'_> {
    /// A call of a differentiated function: its `pullback_into`, with the
    /// call's tape and the adjoints of its outputs, hands back one adjoint per
    /// argument.
    pub(super) fn pullback(&mut self, id: NodeId, region: RegionId, d: &Ident) {
        let node = &self.graph.nodes[id];
        let NodeKind::Call {
            path,
            args,
            tape,
            arg_spans,
            outputs,
            ..
        } = &node.kind
        else {
            return;
        };
        self.saved_tapes.insert(id);
        let mut pattern = self.pullback_pattern(id, args, arg_spans, region);
        // A callee with several outputs takes one seed per output: the
        // adjoints of the elements the caller uses, zero for the others.
        let written: Vec<NodeId> = self.graph.writes_to_arrays(id).collect();
        let has_elements = !written.is_empty() || self.graph.elements_of(id).next().is_some();
        let seeds: Vec<TokenStream> = match has_elements {
            true => (0..*outputs).map(|k| self.element_adjoint(id, k)).collect(),
            false => vec![self.as_seed(id, d)],
        };
        let span = node.span;
        let scratch = self.callee_scratch(id, tape);
        let lent = self.lent_arguments(id);
        let sinks = match &lent {
            Some(_) => self.sinks(id, &pattern.whole_arrays, &written),
            None => Vec::new(),
        };
        let copying = |seed: &TokenStream| quote::quote_spanned!(span=> #path::pullback_into(#tape, #seed, #scratch));
        let pullback = match lent {
            Some((module, lent)) => {
                let into = crate::emit::lending::sink_names(sinks.len());
                let (lent_seed, copying_seed) =
                    self.branch_seeds(id, (&seeds, has_elements), &sinks, &into, &mut pattern);
                let copying = assigned_after(copying(&copying_seed), &sinks, &into);
                let bound: Vec<TokenStream> = sinks.iter().map(Sink::bound).collect();
                let sink_args: Vec<TokenStream> = sinks
                    .iter()
                    .zip(&into)
                    .map(|(s, i)| s.argument(i))
                    .collect();
                match self.frame_of(id) {
                    // The function itself, on the same tape: its stacks.
                    Some(stacks) => {
                        let (args, bind) = crate::emit::lending::bound(&lent, &bound);
                        quote::quote_spanned!(span=> {
                            #bind
                            self::pullback_frame(#stacks, #lent_seed, #scratch, (#(#args,)*), (#(#sink_args,)*))
                        })
                    }
                    None => crate::emit::lending::dispatch(
                        &module,
                        &lent,
                        &bound,
                        |args| quote::quote_spanned!(span=> pullback_lent(#tape, #lent_seed, #scratch, (#(#args,)*), (#(#sink_args,)*))),
                        |_| copying,
                    ),
                }
            }
            None => {
                let seed = seed_tokens(self.graph, id, &seeds, has_elements);
                match self.frame_of(id) {
                    Some(stacks) => {
                        quote::quote_spanned!(span=> self::pullback_frame(#stacks, #seed, #scratch))
                    }
                    None => copying(&seed),
                }
            }
        };
        let tuple = pattern.tuple();
        self.out.extend(quote!(let #tuple = #pullback;));
        let PullbackPattern {
            accumulated,
            whole_arrays,
            locals,
            models,
            ..
        } = pattern;
        for (source, name) in locals {
            self.record_term(source, &name, &quote!(#name));
        }
        for (arg, name) in accumulated {
            self.contribute(&arg, region, quote!(#name));
        }
        // A struct's gradient is a sum over the calls it is passed to, in
        // any order: added where each pullback hands it back.
        for (param, name) in models {
            let (grad, field) = (&self.grad, &self.sig.params[param].ident);
            self.out
                .extend(quote!(::backprop_runtime::Gradient::add(&mut #grad.#field, #name);));
        }
        for (k, array, name, range) in whole_arrays {
            // Turned into the adjoint before the call where it is.
            if matches!(sinks.get(k), Some(Sink::Seeded(..))) {
                continue;
            }
            let da = self.adjoint(array);
            // A vector that grows after the call was shorter at the call: the
            // callee's adjoint is that of its first elements.
            let part = match self.part_passed(array, range.as_ref()) {
                Some(part) => part,
                None => quote!(..#name.len()),
            };
            // An array the callee wrote: its adjoint before the call is
            // what the pullback hands back. One it only read: add (a callee
            // that added into the part itself hands back nothing here).
            self.out.extend(if written.contains(&array) {
                quote!(::backprop_runtime::assign(&mut #da[#part], #name);)
            } else {
                quote!(::backprop_runtime::accumulate(&mut #da[#part], #name);)
            });
        }
    }

    /// For a call of the function to itself, which shares its tape: what
    /// stands for the stacks' readers (`emit/frames.rs`). Its tape is no
    /// longer the tape's to save.
    fn frame_of(&mut self, call: NodeId) -> Option<Ident> {
        let frames = self.frames.as_mut().filter(|f| f.calls.contains(&call))?;
        frames.pulled.insert(call);
        self.saved_tapes.remove(&call);
        Some(frames.placeholder.clone())
    }

    /// Where a lending callee puts each argument's adjoint (`Sink`): for an
    /// array the callee only reads, the part of the array's adjoint the
    /// argument is (`&mut dx[a..b]`, `lent::Sink`); for one it writes, passed
    /// whole, the array's adjoint itself, holding the seed of its final
    /// contents (`lent::Seeded`; not for a call whose seed has an array of a
    /// length only the callee knows). The scratch for the others: an array
    /// whose length at the call is unknown (it grows after), and a second
    /// part of an array already given (two `&mut` of one adjoint).
    fn sinks(
        &mut self,
        call: NodeId,
        whole_arrays: &[(usize, NodeId, Ident, Option<Bounds>)],
        written: &[NodeId],
    ) -> Vec<Sink> {
        let (first, _) = self.graph.call_outputs(call);
        let (borrows, rest) = match &self.graph.nodes[call].kind {
            NodeKind::Call { borrows, rest, .. } => (borrows.clone(), *rest),
            _ => return Vec::new(),
        };
        let mut given = Vec::new();
        // The outputs of a call that writes its arguments: its value, then
        // each argument it writes, in order.
        let output = |k: usize| {
            let before = borrows[..k].iter().filter(|b| b.writes()).count();
            borrows[k].writes().then_some(first + before)
        };
        (0..borrows.len())
            .map(|k| {
                let output = output(k);
                let Some((_, array, _, range)) = whole_arrays.iter().find(|w| w.0 == k) else {
                    return match self.discardable(call, k) {
                        true => Sink::Discarded,
                        false => Sink::Scratch,
                    };
                };
                if given.contains(array) {
                    return Sink::Scratch;
                }
                let Some(part) = self.part_passed(*array, range.as_ref()) else {
                    return Sink::Scratch;
                };
                let da = self.adjoint(*array);
                match (written.contains(array), output) {
                    (false, _) => {
                        given.push(*array);
                        Sink::Adds(quote!(&mut #da[#part]))
                    }
                    (true, Some(output)) if !rest => {
                        given.push(*array);
                        Sink::Seeded(quote!(&mut #da[#part]), output)
                    }
                    (true, _) => Sink::Scratch,
                }
            })
            .collect()
    }

    /// Whether the `k`th argument of a lending call is a list the caller
    /// does not differentiate and the callee only reads: its adjoint goes
    /// nowhere (`lent::Discard`). Not one the callee writes: the adjoint of
    /// its final contents is the callee's seed, zero from the scratch.
    fn discardable(&self, call: NodeId, k: usize) -> bool {
        let NodeKind::Call { args, borrows, .. } = &self.graph.nodes[call].kind else {
            return false;
        };
        let shared_floats = self
            .lent
            .get(&call)
            .is_some_and(|lending| lending.shared_floats.get(k) == Some(&true));
        shared_floats
            && matches!(borrows.get(k), Some(Borrow::Plain | Borrow::Shared))
            && args.get(k).is_some_and(|arg| self.active(arg).is_none())
    }

    /// The seed of a lending call, for each branch of its dispatch: the same
    /// for both, computed once (its type, an array's length, is the one
    /// `pullback_into` infers, also where `pullback_lent` is a fallback),
    /// unless the callee writes a list given whole: then that output's seed
    /// is the caller's adjoint of it, `into_k`, worked on in place by
    /// `pullback_lent` (`lent::Seeded`) and read by `pullback_into`, whose
    /// result `assigned_after` copies in; the pattern binds nothing there.
    fn branch_seeds(
        &mut self,
        call: NodeId,
        (seeds, has_elements): (&[TokenStream], bool),
        sinks: &[Sink],
        into: &[Ident],
        pattern: &mut PullbackPattern,
    ) -> (TokenStream, TokenStream) {
        let seeded: Vec<(usize, usize)> = sinks
            .iter()
            .enumerate()
            .filter_map(|(k, sink)| match sink {
                Sink::Seeded(_, output) => Some((k, *output)),
                _ => None,
            })
            .collect();
        let seed_of = |seeds: &[TokenStream]| seed_tokens(self.graph, call, seeds, has_elements);
        if seeded.is_empty() {
            let mut seed = seed_of(seeds);
            if syn::parse2::<Ident>(seed.clone()).is_err() {
                let adjoint = self.adjoint(call);
                let local = self.names.fresh(&format!("{adjoint}_seed"));
                self.out.extend(quote!(let #local = #seed;));
                seed = quote!(#local);
            }
            return (seed.clone(), seed);
        }
        let (mut lent_seeds, mut copying_seeds) = (seeds.to_vec(), seeds.to_vec());
        for (k, output) in seeded {
            let into = &into[k];
            lent_seeds[output] = quote!(::backprop_runtime::lent::Seeded(#into));
            copying_seeds[output] = quote!(&*#into);
            pattern.patterns[k] = quote!(_);
        }
        (seed_of(&lent_seeds), seed_of(&copying_seeds))
    }

    /// The range of an array passed to a call (`a..b` of a part, `..` of the
    /// whole), `None` for a vector that grows after the call: it was shorter
    /// at the call, by a length only the callee's adjoint tells.
    fn part_passed(&mut self, array: NodeId, range: Option<&Bounds>) -> Option<TokenStream> {
        if let Some((start, end)) = range {
            let (start, end) = (self.value(start), self.value(end));
            return Some(quote!(#start..#end));
        }
        let growable = matches!(
            self.graph.nodes[array].kind,
            NodeKind::Buffer { growable: true, .. }
        );
        (!growable).then(|| quote!(..))
    }

    /// The callee's scratch memory at this call site (its gradient and its
    /// own `Work`), a field of `Work`: each pass through the call refills it,
    /// its memory kept, so a call in a loop allocates nothing per pass. Boxed
    /// and made on first use, so a function that calls itself has a `Work` of
    /// finite size.
    fn callee_scratch(&mut self, call: NodeId, tape: &Ident) -> TokenStream {
        let NodeKind::Call {
            path, tape_args, ..
        } = &self.graph.nodes[call].kind
        else {
            return TokenStream::new();
        };
        let tape = tape.to_string();
        let base = tape.strip_suffix("_tape").unwrap_or(&tape);
        let name = self.names.fresh(&format!("{base}_scratch"));
        // Spanned at the call: a custom rule without `Scratch` is reported there.
        let span = self.graph.nodes[call].span;
        let ty = quote::quote_spanned!(span=> ::core::option::Option<::std::boxed::Box<#path::Scratch #tape_args>>);
        let field = self.work_field(&name, ty);
        quote!(#field.get_or_insert_with(::core::default::Default::default))
    }

    /// The tuple a pullback's result is bound to: for each argument, its term
    /// (named like the blog's `dx2` when it is local), a name for a term to add
    /// after the call, a whole array's adjoint, or `_`. Each carries the
    /// location of the user's argument, so a type error about it (a callee that
    /// does not differentiate that parameter) points there.
    fn pullback_pattern(
        &mut self,
        call: NodeId,
        args: &[Operand],
        arg_spans: &[proc_macro2::Span],
        region: RegionId,
    ) -> PullbackPattern {
        let node_name = self.graph.nodes[call].name.clone();
        let parts = match &self.graph.nodes[call].kind {
            NodeKind::Call { parts, .. } => parts.clone(),
            _ => Vec::new(),
        };
        let mut accumulated = Vec::new();
        let mut whole_arrays = Vec::new();
        let mut locals = Vec::new();
        let mut models = Vec::new();
        let patterns: Vec<TokenStream> = args
            .iter()
            .zip(arg_spans)
            .enumerate()
            .map(|(k, (arg, span))| match self.active(arg) {
                // An array's adjoint comes back whole and is added
                // element by element.
                Some(source) if self.graph.nodes[source].array.is_some() => {
                    let base = format!("{}_{}", self.adjoint(source), node_name);
                    let mut name = self.names.fresh(&base);
                    name.set_span(name.span().located_at(*span));
                    let part = parts.get(k).cloned().flatten();
                    whole_arrays.push((k, source, name.clone(), part));
                    quote!(#name)
                }
                Some(source) => {
                    let local = self
                        .graph
                        .child_statement(region, self.graph.nodes[source].region)
                        .is_none();
                    let mut name = if local {
                        self.next_term(source)
                    } else {
                        let base = format!("{}_{}", self.adjoint(source), node_name);
                        self.names.fresh(&base)
                    };
                    name.set_span(name.span().located_at(*span));
                    if local {
                        locals.push((source, name.clone()));
                        if let Some(last) = self.terms[source].last_mut() {
                            *last = name.clone();
                        }
                        if self.activity.terms[source] == 1 {
                            self.adjoints[source] = Some(name.clone());
                        }
                        self.binding(source, &name)
                    } else {
                        accumulated.push((arg.clone(), name.clone()));
                        quote!(#name)
                    }
                }
                None => match arg {
                    Operand::Node(param)
                        if self
                            .sig
                            .params
                            .get(*param)
                            .is_some_and(|p| p.model.is_some()) =>
                    {
                        let base = format!("d{}_{}", self.sig.params[*param].ident, node_name);
                        let mut name = self.names.fresh(&base);
                        name.set_span(name.span().located_at(*span));
                        models.push((*param, name.clone()));
                        quote!(#name)
                    }
                    _ => quote!(_),
                },
            })
            .collect();
        // Spanned at the call, so a callee whose `pullback` does not match
        // its arguments (a custom rule with the wrong signature) is
        // reported there.
        let span = self.graph.nodes[call].span;
        PullbackPattern {
            patterns,
            span,
            accumulated,
            whole_arrays,
            locals,
            models,
        }
    }

    /// The bounds of the `j`th argument a call writes, if it is a part
    /// (`&mut x[a..b]`).
    fn written_part(&self, call: NodeId, j: usize) -> Option<Bounds> {
        let NodeKind::Call { borrows, parts, .. } = &self.graph.nodes[call].kind else {
            return None;
        };
        let k = borrows
            .iter()
            .enumerate()
            .filter(|(_, b)| b.writes())
            .nth(j)
            .map(|(k, _)| k)?;
        parts.get(k).cloned().flatten()
    }

    /// The adjoint of output `k` of a call with several: its element's, or zero.
    fn element_adjoint(&mut self, call: NodeId, k: usize) -> TokenStream {
        // The outputs of a call that writes its arguments: its value (when used),
        // then each argument passed by `&mut`. An array's seed is its adjoint.
        let (first, written) = self.graph.call_outputs(call);
        if let Some(Operand::Node(array)) = k.checked_sub(first).map(|j| written[j]) {
            if self.graph.nodes[*array].array.is_some() {
                let da = self.adjoint(*array);
                // The part of it the call was lent (`&mut x[a..b]`), or all.
                let range = self.written_part(call, k - first);
                let part = self.part_passed(*array, range.as_ref());
                return match part {
                    Some(part) => quote!(&#da[#part]),
                    None => quote!(&#da[..]),
                };
            }
        }
        let element = self
            .graph
            .elements_of(call)
            .find(|(_, index, _)| *index == k)
            .map(|(element, _, _)| element);
        match element {
            Some(e) if self.activity.reached[e] => {
                let d = self.adjoint(e);
                quote!(#d)
            }
            _ => self.graph.float_or_ret(call).zero(),
        }
    }
}

impl PullbackPattern {
    /// The tuple, spanned at the call, so a callee whose `pullback` does not
    /// match its arguments (a custom rule with the wrong signature) is
    /// reported there.
    fn tuple(&self) -> TokenStream {
        let (patterns, span) = (&self.patterns, self.span);
        if patterns.len() == 1 {
            quote::quote_spanned!(span=> (#(#patterns)*,))
        } else {
            quote::quote_spanned!(span=> (#(#patterns),*))
        }
    }
}

/// Where a lending callee puts an argument's adjoint (`Pass::sinks`).
enum Sink {
    /// In its scratch, handed back (`()`).
    Scratch,
    /// Nowhere anyone reads: a list the caller does not differentiate
    /// (`lent::Discard`).
    Discarded,
    /// Added into this part of the caller's adjoint (`lent::Sink`).
    Adds(TokenStream),
    /// A list the callee writes: the caller's adjoint of it, holding the
    /// seed of output `.1`, left as the adjoint of the list before the call
    /// (`lent::Seeded`).
    Seeded(TokenStream, usize),
}

impl Sink {
    /// What the call site binds to `into_k` before the dispatch.
    fn bound(&self) -> TokenStream {
        match self {
            Sink::Scratch => quote!(()),
            Sink::Discarded => quote!(::backprop_runtime::lent::Discard),
            Sink::Adds(part) | Sink::Seeded(part, _) => part.clone(),
        }
    }

    /// Its place in `pullback_lent`'s sinks: a list the callee writes
    /// travels in the seed instead.
    fn argument(&self, into: &Ident) -> TokenStream {
        match self {
            Sink::Scratch | Sink::Discarded | Sink::Adds(_) => quote!(#into),
            Sink::Seeded(..) => quote!(()),
        }
    }
}

/// `pullback_into`'s call in the branch of a dispatch that copies, followed
/// by the copy of each adjoint it hands back for a list given as a seed in
/// the other branch (`lent::Seeded`) into the caller's (`into_k`).
fn assigned_after(copying: TokenStream, sinks: &[Sink], into: &[Ident]) -> TokenStream {
    let handed = format_ident!("handed_back");
    let assign: Vec<TokenStream> = sinks
        .iter()
        .enumerate()
        .filter(|(_, sink)| matches!(sink, Sink::Seeded(..)))
        .map(|(k, _)| {
            let (into, position) = (&into[k], syn::Index::from(k));
            quote!(::backprop_runtime::assign(#into, #handed.#position);)
        })
        .collect();
    if assign.is_empty() {
        return copying;
    }
    quote!({ let #handed = #copying; #(#assign)* #handed })
}

/// The seed of a call: `call_seed` of the outputs' seeds, or the one seed
/// of a call without named outputs.
fn seed_tokens(
    graph: &crate::ir::Graph,
    call: NodeId,
    seeds: &[TokenStream],
    has_elements: bool,
) -> TokenStream {
    match has_elements {
        true => call_seed(graph, call, seeds),
        false => quote!(#(#seeds)*),
    }
}

/// One seed per output of a call, as its `pullback_into` takes them: an
/// array for a callee returning an array, else the seed or a tuple of them.
pub(crate) fn call_seed(
    graph: &crate::ir::Graph,
    call: NodeId,
    seeds: &[TokenStream],
) -> TokenStream {
    let array = graph
        .elements_of(call)
        .any(|(_, _, source)| source == crate::ir::ElementSource::Item);
    let rest = matches!(graph.nodes[call].kind, NodeKind::Call { rest: true, .. });
    if let Some(path) = value_dropped(graph, call) {
        // The callee knows whether it returns a value to seed with zero.
        return quote!(#path::seed_without_value(#(#seeds),*));
    }
    if rest {
        // The first elements' seeds, then zeros to the callee's length.
        quote!(::backprop_runtime::array_seed([#(#seeds),*]))
    } else if array {
        quote!([#(#seeds),*])
    } else if seeds.len() == 1 {
        quote!(#(#seeds)*)
    } else {
        quote!((#(#seeds),*))
    }
}

/// The callee of a call that writes arguments through `&mut` and whose value,
/// if it returns one, nothing reads (`step(&mut y, dt);`).
fn value_dropped(graph: &crate::ir::Graph, call: NodeId) -> Option<&syn::Path> {
    let NodeKind::Call { path, borrows, .. } = &graph.nodes[call].kind else {
        return None;
    };
    let writes = borrows.iter().any(|b| b.writes());
    let valued = graph
        .elements_of(call)
        .any(|(_, _, source)| source == crate::ir::ElementSource::Value);
    (writes && !valued).then_some(path)
}
