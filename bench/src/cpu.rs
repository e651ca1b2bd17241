//! Server CPU in instructions: what a statement or a row costs the backend, counted rather
//! than timed.
//!
//! Each measurement runs in a single-user backend (`postgres --single`) under valgrind's
//! callgrind, on a copy of the benchmark's database taken with `pg_basebackup`. A run
//! prepares its tables the same way whatever the size, then runs the measured statement
//! with `n` rows (or `n` loop iterations); two runs with different `n` differ only by the
//! `n` extra rows, so `(total(n2) - total(n1)) / (n2 - n1)` is the cost of one, without
//! backend start-up, preparation or client. Counts do not depend on what else the machine
//! is doing: the same binary and input give the same figure to a fraction of a percent,
//! where the timed rows of this benchmark swing by a third on a busy 2-vCPU VM.
//!
//! JIT is off in these runs (LLVM under valgrind measures valgrind), and the plans are the
//! timed ones' except that bulk updates and deletes read their `n` rows by a sequential
//! scan of a table of `n2` rows, so that the scan itself cancels out of the difference.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::db;
use crate::error::Error;
use crate::ops::{floor_copy_where, generated, loop_insert_sql, loop_update_sql};
use crate::variant::{Mode, Variant};

/// The two sizes of each kind of measurement.
#[derive(Clone, Copy, Debug)]
pub struct CpuSizes {
    /// Loop iterations of the small and the large run.
    pub loops: (i64, i64),
    /// Rows of the small and the large bulk run.
    pub rows: (i64, i64),
}

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuOp {
    /// A `DO` loop of single-row INSERTs: instructions per statement.
    LoopInsert,
    /// A `DO` loop of single-row UPDATEs by primary key: instructions per statement.
    LoopUpdate,
    /// `INSERT ... SELECT generate_series`: instructions per row.
    BulkInsert,
    /// `UPDATE` of title and score: instructions per row.
    BulkUpdate,
    /// `DELETE`: instructions per row.
    BulkDelete,
}

impl CpuOp {
    /// Every measurement, in print order.
    pub const ALL: [CpuOp; 5] = [
        CpuOp::BulkInsert,
        CpuOp::BulkUpdate,
        CpuOp::BulkDelete,
        CpuOp::LoopInsert,
        CpuOp::LoopUpdate,
    ];

    /// The result row.
    pub fn row(self) -> &'static str {
        match self {
            CpuOp::LoopInsert => "cpu_loop_insert",
            CpuOp::LoopUpdate => "cpu_loop_update",
            CpuOp::BulkInsert => "cpu_bulk_insert",
            CpuOp::BulkUpdate => "cpu_bulk_update",
            CpuOp::BulkDelete => "cpu_bulk_delete",
        }
    }

    fn is_loop(self) -> bool {
        matches!(self, CpuOp::LoopInsert | CpuOp::LoopUpdate)
    }
}

/// One counted measurement: its figure is recorded under `op.row()`.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// What.
    pub op: CpuOp,
    /// On which table.
    pub variant: Variant,
    /// Outside or inside a context.
    pub mode: Mode,
}

/// The statements of one run: preparation (identical for both sizes), then the measured
/// line. Each line is one query string, so one transaction, of the single-user backend.
fn script(job: Job, n: i64, populate: i64) -> String {
    let v = job.variant;
    let t = v.table();
    let mut lines = Vec::new();
    let tables: Vec<&str> = std::iter::once(t).chain(v.events_table()).collect();
    lines.push(format!("TRUNCATE {} RESTART IDENTITY", tables.join(", ")));
    if matches!(
        job.op,
        CpuOp::LoopUpdate | CpuOp::BulkUpdate | CpuOp::BulkDelete
    ) {
        lines.push(format!(
            "BEGIN; SELECT public.pghistory_pause('*'); {}; COMMIT",
            generated(t, populate)
        ));
        lines.push(format!("VACUUM (ANALYZE) {t}"));
    }
    // The bulk runs read their rows by a sequential scan in both sizes (see the module
    // docs); the loops look up by primary key as they do when timed.
    if !job.op.is_loop() {
        lines.push("SET enable_indexscan = off".to_owned());
        lines.push("SET enable_bitmapscan = off".to_owned());
    }
    let floor = v == Variant::Floor;
    let measured = match job.op {
        CpuOp::LoopInsert => loop_insert_sql(v, n),
        CpuOp::LoopUpdate => loop_update_sql(v, n),
        CpuOp::BulkInsert if floor => {
            format!(
                "{}; {}",
                generated(t, n),
                floor_copy_where("insert", "true")
            )
        }
        CpuOp::BulkInsert => generated(t, n),
        CpuOp::BulkUpdate => {
            let update =
                format!("UPDATE {t} SET title = title || 'x', score = score + 1 WHERE id <= {n}");
            if floor {
                format!(
                    "{update}; {}",
                    floor_copy_where("update", &format!("id <= {n}"))
                )
            } else {
                update
            }
        }
        CpuOp::BulkDelete => {
            let delete = format!("DELETE FROM {t} WHERE id <= {n}");
            if floor {
                format!(
                    "{}; {delete}",
                    floor_copy_where("delete", &format!("id <= {n}"))
                )
            } else {
                delete
            }
        }
    };
    // The single-user backend takes no bind parameters: the benchmark's own metadata,
    // quoted as a literal.
    let attach = match job.mode {
        Mode::Inside => format!(
            "SELECT pghistory_attach_context(NULL, '{}', true); ",
            db::metadata().to_string().replace('\'', "''")
        ),
        Mode::Outside => String::new(),
    };
    lines.push(format!("{attach}{measured}"));
    // The single-user backend reads one query per line.
    lines
        .iter()
        .map(|l| format!("{}\n", l.replace('\n', " ")))
        .collect()
}

/// Where the server binaries, the copies and valgrind's output live, and who runs them.
pub struct Lab {
    bindir: PathBuf,
    dir: PathBuf,
    database: String,
    /// `runuser -u postgres --` when we are root: the backend refuses to run as root.
    run_as: Vec<String>,
    copies: Vec<PathBuf>,
}

fn command(run_as: &[String], program: &Path) -> Command {
    match run_as.split_first() {
        Some((first, rest)) => {
            let mut cmd = Command::new(first);
            cmd.args(rest).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The server binaries: `$PGH_PG_BINDIR` (which `scripts/with-postgres` sets to the
/// binaries of the server it starts), else `pg_config --bindir`.
fn find_bindir() -> Option<PathBuf> {
    let from_env = std::env::var_os("PGH_PG_BINDIR").map(PathBuf::from);
    let from_pg_config = || {
        let out = Command::new("pg_config").arg("--bindir").output().ok()?;
        Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    };
    from_env
        .or_else(from_pg_config)
        .filter(|d| d.join("postgres").is_file() && d.join("pg_basebackup").is_file())
}

impl Lab {
    /// Copies the server of `url` (which holds `database`) into `copies` fresh data
    /// directories. Errors say what is missing: valgrind, the server binaries, a server
    /// of the binaries' major version, or the right to take a base backup.
    pub fn new(url: &str, database: &str, server_major: u32, copies: usize) -> Result<Lab, Error> {
        let cpu = |msg: String| Error::Cpu(msg);
        let valgrind = Command::new("valgrind").arg("--version").output();
        if !valgrind.map(|o| o.status.success()).unwrap_or(false) {
            return Err(cpu("valgrind is not installed".into()));
        }
        let bindir = find_bindir().ok_or_else(|| {
            cpu(
                "no PostgreSQL server binaries (postgres, pg_basebackup) found; set PGH_PG_BINDIR"
                    .into(),
            )
        })?;
        let version = Command::new(bindir.join("postgres"))
            .arg("--version")
            .output()
            .map_err(|e| cpu(format!("postgres --version: {e}")))?;
        let version = String::from_utf8_lossy(&version.stdout).to_string();
        // `postgres (PostgreSQL) 15.18 (Debian ...)`: the first word that starts with a digit.
        let major: Option<u32> = version
            .split_whitespace()
            .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
            .and_then(|v| v.split('.').next())
            .and_then(|v| v.parse().ok());
        if major != Some(server_major) {
            return Err(cpu(format!(
                "the server is PostgreSQL {server_major} but {} is `{}`",
                bindir.display(),
                version.trim()
            )));
        }
        let run_as: Vec<String> = if is_root() {
            ["runuser", "-u", "postgres", "--"]
                .map(String::from)
                .to_vec()
        } else {
            Vec::new()
        };
        let dir = std::env::temp_dir().join(format!("pghistory-bench-cpu-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        if !run_as.is_empty() {
            let status = Command::new("chown").arg("postgres").arg(&dir).status()?;
            if !status.success() {
                return Err(cpu(format!(
                    "cannot give {} to the postgres user",
                    dir.display()
                )));
            }
        }
        let mut lab = Lab {
            bindir,
            dir,
            database: database.to_owned(),
            run_as,
            copies: Vec::new(),
        };
        for i in 0..copies {
            let data = lab.dir.join(format!("data{i}"));
            let out = command(&lab.run_as, &lab.bindir.join("pg_basebackup"))
                .arg("-d")
                .arg(url)
                .arg("-D")
                .arg(&data)
                .args(["-X", "stream", "-c", "fast"])
                .output()?;
            if !out.status.success() {
                return Err(cpu(format!(
                    "pg_basebackup failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            // A server whose configuration lives outside its data directory (Debian's
            // /etc layout) gives a copy without it; the single-user backend needs the
            // files to exist, and runs on PostgreSQL's defaults.
            for file in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
                let path = data.join(file);
                if !path.exists() {
                    let status = command(&lab.run_as, Path::new("touch"))
                        .arg(&path)
                        .status()?;
                    if !status.success() {
                        return Err(cpu(format!("cannot create {}", path.display())));
                    }
                }
            }
            lab.copies.push(data);
        }
        // The first start of a base backup replays WAL and sets hint bits on the catalog:
        // work that would land in whichever size ran first.
        for copy in 0..lab.copies.len() {
            lab.count(copy, "VACUUM\nCHECKPOINT\n")?;
        }
        Ok(lab)
    }

    /// Instructions the backend executed for `input`, on copy `copy`.
    fn count(&self, copy: usize, input: &str) -> Result<u64, Error> {
        let out_file = self.dir.join(format!("callgrind.{copy}.out"));
        let mut child = command(&self.run_as, Path::new("valgrind"))
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out_file.display()))
            .arg(self.bindir.join("postgres"))
            .arg("--single")
            .arg("-D")
            .arg(&self.copies[copy])
            .args(["-c", "jit=off", "-c", "autovacuum=off"])
            .arg(&self.database)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write as _;
            stdin.write_all(input.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("ERROR:") || l.contains("FATAL:"))
        {
            return Err(Error::Cpu(format!(
                "the single-user backend failed: {line}"
            )));
        }
        let text = std::fs::read_to_string(&out_file)
            .map_err(|e| Error::Cpu(format!("no callgrind output ({e}): {log}")))?;
        let _ = std::fs::remove_file(&out_file);
        text.lines()
            .find_map(|l| {
                l.strip_prefix("totals:")
                    .or_else(|| l.strip_prefix("summary:"))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse().ok())
            })
            .ok_or_else(|| Error::Cpu("callgrind output without totals".into()))
    }

    /// Instructions per statement (loops) or per row (bulk) of `job`.
    fn measure(&self, copy: usize, job: Job, sizes: CpuSizes) -> Result<f64, Error> {
        let (small, large) = if job.op.is_loop() {
            sizes.loops
        } else {
            sizes.rows
        };
        let populate = sizes.loops.1.max(sizes.rows.1);
        let a = self.count(copy, &script(job, small, populate))?;
        let b = self.count(copy, &script(job, large, populate))?;
        Ok((b as f64 - a as f64) / (large - small) as f64)
    }

    /// Runs every job, one per copy at a time, and records each figure.
    pub fn run(
        &self,
        jobs: &[Job],
        sizes: CpuSizes,
        record: &mut dyn FnMut(Job, f64),
    ) -> Result<(), Error> {
        let queue = Mutex::new(jobs.iter().copied().rev().collect::<Vec<Job>>());
        let results = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..self.copies.len())
                .map(|copy| {
                    let queue = &queue;
                    let results = &results;
                    scope.spawn(move || -> Result<(), Error> {
                        loop {
                            let job = match queue.lock().map(|mut q| q.pop()) {
                                Ok(Some(job)) => job,
                                _ => return Ok(()),
                            };
                            let value = self.measure(copy, job, sizes)?;
                            if let Ok(mut r) = results.lock() {
                                r.push((job, value));
                            }
                        }
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Cpu("a counting thread panicked".into())))
            })
        })?;
        let results = results.into_inner().unwrap_or_default();
        for (job, value) in results {
            record(job, value);
        }
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
