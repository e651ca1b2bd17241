//! The ledger: one marker line per table in every generated `up.sql`, recording what is
//! installed once it has run (names, snapshot columns and their types, the trigger
//! fingerprint), followed by the trigger SQL itself between a `triggers` and an `end`
//! marker. Reading the markers of all migrations in folder order gives the installed state.
//!
//! Marker values are percent-encoded (all but ASCII letters, digits and `_`), so a name
//! with spaces, `=` or commas stays one field. The `columns` and `types` lists encode each
//! item and then the joined list, so their items are encoded twice; that is the format of
//! every migration already applied, so it stays: readers decode twice, and a single
//! encoding could not be told apart from it when reading an old file.

use std::collections::BTreeMap;

use super::ExistingMigration;
use crate::model::{Column, TrackedTable};
use crate::sql::{event_table, trigger};

const MARK: &str = "-- pghistory-diesel:";

/// What the migrations leave installed for one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// Schema of the tracked table.
    pub schema: String,
    /// SQL name of the tracked table.
    pub table: String,
    /// Schema of the events table.
    pub events_schema: String,
    /// SQL name of the events table.
    pub events_table: String,
    /// Snapshot columns of the events table.
    pub columns: Vec<String>,
    /// The declared SQL type of each snapshot column (as in schema.rs, `Nullable` included),
    /// in `columns` order; empty when the migration predates recording them.
    pub types: Vec<String>,
    /// The read indexes of the events table, by kind (`time`, `context`); empty when the
    /// migration predates them.
    pub indexes: Vec<String>,
    /// Fingerprint of the installed triggers (empty when tracking was removed).
    pub fingerprint: String,
    /// The installed trigger SQL, to restore it when a later migration is reverted.
    pub trigger_sql: String,
    /// The statement registering the table's branch of the `pghistory_events` view, to
    /// restore it when a later migration is reverted (empty before the view existed).
    pub view_sql: String,
    /// The migration that installed this state.
    pub migration: String,
}

/// What kind of marker a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    /// A table newly tracked; its state follows.
    Install,
    /// A tracked table changed; its new state follows.
    Upgrade,
}

impl Marker {
    fn as_str(self) -> &'static str {
        match self {
            Marker::Install => "install",
            Marker::Upgrade => "upgrade",
        }
    }
}

fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn marker(kind: &str, fields: &[(&str, String)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    format!("{MARK}{kind} {}\n", parts.join(" "))
}

/// A snapshot column's declared SQL type, as compared between migrations.
pub(super) fn type_key(col: &Column) -> String {
    let mut key: String = ::quote::ToTokens::to_token_stream(&col.ty)
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if let Some(pg) = &col.pg_type {
        key.push('@');
        key.push_str(pg);
    }
    key
}

/// The marker recording `table`'s state after an install or an upgrade.
pub(super) fn state_marker(kind: Marker, table: &TrackedTable) -> String {
    let columns: Vec<String> = table
        .tracked_columns()
        .map(|c| encode(&c.sql_name))
        .collect();
    let types: Vec<String> = table
        .tracked_columns()
        .map(|c| encode(&type_key(c)))
        .collect();
    marker(
        kind.as_str(),
        &[
            ("schema", table.schema.clone()),
            ("table", table.sql_name.clone()),
            ("events_schema", table.events_schema.clone()),
            ("events_table", table.events_sql_name.clone()),
            ("columns", columns.join(",")),
            ("triggers", trigger::fingerprint(table)),
            ("types", types.join(",")),
            ("indexes", event_table::wanted_indexes(table).join(",")),
        ],
    )
}

/// The marker recording that tracking of `schema.table` was removed.
pub(super) fn remove_marker(schema: &str, table: &str) -> String {
    marker(
        "remove",
        &[("schema", schema.to_owned()), ("table", table.to_owned())],
    )
}

/// The trigger SQL of a state, wrapped in the markers [`installed`] reads it back from.
pub(super) fn trigger_section(sql: &str) -> String {
    format!("{MARK}triggers\n{sql}{MARK}end\n")
}

/// The view registration of `table`, wrapped in the markers [`installed`] reads it back
/// from.
pub(super) fn view_section(table: &TrackedTable, sql: &str) -> String {
    format!(
        "{}{sql}{MARK}end\n",
        marker(
            "view",
            &[
                ("schema", table.schema.clone()),
                ("table", table.sql_name.clone())
            ]
        )
    )
}

/// Reads the installed state from existing migrations, in folder-name order.
///
/// A table whose tracking was removed stays in the map with an empty `fingerprint` and
/// `trigger_sql`: its events table is still there.
pub fn installed(existing: &[ExistingMigration]) -> BTreeMap<(String, String), Installed> {
    let mut sorted: Vec<&ExistingMigration> = existing.iter().collect();
    sorted.sort_by(|a, b| a.dir_name.cmp(&b.dir_name));
    let mut state = BTreeMap::new();
    for mig in sorted {
        let lines: Vec<&str> = mig.up.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let Some(rest) = lines[i].strip_prefix(MARK) else {
                i += 1;
                continue;
            };
            let (kind, fields) = rest.split_once(' ').unwrap_or((rest, ""));
            let map: BTreeMap<&str, String> = fields
                .split(' ')
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| decode(v).map(|v| (k, v)))
                .collect();
            let get = |k: &str| map.get(k).cloned().unwrap_or_default();
            let key = (get("schema"), get("table"));
            match kind {
                "install" | "upgrade" => {
                    // The trigger SQL follows the `triggers` marker up to `end`.
                    let mut trigger_sql = String::new();
                    let mut j = i + 1;
                    let mut in_triggers = false;
                    while j < lines.len() && !lines[j].starts_with(&format!("{MARK}end")) {
                        if lines[j].starts_with(&format!("{MARK}triggers")) {
                            in_triggers = true;
                        } else if in_triggers {
                            trigger_sql.push_str(lines[j]);
                            trigger_sql.push('\n');
                        }
                        j += 1;
                    }
                    let list = |field: &str| -> Vec<String> {
                        get(field)
                            .split(',')
                            .filter(|c| !c.is_empty())
                            .filter_map(decode)
                            .collect()
                    };
                    let columns = list("columns");
                    let types = list("types");
                    let indexes: Vec<String> = get("indexes")
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned)
                        .collect();
                    state.insert(
                        key.clone(),
                        Installed {
                            schema: key.0,
                            table: key.1,
                            events_schema: get("events_schema"),
                            events_table: get("events_table"),
                            columns,
                            types,
                            indexes,
                            fingerprint: get("triggers"),
                            trigger_sql,
                            view_sql: String::new(),
                            migration: mig.dir_name.clone(),
                        },
                    );
                    i = j;
                }
                "view" => {
                    let mut sql = String::new();
                    let mut j = i + 1;
                    while j < lines.len() && !lines[j].starts_with(&format!("{MARK}end")) {
                        sql.push_str(lines[j]);
                        sql.push('\n');
                        j += 1;
                    }
                    if let Some(state) = state.get_mut(&key) {
                        state.view_sql = sql;
                    }
                    i = j;
                }
                "remove" => {
                    // The events table is kept: remember it, with no triggers, so that
                    // tracking the table again reuses it rather than creating it anew.
                    if let Some(kept) = state.get_mut(&key) {
                        kept.fingerprint.clear();
                        kept.trigger_sql.clear();
                        kept.view_sql.clear();
                        kept.migration = mig.dir_name.clone();
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn existing(dir_name: &str, up: &str) -> ExistingMigration {
        ExistingMigration {
            dir_name: dir_name.to_owned(),
            up: up.to_owned(),
        }
    }

    #[test]
    fn marker_values_round_trip() {
        for value in ["posts", "we ird=na,me%", "ünïcode"] {
            assert_eq!(decode(&encode(value)).unwrap(), value);
        }
        assert_eq!(encode("a b,c"), "a%20b%2Cc");
    }

    /// An `up.sql` as migrations written by earlier versions have it, list items encoded
    /// twice: read as it always was.
    const LEGACY: &str = "-- pghistory-diesel:install schema=public table=we%20ird events_schema=public events_table=we%20ird_events columns=i%2520d%2Cnote triggers=00ff types=Int4%2CNullable%253CText%253E\n\
        CREATE TABLE ignored;\n\
        -- pghistory-diesel:triggers\n\
        CREATE TRIGGER one;\n\
        CREATE TRIGGER two;\n\
        -- pghistory-diesel:end\n";

    #[test]
    fn an_install_marker_gives_the_table_its_columns_types_and_trigger_sql() {
        let state = installed(&[existing("2024-01-01-000000_x", LEGACY)]);
        let got = &state[&("public".to_owned(), "we ird".to_owned())];
        assert_eq!(got.events_table, "we ird_events");
        assert_eq!(got.columns, ["i d", "note"]);
        assert_eq!(got.types, ["Int4", "Nullable<Text>"]);
        assert_eq!(got.fingerprint, "00ff");
        assert_eq!(
            got.trigger_sql,
            "CREATE TRIGGER one;\nCREATE TRIGGER two;\n"
        );
        assert_eq!(got.migration, "2024-01-01-000000_x");
    }

    #[test]
    fn installed_state_follows_folder_order_not_slice_order() {
        let remove = "-- pghistory-diesel:remove schema=public table=we%20ird\n";
        // Listed newest first, as a directory listing may be.
        let state = installed(&[
            existing("2024-01-02-000000_y", remove),
            existing("2024-01-01-000000_x", LEGACY),
        ]);
        let kept = &state[&("public".to_owned(), "we ird".to_owned())];
        assert_eq!(
            (kept.fingerprint.as_str(), kept.trigger_sql.as_str()),
            ("", "")
        );
        assert_eq!(kept.migration, "2024-01-02-000000_y");
        assert_eq!(
            kept.events_table, "we ird_events",
            "the events table is remembered"
        );
    }

    #[test]
    fn weird_names_round_trip_through_the_markers() {
        let weird = crate::table_from_tokens(::quote::quote! {
            #[sql_name = "we ird\"name's 100%"]
            weird (id) {
                #[sql_name = "i d=1,2"]
                id -> Text,
                #[sql_name = "-- pghistory-diesel:end"]
                note -> Text,
            }
        })
        .unwrap();
        let up = format!(
            "{}{}",
            state_marker(Marker::Install, &weird),
            trigger_section("SELECT 1;\n")
        );
        let state = installed(&[existing("2024-01-01-000000_x", &up)]);
        let got = &state[&("public".to_owned(), "we ird\"name's 100%".to_owned())];
        assert_eq!(got.columns, ["i d=1,2", "-- pghistory-diesel:end"]);
        assert_eq!(got.types, ["Text", "Text"]);
        assert_eq!(got.trigger_sql, "SELECT 1;\n");
    }
}
