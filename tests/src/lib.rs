//! Shared support for pghistory-diesel's integration tests: the tracked test schema and a
//! fresh database per test, migrated with the same embedded migrations an app would use.

pub mod models;
pub mod pgbouncer;
pub mod schema;
pub mod trackers_schema;

use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use pghistory_diesel_codegen::sql::migration::ExistingMigration;

/// The test crate's migrations: the setup migration, the app's own tables, and the
/// tracking migration `pghistory-diesel generate` wrote from `src/schema.rs`.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The migrations of the tracker tests: the setup migration, their tables, and the
/// tracking migration `pghistory-diesel generate` wrote from `src/trackers_schema.rs`.
pub const TRACKER_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations_trackers");

/// The migrations already in `dir` (a diesel migrations directory), as
/// `pghistory-diesel generate` reads them: every subfolder with an `up.sql`, except hidden
/// ones (diesel skips them, and the CLI's unfinished writes are hidden).
pub fn existing_migrations(dir: &std::path::Path) -> Vec<ExistingMigration> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry"))
        .filter(|entry| {
            !entry.file_name().to_string_lossy().starts_with('.')
                && entry.path().join("up.sql").is_file()
        })
        .map(|entry| ExistingMigration {
            dir_name: entry.file_name().to_string_lossy().into_owned(),
            up: std::fs::read_to_string(entry.path().join("up.sql")).expect("read up.sql"),
        })
        .collect()
}

/// The server URL from `DATABASE_URL` (set by `scripts/with-postgres`).
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must be set: run the tests through scripts/test")
}

/// The server's major version (13 for 13.23): for the few tests of features that only
/// newer servers have.
pub fn server_major(conn: &mut PgConnection) -> i32 {
    diesel::dsl::sql::<diesel::sql_types::Integer>(
        "SELECT current_setting('server_version_num')::int / 10000",
    )
    .get_result(conn)
    .expect("read server_version_num")
}

/// Replaces the database name of a `postgres://` URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let slash = base.rfind('/').expect("URL has a path");
    let mut out = format!("{}/{}", &base[..slash], db);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A role name no other test uses, `pgh_<purpose>_<12 random hex digits>`: roles belong
/// to the server, not to a test's database, and tests share the server. Plain lowercase
/// characters, so it needs no quoting (it is quoted anyway where it is written).
pub fn unique_role_name(purpose: &str) -> String {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    format!("pgh_{purpose}_{}", &tag[..12])
}

/// A database of its own for one test, dropped when the value is.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    name: String,
}

diesel::define_sql_function! {
    /// Postgres' `quote_ident`: quoted by the server, bound as a value.
    fn quote_ident(name: Text) -> Text;
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDb {
    /// Creates an empty database.
    pub fn empty() -> TestDb {
        let name = format!(
            "pgh_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            uuid::Uuid::new_v4().simple()
        );
        let mut admin = PgConnection::establish(&server_url()).expect("connect to the server");
        let quoted: String = diesel::select(quote_ident(&name))
            .get_result(&mut admin)
            .unwrap();
        // CREATE DATABASE takes no bind parameters; the name is quoted by the server above.
        diesel::sql_query(format!("CREATE DATABASE {quoted}"))
            .execute(&mut admin)
            .expect("create the test database");
        TestDb {
            url: with_database(&server_url(), &name),
            name,
        }
    }

    /// Creates a database with every migration applied, as an app does at start-up.
    pub fn migrated() -> TestDb {
        let db = TestDb::empty();
        let mut conn = db.conn();
        conn.run_pending_migrations(MIGRATIONS)
            .expect("apply migrations");
        db
    }

    /// Creates a database with these migrations applied.
    pub fn migrated_with(migrations: EmbeddedMigrations) -> TestDb {
        let db = TestDb::empty();
        let mut conn = db.conn();
        conn.run_pending_migrations(migrations)
            .expect("apply migrations");
        db
    }

    /// A new connection to it.
    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&server_url()) {
            if let Ok(quoted) =
                diesel::select(quote_ident(&self.name)).get_result::<String>(&mut admin)
            {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

/// The `pghistory-diesel` binary: `PGHISTORY_DIESEL_BIN` if set, else the one
/// `cargo build -p pghistory-diesel-cli` builds (once per test process; a no-op when it is
/// up to date). Asking cargo for the path, rather than guessing `target/debug`, follows
/// `CARGO_TARGET_DIR`, `--target` and build-directory settings, and never runs a stale copy.
pub fn cli_binary() -> &'static std::path::Path {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("PGHISTORY_DIESEL_BIN") {
            return std::path::PathBuf::from(bin);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ is inside the workspace");
        let out = std::process::Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "pghistory-diesel-cli",
                "--bin",
                "pghistory-diesel",
                "--message-format=json",
            ])
            .current_dir(workspace)
            .output()
            .expect("run cargo build");
        assert!(
            out.status.success(),
            "cargo build -p pghistory-diesel-cli failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|msg| {
                msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "pghistory-diesel"
            })
            .find_map(|msg| msg["executable"].as_str().map(std::path::PathBuf::from))
            .expect("cargo build reports the pghistory-diesel executable")
    })
}
