//! Ambient context: set per thread (sync) or per task (async) by a scope, written onto a
//! connection by the pool hooks at each checkout.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::metadata_object;
use super::queries;
use crate::Error;

/// The ambient context: what the pool hooks attach to a connection at checkout.
///
/// Set by [`ambient_scope`] (for the current thread) or [`ambient_scope_async`] (for the
/// current task, feature `async`), read by [`current_ambient`]. Two values are equal when
/// their scope and metadata are.
#[derive(Clone, Debug)]
pub struct Ambient {
    /// The scope id shared by every snapshot written for this scope and the scopes nested
    /// in it; `pghistory_context.scope_id`.
    pub scope_id: Uuid,
    /// The metadata in force: the outer scopes' merged with this one's, inner keys winning.
    pub metadata: Map<String, Value>,
    /// The snapshot rows the pool hooks wrote for this scope, per pool, for later checkouts
    /// of the same pool in the same scope to point at instead of writing another.
    snapshots: Arc<Mutex<Vec<(PoolKey, Uuid)>>>,
}

impl PartialEq for Ambient {
    fn eq(&self, other: &Ambient) -> bool {
        self.scope_id == other.scope_id && self.metadata == other.metadata
    }
}

impl Ambient {
    /// The ambient context of a scope opened with `metadata` where `outer` was in force.
    fn nested_in(outer: Option<Ambient>, metadata: Map<String, Value>) -> Ambient {
        let (scope_id, metadata) = match outer {
            Some(outer) => (outer.scope_id, queries::merge(&outer.metadata, metadata)),
            None => (Uuid::new_v4(), metadata),
        };
        Ambient {
            scope_id,
            metadata,
            snapshots: Arc::default(),
        }
    }

    /// The snapshot a hook of pool `key` wrote for this scope, if any.
    fn snapshot(&self, key: PoolKey) -> Option<Uuid> {
        let snapshots = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        snapshots.iter().find(|(k, _)| *k == key).map(|(_, id)| *id)
    }

    /// Remembers the snapshot a hook of pool `key` wrote for this scope.
    fn remember(&self, key: PoolKey, id: Uuid) {
        let mut snapshots = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        if !snapshots.iter().any(|(k, _)| *k == key) {
            snapshots.push((key, id));
        }
    }
}

/// Identifies one pool's hooks (one database), so that a snapshot row written through a pool
/// is only reused on connections of the same pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(any(feature = "r2d2", feature = "deadpool", feature = "bb8")),
    allow(dead_code)
)]
pub(crate) struct PoolKey(u64);

#[cfg_attr(
    not(any(feature = "r2d2", feature = "deadpool", feature = "bb8")),
    allow(dead_code)
)]
impl PoolKey {
    /// A key no other pool has.
    pub(crate) fn new() -> PoolKey {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        PoolKey(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

thread_local! {
    static THREAD_AMBIENT: RefCell<Option<Ambient>> = const { RefCell::new(None) };
}

#[cfg(feature = "async")]
tokio::task_local! {
    static TASK_AMBIENT: Ambient;
}

/// Restores the thread's previous ambient context when a sync scope ends, even by panic.
struct Restore(Option<Ambient>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        THREAD_AMBIENT.with(|cell| *cell.borrow_mut() = previous);
    }
}

/// Runs `f` with an ambient context for the current thread.
///
/// Connections checked out of a pool built by [`crate::pool`] while `f` runs get this
/// context attached; nothing is written before that. Scopes nest: an inner scope keeps the
/// outer `scope_id` and merges the metadata (inner keys win) until it returns.
///
/// ```no_run
/// # #[cfg(feature = "r2d2")]
/// # fn run(pool: &diesel::r2d2::Pool<pghistory_diesel::pool::r2d2::ContextConnectionManager>)
/// #     -> Result<(), Box<dyn std::error::Error>> {
/// use diesel::prelude::*;
/// use pghistory_diesel::context::ambient_scope;
///
/// ambient_scope(serde_json::json!({"user": 42, "job": "nightly"}), || {
///     let mut conn = pool.get()?; // attaches {"user": 42, "job": "nightly"}
///     diesel::sql_query("UPDATE posts SET score = 0").execute(&mut conn)?;
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })??;
/// # Ok(())
/// # }
/// # fn main() {}
/// ```
///
/// # Errors
///
/// [`Error::MetadataNotAnObject`] or [`Error::MetadataNotSerializable`]; `f` is not run then.
pub fn ambient_scope<R>(metadata: impl Serialize, f: impl FnOnce() -> R) -> Result<R, Error> {
    let metadata = metadata_object(metadata)?;
    let ambient = Ambient::nested_in(current_ambient(), metadata);
    let previous = THREAD_AMBIENT.with(|cell| cell.borrow_mut().replace(ambient));
    let _restore = Restore(previous);
    Ok(f())
}

/// Runs `fut` with an ambient context for the current task (`tokio::task_local!`).
///
/// The async twin of [`ambient_scope`]: connections checked out of a deadpool or bb8 pool
/// built by [`crate::pool`] while `fut` runs get this context attached. The context follows
/// the future across `.await`s and worker threads, but not into tasks it spawns.
///
/// ```no_run
/// # #[cfg(feature = "deadpool")]
/// # async fn run(pool: &pghistory_diesel::pool::deadpool::Pool)
/// #     -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use diesel_async::RunQueryDsl;
/// use pghistory_diesel::context::ambient_scope_async;
///
/// ambient_scope_async(serde_json::json!({"user": 42}), async {
///     let mut conn = pool.get().await?; // attaches {"user": 42}
///     diesel::sql_query("UPDATE posts SET score = 0").execute(&mut conn).await?;
///     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// })
/// .await??;
/// # Ok(())
/// # }
/// # fn main() {}
/// ```
///
/// # Errors
///
/// [`Error::MetadataNotAnObject`] or [`Error::MetadataNotSerializable`]; `fut` is not run then.
#[cfg(feature = "async")]
pub async fn ambient_scope_async<F: std::future::Future>(
    metadata: impl Serialize,
    fut: F,
) -> Result<F::Output, Error> {
    let metadata = metadata_object(metadata)?;
    let ambient = Ambient::nested_in(current_ambient(), metadata);
    Ok(TASK_AMBIENT.scope(ambient, fut).await)
}

/// The ambient context in force: the innermost [`ambient_scope`] of this thread, else the
/// innermost [`ambient_scope_async`] of this task, else `None`.
///
/// A sync scope can only be innermost: it cannot span an `.await`, so while its thread-local
/// is set no other task runs on the thread.
pub fn current_ambient() -> Option<Ambient> {
    if let Some(ambient) = THREAD_AMBIENT.with(|cell| cell.borrow().clone()) {
        return Some(ambient);
    }
    #[cfg(feature = "async")]
    if let Ok(ambient) = TASK_AMBIENT.try_with(Ambient::clone) {
        return Some(ambient);
    }
    None
}

/// Writes the [`current_ambient`] context onto `conn` for the session, or clears the
/// context settings when there is none. One round trip.
///
/// The pool hooks do this at every checkout; call it yourself on a connection you hold
/// when the ambient context changed since you got it. Each call with a context writes a
/// new snapshot row sharing the ambient `scope_id`. (The pool hooks write one row per pool
/// and ambient scope, and point later checkouts in the same scope at it.)
pub fn attach_ambient(conn: &mut PgConnection) -> QueryResult<()> {
    attach_ambient_for(conn, None)
}

/// [`attach_ambient`], reusing the snapshot pool `key` already wrote for this scope.
#[cfg_attr(not(feature = "r2d2"), allow(dead_code))]
pub(crate) fn attach_ambient_for(conn: &mut PgConnection, key: Option<PoolKey>) -> QueryResult<()> {
    match attach_step(key) {
        AttachStep::Clear => queries::set_settings(None, false).execute(conn).map(drop),
        AttachStep::Point(ambient, id) => {
            queries::set_settings(Some((id, &ambient.metadata)), false)
                .execute(conn)
                .map(drop)
        }
        AttachStep::Write(ambient) => {
            let query = queries::attach(Some(ambient.scope_id), ambient.metadata.clone(), false);
            let id = query.get_result::<Uuid>(conn)?;
            written(&ambient, key, id, super::scope::depth(conn)?);
            Ok(())
        }
    }
}

/// What a checkout does with the ambient context, decided before any query: the one
/// decision behind the sync and async hooks.
enum AttachStep {
    /// No ambient context: clear the settings, so none leaks from the connection's last user.
    Clear,
    /// This pool already wrote a snapshot row for this scope: point the settings at it.
    Point(Ambient, Uuid),
    /// Write a snapshot row for this scope and point the settings at it.
    Write(Ambient),
}

fn attach_step(key: Option<PoolKey>) -> AttachStep {
    let Some(ambient) = current_ambient() else {
        return AttachStep::Clear;
    };
    match key.and_then(|key| ambient.snapshot(key)) {
        Some(id) => AttachStep::Point(ambient, id),
        None => AttachStep::Write(ambient),
    }
}

/// After a snapshot row `id` was written at transaction depth `depth`: remember it for the
/// pool `key`, so later checkouts point at it, but only when it was written outside a
/// transaction, so that it is committed already and sure to stay.
fn written(ambient: &Ambient, key: Option<PoolKey>, id: Uuid, depth: u32) {
    if let Some(key) = key {
        if depth == 0 {
            ambient.remember(key, id);
        }
    }
}

/// The async twin of [`attach_ambient`], for `diesel_async::AsyncPgConnection`.
#[cfg(feature = "async")]
pub async fn attach_ambient_async(conn: &mut diesel_async::AsyncPgConnection) -> QueryResult<()> {
    attach_ambient_async_for(conn, None).await
}

/// [`attach_ambient_async`], reusing the snapshot pool `key` already wrote for this scope.
#[cfg(feature = "async")]
#[cfg_attr(not(any(feature = "deadpool", feature = "bb8")), allow(dead_code))]
pub(crate) async fn attach_ambient_async_for(
    conn: &mut diesel_async::AsyncPgConnection,
    key: Option<PoolKey>,
) -> QueryResult<()> {
    use diesel_async::RunQueryDsl as Run;
    match attach_step(key) {
        AttachStep::Clear => Run::execute(queries::set_settings(None, false), conn)
            .await
            .map(drop),
        AttachStep::Point(ambient, id) => {
            let query = queries::set_settings(Some((id, &ambient.metadata)), false);
            Run::execute(query, conn).await.map(drop)
        }
        AttachStep::Write(ambient) => {
            let query = queries::attach(Some(ambient.scope_id), ambient.metadata.clone(), false);
            let id = Run::get_result::<Uuid>(query, conn).await?;
            written(&ambient, key, id, super::scope_async::depth(conn)?);
            Ok(())
        }
    }
}
