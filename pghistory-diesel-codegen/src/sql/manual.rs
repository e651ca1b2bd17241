//! Manual events: the function `pghistory_diesel::create_event` calls to snapshot a row's
//! current state under a label, in the current context.
//!
//! Every tracked table gets a `SECURITY DEFINER` function `pghistory_<table>_event(label,
//! key)`, owned by the history owner like the trigger functions, so an application role
//! without any privilege on the events table can write manual events, and only true
//! ones: the snapshot is read from the tracked table by the function, and the label must
//! be one the table declares (checked again in SQL, after the runtime's own check). The
//! function is executable by `PUBLIC`, as the triggers are in effect: what it writes is
//! what a trigger would have written.
//!
//! The macro embeds the call in the table's `TableInfo`; the runtime binds `$1` (the
//! label, text) and `$2` (the primary key, with the table's key type). It returns the new
//! event's `pgh_id`, or NULL when no row has that key.

use super::{event_table, function, names, quote, trigger};
use crate::model::TrackedTable;
use pghistory_diesel_core::vocab::DOLLAR_TAG;

/// `"schema"."pghistory_<table>_event"(text, <key type>)`: the function's signature, as
/// `ALTER FUNCTION` and `DROP FUNCTION` name it.
pub fn function_signature(table: &TrackedTable) -> String {
    format!(
        "{}(text, {})",
        quote::qualified(&table.schema, &names::event_function(table)),
        table.pk_pg_type()
    )
}

/// The statement the runtime runs: `SELECT <function>($1, $2) AS "pgh_id"`.
pub fn insert_event(table: &TrackedTable) -> String {
    format!(
        "SELECT {}($1, $2) AS \"pgh_id\"",
        quote::qualified(&table.schema, &names::event_function(table))
    )
}

/// `CREATE FUNCTION` of the manual-event function.
///
/// Context is read from the same settings the triggers read, at the time of the call.
/// The pause setting does not apply: a manual event is an explicit request.
pub fn function(table: &TrackedTable) -> String {
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
    let mut labels: Vec<String> = Vec::new();
    for tracker in &table.trackers {
        let label = quote::literal(&tracker.label);
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    let signature = format!(
        "{}(p_label text, p_key {})",
        quote::qualified(&table.schema, &names::event_function(table)),
        table.pk_pg_type()
    );
    format!(
        r#"{head}#variable_conflict use_column
DECLARE
    pgh_result bigint;
BEGIN
    IF $1 IS NULL OR NOT ($1 OPERATOR(pg_catalog.=) ANY (ARRAY[{labels}]::pg_catalog.text[])) THEN
        RAISE EXCEPTION 'pghistory-diesel: % declares no event label %', {tracked_lit}, $1
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO {events} ({columns})
    SELECT {values} FROM {tracked} WHERE {pk} OPERATOR(pg_catalog.=) $2
    RETURNING "pgh_id" INTO pgh_result;
    RETURN pgh_result;
END
{DOLLAR_TAG};
"#,
        head = function::header(&signature, "bigint", &[]),
        labels = labels.join(", "),
        tracked_lit = quote::literal(&event_table::tracked_name(table)),
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
            "SELECT \"public\".\"pghistory_order_event\"($1, $2) AS \"pgh_id\""
        );
        let f = function(&t);
        assert!(f.contains("SECURITY DEFINER"), "{f}");
        assert!(
            f.contains("INSERT INTO \"public\".\"order_events\" (\"pgh_label\", \"pgh_obj_id\", \"pgh_context_id\", \"id\", \"user\")\n    \
             SELECT $1, \"id\", NULLIF(pg_catalog.current_setting('pghistory.context_id', true), '')::uuid, \"id\", \"user\" \
             FROM \"public\".\"order\" WHERE \"id\" OPERATOR(pg_catalog.=) $2"),
            "{f}"
        );
        assert!(f.contains("ARRAY['insert', 'archived']"), "{f}");
        assert_eq!(
            function_signature(&t),
            "\"public\".\"pghistory_order_event\"(text, integer)"
        );
    }

    #[test]
    fn manual_event_without_context_columns_reads_no_setting() {
        let t = table(::quote::quote! {
            #[pghistory(events(insert), context = none, fields(name))]
            tags (id) { id -> Int4, name -> Text, }
        });
        let sql = function(&t);
        assert!(!sql.contains("current_setting"), "{sql}");
        assert!(
            sql.contains("(\"pgh_label\", \"pgh_obj_id\", \"name\")"),
            "{sql}"
        );
    }
}
