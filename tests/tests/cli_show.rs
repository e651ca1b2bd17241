//! `pghistory-diesel show TABLE KEY --at TIME`: a row as of a time or an event, in the
//! human format and as JSON; exit 1 where the row did not exist, 2 on named errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use diesel::prelude::*;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;

fn schema_rs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/src/schema.rs")
}

fn show(db: &TestDb, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_rs();
    Command::new(pghistory_diesel_tests::cli_binary())
        .current_dir(dir.path())
        .env_remove("DIESEL_CONFIG_FILE")
        .env_remove("DATABASE_URL")
        .arg("show")
        .args(args)
        .args([
            "--schema",
            schema.to_str().unwrap(),
            "--database-url",
            &db.url,
        ])
        .output()
        .expect("run pghistory-diesel")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn show_prints_a_row_as_of_an_event_or_a_time() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let id: i32 = diesel::insert_into(posts::table)
        .values((posts::title.eq("first"), posts::score.eq(3)))
        .returning(posts::id)
        .get_result(&mut conn)
        .unwrap();
    diesel::update(posts::table.find(id))
        .set(posts::title.eq("second"))
        .execute(&mut conn)
        .unwrap();
    let events: Vec<(i64, chrono::DateTime<chrono::Utc>)> = posts_events::table
        .order(posts_events::pgh_id)
        .select((posts_events::pgh_id, posts_events::pgh_created_at))
        .load(&mut conn)
        .unwrap();
    let key = id.to_string();

    let out = show(&db, &["posts", &key, "--at", &events[0].0.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!("public.posts {id} as of event {}", events[0].0)),
        "{stdout}"
    );
    assert!(stdout.contains("  title  \"first\""), "{stdout}");
    assert!(stdout.contains("  body   null"), "{stdout}");

    let at = events[1].1.to_rfc3339();
    let out = show(&db, &["public.posts", &key, "--at", &at, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(json["pgh_id"], events[1].0);
    assert_eq!(json["pgh_label"], "update");
    assert_eq!(
        json["row"],
        serde_json::json!({"id": id, "title": "second", "body": null, "score": 3})
    );

    // Before the insert, and after a delete: it did not exist.
    let out = show(
        &db,
        &["posts", &key, "--at", &(events[0].0 - 1).to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("did not exist as of event"),
        "{}",
        text(&out.stderr)
    );
    diesel::delete(posts::table.find(id))
        .execute(&mut conn)
        .unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    let out = show(&db, &["posts", &key, "--at", &now]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
}

#[test]
fn show_names_its_errors() {
    let db = TestDb::migrated();
    let out = show(&db, &["comments", "1", "--at", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("schema.rs tracks no table `comments`; tracked: public.posts"),
        "{stderr}"
    );

    let out = show(&db, &["accounts", "alice", "--at", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("app.accounts cannot be read as of a time: it has no delete tracker"),
        "{stderr}"
    );

    let out = show(&db, &["posts", "1", "--at", "yesterday"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(
        text(&out.stderr).contains("RFC 3339"),
        "{}",
        text(&out.stderr)
    );
}
