//! deadpool with diesel-async (feature `deadpool`): attach the ambient context on every
//! `Pool::get()`.
//!
//! deadpool runs all of `get()` in the caller's future, so the task-local ambient context is
//! visible there. A reused connection goes through `Manager::recycle`, which diesel-async
//! implements with its `RecyclingMethod`; [`manager`] sets that to a `CustomFunction` running
//! [`attach_ambient_async`](crate::context::attach_ambient_async) (instead of `SELECT 1`). A
//! new connection skips recycling, so [`pool_builder`] also installs a `post_create` hook
//! doing the same.
//!
//! ```no_run
//! use diesel_async::RunQueryDsl;
//! use pghistory_diesel::context::ambient_scope_async;
//! use pghistory_diesel::pool::deadpool::pool_builder;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let pool = pool_builder("postgres://...").max_size(8).build()?;
//! ambient_scope_async(serde_json::json!({"user": 42}), async {
//!     let mut conn = pool.get().await?; // {"user": 42} attached
//!     diesel::sql_query("DELETE FROM posts").execute(&mut conn).await?;
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! })
//! .await??;
//! # Ok(())
//! # }
//! # fn main() {}
//! ```
//!
//! If you build the pool yourself from [`manager`], add [`post_create_hook`] too.

use diesel_async::pooled_connection::deadpool::{Hook, HookError, PoolBuilder};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use diesel_async::AsyncPgConnection;

use crate::context::{attach_ambient_async_for, PoolKey};

/// A deadpool of diesel-async connections.
pub type Pool = diesel_async::pooled_connection::deadpool::Pool<AsyncPgConnection>;

/// A diesel-async manager whose recycling check attaches the ambient context.
pub fn manager(database_url: impl Into<String>) -> AsyncDieselConnectionManager<AsyncPgConnection> {
    manager_with(database_url, PoolKey::new())
}

fn manager_with(
    database_url: impl Into<String>,
    key: PoolKey,
) -> AsyncDieselConnectionManager<AsyncPgConnection> {
    AsyncDieselConnectionManager::new_with_config(database_url, super::manager_config(key))
}

/// The `post_create` hook that attaches the ambient context to a new connection.
pub fn post_create_hook() -> Hook<AsyncPgConnection> {
    post_create_hook_with(PoolKey::new())
}

fn post_create_hook_with(key: PoolKey) -> Hook<AsyncPgConnection> {
    Hook::async_fn(move |conn: &mut AsyncPgConnection, _| {
        Box::pin(async move {
            attach_ambient_async_for(conn, Some(key))
                .await
                .map_err(|e| HookError::Backend(PoolError::QueryError(e)))
        })
    })
}

/// A pool builder over [`manager`] with [`post_create_hook`]: every checkout, new or reused,
/// attaches the ambient context or clears it.
pub fn pool_builder(database_url: impl Into<String>) -> PoolBuilder<AsyncPgConnection> {
    let key = PoolKey::new();
    Pool::builder(manager_with(database_url, key)).post_create(post_create_hook_with(key))
}
