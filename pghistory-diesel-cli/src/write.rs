//! Writing migration folders so that none is ever seen half-written.
//!
//! A folder is built under a hidden temporary name inside the migrations directory, each
//! file written to a temporary name, synced and renamed into place, and the folder renamed
//! to its real name last. A crash or kill before that rename leaves only the hidden folder:
//! diesel skips folders whose name starts with `.`, our reader ignores it as well, and the
//! next run removes it and says so. Renames within one directory are atomic on POSIX file
//! systems, so the real name appears with every file complete or not at all.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use pghistory_diesel_codegen::sql::migration::MigrationFiles;

use crate::error::Error;

/// Folders whose name starts with this are unfinished writes of ours.
pub(crate) const TEMP_PREFIX: &str = ".pghistory-diesel-tmp-";

/// Writes `files` as the folder `dir/<files.dir_name>`, all at once or not at all.
pub(crate) fn write_migration(dir: &Path, files: &MigrationFiles) -> Result<PathBuf, Error> {
    write_migration_with(dir, files, write_file)
}

/// [`write_migration`] with the file writer as a parameter, so a test can make it fail
/// between two files.
fn write_migration_with(
    dir: &Path,
    files: &MigrationFiles,
    mut write: impl FnMut(&Path, &str) -> io::Result<()>,
) -> Result<PathBuf, Error> {
    let folder = dir.join(&files.dir_name);
    if folder.exists() {
        return Err(Error::MigrationExists { path: folder });
    }
    fs::create_dir_all(dir).map_err(Error::io(dir))?;
    // The process id keeps two runs at once from building in the same folder.
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        files.dir_name
    ));
    if temp.exists() {
        fs::remove_dir_all(&temp).map_err(Error::io(&temp))?;
    }
    fs::create_dir(&temp).map_err(Error::io(&temp))?;
    let built = (|| {
        for (name, text) in [
            ("up.sql", &files.up),
            ("down.sql", &files.down),
            ("metadata.toml", &files.metadata),
        ] {
            let path = temp.join(name);
            let part = temp.join(format!("{name}.part"));
            write(&part, text).map_err(Error::io(&path))?;
            fs::rename(&part, &path).map_err(Error::io(&path))?;
        }
        sync_dir(&temp).map_err(Error::io(&temp))?;
        fs::rename(&temp, &folder).map_err(Error::io(&folder))?;
        sync_dir(dir).map_err(Error::io(dir))
    })();
    if let Err(err) = built {
        // Best effort: whatever is left is hidden and removed by the next run anyway.
        let _ = fs::remove_dir_all(&temp);
        return Err(err);
    }
    Ok(folder)
}

/// Writes and syncs one file, so its content is on disk before the rename names it.
fn write_file(path: &Path, text: &str) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Syncs a directory, so the renames in it survive a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    // Windows cannot open a directory as a file; NTFS journals renames itself.
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Whether a folder name is one of our unfinished writes.
pub(crate) fn is_temp(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX)
}

/// Removes the unfinished writes an interrupted run left in `dir` and returns their paths.
pub(crate) fn remove_leftovers(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir)(e)),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::io(dir))?;
        if is_temp(&entry.file_name().to_string_lossy()) {
            let path = entry.path();
            fs::remove_dir_all(&path).map_err(Error::io(&path))?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> MigrationFiles {
        MigrationFiles {
            dir_name: "2020-01-02-000000_pghistory_posts".to_owned(),
            up: "-- up\n".to_owned(),
            down: "-- down\n".to_owned(),
            metadata: "run_in_transaction = true\n".to_owned(),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_migration_is_written_whole_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let folder = write_migration(dir.path(), &files()).unwrap();
        assert_eq!(names(dir.path()), ["2020-01-02-000000_pghistory_posts"]);
        assert_eq!(names(&folder), ["down.sql", "metadata.toml", "up.sql"]);
        assert_eq!(
            fs::read_to_string(folder.join("up.sql")).unwrap(),
            "-- up\n"
        );
    }

    #[test]
    fn a_failure_between_two_files_leaves_no_migration_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut written = 0;
        let err = write_migration_with(dir.path(), &files(), |path, text| {
            if written == 1 {
                return Err(io::Error::other("disk full"));
            }
            written += 1;
            write_file(path, text)
        })
        .unwrap_err();
        assert!(err.to_string().contains("down.sql: disk full"), "{err}");
        assert_eq!(names(dir.path()), Vec::<String>::new(), "nothing left");
    }

    #[test]
    fn an_existing_folder_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join(files().dir_name);
        fs::create_dir(&folder).unwrap();
        fs::write(folder.join("up.sql"), "-- mine\n").unwrap();
        let err = write_migration(dir.path(), &files()).unwrap_err();
        assert!(matches!(err, Error::MigrationExists { .. }), "{err}");
        assert_eq!(
            fs::read_to_string(folder.join("up.sql")).unwrap(),
            "-- mine\n"
        );
    }

    #[test]
    fn leftovers_of_an_interrupted_run_are_removed_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let left = dir
            .path()
            .join(format!("{TEMP_PREFIX}7-2020_pghistory_posts"));
        fs::create_dir(&left).unwrap();
        fs::write(left.join("up.sql"), "-- trunc").unwrap();
        fs::create_dir(dir.path().join("2020-01-01-000000_app")).unwrap();
        assert_eq!(remove_leftovers(dir.path()).unwrap(), [left]);
        assert_eq!(names(dir.path()), ["2020-01-01-000000_app"]);
    }
}
