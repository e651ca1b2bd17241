//! The SQL written from the checked model: event tables, trigger functions and triggers,
//! the setup migration, migration files, and the installation `check` expects. The macro
//! embeds these strings, the CLI writes them to disk. Names, escapers and the queries the
//! runtime runs come from `pghistory_diesel_core`; nothing else builds SQL.

pub mod condition;
pub mod event_table;
pub mod expected;
pub mod function;
pub mod manual;
pub mod migration;
pub mod names;
pub mod setup;
pub mod trigger;
pub mod view;

pub use pghistory_diesel_core::{fingerprint, quote};
