//! Explicit context scopes on a sync `PgConnection`.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

use super::metadata_object;
use super::queries::{self, Outer, Probe};
use crate::context_table::Context;
use crate::Error;

/// Runs `f` in a transaction whose events carry `metadata` as their context.
///
/// The metadata must serialize to a JSON object; it is checked before anything is sent to
/// the database. The context is set transaction-locally with bound values, so it ends with
/// the transaction: `f`'s `Ok` commits and is returned; its `Err` rolls back the events and
/// the context row alike, and is returned.
///
/// Called while a context is in force on `conn` (inside another `with_context`, or on a
/// pooled connection an ambient context was attached to), the scope runs in a savepoint,
/// shares the outer `scope_id` and merges the metadata (inner keys win). It writes a new
/// snapshot row, and the outer context is in force again once it returns.
///
/// `E` only needs `From<pghistory_diesel::Error>` and `From<diesel::result::Error>`, which
/// `diesel::result::Error` itself has, so a closure returning `QueryResult` works.
///
/// ```no_run
/// use diesel::prelude::*;
/// use pghistory_diesel::context::with_context;
///
/// # diesel::table! { posts (id) { id -> Int4, title -> Text, } }
/// # fn main() {}
/// # fn run(conn: &mut PgConnection) -> QueryResult<()> {
/// let id: i32 = with_context(conn, serde_json::json!({"user": 42}), |conn| {
///     diesel::insert_into(posts::table)
///         .values(posts::title.eq("hello"))
///         .returning(posts::id)
///         .get_result(conn)
/// })?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::MetadataNotAnObject`], [`Error::MetadataNotSerializable`] (nothing written),
/// [`Error::SetupMissing`] (setup migration not applied), database errors, or `f`'s error.
pub fn with_context<T, E, F>(
    conn: &mut PgConnection,
    metadata: impl Serialize,
    f: F,
) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E>,
    E: From<Error> + From<diesel::result::Error>,
{
    let metadata = metadata_object(metadata)?;
    conn.transaction(|conn| {
        let nested = depth(conn)? > 1;
        let outer = enter(conn, metadata)?;
        let value = f(conn)?;
        if nested {
            queries::set_settings(outer.as_ref().map(|o| (o.id, &o.metadata)), true)
                .execute(conn)?;
        }
        Ok(value)
    })
}

/// The context in force on `conn`: the `pghistory_context` snapshot row its events would
/// reference now (from [`with_context`], or an ambient context a pool hook attached), or
/// `None`. Its `scope_id` is what [`pghistory_context::scope_id`] filters on to read a scope
/// back.
///
/// [`pghistory_context::scope_id`]: crate::context_table::pghistory_context::scope_id
///
/// ```no_run
/// # use diesel::prelude::*;
/// use pghistory_diesel::context::{current_context, with_context};
///
/// # fn run(conn: &mut PgConnection) -> QueryResult<()> {
/// let scope_id = with_context(conn, serde_json::json!({"job": "import"}), |conn| {
///     // ... writes ...
///     QueryResult::Ok(current_context(conn)?.map(|c| c.scope_id))
/// })?;
/// # Ok(())
/// # }
/// ```
pub fn current_context(conn: &mut PgConnection) -> QueryResult<Option<Context>> {
    queries::current_snapshot().first(conn).optional()
}

/// The transaction depth: 0 outside a transaction, 1 in one, more in savepoints.
pub(super) fn depth(conn: &mut PgConnection) -> QueryResult<u32> {
    let status = AnsiTransactionManager::transaction_manager_status_mut(conn);
    Ok(status.transaction_depth()?.map_or(0, |d| d.get()))
}

/// Attaches `metadata` transaction-locally, nested in whatever context is in force, and
/// returns that outer context.
fn enter(conn: &mut PgConnection, metadata: Map<String, Value>) -> Result<Option<Outer>, Error> {
    let probe: Probe = queries::probe().get_result(conn)?;
    let outer = match queries::in_force(probe)? {
        Some(id) => queries::snapshot(id)
            .get_result(conn)
            .optional()?
            .map(|row| queries::outer(id, row)),
        None => None,
    };
    queries::attach_nested(outer.as_ref(), metadata).get_result::<uuid::Uuid>(conn)?;
    Ok(outer)
}
