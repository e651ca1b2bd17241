//! r2d2 (feature `r2d2`): attach the ambient context on every `Pool::get()`.
//!
//! r2d2 runs `ManageConnection::is_valid` in the caller's thread on every checkout when
//! `test_on_check_out` is on (the default). [`ContextConnectionManager`] wraps Diesel's
//! `ConnectionManager` and runs [`attach_ambient`](crate::context::attach_ambient) there
//! instead of Diesel's `SELECT 1`: the same single round trip, now also setting (or clearing)
//! the context. (`CustomizeConnection::on_acquire` would not do: it runs once per new
//! connection, on r2d2's own threads.)
//!
//! ```no_run
//! use diesel::prelude::*;
//! use pghistory_diesel::context::ambient_scope;
//! use pghistory_diesel::pool::r2d2::{pool_builder, ContextConnectionManager};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = pool_builder().max_size(8).build(ContextConnectionManager::new("postgres://..."))?;
//! ambient_scope(serde_json::json!({"user": 42}), || {
//!     let mut conn = pool.get()?; // {"user": 42} attached
//!     diesel::sql_query("DELETE FROM posts").execute(&mut conn)?;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })??;
//! let mut conn = pool.get()?; // no ambient context: the context is cleared
//! # Ok(())
//! # }
//! ```
//!
//! Keep `test_on_check_out` on (as [`pool_builder`] does): without it the hook does not run
//! and a connection keeps whatever context its previous checkout attached.

use diesel::r2d2::{Builder, ConnectionManager, ManageConnection, Pool as R2d2Pool};
use diesel::PgConnection;

use crate::context::{attach_ambient_for, PoolKey};

/// An r2d2 pool whose checkouts attach the ambient context.
pub type Pool = R2d2Pool<ContextConnectionManager>;

/// Diesel's r2d2 `ConnectionManager<PgConnection>`, with a validity check that attaches the
/// ambient context (or clears it) instead of pinging.
#[derive(Debug)]
pub struct ContextConnectionManager {
    inner: ConnectionManager<PgConnection>,
    key: PoolKey,
}

impl ContextConnectionManager {
    /// A manager connecting to `database_url`.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self::from_manager(ConnectionManager::new(database_url))
    }

    /// Wraps an existing Diesel manager.
    pub fn from_manager(inner: ConnectionManager<PgConnection>) -> Self {
        ContextConnectionManager {
            inner,
            key: PoolKey::new(),
        }
    }
}

impl ManageConnection for ContextConnectionManager {
    type Connection = PgConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PgConnection, Self::Error> {
        self.inner.connect()
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), Self::Error> {
        attach_ambient_for(conn, Some(self.key)).map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        self.inner.has_broken(conn)
    }
}

/// An r2d2 pool builder with `test_on_check_out(true)`, which the hook needs.
pub fn pool_builder() -> Builder<ContextConnectionManager> {
    R2d2Pool::builder().test_on_check_out(true)
}
