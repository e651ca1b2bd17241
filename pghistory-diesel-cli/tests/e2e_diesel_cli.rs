//! End to end with the real `diesel` CLI: a Diesel project in a temporary directory gets
//! its migrations from `pghistory-diesel setup` and `generate`, applies them with
//! `diesel migration run`, writes rows with raw SQL (as psql would), and reverts every
//! migration with `diesel migration revert` until nothing of ours is left.
//!
//! Needs `DATABASE_URL` (a server where it may create a database) and the diesel CLI on
//! PATH or in `$HOME/.cargo/bin`; `scripts/test` provides both.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// The issue's example, exactly as a user writes it.
const SCHEMA: &str = r#"// src/schema.rs: owned by hand, see diesel.toml.
pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, update, delete))]
    posts (id) {
        id -> Int4,
        title -> Text,
        body -> Nullable<Text>,
        score -> Int4,
    }
}

diesel::table! {
    comments (id) {
        id -> Int4,
        post_id -> Int4,
        text -> Text,
    }
}
"#;

/// A second tracked table whose table and column names are SQL keywords.
const ORDER_TABLE: &str = r#"
pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, update, delete))]
    order (id) {
        id -> Int8,
        user -> Text,
        total -> Nullable<Int4>,
    }
}
"#;

/// No `[print_schema] file`: with one, `diesel migration run` regenerates that file from
/// the database after every run, which would replace our `tracked_table!` declarations
/// with plain `table!`s (and add the events tables as if they were the app's own).
const DIESEL_TOML: &str = r#"# src/schema.rs is written by hand (tracked_table! declarations), so there is no
# [print_schema] section: with `file = "src/schema.rs"`, `diesel migration run` would
# overwrite it with what `diesel print-schema` prints.
[migrations_directory]
dir = "migrations"
"#;

const CARGO_TOML: &str = r#"[package]
name = "e2e-app"
version = "0.1.0"
edition = "2021"
"#;

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    t: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A database of its own, dropped (even when the test fails): the integration tests'
/// `TestDb`, created empty; the real diesel CLI migrates it.
use pghistory_diesel_tests::TestDb as Database;

/// The real diesel CLI: on PATH, else where `cargo install` puts it.
fn diesel_cli() -> PathBuf {
    let exe = format!("diesel{}", std::env::consts::EXE_SUFFIX);
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"));
    path_dirs
        .into_iter()
        .chain(cargo_bin)
        .map(|dir| dir.join(&exe))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the diesel CLI was not found on PATH or in $HOME/.cargo/bin; \
                 install it with `bash scripts/install-diesel-cli` (scripts/test does this)"
            )
        })
}

/// A Diesel project in a temporary directory, with its own database.
struct Project {
    dir: tempfile::TempDir,
    db: Database,
    diesel: PathBuf,
}

impl Project {
    /// A project whose schema.rs is `schema`, with no migrations yet.
    fn new(schema: &str) -> Project {
        let dir = tempfile::tempdir().expect("temporary directory");
        fs::write(dir.path().join("Cargo.toml"), CARGO_TOML).unwrap();
        fs::write(dir.path().join("diesel.toml"), DIESEL_TOML).unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        fs::write(dir.path().join("src/schema.rs"), schema).unwrap();
        Project {
            dir,
            db: Database::empty(),
            diesel: diesel_cli(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn app_migration(&self, folder: &str, up: &str, down: &str) {
        let dir = self.path("migrations").join(folder);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("up.sql"), up).unwrap();
        fs::write(dir.join("down.sql"), down).unwrap();
    }

    fn schema(&self) -> String {
        fs::read_to_string(self.path("src/schema.rs")).unwrap()
    }

    fn set_schema(&self, text: &str) {
        fs::write(self.path("src/schema.rs"), text).unwrap();
    }

    /// Every migration folder, sorted, with its files' contents.
    fn migrations(&self) -> Vec<(String, Vec<(String, String)>)> {
        let mut out: Vec<_> = fs::read_dir(self.path("migrations"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let mut files: Vec<_> = fs::read_dir(e.path())
                    .unwrap()
                    .map(|f| {
                        let f = f.unwrap();
                        (
                            f.file_name().to_string_lossy().into_owned(),
                            fs::read_to_string(f.path()).unwrap(),
                        )
                    })
                    .collect();
                files.sort();
                (e.file_name().to_string_lossy().into_owned(), files)
            })
            .collect();
        out.sort();
        out
    }

    fn folder_names(&self) -> Vec<String> {
        self.migrations()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// Runs `pghistory-diesel` in the project directory.
    fn ours(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pghistory-diesel"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run pghistory-diesel")
    }

    /// Runs the real `diesel` CLI in the project directory against the project's database.
    fn diesel(&self, args: &[&str]) -> Output {
        Command::new(&self.diesel)
            .args(args)
            .arg("--database-url")
            .arg(&self.db.url)
            .env_remove("DATABASE_URL")
            .current_dir(self.dir.path())
            .output()
            .expect("run diesel")
    }
}

/// Asserts the command exited with `code` and returns its stdout and stderr.
fn expect_code(out: &Output, code: i32, what: &str) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "`{what}` exited with {:?}, expected {code}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

fn expect_ok(out: &Output, what: &str) -> String {
    expect_code(out, 0, what).0
}

fn execute(conn: &mut PgConnection, sql: &str) -> usize {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Rows of a query selecting one text column named `t`.
fn texts(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .load::<TextRow>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r.t)
        .collect()
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<CountRow>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

/// Runs `statement` and returns the events it wrote to `events`, each as the row
/// `(columns)` in Postgres' text form, ordered by object id.
fn events_written_by(
    conn: &mut PgConnection,
    statement: &str,
    events: &str,
    columns: &str,
) -> Vec<String> {
    let before = count(
        conn,
        &format!("SELECT COALESCE(max(pgh_id), 0) AS n FROM {events}"),
    );
    execute(conn, statement);
    diesel::sql_query(format!(
        "SELECT ROW({columns})::text AS t FROM {events} WHERE pgh_id > $1 ORDER BY pgh_obj_id, pgh_id"
    ))
    .bind::<BigInt, _>(before)
    .load::<TextRow>(conn)
    .unwrap_or_else(|e| panic!("events of {statement}: {e}"))
    .into_iter()
    .map(|r| r.t)
    .collect()
}

/// Versions in diesel's bookkeeping table, oldest first.
fn applied(conn: &mut PgConnection) -> Vec<String> {
    texts(
        conn,
        "SELECT version::text AS t FROM __diesel_schema_migrations ORDER BY version",
    )
}

/// Tables, functions and triggers of ours (names `pgh%`, which covers `pghistory%`, and
/// `%_events`), outside the system schemas.
fn our_objects(conn: &mut PgConnection) -> Vec<String> {
    texts(
        conn,
        r"SELECT 'relation ' || n.nspname || '.' || c.relname AS t
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           WHERE (c.relname LIKE 'pgh%' OR c.relname LIKE '%\_events')
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
          UNION ALL
          SELECT 'function ' || n.nspname || '.' || p.proname
            FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
           WHERE p.proname LIKE 'pgh%' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          UNION ALL
          SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass::text
            FROM pg_catalog.pg_trigger t
           WHERE NOT t.tgisinternal AND t.tgname LIKE 'pgh%'
          ORDER BY 1",
    )
}

/// Our triggers on one table, by name.
fn triggers_on(conn: &mut PgConnection, table: &str) -> Vec<String> {
    diesel::sql_query(
        "SELECT tgname::text AS t FROM pg_catalog.pg_trigger \
         WHERE tgrelid = pg_catalog.to_regclass($1) AND NOT tgisinternal ORDER BY tgname",
    )
    .bind::<Text, _>(table)
    .load::<TextRow>(conn)
    .unwrap()
    .into_iter()
    .map(|r| r.t)
    .collect()
}

/// The columns of a table, in order.
fn columns_of(conn: &mut PgConnection, table: &str) -> Vec<String> {
    diesel::sql_query(
        "SELECT attname::text AS t FROM pg_catalog.pg_attribute \
         WHERE attrelid = pg_catalog.to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .bind::<Text, _>(table)
    .load::<TextRow>(conn)
    .unwrap()
    .into_iter()
    .map(|r| r.t)
    .collect()
}

fn exists(conn: &mut PgConnection, table: &str) -> bool {
    diesel::sql_query("SELECT COALESCE(pg_catalog.to_regclass($1)::text, '') AS t")
        .bind::<Text, _>(table)
        .get_result::<TextRow>(conn)
        .map(|r| !r.t.is_empty())
        .unwrap()
}

/// `diesel migration revert` once, checking which migration it rolled back.
fn revert_one(project: &Project, conn: &mut PgConnection, folder: &str) {
    let before = applied(conn).len();
    let out = expect_ok(
        &project.diesel(&["migration", "revert"]),
        "diesel migration revert",
    );
    assert!(
        out.contains(folder),
        "expected {folder} to be reverted:\n{out}"
    );
    assert_eq!(applied(conn).len(), before - 1, "one migration reverted");
}

fn is_diesel_version(v: &str) -> bool {
    // YYYY-MM-DD-HHMMSS, as `diesel migration generate` names folders.
    let b = v.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 | 10 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

const POST_COLUMNS: &str = "pgh_label, pgh_obj_id, title, body, score";
const POST_COLUMNS_V2: &str = "pgh_label, pgh_obj_id, title, body, score, published";
const ORDER_COLUMNS: &str = r#"pgh_label, pgh_obj_id, "user", total"#;

#[test]
fn the_real_diesel_cli_applies_upgrades_redoes_and_reverts_our_migrations() {
    let project = Project::new(SCHEMA);
    project.app_migration(
        "2020-01-01-000000_create_posts",
        "CREATE TABLE posts (\n    id integer PRIMARY KEY,\n    title text NOT NULL,\n    body text,\n    score integer NOT NULL\n);\n\
         CREATE TABLE comments (\n    id integer PRIMARY KEY,\n    post_id integer NOT NULL REFERENCES posts (id),\n    text text NOT NULL\n);\n",
        "DROP TABLE comments;\nDROP TABLE posts;\n",
    );
    let mut conn = project.db.conn();

    // setup + generate write the setup and tracking migrations next to the app's.
    let out = expect_ok(&project.ours(&["setup"]), "pghistory-diesel setup");
    assert!(out.contains("00000000000001_pghistory_setup"), "{out}");
    let out = expect_ok(&project.ours(&["setup"]), "pghistory-diesel setup (again)");
    assert!(out.contains("nothing written"), "{out}");
    let (_, err) = expect_code(
        &project.ours(&["generate", "--check"]),
        1,
        "generate --check before the first generate",
    );
    assert!(err.contains("posts"), "--check names the table: {err}");
    assert_eq!(project.folder_names().len(), 2, "--check writes nothing");
    let out = expect_ok(&project.ours(&["generate"]), "pghistory-diesel generate");
    let folders = project.folder_names();
    assert_eq!(
        folders.len(),
        3,
        "setup, app and tracking migrations: {folders:?}"
    );
    assert_eq!(folders[0], "00000000000001_pghistory_setup");
    assert_eq!(folders[1], "2020-01-01-000000_create_posts");
    let tracking = folders[2].clone();
    let (version, name) = tracking.split_once('_').unwrap();
    assert!(
        is_diesel_version(version),
        "default version is a timestamp: {tracking}"
    );
    assert_eq!(name, "pghistory_posts");
    assert!(out.contains(&tracking), "{out}");
    let metadata = fs::read_to_string(
        project
            .path("migrations")
            .join(&tracking)
            .join("metadata.toml"),
    )
    .unwrap();
    assert!(metadata.contains("run_in_transaction = true"), "{metadata}");

    // The real CLI applies all three and leaves schema.rs alone.
    let out = expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run",
    );
    for folder in &folders {
        assert!(out.contains(folder.as_str()), "{folder} not run:\n{out}");
    }
    assert_eq!(applied(&mut conn).len(), 3);
    assert_eq!(
        project.schema(),
        SCHEMA,
        "diesel must not rewrite schema.rs"
    );
    assert_eq!(
        columns_of(&mut conn, "posts_events"),
        [
            "pgh_id",
            "pgh_created_at",
            "pgh_obj_id",
            "pgh_context_id",
            "pgh_label",
            "id",
            "title",
            "body",
            "score"
        ]
    );
    assert!(
        !exists(&mut conn, "comments_events"),
        "comments is not tracked"
    );

    // redo = down.sql then up.sql of our tracking migration.
    let out = expect_ok(
        &project.diesel(&["migration", "redo"]),
        "diesel migration redo",
    );
    assert!(out.contains(&tracking), "{out}");
    assert_eq!(
        triggers_on(&mut conn, "posts"),
        ["pghistory_delete", "pghistory_insert", "pghistory_update"]
    );

    // Writes as psql would type them: every statement's events, exactly.
    assert_eq!(
        events_written_by(
            &mut conn,
            "INSERT INTO posts (id, title, body, score) VALUES (1, 'first', NULL, 10), (2, 'second', 'hello, world', 20), (3, 'third', NULL, 30)",
            "posts_events",
            POST_COLUMNS,
        ),
        [
            "(insert,1,first,,10)",
            r#"(insert,2,second,"hello, world",20)"#,
            "(insert,3,third,,30)"
        ]
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "UPDATE posts SET score = score + 1",
            "posts_events",
            POST_COLUMNS
        ),
        [
            "(update,1,first,,11)",
            r#"(update,2,second,"hello, world",21)"#,
            "(update,3,third,,31)"
        ]
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "DELETE FROM posts WHERE id = 2",
            "posts_events",
            POST_COLUMNS
        ),
        [r#"(delete,2,second,"hello, world",21)"#]
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "UPDATE posts SET title = title",
            "posts_events",
            POST_COLUMNS
        ),
        Vec::<String>::new(),
        "a no-op update writes nothing"
    );
    execute(
        &mut conn,
        "INSERT INTO comments (id, post_id, text) VALUES (1, 1, 'nice')",
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM posts_events"),
        7
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM posts_events WHERE pgh_context_id IS NOT NULL"
        ),
        0,
        "no context attached"
    );

    // Nothing changed: generate writes nothing and says so; --check passes.
    let before = project.migrations();
    let out = expect_ok(
        &project.ours(&["generate"]),
        "pghistory-diesel generate (again)",
    );
    assert!(out.contains("nothing written"), "{out}");
    assert_eq!(project.migrations(), before, "generate wrote nothing");
    expect_ok(
        &project.ours(&["generate", "--check"]),
        "pghistory-diesel generate --check",
    );

    // A new column: schema.rs and an app migration gain it; --check notices, generate
    // writes an upgrade, diesel applies it and new events carry the column.
    project.set_schema(&SCHEMA.replace(
        "        score -> Int4,\n",
        "        score -> Int4,\n        published -> Bool,\n",
    ));
    assert_ne!(project.schema(), SCHEMA);
    project.app_migration(
        "2100-01-01-000000_add_posts_published",
        "ALTER TABLE posts ADD COLUMN published boolean NOT NULL DEFAULT false;\n",
        "ALTER TABLE posts DROP COLUMN published;\n",
    );
    let before = project.migrations();
    let (_, err) = expect_code(
        &project.ours(&["generate", "--check"]),
        1,
        "generate --check after a schema change",
    );
    assert!(err.contains("posts"), "--check names the table: {err}");
    assert!(
        err.contains("pghistory-diesel generate"),
        "--check names the fix: {err}"
    );
    assert_eq!(project.migrations(), before, "--check writes nothing");
    let out = expect_ok(
        &project.ours(&["generate", "--version", "2100-01-01-000001"]),
        "pghistory-diesel generate (upgrade)",
    );
    assert!(out.contains("2100-01-01-000001_pghistory_posts"), "{out}");
    expect_ok(
        &project.ours(&["generate", "--check"]),
        "generate --check after the upgrade",
    );
    let out = expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run (upgrade)",
    );
    assert!(
        out.contains("2100-01-01-000000_add_posts_published"),
        "{out}"
    );
    assert!(out.contains("2100-01-01-000001_pghistory_posts"), "{out}");
    let out = expect_ok(
        &project.diesel(&["migration", "redo"]),
        "diesel migration redo (upgrade)",
    );
    assert!(out.contains("2100-01-01-000001_pghistory_posts"), "{out}");
    assert_eq!(
        columns_of(&mut conn, "posts_events")
            .last()
            .map(String::as_str),
        Some("published")
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "UPDATE posts SET published = true WHERE id = 1",
            "posts_events",
            POST_COLUMNS_V2
        ),
        ["(update,1,first,,11,t)"]
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "INSERT INTO posts (id, title, score) VALUES (4, 'fourth', 40)",
            "posts_events",
            POST_COLUMNS_V2,
        ),
        ["(insert,4,fourth,,40,f)"]
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM posts_events WHERE published IS NULL"
        ),
        7,
        "events written before the upgrade keep NULL in the new column"
    );

    // A table named `order` with a column `user`: the real CLI runs our quoting.
    let mut schema = project.schema();
    schema.push_str(ORDER_TABLE);
    project.set_schema(&schema);
    project.app_migration(
        "2100-01-02-000000_create_order",
        "CREATE TABLE \"order\" (id bigint PRIMARY KEY, \"user\" text NOT NULL, total integer);\n",
        "DROP TABLE \"order\";\n",
    );
    let out = expect_ok(
        &project.ours(&["generate", "--version", "2100-01-02-000001"]),
        "pghistory-diesel generate (order)",
    );
    assert!(out.contains("2100-01-02-000001_pghistory_order"), "{out}");
    expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run (order)",
    );
    let out = expect_ok(
        &project.diesel(&["migration", "redo"]),
        "diesel migration redo (order)",
    );
    assert!(out.contains("2100-01-02-000001_pghistory_order"), "{out}");
    assert_eq!(
        events_written_by(
            &mut conn,
            r#"INSERT INTO "order" (id, "user", total) VALUES (1, 'alice', 5), (2, 'bob', NULL)"#,
            "order_events",
            ORDER_COLUMNS,
        ),
        ["(insert,1,alice,5)", "(insert,2,bob,)"]
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            r#"UPDATE "order" SET "user" = 'carol' WHERE id = 2"#,
            "order_events",
            ORDER_COLUMNS
        ),
        ["(update,2,carol,)"]
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            r#"DELETE FROM "order""#,
            "order_events",
            ORDER_COLUMNS
        ),
        ["(delete,1,alice,5)", "(delete,2,carol,)"]
    );
    expect_ok(
        &project.ours(&["generate", "--check"]),
        "generate --check with order",
    );

    // Revert everything, one migration at a time, newest first.
    assert!(
        !our_objects(&mut conn).is_empty(),
        "the catalog query finds our objects"
    );
    assert_eq!(applied(&mut conn).len(), 7);

    revert_one(&project, &mut conn, "2100-01-02-000001_pghistory_order");
    assert!(!exists(&mut conn, "order_events"));
    assert!(exists(&mut conn, "\"order\""), "the app's table stays");
    assert!(triggers_on(&mut conn, "\"order\"").is_empty());
    revert_one(&project, &mut conn, "2100-01-02-000000_create_order");

    // Reverting the upgrade restores the previous triggers and events table.
    revert_one(&project, &mut conn, "2100-01-01-000001_pghistory_posts");
    assert_eq!(
        columns_of(&mut conn, "posts_events"),
        [
            "pgh_id",
            "pgh_created_at",
            "pgh_obj_id",
            "pgh_context_id",
            "pgh_label",
            "id",
            "title",
            "body",
            "score"
        ]
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "INSERT INTO posts (id, title, score) VALUES (5, 'fifth', 50)",
            "posts_events",
            POST_COLUMNS,
        ),
        ["(insert,5,fifth,,50)"]
    );
    revert_one(&project, &mut conn, "2100-01-01-000000_add_posts_published");
    revert_one(&project, &mut conn, &tracking);
    assert!(!exists(&mut conn, "posts_events"));
    assert!(triggers_on(&mut conn, "posts").is_empty());
    revert_one(&project, &mut conn, "2020-01-01-000000_create_posts");
    revert_one(&project, &mut conn, "00000000000001_pghistory_setup");

    assert!(applied(&mut conn).is_empty(), "nothing applied any more");
    assert_eq!(
        our_objects(&mut conn),
        Vec::<String>::new(),
        "nothing of ours remains"
    );
    for table in ["posts", "comments", "\"order\""] {
        assert!(!exists(&mut conn, table), "{table} was dropped");
    }
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relname NOT LIKE '\\_\\_diesel\\_schema\\_migrations%'"
        ),
        0,
        "only diesel's bookkeeping table is left in public"
    );
}

/// A schema-qualified table with a text key and the default trackers, and a table whose
/// events live in a schema of their own and carry the context metadata.
const SCHEMAS_SCHEMA: &str = r#"pghistory_diesel::tracked_table! {
    app.accounts (handle) {
        handle -> Text,
        email -> Nullable<Text>,
        balance -> Int8,
    }
}

pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, delete), schema = "history", context = json)]
    notes (id) {
        id -> Int4,
        text -> Text,
    }
}
"#;

fn schema_exists(conn: &mut PgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT count(*) AS n FROM pg_catalog.pg_namespace WHERE nspname = $1")
        .bind::<Text, _>(name)
        .get_result::<CountRow>(conn)
        .unwrap()
        .n
        == 1
}

#[test]
fn schemas_default_trackers_json_context_and_untracking_through_the_real_cli() {
    let project = Project::new(SCHEMAS_SCHEMA);
    project.app_migration(
        "2020-01-01-000000_create_tables",
        "CREATE SCHEMA app;\n\
         CREATE TABLE app.accounts (handle text PRIMARY KEY, email text, balance bigint NOT NULL);\n\
         CREATE TABLE notes (id integer PRIMARY KEY, text text NOT NULL);\n",
        "DROP TABLE notes;\nDROP TABLE app.accounts;\nDROP SCHEMA app;\n",
    );
    let mut conn = project.db.conn();
    expect_ok(&project.ours(&["setup"]), "pghistory-diesel setup");
    let out = expect_ok(
        &project.ours(&["generate", "--version", "2020-01-02-000000"]),
        "pghistory-diesel generate",
    );
    assert!(
        out.contains("2020-01-02-000000_pghistory_tracking"),
        "{out}"
    );
    expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run",
    );
    assert!(
        schema_exists(&mut conn, "history"),
        "the events schema was created"
    );
    assert!(exists(&mut conn, "app.accounts_events"));
    assert!(exists(&mut conn, "history.notes_events"));

    // Default trackers: insert and update, no delete.
    let accounts = "pgh_label, pgh_obj_id, handle, email, balance";
    assert_eq!(
        events_written_by(
            &mut conn,
            "INSERT INTO app.accounts VALUES ('ann', NULL, 10), ('bob', 'bob@example.com', 20)",
            "app.accounts_events",
            accounts,
        ),
        [
            "(insert,ann,ann,,10)",
            "(insert,bob,bob,bob@example.com,20)"
        ]
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "UPDATE app.accounts SET balance = balance + 5 WHERE handle = 'bob'",
            "app.accounts_events",
            accounts,
        ),
        ["(update,bob,bob,bob@example.com,25)"]
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "DELETE FROM app.accounts",
            "app.accounts_events",
            accounts
        ),
        Vec::<String>::new(),
        "no delete tracker by default"
    );

    // context = json: the metadata in force is copied onto the event.
    execute(
        &mut conn,
        r#"SELECT pghistory_attach_context(NULL, '{"user": "ann"}'::jsonb, false)"#,
    );
    let notes = "pgh_label, pgh_obj_id, pgh_context_id IS NOT NULL, pgh_context, text";
    assert_eq!(
        events_written_by(
            &mut conn,
            "INSERT INTO notes VALUES (1, 'hello')",
            "history.notes_events",
            notes,
        ),
        [r#"(insert,1,t,"{""user"": ""ann""}",hello)"#]
    );
    execute(&mut conn, "SELECT pghistory_detach_context(false)");
    assert_eq!(
        events_written_by(
            &mut conn,
            "DELETE FROM notes",
            "history.notes_events",
            notes
        ),
        ["(delete,1,f,,hello)"]
    );

    // Untracking notes: its triggers go, its history stays; reverting that brings the
    // triggers back.
    let accounts_only = SCHEMAS_SCHEMA
        .split("\n\n")
        .next()
        .expect("the accounts table comes first");
    assert!(accounts_only.contains("app.accounts") && !accounts_only.contains("notes"));
    project.set_schema(accounts_only);
    let out = expect_ok(
        &project.ours(&["generate", "--version", "2020-01-03-000000"]),
        "pghistory-diesel generate (untrack notes)",
    );
    assert!(out.contains("2020-01-03-000000_pghistory_notes"), "{out}");
    expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run (untrack)",
    );
    assert!(
        triggers_on(&mut conn, "notes").is_empty(),
        "no triggers on notes"
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "INSERT INTO notes VALUES (2, 'untracked')",
            "history.notes_events",
            notes
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM history.notes_events"),
        2,
        "the history of notes is kept"
    );
    revert_one(&project, &mut conn, "2020-01-03-000000_pghistory_notes");
    assert_eq!(
        events_written_by(
            &mut conn,
            "DELETE FROM notes",
            "history.notes_events",
            notes
        ),
        ["(delete,2,f,,untracked)"]
    );
    project.set_schema(SCHEMAS_SCHEMA);

    // revert --all: nothing of ours is left, the events schema included.
    assert_eq!(applied(&mut conn).len(), 3);
    expect_ok(
        &project.diesel(&["migration", "revert", "--all"]),
        "diesel migration revert --all",
    );
    assert!(applied(&mut conn).is_empty(), "nothing applied any more");
    assert_eq!(
        our_objects(&mut conn),
        Vec::<String>::new(),
        "nothing of ours remains"
    );
    assert!(
        !schema_exists(&mut conn, "history"),
        "the events schema was dropped"
    );
    assert!(
        !schema_exists(&mut conn, "app"),
        "the app's schema was dropped"
    );
}
