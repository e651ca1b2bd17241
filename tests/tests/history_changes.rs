//! Typed diffs: the generated `...Change` enums, `changes_from` and an object's
//! consecutive changes.

use diesel::prelude::*;
use pghistory_diesel::history::{changes, changes_async, ColumnChange, Diff};
use pghistory_diesel_tests::models::Mood;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;

fn post_events(conn: &mut PgConnection, id: i32) -> Vec<PostsEvent> {
    posts_events::table
        .filter(posts_events::pgh_obj_id.eq(id))
        .order(posts_events::pgh_id)
        .select(PostsEvent::as_select())
        .load(conn)
        .unwrap()
}

#[test]
fn changes_between_two_events_are_typed() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let id: i32 = diesel::insert_into(posts::table)
        .values((posts::title.eq("a"), posts::score.eq(1)))
        .returning(posts::id)
        .get_result(&mut conn)
        .unwrap();
    diesel::update(posts::table.find(id))
        .set((posts::body.eq(Some("text")), posts::score.eq(5)))
        .execute(&mut conn)
        .unwrap();
    let ev = post_events(&mut conn, id);
    let changes = ev[1].changes_from(&ev[0]);
    assert_eq!(
        changes,
        vec![
            PostsEventChange::Body {
                before: None,
                after: Some("text".into())
            },
            PostsEventChange::Score {
                before: 1,
                after: 5
            },
        ]
    );
    let columns: Vec<&str> = changes.iter().map(ColumnChange::column).collect();
    assert_eq!(columns, ["body", "score"]);
    assert!(ev[0].changes_from(&ev[0]).is_empty());
    // Backwards, before and after swap.
    assert_eq!(
        Diff::changes_from(&ev[0], &ev[1])[1],
        PostsEventChange::Score {
            before: 5,
            after: 1
        }
    );
}

#[test]
fn sql_names_and_custom_types_in_changes() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    diesel::insert_into(orders::table)
        .values((
            orders::id.eq(1i64),
            orders::user_name.eq("ann"),
            orders::status.eq("new"),
        ))
        .execute(&mut conn)
        .unwrap();
    diesel::update(orders::table.find(1i64))
        .set(orders::status.eq("paid"))
        .execute(&mut conn)
        .unwrap();
    let steps = changes::<orders::table>(&mut conn, 1i64).unwrap();
    assert_eq!(steps.len(), 2);
    assert!(steps[0].changes.is_empty(), "a first event has no changes");
    assert_eq!(steps[1].changes.len(), 1);
    assert_eq!(steps[1].changes[0].column(), "select", "the SQL name");

    let doc = uuid::Uuid::new_v4();
    diesel::insert_into(documents::table)
        .values((
            documents::id.eq(doc),
            documents::created.eq(chrono::Utc::now()),
            documents::tags.eq(vec!["a".to_owned()]),
            documents::flag.eq(false),
            documents::mood.eq(Some(Mood::Happy)),
        ))
        .execute(&mut conn)
        .unwrap();
    diesel::update(documents::table.find(doc))
        .set((
            documents::mood.eq(Some(Mood::Sad)),
            documents::flag.eq(true),
        ))
        .execute(&mut conn)
        .unwrap();
    let steps = changes::<documents::table>(&mut conn, doc).unwrap();
    assert_eq!(
        steps[1].changes,
        vec![
            DocumentsEventChange::Flag {
                before: false,
                after: true
            },
            DocumentsEventChange::Mood {
                before: Some(Mood::Happy),
                after: Some(Mood::Sad)
            },
        ]
    );
}

#[tokio::test]
async fn consecutive_changes_of_an_object_async() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let db = TestDb::migrated();
    let mut sync = db.conn();
    let id: i32 = diesel::insert_into(posts::table)
        .values((posts::title.eq("a"), posts::score.eq(1)))
        .returning(posts::id)
        .get_result(&mut sync)
        .unwrap();
    for title in ["b", "c"] {
        diesel::update(posts::table.find(id))
            .set(posts::title.eq(title))
            .execute(&mut sync)
            .unwrap();
    }
    diesel::delete(posts::table.find(id))
        .execute(&mut sync)
        .unwrap();
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    let steps = changes_async::<posts::table>(&mut conn, id).await.unwrap();
    let labels: Vec<&str> = steps.iter().map(|s| s.event.pgh_label.as_str()).collect();
    assert_eq!(labels, ["insert", "update", "update", "delete"]);
    assert_eq!(
        steps[2].changes,
        vec![PostsEventChange::Title {
            before: "b".into(),
            after: "c".into()
        }]
    );
    assert!(
        steps[3].changes.is_empty(),
        "a delete stores the last state"
    );
}
