//! The unified history: data, diffs, filters across tables, and revert.

use diesel::prelude::*;
use pghistory_diesel::history::{revert, History};
use pghistory_diesel::Error;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;
use serde_json::json;

fn new_post(conn: &mut PgConnection, title: &str) -> i32 {
    diesel::insert_into(posts::table)
        .values((posts::title.eq(title), posts::score.eq(1)))
        .returning(posts::id)
        .get_result(conn)
        .unwrap()
}

#[test]
fn an_objects_history_has_data_and_diffs_in_order() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let id = new_post(&mut conn, "first");
    let other = new_post(&mut conn, "unrelated");
    diesel::update(posts::table.find(id))
        .set((posts::title.eq("second"), posts::score.eq(2)))
        .execute(&mut conn)
        .unwrap();
    diesel::delete(posts::table.find(id))
        .execute(&mut conn)
        .unwrap();

    let events = History::new()
        .tracks::<posts::table>(id)
        .load(&mut conn)
        .unwrap();
    let labels: Vec<&str> = events.iter().map(|e| e.pgh_label.as_str()).collect();
    assert_eq!(labels, ["insert", "update", "delete"]);
    assert!(events
        .iter()
        .all(|e| e.pgh_table == "public.posts" && e.pgh_obj_id == id.to_string()));
    assert_eq!(events[0].pgh_data["title"], json!("first"));
    assert_eq!(
        events[0].pgh_diff, None,
        "a first event has nothing to compare with"
    );
    assert_eq!(
        events[1].pgh_diff,
        Some(json!({"title": ["first", "second"], "score": [1, 2]}))
    );
    assert_eq!(
        events[2].pgh_diff, None,
        "a delete right after an update changes nothing"
    );
    assert!(!events.iter().any(|e| e.pgh_obj_id == other.to_string()));
}

#[test]
fn history_spans_tables_and_filters_by_context_scope_and_label() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    new_post(&mut conn, "outside");
    let scope: uuid::Uuid = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            #[derive(QueryableByName)]
            struct Scope {
                #[diesel(sql_type = diesel::sql_types::Uuid)]
                scope_id: uuid::Uuid,
            }
            // A new scope's id is its first snapshot's id.
            let s: Scope = diesel::sql_query(
                "SELECT pghistory_attach_context(NULL, '{\"user\": 7}', true) AS scope_id",
            )
            .get_result(conn)?;
            new_post(conn, "inside");
            diesel::insert_into(notes::table)
                .values(notes::text.eq("a note"))
                .execute(conn)?;
            diesel::insert_into(labels::table)
                .values(labels::name.eq("no context here"))
                .execute(conn)?;
            Ok(s.scope_id)
        })
        .unwrap();

    let all = History::new()
        .across::<posts::table>()
        .across::<notes::table>()
        .across::<labels::table>()
        .load(&mut conn)
        .unwrap();
    assert_eq!(all.len(), 4);

    let in_scope = History::new()
        .across::<posts::table>()
        .across::<notes::table>()
        .across::<labels::table>()
        .in_context(scope)
        .load(&mut conn)
        .unwrap();
    let tables: Vec<&str> = in_scope.iter().map(|e| e.pgh_table.as_str()).collect();
    assert_eq!(in_scope.len(), 2, "{tables:?}");
    assert!(tables.contains(&"public.posts") && tables.contains(&"public.notes"));
    assert!(in_scope
        .iter()
        .all(|e| e.pgh_context == Some(json!({"user": 7}))));

    let inserts_of_posts = History::new()
        .across::<posts::table>()
        .label("update")
        .load(&mut conn)
        .unwrap();
    assert!(inserts_of_posts.is_empty());
}

#[test]
fn a_history_query_without_tables_is_a_named_error() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    assert!(matches!(
        History::new().load(&mut conn),
        Err(Error::NoTables)
    ));
}

#[test]
fn revert_restores_an_updated_row_and_a_deleted_one() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let id = new_post(&mut conn, "original");
    diesel::update(posts::table.find(id))
        .set(posts::title.eq("vandalized"))
        .execute(&mut conn)
        .unwrap();
    let first = History::new()
        .tracks::<posts::table>(id)
        .load(&mut conn)
        .unwrap()[0]
        .pgh_id;

    revert::<posts::table>(&mut conn, first).unwrap();
    let title: String = posts::table
        .find(id)
        .select(posts::title)
        .first(&mut conn)
        .unwrap();
    assert_eq!(title, "original");

    diesel::delete(posts::table.find(id))
        .execute(&mut conn)
        .unwrap();
    revert::<posts::table>(&mut conn, first).unwrap();
    let back: (i32, String) = posts::table
        .find(id)
        .select((posts::id, posts::title))
        .first(&mut conn)
        .unwrap();
    assert_eq!(back, (id, "original".to_owned()));

    let labels: Vec<String> = History::new()
        .tracks::<posts::table>(id)
        .load(&mut conn)
        .unwrap()
        .into_iter()
        .map(|e| e.pgh_label)
        .collect();
    assert_eq!(
        labels,
        ["insert", "update", "update", "delete", "insert"],
        "reverts are recorded too"
    );

    assert!(matches!(
        revert::<posts::table>(&mut conn, 999_999),
        Err(Error::NoSuchEvent {
            pgh_id: 999_999,
            ..
        })
    ));
}
