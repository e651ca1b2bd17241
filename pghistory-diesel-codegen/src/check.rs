//! Rules that span several options or columns, run once the model is built.

use crate::ctxt::Ctxt;
use crate::model::TrackedTable;

/// Records every cross-field mistake of `table` in `cx`.
pub fn check(cx: &Ctxt, table: &TrackedTable) {
    if table.events_sql_name == table.sql_name && table.events_schema == table.schema {
        cx.error_spanned_by(
            &table.events_rust_name,
            "the events table cannot have the tracked table's own name",
        );
    }
    if let Some(col) = table
        .columns
        .iter()
        .find(|c| c.rust_name == table.events_rust_name)
    {
        cx.error_spanned_by(
            &col.rust_name,
            format!(
                "a column may not share the events table's name `{}`\nhelp: set another with #[pghistory(table_name = ...)]",
                table.events_rust_name
            ),
        );
    }
    if table.model_name == table.rust_name || table.model_name == table.events_rust_name {
        cx.error_spanned_by(&table.model_name, "the model struct needs a name of its own");
    }
}
