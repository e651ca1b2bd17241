//! History tracking for [Diesel](https://diesel.rs) on PostgreSQL, written by database
//! triggers.
//!
//! Declare a table with [`tracked_table!`] in place of `diesel::table!`; generate its
//! migration with the `pghistory-diesel` command; from then on every insert, update and
//! delete of that table — through Diesel, raw SQL, bulk statements or a psql session — is
//! recorded as a row of its events table, which you query with the Diesel DSL.
//!
//! | module | what |
//! |---|---|
//! | [`tracked_table!`] | declare a tracked table: the Diesel table, its events table and model |
//! | [`context`] | attach who and why to every event written in a scope |
//! | [`check`] | verify that the installed triggers are the ones the code declares |
//! | [`events`] | manual events ([`create_event`]) and pruning old history ([`prune`], [`prune_contexts`]) |
//! | [`pause`] | write no events for chosen tables within a scope (backfills, repairs) |
//! | [`history`] | one time-ordered history across tables, with diffs; revert |
//! | [`context_table`] | the `pghistory_context` table and its [`Context`](context_table::Context) model |
//!
//! # Cargo features
//!
//! | feature | enables |
//! |---|---|
//! | `async` | diesel-async support |
//! | `r2d2` | per-checkout context for r2d2 pools |
//! | `deadpool` | per-checkout context for deadpool (diesel-async) |
//! | `bb8` | per-checkout context for bb8 (diesel-async) |
//! | `tower` | a tower layer (axum) opening a context per HTTP request |

pub mod check;
pub mod context;
pub mod context_table;
mod error;
pub mod events;
pub mod history;
pub mod pause;
#[cfg(any(feature = "r2d2", feature = "deadpool", feature = "bb8"))]
pub mod pool;
#[cfg(feature = "tower")]
pub mod tower;
mod tracked;
#[cfg(feature = "async")]
mod transaction_async;

pub use context::with_context;
#[cfg(feature = "async")]
pub use context::with_context_async;
pub use error::{Error, Result};
pub use events::{create_event, prune, prune_contexts};
#[cfg(feature = "async")]
pub use events::{create_event_async, prune_async, prune_contexts_async};
pub use pause::{pause, pause_all, pause_tables, PauseSet};
#[cfg(feature = "async")]
pub use pause::{pause_all_async, pause_async, pause_tables_async};
pub use tracked::{ContextMode, Operation, TableInfo, Tracked, TrackerInfo, TriggerInfo};

/// Declares a Diesel table whose every change is recorded by Postgres triggers.
///
/// It takes exactly what `diesel::table!` takes, plus `#[pghistory(...)]` options, and
/// expands to:
/// - the Diesel table, unchanged;
/// - the events table `<table>_events`, with `pgh_id`, `pgh_created_at`, `pgh_obj_id`,
///   `pgh_context_id`, `pgh_label` and a snapshot of every tracked column;
/// - the model struct `<Table>Event` (`Queryable`, `Selectable`, `Debug`, `Clone`);
/// - `joinable!` from events to the tracked table and to `pghistory_context`;
/// - an implementation of [`Tracked`].
///
/// ```
/// pghistory_diesel::tracked_table! {
///     #[pghistory(events(insert, update, delete))]
///     posts (id) {
///         id -> Int4,
///         title -> Text,
///         body -> Nullable<Text>,
///     }
/// }
///
/// use diesel::prelude::*;
///
/// /// The history of one post, oldest first, typed.
/// fn history_of(conn: &mut PgConnection, post: i32) -> QueryResult<Vec<PostsEvent>> {
///     posts_events::table
///         .filter(posts_events::pgh_obj_id.eq(post))
///         .order(posts_events::pgh_id)
///         .select(PostsEvent::as_select())
///         .load(conn)
/// }
/// # fn main() {}
/// ```
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `events(insert, update, delete)` | trackers with default labels (default: insert, update) |
/// | `event(update, label = "...", when = ..., row = old)` | one tracker |
/// | `event(manual, label = "archived")` | a label written from Rust with [`create_event`] |
/// | `fields(a, b)` / `exclude(a, b)` | which columns are snapshotted (and watched by `changed`) |
/// | `model = Name`, `table_name = name`, `schema = "name"` | naming |
/// | `context = fk \| json \| none` | how context is stored |
/// | `append_only` | the database refuses UPDATE, DELETE and TRUNCATE on the events table; [`prune`] still works |
///
/// Conditions (`when = ...`): `changed`, `changed(a, b)`, `always`, `changed_to(col, "v")`,
/// `changed_from(col, "v")`, comparisons of `old.col` / `new.col` and literals (`==` and `!=`
/// are NULL-safe), `is_null(new.col)`, `&&`, `||`, `!`, and `sql("NEW.a > OLD.a + 1")`.
/// `docs/django-pghistory-mapping.md` maps each django-pghistory tracker and option to these.
///
/// Column options: `#[pghistory(rust_type = "crate::Mood")]` for custom SQL types.
pub use pghistory_diesel_macros::tracked_table;

#[doc(hidden)]
pub mod __private {
    pub use crate::tracked::{ContextMode, Operation, TrackerInfo, TriggerInfo};
    pub use chrono;
    pub use diesel::pg::data_types::{PgInterval, PgMoney, PgNumeric};
    pub use ipnetwork;
    pub use serde_json;
    pub use uuid;
}
