//! Restoring a tracked row from one of its events.

use super::TableNames;
use crate::quote;

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
    use crate::history::fixtures::posts;

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
