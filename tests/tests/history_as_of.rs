#![allow(missing_docs)] // Diesel's `table!` does not document what it generates.

//! Time travel: a row and a whole table as they were at a time or an event, and the named
//! errors where the trackers make the answer unknowable.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use pghistory_diesel::history::{as_of, as_of_async, table_as_of, At, TrackerKind, Unknowable};
use pghistory_diesel::Error;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::trackers_schema::{article_tags, articles, products};
use pghistory_diesel_tests::{TestDb, TRACKER_MIGRATIONS};

fn new_post(conn: &mut PgConnection, title: &str) -> i32 {
    diesel::insert_into(posts::table)
        .values((posts::title.eq(title), posts::score.eq(1)))
        .returning(posts::id)
        .get_result(conn)
        .unwrap()
}

fn retitle(conn: &mut PgConnection, id: i32, title: &str) {
    diesel::update(posts::table.find(id))
        .set(posts::title.eq(title))
        .execute(conn)
        .unwrap();
}

/// `(pgh_id, pgh_created_at)` of the object's events, oldest first.
fn events_of(conn: &mut PgConnection, id: i32) -> Vec<(i64, DateTime<Utc>)> {
    posts_events::table
        .filter(posts_events::pgh_obj_id.eq(id))
        .order(posts_events::pgh_id)
        .select((posts_events::pgh_id, posts_events::pgh_created_at))
        .load(conn)
        .unwrap()
}

fn title_at(conn: &mut PgConnection, id: i32, at: impl Into<At>) -> Option<String> {
    as_of::<posts::table>(conn, id, at)
        .unwrap()
        .map(|e| e.title)
}

#[test]
fn a_row_as_of_an_event_and_a_time() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let before_insert = Utc::now();
    let id = new_post(&mut conn, "first");
    retitle(&mut conn, id, "second");
    retitle(&mut conn, id, "third");
    diesel::delete(posts::table.find(id))
        .execute(&mut conn)
        .unwrap();
    let ev = events_of(&mut conn, id);
    assert_eq!(ev.len(), 4);

    assert_eq!(
        title_at(&mut conn, id, ev[0].0 - 1),
        None,
        "not yet inserted"
    );
    assert_eq!(
        title_at(&mut conn, id, before_insert),
        None,
        "not yet inserted"
    );
    assert_eq!(title_at(&mut conn, id, ev[0].0).as_deref(), Some("first"));
    assert_eq!(title_at(&mut conn, id, ev[1].0).as_deref(), Some("second"));
    assert_eq!(
        title_at(&mut conn, id, ev[2].0 - 1).as_deref(),
        Some("second"),
        "between two updates: the earlier one's state"
    );
    assert_eq!(title_at(&mut conn, id, ev[2].0).as_deref(), Some("third"));
    assert_eq!(title_at(&mut conn, id, ev[3].0), None, "deleted");
    assert_eq!(title_at(&mut conn, id, Utc::now()), None, "deleted");

    // By time: each statement ran in its own transaction, so each has its own start time.
    assert_eq!(title_at(&mut conn, id, ev[1].1).as_deref(), Some("second"));
    assert_eq!(title_at(&mut conn, id, ev[2].1).as_deref(), Some("third"));
    let row = as_of::<posts::table>(&mut conn, id, ev[1].1)
        .unwrap()
        .unwrap();
    assert_eq!((row.pgh_id, row.id, row.score), (ev[1].0, id, 1));

    // Another object's history does not leak in.
    let other = new_post(&mut conn, "other");
    assert_eq!(title_at(&mut conn, other, ev[2].0), None);
}

#[test]
fn events_of_conditional_and_old_row_trackers_are_not_read() {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let mut conn = db.conn();
    let id: i32 = diesel::insert_into(articles::table)
        .values((
            articles::title.eq("draft title"),
            articles::status.eq("draft"),
            articles::score.eq(1),
        ))
        .returning(articles::id)
        .get_result(&mut conn)
        .unwrap();
    diesel::update(articles::table.find(id))
        .set((articles::title.eq("final title"), articles::score.eq(50)))
        .execute(&mut conn)
        .unwrap();
    // The update wrote `update`, `title_changed`, `score_up`, `score_jump` and
    // `before_update` (which stores the old row) events.
    let labels: Vec<String> = articles::table
        .inner_join(pghistory_diesel_tests::trackers_schema::articles_events::table)
        .select(pghistory_diesel_tests::trackers_schema::articles_events::pgh_label)
        .load(&mut conn)
        .unwrap();
    assert!(labels.iter().any(|l| l == "before_update"), "{labels:?}");
    let now = as_of::<articles::table>(&mut conn, id, Utc::now())
        .unwrap()
        .unwrap();
    assert_eq!((now.title.as_str(), now.score), ("final title", 50));
    assert_eq!(now.pgh_label, "update");
}

#[test]
fn a_table_as_of_an_event_filtered_and_paginated() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let ids: Vec<i32> = (0..5)
        .map(|i| new_post(&mut conn, &format!("p{i}")))
        .collect();
    let after_inserts = events_of(&mut conn, ids[4])[0].0;
    retitle(&mut conn, ids[1], "p1 edited");
    diesel::delete(posts::table.find(ids[2]))
        .execute(&mut conn)
        .unwrap();
    new_post(&mut conn, "late");

    let then: Vec<(i32, String)> = table_as_of::<posts::table>(after_inserts)
        .unwrap()
        .order(posts_events::pgh_obj_id)
        .load::<PostsEvent>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.title))
        .collect();
    let expected: Vec<(i32, String)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, format!("p{i}")))
        .collect();
    assert_eq!(then, expected);

    let now: Vec<(i32, String)> = table_as_of::<posts::table>(Utc::now())
        .unwrap()
        .order(posts_events::pgh_obj_id)
        .load::<PostsEvent>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.title))
        .collect();
    let titles: Vec<&str> = now.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(titles, ["p0", "p1 edited", "p3", "p4", "late"]);

    // Filtered and paginated like any Diesel query.
    let page: Vec<String> = table_as_of::<posts::table>(Utc::now())
        .unwrap()
        .filter(posts_events::title.like("p%"))
        .order(posts_events::pgh_obj_id.desc())
        .limit(2)
        .offset(1)
        .load::<PostsEvent>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|e| e.title)
        .collect();
    assert_eq!(page, ["p3", "p1 edited"]);
}

pghistory_diesel::tracked_table! {
    /// Only large inserts are recorded.
    #[pghistory(event(insert, when = new.amount >= 1000), events(update, delete))]
    conditional_inserts (id) { id -> Int4, amount -> Int8, }
}

pghistory_diesel::tracked_table! {
    /// Updates store the row before them.
    #[pghistory(events(insert, delete), event(update, row = old))]
    old_updates (id) { id -> Int4, name -> Text, }
}

fn reason<T: pghistory_diesel::Tracked>(conn: &mut PgConnection, key: T::Key) -> Unknowable {
    let table = match table_as_of::<T>(1) {
        Err(Error::NotReconstructible { reason, .. }) => reason,
        other => panic!("expected NotReconstructible, got {:?}", other.map(|_| ())),
    };
    match as_of::<T>(conn, key, 1) {
        Err(Error::NotReconstructible { reason, .. }) => assert_eq!(reason, table),
        other => panic!("expected NotReconstructible, got {:?}", other.map(|_| ())),
    }
    table
}

#[test]
fn unknowable_pasts_are_named_errors() {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let mut conn = db.conn();
    assert_eq!(
        reason::<products::table>(&mut conn, "sku".to_owned()),
        Unknowable::FieldsSubset
    );
    assert_eq!(
        reason::<article_tags::table>(&mut conn, 1),
        Unknowable::NoTracker(TrackerKind::Update)
    );
    assert_eq!(
        reason::<accounts::table>(&mut conn, "alice".to_owned()),
        Unknowable::NoTracker(TrackerKind::Delete),
        "default trackers record no deletes, so a deleted row would read as present"
    );
    assert_eq!(
        reason::<conditional_inserts::table>(&mut conn, 1),
        Unknowable::Conditional {
            kind: TrackerKind::Insert,
            label: "insert".into()
        }
    );
    assert_eq!(
        reason::<old_updates::table>(&mut conn, 1),
        Unknowable::StoresOld {
            label: "update".into()
        }
    );
    let message = as_of::<accounts::table>(&mut conn, "alice".to_owned(), 1)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("app.accounts") && message.contains("no delete tracker"),
        "{message}"
    );
}

#[tokio::test]
async fn as_of_on_an_async_connection() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let db = TestDb::migrated();
    let mut sync = db.conn();
    let id = new_post(&mut sync, "first");
    retitle(&mut sync, id, "second");
    let ev = events_of(&mut sync, id);
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    let first = as_of_async::<posts::table>(&mut conn, id, ev[0].0)
        .await
        .unwrap();
    assert_eq!(first.map(|e| e.title).as_deref(), Some("first"));
    let before = as_of_async::<posts::table>(&mut conn, id, ev[0].0 - 1)
        .await
        .unwrap();
    assert!(before.is_none());
    assert!(matches!(
        as_of_async::<accounts::table>(&mut conn, "x".to_owned(), 1).await,
        Err(Error::NotReconstructible { .. })
    ));
}

/// The plans of the time-travel reads on a table with some history: `as_of` probes the
/// primary key index `(pgh_obj_id, pgh_id)` and never scans the events table.
#[test]
fn as_of_is_an_index_probe() {
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::Text;
    use pghistory_diesel::Tracked;
    use pghistory_diesel_core::history::as_of as core;

    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute(
        "INSERT INTO posts (title, score) SELECT 'p' || i, i FROM generate_series(1, 2000) i;
         UPDATE posts SET score = score + 1;
         UPDATE posts SET title = title || '!';
         ANALYZE posts_events;",
    )
    .unwrap();
    let info = <posts::table as Tracked>::INFO;
    let names = pghistory_diesel_core::history::TableNames {
        schema: info.schema,
        table: info.table,
        events_schema: info.events_schema,
        events_table: info.events_table,
        primary_key: info.primary_key,
        primary_key_type: info.primary_key_type,
        columns: info.columns,
        has_context_id: true,
        has_context_json: false,
    };
    let plan = core::Plan {
        insert: "insert",
        update: "update",
        delete: "delete",
    };
    for (kind, at) in [
        (core::AtKind::EventId, "3000"),
        (core::AtKind::Time, "now()"),
    ] {
        let sql = core::object_statement(&names, &plan, kind);
        conn.batch_execute(&format!("DEALLOCATE ALL; PREPARE q AS {sql}"))
            .unwrap();
        let lines: Vec<String> = diesel::sql_query(format!("EXPLAIN EXECUTE q('77', {at})"))
            .load::<Line>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect();
        let text = lines.join("\n");
        assert!(!text.contains("Seq Scan"), "{text}");
        assert!(text.contains("posts_events_pkey"), "{text}");
    }
}
