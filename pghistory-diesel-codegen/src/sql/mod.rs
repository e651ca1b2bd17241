//! All SQL pghistory-diesel writes: event tables, trigger functions and triggers, the setup
//! migration, and migration files. The macro embeds these strings, the CLI writes them to
//! disk, nothing else builds SQL.

pub mod check;
pub mod condition;
pub mod event_table;
pub mod history;
pub mod manual;
pub mod migration;
pub mod names;
pub mod quote;
pub mod setup;
pub mod trigger;

/// A 64-bit FNV-1a hash, hex encoded: a stable fingerprint of generated SQL, so that an
/// installed trigger can be compared with the one the code expects.
pub fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}
