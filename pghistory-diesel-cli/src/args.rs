//! Command-line arguments.

use std::path::PathBuf;

use crate::error::Error;

pub(crate) const USAGE: &str = "usage:
  pghistory-diesel setup    [--migrations-dir DIR] [--owner-role R] [--maintainer-role R] [--reader-role R]
      write the setup migration (roles, context table and functions); the owner role
      (default pghistory_owner) owns history, the maintainer role (default
      pghistory_maintainer) may pause and prune, the reader role (none by default) may read
  pghistory-diesel generate [--schema FILE] [--migrations-dir DIR] [--check] [--version V]
      write a migration installing the tracking declared in schema.rs;
      --check writes nothing and exits 1 when a migration is missing";

/// A parsed command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Setup {
        migrations_dir: Option<PathBuf>,
        roles: pghistory_diesel_codegen::sql::setup::Roles,
    },
    Generate {
        schema: PathBuf,
        migrations_dir: Option<PathBuf>,
        check: bool,
        version: Option<String>,
    },
    Help,
}

pub(crate) fn parse(args: &[String]) -> Result<Command, Error> {
    let Some((first, rest)) = args.split_first() else {
        return Err(Error::Usage("missing command".to_owned()));
    };
    let mut migrations_dir = None;
    let mut schema = None;
    let mut check = false;
    let mut version = None;
    let mut roles = pghistory_diesel_codegen::sql::setup::Roles::default();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| Error::Usage(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--migrations-dir" => migrations_dir = Some(PathBuf::from(value(arg)?)),
            "--schema" if first == "generate" => schema = Some(PathBuf::from(value(arg)?)),
            "--version" if first == "generate" => version = Some(value(arg)?),
            "--check" if first == "generate" => check = true,
            "--owner-role" if first == "setup" => roles.owner = value(arg)?,
            "--maintainer-role" if first == "setup" => roles.maintainer = value(arg)?,
            "--reader-role" if first == "setup" => roles.reader = Some(value(arg)?),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(Error::Usage(format!("unexpected argument `{other}`"))),
        }
    }
    match first.as_str() {
        "setup" => Ok(Command::Setup {
            migrations_dir,
            roles,
        }),
        "generate" => Ok(Command::Generate {
            schema: schema.unwrap_or_else(|| PathBuf::from("src/schema.rs")),
            migrations_dir,
            check,
            version,
        }),
        "-h" | "--help" | "help" => Ok(Command::Help),
        other => Err(Error::Usage(format!("unknown command `{other}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn generate_defaults_to_src_schema_rs() {
        let cmd = parse(&strings(&["generate", "--check"])).unwrap();
        assert_eq!(
            cmd,
            Command::Generate {
                schema: PathBuf::from("src/schema.rs"),
                migrations_dir: None,
                check: true,
                version: None
            }
        );
    }

    #[test]
    fn setup_takes_the_roles() {
        let cmd = parse(&strings(&[
            "setup",
            "--owner-role",
            "history",
            "--reader-role",
            "auditor",
        ]))
        .unwrap();
        let Command::Setup { roles, .. } = cmd else {
            panic!("not setup: {cmd:?}");
        };
        assert_eq!(roles.owner, "history");
        assert_eq!(roles.maintainer, "pghistory_maintainer");
        assert_eq!(roles.reader.as_deref(), Some("auditor"));
    }

    #[test]
    fn unknown_arguments_are_refused() {
        assert!(parse(&strings(&["generate", "--nope"])).is_err());
        assert!(parse(&strings(&["frobnicate"])).is_err());
        assert!(parse(&strings(&["setup", "--check"])).is_err());
    }
}
