//! Is the database's history machinery what the code expects?
//!
//! [`check_all`] compares every tracked table's installation with the catalog and returns
//! every [`Finding`]: each one line naming what drifted, where, and the fix. The
//! `pghistory-diesel check` command runs the same comparison from schema.rs.
//! [`check_table`] is the start-up guard of one table: the first finding, as an [`Error`].
//!
//! What is compared, per tracked table (see [`FindingKind`] for each finding):
//! - the setup migration: the context table, each of its functions (present, security,
//!   owner, and pause and prune not executable by `PUBLIC`), the immutable guards of the
//!   context and capability tables, and row level security on them (function bodies of
//!   the setup are not compared: the runtime does not carry the setup SQL);
//! - each trigger function: present, the fingerprint our migration recorded, its body, its
//!   security attributes (`SECURITY DEFINER`, `SET` settings) as the generated SQL
//!   declares them ([`ExpectedSecurity`]), and its owner (the history owner: the owner of `pghistory_context`);
//! - each trigger: present, calling that function, with its timing, events and transition
//!   tables, and enabled in the mode we install (`ENABLE TRIGGER`: fires in ordinary
//!   sessions, not under `session_replication_role = replica`);
//! - the events table's guard (the append-only guard of an `append_only` table, the shared
//!   owner-only guard of any other): function and both triggers;
//! - the tracked table's columns and types against schema.rs, the events table's columns
//!   against the tracked table's catalog types (our migrations copy them), the `pgh_*`
//!   columns, the events table's owner and its row level security;
//! - any other trigger on the tracked or the events table;
//! - optionally ([`CheckOptions::orphan_events`], a scan of each events table), events
//!   whose context row does not exist.

use std::fmt;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, SmallInt, Text};
use pghistory_diesel_core::catalog as q;
use pghistory_diesel_core::{quote, vocab};

pub use pghistory_diesel_core::catalog::{
    ExpectedColumn, ExpectedFunction, ExpectedGuard, ExpectedSecurity, ExpectedTable, ExpectedType,
    ExpectedUnchanged,
};

use crate::{Error, Result, TableInfo, Tracked};

mod setup;

/// Checks that the setup migration is applied.
///
/// Returns [`Error::SetupMissing`] when the context table or its functions are absent.
pub fn check_setup(conn: &mut PgConnection) -> Result<()> {
    if setup_present(conn)? {
        Ok(())
    } else {
        Err(Error::SetupMissing)
    }
}

/// Checks that table `T`'s history is installed as schema.rs declares it, and returns the
/// first drift as an error.
///
/// Errors name the function or trigger: [`Error::TriggerMissing`] (function or trigger
/// absent, or a trigger of that name that is not ours), [`Error::TriggerDisabled`]
/// (`ALTER TABLE ... DISABLE TRIGGER`), [`Error::OutdatedTrigger`] (a different body: an
/// older migration, or a function replaced by hand), and [`Error::Drift`] for every other
/// [`FindingKind`] (replica or always mode, security, owner, columns, guard, unknown
/// triggers). An application can run it at start-up and refuse to run with a history that
/// silently differs from its code; [`check_all`] returns every finding instead.
pub fn check_table<T: Tracked>(conn: &mut PgConnection) -> Result<()> {
    check_table_with::<T>(conn, &CheckOptions::default())
}

/// [`check_table`] with options: for an application with triggers of its own on the
/// table, name them in [`CheckOptions::allowed_triggers`].
pub fn check_table_with<T: Tracked>(conn: &mut PgConnection, options: &CheckOptions) -> Result<()> {
    let findings = table_findings(conn, &(T::INFO.expected)(), options)?;
    match findings.into_iter().next() {
        None => Ok(()),
        Some(finding) => Err(finding.into_error()),
    }
}

/// What [`check_all_with`] looks at beyond the catalog, and what it accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Count events whose `pgh_context_id` names no `pghistory_context` row
    /// ([`FindingKind::OrphanEvents`]). It reads every events table in full.
    pub orphan_events: bool,
    /// Names of the application's own triggers on tracked tables (an `updated_at` trigger,
    /// say), not reported as [`FindingKind::UnknownTrigger`]. Every trigger on an events
    /// table that is not ours is still reported: nothing of the application belongs there.
    pub allowed_triggers: Vec<String>,
}

/// Every drift of the setup migration and of these tables, catalog only (no table scans).
///
/// An empty result means all is installed as declared.
///
/// ```no_run
/// # mod schema {
/// # pghistory_diesel::tracked_table! { posts (id) { id -> Int4, title -> Text, } }
/// # }
/// # use schema::posts;
/// use pghistory_diesel::Tracked;
/// # fn run(conn: &mut diesel::PgConnection) -> pghistory_diesel::Result<()> {
/// let findings = pghistory_diesel::check::check_all(conn, &[<posts::table as Tracked>::INFO])?;
/// for finding in &findings {
///     eprintln!("{finding}");
/// }
/// # Ok(())
/// # }
/// ```
pub fn check_all(conn: &mut PgConnection, tables: &[&TableInfo]) -> Result<Vec<Finding>> {
    check_all_with(conn, tables, &CheckOptions::default())
}

/// [`check_all`] with options.
pub fn check_all_with(
    conn: &mut PgConnection,
    tables: &[&TableInfo],
    options: &CheckOptions,
) -> Result<Vec<Finding>> {
    let expected: Vec<ExpectedTable> = tables.iter().map(|t| (t.expected)()).collect();
    check_expected(conn, &expected, options)
}

/// Every drift of the setup migration and of the tables described by `expected` (from
/// `TableInfo::expected`, or built from schema.rs by the CLI): the one implementation
/// behind [`check_all`] and `pghistory-diesel check`.
pub fn check_expected(
    conn: &mut PgConnection,
    expected: &[ExpectedTable],
    options: &CheckOptions,
) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    if !setup_present(conn)? {
        findings.push(Finding::new(
            FindingKind::SetupMissing,
            "",
            "pghistory_context",
            None,
            None,
            "run `pghistory-diesel setup` and `diesel migration run`".to_owned(),
        ));
    } else {
        let owner = relation_owner(conn, &q::context_table())?;
        setup::setup_findings(&mut findings, conn, &q::expected_setup(), owner.as_deref())?;
    }
    for table in expected {
        findings.extend(table_findings(conn, table, options)?);
    }
    Ok(findings)
}

/// A kind of drift between the code and the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FindingKind {
    /// The setup migration is not applied: no `pghistory_context` or its functions.
    SetupMissing,
    /// The tracked table does not exist.
    TableMissing,
    /// The events table does not exist.
    EventsTableMissing,
    /// A trigger function does not exist.
    FunctionMissing,
    /// A trigger function's recorded fingerprint is not the one schema.rs expects: an older
    /// tracking migration is installed (or none of ours).
    FunctionOutdated,
    /// A trigger function's body differs from the generated one: replaced by hand.
    FunctionReplaced,
    /// A trigger or guard function's `SECURITY DEFINER`/`INVOKER` or `SET` settings differ
    /// from the generated ones.
    FunctionSecurity,
    /// A trigger or guard function is not owned by the history owner.
    FunctionOwner,
    /// The events table is not owned by the history owner.
    EventsTableOwner,
    /// A trigger is missing from the tracked table.
    TriggerMissing,
    /// A trigger of our name exists but is not the one we install: it calls another
    /// function, or its timing, events, transition tables, `WHEN` or arguments differ.
    TriggerChanged,
    /// A trigger is disabled (`DISABLE TRIGGER`): changes go unrecorded.
    TriggerDisabled,
    /// A trigger fires only when `session_replication_role = replica`
    /// (`ENABLE REPLICA TRIGGER`): ordinary sessions' changes go unrecorded.
    TriggerReplicaOnly,
    /// A trigger fires in every session mode (`ENABLE ALWAYS TRIGGER`). History is still
    /// written, but also by logical replication's apply workers and by restores run with
    /// `session_replication_role = replica`, which then record (or, for a guard, refuse)
    /// changes the origin already recorded. It is not what we install, so it is reported.
    TriggerAlways,
    /// The events table's guard (its function or one of its triggers) is missing.
    GuardMissing,
    /// The events table's guard function's body differs from the generated one.
    GuardReplaced,
    /// A guard trigger of the events table is disabled or fires only in replica mode: the events
    /// table can be updated, deleted or truncated.
    GuardDisabled,
    /// A column schema.rs declares is not in the tracked table (dropped or renamed).
    ColumnMissing,
    /// A tracked table's column has another type than schema.rs declares.
    ColumnType,
    /// A column of the tracked table that schema.rs does not declare, on a table whose
    /// UPDATE trigger tells unchanged rows by comparing whole rows: an UPDATE of that
    /// column alone would be recorded as a change.
    ColumnUndeclared,
    /// A text column under a nondeterministic collation, on a table whose UPDATE trigger
    /// compares whole rows byte for byte: equal text that differs in bytes would be
    /// recorded as a change.
    ColumnCollation,
    /// A column of the events table (`pgh_*` or a snapshot) is missing (dropped or renamed).
    EventsColumnMissing,
    /// A column of the events table has another type than the tracked column it copies
    /// (or than its `pgh_*` type).
    EventsColumnType,
    /// A trigger on the tracked or the events table that we did not install.
    UnknownTrigger,
    /// Events name a context row that does not exist (opt-in, it scans).
    OrphanEvents,
    /// A function of the setup migration is missing (pause, prune, a guard, ...).
    SetupFunctionMissing,
    /// A maintainer-only function (pause, prune) is executable by every role.
    FunctionPrivilege,
    /// Row level security is off on a history table: a role granted `UPDATE` or `DELETE`
    /// on it is no longer held to the read-only policy.
    RowSecurityDisabled,
}

impl FindingKind {
    /// What went wrong, as the start of a sentence.
    fn describe(self) -> &'static str {
        match self {
            FindingKind::SetupMissing => "the setup migration is not applied: no",
            FindingKind::TableMissing => "the tracked table does not exist:",
            FindingKind::EventsTableMissing => "the events table does not exist:",
            FindingKind::FunctionMissing => "trigger function missing:",
            FindingKind::FunctionOutdated => {
                "trigger function installed by another version of schema.rs:"
            }
            FindingKind::FunctionReplaced => "function body replaced:",
            FindingKind::FunctionSecurity => "function security attributes differ:",
            FindingKind::FunctionOwner => "function not owned by the history owner:",
            FindingKind::EventsTableOwner => "events table not owned by the history owner:",
            FindingKind::TriggerMissing => "trigger missing:",
            FindingKind::TriggerChanged => "trigger is not the one installed:",
            FindingKind::TriggerDisabled => "trigger disabled, changes are not recorded:",
            FindingKind::TriggerReplicaOnly => {
                "trigger fires only in replica mode, changes are not recorded:"
            }
            FindingKind::TriggerAlways => {
                "trigger set to fire also in replica mode (ENABLE ALWAYS):"
            }
            FindingKind::GuardMissing => "history table guard missing:",
            FindingKind::GuardReplaced => "history table guard function body replaced:",
            FindingKind::GuardDisabled => "history table guard disabled, history can be rewritten:",
            FindingKind::ColumnMissing => {
                "column declared in schema.rs missing (dropped or renamed):"
            }
            FindingKind::ColumnType => "column type differs from schema.rs:",
            FindingKind::ColumnUndeclared => {
                "column not declared in schema.rs, while the UPDATE trigger compares whole rows:"
            }
            FindingKind::ColumnCollation => {
                "column under a nondeterministic collation, while the UPDATE trigger compares whole rows byte for byte:"
            }
            FindingKind::EventsColumnMissing => "events column missing (dropped or renamed):",
            FindingKind::EventsColumnType => "events column type differs:",
            FindingKind::UnknownTrigger => "trigger not installed by pghistory-diesel:",
            FindingKind::OrphanEvents => "events point at context rows that do not exist:",
            FindingKind::SetupFunctionMissing => "setup function missing:",
            FindingKind::FunctionPrivilege => "maintainer-only function executable by every role:",
            FindingKind::RowSecurityDisabled => "row level security off on history table:",
        }
    }
}

/// One drift: what, where, and how to fix it. Displays as one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What drifted.
    pub kind: FindingKind,
    /// The tracked table, like `public.posts` (empty for the setup migration).
    pub table: String,
    /// The object concerned: a function signature, `trigger on relation`, a column, ...
    pub object: String,
    /// What the database has, when it says more than the kind (a type, a fingerprint).
    pub found: Option<String>,
    /// What the code expects, when it says more than the kind.
    pub expected: Option<String>,
    /// The fix.
    pub fix: String,
}

impl Finding {
    fn new(
        kind: FindingKind,
        table: &str,
        object: impl Into<String>,
        found: Option<String>,
        expected: Option<String>,
        fix: String,
    ) -> Finding {
        Finding {
            kind,
            table: table.to_owned(),
            object: object.into(),
            found,
            expected,
            fix,
        }
    }

    /// The error [`check_table`] returns for this finding (the older named errors where
    /// one fits).
    fn into_error(self) -> Error {
        match self.kind {
            FindingKind::FunctionMissing => Error::TriggerMissing {
                table: self.table,
                function: self.object,
            },
            FindingKind::TriggerMissing | FindingKind::TriggerChanged => Error::TriggerMissing {
                table: self.table,
                function: self.object,
            },
            FindingKind::TriggerDisabled => Error::TriggerDisabled {
                table: self.table,
                // The object reads `trigger NAME calling FUNCTION`.
                trigger: self
                    .object
                    .trim_start_matches("trigger ")
                    .split(' ')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            },
            FindingKind::FunctionOutdated | FindingKind::FunctionReplaced => {
                Error::OutdatedTrigger {
                    table: self.table,
                    function: self.object,
                    installed: self.found.unwrap_or_default(),
                    expected: self.expected.unwrap_or_default(),
                }
            }
            _ => Error::Drift(Box::new(self)),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.table.is_empty() {
            write!(f, "{}: ", self.table)?;
        }
        write!(f, "{} {}", self.kind.describe(), self.object)?;
        match (&self.found, &self.expected) {
            (Some(found), Some(expected)) => write!(f, " (found {found}, expected {expected})")?,
            (Some(found), None) => write!(f, " ({found})")?,
            (None, Some(expected)) => write!(f, " (expected {expected})")?,
            (None, None) => {}
        }
        write!(f, "; fix: {}", self.fix)
    }
}

/// Applying the tracking migrations fixes it (or, when they are applied, reinstalling).
const APPLY: &str = "run `pghistory-diesel generate` and `diesel migration run`; if nothing is pending, it was changed by hand: `diesel migration redo` the table's latest tracking migration";
/// It was changed by hand: reinstall.
const REINSTALL: &str =
    "reinstall it: `diesel migration redo` the table's latest tracking migration";

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = Bool)]
    present: bool,
}

fn setup_present(conn: &mut PgConnection) -> Result<bool> {
    Ok(diesel::sql_query(q::SETUP_PRESENT)
        .bind::<Text, _>(q::context_table())
        .bind::<Text, _>(pghistory_diesel_core::vocab::ATTACH_CONTEXT_SIGNATURE.as_str())
        .get_result::<Present>(conn)?
        .present)
}

#[derive(QueryableByName)]
struct Owner {
    #[diesel(sql_type = Text)]
    owner: String,
}

fn relation_owner(conn: &mut PgConnection, relation: &str) -> Result<Option<String>> {
    Ok(diesel::sql_query(q::RELATION_OWNER)
        .bind::<Text, _>(relation)
        .get_result::<Owner>(conn)
        .optional()?
        .map(|o| o.owner))
}

#[derive(QueryableByName)]
struct FunctionState {
    #[diesel(sql_type = BigInt)]
    oid: i64,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Nullable<Text>)]
    comment: Option<String>,
    #[diesel(sql_type = Bool)]
    security_definer: bool,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    config: Option<Vec<String>>,
    #[diesel(sql_type = Text)]
    owner: String,
}

fn function_state(conn: &mut PgConnection, signature: &str) -> Result<Option<FunctionState>> {
    Ok(diesel::sql_query(q::FUNCTION_STATE)
        .bind::<Text, _>(signature)
        .get_result(conn)
        .optional()?)
}

#[derive(QueryableByName)]
struct TriggerRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    function_oid: i64,
    #[diesel(sql_type = Text)]
    function: String,
    #[diesel(sql_type = Text)]
    enabled: String,
    #[diesel(sql_type = SmallInt)]
    trigger_type: i16,
    #[diesel(sql_type = Nullable<Text>)]
    old_table: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    new_table: Option<String>,
    #[diesel(sql_type = Bool)]
    bare: bool,
    #[diesel(sql_type = Text)]
    args: String,
}

impl TriggerRow {
    /// No `WHEN`, no column list, no arguments: how every trigger of ours is defined but
    /// the row-level companion and a whole-row statement trigger.
    fn plain(&self) -> bool {
        self.bare && self.args.is_empty()
    }

    /// Whether it is a marked UPDATE's statement trigger installed beside the row-level
    /// companion: no `WHEN`, no column list, and the one argument
    /// [`vocab::WHOLE_ROWS_ARGUMENT`].
    fn compares_whole_rows(&self) -> bool {
        self.bare && self.args == format!("{}\\000", vocab::WHOLE_ROWS_ARGUMENT)
    }
}

fn triggers(conn: &mut PgConnection, relation: &str) -> Result<Vec<TriggerRow>> {
    Ok(diesel::sql_query(q::TRIGGERS)
        .bind::<Text, _>(relation)
        .load(conn)?)
}

#[derive(QueryableByName)]
struct WholeRowColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    undeclared: bool,
}

#[derive(QueryableByName)]
struct DeclaredColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    found: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    matches: Option<bool>,
}

#[derive(QueryableByName)]
struct CopiedColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    found: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    expected: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    matches: Option<bool>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Our tracked-table triggers fire in origin mode (`tgenabled` 'O'); see the kinds.
fn mode_finding(enabled: &str, guard: bool) -> Option<FindingKind> {
    match (enabled, guard) {
        ("O", _) => None,
        ("D" | "R", true) => Some(FindingKind::GuardDisabled),
        ("D", false) => Some(FindingKind::TriggerDisabled),
        ("R", false) => Some(FindingKind::TriggerReplicaOnly),
        _ => Some(FindingKind::TriggerAlways),
    }
}

/// A trigger's definition for messages: `tgtype`, transition tables, and whether it has
/// a `WHEN`, a column list or arguments.
fn describe_trigger(
    trigger_type: i16,
    old: &Option<String>,
    new: &Option<String>,
    plain: bool,
) -> String {
    format!(
        "tgtype {trigger_type}, old table {}, new table {}{}",
        old.as_deref().unwrap_or("none"),
        new.as_deref().unwrap_or("none"),
        if plain {
            ""
        } else {
            ", with WHEN, columns or arguments"
        }
    )
}

/// The finding for a trigger of ours that calls another function (`same_function` false)
/// or is defined otherwise than `expected` (`(tgtype, old table, new table, plain)`).
fn trigger_changed(
    table: &str,
    on: String,
    trigger: &TriggerRow,
    same_function: bool,
    expected: (i16, &Option<String>, &Option<String>, bool),
) -> Finding {
    Finding::new(
        FindingKind::TriggerChanged,
        table,
        on,
        Some(if same_function {
            describe_trigger(
                trigger.trigger_type,
                &trigger.old_table,
                &trigger.new_table,
                trigger.plain(),
            )
        } else {
            format!("it calls {}", trigger.function)
        }),
        same_function.then(|| describe_trigger(expected.0, expected.1, expected.2, expected.3)),
        REINSTALL.to_owned(),
    )
}

/// The ALTER FUNCTION that gives `signature` the expected security attributes.
fn security_fix(signature: &str, expected: &ExpectedSecurity) -> String {
    let mut sql = format!(
        "ALTER FUNCTION {signature} {} RESET ALL",
        if expected.definer {
            "SECURITY DEFINER"
        } else {
            "SECURITY INVOKER"
        }
    );
    for setting in &expected.config {
        let (name, value) = setting.split_once('=').unwrap_or((setting, ""));
        sql.push_str(&format!(" SET {name} = {value}"));
    }
    format!("`{sql}`, or {REINSTALL}")
}

/// Findings about an UPDATE's row-level companion ([`vocab::UNCHANGED_TRIGGER`]) and its
/// `WHEN` function: without them (or with the trigger disabled) no statement is ever
/// marked as leaving a row unchanged, and the statement trigger would write events for
/// rows that did not change.
#[allow(clippy::too_many_arguments)]
fn unchanged_findings(
    conn: &mut PgConnection,
    out: &mut Vec<Finding>,
    table: &str,
    unchanged: &ExpectedUnchanged,
    function: &ExpectedFunction,
    state: &FunctionState,
    tracked_triggers: &[TriggerRow],
    owner: Option<&str>,
) -> Result<()> {
    match function_state(conn, &unchanged.signature)? {
        None => out.push(Finding::new(
            FindingKind::FunctionMissing,
            table,
            unchanged.signature.clone(),
            None,
            None,
            REINSTALL.to_owned(),
        )),
        Some(when) => {
            if when.body != unchanged.body {
                out.push(Finding::new(
                    FindingKind::FunctionReplaced,
                    table,
                    unchanged.signature.clone(),
                    Some(pghistory_diesel_core::fingerprint(&when.body)),
                    Some(pghistory_diesel_core::fingerprint(&unchanged.body)),
                    REINSTALL.to_owned(),
                ));
            }
            // Invoker, no settings: it only sets a setting of the caller's transaction.
            let plain = ExpectedSecurity {
                definer: false,
                config: Vec::new(),
            };
            function_security_findings(out, table, &unchanged.signature, &plain, &when, owner);
        }
    }
    unchanged_trigger_findings(
        out,
        table,
        &unchanged.trigger,
        function,
        state,
        tracked_triggers,
    );
    Ok(())
}

/// Findings about the companion trigger itself (see [`unchanged_findings`]).
fn unchanged_trigger_findings(
    out: &mut Vec<Finding>,
    table: &str,
    name: &str,
    function: &ExpectedFunction,
    state: &FunctionState,
    tracked_triggers: &[TriggerRow],
) {
    let on = format!("trigger {name} calling {}", function.signature);
    let Some(trigger) = tracked_triggers.iter().find(|t| t.name == name) else {
        out.push(Finding::new(
            FindingKind::TriggerMissing,
            table,
            on,
            None,
            None,
            REINSTALL.to_owned(),
        ));
        return;
    };
    if let Some(kind) = mode_finding(&trigger.enabled, false) {
        out.push(Finding::new(
            kind,
            table,
            on.clone(),
            None,
            None,
            REINSTALL.to_owned(),
        ));
    }
    let same_function = trigger.function_oid == state.oid;
    // Its WHEN is what it is for: a trigger without one would run the function per row.
    let same_definition = trigger.trigger_type == vocab::UNCHANGED_TRIGGER_TYPE
        && trigger.old_table.is_none()
        && trigger.new_table.is_none()
        && !trigger.plain();
    if !same_function || !same_definition {
        out.push(trigger_changed(
            table,
            on,
            trigger,
            same_function,
            (vocab::UNCHANGED_TRIGGER_TYPE, &None, &None, false),
        ));
    }
}

/// Findings about one function's security and owner.
fn function_security_findings(
    out: &mut Vec<Finding>,
    table: &str,
    signature: &str,
    expected: &ExpectedSecurity,
    state: &FunctionState,
    history_owner: Option<&str>,
) {
    let config = state.config.clone().unwrap_or_default();
    if state.security_definer != expected.definer || config != expected.config {
        let describe = |definer: bool, config: &[String]| {
            let mut text = if definer {
                "SECURITY DEFINER"
            } else {
                "SECURITY INVOKER"
            }
            .to_owned();
            for setting in config {
                text.push_str(&format!(" SET {setting}"));
            }
            text
        };
        out.push(Finding::new(
            FindingKind::FunctionSecurity,
            table,
            signature,
            Some(describe(state.security_definer, &config)),
            Some(describe(expected.definer, &expected.config)),
            security_fix(signature, expected),
        ));
    }
    if let Some(owner) = history_owner {
        if state.owner != owner {
            out.push(Finding::new(
                FindingKind::FunctionOwner,
                table,
                signature,
                Some(format!("owner {}", state.owner)),
                Some(format!("owner {owner}")),
                format!(
                    "`ALTER FUNCTION {signature} OWNER TO {}`",
                    quote::ident(owner)
                ),
            ));
        }
    }
}

/// Every finding about one tracked table, in a fixed order: per trigger function (its
/// existence, its trigger, its recorded fingerprint, its body, its trigger's definition,
/// its security), then the guard, the events table and its owner, columns, and triggers
/// we did not install.
pub fn table_findings(
    conn: &mut PgConnection,
    expected: &ExpectedTable,
    options: &CheckOptions,
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let table = expected.table.as_str();
    let history_owner: Option<String> = diesel::sql_query(q::RELATION_OWNER)
        .bind::<Text, _>(q::context_table())
        .get_result::<Owner>(conn)
        .optional()?
        .map(|o| o.owner);
    let tracked_exists = relation_owner(conn, &expected.relation)?.is_some();
    let events_owner = relation_owner(conn, &expected.events_relation)?;
    // Functions are owned by the history owner; without the setup, by the events' owner.
    let owner = history_owner.clone().or_else(|| events_owner.clone());

    let tracked_triggers = if tracked_exists {
        triggers(conn, &expected.relation)?
    } else {
        Vec::new()
    };
    // Whether the UPDATE trigger was installed to compare whole rows (see
    // `ExpectedUnchanged`); without the argument it probes its declared columns.
    let mut whole_rows = false;
    for function in &expected.functions {
        let Some(state) = function_state(conn, &function.signature)? else {
            out.push(Finding::new(
                FindingKind::FunctionMissing,
                table,
                function.signature.clone(),
                None,
                None,
                APPLY.to_owned(),
            ));
            continue;
        };
        let on = format!(
            "trigger {} calling {}",
            function.trigger, function.signature
        );
        let ours = tracked_triggers.iter().find(|t| t.name == function.trigger);
        // Installed beside the row-level companion (see `ExpectedUnchanged`)?
        let beside_companion =
            function.unchanged.is_some() && ours.is_some_and(TriggerRow::compares_whole_rows);
        whole_rows |= beside_companion;
        match ours {
            _ if !tracked_exists => {}
            None => out.push(Finding::new(
                FindingKind::TriggerMissing,
                table,
                on.clone(),
                None,
                None,
                APPLY.to_owned(),
            )),
            Some(trigger) => {
                if let Some(kind) = mode_finding(&trigger.enabled, false) {
                    out.push(Finding::new(
                        kind,
                        table,
                        on.clone(),
                        None,
                        None,
                        format!(
                            "`ALTER TABLE {} ENABLE TRIGGER {}`",
                            expected.relation,
                            quote::ident(&function.trigger)
                        ),
                    ));
                }
            }
        }
        let installed = state
            .comment
            .as_deref()
            .and_then(|c| c.strip_prefix("pghistory-diesel "))
            .unwrap_or("none");
        if installed != expected.fingerprint {
            out.push(Finding::new(
                FindingKind::FunctionOutdated,
                table,
                function.signature.clone(),
                Some(installed.to_owned()),
                Some(expected.fingerprint.clone()),
                APPLY.to_owned(),
            ));
        } else if state.body != function.body {
            out.push(Finding::new(
                FindingKind::FunctionReplaced,
                table,
                function.signature.clone(),
                Some(pghistory_diesel_core::fingerprint(&state.body)),
                Some(pghistory_diesel_core::fingerprint(&function.body)),
                REINSTALL.to_owned(),
            ));
        }
        if let Some(trigger) = ours {
            let same_function = trigger.function_oid == state.oid;
            let same_definition = trigger.trigger_type == function.trigger_type
                && (trigger.old_table.clone(), trigger.new_table.clone()) == function.transition
                && (trigger.plain() || beside_companion);
            if !same_function || !same_definition {
                out.push(trigger_changed(
                    table,
                    on,
                    trigger,
                    same_function,
                    (
                        function.trigger_type,
                        &function.transition.0,
                        &function.transition.1,
                        true,
                    ),
                ));
            }
        }
        if let Some(unchanged) = function.unchanged.as_ref().filter(|_| beside_companion) {
            unchanged_findings(
                conn,
                &mut out,
                table,
                unchanged,
                function,
                &state,
                &tracked_triggers,
                owner.as_deref(),
            )?;
        }
        function_security_findings(
            &mut out,
            table,
            &function.signature,
            &function.security,
            &state,
            owner.as_deref(),
        );
    }

    // After the functions: check_table reported a missing function first, and still does.
    if !tracked_exists {
        out.push(Finding::new(
            FindingKind::TableMissing,
            table,
            expected.relation.clone(),
            None,
            None,
            "create the table (`diesel migration run`), or remove its tracked_table! from schema.rs".to_owned(),
        ));
    }
    let Some(events_owner) = events_owner else {
        out.push(Finding::new(
            FindingKind::EventsTableMissing,
            table,
            expected.events_relation.clone(),
            None,
            None,
            APPLY.to_owned(),
        ));
        if tracked_exists {
            unknown_triggers(
                &mut out,
                table,
                &expected.relation,
                &tracked_triggers,
                expected,
                false,
                &options.allowed_triggers,
            );
        }
        return Ok(out);
    };
    let events_triggers = triggers(conn, &expected.events_relation)?;
    if let Some(guard) = &expected.guard {
        guard_findings(
            &mut out,
            conn,
            expected,
            guard,
            &events_triggers,
            owner.as_deref(),
        )?;
    }
    if let Some(owner) = &history_owner {
        if &events_owner != owner {
            out.push(Finding::new(
                FindingKind::EventsTableOwner,
                table,
                expected.events_relation.clone(),
                Some(format!("owner {events_owner}")),
                Some(format!("owner {owner}")),
                format!(
                    "`ALTER TABLE {} OWNER TO {}`",
                    expected.events_relation,
                    quote::ident(owner)
                ),
            ));
        }
    }
    if setup::row_security(conn, &expected.events_relation)? == Some(false) {
        out.push(setup::row_security_finding(
            table,
            &expected.events_relation,
        ));
    }
    if tracked_exists {
        column_findings(&mut out, conn, expected, whole_rows)?;
    }
    events_column_findings(&mut out, conn, expected, tracked_exists)?;
    if tracked_exists {
        unknown_triggers(
            &mut out,
            table,
            &expected.relation,
            &tracked_triggers,
            expected,
            false,
            &options.allowed_triggers,
        );
    }
    unknown_triggers(
        &mut out,
        table,
        &expected.events_relation,
        &events_triggers,
        expected,
        true,
        &options.allowed_triggers,
    );
    if options.orphan_events && history_owner.is_some() {
        if let Some(sql) = &expected.orphans_sql {
            // Without the column there is nothing to count: already a column finding.
            let column_missing = out.iter().any(|f| {
                f.kind == FindingKind::EventsColumnMissing
                    && f.object.ends_with("\"pgh_context_id\"")
            });
            if !column_missing {
                let count = diesel::sql_query(sql).get_result::<Count>(conn)?.count;
                if count > 0 {
                    out.push(Finding::new(
                        FindingKind::OrphanEvents,
                        table,
                        expected.events_relation.clone(),
                        Some(format!("{count} events")),
                        None,
                        "the context rows were deleted; restore them from a backup, or accept that these events have no context".to_owned(),
                    ));
                }
            }
        }
    }
    Ok(out)
}

fn guard_findings(
    out: &mut Vec<Finding>,
    conn: &mut PgConnection,
    expected: &ExpectedTable,
    guard: &ExpectedGuard,
    events_triggers: &[TriggerRow],
    owner: Option<&str>,
) -> Result<()> {
    let table = expected.table.as_str();
    let Some(state) = function_state(conn, &guard.signature)? else {
        out.push(Finding::new(
            FindingKind::GuardMissing,
            table,
            guard.signature.clone(),
            None,
            None,
            APPLY.to_owned(),
        ));
        return Ok(());
    };
    if state.body != guard.body {
        out.push(Finding::new(
            FindingKind::GuardReplaced,
            table,
            guard.signature.clone(),
            Some(pghistory_diesel_core::fingerprint(&state.body)),
            Some(pghistory_diesel_core::fingerprint(&guard.body)),
            REINSTALL.to_owned(),
        ));
    }
    for (name, trigger_type) in &guard.triggers {
        let on = format!(
            "trigger {name} on {} calling {}",
            expected.events_relation, guard.signature
        );
        match events_triggers.iter().find(|t| &t.name == name) {
            None => out.push(Finding::new(
                FindingKind::GuardMissing,
                table,
                on,
                None,
                None,
                APPLY.to_owned(),
            )),
            Some(trigger) => {
                if trigger.function_oid != state.oid
                    || trigger.trigger_type != *trigger_type
                    || !trigger.plain()
                {
                    out.push(Finding::new(
                        FindingKind::TriggerChanged,
                        table,
                        on.clone(),
                        Some(format!("it calls {}", trigger.function)),
                        None,
                        REINSTALL.to_owned(),
                    ));
                }
                if let Some(kind) = mode_finding(&trigger.enabled, true) {
                    out.push(Finding::new(
                        kind,
                        table,
                        on,
                        None,
                        None,
                        format!(
                            "`ALTER TABLE {} ENABLE TRIGGER {}`",
                            expected.events_relation,
                            quote::ident(name)
                        ),
                    ));
                }
            }
        }
    }
    function_security_findings(out, table, &guard.signature, &guard.security, &state, owner);
    Ok(())
}

/// Triggers on `relation` that are not ours (by name: ours are all `pghistory_*`, and of
/// those only the ones this table's declaration installs).
fn unknown_triggers(
    out: &mut Vec<Finding>,
    table: &str,
    relation: &str,
    found: &[TriggerRow],
    expected: &ExpectedTable,
    events: bool,
    allowed: &[String],
) {
    let ours: Vec<&str> = if events {
        expected
            .guard
            .iter()
            .flat_map(|g| g.triggers.iter().map(|(name, _)| name.as_str()))
            .collect()
    } else {
        expected
            .functions
            .iter()
            .flat_map(|f| {
                std::iter::once(f.trigger.as_str())
                    .chain(f.unchanged.as_ref().map(|u| u.trigger.as_str()))
            })
            .collect()
    };
    let allowed = |name: &str| !events && allowed.iter().any(|a| a == name);
    for trigger in found
        .iter()
        .filter(|t| !ours.contains(&t.name.as_str()) && !allowed(&t.name))
    {
        out.push(Finding::new(
            FindingKind::UnknownTrigger,
            table,
            format!(
                "trigger {} on {relation} calling {}",
                trigger.name, trigger.function
            ),
            None,
            None,
            format!(
                "`DROP TRIGGER {} ON {relation}`; if it is the application's own and never changes history, allow it (`--allow-trigger`, `CheckOptions::allowed_triggers`)",
                quote::ident(&trigger.name)
            ),
        ));
    }
}

fn column_findings(
    out: &mut Vec<Finding>,
    conn: &mut PgConnection,
    expected: &ExpectedTable,
    whole_rows: bool,
) -> Result<()> {
    let names: Vec<&str> = expected.columns.iter().map(|c| c.name.as_str()).collect();
    let types: Vec<&str> = expected
        .columns
        .iter()
        .map(|c| match &c.ty {
            ExpectedType::Named(t) => t.as_str(),
            _ => "",
        })
        .collect();
    let rows: Vec<DeclaredColumn> = diesel::sql_query(q::DECLARED_COLUMNS)
        .bind::<Text, _>(&expected.relation)
        .bind::<Array<Text>, _>(&names)
        .bind::<Array<Text>, _>(&types)
        .bind::<Bool, _>(false)
        .load(conn)?;
    for (row, ty) in rows.iter().zip(&types) {
        let object = format!("{}.{}", expected.relation, quote::ident(&row.name));
        if row.found.is_none() {
            out.push(Finding::new(
                FindingKind::ColumnMissing,
                &expected.table,
                object,
                None,
                None,
                "restore the column, or declare the table as it is in schema.rs; then `pghistory-diesel generate` and `diesel migration run`".to_owned(),
            ));
        } else if row.matches == Some(false) {
            out.push(Finding::new(
                FindingKind::ColumnType,
                &expected.table,
                object,
                row.found.clone(),
                Some((*ty).to_owned()),
                "declare the column's type in schema.rs (`diesel print-schema` shows it), then `pghistory-diesel generate` and `diesel migration run`".to_owned(),
            ));
        }
    }
    // After the declared columns: a marked UPDATE (one with the row-level companion)
    // compares whole rows, so every column of the table counts, and one that schema.rs
    // does not declare is drift too.
    if whole_rows {
        let rows: Vec<WholeRowColumn> = diesel::sql_query(q::whole_row_columns())
            .bind::<Text, _>(&expected.relation)
            .bind::<Array<Text>, _>(&names)
            .load(conn)?;
        for row in rows {
            let object = format!("{}.{}", expected.relation, quote::ident(&row.name));
            let (kind, fix) = if row.undeclared {
                (FindingKind::ColumnUndeclared, "declare the column in schema.rs (or name the tracked columns with fields(...)), then `pghistory-diesel generate` and `diesel migration run`")
            } else {
                (FindingKind::ColumnCollation, "name the tracked columns with fields(...), so the trigger compares them with =, then `pghistory-diesel generate` and `diesel migration run`")
            };
            out.push(Finding::new(
                kind,
                &expected.table,
                object,
                None,
                None,
                fix.to_owned(),
            ));
        }
    }
    Ok(())
}

fn events_column_findings(
    out: &mut Vec<Finding>,
    conn: &mut PgConnection,
    expected: &ExpectedTable,
    tracked_exists: bool,
) -> Result<()> {
    let table = expected.table.as_str();
    let missing = |out: &mut Vec<Finding>, name: &str| {
        out.push(Finding::new(
            FindingKind::EventsColumnMissing,
            table,
            format!("{}.{}", expected.events_relation, quote::ident(name)),
            None,
            None,
            REINSTALL.to_owned(),
        ));
    };
    let named: Vec<(&str, &str)> = expected
        .events_columns
        .iter()
        .filter_map(|c| match &c.ty {
            ExpectedType::Named(t) => Some((c.name.as_str(), t.as_str())),
            ExpectedType::Unknown => Some((c.name.as_str(), "")),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = named.iter().map(|(n, _)| *n).collect();
    let types: Vec<&str> = named.iter().map(|(_, t)| *t).collect();
    let rows: Vec<DeclaredColumn> = diesel::sql_query(q::DECLARED_COLUMNS)
        .bind::<Text, _>(&expected.events_relation)
        .bind::<Array<Text>, _>(&names)
        .bind::<Array<Text>, _>(&types)
        .bind::<Bool, _>(true)
        .load(conn)?;
    for (row, ty) in rows.iter().zip(&types) {
        if row.found.is_none() {
            missing(out, &row.name);
        } else if row.matches == Some(false) {
            out.push(Finding::new(
                FindingKind::EventsColumnType,
                table,
                format!("{}.{}", expected.events_relation, quote::ident(&row.name)),
                row.found.clone(),
                Some((*ty).to_owned()),
                REINSTALL.to_owned(),
            ));
        }
    }
    let copied: Vec<(&str, &str, bool)> = expected
        .events_columns
        .iter()
        .filter_map(|c| match &c.ty {
            ExpectedType::SameAs(s) => Some((c.name.as_str(), s.as_str(), true)),
            ExpectedType::SameBaseAs(s) => Some((c.name.as_str(), s.as_str(), false)),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = copied.iter().map(|c| c.0).collect();
    let sources: Vec<&str> = copied.iter().map(|c| c.1).collect();
    let exact: Vec<bool> = copied.iter().map(|c| c.2).collect();
    let rows: Vec<CopiedColumn> = diesel::sql_query(q::COPIED_COLUMNS)
        .bind::<Text, _>(&expected.events_relation)
        .bind::<Text, _>(&expected.relation)
        .bind::<Array<Text>, _>(&names)
        .bind::<Array<Text>, _>(&sources)
        .bind::<Array<Bool>, _>(&exact)
        .load(conn)?;
    for row in rows {
        if row.found.is_none() {
            missing(out, &row.name);
        } else if row.matches == Some(false) && tracked_exists {
            out.push(Finding::new(
                FindingKind::EventsColumnType,
                table,
                format!("{}.{}", expected.events_relation, quote::ident(&row.name)),
                row.found,
                row.expected,
                "give schema.rs the tracked column's type, then `pghistory-diesel generate` and `diesel migration run` (the migration converts the events column)".to_owned(),
            ));
        }
    }
    Ok(())
}
