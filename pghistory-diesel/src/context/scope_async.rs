//! Explicit context scopes on a diesel-async `AsyncPgConnection` (feature `async`).

use std::future::Future;

use diesel::prelude::*;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};
use serde::Serialize;
use serde_json::{Map, Value};

use super::metadata_object;
use super::queries::{self, Outer, Probe};
use crate::context_table::Context;
use crate::Error;

/// The closure [`with_context_async`] takes: an async closure
/// `async |conn: &mut AsyncPgConnection| -> Result<T, E>` whose future is `Send`.
///
/// Implemented for every such closure; you never implement it. It exists (like
/// diesel-async's own bound on `AsyncConnection::transaction`) to name the closure's future
/// so that it can be required to be `Send`.
pub trait ScopeFn<Arg, R>:
    AsyncFnOnce(Arg) -> R + FnOnce(Arg) -> <Self as ScopeFn<Arg, R>>::Fut
{
    /// The future the closure returns.
    type Fut: Future<Output = R>;
}

impl<F, Arg, Fut, R> ScopeFn<Arg, R> for F
where
    F: AsyncFnOnce(Arg) -> R + FnOnce(Arg) -> Fut,
    Fut: Future<Output = R>,
{
    type Fut = Fut;
}

/// Runs `f` in a transaction whose events carry `metadata` as their context: the
/// diesel-async twin of [`with_context`](super::with_context), with the same semantics
/// (transaction-local context, commit on `Ok`, roll back on `Err`, nesting in the context in
/// force with a shared `scope_id` and merged metadata).
///
/// The metadata is checked when this function is called, before the future is polled; the
/// future is `Send`, so it can run inside `tokio::spawn` or an axum handler.
///
/// ```no_run
/// use diesel::prelude::*;
/// use diesel_async::{AsyncPgConnection, RunQueryDsl};
/// use pghistory_diesel::context::with_context_async;
///
/// # diesel::table! { posts (id) { id -> Int4, title -> Text, } }
/// # fn main() {}
/// # async fn run(conn: &mut AsyncPgConnection) -> QueryResult<()> {
/// let title = String::from("hello");
/// let id: i32 = with_context_async(conn, serde_json::json!({"user": 42}), async |conn| {
///     diesel::insert_into(posts::table)
///         .values(posts::title.eq(&title))
///         .returning(posts::id)
///         .get_result(conn)
///         .await
/// })
/// .await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`with_context`](super::with_context).
pub fn with_context_async<'c, T, E, F>(
    conn: &'c mut AsyncPgConnection,
    metadata: impl Serialize,
    f: F,
) -> impl Future<Output = Result<T, E>> + Send + 'c
where
    for<'r> F: AsyncFnOnce(&'r mut AsyncPgConnection) -> Result<T, E>
        + ScopeFn<&'r mut AsyncPgConnection, Result<T, E>, Fut: Send>
        + Send
        + 'c,
    E: From<Error> + From<diesel::result::Error> + Send + 'c,
    T: Send + 'c,
{
    let metadata = metadata_object(metadata);
    async move {
        let metadata = metadata?;
        let nested = depth(conn)? > 0;
        AnsiTransactionManager::begin_transaction(conn).await?;
        let outer = match enter(conn, metadata).await {
            Ok(outer) => outer,
            Err(e) => return Err(crate::transaction_async::rollback(conn, E::from(e)).await),
        };
        let value = match f(&mut *conn).await {
            Ok(value) => value,
            Err(e) => return Err(crate::transaction_async::rollback(conn, e).await),
        };
        if nested {
            if let Err(e) = queries::set_settings(outer.as_ref().map(|o| (o.id, &o.metadata)), true)
                .execute(conn)
                .await
            {
                return Err(crate::transaction_async::rollback(conn, E::from(e)).await);
            }
        }
        AnsiTransactionManager::commit_transaction(conn).await?;
        Ok(value)
    }
}

/// The async twin of [`current_context`](super::current_context): the snapshot row in force
/// on `conn`, or `None`.
pub async fn current_context_async(conn: &mut AsyncPgConnection) -> QueryResult<Option<Context>> {
    queries::current_snapshot().first(conn).await.optional()
}

/// The transaction depth: 0 outside a transaction.
pub(super) fn depth(conn: &mut AsyncPgConnection) -> QueryResult<u32> {
    let status = <AnsiTransactionManager as TransactionManager<AsyncPgConnection>>::transaction_manager_status_mut(conn);
    Ok(status.transaction_depth()?.map_or(0, |d| d.get()))
}

/// Attaches `metadata` transaction-locally, nested in whatever context is in force, and
/// returns that outer context.
async fn enter(
    conn: &mut AsyncPgConnection,
    metadata: Map<String, Value>,
) -> Result<Option<Outer>, Error> {
    let probe: Probe = queries::probe().get_result(conn).await?;
    let outer = match queries::in_force(probe)? {
        Some(id) => queries::snapshot(id)
            .get_result(conn)
            .await
            .optional()?
            .map(|row| queries::outer(id, row)),
        None => None,
    };
    queries::attach_nested(outer.as_ref(), metadata)
        .get_result::<uuid::Uuid>(conn)
        .await?;
    Ok(outer)
}
