//! What a function's `graph` records as it runs: the generated passes, run
//! once more with a call after each node, tell the recorder each value, each
//! adjoint and each term; it keeps those of the iterations drawn.

use super::{Cluster, ClusterKind, Edge, EdgeKind, Graph, Node, RegionKind, Role, Shape, Shown};
use num_traits::ToPrimitive;
use std::collections::BTreeMap;

/// The iteration numbers of the loops around a value, outermost first.
type Path = Vec<usize>;

/// The recording of one evaluation. Generated code calls it; users get the
/// [`Graph`] it builds.
#[derive(Debug)]
pub struct Recorder {
    shape: &'static Shape,
    /// How many iterations of each loop are drawn.
    limit: usize,
    /// The loops running now, innermost last: (region, iteration number).
    running: Vec<(usize, Option<usize>)>,
    /// Per node: the paths of the times the forward pass computed it that
    /// are drawn.
    forward: Vec<Vec<Path>>,
    /// The backward pass's loops running now, innermost last.
    reversing: Vec<Reversing>,
    /// Per node: the path of the occurrence the backward pass is on.
    current: Vec<Option<Path>>,
    values: BTreeMap<(usize, Path), Shown>,
    adjoints: BTreeMap<(usize, Path), f64>,
    gradients: BTreeMap<usize, Shown>,
    /// Per wire and path of the node it enters: the term's value.
    terms: BTreeMap<(usize, Path), f64>,
    /// Per loop and path around it: how many iterations ran.
    trips: BTreeMap<(usize, Path), usize>,
    /// The arms that ran, with their paths.
    taken: std::collections::BTreeSet<(usize, Path)>,
    result: Option<Shown>,
}

/// A loop of the backward pass: which forward iteration it is on follows
/// from how many it has run, its direction, and (last to first) the number
/// of iterations the forward pass ran in the same place.
#[derive(Debug)]
struct Reversing {
    first_to_last: bool,
    /// The forward pass's iteration count here, when it is drawn.
    trips: Option<usize>,
    /// How many iterations this loop has started, less one.
    started: Option<usize>,
}

impl Reversing {
    /// The forward pass's number of the iteration running now.
    fn iteration(&self) -> Option<usize> {
        let started = self.started?;
        match self.first_to_last {
            true => Some(started),
            false => self.trips?.checked_sub(started + 1),
        }
    }
}

impl Recorder {
    /// A recorder for one evaluation, drawing the first `iterations` of each
    /// loop (at least one).
    #[must_use]
    pub fn new(shape: &'static Shape, iterations: usize) -> Recorder {
        let nodes = shape.nodes.len();
        Recorder {
            shape,
            limit: iterations.max(1),
            running: Vec::new(),
            forward: vec![Vec::new(); nodes],
            reversing: Vec::new(),
            current: vec![None; nodes],
            values: BTreeMap::new(),
            adjoints: BTreeMap::new(),
            gradients: BTreeMap::new(),
            terms: BTreeMap::new(),
            trips: BTreeMap::new(),
            taken: std::collections::BTreeSet::new(),
            result: None,
        }
    }

    /// The path of the code running now, if it is drawn.
    fn drawn_path(&self) -> Option<Path> {
        self.running
            .iter()
            .map(|(_, k)| k.filter(|k| *k < self.limit))
            .collect()
    }

    /// Before a loop.
    pub fn enter_loop(&mut self, region: usize) {
        if let Some(path) = self.drawn_path() {
            self.trips.entry((region, path)).or_insert(0);
        }
        self.running.push((region, None));
    }

    /// At the start of each iteration.
    pub fn iteration(&mut self) {
        let Some((region, k)) = self.running.pop() else {
            return;
        };
        let outer = self.drawn_path();
        self.running.push((region, Some(k.map_or(0, |k| k + 1))));
        if let Some(outer) = outer {
            *self.trips.entry((region, outer)).or_insert(0) += 1;
        }
    }

    /// At the start of an arm of a branch.
    pub fn arm(&mut self, region: usize) {
        if let Some(path) = self.drawn_path() {
            self.taken.insert((region, path));
        }
    }

    /// After a loop.
    pub fn leave_loop(&mut self) {
        self.running.pop();
    }

    /// The forward pass computed `node` (an array, a call with several
    /// results: nothing to write above it).
    pub fn occur(&mut self, node: usize) -> Option<Path> {
        let path = self.drawn_path()?;
        self.forward.get_mut(node)?.push(path.clone());
        Some(path)
    }

    /// The forward pass computed `node`'s value.
    pub fn value<T: ToPrimitive>(&mut self, node: usize, value: T) {
        if let Some(path) = self.occur(node) {
            self.values.insert((node, path), Shown::scalar(value));
        }
    }

    /// An array's contents (a parameter's).
    pub fn array<T: ToPrimitive + Copy>(&mut self, node: usize, values: &[T]) {
        if let Some(path) = self.occur(node) {
            self.values.insert((node, path), Shown::array(values));
        }
    }

    /// The function's result.
    pub fn result<T: ToPrimitive>(&mut self, value: T) {
        self.result = Some(Shown::scalar(value));
    }

    /// Before a loop of the backward pass, which reverses the forward loop
    /// `region` last iteration first, or `first_to_last` where its
    /// iterations do not feed each other.
    pub fn enter_reversed(&mut self, region: usize, first_to_last: bool) {
        let trips = self
            .reversed_path()
            .and_then(|outer| self.trips.get(&(region, outer)).copied());
        self.reversing.push(Reversing {
            first_to_last,
            trips,
            started: None,
        });
    }

    /// At the start of each iteration of the backward pass's innermost loop.
    pub fn reversed_iteration(&mut self) {
        if let Some(innermost) = self.reversing.last_mut() {
            innermost.started = Some(innermost.started.map_or(0, |k| k + 1));
        }
    }

    /// After a loop of the backward pass.
    pub fn leave_reversed(&mut self) {
        self.reversing.pop();
    }

    /// The path, in the forward pass's iteration numbers, of the code the
    /// backward pass is running, if it is drawn.
    fn reversed_path(&self) -> Option<Path> {
        self.reversing
            .iter()
            .map(|looped| looped.iteration().filter(|k| *k < self.limit))
            .collect()
    }

    /// The backward pass reached `node`: the occurrence its loops are on.
    pub fn visit(&mut self, node: usize) -> Option<Path> {
        let path = self.reversed_path().filter(|path| {
            self.forward
                .get(node)
                .is_some_and(|drawn| drawn.contains(path))
        });
        if let Some(current) = self.current.get_mut(node) {
            current.clone_from(&path);
        }
        path
    }

    /// The backward pass summed `node`'s adjoint.
    pub fn adjoint<T: ToPrimitive>(&mut self, node: usize, adjoint: T) {
        if let Some(path) = self.visit(node) {
            let adjoint = adjoint.to_f64().unwrap_or(f64::NAN);
            self.adjoints.insert((node, path), adjoint);
        }
    }

    /// A term along `edge`, written while the backward pass is on the node
    /// it enters.
    pub fn term<T: ToPrimitive>(&mut self, edge: usize, term: T) {
        let Some(info) = self.shape.edges.get(edge) else {
            return;
        };
        if let Some(path) = self.current[info.to].clone() {
            let term = term.to_f64().unwrap_or(f64::NAN);
            *self.terms.entry((edge, path)).or_insert(0.0) += term;
        }
    }

    /// A scalar parameter's gradient.
    pub fn gradient<T: ToPrimitive>(&mut self, node: usize, gradient: T) {
        self.adjoints
            .insert((node, Vec::new()), gradient.to_f64().unwrap_or(f64::NAN));
    }

    /// An array parameter's gradient.
    pub fn gradient_array<T: ToPrimitive + Copy>(&mut self, node: usize, gradient: &[T]) {
        self.gradients.insert(node, Shown::array(gradient));
    }

    /// The graph: the nodes drawn, their wires, and their boxes.
    #[must_use]
    pub fn finish(self) -> Graph {
        Builder::new(self).build()
    }
}

/// Turns a recording into the instances of nodes, wires and boxes.
struct Builder {
    rec: Recorder,
    graph: Graph,
    /// Node instance of each (node, path) drawn.
    instance: BTreeMap<(usize, Path), usize>,
    /// Box of each (region, path): a loop's under the path around it, an
    /// iteration's and an arm's under their own.
    boxes: BTreeMap<(usize, Path, bool), usize>,
}

impl Builder {
    fn new(rec: Recorder) -> Builder {
        let graph = Graph {
            function: rec.shape.function,
            value: rec.result.clone(),
            nodes: Vec::new(),
            edges: Vec::new(),
            clusters: Vec::new(),
        };
        Builder {
            rec,
            graph,
            instance: BTreeMap::new(),
            boxes: BTreeMap::new(),
        }
    }

    fn build(mut self) -> Graph {
        let shape = self.rec.shape;
        // Instances in execution order: by path, then by node within it.
        let mut drawn: Vec<(Path, usize)> = Vec::new();
        for (node, occurrences) in self.rec.forward.iter().enumerate() {
            if shape.nodes[node].role == Role::Hidden {
                continue;
            }
            for path in occurrences {
                drawn.push((path.clone(), node));
            }
        }
        drawn.sort();
        drawn.dedup();
        for (path, node) in drawn {
            self.add_node(node, path);
        }
        for (edge, info) in shape.edges.iter().enumerate() {
            let targets: Vec<(Path, usize)> = self
                .instance
                .iter()
                .filter(|((node, _), _)| *node == info.to)
                .map(|((_, path), at)| (path.clone(), *at))
                .collect();
            for (path, to) in targets {
                self.add_edge(edge, &path, to);
            }
        }
        self.graph
    }

    fn add_node(&mut self, node: usize, path: Path) {
        let shape = self.rec.shape;
        let info = &shape.nodes[node];
        let cluster = self.cluster_of(info.region, &path);
        let key = (node, path.clone());
        let at = self.graph.nodes.len();
        self.graph.nodes.push(Node {
            name: info.name,
            op: info.op,
            role: info.role,
            saved: info.saved,
            output: shape.outputs.contains(&node),
            iteration: path,
            value: self.rec.values.get(&key).cloned(),
            adjoint: self.rec.adjoints.get(&key).copied(),
            gradient: self.rec.gradients.get(&node).cloned(),
            cluster,
        });
        self.instance.insert(key, at);
    }

    /// How many loops are around `region`.
    fn depth(&self, mut region: usize) -> usize {
        let regions = self.rec.shape.regions;
        let mut depth = 0;
        while region != 0 && region < regions.len() {
            if regions[region].kind == RegionKind::Loop {
                depth += 1;
            }
            region = regions[region].parent;
        }
        depth
    }

    /// The innermost box of a node of `region` at `path`, made with the
    /// boxes around it as needed.
    fn cluster_of(&mut self, region: usize, path: &Path) -> Option<usize> {
        let regions = self.rec.shape.regions;
        if region == 0 || region >= regions.len() {
            return None;
        }
        let info = &regions[region];
        let depth = self.depth(region);
        match info.kind {
            RegionKind::Body => None,
            RegionKind::Arm => {
                let key = (region, path[..depth.min(path.len())].to_vec(), false);
                if let Some(at) = self.boxes.get(&key) {
                    return Some(*at);
                }
                let parent = self.cluster_of(info.parent, path);
                Some(self.add_cluster(key, parent, ClusterKind::Arm, info.label.to_string()))
            }
            RegionKind::Loop => {
                let inner = depth.min(path.len());
                let key = (region, path[..inner].to_vec(), true);
                if let Some(at) = self.boxes.get(&key) {
                    return Some(*at);
                }
                let outer = inner.saturating_sub(1);
                let loop_key = (region, path[..outer].to_vec(), false);
                let around = match self.boxes.get(&loop_key) {
                    Some(at) => *at,
                    None => {
                        let parent = self.cluster_of(info.parent, path);
                        let trips = self
                            .rec
                            .trips
                            .get(&(region, path[..outer].to_vec()))
                            .copied()
                            .unwrap_or(0);
                        let label = self.loop_label(info.label, trips);
                        self.add_cluster(loop_key, parent, ClusterKind::Loop, label)
                    }
                };
                let k = path.get(outer).copied().unwrap_or(0);
                let label = format!("iteration {k}");
                Some(self.add_cluster(key, Some(around), ClusterKind::Iteration, label))
            }
        }
    }

    fn loop_label(&self, label: &str, trips: usize) -> String {
        let plural = if trips == 1 { "" } else { "s" };
        if trips > self.rec.limit {
            format!(
                "{label}: {trips} iteration{plural}, the first {} drawn",
                self.rec.limit
            )
        } else {
            format!("{label}: {trips} iteration{plural}")
        }
    }

    fn add_cluster(
        &mut self,
        key: (usize, Path, bool),
        parent: Option<usize>,
        kind: ClusterKind,
        label: String,
    ) -> usize {
        let at = self.graph.clusters.len();
        self.graph.clusters.push(Cluster {
            parent,
            kind,
            label,
        });
        self.boxes.insert(key, at);
        at
    }

    /// The wire `edge` into the instance `to` at `path`, from the instance
    /// of its source that fed it.
    fn add_edge(&mut self, edge: usize, path: &Path, to: usize) {
        let shape = self.rec.shape;
        let info = &shape.edges[edge];
        let from_depth = self.depth(shape.nodes[info.from].region);
        let mut skipped = 0;
        let source: Option<Path> = match info.kind {
            // A value handed to a merge by an arm that did not run is no wire.
            EdgeKind::Operand
                if info.region != 0 && !self.rec.taken.contains(&(info.region, path.clone())) =>
            {
                None
            }
            EdgeKind::Operand => Some(self.source_path(info.from, from_depth, path)),
            // Into the first iteration only.
            EdgeKind::LoopEntry => match path.last() {
                Some(0) => Some(path[..from_depth.min(path.len())].to_vec()),
                _ => None,
            },
            // From the iteration before.
            EdgeKind::Carried => match path.split_last() {
                Some((k, outer)) if *k > 0 => {
                    let mut before = outer.to_vec();
                    before.push(k - 1);
                    before.truncate(from_depth);
                    Some(before)
                }
                _ => None,
            },
            // Past a loop that ran no iteration.
            EdgeKind::LoopBypass => {
                let trips = self.rec.trips.get(&(info.region, path.clone()));
                match trips.copied().unwrap_or(0) {
                    0 => Some(path[..from_depth.min(path.len())].to_vec()),
                    _ => None,
                }
            }
            // From the last iteration drawn.
            EdgeKind::LoopExit => {
                let trips = self
                    .rec
                    .trips
                    .get(&(info.region, path.clone()))
                    .copied()
                    .unwrap_or(0);
                if trips == 0 {
                    None
                } else {
                    let last = trips.min(self.rec.limit) - 1;
                    skipped = trips - last - 1;
                    let mut inside = path.clone();
                    inside.push(last);
                    inside.truncate(from_depth);
                    Some(inside)
                }
            }
        };
        let Some(source) = source else { return };
        let Some(from) = self.instance.get(&(info.from, source)).copied() else {
            return;
        };
        let term = (!info.term.is_empty()).then_some(info.term);
        self.graph.edges.push(Edge {
            from,
            to,
            term,
            term_value: self.rec.terms.get(&(edge, path.clone())).copied(),
            kind: info.kind,
            skipped,
        });
    }

    /// The source of an operand: at the path around it (it is defined in the
    /// same block or one around), or, deeper (a value of an arm read after
    /// it), the same path.
    fn source_path(&self, from: usize, from_depth: usize, path: &Path) -> Path {
        let mut source = path.clone();
        source.truncate(from_depth);
        if self.instance.contains_key(&(from, source.clone())) {
            return source;
        }
        // Defined in a loop the target is outside of: its last iteration
        // drawn.
        self.instance
            .keys()
            .filter(|(node, p)| *node == from && p.starts_with(path))
            .map(|(_, p)| p.clone())
            .max()
            .unwrap_or(source)
    }
}
