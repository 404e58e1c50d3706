//! Rust code from the analysed graph: the forward pass (`forward`), the backward
//! pass (`backward`), forward mode (`tangent`), second order over dual numbers (`second`), the module around them (`module`), checks that activations
//! called by name are the runtime's (`activations`), with readable names
//! that never collide with the user's (`names`) and a printed copy for the
//! module's documentation (`pretty`).

mod activations;
mod api;
pub(crate) use api::gradient_type;
pub mod backward;
pub mod forward;
pub mod frames;
pub mod graph;
pub mod lanes;
pub(crate) mod lending;
pub mod module;
pub mod names;
mod passes;
pub mod pretty;
pub(crate) mod second;
pub(crate) use second::has_twin;
pub mod tangent;
mod tape;
