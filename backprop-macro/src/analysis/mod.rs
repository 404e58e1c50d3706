//! What the emitters need to know about the graph beyond its nodes: which nodes
//! get an adjoint and how many terms each has (`activity`), where the
//! backward pass gets each value it reads (`tape`), and which reversed loops
//! may run first to last (`order`).

pub mod activity;
pub mod checkpoint;
pub mod order;
pub mod tape;
