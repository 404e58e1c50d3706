//! Every refusal is a compile error that points at the user's tokens and says
//! what is supported instead: one case per failure mode under `tests/ui/`.
//! After an intended change to a message: `TRYBUILD=overwrite cargo test --test ui`,
//! then review the `.stderr` diffs.

#[test]
fn refusals() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
