//! Rewrites of the user's syntax into a smaller language, syntax in and syntax
//! out: paths moved one module deeper (`paths`), local structs built from a
//! literal as one local per field (`records`), destructuring assignments as
//! tuple `let`s (`assignments`), loops over `iter_mut()` as index loops
//! (`iter_mut`), `copy_from_slice` as a copying loop (`copies`),
//! `first`/`last`/`get` through `Option` as reads (`ends`),
//! values computed inside conditions moved into `let`s before them (`hoist`),
//! early returns at the top of the body as `if`/`else` (`returns`),
//! `continue` at the top of a loop's body as `if`/`else` (`continues`), and
//! iterator chains over slices turned into the loops they stand for
//! (`iterators`, used by lowering).

pub mod assignments;
pub mod continues;
pub mod copies;
pub mod ends;
pub mod hoist;
pub mod iter_mut;
pub mod iterators;
pub mod paths;
pub mod records;
pub mod returns;
