//! Trigger semantics against a real server: every kind of write is recorded, exactly once,
//! with the right label and snapshot.
//!
//! Each test gets its own database (`TestDb::migrated()`), migrated with the embedded
//! migrations exactly as an application would be.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable, Text, Timestamptz};
use pghistory_diesel::context_table::pghistory_context;
use pghistory_diesel_tests::models::Mood;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;

diesel::define_sql_function! {
    /// Postgres' `set_config(name, value, is_local)`.
    fn set_config(name: Text, value: Text, is_local: Bool) -> Text;
}

fn post_events(conn: &mut PgConnection) -> Vec<PostsEvent> {
    posts_events::table
        .order(posts_events::pgh_id)
        .select(PostsEvent::as_select())
        .load(conn)
        .unwrap()
}

fn order_events(conn: &mut PgConnection) -> Vec<OrdersEvent> {
    orders_events::table
        .order(orders_events::pgh_id)
        .select(OrdersEvent::as_select())
        .load(conn)
        .unwrap()
}

fn account_events(conn: &mut PgConnection) -> Vec<AccountsEvent> {
    accounts_events::table
        .order(accounts_events::pgh_id)
        .select(AccountsEvent::as_select())
        .load(conn)
        .unwrap()
}

fn document_events(conn: &mut PgConnection) -> Vec<DocumentsEvent> {
    documents_events::table
        .order(documents_events::pgh_id)
        .select(DocumentsEvent::as_select())
        .load(conn)
        .unwrap()
}

/// The object ids of `events`, sorted: which rows a statement recorded, in any order.
fn sorted_ids(events: &[PostsEvent]) -> Vec<i32> {
    let mut ids: Vec<i32> = events.iter().map(|e| e.pgh_obj_id).collect();
    ids.sort();
    ids
}

fn labels_of(events: &[PostsEvent]) -> Vec<&str> {
    events.iter().map(|e| e.pgh_label.as_str()).collect()
}

/// Inserts posts with explicit ids `1..=n`, titles `t<i>` and scores `i`.
fn insert_numbered_posts(conn: &mut PgConnection, n: i32) {
    let rows: Vec<_> = (1..=n)
        .map(|i| {
            (
                posts::id.eq(i),
                posts::title.eq(format!("t{i}")),
                posts::score.eq(i),
            )
        })
        .collect();
    diesel::insert_into(posts::table)
        .values(&rows)
        .execute(conn)
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// Inserts
// ---------------------------------------------------------------------------------------

#[test]
fn single_insert_writes_one_insert_event_with_a_snapshot() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let id: i32 = diesel::insert_into(posts::table)
        .values((
            posts::title.eq("hello"),
            posts::body.eq(Some("world")),
            posts::score.eq(3),
        ))
        .returning(posts::id)
        .get_result(&mut conn)
        .unwrap();
    let events = post_events(&mut conn);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.pgh_label, "insert");
    assert_eq!(e.pgh_obj_id, id);
    assert_eq!(e.id, id);
    assert_eq!(e.title, "hello");
    assert_eq!(e.body.as_deref(), Some("world"));
    assert_eq!(e.score, 3);
    assert_eq!(e.pgh_context_id, None);
}

#[test]
fn multi_row_insert_writes_one_event_per_row() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let rows: Vec<_> = (0..25)
        .map(|i| (posts::title.eq(format!("t{i}")), posts::score.eq(i)))
        .collect();
    diesel::insert_into(posts::table)
        .values(&rows)
        .execute(&mut conn)
        .unwrap();
    let events = post_events(&mut conn);
    assert_eq!(events.len(), 25);
    assert!(events
        .iter()
        .all(|e| e.pgh_label == "insert" && e.body.is_none()));
    let mut scores: Vec<i32> = events.iter().map(|e| e.score).collect();
    scores.sort();
    assert_eq!(scores, (0..25).collect::<Vec<_>>());
}

#[test]
fn multi_row_insert_pairs_every_event_with_its_own_row() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let rows: Vec<_> = (0..40)
        .map(|i| {
            (
                posts::title.eq(format!("title {i}")),
                posts::body.eq(if i % 2 == 0 {
                    Some(format!("body {i}"))
                } else {
                    None
                }),
                posts::score.eq(i * 10),
            )
        })
        .collect();
    let ids: Vec<i32> = diesel::insert_into(posts::table)
        .values(&rows)
        .returning(posts::id)
        .get_results(&mut conn)
        .unwrap();
    let stored: Vec<(i32, String, Option<String>, i32)> =
        posts::table.order(posts::id).load(&mut conn).unwrap();
    let events = post_events(&mut conn);
    assert_eq!(events.len(), ids.len());
    for e in &events {
        assert_eq!(e.pgh_obj_id, e.id, "pgh_obj_id is the row's key");
        let row = stored
            .iter()
            .find(|r| r.0 == e.id)
            .expect("event of a stored row");
        assert_eq!((&e.title, &e.body, e.score), (&row.1, &row.2, row.3));
    }
}

// ---------------------------------------------------------------------------------------
// Updates
// ---------------------------------------------------------------------------------------

#[test]
fn bulk_update_of_500_rows_writes_one_update_event_per_row_with_the_new_values() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 500);
    let changed = diesel::update(posts::table)
        .set((
            posts::score.eq(posts::score + 1000),
            posts::body.eq(Some("bulk")),
        ))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(changed, 500);

    let updates: Vec<PostsEvent> = post_events(&mut conn)
        .into_iter()
        .filter(|e| e.pgh_label == "update")
        .collect();
    assert_eq!(updates.len(), 500);
    let mut seen = std::collections::BTreeSet::new();
    for e in &updates {
        assert!(
            seen.insert(e.pgh_obj_id),
            "one event per row, got two for {}",
            e.pgh_obj_id
        );
        assert_eq!(e.pgh_obj_id, e.id);
        assert_eq!(e.score, e.id + 1000, "the snapshot holds the new score");
        assert_eq!(
            e.title,
            format!("t{}", e.id),
            "untouched columns are snapshotted too"
        );
        assert_eq!(e.body.as_deref(), Some("bulk"));
    }
    assert_eq!(seen.len(), 500);
}

#[test]
fn no_op_update_writes_no_event() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 3);
    let before = post_events(&mut conn).len();

    let touched = diesel::sql_query("UPDATE posts SET title = title")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(touched, 3, "the statement did update three rows");
    // The DSL, setting columns to the values they already have, including NULL to NULL.
    diesel::update(posts::table.filter(posts::id.eq(2)))
        .set((
            posts::title.eq("t2"),
            posts::body.eq(None::<String>),
            posts::score.eq(2),
        ))
        .execute(&mut conn)
        .unwrap();

    assert_eq!(post_events(&mut conn).len(), before);
}

#[test]
fn bulk_update_writes_events_only_for_the_rows_it_changed() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 10);
    let before = post_events(&mut conn).len();

    // Every row is updated, but rows 3 and 7 already have score 5 or keep theirs.
    diesel::sql_query("UPDATE posts SET score = CASE WHEN id IN (3, 7) THEN score ELSE 5 END")
        .execute(&mut conn)
        .unwrap();
    let events = post_events(&mut conn);
    assert_eq!(
        sorted_ids(&events[before..]),
        vec![1, 2, 4, 6, 8, 9, 10],
        "row 5 already had score 5"
    );
    assert!(events[before..]
        .iter()
        .all(|e| e.pgh_label == "update" && e.score == 5));

    // Through the DSL: all rows set to score 5, and only 3 and 7 still differ.
    let before = events.len();
    let touched = diesel::update(posts::table)
        .set(posts::score.eq(5))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(touched, 10);
    let events = post_events(&mut conn);
    assert_eq!(sorted_ids(&events[before..]), vec![3, 7]);
}

/// A statement that leaves a row unchanged marks only itself: in one transaction, a
/// no-op statement, then one changing every row (all recorded), then one leaving row 4
/// unchanged (all but row 4 recorded).
#[test]
fn a_no_op_statement_hides_no_change_of_the_next_one() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 10);
    let before = post_events(&mut conn).len();
    conn.transaction(|conn| {
        conn.batch_execute("UPDATE posts SET title = title WHERE id <= 3")?;
        conn.batch_execute("UPDATE posts SET score = score + 1")?;
        conn.batch_execute(
            "UPDATE posts SET score = CASE WHEN id = 4 THEN score ELSE score + 1 END",
        )
    })
    .unwrap();
    let events = post_events(&mut conn);
    let events = &events[before..];
    assert_eq!(sorted_ids(&events[..10]), (1..=10).collect::<Vec<_>>());
    assert_eq!(sorted_ids(&events[10..]), vec![1, 2, 3, 5, 6, 7, 8, 9, 10]);
}

/// An UPDATE of the same table run by another trigger while the first statement's
/// triggers fire (a cascade, an application trigger) is recorded by its own rows: each
/// statement records the rows it changed, whichever of them left a row unchanged.
#[test]
fn an_update_nested_in_another_updates_triggers_records_each_statements_changes() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 4);
    conn.batch_execute(
        "CREATE FUNCTION public.bump() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             UPDATE posts SET score = CASE WHEN id = 4 THEN score ELSE score + 100 END WHERE id IN (3, 4);
             RETURN NULL;
         END $$;
         CREATE TRIGGER zz_bump AFTER UPDATE ON public.posts
             FOR EACH ROW WHEN (NEW.id = 2) EXECUTE FUNCTION public.bump();",
    )
    .unwrap();
    for (outer, changed) in [
        // The outer statement leaves row 1 unchanged; the nested one, row 4.
        (
            "UPDATE posts SET score = CASE WHEN id = 1 THEN score ELSE score + 1 END WHERE id IN (1, 2)",
            vec![2, 3],
        ),
        // The outer statement changes both of its rows; the nested one leaves row 4.
        ("UPDATE posts SET score = score + 1 WHERE id IN (1, 2)", vec![1, 2, 3]),
    ] {
        let before = post_events(&mut conn).len();
        conn.batch_execute(outer).unwrap();
        let events = post_events(&mut conn);
        assert_eq!(sorted_ids(&events[before..]), changed, "{outer}");
    }
}

/// A change is a change of value, never of a hash: two different titles with the same
/// `hashtext` (an earlier design compared hashes of text columns first) are an update.
#[test]
fn a_text_change_between_values_of_equal_hash_is_still_an_update() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    #[derive(QueryableByName)]
    struct Pair {
        #[diesel(sql_type = Text)]
        a: String,
        #[diesel(sql_type = Text)]
        b: String,
    }
    // About 4 pairs among 200k strings share a 32-bit hash (birthday bound).
    let pair: Pair = diesel::sql_query(
        "SELECT min(s) AS a, max(s) AS b FROM (SELECT 's' || i AS s FROM generate_series(1, 200000) AS i) AS t
         GROUP BY pg_catalog.hashtext(s) HAVING count(*) > 1 LIMIT 1",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_ne!(pair.a, pair.b);
    insert_numbered_posts(&mut conn, 3);
    diesel::update(posts::table.filter(posts::id.eq(1)))
        .set(posts::title.eq(&pair.a))
        .execute(&mut conn)
        .unwrap();
    let before = post_events(&mut conn).len();

    // Rows 1..3 in one statement: row 1's title goes to the other string of the pair (same
    // hash, every other column the same), rows 2 and 3 change their score: row 1 is the
    // only one whose hashes all match, and it did change.
    diesel::sql_query(format!(
        "UPDATE posts SET title = CASE WHEN id = 1 THEN '{}' ELSE title END,
                          score = CASE WHEN id = 1 THEN score ELSE score + 1 END",
        pair.b
    ))
    .execute(&mut conn)
    .unwrap();
    let events = post_events(&mut conn);
    let mut new: Vec<(i32, &str)> = events[before..]
        .iter()
        .map(|e| (e.pgh_obj_id, e.title.as_str()))
        .collect();
    new.sort();
    assert_eq!(new, vec![(1, pair.b.as_str()), (2, "t2"), (3, "t3")]);
}

#[test]
fn nullable_column_set_to_null_and_back_is_snapshotted_as_none_and_some() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let id: i32 = diesel::insert_into(posts::table)
        .values((posts::title.eq("n"), posts::body.eq(Some("first"))))
        .returning(posts::id)
        .get_result(&mut conn)
        .unwrap();
    let row = posts::table.filter(posts::id.eq(id));
    diesel::update(row)
        .set(posts::body.eq(None::<String>))
        .execute(&mut conn)
        .unwrap();
    // NULL to NULL is not a change.
    diesel::update(row)
        .set(posts::body.eq(None::<String>))
        .execute(&mut conn)
        .unwrap();
    diesel::update(row)
        .set(posts::body.eq(Some("second")))
        .execute(&mut conn)
        .unwrap();
    // An empty string is not NULL: a change.
    diesel::update(row)
        .set(posts::body.eq(Some("")))
        .execute(&mut conn)
        .unwrap();

    let events = post_events(&mut conn);
    assert_eq!(labels_of(&events), ["insert", "update", "update", "update"]);
    let bodies: Vec<Option<&str>> = events.iter().map(|e| e.body.as_deref()).collect();
    assert_eq!(bodies, [Some("first"), None, Some("second"), Some("")]);
}

// ---------------------------------------------------------------------------------------
// Deletes
// ---------------------------------------------------------------------------------------

#[test]
fn delete_writes_a_delete_event_with_the_old_snapshot() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 4);
    diesel::update(posts::table.filter(posts::id.eq(2)))
        .set((
            posts::title.eq("last title"),
            posts::body.eq(Some("last body")),
        ))
        .execute(&mut conn)
        .unwrap();
    let deleted = diesel::delete(posts::table.filter(posts::id.eq_any([2, 3])))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(deleted, 2);

    let events = post_events(&mut conn);
    let deletes: Vec<&PostsEvent> = events.iter().filter(|e| e.pgh_label == "delete").collect();
    assert_eq!(deletes.len(), 2);
    let two = deletes
        .iter()
        .find(|e| e.pgh_obj_id == 2)
        .expect("delete event of row 2");
    assert_eq!(two.id, 2);
    assert_eq!(
        two.title, "last title",
        "the snapshot is the row as it was deleted"
    );
    assert_eq!(two.body.as_deref(), Some("last body"));
    assert_eq!(two.score, 2);
    let three = deletes
        .iter()
        .find(|e| e.pgh_obj_id == 3)
        .expect("delete event of row 3");
    assert_eq!((three.id, three.title.as_str(), three.score), (3, "t3", 3));
}

#[test]
fn events_of_a_deleted_row_stay() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 2);
    diesel::update(posts::table.filter(posts::id.eq(1)))
        .set(posts::score.eq(11))
        .execute(&mut conn)
        .unwrap();
    diesel::delete(posts::table).execute(&mut conn).unwrap();
    assert_eq!(
        posts::table.count().get_result::<i64>(&mut conn).unwrap(),
        0
    );

    let history_of_1: Vec<String> = posts_events::table
        .filter(posts_events::pgh_obj_id.eq(1))
        .order(posts_events::pgh_id)
        .select(posts_events::pgh_label)
        .load(&mut conn)
        .unwrap();
    assert_eq!(history_of_1, ["insert", "update", "delete"]);
    let total: i64 = posts_events::table.count().get_result(&mut conn).unwrap();
    assert_eq!(total, 5);
}

// ---------------------------------------------------------------------------------------
// Raw SQL
// ---------------------------------------------------------------------------------------

#[test]
fn raw_sql_inserts_updates_and_deletes_are_captured() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    diesel::sql_query("INSERT INTO posts (id, title, body, score) VALUES (1, 'raw', NULL, 7), (2, 'raw two', 'b', 8)")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("UPDATE posts SET score = $1 WHERE title = $2")
        .bind::<Integer, _>(70)
        .bind::<Text, _>("raw")
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("DELETE FROM posts WHERE id = $1")
        .bind::<Integer, _>(2)
        .execute(&mut conn)
        .unwrap();

    let events = post_events(&mut conn);
    let summary: Vec<(&str, i32, &str, i32)> = events
        .iter()
        .map(|e| {
            (
                e.pgh_label.as_str(),
                e.pgh_obj_id,
                e.title.as_str(),
                e.score,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("insert", 1, "raw", 7),
            ("insert", 2, "raw two", 8),
            ("update", 1, "raw", 70),
            ("delete", 2, "raw two", 8),
        ]
    );
}

#[test]
fn statements_of_a_batch_as_typed_in_psql_are_captured() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute(
        "INSERT INTO posts (id, title) VALUES (1, 'a');
         UPDATE posts SET title = 'b' WHERE id = 1;
         UPDATE posts SET title = 'b' WHERE id = 1;
         INSERT INTO posts (id, title) SELECT g, 'gen' FROM generate_series(2, 4) g;
         DELETE FROM posts WHERE id > 2;",
    )
    .unwrap();
    let events = post_events(&mut conn);
    let summary: Vec<(&str, i32)> = events
        .iter()
        .map(|e| (e.pgh_label.as_str(), e.pgh_obj_id))
        .collect();
    assert_eq!(summary.len(), 7, "{summary:?}");
    assert_eq!(&summary[..2], [("insert", 1), ("update", 1)]);
    let mut inserted: Vec<i32> = summary[2..5].iter().map(|s| s.1).collect();
    inserted.sort();
    assert_eq!(inserted, [2, 3, 4]);
    assert!(summary[2..5].iter().all(|s| s.0 == "insert"));
    let mut deleted: Vec<i32> = summary[5..].iter().map(|s| s.1).collect();
    deleted.sort();
    assert_eq!(deleted, [3, 4]);
    assert!(summary[5..].iter().all(|s| s.0 == "delete"));
}

// ---------------------------------------------------------------------------------------
// Quoted identifiers: table "order", columns "user" and "select"
// ---------------------------------------------------------------------------------------

#[test]
fn keyword_named_table_and_columns_are_tracked_through_the_dsl() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let id: i64 = diesel::insert_into(orders::table)
        .values((orders::user_name.eq("ann"), orders::status.eq("new")))
        .returning(orders::id)
        .get_result(&mut conn)
        .unwrap();
    diesel::update(orders::table.find(id))
        .set(orders::status.eq("paid"))
        .execute(&mut conn)
        .unwrap();
    diesel::delete(orders::table.find(id))
        .execute(&mut conn)
        .unwrap();

    let events = order_events(&mut conn);
    let summary: Vec<(&str, i64, i64, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.pgh_label.as_str(),
                e.pgh_obj_id,
                e.id,
                e.user_name.as_str(),
                e.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("insert", id, id, "ann", "new"),
            ("update", id, id, "ann", "paid"),
            ("delete", id, id, "ann", "paid"),
        ]
    );
}

#[test]
fn keyword_named_table_and_columns_are_tracked_through_raw_sql() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute(
        r#"INSERT INTO "order" (id, "user", "select") VALUES (41, 'bob', 'new'), (42, 'it''s "me"', 'new');
           UPDATE "order" SET "user" = 'bobby' WHERE id = 41;
           UPDATE "order" SET "select" = "select" WHERE id = 42;
           DELETE FROM "order" WHERE "user" = 'it''s "me"';"#,
    )
    .unwrap();
    let events = order_events(&mut conn);
    let summary: Vec<(&str, i64, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.pgh_label.as_str(),
                e.pgh_obj_id,
                e.user_name.as_str(),
                e.status.as_str(),
            )
        })
        .collect();
    assert_eq!(summary.len(), 4, "{summary:?}");
    let mut inserts = summary[..2].to_vec();
    inserts.sort();
    assert_eq!(
        inserts,
        [
            ("insert", 41, "bob", "new"),
            ("insert", 42, "it's \"me\"", "new")
        ]
    );
    assert_eq!(summary[2], ("update", 41, "bobby", "new"));
    assert_eq!(summary[3], ("delete", 42, "it's \"me\"", "new"));
}

// ---------------------------------------------------------------------------------------
// Schema-qualified table with a text primary key and the default trackers
// ---------------------------------------------------------------------------------------

#[test]
fn schema_qualified_table_with_default_trackers_records_inserts_and_updates_but_not_deletes() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    diesel::insert_into(accounts::table)
        .values((
            accounts::handle.eq("ann"),
            accounts::email.eq(Some("ann@example.com")),
            accounts::balance.eq(10),
        ))
        .execute(&mut conn)
        .unwrap();
    diesel::update(accounts::table.find("ann"))
        .set(accounts::balance.eq(accounts::balance + 5))
        .execute(&mut conn)
        .unwrap();
    // A no-op update writes nothing with the default update tracker either.
    diesel::update(accounts::table.find("ann"))
        .set(accounts::balance.eq(15))
        .execute(&mut conn)
        .unwrap();
    let deleted = diesel::delete(accounts::table.find("ann"))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(deleted, 1);
    diesel::sql_query("INSERT INTO app.accounts (handle) VALUES ('raw')")
        .execute(&mut conn)
        .unwrap();

    let events = account_events(&mut conn);
    let summary: Vec<(&str, &str, Option<&str>, i64)> = events
        .iter()
        .map(|e| {
            (
                e.pgh_label.as_str(),
                e.pgh_obj_id.as_str(),
                e.email.as_deref(),
                e.balance,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("insert", "ann", Some("ann@example.com"), 10),
            ("update", "ann", Some("ann@example.com"), 15),
            ("insert", "raw", None, 0),
        ],
        "no delete event: the default trackers are insert and update"
    );
    assert!(events.iter().all(|e| e.handle == e.pgh_obj_id));

    // The events table lives in the tracked table's schema.
    let in_app: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'app' AND tablename = 'accounts_events'",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(in_app, 1);
}

// ---------------------------------------------------------------------------------------
// uuid primary key and every column type
// ---------------------------------------------------------------------------------------

#[test]
fn every_column_type_round_trips_through_the_events_table_and_model() {
    use pghistory_diesel_tests::schema::documents::dsl as d;
    // The model's types for numeric and inet; named through the path the expansion uses.
    use diesel::pg::data_types::PgNumeric;
    use pghistory_diesel::__private::ipnetwork::IpNetwork;

    let db = TestDb::migrated();
    let mut conn = db.conn();
    let id = uuid::Uuid::new_v4();
    let created: DateTime<Utc> = Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 58).unwrap()
        + chrono::Duration::microseconds(123_456);
    let local = NaiveDate::from_ymd_opt(1999, 12, 31)
        .unwrap()
        .and_hms_micro_opt(1, 2, 3, 4)
        .unwrap();
    let day = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    let data = serde_json::json!({"k": [1, 2, {"nested": "it's"}], "n": null});
    let raw = vec![0u8, 1, 2, 0xff, b'\'', b'"'];
    let addr: IpNetwork = "10.1.2.3/32".parse().unwrap();
    diesel::insert_into(d::documents)
        .values((
            d::id.eq(id),
            d::created.eq(created),
            d::local_time.eq(Some(local)),
            d::day.eq(Some(day)),
            d::tags.eq(vec!["a".to_owned(), "b c".to_owned(), "it's".to_owned()]),
            d::data.eq(Some(&data)),
            d::raw.eq(Some(&raw)),
            d::flag.eq(true),
            d::ratio.eq(Some(0.125f64)),
            d::amount.eq(diesel::dsl::sql::<Nullable<diesel::sql_types::Numeric>>(
                "1234.50",
            )),
            d::addr.eq(Some(addr)),
            d::mood.eq(Some(Mood::Happy)),
        ))
        .execute(&mut conn)
        .unwrap();
    diesel::update(d::documents.find(id))
        .set((
            d::mood.eq(Some(Mood::Sad)),
            d::tags.eq(Vec::<String>::new()),
            d::data.eq(None::<serde_json::Value>),
            d::flag.eq(false),
        ))
        .execute(&mut conn)
        .unwrap();
    diesel::delete(d::documents.find(id))
        .execute(&mut conn)
        .unwrap();

    let events = document_events(&mut conn);
    assert_eq!(events.len(), 3);
    let labels: Vec<&str> = events.iter().map(|e| e.pgh_label.as_str()).collect();
    assert_eq!(labels, ["insert", "update", "delete"]);
    for e in &events {
        assert_eq!(e.pgh_obj_id, id, "uuid pgh_obj_id");
        assert_eq!(e.id, id);
        assert_eq!(e.created, created);
        assert_eq!(e.local_time, Some(local));
        assert_eq!(e.day, Some(day));
        assert_eq!(e.raw.as_deref(), Some(&raw[..]));
        assert_eq!(e.ratio, Some(0.125));
        assert_eq!(
            e.amount,
            Some(PgNumeric::Positive {
                weight: 0,
                scale: 2,
                digits: vec![1234, 5000],
            })
        );
        assert_eq!(e.addr, Some(addr));
    }
    let ins = &events[0];
    assert_eq!(ins.tags, ["a", "b c", "it's"]);
    assert_eq!(ins.data.as_ref(), Some(&data));
    assert!(ins.flag);
    assert_eq!(ins.mood, Some(Mood::Happy));
    for e in &events[1..] {
        assert!(e.tags.is_empty());
        assert_eq!(e.data, None);
        assert!(!e.flag);
        assert_eq!(e.mood, Some(Mood::Sad));
    }
}

#[test]
fn events_tables_copy_the_exact_column_types_of_the_tracked_tables() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Mismatch {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
        #[diesel(sql_type = Nullable<Text>)]
        events_type: Option<String>,
    }
    // Every column of every tracked table, next to its copy in the events table.
    let mismatches: Vec<Mismatch> = diesel::sql_query(
        "SELECT t.relname::text AS table_name, a.attname::text AS column_name,
                pg_catalog.format_type(ea.atttypid, ea.atttypmod) || CASE WHEN ea.attnotnull THEN ' not null' ELSE '' END AS events_type
         FROM pg_catalog.pg_class t
         JOIN pg_catalog.pg_class e ON e.relnamespace = t.relnamespace AND e.relname = t.relname || '_events'
         JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_catalog.pg_attribute ea ON ea.attrelid = e.oid AND ea.attname = a.attname AND NOT ea.attisdropped
         WHERE t.relkind = 'r'
           AND (ea.attname IS NULL
                OR (pg_catalog.format_type(ea.atttypid, ea.atttypmod), ea.attnotnull)
                   IS DISTINCT FROM (pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull))
         ORDER BY 1, 2",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(mismatches, []);

    // The comparison above covered every tracked table of the schema.
    let tracked_with_events: Vec<String> = diesel::dsl::sql::<Text>(
        "SELECT t.relname::text FROM pg_catalog.pg_class t JOIN pg_catalog.pg_class e
           ON e.relnamespace = t.relnamespace AND e.relname = t.relname || '_events'
         WHERE t.relkind = 'r' ORDER BY 1",
    )
    .load(&mut conn)
    .unwrap();
    for table in ["accounts", "documents", "labels", "notes", "order", "posts"] {
        assert!(
            tracked_with_events.iter().any(|t| t == table),
            "{table} has an events table beside it: {tracked_with_events:?}"
        );
    }

    // No key, unique or foreign-key constraint is copied: only the (pgh_obj_id, pgh_id) key.
    // PostgreSQL 18 also lists NOT NULL as constraints (contype 'n'); nullability is
    // checked with the column types above.
    let constraints: Vec<String> = diesel::dsl::sql::<Text>(
        "SELECT c.conname::text FROM pg_catalog.pg_constraint c
         JOIN pg_catalog.pg_class e ON e.oid = c.conrelid
         WHERE e.relname = 'accounts_events' AND c.contype <> 'n' ORDER BY 1",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(constraints, ["accounts_events_pkey"]);
}

// ---------------------------------------------------------------------------------------
// Primary-key changes
// ---------------------------------------------------------------------------------------

#[test]
fn update_changing_the_primary_key_records_the_new_key() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 3);
    diesel::update(posts::table.find(1))
        .set((posts::id.eq(10), posts::score.eq(100)))
        .execute(&mut conn)
        .unwrap();
    let events = post_events(&mut conn);
    let last = events.last().unwrap();
    assert_eq!(last.pgh_label, "update");
    assert_eq!(
        (last.pgh_obj_id, last.id, last.title.as_str(), last.score),
        (10, 10, "t1", 100)
    );
    assert_eq!(events.len(), 4);

    // Shifting every key in one statement: each event carries its own row.
    diesel::sql_query("UPDATE posts SET id = id + 1000")
        .execute(&mut conn)
        .unwrap();
    let events = post_events(&mut conn);
    let mut shifted: Vec<(i32, i32, String)> = events[4..]
        .iter()
        .map(|e| (e.pgh_obj_id, e.id, e.title.clone()))
        .collect();
    shifted.sort();
    assert_eq!(
        shifted,
        [
            (1002, 1002, "t2".to_owned()),
            (1003, 1003, "t3".to_owned()),
            (1010, 1010, "t1".to_owned()),
        ]
    );
}

#[test]
fn update_swapping_two_primary_keys_pairs_each_event_with_its_own_row() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    // Postgres checks a non-deferrable unique key row by row, which refuses any swap;
    // make the key deferrable (checked at the end of the statement) for this test.
    conn.batch_execute(
        "ALTER TABLE comments DROP CONSTRAINT comments_post_id_fkey;
         ALTER TABLE posts DROP CONSTRAINT posts_pkey;
         ALTER TABLE posts ADD CONSTRAINT posts_pkey PRIMARY KEY (id) DEFERRABLE INITIALLY IMMEDIATE;",
    )
    .unwrap();
    diesel::insert_into(posts::table)
        .values(&vec![
            (posts::id.eq(1), posts::title.eq("one"), posts::score.eq(1)),
            (posts::id.eq(2), posts::title.eq("two"), posts::score.eq(2)),
            (
                posts::id.eq(3),
                posts::title.eq("three"),
                posts::score.eq(3),
            ),
        ])
        .execute(&mut conn)
        .unwrap();
    let swapped = diesel::sql_query(
        "UPDATE posts SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END WHERE id IN (1, 2)",
    )
    .execute(&mut conn)
    .unwrap();
    assert_eq!(swapped, 2);

    let events = post_events(&mut conn);
    let mut updates: Vec<(i32, i32, &str, i32)> = events
        .iter()
        .filter(|e| e.pgh_label == "update")
        .map(|e| (e.pgh_obj_id, e.id, e.title.as_str(), e.score))
        .collect();
    updates.sort();
    assert_eq!(
        updates,
        [(1, 1, "two", 2), (2, 2, "one", 1)],
        "each event is the row's own new version, keyed by its new id"
    );
}

// ---------------------------------------------------------------------------------------
// Transaction time and context id
// ---------------------------------------------------------------------------------------

#[test]
fn pgh_created_at_is_the_transaction_time_shared_by_its_statements() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let now = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            let now: DateTime<Utc> =
                diesel::select(diesel::dsl::sql::<Timestamptz>("pg_catalog.now()"))
                    .get_result(conn)?;
            diesel::insert_into(posts::table)
                .values((posts::id.eq(1), posts::title.eq("a")))
                .execute(conn)?;
            // A later statement of the same transaction, after some server-side work.
            diesel::sql_query(
                "SELECT pg_catalog.count(*) FROM pg_catalog.generate_series(1, 100000)",
            )
            .execute(conn)?;
            diesel::update(posts::table.find(1))
                .set(posts::title.eq("b"))
                .execute(conn)?;
            Ok(now)
        })
        .unwrap();
    diesel::update(posts::table.find(1))
        .set(posts::title.eq("c"))
        .execute(&mut conn)
        .unwrap();

    let events = post_events(&mut conn);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].pgh_created_at, now);
    assert_eq!(events[1].pgh_created_at, now);
    // The third event's transaction is another one; its time is its own `now()`.
    assert_eq!(events[2].pgh_label, "update");
    let later: DateTime<Utc> = diesel::select(diesel::dsl::sql::<Timestamptz>("pg_catalog.now()"))
        .get_result(&mut conn)
        .unwrap();
    assert!(events[2].pgh_created_at <= later);
}

#[test]
fn empty_or_unset_context_setting_gives_no_context_id() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    // Never set in this session.
    diesel::insert_into(posts::table)
        .values((posts::id.eq(1), posts::title.eq("unset")))
        .execute(&mut conn)
        .unwrap();
    // Set to the empty string (what detaching leaves behind).
    diesel::select(set_config("pghistory.context_id", "", false))
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(posts::table)
        .values((posts::id.eq(2), posts::title.eq("empty")))
        .execute(&mut conn)
        .unwrap();
    // Set, then reset.
    let some = uuid::Uuid::new_v4();
    diesel::select(set_config("pghistory.context_id", some.to_string(), false))
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(posts::table)
        .values((posts::id.eq(3), posts::title.eq("set")))
        .execute(&mut conn)
        .unwrap();
    diesel::sql_query("RESET pghistory.context_id")
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(posts::table)
        .values((posts::id.eq(4), posts::title.eq("reset")))
        .execute(&mut conn)
        .unwrap();

    let contexts: Vec<(i32, Option<uuid::Uuid>)> = post_events(&mut conn)
        .iter()
        .map(|e| (e.pgh_obj_id, e.pgh_context_id))
        .collect();
    assert_eq!(contexts, [(1, None), (2, None), (3, Some(some)), (4, None)]);
}

// ---------------------------------------------------------------------------------------
// Joins generated by the macro
// ---------------------------------------------------------------------------------------

#[test]
fn events_join_the_tracked_table_through_the_generated_joinable() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 3);
    diesel::update(posts::table.find(1))
        .set(posts::title.eq("renamed"))
        .execute(&mut conn)
        .unwrap();
    diesel::delete(posts::table.find(3))
        .execute(&mut conn)
        .unwrap();

    let rows: Vec<(i32, String, String, String)> = posts_events::table
        .inner_join(posts::table)
        .order(posts_events::pgh_id)
        .select((
            posts_events::pgh_obj_id,
            posts_events::pgh_label,
            posts_events::title,
            posts::title,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        rows,
        [
            (1, "insert".into(), "t1".into(), "renamed".into()),
            (2, "insert".into(), "t2".into(), "t2".into()),
            (1, "update".into(), "renamed".into(), "renamed".into()),
        ],
        "events of the deleted row 3 have no row to join"
    );

    // The history of one row, from the row side.
    let history: Vec<PostsEvent> = posts::table
        .inner_join(posts_events::table)
        .filter(posts::id.eq(1))
        .order(posts_events::pgh_id)
        .select(PostsEvent::as_select())
        .load(&mut conn)
        .unwrap();
    assert_eq!(labels_of(&history), ["insert", "update"]);
}

#[test]
fn events_join_the_context_table_through_the_generated_joinable() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    diesel::insert_into(posts::table)
        .values((posts::id.eq(1), posts::title.eq("no context")))
        .execute(&mut conn)
        .unwrap();
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::sql_query(r#"SELECT pghistory_attach_context(NULL, '{"a":1}', true)"#)
            .execute(conn)?;
        diesel::insert_into(posts::table)
            .values((posts::id.eq(2), posts::title.eq("in context")))
            .execute(conn)?;
        diesel::update(posts::table.find(1))
            .set(posts::title.eq("changed in context"))
            .execute(conn)?;
        Ok(())
    })
    .unwrap();
    // The context was transaction-local: gone now.
    diesel::insert_into(posts::table)
        .values((posts::id.eq(3), posts::title.eq("after")))
        .execute(&mut conn)
        .unwrap();

    let rows: Vec<(i32, String, serde_json::Value, uuid::Uuid)> = posts_events::table
        .inner_join(pghistory_context::table)
        .order(posts_events::pgh_id)
        .select((
            posts_events::pgh_obj_id,
            posts_events::pgh_label,
            pghistory_context::metadata,
            pghistory_context::id,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].0, rows[0].1.as_str()), (2, "insert"));
    assert_eq!((rows[1].0, rows[1].1.as_str()), (1, "update"));
    for row in &rows {
        assert_eq!(row.2, serde_json::json!({"a": 1}));
    }
    assert_eq!(rows[0].3, rows[1].3, "one context row for the transaction");

    // A left join keeps the events written without context.
    let all: Vec<(i32, Option<serde_json::Value>)> = posts_events::table
        .left_join(pghistory_context::table)
        .order(posts_events::pgh_id)
        .select((
            posts_events::pgh_obj_id,
            pghistory_context::metadata.nullable(),
        ))
        .load(&mut conn)
        .unwrap();
    let by_context: BTreeMap<i32, usize> = all.iter().fold(BTreeMap::new(), |mut m, (id, meta)| {
        *m.entry(*id).or_default() += usize::from(meta.is_some());
        m
    });
    assert_eq!(all.len(), 4);
    assert_eq!(by_context, BTreeMap::from([(1, 1), (2, 1), (3, 0)]));
}

// ---------------------------------------------------------------------------------------
// Other statements that write rows: upserts, MERGE, writable CTEs, COPY
// ---------------------------------------------------------------------------------------

#[test]
fn upsert_records_the_inserted_rows_and_the_changed_conflicting_rows() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 2);
    let before = post_events(&mut conn).len();
    // Row 1 conflicts and changes, row 2 conflicts without change, row 3 is new.
    let rows = vec![
        (posts::id.eq(1), posts::title.eq("t1"), posts::score.eq(100)),
        (posts::id.eq(2), posts::title.eq("t2"), posts::score.eq(2)),
        (posts::id.eq(3), posts::title.eq("t3"), posts::score.eq(3)),
    ];
    diesel::insert_into(posts::table)
        .values(&rows)
        .on_conflict(posts::id)
        .do_update()
        .set(posts::score.eq(diesel::upsert::excluded(posts::score)))
        .execute(&mut conn)
        .unwrap();
    let events = post_events(&mut conn);
    let mut new: Vec<(&str, i32, i32)> = events[before..]
        .iter()
        .map(|e| (e.pgh_label.as_str(), e.pgh_obj_id, e.score))
        .collect();
    new.sort();
    assert_eq!(new, [("insert", 3, 3), ("update", 1, 100)]);

    // DO NOTHING on a conflict writes nothing.
    let before = events.len();
    diesel::insert_into(posts::table)
        .values((posts::id.eq(1), posts::title.eq("ignored")))
        .on_conflict_do_nothing()
        .execute(&mut conn)
        .unwrap();
    assert_eq!(post_events(&mut conn).len(), before);
}

#[test]
fn merge_records_each_of_its_actions() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let major = pghistory_diesel_tests::server_major(&mut conn);
    if major < 15 {
        // Straight to stderr: libtest hides eprintln! of a passing test.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("merge test skipped: MERGE is PostgreSQL 15+, this server is {major}\n")
                .as_bytes(),
        );
        return;
    }
    insert_numbered_posts(&mut conn, 3);
    let before = post_events(&mut conn).len();
    diesel::sql_query(
        "MERGE INTO posts p USING (VALUES (1, 100), (2, -1), (3, 3), (9, 9)) AS v(id, s) ON p.id = v.id
           WHEN MATCHED AND v.s < 0 THEN DELETE
           WHEN MATCHED THEN UPDATE SET score = v.s
           WHEN NOT MATCHED THEN INSERT (id, title, score) VALUES (v.id, 'merged', v.s)",
    )
    .execute(&mut conn)
    .unwrap();
    let events = post_events(&mut conn);
    let mut new: Vec<(&str, i32, &str, i32)> = events[before..]
        .iter()
        .map(|e| {
            (
                e.pgh_label.as_str(),
                e.pgh_obj_id,
                e.title.as_str(),
                e.score,
            )
        })
        .collect();
    new.sort();
    assert_eq!(
        new,
        [
            ("delete", 2, "t2", 2),
            ("insert", 9, "merged", 9),
            ("update", 1, "t1", 100),
        ],
        "row 3 matched without a change"
    );
}

#[test]
fn writable_ctes_writing_the_table_twice_record_every_row_once() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_numbered_posts(&mut conn, 3);
    let before = post_events(&mut conn).len();
    diesel::sql_query(
        "WITH a AS (UPDATE posts SET score = 10 WHERE id = 1 RETURNING id),
              b AS (INSERT INTO posts (id, title) VALUES (4, 'cte') RETURNING id)
         UPDATE posts SET title = 'second' WHERE id = 2",
    )
    .execute(&mut conn)
    .unwrap();
    let events = post_events(&mut conn);
    let mut new: Vec<(&str, i32, &str, i32)> = events[before..]
        .iter()
        .map(|e| {
            (
                e.pgh_label.as_str(),
                e.pgh_obj_id,
                e.title.as_str(),
                e.score,
            )
        })
        .collect();
    new.sort();
    assert_eq!(
        new,
        [
            ("insert", 4, "cte", 0),
            ("update", 1, "t1", 10),
            ("update", 2, "second", 2),
        ]
    );
}

#[test]
fn copy_from_is_captured() {
    #[derive(Insertable)]
    #[diesel(table_name = posts, treat_none_as_default_value = false)]
    struct NewPost {
        id: i32,
        title: String,
        body: Option<String>,
        score: i32,
    }
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let rows: Vec<NewPost> = (1..=50)
        .map(|i| NewPost {
            id: i,
            title: format!("copied {i}"),
            body: (i % 3 == 0).then(|| "with, comma \"and quotes\"".to_owned()),
            score: -i,
        })
        .collect();
    let copied = diesel::copy_from(posts::table)
        .from_insertable(&rows)
        .execute(&mut conn)
        .unwrap();
    assert_eq!(copied, 50);
    let events = post_events(&mut conn);
    assert_eq!(events.len(), 50);
    for e in &events {
        assert_eq!(e.pgh_label, "insert");
        assert_eq!(e.title, format!("copied {}", e.id));
        assert_eq!(e.score, -e.id);
        assert_eq!(e.body.is_some(), e.id % 3 == 0);
    }
}

#[test]
fn rolled_back_writes_leave_no_events() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let result = conn.transaction::<(), diesel::result::Error, _>(|conn| {
        insert_numbered_posts(conn, 3);
        // A savepoint rolled back inside a committed transaction drops only its events.
        let inner = conn.transaction::<(), diesel::result::Error, _>(|conn| {
            diesel::update(posts::table)
                .set(posts::score.eq(0))
                .execute(conn)?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(inner.is_err());
        diesel::delete(posts::table.find(3)).execute(conn)?;
        Ok(())
    });
    result.unwrap();
    let events = post_events(&mut conn);
    let summary: Vec<(&str, i32)> = events
        .iter()
        .map(|e| (e.pgh_label.as_str(), e.pgh_obj_id))
        .collect();
    assert_eq!(
        summary,
        [("insert", 1), ("insert", 2), ("insert", 3), ("delete", 3)],
        "the rolled-back update left nothing"
    );

    let before = post_events(&mut conn).len();
    let failed = conn.transaction::<(), diesel::result::Error, _>(|conn| {
        diesel::update(posts::table)
            .set(posts::score.eq(7))
            .execute(conn)?;
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(failed.is_err());
    assert_eq!(post_events(&mut conn).len(), before);
}

#[test]
fn update_pairing_survives_transition_tables_spilled_to_disk() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    // The smallest work_mem makes the transition tables and the pairing join spill.
    conn.batch_execute(
        "SET work_mem = '64kB';
         INSERT INTO posts (id, title, body, score)
             SELECT g, 'title ' || g, repeat('x', g % 50), g FROM generate_series(1, 20000) g;",
    )
    .unwrap();
    // New keys and new values in one statement: each event must carry its own row.
    let updated =
        diesel::sql_query("UPDATE posts SET id = -id, score = score * 2 WHERE id % 4 <> 0")
            .execute(&mut conn)
            .unwrap();
    assert_eq!(updated, 15000);
    let mismatched: i64 = posts_events::table
        .filter(posts_events::pgh_label.eq("update"))
        .filter(
            posts_events::pgh_obj_id
                .ne(posts_events::id)
                .or(posts_events::id.ge(0))
                .or(posts_events::score.ne(posts_events::id * -2))
                .or(posts_events::title.ne(diesel::dsl::sql::<Text>("'title ' || -\"id\""))),
        )
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(mismatched, 0);
    let updates: i64 = posts_events::table
        .filter(posts_events::pgh_label.eq("update"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(updates, 15000);
}
