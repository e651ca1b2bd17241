//! DDL of an events table.

use super::{names, quote};
use crate::model::TrackedTable;
use pghistory_diesel_core::vocab::{PghColumn, PghType, DOLLAR_TAG, PGH_COLUMNS};

/// `"schema"."table"` of the tracked table.
pub fn tracked_name(table: &TrackedTable) -> String {
    quote::qualified(&table.schema, &table.sql_name)
}

/// `"schema"."table_events"`.
pub fn events_name(table: &TrackedTable) -> String {
    quote::qualified(&table.events_schema, &table.events_sql_name)
}

/// Creates the events table.
///
/// The snapshot columns get exactly the tracked table's column types, read from the
/// catalog when the migration runs (`varchar(200)`, `numeric(10,2)`, enums, domains all
/// come through), with its `NOT NULL`s and nothing else: no keys, uniques, foreign keys,
/// defaults or identity. A column declared in schema.rs but missing from the database
/// stops the migration with a message naming it.
///
/// The `pgh_*` columns `table`'s events table has, in order (the vocabulary's
/// [`PGH_COLUMNS`], by the table's context mode).
pub fn pgh_columns(table: &TrackedTable) -> impl Iterator<Item = &'static PghColumn> {
    let (id, json) = (table.context.has_id(), table.context.has_json());
    PGH_COLUMNS.iter().filter(move |c| c.present(id, json))
}

/// One composite primary key `(pgh_obj_id, pgh_id)` serves both uniqueness and "history
/// of this object, in order"; a separate `pgh_id` key plus an object index would cost a
/// second index per event.
pub fn create(table: &TrackedTable) -> String {
    let mut sql = String::new();
    if table.events_schema_explicit {
        sql.push_str(&format!(
            "CREATE SCHEMA IF NOT EXISTS {};\n",
            quote::ident(&table.events_schema)
        ));
    }
    let pgh: Vec<String> = pgh_columns(table)
        .map(|c| {
            let ty = match c.ty {
                PghType::Fixed { pg, .. } => pg.to_owned(),
                PghType::PrimaryKey => table.pk_pg_type(),
            };
            format!("{} {ty}{}", quote::ident(c.name), c.definition_tail)
        })
        .collect();
    let pkey = format!(
        "CONSTRAINT {} PRIMARY KEY (\"pgh_obj_id\", \"pgh_id\")",
        quote::ident(&names::fit(&format!("{}_pkey", table.events_sql_name)))
    );
    let wanted: Vec<String> = table
        .tracked_columns()
        .map(|c| quote::literal(&c.sql_name))
        .collect();
    sql.push_str(&format!(
        r#"DO {DOLLAR_TAG}
DECLARE
    pgh_missing text;
    pgh_columns text;
BEGIN
    SELECT pg_catalog.string_agg(u.name, ', ') INTO pgh_missing
    FROM pg_catalog.unnest(ARRAY[{wanted}]::text[]) AS u(name)
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = {tracked}::regclass AND a.attname = u.name AND a.attnum > 0 AND NOT a.attisdropped);
    IF pgh_missing IS NOT NULL THEN
        RAISE EXCEPTION 'pghistory-diesel: column(s) % of % are declared in schema.rs but do not exist in the database', pgh_missing, {tracked};
    END IF;
    SELECT pg_catalog.string_agg(
               pg_catalog.format('%I %s%s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
                                 CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END),
               ', ' ORDER BY u.ord) INTO pgh_columns
    FROM pg_catalog.unnest(ARRAY[{wanted}]::text[]) WITH ORDINALITY AS u(name, ord)
    JOIN pg_catalog.pg_attribute a
      ON a.attrelid = {tracked}::regclass AND a.attname = u.name AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE pg_catalog.format('CREATE TABLE %s (%s%s, %s)', {events}, {pgh}, COALESCE(', ' || pgh_columns, ''), {pkey});
END
{DOLLAR_TAG};
"#,
        wanted = wanted.join(", "),
        tracked = quote::literal(&tracked_name(table)),
        events = quote::literal(&events_name(table)),
        pgh = quote::literal(&pgh.join(", ")),
        pkey = quote::literal(&pkey),
    ));
    sql.push_str(&create_indexes(table, &wanted_indexes(table)));
    sql.push_str(&format!(
        "COMMENT ON TABLE {} IS {};\n",
        events_name(table),
        quote::literal(&format!(
            "History of {}, written by pghistory-diesel triggers.",
            tracked_name(table)
        ))
    ));
    sql
}

/// The read indexes an events table of `table` has, by their ledger names: `time`, a btree
/// on `(pgh_created_at, pgh_id)`, and, where events carry a context id, `context_id` on
/// `pgh_context_id`. Chosen from `EXPLAIN` of the history reads: the timeline pages and its
/// time ranges are ordered scans of `time` (a BRIN index cannot return rows in order, so
/// it would leave a sort of every event in range under each page), and the context scope
/// and metadata filters find a context's events through `context_id`. The object's
/// timeline uses the primary key `(pgh_obj_id, pgh_id)`.
///
/// `context_id` is partial (`WHERE pgh_context_id IS NOT NULL`): every read through it
/// asks for a context (a strict `=` or a join, which imply the predicate), and an event
/// written outside any context then costs no index entry (about 7k instructions per
/// event, measured). It replaces `context`, the same index without the predicate, which
/// migrations of an earlier version made; an upgrade drops that one.
pub fn wanted_indexes(table: &TrackedTable) -> Vec<&'static str> {
    let mut out = vec!["time"];
    if table.context.has_id() {
        out.push("context_id");
    }
    out
}

fn index_name(table: &TrackedTable, kind: &str) -> String {
    names::fit(&format!("{}_pgh_{kind}_idx", table.events_sql_name))
}

/// The columns and predicate of the read index `kind`, as `CREATE INDEX` takes them after
/// the table name. `context` is the legacy full index, known so that a down migration
/// can restore it.
fn index_definition(kind: &str) -> &'static str {
    match kind {
        "time" => "(\"pgh_created_at\", \"pgh_id\")",
        "context_id" => "(\"pgh_context_id\") WHERE \"pgh_context_id\" IS NOT NULL",
        "context" => "(\"pgh_context_id\")",
        other => unreachable!("unknown index kind {other}"),
    }
}

/// Creates the read indexes `kinds` (from [`wanted_indexes`]) on the events table.
/// `IF NOT EXISTS`: a user may have made one by hand under our name. With a context index,
/// also the context metadata index, for databases set up before the setup migration made
/// it.
pub fn create_indexes<S: AsRef<str>>(table: &TrackedTable, kinds: &[S]) -> String {
    let mut sql = String::new();
    for kind in kinds {
        sql.push_str(&format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} {};\n",
            quote::ident(&index_name(table, kind.as_ref())),
            events_name(table),
            index_definition(kind.as_ref())
        ));
        if kind.as_ref() == "context_id" {
            sql.push_str(&super::setup::context_metadata_index());
        }
    }
    sql
}

/// Drops the read indexes `kinds` (used to undo [`create_indexes`]).
pub fn drop_indexes<S: AsRef<str>>(table: &TrackedTable, kinds: &[S]) -> String {
    kinds
        .iter()
        .map(|kind| {
            format!(
                "DROP INDEX IF EXISTS {};\n",
                quote::qualified(&table.events_schema, &index_name(table, kind.as_ref()))
            )
        })
        .collect()
}

/// Drops the events table (and its schema, when it was created for it and is empty).
pub fn drop(table: &TrackedTable) -> String {
    let mut sql = format!("DROP TABLE IF EXISTS {};\n", events_name(table));
    if table.events_schema_explicit {
        // RESTRICT: another table in the schema keeps it alive; that is an error we want.
        sql.push_str(&format!(
            "DO {DOLLAR_TAG} BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {}) THEN EXECUTE {}; END IF; END {DOLLAR_TAG};\n",
            quote::literal(&table.events_schema),
            quote::literal(&format!("DROP SCHEMA IF EXISTS {}", quote::ident(&table.events_schema)))
        ));
    }
    sql
}

/// Adds snapshot columns that were not tracked before, typed as in the tracked table.
/// They are nullable: older events have no value for them.
pub fn add_columns(table: &TrackedTable, columns: &[String]) -> String {
    columns
        .iter()
        .map(|col| {
            format!(
                "DO {DOLLAR_TAG} BEGIN EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN %I %s', {events}, {col}, (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a WHERE a.attrelid = {tracked}::regclass AND a.attname = {col} AND NOT a.attisdropped)); END {DOLLAR_TAG};\n",
                events = quote::literal(&events_name(table)),
                tracked = quote::literal(&tracked_name(table)),
                col = quote::literal(col),
            )
        })
        .collect()
}

/// Drops snapshot columns (used to undo [`add_columns`]).
pub fn drop_columns(table: &TrackedTable, columns: &[String]) -> String {
    columns
        .iter()
        .map(|col| {
            format!(
                "ALTER TABLE {} DROP COLUMN IF EXISTS {};\n",
                events_name(table),
                quote::ident(col)
            )
        })
        .collect()
}

/// Adds the context columns named in `columns` (`pgh_context_id`, `pgh_context`) to an
/// events table created under another context mode. `IF NOT EXISTS`: they may be there.
pub fn add_context_columns(table: &TrackedTable, columns: &[String]) -> String {
    columns
        .iter()
        .map(|col| {
            let ty = if col == "pgh_context" {
                "jsonb"
            } else {
                "uuid"
            };
            format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {ty};\n",
                events_name(table),
                quote::ident(col)
            )
        })
        .collect()
}

/// Gives snapshot columns the tracked columns' current type, read from the catalog when
/// the migration runs, converting the history with a cast; and drops their `NOT NULL` when
/// the tracked column allows NULL. (A tracked column that became `NOT NULL` leaves its
/// snapshot column nullable: older events may hold NULL.) A primary key's new type is
/// also given to `pgh_obj_id`.
pub fn follow_column_types(table: &TrackedTable, columns: &[String]) -> String {
    columns
        .iter()
        .map(|col| {
            format!(
                r#"DO {DOLLAR_TAG}
DECLARE
    pgh_type text;
    pgh_not_null boolean;
BEGIN
    SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull INTO pgh_type, pgh_not_null
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = {tracked}::regclass AND a.attname = {col} AND a.attnum > 0 AND NOT a.attisdropped;
    IF pgh_type IS NULL THEN
        RAISE EXCEPTION 'pghistory-diesel: column % of % is declared in schema.rs but does not exist in the database', {col}, {tracked};
    END IF;
    IF pgh_type OPERATOR(pg_catalog.<>) (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = {events}::regclass AND a.attname = {col} AND NOT a.attisdropped) THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE %s USING %I::%s', {events}, {col}, pgh_type, {col}, pgh_type);
    END IF;
    IF NOT pgh_not_null THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I DROP NOT NULL', {events}, {col});
    END IF;
{obj_id}END
{DOLLAR_TAG};
"#,
                events = quote::literal(&events_name(table)),
                tracked = quote::literal(&tracked_name(table)),
                col = quote::literal(col),
                obj_id = if *col == table.pk().sql_name {
                    // The key's type is pgh_obj_id's type too.
                    format!(
                        "    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN \"pgh_obj_id\" TYPE %s USING \"pgh_obj_id\"::%s', {events}, pgh_type, pgh_type);\n",
                        events = quote::literal(&events_name(table)),
                    )
                } else {
                    String::new()
                },
            )
        })
        .collect()
}

/// Keeps the history of columns no longer tracked, but lets new events leave them NULL.
pub fn relax_columns(table: &TrackedTable, columns: &[String]) -> String {
    columns
        .iter()
        .map(|col| {
            format!(
                "ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL;\n",
                events_name(table),
                quote::ident(col)
            )
        })
        .collect()
}
