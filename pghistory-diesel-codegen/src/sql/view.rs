//! The `public.pghistory_events` view: the timeline of every tracked table for psql users
//! and BI tools, kept in sync by the tracking migrations.
//!
//! One database may be migrated from several migration directories (several schema files),
//! and each directory's migrations know only their own tables. So the view is not written
//! whole by any one migration: each table's branch (the runtime timeline's own SQL, from
//! `pghistory_diesel_core::history::view_branch`) is a row of a small registry,
//! `public.pghistory_view_branches`, keyed by events table. A migration adds, replaces or
//! deletes the rows of its own tables and then rebuilds the view from every row, so one
//! directory never drops another's tables from the view. A down migration deletes the rows
//! its up added and restores the ones its up replaced or deleted (recorded in the ledger's
//! `view` sections), then rebuilds, which restores the previous view.
//!
//! Every migration drops the view first and rebuilds it last, so no step in between (a
//! column type change, a dropped events table) is blocked by the view depending on it.

use pghistory_diesel_core::history::{view_branch, TableNames};
use pghistory_diesel_core::vocab::{DOLLAR_TAG, SETUP_SCHEMA};

use super::quote;
use crate::model::TrackedTable;

/// The view's name (in the setup schema).
pub const VIEW: &str = "pghistory_events";
/// The registry of branches (in the setup schema).
pub const REGISTRY: &str = "pghistory_view_branches";

fn view() -> String {
    quote::qualified(SETUP_SCHEMA, VIEW)
}

fn registry() -> String {
    quote::qualified(SETUP_SCHEMA, REGISTRY)
}

/// Creates the registry when missing, and drops the view until [`rebuild`].
pub fn prepare() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {reg} (\"events_table\" text PRIMARY KEY, \"branch\" text NOT NULL);\n\
         REVOKE ALL ON {reg} FROM PUBLIC;\n\
         DROP VIEW IF EXISTS {view};\n",
        reg = registry(),
        view = view(),
    )
}

/// Drops the view (the first statement of a down migration).
pub fn drop_view() -> String {
    format!("DROP VIEW IF EXISTS {};\n", view())
}

/// Creates the view from every registered branch, in events-table order (no view when
/// none is registered).
pub fn rebuild() -> String {
    format!(
        r#"DO {DOLLAR_TAG}
DECLARE
    pgh_sql text;
BEGIN
    SELECT pg_catalog.string_agg(b."branch", E'\nUNION ALL\n' ORDER BY b."events_table") INTO pgh_sql FROM {reg} b;
    DROP VIEW IF EXISTS {view};
    IF pgh_sql IS NOT NULL THEN
        EXECUTE 'CREATE VIEW {view_in} AS ' || pgh_sql;
        EXECUTE 'COMMENT ON VIEW {view_in} IS ''The history of every tracked table, one row per event, written by pghistory-diesel migrations.''';
    END IF;
END
{DOLLAR_TAG};
"#,
        reg = registry(),
        view = view(),
        view_in = view().replace('\'', "''"),
    )
}

/// The registry key of an events table: its quoted qualified name.
fn key(events_schema: &str, events_table: &str) -> String {
    quote::literal(&quote::qualified(events_schema, events_table))
}

/// Adds or replaces `table`'s branch.
pub fn register(table: &TrackedTable) -> String {
    let columns: Vec<&str> = table
        .tracked_columns()
        .map(|c| c.sql_name.as_str())
        .collect();
    let pk_type = table.pk_pg_type();
    let names = TableNames {
        schema: &table.schema,
        table: &table.sql_name,
        events_schema: &table.events_schema,
        events_table: &table.events_sql_name,
        primary_key: &table.pk().sql_name,
        primary_key_type: &pk_type,
        columns: &columns,
        has_context_id: table.context.has_id(),
        has_context_json: table.context.has_json(),
    };
    let branch = view_branch(&names);
    format!(
        "INSERT INTO {} (\"events_table\", \"branch\") VALUES ({}, {}) ON CONFLICT (\"events_table\") DO UPDATE SET \"branch\" = EXCLUDED.\"branch\";\n",
        registry(),
        key(&table.events_schema, &table.events_sql_name),
        quote::literal(&branch),
    )
}

/// Deletes the branch of an events table.
pub fn unregister(events_schema: &str, events_table: &str) -> String {
    format!(
        "DELETE FROM {} WHERE \"events_table\" OPERATOR(pg_catalog.=) {};\n",
        registry(),
        key(events_schema, events_table)
    )
}

/// [`unregister`] of `table`'s events table.
pub fn unregister_table(table: &TrackedTable) -> String {
    unregister(&table.events_schema, &table.events_sql_name)
}
