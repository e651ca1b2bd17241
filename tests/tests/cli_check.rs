//! `pghistory-diesel check` against a live database: exit 0 when all is installed as
//! schema.rs declares, 1 and one line per drift (with its fix) when not, 2 on error. Its
//! lines are the runtime's findings, so the CLI and `check_all` agree.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use diesel::connection::SimpleConnection;
use pghistory_diesel::Tracked;
use pghistory_diesel_tests::schema::{accounts, documents, labels, notes, orders, posts};
use pghistory_diesel_tests::TestDb;

/// The schema the test database is migrated for.
fn schema_rs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/src/schema.rs")
}

fn check(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(pghistory_diesel_tests::cli_binary())
        .current_dir(dir.path())
        .env_remove("DIESEL_CONFIG_FILE")
        .env_remove("DATABASE_URL")
        .arg("check")
        .args(args)
        .output()
        .expect("run pghistory-diesel")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_clean_database_passes_with_exit_code_0() {
    let db = TestDb::migrated();
    let schema = schema_rs();
    let out = check(&[
        "--schema",
        schema.to_str().unwrap(),
        "--database-url",
        &db.url,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("installs all tracking declared (6 tables)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_drifted_database_prints_one_line_per_finding_and_exits_1() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute(
        "ALTER TABLE public.posts ENABLE REPLICA TRIGGER pghistory_update;
         ALTER TABLE public.posts RENAME COLUMN title TO headline;
         CREATE FUNCTION public.forget() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN DELETE FROM public.notes_events; RETURN NULL; END $$;
         CREATE TRIGGER forget AFTER INSERT ON public.notes_events
             FOR EACH STATEMENT EXECUTE FUNCTION public.forget();",
    )
    .unwrap();
    let schema = schema_rs();
    // DATABASE_URL serves when --database-url is not given.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(pghistory_diesel_tests::cli_binary())
        .current_dir(dir.path())
        .env_remove("DIESEL_CONFIG_FILE")
        .env("DATABASE_URL", &db.url)
        .args(["check", "--schema", schema.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();

    // The same findings as the runtime's, in the same words.
    let tables = [
        <posts::table as Tracked>::INFO,
        <orders::table as Tracked>::INFO,
        <accounts::table as Tracked>::INFO,
        <documents::table as Tracked>::INFO,
        <notes::table as Tracked>::INFO,
        <labels::table as Tracked>::INFO,
    ];
    let findings = pghistory_diesel::check::check_all(&mut conn, &tables).unwrap();
    let expected: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert_eq!(lines, expected);
    // The rename is two findings on `posts`, whose UPDATE trigger compares whole rows.
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("public.posts: trigger fires only in replica mode"));
    assert!(lines[0]
        .ends_with(r#"fix: `ALTER TABLE "public"."posts" ENABLE TRIGGER "pghistory_update"`"#));
    assert!(lines[1].contains(r#"missing (dropped or renamed): "public"."posts"."title""#));
    assert!(lines[2].contains(r#"column not declared in schema.rs, while the UPDATE trigger compares whole rows: "public"."posts"."headline""#));
    assert!(lines[3].contains("trigger not installed by pghistory-diesel: trigger forget on"));
    assert!(text(&out.stderr).contains("4 drift(s)"));
}

#[test]
fn without_a_database_url_it_fails_with_exit_code_2() {
    let schema = schema_rs();
    let out = check(&["--schema", schema.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no database to read: pass --database-url"),
        "{}",
        text(&out.stderr)
    );
    let out = check(&[
        "--schema",
        schema.to_str().unwrap(),
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot connect to the database"));
}
