//! The plans PL/pgSQL caches for the trigger functions' statements stay linear and free of
//! JIT whichever statement planned them first (issue 13, item 3), read from the server's
//! own plans: `auto_explain` logs every nested statement a trigger runs, with the plan it
//! ran, to the client (`client_min_messages = log`), and `psql` prints those messages.
//!
//! Each session turns `jit` on with a threshold scaled down to the test's sizes (see
//! [`JIT_ABOVE_COST`]), so a statement of ours cached with a plan made for a large
//! statement, without our settings, would show a `JIT:` section; it runs its statements
//! in the order that would hurt: a small UPDATE first (a planner free to choose would take
//! a nested loop for two rows and keep it), then a large one; or a large one first (a plan
//! made for thousands of rows would carry JIT), then small ones.

use std::io::Write;
use std::process::{Command, Stdio};

use diesel::prelude::*;
use pghistory_diesel_tests::TestDb;

/// One statement's entry of the `auto_explain` log: its query text and its plan.
struct Logged {
    text: String,
}

impl Logged {
    /// Whether it is a statement of a trigger function (the events table it writes, or
    /// the transition tables it reads), not one of the session's own.
    fn is_ours(&self) -> bool {
        self.text.contains("posts_events") || self.text.contains("\"pgh_old\"")
    }
}

/// The session's `jit_above_cost`: the default (100,000) scaled down with the statements,
/// so that a plan made for the test's 20,000 rows is past it, as one made for millions of
/// rows is past the default, while a plan made for one row stays below it.
const JIT_ABOVE_COST: u32 = 300;

/// Runs `statements` in one `psql` session with `auto_explain` logging every nested
/// statement, and returns the logged entries. The script goes to `psql` on its standard
/// input, so each statement is a message of its own, as an application sends them.
fn explained_session(db: &TestDb, statements: &str) -> Vec<Logged> {
    let script = format!(
        "LOAD 'auto_explain';
         SET auto_explain.log_min_duration = 0;
         SET auto_explain.log_nested_statements = on;
         SET jit = on;
         SET jit_above_cost = {JIT_ABOVE_COST};
         SET client_min_messages = log;
         {statements}"
    );
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &db.url,
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run psql (the PostgreSQL client must be on PATH)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "psql failed: {stderr}");
    stderr
        .split("LOG:  duration:")
        .skip(1)
        .map(|entry| Logged {
            text: entry.to_owned(),
        })
        .collect()
}

fn jit_available(conn: &mut PgConnection) -> bool {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "pg_catalog.pg_jit_available()",
    ))
    .get_result(conn)
    .unwrap()
}

fn event_count(conn: &mut PgConnection, label: &str) -> i64 {
    use pghistory_diesel_tests::schema::posts_events::dsl::*;
    posts_events
        .filter(pgh_label.eq(label))
        .count()
        .get_result(conn)
        .unwrap()
}

/// Every statement of ours that ran: none with a merge join or JIT, and none but the
/// one-row branch's with a nested loop.
fn assert_linear_and_unjitted(entries: &[Logged], jit: bool) {
    let ours: Vec<&Logged> = entries.iter().filter(|e| e.is_ours()).collect();
    assert!(
        !ours.is_empty(),
        "auto_explain logged no statement of the trigger functions"
    );
    for entry in &ours {
        // The one-row branch cross-joins one old row with one new one: a nested loop of
        // 1 x 1, which only ever runs for a statement of at most one row.
        let one_row = entry.text.contains("CROSS JOIN \"pgh_new\"");
        assert!(
            (one_row || !entry.text.contains("Nested Loop")) && !entry.text.contains("Merge Join"),
            "a trigger statement ran a nested loop or merge join:\n{}",
            entry.text
        );
        if jit {
            assert!(
                !entry.text.contains("JIT:"),
                "a trigger statement was JIT-compiled:\n{}",
                entry.text
            );
        }
    }
}

#[test]
fn a_small_update_planning_first_leaves_a_hash_join_for_the_large_one() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let jit = jit_available(&mut conn);
    let entries = explained_session(
        &db,
        "INSERT INTO posts (id, title, score) SELECT g, 't' || g, 0 FROM generate_series(1, 20000) g;
         UPDATE posts SET title = title WHERE id <= 2;
         UPDATE posts SET score = CASE WHEN id = 1 THEN score ELSE score + 1 END;
         UPDATE posts SET score = score + 1 WHERE id <= 2;
         UPDATE posts SET title = title || 'x';",
    );
    assert_linear_and_unjitted(&entries, jit);
    // The two statements that left a row unchanged ran the pairing join of the bulk
    // branch, the large one with the plan the two-row one made: a hash join on the row
    // numbers, whatever size planned it.
    let joins: Vec<&Logged> = entries
        .iter()
        .filter(|e| e.is_ours() && e.text.contains("row_number"))
        .collect();
    assert!(joins.len() >= 2, "{} pairing joins logged", joins.len());
    assert!(
        joins.iter().all(|e| e.text.contains("Hash Join")),
        "every pairing is a hash join"
    );
    // And the events are all there: none for the two-row no-op, 19,999 score changes
    // (row 1 kept its score), 2 more, 20,000 renames.
    assert_eq!(event_count(&mut conn, "insert"), 20000);
    assert_eq!(event_count(&mut conn, "update"), 19999 + 2 + 20000);
}

#[test]
fn a_large_statement_planning_first_leaves_no_jit_for_the_small_ones() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let jit = jit_available(&mut conn);
    let entries = explained_session(
        &db,
        "INSERT INTO posts (id, title, score) SELECT g, 't' || g, 0 FROM generate_series(1, 20000) g;
         INSERT INTO posts (id, title, score) VALUES (20001, 'one', 0);
         UPDATE posts SET score = score + 1;
         UPDATE posts SET score = CASE WHEN id = 1 THEN score ELSE score + 1 END;
         UPDATE posts SET score = CASE WHEN id = 1 THEN score ELSE score + 1 END WHERE id <= 3;
         UPDATE posts SET score = score + 1 WHERE id <= 2;
         UPDATE posts SET score = score + 1 WHERE id = 1;
         DELETE FROM posts WHERE id > 10;
         DELETE FROM posts WHERE id = 1;",
    );
    assert_linear_and_unjitted(&entries, jit);
    if !jit {
        eprintln!(
            "note: this server has no JIT provider, so the JIT half of this test cannot fail here"
        );
    }
    assert_eq!(event_count(&mut conn, "insert"), 20001);
    // Every statement writes the rows it changed: the streamed ones all of theirs, the
    // paired ones all but row 1.
    assert_eq!(event_count(&mut conn, "update"), 20001 + 20000 + 2 + 2 + 1);
    assert_eq!(event_count(&mut conn, "delete"), 19991 + 1);
}

/// The bulk branch's planner settings are the trigger's own: the caller's values are back
/// once the statement is done, and after a failed statement too. (Each statement leaves
/// row 1 unchanged, so it is marked and takes the pairing branch that sets them.)
#[test]
fn the_bulk_branch_gives_the_callers_planner_settings_back() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    diesel::sql_query(
        "INSERT INTO posts (id, title, score) SELECT g, 't', 0 FROM generate_series(1, 50) g",
    )
    .execute(&mut conn)
    .unwrap();
    let settings = |conn: &mut PgConnection| -> String {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "current_setting('jit') || ',' || current_setting('enable_nestloop') || ',' || current_setting('enable_mergejoin')",
        ))
        .get_result(conn)
        .unwrap()
    };
    let before = settings(&mut conn);
    assert_eq!(before, "on,on,on");
    conn.transaction(|conn| {
        diesel::sql_query(
            "UPDATE posts SET score = CASE WHEN id = 1 THEN score ELSE score + 1 END",
        )
        .execute(conn)?;
        assert_eq!(
            settings(conn),
            before,
            "inside the transaction, after the UPDATE"
        );
        diesel::QueryResult::Ok(())
    })
    .unwrap();
    assert_eq!(settings(&mut conn), before);
    // A bulk statement failing inside the trigger, after it set the planner settings (the
    // events table refuses the rows): they go back with the failed (sub)transaction.
    diesel::sql_query(
        "ALTER TABLE posts_events ADD CONSTRAINT no_boom CHECK (title OPERATOR(pg_catalog.<>) 'boom')",
    )
    .execute(&mut conn)
    .unwrap();
    let failed: QueryResult<()> = conn.transaction(|conn| {
        diesel::sql_query("SET LOCAL enable_mergejoin = off").execute(conn)?;
        let inner: QueryResult<()> = conn.transaction(|conn| {
            diesel::sql_query(
                "UPDATE posts SET title = CASE WHEN id = 1 THEN title ELSE 'boom' END",
            )
            .execute(conn)?;
            Ok(())
        });
        let err = inner.expect_err("the events table refuses the rows");
        assert!(err.to_string().contains("no_boom"), "{err}");
        assert_eq!(
            settings(conn),
            "on,on,off",
            "after the savepoint's rollback"
        );
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(failed.is_err());
    assert_eq!(settings(&mut conn), before);
}
