//! The benchmark's own database: created on the server named by `DATABASE_URL`,
//! migrated with the embedded migrations (setup, bench tables, tracking), dropped at the end.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Double, Jsonb, Nullable, Text, Uuid as SqlUuid};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::Error;
use crate::variant::Variant;

/// The bench crate's migrations: setup, the variant tables, the generated tracking.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

diesel::define_sql_function! {
    /// `pghistory_attach_context(scope_id, metadata, is_local)` of the setup migration.
    fn pghistory_attach_context(scope_id: Nullable<SqlUuid>, metadata: Jsonb, is_local: Bool) -> SqlUuid;
}

diesel::define_sql_function! {
    /// Postgres' `quote_ident`: the server quotes the database name, bound as a value.
    fn quote_ident(name: Text) -> Text;
}

/// One `double precision` column, for scalar queries.
#[derive(QueryableByName)]
struct Scalar {
    #[diesel(sql_type = Double)]
    v: f64,
}

/// Runs `sql` (one row, one `double precision` column named `v`) and returns the value.
pub fn scalar(conn: &mut PgConnection, sql: &str) -> QueryResult<f64> {
    diesel::sql_query(sql)
        .get_result::<Scalar>(conn)
        .map(|s| s.v)
}

/// The metadata every context of the benchmark carries.
pub fn metadata() -> serde_json::Value {
    serde_json::json!({"user": 1, "url": "/x"})
}

/// Attaches a transaction-local context (a fresh scope, or `scope`).
pub fn attach(conn: &mut PgConnection, scope: Option<uuid::Uuid>) -> QueryResult<uuid::Uuid> {
    diesel::select(pghistory_attach_context(scope, metadata(), true)).get_result(conn)
}

#[derive(QueryableByName)]
struct IndexName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Drops the indexes the generated migrations make for reading history (events by time,
/// events by context, context metadata), leaving each events table its primary key only.
/// Returns how many it dropped.
pub fn drop_read_indexes(conn: &mut PgConnection) -> QueryResult<usize> {
    let names: Vec<IndexName> = diesel::sql_query(
        "SELECT pg_catalog.format('%I.%I', schemaname, indexname) AS name FROM pg_catalog.pg_indexes
          WHERE pg_catalog.right(indexname, 13) = '_pgh_time_idx'
             OR pg_catalog.right(indexname, 19) = '_pgh_context_id_idx'
             OR indexname = 'pghistory_context_metadata_idx'",
    )
    .load(conn)?;
    for n in &names {
        // The server quoted the name (format %I).
        diesel::sql_query(format!("DROP INDEX {}", n.name)).execute(conn)?;
    }
    Ok(names.len())
}

/// Replaces the database name of a `postgres://` URL.
fn with_database(url: &str, db: &str) -> Result<String, Error> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let slash = base
        .rfind('/')
        .filter(|&i| i > "postgres://".len())
        .ok_or_else(|| Error::Url(url.to_owned()))?;
    let mut out = format!("{}/{}", &base[..slash], db);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// A database of the benchmark's own, dropped when the value is.
pub struct BenchDb {
    /// Its URL.
    pub url: String,
    /// Its name.
    pub name: String,
    admin_url: String,
    quoted: String,
}

impl BenchDb {
    /// Creates and migrates a fresh database on the server of `server_url`.
    pub fn create(server_url: &str) -> Result<BenchDb, Error> {
        let name = format!("pghistory_bench_{}", std::process::id());
        let mut admin = PgConnection::establish(server_url)?;
        let quoted: String = diesel::select(quote_ident(&name)).get_result(&mut admin)?;
        // CREATE DATABASE takes no bind parameters; the server quoted the name above.
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            .execute(&mut admin)?;
        diesel::sql_query(format!("CREATE DATABASE {quoted}")).execute(&mut admin)?;
        let db = BenchDb {
            url: with_database(server_url, &name)?,
            name: name.clone(),
            admin_url: server_url.to_owned(),
            quoted,
        };
        let mut conn = db.conn()?;
        conn.run_pending_migrations(MIGRATIONS)
            .map_err(|e| Error::Migration(e.to_string()))?;
        // Vacuum runs where the benchmark says, not when autovacuum decides to.
        for v in Variant::ALL {
            for table in std::iter::once(v.table()).chain(v.events_table()) {
                diesel::sql_query(format!(
                    "ALTER TABLE {table} SET (autovacuum_enabled = false)"
                ))
                .execute(&mut conn)?;
            }
        }
        Ok(db)
    }

    /// A new connection to it.
    pub fn conn(&self) -> Result<PgConnection, Error> {
        Ok(PgConnection::establish(&self.url)?)
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.quoted
            ))
            .execute(&mut admin);
        }
    }
}
