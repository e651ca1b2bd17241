//! Context with diesel-async: explicit scopes, task-local ambient context, and the deadpool
//! and bb8 checkout hooks under two tasks sharing a pool of one.

use std::collections::HashMap;
use std::future::Future;
use std::ops::DerefMut;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pghistory_diesel::context::{
    ambient_scope, ambient_scope_async, current_ambient, current_context_async, with_context_async,
    Ambient,
};
use pghistory_diesel::context_table::{pghistory_context, Context};
use pghistory_diesel::pool::{bb8, deadpool};
use pghistory_diesel::Error;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;
use serde_json::{json, Value};

const ITERATIONS: usize = 1_000;

async fn connect(db: &TestDb) -> AsyncPgConnection {
    AsyncPgConnection::establish(&db.url)
        .await
        .expect("connect")
}

async fn insert_post(conn: &mut AsyncPgConnection, title: &str) -> QueryResult<usize> {
    diesel::insert_into(posts::table)
        .values(posts::title.eq(title))
        .execute(conn)
        .await
}

/// Every `posts` event in order: title and context.
async fn post_events(conn: &mut AsyncPgConnection) -> Vec<(String, Option<Context>)> {
    posts_events::table
        .left_join(pghistory_context::table)
        .order(posts_events::pgh_id)
        .select((posts_events::title, Option::<Context>::as_select()))
        .load(conn)
        .await
        .unwrap()
}

fn metadata(events: &[(String, Option<Context>)]) -> Vec<(&str, Option<Value>)> {
    events
        .iter()
        .map(|(t, c)| (t.as_str(), c.as_ref().map(|c| c.metadata.clone())))
        .collect()
}

/// Asserts `fut` is `Send`, as `tokio::spawn` and axum handlers need.
fn assert_send<F: Future + Send>(fut: F) -> F {
    fut
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_async_scopes_share_the_scope_id_merge_metadata_and_restore_the_outer() {
    let db = TestDb::migrated();
    let mut conn = connect(&db).await;
    let suffix = String::from("!"); // borrowed by the closures
    let value = assert_send(with_context_async(
        &mut conn,
        json!({"user": 1, "reason": "outer"}),
        async |conn| {
            insert_post(conn, &format!("a{suffix}")).await?;
            with_context_async(conn, json!({"reason": "inner"}), async |conn| {
                insert_post(conn, &format!("b{suffix}")).await
            })
            .await?;
            insert_post(conn, &format!("c{suffix}")).await?;
            Ok::<_, Error>(7)
        },
    ))
    .await
    .unwrap();
    assert_eq!(value, 7);
    insert_post(&mut conn, "after").await.unwrap();

    let events = post_events(&mut conn).await;
    assert_eq!(
        metadata(&events),
        vec![
            ("a!", Some(json!({"user": 1, "reason": "outer"}))),
            ("b!", Some(json!({"user": 1, "reason": "inner"}))),
            ("c!", Some(json!({"user": 1, "reason": "outer"}))),
            ("after", None),
        ]
    );
    let scopes: Vec<_> = events[..3]
        .iter()
        .map(|(_, c)| c.as_ref().unwrap().scope_id)
        .collect();
    assert!(scopes.iter().all(|s| *s == scopes[0]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_inside_an_async_scope_rolls_back_its_events_and_context_row() {
    let db = TestDb::migrated();
    let mut conn = connect(&db).await;
    let result: Result<(), Error> =
        with_context_async(&mut conn, json!({"user": 1}), async |conn| {
            insert_post(conn, "doomed").await?;
            Err(Error::SetupMissing) // any error of the closure's type
        })
        .await;
    assert!(matches!(result, Err(Error::SetupMissing)));
    assert!(post_events(&mut conn).await.is_empty());
    let rows: i64 = pghistory_context::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    // The connection is out of the transaction and usable.
    insert_post(&mut conn, "fine").await.unwrap();
    assert_eq!(
        metadata(&post_events(&mut conn).await),
        vec![("fine", None)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_metadata_in_an_async_scope_is_a_named_error_and_nothing_is_written() {
    let db = TestDb::migrated();
    let mut conn = connect(&db).await;
    let result: Result<(), Error> = with_context_async(&mut conn, json!([1, 2]), async |conn| {
        insert_post(conn, "never").await?;
        Ok(())
    })
    .await;
    assert!(
        matches!(
            result,
            Err(Error::MetadataNotAnObject { found: "an array" })
        ),
        "{result:?}"
    );
    let mut keys = std::collections::BTreeMap::new();
    keys.insert(vec![0u8], 1);
    let result: Result<(), Error> = with_context_async(&mut conn, &keys, async |conn| {
        insert_post(conn, "never").await?;
        Ok(())
    })
    .await;
    assert!(
        matches!(result, Err(Error::MetadataNotSerializable(_))),
        "{result:?}"
    );
    assert!(post_events(&mut conn).await.is_empty());
    let rows: i64 = pghistory_context::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_async_scope_on_a_database_without_setup_is_a_named_error() {
    let db = TestDb::empty();
    let mut conn = connect(&db).await;
    let result: Result<(), Error> =
        with_context_async(&mut conn, json!({}), async |_| Ok(())).await;
    assert!(matches!(result, Err(Error::SetupMissing)), "{result:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn task_local_ambient_scopes_nest_and_do_not_reach_other_tasks() {
    assert_eq!(current_ambient(), None);
    ambient_scope_async(json!({"user": 1, "req": "a"}), async {
        let outer = current_ambient().unwrap();
        tokio::task::yield_now().await;
        ambient_scope_async(json!({"req": "b"}), async {
            let inner = current_ambient().unwrap();
            assert_eq!(inner.scope_id, outer.scope_id);
            assert_eq!(
                Value::Object(inner.metadata),
                json!({"user": 1, "req": "b"})
            );
            // A sync scope inside a task is innermost while it runs.
            ambient_scope(json!({"sync": true}), || {
                let sync = current_ambient().unwrap();
                assert_eq!(sync.scope_id, outer.scope_id);
                assert_eq!(
                    Value::Object(sync.metadata),
                    json!({"user": 1, "req": "b", "sync": true})
                );
            })
            .unwrap();
            // Spawned tasks do not inherit it.
            let seen = tokio::spawn(async { current_ambient() }).await.unwrap();
            assert_eq!(seen, None);
        })
        .await
        .unwrap();
        assert_eq!(current_ambient(), Some(outer));
    })
    .await
    .unwrap();
    assert_eq!(current_ambient(), None);

    let bad = ambient_scope_async(json!("x"), async { unreachable!("must not run") }).await;
    assert!(matches!(
        bad,
        Err(Error::MetadataNotAnObject { found: "a string" })
    ));
}

/// What one iteration of a task wrote, to check its event against.
enum Expect {
    None,
    Ambient(Ambient),
}

/// Checks every event against what its iteration expected.
async fn assert_no_leak(conn: &mut AsyncPgConnection, expected: Vec<(String, Expect)>) {
    let events: HashMap<String, Option<Context>> = post_events(conn).await.into_iter().collect();
    assert_eq!(events.len(), expected.len());
    for (title, expect) in &expected {
        match (expect, &events[title]) {
            (Expect::None, None) => {}
            (Expect::Ambient(ambient), Some(c)) => {
                assert_eq!(c.scope_id, ambient.scope_id, "{title}");
                assert_eq!(
                    c.metadata,
                    Value::Object(ambient.metadata.clone()),
                    "{title}"
                );
            }
            (_, other) => panic!("{title}: wrong context {other:?}"),
        }
    }
}

/// Alternates checkouts with and without an ambient context; `checkout` gets a connection
/// from the pool under test.
async fn worker<C, F, Fut>(name: &'static str, checkout: F) -> Vec<(String, Expect)>
where
    F: Fn() -> Fut,
    Fut: Future<Output = C>,
    C: DerefMut<Target = AsyncPgConnection>,
{
    let mut expected = Vec::with_capacity(ITERATIONS);
    for i in 0..ITERATIONS {
        let title = format!("{name}:{i}");
        if i % 2 == 0 {
            let ambient = ambient_scope_async(json!({"task": name, "i": i}), async {
                let mut conn = checkout().await;
                insert_post(&mut conn, &title).await.unwrap();
                current_ambient().unwrap()
            })
            .await
            .unwrap();
            expected.push((title, Expect::Ambient(ambient)));
        } else {
            let mut conn = checkout().await;
            insert_post(&mut conn, &title).await.unwrap();
            expected.push((title, Expect::None));
        }
    }
    expected
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadpool_of_one_shared_by_two_tasks_never_leaks_a_context() {
    let db = TestDb::migrated();
    let pool = deadpool::pool_builder(db.url.clone())
        .max_size(1)
        .build()
        .unwrap();
    let checkout = |pool: deadpool::Pool| {
        move || {
            let pool = pool.clone();
            async move { pool.get().await.unwrap() }
        }
    };
    let a = tokio::spawn(worker("a", checkout(pool.clone())));
    let b = tokio::spawn(worker("b", checkout(pool.clone())));
    let mut expected = a.await.unwrap();
    expected.extend(b.await.unwrap());
    assert_no_leak(&mut pool.get().await.unwrap(), expected).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_deadpool_connection_gets_the_ambient_context_from_the_post_create_hook() {
    let db = TestDb::migrated();
    let pool = deadpool::pool_builder(db.url.clone())
        .max_size(1)
        .build()
        .unwrap();
    // The very first checkout creates the connection: no recycling runs.
    ambient_scope_async(json!({"first": true}), async {
        let mut conn = pool.get().await.unwrap();
        insert_post(&mut conn, "first").await.unwrap();
    })
    .await
    .unwrap();
    let mut conn = pool.get().await.unwrap();
    insert_post(&mut conn, "second").await.unwrap();
    assert_eq!(
        metadata(&post_events(&mut conn).await),
        vec![("first", Some(json!({"first": true}))), ("second", None)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deadpool_checkouts_in_one_ambient_scope_share_one_snapshot_row() {
    let db = TestDb::migrated();
    let pool = deadpool::pool_builder(db.url.clone())
        .max_size(1)
        .build()
        .unwrap();
    ambient_scope_async(json!({"request": 1}), async {
        // Created (post_create hook), then reused (recycling): one row.
        for title in ["created", "recycled"] {
            let mut conn = pool.get().await.unwrap();
            insert_post(&mut conn, title).await.unwrap();
        }
    })
    .await
    .unwrap();
    let mut conn = pool.get().await.unwrap();
    let events: HashMap<String, Option<Context>> =
        post_events(&mut conn).await.into_iter().collect();
    assert_eq!(
        events["created"].as_ref().unwrap().id,
        events["recycled"].as_ref().unwrap().id
    );
    let rows: i64 = pghistory_context::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bb8_pool_of_one_shared_by_two_tasks_never_leaks_a_context() {
    let db = TestDb::migrated();
    let pool = bb8::Pool::builder()
        .max_size(1)
        .build(bb8::manager(db.url.clone()))
        .await
        .unwrap();
    let checkout = |pool: bb8::Pool| {
        move || {
            let pool = pool.clone();
            async move { pool.get_owned().await.unwrap() }
        }
    };
    let a = tokio::spawn(worker("a", checkout(pool.clone())));
    let b = tokio::spawn(worker("b", checkout(pool.clone())));
    let mut expected = a.await.unwrap();
    expected.extend(b.await.unwrap());
    assert_no_leak(&mut pool.get().await.unwrap(), expected).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_async_scope_on_a_pooled_connection_nests_in_the_ambient_context() {
    let db = TestDb::migrated();
    let pool = deadpool::pool_builder(db.url.clone())
        .max_size(1)
        .build()
        .unwrap();
    let scope = ambient_scope_async(json!({"request": "r1", "user": 1}), async {
        let mut conn = pool.get().await.unwrap();
        with_context_async(&mut conn, json!({"user": 2}), async |conn| {
            insert_post(conn, "explicit").await
        })
        .await
        .unwrap();
        insert_post(&mut conn, "ambient").await.unwrap();
        let attached = current_context_async(&mut conn).await.unwrap().unwrap();
        assert_eq!(attached.scope_id, current_ambient().unwrap().scope_id);
        current_ambient().unwrap().scope_id
    })
    .await
    .unwrap();
    let mut conn = pool.get().await.unwrap();
    assert_eq!(
        current_context_async(&mut conn).await.unwrap(),
        None,
        "cleared at checkout"
    );
    let events = post_events(&mut conn).await;
    assert_eq!(
        metadata(&events),
        vec![
            ("explicit", Some(json!({"request": "r1", "user": 2}))),
            ("ambient", Some(json!({"request": "r1", "user": 1}))),
        ]
    );
    assert!(events
        .iter()
        .all(|(_, c)| c.as_ref().unwrap().scope_id == scope));
}
