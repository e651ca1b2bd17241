//! The unified timeline: one branch per events table, in one `UNION ALL`, filtered and
//! paginated by keyset.
//!
//! Why the query has this shape (each point was chosen from `EXPLAIN`):
//!
//! - Every branch carries its own `ORDER BY pgh_created_at, pgh_id LIMIT n`. A branch with a
//!   join or a `WHERE` cannot be pulled up into the outer append, so without its own order
//!   the planner plans it alone, picks a sequential scan and sorts the whole history under
//!   the outer `LIMIT`. With it, each branch is an ordered index scan on
//!   `(pgh_created_at, pgh_id)` stopped after `n` rows, and the outer query merges them
//!   (Merge Append): a page costs the same wherever it starts.
//! - The order is `(pgh_created_at, pgh_id, pgh_table)`: the table name is a constant in
//!   each branch, and a constant in the middle of the sort key stops the merge (the planner
//!   then sorts whole groups of equal timestamps, and one transaction's events all share
//!   one). Last, it only breaks ties between tables, which an incremental sort does on
//!   groups of at most one row per table.
//! - The diff's lookup of the previous event and the context's are scalar subqueries of
//!   the branch, under the merge, so they run only for the rows the merge pulls (about `n`
//!   plus one per table), never for the whole history.
//! - The object filter compares `pgh_obj_id` with the key cast to the key's own type, so
//!   the primary key `(pgh_obj_id, pgh_id)` serves it.

use super::{pgh_columns_array, table_key, TableNames};
use crate::quote;
use crate::vocab;

/// The parameters every timeline query takes, in order. Each is bound on every run (NULL
/// when unused); the SQL refers only to the ones its [`Filters`] switch on.
pub mod params {
    /// `$1 text[]`: object keys by branch (1-based, in table order), NULL for "any".
    pub const OBJECTS: usize = 1;
    /// `$2 timestamptz`: `pgh_created_at >= $2`.
    pub const SINCE: usize = 2;
    /// `$3 timestamptz`: `pgh_created_at < $3`.
    pub const UNTIL: usize = 3;
    /// `$4 text[]`: `pgh_label = ANY($4)`.
    pub const LABELS: usize = 4;
    /// `$5 uuid`: the context's `scope_id`.
    pub const SCOPE: usize = 5;
    /// `$6 jsonb`: the context's `metadata @> $6`.
    pub const METADATA: usize = 6;
    /// `$7 timestamptz`: the cursor's time.
    pub const AFTER_TIME: usize = 7;
    /// `$8 bigint`: the cursor's `pgh_id`.
    pub const AFTER_ID: usize = 8;
    /// `$9 text`: the cursor's table (`schema.table`).
    pub const AFTER_TABLE: usize = 9;
    /// `$10 bigint`: the number of rows.
    pub const LIMIT: usize = 10;
}

/// One table of a timeline query.
#[derive(Clone, Copy, Debug)]
pub struct Branch<'a> {
    /// The table.
    pub names: TableNames<'a>,
    /// Whether only one object's events are wanted: its key is element `i + 1` of `$1`,
    /// for the branch at index `i`.
    pub object: bool,
}

/// Which filters a timeline query applies. Values are never part of the SQL: they are
/// bound as the [`params`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    /// `since` (inclusive).
    pub since: bool,
    /// `until` (exclusive).
    pub until: bool,
    /// A label set.
    pub labels: bool,
    /// A context scope.
    pub scope: bool,
    /// A context metadata containment.
    pub metadata: bool,
    /// A cursor: only events after it (in the query's order).
    pub after: bool,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
    /// A row limit.
    pub limit: bool,
}

fn p(n: usize) -> String {
    format!("${n}")
}

fn context_table() -> String {
    quote::qualified(vocab::SETUP_SCHEMA, vocab::CONTEXT_TABLE)
}

/// The select list of one table's events: the columns of [`timeline`]. One relation, no
/// join and no `WHERE`: the context and the diff are scalar subqueries, so that in the
/// `pghistory_events` view PostgreSQL pulls each branch up into the outer append and a
/// filter or `ORDER BY ... LIMIT` on the view reaches each events table's indexes.
fn select_from(t: &TableNames<'_>) -> String {
    let events = quote::qualified(t.events_schema, t.events_table);
    let (context_id, context) = match (t.has_context_id, t.has_context_json) {
        (true, true) => ("e.\"pgh_context_id\"".to_owned(), "e.\"pgh_context\"".to_owned()),
        (true, false) => (
            "e.\"pgh_context_id\"".to_owned(),
            format!(
                "(SELECT c.\"metadata\" FROM {} c WHERE c.\"id\" OPERATOR(pg_catalog.=) e.\"pgh_context_id\")",
                context_table()
            ),
        ),
        _ => ("NULL::uuid".to_owned(), "NULL::jsonb".to_owned()),
    };
    format!(
        r#"SELECT {key}::text COLLATE "C" AS "pgh_table", e."pgh_id", e."pgh_created_at", e."pgh_label",
           e."pgh_obj_id"::text AS "pgh_obj_id", {context_id} AS "pgh_context_id", {context} AS "pgh_context",
           pg_catalog.to_jsonb(e) OPERATOR(pg_catalog.-) {pgh} AS "pgh_data",
           (SELECT pg_catalog.jsonb_object_agg(d.key, pg_catalog.jsonb_build_array(p.data OPERATOR(pg_catalog.->) d.key, d.value))
              FROM (SELECT pg_catalog.to_jsonb(prev) OPERATOR(pg_catalog.-) {pgh} AS data
                      FROM {events} prev
                     WHERE prev."pgh_obj_id" OPERATOR(pg_catalog.=) e."pgh_obj_id" AND prev."pgh_id" OPERATOR(pg_catalog.<) e."pgh_id"
                     ORDER BY prev."pgh_id" DESC LIMIT 1) AS p,
                   pg_catalog.jsonb_each(pg_catalog.to_jsonb(e) OPERATOR(pg_catalog.-) {pgh}) AS d(key, value)
             WHERE (p.data OPERATOR(pg_catalog.->) d.key) IS DISTINCT FROM d.value) AS "pgh_diff"
    FROM {events} e"#,
        key = quote::literal(&table_key(t)),
        pgh = pgh_columns_array(),
    )
}

/// One table's events, unfiltered, in no particular order: the branch of the
/// `pghistory_events` view (the same columns as [`timeline`]).
pub fn view_branch(t: &TableNames<'_>) -> String {
    select_from(t)
}

/// The `WHERE` conditions of the branch at `index`.
fn conditions(b: &Branch<'_>, index: usize, f: &Filters) -> Vec<String> {
    let t = &b.names;
    let mut out = Vec::new();
    if b.object {
        // Cast to the key's own type so the (pgh_obj_id, pgh_id) primary key is used.
        out.push(format!(
            "e.\"pgh_obj_id\" OPERATOR(pg_catalog.=) CAST(({objects}::text[])[{n}] AS {ty})",
            objects = p(params::OBJECTS),
            n = index + 1,
            ty = t.primary_key_type,
        ));
    }
    if f.since {
        out.push(format!(
            "e.\"pgh_created_at\" OPERATOR(pg_catalog.>=) {}::timestamptz",
            p(params::SINCE)
        ));
    }
    if f.until {
        out.push(format!(
            "e.\"pgh_created_at\" OPERATOR(pg_catalog.<) {}::timestamptz",
            p(params::UNTIL)
        ));
    }
    if f.labels {
        out.push(format!(
            "e.\"pgh_label\" OPERATOR(pg_catalog.=) ANY ({}::text[])",
            p(params::LABELS)
        ));
    }
    for (on, column, param, op, ty) in [
        (f.scope, "scope_id", params::SCOPE, "=", "uuid"),
        (f.metadata, "metadata", params::METADATA, "@>", "jsonb"),
    ] {
        if !on {
            continue;
        }
        if t.has_context_id {
            out.push(format!(
                "e.\"pgh_context_id\" IN (SELECT x.\"id\" FROM {ctx} x WHERE x.{col} OPERATOR(pg_catalog.{op}) {param}::{ty})",
                ctx = context_table(),
                col = quote::ident(column),
                param = p(param),
            ));
        } else {
            // No context is stored: no event of this table can match.
            out.push("false".to_owned());
        }
    }
    if f.after {
        // (time, id) >= the cursor's is the index range; equal (time, id) pairs from
        // several tables are then ordered by table name, bytewise like the ORDER BY.
        let (ge, gt) = if f.newest_first {
            ("<=", "<")
        } else {
            (">=", ">")
        };
        out.push(format!(
            "ROW(e.\"pgh_created_at\", e.\"pgh_id\") OPERATOR(pg_catalog.{ge}) ROW({time}::timestamptz, {id}::bigint)",
            time = p(params::AFTER_TIME),
            id = p(params::AFTER_ID),
        ));
        out.push(format!(
            "(ROW(e.\"pgh_created_at\", e.\"pgh_id\") OPERATOR(pg_catalog.{gt}) ROW({time}::timestamptz, {id}::bigint) OR {key}::text COLLATE \"C\" OPERATOR(pg_catalog.{gt}) {table}::text)",
            time = p(params::AFTER_TIME),
            id = p(params::AFTER_ID),
            key = quote::literal(&table_key(t)),
            table = p(params::AFTER_TABLE),
        ));
    }
    out
}

fn direction(f: &Filters) -> &'static str {
    if f.newest_first {
        " DESC"
    } else {
        ""
    }
}

fn branch(b: &Branch<'_>, index: usize, f: &Filters) -> String {
    let conds = conditions(b, index, f);
    let mut sql = select_from(&b.names);
    if !conds.is_empty() {
        sql.push_str("\n    WHERE ");
        sql.push_str(&conds.join("\n      AND "));
    }
    let dir = direction(f);
    sql.push_str(&format!(
        "\n    ORDER BY e.\"pgh_created_at\"{dir}, e.\"pgh_id\"{dir}"
    ));
    if f.limit {
        sql.push_str(&format!(" LIMIT {}", p(params::LIMIT)));
    }
    sql
}

/// The timeline of `branches` under `filters`, taking the [`params`].
///
/// Columns: `pgh_table` (`schema.table`), `pgh_id`, `pgh_created_at`, `pgh_label`,
/// `pgh_obj_id` (text), `pgh_context_id`, `pgh_context` (metadata), `pgh_data` (the
/// snapshot as JSON, keyed by column name) and `pgh_diff` (`{column: [before, after]}`
/// against the previous event of the same object in the same table; NULL for the first
/// event or when nothing changed). Ordered by `(pgh_created_at, pgh_id, pgh_table)`,
/// ascending or, with `newest_first`, descending; `pgh_table` compares bytewise.
pub fn timeline(branches: &[Branch<'_>], filters: &Filters) -> String {
    let legs: Vec<String> = branches
        .iter()
        .enumerate()
        .map(|(i, b)| format!("({})", branch(b, i, filters)))
        .collect();
    let dir = direction(filters);
    let mut sql = format!(
        "SELECT * FROM (\n    {}\n) AS h\nORDER BY h.\"pgh_created_at\"{dir}, h.\"pgh_id\"{dir}, h.\"pgh_table\"{dir}",
        legs.join("\n    UNION ALL\n    ")
    );
    if filters.limit {
        sql.push_str(&format!(" LIMIT {}", p(params::LIMIT)));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::posts;

    fn all(t: TableNames<'static>) -> Branch<'static> {
        Branch {
            names: t,
            object: false,
        }
    }

    #[test]
    fn one_ordered_limited_branch_per_table() {
        let mut other = posts();
        other.table = "we\"ird";
        other.events_table = "we\"ird_events";
        let f = Filters {
            limit: true,
            ..Filters::default()
        };
        let sql = timeline(&[all(posts()), all(other)], &f);
        assert_eq!(sql.matches("UNION ALL").count(), 1);
        assert!(sql.contains("\"public\".\"we\"\"ird_events\""));
        assert!(sql.contains("'public.we\"ird'::text"));
        assert_eq!(sql.matches("LIMIT $10").count(), 3, "{sql}");
        assert!(!sql.contains("WHERE e."), "no filter, no WHERE: {sql}");
    }

    #[test]
    fn the_object_key_is_cast_to_the_key_type_per_branch() {
        let b = Branch {
            names: posts(),
            object: true,
        };
        let sql = timeline(&[all(posts()), b], &Filters::default());
        assert!(sql.contains("CAST(($1::text[])[2] AS integer)"), "{sql}");
        assert!(!sql.contains("[1]"));
    }

    #[test]
    fn context_filters_are_false_without_stored_context() {
        let mut t = posts();
        t.has_context_id = false;
        let f = Filters {
            metadata: true,
            ..Filters::default()
        };
        let sql = timeline(&[all(t)], &f);
        assert!(sql.contains("WHERE false"), "{sql}");
        let sql = timeline(&[all(posts())], &f);
        assert!(sql.contains("x.\"metadata\" OPERATOR(pg_catalog.@>) $6::jsonb"));
    }

    #[test]
    fn newest_first_reverses_order_and_cursor() {
        let f = Filters {
            after: true,
            newest_first: true,
            ..Filters::default()
        };
        let sql = timeline(&[all(posts())], &f);
        assert!(sql.contains("ORDER BY e.\"pgh_created_at\" DESC, e.\"pgh_id\" DESC"));
        assert!(sql.contains("OPERATOR(pg_catalog.<=) ROW($7::timestamptz, $8::bigint)"));
    }
}
