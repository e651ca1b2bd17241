//! Single-row inserts through diesel-async (`AsyncPgConnection`), where the client side
//! differs from sync Diesel: tokio-postgres' protocol handling instead of libpq's, and the
//! context attached with `pghistory_diesel::context::with_context_async`. The server side
//! is the same triggers, so only inserts are measured here.

use std::time::{Duration, Instant};

use diesel::sql_types::{Integer, Text};
use diesel::ExpressionMethods as _;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};

use crate::db::{self, BenchDb};
use crate::error::Error;
use crate::ops::floor_single_insert;
use crate::variant::{with_table, Mode, Variant};

/// The result row for `clients` clients.
pub fn row(clients: usize) -> &'static str {
    if clients == 1 {
        "async_insert_c1"
    } else {
        "async_insert_c2"
    }
}

/// One single-row insert, numbered `i`.
async fn insert_one(
    conn: &mut AsyncPgConnection,
    v: Variant,
    i: u64,
    floor_sql: &str,
) -> diesel::QueryResult<()> {
    let title = format!("title {i}");
    let body = format!("body {i}");
    let score = (i % 1000) as i32;
    if v == Variant::Floor {
        diesel::sql_query(floor_sql)
            .bind::<Text, _>(&title)
            .bind::<Text, _>(&body)
            .bind::<Integer, _>(score)
            .execute(conn)
            .await?;
        return Ok(());
    }
    with_table!(v, t => {
        diesel::insert_into(t::table)
            .values((t::title.eq(&title), t::body.eq(&body), t::score.eq(score)))
            .execute(conn)
            .await?;
    });
    Ok(())
}

/// One client: inserts until `deadline`, each in its own context when `mode` says so.
async fn client(
    mut conn: AsyncPgConnection,
    v: Variant,
    mode: Mode,
    deadline: Instant,
    start: u64,
) -> Result<u64, Error> {
    let floor_sql = floor_single_insert();
    let mut done = 0u64;
    while Instant::now() < deadline {
        let i = start + done;
        match mode {
            Mode::Outside => insert_one(&mut conn, v, i, &floor_sql).await?,
            Mode::Inside => {
                pghistory_diesel::context::with_context_async(
                    &mut conn,
                    db::metadata(),
                    async |c: &mut AsyncPgConnection| -> Result<(), pghistory_diesel::Error> {
                        Ok(insert_one(c, v, i, &floor_sql).await?)
                    },
                )
                .await
                .map_err(|e| Error::Async(format!("insert in a context: {e}")))?;
            }
        }
        done += 1;
    }
    Ok(done)
}

/// Inserts per second of `clients` diesel-async clients for `duration`.
pub fn insert_throughput(
    db: &BenchDb,
    v: Variant,
    mode: Mode,
    clients: usize,
    duration: Duration,
    record: &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(clients.max(1))
        .enable_all()
        .build()?;
    let per_second = runtime.block_on(async {
        // Connected before the clock starts, as the sync clients are.
        let mut conns = Vec::with_capacity(clients);
        for _ in 0..clients {
            conns.push(AsyncPgConnection::establish(&db.url).await?);
        }
        let started = Instant::now();
        let deadline = started + duration;
        let tasks: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(c, conn)| tokio::spawn(client(conn, v, mode, deadline, (c as u64) << 40)))
            .collect();
        let mut total = 0u64;
        for task in tasks {
            total += task
                .await
                .map_err(|e| Error::Async(format!("a client task failed: {e}")))??;
        }
        Ok::<f64, Error>(total as f64 / started.elapsed().as_secs_f64())
    })?;
    record(row(clients), per_second);
    Ok(())
}
