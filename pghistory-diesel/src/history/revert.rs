//! Putting a tracked row back as one of its events stored it.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use pghistory_diesel_core::history as sql;

use super::names;
use crate::{Error, Result, Tracked};

fn revert_sql<T: Tracked>() -> Result<String> {
    sql::revert(&names(T::INFO)).ok_or_else(|| Error::NotRevertible {
        table: format!("{}.{}", T::INFO.schema, T::INFO.table),
    })
}

fn reverted<T: Tracked>(rows: usize, pgh_id: i64) -> Result<()> {
    if rows == 0 {
        return Err(Error::NoSuchEvent {
            table: format!("{}.{}", T::INFO.schema, T::INFO.table),
            pgh_id,
        });
    }
    Ok(())
}

/// Restores the row of table `T` that event `pgh_id` stored: updates it, or inserts it
/// again if it was deleted. The change goes through the triggers like any other, so it is
/// recorded as a new event (in the current context).
///
/// Errors: [`Error::NoSuchEvent`] when there is no such event; [`Error::NotRevertible`]
/// when the table's primary key is not snapshotted.
pub fn revert<T: Tracked>(conn: &mut PgConnection, pgh_id: i64) -> Result<()> {
    let sql = revert_sql::<T>()?;
    let rows = diesel::sql_query(sql)
        .bind::<BigInt, _>(pgh_id)
        .execute(conn)?;
    reverted::<T>(rows, pgh_id)
}

/// [`revert`] on an async connection.
#[cfg(feature = "async")]
pub async fn revert_async<T: Tracked>(
    conn: &mut diesel_async::AsyncPgConnection,
    pgh_id: i64,
) -> Result<()> {
    let sql = revert_sql::<T>()?;
    let query = diesel::sql_query(sql).bind::<BigInt, _>(pgh_id);
    let rows = diesel_async::RunQueryDsl::execute(query, conn).await?;
    reverted::<T>(rows, pgh_id)
}
