//! Context: who and why, attached to every event written in a scope.
//!
//! A context is a JSON object of metadata (`{"user": 42, "reason": "import"}`). Entering a
//! scope writes an immutable snapshot row into `pghistory_context` and points the session
//! settings `pghistory.context_id` / `pghistory.context_metadata` at it; every trigger reads
//! them once per statement, so every event written in the scope — through Diesel, bulk
//! statements or raw SQL — carries the snapshot's id in `pgh_context_id` (and, for
//! `context = json` tables, the metadata in `pgh_context`).
//!
//! There are two ways in:
//!
//! - **Explicit scopes**, [`with_context`] and (feature `async`) [`with_context_async`]: the
//!   closure runs in a transaction with the context set transaction-locally; it commits with
//!   the closure's `Ok` and rolls back (events and context row alike) with its `Err`.
//! - **Ambient context**, [`ambient_scope`] (per thread) and (feature `async`)
//!   [`ambient_scope_async`] (per task): nothing is written while the scope is open; the
//!   pool hooks of [`crate::pool`] call [`attach_ambient`] / [`attach_ambient_async`] on
//!   every checkout, which writes the ambient context onto the connection — or clears it
//!   when there is none, so a connection never carries a previous checkout's context.
//!
//! # Nesting and metadata as it was
//!
//! A scope entered while another is in force on the connection (an outer [`with_context`],
//! or an ambient context a pool hook attached) shares the outer scope's `scope_id` and
//! merges the metadata, inner keys winning. It writes a **new** snapshot row rather than
//! updating the outer one, and when it ends the outer snapshot is in force again. Rows are
//! never updated, so every event reports the metadata in force when it was written.
//!
//! ```no_run
//! use diesel::prelude::*;
//! use pghistory_diesel::context::with_context;
//! use serde_json::json;
//!
//! # diesel::table! { posts (id) { id -> Int4, title -> Text, } }
//! # fn run(conn: &mut PgConnection) -> Result<(), pghistory_diesel::Error> {
//! with_context(conn, json!({"user": 42, "reason": "import"}), |conn| {
//!     diesel::insert_into(posts::table).values(posts::title.eq("hello")).execute(conn)?;
//!     // Inner scope: same scope_id, metadata {"user": 42, "reason": "fix typo"}.
//!     with_context(conn, json!({"reason": "fix typo"}), |conn| {
//!         diesel::update(posts::table).set(posts::title.eq("Hello")).execute(conn)
//!     })?;
//!     // {"user": 42, "reason": "import"} again.
//!     diesel::delete(posts::table).execute(conn)
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! # Reading it back
//!
//! Every events table (except `context = none` ones) is joinable to
//! [`pghistory_context`](crate::context_table::pghistory_context), so "all events of scope X
//! with their metadata" is one query:
//!
//! ```no_run
//! # use diesel::prelude::*;
//! # pghistory_diesel::tracked_table! { posts (id) { id -> Int4, title -> Text, } }
//! use pghistory_diesel::context_table::{pghistory_context, Context};
//!
//! # fn run(conn: &mut PgConnection, scope: uuid::Uuid) -> QueryResult<()> {
//! let events: Vec<(PostsEvent, Context)> = posts_events::table
//!     .inner_join(pghistory_context::table)
//!     .filter(pghistory_context::scope_id.eq(scope))
//!     .select((PostsEvent::as_select(), Context::as_select()))
//!     .load(conn)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Connection poolers
//!
//! Explicit scopes set the context inside the transaction they open, so they are safe behind
//! PgBouncer in transaction mode. Ambient context is written per session at checkout; see
//! [`crate::pool`] for why that is not safe there.
//!
//! # Errors
//!
//! Metadata is checked before anything is written: a value that is not a JSON object is
//! [`Error::MetadataNotAnObject`], one whose `Serialize`
//! fails is [`Error::MetadataNotSerializable`]. A
//! database without the setup migration gives [`Error::SetupMissing`].

// The docs link to items of the `async` and pool features; docs.rs builds with all features.
#![cfg_attr(
    not(all(
        feature = "async",
        any(feature = "r2d2", feature = "deadpool", feature = "bb8")
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

mod ambient;
mod queries;
mod scope;
#[cfg(feature = "async")]
mod scope_async;

#[cfg(feature = "async")]
#[allow(unused_imports)] // used by the pool features
pub(crate) use ambient::attach_ambient_async_for;
pub use ambient::{ambient_scope, attach_ambient, current_ambient, Ambient};
#[cfg(feature = "async")]
pub use ambient::{ambient_scope_async, attach_ambient_async};
#[allow(unused_imports)] // used by the pool features
pub(crate) use ambient::{attach_ambient_for, PoolKey};
pub use scope::{current_context, with_context};
#[cfg(feature = "async")]
pub use scope_async::{current_context_async, with_context_async, ScopeFn};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Error;

/// Serializes context metadata, which must be a JSON object.
pub(crate) fn metadata_object(metadata: impl Serialize) -> Result<Map<String, Value>, Error> {
    match serde_json::to_value(metadata) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::MetadataNotAnObject {
            found: json_type(&other),
        }),
        Err(e) => Err(Error::MetadataNotSerializable(e)),
    }
}

/// The JSON type of a value, as named in error messages.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn objects_are_accepted_as_they_are() {
        let map = metadata_object(json!({"user": 42})).unwrap();
        assert_eq!(Value::Object(map), json!({"user": 42}));
    }

    #[test]
    fn other_json_types_are_named_in_the_error() {
        for (value, found) in [
            (json!([1, 2]), "an array"),
            (json!("x"), "a string"),
            (json!(null), "null"),
            (json!(1), "a number"),
            (json!(true), "a boolean"),
        ] {
            match metadata_object(value) {
                Err(Error::MetadataNotAnObject { found: f }) => assert_eq!(f, found),
                other => panic!("expected MetadataNotAnObject, got {other:?}"),
            }
        }
    }

    #[test]
    fn maps_with_non_string_keys_are_not_serializable() {
        let mut map = BTreeMap::new();
        map.insert(vec![1u8], 1);
        assert!(matches!(
            metadata_object(map),
            Err(Error::MetadataNotSerializable(_))
        ));
    }

    #[test]
    fn inner_keys_win_when_merging() {
        let outer = metadata_object(json!({"user": 1, "reason": "a"})).unwrap();
        let inner = metadata_object(json!({"reason": "b", "extra": true})).unwrap();
        assert_eq!(
            Value::Object(queries::merge(&outer, inner)),
            json!({"user": 1, "reason": "b", "extra": true})
        );
    }
}
