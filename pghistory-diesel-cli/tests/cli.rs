//! The `pghistory-diesel` binary without a database: where it reads and writes, what it
//! says, and how it fails (exit code 2, naming the file and the fix).

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const SCHEMA: &str = r#"pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, update, delete))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}
"#;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pghistory-diesel"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run pghistory-diesel")
}

/// Exit code, stdout and stderr.
fn outcome(out: &Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn project(schema: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("src")).unwrap();
    fs::write(dir.path().join("src/schema.rs"), schema).unwrap();
    dir
}

fn folders(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

#[test]
fn the_migrations_directory_comes_from_diesel_toml() {
    let dir = project(SCHEMA);
    fs::write(
        dir.path().join("diesel.toml"),
        "[migrations_directory]\ndir = \"db/migrations\"\n",
    )
    .unwrap();
    let (code, _, err) = outcome(&run(dir.path(), &["setup"]));
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = outcome(&run(
        dir.path(),
        &["generate", "--version", "2020-01-02-000000"],
    ));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        folders(&dir.path().join("db/migrations")),
        [
            "00000000000001_pghistory_setup",
            "2020-01-02-000000_pghistory_posts"
        ]
    );
    assert!(!dir.path().join("migrations").exists());
    for file in ["up.sql", "down.sql", "metadata.toml"] {
        assert!(
            dir.path()
                .join("db/migrations/2020-01-02-000000_pghistory_posts")
                .join(file)
                .is_file(),
            "{file} written"
        );
    }
}

#[test]
fn explicit_paths_override_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("tables.rs"), SCHEMA).unwrap();
    let (code, out, err) = outcome(&run(
        dir.path(),
        &[
            "generate",
            "--schema",
            "tables.rs",
            "--migrations-dir",
            "mig",
            "--version",
            "2020-01-02-000000",
        ],
    ));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("track public.posts: events table public.posts_events and triggers"),
        "{out}"
    );
    assert!(
        err.contains("pghistory-diesel setup"),
        "warns that setup is missing: {err}"
    );
    assert_eq!(
        folders(&dir.path().join("mig")),
        ["2020-01-02-000000_pghistory_posts"]
    );
}

#[test]
fn an_invalid_tracked_table_is_reported_at_its_line_and_column() {
    let dir = project(
        "// schema\npghistory_diesel::tracked_table! {\n    #[pghistory(events(insert, upsert))]\n    posts (id) {\n        id -> Int4,\n    }\n}\n",
    );
    let (code, out, err) = outcome(&run(dir.path(), &["generate"]));
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("src/schema.rs:3:32: unknown event kind `upsert`"),
        "names file, line, column and the mistake: {err}"
    );
    assert!(!dir.path().join("migrations").exists(), "nothing written");
}

#[test]
fn a_schema_that_is_not_rust_is_reported() {
    let dir = project("pghistory_diesel::tracked_table! {\n");
    let (code, _, err) = outcome(&run(dir.path(), &["generate"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("src/schema.rs:"), "{err}");
}

#[test]
fn a_missing_schema_file_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = outcome(&run(dir.path(), &["generate"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("src/schema.rs"), "{err}");
}

#[test]
fn a_diesel_toml_that_is_not_toml_is_reported() {
    let dir = project(SCHEMA);
    fs::write(dir.path().join("diesel.toml"), "[migrations_directory\n").unwrap();
    let (code, _, err) = outcome(&run(dir.path(), &["setup"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("diesel.toml"), "{err}");
}

#[test]
fn an_edited_setup_migration_is_refused_not_overwritten() {
    let dir = project(SCHEMA);
    assert_eq!(run(dir.path(), &["setup"]).status.code(), Some(0));
    let up = dir
        .path()
        .join("migrations/00000000000001_pghistory_setup/up.sql");
    fs::write(&up, "-- edited\n").unwrap();
    let (code, _, err) = outcome(&run(dir.path(), &["setup"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("00000000000001_pghistory_setup"), "{err}");
    assert_eq!(
        fs::read_to_string(&up).unwrap(),
        "-- edited\n",
        "left alone"
    );
}

#[test]
fn unknown_commands_and_options_print_the_usage() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["frobnicate"][..],
        &["generate", "--nope"],
        &["setup", "--check"],
        &[],
    ] {
        let (code, _, err) = outcome(&run(dir.path(), args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("usage:"), "{args:?}: {err}");
    }
    let (code, out, _) = outcome(&run(dir.path(), &["--help"]));
    assert_eq!(code, Some(0));
    assert!(out.contains("pghistory-diesel generate"), "{out}");
}

#[test]
fn check_exits_one_and_writes_nothing_when_a_migration_is_missing() {
    let dir = project(SCHEMA);
    let (code, out, err) = outcome(&run(dir.path(), &["generate", "--check"]));
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("run `pghistory-diesel generate`"),
        "names the fix: {err}"
    );
    assert!(!dir.path().join("migrations").exists(), "nothing written");
}

#[test]
fn an_events_table_named_like_another_table_of_the_schema_is_refused() {
    let dir = project(
        "diesel::table! {\n    posts_events (id) {\n        id -> Int4,\n    }\n}\n\npghistory_diesel::tracked_table! {\n    posts (id) {\n        id -> Int4,\n    }\n}\n",
    );
    let (code, out, err) = outcome(&run(dir.path(), &["generate"]));
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("src/schema.rs:8:5: the events table of `posts` would be `public.posts_events`, a name schema.rs already gives the table `posts_events`"),
        "{err}"
    );
    assert!(!dir.path().join("migrations").exists(), "nothing written");
}
