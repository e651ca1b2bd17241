//! Ambient context on a sync r2d2 pool: every checkout attaches the thread's ambient context
//! or clears the previous one, so no event ever carries another thread's context.

use std::collections::HashMap;

use diesel::prelude::*;
use pghistory_diesel::context::{ambient_scope, current_ambient, with_context, Ambient};
use pghistory_diesel::context_table::{pghistory_context, Context};
use pghistory_diesel::pool::r2d2::{pool_builder, ContextConnectionManager, Pool};
use pghistory_diesel::Error;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;
use serde_json::{json, Value};

const ITERATIONS: usize = 1_000;

fn pool_of_one(db: &TestDb) -> Pool {
    pool_builder()
        .max_size(1)
        .build(ContextConnectionManager::new(db.url.clone()))
        .expect("build the pool")
}

fn insert_post(conn: &mut PgConnection, title: &str) -> QueryResult<usize> {
    diesel::insert_into(posts::table)
        .values(posts::title.eq(title))
        .execute(conn)
}

/// Every `posts` event with its context, keyed by the post's title.
fn events_by_title(conn: &mut PgConnection) -> HashMap<String, Option<Context>> {
    posts_events::table
        .left_join(pghistory_context::table)
        .select((posts_events::title, Option::<Context>::as_select()))
        .load::<(String, Option<Context>)>(conn)
        .unwrap()
        .into_iter()
        .collect()
}

#[test]
fn a_checkout_attaches_the_ambient_context_and_a_checkout_without_one_clears_it() {
    let db = TestDb::migrated();
    let pool = pool_of_one(&db);
    ambient_scope(json!({"user": 1}), || {
        let mut conn = pool.get().unwrap();
        insert_post(&mut conn, "with").unwrap();
    })
    .unwrap();
    {
        // The same physical connection (pool of one), checked out with no ambient context.
        let mut conn = pool.get().unwrap();
        insert_post(&mut conn, "without").unwrap();
    }
    let events = events_by_title(&mut pool.get().unwrap());
    assert_eq!(
        events["with"].as_ref().unwrap().metadata,
        json!({"user": 1})
    );
    assert!(events["without"].is_none(), "{:?}", events["without"]);
}

#[test]
fn ambient_scopes_nest_merge_and_restore_per_thread() {
    assert_eq!(current_ambient(), None);
    ambient_scope(json!({"user": 1, "req": "a"}), || {
        let outer = current_ambient().unwrap();
        assert_eq!(
            Value::Object(outer.metadata.clone()),
            json!({"user": 1, "req": "a"})
        );
        ambient_scope(json!({"req": "b"}), || {
            let inner = current_ambient().unwrap();
            assert_eq!(inner.scope_id, outer.scope_id);
            assert_eq!(
                Value::Object(inner.metadata),
                json!({"user": 1, "req": "b"})
            );
            // Other threads see nothing.
            std::thread::scope(|s| {
                s.spawn(|| assert_eq!(current_ambient(), None));
            });
        })
        .unwrap();
        assert_eq!(current_ambient(), Some(outer));
    })
    .unwrap();
    assert_eq!(current_ambient(), None);
}

#[test]
fn an_ambient_scope_ends_even_when_its_closure_panics() {
    let result = std::panic::catch_unwind(|| {
        ambient_scope(json!({"user": 1}), || panic!("boom")).unwrap();
    });
    assert!(result.is_err());
    assert_eq!(current_ambient(), None);
}

#[test]
fn bad_ambient_metadata_is_a_named_error_and_the_closure_does_not_run() {
    let mut ran = false;
    let result = ambient_scope(json!([1, 2]), || ran = true);
    assert!(
        matches!(
            result,
            Err(Error::MetadataNotAnObject { found: "an array" })
        ),
        "{result:?}"
    );
    let mut keys = std::collections::BTreeMap::new();
    keys.insert((1, 2), 3);
    let result = ambient_scope(&keys, || ran = true);
    assert!(
        matches!(result, Err(Error::MetadataNotSerializable(_))),
        "{result:?}"
    );
    assert!(!ran);
    assert_eq!(current_ambient(), None);
}

/// What one iteration of a worker did, to check its event against.
enum Expect {
    None,
    Ambient(Ambient),
    Nested(Ambient, Value),
}

fn worker(pool: &Pool, name: &str) -> Vec<(String, Expect)> {
    let mut expected = Vec::with_capacity(ITERATIONS);
    for i in 0..ITERATIONS {
        let title = format!("{name}:{i}");
        match i % 3 {
            // Ambient context only.
            0 => {
                let ambient = ambient_scope(json!({"worker": name, "i": i}), || {
                    let mut conn = pool.get().unwrap();
                    insert_post(&mut conn, &title).unwrap();
                    current_ambient().unwrap()
                })
                .unwrap();
                expected.push((title, Expect::Ambient(ambient)));
            }
            // No context at all.
            1 => {
                let mut conn = pool.get().unwrap();
                insert_post(&mut conn, &title).unwrap();
                expected.push((title, Expect::None));
            }
            // An explicit scope nested in the ambient one.
            _ => {
                let ambient = ambient_scope(json!({"worker": name, "i": i}), || {
                    let mut conn = pool.get().unwrap();
                    with_context(&mut conn, json!({"step": i}), |conn| {
                        insert_post(conn, &title)
                    })
                    .unwrap();
                    current_ambient().unwrap()
                })
                .unwrap();
                let mut merged = ambient.metadata.clone();
                merged.insert("step".to_owned(), json!(i));
                expected.push((title, Expect::Nested(ambient, Value::Object(merged))));
            }
        }
    }
    expected
}

#[test]
fn a_pool_of_one_shared_by_two_threads_never_leaks_a_context() {
    let db = TestDb::migrated();
    let pool = pool_of_one(&db);
    let expected: Vec<(String, Expect)> = std::thread::scope(|s| {
        let a = s.spawn(|| worker(&pool, "a"));
        let b = s.spawn(|| worker(&pool, "b"));
        let mut all = a.join().unwrap();
        all.extend(b.join().unwrap());
        all
    });

    let events = events_by_title(&mut pool.get().unwrap());
    assert_eq!(events.len(), 2 * ITERATIONS);
    for (title, expect) in &expected {
        let context = &events[title];
        match (expect, context) {
            (Expect::None, None) => {}
            (Expect::Ambient(ambient), Some(c)) => {
                assert_eq!(c.scope_id, ambient.scope_id, "{title}");
                assert_eq!(
                    c.metadata,
                    Value::Object(ambient.metadata.clone()),
                    "{title}"
                );
            }
            (Expect::Nested(ambient, merged), Some(c)) => {
                assert_eq!(c.scope_id, ambient.scope_id, "{title}");
                assert_eq!(&c.metadata, merged, "{title}");
            }
            (_, other) => panic!("{title}: wrong context {other:?}"),
        }
    }
}

#[test]
fn without_the_setup_migration_only_checkouts_in_an_ambient_scope_fail() {
    let db = TestDb::empty();
    let pool = pool_builder()
        .max_size(1)
        .connection_timeout(std::time::Duration::from_millis(500))
        .build(ContextConnectionManager::new(db.url.clone()))
        .expect("build the pool");
    // No ambient context: the hook only clears the settings, which needs no setup.
    pool.get().expect("a checkout without context works");
    let result = ambient_scope(json!({"user": 1}), || pool.get().map(drop)).unwrap();
    let error = result.expect_err("attaching needs the setup migration");
    assert!(
        error.to_string().contains("pghistory_attach_context"),
        "{error}"
    );
    // What check_setup reports up front.
    let mut conn = db.conn();
    assert!(matches!(
        pghistory_diesel::check::check_setup(&mut conn),
        Err(Error::SetupMissing)
    ));
}

#[test]
fn checkouts_of_one_pool_in_one_ambient_scope_share_one_snapshot_row() {
    let db = TestDb::migrated();
    let pool = pool_of_one(&db);
    let other_pool = pool_of_one(&db);
    ambient_scope(json!({"request": 1}), || {
        for title in ["first", "second"] {
            let mut conn = pool.get().unwrap();
            insert_post(&mut conn, title).unwrap();
        }
        // Another pool writes its own row: it may serve another database.
        insert_post(&mut other_pool.get().unwrap(), "other pool").unwrap();
        // A nested scope has other metadata: a row of its own.
        ambient_scope(json!({"step": 2}), || {
            insert_post(&mut pool.get().unwrap(), "nested").unwrap();
        })
        .unwrap();
        insert_post(&mut pool.get().unwrap(), "third").unwrap();
        // Attaching by hand always writes a row.
        let mut conn = pool.get().unwrap();
        pghistory_diesel::context::attach_ambient(&mut conn).unwrap();
        insert_post(&mut conn, "by hand").unwrap();
    })
    .unwrap();

    let events = events_by_title(&mut pool.get().unwrap());
    let id = |title: &str| events[title].as_ref().unwrap().id;
    assert_eq!(id("first"), id("second"));
    assert_eq!(id("first"), id("third"));
    assert_ne!(id("first"), id("other pool"));
    assert_ne!(id("first"), id("nested"));
    assert_ne!(id("first"), id("by hand"));
    assert_eq!(
        events["nested"].as_ref().unwrap().metadata,
        json!({"request": 1, "step": 2})
    );
    let rows: i64 = pghistory_context::table
        .count()
        .get_result(&mut pool.get().unwrap())
        .unwrap();
    assert_eq!(rows, 4);
}
