//! The part of pghistory-diesel that both the code generator and the runtime need, kept
//! free of `syn` and `diesel` so that an application's runtime dependency pulls in no
//! proc-macro machinery:
//!
//! - [`vocab`]: every name the generated SQL and the runtime agree on (settings, objects,
//!   the `pgh_*` columns, the dollar-quote tag), defined once;
//! - [`quote`]: the only two escapers, for identifiers and string literals;
//! - [`catalog`]: the catalog queries that compare what is installed with what is declared;
//! - [`history`]: the history queries the runtime builds for a set of tables at run time.
//!
//! The code generator (`pghistory-diesel-codegen`) writes every other statement from its
//! checked model, reading names from here.

pub mod catalog;
pub mod history;
pub mod quote;
pub mod vocab;

/// A 64-bit FNV-1a hash, hex encoded: a stable fingerprint of generated SQL, so that an
/// installed trigger can be compared with the one the code expects.
///
/// ```
/// assert_eq!(pghistory_diesel_core::fingerprint(""), "cbf29ce484222325");
/// ```
pub fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}
