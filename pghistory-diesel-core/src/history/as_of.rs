//! Time travel: which events say what an object was at a point in history, whether the
//! trackers make that knowable, and the SQL that finds them.
//!
//! An object's state after one of its events is that event's snapshot when the event is a
//! complete record of a write: an insert or update tracker that fires on every change and
//! stores the `NEW` row of every column, or a delete tracker (the object is gone). Only such
//! events are read, so conditional trackers, trackers storing `OLD` and manual events on the
//! same table never mislead the answer. [`plan`] decides whether a table has them and which
//! labels they are, or says why the answer is unknowable.
//!
//! "At" means: events are ordered by `pgh_id`, which follows write order for one object
//! (its row lock serializes writers). A time selects the events whose `pgh_created_at` —
//! the start time of the writing transaction — is at or before it, and the object's state is
//! the one after the last of those.

use super::TableNames;
use crate::quote;

/// The statement kind of a tracker, as [`plan`] needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackerKind {
    /// An `INSERT` trigger.
    Insert,
    /// An `UPDATE` trigger.
    Update,
    /// A `DELETE` trigger.
    Delete,
    /// Written from Rust.
    Manual,
}

impl TrackerKind {
    fn as_str(self) -> &'static str {
        match self {
            TrackerKind::Insert => "insert",
            TrackerKind::Update => "update",
            TrackerKind::Delete => "delete",
            TrackerKind::Manual => "manual",
        }
    }
}

/// What one tracker records, as [`plan`] needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerShape<'a> {
    /// Its `pgh_label`.
    pub label: &'a str,
    /// The statement that writes it.
    pub kind: TrackerKind,
    /// Whether it stores the `NEW` row (`false`: the `OLD` row).
    pub stores_new: bool,
    /// Whether it writes an event for every row its statement changes (no condition, or
    /// `always`, or `changed` over every snapshotted column); `false` when a condition may
    /// skip a change.
    pub every_change: bool,
}

/// Why a table's past cannot be reconstructed from its events.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unknowable {
    /// Only some columns are snapshotted (`fields(...)` or `exclude(...)`).
    FieldsSubset,
    /// No tracker of this kind: inserts (or updates, or deletes) leave no trace.
    NoTracker(TrackerKind),
    /// Every tracker of this kind has a condition that may skip a change.
    Conditional {
        /// The statement kind.
        kind: TrackerKind,
        /// A label of such a tracker.
        label: String,
    },
    /// The unconditional update trackers store the `OLD` row, not the state after the
    /// update.
    StoresOld {
        /// A label of such a tracker.
        label: String,
    },
}

impl std::fmt::Display for Unknowable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unknowable::FieldsSubset => f.write_str(
                "only some of its columns are snapshotted (fields(...) or exclude(...)), so the other columns' past is unknown",
            ),
            Unknowable::NoTracker(kind) => write!(
                f,
                "it has no {k} tracker, so its {k}s leave no event (add event({k}))",
                k = kind.as_str()
            ),
            Unknowable::Conditional { kind, label } => write!(
                f,
                "every {} tracker has a condition (`{label}`), so some changes leave no event (add an unconditional event({}))",
                kind.as_str(),
                kind.as_str()
            ),
            Unknowable::StoresOld { label } => write!(
                f,
                "its update tracker `{label}` stores the row before the update (row = old), not after it (add event(update))"
            ),
        }
    }
}

/// The labels of the events that record an object's state: complete inserts and updates,
/// and deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan<'a> {
    /// The insert tracker's label.
    pub insert: &'a str,
    /// The update tracker's label.
    pub update: &'a str,
    /// The delete tracker's label.
    pub delete: &'a str,
}

/// Whether the trackers of a table record every state of its rows, and by which labels.
///
/// ```
/// use pghistory_diesel_core::history::as_of::*;
/// let t = |label, kind, every_change| TrackerShape { label, kind, stores_new: kind != TrackerKind::Delete, every_change };
/// let trackers = [t("insert", TrackerKind::Insert, true), t("update", TrackerKind::Update, true)];
/// assert_eq!(plan(&trackers, true), Err(Unknowable::NoTracker(TrackerKind::Delete)));
/// ```
pub fn plan<'a>(trackers: &[TrackerShape<'a>], all_columns: bool) -> Result<Plan<'a>, Unknowable> {
    if !all_columns {
        return Err(Unknowable::FieldsSubset);
    }
    let pick = |kind: TrackerKind| -> Result<&'a str, Unknowable> {
        let of_kind: Vec<&TrackerShape<'a>> = trackers.iter().filter(|t| t.kind == kind).collect();
        let first = of_kind.first().ok_or(Unknowable::NoTracker(kind))?;
        // A delete only says that the object is gone, whatever row it stores.
        let wanted_new = kind != TrackerKind::Delete;
        if let Some(t) = of_kind
            .iter()
            .find(|t| t.every_change && (t.stores_new || !wanted_new))
        {
            return Ok(t.label);
        }
        match of_kind.iter().find(|t| t.every_change) {
            Some(t) => Err(Unknowable::StoresOld {
                label: t.label.to_owned(),
            }),
            None => Err(Unknowable::Conditional {
                kind,
                label: first.label.to_owned(),
            }),
        }
    };
    Ok(Plan {
        insert: pick(TrackerKind::Insert)?,
        update: pick(TrackerKind::Update)?,
        delete: pick(TrackerKind::Delete)?,
    })
}

/// What the point in history is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtKind {
    /// An event id: events with `pgh_id` at or before it.
    EventId,
    /// A time: events whose `pgh_created_at` is at or before it.
    Time,
}

/// One piece of a predicate: SQL text, or a place for a bound value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// SQL, written as is.
    Sql(String),
    /// The object's primary key, of the type of `pgh_obj_id`.
    Key,
    /// The point in history: a `bigint` event id or a `timestamptz`.
    At,
}

fn labels(plan: &Plan<'_>, with_delete: bool) -> String {
    let mut out = vec![quote::literal(plan.insert), quote::literal(plan.update)];
    if with_delete {
        out.push(quote::literal(plan.delete));
    }
    out.join(", ")
}

fn at_column(at: AtKind) -> &'static str {
    match at {
        AtKind::EventId => "\"pgh_id\"",
        AtKind::Time => "\"pgh_created_at\"",
    }
}

/// A predicate over the events table (written unaliased, as Diesel writes it) that holds
/// for the one event giving the object's state at the point in history, and for none when
/// the object did not exist then. The subquery is one backward probe of the primary key
/// index `(pgh_obj_id, pgh_id)`.
pub fn object_predicate(t: &TableNames<'_>, plan: &Plan<'_>, at: AtKind) -> Vec<Piece> {
    let events = quote::qualified(t.events_schema, t.events_table);
    vec![
        Piece::Sql(format!(
            "({events}.\"pgh_obj_id\", {events}.\"pgh_id\") IN (SELECT x.\"pgh_obj_id\", x.\"pgh_id\" FROM {events} x WHERE x.\"pgh_obj_id\" OPERATOR(pg_catalog.=) "
        )),
        Piece::Key,
        Piece::Sql(format!(
            " AND x.\"pgh_label\" IN ({}) AND x.{} OPERATOR(pg_catalog.<=) ",
            labels(plan, true),
            at_column(at)
        )),
        Piece::At,
        Piece::Sql(format!(
            " ORDER BY x.\"pgh_id\" DESC LIMIT 1) AND {events}.\"pgh_label\" OPERATOR(pg_catalog.<>) {}",
            quote::literal(plan.delete)
        )),
    ]
}

/// A predicate over the events table (unaliased) that holds for each object's event giving
/// its state at the point in history, for the objects that existed then: the whole table as
/// it was, one event per row.
pub fn table_predicate(t: &TableNames<'_>, plan: &Plan<'_>, at: AtKind) -> Vec<Piece> {
    let events = quote::qualified(t.events_schema, t.events_table);
    let col = at_column(at);
    vec![
        Piece::Sql(format!(
            "{events}.\"pgh_label\" IN ({}) AND {events}.{col} OPERATOR(pg_catalog.<=) ",
            labels(plan, false)
        )),
        Piece::At,
        Piece::Sql(format!(
            " AND NOT EXISTS (SELECT FROM {events} x WHERE x.\"pgh_obj_id\" OPERATOR(pg_catalog.=) {events}.\"pgh_obj_id\" AND x.\"pgh_id\" OPERATOR(pg_catalog.>) {events}.\"pgh_id\" AND x.\"pgh_label\" IN ({}) AND x.{col} OPERATOR(pg_catalog.<=) ",
            labels(plan, true)
        )),
        Piece::At,
        Piece::Sql(")".to_owned()),
    ]
}

/// The whole statement reading one object as of a point in history, for clients without
/// Diesel's DSL (the CLI's `show`): `$1` is the key as text, cast to `t.primary_key_type` (the
/// Postgres type of `pgh_obj_id`), `$2` the event id or time. Columns: `pgh_id`,
/// `pgh_created_at`, `pgh_label` and `pgh_data`, the whole event row as jsonb.
pub fn object_statement(t: &TableNames<'_>, plan: &Plan<'_>, at: AtKind) -> String {
    let key_type = t.primary_key_type;
    let events = quote::qualified(t.events_schema, t.events_table);
    let predicate = render(
        &object_predicate(t, plan, at),
        &format!("CAST($1::text AS {key_type})"),
        match at {
            AtKind::EventId => "$2::bigint",
            AtKind::Time => "$2::timestamptz",
        },
    );
    format!(
        "SELECT {events}.\"pgh_id\", {events}.\"pgh_created_at\", {events}.\"pgh_label\", pg_catalog.to_jsonb({events}.*) AS \"pgh_data\"\n  FROM {events}\n WHERE {predicate}"
    )
}

/// The pieces as SQL text, with `key` and `at` written for [`Piece::Key`] and [`Piece::At`]
/// (placeholders such as `$1`, never values).
pub fn render(pieces: &[Piece], key: &str, at: &str) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Sql(s) => s.as_str(),
            Piece::Key => key,
            Piece::At => at,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::posts;

    fn t(label: &str, kind: TrackerKind, stores_new: bool, every: bool) -> TrackerShape<'_> {
        TrackerShape {
            label,
            kind,
            stores_new,
            every_change: every,
        }
    }

    #[test]
    fn plan_names_the_reason() {
        use TrackerKind::*;
        let full = [
            t("ins", Insert, true, true),
            t("old", Update, false, true),
            t("upd", Update, true, true),
            t("del", Delete, false, true),
        ];
        assert_eq!(
            plan(&full, true),
            Ok(Plan {
                insert: "ins",
                update: "upd",
                delete: "del"
            })
        );
        assert_eq!(plan(&full, false), Err(Unknowable::FieldsSubset));
        assert_eq!(
            plan(&[full[0], full[1], full[3]], true),
            Err(Unknowable::StoresOld {
                label: "old".into()
            })
        );
        assert_eq!(
            plan(&[t("big", Insert, true, false), full[2], full[3]], true),
            Err(Unknowable::Conditional {
                kind: Insert,
                label: "big".into()
            })
        );
        assert_eq!(
            plan(&[full[2], full[3]], true),
            Err(Unknowable::NoTracker(Insert))
        );
    }

    #[test]
    fn predicates_bind_key_and_time() {
        let p = Plan {
            insert: "insert",
            update: "update",
            delete: "delete",
        };
        let sql = render(&object_predicate(&posts(), &p, AtKind::Time), "$1", "$2");
        assert!(sql.contains("x.\"pgh_obj_id\" OPERATOR(pg_catalog.=) $1 AND x.\"pgh_label\" IN ('insert', 'update', 'delete') AND x.\"pgh_created_at\" OPERATOR(pg_catalog.<=) $2"));
        let sql = render(&table_predicate(&posts(), &p, AtKind::EventId), "", "$1");
        assert_eq!(sql.matches("$1").count(), 2);
    }
}
