//! Reading history across tables: the unified event query (with per-event data and diffs)
//! and the revert statement. The runtime binds the values; only names are written here.

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
    /// SQL names of the snapshotted columns.
    pub columns: &'a [&'a str],
    /// Whether events carry `pgh_context_id`.
    pub has_context_id: bool,
    /// Whether events carry the `pgh_context` jsonb copy.
    pub has_context_json: bool,
}

/// `ARRAY['pgh_id', ...]::text[]`: our columns, removed from a row's JSON to leave its data.
fn pgh_columns_array() -> String {
    let names: Vec<String> = vocab::pgh_column_names().map(quote::literal).collect();
    format!("ARRAY[{}]::text[]", names.join(", "))
}

/// The key a table is reported under in `pgh_table`: `schema.table`.
pub fn table_key(t: &TableNames<'_>) -> String {
    format!("{}.{}", t.schema, t.table)
}

fn branch(t: &TableNames<'_>) -> String {
    let events = quote::qualified(t.events_schema, t.events_table);
    let context_join = if t.has_context_id {
        format!(
            "\n    LEFT JOIN {} c ON c.\"id\" OPERATOR(pg_catalog.=) e.\"pgh_context_id\"",
            quote::qualified(vocab::SETUP_SCHEMA, vocab::CONTEXT_TABLE)
        )
    } else {
        String::new()
    };
    let (context_id, context, scope_filter) = match (t.has_context_id, t.has_context_json) {
        (true, true) => (
            "e.\"pgh_context_id\"",
            "e.\"pgh_context\"",
            "c.\"scope_id\" OPERATOR(pg_catalog.=) $2",
        ),
        (true, false) => (
            "e.\"pgh_context_id\"",
            "c.\"metadata\"",
            "c.\"scope_id\" OPERATOR(pg_catalog.=) $2",
        ),
        _ => ("NULL::uuid", "NULL::jsonb", "false"),
    };
    format!(
        r#"SELECT {key}::text AS "pgh_table", e."pgh_id", e."pgh_created_at", e."pgh_label",
           e."pgh_obj_id"::text AS "pgh_obj_id", {context_id} AS "pgh_context_id", {context} AS "pgh_context",
           pg_catalog.to_jsonb(e) OPERATOR(pg_catalog.-) {pgh} AS "pgh_data",
           (SELECT pg_catalog.jsonb_object_agg(d.key, pg_catalog.jsonb_build_array(p.data OPERATOR(pg_catalog.->) d.key, d.value))
              FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(e) OPERATOR(pg_catalog.-) {pgh}) AS d(key, value)
             WHERE p.data IS NOT NULL AND (p.data OPERATOR(pg_catalog.->) d.key) IS DISTINCT FROM d.value) AS "pgh_diff"
    FROM {events} e
    LEFT JOIN LATERAL (
        SELECT pg_catalog.to_jsonb(prev) OPERATOR(pg_catalog.-) {pgh} AS data
          FROM {events} prev
         WHERE prev."pgh_obj_id" OPERATOR(pg_catalog.=) e."pgh_obj_id" AND prev."pgh_id" OPERATOR(pg_catalog.<) e."pgh_id"
         ORDER BY prev."pgh_id" DESC LIMIT 1) p ON true{context_join}
    WHERE ($1::text IS NULL OR e."pgh_obj_id"::text OPERATOR(pg_catalog.=) $1::text)
      AND ($2::uuid IS NULL OR {scope_filter})
      AND ($3::text IS NULL OR e."pgh_label" OPERATOR(pg_catalog.=) $3::text)"#,
        key = quote::literal(&table_key(t)),
        pgh = pgh_columns_array(),
    )
}

/// The unified history of `tables`, oldest first, with three parameters, each NULL for "any":
/// `$1` the object's primary key as text, `$2` a context scope id, `$3` a label.
///
/// Columns: `pgh_table`, `pgh_id`, `pgh_created_at`, `pgh_label`, `pgh_obj_id` (text),
/// `pgh_context_id`, `pgh_context` (metadata), `pgh_data` (the snapshot as JSON, keyed by
/// column name) and `pgh_diff` (`{column: [before, after]}` against the previous event of the
/// same object in the same table; NULL for the first event or when nothing changed).
pub fn unified(tables: &[TableNames<'_>]) -> String {
    let branches: Vec<String> = tables.iter().map(branch).collect();
    format!(
        "SELECT * FROM (\n    {}\n) AS h\nORDER BY h.\"pgh_created_at\", h.\"pgh_table\", h.\"pgh_id\"",
        branches.join("\n    UNION ALL\n    ")
    )
}

/// Restores the tracked row from the event `$1` (its `pgh_id`): updates the row, or inserts
/// it again when it was deleted. `None` when the primary key is not snapshotted.
pub fn revert(t: &TableNames<'_>) -> Option<String> {
    if !t.columns.contains(&t.primary_key) {
        return None;
    }
    let cols: Vec<String> = t.columns.iter().map(|c| quote::ident(c)).collect();
    let from_event: Vec<String> = t
        .columns
        .iter()
        .map(|c| format!("e.{}", quote::ident(c)))
        .collect();
    let rest: Vec<&&str> = t.columns.iter().filter(|c| **c != t.primary_key).collect();
    let on_conflict = if rest.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        let set: Vec<String> = rest.iter().map(|c| quote::ident(c)).collect();
        let excluded: Vec<String> = rest
            .iter()
            .map(|c| format!("EXCLUDED.{}", quote::ident(c)))
            .collect();
        format!(
            "DO UPDATE SET ({}) = ROW({})",
            set.join(", "),
            excluded.join(", ")
        )
    };
    Some(format!(
        "INSERT INTO {table} ({cols}) OVERRIDING SYSTEM VALUE\nSELECT {from_event} FROM {events} e WHERE e.\"pgh_id\" OPERATOR(pg_catalog.=) $1\nON CONFLICT ({pk}) {on_conflict}",
        table = quote::qualified(t.schema, t.table),
        cols = cols.join(", "),
        from_event = from_event.join(", "),
        events = quote::qualified(t.events_schema, t.events_table),
        pk = quote::ident(t.primary_key),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posts() -> TableNames<'static> {
        TableNames {
            schema: "public",
            table: "posts",
            events_schema: "public",
            events_table: "posts_events",
            primary_key: "id",
            columns: &["id", "title"],
            has_context_id: true,
            has_context_json: false,
        }
    }

    #[test]
    fn unified_query_unions_one_branch_per_table() {
        let mut other = posts();
        other.table = "we\"ird";
        other.events_table = "we\"ird_events";
        let sql = unified(&[posts(), other]);
        assert_eq!(sql.matches("UNION ALL").count(), 1);
        assert!(sql.contains("\"public\".\"we\"\"ird_events\""));
        assert!(sql.contains("'public.we\"ird'::text"));
    }

    #[test]
    fn revert_upserts_every_snapshotted_column() {
        let sql = revert(&posts()).unwrap();
        assert!(sql
            .contains("ON CONFLICT (\"id\") DO UPDATE SET (\"title\") = ROW(EXCLUDED.\"title\")"));
        let mut no_pk = posts();
        no_pk.columns = &["title"];
        assert!(revert(&no_pk).is_none());
    }
}
