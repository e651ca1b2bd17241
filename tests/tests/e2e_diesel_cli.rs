//! End to end with the real `diesel` CLI: a Diesel project in a temporary directory gets
//! its migrations from `pghistory-diesel setup` and `generate`, applies them with
//! `diesel migration run`, writes rows with raw SQL (as psql would), and reverts every
//! migration with `diesel migration revert` until nothing of ours is left.
//!
//! Needs `DATABASE_URL` (a server where it may create a database) and the diesel CLI on
//! PATH or in `$HOME/.cargo/bin`; `scripts/test` provides both.
//!
//! The scenarios are split into steps, one `#[test]` each, so that one failure does not
//! hide the steps after it: every step starts from a fresh project and database, brought
//! to the step's starting point by the stage functions below (`generated`, `migrated`,
//! `upgraded`, ...), which only check that each command succeeded.
//!
//! `pghistory-diesel` is another package's binary, so `CARGO_BIN_EXE_*` does not exist
//! here; [`pghistory_diesel_bin`] asks cargo to build it and uses the path cargo reports
//! (or `PGHISTORY_DIESEL_BIN`, when set, to test a binary built elsewhere).

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

use pghistory_diesel_tests::cli_binary as pghistory_diesel_bin;

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
        Command::new(pghistory_diesel_bin())
            .args(args)
            .env_remove("DIESEL_CONFIG_FILE")
            .env_remove("MIGRATION_DIRECTORY")
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

const APP_TABLES_UP: &str = "CREATE TABLE posts (\n    id integer PRIMARY KEY,\n    title text NOT NULL,\n    body text,\n    score integer NOT NULL\n);\n\
     CREATE TABLE comments (\n    id integer PRIMARY KEY,\n    post_id integer NOT NULL REFERENCES posts (id),\n    text text NOT NULL\n);\n";

/// The columns of `posts_events` before the upgrade.
const POST_EVENT_COLUMNS: [&str; 9] = [
    "pgh_id",
    "pgh_created_at",
    "pgh_obj_id",
    "pgh_context_id",
    "pgh_label",
    "id",
    "title",
    "body",
    "score",
];

/// Stage 1: the app's migration creating posts and comments; nothing of ours yet.
fn with_app_tables() -> Project {
    let project = Project::new(SCHEMA);
    project.app_migration(
        "2020-01-01-000000_create_posts",
        APP_TABLES_UP,
        "DROP TABLE comments;\nDROP TABLE posts;\n",
    );
    project
}

/// Stage 2: setup and generate (default version) have written their migrations; returns
/// the tracking migration's folder name.
fn generated() -> (Project, String) {
    let project = with_app_tables();
    expect_ok(&project.ours(&["setup"]), "pghistory-diesel setup");
    expect_ok(&project.ours(&["generate"]), "pghistory-diesel generate");
    let tracking = project
        .folder_names()
        .into_iter()
        .find(|f| f.ends_with("_pghistory_posts"))
        .expect("generate wrote the tracking migration");
    (project, tracking)
}

/// Stage 3: `diesel migration run` applied the three migrations.
fn migrated() -> (Project, PgConnection, String) {
    let (project, tracking) = generated();
    let conn = project.db.conn();
    expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run",
    );
    (project, conn, tracking)
}

/// The schema with `published` added to posts.
fn schema_with_published() -> String {
    SCHEMA.replace(
        "        score -> Int4,\n",
        "        score -> Int4,\n        published -> Bool,\n",
    )
}

/// The app's migration adding `published`, as the user writes it after editing schema.rs.
fn add_published(project: &Project) {
    project.set_schema(&schema_with_published());
    project.app_migration(
        "2100-01-01-000000_add_posts_published",
        "ALTER TABLE posts ADD COLUMN published boolean NOT NULL DEFAULT false;\n",
        "ALTER TABLE posts DROP COLUMN published;\n",
    );
}

/// Stage 4: posts gained `published`; the upgrade migration `2100-01-01-000001` is applied.
fn upgraded() -> (Project, PgConnection, String) {
    let (project, conn, tracking) = migrated();
    add_published(&project);
    expect_ok(
        &project.ours(&["generate", "--version", "2100-01-01-000001"]),
        "pghistory-diesel generate (upgrade)",
    );
    expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run (upgrade)",
    );
    (project, conn, tracking)
}

/// Adds the table `order` to schema.rs and the app's migration creating it.
fn add_order(project: &Project) {
    let mut schema = project.schema();
    schema.push_str(ORDER_TABLE);
    project.set_schema(&schema);
    project.app_migration(
        "2100-01-02-000000_create_order",
        "CREATE TABLE \"order\" (id bigint PRIMARY KEY, \"user\" text NOT NULL, total integer);\n",
        "DROP TABLE \"order\";\n",
    );
}

/// Stage 5: the table `order` is tracked too (migration `2100-01-02-000001`, applied).
fn with_order() -> (Project, PgConnection, String) {
    let (project, conn, tracking) = upgraded();
    add_order(&project);
    expect_ok(
        &project.ours(&["generate", "--version", "2100-01-02-000001"]),
        "pghistory-diesel generate (order)",
    );
    expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run (order)",
    );
    (project, conn, tracking)
}

#[test]
fn setup_and_generate_write_the_setup_and_tracking_migrations() {
    let project = with_app_tables();
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
    let tracking = &folders[2];
    let (version, name) = tracking.split_once('_').unwrap();
    assert!(
        is_diesel_version(version),
        "default version is a timestamp: {tracking}"
    );
    assert_eq!(name, "pghistory_posts");
    assert!(out.contains(tracking.as_str()), "{out}");
    let metadata = fs::read_to_string(
        project
            .path("migrations")
            .join(tracking)
            .join("metadata.toml"),
    )
    .unwrap();
    assert!(metadata.contains("run_in_transaction = true"), "{metadata}");
}

#[test]
fn diesel_migration_run_applies_them_and_leaves_schema_rs_alone() {
    let (project, tracking) = generated();
    let mut conn = project.db.conn();
    let out = expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run",
    );
    for folder in [
        "00000000000001_pghistory_setup",
        "2020-01-01-000000_create_posts",
        &tracking,
    ] {
        assert!(out.contains(folder), "{folder} not run:\n{out}");
    }
    assert_eq!(applied(&mut conn).len(), 3);
    assert_eq!(
        project.schema(),
        SCHEMA,
        "diesel must not rewrite schema.rs"
    );
    assert_eq!(columns_of(&mut conn, "posts_events"), POST_EVENT_COLUMNS);
    assert!(
        !exists(&mut conn, "comments_events"),
        "comments is not tracked"
    );
}

#[test]
fn diesel_migration_redo_reinstalls_the_triggers() {
    let (project, mut conn, tracking) = migrated();
    let out = expect_ok(
        &project.diesel(&["migration", "redo"]),
        "diesel migration redo",
    );
    assert!(out.contains(&tracking), "{out}");
    assert_eq!(
        triggers_on(&mut conn, "posts"),
        [
            "pghistory_delete",
            "pghistory_insert",
            "pghistory_update",
            "pghistory_update_unchanged"
        ]
    );
}

#[test]
fn writes_typed_as_in_psql_record_exactly_their_events() {
    let (_project, mut conn, _) = migrated();
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
}

#[test]
fn generate_with_nothing_changed_writes_nothing_and_check_passes() {
    let (project, _conn, _) = migrated();
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
}

#[test]
fn a_new_column_is_noticed_by_check_and_installed_by_an_upgrade() {
    let (project, mut conn, _) = migrated();
    execute(
        &mut conn,
        "INSERT INTO posts (id, title, score) VALUES (1, 'first', 10), (2, 'second', 20)",
    );
    add_published(&project);
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
        ["(update,1,first,,10,t)"]
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
        2,
        "events written before the upgrade keep NULL in the new column"
    );
}

#[test]
fn keyword_table_and_column_names_run_through_the_real_cli() {
    let (project, mut conn, _) = upgraded();
    add_order(&project);
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
}

#[test]
fn reverting_every_migration_newest_first_leaves_nothing_of_ours() {
    let (project, mut conn, tracking) = with_order();
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
    assert_eq!(columns_of(&mut conn, "posts_events"), POST_EVENT_COLUMNS);
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

/// The columns read from `app.accounts_events` and `history.notes_events`.
const ACCOUNT_COLUMNS: &str = "pgh_label, pgh_obj_id, handle, email, balance";
const NOTE_COLUMNS: &str = "pgh_label, pgh_obj_id, pgh_context_id IS NOT NULL, pgh_context, text";

/// The schemas scenario, migrated: the app's tables, setup and tracking
/// (`2020-01-02-000000_pghistory_tracking`) applied.
fn schemas_migrated() -> (Project, PgConnection) {
    let project = Project::new(SCHEMAS_SCHEMA);
    project.app_migration(
        "2020-01-01-000000_create_tables",
        "CREATE SCHEMA app;\n\
         CREATE TABLE app.accounts (handle text PRIMARY KEY, email text, balance bigint NOT NULL);\n\
         CREATE TABLE notes (id integer PRIMARY KEY, text text NOT NULL);\n",
        "DROP TABLE notes;\nDROP TABLE app.accounts;\nDROP SCHEMA app;\n",
    );
    let conn = project.db.conn();
    expect_ok(&project.ours(&["setup"]), "pghistory-diesel setup");
    let out = expect_ok(
        &project.ours(&["generate", "--version", "2020-01-02-000000"]),
        "pghistory-diesel generate",
    );
    assert!(
        out.contains("2020-01-02-000000_pghistory_tracking"),
        "one migration for both tables: {out}"
    );
    expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run",
    );
    (project, conn)
}

/// schema.rs without notes; the accounts table comes first in it.
fn accounts_only() -> &'static str {
    let accounts = SCHEMAS_SCHEMA
        .split("\n\n")
        .next()
        .expect("the accounts table comes first");
    assert!(accounts.contains("app.accounts") && !accounts.contains("notes"));
    accounts
}

/// The schemas scenario with notes untracked by `2020-01-03-000000_pghistory_notes`,
/// applied.
fn notes_untracked() -> (Project, PgConnection) {
    let (project, conn) = schemas_migrated();
    project.set_schema(accounts_only());
    expect_ok(
        &project.ours(&["generate", "--version", "2020-01-03-000000"]),
        "pghistory-diesel generate (untrack notes)",
    );
    expect_ok(
        &project.diesel(&["migration", "run"]),
        "diesel migration run (untrack)",
    );
    (project, conn)
}

#[test]
fn schema_qualified_tables_and_an_events_schema_are_created() {
    let (_project, mut conn) = schemas_migrated();
    assert!(
        schema_exists(&mut conn, "history"),
        "the events schema was created"
    );
    assert!(exists(&mut conn, "app.accounts_events"));
    assert!(exists(&mut conn, "history.notes_events"));
}

#[test]
fn default_trackers_record_inserts_and_updates_but_not_deletes() {
    let (_project, mut conn) = schemas_migrated();
    assert_eq!(
        events_written_by(
            &mut conn,
            "INSERT INTO app.accounts VALUES ('ann', NULL, 10), ('bob', 'bob@example.com', 20)",
            "app.accounts_events",
            ACCOUNT_COLUMNS,
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
            ACCOUNT_COLUMNS,
        ),
        ["(update,bob,bob,bob@example.com,25)"]
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "DELETE FROM app.accounts",
            "app.accounts_events",
            ACCOUNT_COLUMNS
        ),
        Vec::<String>::new(),
        "no delete tracker by default"
    );
}

#[test]
fn json_context_copies_the_metadata_in_force_onto_the_event() {
    let (_project, mut conn) = schemas_migrated();
    execute(
        &mut conn,
        r#"SELECT pghistory_attach_context(NULL, '{"user": "ann"}'::jsonb, false)"#,
    );
    assert_eq!(
        events_written_by(
            &mut conn,
            "INSERT INTO notes VALUES (1, 'hello')",
            "history.notes_events",
            NOTE_COLUMNS,
        ),
        [r#"(insert,1,t,"{""user"": ""ann""}",hello)"#]
    );
    execute(&mut conn, "SELECT pghistory_detach_context(false)");
    assert_eq!(
        events_written_by(
            &mut conn,
            "DELETE FROM notes",
            "history.notes_events",
            NOTE_COLUMNS
        ),
        ["(delete,1,f,,hello)"]
    );
}

#[test]
fn untracking_drops_the_triggers_and_keeps_the_history() {
    let (project, mut conn) = schemas_migrated();
    execute(&mut conn, "INSERT INTO notes VALUES (1, 'tracked')");
    project.set_schema(accounts_only());
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
            NOTE_COLUMNS
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM history.notes_events"),
        1,
        "the history of notes is kept"
    );
}

#[test]
fn reverting_the_untracking_brings_the_triggers_back() {
    let (project, mut conn) = notes_untracked();
    execute(&mut conn, "INSERT INTO notes VALUES (2, 'untracked')");
    revert_one(&project, &mut conn, "2020-01-03-000000_pghistory_notes");
    assert_eq!(
        events_written_by(
            &mut conn,
            "DELETE FROM notes",
            "history.notes_events",
            NOTE_COLUMNS
        ),
        ["(delete,2,f,,untracked)"]
    );
}

#[test]
fn revert_all_leaves_nothing_of_ours_not_even_the_events_schema() {
    let (project, mut conn) = notes_untracked();
    assert_eq!(applied(&mut conn).len(), 4, "the untracking included");
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
