//! `f::graph(args)`: the picture of one evaluation. Its adjoints are the
//! gradient's (`grad`, an independent run of the generated passes, checked
//! against finite differences elsewhere); each value's adjoint is the sum of
//! the terms on the wires leaving it, as the blog's `dx = dx1 + dx2 + dx3`;
//! the DOT text parses under a strict reading of Graphviz's grammar; the SVG
//! is well-formed XML (roxmltree) and names every node; loops show the
//! iterations asked for, branches the arm that ran, and a long loop or a
//! long function makes a picture of bounded size.

use backprop_runtime::graph::{ClusterKind, EdgeKind, Graph, Role, Shown};
use backprop_runtime::{differentiate, sigmoid, Float};

/// The blog's function, with the blog's node names: `blog::f`.
#[allow(dead_code)]
#[path = "../../examples/blog.rs"]
mod blog;

// Called through its module, so that the call is a node of the graph.
#[inline(never)]
#[differentiate]
fn square(a: f64) -> f64 {
    a * a
}

/// A loop carrying a variable, a branch inside it, a call, a buffer.
#[differentiate]
fn looped(w: &[f64], x: &[f64], b: f64) -> f64 {
    let mut acc = b;
    for i in 0..w.len() {
        let t = w[i] * x[i];
        if t > 0.0 {
            acc += t.tanh();
        } else {
            acc -= square(t);
        }
    }
    let mut h = [0.0; 2];
    h[0] = acc * 2.0;
    h[1] = acc.exp();
    h[0] + h[1]
}

#[differentiate]
fn generic<T: Float>(x: T, v: &[T]) -> T {
    let mut s = x;
    for &vk in v {
        s = s * vk + x.sin();
    }
    s
}

#[differentiate]
fn branch(x: f64, y: f64) -> f64 {
    let m = if x > y { x * y } else { y.exp() };
    m + x
}

/// Both arms hand back the same value (as the fuzzer's programs do).
#[differentiate]
#[allow(clippy::if_same_then_else)]
fn either(x: f64, y: f64) -> f64 {
    let m = if x > y { x } else { x };
    m * y
}

#[differentiate]
fn steps(x: f64, n: usize) -> f64 {
    let mut y = x;
    for _ in 0..n {
        y = 0.5 * y + (0.1 * y).sin();
    }
    y
}

#[differentiate]
fn single(x: f32, y: f32) -> f32 {
    (x * y).sin() / (1.0 + y * y)
}

#[differentiate]
fn polar(r: f64, t: f64) -> (f64, f64) {
    (r * t.cos(), r * t.sin())
}

/// `s.sin()` on the `&mut f64` reads the element, as `(*s).sin()`.
#[differentiate]
fn relax(state: &mut [f64], rate: f64) -> f64 {
    let mut moved = 0.0;
    for s in state.iter_mut() {
        let next = *s - rate * s.sin();
        moved += (next - *s).abs();
        *s = next;
    }
    moved
}

/// Each drawn value's adjoint is the sum of the terms its wires carry,
/// where every wire leaving it carries one; a wire past a loop that ran no
/// iteration carries the whole adjoint of the value after the loop.
fn assert_sums(graph: &Graph) {
    let carried = |e: &backprop_runtime::graph::Edge| match e.kind {
        EdgeKind::Operand => e.term_value,
        EdgeKind::LoopBypass => Some(graph.nodes[e.to].adjoint.unwrap_or(0.0)),
        _ => None,
    };
    let mut checked = 0;
    for (k, node) in graph.nodes.iter().enumerate() {
        let Some(adjoint) = node.adjoint else {
            continue;
        };
        let out: Vec<_> = graph.edges.iter().filter(|e| e.from == k).collect();
        if out.is_empty() || out.iter().any(|e| carried(e).is_none()) {
            continue;
        }
        let sum: f64 = out.iter().filter_map(|e| carried(e)).sum();
        let scale = sum.abs().max(adjoint.abs()).max(1.0);
        assert!(
            (sum - adjoint).abs() <= 1e-12 * scale,
            "d{}{:?} = {adjoint} but its wires carry {sum}",
            node.name,
            node.iteration
        );
        checked += 1;
    }
    assert!(checked > 0, "no node's sum was checked");
}

#[test]
fn the_blogs_picture_has_the_blogs_numbers() {
    let graph = blog::f::graph(3.0, -4.0);
    let (value, g) = blog::f::grad(3.0, -4.0);
    assert_eq!(graph.value, Some(Shown::Scalar(value)));
    assert_eq!(graph.node("x").unwrap().adjoint, Some(g.x));
    assert_eq!(graph.node("y").unwrap().adjoint, Some(g.y));
    // The blog's f = 1.55, dx = 2.06, dy = 1.59.
    assert_eq!(format!("{:.2}", g.x), "2.06");
    // x reaches f along three wires, each with its term, in the order the
    // backward pass writes them: dx1 through xandy, dx2 through numer, dx3
    // through sigx.
    let mut terms: Vec<(&str, &str)> = graph
        .edges_from("x")
        .map(|e| (e.term.unwrap(), graph.nodes[e.to].name))
        .collect();
    terms.sort_unstable();
    assert_eq!(terms, [("dx1", "xandy"), ("dx2", "numer"), ("dx3", "sigx")]);
    let names: Vec<&str> = graph.nodes.iter().map(|n| n.name).collect();
    assert_eq!(
        names,
        [
            "x",
            "y",
            "sigx",
            "sigy",
            "numer",
            "xandy",
            "xandysqr",
            "denom",
            "rec_denom",
            "f"
        ]
    );
    // Values as the forward pass computes them; the adjoint of sigx is the
    // blog's dsigx = ddenom.
    let node = |name: &str| graph.node(name).unwrap();
    assert_eq!(node("sigx").value, Some(Shown::Scalar(sigmoid(3.0))));
    assert_eq!(node("sigx").adjoint, node("denom").adjoint);
    assert_eq!(node("f").adjoint, Some(1.0));
    assert!(node("f").output);
    // Saved: exactly the tape's fields.
    let saved: Vec<&str> = graph
        .nodes
        .iter()
        .filter(|n| n.saved)
        .map(|n| n.name)
        .collect();
    assert_eq!(
        saved,
        ["sigx", "sigy", "numer", "xandy", "denom", "rec_denom"]
    );
    assert_sums(&graph);
    assert!(graph.clusters.is_empty());
}

#[test]
fn the_pictures_text_names_every_node_with_its_numbers() {
    let graph = blog::f::graph(3.0, -4.0);
    let dot = graph.to_dot();
    let svg = graph.to_svg();
    parse_dot(&dot).unwrap_or_else(|e| panic!("{e}\n{dot}"));
    let document = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(document.root_element().tag_name().name(), "svg");
    for text in [
        "sigx = sigmoid(x)",
        "rec_denom = 1.0 / denom",
        "dx1 = 1.5832",
        "dx2 = 0.5121",
        "dx3 = -0.0358",
        "dx = 2.0596",
        "0.9526",
    ] {
        assert!(dot.contains(text), "{text} missing from the DOT");
        let in_svg = document
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .any(|n| n.text() == Some(text));
        assert!(in_svg, "{text} missing from the SVG");
    }
}

#[test]
fn every_node_its_value_and_its_adjoint_are_in_both_texts() {
    let w = [0.5, -1.0, 2.0, 0.3, 0.1];
    let x = [1.0, 0.5, -0.2, 0.7, 1.1];
    for graph in [blog::f::graph(3.0, -4.0), looped::graph(&w, &x, 0.2)] {
        let (dot, svg) = (graph.to_dot(), graph.to_svg());
        let document = roxmltree::Document::parse(&svg).unwrap();
        let texts: Vec<&str> = document
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        for node in &graph.nodes {
            let mut wanted = vec![node.name.to_string()];
            wanted.extend(node.value.as_ref().map(ToString::to_string));
            if let Some(d) = node.adjoint {
                wanted.push(format!(
                    "d{} = {}",
                    node.name,
                    backprop_runtime::graph::number(d)
                ));
            }
            for text in wanted {
                assert!(
                    texts.iter().any(|t| t.contains(&text)),
                    "{text} not in the SVG"
                );
                let escaped = text
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                assert!(dot.contains(&escaped), "{text} not in the DOT");
            }
        }
        for edge in &graph.edges {
            if let (Some(term), Some(v)) = (edge.term, edge.term_value) {
                let label = format!("{term} = {}", backprop_runtime::graph::number(v));
                assert!(
                    texts.iter().any(|t| t.contains(&label)),
                    "{label} not in the SVG"
                );
            }
        }
    }
}

#[test]
fn loops_draw_the_iterations_asked_for_with_the_gradients_adjoints() {
    let w = [0.5, -1.0, 2.0, 0.3, 0.1];
    let x = [1.0, 0.5, -0.2, 0.7, 1.1];
    let (_, g) = looped::grad(&w, &x, 0.2);
    for iterations in [1, 3, 5, 50] {
        let graph = looped::graph_with(&w, &x, 0.2, iterations);
        let drawn = iterations.min(w.len());
        // One instance of the product per iteration drawn, each with the
        // weight's gradient as the adjoint of its element: d(w_i) = g.w[i].
        let products: Vec<_> = graph.instances("t").collect();
        assert_eq!(products.len(), drawn);
        for (i, read) in graph.instances("w_i").enumerate() {
            assert_eq!(read.iteration, [i]);
            assert_eq!(read.adjoint, Some(g.w[i]));
            assert_eq!(read.value, Some(Shown::Scalar(w[i])));
        }
        assert_eq!(graph.node("b").unwrap().adjoint, Some(g.b));
        let dw = graph.node("w").unwrap().gradient.clone();
        assert_eq!(dw, Some(Shown::array(&g.w)));
        // The loop's box says how many ran; an iteration's box per drawn one.
        let boxes = |kind| graph.clusters.iter().filter(move |c| c.kind == kind);
        let label = &boxes(ClusterKind::Loop).next().unwrap().label;
        assert!(
            label.starts_with("for i in 0..w.len(): 5 iterations"),
            "{label}"
        );
        assert_eq!(boxes(ClusterKind::Iteration).count(), drawn);
        // Each iteration ran one arm: t > 0 in iterations 0 and 3.
        let arms: Vec<&str> = boxes(ClusterKind::Arm).map(|c| c.label.as_str()).collect();
        let expected = [
            "if t > 0.0",
            "else (not t > 0.0)",
            "else (not t > 0.0)",
            "if t > 0.0",
            "if t > 0.0",
        ];
        assert_eq!(arms, expected[..drawn]);
        // The variable carried from one iteration into the next.
        let carried = graph
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::Carried)
            .count();
        assert_eq!(carried, drawn - 1);
        assert_sums(&graph);
    }
}

/// A loop that ran no iteration passes its variable on unchanged: the picture
/// draws that wire (and only when no iteration ran), so the value before the
/// loop still sums to its adjoint. Found by the fuzzer (a `while` whose test
/// was false at once).
#[test]
fn a_loop_that_ran_no_iteration_draws_the_wire_past_it() {
    let bypasses = |graph: &Graph| {
        graph
            .edges
            .iter()
            .filter(|e| e.kind == EdgeKind::LoopBypass)
            .map(|e| (graph.nodes[e.from].name, graph.nodes[e.to].adjoint))
            .collect::<Vec<_>>()
    };
    let (_, g) = steps::grad(0.3, 0);
    let skipped = steps::graph(0.3, 0);
    assert_eq!(skipped.node("x").unwrap().adjoint, Some(g.x));
    assert_eq!(bypasses(&skipped), [("y", Some(g.x))]);
    assert_sums(&skipped);
    let ran = steps::graph(0.3, 2);
    assert!(bypasses(&ran).is_empty());
    assert_sums(&ran);
}

#[test]
fn a_branch_shows_the_arm_that_ran() {
    for (x, y, arm) in [(2.0, 1.0, "if x > y"), (1.0, 2.0, "else (not x > y)")] {
        let graph = branch::graph(x, y);
        let (_, g) = branch::grad(x, y);
        assert_eq!(graph.node("x").unwrap().adjoint, Some(g.x));
        assert_eq!(graph.node("y").unwrap().adjoint, Some(g.y));
        let arms: Vec<&str> = graph.clusters.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(arms, [arm]);
        // Only the arm that ran hands its value to `m`.
        let into_m: Vec<&str> = graph
            .edges
            .iter()
            .filter(|e| graph.nodes[e.to].name == "m")
            .map(|e| graph.nodes[e.from].name)
            .collect();
        assert_eq!(into_m.len(), 1);
        assert_sums(&graph);
        // The same wire from each arm: drawn for the one that ran.
        let graph = either::graph(x, y);
        let into_m: Vec<_> = graph
            .edges
            .iter()
            .filter(|e| graph.nodes[e.to].name == "m")
            .collect();
        assert_eq!(into_m.len(), 1, "{x} {y}");
        assert_eq!(graph.nodes[into_m[0].from].name, "x");
    }
}

#[test]
fn generic_and_f32_functions_draw_themselves() {
    let v = [0.5_f32, -1.5, 2.0];
    let graph = generic::graph(0.7_f32, &v);
    let (_, g) = generic::grad(0.7_f32, &v);
    assert_eq!(graph.node("x").unwrap().adjoint, Some(f64::from(g.x)));
    assert_eq!(graph.node("v").unwrap().gradient, Some(Shown::array(&g.v)));
    let graph = single::graph(0.3, -1.2);
    let (_, g) = single::grad(0.3, -1.2);
    assert_eq!(graph.node("y").unwrap().adjoint, Some(f64::from(g.y)));
    let graph = generic::graph(0.7_f64, &[0.5, -1.5, 2.0]);
    assert_sums(&graph);
}

#[test]
fn calls_are_nodes_with_their_terms() {
    let graph = looped::graph(&[-1.0], &[0.5], 0.1);
    let call = graph.node("square_out").unwrap();
    assert_eq!(call.op, "square(t)");
    assert_eq!(call.value, Some(Shown::Scalar(0.25)));
    let (_, g) = looped::grad(&[-1.0], &[0.5], 0.1);
    // t = w x, so dt = d(w_i) / x_i.
    assert_eq!(graph.node("w_i").unwrap().adjoint, Some(g.w[0]));
    assert_sums(&graph);
}

#[test]
fn long_loops_and_long_functions_make_bounded_pictures() {
    let (short, long) = (steps::graph(0.3, 10), steps::graph(0.3, 100_000));
    assert_eq!(short.nodes.len(), long.nodes.len());
    assert_eq!(
        long.node("x").unwrap().adjoint,
        Some(steps::grad(0.3, 100_000).1.x)
    );
    let label = &long.clusters[0].label;
    assert!(
        label.contains("100000 iterations, the first 3 drawn"),
        "{label}"
    );
    let exit = long
        .edges
        .iter()
        .find(|e| e.kind == EdgeKind::LoopExit)
        .unwrap();
    assert_eq!(exit.skipped, 100_000 - 3);
    assert!(long.to_svg().len() < 2 * short.to_svg().len());

    let graph = chain::graph(0.5, 0.25);
    let drawn = graph.nodes.iter().filter(|n| n.role == Role::Value).count();
    assert!(drawn >= 500, "{drawn} nodes");
    let (svg, dot) = (graph.to_svg(), graph.to_dot());
    assert!(
        svg.len() < 2_000_000 && dot.len() < 500_000,
        "{} {}",
        svg.len(),
        dot.len()
    );
    roxmltree::Document::parse(&svg).unwrap();
    parse_dot(&dot).unwrap();
    assert_eq!(
        graph.node("x").unwrap().adjoint,
        Some(chain::grad(0.5, 0.25).1.x)
    );
}

/// A function of about 500 nodes: the same step written 125 times.
macro_rules! chain_of_steps {
    ($($k:literal)*) => {
        #[differentiate]
        fn chain(x: f64, y: f64) -> f64 {
            let mut z = x;
            $( z = (z * 0.999).sin() + y * $k; )*
            z
        }
    };
}

chain_of_steps!(
    0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1
    0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1
    0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1
    0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1
    0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1
);

/// Graphviz's grammar, read strictly: a `digraph` of statements (nodes with
/// attribute lists, edges `a -> b`, `key = value`, nested `subgraph`s), IDs
/// that are identifiers, numerals, quoted strings with escapes, or HTML
/// strings with balanced `<` `>`; and every edge's ends declared as nodes.
fn parse_dot(text: &str) -> Result<(), String> {
    let tokens = dot_tokens(text)?;
    let mut parser = DotParser {
        tokens,
        at: 0,
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    parser.expect("digraph")?;
    if parser.peek() != Some("{") {
        parser.id()?;
    }
    parser.block()?;
    if parser.at != parser.tokens.len() {
        return Err(format!(
            "tokens after the graph: {:?}",
            &parser.tokens[parser.at..]
        ));
    }
    for (a, b) in &parser.edges {
        for end in [a, b] {
            if !parser.nodes.contains(end) {
                return Err(format!("edge end {end} is not a declared node"));
            }
        }
    }
    Ok(())
}

#[derive(Debug, PartialEq)]
enum DotToken {
    Punct(String),
    Id(String),
}

fn dot_tokens(text: &str) -> Result<Vec<DotToken>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k];
        if c.is_whitespace() {
            k += 1;
        } else if c == '-' && chars.get(k + 1) == Some(&'>') {
            tokens.push(DotToken::Punct("->".into()));
            k += 2;
        } else if "{}[]=;,".contains(c) {
            tokens.push(DotToken::Punct(c.to_string()));
            k += 1;
        } else if c == '"' {
            let mut s = String::new();
            k += 1;
            loop {
                match chars.get(k) {
                    None => return Err("unterminated string".into()),
                    Some('"') => break,
                    Some('\\') => {
                        let next = chars.get(k + 1).ok_or("dangling escape")?;
                        s.push(*next);
                        k += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        k += 1;
                    }
                }
            }
            k += 1;
            tokens.push(DotToken::Id(s));
        } else if c == '<' {
            let mut depth = 0;
            let start = k;
            loop {
                match chars.get(k) {
                    None => return Err("unterminated HTML string".into()),
                    Some('<') => depth += 1,
                    Some('>') => depth -= 1,
                    Some('&') => {
                        let rest: String = chars[k..].iter().take(6).collect();
                        if !["&amp;", "&lt;", "&gt;", "&quot;"]
                            .iter()
                            .any(|e| rest.starts_with(e))
                        {
                            return Err(format!("bare & in HTML string at {k}"));
                        }
                    }
                    _ => {}
                }
                k += 1;
                if depth == 0 {
                    break;
                }
            }
            tokens.push(DotToken::Id(chars[start..k].iter().collect()));
        } else if c.is_alphanumeric() || c == '_' || c == '.' {
            let start = k;
            while k < chars.len()
                && (chars[k].is_alphanumeric() || chars[k] == '_' || chars[k] == '.')
            {
                k += 1;
            }
            let id: String = chars[start..k].iter().collect();
            let numeral = id
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '.');
            if numeral && id.parse::<f64>().is_err() {
                return Err(format!("bad numeral {id}"));
            }
            tokens.push(DotToken::Id(id));
        } else {
            return Err(format!("unexpected {c:?} at {k}"));
        }
    }
    Ok(tokens)
}

struct DotParser {
    tokens: Vec<DotToken>,
    at: usize,
    nodes: Vec<String>,
    edges: Vec<(String, String)>,
}

impl DotParser {
    fn peek(&self) -> Option<&str> {
        match self.tokens.get(self.at) {
            Some(DotToken::Punct(p) | DotToken::Id(p)) => Some(p),
            None => None,
        }
    }

    fn expect(&mut self, what: &str) -> Result<(), String> {
        match self.tokens.get(self.at) {
            Some(DotToken::Punct(p) | DotToken::Id(p)) if p == what => {
                self.at += 1;
                Ok(())
            }
            other => Err(format!("expected {what}, found {other:?}")),
        }
    }

    fn id(&mut self) -> Result<String, String> {
        match self.tokens.get(self.at) {
            Some(DotToken::Id(id)) => {
                self.at += 1;
                Ok(id.clone())
            }
            other => Err(format!("expected an ID, found {other:?}")),
        }
    }

    /// `{ stmt (;)? ... }`
    fn block(&mut self) -> Result<(), String> {
        self.expect("{")?;
        while self.peek() != Some("}") {
            self.statement()?;
            if self.peek() == Some(";") {
                self.at += 1;
            }
        }
        self.expect("}")
    }

    fn statement(&mut self) -> Result<(), String> {
        if self.peek() == Some("subgraph") {
            self.at += 1;
            if self.peek() != Some("{") {
                self.id()?;
            }
            return self.block();
        }
        let first = self.id()?;
        match self.peek() {
            Some("=") => {
                self.at += 1;
                self.id().map(|_| ())
            }
            Some("->") => {
                self.at += 1;
                let second = self.id()?;
                self.edges.push((first, second));
                self.attributes()
            }
            _ if ["graph", "node", "edge"].contains(&first.as_str()) => self.attributes(),
            _ => {
                self.nodes.push(first);
                self.attributes()
            }
        }
    }

    /// `[ key = value (,|;)? ... ]`, if there is one.
    fn attributes(&mut self) -> Result<(), String> {
        if self.peek() != Some("[") {
            return Ok(());
        }
        self.at += 1;
        while self.peek() != Some("]") {
            self.id()?;
            self.expect("=")?;
            self.id()?;
            if matches!(self.peek(), Some("," | ";")) {
                self.at += 1;
            }
        }
        self.expect("]")
    }
}

#[test]
fn the_strict_dot_reader_rejects_what_graphviz_rejects() {
    for bad in [
        "digraph { a -> ; }",
        "digraph { a [label=\"x] }",
        "digraph { a [label=<<B>x</B>] }",
        "digraph { a -> b; }",
        "digraph { a [label=<x & y>]; }",
        "graph { a; }",
    ] {
        assert!(parse_dot(bad).is_err(), "accepted {bad}");
    }
    assert!(parse_dot("digraph g { rankdir=LR; a [label=<<B>x</B>>]; b; a -> b [label=\"q\\\"\"]; subgraph cluster_1 { label=\"l\"; c; } }").is_ok());
}

#[test]
fn several_outputs_and_mut_parameters_draw_the_adjoints_of_their_sum() {
    // A seed of one on each output: the adjoint is the Jacobian's rows'
    // sum.
    let graph = polar::graph(2.0, 0.5);
    let (_, rows) = polar::jacobian(2.0, 0.5);
    let dr = graph.node("r").unwrap().adjoint.unwrap();
    assert!((dr - (rows[0].r + rows[1].r)).abs() < 1e-15);
    assert_sums(&graph);
    // A `&mut` slice's final contents are outputs too: seeds of one on the
    // value and on each element; the function writes its argument as a
    // call does.
    let start = [0.3, -1.2, 2.0];
    let mut state = start.to_vec();
    let graph = relax::graph(&mut state, 0.25);
    let mut again = start.to_vec();
    assert_eq!(graph.value, Some(Shown::Scalar(relax(&mut again, 0.25))));
    assert_eq!(state, again);
    let mut written = start.to_vec();
    let (_, tape) = relax::forward(&mut written, 0.25);
    let g = relax::backward(&tape, (1.0, &[1.0; 3]));
    assert_eq!(graph.node("rate").unwrap().adjoint, Some(g.rate));
    assert_eq!(
        graph.node("state").unwrap().gradient,
        Some(Shown::array(&g.state))
    );
    assert_eq!(
        graph.node("state").unwrap().value,
        Some(Shown::array(&start))
    );
}

/// A filtered chain, whose backward loop the gradient runs first to last.
/// The recorder matched the backward pass's visits to the forward pass's
/// iterations counted from the last: it drew iteration 0's adjoint on
/// iteration 2's node, and `p`'s terms swapped between iterations (found by
/// the fuzzer); then the picture's pass ran every loop last to first, and its
/// gradient differed from `grad`'s in the last bit (the fuzzer again). The
/// backward pass's loops now tell the recorder which iteration they reverse.
#[differentiate]
fn filtered(p: f64, q: f64, s: &[f64]) -> f64 {
    s.iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| v.mul_add(p, q))
        .sum::<f64>()
        + s[0]
}

#[test]
fn a_loop_run_first_to_last_draws_each_iteration_s_numbers() {
    // Summed first to last, 0.1 + 0.2 + 0.3 is not 0.3 + 0.2 + 0.1.
    let s = [-0.5, 0.1, 0.2, 0.3];
    let graph = filtered::graph_with(0.7, 0.2, &s, 10);
    let (_, g) = filtered::grad(0.7, 0.2, &s);
    // Summed in the same order as `grad`'s: the same bits.
    assert_eq!(graph.node("p").unwrap().adjoint, Some(g.p));
    // Each read of an element: the adjoint the gradient gives it, zero where
    // the filter dropped it.
    for (i, read) in graph.instances("v").enumerate() {
        assert_eq!(read.iteration, [i]);
        let expected = if s[i] > 0.0 { 0.7 } else { 0.0 };
        assert_eq!(read.adjoint, Some(expected), "iteration {i}");
    }
    assert_sums(&graph);
}
