//! bb8 with diesel-async (feature `bb8`): attach the ambient context on every `Pool::get()`.
//!
//! bb8 hands out connections from its idle queue (new ones are made by background tasks
//! and queued) and, with `test_on_check_out` on (the default), awaits
//! `ManageConnection::is_valid` in the caller's future on every checkout. diesel-async
//! implements that with its `RecyclingMethod`; [`manager`] sets that to a `CustomFunction`
//! running [`attach_ambient_async`](crate::context::attach_ambient_async), so the task-local
//! ambient context is attached (or cleared) at each checkout, fresh connections included.
//! (`CustomizeConnection::on_acquire` would not do: it runs in bb8's background tasks.)
//!
//! ```no_run
//! use diesel_async::RunQueryDsl;
//! use pghistory_diesel::context::ambient_scope_async;
//! use pghistory_diesel::pool::bb8::{manager, Pool};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let pool = Pool::builder().max_size(8).build(manager("postgres://...")).await?;
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
//! Keep `test_on_check_out` on: without it the hook does not run.

use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::AsyncPgConnection;

/// A bb8 pool of diesel-async connections.
pub type Pool = diesel_async::pooled_connection::bb8::Pool<AsyncPgConnection>;

/// A diesel-async manager whose checkout check attaches the ambient context.
pub fn manager(database_url: impl Into<String>) -> AsyncDieselConnectionManager<AsyncPgConnection> {
    AsyncDieselConnectionManager::new_with_config(
        database_url,
        super::manager_config(crate::context::PoolKey::new()),
    )
}
