//! Pausing history for a scope: a backfill, a data repair, a migration of data.
//!
//! [`pause`] runs a closure in a transaction (a savepoint when one is already open) in
//! which the triggers of the chosen tables write no events; every other table is tracked
//! as usual. The pause is the transaction-local setting `pghistory.pause`, so:
//! - it never reaches another connection, nor this connection's later transactions;
//! - it ends with the scope: the previous value is restored when the closure returns `Ok`,
//!   and a closure returning `Err` rolls back the transaction or savepoint, setting included.
//!
//! ```no_run
//! # mod schema {
//! pghistory_diesel::tracked_table! { posts (id) { id -> Int4, title -> Text, } }
//! pghistory_diesel::tracked_table! { comments (id) { id -> Int4, text -> Text, } }
//! # }
//! # use schema::{comments, posts};
//! use diesel::prelude::*;
//!
//! # fn run(conn: &mut PgConnection) -> QueryResult<()> {
//! pghistory_diesel::pause::<(posts::table, comments::table), _, diesel::result::Error, _>(conn, |conn| {
//!     diesel::update(posts::table).set(posts::title.eq("fixed")).execute(conn)?;
//!     Ok(())
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! Manual events ([`create_event`](crate::create_event)) are explicit and are written even
//! inside a pause.
//!
//! Pausing is a capability. The value is set by the setup migration's `pghistory_pause`,
//! executable only by the maintainer role (and the history owner), which records the grant
//! for this transaction in `pghistory_capability`; the triggers honour the setting only
//! with that record. A role without it gets [`Error::NotGranted`](crate::Error::NotGranted)
//! and `f` does not run; a `SET pghistory.pause` by hand pauses nothing (the triggers track
//! as usual and raise a warning).

use diesel::sql_types::{Bool, Text};

use pghistory_diesel_core::vocab;

use crate::{Error, TableInfo, Tracked};

/// The setting the triggers read.
const PAUSE_SETTING: &str = vocab::PAUSE_SETTING;
/// The setting's value that pauses every tracked table.
const ALL: &str = "*";

diesel::define_sql_function! {
    /// Postgres' `set_config(name, value, is_local)`.
    #[sql_name = "pg_catalog.set_config"]
    fn set_config(name: Text, value: Text, is_local: Bool) -> Text;
}
diesel::define_sql_function! {
    /// The setup migration's `pghistory_pause(tables)`: records the grant, sets the value.
    #[sql_name = "\"public\".\"pghistory_pause\""]
    fn pghistory_pause(tables: Text) -> Text;
}
diesel::define_sql_function! {
    /// Postgres' `has_function_privilege(function, privilege)`, for the current role.
    #[sql_name = "pg_catalog.has_function_privilege"]
    fn has_function_privilege(function: Text, privilege: Text) -> Bool;
}

/// The signature of the setup migration's pause function.
fn pause_signature() -> &'static str {
    vocab::PAUSE_SIGNATURE.as_str()
}

diesel::define_sql_function! {
    /// Postgres' `current_setting(name, missing_ok)`.
    #[sql_name = "pg_catalog.current_setting"]
    fn current_setting_or_null(name: Text, missing_ok: Bool) -> diesel::sql_types::Nullable<Text>;
}

/// A set of tracked tables to pause: one table type (`posts::table`) or a tuple of them
/// (`(posts::table, comments::table)`, up to 12).
pub trait PauseSet {
    /// The tables' descriptions.
    fn tables() -> Vec<&'static TableInfo>;
}

impl<T: Tracked> PauseSet for T {
    fn tables() -> Vec<&'static TableInfo> {
        vec![T::INFO]
    }
}

macro_rules! tuple_pause_set {
    ($($t:ident),+) => {
        impl<$($t: Tracked),+> PauseSet for ($($t,)+) {
            fn tables() -> Vec<&'static TableInfo> {
                vec![$($t::INFO),+]
            }
        }
    };
}
tuple_pause_set!(A);
tuple_pause_set!(A, B);
tuple_pause_set!(A, B, C);
tuple_pause_set!(A, B, C, D);
tuple_pause_set!(A, B, C, D, E);
tuple_pause_set!(A, B, C, D, E, F);
tuple_pause_set!(A, B, C, D, E, F, G);
tuple_pause_set!(A, B, C, D, E, F, G, H);
tuple_pause_set!(A, B, C, D, E, F, G, H, I);
tuple_pause_set!(A, B, C, D, E, F, G, H, I, J);
tuple_pause_set!(A, B, C, D, E, F, G, H, I, J, K);
tuple_pause_set!(A, B, C, D, E, F, G, H, I, J, K, L);

/// The setting's value pausing `tables`: their keys, concatenated.
fn keys(tables: &[&TableInfo]) -> String {
    tables.iter().map(|t| t.pause_key).collect()
}

/// The value in force inside a scope: the enclosing scope's pauses plus this one's.
fn merged(previous: Option<&str>, added: &str) -> String {
    match previous {
        Some(ALL) => ALL.to_owned(),
        _ if added == ALL => ALL.to_owned(),
        Some(prev) => format!("{prev}{added}"),
        None => added.to_owned(),
    }
}

/// Runs `f` in a transaction in which the triggers of the tables of `P` write no events.
///
/// `f` behaves as in Diesel's `Connection::transaction`: `Ok` commits (or releases the
/// savepoint), `Err` rolls back. Other tables, other connections and everything after the
/// scope are tracked as usual.
pub fn pause<P, R, E, F>(conn: &mut diesel::PgConnection, f: F) -> Result<R, E>
where
    P: PauseSet,
    F: FnOnce(&mut diesel::PgConnection) -> Result<R, E>,
    E: From<diesel::result::Error> + From<Error>,
{
    paused(conn, keys(&P::tables()), f)
}

/// [`pause`] for tables chosen at run time, by their [`TableInfo`] (`T::INFO`).
pub fn pause_tables<R, E, F>(
    conn: &mut diesel::PgConnection,
    tables: &[&TableInfo],
    f: F,
) -> Result<R, E>
where
    F: FnOnce(&mut diesel::PgConnection) -> Result<R, E>,
    E: From<diesel::result::Error> + From<Error>,
{
    paused(conn, keys(tables), f)
}

/// [`pause`] for every tracked table.
pub fn pause_all<R, E, F>(conn: &mut diesel::PgConnection, f: F) -> Result<R, E>
where
    F: FnOnce(&mut diesel::PgConnection) -> Result<R, E>,
    E: From<diesel::result::Error> + From<Error>,
{
    paused(conn, ALL.to_owned(), f)
}

/// The queries a pause scope sends around `f`, shared by the sync and async executors:
/// `probe`, then (after [`begin`] decides) `pghistory_pause(value)`, then `f`, then
/// `restore` of the enclosing scope's value.
mod plan {
    use diesel::dsl;

    use super::*;

    /// The pause value in force and whether this role may call `pghistory_pause`.
    pub(super) type Probe = (Option<String>, bool);

    /// The query of [`probe`].
    pub(super) type ProbeQuery = dsl::select<(
        current_setting_or_null<&'static str, bool>,
        has_function_privilege<&'static str, &'static str>,
    )>;

    pub(super) fn probe() -> ProbeQuery {
        diesel::select((
            current_setting_or_null(PAUSE_SETTING, true),
            has_function_privilege(pause_signature(), "EXECUTE"),
        ))
    }

    /// The value to grant (the enclosing scope's tables plus `added`) and the value to
    /// restore afterwards, or [`Error::NotGranted`] before anything is changed.
    pub(super) fn begin(probe: Probe, added: &str) -> Result<(String, String), Error> {
        let (previous, granted) = probe;
        crate::events::check_granted(granted, pause_signature(), "pause tracking")?;
        Ok((
            merged(previous.as_deref(), added),
            previous.unwrap_or_default(),
        ))
    }

    pub(super) fn grant(value: String) -> dsl::select<pghistory_pause<String>> {
        diesel::select(pghistory_pause(value))
    }

    /// The enclosing scope's value was granted in this transaction too (or is empty).
    pub(super) fn restore(previous: String) -> dsl::select<set_config<&'static str, String, bool>> {
        diesel::select(set_config(PAUSE_SETTING, previous, true))
    }
}

fn paused<R, E, F>(conn: &mut diesel::PgConnection, added: String, f: F) -> Result<R, E>
where
    F: FnOnce(&mut diesel::PgConnection) -> Result<R, E>,
    E: From<diesel::result::Error> + From<Error>,
{
    use diesel::{Connection, RunQueryDsl};
    conn.transaction(|conn| {
        let (value, previous) = plan::begin(plan::probe().get_result(conn)?, &added)?;
        plan::grant(value).execute(conn)?;
        let out = f(conn)?;
        plan::restore(previous).execute(conn)?;
        Ok(out)
    })
}

/// [`pause`] on a diesel-async connection: `f` is an async closure
/// (`async |conn| { ... }`). The returned future is `Send` when `f`'s is.
///
/// As with diesel-async's own `transaction`, dropping the future before it completes leaves
/// the transaction open on the connection (and the pause with it, until that transaction
/// ends); pools discard such connections as broken.
#[cfg(feature = "async")]
pub async fn pause_async<P, R, E, F>(
    conn: &mut diesel_async::AsyncPgConnection,
    f: F,
) -> Result<R, E>
where
    P: PauseSet,
    F: AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<R, E>,
    E: From<diesel::result::Error> + From<Error>,
{
    paused_async(conn, keys(&P::tables()), f).await
}

/// [`pause_tables`] on a diesel-async connection.
#[cfg(feature = "async")]
pub async fn pause_tables_async<R, E, F>(
    conn: &mut diesel_async::AsyncPgConnection,
    tables: &[&TableInfo],
    f: F,
) -> Result<R, E>
where
    F: AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<R, E>,
    E: From<diesel::result::Error> + From<Error>,
{
    paused_async(conn, keys(tables), f).await
}

/// [`pause_all`] on a diesel-async connection.
#[cfg(feature = "async")]
pub async fn pause_all_async<R, E, F>(
    conn: &mut diesel_async::AsyncPgConnection,
    f: F,
) -> Result<R, E>
where
    F: AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<R, E>,
    E: From<diesel::result::Error> + From<Error>,
{
    paused_async(conn, ALL.to_owned(), f).await
}

#[cfg(feature = "async")]
async fn paused_async<R, E, F>(
    conn: &mut diesel_async::AsyncPgConnection,
    added: String,
    f: F,
) -> Result<R, E>
where
    F: AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<R, E>,
    E: From<diesel::result::Error> + From<Error>,
{
    use diesel_async::RunQueryDsl;
    crate::transaction_async::transaction(conn, async |conn| {
        let probe = plan::probe().get_result(conn).await?;
        let (value, previous) = plan::begin(probe, &added)?;
        plan::grant(value).execute(conn).await?;
        let out = f(&mut *conn).await?;
        plan::restore(previous).execute(conn).await?;
        Ok(out)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `define_sql_function!` takes a literal SQL name; this keeps it the vocabulary's.
    #[test]
    fn the_pause_function_is_the_vocabularys() {
        assert_eq!(
            "\"public\".\"pghistory_pause\"",
            vocab::setup_function(vocab::PAUSE_FUNCTION)
        );
    }

    #[test]
    fn scopes_add_up_and_star_wins() {
        assert_eq!(merged(None, ",public.a,"), ",public.a,");
        assert_eq!(merged(Some(""), ",public.a,"), ",public.a,");
        assert_eq!(
            merged(Some(",public.a,"), ",public.b,"),
            ",public.a,,public.b,"
        );
        assert_eq!(merged(Some("*"), ",public.b,"), "*");
        assert_eq!(merged(Some(",public.a,"), "*"), "*");
    }
}
