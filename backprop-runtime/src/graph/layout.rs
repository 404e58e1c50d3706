//! The layout of a graph's picture: left to right, each node in the column
//! after the last of its operands, a waypoint in each column a wire skips,
//! each column ordered to keep wires from crossing; each box (a loop, an
//! iteration, an arm) laid out inside first and then placed as one block in
//! the box around it, so boxes never overlap.

use super::{Graph, Role};

/// Monospace text: the width of a character, and the line height.
const CHAR: f64 = 7.3;
pub(super) const LINE: f64 = 15.0;
/// A node's box (its value above it, its adjoint below).
const BOX_HEIGHT: f64 = 26.0;
/// The space between two wires into a node: room for a term's label under
/// each.
pub(super) const PORT: f64 = 17.0;
const NODE_PAD: f64 = 12.0;
/// Space between columns (at least; wide enough for the terms' labels
/// that end there) and rows.
const COLUMN_GAP: f64 = 70.0;
/// The width of a character of a term's label (11 px, not 12).
const LABEL_CHAR: f64 = 6.7;
const ROW_GAP: f64 = 18.0;
/// A box's margin, and the height of its label.
pub(super) const MARGIN: f64 = 12.0;
const LABEL: f64 = 18.0;

/// Two places in neighbouring columns that a wire joins: (column, slot).
type Link = ((usize, Slot), (usize, Slot));

/// A place in a column: an item, or a waypoint of a wire (by its number)
/// that passes the column.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Slot {
    Item(usize),
    Waypoint(usize),
}

/// The longest wire from a parameter that gets waypoints, in columns.
const SHORT: usize = 4;

/// The room a waypoint takes in its column.
const WAYPOINT: f64 = 16.0;

/// A thing placed in a box: a node, or a box inside it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Item {
    Node(usize),
    Cluster(usize),
}

pub(super) struct Layout<'a> {
    pub(super) graph: &'a Graph,
    /// Each node's top-left corner and size; each box's.
    pub(super) nodes: Vec<Rect>,
    pub(super) clusters: Vec<Rect>,
    /// Each box's size and the width of what is inside it, measured once.
    pub(super) measured: Vec<Option<(f64, f64, f64)>>,
    /// The waypoints of wires that skip columns: (wire, column) to a point.
    pub(super) waypoints: std::collections::BTreeMap<(usize, usize), (f64, f64)>,
    /// The wires into each node.
    pub(super) incoming: Vec<Vec<usize>>,
    /// The boxes around each node, innermost first, ending with the top
    /// level (`None`).
    pub(super) chains: Vec<Vec<Option<usize>>>,
    /// The innermost box that holds both ends of each wire: where its route
    /// is laid out.
    pub(super) homes: Vec<Option<usize>>,
}

#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Rect {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) w: f64,
    pub(super) h: f64,
}

impl<'a> Layout<'a> {
    pub(super) fn new(graph: &'a Graph) -> Layout<'a> {
        let mut incoming = vec![Vec::new(); graph.nodes.len()];
        for (e, edge) in graph.edges.iter().enumerate() {
            incoming[edge.to].push(e);
        }
        let chains: Vec<Vec<Option<usize>>> = (0..graph.nodes.len())
            .map(|n| {
                let mut chain = Vec::new();
                let mut cluster = graph.nodes[n].cluster;
                while let Some(c) = cluster {
                    chain.push(Some(c));
                    cluster = graph.clusters[c].parent;
                }
                chain.push(None);
                chain
            })
            .collect();
        let homes = graph
            .edges
            .iter()
            .map(|edge| {
                let outer = &chains[edge.to];
                chains[edge.from]
                    .iter()
                    .find(|c| outer.contains(c))
                    .copied()
                    .flatten()
            })
            .collect();
        Layout {
            graph,
            nodes: vec![Rect::default(); graph.nodes.len()],
            clusters: vec![Rect::default(); graph.clusters.len()],
            measured: vec![None; graph.clusters.len()],
            waypoints: std::collections::BTreeMap::new(),
            incoming,
            chains,
            homes,
        }
    }

    /// The items directly in `container`, in the order they ran.
    fn items(&self, container: Option<usize>) -> Vec<Item> {
        let nodes = (0..self.graph.nodes.len())
            .filter(|n| self.graph.nodes[*n].cluster == container)
            .map(Item::Node);
        let clusters = (0..self.graph.clusters.len())
            .filter(|c| self.graph.clusters[*c].parent == container)
            .map(Item::Cluster);
        nodes.chain(clusters).collect()
    }

    /// The item of `container` that holds `node`, if any.
    fn item_of(&self, node: usize, container: Option<usize>) -> Option<Item> {
        let chain = &self.chains[node];
        if chain.first() == Some(&container) {
            return Some(Item::Node(node));
        }
        let at = chain.iter().position(|c| *c == container)?;
        chain[at - 1].map(Item::Cluster)
    }

    /// Lays out `container`'s items with their top-left corner at (x, y):
    /// returns the size they take. Items go in columns by what they read;
    /// a wire that skips columns gets a waypoint in each, which takes room
    /// like an item, so it passes between the boxes; each column is ordered
    /// to keep wires from crossing.
    pub(super) fn place(&mut self, container: Option<usize>, x: f64, y: f64) -> (f64, f64) {
        let items = self.items(container);
        let index: std::collections::HashMap<Item, usize> = items
            .iter()
            .enumerate()
            .map(|(k, item)| (*item, k))
            .collect();
        // The wires between the items: (wire, from, to).
        let wires: Vec<(usize, usize, usize)> = self
            .graph
            .edges
            .iter()
            .enumerate()
            .filter_map(|(e, edge)| {
                let from = index.get(&self.item_of(edge.from, container)?)?;
                let to = index.get(&self.item_of(edge.to, container)?)?;
                (from != to).then_some((e, *from, *to))
            })
            .collect();
        let layers = self.columns(&items, &wires);
        let count = layers.iter().copied().max().map_or(0, |c| c + 1);
        let mut columns: Vec<Vec<Slot>> = vec![Vec::new(); count];
        for (k, layer) in layers.iter().enumerate() {
            columns[*layer].push(Slot::Item(k));
        }
        // The wires routed here, each a chain of slots from column to column
        // (a parameter's long wires go straight: they reach everywhere, and
        // waypoints for each would crowd every column).
        let mut links: Vec<Link> = Vec::new();
        for &(e, from, to) in &wires {
            if self.homes[e] != container {
                continue;
            }
            let (a, b) = (layers[from], layers[to]);
            if b <= a {
                continue;
            }
            let source = &self.graph.nodes[self.graph.edges[e].from];
            if b > a + SHORT && matches!(source.role, Role::Parameter | Role::Data) {
                continue;
            }
            let mut previous = (a, Slot::Item(from));
            for (layer, column) in columns.iter_mut().enumerate().take(b).skip(a + 1) {
                let waypoint = (layer, Slot::Waypoint(e));
                column.push(waypoint.1);
                links.push((previous, waypoint));
                previous = waypoint;
            }
            links.push((previous, (b, Slot::Item(to))));
        }
        order_columns(&mut columns, &links);
        let sizes: Vec<(f64, f64)> = items.iter().map(|item| self.size(*item)).collect();
        let slot_size = |slot: &Slot| match slot {
            Slot::Item(k) => sizes[*k],
            Slot::Waypoint(_) => (0.0, WAYPOINT),
        };
        let widths: Vec<f64> = columns
            .iter()
            .map(|c| c.iter().map(|s| slot_size(s).0).fold(0.0, f64::max))
            .collect();
        let heights: Vec<f64> = columns
            .iter()
            .map(|c| {
                let gaps = ROW_GAP * c.len().saturating_sub(1) as f64;
                c.iter().map(|s| slot_size(s).1).sum::<f64>() + gaps
            })
            .collect();
        let total_height = heights.iter().copied().fold(0.0, f64::max);
        let gaps: Vec<f64> = columns
            .iter()
            .map(|slots| self.gap_before(&items, slots))
            .collect();
        let mut left = x;
        for (column, slots) in columns.iter().enumerate() {
            if column > 0 {
                left += gaps[column];
            }
            // Each column centred in the height of the tallest.
            let mut top = y + (total_height - heights[column]) / 2.0;
            for slot in slots {
                let (w, h) = slot_size(slot);
                match slot {
                    Slot::Item(k) => {
                        let at_x = left + (widths[column] - w) / 2.0;
                        self.put(items[*k], at_x, top, w, h);
                    }
                    Slot::Waypoint(e) => {
                        let point = (left + widths[column] / 2.0, top + h / 2.0);
                        self.waypoints.insert((*e, column), point);
                    }
                }
                top += h + ROW_GAP;
            }
            left += widths[column];
        }
        let total_width = widths.iter().sum::<f64>() + gaps.iter().skip(1).sum::<f64>();
        (total_width, total_height)
    }

    /// Each item's column: one after the last column of the items it reads
    /// (the longest path over the wires between the container's items, in
    /// topological order), then each computed item moved right up to the
    /// column before its first reader, so wires stay short. Parameters stay
    /// in the first column.
    fn columns(&self, items: &[Item], wires: &[(usize, usize, usize)]) -> Vec<usize> {
        let mut succs: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
        let mut waiting = vec![0_usize; items.len()];
        for &(_, from, to) in wires {
            succs[from].push(to);
            waiting[to] += 1;
        }
        let mut columns = vec![0; items.len()];
        let mut ready: Vec<usize> = (0..items.len()).filter(|k| waiting[*k] == 0).collect();
        let mut order = Vec::with_capacity(items.len());
        let mut done = vec![false; items.len()];
        loop {
            while let Some(k) = ready.pop() {
                if done[k] {
                    continue;
                }
                done[k] = true;
                order.push(k);
                for &s in &succs[k] {
                    columns[s] = columns[s].max(columns[k] + 1);
                    waiting[s] = waiting[s].saturating_sub(1);
                    if waiting[s] == 0 && !done[s] {
                        ready.push(s);
                    }
                }
            }
            // A cycle (there should be none): break it at its first item.
            match (0..items.len()).find(|k| !done[*k]) {
                Some(k) => ready.push(k),
                None => break,
            }
        }
        for &k in order.iter().rev() {
            let input = matches!(items[k], Item::Node(n) if matches!(self.graph.nodes[n].role, Role::Parameter | Role::Data));
            let first_reader = succs[k].iter().map(|s| columns[*s]).min();
            if let (false, Some(reader)) = (input, first_reader) {
                if reader > columns[k] + 1 {
                    columns[k] = reader - 1;
                }
            }
        }
        columns
    }

    fn size(&mut self, item: Item) -> (f64, f64) {
        match item {
            Item::Node(n) => self.node_size(n),
            Item::Cluster(c) => {
                let (w, h, _) = self.measure(c);
                (w, h)
            }
        }
    }

    /// A box's size and its inside's width: laid out once at the origin
    /// (placed again where it goes).
    fn measure(&mut self, c: usize) -> (f64, f64, f64) {
        if let Some(size) = self.measured[c] {
            return size;
        }
        let (w, h) = self.place(Some(c), 0.0, 0.0);
        let label = text_width(&self.graph.clusters[c].label);
        let size = (w.max(label) + 2.0 * MARGIN, h + 2.0 * MARGIN + LABEL, w);
        self.measured[c] = Some(size);
        size
    }

    /// A node's box is tall enough for its wires in to be apart.
    pub(super) fn box_height(&self, node: usize) -> f64 {
        BOX_HEIGHT.max(PORT * (self.incoming[node].len() + 1) as f64)
    }

    /// The room a column needs before it: its wires' labels end there.
    fn gap_before(&self, items: &[Item], slots: &[Slot]) -> f64 {
        let widest = slots
            .iter()
            .filter_map(|slot| match slot {
                Slot::Item(k) => match items[*k] {
                    Item::Node(n) => Some(n),
                    Item::Cluster(_) => None,
                },
                Slot::Waypoint(_) => None,
            })
            .flat_map(|n| self.incoming[n].iter().map(|e| &self.graph.edges[*e]))
            .filter_map(Graph::edge_label)
            .map(|label| text_width(&label) * LABEL_CHAR / CHAR)
            .fold(0.0, f64::max);
        COLUMN_GAP.max(widest + 40.0)
    }

    fn node_size(&self, n: usize) -> (f64, f64) {
        let node = &self.graph.nodes[n];
        let lines = [
            Graph::value_line(node),
            Some(self.graph.title(node)),
            Graph::adjoint_line(node),
        ];
        let width = lines
            .iter()
            .flatten()
            .map(|l| text_width(l))
            .fold(0.0, f64::max);
        (width + 2.0 * NODE_PAD, self.box_height(n) + 2.0 * LINE)
    }

    fn put(&mut self, item: Item, x: f64, y: f64, w: f64, h: f64) {
        match item {
            Item::Node(n) => self.nodes[n] = Rect { x, y, w, h },
            Item::Cluster(c) => {
                self.clusters[c] = Rect { x, y, w, h };
                let (_, _, inner_w) = self.measure(c);
                // Centred under the label.
                let dx = (w - 2.0 * MARGIN - inner_w) / 2.0;
                self.place(Some(c), x + MARGIN + dx, y + MARGIN + LABEL);
            }
        }
    }
}

/// Orders each column's slots by the mean place of what they link to in
/// the column before (sweeping right), then after (sweeping left), a few
/// times: the barycentre heuristic, which removes most crossings.
fn order_columns(columns: &mut [Vec<Slot>], links: &[Link]) {
    use std::collections::HashMap;
    // Each slot's links, to the column before and to the column after.
    let mut before: HashMap<(usize, Slot), Vec<Slot>> = HashMap::new();
    let mut after: HashMap<(usize, Slot), Vec<Slot>> = HashMap::new();
    for (a, b) in links {
        if b.0 == a.0 + 1 {
            after.entry(*a).or_default().push(b.1);
            before.entry(*b).or_default().push(a.1);
        }
    }
    let none = Vec::new();
    for sweep in 0..4 {
        let rightward = sweep % 2 == 0;
        let order: Vec<usize> = if rightward {
            (1..columns.len()).collect()
        } else {
            (0..columns.len().saturating_sub(1)).rev().collect()
        };
        for column in order {
            let (neighbour, linked) = if rightward {
                (column - 1, &before)
            } else {
                (column + 1, &after)
            };
            let place: HashMap<Slot, usize> = columns[neighbour]
                .iter()
                .enumerate()
                .map(|(k, slot)| (*slot, k))
                .collect();
            let mut keyed: Vec<(f64, usize, Slot)> = columns[column]
                .iter()
                .enumerate()
                .map(|(k, slot)| {
                    let places: Vec<f64> = linked
                        .get(&(column, *slot))
                        .unwrap_or(&none)
                        .iter()
                        .filter_map(|s| place.get(s).map(|p| *p as f64))
                        .collect();
                    let key = if places.is_empty() {
                        k as f64
                    } else {
                        places.iter().sum::<f64>() / places.len() as f64
                    };
                    (key, k, *slot)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            columns[column] = keyed.into_iter().map(|(_, _, slot)| slot).collect();
        }
    }
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR
}
