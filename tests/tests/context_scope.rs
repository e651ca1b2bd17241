//! Explicit context scopes on a sync connection: what every event carries, nesting, rollback,
//! bad input, and reading a scope back with one query.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::Text;
use pghistory_diesel::context::{
    ambient_scope, attach_ambient, current_ambient, current_context, with_context,
};
use pghistory_diesel::context_table::{pghistory_context, Context};
use pghistory_diesel::Error;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;
use serde_json::{json, Value};

/// Every `posts` event in order, with its context row if it has one.
fn post_events(conn: &mut PgConnection) -> Vec<(PostsEvent, Option<Context>)> {
    posts_events::table
        .left_join(pghistory_context::table)
        .order(posts_events::pgh_id)
        .select((PostsEvent::as_select(), Option::<Context>::as_select()))
        .load(conn)
        .unwrap()
}

fn context_rows(conn: &mut PgConnection) -> i64 {
    pghistory_context::table.count().get_result(conn).unwrap()
}

fn insert_post(conn: &mut PgConnection, title: &str) -> QueryResult<i32> {
    diesel::insert_into(posts::table)
        .values(posts::title.eq(title))
        .returning(posts::id)
        .get_result(conn)
}

fn metadata_of(event: &(PostsEvent, Option<Context>)) -> Option<Value> {
    event.1.as_ref().map(|c| c.metadata.clone())
}

#[test]
fn events_inside_a_scope_carry_its_context_and_events_after_it_carry_none() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let id = with_context(&mut conn, json!({"user": 42, "reason": "import"}), |conn| {
        insert_post(conn, "inside")
    })
    .unwrap();
    assert!(id > 0, "the closure's value is returned");
    // After the scope the settings hold '' in this session: still no context.
    insert_post(&mut conn, "after").unwrap();

    let events = post_events(&mut conn);
    assert_eq!(events.len(), 2);
    assert_eq!(
        metadata_of(&events[0]),
        Some(json!({"user": 42, "reason": "import"}))
    );
    let ctx = events[0].1.as_ref().unwrap();
    assert_eq!(events[0].0.pgh_context_id, Some(ctx.id));
    assert_eq!(
        ctx.scope_id, ctx.id,
        "an outermost scope's scope_id is its first snapshot id"
    );
    assert_eq!(events[1].0.pgh_context_id, None);
    assert!(events[1].1.is_none());
}

#[test]
fn without_any_scope_events_have_a_null_context() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    insert_post(&mut conn, "plain").unwrap();
    let events = post_events(&mut conn);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0.pgh_context_id, None);
    assert_eq!(context_rows(&mut conn), 0);
}

#[test]
fn nested_scopes_share_the_scope_id_and_merge_metadata_with_inner_keys_winning() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    with_context(&mut conn, json!({"user": 1, "reason": "outer"}), |conn| {
        insert_post(conn, "a")?;
        with_context(conn, json!({"reason": "inner", "step": 2}), |conn| {
            insert_post(conn, "b")?;
            with_context(conn, json!({"step": 3}), |conn| insert_post(conn, "c"))
        })?;
        insert_post(conn, "d")
    })
    .unwrap();

    let events = post_events(&mut conn);
    let metadata: Vec<_> = events.iter().map(|e| metadata_of(e).unwrap()).collect();
    assert_eq!(
        metadata,
        vec![
            json!({"user": 1, "reason": "outer"}),
            json!({"user": 1, "reason": "inner", "step": 2}),
            json!({"user": 1, "reason": "inner", "step": 3}),
            json!({"user": 1, "reason": "outer"}),
        ]
    );
    let scopes: Vec<_> = events
        .iter()
        .map(|e| e.1.as_ref().unwrap().scope_id)
        .collect();
    assert!(
        scopes.iter().all(|s| *s == scopes[0]),
        "one scope_id: {scopes:?}"
    );
    // The outer snapshot is back in force after the inner scopes: same row as "a".
    assert_eq!(events[0].0.pgh_context_id, events[3].0.pgh_context_id);
    assert_ne!(events[0].0.pgh_context_id, events[1].0.pgh_context_id);
    assert_eq!(
        context_rows(&mut conn),
        3,
        "one snapshot per metadata version"
    );
}

#[test]
fn each_event_reports_the_metadata_in_force_when_it_was_written() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    with_context(&mut conn, json!({"user": "ada", "ticket": 1}), |conn| {
        insert_post(conn, "first")?;
        diesel::update(posts::table)
            .set(posts::score.eq(1))
            .execute(conn)?;
        // Later in the same scope the metadata changes...
        with_context(conn, json!({"ticket": 2}), |conn| {
            diesel::update(posts::table)
                .set(posts::score.eq(2))
                .execute(conn)
        })
    })
    .unwrap();
    // ...and a later scope writes more: nothing rewrites the earlier events' metadata.
    with_context(&mut conn, json!({"user": "bob"}), |conn| {
        diesel::update(posts::table)
            .set(posts::score.eq(3))
            .execute(conn)
    })
    .unwrap();

    let events = post_events(&mut conn);
    let seen: Vec<_> = events
        .iter()
        .map(|(e, c)| {
            (
                e.pgh_label.clone(),
                e.score,
                c.as_ref().unwrap().metadata.clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("insert".to_owned(), 0, json!({"user": "ada", "ticket": 1})),
            ("update".to_owned(), 1, json!({"user": "ada", "ticket": 1})),
            ("update".to_owned(), 2, json!({"user": "ada", "ticket": 2})),
            ("update".to_owned(), 3, json!({"user": "bob"})),
        ]
    );
}

/// An application error type; its payloads are only shown by `Debug`.
#[derive(Debug)]
#[allow(dead_code)]
enum AppError {
    Refused,
    History(Error),
    Db(diesel::result::Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::History(e)
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Db(e)
    }
}

#[test]
fn an_error_inside_a_scope_rolls_back_its_events_and_its_context_row() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let result: Result<(), AppError> = with_context(&mut conn, json!({"user": 7}), |conn| {
        insert_post(conn, "doomed")?;
        diesel::update(posts::table)
            .set(posts::score.eq(5))
            .execute(conn)?;
        Err(AppError::Refused)
    });
    assert!(matches!(result, Err(AppError::Refused)), "{result:?}");
    assert_eq!(
        posts::table.count().get_result::<i64>(&mut conn).unwrap(),
        0
    );
    assert!(post_events(&mut conn).is_empty());
    assert_eq!(context_rows(&mut conn), 0);
}

#[test]
fn an_error_in_a_nested_scope_rolls_back_only_the_nested_scope() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    with_context(&mut conn, json!({"user": 1}), |conn| {
        insert_post(conn, "kept")?;
        let inner: Result<(), AppError> = with_context(conn, json!({"user": 2}), |conn| {
            insert_post(conn, "dropped")?;
            Err(AppError::Refused)
        });
        assert!(matches!(inner, Err(AppError::Refused)));
        insert_post(conn, "kept too")
            .map(drop)
            .map_err(AppError::from)
    })
    .unwrap();

    let events = post_events(&mut conn);
    let titles: Vec<_> = events.iter().map(|e| e.0.title.as_str()).collect();
    assert_eq!(titles, ["kept", "kept too"]);
    assert!(events
        .iter()
        .all(|e| metadata_of(e) == Some(json!({"user": 1}))));
    assert_eq!(
        context_rows(&mut conn),
        1,
        "the inner snapshot row is rolled back"
    );
}

#[test]
fn bulk_statements_and_raw_sql_inside_a_scope_carry_the_context() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    with_context(&mut conn, json!({"job": "bulk"}), |conn| {
        let rows: Vec<_> = (0..50)
            .map(|i| (posts::title.eq(format!("p{i}")), posts::score.eq(i)))
            .collect();
        diesel::insert_into(posts::table)
            .values(&rows)
            .execute(conn)?;
        diesel::update(posts::table)
            .set(posts::score.eq(posts::score + 1))
            .execute(conn)?;
        diesel::sql_query("UPDATE posts SET body = 'raw' WHERE score < 10").execute(conn)?;
        diesel::sql_query("DELETE FROM posts WHERE score > 45").execute(conn)
    })
    .unwrap();

    let events = post_events(&mut conn);
    // 50 inserts, 50 updates, 9 raw updates (scores 1..=9), 5 deletes (46..=50).
    assert_eq!(events.len(), 50 + 50 + 9 + 5);
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e.0.pgh_context_id).collect();
    assert_eq!(ids.len(), 1, "one snapshot for the whole scope");
    assert!(events
        .iter()
        .all(|e| metadata_of(e) == Some(json!({"job": "bulk"}))));
}

#[test]
fn metadata_that_is_not_an_object_is_a_named_error_and_nothing_runs_or_is_written() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let mut ran = false;
    let result: Result<(), Error> = with_context(&mut conn, json!([1, 2]), |conn| {
        ran = true;
        insert_post(conn, "never").map(drop).map_err(Error::from)
    });
    match result {
        Err(Error::MetadataNotAnObject { found }) => assert_eq!(found, "an array"),
        other => panic!("expected MetadataNotAnObject, got {other:?}"),
    }
    assert!(!ran);
    assert_eq!(context_rows(&mut conn), 0);
    assert!(post_events(&mut conn).is_empty());
}

#[test]
fn metadata_that_cannot_be_serialized_is_a_named_error_and_nothing_is_written() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    // JSON object keys must be strings; byte-vector keys make serde_json fail.
    let mut metadata = BTreeMap::new();
    metadata.insert(vec![1u8, 2], "value");
    let result: Result<(), Error> = with_context(&mut conn, &metadata, |conn| {
        insert_post(conn, "never").map(drop).map_err(Error::from)
    });
    assert!(
        matches!(result, Err(Error::MetadataNotSerializable(_))),
        "{result:?}"
    );
    assert_eq!(context_rows(&mut conn), 0);
    assert!(post_events(&mut conn).is_empty());
}

#[test]
fn a_closure_returning_query_result_gets_history_errors_as_diesel_errors() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let result: QueryResult<i32> = with_context(&mut conn, json!("not an object"), |conn| {
        insert_post(conn, "x")
    });
    match result {
        Err(diesel::result::Error::SerializationError(e)) => {
            let inner = e
                .downcast_ref::<Error>()
                .expect("carries pghistory_diesel::Error");
            assert!(matches!(
                inner,
                Error::MetadataNotAnObject { found: "a string" }
            ));
        }
        other => panic!("expected SerializationError, got {other:?}"),
    }
}

#[test]
fn json_context_tables_store_the_metadata_in_force_on_each_event() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    with_context(&mut conn, json!({"user": 5, "why": "a"}), |conn| {
        diesel::insert_into(notes::table)
            .values(notes::text.eq("n1"))
            .execute(conn)?;
        with_context(conn, json!({"why": "b"}), |conn| {
            diesel::update(notes::table)
                .set(notes::text.eq("n2"))
                .execute(conn)
        })?;
        diesel::delete(notes::table).execute(conn)
    })
    .unwrap();
    diesel::insert_into(notes::table)
        .values(notes::text.eq("no context"))
        .execute(&mut conn)
        .unwrap();

    let events: Vec<(NotesEvent, Option<Context>)> = notes_events::table
        .left_join(pghistory_context::table)
        .order(notes_events::pgh_id)
        .select((NotesEvent::as_select(), Option::<Context>::as_select()))
        .load(&mut conn)
        .unwrap();
    let denormalized: Vec<_> = events.iter().map(|(e, _)| e.pgh_context.clone()).collect();
    assert_eq!(
        denormalized,
        vec![
            Some(json!({"user": 5, "why": "a"})),
            Some(json!({"user": 5, "why": "b"})),
            Some(json!({"user": 5, "why": "a"})),
            None,
        ]
    );
    for (event, context) in &events {
        assert_eq!(
            event.pgh_context,
            context.as_ref().map(|c| c.metadata.clone())
        );
    }
}

#[derive(QueryableByName)]
struct ColumnName {
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[test]
fn context_none_tables_have_no_context_columns_and_still_record_inside_a_scope() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let columns: Vec<String> = diesel::sql_query(
        "SELECT column_name::text AS column_name FROM information_schema.columns WHERE table_name = $1",
    )
    .bind::<Text, _>("labels_events")
    .load::<ColumnName>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|c| c.column_name)
    .collect();
    assert!(columns.iter().any(|c| c == "pgh_obj_id"), "{columns:?}");
    assert!(
        !columns.iter().any(|c| c.starts_with("pgh_context")),
        "{columns:?}"
    );

    with_context(&mut conn, json!({"user": 1}), |conn| {
        diesel::insert_into(labels::table)
            .values(labels::name.eq("l"))
            .execute(conn)
    })
    .unwrap();
    let count: i64 = labels_events::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 1);
}

#[test]
fn two_sessions_sharing_one_scope_write_in_open_transactions_without_waiting() {
    let db = TestDb::migrated();
    let mut first = db.conn();
    let mut second = db.conn();
    for conn in [&mut first, &mut second] {
        diesel::sql_query("SET lock_timeout = '100ms'")
            .execute(conn)
            .unwrap();
    }
    let scope = ambient_scope(json!({"request": "r1"}), || {
        first
            .transaction(|first| {
                attach_ambient(first)?;
                insert_post(first, "from first")?;
                // The first transaction is still open, holding its snapshot row and post.
                second.transaction(|second| {
                    attach_ambient(second)?;
                    insert_post(second, "from second")
                })?;
                insert_post(first, "first again")
            })
            .unwrap();
        current_ambient().unwrap().scope_id
    })
    .unwrap();

    let events = post_events(&mut first);
    assert_eq!(events.len(), 3);
    for (event, context) in &events {
        let context = context
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no context", event.title));
        assert_eq!(context.scope_id, scope);
        assert_eq!(context.metadata, json!({"request": "r1"}));
    }
}

#[test]
fn all_events_of_one_scope_with_their_metadata_is_one_diesel_query() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    with_context(&mut conn, json!({"user": "other"}), |conn| {
        insert_post(conn, "elsewhere")
    })
    .unwrap();
    let scope = with_context(&mut conn, json!({"user": "ada"}), |conn| {
        insert_post(conn, "one")?;
        with_context(conn, json!({"step": 2}), |conn| insert_post(conn, "two"))?;
        QueryResult::Ok(current_context(conn)?.expect("a context in force").scope_id)
    })
    .unwrap();
    insert_post(&mut conn, "no context").unwrap();

    let of_scope: Vec<(PostsEvent, Context)> = posts_events::table
        .inner_join(pghistory_context::table)
        .filter(pghistory_context::scope_id.eq(scope))
        .order(posts_events::pgh_id)
        .select((PostsEvent::as_select(), Context::as_select()))
        .load(&mut conn)
        .unwrap();
    let seen: Vec<_> = of_scope
        .iter()
        .map(|(e, c)| (e.title.as_str(), c.metadata.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("one", json!({"user": "ada"})),
            ("two", json!({"user": "ada", "step": 2})),
        ]
    );
}

#[test]
fn a_scope_inside_an_application_transaction_ends_with_the_scope() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.transaction(|conn| {
        insert_post(conn, "before")?;
        with_context(conn, json!({"user": 3}), |conn| insert_post(conn, "inside"))?;
        insert_post(conn, "after")
    })
    .unwrap();
    let events = post_events(&mut conn);
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.0.title.as_str(), metadata_of(e)))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("before", None),
            ("inside", Some(json!({"user": 3}))),
            ("after", None)
        ]
    );
}

#[test]
fn a_scope_nests_in_an_ambient_context_attached_to_the_session() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let scope = ambient_scope(json!({"request": "r9", "user": 1}), || {
        attach_ambient(&mut conn).unwrap();
        insert_post(&mut conn, "ambient").unwrap();
        with_context(&mut conn, json!({"user": 2}), |conn| {
            insert_post(conn, "explicit")
        })
        .unwrap();
        insert_post(&mut conn, "ambient again").unwrap();
        current_ambient().unwrap().scope_id
    })
    .unwrap();
    // Out of the ambient scope; a pool hook would clear the session at the next checkout.
    attach_ambient(&mut conn).unwrap();
    insert_post(&mut conn, "cleared").unwrap();

    let events = post_events(&mut conn);
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.0.title.as_str(), metadata_of(e)))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("ambient", Some(json!({"request": "r9", "user": 1}))),
            ("explicit", Some(json!({"request": "r9", "user": 2}))),
            ("ambient again", Some(json!({"request": "r9", "user": 1}))),
            ("cleared", None),
        ]
    );
    assert!(events[..3]
        .iter()
        .all(|e| e.1.as_ref().unwrap().scope_id == scope));
}

#[test]
fn a_database_without_the_setup_migration_is_a_named_error() {
    let db = TestDb::empty();
    let mut conn = db.conn();
    let result: Result<(), Error> = with_context(&mut conn, json!({"user": 1}), |_| Ok(()));
    assert!(matches!(result, Err(Error::SetupMissing)), "{result:?}");
    // The failed scope left the connection usable.
    let one: i32 = diesel::select(1.into_sql::<diesel::sql_types::Integer>())
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(one, 1);
}

#[test]
fn current_context_is_the_snapshot_in_force_and_none_outside_a_scope() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    assert_eq!(current_context(&mut conn).unwrap(), None);
    let (outer, inner, restored) = with_context(&mut conn, json!({"user": 1}), |conn| {
        insert_post(conn, "a")?;
        let outer = current_context(conn)?.unwrap();
        let inner = with_context(conn, json!({"user": 2}), current_context)?.unwrap();
        let restored = current_context(conn)?.unwrap();
        QueryResult::Ok((outer, inner, restored))
    })
    .unwrap();
    assert_eq!(outer.metadata, json!({"user": 1}));
    assert_eq!(inner.metadata, json!({"user": 2}));
    assert_eq!(inner.scope_id, outer.scope_id);
    assert_ne!(inner.id, outer.id);
    assert_eq!(restored, outer);
    let events = post_events(&mut conn);
    assert_eq!(events[0].0.pgh_context_id, Some(outer.id));
    // After the scope the setting is '' again, which is no context.
    assert_eq!(current_context(&mut conn).unwrap(), None);
}
