//! Drift between what the code declares and what is installed.
//!
//! Statically: the committed migrations must install exactly what `src/schema.rs` declares,
//! and the setup migrations must be what `pghistory-diesel setup` writes today.
//! At run time: `pghistory_diesel::check` tells an application whether the database's
//! triggers are the ones its schema.rs expects.

use std::fs;
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use pghistory_diesel::{check, Error, Tracked};
use pghistory_diesel_codegen::sql::migration::{self, MigrationFiles};
use pghistory_diesel_tests::schema::{accounts, documents, labels, notes, orders, posts};
use pghistory_diesel_tests::TestDb;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn assert_folder_matches(folder: &Path, files: &MigrationFiles, fix: &str) {
    for (name, expected) in [
        ("up.sql", &files.up),
        ("down.sql", &files.down),
        ("metadata.toml", &files.metadata),
    ] {
        let path = folder.join(name);
        let found = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} is missing ({e}); {fix}", path.display()));
        assert!(
            found == *expected,
            "{} differs from what `pghistory-diesel setup` writes; {fix}",
            path.display()
        );
    }
}

#[test]
fn test_migrations_install_exactly_what_schema_rs_declares() {
    let schema_path = crate_dir().join("src/schema.rs");
    let text = fs::read_to_string(&schema_path).unwrap();
    let file = syn::parse_file(&text).unwrap();
    let tables = pghistory_diesel_codegen::tables_in_file(&file).unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.sql_name.as_str()).collect();
    for table in ["posts", "order", "accounts", "documents", "notes", "labels"] {
        assert!(
            names.contains(&table),
            "the tracked_table! of {table} is found in schema.rs: {names:?}"
        );
    }

    let existing = pghistory_diesel_tests::existing_migrations(&crate_dir().join("migrations"));
    let migration::Plan { files, changes } =
        migration::plan(&tables, &existing, "2099-01-01-000000");
    assert!(
        files.is_none(),
        "tests/migrations does not install what tests/src/schema.rs declares ({changes:?}); \
         fix: in tests/, run `cargo run -p pghistory-diesel-cli -- generate` and commit the new migration"
    );
}

#[test]
fn setup_migrations_are_what_the_setup_command_writes() {
    let files = migration::setup_files();
    let root = crate_dir().parent().unwrap().to_owned();
    assert_folder_matches(
        &root.join("migrations").join(&files.dir_name),
        &files,
        "fix: delete the folder and run `cargo run -p pghistory-diesel-cli -- setup` in the repository root",
    );
    assert_folder_matches(
        &crate_dir().join("migrations").join(&files.dir_name),
        &files,
        "fix: delete the folder and run `cargo run -p pghistory-diesel-cli -- setup` in tests/",
    );
}

#[test]
fn a_migrated_database_passes_every_check() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    check::check_setup(&mut conn).unwrap();
    check::check_table::<posts::table>(&mut conn).unwrap();
    check::check_table::<orders::table>(&mut conn).unwrap();
    check::check_table::<accounts::table>(&mut conn).unwrap();
    check::check_table::<documents::table>(&mut conn).unwrap();
    check::check_table::<notes::table>(&mut conn).unwrap();
    check::check_table::<labels::table>(&mut conn).unwrap();
}

#[test]
fn an_empty_database_reports_the_missing_setup_and_triggers() {
    let db = TestDb::empty();
    let mut conn = db.conn();
    assert!(matches!(
        check::check_setup(&mut conn),
        Err(Error::SetupMissing)
    ));
    match check::check_table::<posts::table>(&mut conn) {
        Err(Error::TriggerMissing { table, function }) => {
            assert_eq!(table, "public.posts");
            assert_eq!(function, "\"public\".\"pghistory_posts_insert\"()");
        }
        other => panic!("expected TriggerMissing, got {other:?}"),
    }
}

#[test]
fn setup_missing_is_reported_when_only_the_attach_function_is_gone() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute("DROP FUNCTION public.pghistory_attach_context(uuid, jsonb, boolean)")
        .unwrap();
    assert!(matches!(
        check::check_setup(&mut conn),
        Err(Error::SetupMissing)
    ));
}

#[test]
fn a_dropped_trigger_function_is_reported_as_missing() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute("DROP FUNCTION public.pghistory_order_delete() CASCADE")
        .unwrap();
    match check::check_table::<orders::table>(&mut conn) {
        Err(Error::TriggerMissing { table, function }) => {
            assert_eq!(table, "public.order");
            assert_eq!(function, "\"public\".\"pghistory_order_delete\"()");
        }
        other => panic!("expected TriggerMissing, got {other:?}"),
    }
    // Other tables are unaffected.
    check::check_table::<posts::table>(&mut conn).unwrap();
}

#[test]
fn a_trigger_function_with_another_fingerprint_is_reported_as_outdated() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute(
        "COMMENT ON FUNCTION app.pghistory_accounts_update() IS 'pghistory-diesel 0123456789abcdef'",
    )
    .unwrap();
    match check::check_table::<accounts::table>(&mut conn) {
        Err(Error::OutdatedTrigger {
            table,
            function,
            installed,
            expected,
        }) => {
            assert_eq!(table, "app.accounts");
            assert_eq!(function, "\"app\".\"pghistory_accounts_update\"()");
            assert_eq!(installed, "0123456789abcdef");
            assert_eq!(
                expected,
                <accounts::table as Tracked>::INFO.trigger_fingerprint
            );
        }
        other => panic!("expected OutdatedTrigger, got {other:?}"),
    }
}

#[test]
fn a_trigger_function_replaced_without_our_comment_is_not_reported_as_current() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    // Dropped and created again by hand: a function of that name exists, but it is not ours.
    conn.batch_execute(
        "DROP FUNCTION public.pghistory_posts_update() CASCADE;
         CREATE FUNCTION public.pghistory_posts_update() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RETURN NULL; END $$;
         CREATE TRIGGER pghistory_update AFTER UPDATE ON public.posts
             FOR EACH STATEMENT EXECUTE FUNCTION public.pghistory_posts_update();",
    )
    .unwrap();
    let result = check::check_table::<posts::table>(&mut conn);
    assert!(
        matches!(
            result,
            Err(Error::TriggerMissing { .. } | Error::OutdatedTrigger { .. })
        ),
        "got {result:?}"
    );
}

// `check_table` compares triggers, not only the functions' comments: these were gaps once.

#[test]
fn a_dropped_trigger_whose_function_remains_is_reported_as_missing() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute("DROP TRIGGER pghistory_insert ON public.posts")
        .unwrap();
    assert!(matches!(
        check::check_table::<posts::table>(&mut conn),
        Err(Error::TriggerMissing { .. })
    ));
}

#[test]
fn a_disabled_trigger_is_reported() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute("ALTER TABLE public.posts DISABLE TRIGGER pghistory_update")
        .unwrap();
    assert!(matches!(
        check::check_table::<posts::table>(&mut conn),
        Err(Error::TriggerDisabled { .. })
    ));
}

#[test]
fn a_trigger_function_whose_body_was_replaced_is_reported_as_outdated() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute(
        "CREATE OR REPLACE FUNCTION public.pghistory_posts_insert() RETURNS trigger
             LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;",
    )
    .unwrap();
    assert!(matches!(
        check::check_table::<posts::table>(&mut conn),
        Err(Error::OutdatedTrigger { .. })
    ));
}
