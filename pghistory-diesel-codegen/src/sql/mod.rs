//! All SQL pghistory-diesel writes: event tables, trigger functions and triggers, the setup
//! migration, and migration files. The macro embeds these strings, the CLI writes them to
//! disk, nothing else builds SQL.

pub mod check;
pub mod condition;
pub mod event_table;
pub mod manual;
pub mod migration;
pub mod names;
pub mod setup;
pub mod trigger;

pub use pghistory_diesel_core::{fingerprint, quote};
