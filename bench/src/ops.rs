//! The measurements. Each function measures one variant in one context mode and records
//! its figures through `record(row, value)`.
//!
//! All SQL here is the benchmark's own workload: fixed statements over the benchmark's
//! fixed tables, with no outside input. The tracked variants' history is written by the
//! generated triggers; the floor's by the statements in this file.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::db::{self, BenchDb};
use crate::error::Error;
use crate::variant::{with_table, Mode, Variant};

/// The sizes of a run.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// Rows of each bulk statement.
    pub rows: i64,
    /// Statements of each server-side loop.
    pub loop_rows: i64,
    /// Rows present for the single-row updates and deletes.
    pub pool_rows: i64,
    /// How long each single-row and concurrent measurement runs, in all.
    pub duration: Duration,
    /// Into how many slices that time is cut: the variants take turns slice by slice, so
    /// a checkpoint or a noisy neighbour falls on all of them alike.
    pub slices: u32,
    /// Rows per statement of `insert_into(..).values(&vec)` (3 binds a row, under 65535).
    pub chunk: usize,
    /// Transactions running at once in the shared-context measurement.
    pub concurrent: usize,
    /// Single-row statements per transaction in the shared-context measurement.
    pub per_transaction: usize,
}

impl Sizes {
    /// One slice of a single-row or concurrent measurement.
    pub fn slice(&self) -> Duration {
        self.duration / self.slices.max(1)
    }
}

/// The floor's context id: what the triggers read, read the same way, once per statement
/// (a scalar subquery is evaluated once, as an InitPlan), so the floor does not pay a
/// per-row settings lookup that the triggers avoid.
pub const CTX_ID: &str =
    "(SELECT NULLIF(pg_catalog.current_setting('pghistory.context_id', true), '')::uuid)";
/// The floor's events columns.
pub const FLOOR_COLUMNS: &str =
    "INSERT INTO bench_floor_events (pgh_label, pgh_obj_id, pgh_context_id, id, title, body, score)";

/// The floor's plain `INSERT ... SELECT` of every row of `bench_floor` into its events.
fn floor_copy(label: &str) -> String {
    floor_copy_where(label, "true")
}

/// The floor's `INSERT ... SELECT` of the rows of `bench_floor` that match `filter`.
pub fn floor_copy_where(label: &str, filter: &str) -> String {
    format!(
        "{FLOOR_COLUMNS} SELECT '{label}', id, {CTX_ID}, id, title, body, score FROM bench_floor WHERE {filter}"
    )
}

/// The rows every insert writes: row `i` is `('title i', 'body i', i)`.
pub fn generated(table: &str, n: i64) -> String {
    format!(
        "INSERT INTO {table} (title, body, score) SELECT 'title ' || i, 'body ' || i, i FROM generate_series(1, {n}) AS i"
    )
}

/// Empties the variant's tables and restarts their identities.
fn reset(conn: &mut PgConnection, v: Variant) -> QueryResult<()> {
    let tables: Vec<&str> = std::iter::once(v.table()).chain(v.events_table()).collect();
    conn.batch_execute(&format!("TRUNCATE {} RESTART IDENTITY", tables.join(", ")))
}

/// Empties the variant's tables, then writes ids `1..=n` without history (paused), vacuums.
fn populate(conn: &mut PgConnection, v: Variant, n: i64) -> QueryResult<()> {
    reset(conn, v)?;
    conn.transaction(|c| {
        c.batch_execute("SELECT public.pghistory_pause('*')")?;
        c.batch_execute(&generated(v.table(), n))
    })?;
    conn.batch_execute(&format!("VACUUM (ANALYZE) {}", v.table()))
}

fn checkpoint(conn: &mut PgConnection) -> QueryResult<()> {
    conn.batch_execute("CHECKPOINT")
}

/// The WAL insert position, in bytes.
fn wal(conn: &mut PgConnection) -> QueryResult<f64> {
    db::scalar(
        conn,
        "SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_insert_lsn(), '0/0')::float8 AS v",
    )
}

/// Runs `f` in a transaction (with a context attached first when `mode` says so) and
/// returns how long `f` took, in milliseconds. Attaching and committing are not timed.
fn timed(
    conn: &mut PgConnection,
    mode: Mode,
    f: impl FnOnce(&mut PgConnection) -> QueryResult<()>,
) -> QueryResult<f64> {
    conn.transaction(|c| {
        if mode == Mode::Inside {
            db::attach(c, None)?;
        }
        let start = Instant::now();
        f(c)?;
        Ok(start.elapsed().as_secs_f64() * 1e3)
    })
}

/// Bytes per row on disk of the events table (the table itself for untracked): heap, indexes.
fn sizes(conn: &mut PgConnection, v: Variant, n: i64) -> QueryResult<(f64, f64)> {
    let rel = v.events_table().unwrap_or(v.table());
    let heap = db::scalar(
        conn,
        &format!("SELECT pg_relation_size('{rel}')::float8 / {n} AS v"),
    )?;
    let idx = db::scalar(
        conn,
        &format!("SELECT pg_indexes_size('{rel}')::float8 / {n} AS v"),
    )?;
    Ok((heap, idx))
}

/// 100k-row `INSERT ... SELECT generate_series`, plus bytes per event and WAL per row.
pub fn bulk_insert_select(
    conn: &mut PgConnection,
    v: Variant,
    mode: Mode,
    s: &Sizes,
    record: &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error> {
    reset(conn, v)?;
    checkpoint(conn)?;
    let w0 = wal(conn)?;
    let ms = timed(conn, mode, |c| {
        c.batch_execute(&generated(v.table(), s.rows))?;
        if v == Variant::Floor {
            c.batch_execute(&floor_copy("insert"))?;
        }
        Ok(())
    })?;
    let w1 = wal(conn)?;
    record("bulk_insert_select", ms);
    record("wal_insert", (w1 - w0) / s.rows as f64);
    let (heap, idx) = sizes(conn, v, s.rows)?;
    record("bytes_heap", heap);
    record("bytes_index", idx);
    record("bytes_total", heap + idx);
    Ok(())
}

/// 100k rows through `insert_into(..).values(&vec)`, in chunks under the bind limit.
pub fn bulk_insert_values(
    conn: &mut PgConnection,
    v: Variant,
    mode: Mode,
    s: &Sizes,
    record: &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error> {
    let rows: Vec<(String, String, i32)> = (1..=s.rows)
        .map(|i| (format!("title {i}"), format!("body {i}"), i as i32))
        .collect();
    reset(conn, v)?;
    checkpoint(conn)?;
    let ms = timed(conn, mode, |c| {
        for chunk in rows.chunks(s.chunk) {
            with_table!(v, t => {
                let batch: Vec<_> = chunk
                    .iter()
                    .map(|(title, body, score)| {
                        (t::title.eq(title.as_str()), t::body.eq(body.as_str()), t::score.eq(*score))
                    })
                    .collect();
                diesel::insert_into(t::table).values(batch).execute(c)?;
            });
        }
        if v == Variant::Floor {
            c.batch_execute(&floor_copy("insert"))?;
        }
        Ok(())
    })?;
    record("bulk_insert_values", ms);
    Ok(())
}

/// 100k-row `UPDATE` (title and score of every row), plus WAL per row.
pub fn bulk_update(
    conn: &mut PgConnection,
    v: Variant,
    mode: Mode,
    s: &Sizes,
    record: &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error> {
    populate(conn, v, s.rows)?;
    checkpoint(conn)?;
    let w0 = wal(conn)?;
    let ms = timed(conn, mode, |c| {
        with_table!(v, t => {
            diesel::update(t::table)
                .set((t::title.eq(t::title.concat("x")), t::score.eq(t::score + 1)))
                .execute(c)?;
        });
        if v == Variant::Floor {
            c.batch_execute(&floor_copy("update"))?;
        }
        Ok(())
    })?;
    let w1 = wal(conn)?;
    record("bulk_update", ms);
    record("wal_update", (w1 - w0) / s.rows as f64);
    Ok(())
}

/// 100k-row `DELETE`, plus WAL per row.
pub fn bulk_delete(
    conn: &mut PgConnection,
    v: Variant,
    mode: Mode,
    s: &Sizes,
    record: &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error> {
    populate(conn, v, s.rows)?;
    checkpoint(conn)?;
    let w0 = wal(conn)?;
    let ms = timed(conn, mode, |c| {
        if v == Variant::Floor {
            c.batch_execute(&floor_copy("delete"))?;
        }
        with_table!(v, t => {
            diesel::delete(t::table).execute(c)?;
        });
        Ok(())
    })?;
    let w1 = wal(conn)?;
    record("bulk_delete", ms);
    record("wal_delete", (w1 - w0) / s.rows as f64);
    Ok(())
}

/// The `DO` block of `n` single-row INSERTs on `v` (for the floor, each followed by the
/// copy of its row into the events table).
pub fn loop_insert_sql(v: Variant, n: i64) -> String {
    if v == Variant::Floor {
        format!(
            "DO $bench$ DECLARE v_id bigint; BEGIN FOR i IN 1..{n} LOOP \
             INSERT INTO bench_floor (title, body, score) VALUES ('title ' || i, 'body ' || i, i) RETURNING id INTO v_id; \
             {FLOOR_COLUMNS} VALUES ('insert', v_id, {CTX_ID}, v_id, 'title ' || i, 'body ' || i, i); \
             END LOOP; END $bench$"
        )
    } else {
        format!(
            "DO $bench$ BEGIN FOR i IN 1..{n} LOOP \
             INSERT INTO {t} (title, body, score) VALUES ('title ' || i, 'body ' || i, i); \
             END LOOP; END $bench$",
            t = v.table()
        )
    }
}

/// The `DO` block of `n` single-row UPDATEs by primary key (ids `1..=n`) on `v`.
pub fn loop_update_sql(v: Variant, n: i64) -> String {
    if v == Variant::Floor {
        format!(
            "DO $bench$ DECLARE v_id bigint; v_title varchar; v_body text; v_score int; \
             BEGIN FOR i IN 1..{n} LOOP \
             UPDATE bench_floor SET title = 'title ' || i || ' u', score = score + 1 WHERE id = i \
             RETURNING id, title, body, score INTO v_id, v_title, v_body, v_score; \
             {FLOOR_COLUMNS} VALUES ('update', v_id, {CTX_ID}, v_id, v_title, v_body, v_score); \
             END LOOP; END $bench$"
        )
    } else {
        format!(
            "DO $bench$ BEGIN FOR i IN 1..{n} LOOP \
             UPDATE {t} SET title = 'title ' || i || ' u', score = score + 1 WHERE id = i; \
             END LOOP; END $bench$",
            t = v.table()
        )
    }
}

/// A `DO` block running `n` single-row INSERTs: µs per statement.
pub fn loop_insert(
    conn: &mut PgConnection,
    v: Variant,
    mode: Mode,
    s: &Sizes,
    record: &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error> {
    let n = s.loop_rows;
    let sql = loop_insert_sql(v, n);
    reset(conn, v)?;
    checkpoint(conn)?;
    let ms = timed(conn, mode, |c| c.batch_execute(&sql))?;
    record("loop_insert", ms * 1e3 / n as f64);
    Ok(())
}

/// A `DO` block running `n` single-row UPDATEs by primary key: µs per statement.
pub fn loop_update(
    conn: &mut PgConnection,
    v: Variant,
    mode: Mode,
    s: &Sizes,
    record: &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error> {
    let n = s.loop_rows;
    let sql = loop_update_sql(v, n);
    populate(conn, v, n)?;
    checkpoint(conn)?;
    let ms = timed(conn, mode, |c| c.batch_execute(&sql))?;
    record("loop_update", ms * 1e3 / n as f64);
    Ok(())
}

/// A single-row statement through Diesel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Single {
    /// `insert_into(t).values(..)`.
    Insert,
    /// `update(t.find(id)).set(..)`.
    Update,
    /// `delete(t.find(id))`.
    Delete,
}

impl Single {
    /// All three, in the order measured.
    pub const ALL: [Single; 3] = [Single::Insert, Single::Update, Single::Delete];

    /// The result row for `threads` clients.
    pub fn row(self, threads: usize) -> &'static str {
        match (self, threads) {
            (Single::Insert, 1) => "single_insert_c1",
            (Single::Insert, _) => "single_insert_c2",
            (Single::Update, 1) => "single_update_c1",
            (Single::Update, _) => "single_update_c2",
            (Single::Delete, 1) => "single_delete_c1",
            (Single::Delete, _) => "single_delete_c2",
        }
    }
}

/// The floor's single-row statements: the untracked statement and the copy of its row into
/// the events table, as one statement (one round trip, like the tracked ones).
fn floor_single(op: Single) -> String {
    let copy = |label: &str, from: &str| {
        format!(
            "{FLOOR_COLUMNS} SELECT '{label}', id, {CTX_ID}, id, title, body, score FROM {from}"
        )
    };
    match op {
        Single::Insert => format!(
            "WITH n AS (INSERT INTO bench_floor (title, body, score) VALUES ($1, $2, $3) RETURNING id, title, body, score) {}",
            copy("insert", "n")
        ),
        Single::Update => format!(
            "WITH n AS (UPDATE bench_floor SET title = $1, score = $2 WHERE id = $3 RETURNING id, title, body, score) {}",
            copy("update", "n")
        ),
        Single::Delete => format!(
            "WITH o AS (DELETE FROM bench_floor WHERE id = $1 RETURNING id, title, body, score) {}",
            copy("delete", "o")
        ),
    }
}

/// The floor's single-row insert: the statement and the copy of its row, one round trip.
pub fn floor_single_insert() -> String {
    floor_single(Single::Insert)
}

/// One single-row statement on `id` (ignored by inserts).
fn write_one(
    conn: &mut PgConnection,
    v: Variant,
    op: Single,
    id: i64,
    floor_sql: &str,
) -> QueryResult<()> {
    let title = format!("title {id}");
    let body = format!("body {id}");
    let score = (id % 1000) as i32;
    if v == Variant::Floor {
        let q = diesel::sql_query(floor_sql);
        return match op {
            Single::Insert => q
                .bind::<Text, _>(&title)
                .bind::<Text, _>(&body)
                .bind::<Integer, _>(score)
                .execute(conn),
            Single::Update => q
                .bind::<Text, _>(&title)
                .bind::<Integer, _>(score)
                .bind::<BigInt, _>(id)
                .execute(conn),
            Single::Delete => q.bind::<BigInt, _>(id).execute(conn),
        }
        .map(drop);
    }
    with_table!(v, t => match op {
        Single::Insert => diesel::insert_into(t::table)
            .values((t::title.eq(&title), t::body.eq(&body), t::score.eq(score)))
            .execute(conn),
        Single::Update => diesel::update(t::table.find(id))
            .set((t::title.eq(&title), t::score.eq(score)))
            .execute(conn),
        Single::Delete => diesel::delete(t::table.find(id)).execute(conn),
    })
    .map(drop)
}

/// A deterministic pseudo-random number (splitmix64).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the clients of one measurement did.
struct Throughput {
    per_second: f64,
    lock_timeouts: u64,
}

/// Runs `op(conn, client, iteration)` on `clients` connections at once for `duration`;
/// `op` returns `false` when it has nothing left to do. Lock timeouts are counted; any
/// other error stops the measurement.
fn throughput(
    db: &BenchDb,
    clients: usize,
    duration: Duration,
    session_sql: &str,
    op: &(dyn Fn(&mut PgConnection, usize, u64) -> QueryResult<bool> + Sync),
) -> Result<Throughput, Error> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut conn = db.conn()?;
        if !session_sql.is_empty() {
            conn.batch_execute(session_sql)?;
        }
        conns.push(conn);
    }
    let barrier = Barrier::new(clients);
    let outcomes: Vec<QueryResult<(u64, u64, Duration)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(client, mut conn)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let (mut done, mut timeouts, mut iteration) = (0u64, 0u64, 0u64);
                    while start.elapsed() < duration {
                        match op(&mut conn, client, iteration) {
                            Ok(true) => done += 1,
                            Ok(false) => break,
                            Err(diesel::result::Error::DatabaseError(
                                DatabaseErrorKind::Unknown,
                                info,
                            )) if info.message().contains("lock timeout") => timeouts += 1,
                            Err(e) => return Err(e),
                        }
                        iteration += 1;
                    }
                    Ok((done, timeouts, start.elapsed()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a benchmark client panicked"))
            .collect()
    });
    let (mut done, mut timeouts, mut longest) = (0u64, 0u64, Duration::ZERO);
    for outcome in outcomes {
        let (d, t, e) = outcome?;
        done += d;
        timeouts += t;
        longest = longest.max(e);
    }
    Ok(Throughput {
        per_second: done as f64 / longest.as_secs_f64().max(1e-9),
        lock_timeouts: timeouts,
    })
}

/// Fills the tables the single-row measurements work on: ids `1..=pool_rows`, vacuumed.
pub fn single_prepare(conn: &mut PgConnection, v: Variant, s: &Sizes) -> Result<(), Error> {
    populate(conn, v, s.pool_rows)?;
    Ok(())
}

/// Single-row `op` through Diesel at `clients` clients for the run's duration: per second.
/// Updates pick random ids of the pool; deletes take the next id from `next_delete`.
pub fn single(
    db: &BenchDb,
    v: Variant,
    mode: Mode,
    (op, clients): (Single, usize),
    s: &Sizes,
    next_delete: &AtomicI64,
    record: &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error> {
    let floor_sql = floor_single(op);
    let pool = s.pool_rows as u64;
    let run = |conn: &mut PgConnection, client: usize, iteration: u64| -> QueryResult<bool> {
        let id = match op {
            Single::Insert => 0,
            Single::Update => 1 + (mix(((client as u64) << 40) | iteration) % pool) as i64,
            Single::Delete => {
                let id = next_delete.fetch_add(1, Ordering::Relaxed);
                if id > s.pool_rows {
                    return Ok(false);
                }
                id
            }
        };
        match mode {
            Mode::Outside => write_one(conn, v, op, id, &floor_sql)?,
            Mode::Inside => conn.transaction(|c| {
                db::attach(c, None)?;
                write_one(c, v, op, id, &floor_sql)
            })?,
        }
        Ok(true)
    };
    let t = throughput(db, clients, s.slice(), "", &run)?;
    record(op.row(clients), t.per_second);
    Ok(())
}

/// `concurrent` clients each running transactions of `per_transaction` single-row inserts
/// inside a context: all in one shared scope, or each in a scope of its own. Transactions
/// per second, and lock timeouts (`lock_timeout` is 500ms).
pub fn concurrent_contexts(
    db: &BenchDb,
    v: Variant,
    shared: bool,
    s: &Sizes,
    record: &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error> {
    reset(&mut db.conn()?, v)?;
    let scope = shared.then(uuid::Uuid::new_v4);
    let floor_sql = floor_single(Single::Insert);
    let run = |conn: &mut PgConnection, _client: usize, _iteration: u64| -> QueryResult<bool> {
        conn.transaction(|c| {
            db::attach(c, scope)?;
            for _ in 0..s.per_transaction {
                write_one(c, v, Single::Insert, 0, &floor_sql)?;
            }
            Ok(true)
        })
    };
    let t = throughput(
        db,
        s.concurrent,
        s.slice(),
        "SET lock_timeout = '500ms'",
        &run,
    )?;
    if shared {
        record("ctx_shared_tps", t.per_second);
        record("ctx_shared_lock_timeouts", t.lock_timeouts as f64);
    } else {
        record("ctx_distinct_tps", t.per_second);
        record("ctx_distinct_lock_timeouts", t.lock_timeouts as f64);
    }
    Ok(())
}
