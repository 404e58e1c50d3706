//! A self-contained SVG picture of a graph, drawn from its layout: values
//! above the nodes in green, adjoints below in red, each wire's term at its
//! end, saved values outlined in orange.

use super::dot::{fill, html, ADJOINT, SAVED, VALUE};
use super::layout::{Layout, Rect, LINE, MARGIN, PORT};
use super::{ClusterKind, Edge, EdgeKind, Graph};
use std::fmt::Write;

impl Graph {
    /// The graph as a self-contained SVG document: values above each node in
    /// green, adjoints below in red, each wire's term on it, saved values
    /// outlined in orange.
    #[must_use]
    pub fn to_svg(&self) -> String {
        let mut layout = Layout::new(self);
        let title_height = 2.0 * LINE;
        let (w, h) = layout.place(None, MARGIN, MARGIN + title_height);
        let (width, height) = (w + 2.0 * MARGIN, h + 2.0 * MARGIN + title_height);
        layout.draw(width, height)
    }
}

impl Layout<'_> {
    fn draw(&self, width: f64, height: f64) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="Menlo, Consolas, 'DejaVu Sans Mono', monospace" font-size="12">"#
        );
        out.push_str(concat!(
            r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">"#,
            r##"<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>"##
        ));
        let _ = write!(
            out,
            r##"<rect width="100%" height="100%" fill="#ffffff"/><text x="{MARGIN}" y="{}" font-size="14" font-weight="bold">{}</text>"##,
            MARGIN + LINE,
            html(&self.heading())
        );
        for (c, rect) in self.clusters.iter().enumerate() {
            self.draw_cluster(&mut out, c, rect);
        }
        for (e, edge) in self.graph.edges.iter().enumerate() {
            self.draw_edge(&mut out, e, edge);
        }
        for (n, rect) in self.nodes.iter().enumerate() {
            self.draw_node(&mut out, n, rect);
        }
        out.push_str("</svg>\n");
        out
    }

    fn heading(&self) -> String {
        match &self.graph.value {
            Some(value) => format!(
                "{} = {value}: values above each node, adjoints (seed 1) below, each wire's term of the chain rule on it",
                self.graph.function
            ),
            None => self.graph.function.to_string(),
        }
    }

    fn draw_cluster(&self, out: &mut String, c: usize, r: &Rect) {
        let cluster = &self.graph.clusters[c];
        let (dash, fill) = match cluster.kind {
            ClusterKind::Loop => ("", "#f7f9fc"),
            ClusterKind::Iteration => (r#" stroke-dasharray="2 3""#, "#ffffff"),
            ClusterKind::Arm => (r#" stroke-dasharray="6 4""#, "#fcfbf5"),
        };
        let _ = write!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="8" fill="{fill}" stroke="#8a99ad"{dash}/>"##,
            r.x, r.y, r.w, r.h
        );
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#4a5a70">{}</text>"##,
            r.x + MARGIN,
            r.y + MARGIN + 4.0,
            html(&cluster.label)
        );
    }

    fn draw_node(&self, out: &mut String, n: usize, r: &Rect) {
        let node = &self.graph.nodes[n];
        let cx = r.x + r.w / 2.0;
        let top = r.y + LINE;
        let height = self.box_height(n);
        let (stroke, stroke_width) = if node.saved {
            (SAVED, 2.5)
        } else {
            ("#555555", 1.0)
        };
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{height:.1}" rx="6" fill="{}" stroke="{stroke}" stroke-width="{stroke_width}"/>"#,
            r.x,
            r.w,
            fill(node)
        );
        if let Some(value) = Graph::value_line(node) {
            let _ = write!(
                out,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" fill="{VALUE}">{}</text>"#,
                top - 4.0,
                html(&value)
            );
        }
        let _ = write!(
            out,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#,
            top + height / 2.0 + 4.0,
            html(&self.graph.title(node))
        );
        if let Some(adjoint) = Graph::adjoint_line(node) {
            let _ = write!(
                out,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" fill="{ADJOINT}">{}</text>"#,
                top + height + LINE - 3.0,
                html(&adjoint)
            );
        }
    }

    /// A curve from the right of the source's box, through the wire's
    /// waypoints, to the left of the target's (each wire into a node at a
    /// height of its own), the term below its last stretch.
    fn draw_edge(&self, out: &mut String, e: usize, edge: &Edge) {
        let (a, b) = (&self.nodes[edge.from], &self.nodes[edge.to]);
        let mut points = vec![(a.x + a.w, a.y + LINE + self.box_height(edge.from) / 2.0)];
        points.extend(
            self.waypoints
                .range((e, 0)..=(e, usize::MAX))
                .map(|(_, point)| *point),
        );
        let (port, first) = self.port(e, edge.to);
        points.push((b.x, port));
        let mut path = format!("M {:.1} {:.1}", points[0].0, points[0].1);
        for pair in points.windows(2) {
            let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
            let bend = ((x2 - x1).abs() / 2.0).max(20.0);
            let _ = write!(
                path,
                " C {:.1} {y1:.1}, {:.1} {y2:.1}, {x2:.1} {y2:.1}",
                x1 + bend,
                x2 - bend
            );
        }
        let dash = if edge.kind == EdgeKind::Operand {
            ""
        } else {
            r#" stroke-dasharray="5 3""#
        };
        // A wire no gradient flows back along (data, an index) is faint.
        let stroke = if edge.term.is_none() && edge.kind == EdgeKind::Operand {
            "#c4c4c4"
        } else {
            "#666666"
        };
        let _ = write!(
            out,
            r##"<path d="{path}" fill="none" stroke="{stroke}" marker-end="url(#arrow)"{dash}/>"##
        );
        if let Some(label) = Graph::edge_label(edge) {
            // At the end of the wire, right-aligned against the node: under
            // it, as the blog writes gradients, unless the wire rises into
            // the node's top port (its label would sit on it; above it there
            // is room).
            let (x2, y2) = points[points.len() - 1];
            let rising = points[points.len() - 2].1 > y2 + 4.0;
            let y = if rising && first { y2 - 4.0 } else { y2 + 12.0 };
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{y:.1}" text-anchor="end" font-size="11" fill="{ADJOINT}" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
                x2 - 8.0,
                html(&label)
            );
        }
    }

    /// Where wire `e` enters node `to`: the wires into a node spread over
    /// its left side, in the order of their sources' heights; and whether it
    /// is the top one.
    fn port(&self, e: usize, to: usize) -> (f64, bool) {
        let rect = &self.nodes[to];
        let mut incoming: Vec<(f64, usize)> = self.incoming[to]
            .iter()
            .map(|&k| {
                let from = &self.nodes[self.graph.edges[k].from];
                let y = self
                    .waypoints
                    .range((k, 0)..=(k, usize::MAX))
                    .next_back()
                    .map_or(from.y, |(_, p)| p.1);
                (y, k)
            })
            .collect();
        incoming.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let rank = incoming.iter().position(|(_, k)| *k == e).unwrap_or(0);
        let top = rect.y + LINE;
        let y = top
            + PORT * (rank + 1) as f64
            + (self.box_height(to) - PORT * (incoming.len() + 1) as f64) / 2.0;
        (y, rank == 0)
    }
}
