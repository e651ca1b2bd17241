//! Where the project is: its root, its diesel.toml, and the paths read from it, found the
//! way diesel_cli finds them so that both commands agree on one project.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The project root: the nearest directory, from the current one upwards, that holds a
/// `diesel.toml`, else the nearest that holds a `Cargo.toml` (diesel_cli's order), else the
/// current directory.
///
/// The result is relative to the current directory (`""`, `..`, `../..`), so paths built
/// on it print as short as the user would type them.
pub(crate) fn project_root() -> Result<PathBuf, Error> {
    let cwd = std::env::current_dir().map_err(Error::io("the current directory"))?;
    Ok(root_from(&cwd))
}

fn root_from(cwd: &Path) -> PathBuf {
    for marker in ["diesel.toml", "Cargo.toml"] {
        let mut relative = PathBuf::new();
        for dir in cwd.ancestors() {
            if dir.join(marker).is_file() {
                return relative;
            }
            relative.push("..");
        }
    }
    PathBuf::new()
}

/// What the CLI reads from diesel.toml, with paths already resolved against its folder.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Config {
    /// `[migrations_directory] dir`.
    pub(crate) migrations_dir: Option<PathBuf>,
}

impl Config {
    /// Reads `path`; a missing file is an empty configuration, as in diesel_cli.
    pub(crate) fn read(path: &Path) -> Result<Config, Error> {
        if !path.exists() {
            return Ok(Config::default());
        }
        let text = fs::read_to_string(path).map_err(Error::io(path))?;
        let invalid = |message: String| Error::Config {
            path: path.to_owned(),
            message,
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid(e.to_string()))?;
        // diesel_cli resolves relative paths against the file's folder, so one diesel.toml
        // means the same directories wherever the command runs.
        let base = path.parent().unwrap_or(Path::new(""));
        let migrations_dir = match table.get("migrations_directory") {
            None => None,
            Some(toml::Value::Table(section)) => match section.get("dir") {
                None => None,
                Some(toml::Value::String(dir)) => Some(base.join(dir)),
                Some(_) => {
                    return Err(invalid(
                        "[migrations_directory] dir must be a string".to_owned(),
                    ))
                }
            },
            Some(_) => return Err(invalid("[migrations_directory] must be a table".to_owned())),
        };
        Ok(Config { migrations_dir })
    }
}

/// The paths one run works with.
#[derive(Debug)]
pub(crate) struct Project {
    root: PathBuf,
    config: Config,
}

impl Project {
    /// Finds the root and reads the configuration: `config_file` (from `--config-file` or
    /// `DIESEL_CONFIG_FILE`), else `diesel.toml` in the root.
    pub(crate) fn discover(config_file: Option<&Path>) -> Result<Project, Error> {
        let root = project_root()?;
        let path = match config_file {
            Some(path) => path.to_owned(),
            None => root.join("diesel.toml"),
        };
        let config = Config::read(&path)?;
        Ok(Project { root, config })
    }

    /// `explicit` (`--migrations-dir` or `MIGRATION_DIRECTORY`), else diesel.toml's, else
    /// `migrations` in the root.
    pub(crate) fn migrations_dir(&self, explicit: Option<&Path>) -> PathBuf {
        explicit
            .map(Path::to_owned)
            .or_else(|| self.config.migrations_dir.clone())
            .unwrap_or_else(|| self.root.join("migrations"))
    }

    /// `explicit` (`--schema`), else `src/schema.rs` in the root.
    pub(crate) fn schema(&self, explicit: Option<&Path>) -> PathBuf {
        explicit
            .map(Path::to_owned)
            .unwrap_or_else(|| self.root.join("src").join("schema.rs"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_nearest_directory_with_diesel_toml_before_cargo_toml() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        let deep = app.join("src/bin");
        fs::create_dir_all(&deep).unwrap();
        fs::write(dir.path().join("diesel.toml"), "").unwrap();
        fs::write(app.join("Cargo.toml"), "").unwrap();
        // diesel.toml wins even though a Cargo.toml is nearer.
        assert_eq!(root_from(&deep), PathBuf::from("../../.."));
        fs::remove_file(dir.path().join("diesel.toml")).unwrap();
        assert_eq!(root_from(&deep), PathBuf::from("../.."));
        assert_eq!(root_from(&app), PathBuf::new());
    }

    #[test]
    fn paths_in_diesel_toml_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conf/diesel.toml");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            "[migrations_directory]\ndir = \"../db/migrations\"\n",
        )
        .unwrap();
        assert_eq!(
            Config::read(&path).unwrap().migrations_dir,
            Some(dir.path().join("conf/../db/migrations"))
        );
    }

    #[test]
    fn a_missing_diesel_toml_is_an_empty_configuration() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Config::read(&dir.path().join("diesel.toml")).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn a_migrations_dir_that_is_not_a_string_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("diesel.toml");
        fs::write(&path, "[migrations_directory]\ndir = 3\n").unwrap();
        let err = Config::read(&path).unwrap_err();
        assert!(
            matches!(&err, Error::Config { message, .. } if message.contains("dir must be a string")),
            "{err}"
        );
    }
}
