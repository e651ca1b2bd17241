//! `pghistory-diesel show TABLE KEY --at TIME`: one row as it was at a time or an event,
//! read with the same SQL as the runtime's `as_of` (from `pghistory-diesel-core`).

use std::process::ExitCode;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Text, Timestamptz};
use pghistory_diesel_codegen::model::{Operation, Row};
use pghistory_diesel_codegen::TrackedTable;
use pghistory_diesel_core::history::as_of::{self, AtKind, TrackerKind, TrackerShape};
use pghistory_diesel_core::history::TableNames;

use crate::config::Project;
use crate::error::Error;

/// `pghistory-diesel show`.
#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    /// The tracked table: its SQL name, `schema.table`, or its Rust name in schema.rs
    pub(crate) table: String,
    /// The row's primary key
    pub(crate) key: String,
    /// When: an event id (`pgh_id`), or an RFC 3339 time (events whose transaction started
    /// at or before it)
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    pub(crate) at: At,
    /// Print one JSON object instead of the human format
    #[arg(long)]
    pub(crate) json: bool,
    /// The file with the `tracked_table!` declarations [default: src/schema.rs in the
    /// project root]
    #[arg(long, value_name = "FILE")]
    pub(crate) schema: Option<std::path::PathBuf>,
}

/// A point in history from the command line: an event id or an RFC 3339 time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum At {
    Event(i64),
    Time(chrono::DateTime<chrono::Utc>),
}

/// Parses `--at`: digits are an event id (`pgh_id`), anything else an RFC 3339 time.
pub(crate) fn parse_at(value: &str) -> Result<At, String> {
    if let Ok(id) = value.parse::<i64>() {
        return Ok(At::Event(id));
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| At::Time(t.with_timezone(&chrono::Utc)))
        .map_err(|e| {
            format!("`{value}` is neither an event id nor an RFC 3339 time like 2026-01-31T12:00:00Z ({e})")
        })
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = BigInt)]
    pgh_id: i64,
    #[diesel(sql_type = Timestamptz)]
    pgh_created_at: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = Text)]
    pgh_label: String,
    #[diesel(sql_type = Jsonb)]
    pgh_data: serde_json::Value,
}

fn shapes(table: &TrackedTable) -> Vec<TrackerShape<'_>> {
    table
        .trackers
        .iter()
        .map(|t| TrackerShape {
            label: &t.label,
            kind: match t.operation {
                Operation::Insert => TrackerKind::Insert,
                Operation::Update => TrackerKind::Update,
                Operation::Delete => TrackerKind::Delete,
                Operation::Manual => TrackerKind::Manual,
            },
            stores_new: t.row == Row::New,
            every_change: t.every_change(table),
        })
        .collect()
}

/// `show`: exit 0 with the row, 1 when the row did not exist then; errors exit 2 (main).
pub(crate) fn show(
    project: &Project,
    url: Option<&str>,
    args: &ShowArgs,
) -> Result<ExitCode, Error> {
    let schema = project.schema(args.schema.as_deref());
    let tables = crate::commands::read_schema(&schema)?;
    let table = crate::commands::find_table(&tables, &args.table)?;
    let key = format!("{}.{}", table.schema, table.sql_name);
    let trackers = shapes(table);
    let plan = as_of::plan(&trackers, table.all_columns_tracked()).map_err(|reason| {
        Error::NotReconstructible {
            table: key.clone(),
            reason,
        }
    })?;
    let columns: Vec<&str> = table
        .tracked_columns()
        .map(|c| c.sql_name.as_str())
        .collect();
    let pk_type = table.pk_pg_type();
    let names = TableNames {
        schema: &table.schema,
        table: &table.sql_name,
        events_schema: &table.events_schema,
        events_table: &table.events_sql_name,
        primary_key: &table.pk().sql_name,
        primary_key_type: &pk_type,
        columns: &columns,
        has_context_id: table.context.has_id(),
        has_context_json: table.context == pghistory_diesel_codegen::model::ContextMode::Json,
    };
    let kind = match args.at {
        At::Event(_) => AtKind::EventId,
        At::Time(_) => AtKind::Time,
    };
    let sql = as_of::object_statement(&names, &plan, kind);
    let url = url.ok_or(Error::NoDatabaseUrl)?;
    let mut conn = diesel::PgConnection::establish(url).map_err(Error::Connect)?;
    let query = diesel::sql_query(sql).bind::<Text, _>(&args.key);
    let rows: Vec<Found> = match args.at {
        At::Event(id) => query.bind::<BigInt, _>(id).load(&mut conn),
        At::Time(t) => query.bind::<Timestamptz, _>(t).load(&mut conn),
    }
    .map_err(|e| Error::Query(pghistory_diesel::Error::Database(e)))?;
    let at = match args.at {
        At::Event(id) => format!("event {id}"),
        At::Time(t) => t.to_rfc3339(),
    };
    let Some(found) = rows.into_iter().next() else {
        eprintln!("{key} {} did not exist as of {at}", args.key);
        return Ok(ExitCode::from(1));
    };
    let value = |c: &str| {
        found
            .pgh_data
            .get(c)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    if args.json {
        let row: serde_json::Map<String, serde_json::Value> = columns
            .iter()
            .map(|c| ((*c).to_owned(), value(c)))
            .collect();
        let out = serde_json::json!({
            "table": key,
            "key": args.key,
            "pgh_id": found.pgh_id,
            "pgh_created_at": found.pgh_created_at.to_rfc3339(),
            "pgh_label": found.pgh_label,
            "row": row,
        });
        println!("{out}");
    } else {
        println!(
            "{key} {} as of {at} (event {}, {} at {})",
            args.key,
            found.pgh_id,
            found.pgh_label,
            found.pgh_created_at.to_rfc3339()
        );
        let width = columns.iter().map(|c| c.len()).max().unwrap_or(0);
        for c in &columns {
            println!("  {c:width$}  {}", value(c));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_is_an_event_id_or_a_time() {
        assert_eq!(parse_at("42"), Ok(At::Event(42)));
        let t = parse_at("2026-01-31T12:00:00+01:00").unwrap();
        assert_eq!(t, At::Time("2026-01-31T11:00:00Z".parse().unwrap()));
        assert!(parse_at("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
