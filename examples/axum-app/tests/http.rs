//! The example app over real HTTP on loopback, against a real PostgreSQL server: each test
//! creates a database of its own, starts the app on 127.0.0.1:0 and talks HTTP/1.1 to it
//! over a plain TCP socket.

use std::net::SocketAddr;
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::AsyncPgConnection;
use pghistory_diesel::context_table::pghistory_context;
use pghistory_diesel_axum_example::schema::posts_events;
use pghistory_diesel_axum_example::{HistoryEntry, Post};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

// A database per test: the integration tests' `TestDb`, created empty here and migrated
// by the app itself at start, as it does in production.
use pghistory_diesel_tests::TestDb;

// ---------------------------------------------------------------------------------------
// The app, started in-process.

struct App {
    addr: SocketAddr,
    pool: Pool<AsyncPgConnection>,
    db: TestDb,
}

/// Migrates a fresh database and serves the app on 127.0.0.1:0 with a pool of `pool_size`.
async fn start(pool_size: usize) -> App {
    let db = tokio::task::spawn_blocking(TestDb::empty).await.unwrap();
    pghistory_diesel_axum_example::migrate(&db.url)
        .await
        .expect("migrate");
    let pool = pghistory_diesel_axum_example::pool(&db.url, pool_size).expect("pool");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = pghistory_diesel_axum_example::router(pool.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    App { addr, pool, db }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client over a TCP socket.

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: body {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the whole reply.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect to the app");
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        raw
    };
    // Not a timing assertion: only a guard so a hung server fails the test instead of
    // blocking it forever.
    let raw = tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .expect("the app answered");
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete HTTP head");
    let head = std::str::from_utf8(&raw[..split]).expect("an ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header line");
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    let rest = &raw[split + 4..];
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    reply.body = if reply
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)
    } else if let Some(len) = reply.header("content-length") {
        rest[..len.parse::<usize>().unwrap()].to_vec()
    } else {
        rest.to_vec()
    };
    reply
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // At most one chunk per byte: a bounded loop even on a malformed body.
    for _ in 0..=data.len() {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size_text = std::str::from_utf8(&data[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    panic!("unterminated chunked body")
}

// ---------------------------------------------------------------------------------------
// Reading what was written, straight from the database.

/// Every event of `posts` with its context metadata, in write order.
fn events_with_context(
    conn: &mut PgConnection,
) -> Vec<(String, String, Option<uuid::Uuid>, Option<Value>)> {
    posts_events::table
        .left_join(pghistory_context::table)
        .order(posts_events::pgh_id)
        .select((
            posts_events::pgh_label,
            posts_events::title,
            posts_events::pgh_context_id,
            pghistory_context::metadata.nullable(),
        ))
        .load(conn)
        .unwrap()
}

/// Renames a post through diesel-async (a module of its own: diesel's sync `RunQueryDsl`
/// from the prelude would make `execute` ambiguous).
mod through_async {
    use diesel::{ExpressionMethods, QueryDsl};
    use diesel_async::{AsyncPgConnection, RunQueryDsl};
    use pghistory_diesel_axum_example::schema::posts;

    pub async fn rename(conn: &mut AsyncPgConnection, id: i32, title: &str) {
        let changed = diesel::update(posts::table.find(id))
            .set(posts::title.eq(title))
            .execute(conn)
            .await
            .unwrap();
        assert_eq!(changed, 1);
    }
}

fn context_rows(conn: &mut PgConnection) -> i64 {
    pghistory_context::table.count().get_result(conn).unwrap()
}

fn expected_metadata(method: &str, path: &str, request_id: &str, user: Value) -> Value {
    json!({
        "app": "axum-example",
        "method": method,
        "path": path,
        "request_id": request_id,
        "user": user,
    })
}

// ---------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_write_records_its_method_path_request_id_and_user() {
    let app = start(2).await;

    let created = send(
        app.addr,
        "POST",
        "/posts",
        &[("x-request-id", "req-create"), ("x-user", "alice")],
        Some(&json!({"title": "first", "body": "hello"})),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.header("x-request-id"), Some("req-create"));
    let post: Post = created.json();
    let path = format!("/posts/{}", post.id);

    let updated = send(
        app.addr,
        "PATCH",
        &path,
        &[("x-request-id", "req-update"), ("x-user", "bob")],
        Some(&json!({"title": "second"})),
    )
    .await;
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(updated.header("x-request-id"), Some("req-update"));

    let deleted = send(
        app.addr,
        "DELETE",
        &path,
        &[("x-request-id", "req-delete"), ("x-user", "carol")],
        None,
    )
    .await;
    assert_eq!(deleted.status, 204, "{deleted:?}");

    let mut conn = app.db.conn();
    let events = events_with_context(&mut conn);
    let summary: Vec<(&str, &str, Option<&Value>)> = events
        .iter()
        .map(|(label, title, _, metadata)| (label.as_str(), title.as_str(), metadata.as_ref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "insert",
                "first",
                Some(&expected_metadata(
                    "POST",
                    "/posts",
                    "req-create",
                    json!("alice")
                ))
            ),
            (
                "update",
                "second",
                Some(&expected_metadata(
                    "PATCH",
                    &path,
                    "req-update",
                    json!("bob")
                ))
            ),
            (
                "delete",
                "second",
                Some(&expected_metadata(
                    "DELETE",
                    &path,
                    "req-delete",
                    json!("carol")
                ))
            ),
        ]
    );
    // Three requests, three different scopes.
    let scopes: Vec<uuid::Uuid> = pghistory_context::table
        .select(pghistory_context::scope_id)
        .distinct()
        .load(&mut conn)
        .unwrap();
    assert_eq!(scopes.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_usable_id_gets_a_new_uuid_and_no_user_is_null() {
    let app = start(2).await;

    let created = send(
        app.addr,
        "POST",
        "/posts",
        &[],
        Some(&json!({"title": "anonymous"})),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let generated = created
        .header("x-request-id")
        .expect("a request id")
        .to_owned();
    assert!(
        uuid::Uuid::parse_str(&generated).is_ok(),
        "not a UUID: {generated}"
    );
    let post: Post = created.json();

    // An id longer than the layer keeps is replaced too, so clients cannot bloat context rows.
    let too_long = "x".repeat(pghistory_diesel::tower::MAX_REQUEST_ID_LEN + 1);
    let updated = send(
        app.addr,
        "PATCH",
        &format!("/posts/{}", post.id),
        &[("x-request-id", &too_long), ("x-user", "dave")],
        Some(&json!({"title": "renamed"})),
    )
    .await;
    assert_eq!(updated.status, 200, "{updated:?}");
    let replaced = updated
        .header("x-request-id")
        .expect("a request id")
        .to_owned();
    assert!(
        uuid::Uuid::parse_str(&replaced).is_ok(),
        "not a UUID: {replaced}"
    );
    assert_ne!(replaced, generated);

    let mut conn = app.db.conn();
    let metadata: Vec<Option<Value>> = events_with_context(&mut conn)
        .into_iter()
        .map(|e| e.3)
        .collect();
    assert_eq!(
        metadata,
        vec![
            Some(expected_metadata("POST", "/posts", &generated, Value::Null)),
            Some(expected_metadata(
                "PATCH",
                &format!("/posts/{}", post.id),
                &replaced,
                json!("dave")
            )),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_open_no_context_and_write_no_context_rows() {
    // One connection, so the reads reuse the very connection the write attached its
    // context to.
    let app = start(1).await;
    let created = send(
        app.addr,
        "POST",
        "/posts",
        &[("x-user", "erin")],
        Some(&json!({"title": "read me"})),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let post: Post = created.json();
    let mut conn = app.db.conn();
    let before = context_rows(&mut conn);
    assert_eq!(before, 1);

    for i in 0..5 {
        let id = format!("req-read-{i}");
        let read = send(
            app.addr,
            "GET",
            &format!("/posts/{}/history", post.id),
            &[("x-request-id", &id), ("x-user", "erin")],
            None,
        )
        .await;
        assert_eq!(read.status, 200, "{read:?}");
        // The request id is handled on every request, tracked or not.
        assert_eq!(read.header("x-request-id"), Some(id.as_str()));
        let history: Vec<HistoryEntry> = read.json();
        assert_eq!(history.len(), 1);
    }
    assert_eq!(context_rows(&mut conn), before);
    let metadata: Vec<Value> = pghistory_context::table
        .select(pghistory_context::metadata)
        .load(&mut conn)
        .unwrap();
    assert!(
        metadata.iter().all(|m| m["method"] != "GET"),
        "{metadata:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_a_posts_events_in_order_with_their_context() {
    let app = start(2).await;
    let created = send(
        app.addr,
        "POST",
        "/posts",
        &[("x-request-id", "h-0"), ("x-user", "frank")],
        Some(&json!({"title": "v0", "body": "b"})),
    )
    .await;
    let post: Post = created.json();
    let path = format!("/posts/{}", post.id);
    for i in 1..=3 {
        let id = format!("h-{i}");
        let reply = send(
            app.addr,
            "PATCH",
            &path,
            &[("x-request-id", &id), ("x-user", "frank")],
            Some(&json!({"title": format!("v{i}")})),
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    // Another post's events must not show up in this one's history.
    let other = send(
        app.addr,
        "POST",
        "/posts",
        &[],
        Some(&json!({"title": "other"})),
    )
    .await;
    assert_eq!(other.status, 201, "{other:?}");

    let reply = send(app.addr, "GET", &format!("{path}/history"), &[], None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let history: Vec<HistoryEntry> = reply.json();
    let got: Vec<(&str, &str, Option<&str>)> = history
        .iter()
        .map(|e| {
            let request_id = e.context.as_ref().and_then(|c| c["request_id"].as_str());
            (e.label.as_str(), e.title.as_str(), request_id)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("insert", "v0", Some("h-0")),
            ("update", "v1", Some("h-1")),
            ("update", "v2", Some("h-2")),
            ("update", "v3", Some("h-3")),
        ]
    );
    assert!(history.windows(2).all(|w| w[0].event_id < w[1].event_id));
    assert!(history
        .iter()
        .all(|e| e.body.as_deref() == Some("b") && e.context_id.is_some()));
    assert!(history.iter().all(|e| e
        .context
        .as_ref()
        .is_some_and(|c| c["user"] == "frank" && c["path"] != "")));

    let missing = send(
        app.addr,
        "PATCH",
        "/posts/999999",
        &[],
        Some(&json!({"title": "x"})),
    )
    .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_never_get_each_others_context() {
    const ROUNDS: usize = 40;
    // One pooled connection shared by every request and by writes made outside any
    // request: each checkout must attach its own context, or clear it.
    let app = start(1).await;
    let mut ids = Vec::new();
    for user in ["ann", "ben"] {
        let reply = send(
            app.addr,
            "POST",
            "/posts",
            &[("x-user", user)],
            Some(&json!({"title": user})),
        )
        .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        ids.push(reply.json::<Post>().id);
    }
    let mut conn = app.db.conn();
    let setup_events = events_with_context(&mut conn).len();

    let mut tasks = tokio::task::JoinSet::new();
    for (user, id) in [("ann", ids[0]), ("ben", ids[1])] {
        let addr = app.addr;
        tasks.spawn(async move {
            for round in 0..ROUNDS {
                // The title is the request id, so each event says which request wrote it.
                let request_id = format!("{user}-{round}");
                let reply = send(
                    addr,
                    "PATCH",
                    &format!("/posts/{id}"),
                    &[("x-request-id", &request_id), ("x-user", user)],
                    Some(&json!({"title": request_id})),
                )
                .await;
                assert_eq!(reply.status, 200, "{reply:?}");
            }
        });
    }
    // Reads, which open no context, take turns on the same connection too.
    let addr = app.addr;
    let read_id = ids[1];
    tasks.spawn(async move {
        for round in 0..ROUNDS {
            let request_id = format!("read-{round}");
            let reply = send(
                addr,
                "GET",
                &format!("/posts/{read_id}/history"),
                &[("x-request-id", &request_id), ("x-user", "reader")],
                None,
            )
            .await;
            assert_eq!(reply.status, 200, "{reply:?}");
        }
    });
    // Writes through the same pool outside any request: no context at all.
    let pool = app.pool.clone();
    let other_id = ids[0];
    tasks.spawn(async move {
        for round in 0..ROUNDS {
            let mut conn = pool.get().await.expect("a pooled connection");
            through_async::rename(&mut conn, other_id, &format!("direct-{round}")).await;
        }
    });
    while let Some(done) = tasks.join_next().await {
        done.expect("a client task");
    }

    let events = events_with_context(&mut conn);
    let events = &events[setup_events..];
    assert_eq!(events.len(), 3 * ROUNDS);
    for (label, title, context_id, metadata) in events {
        assert_eq!(label, "update");
        if title.starts_with("direct-") {
            assert_eq!(
                (context_id, metadata),
                (&None, &None),
                "a direct write got a request's context"
            );
            continue;
        }
        let metadata = metadata
            .as_ref()
            .unwrap_or_else(|| panic!("{title} has no context"));
        let user = title.split('-').next().unwrap();
        let id = if user == "ann" { ids[0] } else { ids[1] };
        assert_eq!(
            metadata,
            &expected_metadata("PATCH", &format!("/posts/{id}"), title, json!(user)),
            "event {title} carries another request's context"
        );
    }
    // One context row per tracked request, none for the reads.
    assert_eq!(context_rows(&mut conn), (2 + 2 * ROUNDS) as i64);
}
