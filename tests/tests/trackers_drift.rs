//! The tracker tests' migrations (`tests/migrations_trackers/`) must install exactly what
//! `src/trackers_schema.rs` declares, and the installed triggers must pass `check`.

use std::fs;
use std::path::PathBuf;

use pghistory_diesel::check;
use pghistory_diesel_codegen::sql::migration::{self, ExistingMigration};
use pghistory_diesel_tests::trackers_schema::*;
use pghistory_diesel_tests::{TestDb, TRACKER_MIGRATIONS};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations_trackers")
}

#[test]
fn tracker_migrations_install_exactly_what_trackers_schema_rs_declares() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/trackers_schema.rs");
    let file = syn::parse_file(&fs::read_to_string(&path).unwrap()).unwrap();
    let tables = pghistory_diesel_codegen::tables_in_file(&file).unwrap();
    assert_eq!(
        tables.len(),
        8,
        "every tracked_table! of trackers_schema.rs is found"
    );
    let mut existing = Vec::new();
    for entry in fs::read_dir(dir()).unwrap() {
        let entry = entry.unwrap();
        let up = entry.path().join("up.sql");
        if up.is_file() {
            existing.push(ExistingMigration {
                dir_name: entry.file_name().to_string_lossy().into_owned(),
                up: fs::read_to_string(&up).unwrap(),
            });
        }
    }
    let migration::Plan { files, changes } =
        migration::plan(&tables, &existing, "2099-01-01-000000");
    assert!(
        files.is_none(),
        "tests/migrations_trackers does not install what tests/src/trackers_schema.rs declares \
         ({changes:?}); fix: delete tests/migrations_trackers/2020-01-02-000000_pghistory_tracking \
         and, in tests/, run `cargo run -p pghistory-diesel-cli -- generate --schema \
         src/trackers_schema.rs --migrations-dir migrations_trackers --version 2020-01-02-000000`"
    );
}

#[test]
fn the_tracker_setup_migration_is_what_the_setup_command_writes() {
    let files = migration::setup_files();
    let folder = dir().join(&files.dir_name);
    let up = fs::read_to_string(folder.join("up.sql")).unwrap();
    let down = fs::read_to_string(folder.join("down.sql")).unwrap();
    assert!(
        up == files.up && down == files.down,
        "{} is outdated; fix: delete it and run `cargo run -p pghistory-diesel-cli -- setup \
         --migrations-dir migrations_trackers` in tests/",
        folder.display()
    );
}

#[test]
fn every_tracker_table_passes_the_trigger_check() {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let mut conn = db.conn();
    check::check_setup(&mut conn).unwrap();
    check::check_table::<articles::table>(&mut conn).unwrap();
    check::check_table::<profiles::table>(&mut conn).unwrap();
    check::check_table::<products::table>(&mut conn).unwrap();
    check::check_table::<widgets::table>(&mut conn).unwrap();
    check::check_table::<ledger::table>(&mut conn).unwrap();
    check::check_table::<samples::table>(&mut conn).unwrap();
    check::check_table::<article_tags::table>(&mut conn).unwrap();
    check::check_table::<tickets::table>(&mut conn).unwrap();
}
