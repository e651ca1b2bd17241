//! Reading history across tables: the unified event query (with per-event data and diffs)
//! and the revert statement. The runtime binds the values; only names are written here.

mod revert;
mod timeline;

pub use revert::revert;
pub use timeline::{params, timeline, view_branch, Branch, Filters};

use crate::quote;
use crate::vocab;

/// What the history queries need to know of one tracked table.
#[derive(Clone, Copy, Debug)]
pub struct TableNames<'a> {
    /// Schema of the tracked table.
    pub schema: &'a str,
    /// SQL name of the tracked table.
    pub table: &'a str,
    /// Schema of the events table.
    pub events_schema: &'a str,
    /// SQL name of the events table.
    pub events_table: &'a str,
    /// SQL name of the primary key column.
    pub primary_key: &'a str,
    /// SQL type of the primary key (and of `pgh_obj_id`), like `integer`: the object filter
    /// casts the key to it so the events table's primary key index is used.
    pub primary_key_type: &'a str,
    /// SQL names of the snapshotted columns.
    pub columns: &'a [&'a str],
    /// Whether events carry `pgh_context_id`.
    pub has_context_id: bool,
    /// Whether events carry the `pgh_context` jsonb copy.
    pub has_context_json: bool,
}

/// `ARRAY['pgh_id', ...]::text[]`: our columns, removed from a row's JSON to leave its data.
pub(crate) fn pgh_columns_array() -> String {
    let names: Vec<String> = vocab::pgh_column_names().map(quote::literal).collect();
    format!("ARRAY[{}]::text[]", names.join(", "))
}

/// The key a table is reported under in `pgh_table`: `schema.table`.
pub fn table_key(t: &TableNames<'_>) -> String {
    format!("{}.{}", t.schema, t.table)
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::TableNames;

    pub(crate) fn posts() -> TableNames<'static> {
        TableNames {
            schema: "public",
            table: "posts",
            events_schema: "public",
            events_table: "posts_events",
            primary_key: "id",
            primary_key_type: "integer",
            columns: &["id", "title"],
            has_context_id: true,
            has_context_json: false,
        }
    }
}
