//! Migration files: what `pghistory-diesel generate` writes, computed in memory.
//!
//! One way through: the [`ledger`] reads what the existing migrations installed (every
//! generated `up.sql` records it in marker lines), the `diff` compares that with schema.rs
//! as a list of steps, and the `render` stage writes the steps as `up.sql` and `down.sql`.
//! Generation is pure: the CLI reads and writes the files.

mod diff;
pub mod ledger;
mod render;

pub use ledger::{installed, Installed};

use super::setup;
use crate::model::TrackedTable;

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

impl From<&MigrationFiles> for ExistingMigration {
    fn from(files: &MigrationFiles) -> Self {
        ExistingMigration {
            dir_name: files.dir_name.clone(),
            up: files.up.clone(),
        }
    }
}

/// One change a migration makes to one tracked table, as data; the CLI words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Schema of the tracked table.
    pub schema: String,
    /// SQL name of the tracked table.
    pub table: String,
    /// What changes.
    pub kind: ChangeKind,
}

/// What a [`Change`] does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The table becomes tracked: triggers are created, and so is its events table unless
    /// one was kept from tracking it before.
    Track {
        /// Schema of the events table.
        events_schema: String,
        /// SQL name of the events table.
        events_table: String,
        /// Whether the events table (and its history) was kept from earlier tracking.
        events_kept: bool,
    },
    /// The table's tracking changes.
    Update {
        /// Whether the triggers change.
        triggers: bool,
        /// Snapshot columns added to the events table.
        added: Vec<String>,
        /// Snapshot columns no longer written (their history is kept).
        removed: Vec<String>,
        /// Snapshot columns that follow a changed column type or nullability.
        retyped: Vec<String>,
        /// Whether a new events table is created under another schema or name.
        events_moved: bool,
        /// Read indexes added to the events table (`time`, `context_id`).
        indexes: Vec<String>,
        /// Read indexes dropped from the events table (kinds a later version replaced).
        indexes_dropped: Vec<String>,
    },
    /// Tracking stops; the events table is kept.
    Untrack {
        /// Schema of the kept events table.
        events_schema: String,
        /// SQL name of the kept events table.
        events_table: String,
    },
}

/// What `generate` would write: the next migration, if anything changed, and the changes
/// it makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The next migration's files; `None` when the migrations already install `tables`.
    pub files: Option<MigrationFiles>,
    /// The changes, in the order the migration makes them.
    pub changes: Vec<Change>,
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

/// The migration that brings the installed state to `tables`, or none when nothing
/// changed. `version` is the folder's version prefix.
pub fn plan(tables: &[TrackedTable], existing: &[ExistingMigration], version: &str) -> Plan {
    let state = installed(existing);
    let steps = diff::diff(tables, &state);
    let changes: Vec<Change> = steps.iter().map(diff::Step::change).collect();
    if steps.is_empty() {
        return Plan {
            files: None,
            changes,
        };
    }
    let (up, down) = render::render(&steps);
    let files = MigrationFiles {
        dir_name: format!("{version}_{}", render::folder_name(&steps)),
        up,
        down,
        metadata: metadata(),
    };
    Plan {
        files: Some(files),
        changes,
    }
}

#[cfg(test)]
mod tests {
    //! Plans over markers the plan itself wrote: each test reads the SQL text of the
    //! migrations (what diesel would run) and what the next plan makes of them. The SQL's
    //! behaviour on a server is `tests/tests/generated_sql.rs`'s; its full text is in the
    //! snapshots of `tests/expand.rs`.

    use super::*;
    use ::quote::quote;
    use proc_macro2::TokenStream;

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

    /// Plans `tables` over `existing` and expects a migration.
    fn must_plan(
        tables: &[TrackedTable],
        existing: &[&MigrationFiles],
        version: &str,
    ) -> (MigrationFiles, Vec<Change>) {
        let plan = plan(tables, &applied(existing), version);
        (plan.files.expect("a migration"), plan.changes)
    }

    fn applied(files: &[&MigrationFiles]) -> Vec<ExistingMigration> {
        files.iter().map(|f| ExistingMigration::from(*f)).collect()
    }

    fn nothing_to_do(tables: &[TrackedTable], existing: &[&MigrationFiles]) -> bool {
        let plan = plan(tables, &applied(existing), "2099-01-01-000000");
        plan.files.is_none() && plan.changes.is_empty()
    }

    /// The trigger SQL an `up.sql` installs: the lines between its `triggers` and `end`
    /// markers.
    fn trigger_section(up: &str) -> String {
        let start = up
            .find("-- pghistory-diesel:triggers\n")
            .expect("a triggers marker")
            + "-- pghistory-diesel:triggers\n".len();
        let end = start
            + up[start..]
                .find("-- pghistory-diesel:end\n")
                .expect("an end marker");
        up[start..end].to_owned()
    }

    fn key(table: &str) -> (String, String) {
        ("public".to_owned(), table.to_owned())
    }

    fn track(table: &str) -> Change {
        Change {
            schema: "public".to_owned(),
            table: table.to_owned(),
            kind: ChangeKind::Track {
                events_schema: "public".to_owned(),
                events_table: format!("{table}_events"),
                events_kept: false,
            },
        }
    }

    #[test]
    fn a_new_table_gets_an_install_migration() {
        let (files, changes) = must_plan(&[posts_v1()], &[], "2024-01-01-000000");
        assert_eq!(changes, [track("posts")]);
        assert_eq!(files.dir_name, "2024-01-01-000000_pghistory_posts");
        assert!(files.metadata.contains("run_in_transaction = true"));
        assert!(files.up.starts_with(&format!(
            "-- Generated by `pghistory-diesel generate` from schema.rs; regenerate rather than edit.\n{}\
             -- pghistory-diesel:install schema=public table=posts events_schema=public events_table=posts_events columns=id%2Ctitle triggers=",
            crate::sql::view::prepare()
        )), "{}", files.up);
        assert!(
            files
                .up
                .contains(" types=Int4%2CText indexes=time%2Ccontext_id\n"),
            "{}",
            files.up
        );
        assert!(files
            .up
            .contains("CREATE TABLE %s (%s%s, %s)', '\"public\".\"posts_events\"'"));
        let triggers = trigger_section(&files.up);
        for op in ["INSERT", "UPDATE"] {
            assert!(
                triggers.contains(&format!(
                    "CREATE TRIGGER \"pghistory_{}\" AFTER {op} ON \"public\".\"posts\" ",
                    op.to_lowercase()
                )),
                "{triggers}"
            );
        }
        assert!(!triggers.contains("AFTER DELETE"), "{triggers}");
        assert!(files.down.contains(
            "DROP TRIGGER IF EXISTS \"pghistory_insert\" ON \"public\".\"posts\";\nDROP FUNCTION IF EXISTS \"public\".\"pghistory_posts_insert\"();\n"
        ), "{}", files.down);
        assert!(
            files.down.ends_with(&format!(
                "DROP TABLE IF EXISTS \"public\".\"posts_events\";\n{}",
                crate::sql::view::rebuild()
            )),
            "{}",
            files.down
        );
        // The view loses the table before it is dropped.
        assert!(files.down.starts_with(&format!(
            "-- Generated by `pghistory-diesel generate`.\n{}DELETE FROM \"public\".\"pghistory_view_branches\"",
            crate::sql::view::drop_view()
        )));
        assert!(files.up.ends_with(&crate::sql::view::rebuild()));

        let state = installed(&applied(&[&files]));
        let posts = &state[&key("posts")];
        assert_eq!(posts.columns, ["id", "title"]);
        assert_eq!(posts.types, ["Int4", "Text"]);
        assert_eq!(posts.trigger_sql, triggers);
        assert_eq!(posts.migration, files.dir_name);
    }

    #[test]
    fn nothing_changed_plans_nothing() {
        let (files, _) = must_plan(&[posts_v1()], &[], "2024-01-01-000000");
        assert!(nothing_to_do(&[posts_v1()], &[&files]));
        // Unrelated migrations (the app's own) are ignored.
        let app = MigrationFiles {
            dir_name: "2023-01-01-000000_create_posts".to_owned(),
            up: "CREATE TABLE posts (id serial PRIMARY KEY, title text NOT NULL);\n".to_owned(),
            down: String::new(),
            metadata: String::new(),
        };
        assert!(nothing_to_do(&[posts_v1()], &[&app, &files]));
    }

    #[test]
    fn a_changed_tracker_gets_an_upgrade_whose_down_restores_the_old_triggers() {
        let (first, _) = must_plan(&[posts_v1()], &[], "2024-01-01-000000");
        let v2 = table(quote! {
            #[pghistory(events(insert, update, delete))]
            posts (id) {
                id -> Int4,
                title -> Text,
            }
        });
        let (second, changes) =
            must_plan(std::slice::from_ref(&v2), &[&first], "2024-01-02-000000");
        assert_eq!(
            changes,
            [Change {
                schema: "public".to_owned(),
                table: "posts".to_owned(),
                kind: ChangeKind::Update {
                    triggers: true,
                    added: vec![],
                    removed: vec![],
                    retyped: vec![],
                    events_moved: false,
                    indexes: vec![],
                    indexes_dropped: vec![],
                },
            }]
        );
        assert!(second
            .up
            .contains("-- pghistory-diesel:upgrade schema=public table=posts "));
        // Every old object is dropped by name before the new ones are created.
        let drop_old = second
            .up
            .find("DROP FUNCTION IF EXISTS \"public\".\"pghistory_posts_insert\"();")
            .expect("the old insert function dropped");
        let triggers = trigger_section(&second.up);
        assert!(drop_old < second.up.find(&triggers).unwrap());
        assert!(
            triggers.contains("AFTER DELETE ON \"public\".\"posts\""),
            "{triggers}"
        );
        assert!(
            !second.up.contains("CREATE TABLE %s"),
            "the events table is kept as it is"
        );
        assert!(second
            .down
            .contains("DROP TRIGGER IF EXISTS \"pghistory_delete\" ON \"public\".\"posts\";"));
        assert!(
            second.down.ends_with(&format!(
                "{}{}{}",
                trigger_section(&first.up),
                crate::sql::view::register(&posts_v1()),
                crate::sql::view::rebuild()
            )),
            "down ends by reinstalling the old triggers and view branch:\n{}",
            second.down
        );
        // The newest marker wins, whatever order the folders are listed in.
        let state = installed(&applied(&[&second, &first]));
        assert_eq!(state[&key("posts")].trigger_sql, triggers);
        assert!(nothing_to_do(&[v2], &[&first, &second]));
    }

    #[test]
    fn a_removed_table_is_uninstalled_and_its_events_table_kept() {
        let (first, _) = must_plan(&[posts_v1()], &[], "2024-01-01-000000");
        let (second, changes) = must_plan(&[], &[&first], "2024-01-02-000000");
        assert_eq!(
            changes,
            [Change {
                schema: "public".to_owned(),
                table: "posts".to_owned(),
                kind: ChangeKind::Untrack {
                    events_schema: "public".to_owned(),
                    events_table: "posts_events".to_owned(),
                },
            }]
        );
        assert_eq!(second.dir_name, "2024-01-02-000000_pghistory_posts");
        assert!(second
            .up
            .contains("-- pghistory-diesel:remove schema=public table=posts\n"));
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
        assert_eq!(
            second.down,
            format!(
                "-- Generated by `pghistory-diesel generate`.\n{}{}{}{}",
                crate::sql::view::drop_view(),
                trigger_section(&first.up),
                crate::sql::view::register(&posts_v1()),
                crate::sql::view::rebuild(),
            ),
            "the down restores the triggers and the view's branch"
        );
        assert!(second.up.contains(
            "DELETE FROM \"public\".\"pghistory_view_branches\" WHERE \"events_table\" OPERATOR(pg_catalog.=) '\"public\".\"posts_events\"';"
        ));
        let state = installed(&applied(&[&first, &second]));
        let kept = &state[&key("posts")];
        assert_eq!(
            (kept.fingerprint.as_str(), kept.trigger_sql.as_str()),
            ("", "")
        );
        assert_eq!(kept.events_table, "posts_events");
        assert!(nothing_to_do(&[], &[&first, &second]));
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
        let (second, changes) = must_plan(&[v2], &[&first], "2024-01-02-000000");
        assert!(
            matches!(
                &changes[0].kind,
                ChangeKind::Update { triggers: true, added, .. } if added == &["it's \"body\""]
            ),
            "{changes:?}"
        );
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
        let state = installed(&applied(&[&first, &second]));
        assert_eq!(
            state[&key("posts")].columns,
            ["id", "title", "it's \"body\""]
        );
    }

    #[test]
    fn a_column_no_longer_tracked_keeps_its_history_but_may_be_null() {
        let with_body = table(quote! {
            posts (id) { id -> Int4, title -> Text, body -> Text, }
        });
        let (first, _) = must_plan(&[with_body], &[], "2024-01-01-000000");
        let without = table(quote! {
            #[pghistory(exclude(body))]
            posts (id) { id -> Int4, title -> Text, body -> Text, }
        });
        let (second, changes) = must_plan(&[without], &[&first], "2024-01-02-000000");
        assert!(
            matches!(
                &changes[0].kind,
                ChangeKind::Update { removed, .. } if removed == &["body"]
            ),
            "{changes:?}"
        );
        assert!(second.up.contains(
            "ALTER TABLE \"public\".\"posts_events\" ALTER COLUMN \"body\" DROP NOT NULL;"
        ));
        assert!(!second.up.contains("DROP COLUMN"));
    }

    #[test]
    fn several_changes_share_one_migration_named_for_tracking() {
        let orders = table(quote! {
            #[sql_name = "order"]
            orders (id) {
                id -> Int8,
                #[sql_name = "user"]
                user_name -> Text,
            }
        });
        let (files, changes) = must_plan(&[posts_v1(), orders], &[], "2024-01-01-000000");
        assert_eq!(changes, [track("posts"), track("order")]);
        assert_eq!(files.dir_name, "2024-01-01-000000_pghistory_tracking");
        // Undone in the reverse order: the second table's objects are dropped first.
        let order_at = files
            .down
            .find("DROP TABLE IF EXISTS \"public\".\"order_events\"")
            .unwrap();
        let posts_at = files
            .down
            .find("DROP TABLE IF EXISTS \"public\".\"posts_events\"")
            .unwrap();
        assert!(order_at < posts_at);
    }

    #[test]
    fn tracking_a_removed_table_again_reuses_its_kept_events_table() {
        let (first, _) = must_plan(&[posts_v1()], &[], "2024-01-01-000000");
        let (second, _) = must_plan(&[], &[&first], "2024-01-02-000000");
        let v3 = table(quote! {
            #[pghistory(events(insert, update))]
            posts (id) {
                id -> Int4,
                title -> Text,
                body -> Nullable<Text>,
            }
        });
        let (third, changes) = must_plan(
            std::slice::from_ref(&v3),
            &[&first, &second],
            "2024-01-03-000000",
        );
        assert_eq!(
            changes[0].kind,
            ChangeKind::Track {
                events_schema: "public".to_owned(),
                events_table: "posts_events".to_owned(),
                events_kept: true,
            }
        );
        assert!(
            !third.up.contains("CREATE TABLE %s"),
            "the kept table is reused: {}",
            third.up
        );
        assert!(third
            .up
            .contains("ADD COLUMN %I %s', '\"public\".\"posts_events\"', 'body'"));
        assert!(trigger_section(&third.up).contains("AFTER INSERT ON \"public\".\"posts\""));
        assert!(
            !third.down.contains("DROP TABLE"),
            "undoing keeps the old history: {}",
            third.down
        );
        assert!(third
            .down
            .contains("DROP TRIGGER IF EXISTS \"pghistory_insert\" ON \"public\".\"posts\";"));
        assert!(third.down.contains("DROP COLUMN IF EXISTS \"body\""));
        assert!(nothing_to_do(&[v3], &[&first, &second, &third]));
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
        let (first, _) = must_plan(&[none], &[], "2024-01-01-000000");
        let (second, _) = must_plan(std::slice::from_ref(&fk), &[&first], "2024-01-02-000000");
        assert!(second
            .up
            .contains("ALTER TABLE \"public\".\"notes_events\" ADD COLUMN IF NOT EXISTS \"pgh_context_id\" uuid;\n"));
        assert!(!second.up.contains("\"pgh_context\" jsonb"));
        assert!(second.down.contains(
            "ALTER TABLE \"public\".\"notes_events\" DROP COLUMN IF EXISTS \"pgh_context_id\";\n"
        ));

        let (third, _) = must_plan(&[json], &[&first, &second], "2024-01-03-000000");
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
        let (fourth, _) = must_plan(&[fk], &[&first, &second, &third], "2024-01-04-000000");
        assert!(!fourth.up.contains("ADD COLUMN"));
        assert!(!fourth.down.contains("DROP COLUMN"));
    }

    #[test]
    fn a_changed_column_type_or_nullability_gets_an_upgrade_that_follows_it() {
        let v1 = table(quote! {
            items (id) { id -> Int4, code -> Int4, note -> Text, }
        });
        let (first, _) = must_plan(&[v1], &[], "2024-01-01-000000");
        assert!(
            first
                .up
                .contains(" types=Int4%2CInt4%2CText indexes=time%2Ccontext_id\n"),
            "{}",
            first.up
        );
        let v2 = table(quote! {
            items (id) { id -> Int4, code -> Text, note -> Nullable<Text>, }
        });
        let (second, changes) =
            must_plan(std::slice::from_ref(&v2), &[&first], "2024-01-02-000000");
        // The triggers change too: the UPDATE trigger's no-op probe hashes text columns
        // and compares others as they are, so `code` becoming text changes its SQL.
        assert_eq!(
            changes[0].kind,
            ChangeKind::Update {
                triggers: true,
                added: vec![],
                removed: vec![],
                retyped: vec!["code".to_owned(), "note".to_owned()],
                events_moved: false,
                indexes: vec![],
                indexes_dropped: vec![],
            }
        );
        for col in ["code", "note"] {
            assert!(second.up.contains(&format!(
                "EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE %s USING %I::%s', '\"public\".\"items_events\"', '{col}', pgh_type, '{col}', pgh_type);"
            )), "{}", second.up);
        }
        assert!(!second.up.contains("ADD COLUMN"));
        assert!(nothing_to_do(&[v2], &[&first, &second]));
    }

    #[test]
    fn a_folder_is_named_for_its_one_table_in_plain_characters() {
        let weird = table(quote! {
            #[sql_name = "we ird\"name's 100%"]
            weird (id) { id -> Text, }
        });
        let (files, _) = must_plan(std::slice::from_ref(&weird), &[], "2024-01-01-000000");
        assert_eq!(
            files.dir_name,
            "2024-01-01-000000_pghistory_we_ird_name_s_100_"
        );
        assert!(nothing_to_do(&[weird], &[&files]));
    }

    #[test]
    fn a_migration_written_before_read_indexes_gets_them_and_its_down_drops_them() {
        let (first, _) = must_plan(&[posts_v1()], &[], "2024-01-01-000000");
        assert!(first.up.contains(
            "CREATE INDEX IF NOT EXISTS \"posts_events_pgh_time_idx\" ON \"public\".\"posts_events\" (\"pgh_created_at\", \"pgh_id\");\n"
        ));
        assert!(first.up.contains(
            "CREATE INDEX IF NOT EXISTS \"posts_events_pgh_context_id_idx\" ON \"public\".\"posts_events\" (\"pgh_context_id\") WHERE \"pgh_context_id\" IS NOT NULL;\n"
        ));
        // As migrations before read indexes wrote it: no index, no `indexes` field.
        let legacy = MigrationFiles {
            up: first
                .up
                .replace(" indexes=time%2Ccontext_id", "")
                .lines()
                .filter(|l| !l.starts_with("CREATE INDEX"))
                .map(|l| format!("{l}\n"))
                .collect(),
            ..first.clone()
        };
        let (second, changes) = must_plan(&[posts_v1()], &[&legacy], "2024-01-02-000000");
        assert_eq!(
            changes[0].kind,
            ChangeKind::Update {
                triggers: false,
                added: vec![],
                removed: vec![],
                retyped: vec![],
                events_moved: false,
                indexes: vec!["time".to_owned(), "context_id".to_owned()],
                indexes_dropped: vec![],
            }
        );
        assert!(second
            .up
            .contains("CREATE INDEX IF NOT EXISTS \"posts_events_pgh_time_idx\""));
        assert!(second
            .down
            .contains("DROP INDEX IF EXISTS \"public\".\"posts_events_pgh_time_idx\";\nDROP INDEX IF EXISTS \"public\".\"posts_events_pgh_context_id_idx\";\n"));
        assert!(nothing_to_do(&[posts_v1()], &[&legacy, &second]));
        assert!(nothing_to_do(&[posts_v1()], &[&first]));
    }

    #[test]
    fn the_full_context_index_of_an_earlier_version_is_replaced_by_the_partial_one() {
        let (first, _) = must_plan(&[posts_v1()], &[], "2024-01-01-000000");
        // As the previous version wrote it: a full index on pgh_context_id, named `context`.
        let earlier = MigrationFiles {
            up: first
                .up
                .replace(" indexes=time%2Ccontext_id", " indexes=time%2Ccontext")
                .replace(
                    "\"posts_events_pgh_context_id_idx\" ON \"public\".\"posts_events\" (\"pgh_context_id\") WHERE \"pgh_context_id\" IS NOT NULL;",
                    "\"posts_events_pgh_context_idx\" ON \"public\".\"posts_events\" (\"pgh_context_id\");",
                ),
            ..first.clone()
        };
        let (second, changes) = must_plan(&[posts_v1()], &[&earlier], "2024-01-02-000000");
        assert_eq!(
            changes[0].kind,
            ChangeKind::Update {
                triggers: false,
                added: vec![],
                removed: vec![],
                retyped: vec![],
                events_moved: false,
                indexes: vec!["context_id".to_owned()],
                indexes_dropped: vec!["context".to_owned()],
            }
        );
        let drop_full = "DROP INDEX IF EXISTS \"public\".\"posts_events_pgh_context_idx\";\n";
        let create_partial = "CREATE INDEX IF NOT EXISTS \"posts_events_pgh_context_id_idx\" ON \"public\".\"posts_events\" (\"pgh_context_id\") WHERE \"pgh_context_id\" IS NOT NULL;\n";
        assert!(
            second.up.contains(&format!("{drop_full}{create_partial}")),
            "{}",
            second.up
        );
        // The down gives the earlier version its index back.
        assert!(second.down.contains(
            "DROP INDEX IF EXISTS \"public\".\"posts_events_pgh_context_id_idx\";\nCREATE INDEX IF NOT EXISTS \"posts_events_pgh_context_idx\" ON \"public\".\"posts_events\" (\"pgh_context_id\");\n"
        ), "{}", second.down);
        assert!(nothing_to_do(&[posts_v1()], &[&earlier, &second]));
    }

    #[test]
    fn migrations_written_before_types_were_recorded_plan_no_type_change() {
        let v1 = table(quote! {
            items (id) { id -> Int4, code -> Int4, }
        });
        let (first, _) = must_plan(&[v1], &[], "2024-01-01-000000");
        let legacy = MigrationFiles {
            up: first.up.replace(" types=Int4%2CInt4 ", " "),
            ..first.clone()
        };
        assert_ne!(legacy.up, first.up);
        // Int8 as Int4: the same trigger SQL, so only the unrecorded type differs.
        let v2 = table(quote! {
            items (id) { id -> Int4, code -> Int8, }
        });
        assert!(nothing_to_do(&[v2], &[&legacy]));
    }
}
