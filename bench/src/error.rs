//! What can stop the benchmark.

/// An error of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command-line arguments.
    #[error("{0}\n{usage}", usage = crate::USAGE)]
    Usage(String),
    /// `DATABASE_URL` is not set.
    #[error("DATABASE_URL is not set; run the benchmark through scripts/bench")]
    NoDatabaseUrl,
    /// `DATABASE_URL` has no database part to replace.
    #[error("DATABASE_URL `{0}` has no database name to replace")]
    Url(String),
    /// Connecting failed.
    #[error("cannot connect: {0}")]
    Connection(#[from] diesel::ConnectionError),
    /// A statement failed.
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    /// A library call failed (the read phase).
    #[error("pghistory-diesel: {0}")]
    Library(#[from] pghistory_diesel::Error),
    /// The migrations failed.
    #[error("migrations failed: {0}")]
    Migration(String),
    /// A diesel-async client failed.
    #[error("async client: {0}")]
    Async(String),
    /// A measurement's result is wrong (e.g. a trigger wrote fewer events than rows).
    #[error("check failed: {0}")]
    Check(String),
    /// The instruction-counting phase cannot run or failed.
    #[error("cpu phase: {0}")]
    Cpu(String),
    /// Running a program or handling a file failed.
    #[error("{0}")]
    Os(#[from] std::io::Error),
    /// Writing the results failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
