//! The unified timeline: one branch per events table, in one `UNION ALL`.

use super::{pgh_columns_array, table_key, TableNames};
use crate::quote;
use crate::vocab;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::posts;

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
}
