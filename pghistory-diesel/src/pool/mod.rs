//! Pool hooks that write the [ambient context](crate::context::current_ambient) onto a
//! connection at every checkout, in the caller's thread or task.
//!
//! | module | feature | the hook |
//! |---|---|---|
//! | [`r2d2`] | `r2d2` | a `ManageConnection` whose `is_valid` (run on every `get()`) attaches instead of pinging |
//! | [`deadpool`] | `deadpool` | `RecyclingMethod::CustomFunction` for reused connections + a `post_create` hook for new ones |
//! | [`bb8`] | `bb8` | `RecyclingMethod::CustomFunction`, run by `is_valid` on every checkout |
//!
//! Each hook is the pool's validity check, so it costs no extra round trip: the statement
//! that attaches (or clears) the context also proves the connection works. With no ambient
//! context the hook clears the settings, so a connection never carries the context of a
//! previous checkout onto another request's events.
//!
//! The hook needs the setup migration: without it a checkout inside an ambient scope fails
//! its validity check with the database's "function pghistory_attach_context does not
//! exist", which r2d2 and bb8 retry until their connection timeout. Call
//! [`check::check_setup`](crate::check::check_setup) at start-up to fail fast with
//! [`Error::SetupMissing`](crate::Error::SetupMissing) instead.
//!
//! Within one ambient scope, the first checkout of a pool writes the snapshot row; later
//! checkouts of the same pool in the same scope point the connection at that row (two
//! `set_config`s), so a request writes one row per pool however often it checks out.
//!
//! The context is attached at **session** level (it outlives transactions) and stays until
//! the next checkout overwrites it. Inside one checkout, an explicit
//! [`with_context`](crate::context::with_context) nests in it (same `scope_id`, merged
//! metadata).
//!
//! # Behind PgBouncer in transaction mode
//!
//! With transaction pooling, PgBouncer hands each *transaction* (each statement, outside
//! one) to whichever server connection is free. Two things follow, both tested against
//! Debian's PgBouncer 1.18 (`tests/tests/pgbouncer.rs`):
//!
//! - **Use [`with_context`](crate::context::with_context) /
//!   [`with_context_async`](crate::context::with_context_async)**: they set the context
//!   transaction-locally, inside the transaction whose statements it describes, which is
//!   exactly the unit PgBouncer keeps on one server connection. 600 scopes from 8 clients
//!   over 2 server connections: every event carries its own scope's context.
//! - **Turn Diesel's prepared-statement cache off** on every connection:
//!   `conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled)` (for
//!   r2d2, in a `CustomizeConnection::on_acquire`). Diesel then sends each statement with
//!   its parameters in one message, which PgBouncer keeps together. With the cache on,
//!   Diesel prepares named statements (`__diesel_stmt_0`, ...) numbered per client
//!   connection; two clients that share a server connection collide (`prepared statement
//!   "__diesel_stmt_0" already exists`) and their scopes fail and roll back. PgBouncer 1.21
//!   and later can track prepared statements (`max_prepared_statements`); Debian 12 ships
//!   1.18, so that mode is not tested here.
//!
//! The **ambient hooks are not safe there**: they attach the context at session level with
//! the checkout's validity check, which runs as a transaction of its own, so the setting
//! stays on whichever server connection ran it, not with the client. The test shows it
//! with one server connection: checkout A attaches `{"request": "a"}`, checkout B attaches
//! `{"request": "b"}`, then A's insert is recorded with B's context, and so is the insert
//! of a client that never set one. With more server connections the same happens at random,
//! and an event may also lose its context. Use them only with session pooling or a direct
//! connection, and do not mix them with `with_context` behind a transaction-mode
//! PgBouncer either: a scope nests in whatever context is in force on the server connection
//! it lands on, so after a hook it would take another request's `scope_id` and metadata.
//!
//! diesel-async: `with_context_async` is tested the same way (600 scopes from 8 async
//! clients over 2 server connections, each with
//! `AsyncConnection::set_prepared_statement_cache_size(CacheSize::Disabled)`): every event
//! carries its own scope's context. Its tokio-postgres client always prepares named
//! statements (`s<n>`), which PgBouncer 1.18 keeps on one server connection only inside a
//! transaction; a scope is one, so its statements stay together. Statements outside a
//! scope, in autocommit, may be prepared on one server connection and run on another:
//! that is diesel-async's limit behind transaction pooling, not ours. The deadpool and bb8
//! hooks are ambient, so the paragraph above applies to them.

// The docs link to every pool's module; docs.rs builds with all features.
#![cfg_attr(
    not(all(feature = "r2d2", feature = "deadpool", feature = "bb8")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(feature = "bb8")]
pub mod bb8;
#[cfg(feature = "deadpool")]
pub mod deadpool;
#[cfg(feature = "r2d2")]
pub mod r2d2;

/// The diesel-async recycling method that attaches the ambient context (or clears it),
/// reusing the snapshot pool `key` wrote for the scope.
#[cfg(any(feature = "deadpool", feature = "bb8"))]
fn attach_on_recycle(
    key: crate::context::PoolKey,
) -> diesel_async::pooled_connection::RecyclingMethod<diesel_async::AsyncPgConnection> {
    diesel_async::pooled_connection::RecyclingMethod::CustomFunction(Box::new(move |conn| {
        Box::pin(crate::context::attach_ambient_async_for(conn, Some(key)))
    }))
}

/// A diesel-async manager configuration whose recycling check attaches the ambient context.
#[cfg(any(feature = "deadpool", feature = "bb8"))]
fn manager_config(
    key: crate::context::PoolKey,
) -> diesel_async::pooled_connection::ManagerConfig<diesel_async::AsyncPgConnection> {
    let mut config = diesel_async::pooled_connection::ManagerConfig::default();
    config.recycling_method = attach_on_recycle(key);
    config
}
