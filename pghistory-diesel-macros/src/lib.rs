//! Procedural macros of pghistory-diesel. Use them through `pghistory_diesel`, which
//! documents them; all logic lives in `pghistory-diesel-codegen`.

use proc_macro::TokenStream;

/// Declares a Diesel table whose changes are recorded by Postgres triggers.
///
/// See `pghistory_diesel::tracked_table!` for the documentation.
#[proc_macro]
pub fn tracked_table(input: TokenStream) -> TokenStream {
    pghistory_diesel_codegen::expand_tracked_table(input.into()).into()
}
