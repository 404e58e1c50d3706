//! Reading what the user wrote: the attribute's arguments, the function's
//! signature, and the marked methods of an `impl` block (each becomes a function
//! of its own before the rest of the pipeline sees it).

pub mod args;
pub mod checkpoint;
pub mod items;
pub mod lifetimes;
pub mod method;
pub mod model;
pub mod signature;
