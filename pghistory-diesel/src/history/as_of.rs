//! Time travel: a row, or a whole table, as it was at a time or an event.

use diesel::expression::{
    is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping,
};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Timestamptz};
use pghistory_diesel_core::history::as_of::{
    self as sql, AtKind, Piece, TrackerKind, TrackerShape,
};

use super::names;
use crate::{Error, Operation, Result, TableInfo, Tracked};

/// A point in history: a time, or an event id (`pgh_id`).
///
/// # What "at" means
///
/// The events of one object are ordered by `pgh_id`, which follows the order of its writes
/// (the row's lock serializes writers). [`At::Event`] selects the events up to and including
/// that `pgh_id`. [`At::Time`] selects the events whose `pgh_created_at` is at or before the
/// time; `pgh_created_at` is the start time of the writing transaction (`now()`), not its
/// commit time, so a transaction that began before the time and committed after it counts
/// as before it. The state is the snapshot of the last selected event, or nothing when that
/// event is a delete or there is none.
///
/// # When the answer is unknowable
///
/// Only tables whose trackers record every state can be read this way: every column
/// snapshotted, an insert and an update tracker without a condition that store the `NEW`
/// row, and a delete tracker. Anything else is [`Error::NotReconstructible`], with the
/// reason. Other trackers (conditional ones, `row = old`, manual events) may be declared
/// beside those: their events are not read.
///
/// Caveats the trackers cannot show: changes made while tracking was
/// [paused](mod@crate::pause) or before the tracking migration ran, and events removed by
/// [`prune`](crate::prune), are not in the history, so states before or during them are
/// not known (a row that existed before tracking began reads as absent until its first
/// event).
///
/// ```
/// use pghistory_diesel::history::At;
/// let by_time: At = chrono::Utc::now().into();
/// let by_event: At = 42i64.into();
/// assert_eq!(by_event, At::Event(42));
/// # let _ = by_time;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// Events whose transaction started at or before this time.
    Time(chrono::DateTime<chrono::Utc>),
    /// Events with this `pgh_id` or an earlier one.
    Event(i64),
}

impl From<chrono::DateTime<chrono::Utc>> for At {
    fn from(time: chrono::DateTime<chrono::Utc>) -> At {
        At::Time(time)
    }
}

impl From<i64> for At {
    fn from(pgh_id: i64) -> At {
        At::Event(pgh_id)
    }
}

impl At {
    fn kind(self) -> AtKind {
        match self {
            At::Time(_) => AtKind::Time,
            At::Event(_) => AtKind::EventId,
        }
    }
}

/// A primary key as a bind parameter of the type of `pgh_obj_id`; made by
/// [`Tracked::bind_key`].
pub struct KeyBind(Box<dyn QueryFragment<Pg> + Send>);

impl KeyBind {
    /// Wraps a fragment that writes exactly one bind parameter.
    pub fn new(fragment: impl QueryFragment<Pg> + Send + 'static) -> KeyBind {
        KeyBind(Box::new(fragment))
    }
}

impl std::fmt::Debug for KeyBind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyBind(..)")
    }
}

enum Part {
    Sql(String),
    Key(KeyBind),
    At(At),
}

/// A boolean SQL predicate over an events table, with its values bound (never written into
/// the SQL). Built by [`as_of`] and [`table_as_of`]; passed to [`Tracked::events_where`].
pub struct EventsFilter {
    parts: Vec<Part>,
}

impl std::fmt::Debug for EventsFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventsFilter(..)")
    }
}

impl EventsFilter {
    pub(crate) fn from_pieces(
        pieces: Vec<Piece>,
        mut key: Option<KeyBind>,
        at: Option<At>,
    ) -> EventsFilter {
        let parts = pieces
            .into_iter()
            .map(|p| match p {
                Piece::Sql(s) => Part::Sql(s),
                // Each predicate names the key at most once.
                Piece::Key => Part::Key(key.take().expect("the key is bound once")),
                Piece::At => Part::At(at.expect("a point in history is given")),
            })
            .collect();
        EventsFilter { parts }
    }
}

impl Expression for EventsFilter {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for EventsFilter {}

impl<QS> SelectableExpression<QS> for EventsFilter {}

impl<GB> ValidGrouping<GB> for EventsFilter {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for EventsFilter {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for EventsFilter {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for part in &self.parts {
            match part {
                Part::Sql(s) => out.push_sql(s),
                Part::Key(k) => k.0.walk_ast(out.reborrow())?,
                Part::At(At::Event(id)) => out.push_bind_param::<BigInt, i64>(id)?,
                Part::At(At::Time(t)) => {
                    out.push_bind_param::<Timestamptz, chrono::DateTime<chrono::Utc>>(t)?
                }
            }
        }
        Ok(())
    }
}

fn table_name(info: &TableInfo) -> String {
    format!("{}.{}", info.schema, info.table)
}

/// The labels of the events that record every state of table `info`, or why there are none.
pub(crate) fn plan(info: &'static TableInfo) -> Result<sql::Plan<'static>> {
    let shapes: Vec<TrackerShape<'static>> = info
        .trackers
        .iter()
        .map(|t| TrackerShape {
            label: t.label,
            kind: match t.operation {
                Operation::Insert => TrackerKind::Insert,
                Operation::Update => TrackerKind::Update,
                Operation::Delete => TrackerKind::Delete,
                Operation::Manual => TrackerKind::Manual,
            },
            stores_new: t.stores_new,
            every_change: t.every_change,
        })
        .collect();
    sql::plan(&shapes, info.all_columns).map_err(|reason| Error::NotReconstructible {
        table: table_name(info),
        reason,
    })
}

fn object_query<T: Tracked>(key: T::Key, at: At) -> Result<T::EventsQuery> {
    let plan = plan(T::INFO)?;
    let pieces = sql::object_predicate(&names(T::INFO), &plan, at.kind());
    Ok(T::events_where(EventsFilter::from_pieces(
        pieces,
        Some(T::bind_key(key)),
        Some(at),
    )))
}

/// The row of table `T` with primary key `key` as it was at `at` (a time or an event id):
/// the snapshot of its last event at or before `at`, or `None` where the row did not exist
/// (not yet inserted, or deleted). One probe of the events table's primary key index.
///
/// Errors: [`Error::NotReconstructible`] when the table's trackers do not record every
/// state (see [`At`] for what "at" means and the caveats).
///
/// ```no_run
/// # mod schema {
/// # pghistory_diesel::tracked_table! { #[pghistory(events(insert, update, delete))] posts (id) { id -> Int4, title -> Text, } }
/// # }
/// # use schema::*;
/// # fn run(conn: &mut diesel::PgConnection) -> pghistory_diesel::Result<()> {
/// use pghistory_diesel::history::as_of;
///
/// let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
/// let post: Option<PostsEvent> = as_of::<posts::table>(conn, 7, yesterday)?;
/// if let Some(post) = post {
///     println!("post 7 was titled {:?} (event {})", post.title, post.pgh_id);
/// }
/// # Ok(()) }
/// ```
pub fn as_of<T: Tracked>(
    conn: &mut PgConnection,
    key: impl Into<T::Key>,
    at: impl Into<At>,
) -> Result<Option<T::Event>> {
    let query = object_query::<T>(key.into(), at.into())?;
    Ok(query.get_results::<T::Event>(conn)?.into_iter().next())
}

/// [`as_of`] on an async connection.
#[cfg(feature = "async")]
pub async fn as_of_async<T: Tracked>(
    conn: &mut diesel_async::AsyncPgConnection,
    key: impl Into<T::Key>,
    at: impl Into<At>,
) -> Result<Option<T::Event>>
where
    T::EventsQuery:
        for<'a> diesel_async::methods::LoadQuery<'a, diesel_async::AsyncPgConnection, T::Event>,
    T::Event: Send,
{
    let query = object_query::<T>(key.into(), at.into())?;
    let rows: Vec<T::Event> = diesel_async::RunQueryDsl::get_results(query, conn).await?;
    Ok(rows.into_iter().next())
}

/// Table `T` as it was at `at`: for every row that existed then, the event holding its
/// state, as a boxed query over the events table that you may `.filter`, `.order`,
/// `.limit`/`.offset` and load as the table's event struct (sync or async). Rows deleted by
/// then are absent.
///
/// Errors: [`Error::NotReconstructible`], as for [`as_of`].
///
/// ```no_run
/// # mod schema {
/// # pghistory_diesel::tracked_table! { #[pghistory(events(insert, update, delete))] posts (id) { id -> Int4, title -> Text, } }
/// # }
/// # use schema::*;
/// # fn run(conn: &mut diesel::PgConnection) -> pghistory_diesel::Result<()> {
/// use diesel::prelude::*;
/// use pghistory_diesel::history::table_as_of;
///
/// let new_year = "2026-01-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap();
/// // The first 50 posts whose title started with "Draft" on new year's day.
/// let drafts: Vec<PostsEvent> = table_as_of::<posts::table>(new_year)?
///     .filter(posts_events::title.like("Draft%"))
///     .order(posts_events::pgh_obj_id)
///     .limit(50)
///     .load(conn)?;
/// # Ok(()) }
/// ```
pub fn table_as_of<T: Tracked>(at: impl Into<At>) -> Result<T::EventsQuery> {
    let at = at.into();
    let plan = plan(T::INFO)?;
    let pieces = sql::table_predicate(&names(T::INFO), &plan, at.kind());
    Ok(T::events_where(EventsFilter::from_pieces(
        pieces,
        None,
        Some(at),
    )))
}
