//! `setup` and `generate`: read files, ask codegen for migrations, write folders.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pghistory_diesel_codegen::sql::migration::{
    self, Change, ChangeKind, ExistingMigration, MigrationFiles,
};

use crate::args::{Command, USAGE};
use crate::error::Error;

pub(crate) fn run(cmd: &Command) -> Result<ExitCode, Error> {
    match cmd {
        Command::Help => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Setup {
            migrations_dir,
            roles,
        } => {
            let dir = migrations_dir_or_config(migrations_dir.as_deref())?;
            setup(&dir, roles)
        }
        Command::Generate {
            schema,
            migrations_dir,
            check,
            version,
        } => {
            let dir = migrations_dir_or_config(migrations_dir.as_deref())?;
            generate(schema, &dir, *check, version.as_deref())
        }
    }
}

/// `--migrations-dir`, else diesel.toml's `[migrations_directory] dir`, else `migrations`.
fn migrations_dir_or_config(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(dir) = explicit {
        return Ok(dir.to_owned());
    }
    let config = Path::new("diesel.toml");
    if !config.exists() {
        return Ok(PathBuf::from("migrations"));
    }
    let text = fs::read_to_string(config).map_err(Error::io(config))?;
    let value: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Config {
        path: config.to_owned(),
        message: e.to_string(),
    })?;
    match value.get("migrations_directory").and_then(|m| m.get("dir")) {
        None => Ok(PathBuf::from("migrations")),
        Some(toml::Value::String(dir)) => Ok(PathBuf::from(dir)),
        Some(_) => Err(Error::Config {
            path: config.to_owned(),
            message: "[migrations_directory] dir must be a string".to_owned(),
        }),
    }
}

fn write_files(dir: &Path, files: &MigrationFiles) -> Result<PathBuf, Error> {
    let folder = dir.join(&files.dir_name);
    fs::create_dir_all(&folder).map_err(Error::io(&folder))?;
    for (name, text) in [
        ("up.sql", &files.up),
        ("down.sql", &files.down),
        ("metadata.toml", &files.metadata),
    ] {
        let path = folder.join(name);
        fs::write(&path, text).map_err(Error::io(&path))?;
    }
    Ok(folder)
}

fn setup(
    dir: &Path,
    roles: &pghistory_diesel_codegen::sql::setup::Roles,
) -> Result<ExitCode, Error> {
    let files = migration::setup_files_with(roles);
    let folder = dir.join(&files.dir_name);
    if folder.exists() {
        let up =
            fs::read_to_string(folder.join("up.sql")).map_err(Error::io(folder.join("up.sql")))?;
        let down = fs::read_to_string(folder.join("down.sql"))
            .map_err(Error::io(folder.join("down.sql")))?;
        if up == files.up && down == files.down {
            println!("{} is up to date; nothing written", folder.display());
            return Ok(ExitCode::SUCCESS);
        }
        return Err(Error::SetupDiffers { path: folder });
    }
    let folder = write_files(dir, &files)?;
    println!("wrote {}", folder.display());
    Ok(ExitCode::SUCCESS)
}

fn read_existing(dir: &Path) -> Result<Vec<ExistingMigration>, Error> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(Error::Io {
                path: dir.to_owned(),
                source: e,
            })
        }
    };
    for entry in entries {
        let entry = entry.map_err(Error::io(dir))?;
        let up = entry.path().join("up.sql");
        if !up.is_file() {
            continue;
        }
        out.push(ExistingMigration {
            dir_name: entry.file_name().to_string_lossy().into_owned(),
            up: fs::read_to_string(&up).map_err(Error::io(&up))?,
        });
    }
    Ok(out)
}

fn read_schema(path: &Path) -> Result<Vec<pghistory_diesel_codegen::TrackedTable>, Error> {
    let text = fs::read_to_string(path).map_err(Error::io(path))?;
    let spanned = |err: syn::Error| {
        let start = err.span().start();
        Error::Schema {
            path: path.to_owned(),
            line: start.line,
            column: start.column + 1,
            message: err.to_string(),
        }
    };
    let file = syn::parse_file(&text).map_err(spanned)?;
    pghistory_diesel_codegen::tables_in_file(&file).map_err(spanned)
}

fn generate(
    schema: &Path,
    dir: &Path,
    check: bool,
    version: Option<&str>,
) -> Result<ExitCode, Error> {
    let tables = read_schema(schema)?;
    let existing = read_existing(dir)?;
    let version = version
        .map(str::to_owned)
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
            eprintln!(
                "warning: no setup migration in {}; run `pghistory-diesel setup`",
                dir.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    if check {
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
    let folder = write_files(dir, &files)?;
    println!("wrote {}", folder.display());
    for change in &changes {
        println!("  {}", describe(change));
    }
    if !has_setup {
        eprintln!(
            "warning: no setup migration in {}; run `pghistory-diesel setup`",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

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
