//! The diff: the installed state (read from the ledger) against the tables schema.rs
//! declares, as a list of steps. Pure data: no SQL text is written here.

use std::collections::{BTreeMap, BTreeSet};

use super::ledger::{type_key, Installed};
use super::{Change, ChangeKind};
use crate::model::TrackedTable;
use crate::sql::{event_table, quote, trigger};

/// One thing a migration does to one table.
pub(super) enum Step<'a> {
    /// Track a table with no events table yet: create it and the triggers.
    Install(&'a TrackedTable),
    /// Replace the triggers of a table tracked before (or tracked once and since
    /// untracked, whose events table was kept), adjusting its events table.
    Upgrade(Upgrade<'a>),
    /// Stop tracking a table schema.rs no longer declares; its events table is kept.
    Remove(&'a Installed),
}

/// What changes for a table tracked before.
pub(super) struct Upgrade<'a> {
    /// The table as declared now.
    pub table: &'a TrackedTable,
    /// What the migrations installed for it.
    pub old: &'a Installed,
    /// Whether the trigger SQL differs from the installed one.
    pub triggers_changed: bool,
    /// Whether the events table keeps its schema and name; if not, a new one is created.
    pub same_events: bool,
    /// Snapshot columns tracked now and not before.
    pub added: Vec<String>,
    /// Snapshot columns tracked before and not now (their history is kept).
    pub removed: Vec<String>,
    /// Snapshot columns whose declared type or nullability changed.
    pub retyped: Vec<String>,
    /// Context columns the new context mode writes and the old triggers did not.
    pub context_added: Vec<String>,
    /// Read indexes the events table lacks (all of them for migrations written before
    /// the ledger recorded indexes).
    pub indexes_added: Vec<String>,
    /// Read indexes the events table has and no longer wants (a kind an earlier version
    /// made and a later one replaced).
    pub indexes_removed: Vec<String>,
}

impl Step<'_> {
    /// The `(schema, table)` of the tracked table this step is about.
    pub fn key(&self) -> (&str, &str) {
        match self {
            Step::Install(table) | Step::Upgrade(Upgrade { table, .. }) => {
                (&table.schema, &table.sql_name)
            }
            Step::Remove(old) => (&old.schema, &old.table),
        }
    }

    /// The step as the CLI reports it.
    pub fn change(&self) -> Change {
        let (schema, table) = self.key();
        let kind = match self {
            Step::Install(table) => ChangeKind::Track {
                events_schema: table.events_schema.clone(),
                events_table: table.events_sql_name.clone(),
                events_kept: false,
            },
            // Tracked once, untracked since: its events table was kept.
            Step::Upgrade(up) if up.old.fingerprint.is_empty() => ChangeKind::Track {
                events_schema: up.table.events_schema.clone(),
                events_table: up.table.events_sql_name.clone(),
                events_kept: up.same_events,
            },
            Step::Upgrade(up) => ChangeKind::Update {
                triggers: up.triggers_changed,
                added: up.added.clone(),
                removed: up.removed.clone(),
                retyped: up.retyped.clone(),
                events_moved: !up.same_events,
                indexes: up.indexes_added.clone(),
                indexes_dropped: up.indexes_removed.clone(),
            },
            Step::Remove(old) => ChangeKind::Untrack {
                events_schema: old.events_schema.clone(),
                events_table: old.events_table.clone(),
            },
        };
        Change {
            schema: schema.to_owned(),
            table: table.to_owned(),
            kind,
        }
    }
}

/// The steps that bring `state` to `tables`: tables in declaration order, then the
/// removed ones in key order. Empty when nothing changed.
pub(super) fn diff<'a>(
    tables: &'a [TrackedTable],
    state: &'a BTreeMap<(String, String), Installed>,
) -> Vec<Step<'a>> {
    let mut steps = Vec::new();
    let mut wanted = BTreeSet::new();
    for table in tables {
        let key = (table.schema.clone(), table.sql_name.clone());
        let old = state.get(&key);
        wanted.insert(key);
        match old {
            None => steps.push(Step::Install(table)),
            Some(old) => steps.extend(upgrade(table, old).map(Step::Upgrade)),
        }
    }
    for (key, old) in state {
        if wanted.contains(key) || old.fingerprint.is_empty() {
            continue;
        }
        steps.push(Step::Remove(old));
    }
    steps
}

/// What changed for a table installed before, or `None` when nothing did.
fn upgrade<'a>(table: &'a TrackedTable, old: &'a Installed) -> Option<Upgrade<'a>> {
    let new_columns: Vec<String> = table
        .tracked_columns()
        .map(|c| c.sql_name.clone())
        .collect();
    let same_events =
        old.events_schema == table.events_schema && old.events_table == table.events_sql_name;
    // Columns whose declared type (or nullability) changed; unknown, and so taken as
    // unchanged, for migrations written before types were recorded.
    let retyped: Vec<String> = if old.types.len() == old.columns.len() {
        table
            .tracked_columns()
            .filter(|c| {
                old.columns
                    .iter()
                    .position(|o| *o == c.sql_name)
                    .is_some_and(|i| old.types[i] != type_key(c))
            })
            .map(|c| c.sql_name.clone())
            .collect()
    } else {
        Vec::new()
    };
    let triggers_changed = old.fingerprint != trigger::fingerprint(table);
    let wanted = event_table::wanted_indexes(table);
    let (indexes_added, indexes_removed): (Vec<String>, Vec<String>) = if same_events {
        (
            wanted
                .iter()
                .filter(|i| !old.indexes.iter().any(|o| o == *i))
                .map(|i| (*i).to_owned())
                .collect(),
            old.indexes
                .iter()
                .filter(|o| !wanted.contains(&o.as_str()))
                .cloned()
                .collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    if !triggers_changed
        && old.columns == new_columns
        && same_events
        && retyped.is_empty()
        && indexes_added.is_empty()
        && indexes_removed.is_empty()
    {
        return None;
    }
    let added: Vec<String> = new_columns
        .iter()
        .filter(|c| !old.columns.contains(c))
        .cloned()
        .collect();
    let removed: Vec<String> = old
        .columns
        .iter()
        .filter(|c| !new_columns.contains(c))
        .cloned()
        .collect();
    // The context columns the new mode writes and the old triggers did not (the mode
    // changed); with no old triggers to tell, possibly missing ones.
    let context_added: Vec<String> = [
        ("pgh_context_id", table.context.has_id()),
        ("pgh_context", table.context.has_json()),
    ]
    .into_iter()
    .filter(|(col, needed)| *needed && !old.trigger_sql.contains(&quote::ident(col)))
    .map(|(col, _)| col.to_owned())
    .collect();
    Some(Upgrade {
        table,
        old,
        triggers_changed,
        same_events,
        added,
        removed,
        retyped,
        context_added,
        indexes_added,
        indexes_removed,
    })
}
