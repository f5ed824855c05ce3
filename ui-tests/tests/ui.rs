//! One trybuild run over every case: `tests/ui/<area>/fail/*.rs` must fail to compile
//! with exactly the `.stderr` beside it; `tests/ui/<area>/pass/*.rs` must compile.
//!
//! Re-bless after a deliberate change with `TRYBUILD=overwrite cargo test -p
//! txova-db-ui-tests`, then read every changed `.stderr` before committing it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*/fail/*.rs");
    cases.pass("tests/ui/*/pass/*.rs");
}
