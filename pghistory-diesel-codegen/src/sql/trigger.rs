//! Trigger functions and triggers.
//!
//! Every tracked operation gets one `AFTER ... FOR EACH STATEMENT` trigger with a
//! transition table, whose function writes all that statement's events with one
//! `INSERT ... SELECT` per tracker. Per statement, not per row:
//!
//! - the context id (and metadata) are read once, from session settings, with
//!   `current_setting(name, true)`: no exception blocks, no subtransactions, no context
//!   table upsert and so no lock on a shared row;
//! - conditions become a `WHERE` over the transition rows, aliased `"old"` and `"new"`.
//!
//! Updates pair old and new rows by their position in the transition tables (Postgres
//! appends each updated row's old and new version together), not by primary key, so an
//! `UPDATE` that changes keys, or swaps two of them, still pairs every row with itself.
//! A one-row statement cross-joins its one old and one new row; any other joins the two
//! tables on `row_number() OVER ()` with a hash join, which streams both sides and
//! spills to temp files under `work_mem`, so memory does not grow with the statement.
//! When the old row is read only by the no-op filter over every column, and the columns'
//! bytes tell equal values apart, a row-level trigger beside the statement trigger marks
//! the statement as it runs: its `WHEN` is true for no row, but compares each row's OLD
//! and NEW byte for byte and, for a row that did not change, sets a transaction-local
//! setting to the statement's start time (`marked_triggers`). A statement that
//! changed every row is left unmarked, every no-op filter holds, and the events are the
//! new rows alone: no pairing, wide rows never cross a hash table. Other no-op filters
//! (`fields(...)`, `numeric`, `jsonb`, ...) get a narrow probe instead: row numbers and
//! 4-byte hashes of text columns, the other columns as they are, looking for a row that
//! might be unchanged; when there is none, the events are the new rows alone too
//! (`unchanged_probe`). A trigger whose trackers never read the old row does not pair
//! at all.
//! PL/pgSQL caches each statement's plan with the row count of the call that planned
//! it; planner settings (the functions' `SET` lines, see `settings`, and an UPDATE's
//! bulk branch, see `PLANNER_GUARD`) keep that plan linear (no nested loop, no merge
//! join) and free of JIT whatever size planned it.
//!
//! Every name in a body is schema-qualified, so the caller's `search_path` does not matter.

use super::{condition, event_table, function, manual, names, quote, setup};
use crate::model::condition::Condition;
use crate::model::{Operation, Row, TrackedTable, Tracker};
use pghistory_diesel_core::vocab::DOLLAR_TAG;

/// The operations that get a trigger, in a fixed order.
pub fn operations(table: &TrackedTable) -> Vec<Operation> {
    [Operation::Insert, Operation::Update, Operation::Delete]
        .into_iter()
        .filter(|op| table.trackers_for(*op).next().is_some())
        .collect()
}

/// How an UPDATE's trigger pairs its old and new rows.
///
/// By position, never by key (keys can change or be swapped): each transition table is
/// numbered with `row_number() OVER ()` and the numbers are joined. A statement of one
/// row needs no numbering, and the trigger checks for that first, so the cheap case gets
/// a plan of its own (PL/pgSQL caches one plan per statement of the function).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pairing {
    /// Exactly one row: the two transition tables cross-joined (1 × 1).
    Single,
    /// Any number of rows: a hash join on the row numbers. The bulk branch's planner
    /// settings (see [`PLANNER_GUARD`]) keep the planner from choosing a nested loop or a merge join,
    /// whatever row count the cached plan was made with, so the join stays linear and
    /// spills to temp files under `work_mem` like any hash join.
    Bulk,
    /// No pairing: the new rows alone. Right when no tracker reads the old row, and when
    /// the only reader of the old row is the no-op filter and [`marked_triggers`] did
    /// not mark the statement (see [`OldUse`]).
    Stream,
}

/// What one tracker of an UPDATE reads of the old row.
#[derive(Clone, PartialEq, Eq)]
enum OldUse<'a> {
    /// Nothing: it stores the new row, and its condition (if any) reads only `new`.
    Nothing,
    /// Only the no-op filter over these columns (SQL names): `AnyChange`, which holds for
    /// every row of a statement that [`marked_triggers`] did not mark.
    NoOp(Vec<&'a str>),
    /// Anything else: it stores the old row, or its condition reads `old`.
    Other,
}

fn old_use<'a>(table: &'a TrackedTable, tracker: &'a Tracker) -> OldUse<'a> {
    if tracker.row == Row::Old {
        return OldUse::Other;
    }
    match &tracker.condition {
        None => OldUse::Nothing,
        Some(Condition::AnyChange(cols)) => {
            let names: Vec<&str> = if cols.is_empty() {
                table
                    .tracked_columns()
                    .map(|c| c.sql_name.as_str())
                    .collect()
            } else {
                cols.iter().map(String::as_str).collect()
            };
            if names.is_empty() {
                OldUse::Other
            } else {
                OldUse::NoOp(names)
            }
        }
        Some(cond) if !cond.sides().0 => OldUse::Nothing,
        Some(_) => OldUse::Other,
    }
}

/// How an UPDATE's trigger writes the events of a statement of more than one row.
enum BulkPlan<'a> {
    /// No tracker reads the old row: stream the new rows, no pairing at all.
    Stream,
    /// The old row is read only by no-op filters over every column of the table, each
    /// compared byte for byte ([`TrackedTable::rows_compare_as_bytes`]): a statement that
    /// [`marked_triggers`] did not mark changed every row, so every filter holds and
    /// the new rows are streamed (whatever the statement's size); a marked one is paired
    /// in full. Installed without the companion (the table has a column schema.rs does
    /// not declare, or text under a nondeterministic collation), as [`BulkPlan::Probe`].
    Marked(Vec<&'a str>),
    /// The old row is read only by no-op filters over these columns: first look for a
    /// row that might be unchanged with a narrow join ([`unchanged_probe`]); if there is
    /// none, every filter holds and the new rows are streamed; otherwise pair in full.
    Probe(Vec<&'a str>),
    /// Pair every row in full (the hash join on row numbers).
    Join,
}

fn bulk_plan(table: &TrackedTable) -> BulkPlan<'_> {
    let mut filter: Option<Vec<&str>> = None;
    for tracker in table.trackers_for(Operation::Update) {
        match old_use(table, tracker) {
            OldUse::Nothing => {}
            OldUse::Other => return BulkPlan::Join,
            OldUse::NoOp(cols) => match &filter {
                None => filter = Some(cols),
                Some(seen) if *seen == cols => {}
                Some(_) => return BulkPlan::Join,
            },
        }
    }
    match filter {
        None => BulkPlan::Stream,
        Some(cols)
            if table.rows_compare_as_bytes()
                && table
                    .columns
                    .iter()
                    .all(|c| cols.contains(&c.sql_name.as_str())) =>
        {
            BulkPlan::Marked(cols)
        }
        Some(cols) => BulkPlan::Probe(cols),
    }
}

/// The statement's start time as text, the mark [`marked_triggers`] leaves: the same
/// for every row and trigger of one statement, and a different one for the next
/// statement, so a mark never outlives its statement (statements run by one function
/// call, or sent in one simple-protocol message, share it: a later one is then paired in
/// full, which is always right). As epoch seconds, which no `DateStyle` or `TimeZone`
/// changes.
fn statement_stamp() -> &'static str {
    "pg_catalog.date_part('epoch', pg_catalog.statement_timestamp())::pg_catalog.text"
}

/// `"schema"."pghistory_<table>_unchanged"()`, the function the `WHEN` of
/// `marked_triggers` calls for a row that did not change.
pub fn unchanged_function_signature(table: &TrackedTable) -> String {
    unchanged_function_signature_for(&table.schema, &table.sql_name)
}

/// [`unchanged_function_signature`] of the table `schema.sql_name`.
pub fn unchanged_function_signature_for(schema: &str, sql_name: &str) -> String {
    format!(
        "{}()",
        quote::qualified(schema, &names::unchanged_function_for(sql_name))
    )
}

/// The PL/pgSQL body of [`unchanged_function_signature`]'s function: it marks the
/// statement and returns false, so the companion never queues an event.
fn unchanged_source(table: &TrackedTable) -> String {
    format!(
        "BEGIN\n    PERFORM pg_catalog.set_config({setting}, {stamp}, true);\n    RETURN false;\nEND\n",
        setting = quote::literal(&names::unchanged_setting(table)),
        stamp = statement_stamp(),
    )
}

/// The stored body of the `WHEN` function (`pg_proc.prosrc`), for `check` (`None`: the
/// UPDATE has no companion).
pub fn unchanged_function_body(table: &TrackedTable) -> Option<String> {
    match bulk_plan(table) {
        BulkPlan::Marked(_) => Some(function::stored_body(&unchanged_source(table))),
        _ => None,
    }
}

/// The `WHEN` of [`marked_triggers`], as written in `CREATE TRIGGER`.
fn unchanged_when(table: &TrackedTable) -> String {
    format!(
        "OLD OPERATOR(pg_catalog.*=) NEW AND {}",
        unchanged_function_signature(table)
    )
}

/// The row-level companion of a marked UPDATE's statement trigger ([`BulkPlan::Marked`]),
/// with the function its `WHEN` calls, and the statement trigger itself: both triggers
/// are created by a `DO` block that first looks at the table as it is in the database.
///
/// Postgres evaluates an AFTER trigger's `WHEN` for each updated row as the statement
/// runs, and queues an event only where it is true. This `WHEN` is
/// `OLD *= NEW AND pghistory_<table>_unchanged()`: for a row that changed, the byte-wise
/// comparison of the whole rows is false and nothing else runs; for an unchanged row, the
/// function sets [`names::unchanged_setting`] to [`statement_stamp`], transaction-local,
/// and returns false. So the trigger never queues an event (the statement's memory does
/// not grow with its rows) and never calls its own function (the UPDATE function, named
/// only because a trigger must name one). Row-level AFTER triggers' `WHEN`s run before
/// any AFTER trigger of the statement fires, so the statement trigger sees the mark of
/// every row of its own statement; nothing ever clears a mark, so a nested statement (a
/// cascade, another trigger) can only add one, never hide one.
///
/// Why this form: the `WHEN` is a stored expression, prepared once per statement from its
/// node tree, as cheap as a `WHEN` gets (see the performance doc for the counts); a
/// `LANGUAGE sql` function would be inlined but parsed again for every statement. Whole-row
/// references record no dependency on a column, so the application's own
/// `ALTER COLUMN ... TYPE` and `DROP COLUMN` work as before, which naming the columns in a
/// `WHEN` would block. And `*=` (`record_image_eq`) compares the stored bytes, so it
/// never fails, even for a column added later whose type has no `=` (`json`, `point`).
///
/// It is the no-op filter exactly when the tracked columns are all the table's columns
/// and equal values of theirs have equal bytes: [`TrackedTable::rows_compare_as_bytes`]
/// decides the second from the declared types; the first, and text under a
/// nondeterministic collation, only the database can tell. So the `DO` block creates the
/// companion, and passes the statement trigger the argument
/// [`vocab::WHOLE_ROWS_ARGUMENT`](pghistory_diesel_core::vocab::WHOLE_ROWS_ARGUMENT) that
/// lets its function stream unmarked statements, only when the table has no other
/// column and no such collation; otherwise the function, without the argument, probes
/// as [`BulkPlan::Probe`] does.
fn marked_triggers(table: &TrackedTable) -> String {
    let function = unchanged_function_signature(table);
    let tracked = quote::literal(&event_table::tracked_name(table));
    let names: Vec<String> = table
        .columns
        .iter()
        .map(|c| quote::literal(&c.sql_name))
        .collect();
    let with_argument = statement_trigger(
        table,
        Operation::Update,
        &quote::literal(pghistory_diesel_core::vocab::WHOLE_ROWS_ARGUMENT),
    );
    let statement_trigger = statement_trigger(table, Operation::Update, "");
    format!(
        r#"CREATE FUNCTION {function} RETURNS boolean
LANGUAGE plpgsql
AS {DOLLAR_TAG}
{source}{DOLLAR_TAG};
GRANT EXECUTE ON FUNCTION {function} TO PUBLIC;
DO {DOLLAR_TAG}
BEGIN
    IF NOT EXISTS (SELECT {mismatches}) THEN
        {with_argument}        CREATE TRIGGER {name} AFTER UPDATE ON {relation} FOR EACH ROW
            WHEN ({when})
            EXECUTE FUNCTION {update}();
    ELSE
        RAISE NOTICE 'pghistory-diesel: % has a column that schema.rs does not declare, or text under a nondeterministic collation: its UPDATE trigger compares the declared columns one by one', {tracked};
        {statement_trigger}    END IF;
END
{DOLLAR_TAG};
"#,
        source = unchanged_source(table),
        mismatches = pghistory_diesel_core::catalog::whole_row_mismatches(
            &format!("{tracked}::pg_catalog.regclass"),
            &format!("ARRAY[{}]::pg_catalog.text[]", names.join(", ")),
        ),
        when = unchanged_when(table),
        name = quote::ident(names::UNCHANGED_TRIGGER),
        relation = event_table::tracked_name(table),
        update = function_name(table, Operation::Update),
    )
}

/// A column as the narrow probe compares it: a 4-byte hash where the column is text
/// (equal values always hash alike: `hashtext` follows the column's collation, and `json`
/// is compared by its text anyway), else the value itself. Only "might be equal" is
/// decided from hashes; a row whose hashes all match goes to the exact comparison.
fn probe_value(table: &TrackedTable, name: &str) -> String {
    let col = quote::ident(name);
    let column = table.column(name);
    if column.is_some_and(|c| c.compares_as_text()) {
        return format!("pg_catalog.hashtext({col}::pg_catalog.text)");
    }
    match column.and_then(|c| c.pg_type_name()).as_deref() {
        Some("text" | "varchar") => format!("pg_catalog.hashtext({col})"),
        Some("jsonb") => format!("pg_catalog.jsonb_hash({col})"),
        _ => col,
    }
}

/// The probes of a bulk UPDATE, leaving `FOUND` false only when every row is shown to
/// have changed in `cols`. The columns compared as they are (numbers, dates, ...) are
/// probed first, alone: hashing a text column reads all of it (about 7 ms per 1,000 rows
/// of 1 KB on both sides, measured), and in most bulk updates some such column differs
/// in every row. Only if that finds a row where they are all equal do the hashes of the
/// text columns get a probe of their own (with every column).
fn probes(table: &TrackedTable, cols: &[&str]) -> String {
    let plain: Vec<&str> = cols
        .iter()
        .copied()
        .filter(|c| probe_value(table, c) == quote::ident(c))
        .collect();
    if plain.is_empty() || plain.len() == cols.len() {
        return unchanged_probe(table, cols);
    }
    format!(
        "{}\n        IF FOUND THEN\n            {}\n        END IF;",
        unchanged_probe(table, &plain),
        unchanged_probe(table, cols).replace('\n', "\n    "),
    )
}

/// The narrow check before a bulk UPDATE's events: is there a row whose old and new
/// values of `cols` might be equal? Both transition tables numbered as in the full
/// pairing, each reduced to its row number and [`probe_value`]s, hash-joined (so what
/// crosses the hash table, and spills past `work_mem`, is a few bytes a row, not the
/// rows). `FOUND` afterwards: some row may be unchanged and the rows are paired in full;
/// not found: every row changed in `cols`, so every no-op filter holds and the events
/// are the new rows, streamed.
fn unchanged_probe(table: &TrackedTable, cols: &[&str]) -> String {
    let rn = quote::ident(&row_number_name(table));
    let values: Vec<String> = cols.iter().map(|c| probe_value(table, c)).collect();
    let names: Vec<String> = cols.iter().map(|c| quote::ident(c)).collect();
    let side = |source: &str, alias: &str| {
        format!(
            "(SELECT pg_catalog.row_number() OVER (), {values} FROM {source}) AS {alias}({rn}, {names})",
            values = values.join(", "),
            names = names.join(", ")
        )
    };
    let row = |alias: &str| {
        let items: Vec<String> = names.iter().map(|n| format!("{alias}.{n}")).collect();
        format!("ROW({})", items.join(", "))
    };
    format!(
        "PERFORM FROM {}\n            JOIN {}\n            ON \"old\".{rn} OPERATOR(pg_catalog.=) \"new\".{rn}\n            WHERE {} IS NOT DISTINCT FROM {}\n            LIMIT 1;",
        side(&quote::ident(names::OLD_TABLE), "\"old\""),
        side(&quote::ident(names::NEW_TABLE), "\"new\""),
        row("\"old\""),
        row("\"new\""),
    )
}

/// The name of the row-number column in a bulk pairing: one that no column of the table
/// has, so that `"old".col` and `"new".col` keep naming the table's columns.
fn row_number_name(table: &TrackedTable) -> String {
    let mut name = "pgh_row_number".to_owned();
    while table.columns.iter().any(|c| c.sql_name == name) {
        name.push('_');
    }
    name
}

/// The `FROM` of one tracker's SELECT on an UPDATE (a single tracker): the transition
/// tables aliased `"old"` and `"new"`, their columns read directly.
fn paired_from(table: &TrackedTable, pairing: Pairing) -> String {
    let old = quote::ident(names::OLD_TABLE);
    let new = quote::ident(names::NEW_TABLE);
    if pairing == Pairing::Single {
        return format!("{old} AS \"old\" CROSS JOIN {new} AS \"new\"");
    }
    let rn = quote::ident(&row_number_name(table));
    let cols: Vec<String> = table
        .columns
        .iter()
        .map(|c| quote::ident(&c.sql_name))
        .collect();
    let cols = cols.join(", ");
    let side = |source: &str, alias: &str| {
        format!(
            "(SELECT {cols}, pg_catalog.row_number() OVER () FROM {source}) AS {alias}({cols}, {rn})"
        )
    };
    format!(
        "{}\n        JOIN {}\n        ON \"old\".{rn} OPERATOR(pg_catalog.=) \"new\".{rn}",
        side(&old, "\"old\""),
        side(&new, "\"new\"")
    )
}

/// The old and new rows of an UPDATE, paired, as one row of `pgh_o` and `pgh_n` (both of
/// the table's row type) per updated row: what several trackers share (see [`ctes`]).
fn zip(table: &TrackedTable, pairing: Pairing) -> String {
    let rowtype = event_table::tracked_name(table);
    let old = quote::ident(names::OLD_TABLE);
    let new = quote::ident(names::NEW_TABLE);
    match pairing {
        Pairing::Single => format!(
            "SELECT pgh_o::{rowtype} AS pgh_o, pgh_n::{rowtype} AS pgh_n FROM {old} AS pgh_o CROSS JOIN {new} AS pgh_n"
        ),
        Pairing::Bulk | Pairing::Stream => format!(
            "SELECT pgh_zo.pgh_o, pgh_zn.pgh_n\n             FROM (SELECT pgh_o::{rowtype} AS pgh_o, pg_catalog.row_number() OVER () AS pgh_i FROM {old} AS pgh_o) AS pgh_zo\n             JOIN (SELECT pgh_n::{rowtype} AS pgh_n, pg_catalog.row_number() OVER () AS pgh_i FROM {new} AS pgh_n) AS pgh_zn\n             ON pgh_zo.pgh_i OPERATOR(pg_catalog.=) pgh_zn.pgh_i"
        ),
    }
}

/// The `SELECT` of one tracker's events. `shared`: several trackers share the statement's
/// CTEs (see [`ctes`]), so the context comes from `pgh_c` and an UPDATE's paired rows from
/// `pgh_z`, rather than each tracker reading and building them again.
fn select_for(
    table: &TrackedTable,
    tracker: &Tracker,
    op: Operation,
    shared: bool,
    pairing: Pairing,
) -> String {
    let row = match tracker.row {
        Row::Old => "\"old\"",
        Row::New => "\"new\"",
    };
    let mut values = vec![
        quote::literal(&tracker.label),
        format!("{row}.{}", quote::ident(&table.pk().sql_name)),
    ];
    if table.context.has_id() {
        values.push(if shared {
            "(SELECT pgh_context_id FROM pgh_c)".to_owned()
        } else {
            context_id_expr()
        });
    }
    if table.context.has_json() {
        values.push(if shared {
            "(SELECT pgh_context FROM pgh_c)".to_owned()
        } else {
            context_metadata_expr()
        });
    }
    for col in table.tracked_columns() {
        values.push(format!("{row}.{}", quote::ident(&col.sql_name)));
    }
    let from = match op {
        Operation::Insert => format!("{} AS \"new\"", quote::ident(names::NEW_TABLE)),
        _ if pairing == Pairing::Stream => format!("{} AS \"new\"", quote::ident(names::NEW_TABLE)),
        Operation::Delete => format!("{} AS \"old\"", quote::ident(names::OLD_TABLE)),
        // One tracker pairs inline; several share the pairs.
        _ if shared => "pgh_z\n        CROSS JOIN LATERAL (SELECT (pgh_z.pgh_o).*) AS \"old\"\n        CROSS JOIN LATERAL (SELECT (pgh_z.pgh_n).*) AS \"new\"".to_owned(),
        _ => paired_from(table, pairing),
    };
    let mut sql = format!("    SELECT {}\n        FROM {}", values.join(", "), from);
    // Streamed, a no-op filter is known to hold for every row (see `BulkPlan::Probe`).
    let proved = pairing == Pairing::Stream && matches!(old_use(table, tracker), OldUse::NoOp(_));
    if let Some(cond) = tracker.condition.as_ref().filter(|_| !proved) {
        sql.push_str(&format!(
            "\n        WHERE {}",
            condition::render(cond, table)
        ));
    }
    sql
}

/// The context id of the statement: read once per statement (an uncorrelated scalar
/// subquery is an InitPlan), `''` meaning none.
///
/// Inline rather than a PL/pgSQL variable on purpose: a variable makes the `INSERT` a
/// parameterized query, and PL/pgSQL's plan cache then weighs custom plans against a
/// generic one built for whatever the transition table held at that moment. After a bulk
/// statement that choice settles on re-planning every call, which cost single-row
/// statements 25-100 µs each in the benchmark. Without parameters the plan is generic:
/// planned once per session (again only after an invalidation).
fn context_id_expr() -> String {
    format!("(SELECT {})", context_id_value())
}

/// The context id setting as a `uuid`, `''` meaning none.
fn context_id_value() -> String {
    format!(
        "NULLIF(pg_catalog.current_setting({}, true), '')::uuid",
        quote::literal(names::CONTEXT_ID_SETTING)
    )
}

/// The context metadata of the statement (for `context = json`), read like the id.
fn context_metadata_expr() -> String {
    format!("(SELECT {})", context_metadata_value())
}

/// The context metadata setting as `jsonb`, `''` meaning none.
fn context_metadata_value() -> String {
    format!(
        "NULLIF(pg_catalog.current_setting({}, true), '')::jsonb",
        quote::literal(names::CONTEXT_METADATA_SETTING)
    )
}

/// The `WITH` of a trigger whose operation has several trackers: the context read once
/// (`pgh_c`) and, for an UPDATE, the old and new rows paired once (`pgh_z`). A CTE that
/// more than one tracker reads is materialized, so each is computed once per statement
/// instead of once per tracker; empty when there is nothing to share.
fn ctes(table: &TrackedTable, op: Operation, pairing: Pairing) -> String {
    let mut ctes = Vec::new();
    let mut context = Vec::new();
    if table.context.has_id() {
        context.push(format!("{} AS pgh_context_id", context_id_value()));
    }
    if table.context.has_json() {
        context.push(format!("{} AS pgh_context", context_metadata_value()));
    }
    if !context.is_empty() {
        ctes.push(format!("pgh_c AS (SELECT {})", context.join(", ")));
    }
    if op == Operation::Update && pairing != Pairing::Stream {
        ctes.push(format!("pgh_z AS ({})", zip(table, pairing)));
    }
    if ctes.is_empty() {
        return String::new();
    }
    format!("    WITH {}\n", ctes.join(",\n         "))
}

/// The columns the trigger's `INSERT` writes, in order.
pub fn insert_columns(table: &TrackedTable) -> Vec<String> {
    let mut cols = vec!["pgh_label".to_owned(), "pgh_obj_id".to_owned()];
    if table.context.has_id() {
        cols.push("pgh_context_id".to_owned());
    }
    if table.context.has_json() {
        cols.push("pgh_context".to_owned());
    }
    cols.extend(table.tracked_columns().map(|c| c.sql_name.clone()));
    cols
}

/// The settings the trigger function of `op` runs with, as `SET name = value` lines of
/// its header (Postgres sets them on entry and restores them on exit).
///
/// PL/pgSQL plans a statement once per session and keeps that plan, made with the row
/// count of the transition tables of the call that planned it (they have no other
/// statistics). A cached plan made for a statement of millions of rows would otherwise
/// carry JIT compilation into every later call of the session, single-row ones included
/// (~280 ms each, measured), so every function whose statements can be planned for a
/// large statement runs with `jit = off`.
///
/// An UPDATE that sizes its statement before pairing ([`BulkPlan::Join`],
/// [`BulkPlan::Probe`]) is the exception: its header sets
/// nothing, and its bulk branch sets the planner settings itself ([`planner_guard`]). Its
/// one-row branch is always planned for one row, so it needs no guard, and a `SET` line
/// costs every call (each is parsed and applied on entry and undone on exit): the
/// single-row UPDATE is the statement where that shows. A marked UPDATE
/// ([`BulkPlan::Marked`]) streams any statement that changed every row, whatever its
/// size, so it keeps `jit = off` in its header (the cheapest line after the first) and
/// guards only its pairing branch.
fn settings(table: &TrackedTable, op: Operation) -> &'static [&'static str] {
    match op {
        Operation::Update if matches!(bulk_plan(table), BulkPlan::Join | BulkPlan::Probe(_)) => &[],
        _ => &["jit = off"],
    }
}

/// The planner settings of an UPDATE's bulk branch, set around its statements so that
/// whichever call plans them (1 row or 10M), the cached plans stay linear and free of JIT:
///
/// - `jit = off`, as in [`settings`];
/// - `enable_nestloop = off` and `enable_mergejoin = off`: the pairing join must be a
///   hash join whatever the planning call's size. A nested loop
///   planned for a small statement is quadratic on a later large one (a 20k-row update
///   took 137 s), and a merge join would sort both sides, which the planner cannot know
///   are already in row-number order.
const PLANNER_GUARD: [(&str, &str); 3] = [
    ("jit", "off"),
    ("enable_nestloop", "off"),
    ("enable_mergejoin", "off"),
];

/// The variables that hold the caller's values of [`PLANNER_GUARD`] while it is set.
fn planner_guard_variables() -> Vec<String> {
    PLANNER_GUARD
        .iter()
        .map(|(name, _)| format!("pgh_saved_{name}"))
        .collect()
}

/// `body` between setting [`PLANNER_GUARD`] and restoring the caller's values, all
/// transaction-local (`set_config(.., true)`): an error inside `body` aborts the
/// (sub)transaction, which undoes the settings with it, so the caller never keeps them.
/// `body`'s lines after the first carry their own indent; the result is placed at the
/// function body's second level.
fn planner_guard(body: &str) -> String {
    let vars = planner_guard_variables();
    let save: Vec<String> = PLANNER_GUARD
        .iter()
        .zip(&vars)
        .map(|((name, _), var)| {
            format!(
                "{var} := pg_catalog.current_setting({});",
                quote::literal(name)
            )
        })
        .collect();
    let set = |values: Vec<String>| -> String {
        let calls: Vec<String> = PLANNER_GUARD
            .iter()
            .zip(values)
            .map(|((name, _), value)| {
                format!(
                    "pg_catalog.set_config({}, {value}, true)",
                    quote::literal(name)
                )
            })
            .collect();
        format!("PERFORM {};", calls.join(", "))
    };
    let guarded = set(PLANNER_GUARD
        .iter()
        .map(|(_, v)| quote::literal(v))
        .collect());
    let restore = set(vars.clone());
    format!(
        "{save}\n        {guarded}\n        {body}\n        {restore}",
        save = save.join("\n        "),
    )
}

/// The `INSERT` that writes the events of `op` for every tracker of it.
fn insert(table: &TrackedTable, op: Operation, pairing: Pairing) -> String {
    let trackers: Vec<&Tracker> = table.trackers_for(op).collect();
    let columns: Vec<String> = insert_columns(table)
        .iter()
        .map(|c| quote::ident(c))
        .collect();
    // A single tracker reads everything inline; several share the statement's CTEs.
    let shared = trackers.len() > 1;
    let selects: Vec<String> = trackers
        .iter()
        .map(|t| select_for(table, t, op, shared, pairing))
        .collect();
    let with = if shared {
        ctes(table, op, pairing)
    } else {
        String::new()
    };
    format!(
        "INSERT INTO {events} ({columns})\n{with}{selects};",
        events = event_table::events_name(table),
        columns = columns.join(", "),
        selects = selects.join("\n    UNION ALL\n"),
    )
}

/// `CREATE FUNCTION` for the trigger of `op`.
///
/// The pause setting is read once into a variable; the `INSERT` itself takes no
/// parameters, so PL/pgSQL keeps one generic plan for it (see `context_id_expr`).
/// An UPDATE's function that pairs first asks whether the statement changed more than one
/// row (a marked one, see `marked_triggers`, only when the statement is marked), by
/// reading at most two old rows (`PERFORM ... OFFSET 1 LIMIT 1` sets `FOUND`; the
/// cheapest form measured: about 11k instructions a call, against 15k for `IF NOT EXISTS`
/// and 28k for comparing a `count(*)` with 1):
/// if not, it writes the event from the 1 × 1 cross join (for no row, 0 × 0), otherwise
/// from the join on row numbers; each `INSERT` keeps a cached plan of its own.
///
/// A pause is honoured only when `pghistory_pause` granted exactly this value in this
/// transaction (a row of the capability table); that lookup runs only when the setting
/// names this table, so the tracked path costs one `current_setting` as before. A value
/// set by hand (`SET`, `PGOPTIONS`) is ignored with a warning: tracking never fails the
/// application's statement.
pub fn function(table: &TrackedTable, op: Operation) -> String {
    function::definition(
        &format!("{}()", function_name(table, op)),
        "trigger",
        settings(table, op),
        &function_source(table, op),
    )
}

/// The body of an UPDATE that pairs, at the function body's first level: one row gets the
/// 1 x 1 pairing; more run `bulk` (placed at the second level: its lines after the first
/// carry their own indent) under the planner guard.
fn one_row_or(table: &TrackedTable, bulk: &str) -> String {
    format!(
        "PERFORM FROM {old} OFFSET 1 LIMIT 1;\n    IF NOT FOUND THEN\n        {single}\n    ELSE\n        {bulk}\n    END IF;",
        old = quote::ident(names::OLD_TABLE),
        single = insert(table, Operation::Update, Pairing::Single).replace('\n', "\n    "),
        bulk = planner_guard(bulk),
    )
}

/// The body of a probing UPDATE ([`BulkPlan::Probe`]) at the function body's first level:
/// more than one row is probed ([`probes`]), then streamed or paired in full.
fn probed(table: &TrackedTable, cols: &[&str]) -> String {
    let op = Operation::Update;
    one_row_or(
        table,
        &format!(
            "{probe}\n        IF NOT FOUND THEN\n            {stream}\n        ELSE\n            {join}\n        END IF;",
            probe = probes(table, cols),
            stream = insert(table, op, Pairing::Stream).replace('\n', "\n        "),
            join = insert(table, op, Pairing::Bulk).replace('\n', "\n        "),
        ),
    )
}

/// The PL/pgSQL body of [`function`], from `#variable_conflict` to its final `END`.
fn function_source(table: &TrackedTable, op: Operation) -> String {
    let body = if op != Operation::Update {
        insert(table, op, Pairing::Bulk)
    } else {
        match bulk_plan(table) {
            // Nothing reads the old row: no pairing, whatever the statement's size.
            BulkPlan::Stream => insert(table, op, Pairing::Stream),
            BulkPlan::Join => one_row_or(
                table,
                &insert(table, op, Pairing::Bulk).replace('\n', "\n    "),
            ),
            BulkPlan::Probe(cols) => probed(table, &cols),
            // Installed with the companion (the trigger's argument, see
            // `marked_triggers`) and unmarked: every row changed, so every no-op filter
            // holds. Marked, or installed without the companion: as `Probe`.
            BulkPlan::Marked(cols) => format!(
                "IF TG_NARGS OPERATOR(pg_catalog.>) 0 AND pg_catalog.current_setting({setting}, true) IS DISTINCT FROM {stamp} THEN\n        {stream}\n    ELSE\n        {probed}\n    END IF;",
                setting = quote::literal(&names::unchanged_setting(table)),
                stamp = statement_stamp(),
                stream = insert(table, op, Pairing::Stream).replace('\n', "\n    "),
                probed = probed(table, &cols).replace('\n', "\n    "),
            ),
        }
    };
    let guarded = op == Operation::Update && !matches!(bulk_plan(table), BulkPlan::Stream);
    let saved: String = if guarded {
        planner_guard_variables()
            .iter()
            .map(|var| format!("\n    {var} text;"))
            .collect()
    } else {
        String::new()
    };
    format!(
        r#"#variable_conflict use_column
DECLARE
    pgh_pause text := pg_catalog.current_setting({pause}, true);{saved}
BEGIN
    IF pgh_pause OPERATOR(pg_catalog.<>) ''
       AND (pgh_pause OPERATOR(pg_catalog.=) '*' OR pg_catalog.strpos(pgh_pause, {key}) OPERATOR(pg_catalog.>) 0) THEN
        IF {granted} THEN
            RETURN NULL;
        END IF;
        RAISE WARNING 'pghistory-diesel: pghistory.pause is set but was not granted by pghistory_pause() in this transaction; % is tracked', {tracked};
    END IF;
    {body}
    RETURN NULL;
END
"#,
        pause = quote::literal(names::PAUSE_SETTING),
        key = quote::literal(&names::pause_key(table)),
        granted = setup::granted("pause", "pgh_pause"),
        tracked = quote::literal(&event_table::tracked_name(table)),
        body = body,
        saved = saved,
    )
}

/// The settings of the trigger function of `op` (see `settings`), for [`function::proconfig`].
pub fn function_settings(table: &TrackedTable, op: Operation) -> &'static [&'static str] {
    settings(table, op)
}

/// `pg_trigger.tgtype` of the trigger of `op`: `AFTER`, `FOR EACH STATEMENT`, the
/// operation's bit (Postgres' `TRIGGER_TYPE_INSERT` 4, `_DELETE` 8, `_UPDATE` 16).
pub fn trigger_type(op: Operation) -> i16 {
    match op {
        Operation::Insert => 4,
        Operation::Delete => 8,
        _ => 16,
    }
}

/// `pg_trigger.tgtype` of the append-only guard on UPDATE and DELETE (`BEFORE` 2, for each
/// statement) and of the guard on TRUNCATE (`BEFORE`, `TRIGGER_TYPE_TRUNCATE` 32).
pub use pghistory_diesel_core::catalog::GUARD_TRIGGER_TYPES as PROTECT_TRIGGER_TYPES;

/// `"schema"."pghistory_<events>_protect"`, the append-only guard function.
pub fn protect_function_name(table: &TrackedTable) -> String {
    quote::qualified(&table.events_schema, &names::protect_function(table))
}

/// The body of the append-only guard function as Postgres stores it (`pg_proc.prosrc`).
pub fn protect_body(table: &TrackedTable) -> String {
    function::stored_body(&protect_source(table))
}

/// `"schema"."pghistory_<table>_<op>"`.
pub fn function_name(table: &TrackedTable, op: Operation) -> String {
    quote::qualified(&table.schema, &names::function(table, op))
}

/// `CREATE TRIGGER` for `op`, and for a marked UPDATE its row-level companion
/// (`marked_triggers`).
pub fn trigger(table: &TrackedTable, op: Operation) -> String {
    if op == Operation::Update && matches!(bulk_plan(table), BulkPlan::Marked(_)) {
        return marked_triggers(table);
    }
    statement_trigger(table, op, "")
}

/// The statement trigger of `op`, its function called with `arguments` (SQL literals,
/// comma-separated; empty for none).
fn statement_trigger(table: &TrackedTable, op: Operation, arguments: &str) -> String {
    let referencing = match op {
        Operation::Insert => format!("NEW TABLE AS {}", quote::ident(names::NEW_TABLE)),
        Operation::Delete => format!("OLD TABLE AS {}", quote::ident(names::OLD_TABLE)),
        _ => format!(
            "OLD TABLE AS {} NEW TABLE AS {}",
            quote::ident(names::OLD_TABLE),
            quote::ident(names::NEW_TABLE)
        ),
    };
    format!(
        "CREATE TRIGGER {} AFTER {} ON {} REFERENCING {} FOR EACH STATEMENT EXECUTE FUNCTION {}({arguments});\n",
        quote::ident(&names::trigger(op)),
        op.sql_keyword(),
        event_table::tracked_name(table),
        referencing,
        function_name(table, op)
    )
}

/// The append-only guard on the events table: refuses UPDATE, DELETE and TRUNCATE, to its
/// owner and superusers too, unless a granted `pghistory_prune` of this table is the one
/// deleting (the setting names the table, and the capability table holds the grant for
/// this transaction: a hand-set `pghistory.prune` opens nothing).
pub fn protect(table: &TrackedTable) -> String {
    let func = protect_function_name(table);
    let events = event_table::events_name(table);
    format!(
        "{definition}CREATE TRIGGER {trig} BEFORE UPDATE OR DELETE ON {events} FOR EACH STATEMENT EXECUTE FUNCTION {func}();\nCREATE TRIGGER {trunc} BEFORE TRUNCATE ON {events} FOR EACH STATEMENT EXECUTE FUNCTION {func}();\n",
        definition = function::definition(&format!("{func}()"), "trigger", &[], &protect_source(table)),
        trig = quote::ident(names::PROTECT_TRIGGER),
        trunc = quote::ident(names::PROTECT_TRUNCATE_TRIGGER),
    )
}

/// The PL/pgSQL body of the append-only guard function.
fn protect_source(table: &TrackedTable) -> String {
    format!(
        r#"BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE'
       AND pg_catalog.current_setting({prune}, true) OPERATOR(pg_catalog.=) TG_RELID::pg_catalog.regclass::pg_catalog.text
       AND {granted} THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'pghistory-diesel: % is append-only; % is refused', {events}, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'old history is deleted by the maintainer role with SELECT pghistory_prune(...)';
END
"#,
        prune = quote::literal(names::PRUNE_SETTING),
        granted = setup::granted("prune", "TG_RELID::pg_catalog.regclass::pg_catalog.text"),
        events = quote::literal(&event_table::events_name(table)),
    )
}

/// The guard of an events table that is not `append_only`: only its owner (the history
/// owner) and superusers may update, delete or truncate it. Row level security already
/// hides its rows from everyone else's UPDATE and DELETE; the guard makes that an error
/// rather than "0 rows", and covers TRUNCATE, which row level security does not.
pub fn owner_only(table: &TrackedTable) -> String {
    let events = event_table::events_name(table);
    let func = quote::qualified(
        pghistory_diesel_core::vocab::SETUP_SCHEMA,
        setup::OWNER_ONLY_FUNCTION,
    );
    format!(
        "CREATE TRIGGER {trig} BEFORE UPDATE OR DELETE ON {events} FOR EACH STATEMENT EXECUTE FUNCTION {func}();\nCREATE TRIGGER {trunc} BEFORE TRUNCATE ON {events} FOR EACH STATEMENT EXECUTE FUNCTION {func}();\n",
        trig = quote::ident(names::OWNER_ONLY_TRIGGER),
        trunc = quote::ident(names::OWNER_ONLY_TRUNCATE_TRIGGER),
    )
}

/// Hands the events table and every function of `table` to the history owner (the owner of
/// `public.pghistory_context`, looked up when the migration runs), grants the owner what
/// the definer functions read (`SELECT` on the tracked table, for manual events; `USAGE` on
/// the schemas), and closes the events table: no privilege for `PUBLIC`, row level
/// security with only a `SELECT` policy (the owner, who writes it, bypasses it).
pub fn ownership(table: &TrackedTable) -> String {
    let mut functions: Vec<String> = operations(table)
        .into_iter()
        .map(|op| format!("{}()", function_name(table, op)))
        .collect();
    if table.append_only {
        functions.push(format!(
            "{}()",
            quote::qualified(&table.events_schema, &names::protect_function(table))
        ));
    }
    if unchanged_function_body(table).is_some() {
        functions.push(unchanged_function_signature(table));
    }
    functions.push(manual::function_signature(table));
    let events = event_table::events_name(table);
    let mut alters = vec![format!(
        "    EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %I', {}, pgh_owner);",
        quote::literal(&events)
    )];
    for f in &functions {
        alters.push(format!(
            "    EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO %I', {}, pgh_owner);",
            quote::literal(f)
        ));
    }
    alters.push(format!(
        "    EXECUTE pg_catalog.format('GRANT SELECT ON %s TO %I', {}, pgh_owner);",
        quote::literal(&event_table::tracked_name(table))
    ));
    let mut schemas = vec![table.schema.clone()];
    if table.events_schema != table.schema {
        schemas.push(table.events_schema.clone());
    }
    for schema in schemas {
        alters.push(format!(
            "    IF NOT pg_catalog.has_schema_privilege(pgh_owner, {s}, 'USAGE') THEN\n        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO %I', {s}, pgh_owner);\n    END IF;",
            s = quote::literal(&schema)
        ));
    }
    format!(
        r#"DO {DOLLAR_TAG}
DECLARE
    pgh_owner name := (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c
                       WHERE c.oid OPERATOR(pg_catalog.=) {ctx}::pg_catalog.regclass);
BEGIN
{alters}
END
{DOLLAR_TAG};
REVOKE ALL ON {events} FROM PUBLIC;
ALTER TABLE {events} ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS {policy} ON {events};
CREATE POLICY {policy} ON {events} FOR SELECT USING (true);
"#,
        ctx = quote::literal(&quote::qualified(
            pghistory_diesel_core::vocab::SETUP_SCHEMA,
            setup::CONTEXT_TABLE
        )),
        alters = alters.join("\n"),
        policy = quote::ident(names::READ_POLICY),
    )
}

/// The columns of a type we do not know (a custom SQL type, or one named with
/// `pg_type`) that some tracker's condition tests for equality with `IS DISTINCT FROM`
/// (SQL names, each once, in table order). Diesel's own types all have `=` but `Json`,
/// which is compared by its text.
fn equality_columns(table: &TrackedTable) -> Vec<&str> {
    let tracked: Vec<&str> = table
        .tracked_columns()
        .map(|c| c.sql_name.as_str())
        .collect();
    let mut compared = Vec::new();
    for tracker in &table.trackers {
        if let Some(cond) = &tracker.condition {
            cond.compared_columns(&tracked, &mut compared);
        }
    }
    table
        .columns
        .iter()
        .filter(|c| {
            let known = c.pg_type.is_none() && crate::types::pg_type(&c.ty).is_some();
            !known && !c.compares_as_text() && compared.contains(&c.sql_name.as_str())
        })
        .map(|c| c.sql_name.as_str())
        .collect()
}

/// Stops the migration, naming the column, when a column the conditions compare has a
/// type without an `=` operator (`point`, `xml`, a domain over `json`, ...). Otherwise
/// the trigger would be created and every later `UPDATE` of the table would fail.
fn equality_check(table: &TrackedTable) -> String {
    let columns = equality_columns(table);
    if columns.is_empty() {
        return String::new();
    }
    let names: Vec<String> = columns.iter().map(|c| quote::literal(c)).collect();
    format!(
        r#"DO {DOLLAR_TAG}
DECLARE
    pgh_col record;
BEGIN
    FOR pgh_col IN
        SELECT a.attname, a.atttypid::pg_catalog.regtype::pg_catalog.text AS ty
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = {tracked}::pg_catalog.regclass AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY[{names}]::pg_catalog.text[])
          AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
    LOOP
        BEGIN
            EXECUTE pg_catalog.format('SELECT NULL::%s IS DISTINCT FROM NULL::%s', pgh_col.ty, pgh_col.ty);
        EXCEPTION WHEN undefined_function THEN
            RAISE EXCEPTION 'pghistory-diesel: column % of % has type %, which has no = operator, so a trigger cannot tell whether it changed', pgh_col.attname, {tracked}, pgh_col.ty
                USING HINT = 'leave it out of fields(...) and of the when = conditions, or give the type an equality operator';
        END;
    END LOOP;
END
{DOLLAR_TAG};
"#,
        tracked = quote::literal(&event_table::tracked_name(table)),
        names = names.join(", "),
    )
}

/// Every function, trigger and fingerprint comment of `table`, as installed.
pub fn install(table: &TrackedTable) -> String {
    let mut sql = equality_check(table);
    for op in operations(table) {
        sql.push_str(&function(table, op));
        sql.push_str(&trigger(table, op));
    }
    if table.append_only {
        sql.push_str(&protect(table));
    } else {
        sql.push_str(&owner_only(table));
    }
    sql.push_str(&manual::function(table));
    sql.push_str(&ownership(table));
    let fp = fingerprint(table);
    for op in operations(table) {
        sql.push_str(&format!(
            "COMMENT ON FUNCTION {}() IS {};\n",
            function_name(table, op),
            quote::literal(&format!("pghistory-diesel {fp}"))
        ));
    }
    sql
}

/// Drops what [`install`] created.
pub fn uninstall(table: &TrackedTable) -> String {
    let mut sql = String::new();
    if table.append_only {
        let func = quote::qualified(&table.events_schema, &names::protect_function(table));
        sql.push_str(&format!(
            "DROP TRIGGER IF EXISTS {} ON {};\nDROP TRIGGER IF EXISTS {} ON {};\nDROP FUNCTION IF EXISTS {}();\n",
            quote::ident(names::PROTECT_TRIGGER),
            event_table::events_name(table),
            quote::ident(names::PROTECT_TRUNCATE_TRIGGER),
            event_table::events_name(table),
            func
        ));
    } else {
        sql.push_str(&drop_owner_only(table));
    }
    sql.push_str(&format!(
        "DROP FUNCTION IF EXISTS {};\n",
        manual::function_signature(table)
    ));
    for op in operations(table).into_iter().rev() {
        sql.push_str(&drop_triggers(&table.schema, &table.sql_name, op));
    }
    sql
}

/// Drops the trigger of `op` on the table `schema.sql_name` (an UPDATE's row-level
/// companion and its `WHEN` function too, whether or not it has them: `IF EXISTS`), then
/// its function.
pub fn drop_triggers(schema: &str, sql_name: &str, op: Operation) -> String {
    let tracked = quote::qualified(schema, sql_name);
    let mut sql = String::new();
    if op == Operation::Update {
        sql.push_str(&format!(
            "DROP TRIGGER IF EXISTS {} ON {tracked};\nDROP FUNCTION IF EXISTS {};\n",
            quote::ident(names::UNCHANGED_TRIGGER),
            unchanged_function_signature_for(schema, sql_name),
        ));
    }
    sql.push_str(&format!(
        "DROP TRIGGER IF EXISTS {} ON {tracked};\nDROP FUNCTION IF EXISTS {}();\n",
        quote::ident(&names::trigger(op)),
        quote::qualified(schema, &names::function_for(sql_name, op)),
    ));
    sql
}

/// Drops the triggers of [`owner_only`].
pub fn drop_owner_only(table: &TrackedTable) -> String {
    let events = event_table::events_name(table);
    format!(
        "DROP TRIGGER IF EXISTS {} ON {events};\nDROP TRIGGER IF EXISTS {} ON {events};\n",
        quote::ident(names::OWNER_ONLY_TRIGGER),
        quote::ident(names::OWNER_ONLY_TRUNCATE_TRIGGER),
    )
}

/// The fingerprint of the trigger functions and triggers (not of the comments that carry
/// it): what `pghistory_diesel::check` compares with the database.
pub fn fingerprint(table: &TrackedTable) -> String {
    let mut text = String::new();
    for op in operations(table) {
        text.push_str(&function(table, op));
        text.push_str(&trigger(table, op));
    }
    if table.append_only {
        text.push_str(&protect(table));
    } else {
        text.push_str(&owner_only(table));
    }
    text.push_str(&manual::function(table));
    super::fingerprint(&text)
}

/// The body of the trigger function of `op` exactly as Postgres stores it (`pg_proc.prosrc`,
/// the text between the dollar quotes), so a function replaced by hand can be detected.
pub fn function_body(table: &TrackedTable, op: Operation) -> String {
    function::stored_body(&function_source(table, op))
}
