//! Restoring a tracked row from one of its events, and undoing a whole context scope.

use super::as_of::Plan;
use super::TableNames;
use crate::quote;
use crate::vocab;

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

/// Deletes the tracked row whose key event `$1` (its `pgh_id`) stored. `None` when the
/// primary key is not snapshotted.
pub fn delete_from_event(t: &TableNames<'_>) -> Option<String> {
    if !t.columns.contains(&t.primary_key) {
        return None;
    }
    let pk = quote::ident(t.primary_key);
    Some(format!(
        "DELETE FROM {table} WHERE {pk} OPERATOR(pg_catalog.=) (SELECT e.{pk} FROM {events} e WHERE e.\"pgh_id\" OPERATOR(pg_catalog.=) $1)",
        table = quote::qualified(t.schema, t.table),
        events = quote::qualified(t.events_schema, t.events_table),
    ))
}

/// What one context scope (`$1`, a `scope_id`) did to each object of a table, one row per
/// object, most recently changed first. Only the events of `plan` (complete inserts,
/// updates, and deletes) are read. Columns:
///
/// - `pgh_obj_id` (text), `first_id` and `last_id`: the scope's first and last event of it;
/// - `last_label`: the label of `last_id` (the delete label: the scope left it deleted);
/// - `prior_id`, `prior_label`: the object's last event before the scope (NULL: none);
/// - `conflict_id`: the first event of the object after `first_id` written outside the
///   scope (NULL: none), which makes undoing the scope overwrite someone else's change.
///
/// `None` when the events carry no context id, so no event can be tied to a scope.
pub fn scope_changes(t: &TableNames<'_>, plan: &Plan<'_>) -> Option<String> {
    if !t.has_context_id {
        return None;
    }
    let events = quote::qualified(t.events_schema, t.events_table);
    let context = quote::qualified(vocab::SETUP_SCHEMA, vocab::CONTEXT_TABLE);
    let labels = [plan.insert, plan.update, plan.delete]
        .map(quote::literal)
        .join(", ");
    Some(format!(
        r#"WITH s AS (
    SELECT e."pgh_obj_id", pg_catalog.min(e."pgh_id") AS first_id, pg_catalog.max(e."pgh_id") AS last_id
      FROM {events} e JOIN {context} c ON c."id" OPERATOR(pg_catalog.=) e."pgh_context_id"
     WHERE c."scope_id" OPERATOR(pg_catalog.=) $1 AND e."pgh_label" IN ({labels})
     GROUP BY e."pgh_obj_id")
SELECT s."pgh_obj_id"::text AS "pgh_obj_id", s.first_id, s.last_id,
       (SELECT l."pgh_label" FROM {events} l
         WHERE l."pgh_obj_id" OPERATOR(pg_catalog.=) s."pgh_obj_id" AND l."pgh_id" OPERATOR(pg_catalog.=) s.last_id) AS last_label,
       p."pgh_id" AS prior_id, p."pgh_label" AS prior_label,
       (SELECT x."pgh_id" FROM {events} x LEFT JOIN {context} xc ON xc."id" OPERATOR(pg_catalog.=) x."pgh_context_id"
         WHERE x."pgh_obj_id" OPERATOR(pg_catalog.=) s."pgh_obj_id" AND x."pgh_id" OPERATOR(pg_catalog.>) s.first_id
           AND x."pgh_label" IN ({labels}) AND xc."scope_id" IS DISTINCT FROM $1
         ORDER BY x."pgh_id" LIMIT 1) AS conflict_id
  FROM s
  LEFT JOIN LATERAL (
    SELECT pr."pgh_id", pr."pgh_label" FROM {events} pr
     WHERE pr."pgh_obj_id" OPERATOR(pg_catalog.=) s."pgh_obj_id" AND pr."pgh_id" OPERATOR(pg_catalog.<) s.first_id
       AND pr."pgh_label" IN ({labels})
     ORDER BY pr."pgh_id" DESC LIMIT 1) p ON true
 ORDER BY s.last_id DESC"#
    ))
}

/// The foreign keys among `relations` (quoted, schema-qualified names), as pairs
/// `(referencing, referenced)` of the same spellings; `$1` is the array of names. Undoing
/// a scope deletes referencing rows before referenced ones and restores in the other order.
pub fn foreign_keys() -> &'static str {
    "SELECT r.name AS child, f.name AS parent
       FROM pg_catalog.pg_constraint k
       JOIN pg_catalog.unnest($1::text[]) AS r(name) ON k.conrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(r.name)
       JOIN pg_catalog.unnest($1::text[]) AS f(name) ON k.confrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(f.name)
      WHERE k.contype OPERATOR(pg_catalog.=) 'f' AND r.name OPERATOR(pg_catalog.<>) f.name"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::posts;

    #[test]
    fn revert_upserts_every_snapshotted_column() {
        let sql = revert(&posts()).unwrap();
        assert!(sql
            .contains("ON CONFLICT (\"id\") DO UPDATE SET (\"title\") = ROW(EXCLUDED.\"title\")"));
        let mut no_pk = posts();
        no_pk.columns = &["title"];
        assert!(revert(&no_pk).is_none());
        assert!(delete_from_event(&no_pk).is_none());
    }

    #[test]
    fn scope_changes_read_only_the_plans_labels() {
        let plan = Plan {
            insert: "ins",
            update: "upd",
            delete: "del",
        };
        let sql = scope_changes(&posts(), &plan).unwrap();
        assert_eq!(sql.matches("IN ('ins', 'upd', 'del')").count(), 3);
        let mut no_context = posts();
        no_context.has_context_id = false;
        assert!(scope_changes(&no_context, &plan).is_none());
    }
}
