//! Errors of the CLI, each naming the file or fix. Usage errors are clap's (see `cli.rs`).

use std::fmt;
use std::path::PathBuf;

/// Everything the CLI can fail with once its arguments parsed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// `.env` exists but cannot be read (diesel_cli refuses it too).
    #[error(".env: {0}")]
    DotEnv(#[source] dotenvy::Error),
    /// diesel.toml is not valid.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// schema.rs does not parse, or `tracked_table!`s in it are invalid: every mistake
    /// found, each starting a line `path:line:column: message`.
    #[error("{}", SchemaLines(.0))]
    Schema(Vec<SchemaError>),
    /// The setup migration on disk is not the one this version writes.
    #[error("{path} differs from the setup migration this version of pghistory-diesel writes; remove it (after reverting it) or restore it")]
    SetupDiffers {
        /// The folder.
        path: PathBuf,
    },
    /// `check` or `log` needs a database and was given none.
    #[error("no database to read: pass --database-url, or set DATABASE_URL (in the environment or .env)")]
    NoDatabaseUrl,
    /// The database could not be reached.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] diesel::ConnectionError),
    /// Reading the catalog failed.
    #[error("checking the database failed: {0}")]
    Check(#[source] pghistory_diesel::Error),
    /// `log` was given a table schema.rs does not track.
    #[error("schema.rs tracks no table `{table}`; tracked: {known}")]
    UnknownTable {
        /// The table asked for.
        table: String,
        /// The tracked tables, `schema.table`, comma separated.
        known: String,
    },
    /// Reading the history failed.
    #[error("reading the history failed: {0}")]
    Log(#[source] pghistory_diesel::Error),
    /// The folder a new migration would get exists already.
    #[error("{path} exists already; pass another `--version`")]
    MigrationExists {
        /// The folder.
        path: PathBuf,
    },
}

/// One mistake in schema.rs, at its place.
#[derive(Debug)]
pub struct SchemaError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The compiler-style message.
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.path.display(), self.line, self.column)?;
        // The message's own `help:` lines follow it, indented as rustc indents notes.
        for (i, line) in self.message.lines().enumerate() {
            if i > 0 {
                f.write_str("\n  ")?;
            }
            f.write_str(line)?;
        }
        Ok(())
    }
}

/// The mistakes one per line; every line after the first starts with `error: ` itself, so
/// that `error: {err}` reads as one `error:` line per mistake, as rustc prints them.
struct SchemaLines<'a>(&'a [SchemaError]);

impl fmt::Display for SchemaLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\nerror: ")?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
