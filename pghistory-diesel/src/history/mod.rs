//! Reading history across tracked tables: one time-ordered list of events with their data,
//! their context and a diff against the object's previous event, filtered by object,
//! context scope or label; and reverting an object to one of its events.
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
//! // Put post 7 back as it was at its first event.
//! revert::<posts::table>(conn, events[0].pgh_id)?;
//! # Ok(()) }
//! ```

use std::fmt::Display;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Nullable, Text, Timestamptz, Uuid};
use pghistory_diesel_core::history::{self as sql, TableNames};

use crate::{ContextMode, Error, Result, TableInfo, Tracked};

mod as_of;
mod diff;
mod revert;
mod revert_scope;

#[cfg(feature = "async")]
pub use as_of::as_of_async;
pub use as_of::{as_of, table_as_of, At, EventsFilter, KeyBind};
#[cfg(feature = "async")]
pub use diff::changes_async;
pub use diff::{changes, ColumnChange, Comparable, Diff, EventChanges};
pub use pghistory_diesel_core::history::as_of::{TrackerKind, Unknowable};
pub use revert::revert;
#[cfg(feature = "async")]
pub use revert::revert_async;
pub use revert_scope::{RevertAction, RevertScope, RevertStep, REVERTED_SCOPE_KEY};

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
        columns: info.columns,
        has_context_id: info.context != ContextMode::None,
        has_context_json: info.context == ContextMode::Json,
    }
}

/// A query over the history of one or more tracked tables.
#[derive(Debug, Clone, Default)]
pub struct History {
    tables: Vec<&'static TableInfo>,
    object: Option<String>,
    scope: Option<uuid::Uuid>,
    label: Option<String>,
}

impl History {
    /// An empty query: add tables with [`across`](Self::across) or [`tracks`](Self::tracks).
    pub fn new() -> History {
        History::default()
    }

    /// Includes the events of table `T`.
    pub fn across<T: Tracked>(mut self) -> History {
        if !self.tables.iter().any(|t| std::ptr::eq(*t, T::INFO)) {
            self.tables.push(T::INFO);
        }
        self
    }

    /// The events of one object of table `T` (its primary key, compared as text).
    pub fn tracks<T: Tracked>(self, primary_key: impl Display) -> History {
        let mut out = self.across::<T>();
        out.object = Some(primary_key.to_string());
        out
    }

    /// Only events written in this context scope (the `scope_id` shared by nested scopes).
    pub fn in_context(mut self, scope_id: uuid::Uuid) -> History {
        self.scope = Some(scope_id);
        self
    }

    /// Only events with this label.
    pub fn label(mut self, label: impl Into<String>) -> History {
        self.label = Some(label.into());
        self
    }

    fn query(&self) -> Result<String> {
        if self.tables.is_empty() {
            return Err(Error::NoTables);
        }
        let names: Vec<TableNames<'static>> = self.tables.iter().map(|t| names(t)).collect();
        Ok(sql::unified(&names))
    }

    /// Runs the query, oldest event first.
    pub fn load(&self, conn: &mut PgConnection) -> Result<Vec<HistoryEvent>> {
        let sql = self.query()?;
        Ok(diesel::sql_query(sql)
            .bind::<Nullable<Text>, _>(self.object.as_deref())
            .bind::<Nullable<Uuid>, _>(self.scope)
            .bind::<Nullable<Text>, _>(self.label.as_deref())
            .load(conn)?)
    }

    /// Runs the query on an async connection, oldest event first.
    #[cfg(feature = "async")]
    pub async fn load_async(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
    ) -> Result<Vec<HistoryEvent>> {
        let sql = self.query()?;
        let query = diesel::sql_query(sql)
            .bind::<Nullable<Text>, _>(self.object.clone())
            .bind::<Nullable<Uuid>, _>(self.scope)
            .bind::<Nullable<Text>, _>(self.label.clone());
        Ok(diesel_async::RunQueryDsl::load(query, conn).await?)
    }
}
