//! Compile-time behaviour of the guard macros: every accepted form compiles (`ui/pass`), and
//! every misuse fails with the message checked in next to it (`ui/fail/*.stderr`).
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p aad-auth-tests --test ui`
//! and read the diff before committing it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    // Cases run in this order; the pass cases (which link and run binaries) go last so that a
    // failure among them is in the tail of the output, which is what CI shows.
    cases.compile_fail("ui/fail/*.rs");
    cases.pass("ui/pass/*.rs");
}
