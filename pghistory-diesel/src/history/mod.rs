//! Reading history across tracked tables: one time-ordered list of events with their data,
//! their context and a diff against the object's previous event, filtered by object, time,
//! label, context scope or context metadata, read whole or page by page with a keyset
//! [`Cursor`]; and reverting an object to one of its events.
//!
//! ```no_run
//! # mod schema {
//! # pghistory_diesel::tracked_table! { posts (id) { id -> Int4, title -> Text, } }
//! # pghistory_diesel::tracked_table! { comments (id) { id -> Int4, text -> Text, } }
//! # }
//! # use schema::*;
//! # fn run(conn: &mut diesel::PgConnection) -> pghistory_diesel::Result<()> {
//! use pghistory_diesel::history::{revert, History};
//!
//! // Everything that happened to post 7, oldest first, with per-event diffs.
//! let events = History::new().tracks::<posts::table>(7).load(conn)?;
//! for e in &events {
//!     println!("{} {} {:?}", e.pgh_created_at, e.pgh_label, e.pgh_diff);
//! }
//! // Everything one request changed, across tables.
//! # let scope_id = uuid::Uuid::nil();
//! let request = History::new()
//!     .across::<posts::table>()
//!     .across::<comments::table>()
//!     .in_context(scope_id)
//!     .load(conn)?;
//! // The newest 20 events user 42 made, then the next 20.
//! let query = History::new()
//!     .across::<posts::table>()
//!     .across::<comments::table>()
//!     .metadata_contains(serde_json::json!({"user": 42}))
//!     .newest_first()
//!     .limit(20);
//! let page = query.page(conn)?;
//! if let Some(next) = &page.next {
//!     let more = query.clone().after(next).page(conn)?;
//! }
//! // Put post 7 back as it was at its first event.
//! revert::<posts::table>(conn, events[0].pgh_id)?;
//! # Ok(()) }
//! ```

use std::fmt::Display;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{Array, BigInt, Jsonb, Nullable, Text, Timestamptz, Uuid};
pub use pghistory_diesel_core::history::TableNames;
use pghistory_diesel_core::history::{self as sql};

use crate::{ContextMode, Error, Result, TableInfo, Tracked};

mod cursor;
mod revert;

pub use cursor::{Cursor, CursorError};

pub use revert::revert;
#[cfg(feature = "async")]
pub use revert::revert_async;

/// One event of the unified history.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct HistoryEvent {
    /// The tracked table, as `schema.table`.
    #[diesel(sql_type = Text)]
    pub pgh_table: String,
    /// The event's id in its events table.
    #[diesel(sql_type = BigInt)]
    pub pgh_id: i64,
    /// When it was written (transaction time).
    #[diesel(sql_type = Timestamptz)]
    pub pgh_created_at: chrono::DateTime<chrono::Utc>,
    /// Its label.
    #[diesel(sql_type = Text)]
    pub pgh_label: String,
    /// The tracked row's primary key, as text.
    #[diesel(sql_type = Text)]
    pub pgh_obj_id: String,
    /// The context snapshot in force, if any.
    #[diesel(sql_type = Nullable<Uuid>)]
    pub pgh_context_id: Option<uuid::Uuid>,
    /// The context metadata in force, if any.
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub pgh_context: Option<serde_json::Value>,
    /// The stored row, keyed by column name.
    #[diesel(sql_type = Jsonb)]
    pub pgh_data: serde_json::Value,
    /// `{column: [before, after]}` against the previous event of the same object in the same
    /// table; `None` for its first event, or when no snapshotted column changed.
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub pgh_diff: Option<serde_json::Value>,
}

pub(crate) fn names(info: &'static TableInfo) -> TableNames<'static> {
    TableNames {
        schema: info.schema,
        table: info.table,
        events_schema: info.events_schema,
        events_table: info.events_table,
        primary_key: info.primary_key,
        primary_key_type: info.primary_key_type,
        columns: info.columns,
        has_context_id: info.context != ContextMode::None,
        has_context_json: info.context == ContextMode::Json,
    }
}

impl HistoryEvent {
    /// The cursor at this event: [`History::after`] it continues with the next one.
    pub fn cursor(&self) -> Cursor {
        Cursor::new(self.pgh_created_at, self.pgh_id, self.pgh_table.clone())
    }
}

/// One page of a timeline: its events and, when more follow, the cursor to read them.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The events, in the query's order.
    pub events: Vec<HistoryEvent>,
    /// Where the next page starts ([`History::after`]); `None` on the last page.
    pub next: Option<Cursor>,
}

/// The page size of [`History::page`] when no [`limit`](History::limit) is set.
pub const DEFAULT_PAGE_SIZE: usize = 50;

#[derive(Debug, Clone)]
struct Source {
    names: TableNames<'static>,
    object: Option<String>,
}

/// A query over the history of one or more tracked tables, built step by step and run with
/// [`load`](Self::load) (every matching event) or [`page`](Self::page) (one page and the
/// cursor of the next).
///
/// Every filter is evaluated by PostgreSQL, through the indexes the generated migrations
/// create; a page costs the same wherever it starts. Events are ordered by
/// `(pgh_created_at, pgh_id, pgh_table)`: transaction time, then event id, then table name
/// (bytewise) to break the tie between tables.
#[derive(Debug, Clone, Default)]
pub struct History {
    tables: Vec<Source>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    labels: Option<Vec<String>>,
    scope: Option<uuid::Uuid>,
    metadata: Option<serde_json::Value>,
    newest_first: bool,
    after: Option<Cursor>,
    limit: Option<usize>,
}

impl History {
    /// An empty query: add tables with [`across`](Self::across) or [`tracks`](Self::tracks).
    pub fn new() -> History {
        History::default()
    }

    fn source<T: Tracked>(&mut self) -> &mut Source {
        self.source_of(names(T::INFO))
    }

    fn source_of(&mut self, names: TableNames<'static>) -> &mut Source {
        let same = |s: &&mut Source| s.names.schema == names.schema && s.names.table == names.table;
        let at = match self.tables.iter_mut().position(|s| same(&s)) {
            Some(at) => at,
            None => {
                self.tables.push(Source {
                    names,
                    object: None,
                });
                self.tables.len() - 1
            }
        };
        &mut self.tables[at]
    }

    /// Includes a table known only at run time, by its names (as a tool reading
    /// schema.rs has them, like the `pghistory-diesel log` command), narrowed to one object
    /// when `object` is given. Applications use [`across`](Self::across) and
    /// [`tracks`](Self::tracks).
    pub fn across_names(mut self, names: TableNames<'static>, object: Option<String>) -> History {
        let source = self.source_of(names);
        if object.is_some() {
            source.object = object;
        }
        self
    }

    /// Includes the events of table `T` (all its objects, unless [`tracks`](Self::tracks)
    /// narrows it).
    pub fn across<T: Tracked>(mut self) -> History {
        self.source::<T>();
        self
    }

    /// Includes table `T`, but only the events of the object with this primary key (its
    /// text form, cast by PostgreSQL to the key's type, so the events table's primary key
    /// serves it). Other tables of the query are not narrowed. A second call for the same
    /// table replaces the key.
    pub fn tracks<T: Tracked>(mut self, primary_key: impl Display) -> History {
        self.source::<T>().object = Some(primary_key.to_string());
        self
    }

    /// Only events written at or after `at` (transaction time, inclusive).
    pub fn since(mut self, at: DateTime<Utc>) -> History {
        self.since = Some(at);
        self
    }

    /// Only events written before `at` (exclusive).
    pub fn until(mut self, at: DateTime<Utc>) -> History {
        self.until = Some(at);
        self
    }

    /// Only events with this label (or any other label given with `label`/`labels`).
    pub fn label(mut self, label: impl Into<String>) -> History {
        self.labels.get_or_insert_with(Vec::new).push(label.into());
        self
    }

    /// Only events with one of these labels (added to those of [`label`](Self::label)).
    /// An empty set matches no event.
    pub fn labels<L: Into<String>>(mut self, labels: impl IntoIterator<Item = L>) -> History {
        self.labels
            .get_or_insert_with(Vec::new)
            .extend(labels.into_iter().map(Into::into));
        self
    }

    /// Only events written in this context scope (the `scope_id` shared by nested scopes).
    /// Tables that store no context have no such events.
    pub fn in_context(mut self, scope_id: uuid::Uuid) -> History {
        self.scope = Some(scope_id);
        self
    }

    /// Only events whose context metadata contains `metadata` (jsonb `@>`: `{"user": 42}`
    /// matches `{"user": 42, "path": "/"}`), read from `pghistory_context` through its GIN
    /// index for every context mode. `metadata` must be a JSON object
    /// ([`Error::MetadataNotAnObject`] when the query runs). Tables that store no context
    /// have no such events.
    pub fn metadata_contains(mut self, metadata: serde_json::Value) -> History {
        self.metadata = Some(metadata);
        self
    }

    /// Newest event first.
    pub fn newest_first(mut self) -> History {
        self.newest_first = true;
        self
    }

    /// Oldest event first (the default).
    pub fn oldest_first(mut self) -> History {
        self.newest_first = false;
        self
    }

    /// Only events after `cursor` in this query's order (a page's [`Page::next`], or an
    /// event's [`HistoryEvent::cursor`]).
    pub fn after(mut self, cursor: &Cursor) -> History {
        self.after = Some(cursor.clone());
        self
    }

    /// At most `n` events ([`Error::ZeroLimit`] for 0, when the query runs).
    pub fn limit(mut self, n: usize) -> History {
        self.limit = Some(n);
        self
    }

    fn filters(&self, limit: bool) -> sql::Filters {
        sql::Filters {
            since: self.since.is_some(),
            until: self.until.is_some(),
            labels: self.labels.is_some(),
            scope: self.scope.is_some(),
            metadata: self.metadata.is_some(),
            after: self.after.is_some(),
            newest_first: self.newest_first,
            limit,
        }
    }

    /// The SQL and its bound parameters, fetching at most `limit` rows.
    fn query(
        &self,
        limit: Option<usize>,
    ) -> Result<BoxedSqlQuery<'_, Pg, diesel::query_builder::SqlQuery>> {
        self.query_with(limit, "")
    }

    /// [`query`](Self::query), its text after `prefix` (`EXPLAIN ...`).
    fn query_with(
        &self,
        limit: Option<usize>,
        prefix: &str,
    ) -> Result<BoxedSqlQuery<'_, Pg, diesel::query_builder::SqlQuery>> {
        if self.tables.is_empty() {
            return Err(Error::NoTables);
        }
        if let Some(m) = self.metadata.as_ref().filter(|m| !m.is_object()) {
            return Err(Error::MetadataNotAnObject {
                found: crate::context::json_type(m),
            });
        }
        let branches: Vec<sql::Branch<'static>> = self
            .tables
            .iter()
            .map(|s| sql::Branch {
                names: s.names,
                object: s.object.is_some(),
            })
            .collect();
        let text = format!(
            "{prefix}{}",
            sql::timeline(&branches, &self.filters(limit.is_some()))
        );
        let objects: Option<Vec<Option<&str>>> = self
            .tables
            .iter()
            .any(|s| s.object.is_some())
            .then(|| self.tables.iter().map(|s| s.object.as_deref()).collect());
        let limit = limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        // The order of these binds is the order of `sql::params`.
        Ok(diesel::sql_query(text)
            .into_boxed()
            .bind::<Nullable<Array<Nullable<Text>>>, _>(objects)
            .bind::<Nullable<Timestamptz>, _>(self.since)
            .bind::<Nullable<Timestamptz>, _>(self.until)
            .bind::<Nullable<Array<Text>>, _>(self.labels.clone())
            .bind::<Nullable<Uuid>, _>(self.scope)
            .bind::<Nullable<Jsonb>, _>(self.metadata.clone())
            .bind::<Nullable<Timestamptz>, _>(self.after.as_ref().map(|c| c.created_at))
            .bind::<Nullable<BigInt>, _>(self.after.as_ref().map(|c| c.pgh_id))
            .bind::<Nullable<Text>, _>(self.after.as_ref().map(|c| c.table.clone()))
            .bind::<Nullable<BigInt>, _>(limit))
    }

    fn checked_limit(&self) -> Result<Option<usize>> {
        match self.limit {
            Some(0) => Err(Error::ZeroLimit),
            other => Ok(other),
        }
    }

    fn page_size(&self) -> Result<usize> {
        Ok(self.checked_limit()?.unwrap_or(DEFAULT_PAGE_SIZE))
    }

    /// Runs the query: every matching event (or the first [`limit`](Self::limit) of them),
    /// in the query's order.
    pub fn load(&self, conn: &mut PgConnection) -> Result<Vec<HistoryEvent>> {
        let query = self.query(self.checked_limit()?)?;
        Ok(query.load(conn)?)
    }

    /// Runs the query for one page of [`limit`](Self::limit) events
    /// ([`DEFAULT_PAGE_SIZE`] without one), with the cursor of the next page when there is
    /// one (it reads one event more to know).
    pub fn page(&self, conn: &mut PgConnection) -> Result<Page> {
        let size = self.page_size()?;
        let events = self.query(Some(size.saturating_add(1)))?.load(conn)?;
        Ok(paged(events, size))
    }

    /// The plan PostgreSQL chooses for [`page`](Self::page) (`EXPLAIN (FORMAT JSON)`, not
    /// run), with this query's values bound: to check which indexes a read uses.
    pub fn explain(&self, conn: &mut PgConnection) -> Result<serde_json::Value> {
        #[derive(QueryableByName)]
        struct Plan {
            #[diesel(sql_type = diesel::sql_types::Json)]
            #[diesel(column_name = "QUERY PLAN")]
            plan: serde_json::Value,
        }
        let size = self.page_size()?;
        let plan: Plan = self
            .query_with(Some(size.saturating_add(1)), "EXPLAIN (FORMAT JSON) ")?
            .get_result(conn)?;
        Ok(plan.plan)
    }

    /// [`load`](Self::load) on an async connection.
    #[cfg(feature = "async")]
    pub async fn load_async(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
    ) -> Result<Vec<HistoryEvent>> {
        let query = self.query(self.checked_limit()?)?;
        Ok(diesel_async::RunQueryDsl::load(query, conn).await?)
    }

    /// [`page`](Self::page) on an async connection.
    #[cfg(feature = "async")]
    pub async fn page_async(&self, conn: &mut diesel_async::AsyncPgConnection) -> Result<Page> {
        let size = self.page_size()?;
        let query = self.query(Some(size.saturating_add(1)))?;
        let events = diesel_async::RunQueryDsl::load(query, conn).await?;
        Ok(paged(events, size))
    }
}

fn paged(mut events: Vec<HistoryEvent>, size: usize) -> Page {
    let next = if events.len() > size {
        events.truncate(size);
        events.last().map(HistoryEvent::cursor)
    } else {
        None
    };
    Page { events, next }
}
