//! The path an application takes: `embed_migrations!` + `MigrationHarness` at start-up,
//! our setup and tracking migrations included, and all of it reverted cleanly.

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::MigrationHarness;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::{TestDb, MIGRATIONS};

/// Every object of ours (or of the test app) left in the database, as `kind name` lines.
fn leftovers(conn: &mut PgConnection) -> Vec<String> {
    diesel::sql_query(
        "SELECT 'table ' || n.nspname || '.' || c.relname AS name
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
            AND (c.relname LIKE 'pghistory%' OR c.relname LIKE '%\\_events' OR c.relname LIKE '%\\_events\\_%')
         UNION ALL
         SELECT 'function ' || n.nspname || '.' || p.proname
           FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
          WHERE p.proname LIKE 'pghistory%' OR p.proname LIKE 'pgh\\_%'
         UNION ALL
         SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::pg_catalog.regclass::text
           FROM pg_catalog.pg_trigger t
          WHERE t.tgname LIKE 'pghistory%'
         UNION ALL
         SELECT 'schema ' || n.nspname
           FROM pg_catalog.pg_namespace n
          WHERE n.nspname = 'app'
         UNION ALL
         SELECT 'type ' || t.typname
           FROM pg_catalog.pg_type t
          WHERE t.typname = 'mood'
         ORDER BY 1",
    )
    .load::<Leftover>(conn)
    .unwrap()
    .into_iter()
    .map(|l| l.name)
    .collect()
}

#[derive(QueryableByName)]
struct Leftover {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Writes one insert and one update to every tracked table with triggers.
fn write_rows(conn: &mut PgConnection) {
    diesel::insert_into(posts::table)
        .values((posts::id.eq(1), posts::title.eq("p")))
        .execute(conn)
        .unwrap();
    diesel::update(posts::table.find(1))
        .set(posts::score.eq(2))
        .execute(conn)
        .unwrap();
    diesel::insert_into(orders::table)
        .values((orders::user_name.eq("u"), orders::status.eq("s")))
        .execute(conn)
        .unwrap();
    diesel::insert_into(accounts::table)
        .values(accounts::handle.eq("h"))
        .execute(conn)
        .unwrap();
    diesel::insert_into(documents::table)
        .values(documents::flag.eq(true))
        .execute(conn)
        .unwrap();
    diesel::insert_into(notes::table)
        .values(notes::text.eq("n"))
        .execute(conn)
        .unwrap();
    diesel::insert_into(labels::table)
        .values(labels::name.eq("l"))
        .execute(conn)
        .unwrap();
}

fn event_counts(conn: &mut PgConnection) -> [i64; 6] {
    [
        posts_events::table.count().get_result(conn).unwrap(),
        orders_events::table.count().get_result(conn).unwrap(),
        accounts_events::table.count().get_result(conn).unwrap(),
        documents_events::table.count().get_result(conn).unwrap(),
        notes_events::table.count().get_result(conn).unwrap(),
        labels_events::table.count().get_result(conn).unwrap(),
    ]
}

#[test]
fn embedded_migrations_install_tracking_and_revert_to_nothing_of_ours() {
    let db = TestDb::empty();
    let mut conn = db.conn();

    let applied = conn.run_pending_migrations(MIGRATIONS).unwrap();
    let names: Vec<String> = applied.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        names.first().map(String::as_str),
        Some("00000000000001"),
        "the setup migration sorts first: {names:?}"
    );
    assert!(
        names.len() >= 3,
        "setup, app tables and tracking: {names:?}"
    );
    assert!(!conn.has_pending_migration(MIGRATIONS).unwrap());

    write_rows(&mut conn);
    assert_eq!(event_counts(&mut conn), [2, 1, 1, 1, 1, 1]);

    let reverted = conn.revert_all_migrations(MIGRATIONS).unwrap();
    assert_eq!(reverted.len(), names.len());
    assert_eq!(leftovers(&mut conn), Vec::<String>::new());
    let context_table: Option<String> =
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Nullable<Text>>(
            "pg_catalog.to_regclass('public.pghistory_context')::text",
        ))
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(context_table, None);

    // And once more from nothing: the same migrations apply again and track again.
    let again = conn.run_pending_migrations(MIGRATIONS).unwrap();
    assert_eq!(again.len(), names.len());
    write_rows(&mut conn);
    assert_eq!(event_counts(&mut conn), [2, 1, 1, 1, 1, 1]);
    let labels: Vec<String> = posts_events::table
        .order(posts_events::pgh_id)
        .select(posts_events::pgh_label)
        .load(&mut conn)
        .unwrap();
    assert_eq!(labels, ["insert", "update"]);
}

#[test]
fn reverting_only_the_tracking_migration_stops_history_and_keeps_the_app_tables() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    write_rows(&mut conn);
    // Newest first, down to the tracking migration.
    loop {
        let reverted = conn.revert_last_migration(MIGRATIONS).unwrap();
        let version = reverted.to_string();
        assert!(
            version.as_str() > "20200101000000",
            "went past the tracking migration"
        );
        if version == "20200102000000" {
            break;
        }
    }

    // The app's tables work without any trigger of ours.
    diesel::insert_into(posts::table)
        .values((posts::id.eq(2), posts::title.eq("after")))
        .execute(&mut conn)
        .unwrap();
    let found = leftovers(&mut conn);
    assert!(
        found.iter().all(
            |l| (!l.starts_with("trigger ") || l.contains(" on pghistory_"))
                && !l.contains("_events")
        ),
        "no trigger (but the setup tables' own guards) or events table left: {found:?}"
    );
    assert!(
        found.contains(&"table public.pghistory_context".to_owned()),
        "the setup migration is still applied: {found:?}"
    );

    // Applying it again tracks from then on.
    conn.run_pending_migrations(MIGRATIONS).unwrap();
    diesel::update(posts::table.find(2))
        .set(posts::title.eq("tracked again"))
        .execute(&mut conn)
        .unwrap();
    let events: Vec<(i32, String)> = posts_events::table
        .select((posts_events::pgh_obj_id, posts_events::pgh_label))
        .load(&mut conn)
        .unwrap();
    assert_eq!(events, [(2, "update".to_owned())]);
}
