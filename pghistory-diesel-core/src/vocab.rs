//! The SQL vocabulary: every name that generated SQL, the macro's expansion and the runtime
//! must agree on, defined once. Change a name here and it changes everywhere; a second
//! spelling anywhere else is a bug.

/// Postgres' identifier limit in bytes; longer names are silently truncated by the server.
pub const MAX_IDENT: usize = 63;

/// The dollar-quote tag around every function body and `DO` block we generate. A name
/// that contains it is refused at compile time, so no name can end a body early.
pub const DOLLAR_TAG: &str = "$pghistory$";

/// The prefix of every SQL object we create (functions, triggers, the context table), so
/// that a drift check can tell ours from anyone else's.
pub const OBJECT_PREFIX: &str = "pghistory_";

/// The prefix of our columns in events tables; reserved in tracked tables.
pub const COLUMN_PREFIX: &str = "pgh_";

/// The schema of the setup objects (context table and runtime functions).
pub const SETUP_SCHEMA: &str = "public";

/// The context table.
pub const CONTEXT_TABLE: &str = "pghistory_context";

/// `pghistory_attach_context(p_scope_id uuid, p_metadata jsonb, p_local boolean) RETURNS uuid`:
/// writes a context row and points the session (or transaction) at it.
pub const ATTACH_CONTEXT_FUNCTION: &str = "pghistory_attach_context";
/// The argument types of [`ATTACH_CONTEXT_FUNCTION`], as in its signature.
pub const ATTACH_CONTEXT_ARGS: &str = "uuid, jsonb, boolean";

/// `pghistory_detach_context(p_local boolean) RETURNS void`: clears the context settings.
pub const DETACH_CONTEXT_FUNCTION: &str = "pghistory_detach_context";
/// The argument types of [`DETACH_CONTEXT_FUNCTION`].
pub const DETACH_CONTEXT_ARGS: &str = "boolean";

/// `pghistory_prune(p_events regclass, p_before timestamptz) RETURNS bigint`.
pub const PRUNE_FUNCTION: &str = "pghistory_prune";
/// The argument types of [`PRUNE_FUNCTION`].
pub const PRUNE_ARGS: &str = "regclass, timestamptz";

/// `pghistory_pause(p_tables text) RETURNS text`: the maintainer's granted pause.
pub const PAUSE_FUNCTION: &str = "pghistory_pause";
/// The argument types of [`PAUSE_FUNCTION`].
pub const PAUSE_ARGS: &str = "text";

/// The guard trigger on the context and capability tables (`BEFORE UPDATE OR DELETE`).
pub const IMMUTABLE_TRIGGER: &str = "pghistory_immutable";
/// The same guard on `TRUNCATE`.
pub const IMMUTABLE_TRUNCATE_TRIGGER: &str = "pghistory_immutable_truncate";
/// The function of [`IMMUTABLE_TRIGGER`]: refuses every change to context and capability
/// rows but a granted prune.
pub const IMMUTABLE_FUNCTION: &str = "pghistory_immutable";
/// The guard function of events tables that are not `append_only`: only the history owner
/// (and superusers) may update, delete or truncate them.
pub const OWNER_ONLY_FUNCTION: &str = "pghistory_owner_only";

/// The `search_path` every pghistory function runs with: the catalog first, temporary
/// objects last, so that nothing a caller creates can stand in for a catalog object.
pub const SEARCH_PATH: &str = "pg_catalog, pg_temp";

/// The capability table: one row per granted pause or prune, by transaction.
pub const CAPABILITY_TABLE: &str = "pghistory_capability";

/// A setup function's quoted name, like `"public"."pghistory_attach_context"`.
///
/// ```
/// use pghistory_diesel_core::vocab;
/// assert_eq!(
///     vocab::setup_function(vocab::ATTACH_CONTEXT_FUNCTION),
///     r#""public"."pghistory_attach_context""#
/// );
/// ```
pub fn setup_function(name: &str) -> String {
    crate::quote::qualified(SETUP_SCHEMA, name)
}

/// A setup function's signature for `to_regprocedure`, like
/// `"public"."pghistory_attach_context"(uuid, jsonb, boolean)`.
pub fn setup_signature(name: &str, args: &str) -> String {
    format!("{}({args})", setup_function(name))
}

/// [`setup_signature`] of the attach function, built once.
pub static ATTACH_CONTEXT_SIGNATURE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| setup_signature(ATTACH_CONTEXT_FUNCTION, ATTACH_CONTEXT_ARGS));
/// [`setup_signature`] of the pause function, built once.
pub static PAUSE_SIGNATURE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| setup_signature(PAUSE_FUNCTION, PAUSE_ARGS));
/// [`setup_signature`] of the prune function, built once.
pub static PRUNE_SIGNATURE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| setup_signature(PRUNE_FUNCTION, PRUNE_ARGS));

/// The session setting holding the current context snapshot id.
pub const CONTEXT_ID_SETTING: &str = "pghistory.context_id";
/// The session setting holding the current context metadata (JSON text).
pub const CONTEXT_METADATA_SETTING: &str = "pghistory.context_metadata";
/// The session setting listing paused tables (`,schema.table,` entries, or `*`), honoured
/// only with the grant `pghistory_pause` records.
pub const PAUSE_SETTING: &str = "pghistory.pause";
/// The pause setting's value that pauses every tracked table.
pub const PAUSE_ALL: &str = "*";
/// The session setting naming the table `pghistory_prune` is deleting from (honoured only
/// with the grant `pghistory_prune` records).
pub const PRUNE_SETTING: &str = "pghistory.prune";

/// The transition table of new rows, in our statement-level triggers.
pub const NEW_TABLE: &str = "pgh_new";
/// The transition table of old rows.
pub const OLD_TABLE: &str = "pgh_old";

/// The row-level trigger beside an UPDATE's statement trigger that marks a statement
/// which left some row unchanged. It never runs its function: its `WHEN` (`OLD *= NEW AND
/// pghistory_<table>_unchanged()`) sets [`unchanged_setting`] when a row is unchanged,
/// and is false.
pub const UNCHANGED_TRIGGER: &str = "pghistory_update_unchanged";
/// The argument of an UPDATE's statement trigger installed beside [`UNCHANGED_TRIGGER`]:
/// it tells the function that unmarked statements changed every row. The same function
/// without it (the table has a column schema.rs does not declare) probes instead.
pub const WHOLE_ROWS_ARGUMENT: &str = "whole_rows";
/// `pg_trigger.tgtype` of [`UNCHANGED_TRIGGER`]: `AFTER`, `FOR EACH ROW` (1), `UPDATE` (16).
pub const UNCHANGED_TRIGGER_TYPE: i16 = 17;

/// The transaction-local setting that [`UNCHANGED_TRIGGER`] sets to the statement's start
/// time when one of its rows is unchanged: `pghistory.unchanged_<hash of schema.table>`
/// (a custom setting's name must be plain identifiers, which a table's name need not be).
///
/// ```
/// let name = pghistory_diesel_core::vocab::unchanged_setting("public", "posts");
/// assert!(name.starts_with("pghistory.unchanged_"));
/// assert_ne!(name, pghistory_diesel_core::vocab::unchanged_setting("public", "tags"));
/// ```
pub fn unchanged_setting(schema: &str, table: &str) -> String {
    format!(
        "pghistory.unchanged_{}",
        crate::fingerprint(&pause_key(schema, table))
    )
}

/// The append-only guard's trigger on UPDATE and DELETE of an events table.
pub const PROTECT_TRIGGER: &str = "pghistory_append_only";
/// The append-only guard's trigger on TRUNCATE.
pub const PROTECT_TRUNCATE_TRIGGER: &str = "pghistory_append_only_truncate";

/// The guard triggers of an events table that is not append-only (owner only).
pub const OWNER_ONLY_TRIGGER: &str = "pghistory_owner_only";
/// The owner-only guard on TRUNCATE.
pub const OWNER_ONLY_TRUNCATE_TRIGGER: &str = "pghistory_owner_only_truncate";
/// The row level security policy on history tables: reading is for whoever is granted
/// `SELECT`; there is no policy for writing, so only the owner (who bypasses row level
/// security) writes.
pub const READ_POLICY: &str = "pghistory_read";

/// A table's entry in the pause setting: `,schema.table,`.
///
/// ```
/// assert_eq!(pghistory_diesel_core::vocab::pause_key("public", "posts"), ",public.posts,");
/// ```
pub fn pause_key(schema: &str, table: &str) -> String {
    format!(",{schema}.{table},")
}

/// Shortens `name` to [`MAX_IDENT`] bytes, replacing the tail by a hash of the whole so
/// that two long names stay distinct.
///
/// ```
/// use pghistory_diesel_core::vocab::fit;
/// assert_eq!(fit("short"), "short");
/// assert_eq!(fit(&"x".repeat(80)).len(), 63);
/// ```
pub fn fit(name: &str) -> String {
    if name.len() <= MAX_IDENT {
        return name.to_owned();
    }
    let hash = &crate::fingerprint(name)[..8];
    let mut cut = MAX_IDENT - hash.len() - 1;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{}", &name[..cut], hash)
}

/// When an events table has one of our columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Every events table.
    Always,
    /// Tables whose events reference a context row (`context = fk` or `json`).
    ContextId,
    /// Tables whose events copy the context metadata (`context = json`).
    ContextJson,
}

/// The type of one of our columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PghType {
    /// A fixed type: its Postgres name (as `format_type` prints it) and Diesel's SQL type.
    Fixed {
        /// Postgres' name, e.g. `bigint`.
        pg: &'static str,
        /// Diesel's `sql_types` name, e.g. `Int8`.
        diesel: &'static str,
    },
    /// The type of the tracked table's primary key (`pgh_obj_id`).
    PrimaryKey,
}

/// The Rust type of one of our columns in an events model struct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PghRust {
    /// `i64`.
    I64,
    /// `chrono::DateTime<chrono::Utc>`.
    Timestamp,
    /// The tracked table's primary key type.
    PrimaryKey,
    /// `uuid::Uuid`.
    Uuid,
    /// `String`.
    String,
    /// `serde_json::Value`.
    Json,
}

/// One of our `pgh_*` columns of an events table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PghColumn {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: PghType,
    /// What follows the type in the events table's `CREATE TABLE` (identity, `NOT NULL`,
    /// default).
    pub definition_tail: &'static str,
    /// Whether it may be NULL.
    pub nullable: bool,
    /// Its Rust type in the model struct (wrapped in `Option` when nullable).
    pub rust: PghRust,
    /// Which events tables have it.
    pub presence: Presence,
    /// What it holds, for the generated docs.
    pub doc: &'static str,
}

/// The `pgh_*` columns, in the order of an events table.
pub const PGH_COLUMNS: &[PghColumn] = &[
    PghColumn {
        name: "pgh_id",
        ty: PghType::Fixed {
            pg: "bigint",
            diesel: "Int8",
        },
        definition_tail: " GENERATED ALWAYS AS IDENTITY",
        nullable: false,
        rust: PghRust::I64,
        presence: Presence::Always,
        doc: "Event id, increasing in write order.",
    },
    PghColumn {
        name: "pgh_created_at",
        ty: PghType::Fixed {
            pg: "timestamptz",
            diesel: "Timestamptz",
        },
        definition_tail: " NOT NULL DEFAULT pg_catalog.now()",
        nullable: false,
        rust: PghRust::Timestamp,
        presence: Presence::Always,
        doc: "When the event was written: the writing transaction's start time.",
    },
    PghColumn {
        name: "pgh_obj_id",
        ty: PghType::PrimaryKey,
        definition_tail: " NOT NULL",
        nullable: false,
        rust: PghRust::PrimaryKey,
        presence: Presence::Always,
        doc: "Primary key of the tracked row.",
    },
    PghColumn {
        name: "pgh_context_id",
        ty: PghType::Fixed {
            pg: "uuid",
            diesel: "Uuid",
        },
        definition_tail: "",
        nullable: true,
        rust: PghRust::Uuid,
        presence: Presence::ContextId,
        doc: "The `pghistory_context` row in force, if any.",
    },
    PghColumn {
        name: "pgh_label",
        ty: PghType::Fixed {
            pg: "text",
            diesel: "Text",
        },
        definition_tail: " NOT NULL",
        nullable: false,
        rust: PghRust::String,
        presence: Presence::Always,
        doc: "The tracker's label: `insert`, `update`, `delete` or your own.",
    },
    PghColumn {
        name: "pgh_context",
        ty: PghType::Fixed {
            pg: "jsonb",
            diesel: "Jsonb",
        },
        definition_tail: "",
        nullable: true,
        rust: PghRust::Json,
        presence: Presence::ContextJson,
        doc: "The context metadata in force, copied onto the event.",
    },
];

impl PghColumn {
    /// Whether an events table with these context options has this column.
    pub fn present(&self, context_id: bool, context_json: bool) -> bool {
        match self.presence {
            Presence::Always => true,
            Presence::ContextId => context_id,
            Presence::ContextJson => context_json,
        }
    }
}

/// Looks up one of [`PGH_COLUMNS`] by name.
///
/// ```
/// assert!(pghistory_diesel_core::vocab::pgh_column("pgh_label").is_some());
/// ```
pub fn pgh_column(name: &str) -> Option<&'static PghColumn> {
    PGH_COLUMNS.iter().find(|c| c.name == name)
}

/// The names of every `pgh_*` column, whichever tables have them.
pub fn pgh_column_names() -> impl Iterator<Item = &'static str> {
    PGH_COLUMNS.iter().map(|c| c.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_with_a_hash() {
        let long = "x".repeat(80);
        let a = fit(&format!("{long}_a"));
        let b = fit(&format!("{long}_b"));
        assert_eq!(a.len(), 63);
        assert_ne!(a, b);
        assert_eq!(fit("short"), "short");
    }

    #[test]
    fn every_pgh_column_has_the_prefix_and_a_unique_name() {
        let mut names: Vec<&str> = pgh_column_names().collect();
        assert!(names.iter().all(|n| n.starts_with(COLUMN_PREFIX)));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PGH_COLUMNS.len());
    }

    #[test]
    fn the_dollar_tag_is_a_valid_dollar_quote() {
        assert!(DOLLAR_TAG.starts_with('$') && DOLLAR_TAG.ends_with('$'));
        let inner = &DOLLAR_TAG[1..DOLLAR_TAG.len() - 1];
        assert!(inner.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    }
}
