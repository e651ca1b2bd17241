//! Compile-fail tests: every misuse of `tracked_table!` gets an error at the offending
//! token that says what to do. One misuse per `tests/ui/*.rs`, with the compiler's output
//! committed next to it as `.stderr`.
//!
//! The output depends on the compiler version, which `rust-toolchain.toml` pins. After a
//! deliberate change to a message, re-bless with `TRYBUILD=overwrite cargo test -p
//! pghistory-diesel-tests --test compile_fail` and read every changed `.stderr`: they are
//! what users see.

#[test]
fn misuses_of_tracked_table_are_spanned_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
    // Misuses of trackers, conditions and tracking options.
    cases.compile_fail("ui/trackers/*.rs");
    // Names Postgres or Rust cannot take.
    cases.compile_fail("ui/names/*.rs");
    // Valid input that once broke the expansion; each `main` checks the SQL Diesel builds.
    cases.pass("ui/pass/*.rs");
}
