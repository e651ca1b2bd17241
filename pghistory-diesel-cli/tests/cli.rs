//! The `pghistory-diesel` binary without a database: where it reads and writes, what it
//! says, and how it fails (exit code 2, naming the file and the fix). Its help, version and
//! usage errors are in `help.rs`.

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

/// Runs the binary in `dir`, without the variables that would change what it reads.
fn run(dir: &Path, args: &[&str]) -> Output {
    command(dir)
        .args(args)
        .output()
        .expect("run pghistory-diesel")
}

fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pghistory-diesel"));
    cmd.current_dir(dir)
        .env_remove("DIESEL_CONFIG_FILE")
        .env_remove("MIGRATION_DIRECTORY")
        .env_remove("DATABASE_URL");
    cmd
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
    assert!(out.contains("track \"public\".\"posts\""), "{out}");
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
fn every_mistake_in_schema_rs_is_reported_at_its_place() {
    let dir = project(
        "pghistory_diesel::tracked_table! {\n    #[pghistory(colour = \"red\", context = both)]\n    posts (id) {\n        id -> Int4,\n        pgh_id -> Int4,\n    }\n}\n\npghistory_diesel::tracked_table! {\n    #[pghistory(events(upsert))]\n    notes (id) {\n        id -> Int4,\n    }\n}\n",
    );
    let (code, out, err) = outcome(&run(dir.path(), &["generate"]));
    assert_eq!(code, Some(2), "{out}{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 4, "one error line per mistake:\n{err}");
    assert!(
        err.contains("\n  help: expected one of: fk, json, none\n"),
        "each help line follows its error, indented:\n{err}"
    );
    for (place, what) in [
        ("src/schema.rs:2:17:", "colour"),
        ("src/schema.rs:2:43:", "both"),
        ("src/schema.rs:5:9:", "pgh_"),
        ("src/schema.rs:10:24:", "upsert"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("error: {place}")) && l.contains(what)),
            "no line `error: {place} …{what}…` in:\n{err}"
        );
    }
    assert!(!dir.path().join("migrations").exists(), "nothing written");
}

#[test]
fn a_version_that_leaves_the_migrations_directory_is_refused() {
    let dir = project(SCHEMA);
    for version in ["../../x", "/tmp/x", "..", "", "a/b"] {
        let (code, out, err) = outcome(&run(
            dir.path(),
            &["generate", &format!("--version={version}")],
        ));
        assert_eq!(code, Some(2), "{version:?}: {out}{err}");
        assert!(
            err.contains(&format!(
                "invalid value '{version}' for '--version <VERSION>'"
            )),
            "{version:?}: {err}"
        );
    }
    assert_eq!(
        folders(dir.path()),
        ["src"],
        "nothing written in the project"
    );
    assert!(!dir
        .path()
        .parent()
        .unwrap()
        .join("x_pghistory_posts")
        .exists());
}

/// What a run killed between writing its files and naming its folder leaves behind.
fn leave_an_unfinished_write(migrations: &Path) -> std::path::PathBuf {
    let left = migrations.join(".pghistory-diesel-tmp-12345-2020-01-02-000000_pghistory_posts");
    fs::create_dir_all(&left).unwrap();
    fs::write(left.join("up.sql"), "-- truncated CREATE TAB").unwrap();
    left
}

#[test]
fn an_unfinished_write_is_not_taken_for_an_installed_migration() {
    let dir = project(SCHEMA);
    assert_eq!(run(dir.path(), &["setup"]).status.code(), Some(0));
    let left = leave_an_unfinished_write(&dir.path().join("migrations"));
    let (code, out, err) = outcome(&run(dir.path(), &["generate", "--check"]));
    assert_eq!(
        code,
        Some(1),
        "--check still sees posts missing: {out}{err}"
    );
    assert!(err.contains("posts"), "{err}");
    assert!(left.exists(), "--check writes and removes nothing");

    let (code, out, err) = outcome(&run(
        dir.path(),
        &["generate", "--version", "2020-01-02-000000"],
    ));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        err.contains("removed") && err.contains(".pghistory-diesel-tmp-12345-"),
        "names what it cleaned up: {err}"
    );
    assert!(!left.exists());
    assert_eq!(
        folders(&dir.path().join("migrations")),
        [
            "00000000000001_pghistory_setup",
            "2020-01-02-000000_pghistory_posts"
        ]
    );
    let up = fs::read_to_string(
        dir.path()
            .join("migrations/2020-01-02-000000_pghistory_posts/up.sql"),
    )
    .unwrap();
    assert!(up.contains("CREATE FUNCTION"), "a whole migration: {up}");
    let (code, _, err) = outcome(&run(dir.path(), &["generate", "--check"]));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_second_migration_with_the_same_version_is_refused() {
    let dir = project(SCHEMA);
    let args = ["generate", "--version", "2020-01-02-000000"];
    assert_eq!(run(dir.path(), &args).status.code(), Some(0));
    let folder = dir
        .path()
        .join("migrations/2020-01-02-000000_pghistory_posts");
    let before = fs::read_to_string(folder.join("up.sql")).unwrap();
    let mut changed = SCHEMA.replace("title -> Text,", "title -> Text,\n        body -> Text,");
    changed.push('\n');
    fs::write(dir.path().join("src/schema.rs"), changed).unwrap();
    let (code, _, err) = outcome(&run(dir.path(), &args));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("2020-01-02-000000_pghistory_posts exists already"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(folder.join("up.sql")).unwrap(), before);
}

/// A project whose diesel.toml names `db/migrations`, with a `src/bin` to run from.
fn project_with_config() -> tempfile::TempDir {
    let dir = project(SCHEMA);
    fs::create_dir_all(dir.path().join("src/bin")).unwrap();
    fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"app\"\n").unwrap();
    fs::write(
        dir.path().join("diesel.toml"),
        "[migrations_directory]\ndir = \"db/migrations\"\n",
    )
    .unwrap();
    dir
}

#[test]
fn diesel_toml_and_schema_rs_are_found_from_a_subdirectory_of_the_project() {
    let dir = project_with_config();
    let (code, out, err) = outcome(&run(&dir.path().join("src/bin"), &["setup"]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("../../db/migrations/00000000000001_pghistory_setup"),
        "paths print relative to where it runs: {out}"
    );
    let (code, out, err) = outcome(&run(
        &dir.path().join("src"),
        &["generate", "--version", "2020-01-02-000000"],
    ));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        folders(&dir.path().join("db/migrations")),
        [
            "00000000000001_pghistory_setup",
            "2020-01-02-000000_pghistory_posts"
        ]
    );
    assert!(!dir.path().join("src/migrations").exists());
    assert!(!dir.path().join("src/bin/migrations").exists());
}

#[test]
fn config_file_and_diesel_config_file_name_another_diesel_toml_relative_to_itself() {
    let dir = project(SCHEMA);
    fs::create_dir_all(dir.path().join("conf")).unwrap();
    fs::write(
        dir.path().join("conf/diesel.toml"),
        "[migrations_directory]\ndir = \"../db/flag\"\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("conf/env.toml"),
        "[migrations_directory]\ndir = \"../db/env\"\n",
    )
    .unwrap();
    let (code, _, err) = outcome(&run(
        dir.path(),
        &["setup", "--config-file=conf/diesel.toml"],
    ));
    assert_eq!(code, Some(0), "{err}");
    let out = command(dir.path())
        .arg("setup")
        .env("DIESEL_CONFIG_FILE", "conf/env.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", outcome(&out).2);
    // The flag wins over the variable.
    let out = command(dir.path())
        .args([
            "generate",
            "--config-file",
            "conf/diesel.toml",
            "--version",
            "2020-01-02-000000",
        ])
        .env("DIESEL_CONFIG_FILE", "conf/env.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", outcome(&out).2);
    assert_eq!(
        folders(&dir.path().join("db/flag")),
        [
            "00000000000001_pghistory_setup",
            "2020-01-02-000000_pghistory_posts"
        ]
    );
    assert_eq!(
        folders(&dir.path().join("db/env")),
        ["00000000000001_pghistory_setup"]
    );
}

#[test]
fn dot_env_sets_variables_the_environment_does_not() {
    let dir = project(SCHEMA);
    fs::write(
        dir.path().join(".env"),
        "MIGRATION_DIRECTORY=from-dotenv\nDATABASE_URL=postgres://unused/db\n",
    )
    .unwrap();
    let (code, out, err) = outcome(&run(dir.path(), &["setup"]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        folders(&dir.path().join("from-dotenv")),
        ["00000000000001_pghistory_setup"]
    );
    let out = command(dir.path())
        .arg("setup")
        .env("MIGRATION_DIRECTORY", "from-env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", outcome(&out).2);
    assert_eq!(
        folders(&dir.path().join("from-env")),
        ["00000000000001_pghistory_setup"],
        "a variable already set wins over .env"
    );
}

#[test]
fn a_dot_env_that_cannot_be_parsed_is_an_error() {
    let dir = project(SCHEMA);
    fs::write(dir.path().join(".env"), "NOT A LINE\n").unwrap();
    let (code, _, err) = outcome(&run(dir.path(), &["setup"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.starts_with("error: .env:"), "{err}");
    assert!(!dir.path().join("migrations").exists());
}

#[test]
fn completions_are_printed_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef pghistory-diesel"),
        ("fish", "complete -c pghistory-diesel"),
    ] {
        let (code, out, err) = outcome(&run(dir.path(), &["completions", shell]));
        assert_eq!(code, Some(0), "{shell}: {err}");
        assert!(out.contains(marker), "{shell}: {out}");
        // fish spells options without their dashes (`-l check`).
        for word in ["setup", "generate", "migrations-dir", "check"] {
            assert!(out.contains(word), "{shell} completes {word}");
        }
    }
}
