//! `pghistory-diesel log`: the timeline of the tables schema.rs tracks, read with the
//! runtime's own query (`pghistory_diesel::history::History`), so the CLI and the library
//! print the same events in the same order.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use diesel::Connection;
use pghistory_diesel::history::{History, HistoryEvent, TableNames};
use pghistory_diesel_codegen::TrackedTable;
use serde_json::Value;

use crate::cli::LogArgs;
use crate::error::Error;

/// A string that lives as long as the process: the runtime's table names are `'static`,
/// and this command reads them once, from schema.rs, then exits.
fn forever(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn names(t: &TrackedTable) -> TableNames<'static> {
    let columns: Vec<&'static str> = t.tracked_columns().map(|c| forever(&c.sql_name)).collect();
    TableNames {
        schema: forever(&t.schema),
        table: forever(&t.sql_name),
        events_schema: forever(&t.events_schema),
        events_table: forever(&t.events_sql_name),
        primary_key: forever(&t.pk().sql_name),
        primary_key_type: forever(&t.pk_pg_type()),
        columns: Box::leak(columns.into_boxed_slice()),
        has_context_id: t.context.has_id(),
        has_context_json: t.context.has_json(),
    }
}

/// The query `args` ask for over `tables`.
fn query(tables: &[TrackedTable], args: &LogArgs) -> Result<History, Error> {
    let mut history = History::new();
    match &args.table {
        Some(wanted) => {
            let table = tables
                .iter()
                .find(|t| {
                    t.sql_name == *wanted || format!("{}.{}", t.schema, t.sql_name) == *wanted
                })
                .ok_or_else(|| Error::UnknownTable {
                    table: wanted.clone(),
                    known: tables
                        .iter()
                        .map(|t| format!("{}.{}", t.schema, t.sql_name))
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            history = history.across_names(names(table), args.key.clone());
        }
        None => {
            for t in tables {
                history = history.across_names(names(t), None);
            }
        }
    }
    if let Some(t) = args.since {
        history = history.since(t);
    }
    if let Some(t) = args.until {
        history = history.until(t);
    }
    if !args.label.is_empty() {
        history = history.labels(args.label.iter().cloned());
    }
    if let Some(scope) = args.context {
        history = history.in_context(scope);
    }
    if !args.filters.is_empty() {
        let object: serde_json::Map<String, Value> = args.filters.iter().cloned().collect();
        history = history.metadata_contains(Value::Object(object));
    }
    history = if args.oldest_first {
        history.oldest_first()
    } else {
        history.newest_first()
    };
    Ok(history.limit(args.limit as usize))
}

pub(crate) fn log(tables: &[TrackedTable], url: &str, args: &LogArgs) -> Result<ExitCode, Error> {
    let history = query(tables, args)?;
    let mut conn = diesel::PgConnection::establish(url).map_err(Error::Connect)?;
    let events = history.load(&mut conn).map_err(Error::Log)?;
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut out = stdout.lock();
    for event in &events {
        let text = if args.json {
            json_line(event)
        } else {
            human(event, colour)
        };
        // A closed pipe (`| head`) ends the listing quietly.
        if out.write_all(text.as_bytes()).is_err() {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn time(event: &HistoryEvent) -> String {
    event
        .pgh_created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// One event as one JSON object on one line.
pub(crate) fn json_line(event: &HistoryEvent) -> String {
    let value = serde_json::json!({
        "time": time(event),
        "table": event.pgh_table,
        "key": event.pgh_obj_id,
        "pgh_id": event.pgh_id,
        "label": event.pgh_label,
        "context_id": event.pgh_context_id,
        "context": event.pgh_context,
        "data": event.pgh_data,
        "diff": event.pgh_diff,
    });
    format!("{value}\n")
}

struct Paint(bool);

impl Paint {
    fn code(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// `user=42 path=/x`: the context metadata, keys sorted, strings bare; `-` without context.
fn who(context: Option<&Value>) -> String {
    match context {
        Some(Value::Object(map)) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => "-".to_owned(),
    }
}

/// One event as text: a heading line, then one indented line per changed field.
pub(crate) fn human(event: &HistoryEvent, colour: bool) -> String {
    let p = Paint(colour);
    let label = match event.pgh_label.as_str() {
        "insert" => p.code("32", &event.pgh_label),
        "delete" => p.code("31", &event.pgh_label),
        other => p.code("33", other),
    };
    let mut text = format!(
        "{}  {} {}  {}  {}\n",
        p.code("2", &time(event)),
        p.code("36", &event.pgh_table),
        event.pgh_obj_id,
        label,
        who(event.pgh_context.as_ref()),
    );
    if let Some(Value::Object(diff)) = &event.pgh_diff {
        for (field, change) in diff {
            let (old, new) = match change.as_array().map(Vec::as_slice) {
                Some([old, new]) => (old.to_string(), new.to_string()),
                _ => continue,
            };
            text.push_str(&format!(
                "    {field}: {} → {}\n",
                p.code("31", &old),
                p.code("32", &new)
            ));
        }
    }
    text
}
