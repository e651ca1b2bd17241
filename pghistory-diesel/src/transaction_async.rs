//! The one transaction policy of the async scopes (context, pause): diesel-async's own
//! `transaction` steps spelled out, so that the body can be any async closure.

use diesel_async::{AnsiTransactionManager, AsyncPgConnection, TransactionManager};

/// Runs `f` in a transaction (a savepoint inside one): commits on `Ok`, rolls back on `Err`
/// and returns that error (a failed rollback's error instead, unless the transaction
/// manager is already broken, when the body's error is the one worth reporting).
pub(crate) async fn transaction<R, E, F>(conn: &mut AsyncPgConnection, f: F) -> Result<R, E>
where
    F: AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, E>,
    E: From<diesel::result::Error>,
{
    AnsiTransactionManager::begin_transaction(conn).await?;
    match f(&mut *conn).await {
        Ok(out) => {
            AnsiTransactionManager::commit_transaction(conn).await?;
            Ok(out)
        }
        Err(error) => Err(rollback(conn, error).await),
    }
}

/// Rolls back the current transaction or savepoint and returns the error to report.
pub(crate) async fn rollback<E: From<diesel::result::Error>>(
    conn: &mut AsyncPgConnection,
    error: E,
) -> E {
    match AnsiTransactionManager::rollback_transaction(conn).await {
        Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => error,
        Err(rollback_error) => E::from(rollback_error),
    }
}
