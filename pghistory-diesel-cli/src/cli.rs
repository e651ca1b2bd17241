//! The command line, declared with clap: every subcommand and option, with its default.
//!
//! Usage errors belong to clap (exit code 2, one line naming the mistake, a suggestion for
//! a typo, and "try '--help'"); the errors in [`crate::error`] are about files and the schema.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use pghistory_diesel_codegen::sql::setup;
use uuid::Uuid;

/// Writes the Diesel migrations that install history tracking; apply them with
/// `diesel migration run`.
#[derive(Debug, Parser)]
#[command(name = "pghistory-diesel", version, arg_required_else_help = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every subcommand takes, as in diesel_cli.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// The diesel.toml to read; paths in it are relative to it [default: diesel.toml in the
    /// project root: the nearest directory upwards with a diesel.toml, else a Cargo.toml]
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "DIESEL_CONFIG_FILE",
        hide_env_values = true
    )]
    pub(crate) config_file: Option<PathBuf>,
    /// Database URL, for commands that connect to one (setup and generate do not)
    /// [default: DATABASE_URL, from the environment or a .env file]
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "DATABASE_URL",
        hide_env_values = true
    )]
    pub(crate) database_url: Option<String>,
}

/// The subcommands. Each one's options live in its own `Args` struct, so a new option is
/// one field and a new command one variant.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write the setup migration (context table and functions)
    Setup(SetupArgs),
    /// Write a migration installing the tracking declared in schema.rs
    ///
    /// The migration creates the events tables, trigger functions and triggers, or upgrades
    /// what earlier migrations installed; its down.sql restores what was there before. With
    /// nothing changed it writes nothing.
    Generate(GenerateArgs),
    /// Compare a live database with schema.rs: one line per drift, with its fix
    ///
    /// Connects to --database-url (else DATABASE_URL, from the environment or .env) and
    /// reports every difference between the history schema.rs declares and what is
    /// installed: missing or disabled triggers, triggers in replica or always mode,
    /// replaced functions or their security, the append-only guard, events tables and
    /// their columns, triggers we did not install. Exits 0 when all is as declared, 1 on
    /// drift, 2 on error.
    Check(CheckArgs),
    /// Print the history of the tracked tables, one object or one table
    ///
    /// Reads the tables from schema.rs and their events from --database-url (else
    /// DATABASE_URL, from the environment or .env), newest first: time, table, key, label,
    /// context metadata and the changed fields, old → new. Coloured when standard output is
    /// a terminal and NO_COLOR is not set.
    Log(LogArgs),
    /// Print a shell completion script to standard output
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
}

/// Where each shell looks for completion scripts.
const COMPLETIONS_HELP: &str = "Install:
  bash  pghistory-diesel completions bash > ~/.local/share/bash-completion/completions/pghistory-diesel
  zsh   pghistory-diesel completions zsh > ~/.zfunc/_pghistory-diesel  (with ~/.zfunc in fpath)
  fish  pghistory-diesel completions fish > ~/.config/fish/completions/pghistory-diesel.fish";

/// Where migrations are read and written.
#[derive(Debug, Args)]
pub(crate) struct MigrationsDirArg {
    /// The migrations directory [default: `[migrations_directory] dir` of diesel.toml, else
    /// migrations/ in the project root]
    #[arg(
        long,
        alias = "migration-dir",
        value_name = "DIR",
        env = "MIGRATION_DIRECTORY",
        hide_env_values = true
    )]
    pub(crate) migrations_dir: Option<PathBuf>,
}

/// `pghistory-diesel setup`.
#[derive(Debug, Args)]
pub(crate) struct SetupArgs {
    #[command(flatten)]
    pub(crate) migrations: MigrationsDirArg,
    /// The role that owns history: the context table, every events table and every
    /// pghistory function, which run as it (created NOLOGIN when missing)
    #[arg(long, value_name = "ROLE", default_value = setup::DEFAULT_OWNER, value_parser = parse_role)]
    pub(crate) owner_role: String,
    /// The role that may pause tracking and prune history (created NOLOGIN when missing;
    /// grant it to the roles that need it)
    #[arg(long, value_name = "ROLE", default_value = setup::DEFAULT_MAINTAINER, value_parser = parse_role)]
    pub(crate) maintainer_role: String,
    /// A role granted SELECT on the context table, for reading history [default: none]
    #[arg(long, value_name = "ROLE", value_parser = parse_role)]
    pub(crate) reader_role: Option<String>,
}

impl SetupArgs {
    /// The roles the setup migration names.
    pub(crate) fn roles(&self) -> setup::Roles {
        setup::Roles {
            owner: self.owner_role.clone(),
            maintainer: self.maintainer_role.clone(),
            reader: self.reader_role.clone(),
        }
    }
}

/// A role name: not empty, and within Postgres' 63-byte identifier limit (a longer name
/// would be cut by the server, naming another role than the one asked for).
fn parse_role(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("a role name cannot be empty".to_owned());
    }
    if value.len() > 63 {
        return Err(format!(
            "`{value}` is {} bytes; Postgres role names have at most 63",
            value.len()
        ));
    }
    Ok(value.to_owned())
}

/// `pghistory-diesel generate`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// The file with the `tracked_table!` declarations [default: src/schema.rs in the
    /// project root]
    #[arg(long, value_name = "FILE")]
    pub(crate) schema: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) migrations: MigrationsDirArg,
    /// Write nothing; exit 1 if the migrations do not install what schema.rs declares
    #[arg(long)]
    pub(crate) check: bool,
    /// The new folder's version, as in `<VERSION>_pghistory_posts` [default: the current
    /// UTC time, YYYY-MM-DD-HHMMSS, as `diesel migration generate` writes it]
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    pub(crate) version: Option<String>,
}

/// `pghistory-diesel check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The file with the `tracked_table!` declarations [default: src/schema.rs in the
    /// project root]
    #[arg(long, value_name = "FILE")]
    pub(crate) schema: Option<PathBuf>,
    /// Also count events whose context row does not exist (reads every events table)
    #[arg(long)]
    pub(crate) orphan_events: bool,
    /// A trigger of the application's own on tracked tables (by name), not reported as
    /// unknown; repeat for several. Triggers on events tables are always reported
    #[arg(long, value_name = "NAME")]
    pub(crate) allow_trigger: Vec<String>,
}

/// `pghistory-diesel log`.
#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Only this table (`name` or `schema.name`, its SQL name) [default: every tracked table]
    #[arg(value_name = "TABLE")]
    pub table: Option<String>,
    /// Only the object with this primary key (needs TABLE)
    #[arg(value_name = "KEY", requires = "table")]
    pub key: Option<String>,
    /// The file with the `tracked_table!` declarations [default: src/schema.rs in the
    /// project root]
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Only events at or after this time (RFC 3339, or a date: its midnight UTC)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339, or a date: its midnight UTC)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,
    /// Only events with this label; repeat for several
    #[arg(long, value_name = "LABEL")]
    pub label: Vec<String>,
    /// Only events of this context scope (its uuid)
    #[arg(long, value_name = "SCOPE", value_parser = parse_uuid)]
    pub context: Option<Uuid>,
    /// Only events whose context metadata has KEY = VALUE (VALUE read as a JSON number,
    /// boolean or null when it is one, else as a string); repeat to require several
    #[arg(long = "where", value_name = "KEY=VALUE", value_parser = parse_where)]
    pub filters: Vec<(String, serde_json::Value)>,
    /// At most this many events
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Newest event first (the default)
    #[arg(long, conflicts_with = "oldest_first")]
    pub newest_first: bool,
    /// Oldest event first
    #[arg(long)]
    pub oldest_first: bool,
    /// One JSON object per line instead of the human format
    #[arg(long)]
    pub json: bool,
}

/// RFC 3339 (`2024-05-01T12:00:00Z`, any offset), or a date (`2024-05-01`, midnight UTC).
pub(crate) fn parse_time(value: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(format!(
        "`{value}` is neither an RFC 3339 time (2024-05-01T12:00:00Z) nor a date (2024-05-01)"
    ))
}

fn parse_uuid(value: &str) -> Result<Uuid, String> {
    value
        .parse()
        .map_err(|_| format!("`{value}` is not a uuid (a context scope id)"))
}

/// `user=42`: the key, and the value as a JSON scalar (number, boolean, null) or string.
pub(crate) fn parse_where(value: &str) -> Result<(String, serde_json::Value), String> {
    let Some((key, raw)) = value.split_once('=') else {
        return Err(format!("`{value}` is not KEY=VALUE"));
    };
    if key.is_empty() {
        return Err(format!("`{value}` has an empty key"));
    }
    let parsed = match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(
            v @ (serde_json::Value::Number(_)
            | serde_json::Value::Bool(_)
            | serde_json::Value::Null),
        ) => v,
        _ => serde_json::Value::String(raw.to_owned()),
    };
    Ok((key.to_owned(), parsed))
}

/// `pghistory-diesel completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to write the script for
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// Why a `--version` cannot be the start of a migration folder's name.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum VersionError {
    /// Nothing to name the folder with.
    #[error("the version is empty")]
    Empty,
    /// `/` or `\`: the folder would be written into another directory.
    #[error("the version contains a path separator, which would put the migration outside the migrations directory")]
    PathSeparator,
    /// A leading `.`: `..` leaves the directory, and diesel skips hidden folders.
    #[error("the version starts with `.`, which names a parent or hidden directory")]
    LeadingDot,
    /// diesel reads a folder's version up to its first `_`.
    #[error("the version contains `_`; diesel reads a migration's version up to the first `_`")]
    Underscore,
    /// Control characters or `:` (a drive on Windows) have no place in a folder name.
    #[error("the version contains {0:?}, which has no place in a folder name")]
    BadCharacter(char),
}

/// Accepts a `--version` that names a folder inside the migrations directory.
pub(crate) fn parse_version(version: &str) -> Result<String, VersionError> {
    if version.is_empty() {
        return Err(VersionError::Empty);
    }
    if version.contains(['/', '\\']) {
        return Err(VersionError::PathSeparator);
    }
    if version.starts_with('.') {
        return Err(VersionError::LeadingDot);
    }
    if version.contains('_') {
        return Err(VersionError::Underscore);
    }
    if let Some(c) = version.chars().find(|c| c.is_control() || *c == ':') {
        return Err(VersionError::BadCharacter(c));
    }
    Ok(version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn versions_that_leave_the_migrations_directory_are_refused() {
        assert_eq!(parse_version("../../x"), Err(VersionError::PathSeparator));
        assert_eq!(parse_version("a\\b"), Err(VersionError::PathSeparator));
        assert_eq!(parse_version("/etc"), Err(VersionError::PathSeparator));
        assert_eq!(parse_version(".."), Err(VersionError::LeadingDot));
        assert_eq!(parse_version(".hidden"), Err(VersionError::LeadingDot));
        assert_eq!(parse_version(""), Err(VersionError::Empty));
        assert_eq!(parse_version("1_2"), Err(VersionError::Underscore));
        assert_eq!(parse_version("c:x"), Err(VersionError::BadCharacter(':')));
        assert_eq!(parse_version("a\nb"), Err(VersionError::BadCharacter('\n')));
    }

    #[test]
    fn diesel_style_versions_are_accepted() {
        for v in [
            "2020-01-02-000000",
            "20200102000000",
            "00000000000002",
            "v2",
        ] {
            assert_eq!(parse_version(v).as_deref(), Ok(v));
        }
    }

    #[test]
    fn setup_and_generate_take_flag_equals_value_forms() {
        let cli = Cli::try_parse_from([
            "pghistory-diesel",
            "generate",
            "--schema=tables.rs",
            "--migrations-dir=db",
            "--version=2020-01-02-000000",
            "--check",
        ])
        .unwrap();
        let Command::Generate(args) = cli.command else {
            panic!("generate parsed as {:?}", cli.command)
        };
        assert_eq!(args.schema, Some(PathBuf::from("tables.rs")));
        assert_eq!(args.migrations.migrations_dir, Some(PathBuf::from("db")));
        assert_eq!(args.version.as_deref(), Some("2020-01-02-000000"));
        assert!(args.check);
    }
}
