//! Graphviz DOT text: `dot -Tsvg` draws it left to right, like the blog's
//! circuits, each node's value above its name in green and its adjoint below
//! in red.

use super::{ClusterKind, EdgeKind, Graph, Node, Role};
use std::fmt::Write;

/// The colours of the picture, shared with the SVG.
pub(super) const VALUE: &str = "#1e7b34";
pub(super) const ADJOINT: &str = "#c0392b";
pub(super) const SAVED: &str = "#e67e22";

pub(super) fn fill(node: &Node) -> &'static str {
    match node.role {
        Role::Parameter => "#dbe9f6",
        Role::Data => "#eeeeee",
        _ if node.output => "#dff0d8",
        Role::Array => "#f6f0db",
        _ => "#ffffff",
    }
}

impl Graph {
    /// The graph as Graphviz DOT text (`dot -Tsvg graph.dot > graph.svg`).
    #[must_use]
    pub fn to_dot(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph {} {{", quoted(self.function));
        out.push_str("  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
        self.write_cluster(&mut out, None, 1);
        for edge in &self.edges {
            let mut attrs = Vec::new();
            if let Some(label) = Self::edge_label(edge) {
                attrs.push(format!("label={}", quoted(&label)));
                attrs.push(format!("fontcolor={}", quoted(ADJOINT)));
            }
            if edge.kind != EdgeKind::Operand {
                attrs.push("style=dashed".to_string());
            } else if edge.term.is_none() {
                // No gradient flows back along it (data, an index).
                attrs.push("color=\"#c4c4c4\"".to_string());
            }
            let attrs = if attrs.is_empty() {
                String::new()
            } else {
                format!(" [{}]", attrs.join(", "))
            };
            let _ = writeln!(out, "  n{} -> n{}{attrs};", edge.from, edge.to);
        }
        out.push_str("}\n");
        out
    }

    /// The nodes and boxes directly inside `cluster` (the top level for
    /// `None`), boxes written recursively.
    fn write_cluster(&self, out: &mut String, cluster: Option<usize>, depth: usize) {
        let indent = "  ".repeat(depth);
        for (k, node) in self.nodes.iter().enumerate() {
            if node.cluster == cluster {
                let _ = writeln!(out, "{indent}n{k} [{}];", self.node_attributes(node));
            }
        }
        for (k, inner) in self.clusters.iter().enumerate() {
            if inner.parent != cluster {
                continue;
            }
            let _ = writeln!(out, "{indent}subgraph cluster_{k} {{");
            let style = match inner.kind {
                ClusterKind::Loop => "rounded",
                ClusterKind::Iteration => "dotted",
                ClusterKind::Arm => "dashed",
            };
            let _ = writeln!(
                out,
                "{indent}  label={}; style={}; fontname=\"Helvetica\";",
                quoted(&inner.label),
                quoted(style)
            );
            self.write_cluster(out, Some(k), depth + 1);
            let _ = writeln!(out, "{indent}}}");
        }
    }

    /// An HTML-like label: the value in green, the node, the adjoint in red.
    fn node_attributes(&self, node: &Node) -> String {
        let mut label = String::from("<");
        if let Some(value) = Self::value_line(node) {
            let _ = write!(
                label,
                "<FONT COLOR=\"{VALUE}\">{}</FONT><BR/>",
                html(&value)
            );
        }
        let _ = write!(label, "<B>{}</B>", html(&self.title(node)));
        if let Some(adjoint) = Self::adjoint_line(node) {
            let _ = write!(
                label,
                "<BR/><FONT COLOR=\"{ADJOINT}\">{}</FONT>",
                html(&adjoint)
            );
        }
        label.push('>');
        let mut attrs = format!("label={label}, fillcolor={}", quoted(fill(node)));
        if node.saved {
            let _ = write!(attrs, ", color={}, penwidth=2.5", quoted(SAVED));
        }
        attrs
    }
}

/// A DOT string: quotes and backslashes escaped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text inside an HTML-like label or an SVG element.
pub(super) fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}
