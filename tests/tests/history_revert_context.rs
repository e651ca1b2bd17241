#![allow(missing_docs)] // Diesel's `table!` does not document what it generates.

//! Undoing a whole context scope across tables: order under foreign keys, dry run, the
//! conflict check, the revert's own context, and the tables that cannot be reverted.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use pghistory_diesel::context::current_context;
use pghistory_diesel::context_table::pghistory_context;
use pghistory_diesel::history::{RevertAction, RevertScope, RevertStep};
use pghistory_diesel::{with_context, Error};
use pghistory_diesel_codegen::sql::migration;
use pghistory_diesel_tests::schema::{accounts, labels};
use pghistory_diesel_tests::TestDb;
use serde_json::json;

pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, update, delete))]
    authors (id) {
        id -> Int4,
        name -> Text,
    }
}

pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, update, delete))]
    books (id) {
        id -> Int4,
        author_id -> Int4,
        title -> Text,
    }
}

diesel::joinable!(books -> authors (author_id));
diesel::allow_tables_to_appear_in_same_query!(authors, books);

/// A database with the test migrations, plus `authors` and `books` (a foreign key between
/// them) tracked by the migration `pghistory-diesel generate` would write for the two
/// declarations above.
fn db() -> TestDb {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute(
        "CREATE TABLE authors (id integer PRIMARY KEY, name text NOT NULL);
         CREATE TABLE books (id integer PRIMARY KEY, author_id integer NOT NULL REFERENCES authors (id), title text NOT NULL);",
    )
    .unwrap();
    let file = syn::parse_file(include_str!("history_revert_context.rs")).unwrap();
    let tables: Vec<_> = pghistory_diesel_codegen::tables_in_file(&file)
        .unwrap()
        .into_iter()
        .filter(|t| t.sql_name == "authors" || t.sql_name == "books")
        .collect();
    assert_eq!(tables.len(), 2);
    let files = migration::plan(&tables, &[], "2099-01-01-000000")
        .files
        .expect("a tracking migration");
    conn.batch_execute(&files.up).unwrap();
    db
}

/// Both tables' rows, in key order.
type State = (Vec<(i32, String)>, Vec<(i32, i32, String)>);

fn state(conn: &mut PgConnection) -> State {
    let a = authors::table
        .order(authors::id)
        .load::<(i32, String)>(conn)
        .unwrap();
    let b = books::table
        .order(books::id)
        .load::<(i32, i32, String)>(conn)
        .unwrap();
    (a, b)
}

fn seed(conn: &mut PgConnection) {
    diesel::insert_into(authors::table)
        .values((authors::id.eq(1), authors::name.eq("Ann")))
        .execute(conn)
        .unwrap();
    diesel::insert_into(books::table)
        .values(&vec![
            (
                books::id.eq(10),
                books::author_id.eq(1),
                books::title.eq("Old"),
            ),
            (
                books::id.eq(12),
                books::author_id.eq(1),
                books::title.eq("Gone"),
            ),
        ])
        .execute(conn)
        .unwrap();
}

/// A request that adds an author, a book of hers, moves book 10 to her, and deletes book
/// 12; returns its scope id.
fn request(conn: &mut PgConnection) -> uuid::Uuid {
    with_context(conn, json!({"user": 7}), |conn| {
        diesel::insert_into(authors::table)
            .values((authors::id.eq(2), authors::name.eq("Bob")))
            .execute(conn)?;
        diesel::insert_into(books::table)
            .values((
                books::id.eq(11),
                books::author_id.eq(2),
                books::title.eq("New"),
            ))
            .execute(conn)?;
        diesel::update(books::table.find(10))
            .set((books::author_id.eq(2), books::title.eq("Moved")))
            .execute(conn)?;
        diesel::update(books::table.find(10))
            .set(books::title.eq("Moved again"))
            .execute(conn)?;
        diesel::delete(books::table.find(12)).execute(conn)?;
        Ok::<_, Error>(current_context(conn)?.unwrap().scope_id)
    })
    .unwrap()
}

fn first_event(conn: &mut PgConnection, id: i32) -> i64 {
    books_events::table
        .filter(books_events::pgh_obj_id.eq(id))
        .order(books_events::pgh_id)
        .select(books_events::pgh_id)
        .first(conn)
        .unwrap()
}

fn revert_of(scope: uuid::Uuid) -> RevertScope {
    // Children first in the list: the order comes from the foreign keys, not from here.
    RevertScope::new(scope)
        .across::<books::table>()
        .across::<authors::table>()
}

#[test]
fn a_scope_is_undone_across_tables_in_a_valid_order() {
    let db = db();
    let mut conn = db.conn();
    seed(&mut conn);
    let before = state(&mut conn);
    let scope = request(&mut conn);
    assert_ne!(state(&mut conn), before);

    let revert = revert_of(scope)
        .metadata(json!({"reason": "spam"}))
        .unwrap();
    let planned = revert.dry_run(&mut conn).unwrap();
    let summary: Vec<(&str, &str, RevertAction)> = planned
        .iter()
        .map(|s| (s.table.as_str(), s.key.as_str(), s.action))
        .collect();
    assert_eq!(
        summary,
        [
            ("public.books", "12", RevertAction::Reinsert),
            ("public.books", "10", RevertAction::Restore),
            ("public.books", "11", RevertAction::Delete),
            ("public.authors", "2", RevertAction::Delete),
        ],
        "book 10 moves back to Ann before Bob goes; Bob's book goes before Bob"
    );
    assert_eq!(planned[0].from_event, first_event(&mut conn, 12));
    assert_eq!(planned[1].from_event, first_event(&mut conn, 10));
    assert_eq!(state(&mut conn).1.len(), 2, "a dry run writes nothing");

    let applied: Vec<RevertStep> =
        with_context(&mut conn, json!({"user": 99}), |conn| revert.run(conn)).unwrap();
    assert_eq!(applied, planned, "the dry run lists what the revert does");
    assert_eq!(state(&mut conn), before);

    // The revert is recorded, in one context that names the scope it undid and keeps
    // the caller's metadata.
    let contexts: Vec<serde_json::Value> = books_events::table
        .inner_join(pghistory_context::table)
        .filter(books_events::pgh_id.gt(planned[0].scope_events.1))
        .select(pghistory_context::metadata)
        .distinct()
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        contexts,
        [json!({"user": 99, "reason": "spam", "pgh_reverted_scope": scope.to_string()})]
    );
    let labels: Vec<String> = books_events::table
        .filter(books_events::pgh_id.gt(planned[0].scope_events.1))
        .order(books_events::pgh_id)
        .select(books_events::pgh_label)
        .load(&mut conn)
        .unwrap();
    assert_eq!(labels, ["insert", "update", "delete"]);

    // Undone twice is a conflict: the revert's own events came after the scope.
    assert!(matches!(
        revert.dry_run(&mut conn),
        Err(Error::RevertConflict { .. })
    ));
}

#[test]
fn a_later_change_outside_the_scope_is_a_conflict_and_nothing_is_written() {
    let db = db();
    let mut conn = db.conn();
    seed(&mut conn);
    let scope = request(&mut conn);
    diesel::update(books::table.find(10))
        .set(books::title.eq("Edited by someone else"))
        .execute(&mut conn)
        .unwrap();
    let after = state(&mut conn);
    let events_before: i64 = books_events::table.count().get_result(&mut conn).unwrap();
    let conflict_event: i64 = books_events::table
        .select(diesel::dsl::max(books_events::pgh_id))
        .first::<Option<i64>>(&mut conn)
        .unwrap()
        .unwrap();

    let err = revert_of(scope).run(&mut conn).unwrap_err();
    match &err {
        Error::RevertConflict { table, key, pgh_id } => {
            assert_eq!(
                (table.as_str(), key.as_str(), *pgh_id),
                ("public.books", "10", conflict_event)
            );
        }
        other => panic!("expected RevertConflict, got {other:?}"),
    }
    assert!(err.to_string().contains("public.books row 10"), "{err}");
    assert_eq!(state(&mut conn), after, "nothing was written");
    let events_after: i64 = books_events::table.count().get_result(&mut conn).unwrap();
    assert_eq!(events_after, events_before);
    assert!(matches!(
        revert_of(scope).dry_run(&mut conn),
        Err(Error::RevertConflict { .. })
    ));
}

#[test]
fn tables_that_cannot_be_reverted_are_named() {
    let db = db();
    let mut conn = db.conn();
    let scope = uuid::Uuid::new_v4();
    assert!(matches!(
        RevertScope::new(scope).dry_run(&mut conn),
        Err(Error::NoTables)
    ));
    match RevertScope::new(scope)
        .across::<accounts::table>()
        .run(&mut conn)
    {
        Err(Error::NotReconstructible { table, .. }) => assert_eq!(table, "app.accounts"),
        other => panic!("expected NotReconstructible, got {other:?}"),
    }
    // `labels` has no delete tracker either; that is found first.
    assert!(matches!(
        RevertScope::new(scope)
            .across::<labels::table>()
            .run(&mut conn),
        Err(Error::NotReconstructible { .. })
    ));
    assert!(matches!(
        RevertScope::new(scope).metadata(json!([1])),
        Err(Error::MetadataNotAnObject { .. })
    ));
    // A scope that changed nothing here has nothing to undo.
    assert_eq!(revert_of(scope).run(&mut conn).unwrap(), []);
}

pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, update, delete), context = none)]
    untraced (id) { id -> Int4, }
}

#[test]
fn a_table_without_context_cannot_be_tied_to_a_scope() {
    let db = db();
    let mut conn = db.conn();
    match RevertScope::new(uuid::Uuid::nil())
        .across::<untraced::table>()
        .dry_run(&mut conn)
    {
        Err(Error::NoContext { table }) => assert_eq!(table, "public.untraced"),
        other => panic!("expected NoContext, got {other:?}"),
    }
}

#[tokio::test]
async fn a_scope_is_undone_on_an_async_connection() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    let db = db();
    let mut sync = db.conn();
    seed(&mut sync);
    let before = state(&mut sync);
    let scope = request(&mut sync);
    let mut conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    let planned = revert_of(scope).dry_run_async(&mut conn).await.unwrap();
    assert_eq!(planned.len(), 4);
    let applied = revert_of(scope).run_async(&mut conn).await.unwrap();
    assert_eq!(applied, planned);
    assert_eq!(state(&mut sync), before);
}

#[test]
fn a_running_revert_holds_writers_off_until_it_commits() {
    let db = db();
    let mut conn = db.conn();
    seed(&mut conn);
    let scope = request(&mut conn);
    let mut other = db.conn();
    other.batch_execute("SET lock_timeout = '50ms'").unwrap();
    conn.transaction::<_, Error, _>(|conn| {
        revert_of(scope).run(conn)?;
        // The revert has checked and written; until its transaction ends, no one writes to
        // its tables, not even rows it did not touch (row locks alone would allow that).
        let err = diesel::insert_into(books::table)
            .values((
                books::id.eq(13),
                books::author_id.eq(1),
                books::title.eq("sneaked in"),
            ))
            .execute(&mut other)
            .unwrap_err();
        assert!(
            err.to_string().contains("lock timeout"),
            "a writer waits for the revert's lock: {err}"
        );
        // Readers do not wait.
        let titles: Vec<String> = books::table.select(books::title).load(&mut other).unwrap();
        assert!(!titles.is_empty());
        Ok(())
    })
    .unwrap();
    diesel::update(books::table.find(10))
        .set(books::title.eq("after the revert"))
        .execute(&mut other)
        .expect("the lock ends with the revert's transaction");
}
