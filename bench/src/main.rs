//! `pghistory-diesel-bench`: what history tracking costs, measured.
//!
//! Every figure is taken for five tables of the same shape (`id bigint identity, title
//! varchar(200), body text, score int`): untracked; the **floor** (the untracked statement
//! plus one plain `INSERT ... SELECT` of the same rows into an events table made by our
//! generator, same transaction, no trigger); tracked; tracked with `fields(id, title)`;
//! tracked with `context = json`. Each outside and inside a context. The variants are
//! interleaved in every repetition; the table shows medians and the ratios to untracked and
//! to the floor, and `bench-results/` gets CSV and JSON.
//!
//! Run it with `scripts/bench` (a throwaway server with PostgreSQL's default settings), or
//! with `DATABASE_URL` set: it creates, and drops, a database of its own on that server.

mod async_ops;
mod cpu;
mod db;
mod error;
mod ops;
mod report;
mod scale;
mod schema;
mod variant;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, Instant};

use diesel::PgConnection;

use crate::db::BenchDb;
use crate::error::Error;
use crate::ops::{Single, Sizes};
use crate::report::Sample;
use crate::variant::{Mode, Variant};

/// Command-line help.
pub const USAGE: &str =
    "usage: pghistory-diesel-bench [--smoke] [--reps N] [--rows N] [--loop-rows N]
                              [--duration-ms N] [--phases bulk,loop,single,concurrent,cpu,scale]
                              [--cpu-copies N] [--out DIR]
  --smoke        tiny sizes, one repetition: checks that every measurement runs
  --reps N       repetitions, median taken (default 3)
  --rows N       rows of each bulk statement (default 100000)
  --loop-rows N  statements of each server-side loop (default 50000)
  --duration-ms  duration of each single-row / concurrent measurement (default 1000),
                 taken in 5 slices with the variants in turn
  --phases LIST  which measurements to run (default: all but scale; cpu needs valgrind and
                 the server's binaries, and is skipped with a warning when not asked for by name)
  scale          the same as --phases scale: single statements of 100k rows (narrow and
                 ~1 KB), 1.2M x 1 KB (more than 1 GB) and 10M narrow rows, untracked, floor
                 and tracked, with each backend's peak memory and temp files (about 30 min,
                 15 GB of disk at most)
  --cpu-copies N valgrind runs at once in the cpu phase (default 2)
  --out DIR      where the CSV and JSON go (default bench-results)";

/// Which groups of measurements run.
#[derive(Clone, Debug)]
struct Phases {
    bulk: bool,
    looped: bool,
    single: bool,
    concurrent: bool,
    cpu: bool,
    /// Opt-in: never part of the default run.
    scale: bool,
}

/// Parsed arguments.
#[derive(Clone, Debug)]
struct Config {
    smoke: bool,
    reps: usize,
    sizes: Sizes,
    phases: Phases,
    /// `--phases` named the cpu phase: failing to run it is an error, not a warning.
    cpu_required: bool,
    cpu_sizes: cpu::CpuSizes,
    cpu_copies: usize,
    out: PathBuf,
}

fn parse_args(args: &[String]) -> Result<Config, Error> {
    let smoke = args.iter().any(|a| a == "--smoke");
    let mut config = Config {
        smoke,
        reps: if smoke { 1 } else { 3 },
        sizes: Sizes {
            rows: if smoke { 300 } else { 100_000 },
            loop_rows: if smoke { 200 } else { 50_000 },
            pool_rows: if smoke { 2_000 } else { 30_000 },
            duration: Duration::from_millis(if smoke { 100 } else { 1000 }),
            slices: if smoke { 1 } else { 5 },
            chunk: if smoke { 100 } else { 10_000 },
            concurrent: 10,
            per_transaction: 3,
        },
        phases: Phases {
            bulk: true,
            looped: true,
            single: true,
            concurrent: true,
            cpu: true,
            scale: false,
        },
        cpu_required: false,
        cpu_sizes: if smoke {
            cpu::CpuSizes {
                loops: (20, 60),
                rows: (20, 60),
            }
        } else {
            cpu::CpuSizes {
                loops: (200, 1000),
                rows: (1000, 5000),
            }
        },
        cpu_copies: 2,
        out: PathBuf::from("bench-results"),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| Error::Usage(format!("{arg} needs a value")))
        };
        let number = |text: String| {
            text.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::Usage(format!("{arg} needs a positive number, not `{text}`")))
        };
        match arg.as_str() {
            "--smoke" => {}
            "scale" => {
                config.phases = Phases {
                    bulk: false,
                    looped: false,
                    single: false,
                    concurrent: false,
                    cpu: false,
                    scale: true,
                };
            }
            "--reps" => config.reps = number(value()?)? as usize,
            "--rows" => config.sizes.rows = number(value()?)? as i64,
            "--loop-rows" => config.sizes.loop_rows = number(value()?)? as i64,
            "--duration-ms" => config.sizes.duration = Duration::from_millis(number(value()?)?),
            "--out" => config.out = PathBuf::from(value()?),
            "--cpu-copies" => config.cpu_copies = number(value()?)? as usize,
            "--phases" => {
                let list = value()?;
                config.phases = Phases {
                    bulk: false,
                    looped: false,
                    single: false,
                    concurrent: false,
                    cpu: false,
                    scale: false,
                };
                for phase in list.split(',') {
                    match phase {
                        "bulk" => config.phases.bulk = true,
                        "loop" => config.phases.looped = true,
                        "single" => config.phases.single = true,
                        "concurrent" => config.phases.concurrent = true,
                        "cpu" => {
                            config.phases.cpu = true;
                            config.cpu_required = true;
                        }
                        "scale" => config.phases.scale = true,
                        other => {
                            return Err(Error::Usage(format!(
                                "unknown phase `{other}`; expected bulk, loop, single, concurrent, cpu or scale"
                            )))
                        }
                    }
                }
            }
            "-h" | "--help" => return Err(Error::Usage("help".to_owned())),
            other => return Err(Error::Usage(format!("unexpected argument `{other}`"))),
        }
    }
    config.sizes.pool_rows = config.sizes.pool_rows.max(config.sizes.loop_rows);
    Ok(config)
}

/// Records samples of `variant` in `mode` at repetition `rep`.
fn recorder(
    samples: &mut Vec<Sample>,
    variant: Variant,
    mode: Mode,
    rep: usize,
) -> impl FnMut(&'static str, f64) + '_ {
    move |row, value| {
        samples.push(Sample {
            row,
            mode,
            variant,
            rep,
            value,
        })
    }
}

type Measure = fn(
    &mut PgConnection,
    Variant,
    Mode,
    &Sizes,
    &mut dyn FnMut(&'static str, f64),
) -> Result<(), Error>;

fn run(config: &Config) -> Result<(), Error> {
    let url = std::env::var("DATABASE_URL").map_err(|_| Error::NoDatabaseUrl)?;
    let db = BenchDb::create(&url)?;
    let mut conn = db.conn()?;
    let s = &config.sizes;
    let mut samples: Vec<Sample> = Vec::new();
    let started = Instant::now();

    for rep in 0..config.reps {
        if config.phases.bulk || config.phases.looped {
            let mut measures: Vec<Measure> = Vec::new();
            if config.phases.bulk {
                measures.extend([
                    ops::bulk_insert_select as Measure,
                    ops::bulk_insert_values,
                    ops::bulk_update,
                    ops::bulk_delete,
                ]);
            }
            if config.phases.looped {
                measures.extend([ops::loop_insert as Measure, ops::loop_update]);
            }
            for measure in measures {
                for mode in Mode::ALL {
                    for v in Variant::ALL {
                        measure(
                            &mut conn,
                            v,
                            mode,
                            s,
                            &mut recorder(&mut samples, v, mode, rep),
                        )?;
                    }
                }
            }
        }
        if config.phases.single {
            for mode in Mode::ALL {
                for v in Variant::ALL {
                    ops::single_prepare(&mut conn, v, s)?;
                }
                let next_delete: Vec<AtomicI64> =
                    Variant::ALL.iter().map(|_| AtomicI64::new(1)).collect();
                // Each slice records a sample; the table shows the median over slices and
                // repetitions.
                for op in Single::ALL {
                    for clients in [1, 2] {
                        for _ in 0..s.slices {
                            for (i, v) in Variant::ALL.into_iter().enumerate() {
                                ops::single(
                                    &db,
                                    v,
                                    mode,
                                    (op, clients),
                                    s,
                                    &next_delete[i],
                                    &mut recorder(&mut samples, v, mode, rep),
                                )?;
                            }
                        }
                    }
                }
                for clients in [1, 2] {
                    for _ in 0..s.slices {
                        for v in Variant::ALL {
                            async_ops::insert_throughput(
                                &db,
                                v,
                                mode,
                                clients,
                                s.slice(),
                                &mut recorder(&mut samples, v, mode, rep),
                            )?;
                        }
                    }
                }
            }
        }
        if config.phases.concurrent {
            for shared in [true, false] {
                for v in (0..s.slices).flat_map(|_| Variant::ALL) {
                    ops::concurrent_contexts(
                        &db,
                        v,
                        shared,
                        s,
                        &mut recorder(&mut samples, v, Mode::Inside, rep),
                    )?;
                }
            }
        }
        eprintln!(
            "repetition {} of {} done ({:.0} s)",
            rep + 1,
            config.reps,
            started.elapsed().as_secs_f64()
        );
    }

    if config.phases.scale {
        scale::run(&db, &mut conn, config.smoke, &mut |row, variant, value| {
            samples.push(Sample {
                row,
                mode: Mode::Outside,
                variant,
                rep: 0,
                value,
            })
        })?;
        eprintln!(
            "scale phase done ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }

    if config.phases.cpu {
        match count_cpu(config, &db, &mut conn, &mut samples) {
            Ok(()) => eprintln!("cpu phase done ({:.0} s)", started.elapsed().as_secs_f64()),
            Err(err) if !config.cpu_required => {
                eprintln!("warning: cpu phase skipped: {err}");
            }
            Err(err) => return Err(err),
        }
    }

    let summaries = report::summarize(&samples);
    let server: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>("version()"))
        .get_result(&mut conn)?;
    let table = report::table(&summaries);
    println!(
        "pghistory-diesel benchmark: {} rows per bulk statement, {} statements per loop, {} ms per single-row run, {} concurrent transactions; median of {} repetition(s); {}",
        s.rows,
        s.loop_rows,
        s.duration.as_millis(),
        s.concurrent,
        config.reps,
        server
    );
    println!("ratios: for tps below 1 is slower, for everything else above 1 is slower; ctx = inside a context\n");
    println!("{table}");
    println!("inside a context ÷ outside, per variant:\n");
    println!("{}", report::context_table(&summaries));
    let stem = format!(
        "bench-{}{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        if config.smoke { "-smoke" } else { "" }
    );
    let config_json = serde_json::json!({
        "smoke": config.smoke,
        "reps": config.reps,
        "rows": s.rows,
        "loop_rows": s.loop_rows,
        "pool_rows": s.pool_rows,
        "duration_ms": s.duration.as_millis() as u64,
        "chunk": s.chunk,
        "concurrent": s.concurrent,
        "per_transaction": s.per_transaction,
        "server": server,
        "seconds": started.elapsed().as_secs_f64(),
    });
    let path = report::write_files(&config.out, &stem, config_json, &samples, &summaries)?;
    println!("results written to {}", path.display());
    Ok(())
}

/// The cpu phase: instruction counts on copies of the benchmark's database. Counts are
/// deterministic, so it runs once whatever `--reps` says. The smoke run counts one loop
/// for two variants, enough to keep the phase from rotting.
fn count_cpu(
    config: &Config,
    db: &BenchDb,
    conn: &mut PgConnection,
    samples: &mut Vec<Sample>,
) -> Result<(), Error> {
    let server_num = db::scalar(
        conn,
        "SELECT pg_catalog.current_setting('server_version_num')::float8 AS v",
    )?;
    let major = (server_num / 10_000.0) as u32;
    let url = std::env::var("DATABASE_URL").map_err(|_| Error::NoDatabaseUrl)?;
    let jobs: Vec<cpu::Job> = if config.smoke {
        [Variant::Untracked, Variant::Tracked]
            .into_iter()
            .map(|variant| cpu::Job {
                op: cpu::CpuOp::LoopInsert,
                variant,
                mode: Mode::Outside,
            })
            .collect()
    } else {
        let mut jobs = Vec::new();
        for op in cpu::CpuOp::ALL {
            for mode in Mode::ALL {
                for variant in Variant::ALL {
                    jobs.push(cpu::Job { op, variant, mode });
                }
            }
        }
        jobs
    };
    let copies = config.cpu_copies.min(jobs.len()).max(1);
    let lab = cpu::Lab::new(&url, &db.name, major, copies)?;
    lab.run(&jobs, config.cpu_sizes, &mut |job, value| {
        samples.push(Sample {
            row: job.op.row(),
            mode: job.mode,
            variant: job.variant,
            rep: 0,
            value,
        })
    })
}

use diesel::RunQueryDsl as _;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_args(&args).and_then(|config| run(&config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Usage(msg)) if msg == "help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}
