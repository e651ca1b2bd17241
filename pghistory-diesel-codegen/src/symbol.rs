//! Every option name of `#[pghistory(...)]`, in one place.

/// The attribute's own name.
pub const PGHISTORY: &str = "pghistory";

/// `events(insert, update, delete)`: trackers with their default labels.
pub const EVENTS: &str = "events";
/// `event(update, label = "...", when = ..., row = old)`: one tracker.
pub const EVENT: &str = "event";
/// `label = "..."` inside `event(...)`.
pub const LABEL: &str = "label";
/// `when = <condition>` inside `event(...)`.
pub const WHEN: &str = "when";
/// `row = old | new` inside `event(...)`.
pub const ROW: &str = "row";
/// `fields(a, b)`: snapshot only these columns.
pub const FIELDS: &str = "fields";
/// `exclude(a, b)`: snapshot every column but these.
pub const EXCLUDE: &str = "exclude";
/// `model = Name`: the event model struct's name.
pub const MODEL: &str = "model";
/// `table_name = name`: the events table's name.
pub const TABLE_NAME: &str = "table_name";
/// `schema = "name"`: the Postgres schema of the events table.
pub const SCHEMA: &str = "schema";
/// `context = fk | json | none`: how context is stored on events.
pub const CONTEXT: &str = "context";
/// `append_only`: the database refuses UPDATE and DELETE on the events table.
pub const APPEND_ONLY: &str = "append_only";

/// Column option `rust_type = "path::Type"`: the Rust type of a custom SQL type.
pub const RUST_TYPE: &str = "rust_type";
/// Column option `pg_type = "name"`: the Postgres type name, where it cannot be inferred.
pub const PG_TYPE: &str = "pg_type";

/// Table-level option names, for "expected one of" messages.
pub const TABLE_OPTIONS: &[&str] = &[
    EVENTS,
    EVENT,
    FIELDS,
    EXCLUDE,
    MODEL,
    TABLE_NAME,
    SCHEMA,
    CONTEXT,
    APPEND_ONLY,
];
/// Options inside `event(...)`.
pub const EVENT_OPTIONS: &[&str] = &[LABEL, WHEN, ROW];
/// Column-level option names.
pub const COLUMN_OPTIONS: &[&str] = &[RUST_TYPE, PG_TYPE];
