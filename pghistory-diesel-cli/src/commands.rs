//! The subcommands: read files, ask codegen for migrations, write folders.

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use pghistory_diesel_codegen::sql::migration::{self, Change, ChangeKind, ExistingMigration};

use crate::cli::{CheckArgs, Cli, Command, CompletionsArgs, GenerateArgs, SetupArgs};
use crate::config::Project;
use crate::error::{Error, SchemaError};
use crate::write;

pub(crate) fn run(cli: &Cli) -> Result<ExitCode, Error> {
    match &cli.command {
        Command::Setup(args) => setup(&Project::discover(cli.global.config_file.as_deref())?, args),
        Command::Generate(args) => {
            generate(&Project::discover(cli.global.config_file.as_deref())?, args)
        }
        Command::Check(args) => check(
            &Project::discover(cli.global.config_file.as_deref())?,
            cli.global.database_url.as_deref(),
            args,
        ),
        Command::Log(args) => {
            let project = Project::discover(cli.global.config_file.as_deref())?;
            let tables = read_schema(&project.schema(args.schema.as_deref()))?;
            let url = cli
                .global
                .database_url
                .as_deref()
                .ok_or(Error::NoDatabaseUrl)?;
            crate::log::log(&tables, url, args)
        }
        Command::Show(args) => crate::show::show(
            &Project::discover(cli.global.config_file.as_deref())?,
            cli.global.database_url.as_deref(),
            args,
        ),
        Command::Completions(args) => Ok(completions(args)),
    }
}

fn setup(project: &Project, args: &SetupArgs) -> Result<ExitCode, Error> {
    let dir = project.migrations_dir(args.migrations.migrations_dir.as_deref());
    report_leftovers(&dir)?;
    let files = migration::setup_files_with(&args.roles());
    let folder = dir.join(&files.dir_name);
    if folder.exists() {
        let read = |name: &str| {
            let path = folder.join(name);
            fs::read_to_string(&path).map_err(Error::io(path))
        };
        if read("up.sql")? == files.up && read("down.sql")? == files.down {
            println!("{} is up to date; nothing written", folder.display());
            return Ok(ExitCode::SUCCESS);
        }
        return Err(Error::SetupDiffers { path: folder });
    }
    let folder = write::write_migration(&dir, &files)?;
    println!("wrote {}", folder.display());
    Ok(ExitCode::SUCCESS)
}

/// Removes what an interrupted run left behind, saying so on stderr.
fn report_leftovers(dir: &Path) -> Result<(), Error> {
    for path in write::remove_leftovers(dir)? {
        eprintln!(
            "warning: removed {}, an unfinished migration left by an interrupted run",
            path.display()
        );
    }
    Ok(())
}

/// The migration folders in `dir` that diesel would run: every folder with an `up.sql`,
/// except hidden ones (diesel skips those, and our unfinished writes are hidden).
fn read_existing(dir: &Path) -> Result<Vec<ExistingMigration>, Error> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io(dir))?;
        let dir_name = entry.file_name().to_string_lossy().into_owned();
        let up = entry.path().join("up.sql");
        if dir_name.starts_with('.') || !up.is_file() {
            continue;
        }
        out.push(ExistingMigration {
            dir_name,
            up: fs::read_to_string(&up).map_err(Error::io(&up))?,
        });
    }
    Ok(out)
}

/// Every mistake in a `syn::Error` (which may combine several), at its place in `path`.
fn schema_errors(path: &Path, err: syn::Error) -> Error {
    Error::Schema(
        err.into_iter()
            .map(|one| {
                let start = one.span().start();
                SchemaError {
                    path: path.to_owned(),
                    line: start.line,
                    column: start.column + 1,
                    message: one.to_string(),
                }
            })
            .collect(),
    )
}

/// The tracked table `name` names: its SQL name, its Rust name, or `schema.table`; else
/// [`Error::UnknownTable`] listing what schema.rs tracks (`log` and `show` share it).
pub(crate) fn find_table<'a>(
    tables: &'a [pghistory_diesel_codegen::TrackedTable],
    name: &str,
) -> Result<&'a pghistory_diesel_codegen::TrackedTable, Error> {
    tables
        .iter()
        .find(|t| {
            t.sql_name == name
                || t.rust_name == name
                || format!("{}.{}", t.schema, t.sql_name) == name
        })
        .ok_or_else(|| Error::UnknownTable {
            table: name.to_owned(),
            known: tables
                .iter()
                .map(|t| format!("{}.{}", t.schema, t.sql_name))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

pub(crate) fn read_schema(
    path: &Path,
) -> Result<Vec<pghistory_diesel_codegen::TrackedTable>, Error> {
    let text = fs::read_to_string(path).map_err(Error::io(path))?;
    let file = syn::parse_file(&text).map_err(|e| schema_errors(path, e))?;
    pghistory_diesel_codegen::tables_in_file(&file).map_err(|e| schema_errors(path, e))
}

fn generate(project: &Project, args: &GenerateArgs) -> Result<ExitCode, Error> {
    let schema = project.schema(args.schema.as_deref());
    let dir = project.migrations_dir(args.migrations.migrations_dir.as_deref());
    let tables = read_schema(&schema)?;
    if args.check {
        // --check writes nothing, so it only names the leftovers; the reader ignores them.
        for path in write::leftovers(&dir)? {
            eprintln!(
                "warning: {} is an unfinished migration left by an interrupted run; ignored (the next `pghistory-diesel generate` removes it)",
                path.display()
            );
        }
    } else {
        report_leftovers(&dir)?;
    }
    let existing = read_existing(&dir)?;
    let version = args
        .version
        .clone()
        .unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d-%H%M%S").to_string());
    let migration::Plan { files, changes } = migration::plan(&tables, &existing, &version);
    let has_setup = existing
        .iter()
        .any(|m| m.dir_name == pghistory_diesel_codegen::sql::setup::MIGRATION_NAME);
    let Some(files) = files else {
        println!(
            "{}: the migrations in {} already install all tracking declared; nothing written",
            schema.display(),
            dir.display()
        );
        if !has_setup && !tables.is_empty() {
            warn_setup_missing(&dir);
        }
        return Ok(ExitCode::SUCCESS);
    };
    if args.check {
        eprintln!(
            "the migrations in {} do not install what {} declares:",
            dir.display(),
            schema.display()
        );
        for change in &changes {
            eprintln!("  {}", describe(change));
        }
        eprintln!("run `pghistory-diesel generate` and commit the new migration");
        return Ok(ExitCode::from(1));
    }
    let folder = write::write_migration(&dir, &files)?;
    println!("wrote {}", folder.display());
    for change in &changes {
        println!("  {}", describe(change));
    }
    if !has_setup {
        warn_setup_missing(&dir);
    }
    Ok(ExitCode::SUCCESS)
}

fn warn_setup_missing(dir: &Path) {
    eprintln!(
        "warning: no setup migration in {}; run `pghistory-diesel setup`",
        dir.display()
    );
}

/// A change, as people read it. The one place that formats changes.
fn describe(change: &Change) -> String {
    let table = format!("{}.{}", change.schema, change.table);
    match &change.kind {
        ChangeKind::Track {
            events_schema,
            events_table,
            events_kept: false,
        } => format!("track {table}: events table {events_schema}.{events_table} and triggers"),
        ChangeKind::Track {
            events_schema,
            events_table,
            events_kept: true,
        } => {
            format!("track {table} again: triggers, history kept in {events_schema}.{events_table}")
        }
        ChangeKind::Update {
            triggers,
            added,
            removed,
            retyped,
            events_moved,
            indexes,
            indexes_dropped,
        } => {
            let mut what = Vec::new();
            if *triggers {
                what.push("triggers".to_owned());
            }
            for (label, columns) in [
                ("new columns", added),
                ("columns no longer written", removed),
                ("retyped columns", retyped),
            ] {
                if !columns.is_empty() {
                    what.push(format!("{label} {}", columns.join(", ")));
                }
            }
            if *events_moved {
                what.push("a new events table".to_owned());
            }
            if !indexes.is_empty() {
                what.push(format!("read indexes {}", indexes.join(", ")));
            }
            if !indexes_dropped.is_empty() {
                what.push(format!("replaced indexes {}", indexes_dropped.join(", ")));
            }
            format!("update tracking of {table}: {}", what.join("; "))
        }
        ChangeKind::Untrack {
            events_schema,
            events_table,
        } => format!(
            "stop tracking {table} (its events table {events_schema}.{events_table} is kept)"
        ),
    }
}

fn completions(args: &CompletionsArgs) -> ExitCode {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// `check`: the runtime's comparison, fed with what schema.rs declares.
fn check(project: &Project, url: Option<&str>, args: &CheckArgs) -> Result<ExitCode, Error> {
    use diesel::Connection;

    let schema = project.schema(args.schema.as_deref());
    let tables = read_schema(&schema)?;
    let url = url.ok_or(Error::NoDatabaseUrl)?;
    let mut conn = diesel::PgConnection::establish(url).map_err(Error::Connect)?;
    let expected: Vec<_> = tables
        .iter()
        .map(pghistory_diesel_codegen::sql::expected::expected)
        .collect();
    let options = pghistory_diesel::check::CheckOptions {
        orphan_events: args.orphan_events,
        allowed_triggers: args.allow_trigger.clone(),
    };
    let findings = pghistory_diesel::check::check_expected(&mut conn, &expected, &options)
        .map_err(Error::Check)?;
    if findings.is_empty() {
        println!(
            "{}: the database installs all tracking declared ({} tables)",
            schema.display(),
            tables.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for finding in &findings {
        println!("{finding}");
    }
    eprintln!(
        "{} drift(s) between {} and the database",
        findings.len(),
        schema.display()
    );
    Ok(ExitCode::from(1))
}
