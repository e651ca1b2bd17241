//! The read phase (opt-in: `scripts/bench read`): reading a year of history at scale.
//!
//! Three tracked tables (`read_accounts`, `read_posts`, `read_comments`) get, by set-based
//! SQL straight into their events tables (no trigger runs), `--read-events` events in total
//! (10M by default) and one `pghistory_context` row per ten events (1M): a "request" of ten
//! consecutive events, five on posts, four on comments and one on an account. Events are
//! spread evenly over 2025 in `pgh_id` order, so the heap is in time order as a live events
//! table is. Each object is written once per round: posts have 50 events each, comments 4,
//! accounts 100. Context metadata is `{"user", "url", "method"}`; a fifth of the contexts
//! belong to user 1 (a busy service account), the rest to about ten contexts per user.
//!
//! Each read is timed `--read-reps` times on a connection of its own (after one untimed
//! warm-up that also checks the answer), reported as median and p95 in ms; then run once
//! more on a connection with `auto_explain` (analyze, buffers, JSON) so the plan of the very
//! query the library sent lands in the server log, which the phase reads back with
//! `pg_read_file` (superuser; the log of `scripts/with-postgres` is found next to the data
//! directory, or named by `PGH_BENCH_SERVER_LOG`). The CLI is timed as a whole process, and
//! its plan is taken the same way through `PGOPTIONS`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use pghistory_diesel::history::{as_of, At, Cursor, History};

use crate::db::{self, BenchDb};
use crate::error::Error;
use crate::schema::{read_accounts, read_comments, read_posts};

/// Events per page of the paginated reads.
pub const PAGE: i64 = 50;

/// How large the read phase's history is and how often each read runs.
#[derive(Clone, Copy, Debug)]
pub struct ReadSizes {
    /// Events in total across the three tables (a multiple of ten is used).
    pub events: i64,
    /// Timed runs of each read.
    pub reps: usize,
}

/// One of the three tables: its share of each ten-event request and its events per object.
struct Gen {
    table: &'static str,
    events_table: &'static str,
    /// Slots of each block of ten global events taken by this table: `offset..offset+slots`.
    offset: i64,
    slots: i64,
    per_object: i64,
    /// The data columns and their SQL, in terms of `o` (object), `r` (round) and `k`.
    columns: &'static [(&'static str, &'static str)],
}

const GENS: [Gen; 3] = [
    Gen {
        table: "read_posts",
        events_table: "read_posts_events",
        offset: 0,
        slots: 5,
        per_object: 50,
        columns: &[
            ("account_id", "o % 10000 + 1"),
            ("title", "'Post ' || o || ', revision ' || r"),
            (
                "body",
                "'The body of post ' || o || ' at revision ' || r || '. ' || repeat('Lorem ipsum dolor sit amet. ', 6)",
            ),
            (
                "status",
                "(ARRAY['draft', 'published', 'archived'])[(1 + r % 3)::int]",
            ),
            ("score", "(r * 7 + o % 13)::int"),
        ],
    },
    Gen {
        table: "read_comments",
        events_table: "read_comments_events",
        offset: 5,
        slots: 4,
        per_object: 4,
        columns: &[
            ("post_id", "o % 100000 + 1"),
            ("account_id", "o % 10000 + 1"),
            (
                "body",
                "'Comment ' || o || ', edit ' || r || ': ' || repeat('nice post! ', 4)",
            ),
            ("score", "(r + o % 5)::int"),
        ],
    },
    Gen {
        table: "read_accounts",
        events_table: "read_accounts_events",
        offset: 9,
        slots: 1,
        per_object: 100,
        columns: &[
            ("name", "'Account ' || o"),
            ("email", "'user' || o || '+' || r || '@example.com'"),
            ("plan", "(ARRAY['free', 'team', 'enterprise'])[((1 + (o + r) % 3))::int]"),
            ("active", "r % 10 <> 9"),
        ],
    },
];

/// A prime that walks `0..objects` in a scrambled order (coprime with `objects`).
fn stride(objects: i64) -> i64 {
    [7919_i64, 7927, 7933, 7937]
        .into_iter()
        .find(|p| objects % p != 0)
        .expect("no number is a multiple of all four primes below 8000")
}

/// What was generated, for the reads to aim at and to check against.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Blocks of ten events = contexts.
    pub contexts: i64,
    /// Events in each table: (table, events, objects).
    pub tables: Vec<(&'static str, i64, i64)>,
    /// The post whose timeline is read.
    pub post: i64,
    /// The typical user of the metadata filter.
    pub user: i64,
}

impl Fixture {
    fn new(events: i64) -> Fixture {
        let contexts = (events / 10).max(1);
        let tables = GENS
            .iter()
            .map(|g| {
                let n = contexts * g.slots;
                (g.table, n, (n / g.per_object).max(1))
            })
            .collect::<Vec<_>>();
        let posts = tables[0].2;
        Fixture {
            contexts,
            tables,
            post: posts / 2 + 1,
            user: 42,
        }
    }

    /// Total events.
    pub fn events(&self) -> i64 {
        self.tables.iter().map(|t| t.1).sum()
    }
}

/// Seconds between two consecutive global events, over 365 days.
fn spacing(f: &Fixture) -> f64 {
    365.0 * 86_400.0 / (f.contexts * 10) as f64
}

const YEAR_START: &str = "timestamptz '2025-01-01 00:00:00+00'";

fn events_sql(g: &Gen, f: &Fixture) -> String {
    let (_, n, objects) = *f.tables.iter().find(|t| t.0 == g.table).unwrap();
    let names: Vec<&str> = g.columns.iter().map(|c| c.0).collect();
    let values: Vec<&str> = g.columns.iter().map(|c| c.1).collect();
    format!(
        "INSERT INTO {events} (pgh_created_at, pgh_obj_id, pgh_context_id, pgh_label, id, {names})
         SELECT {YEAR_START} + (((k / {slots}) * 10 + {offset} + k % {slots})::float8 * {spacing}) * interval '1 second',
                o, md5('ctx' || (k / {slots}))::uuid,
                CASE WHEN r = 0 THEN 'insert' ELSE 'update' END, o, {values}
           FROM (SELECT k, k / {objects} AS r, (k % {objects}) * {stride} % {objects} + 1 AS o
                   FROM generate_series(0::bigint, {last}) AS k) AS s
          ORDER BY k",
        events = g.events_table,
        names = names.join(", "),
        values = values.join(", "),
        slots = g.slots,
        offset = g.offset,
        spacing = spacing(f),
        stride = stride(objects),
        last = n - 1,
    )
}

/// The tracked rows as their last events left them (triggers paused by the caller).
fn rows_sql(g: &Gen, f: &Fixture) -> String {
    let (_, n, objects) = *f.tables.iter().find(|t| t.0 == g.table).unwrap();
    let names: Vec<&str> = g.columns.iter().map(|c| c.0).collect();
    let values: Vec<&str> = g.columns.iter().map(|c| c.1).collect();
    format!(
        "INSERT INTO {table} (id, {names})
         SELECT o, {values} FROM generate_series(1::bigint, {objects}) AS o, (SELECT {rounds}::bigint - 1 AS r) AS last",
        table = g.table,
        names = names.join(", "),
        values = values.join(", "),
        rounds = n / objects,
    )
}

fn contexts_sql(f: &Fixture) -> String {
    // About ten contexts per ordinary user; h scrambles the block number.
    let users = (f.contexts * 8 / 10 / 10).max(1);
    let posts = f.tables[0].2;
    format!(
        "INSERT INTO public.pghistory_context (id, scope_id, created_at, metadata)
         SELECT md5('ctx' || b)::uuid, md5('ctx' || b)::uuid,
                {YEAR_START} + ((b * 10)::float8 * {spacing}) * interval '1 second',
                jsonb_build_object(
                    'user', CASE WHEN h % 5 = 0 THEN 1 ELSE 2 + (h / 5) % {users} END,
                    'url', '/posts/' || (1 + h % {posts}) || (ARRAY['/edit', '/comments', '', '/publish'])[(1 + (h / 7) % 4)::int],
                    'method', (ARRAY['POST', 'PATCH', 'PUT'])[(1 + (h / 3) % 3)::int])
           FROM (SELECT b, (b * 2654435761) % 4294967291 AS h
                   FROM generate_series(0::bigint, {last}) AS b) AS s
          ORDER BY b",
        spacing = spacing(f),
        last = f.contexts - 1,
    )
}

/// Fills the three tables and the context table, then `VACUUM ANALYZE`s them. Returns the
/// seconds it took.
pub fn generate(conn: &mut PgConnection, f: &Fixture) -> Result<f64, Error> {
    let started = Instant::now();
    // A bulk load builds secondary indexes once, afterwards, rather than row by row (the
    // context id index alone would take 10M random insertions). Primary keys stay: they
    // are constraints.
    let relations: Vec<String> = std::iter::once("pghistory_context".to_owned())
        .chain(GENS.iter().map(|g| g.events_table.to_owned()))
        .collect();
    let secondary: Vec<IndexDef> = diesel::sql_query(
        "SELECT pg_catalog.format('%I.%I', i.schemaname, i.indexname) AS name, i.indexdef AS def
           FROM pg_catalog.pg_indexes i
          WHERE i.schemaname = 'public' AND i.tablename = ANY($1)
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c
                             WHERE c.conindid = pg_catalog.to_regclass(pg_catalog.format('%I.%I', i.schemaname, i.indexname)))",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(&relations)
    .load(conn)?;
    for index in &secondary {
        // The server quoted the name (format %I).
        conn.batch_execute(&format!("DROP INDEX {}", index.name))?;
    }
    conn.batch_execute(&contexts_sql(f))?;
    for g in &GENS {
        conn.batch_execute(&events_sql(g, f))?;
        conn.transaction(|c| {
            c.batch_execute("SELECT public.pghistory_pause('*')")?;
            c.batch_execute(&rows_sql(g, f))
        })?;
    }
    for index in &secondary {
        conn.batch_execute(&index.def)?;
    }
    let mut tables = vec!["public.pghistory_context"];
    for g in &GENS {
        tables.push(g.table);
        tables.push(g.events_table);
    }
    conn.batch_execute(&format!("VACUUM (ANALYZE) {}", tables.join(", ")))?;
    Ok(started.elapsed().as_secs_f64())
}

#[derive(QueryableByName)]
struct IndexDef {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    def: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> Result<i64, Error> {
    Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n)
}

/// The server log, read through `pg_read_file`.
struct ServerLog {
    path: String,
}

#[derive(QueryableByName)]
struct LogText {
    #[diesel(sql_type = Nullable<Text>)]
    t: Option<String>,
}

#[derive(QueryableByName)]
struct LogSize {
    #[diesel(sql_type = Nullable<BigInt>)]
    n: Option<i64>,
}

impl ServerLog {
    /// The log named by `PGH_BENCH_SERVER_LOG`, or `server.log` beside the data directory
    /// (where `scripts/with-postgres` writes it); `None` when it cannot be read.
    fn find(conn: &mut PgConnection) -> Option<ServerLog> {
        let path = match std::env::var("PGH_BENCH_SERVER_LOG") {
            Ok(p) => p,
            Err(_) => {
                let data: LogText =
                    diesel::sql_query("SELECT pg_catalog.current_setting('data_directory') AS t")
                        .get_result(conn)
                        .ok()?;
                let data = PathBuf::from(data.t?);
                data.parent()?.join("server.log").to_str()?.to_owned()
            }
        };
        let log = ServerLog { path };
        log.size(conn).ok().flatten().map(|_| log)
    }

    fn size(&self, conn: &mut PgConnection) -> QueryResult<Option<i64>> {
        Ok(
            diesel::sql_query("SELECT (pg_catalog.pg_stat_file($1, true)).size AS n")
                .bind::<Text, _>(&self.path)
                .get_result::<LogSize>(conn)?
                .n,
        )
    }

    /// What was written since `offset`.
    fn since(&self, conn: &mut PgConnection, offset: i64) -> QueryResult<String> {
        let end = self.size(conn)?.unwrap_or(offset);
        if end <= offset {
            return Ok(String::new());
        }
        Ok(
            diesel::sql_query("SELECT pg_catalog.pg_read_file($1, $2, $3) AS t")
                .bind::<Text, _>(&self.path)
                .bind::<BigInt, _>(offset)
                .bind::<BigInt, _>(end - offset)
                .get_result::<LogText>(conn)?
                .t
                .unwrap_or_default(),
        )
    }
}

/// One plan `auto_explain` logged.
#[derive(Clone, Debug)]
pub struct Logged {
    /// The statement's duration as logged (with the cost of instrumentation).
    pub ms: f64,
    /// Backend pid of the log line.
    pub pid: Option<i64>,
    /// `{"Query Text": ..., "Plan": ...}`.
    pub json: serde_json::Value,
}

/// The `auto_explain` entries (JSON format) of a stretch of the server log.
pub fn parse_log(text: &str) -> Vec<Logged> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(at) = line.find("LOG:  duration: ") else {
            continue;
        };
        if !line.trim_end().ends_with("plan:") {
            continue;
        }
        let ms = line[at + "LOG:  duration: ".len()..]
            .split_whitespace()
            .next()
            .and_then(|m| m.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
        let pid = line[..at]
            .rsplit_once('[')
            .and_then(|(_, rest)| rest.split(']').next())
            .and_then(|p| p.trim().parse::<i64>().ok());
        let mut body = String::new();
        while let Some(next) = lines.peek() {
            if let Some(rest) = next.strip_prefix('\t') {
                body.push_str(rest);
                body.push('\n');
                lines.next();
            } else {
                break;
            }
        }
        if let Ok(json) = serde_json::from_str(&body) {
            out.push(Logged { ms, pid, json });
        }
    }
    out
}

/// What a plan did, in short.
#[derive(Clone, Debug, Default)]
pub struct PlanSummary {
    /// Every scan: (node type, relation, index).
    pub scans: Vec<(String, String, Option<String>)>,
    /// Rows of the top node.
    pub rows: f64,
    /// Shared buffers hit and read, whole plan.
    pub hit: f64,
    pub read: f64,
    /// Sequential scans of a large table (an events table or the context table).
    pub big_seq_scans: Vec<String>,
}

impl PlanSummary {
    /// One line: `Index Scan read_posts_events_pkey; rows 50; buffers 54 hit, 0 read`.
    pub fn line(&self) -> String {
        let mut scans: Vec<String> = Vec::new();
        for (node, rel, index) in &self.scans {
            let s = match index {
                Some(i) => format!("{node} {i}"),
                None => format!("{node} {rel}"),
            };
            if !scans.contains(&s) {
                scans.push(s);
            }
        }
        format!(
            "{}; rows {}; buffers {} hit, {} read",
            scans.join(", "),
            self.rows,
            self.hit,
            self.read
        )
    }
}

fn big(relation: &str) -> bool {
    relation.ends_with("_events") || relation == "pghistory_context"
}

fn walk(node: &serde_json::Value, s: &mut PlanSummary) {
    let node_type = node["Node Type"].as_str().unwrap_or("?").to_owned();
    let index = node["Index Name"].as_str().map(str::to_owned);
    if let Some(rel) = node["Relation Name"].as_str() {
        if node_type == "Seq Scan" && big(rel) {
            s.big_seq_scans.push(rel.to_owned());
        }
        s.scans.push((node_type, rel.to_owned(), index));
    } else if index.is_some() {
        // A Bitmap Index Scan names its index only; its heap scan is the parent.
        s.scans.push((node_type, String::new(), index));
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        walk(child, s);
    }
}

/// Summarises the `"Plan"` of an `auto_explain` entry.
pub fn summarize_plan(entry: &serde_json::Value) -> PlanSummary {
    let plan = &entry["Plan"];
    let mut s = PlanSummary {
        rows: plan["Actual Rows"].as_f64().unwrap_or(f64::NAN),
        hit: plan["Shared Hit Blocks"].as_f64().unwrap_or(0.0),
        read: plan["Shared Read Blocks"].as_f64().unwrap_or(0.0),
        ..PlanSummary::default()
    };
    walk(plan, &mut s);
    s
}

/// The plan as an indented tree, one node a line with its actual rows, loops, time and
/// buffers, and its conditions.
pub fn render_plan(entry: &serde_json::Value) -> String {
    fn node(n: &serde_json::Value, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let mut head = n["Node Type"].as_str().unwrap_or("?").to_owned();
        if let Some(dir) = n["Scan Direction"].as_str().filter(|d| *d == "Backward") {
            head = format!("{head} {dir}");
        }
        if let Some(i) = n["Index Name"].as_str() {
            head = format!("{head} using {i}");
        }
        if let Some(r) = n["Relation Name"].as_str() {
            head = format!("{head} on {r}");
        }
        let f = |k: &str| n[k].as_f64().unwrap_or(0.0);
        out.push_str(&format!(
            "{pad}{head}  (rows={} loops={} time={:.3} ms, buffers hit={} read={})\n",
            f("Actual Rows"),
            f("Actual Loops"),
            f("Actual Total Time"),
            f("Shared Hit Blocks"),
            f("Shared Read Blocks")
        ));
        for key in [
            "Index Cond",
            "Recheck Cond",
            "Filter",
            "Rows Removed by Filter",
            "Join Filter",
            "Hash Cond",
            "Sort Key",
            "Exact Heap Blocks",
        ] {
            if let Some(v) = n.get(key).filter(|v| !v.is_null()) {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push_str(&format!("{pad}    {key}: {v}\n"));
            }
        }
        for child in n["Plans"].as_array().into_iter().flatten() {
            node(child, depth + 1, out);
        }
    }
    let mut out = String::new();
    node(&entry["Plan"], 0, &mut out);
    out
}

/// A library call; returns the number of events (or rows) it read.
pub type ApiCall<'a> = Box<dyn FnMut(&mut PgConnection) -> Result<usize, Error> + 'a>;

/// How a read runs: through the library on a connection, or as a CLI process.
pub enum Run<'a> {
    /// A library call.
    Api(ApiCall<'a>),
    /// A CLI invocation: the program's arguments; returns the lines it printed.
    Cli(Vec<String>),
}

/// One read of the phase.
pub struct Case<'a> {
    /// Its key in the results, and the name of its plan file.
    pub key: &'static str,
    /// What the table says.
    pub label: String,
    /// What it must return (`None`: anything but nothing).
    pub expect: Option<usize>,
    pub run: Run<'a>,
}

/// One read's figures.
#[derive(Clone, Debug)]
pub struct Measured {
    pub key: &'static str,
    pub label: String,
    pub returned: usize,
    pub runs: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
    /// The main plan (the longest statement logged), if the log could be read.
    pub plan: Option<PlanSummary>,
    /// Statements logged in the plan run.
    pub statements: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    // Nearest rank.
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The CLI next to the benchmark's binary (cargo puts both in the same directory), or
/// `PGH_BENCH_CLI`.
pub fn cli_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PGH_BENCH_CLI") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let cli = exe.parent()?.join("pghistory-diesel");
    cli.exists().then_some(cli)
}

const AUTO_EXPLAIN: &[(&str, &str)] = &[
    ("auto_explain.log_min_duration", "0"),
    ("auto_explain.log_analyze", "on"),
    ("auto_explain.log_buffers", "on"),
    ("auto_explain.log_timing", "on"),
    ("auto_explain.log_format", "json"),
];

fn run_cli(db: &BenchDb, args: &[String], explain: bool) -> Result<usize, Error> {
    let cli = cli_path().ok_or_else(|| {
        Error::Check("the pghistory-diesel CLI is not built next to the benchmark (cargo build -p pghistory-diesel-cli), nor named by PGH_BENCH_CLI".to_owned())
    })?;
    let mut cmd = Command::new(&cli);
    cmd.args(args)
        .env("DATABASE_URL", &db.url)
        .env_remove("PGOPTIONS");
    if explain {
        let mut opts = String::from("-c session_preload_libraries=auto_explain");
        for (k, v) in AUTO_EXPLAIN {
            opts.push_str(&format!(" -c {k}={v}"));
        }
        cmd.env("PGOPTIONS", opts);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(Error::Check(format!(
            "{} {} failed: {}",
            cli.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().count())
}

fn once(
    db: &BenchDb,
    conn: &mut PgConnection,
    run: &mut Run<'_>,
    explain: bool,
) -> Result<(usize, f64), Error> {
    let start = Instant::now();
    let n = match run {
        Run::Api(f) => f(conn)?,
        Run::Cli(args) => run_cli(db, args, explain)?,
    };
    Ok((n, start.elapsed().as_secs_f64() * 1e3))
}

/// Times `case` and captures its plan into `plans_dir`.
/// The phase's connections: timed runs, the `auto_explain` run, and the log reader.
struct Conns {
    timed: PgConnection,
    explained: PgConnection,
    reader: PgConnection,
}

fn measure(
    db: &BenchDb,
    conns: &mut Conns,
    log: Option<&ServerLog>,
    plans_dir: &Path,
    reps: usize,
    mut case: Case<'_>,
) -> Result<Measured, Error> {
    let Conns {
        timed,
        explained,
        reader,
    } = conns;
    let (returned, warm_ms) = once(db, timed, &mut case.run, false)?;
    if case.expect.map_or(returned == 0, |e| e != returned) {
        return Err(Error::Check(format!(
            "{} returned {returned}, expected {:?}",
            case.label, case.expect
        )));
    }
    // A read of seconds (a sequential scan) is timed fewer times.
    let reps = if warm_ms > 2_000.0 { reps.min(3) } else { reps };
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        times.push(once(db, timed, &mut case.run, false)?.1);
    }
    times.sort_by(f64::total_cmp);

    let (mut plan, mut statements) = (None, 0);
    if let Some(log) = log {
        let offset = log.size(reader)?.unwrap_or(0);
        let pid = match case.run {
            Run::Api(_) => Some(db::scalar(
                explained,
                "SELECT pg_catalog.pg_backend_pid()::float8 AS v",
            )? as i64),
            Run::Cli(_) => None,
        };
        // The pid query above is logged too; only what follows the offset taken after it
        // belongs to the read.
        let offset = if pid.is_some() {
            log.size(reader)?.unwrap_or(offset)
        } else {
            offset
        };
        once(db, explained, &mut case.run, true)?;
        let entries: Vec<Logged> = parse_log(&log.since(reader, offset)?)
            .into_iter()
            .filter(|e| pid.is_none() || e.pid == pid)
            .collect();
        statements = entries.len();
        let mut text = String::new();
        for (i, e) in entries.iter().enumerate() {
            text.push_str(&format!(
                "-- statement {} of {}, {:.3} ms (with instrumentation)\n-- {}\n{}\n",
                i + 1,
                entries.len(),
                e.ms,
                e.json["Query Text"]
                    .as_str()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                render_plan(&e.json)
            ));
        }
        let json: Vec<&serde_json::Value> = entries.iter().map(|e| &e.json).collect();
        write(
            &plans_dir.join(format!("{}.json", case.key)),
            &serde_json::to_string_pretty(&json).expect("JSON serialises"),
        )?;
        write(&plans_dir.join(format!("{}.txt", case.key)), &text)?;
        plan = entries
            .iter()
            .max_by(|a, b| a.ms.total_cmp(&b.ms))
            .map(|e| summarize_plan(&e.json));
    }
    Ok(Measured {
        key: case.key,
        label: case.label,
        returned,
        runs: times.len(),
        median_ms: median(&times),
        p95_ms: percentile(&times, 0.95),
        plan,
        statements,
    })
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// The reads, against `f`.
fn cases(conn: &mut PgConnection, f: &Fixture) -> Result<Vec<Case<'static>>, Error> {
    let post = f.post;
    let post_events = count(
        conn,
        &format!("SELECT count(*) AS n FROM read_posts_events WHERE pgh_obj_id = {post}"),
    )?;
    // The scope of the request in the middle of the year.
    let block = f.contexts / 2;
    #[derive(QueryableByName)]
    struct Scope {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let scope = diesel::sql_query("SELECT md5('ctx' || $1)::uuid AS id")
        .bind::<BigInt, _>(block)
        .get_result::<Scope>(conn)?
        .id;
    let scope_events = count(
        conn,
        &format!(
            "SELECT ((SELECT count(*) FROM read_posts_events WHERE pgh_context_id = md5('ctx' || {block})::uuid)
                   + (SELECT count(*) FROM read_comments_events WHERE pgh_context_id = md5('ctx' || {block})::uuid)
                   + (SELECT count(*) FROM read_accounts_events WHERE pgh_context_id = md5('ctx' || {block})::uuid)) AS n"
        ),
    )?;
    // What the metadata filter's first page holds: at most a page of one user's events.
    let user_events = |conn: &mut PgConnection, user: i64| {
        count(
            conn,
            &format!(
                "SELECT count(*) AS n FROM (SELECT 1 FROM (
                        SELECT pgh_context_id FROM read_posts_events
                        UNION ALL SELECT pgh_context_id FROM read_comments_events
                        UNION ALL SELECT pgh_context_id FROM read_accounts_events) e
                   JOIN public.pghistory_context c ON c.id = e.pgh_context_id
                  WHERE c.metadata @> '{{\"user\": {user}}}' LIMIT {PAGE}) AS p"
            ),
        )
    };
    let typical = user_events(conn, f.user)?;
    let shared = user_events(conn, 1)?;
    let all = || {
        History::new()
            .across::<read_posts::table>()
            .across::<read_comments::table>()
            .across::<read_accounts::table>()
    };
    // Page 1,000's cursor, reached by walking the pages before it (not timed).
    let deep = (f.events() / PAGE - 1).clamp(1, 1000);
    let mut cursor: Option<Cursor> = None;
    for _ in 1..deep {
        let mut q = all().newest_first().limit(PAGE as usize);
        if let Some(c) = &cursor {
            q = q.after(c);
        }
        cursor = q.page(conn)?.next;
    }
    let cursor = cursor.ok_or_else(|| Error::Check(format!("the timeline has no page {deep}")))?;
    let user = f.user;
    // The post's middle event: `as_of` by its id and by its time reads the row as it was.
    #[derive(QueryableByName)]
    struct Middle {
        #[diesel(sql_type = BigInt)]
        pgh_id: i64,
        #[diesel(sql_type = diesel::sql_types::Timestamptz)]
        pgh_created_at: chrono::DateTime<chrono::Utc>,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let middle = diesel::sql_query(
        "SELECT pgh_id, pgh_created_at, pgh_label <> 'delete' AS exists FROM read_posts_events
          WHERE pgh_obj_id = $1 ORDER BY pgh_id OFFSET $2 LIMIT 1",
    )
    .bind::<BigInt, _>(post)
    .bind::<BigInt, _>(post_events / 2)
    .get_result::<Middle>(conn)?;
    let (middle_id, middle_time) = (middle.pgh_id, middle.pgh_created_at);
    let cases = vec![
        Case {
            key: "object_timeline",
            label: format!(
                "one object's timeline (post {post}, {post_events} events, oldest first)"
            ),
            expect: Some(post_events as usize),
            run: Run::Api(Box::new(move |c| {
                Ok(History::new()
                    .tracks::<read_posts::table>(post)
                    .load(c)?
                    .len())
            })),
        },
        Case {
            key: "global_page_1",
            label: format!("global timeline, page 1 ({PAGE} events, newest first)"),
            expect: Some(PAGE as usize),
            run: Run::Api(Box::new(move |c| {
                Ok(all()
                    .newest_first()
                    .limit(PAGE as usize)
                    .page(c)?
                    .events
                    .len())
            })),
        },
        Case {
            key: "global_page_deep",
            label: format!(
                "global timeline, page {} ({PAGE} events, newest first, after a cursor)",
                deep
            ),
            expect: Some(PAGE as usize),
            run: Run::Api(Box::new(move |c| {
                Ok(all()
                    .newest_first()
                    .after(&cursor)
                    .limit(PAGE as usize)
                    .page(c)?
                    .events
                    .len())
            })),
        },
        Case {
            key: "metadata_user",
            label: format!("metadata filter {{\"user\": {user}}}, page 1 (a typical user)"),
            expect: Some(typical as usize),
            run: Run::Api(Box::new(move |c| {
                Ok(all()
                    .metadata_contains(serde_json::json!({ "user": user }))
                    .newest_first()
                    .limit(PAGE as usize)
                    .page(c)?
                    .events
                    .len())
            })),
        },
        Case {
            key: "metadata_shared_user",
            label: "metadata filter {\"user\": 1}, page 1 (the user of 20% of contexts)".to_owned(),
            expect: Some(shared as usize),
            run: Run::Api(Box::new(move |c| {
                Ok(all()
                    .metadata_contains(serde_json::json!({ "user": 1 }))
                    .newest_first()
                    .limit(PAGE as usize)
                    .page(c)?
                    .events
                    .len())
            })),
        },
        Case {
            key: "as_of_event",
            label: format!("as_of one row at an event id (post {post}, event {middle_id})"),
            expect: Some(usize::from(middle.exists)),
            run: Run::Api(Box::new(move |c| {
                Ok(usize::from(
                    as_of::<read_posts::table>(c, post, At::Event(middle_id))?.is_some(),
                ))
            })),
        },
        Case {
            key: "as_of_time",
            label: format!("as_of one row at a time (post {post}, {middle_time})"),
            // The generator writes no deletes: the row exists after its first event.
            expect: Some(1),
            run: Run::Api(Box::new(move |c| {
                Ok(usize::from(
                    as_of::<read_posts::table>(c, post, At::Time(middle_time))?.is_some(),
                ))
            })),
        },
        Case {
            key: "context_timeline",
            label: format!("one context's events, 3 tables ({scope_events} events)"),
            expect: Some(scope_events as usize),
            run: Run::Api(Box::new(move |c| {
                Ok(all().in_context(scope).load(c)?.len())
            })),
        },
        Case {
            key: "cli_log",
            label: format!("CLI `pghistory-diesel log read_posts {post} --json` (whole process)"),
            expect: Some(post_events as usize),
            run: Run::Cli(vec![
                "log".to_owned(),
                "read_posts".to_owned(),
                post.to_string(),
                "--json".to_owned(),
                "--schema".to_owned(),
                // The CLI reads the tracked tables from the benchmark's schema.rs.
                concat!(env!("CARGO_MANIFEST_DIR"), "/src/schema.rs").to_owned(),
            ]),
        },
    ];
    Ok(cases)
}

/// The phase's results: a table for the terminal and JSON for the results file.
pub struct ReadReport {
    pub table: String,
    pub json: serde_json::Value,
}

/// The read phase: generate, then time and explain every read. Plans go to `plans_dir`.
pub fn run(
    db: &BenchDb,
    conn: &mut PgConnection,
    sizes: ReadSizes,
    plans_dir: &Path,
) -> Result<ReadReport, Error> {
    let f = Fixture::new(sizes.events);
    for g in &GENS {
        for table in [g.table, g.events_table] {
            conn.batch_execute(&format!(
                "ALTER TABLE {table} SET (autovacuum_enabled = false)"
            ))?;
        }
    }
    let gen_s = generate(conn, &f)?;
    let events = count(
        conn,
        "SELECT ((SELECT count(*) FROM read_posts_events) + (SELECT count(*) FROM read_comments_events)
               + (SELECT count(*) FROM read_accounts_events)) AS n",
    )?;
    let contexts = count(conn, "SELECT count(*) AS n FROM public.pghistory_context")?;
    if events != f.events() || contexts != f.contexts {
        return Err(Error::Check(format!(
            "generated {events} events and {contexts} contexts, meant {} and {}",
            f.events(),
            f.contexts
        )));
    }
    let size_mb = db::scalar(
        conn,
        "SELECT (pg_catalog.pg_database_size(pg_catalog.current_database()) / 1e6)::float8 AS v",
    )?;
    eprintln!(
        "read: generated {events} events and {contexts} contexts in {gen_s:.1} s ({size_mb:.0} MB database)"
    );
    std::fs::create_dir_all(plans_dir).map_err(|source| Error::Io {
        path: plans_dir.to_owned(),
        source,
    })?;
    let mut conns = Conns {
        timed: db.conn()?,
        explained: db.conn()?,
        reader: db.conn()?,
    };
    let log = ServerLog::find(&mut conns.reader);
    if log.is_none() {
        eprintln!("warning: read: the server log cannot be read (set PGH_BENCH_SERVER_LOG); no plans captured");
    }
    let mut setup = String::from("LOAD 'auto_explain';");
    for (k, v) in AUTO_EXPLAIN {
        setup.push_str(&format!(" SET {k} = {v};"));
    }
    conns.explained.batch_execute(&setup)?;

    let mut results = Vec::new();
    for case in cases(conn, &f)? {
        let started = Instant::now();
        let m = measure(db, &mut conns, log.as_ref(), plans_dir, sizes.reps, case)?;
        eprintln!(
            "read: {}: median {:.2} ms, p95 {:.2} ms ({:.1} s)",
            m.label,
            m.median_ms,
            m.p95_ms,
            started.elapsed().as_secs_f64()
        );
        results.push(m);
    }

    let mut table = format!(
        "read phase: {events} events in 3 tables, {contexts} contexts, generated in {gen_s:.1} s ({size_mb:.0} MB); {} timed runs each\n\n",
        sizes.reps
    );
    table.push_str("| read | returned | median ms | p95 ms | plan (main statement) |\n|---|---:|---:|---:|---|\n");
    for m in &results {
        table.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {} |\n",
            m.label,
            m.returned,
            m.median_ms,
            m.p95_ms,
            m.plan
                .as_ref()
                .map_or_else(|| "not captured".to_owned(), PlanSummary::line)
        ));
    }
    let json = serde_json::json!({
        "events": events,
        "contexts": contexts,
        "generate_s": gen_s,
        "database_mb": size_mb,
        "reps": sizes.reps,
        "plans_dir": plans_dir.display().to_string(),
        "reads": results.iter().map(|m| serde_json::json!({
            "key": m.key,
            "label": m.label,
            "returned": m.returned,
            "runs": m.runs,
            "median_ms": m.median_ms,
            "p95_ms": m.p95_ms,
            "statements": m.statements,
            "plan": m.plan.as_ref().map(|p| serde_json::json!({
                "summary": p.line(),
                "scans": p.scans.iter().map(|(n, r, i)| serde_json::json!({"node": n, "relation": r, "index": i})).collect::<Vec<_>>(),
                "rows": p.rows,
                "shared_hit": p.hit,
                "shared_read": p.read,
                "big_seq_scans": p.big_seq_scans,
            })),
        })).collect::<Vec<_>>(),
    });
    Ok(ReadReport { table, json })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_entry_is_parsed_with_its_duration_and_pid() {
        let log = "2026-12-03 17:00:00.000 UTC [4242] LOG:  duration: 1.250 ms  plan:\n\t{\n\t  \"Query Text\": \"SELECT 1\",\n\t  \"Plan\": {\"Node Type\": \"Result\", \"Actual Rows\": 1}\n\t}\n2026-12-03 17:00:00.001 UTC [4243] LOG:  checkpoint starting\n";
        let entries = parse_log(log);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].pid, Some(4242));
        assert_eq!(entries[0].ms, 1.25);
        assert_eq!(summarize_plan(&entries[0].json).rows, 1.0);
    }

    #[test]
    fn the_fixture_makes_ten_events_per_context() {
        let f = Fixture::new(60_000);
        assert_eq!(f.contexts, 6_000);
        assert_eq!(f.events(), 60_000);
        // Posts: 30k events, 50 per object.
        assert_eq!(f.tables[0], ("read_posts", 30_000, 600));
    }
}
