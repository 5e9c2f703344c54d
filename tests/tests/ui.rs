//! Compile-time behaviour of the guard macros: every accepted form compiles (`ui/pass`), and
//! every misuse fails with the message checked in next to it (`ui/fail/*.stderr`).
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p aad-auth-tests --test ui`
//! and read the diff before committing it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
