//! Manual events: a snapshot of a row's current state, written from Rust under a label.
//!
//! A table declares its manual labels with `#[pghistory(event(manual, label = "archived"))]`;
//! [`create_event`] then writes one event of that label for one row, exactly as a trigger
//! would have: the tracked columns as they are now, the row's key in `pgh_obj_id`, and the
//! context in force on the connection (see [`context`](crate::context)). Labels of the
//! table's trigger trackers are accepted as well (django-pghistory's `create_event` does the
//! same); an undeclared label is refused before anything is sent.
//!
//! Pausing (see [`pause`](crate::pause)) does not apply: a manual event is an explicit request.
//!
//! The event is written by the table's `SECURITY DEFINER` function `pghistory_<table>_event`,
//! so the connection's role needs no privilege on the events table; the function reads the
//! row itself and checks the label again, so a manual event is always a true snapshot.

use diesel::pg::Pg;
use diesel::query_builder::QueryId;
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text};
use diesel::{Expression, QueryableByName, Table};

use crate::{Error, Result, TableInfo, Tracked};

/// The SQL type of `T`'s primary key, which [`create_event`] binds the key as.
pub type PrimaryKeySqlType<T> = <<T as Table>::PrimaryKey as Expression>::SqlType;

#[derive(QueryableByName)]
struct Written {
    /// NULL when no row has the key.
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    pgh_id: Option<i64>,
}

fn check_label(info: &TableInfo, label: &str) -> Result<()> {
    if info.trackers.iter().any(|t| t.label == label) {
        return Ok(());
    }
    let declared: Vec<&str> = info.trackers.iter().map(|t| t.label).collect();
    Err(Error::UnknownLabel {
        table: format!("{}.{}", info.schema, info.table),
        label: label.to_owned(),
        declared: declared.join(", "),
    })
}

fn written(info: &TableInfo, result: diesel::QueryResult<Written>) -> Result<i64> {
    match result {
        Ok(Written { pgh_id: Some(id) }) => Ok(id),
        Ok(Written { pgh_id: None }) | Err(diesel::result::Error::NotFound) => {
            Err(Error::NoSuchRow {
                table: format!("{}.{}", info.schema, info.table),
            })
        }
        Err(err) => Err(err.into()),
    }
}

/// Writes one event labelled `label` for the row of `T` whose primary key is `key`, with a
/// snapshot of the row's current tracked columns and the connection's current context.
/// Returns the new event's `pgh_id`.
///
/// Errors: [`Error::UnknownLabel`] when `T` declares no tracker with this label (nothing is
/// sent to the database), [`Error::NoSuchRow`] when no row has this key (no event is
/// written).
///
/// ```no_run
/// # mod schema {
/// pghistory_diesel::tracked_table! {
///     #[pghistory(events(insert, update), event(manual, label = "archived"))]
///     posts (id) { id -> Int4, title -> Text, }
/// }
/// # }
/// # use schema::posts;
/// # fn run(conn: &mut diesel::PgConnection) -> pghistory_diesel::Result<()> {
/// let pgh_id = pghistory_diesel::create_event::<posts::table>(conn, "archived", 42)?;
/// # let _ = pgh_id;
/// # Ok(())
/// # }
/// ```
pub fn create_event<T>(
    conn: &mut diesel::PgConnection,
    label: &str,
    key: impl ToSql<PrimaryKeySqlType<T>, Pg> + Send,
) -> Result<i64>
where
    T: Tracked,
    PrimaryKeySqlType<T>: QueryId + Send,
    Pg: HasSqlType<PrimaryKeySqlType<T>>,
{
    use diesel::RunQueryDsl;
    check_label(T::INFO, label)?;
    let result = diesel::sql_query(T::INFO.create_event_sql)
        .bind::<Text, _>(label)
        .bind::<PrimaryKeySqlType<T>, _>(key)
        .get_result::<Written>(conn);
    written(T::INFO, result)
}

/// [`create_event`] on a diesel-async connection.
///
/// ```no_run
/// # mod schema {
/// pghistory_diesel::tracked_table! {
///     #[pghistory(events(insert, update), event(manual, label = "archived"))]
///     posts (id) { id -> Int4, title -> Text, }
/// }
/// # }
/// # use schema::posts;
/// # async fn run(conn: &mut diesel_async::AsyncPgConnection) -> pghistory_diesel::Result<()> {
/// let pgh_id = pghistory_diesel::create_event_async::<posts::table>(conn, "archived", 42).await?;
/// # let _ = pgh_id;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "async")]
pub async fn create_event_async<T>(
    conn: &mut diesel_async::AsyncPgConnection,
    label: &str,
    key: impl ToSql<PrimaryKeySqlType<T>, Pg> + Send,
) -> Result<i64>
where
    T: Tracked,
    PrimaryKeySqlType<T>: QueryId + Send,
    Pg: HasSqlType<PrimaryKeySqlType<T>>,
{
    use diesel_async::RunQueryDsl;
    check_label(T::INFO, label)?;
    let result = diesel::sql_query(T::INFO.create_event_sql)
        .bind::<Text, _>(label)
        .bind::<PrimaryKeySqlType<T>, _>(key)
        .get_result::<Written>(conn)
        .await;
    written(T::INFO, result)
}

diesel::define_sql_function! {
    /// The setup migration's `pghistory_prune(events regclass, before timestamptz)`; the
    /// name is passed as text, which Postgres casts to `regclass`.
    #[sql_name = "\"public\".\"pghistory_prune\""]
    fn pghistory_prune(events: Text, before: diesel::sql_types::Timestamptz) -> BigInt;
}

diesel::define_sql_function! {
    /// Postgres' `has_function_privilege(function, privilege)`, for the current role.
    #[sql_name = "pg_catalog.has_function_privilege"]
    fn has_function_privilege(function: Text, privilege: Text) -> diesel::sql_types::Bool;
}

/// The signature of the setup migration's prune function.
fn prune_signature() -> &'static str {
    pghistory_diesel_core::vocab::PRUNE_SIGNATURE.as_str()
}

/// `Ok` when the current role may execute `function` (`granted`, asked with
/// [`has_function_privilege`] before calling it: a refused call would abort the caller's
/// transaction, and its message is the server's, in the server's language).
pub(crate) fn check_granted(
    granted: bool,
    function: &'static str,
    capability: &'static str,
) -> Result<()> {
    if granted {
        Ok(())
    } else {
        Err(Error::NotGranted {
            capability,
            function,
        })
    }
}

/// Deletes the events of `T` written before `before` and returns how many were deleted.
///
/// This is the way to trim history, including from `append_only` events tables, whose
/// guard lets only `pghistory_prune` delete. It runs in the caller's transaction, if any.
/// Pruning is a capability: the connection's role must be the maintainer role (or a member
/// of it) or the history owner; any other gets [`Error::NotGranted`] and nothing is
/// deleted. Each prune is recorded in `pghistory_capability`.
///
/// ```no_run
/// # mod schema {
/// pghistory_diesel::tracked_table! {
///     #[pghistory(events(insert, update), append_only)]
///     posts (id) { id -> Int4, title -> Text, }
/// }
/// # }
/// # use schema::posts;
/// # fn run(conn: &mut diesel::PgConnection) -> pghistory_diesel::Result<()> {
/// let a_year_ago = chrono::Utc::now() - chrono::Duration::days(365);
/// let deleted = pghistory_diesel::prune::<posts::table>(conn, a_year_ago)?;
/// # let _ = deleted;
/// # Ok(())
/// # }
/// ```
pub fn prune<T: Tracked>(
    conn: &mut diesel::PgConnection,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<i64> {
    use diesel::RunQueryDsl;
    check_granted(
        may_prune().get_result(conn)?,
        prune_signature(),
        "prune history",
    )?;
    Ok(prune_query(T::INFO.events_relation, before).get_result(conn)?)
}

/// Whether this role may call the prune function (asked first, so that a role without the
/// grant gets [`Error::NotGranted`] and its transaction is not aborted).
fn may_prune() -> diesel::dsl::select<has_function_privilege<&'static str, &'static str>> {
    diesel::select(has_function_privilege(prune_signature(), "EXECUTE"))
}

/// The prune call both executors send, for `relation` (quoted: an events table, or the
/// context table).
fn prune_query(
    relation: &'static str,
    before: chrono::DateTime<chrono::Utc>,
) -> diesel::dsl::select<pghistory_prune<&'static str, chrono::DateTime<chrono::Utc>>> {
    diesel::select(pghistory_prune(relation, before))
}

/// The context table, quoted, built once (the prune call borrows it for `'static`).
static CONTEXT_RELATION: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(pghistory_diesel_core::catalog::context_table);

/// Deletes the `pghistory_context` rows created before `before` and returns how many were
/// deleted: the context side of [`prune`], with the same grant ([`Error::NotGranted`]
/// otherwise) and the same record in `pghistory_capability`.
///
/// Events keep their `pgh_context_id` (it is not a foreign key, so that writing history
/// never waits on the context table's locks): prune the events of that period first, or
/// accept events whose context is gone, which `pghistory-diesel check --orphan-events`
/// counts.
///
/// ```no_run
/// # fn run(conn: &mut diesel::PgConnection) -> pghistory_diesel::Result<()> {
/// let a_year_ago = chrono::Utc::now() - chrono::Duration::days(365);
/// let deleted = pghistory_diesel::prune_contexts(conn, a_year_ago)?;
/// # let _ = deleted;
/// # Ok(())
/// # }
/// ```
pub fn prune_contexts(
    conn: &mut diesel::PgConnection,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<i64> {
    use diesel::RunQueryDsl;
    check_granted(
        may_prune().get_result(conn)?,
        prune_signature(),
        "prune history",
    )?;
    Ok(prune_query(CONTEXT_RELATION.as_str(), before).get_result(conn)?)
}

/// [`prune_contexts`] on a diesel-async connection.
#[cfg(feature = "async")]
pub async fn prune_contexts_async(
    conn: &mut diesel_async::AsyncPgConnection,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<i64> {
    use diesel_async::RunQueryDsl;
    check_granted(
        may_prune().get_result(conn).await?,
        prune_signature(),
        "prune history",
    )?;
    Ok(prune_query(CONTEXT_RELATION.as_str(), before)
        .get_result(conn)
        .await?)
}

/// [`prune`] on a diesel-async connection.
#[cfg(feature = "async")]
pub async fn prune_async<T: Tracked>(
    conn: &mut diesel_async::AsyncPgConnection,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<i64> {
    use diesel_async::RunQueryDsl;
    check_granted(
        may_prune().get_result(conn).await?,
        prune_signature(),
        "prune history",
    )?;
    Ok(prune_query(T::INFO.events_relation, before)
        .get_result(conn)
        .await?)
}
