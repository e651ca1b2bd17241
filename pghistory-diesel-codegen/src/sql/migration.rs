//! Migration files: what `pghistory-diesel generate` writes, computed in memory.
//!
//! Every generated `up.sql` carries one marker line per table it touches, recording what is
//! installed afterwards (names, snapshot columns, trigger fingerprint) and the trigger SQL
//! itself. Reading the markers of all migrations in order gives the installed state, which
//! is compared with schema.rs to decide what a new migration must do. Generation is pure:
//! the CLI reads and writes the files.

use std::collections::BTreeMap;

use super::{event_table, names, quote, setup, trigger};
use crate::model::{Operation, TrackedTable};

const MARK: &str = "-- pghistory-diesel:";

/// The contents of one migration folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationFiles {
    /// Folder name, `<version>_<name>`.
    pub dir_name: String,
    /// `up.sql`.
    pub up: String,
    /// `down.sql`.
    pub down: String,
    /// `metadata.toml`, with an explicit `run_in_transaction`.
    pub metadata: String,
}

/// An existing migration folder, as read from disk.
#[derive(Clone, Debug)]
pub struct ExistingMigration {
    /// Folder name.
    pub dir_name: String,
    /// Contents of its `up.sql`.
    pub up: String,
}

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
    /// Fingerprint of the installed triggers (empty when tracking was removed).
    pub fingerprint: String,
    /// The installed trigger SQL, to restore it when a later migration is reverted.
    pub trigger_sql: String,
    /// The migration that installed this state.
    pub migration: String,
}

/// The setup migration's files, with the default roles.
pub fn setup_files() -> MigrationFiles {
    setup_files_with(&setup::Roles::default())
}

/// The setup migration's files, naming `roles`.
pub fn setup_files_with(roles: &setup::Roles) -> MigrationFiles {
    MigrationFiles {
        dir_name: setup::MIGRATION_NAME.to_owned(),
        up: setup::up_with(roles),
        down: setup::down(),
        metadata: metadata(),
    }
}

fn metadata() -> String {
    "# Written by pghistory-diesel.\nrun_in_transaction = true\n".to_owned()
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
fn type_key(col: &crate::model::Column) -> String {
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

fn state_marker(kind: &str, table: &TrackedTable) -> String {
    let columns: Vec<String> = table
        .tracked_columns()
        .map(|c| encode(&c.sql_name))
        .collect();
    let types: Vec<String> = table
        .tracked_columns()
        .map(|c| encode(&type_key(c)))
        .collect();
    marker(
        kind,
        &[
            ("schema", table.schema.clone()),
            ("table", table.sql_name.clone()),
            ("events_schema", table.events_schema.clone()),
            ("events_table", table.events_sql_name.clone()),
            ("columns", columns.join(",")),
            ("triggers", trigger::fingerprint(table)),
            ("types", types.join(",")),
        ],
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
                    state.insert(
                        key.clone(),
                        Installed {
                            schema: key.0,
                            table: key.1,
                            events_schema: get("events_schema"),
                            events_table: get("events_table"),
                            columns,
                            types,
                            fingerprint: get("triggers"),
                            trigger_sql,
                            migration: mig.dir_name.clone(),
                        },
                    );
                    i = j;
                }
                "remove" => {
                    // The events table is kept: remember it, with no triggers, so that
                    // tracking the table again reuses it rather than creating it anew.
                    if let Some(kept) = state.get_mut(&key) {
                        kept.fingerprint.clear();
                        kept.trigger_sql.clear();
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

/// Drops every trigger and function we may have installed for a table, by name, whatever
/// trackers it had.
fn uninstall_by_name(schema: &str, table: &str, events_schema: &str, events_table: &str) -> String {
    let tracked = quote::qualified(schema, table);
    let events = quote::qualified(events_schema, events_table);
    let mut sql = format!(
        "DROP TRIGGER IF EXISTS {} ON {events};\nDROP TRIGGER IF EXISTS {} ON {events};\nDROP FUNCTION IF EXISTS {}();\n",
        quote::ident(names::PROTECT_TRIGGER),
        quote::ident(names::PROTECT_TRUNCATE_TRIGGER),
        quote::qualified(events_schema, &names::protect_function_for(events_table)),
    );
    sql.push_str(&format!(
        "DROP TRIGGER IF EXISTS {} ON {events};\nDROP TRIGGER IF EXISTS {} ON {events};\nDROP FUNCTION IF EXISTS {};\n",
        quote::ident(names::OWNER_ONLY_TRIGGER),
        quote::ident(names::OWNER_ONLY_TRUNCATE_TRIGGER),
        quote::qualified(schema, &names::event_function_for(table)),
    ));
    for op in [Operation::Delete, Operation::Update, Operation::Insert] {
        sql.push_str(&format!(
            "DROP TRIGGER IF EXISTS {} ON {tracked};\nDROP FUNCTION IF EXISTS {}();\n",
            quote::ident(&names::trigger(op)),
            quote::qualified(schema, &names::function_for(table, op)),
        ));
    }
    sql
}

/// One change the plan makes, for the CLI to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A newly tracked table: events table and triggers created.
    Track(String),
    /// Triggers (and possibly snapshot columns) of a tracked table changed.
    Update(String),
    /// Tracking removed; the events table is kept.
    Untrack(String),
}

/// The migration that brings the installed state to `tables`, or `None` when nothing
/// changed. `version` is the folder's version prefix.
pub fn plan(
    tables: &[TrackedTable],
    existing: &[ExistingMigration],
    version: &str,
) -> (Option<MigrationFiles>, Vec<Change>) {
    let state = installed(existing);
    let mut up = String::from(
        "-- Generated by `pghistory-diesel generate` from schema.rs; regenerate rather than edit.\n",
    );
    let mut down = String::from("-- Generated by `pghistory-diesel generate`.\n");
    let mut down_parts = Vec::new();
    let mut changes = Vec::new();
    let mut wanted = std::collections::BTreeSet::new();

    for table in tables {
        let key = (table.schema.clone(), table.sql_name.clone());
        wanted.insert(key.clone());
        let display = event_table::tracked_name(table);
        let triggers = trigger::install(table);
        match state.get(&key) {
            None => {
                up.push_str(&state_marker("install", table));
                up.push_str(&event_table::create(table));
                up.push_str(&format!("{MARK}triggers\n"));
                up.push_str(&triggers);
                up.push_str(&format!("{MARK}end\n"));
                down_parts.push(format!(
                    "{}{}",
                    trigger::uninstall(table),
                    event_table::drop(table)
                ));
                changes.push(Change::Track(display));
            }
            Some(old) => {
                let new_columns: Vec<String> = table
                    .tracked_columns()
                    .map(|c| c.sql_name.clone())
                    .collect();
                let same_events = old.events_schema == table.events_schema
                    && old.events_table == table.events_sql_name;
                // Columns whose declared type (or nullability) changed; unknown, and so
                // taken as unchanged, for migrations written before types were recorded.
                let retyped: Vec<String> = if old.types.len() == old.columns.len() {
                    table
                        .tracked_columns()
                        .filter(|c| {
                            old.columns
                                .iter()
                                .position(|o| *o == c.sql_name)
                                .is_some_and(|i| old.types[i] != type_key(c))
                        })
                        .map(|c| c.sql_name.clone())
                        .collect()
                } else {
                    Vec::new()
                };
                if old.fingerprint == trigger::fingerprint(table)
                    && old.columns == new_columns
                    && same_events
                    && retyped.is_empty()
                {
                    continue;
                }
                let added: Vec<String> = new_columns
                    .iter()
                    .filter(|c| !old.columns.contains(c))
                    .cloned()
                    .collect();
                let removed: Vec<String> = old
                    .columns
                    .iter()
                    .filter(|c| !new_columns.contains(c))
                    .cloned()
                    .collect();
                up.push_str(&state_marker("upgrade", table));
                up.push_str(&uninstall_by_name(
                    &old.schema,
                    &old.table,
                    &old.events_schema,
                    &old.events_table,
                ));
                // The context columns the new mode writes and the old triggers did not (the
                // mode changed); with no old triggers to tell, possibly missing ones.
                let context_added: Vec<String> = [
                    ("pgh_context_id", table.context.has_id()),
                    ("pgh_context", table.context.has_json()),
                ]
                .into_iter()
                .filter(|(col, needed)| *needed && !old.trigger_sql.contains(&quote::ident(col)))
                .map(|(col, _)| col.to_owned())
                .collect();
                if !same_events {
                    up.push_str(&event_table::create(table));
                } else {
                    up.push_str(&event_table::add_columns(table, &added));
                    up.push_str(&event_table::relax_columns(table, &removed));
                    up.push_str(&event_table::add_context_columns(table, &context_added));
                    // Not undone: the down runs while the tracked column still has its new type.
                    up.push_str(&event_table::follow_column_types(table, &retyped));
                }
                up.push_str(&format!("{MARK}triggers\n"));
                up.push_str(&triggers);
                up.push_str(&format!("{MARK}end\n"));
                let mut undo = trigger::uninstall(table);
                if !same_events {
                    undo.push_str(&event_table::drop(table));
                } else {
                    undo.push_str(&event_table::drop_columns(table, &added));
                    if !old.trigger_sql.is_empty() {
                        undo.push_str(&event_table::drop_columns(table, &context_added));
                    }
                }
                undo.push_str(&old.trigger_sql);
                down_parts.push(undo);
                changes.push(if old.fingerprint.is_empty() {
                    Change::Track(display)
                } else {
                    Change::Update(display)
                });
            }
        }
    }
    for (key, old) in &state {
        if wanted.contains(key) || old.fingerprint.is_empty() {
            continue;
        }
        up.push_str(&marker(
            "remove",
            &[("schema", old.schema.clone()), ("table", old.table.clone())],
        ));
        up.push_str(&format!(
            "-- The events table {} is kept: its history stays readable.\n",
            quote::qualified(&old.events_schema, &old.events_table)
        ));
        up.push_str(&uninstall_by_name(
            &old.schema,
            &old.table,
            &old.events_schema,
            &old.events_table,
        ));
        down_parts.push(old.trigger_sql.clone());
        changes.push(Change::Untrack(quote::qualified(&old.schema, &old.table)));
    }
    if changes.is_empty() {
        return (None, changes);
    }
    // Undo in the reverse order of doing.
    for part in down_parts.into_iter().rev() {
        down.push_str(&part);
    }
    let name = match changes.as_slice() {
        [Change::Track(_)] | [Change::Update(_)] | [Change::Untrack(_)] => {
            let table = tables
                .iter()
                .map(|t| (t.schema.clone(), t.sql_name.clone()))
                .chain(state.keys().cloned())
                .find(|k| changes_touch(&changes, k))
                .map(|k| k.1)
                .unwrap_or_default();
            format!("pghistory_{}", sanitize(&table))
        }
        _ => "pghistory_tracking".to_owned(),
    };
    let files = MigrationFiles {
        dir_name: format!("{version}_{name}"),
        up,
        down,
        metadata: metadata(),
    };
    (Some(files), changes)
}

fn changes_touch(changes: &[Change], key: &(String, String)) -> bool {
    let name = quote::qualified(&key.0, &key.1);
    changes.iter().any(|c| match c {
        Change::Track(n) | Change::Update(n) | Change::Untrack(n) => *n == name,
    })
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::quote::quote;
    use proc_macro2::TokenStream;

    #[test]
    fn marker_values_round_trip() {
        for value in ["posts", "we ird=na,me%", "ünïcode"] {
            assert_eq!(decode(&encode(value)).unwrap(), value);
        }
    }

    fn table(tokens: TokenStream) -> TrackedTable {
        crate::table_from_tokens(tokens).unwrap()
    }

    fn posts_v1() -> TrackedTable {
        table(quote! {
            #[pghistory(events(insert, update))]
            posts (id) {
                id -> Int4,
                title -> Text,
            }
        })
    }

    fn applied(files: &MigrationFiles) -> ExistingMigration {
        ExistingMigration {
            dir_name: files.dir_name.clone(),
            up: files.up.clone(),
        }
    }

    /// Plans `tables` over `existing` and expects a migration.
    fn must_plan(
        tables: &[TrackedTable],
        existing: &[ExistingMigration],
        version: &str,
    ) -> (MigrationFiles, Vec<Change>) {
        let (files, changes) = plan(tables, existing, version);
        (files.expect("a migration"), changes)
    }

    #[test]
    fn a_new_table_gets_an_install_migration() {
        let posts = posts_v1();
        let (files, changes) = must_plan(std::slice::from_ref(&posts), &[], "2024-01-01-000000");
        assert_eq!(changes, [Change::Track("\"public\".\"posts\"".to_owned())]);
        assert_eq!(files.dir_name, "2024-01-01-000000_pghistory_posts");
        assert!(files.metadata.contains("run_in_transaction = true"));
        assert!(files.up.contains(&event_table::create(&posts)));
        assert!(files.up.contains(&trigger::install(&posts)));
        assert!(files.up.contains(&format!(
            "{MARK}install schema=public table=posts events_schema=public events_table=posts_events columns=id%2Ctitle triggers={} types=Int4%2CText\n",
            trigger::fingerprint(&posts)
        )));
        assert!(files.down.contains(&trigger::uninstall(&posts)));
        assert!(files
            .down
            .contains("DROP TABLE IF EXISTS \"public\".\"posts_events\";"));

        let state = installed(&[applied(&files)]);
        let posts_state = &state[&("public".to_owned(), "posts".to_owned())];
        assert_eq!(posts_state.columns, ["id", "title"]);
        assert_eq!(posts_state.fingerprint, trigger::fingerprint(&posts));
        assert_eq!(posts_state.trigger_sql, trigger::install(&posts));
        assert_eq!(posts_state.migration, files.dir_name);
    }

    #[test]
    fn nothing_changed_plans_nothing() {
        let posts = posts_v1();
        let (files, _) = must_plan(std::slice::from_ref(&posts), &[], "2024-01-01-000000");
        let (again, changes) = plan(&[posts], &[applied(&files)], "2024-01-02-000000");
        assert!(again.is_none());
        assert!(changes.is_empty());
        // Unrelated migrations (the app's own) are ignored.
        let app = ExistingMigration {
            dir_name: "2023-01-01-000000_create_posts".to_owned(),
            up: "CREATE TABLE posts (id serial PRIMARY KEY, title text NOT NULL);\n".to_owned(),
        };
        let (again, _) = plan(&[posts_v1()], &[app, applied(&files)], "2024-01-02-000000");
        assert!(again.is_none());
    }

    #[test]
    fn a_changed_tracker_gets_an_upgrade_whose_down_restores_the_old_triggers() {
        let v1 = posts_v1();
        let (first, _) = must_plan(std::slice::from_ref(&v1), &[], "2024-01-01-000000");
        let v2 = table(quote! {
            #[pghistory(events(insert, update, delete))]
            posts (id) {
                id -> Int4,
                title -> Text,
            }
        });
        assert_ne!(trigger::fingerprint(&v1), trigger::fingerprint(&v2));
        let (second, changes) = must_plan(
            std::slice::from_ref(&v2),
            &[applied(&first)],
            "2024-01-02-000000",
        );
        assert_eq!(changes, [Change::Update("\"public\".\"posts\"".to_owned())]);
        assert!(second
            .up
            .contains(&format!("{MARK}upgrade schema=public table=posts ")));
        assert!(second
            .up
            .contains("DROP FUNCTION IF EXISTS \"public\".\"pghistory_posts_insert\"();"));
        assert!(second.up.contains(&trigger::install(&v2)));
        assert!(
            !second.up.contains("CREATE TABLE"),
            "the events table is kept as it is"
        );
        assert!(second.down.contains(&trigger::uninstall(&v2)));
        assert!(
            second.down.ends_with(&trigger::install(&v1)),
            "down ends by reinstalling the old triggers:\n{}",
            second.down
        );
        let state = installed(&[applied(&second), applied(&first)]);
        assert_eq!(
            state[&("public".to_owned(), "posts".to_owned())].fingerprint,
            trigger::fingerprint(&v2)
        );
        let (third, _) = plan(
            &[v2],
            &[applied(&first), applied(&second)],
            "2024-01-03-000000",
        );
        assert!(third.is_none());
    }

    #[test]
    fn a_removed_table_is_uninstalled_and_its_events_table_kept() {
        let posts = posts_v1();
        let (first, _) = must_plan(std::slice::from_ref(&posts), &[], "2024-01-01-000000");
        let (second, changes) = must_plan(&[], &[applied(&first)], "2024-01-02-000000");
        assert_eq!(
            changes,
            [Change::Untrack("\"public\".\"posts\"".to_owned())]
        );
        assert_eq!(second.dir_name, "2024-01-02-000000_pghistory_posts");
        assert!(second
            .up
            .contains(&format!("{MARK}remove schema=public table=posts\n")));
        assert!(second
            .up
            .contains("DROP TRIGGER IF EXISTS \"pghistory_insert\" ON \"public\".\"posts\";"));
        assert!(second
            .up
            .contains("DROP FUNCTION IF EXISTS \"public\".\"pghistory_posts_update\"();"));
        assert!(
            !second.up.contains("DROP TABLE"),
            "the history stays: {}",
            second.up
        );
        assert!(second.down.contains(&trigger::install(&posts)));
        let state = installed(&[applied(&first), applied(&second)]);
        let kept = &state[&("public".to_owned(), "posts".to_owned())];
        assert_eq!(
            (kept.fingerprint.as_str(), kept.trigger_sql.as_str()),
            ("", "")
        );
        assert_eq!(kept.events_table, "posts_events");
        let (third, _) = plan(
            &[],
            &[applied(&first), applied(&second)],
            "2024-01-03-000000",
        );
        assert!(third.is_none());
    }

    #[test]
    fn an_added_column_is_added_to_the_events_table() {
        let (first, _) = must_plan(&[posts_v1()], &[], "2024-01-01-000000");
        let v2 = table(quote! {
            #[pghistory(events(insert, update))]
            posts (id) {
                id -> Int4,
                title -> Text,
                #[sql_name = "it's \"body\""]
                body -> Nullable<Text>,
            }
        });
        let (second, changes) = must_plan(
            std::slice::from_ref(&v2),
            &[applied(&first)],
            "2024-01-02-000000",
        );
        assert_eq!(changes, [Change::Update("\"public\".\"posts\"".to_owned())]);
        assert!(second.up.contains(&event_table::add_columns(
            &v2,
            &["it's \"body\"".to_owned()]
        )));
        assert!(
            second
                .up
                .contains("ADD COLUMN %I %s', '\"public\".\"posts_events\"', 'it''s \"body\"'"),
            "{}",
            second.up
        );
        assert!(second.down.contains(
            "ALTER TABLE \"public\".\"posts_events\" DROP COLUMN IF EXISTS \"it's \"\"body\"\"\";"
        ));
        let state = installed(&[applied(&first), applied(&second)]);
        assert_eq!(
            state[&("public".to_owned(), "posts".to_owned())].columns,
            ["id", "title", "it's \"body\""]
        );
    }

    #[test]
    fn a_column_no_longer_tracked_keeps_its_history_but_may_be_null() {
        let with_body = table(quote! {
            posts (id) {
                id -> Int4,
                title -> Text,
                body -> Text,
            }
        });
        let (first, _) = must_plan(&[with_body], &[], "2024-01-01-000000");
        let without = table(quote! {
            #[pghistory(exclude(body))]
            posts (id) {
                id -> Int4,
                title -> Text,
                body -> Text,
            }
        });
        let (second, _) = must_plan(&[without], &[applied(&first)], "2024-01-02-000000");
        assert!(second.up.contains(
            "ALTER TABLE \"public\".\"posts_events\" ALTER COLUMN \"body\" DROP NOT NULL;"
        ));
        assert!(!second.up.contains("DROP COLUMN"));
    }

    #[test]
    fn several_changes_share_one_migration_named_for_tracking() {
        let posts = posts_v1();
        let orders = table(quote! {
            #[sql_name = "order"]
            orders (id) {
                id -> Int8,
                #[sql_name = "user"]
                user_name -> Text,
            }
        });
        let (files, changes) = must_plan(&[posts, orders], &[], "2024-01-01-000000");
        assert_eq!(changes.len(), 2);
        assert_eq!(files.dir_name, "2024-01-01-000000_pghistory_tracking");
        // Undone in the reverse order: the second table's objects are dropped first.
        let order_at = files.down.find("\"public\".\"order_events\"").unwrap();
        let posts_at = files.down.find("\"public\".\"posts_events\"").unwrap();
        assert!(order_at < posts_at);
    }

    #[test]
    fn installed_state_follows_folder_order_not_slice_order() {
        let v1 = posts_v1();
        let (first, _) = must_plan(&[v1], &[], "2024-01-01-000000");
        let (second, _) = must_plan(&[], &[applied(&first)], "2024-01-02-000000");
        // Listed newest first, as a directory listing may be.
        let state = installed(&[applied(&second), applied(&first)]);
        assert_eq!(
            state[&("public".to_owned(), "posts".to_owned())].fingerprint,
            ""
        );
    }

    #[test]
    fn tracking_a_removed_table_again_reuses_its_kept_events_table() {
        let (first, _) = must_plan(&[posts_v1()], &[], "2024-01-01-000000");
        let (second, _) = must_plan(&[], &[applied(&first)], "2024-01-02-000000");
        let v3 = table(quote! {
            #[pghistory(events(insert, update))]
            posts (id) {
                id -> Int4,
                title -> Text,
                body -> Nullable<Text>,
            }
        });
        let existing = [applied(&first), applied(&second)];
        let (third, changes) = must_plan(std::slice::from_ref(&v3), &existing, "2024-01-03-000000");
        assert_eq!(changes, [Change::Track("\"public\".\"posts\"".to_owned())]);
        assert!(
            !third.up.contains("CREATE TABLE"),
            "the kept table is reused: {}",
            third.up
        );
        assert!(third
            .up
            .contains(&event_table::add_columns(&v3, &["body".to_owned()])));
        assert!(third.up.contains(&trigger::install(&v3)));
        assert!(
            !third.down.contains("DROP TABLE"),
            "undoing keeps the old history: {}",
            third.down
        );
        assert!(third.down.contains(&trigger::uninstall(&v3)));
        assert!(third.down.contains("DROP COLUMN IF EXISTS \"body\""));
        let all = [applied(&first), applied(&second), applied(&third)];
        assert!(plan(&[v3], &all, "2024-01-04-000000").0.is_none());
    }

    #[test]
    fn weird_names_round_trip_through_the_markers() {
        let weird = table(quote! {
            #[sql_name = "we ird\"name's 100%"]
            weird (id) {
                #[sql_name = "i d=1,2"]
                id -> Text,
                #[sql_name = "-- pghistory-diesel:end"]
                note -> Text,
            }
        });
        let (files, _) = must_plan(std::slice::from_ref(&weird), &[], "2024-01-01-000000");
        assert!(files
            .dir_name
            .starts_with("2024-01-01-000000_pghistory_we_ird_name_s_100_"));
        let state = installed(&[applied(&files)]);
        let got = &state[&("public".to_owned(), "we ird\"name's 100%".to_owned())];
        assert_eq!(got.columns, ["i d=1,2", "-- pghistory-diesel:end"]);
        assert_eq!(got.trigger_sql, trigger::install(&weird));
        let (again, _) = plan(&[weird], &[applied(&files)], "2024-01-02-000000");
        assert!(again.is_none());
    }

    #[test]
    fn a_changed_context_mode_adds_the_context_columns_it_writes() {
        let with = |mode: TokenStream| {
            table(quote! {
                #[pghistory(events(insert, update), #mode)]
                notes (id) { id -> Int4, text -> Text, }
            })
        };
        let none = with(quote!(context = none));
        let fk = with(quote!(context = fk));
        let json = with(quote!(context = json));
        let (first, _) = must_plan(std::slice::from_ref(&none), &[], "2024-01-01-000000");
        let (second, _) = must_plan(
            std::slice::from_ref(&fk),
            &[applied(&first)],
            "2024-01-02-000000",
        );
        assert!(second
            .up
            .contains("ALTER TABLE \"public\".\"notes_events\" ADD COLUMN IF NOT EXISTS \"pgh_context_id\" uuid;\n"));
        assert!(!second.up.contains("\"pgh_context\" jsonb"));
        assert!(second.down.contains(
            "ALTER TABLE \"public\".\"notes_events\" DROP COLUMN IF EXISTS \"pgh_context_id\";\n"
        ));

        let existing = [applied(&first), applied(&second)];
        let (third, _) = must_plan(std::slice::from_ref(&json), &existing, "2024-01-03-000000");
        assert!(third
            .up
            .contains("ALTER TABLE \"public\".\"notes_events\" ADD COLUMN IF NOT EXISTS \"pgh_context\" jsonb;\n"));
        assert!(
            !third
                .up
                .contains("ADD COLUMN IF NOT EXISTS \"pgh_context_id\""),
            "already there"
        );

        // Back to fk: the jsonb column stays (history), nothing is added.
        let existing = [applied(&first), applied(&second), applied(&third)];
        let (fourth, _) = must_plan(&[fk], &existing, "2024-01-04-000000");
        assert!(!fourth.up.contains("ADD COLUMN"));
        assert!(!fourth.down.contains("DROP COLUMN"));
    }

    #[test]
    fn a_changed_column_type_or_nullability_gets_an_upgrade_that_follows_it() {
        let v1 = table(quote! {
            items (id) { id -> Int4, code -> Int4, note -> Text, }
        });
        let (first, _) = must_plan(std::slice::from_ref(&v1), &[], "2024-01-01-000000");
        assert!(
            first.up.contains(" types=Int4%2CInt4%2CText\n"),
            "{}",
            first.up
        );
        let v2 = table(quote! {
            items (id) { id -> Int4, code -> Text, note -> Nullable<Text>, }
        });
        assert_eq!(trigger::fingerprint(&v1), trigger::fingerprint(&v2));
        let (second, changes) = must_plan(
            std::slice::from_ref(&v2),
            &[applied(&first)],
            "2024-01-02-000000",
        );
        assert_eq!(changes, [Change::Update("\"public\".\"items\"".to_owned())]);
        assert!(second.up.contains(&event_table::follow_column_types(
            &v2,
            &["code".to_owned(), "note".to_owned()]
        )));
        assert!(!second.up.contains("ADD COLUMN"));
        let existing = [applied(&first), applied(&second)];
        assert!(plan(&[v2], &existing, "2024-01-03-000000").0.is_none());
    }

    #[test]
    fn migrations_written_before_types_were_recorded_plan_no_type_change() {
        let v1 = table(quote! {
            items (id) { id -> Int4, code -> Int4, }
        });
        let (first, _) = must_plan(std::slice::from_ref(&v1), &[], "2024-01-01-000000");
        let legacy = ExistingMigration {
            dir_name: first.dir_name.clone(),
            up: first.up.replace(" types=Int4%2CInt4\n", "\n"),
        };
        assert_ne!(legacy.up, first.up);
        let v2 = table(quote! {
            items (id) { id -> Int4, code -> Text, }
        });
        assert!(plan(&[v2], &[legacy], "2024-01-02-000000").0.is_none());
    }
}
