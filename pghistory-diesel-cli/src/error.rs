//! Errors of the CLI, each naming the file or fix.

use std::path::PathBuf;

/// Everything the CLI can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command-line arguments.
    #[error("{0}\n\n{usage}", usage = crate::args::USAGE)]
    Usage(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// diesel.toml is not valid.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// schema.rs does not parse, or a `tracked_table!` in it is invalid.
    #[error("{path}:{line}:{column}: {message}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The compiler-style message.
        message: String,
    },
    /// The setup migration on disk is not the one this version writes.
    #[error("{path} differs from the setup migration this version of pghistory-diesel writes; remove it (after reverting it) or restore it")]
    SetupDiffers {
        /// The folder.
        path: PathBuf,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
