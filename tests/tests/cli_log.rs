//! `pghistory-diesel log` against a live database: the human and JSON formats (insta
//! snapshots, with the times and context ids, which change on every run, replaced), the
//! filters, and its errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use diesel::connection::SimpleConnection;
use pghistory_diesel_tests::TestDb;
use serde_json::Value;

fn schema_rs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/schema.rs")
}

fn log(db: &TestDb, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_rs();
    Command::new(pghistory_diesel_tests::cli_binary())
        .current_dir(dir.path())
        .env_remove("DIESEL_CONFIG_FILE")
        .env("DATABASE_URL", &db.url)
        .env_remove("NO_COLOR")
        .arg("log")
        .args(["--schema", schema.to_str().unwrap()])
        .args(args)
        .output()
        .expect("run pghistory-diesel")
}

fn stdout(db: &TestDb, args: &[&str]) -> String {
    let out = log(db, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Post 1: inserted without context, renamed by user 42, deleted by user 7; a note by
/// user 7; each in its own transaction.
fn fixture() -> TestDb {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    // One message per transaction: transactions of one multi-statement message share its
    // start time, and so their events one timestamp.
    for sql in [
        "INSERT INTO posts (title, score) VALUES ('first', 1);",
        "BEGIN;
         SELECT pghistory_attach_context(NULL, '{\"user\": 42, \"path\": \"/posts/1\"}', true);
         UPDATE posts SET title = 'second', score = 2 WHERE id = 1;
         COMMIT;",
        "BEGIN;
         SELECT pghistory_attach_context(NULL, '{\"user\": 7}', true);
         INSERT INTO notes (text) VALUES ('a note');
         DELETE FROM posts WHERE id = 1;
         COMMIT;",
    ] {
        conn.batch_execute(sql).unwrap();
    }
    db
}

/// The human format with each line's leading time replaced.
fn without_times(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once("  ") {
            Some((time, rest)) if !line.starts_with(' ') => {
                assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
                format!("<time>  {rest}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect()
}

#[test]
fn an_objects_history_in_the_human_format() {
    let db = fixture();
    let text = stdout(&db, &["posts", "1", "--oldest-first"]);
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
    insta::assert_snapshot!("log_post_oldest_first", without_times(&text));
    let newest = stdout(&db, &["public.posts", "1"]);
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    lines.reverse();
    let newest_heads: Vec<&str> = newest.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(newest_heads, lines, "newest first by default");
}

#[test]
fn every_table_as_json_lines() {
    let db = fixture();
    let text = stdout(&db, &["--json", "--oldest-first"]);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            assert!(chrono::DateTime::parse_from_rfc3339(v["time"].as_str().unwrap()).is_ok());
            v["time"] = "<time>".into();
            if !v["context_id"].is_null() {
                v["context_id"] = "<uuid>".into();
            }
            v
        })
        .collect();
    assert_eq!(lines.len(), 4);
    insta::assert_snapshot!(
        "log_all_json",
        lines.iter().map(|v| format!("{v}\n")).collect::<String>()
    );
}

#[test]
fn filters_narrow_the_listing() {
    let db = fixture();
    let count = |args: &[&str]| {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        stdout(&db, &all).lines().count()
    };
    assert_eq!(count(&[]), 4);
    assert_eq!(count(&["--where", "user=7"]), 2);
    assert_eq!(
        count(&["--where", "user=42", "--where", "path=/posts/1"]),
        1
    );
    assert_eq!(
        count(&["--where", "user=\"7\""]),
        0,
        "a quoted number is a string"
    );
    assert_eq!(count(&["--label", "update", "--label", "delete"]), 2);
    assert_eq!(count(&["notes"]), 1);
    assert_eq!(count(&["--limit", "3"]), 3);
    assert_eq!(count(&["--since", "2999-01-01"]), 0);
    assert_eq!(count(&["--until", "2000-01-01T00:00:00Z"]), 0);
    let scope: String = {
        let text = stdout(&db, &["--json", "--where", "user=7", "--limit", "1"]);
        let v: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        // A context id of a new scope is its scope id.
        v["context_id"].as_str().unwrap().to_owned()
    };
    assert_eq!(count(&["--context", &scope]), 2);
}

#[test]
fn an_unknown_table_or_a_missing_database_is_an_error() {
    let db = fixture();
    let out = log(&db, &["nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("schema.rs tracks no table `nope`; tracked: public.posts"),
        "{err}"
    );

    let out = log(&db, &["posts", "not-a-number"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reading the history failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(pghistory_diesel_tests::cli_binary())
        .current_dir(dir.path())
        .env_remove("DIESEL_CONFIG_FILE")
        .env_remove("DATABASE_URL")
        .args(["log", "--schema", schema_rs().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database to read"));
}
