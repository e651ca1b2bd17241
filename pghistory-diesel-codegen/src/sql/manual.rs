//! Manual events: the statement `pghistory_diesel::create_event` runs to snapshot a row's
//! current state under a label, in the current context.
//!
//! The macro embeds it in the table's `TableInfo`; the runtime binds `$1` (the label, text)
//! and `$2` (the primary key, with the table's key type). It returns the new event's
//! `pgh_id`, or no row when no row has that key.

use super::{event_table, names, quote, trigger};
use crate::model::TrackedTable;

/// `INSERT INTO <events> (...) SELECT $1, <pk>, <context>, <columns> FROM <table> WHERE
/// <pk> = $2 RETURNING "pgh_id"`.
///
/// Context is read from the same settings the triggers read, at the time of the statement.
/// The pause setting does not apply: a manual event is an explicit request.
pub fn insert_event(table: &TrackedTable) -> String {
    let columns: Vec<String> = trigger::insert_columns(table)
        .iter()
        .map(|c| quote::ident(c))
        .collect();
    let pk = quote::ident(&table.pk().sql_name);
    let mut values = vec!["$1".to_owned(), pk.clone()];
    if table.context.has_id() {
        values.push(format!(
            "NULLIF(pg_catalog.current_setting({}, true), '')::uuid",
            quote::literal(names::CONTEXT_ID_SETTING)
        ));
    }
    if table.context.has_json() {
        values.push(format!(
            "NULLIF(pg_catalog.current_setting({}, true), '')::jsonb",
            quote::literal(names::CONTEXT_METADATA_SETTING)
        ));
    }
    values.extend(table.tracked_columns().map(|c| quote::ident(&c.sql_name)));
    format!(
        "INSERT INTO {events} ({columns}) SELECT {values} FROM {tracked} WHERE {pk} OPERATOR(pg_catalog.=) $2 RETURNING \"pgh_id\"",
        events = event_table::events_name(table),
        columns = columns.join(", "),
        values = values.join(", "),
        tracked = event_table::tracked_name(table),
        pk = pk,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(body: proc_macro2::TokenStream) -> TrackedTable {
        crate::table_from_tokens(body).expect("valid table")
    }

    #[test]
    fn manual_event_binds_label_and_key_and_reads_context() {
        let t = table(::quote::quote! {
            #[pghistory(events(insert), event(manual, label = "archived"))]
            #[sql_name = "order"]
            orders (id) { id -> Int4, #[sql_name = "user"] user_name -> Text, }
        });
        assert_eq!(
            insert_event(&t),
            "INSERT INTO \"public\".\"order_events\" (\"pgh_label\", \"pgh_obj_id\", \"pgh_context_id\", \"id\", \"user\") \
             SELECT $1, \"id\", NULLIF(pg_catalog.current_setting('pghistory.context_id', true), '')::uuid, \"id\", \"user\" \
             FROM \"public\".\"order\" WHERE \"id\" OPERATOR(pg_catalog.=) $2 RETURNING \"pgh_id\""
        );
    }

    #[test]
    fn manual_event_without_context_columns_reads_no_setting() {
        let t = table(::quote::quote! {
            #[pghistory(events(insert), context = none, fields(name))]
            tags (id) { id -> Int4, name -> Text, }
        });
        let sql = insert_event(&t);
        assert!(!sql.contains("current_setting"), "{sql}");
        assert!(
            sql.contains("(\"pgh_label\", \"pgh_obj_id\", \"name\")"),
            "{sql}"
        );
    }
}
