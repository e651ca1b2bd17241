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
//! The pairing zips two arrays rather than joining on a row number: a join's plan is
//! cached by PL/pgSQL with the estimate of its first call, so a first single-row update
//! made later bulk updates quadratic (nested loop), and a first bulk update made every
//! later single-row update in the session pay JIT compilation (about 280 ms each).
//!
//! Every name in a body is schema-qualified, so the caller's `search_path` does not matter.

use super::{condition, event_table, names, quote};
use crate::model::{Operation, Row, TrackedTable, Tracker};

/// The operations that get a trigger, in a fixed order.
pub fn operations(table: &TrackedTable) -> Vec<Operation> {
    [Operation::Insert, Operation::Update, Operation::Delete]
        .into_iter()
        .filter(|op| table.trackers_for(*op).next().is_some())
        .collect()
}

/// The old and new rows of an UPDATE, paired: one row of `pgh_o` and `pgh_n` (both of the
/// table's row type) per updated row.
///
/// The transition tables are zipped by position: each becomes one array of the table's row
/// type, and two set-returning functions in one select list advance in lockstep. Linear
/// whatever the planner believes: there is no join whose estimate (transition tables have
/// no statistics) could choose a nested loop from a cached one-row plan, or set off JIT
/// compilation on every later call of the function.
fn zip(table: &TrackedTable) -> String {
    format!(
        "SELECT pg_catalog.unnest(ARRAY(SELECT pgh_o::{rowtype} FROM {old} AS pgh_o)) AS pgh_o,\n                pg_catalog.unnest(ARRAY(SELECT pgh_n::{rowtype} FROM {new} AS pgh_n)) AS pgh_n",
        rowtype = event_table::tracked_name(table),
        old = quote::ident(names::OLD_TABLE),
        new = quote::ident(names::NEW_TABLE),
    )
}

/// The `SELECT` of one tracker's events. `shared`: several trackers share the statement's
/// CTEs (see [`ctes`]), so the context comes from `pgh_c` and an UPDATE's paired rows from
/// `pgh_z`, rather than each tracker reading and building them again.
fn select_for(table: &TrackedTable, tracker: &Tracker, op: Operation, shared: bool) -> String {
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
        Operation::Delete => format!("{} AS \"old\"", quote::ident(names::OLD_TABLE)),
        // One tracker zips inline; several share the zip.
        _ => format!(
            "{}\n        CROSS JOIN LATERAL (SELECT (pgh_z.pgh_o).*) AS \"old\"\n        CROSS JOIN LATERAL (SELECT (pgh_z.pgh_n).*) AS \"new\"",
            if shared {
                "pgh_z".to_owned()
            } else {
                format!("({}) AS pgh_z", zip(table))
            }
        ),
    };
    let mut sql = format!("    SELECT {}\n        FROM {}", values.join(", "), from);
    if let Some(cond) = &tracker.condition {
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
fn ctes(table: &TrackedTable, op: Operation) -> String {
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
    if op == Operation::Update {
        ctes.push(format!("pgh_z AS ({})", zip(table)));
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

/// `CREATE FUNCTION` for the trigger of `op`.
///
/// The pause setting is read once into a variable; the `INSERT` itself takes no
/// parameters, so PL/pgSQL keeps one generic plan for it (see [`context_id_expr`]).
pub fn function(table: &TrackedTable, op: Operation) -> String {
    let trackers: Vec<&Tracker> = table.trackers_for(op).collect();
    let columns: Vec<String> = insert_columns(table)
        .iter()
        .map(|c| quote::ident(c))
        .collect();
    // A single tracker reads everything inline; several share the statement's CTEs.
    let shared = trackers.len() > 1;
    let selects: Vec<String> = trackers
        .iter()
        .map(|t| select_for(table, t, op, shared))
        .collect();
    let with = if shared {
        ctes(table, op)
    } else {
        String::new()
    };
    let body = format!(
        "INSERT INTO {events} ({columns})\n{with}{selects};",
        events = event_table::events_name(table),
        columns = columns.join(", "),
        selects = selects.join("\n    UNION ALL\n"),
    );
    format!(
        r#"CREATE FUNCTION {func}() RETURNS trigger
{header}$pghistory$
#variable_conflict use_column
DECLARE
    pgh_pause text := pg_catalog.current_setting({pause}, true);
BEGIN
    IF pgh_pause OPERATOR(pg_catalog.<>) ''
       AND (pgh_pause OPERATOR(pg_catalog.=) '*' OR pg_catalog.strpos(pgh_pause, {key}) OPERATOR(pg_catalog.>) 0) THEN
        RETURN NULL;
    END IF;
    {body}
    RETURN NULL;
END
$pghistory$;
"#,
        func = function_name(table, op),
        header = header(),
        pause = quote::literal(names::PAUSE_SETTING),
        key = quote::literal(&names::pause_key(table)),
        body = body,
    )
}

/// The security attributes every generated trigger and guard function is created with,
/// and that `pghistory_diesel::check` expects to find in `pg_proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunctionSecurity {
    /// `SECURITY DEFINER` (`pg_proc.prosecdef`): the function runs as its owner.
    pub security_definer: bool,
    /// `SET name = value` clauses, as (name, value); `pg_proc.proconfig` holds them as
    /// `name=value`, in this order.
    pub config: &'static [(&'static str, &'static str)],
}

impl FunctionSecurity {
    /// The `pg_proc.proconfig` entries these settings produce (empty: NULL in the catalog).
    pub fn proconfig(&self) -> Vec<String> {
        self.config
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect()
    }
}

/// The one definition of the generated functions' security: the function header
/// ([`header`]) and the check both read it, so they cannot disagree.
///
/// Today's functions run as the caller with the caller's settings.
pub const FUNCTION_SECURITY: FunctionSecurity = FunctionSecurity {
    security_definer: false,
    config: &[],
};

/// The lines between `RETURNS trigger` and the opening dollar quote of every generated
/// function: language, security and settings from [`FUNCTION_SECURITY`], ending in `AS `.
fn header() -> String {
    let mut header = "LANGUAGE plpgsql".to_owned();
    if FUNCTION_SECURITY.security_definer {
        header.push_str(" SECURITY DEFINER");
    }
    for (name, value) in FUNCTION_SECURITY.config {
        header.push_str(&format!("\nSET {name} = {value}"));
    }
    if FUNCTION_SECURITY.config.is_empty() {
        header.push(' ');
    } else {
        header.push('\n');
    }
    header.push_str("AS ");
    header
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
pub const PROTECT_TRIGGER_TYPES: [i16; 2] = [2 | 8 | 16, 2 | 32];

/// `"schema"."pghistory_<events>_protect"`, the append-only guard function.
pub fn protect_function_name(table: &TrackedTable) -> String {
    quote::qualified(&table.events_schema, &names::protect_function(table))
}

/// The body of the append-only guard function as Postgres stores it (`pg_proc.prosrc`).
pub fn protect_body(table: &TrackedTable) -> String {
    dollar_quoted(&protect(table))
}

/// `"schema"."pghistory_<table>_<op>"`.
pub fn function_name(table: &TrackedTable, op: Operation) -> String {
    quote::qualified(&table.schema, &names::function(table, op))
}

/// `CREATE TRIGGER` for `op`.
pub fn trigger(table: &TrackedTable, op: Operation) -> String {
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
        "CREATE TRIGGER {} AFTER {} ON {} REFERENCING {} FOR EACH STATEMENT EXECUTE FUNCTION {}();\n",
        quote::ident(&names::trigger(op)),
        op.sql_keyword(),
        event_table::tracked_name(table),
        referencing,
        function_name(table, op)
    )
}

/// The append-only guard on the events table: refuses UPDATE, DELETE and TRUNCATE unless
/// `pghistory_prune` (which sets a transaction-local flag) is the one deleting.
pub fn protect(table: &TrackedTable) -> String {
    let func = protect_function_name(table);
    format!(
        r#"CREATE FUNCTION {func}() RETURNS trigger
{header}$pghistory$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' AND pg_catalog.current_setting({prune}, true) OPERATOR(pg_catalog.=) 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'pghistory-diesel: % is append-only; % is refused', {events}, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'delete old history with SELECT pghistory_prune(...)';
END
$pghistory$;
CREATE TRIGGER {trig} BEFORE UPDATE OR DELETE ON {events_ident} FOR EACH STATEMENT EXECUTE FUNCTION {func}();
CREATE TRIGGER {trunc} BEFORE TRUNCATE ON {events_ident} FOR EACH STATEMENT EXECUTE FUNCTION {func}();
"#,
        header = header(),
        prune = quote::literal(names::PRUNE_SETTING),
        events = quote::literal(&event_table::events_name(table)),
        events_ident = event_table::events_name(table),
        trig = quote::ident(names::PROTECT_TRIGGER),
        trunc = quote::ident(names::PROTECT_TRUNCATE_TRIGGER),
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
        r#"DO $pghistory$
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
$pghistory$;
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
    }
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
    }
    for op in operations(table).into_iter().rev() {
        sql.push_str(&format!(
            "DROP TRIGGER IF EXISTS {} ON {};\nDROP FUNCTION IF EXISTS {}();\n",
            quote::ident(&names::trigger(op)),
            event_table::tracked_name(table),
            function_name(table, op)
        ));
    }
    sql
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
    }
    super::fingerprint(&text)
}

/// The body of the trigger function of `op` exactly as Postgres stores it (`pg_proc.prosrc`,
/// the text between the dollar quotes), so a function replaced by hand can be detected.
pub fn function_body(table: &TrackedTable, op: Operation) -> String {
    dollar_quoted(&function(table, op))
}

/// The text between the first `$pghistory$` and the last: a function's `prosrc`.
fn dollar_quoted(full: &str) -> String {
    let start = full.find("$pghistory$").map(|i| i + "$pghistory$".len());
    let end = full.rfind("$pghistory$");
    match (start, end) {
        (Some(start), Some(end)) if start <= end => full[start..end].to_owned(),
        _ => full.to_owned(),
    }
}
