//! What the emitters need to know about the graph beyond its nodes: which nodes
//! get an adjoint and how many terms each has (`activity`), and where the
//! backward pass gets each value it reads (`tape`).

pub mod activity;
pub mod checkpoint;
pub mod tape;
