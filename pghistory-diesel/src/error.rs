//! Errors of the runtime.

/// Everything that can go wrong in pghistory-diesel's runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Context metadata must be a JSON object (`{"user": 42}`), not an array, string, etc.
    #[error("context metadata must be a JSON object, got {found}")]
    MetadataNotAnObject {
        /// The JSON type that was given instead.
        found: &'static str,
    },
    /// The context value could not be serialized to JSON.
    #[error("context metadata could not be serialized to JSON: {0}")]
    MetadataNotSerializable(#[source] serde_json::Error),
    /// The setup migration (context table and functions) is not applied to this database.
    #[error("the pghistory-diesel setup migration is not applied (no `pghistory_context` table or `pghistory_attach_context` function); run `pghistory-diesel setup` and apply the migration")]
    SetupMissing,
    /// A tracked table's trigger is not installed.
    #[error("the history trigger function {function} of table {table} is not installed; run `pghistory-diesel generate` and apply the migration")]
    TriggerMissing {
        /// The tracked table.
        table: String,
        /// The missing function.
        function: String,
    },
    /// A tracked table's trigger is installed but disabled, so changes go unrecorded.
    #[error("the history trigger {trigger} on table {table} is disabled; enable it with ALTER TABLE ... ENABLE TRIGGER, or pause tracking with pghistory_diesel::pause for a scope instead")]
    TriggerDisabled {
        /// The tracked table.
        table: String,
        /// The disabled trigger.
        trigger: String,
    },
    /// A tracked table's trigger differs from what schema.rs declares.
    #[error("the history trigger function {function} of table {table} is outdated (installed {installed}, schema.rs expects {expected}); run `pghistory-diesel generate` and apply the migration")]
    OutdatedTrigger {
        /// The tracked table.
        table: String,
        /// The outdated function.
        function: String,
        /// The installed fingerprint (recorded by the migration, or of the body found).
        installed: String,
        /// The fingerprint schema.rs expects.
        expected: String,
    },
    /// The history installation differs from what schema.rs declares in another way than
    /// the errors above: [`check_table`](crate::check::check_table)'s first finding.
    #[error("{0}")]
    Drift(Box<crate::check::Finding>),
    /// A history query names no table.
    #[error("the history query names no table; add one with `across::<T>()` or `tracks::<T>(id)`")]
    NoTables,
    /// A history query was given `limit(0)`: a page of no events has no next cursor.
    #[error("a history query's limit must be at least 1")]
    ZeroLimit,
    /// There is no event with this id in the table's events table.
    #[error("{table} has no event with pgh_id {pgh_id}")]
    NoSuchEvent {
        /// The tracked table.
        table: String,
        /// The event id asked for.
        pgh_id: i64,
    },
    /// The table's events do not snapshot its primary key, so a row cannot be restored.
    #[error("{table} cannot be reverted: its events do not store the primary key column")]
    NotRevertible {
        /// The tracked table.
        table: String,
    },
    /// `create_event` was given a label that no tracker of the table declares.
    #[error("{table} declares no event label `{label}`; declared: {declared}\nhelp: declare it with #[pghistory(event(manual, label = \"{label}\"))]")]
    UnknownLabel {
        /// The tracked table.
        table: String,
        /// The label asked for.
        label: String,
        /// The labels the table declares, comma separated.
        declared: String,
    },
    /// `create_event` found no row with the given primary key to snapshot.
    #[error("{table} has no row with that primary key; no event was written")]
    NoSuchRow {
        /// The tracked table.
        table: String,
    },
    /// The connection's role may not pause tracking or prune history: `EXECUTE` on the
    /// setup migration's `pghistory_pause` / `pghistory_prune` is granted only to the
    /// maintainer role (and the history owner). Nothing was paused or deleted.
    #[error("the current role may not {capability}: EXECUTE on {function} is granted only to the maintainer role (`pghistory-diesel setup --maintainer-role`, default pghistory_maintainer); GRANT pghistory_maintainer TO the role that should")]
    NotGranted {
        /// `"pause tracking"` or `"prune history"`.
        capability: &'static str,
        /// The function the role may not execute.
        function: &'static str,
    },
    /// A database error.
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Lets closures returning `diesel::QueryResult` run in a context scope
/// ([`with_context`](crate::context::with_context) needs `E: From<Error>`): database errors
/// come back unchanged, the others as `SerializationError` carrying this crate's error.
impl From<Error> for diesel::result::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Database(e) => e,
            other => diesel::result::Error::SerializationError(Box::new(other)),
        }
    }
}
