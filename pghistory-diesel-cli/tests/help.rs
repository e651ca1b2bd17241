//! What people read before they run anything: `--help` of the command and of each
//! subcommand, `--version`, and how a typo or a misused option is answered (exit code 2,
//! the mistake, a suggestion, one line pointing at `--help`, no usage dump).
//!
//! The texts are insta snapshots in `tests/snapshots/`; review a changed one with
//! `cargo insta review` (or `INSTA_UPDATE=always` and `git diff`).

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pghistory-diesel"))
        .args(args)
        .env_remove("DIESEL_CONFIG_FILE")
        .env_remove("MIGRATION_DIRECTORY")
        .env_remove("DATABASE_URL")
        // Help and errors must read the same on every machine: no colours.
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("run pghistory-diesel")
}

/// Stdout of a run that must succeed.
fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{args:?} prints nothing on stderr");
    String::from_utf8(out.stdout).unwrap()
}

/// Stderr of a run that must fail as a usage error: exit code 2, nothing on stdout.
fn usage_error(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?} prints nothing on stdout");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.trim_end()
            .ends_with("For more information, try '--help'."),
        "{args:?} ends with the hint: {err}"
    );
    assert!(!err.contains("Commands:"), "{args:?} dumps no usage: {err}");
    err
}

#[test]
fn version_prints_the_package_version() {
    assert_eq!(
        stdout(&["--version"]),
        format!("pghistory-diesel {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(stdout(&["-V"]), stdout(&["--version"]));
}

#[test]
fn help_lists_the_commands_and_global_options() {
    insta::assert_snapshot!("help", stdout(&["--help"]));
    assert_eq!(stdout(&["help"]), stdout(&["--help"]));
}

#[test]
fn setup_help_names_each_default() {
    insta::assert_snapshot!("help_setup", stdout(&["setup", "--help"]));
    assert_eq!(stdout(&["help", "setup"]), stdout(&["setup", "--help"]));
}

#[test]
fn check_help_names_its_exit_codes_and_the_database_url() {
    let help = stdout(&["check", "--help"]);
    insta::assert_snapshot!("help_check", help);
    assert!(
        help.contains("Exits 0 when all is as declared, 1 on"),
        "{help}"
    );
    assert!(help.contains("--database-url <URL>"), "{help}");
}

#[test]
fn generate_help_names_each_default() {
    insta::assert_snapshot!("help_generate", stdout(&["generate", "--help"]));
    insta::assert_snapshot!("help_generate_short", stdout(&["generate", "-h"]));
}

#[test]
fn completions_help_names_the_shells() {
    insta::assert_snapshot!("help_completions", stdout(&["completions", "--help"]));
}

#[test]
fn a_mistyped_command_gets_a_suggestion() {
    insta::assert_snapshot!("typo_command", usage_error(&["generat"]));
}

#[test]
fn a_mistyped_option_gets_a_suggestion() {
    insta::assert_snapshot!("typo_option", usage_error(&["generate", "--chek"]));
}

#[test]
fn an_option_of_another_command_is_refused() {
    insta::assert_snapshot!(
        "option_of_another_command",
        usage_error(&["setup", "--check"])
    );
}

#[test]
fn an_option_without_its_value_is_refused() {
    insta::assert_snapshot!("missing_value", usage_error(&["generate", "--schema"]));
}

#[test]
fn an_unknown_shell_is_refused_with_the_known_ones() {
    insta::assert_snapshot!("unknown_shell", usage_error(&["completions", "tcsh"]));
}

#[test]
fn no_command_prints_the_help_and_exits_two() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        stdout(&["--help"]),
        "the help, on stderr"
    );
}

#[test]
fn log_help_names_its_filters() {
    let help = stdout(&["log", "--help"]);
    insta::assert_snapshot!("help_log", help);
    for flag in [
        "--since",
        "--until",
        "--label",
        "--context",
        "--where",
        "--limit",
        "--json",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
}

#[test]
fn log_usage_errors_name_the_bad_value() {
    let err = usage_error(&["log", "--since", "yesterday"]);
    assert!(
        err.contains("`yesterday` is neither an RFC 3339 time"),
        "{err}"
    );
    let err = usage_error(&["log", "--where", "user"]);
    assert!(err.contains("`user` is not KEY=VALUE"), "{err}");
    let err = usage_error(&["log", "--where", "=1"]);
    assert!(err.contains("has an empty key"), "{err}");
    let err = usage_error(&["log", "--context", "42"]);
    assert!(err.contains("`42` is not a uuid"), "{err}");
    let err = usage_error(&["log", "--limit", "0"]);
    assert!(err.contains("--limit"), "{err}");
    let err = usage_error(&["log", "--newest-first", "--oldest-first"]);
    assert!(err.contains("cannot be used with"), "{err}");
}
