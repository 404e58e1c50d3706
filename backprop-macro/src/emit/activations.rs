//! A runtime activation called by its name alone (`sigmoid(x)`) is
//! differentiated, and computed, by the runtime's rule, so that name must be
//! the runtime's function: a function of the user's own named `sigmoid`
//! would get the runtime's value and derivative without a word. The module
//! checks it when it compiles: beside each activation the runtime has a
//! module of the same name (`backprop_runtime::sigmoid::RUNTIME_ACTIVATION`),
//! which `use backprop_runtime::sigmoid;` imports with the function and a
//! function of the user's cannot have.

use crate::ir::{Form, Graph, NodeKind};
use proc_macro2::TokenStream;

/// One check per activation the body calls by its name alone, at the call.
pub fn bare_activation_checks(graph: &Graph) -> TokenStream {
    let mut checked: Vec<&str> = Vec::new();
    let mut checks = TokenStream::new();
    for node in &graph.nodes {
        let NodeKind::Op {
            rule,
            form: Form::Runtime { bare: true },
            ..
        } = &node.kind
        else {
            continue;
        };
        if checked.contains(&rule.name) {
            continue;
        }
        checked.push(rule.name);
        let name = proc_macro2::Ident::new(rule.name, node.span);
        checks.extend(quote::quote_spanned! {node.span=>
            const _: () = #name::RUNTIME_ACTIVATION;
        });
    }
    checks
}
