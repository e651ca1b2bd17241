//! The `public.pghistory_events` view: made by the generated migrations, covering exactly
//! the tracked tables, kept in sync when a migration is reverted, and shared by two
//! migration directories on one database without one dropping the other's tables.

use std::fs;
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use pghistory_diesel::history::History;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sql(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Row {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The tables the view's rows can come from: its branches' `pgh_table` constants.
fn view_tables(conn: &mut PgConnection) -> Vec<String> {
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT pg_catalog.substring(branch, '^SELECT ''([^'']*)''') AS name \
         FROM public.pghistory_view_branches ORDER BY 1",
    )
    .load(conn)
    .unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

fn view_exists(conn: &mut PgConnection) -> bool {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(
        "SELECT pg_catalog.count(*) AS n FROM pg_catalog.pg_views WHERE schemaname = 'public' AND viewname = 'pghistory_events'",
    )
    .get_result::<N>(conn)
    .unwrap()
    .n
        == 1
}

const TESTS_TABLES: [&str; 6] = [
    "app.accounts",
    "public.documents",
    "public.labels",
    "public.notes",
    "public.order",
    "public.posts",
];

#[test]
fn the_view_gives_the_same_timeline_as_the_runtime() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    assert!(view_exists(&mut conn));
    assert_eq!(view_tables(&mut conn), TESTS_TABLES);
    conn.batch_execute(
        "INSERT INTO posts (title, score) VALUES ('a', 1);
         UPDATE posts SET title = 'b';
         INSERT INTO notes (text) VALUES ('n');
         INSERT INTO labels (name) VALUES ('l');",
    )
    .unwrap();
    let runtime = History::new()
        .across::<posts::table>()
        .across::<notes::table>()
        .across::<labels::table>()
        .load(&mut conn)
        .unwrap();
    let view: Vec<pghistory_diesel::history::HistoryEvent> = diesel::sql_query(
        "SELECT * FROM public.pghistory_events ORDER BY pgh_created_at, pgh_id, pgh_table",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(view, runtime);
    let diff: Vec<Row> = diesel::sql_query(
        "SELECT pgh_diff::text AS name FROM public.pghistory_events \
         WHERE pgh_table = 'public.posts' AND pgh_obj_id = '1' AND pgh_label = 'update'",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(diff[0].name, r#"{"title": ["a", "b"]}"#);
}

#[test]
fn two_migration_directories_share_the_view_and_downs_restore_it() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let trackers = dir().join("migrations_trackers");
    // The second directory's app tables and tracking, on the same database.
    conn.batch_execute(&sql(&trackers.join("2020-01-01-000000_app_tables/up.sql")))
        .unwrap();
    let tracking = trackers.join("2020-01-02-000000_pghistory_tracking");
    conn.batch_execute(&sql(&tracking.join("up.sql"))).unwrap();
    let both = view_tables(&mut conn);
    for t in TESTS_TABLES {
        assert!(both.iter().any(|b| b == t), "{t} kept: {both:?}");
    }
    assert!(both.iter().any(|b| b == "public.articles"), "{both:?}");
    assert!(view_exists(&mut conn));
    conn.batch_execute(
        "SELECT pgh_table FROM public.pghistory_events WHERE pgh_table = 'public.articles'",
    )
    .unwrap();

    // Reverting the second directory's tracking leaves the first's tables in the view.
    conn.batch_execute(&sql(&tracking.join("down.sql")))
        .unwrap();
    assert_eq!(view_tables(&mut conn), TESTS_TABLES);
    assert!(view_exists(&mut conn));

    // Reverting the first's too leaves no branch and no view; applying it again restores.
    let ours = dir().join("migrations/2020-01-02-000000_pghistory_tracking");
    conn.batch_execute(&sql(&ours.join("down.sql"))).unwrap();
    assert!(view_tables(&mut conn).is_empty());
    assert!(!view_exists(&mut conn));
    conn.batch_execute(&sql(&ours.join("up.sql"))).unwrap();
    assert_eq!(view_tables(&mut conn), TESTS_TABLES);
    assert!(view_exists(&mut conn));
}
