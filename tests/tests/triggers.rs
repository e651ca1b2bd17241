//! Trigger semantics against a real server: every kind of write is recorded, exactly once,
//! with the right label and snapshot.

use diesel::prelude::*;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;

fn post_events(conn: &mut PgConnection) -> Vec<PostsEvent> {
    posts_events::table
        .order(posts_events::pgh_id)
        .select(PostsEvent::as_select())
        .load(conn)
        .unwrap()
}

#[test]
fn single_insert_writes_one_insert_event_with_a_snapshot() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let id: i32 = diesel::insert_into(posts::table)
        .values((posts::title.eq("hello"), posts::body.eq(Some("world")), posts::score.eq(3)))
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
    diesel::insert_into(posts::table).values(&rows).execute(&mut conn).unwrap();
    let events = post_events(&mut conn);
    assert_eq!(events.len(), 25);
    assert!(events.iter().all(|e| e.pgh_label == "insert" && e.body.is_none()));
    let mut scores: Vec<i32> = events.iter().map(|e| e.score).collect();
    scores.sort();
    assert_eq!(scores, (0..25).collect::<Vec<_>>());
}
