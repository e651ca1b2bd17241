//! Behind PgBouncer in transaction mode (Debian's `pgbouncer`, started on loopback by
//! `pghistory_diesel_tests::pgbouncer`): what the `pool` module docs and the README promise.
//!
//! - `with_context` with Diesel's prepared-statement cache disabled: many scopes over a few
//!   server connections, every event carries its own scope's context, none leaks.
//! - With the cache on (Diesel's default) scopes fail: two clients sharing a server
//!   connection both prepare `__diesel_stmt_0` there.
//! - The same with diesel-async (its cache disabled too): each scope's statements are
//!   prepared and run inside its transaction.
//! - Ambient context (session level, set at pool checkout) follows the server connection,
//!   not the client: an event can carry another checkout's context.
//!
//! Skipped, with a message, when no `pgbouncer` is installed, unless
//! `PGH_REQUIRE_PGBOUNCER=1` (`scripts/test`, CI).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};

use diesel::connection::CacheSize;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection};
use pghistory_diesel::context::{ambient_scope, with_context};
use pghistory_diesel::context_table::pghistory_context;
use pghistory_diesel::pool::r2d2::{pool_builder, ContextConnectionManager};
use pghistory_diesel_tests::pgbouncer::PgBouncer;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::{server_url, TestDb};
use serde_json::{json, Value};

diesel::define_sql_function! {
    /// The server process serving this statement.
    fn pg_backend_pid() -> Integer;
}

/// A connection through the bouncer, configured as the docs say.
fn connect_uncached(url: &str) -> PgConnection {
    let mut conn = PgConnection::establish(url).expect("connect through pgbouncer");
    conn.set_prepared_statement_cache_size(CacheSize::Disabled);
    conn
}

/// Every `posts` event: (title, metadata of its context row, its scope id).
fn events(db: &TestDb) -> Vec<(String, Option<Value>, Option<uuid::Uuid>)> {
    posts_events::table
        .left_join(pghistory_context::table)
        .select((
            posts_events::title,
            pghistory_context::metadata.nullable(),
            pghistory_context::scope_id.nullable(),
        ))
        .load(&mut db.conn())
        .expect("read the events directly")
}

const CLIENTS: usize = 8;
const SCOPES_PER_CLIENT: usize = 75;
const SERVER_CONNECTIONS: u32 = 2;

#[test]
fn with_context_without_the_statement_cache_gives_every_event_its_own_scope() {
    let db = TestDb::migrated();
    let Some(bouncer) = PgBouncer::start(&server_url(), SERVER_CONNECTIONS) else {
        return;
    };
    let url = bouncer.url(&db.url);
    // Every client is connected before any scope starts, so the 8 clients are open at once
    // over at most 2 server connections: PgBouncer must hand transactions around.
    let clients: Vec<PgConnection> = (0..CLIENTS).map(|_| connect_uncached(&url)).collect();
    let start = Arc::new(Barrier::new(CLIENTS));
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(client, mut conn)| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let mut backends = BTreeSet::new();
                let mut failures = Vec::new();
                for i in 0..SCOPES_PER_CLIENT {
                    let title = format!("{client}-{i}");
                    let scope = with_context(
                        &mut conn,
                        json!({"client": client, "scope": &title}),
                        |conn| {
                            let pid: i32 = diesel::select(pg_backend_pid()).get_result(conn)?;
                            diesel::insert_into(posts::table)
                                .values(posts::title.eq(&title))
                                .execute(conn)?;
                            // A second statement of the scope, so that a scope split across
                            // server connections would show as a mismatch.
                            diesel::update(posts::table.filter(posts::title.eq(&title)))
                                .set(posts::score.eq(posts::score + 1))
                                .execute(conn)?;
                            QueryResult::Ok(pid)
                        },
                    );
                    match scope {
                        Ok(pid) => {
                            backends.insert(pid);
                        }
                        Err(e) => failures.push(format!("{title}: {e}")),
                    }
                }
                (backends, failures)
            })
        })
        .collect();
    let mut backends = BTreeSet::new();
    let mut failures = Vec::new();
    for thread in threads {
        let (b, f) = thread.join().expect("a client thread");
        backends.extend(b);
        failures.extend(f);
    }
    assert!(
        failures.is_empty(),
        "{} scopes failed: {failures:?}",
        failures.len()
    );
    assert!(
        backends.len() <= SERVER_CONNECTIONS as usize,
        "{CLIENTS} clients were served by {} server processes, not through the bouncer's {SERVER_CONNECTIONS}",
        backends.len()
    );

    let events = events(&db);
    // Each scope wrote an insert and an update event.
    assert_eq!(events.len(), 2 * CLIENTS * SCOPES_PER_CLIENT);
    let mut scopes: BTreeMap<String, BTreeSet<uuid::Uuid>> = BTreeMap::new();
    for (title, metadata, scope_id) in &events {
        let metadata = metadata
            .as_ref()
            .unwrap_or_else(|| panic!("event of {title} has no context"));
        assert_eq!(
            metadata["scope"], *title,
            "event of {title} carries another scope's context: {metadata}"
        );
        scopes
            .entry(title.clone())
            .or_default()
            .insert(scope_id.expect("a context row has a scope"));
    }
    assert_eq!(scopes.len(), CLIENTS * SCOPES_PER_CLIENT);
    // Both events of a scope share its scope id, and no two scopes share one.
    assert!(scopes.values().all(|ids| ids.len() == 1), "{scopes:?}");
    let distinct: BTreeSet<_> = scopes.values().flatten().collect();
    assert_eq!(distinct.len(), CLIENTS * SCOPES_PER_CLIENT);
}

#[test]
fn with_the_statement_cache_on_a_second_client_on_the_same_server_connection_fails() {
    let db = TestDb::migrated();
    // One server connection: both clients' transactions run on it, one after the other.
    let Some(bouncer) = PgBouncer::start(&server_url(), 1) else {
        return;
    };
    let url = bouncer.url(&db.url);
    // Diesel's default: every safe-to-cache statement is prepared once per connection, as
    // `__diesel_stmt_<n>`, numbered from 0 per client connection.
    let mut first = PgConnection::establish(&url).expect("connect through pgbouncer");
    let mut second = PgConnection::establish(&url).expect("connect through pgbouncer");
    let scope = |conn: &mut PgConnection, title: &str| {
        with_context(conn, json!({"scope": title}), |conn| {
            diesel::insert_into(posts::table)
                .values(posts::title.eq(title))
                .execute(conn)
        })
    };
    scope(&mut first, "first").expect("the first client prepares its statements");
    let err = scope(&mut second, "second").expect_err(
        "the second client's statements have the first one's names on the same server connection",
    );
    assert!(
        err.to_string().contains("already exists"),
        "expected a duplicate prepared statement, got: {err}"
    );
    let titles: Vec<String> = events(&db).into_iter().map(|(t, _, _)| t).collect();
    assert_eq!(titles, ["first"], "the failed scope wrote nothing");

    // The same two clients with the cache disabled: both scopes commit.
    let mut first = connect_uncached(&url);
    let mut second = connect_uncached(&url);
    scope(&mut first, "third").unwrap();
    scope(&mut second, "fourth").unwrap();
    let titles: BTreeSet<String> = events(&db).into_iter().map(|(t, _, _)| t).collect();
    assert_eq!(
        titles,
        BTreeSet::from(["first", "fourth", "third"].map(String::from))
    );
}

/// Turns Diesel's statement cache off on every connection the r2d2 pool opens.
#[derive(Debug)]
struct Uncached;

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for Uncached {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.set_prepared_statement_cache_size(CacheSize::Disabled);
        Ok(())
    }
}

#[test]
fn ambient_context_follows_the_server_connection_not_the_checkout() {
    let db = TestDb::migrated();
    // One server connection makes the hand-over certain; with more it happens at random.
    let Some(bouncer) = PgBouncer::start(&server_url(), 1) else {
        return;
    };
    let pool = pool_builder()
        .max_size(2)
        .connection_customizer(Box::new(Uncached))
        .build(ContextConnectionManager::from_manager(
            ConnectionManager::new(bouncer.url(&db.url)),
        ))
        .expect("build the pool");
    // Two checkouts, each inside its own ambient scope: the hook sets each context at
    // session level on whichever server connection its statement got, here the same one.
    let mut a = ambient_scope(json!({"request": "a"}), || pool.get())
        .unwrap()
        .expect("check out a");
    let mut b = ambient_scope(json!({"request": "b"}), || pool.get())
        .unwrap()
        .expect("check out b");
    diesel::insert_into(posts::table)
        .values(posts::title.eq("written by a"))
        .execute(&mut a)
        .unwrap();
    // A client with no ambient context and no pool hook at all.
    let mut plain = connect_uncached(&bouncer.url(&db.url));
    diesel::insert_into(posts::table)
        .values(posts::title.eq("written by a plain client"))
        .execute(&mut plain)
        .unwrap();
    // with_context still holds there: it sets its context inside its own transaction.
    with_context(&mut b, json!({"request": "b, explicit"}), |conn| {
        diesel::insert_into(posts::table)
            .values(posts::title.eq("written by b in with_context"))
            .execute(conn)
    })
    .unwrap();

    let by_title: BTreeMap<String, Option<Value>> = events(&db)
        .into_iter()
        .map(|(title, metadata, _)| (title, metadata))
        .collect();
    assert_eq!(
        by_title["written by a"],
        Some(json!({"request": "b"})),
        "a's event carries b's ambient context: the setting lives on the server connection"
    );
    assert_eq!(
        by_title["written by a plain client"],
        Some(json!({"request": "b"})),
        "a client that never set a context gets the last checkout's"
    );
    assert_eq!(
        by_title["written by b in with_context"],
        Some(json!({"request": "b, explicit"})),
    );
}

/// diesel-async through the bouncer: `AsyncPgConnection` prepares every statement
/// (tokio-postgres names them `s<n>`), so with its cache disabled each statement is
/// prepared and run inside the scope's transaction, which PgBouncer keeps on one server
/// connection. Many async clients over two server connections: every event carries its own
/// scope's context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_context_async_without_the_statement_cache_gives_every_event_its_own_scope() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl as AsyncRun};
    use pghistory_diesel::context::with_context_async;

    let db = TestDb::migrated();
    let Some(bouncer) = PgBouncer::start(&server_url(), SERVER_CONNECTIONS) else {
        return;
    };
    let url = bouncer.url(&db.url);
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut conn = AsyncPgConnection::establish(&url)
            .await
            .expect("connect through pgbouncer");
        conn.set_prepared_statement_cache_size(CacheSize::Disabled);
        clients.push(conn);
    }
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(client, mut conn)| {
            tokio::spawn(async move {
                let mut failures = Vec::new();
                let mut backends = BTreeSet::new();
                for i in 0..SCOPES_PER_CLIENT {
                    let title = format!("{client}-{i}");
                    let scope = with_context_async(
                        &mut conn,
                        json!({"client": client, "scope": &title}),
                        async |conn| {
                            let insert =
                                diesel::insert_into(posts::table).values(posts::title.eq(&title));
                            AsyncRun::execute(insert, conn).await?;
                            let update =
                                diesel::update(posts::table.filter(posts::title.eq(&title)))
                                    .set(posts::score.eq(posts::score + 1));
                            AsyncRun::execute(update, conn).await?;
                            let pid: i32 =
                                AsyncRun::get_result(diesel::select(pg_backend_pid()), conn)
                                    .await?;
                            Ok::<_, pghistory_diesel::Error>(pid)
                        },
                    )
                    .await;
                    match scope {
                        Ok(pid) => {
                            backends.insert(pid);
                        }
                        Err(e) => failures.push(format!("{title}: {e}")),
                    }
                }
                (backends, failures)
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut backends = BTreeSet::new();
    for task in tasks {
        let (b, f) = task.await.expect("a client task");
        backends.extend(b);
        failures.extend(f);
    }
    assert!(
        backends.len() <= SERVER_CONNECTIONS as usize,
        "{CLIENTS} clients were served by {} server processes",
        backends.len()
    );
    assert!(
        failures.is_empty(),
        "{} scopes failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let events = events(&db);
    assert_eq!(events.len(), 2 * CLIENTS * SCOPES_PER_CLIENT);
    let mut scopes: BTreeMap<String, BTreeSet<uuid::Uuid>> = BTreeMap::new();
    for (title, metadata, scope_id) in &events {
        let metadata = metadata
            .as_ref()
            .unwrap_or_else(|| panic!("event of {title} has no context"));
        assert_eq!(
            metadata["scope"], *title,
            "event of {title} carries another scope's context: {metadata}"
        );
        scopes
            .entry(title.clone())
            .or_default()
            .insert(scope_id.expect("a context row has a scope"));
    }
    assert!(scopes.values().all(|ids| ids.len() == 1), "{scopes:?}");
    assert_eq!(scopes.len(), CLIENTS * SCOPES_PER_CLIENT);
}
