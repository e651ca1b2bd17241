//! Typed diffs: the columns that changed between two events of a table.

use diesel::prelude::*;

use super::as_of::EventsFilter;
use crate::{Result, Tracked};
use pghistory_diesel_core::history::as_of::Piece;
use pghistory_diesel_core::quote;

/// A column type that typed diffs can compare: every `PartialEq` type.
#[diagnostic::on_unimplemented(
    message = "typed diffs compare every snapshotted column, but `{Self}` does not implement `PartialEq`",
    label = "this column's Rust type has no `PartialEq`",
    note = "derive or implement `PartialEq` for `{Self}`, or leave the column out of the snapshot with #[pghistory(exclude(...))]"
)]
pub trait Comparable {
    /// `self != other`.
    fn differs(&self, other: &Self) -> bool;
}

impl<T: PartialEq + ?Sized> Comparable for T {
    fn differs(&self, other: &Self) -> bool {
        self != other
    }
}

/// One changed column of a typed diff (the generated `...Change` enums).
pub trait ColumnChange {
    /// The column's SQL name.
    fn column(&self) -> &'static str;
}

/// A table's event struct, which can list the columns that changed since another event.
///
/// `tracked_table!` generates, beside the event struct `PostsEvent`, an enum
/// `PostsEventChange` with one variant per snapshotted column, each holding `before` and
/// `after`, and implements [`Diff`] for the struct. Every snapshotted column's Rust type
/// must implement `PartialEq` (a type without it is a compile error naming
/// [`Comparable`]); compare `pgh_data` JSON instead, or exclude the column, for types that
/// cannot.
///
/// ```
/// pghistory_diesel::tracked_table! {
///     posts (id) { id -> Int4, title -> Text, score -> Int4, }
/// }
/// use pghistory_diesel::history::{ColumnChange, Diff};
///
/// # fn event(pgh_id: i64, title: &str, score: i32) -> PostsEvent {
/// #     PostsEvent { pgh_id, pgh_created_at: chrono::Utc::now(), pgh_obj_id: 7, pgh_context_id: None,
/// #         pgh_label: "update".into(), id: 7, title: title.into(), score }
/// # }
/// let (first, second) = (event(1, "Hello", 1), event(2, "Hello, world", 1));
/// let changes = second.changes_from(&first);
/// assert_eq!(
///     changes,
///     vec![PostsEventChange::Title { before: "Hello".into(), after: "Hello, world".into() }]
/// );
/// assert_eq!(changes[0].column(), "title");
/// # fn main() {}
/// ```
pub trait Diff {
    /// The generated enum of one column's change.
    type Change: ColumnChange + std::fmt::Debug + Clone + PartialEq;

    /// The snapshotted columns whose values differ between `earlier` and `self`, in table
    /// order, each with its value in `earlier` (`before`) and in `self` (`after`).
    fn changes_from(&self, earlier: &Self) -> Vec<Self::Change>;

    /// The event's `pgh_id`.
    fn event_id(&self) -> i64;
}

/// One event of an object with its typed changes against the object's previous event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventChanges<E: Diff> {
    /// The event.
    pub event: E,
    /// What changed since the previous event of the same object; empty for its first event.
    pub changes: Vec<E::Change>,
}

fn object_filter<T: Tracked>(key: T::Key) -> EventsFilter {
    let events = quote::qualified(T::INFO.events_schema, T::INFO.events_table);
    EventsFilter::from_pieces(
        vec![
            Piece::Sql(format!("{events}.\"pgh_obj_id\" OPERATOR(pg_catalog.=) ")),
            Piece::Key,
        ],
        Some(T::bind_key(key)),
        None,
    )
}

fn pair<E: Diff>(mut events: Vec<E>) -> Vec<EventChanges<E>> {
    events.sort_by_key(Diff::event_id);
    let mut out: Vec<EventChanges<E>> = Vec::with_capacity(events.len());
    for event in events {
        let changes = match out.last() {
            Some(prev) => event.changes_from(&prev.event),
            None => Vec::new(),
        };
        out.push(EventChanges { event, changes });
    }
    out
}

/// Every event of the row of table `T` with primary key `key`, oldest first, each with
/// its typed changes against the previous one (whatever its tracker: with several trackers
/// per statement, consecutive events may show no change). Loads the object's events into
/// memory (one index range of the events table).
///
/// ```no_run
/// # mod schema {
/// # pghistory_diesel::tracked_table! { posts (id) { id -> Int4, title -> Text, } }
/// # }
/// # use schema::*;
/// # fn run(conn: &mut diesel::PgConnection) -> pghistory_diesel::Result<()> {
/// use pghistory_diesel::history::{changes, ColumnChange};
///
/// for step in changes::<posts::table>(conn, 7)? {
///     let columns: Vec<&str> = step.changes.iter().map(|c| c.column()).collect();
///     println!("{} {}: {}", step.event.pgh_id, step.event.pgh_label, columns.join(", "));
/// }
/// # Ok(()) }
/// ```
pub fn changes<T: Tracked>(
    conn: &mut PgConnection,
    key: impl Into<T::Key>,
) -> Result<Vec<EventChanges<T::Event>>> {
    let rows = T::events_where(object_filter::<T>(key.into())).get_results::<T::Event>(conn)?;
    Ok(pair(rows))
}

/// [`changes`] on an async connection.
#[cfg(feature = "async")]
pub async fn changes_async<T: Tracked>(
    conn: &mut diesel_async::AsyncPgConnection,
    key: impl Into<T::Key>,
) -> Result<Vec<EventChanges<T::Event>>>
where
    T::EventsQuery:
        for<'a> diesel_async::methods::LoadQuery<'a, diesel_async::AsyncPgConnection, T::Event>,
    T::Event: Send,
{
    let query = T::events_where(object_filter::<T>(key.into()));
    let rows: Vec<T::Event> = diesel_async::RunQueryDsl::get_results(query, conn).await?;
    Ok(pair(rows))
}
