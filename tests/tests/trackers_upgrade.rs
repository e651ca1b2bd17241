//! Changing trackers later: a tracker added to `trackers_schema.rs` makes `generate` plan an
//! upgrade migration; applied to a database with history, the new tracker fires, and its
//! `down.sql` puts the previous triggers back.

use std::fs;
use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use pghistory_diesel_codegen::sql::migration;
use pghistory_diesel_tests::trackers_schema::*;
use pghistory_diesel_tests::{TestDb, TRACKER_MIGRATIONS};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn labels_after(conn: &mut PgConnection, after: i64) -> Vec<String> {
    let mut labels: Vec<String> = articles_events::table
        .filter(articles_events::pgh_id.gt(after))
        .select(articles_events::pgh_label)
        .load(conn)
        .unwrap();
    labels.sort();
    labels
}

fn last_event(conn: &mut PgConnection) -> i64 {
    articles_events::table
        .select(diesel::dsl::max(articles_events::pgh_id))
        .first::<Option<i64>>(conn)
        .unwrap()
        .unwrap_or(0)
}

#[test]
fn a_tracker_added_later_is_installed_by_an_upgrade_migration_and_reverted_by_its_down() {
    // schema.rs as the developer edits it: one more update tracker on `articles`.
    let text = fs::read_to_string(crate_dir().join("src/trackers_schema.rs")).unwrap();
    let declared = r#"event(manual, label = "archived"),"#;
    assert!(text.contains(declared));
    let edited = text.replace(
        declared,
        r#"event(manual, label = "archived"), event(update, label = "rescored", when = old.score != new.score),"#,
    );
    let tables =
        pghistory_diesel_codegen::tables_in_file(&syn::parse_file(&edited).unwrap()).unwrap();
    let migration::Plan { files, changes } = migration::plan(
        &tables,
        &pghistory_diesel_tests::existing_migrations(&crate_dir().join("migrations_trackers")),
        "2099-01-01-000000",
    );
    let files = files.expect("adding a tracker needs a migration");
    assert_eq!(changes.len(), 1, "only articles changes: {changes:?}");

    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let mut conn = db.conn();
    let id: i32 = diesel::insert_into(articles::table)
        .values(articles::title.eq("t"))
        .returning(articles::id)
        .get_result(&mut conn)
        .unwrap();

    conn.batch_execute(&files.up).unwrap();
    // This build still declares the old trackers: the check sees the difference.
    assert!(matches!(
        pghistory_diesel::check::check_table::<articles::table>(&mut conn),
        Err(pghistory_diesel::Error::OutdatedTrigger { .. })
    ));
    let mark = last_event(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::score.eq(1))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        labels_after(&mut conn, mark),
        ["before_update", "rescored", "score_up", "update"]
    );
    // The history written before the upgrade is still there.
    assert!(labels_after(&mut conn, 0).contains(&"insert".to_owned()));

    conn.batch_execute(&files.down).unwrap();
    let mark = last_event(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::score.eq(2))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        labels_after(&mut conn, mark),
        ["before_update", "score_up", "update"]
    );
    // And the installed triggers are again the ones the compiled schema expects.
    pghistory_diesel::check::check_table::<articles::table>(&mut conn).unwrap();
}
