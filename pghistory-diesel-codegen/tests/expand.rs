//! Snapshots of what `tracked_table!` expands to, one per option, and of the migration SQL
//! `pghistory-diesel generate` writes for the issue's example.
//!
//! These snapshots are part of the product: whoever changes the expansion or the SQL
//! re-reviews every changed `.snap` (`INSTA_UPDATE=always cargo test -p
//! pghistory-diesel-codegen --test expand`, then read the diff before committing).

use pghistory_diesel_codegen::sql::migration::{self, ExistingMigration, MigrationFiles};
use pghistory_diesel_codegen::{expand_tracked_table, table_from_tokens, TrackedTable};
use proc_macro2::TokenStream;
use quote::quote;

/// The expansion, pretty-printed as a Rust file.
fn expand(input: TokenStream) -> String {
    let tokens = expand_tracked_table(input);
    let file: syn::File = syn::parse2(tokens.clone())
        .unwrap_or_else(|e| panic!("the expansion is not a valid Rust file: {e}\n{tokens}"));
    prettyplease::unparse(&file)
}

fn table(input: TokenStream) -> TrackedTable {
    table_from_tokens(input).unwrap_or_else(|e| panic!("invalid table: {e}"))
}

/// The issue's example.
fn posts() -> TokenStream {
    quote! {
        #[pghistory(events(insert, update, delete))]
        posts (id) {
            id -> Int4,
            title -> Text,
            body -> Nullable<Text>,
            score -> Int4,
        }
    }
}

fn files(files: &MigrationFiles) -> String {
    format!(
        "== {}/up.sql\n{}\n== {}/down.sql\n{}\n== {}/metadata.toml\n{}",
        files.dir_name, files.up, files.dir_name, files.down, files.dir_name, files.metadata
    )
}

#[test]
fn posts_with_insert_update_delete() {
    insta::assert_snapshot!(expand(posts()));
}

#[test]
fn default_trackers_are_insert_and_update() {
    insta::assert_snapshot!(expand(quote! {
        posts (id) {
            id -> Int4,
            title -> Text,
        }
    }));
}

#[test]
fn schema_qualified_table_with_text_key() {
    insta::assert_snapshot!(expand(quote! {
        /// Accounts.
        app.accounts (handle) {
            handle -> Text,
            email -> Nullable<Text>,
            balance -> Int8,
        }
    }));
}

#[test]
fn events_in_their_own_schema_with_model_and_table_names() {
    insta::assert_snapshot!(expand(quote! {
        #[pghistory(events(insert), schema = "history", table_name = post_history, model = PostVersion)]
        posts (id) {
            id -> Int4,
            title -> Text,
        }
    }));
}

#[test]
fn sql_names_of_table_and_columns() {
    insta::assert_snapshot!(expand(quote! {
        #[pghistory(events(insert, update, delete))]
        #[sql_name = "order"]
        orders (id) {
            id -> Int8,
            #[sql_name = "user"]
            user_name -> Varchar,
            #[max_length = 20]
            status -> Varchar,
        }
    }));
}

#[test]
fn context_json_adds_the_metadata_column() {
    insta::assert_snapshot!(expand(quote! {
        #[pghistory(events(insert, update), context = json)]
        notes (id) {
            id -> Int4,
            text -> Text,
        }
    }));
}

#[test]
fn context_none_has_no_context_columns_or_join() {
    insta::assert_snapshot!(expand(quote! {
        #[pghistory(events(insert), context = none)]
        labels (id) {
            id -> Int4,
            name -> Text,
        }
    }));
}

#[test]
fn fields_keeps_only_the_listed_columns() {
    insta::assert_snapshot!(expand(quote! {
        #[pghistory(events(update), fields(title))]
        posts (id) {
            id -> Int4,
            title -> Text,
            body -> Nullable<Text>,
        }
    }));
}

#[test]
fn exclude_drops_the_listed_columns() {
    insta::assert_snapshot!(expand(quote! {
        #[pghistory(events(update), exclude(body))]
        posts (id) {
            id -> Int4,
            title -> Text,
            body -> Nullable<Text>,
        }
    }));
}

#[test]
fn custom_sql_type_with_rust_type() {
    insta::assert_snapshot!(expand(quote! {
        use diesel::sql_types::*;
        use super::sql_types::Mood;
        #[pghistory(events(insert))]
        documents (id) {
            id -> Uuid,
            #[pghistory(rust_type = "crate::models::Mood")]
            mood -> Nullable<Mood>,
            tags -> Array<Text>,
            created -> Timestamptz,
        }
    }));
}

#[test]
fn conditional_and_manual_trackers() {
    insta::assert_snapshot!(expand(quote! {
        #[pghistory(
            event(update, label = "score_raised", when = old.score < new.score),
            event(update, label = "renamed", when = changed(title), row = old),
            event(manual, label = "archived"),
        )]
        posts (id) {
            id -> Int4,
            title -> Text,
            score -> Int4,
        }
    }));
}

#[test]
fn an_invalid_table_expands_to_the_error_and_the_plain_table() {
    insta::assert_snapshot!(expand(quote! {
        #[pghistory(events(insert, upsert))]
        posts (id) {
            id -> Int4,
            pgh_note -> Text,
        }
    }));
}

#[test]
fn posts_install_migration_sql() {
    let migration::Plan {
        files: planned,
        changes,
    } = migration::plan(&[table(posts())], &[], "2020-01-02-000000");
    assert_eq!(changes.len(), 1);
    insta::assert_snapshot!(files(&planned.expect("a migration for a new table")));
}

#[test]
fn posts_upgrade_migration_sql_after_adding_a_column() {
    let migration::Plan {
        files: installed, ..
    } = migration::plan(&[table(posts())], &[], "2020-01-02-000000");
    let installed = installed.unwrap();
    let existing = [ExistingMigration {
        dir_name: installed.dir_name.clone(),
        up: installed.up.clone(),
    }];
    let migration::Plan {
        files: unchanged,
        changes,
    } = migration::plan(&[table(posts())], &existing, "2020-01-03-000000");
    assert!(
        unchanged.is_none() && changes.is_empty(),
        "nothing to do when nothing changed"
    );

    let with_column = table(quote! {
        #[pghistory(events(insert, update, delete))]
        posts (id) {
            id -> Int4,
            title -> Text,
            body -> Nullable<Text>,
            score -> Int4,
            published -> Bool,
        }
    });
    let migration::Plan { files: upgrade, .. } =
        migration::plan(&[with_column], &existing, "2020-01-03-000000");
    insta::assert_snapshot!(files(&upgrade.expect("an upgrade migration")));
}

#[test]
fn untracking_keeps_the_events_table() {
    let migration::Plan {
        files: installed, ..
    } = migration::plan(&[table(posts())], &[], "2020-01-02-000000");
    let installed = installed.unwrap();
    let existing = [ExistingMigration {
        dir_name: installed.dir_name,
        up: installed.up,
    }];
    let migration::Plan { files: removal, .. } =
        migration::plan(&[], &existing, "2020-01-03-000000");
    insta::assert_snapshot!(files(&removal.expect("a migration removing tracking")));
}

#[test]
fn setup_migration_sql() {
    insta::assert_snapshot!(files(&migration::setup_files()));
}

#[test]
fn keyword_table_and_column_names_are_quoted_in_sql() {
    let order = table(quote! {
        #[pghistory(events(insert, update, delete))]
        order (id) {
            id -> Int8,
            user -> Text,
        }
    });
    let migration::Plan { files: planned, .. } =
        migration::plan(&[order], &[], "2020-01-02-000000");
    insta::assert_snapshot!(files(&planned.expect("a migration for a new table")));
}

#[test]
fn the_issue_schema_rs_tracks_posts_and_nothing_else() {
    let file: syn::File = syn::parse_quote! {
        pghistory_diesel::tracked_table! {
            #[pghistory(events(insert, update, delete))]
            posts (id) {
                id -> Int4,
                title -> Text,
                body -> Nullable<Text>,
                score -> Int4,
            }
        }

        diesel::table! {
            comments (id) {
                id -> Int4,
                post_id -> Int4,
                text -> Text,
            }
        }
    };
    let tables = pghistory_diesel_codegen::tables_in_file(&file).expect("valid schema.rs");
    let names: Vec<(&str, &str)> = tables
        .iter()
        .map(|t| (t.sql_name.as_str(), t.events_sql_name.as_str()))
        .collect();
    assert_eq!(names, [("posts", "posts_events")]);
    let labels: Vec<&str> = tables[0]
        .trackers
        .iter()
        .map(|t| t.label.as_str())
        .collect();
    assert_eq!(labels, ["insert", "update", "delete"]);
}
