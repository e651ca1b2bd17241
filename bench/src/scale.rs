//! The scale phase (opt-in: `scripts/bench scale`): single statements of production size,
//! narrow rows and rows of about 1 KB, for untracked, the floor and tracked side by side.
//!
//! For each statement and variant: the rows are written (without history), vacuumed and
//! checkpointed; then a **fresh connection** runs the statement (and, for the floor, its
//! `INSERT ... SELECT` of the events) in one transaction, timed from the first statement
//! to the last. Afterwards it reads its own backend's peak resident memory (`VmHWM` of
//! `/proc/<pid>/status`, so it needs a superuser on a Linux server) and, once that backend
//! has exited and flushed its statistics, the temp file bytes it wrote
//! (`pg_stat_database.temp_bytes` before and after). A fresh backend per variant means
//! each peak is that statement's own. The peak includes the shared buffers the backend
//! touched (at most `shared_buffers`), which every variant pays alike.
//!
//! The 1 KB body is `repeat('b', 1000) || i`: under the 2 kB TOAST threshold, so it is
//! stored as it is, neither compressed nor moved out of line, as ordinary 1 KB text is.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::{self, BenchDb};
use crate::error::Error;
use crate::ops::floor_copy_where;
use crate::variant::Variant;

/// The statement of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Insert,
    Update,
    Delete,
}

/// One statement of the scale phase, with the keys of its three result rows.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub op: Op,
    pub rows: i64,
    /// Bytes of `body` per row (0: the narrow `'body ' || i`).
    pub width: usize,
    /// Result rows: time (ms), peak memory (MB), temp files (MB).
    pub keys: [&'static str; 3],
}

/// Every case, in run order: the 100k rows of the bulk phase, narrow and wide, then the
/// statements larger than 1 GB and the 10M-row narrow update.
pub const CASES: &[Case] = &[
    Case {
        op: Op::Insert,
        rows: 100_000,
        width: 0,
        keys: ["scale_i100k_n_ms", "scale_i100k_n_hwm", "scale_i100k_n_tmp"],
    },
    Case {
        op: Op::Update,
        rows: 100_000,
        width: 0,
        keys: ["scale_u100k_n_ms", "scale_u100k_n_hwm", "scale_u100k_n_tmp"],
    },
    Case {
        op: Op::Delete,
        rows: 100_000,
        width: 0,
        keys: ["scale_d100k_n_ms", "scale_d100k_n_hwm", "scale_d100k_n_tmp"],
    },
    Case {
        op: Op::Insert,
        rows: 100_000,
        width: 1000,
        keys: ["scale_i100k_w_ms", "scale_i100k_w_hwm", "scale_i100k_w_tmp"],
    },
    Case {
        op: Op::Update,
        rows: 100_000,
        width: 1000,
        keys: ["scale_u100k_w_ms", "scale_u100k_w_hwm", "scale_u100k_w_tmp"],
    },
    Case {
        op: Op::Delete,
        rows: 100_000,
        width: 1000,
        keys: ["scale_d100k_w_ms", "scale_d100k_w_hwm", "scale_d100k_w_tmp"],
    },
    Case {
        op: Op::Update,
        rows: 1_200_000,
        width: 1000,
        keys: ["scale_u1m2_w_ms", "scale_u1m2_w_hwm", "scale_u1m2_w_tmp"],
    },
    Case {
        op: Op::Delete,
        rows: 1_200_000,
        width: 1000,
        keys: ["scale_d1m2_w_ms", "scale_d1m2_w_hwm", "scale_d1m2_w_tmp"],
    },
    Case {
        op: Op::Update,
        rows: 10_000_000,
        width: 0,
        keys: ["scale_u10m_n_ms", "scale_u10m_n_hwm", "scale_u10m_n_tmp"],
    },
];

/// The variants the scale phase compares.
pub const VARIANTS: [Variant; 3] = [Variant::Untracked, Variant::Floor, Variant::Tracked];

/// The smoke run's version of a case: the same statement with a few rows.
pub fn smoke(case: Case) -> Case {
    Case {
        rows: case.rows.min(300),
        ..case
    }
}

/// The `INSERT` of rows `1..=n` into `table`, of `width` bytes of body.
fn rows_sql(table: &str, n: i64, width: usize) -> String {
    let body = if width == 0 {
        "'body ' || i".to_owned()
    } else {
        format!("repeat('b', {width}) || i")
    };
    format!(
        "INSERT INTO {table} (title, body, score) SELECT 'title ' || i, {body}, i FROM generate_series(1, {n}) AS i"
    )
}

fn reset(conn: &mut PgConnection, v: Variant) -> QueryResult<()> {
    let tables: Vec<&str> = std::iter::once(v.table()).chain(v.events_table()).collect();
    conn.batch_execute(&format!("TRUNCATE {} RESTART IDENTITY", tables.join(", ")))
}

/// This database's `temp_bytes`, as the statistics system has it now.
fn temp_bytes(conn: &mut PgConnection) -> QueryResult<f64> {
    conn.batch_execute("SELECT pg_catalog.pg_stat_clear_snapshot()")?;
    db::scalar(
        conn,
        "SELECT temp_bytes::float8 AS v FROM pg_catalog.pg_stat_database WHERE datname = pg_catalog.current_database()",
    )
}

/// Peak resident memory of the connection's backend, in MB.
fn peak_mb(conn: &mut PgConnection) -> QueryResult<f64> {
    db::scalar(
        conn,
        "SELECT pg_catalog.regexp_replace(l, '[^0-9]', '', 'g')::float8 / 1024 AS v
           FROM pg_catalog.regexp_split_to_table(
                  pg_catalog.pg_read_file('/proc/' || pg_catalog.pg_backend_pid() || '/status'), E'\\n') AS l
          WHERE l LIKE 'VmHWM:%'",
    )
}

/// Waits (up to 10 s) until backend `pid` has exited, so that its statistics are flushed.
fn wait_gone(conn: &mut PgConnection, pid: f64) -> QueryResult<()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let alive = db::scalar(
            conn,
            &format!(
                "SELECT count(*)::float8 AS v FROM pg_catalog.pg_stat_activity WHERE pid = {pid}"
            ),
        )?;
        if alive == 0.0 {
            // The exiting backend's flush and the reader's view are both asynchronous.
            std::thread::sleep(Duration::from_millis(200));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Runs one case for one variant and records its time, peak memory and temp bytes.
pub fn measure(
    db: &BenchDb,
    conn: &mut PgConnection,
    case: Case,
    v: Variant,
    record: &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error> {
    let t = v.table();
    reset(conn, v)?;
    if case.op != Op::Insert {
        conn.transaction(|c| {
            c.batch_execute("SELECT public.pghistory_pause('*')")?;
            c.batch_execute(&rows_sql(t, case.rows, case.width))
        })?;
        conn.batch_execute(&format!("VACUUM (ANALYZE) {t}"))?;
    }
    conn.batch_execute("CHECKPOINT")?;
    let temp0 = temp_bytes(conn)?;

    let mut fresh = db.conn()?;
    let pid = db::scalar(
        &mut fresh,
        "SELECT pg_catalog.pg_backend_pid()::float8 AS v",
    )?;
    let floor = v == Variant::Floor;
    let statement = match case.op {
        Op::Insert => rows_sql(t, case.rows, case.width),
        Op::Update => format!("UPDATE {t} SET title = title || 'x', score = score + 1"),
        Op::Delete => format!("DELETE FROM {t}"),
    };
    let copy = match case.op {
        Op::Insert => floor_copy_where("insert", "true"),
        Op::Update => floor_copy_where("update", "true"),
        Op::Delete => floor_copy_where("delete", "true"),
    };
    let ms = fresh.transaction(|c| {
        let start = Instant::now();
        // The floor copies a delete's rows before deleting them, and an insert's or an
        // update's after writing them.
        if floor && case.op == Op::Delete {
            c.batch_execute(&copy)?;
        }
        c.batch_execute(&statement)?;
        if floor && case.op != Op::Delete {
            c.batch_execute(&copy)?;
        }
        QueryResult::Ok(start.elapsed().as_secs_f64() * 1e3)
    })?;
    let peak = peak_mb(&mut fresh)?;
    if let Some(events) = v.events_table() {
        let written = db::scalar(
            &mut fresh,
            &format!("SELECT count(*)::float8 AS v FROM {events}"),
        )?;
        if written as i64 != case.rows {
            return Err(Error::Check(format!(
                "{} wrote {written} events for a {}-row statement",
                v.name(),
                case.rows
            )));
        }
    }
    drop(fresh);
    wait_gone(conn, pid)?;
    let temp = temp_bytes(conn)? - temp0;
    record(case.keys[0], ms);
    record(case.keys[1], peak);
    record(case.keys[2], temp / 1e6);
    // Leave the disk as it was: these tables are large.
    reset(conn, v)?;
    conn.batch_execute(&format!("VACUUM {t}"))?;
    Ok(())
}

/// Which of the scale phase's cases run, and how often.
#[derive(Clone, Copy, Debug)]
pub struct ScaleOptions {
    /// Repetitions: each runs every case, with the three variants in turn.
    pub reps: usize,
    /// Only cases of at most this many rows.
    pub max_rows: i64,
}

/// The scale phase: every case (of at most `max_rows` rows), the three variants in turn,
/// `reps` times; `record` gets the row, variant, repetition and value.
pub fn run(
    db: &BenchDb,
    conn: &mut PgConnection,
    smoke_run: bool,
    options: ScaleOptions,
    record: &mut dyn FnMut(&'static str, Variant, usize, f64),
) -> Result<(), Error> {
    for rep in 0..options.reps {
        for case in CASES.iter().filter(|c| c.rows <= options.max_rows) {
            let case = if smoke_run { smoke(*case) } else { *case };
            for v in VARIANTS {
                let started = Instant::now();
                measure(db, conn, case, v, &mut |row, value| {
                    record(row, v, rep, value)
                })?;
                eprintln!(
                    "scale: {:?} {} rows x {} B, {}: {:.1} s",
                    case.op,
                    case.rows,
                    case.width,
                    v.name(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    Ok(())
}
