//! Undoing everything one context scope changed, across tables, as one recorded revert.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Uuid};
use pghistory_diesel_core::history as sql;
use pghistory_diesel_core::quote;
use serde::Serialize;
use serde_json::{Map, Value};

use super::as_of::plan;
use super::names;
use crate::{Error, Result, TableInfo, Tracked};

/// The metadata key naming the scope a revert undid.
pub const REVERTED_SCOPE_KEY: &str = "pgh_reverted_scope";

/// What undoing a scope does to one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevertAction {
    /// The row existed before the scope and still does: it is updated back.
    Restore,
    /// The row existed before the scope, which deleted it: it is inserted again.
    Reinsert,
    /// The scope inserted the row: it is deleted.
    Delete,
}

/// One row's part of undoing a scope, in the order the revert applies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevertStep {
    /// The tracked table, as `schema.table`.
    pub table: String,
    /// The row's primary key, as text.
    pub key: String,
    /// What is done to it.
    pub action: RevertAction,
    /// For [`Restore`](RevertAction::Restore) and [`Reinsert`](RevertAction::Reinsert), the
    /// event (the row's last before the scope) whose snapshot is written back; for
    /// [`Delete`](RevertAction::Delete), the scope's last event of the row.
    pub from_event: i64,
    /// The scope's first and last event of the row.
    pub scope_events: (i64, i64),
}

#[derive(QueryableByName)]
struct ScopeRow {
    #[diesel(sql_type = Text)]
    pgh_obj_id: String,
    #[diesel(sql_type = BigInt)]
    first_id: i64,
    #[diesel(sql_type = BigInt)]
    last_id: i64,
    #[diesel(sql_type = Text)]
    last_label: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    prior_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    prior_label: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    conflict_id: Option<i64>,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

/// The SQL one table's part of a revert runs.
struct TableSql {
    info: &'static TableInfo,
    relation: String,
    changes: String,
    delete_label: &'static str,
    restore: String,
    delete: String,
}

/// Undoes every change of one context scope (a `scope_id`, shared by nested scopes) to the
/// given tables: rows the scope inserted are deleted, rows it changed or deleted are put
/// back as they were before its first event. The writes go through the triggers inside a
/// new context whose metadata has `"pgh_reverted_scope": "<scope id>"` (merged with
/// [`metadata`](Self::metadata) and with the caller's context, when there is one), so the
/// revert is itself recorded and can be found and undone.
///
/// Before anything is written, every row is checked: a change written outside the scope
/// after the scope's first change of that row is [`Error::RevertConflict`], and nothing is
/// written. The whole revert is one transaction, which first locks the tracked tables in
/// `SHARE ROW EXCLUSIVE` mode (readers go on, writers wait until it commits), so no change
/// can slip in between the check and the writes. [`dry_run`](Self::dry_run) returns the
/// steps [`run`](Self::run) would apply; it takes no lock.
///
/// Order: rows are put back (restored or reinserted) first, tables referenced by foreign
/// keys before the tables referencing them; then rows the scope inserted are deleted,
/// referencing tables first. Within a table, the most recently changed row comes first.
///
/// Errors, per table, before any SQL runs: [`Error::NotReconstructible`] when its trackers
/// do not record every state (the revert needs the state before the scope);
/// [`Error::NoContext`] when its events carry no context (`context = none`).
///
/// ```no_run
/// # mod schema {
/// # pghistory_diesel::tracked_table! { #[pghistory(events(insert, update, delete))] posts (id) { id -> Int4, title -> Text, } }
/// # pghistory_diesel::tracked_table! { #[pghistory(events(insert, update, delete))] comments (id) { id -> Int4, post_id -> Int4, } }
/// # }
/// # use schema::*;
/// # fn run(conn: &mut diesel::PgConnection, scope_id: uuid::Uuid) -> pghistory_diesel::Result<()> {
/// use pghistory_diesel::history::RevertScope;
///
/// let revert = RevertScope::new(scope_id)
///     .across::<posts::table>()
///     .across::<comments::table>()
///     .metadata(serde_json::json!({"user": 42, "reason": "spam"}))?;
/// for step in revert.dry_run(conn)? {
///     println!("{:?} {} {} (from event {})", step.action, step.table, step.key, step.from_event);
/// }
/// revert.run(conn)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RevertScope {
    scope: uuid::Uuid,
    tables: Vec<&'static TableInfo>,
    metadata: Map<String, Value>,
}

impl RevertScope {
    /// Undoing the scope `scope_id`; add tables with [`across`](Self::across).
    pub fn new(scope_id: uuid::Uuid) -> RevertScope {
        RevertScope {
            scope: scope_id,
            tables: Vec::new(),
            metadata: Map::new(),
        }
    }

    /// Includes the changes the scope made to table `T`.
    pub fn across<T: Tracked>(mut self) -> RevertScope {
        if !self.tables.iter().any(|t| std::ptr::eq(*t, T::INFO)) {
            self.tables.push(T::INFO);
        }
        self
    }

    /// More metadata for the revert's context (a JSON object), beside
    /// `pgh_reverted_scope`.
    ///
    /// Errors: [`Error::MetadataNotAnObject`], [`Error::MetadataNotSerializable`].
    pub fn metadata(mut self, metadata: impl Serialize) -> Result<RevertScope> {
        let map = crate::context::metadata_object(metadata)?;
        self.metadata.extend(map);
        Ok(self)
    }

    fn context(&self) -> Map<String, Value> {
        let mut out = self.metadata.clone();
        out.insert(
            REVERTED_SCOPE_KEY.to_owned(),
            Value::String(self.scope.to_string()),
        );
        out
    }

    fn table_sql(&self) -> Result<Vec<TableSql>> {
        if self.tables.is_empty() {
            return Err(Error::NoTables);
        }
        self.tables
            .iter()
            .map(|&info| {
                let table = format!("{}.{}", info.schema, info.table);
                let plan = plan(info)?;
                let n = names(info);
                let changes = sql::scope_changes(&n, &plan).ok_or_else(|| Error::NoContext {
                    table: table.clone(),
                })?;
                let not_revertible = || Error::NotRevertible {
                    table: table.clone(),
                };
                Ok(TableSql {
                    info,
                    relation: quote::qualified(info.schema, info.table),
                    changes,
                    delete_label: plan.delete,
                    restore: sql::revert(&n).ok_or_else(not_revertible)?,
                    delete: sql::delete_from_event(&n).ok_or_else(not_revertible)?,
                })
            })
            .collect()
    }

    /// Turns what the scope did into the ordered steps, or the first conflict.
    fn steps(
        &self,
        tables: &[TableSql],
        rows: Vec<Vec<ScopeRow>>,
        fks: Vec<ForeignKey>,
    ) -> Result<Vec<(usize, RevertStep)>> {
        let mut per_table: Vec<Vec<RevertStep>> = Vec::with_capacity(tables.len());
        for (t, rows) in tables.iter().zip(rows) {
            let table = format!("{}.{}", t.info.schema, t.info.table);
            let mut steps = Vec::new();
            for row in rows {
                if let Some(pgh_id) = row.conflict_id {
                    return Err(Error::RevertConflict {
                        table,
                        key: row.pgh_obj_id,
                        pgh_id,
                    });
                }
                let existed = row
                    .prior_label
                    .as_deref()
                    .is_some_and(|l| l != t.delete_label);
                let exists = row.last_label != t.delete_label;
                let (action, from_event) = match (existed, exists, row.prior_id) {
                    (true, true, Some(prior)) => (RevertAction::Restore, prior),
                    (true, false, Some(prior)) => (RevertAction::Reinsert, prior),
                    (false, true, _) => (RevertAction::Delete, row.last_id),
                    // Inserted and deleted within the scope: nothing to undo.
                    _ => continue,
                };
                steps.push(RevertStep {
                    table: table.clone(),
                    key: row.pgh_obj_id,
                    action,
                    from_event,
                    scope_events: (row.first_id, row.last_id),
                });
            }
            per_table.push(steps);
        }
        let order = parents_first(tables, &fks);
        let mut out = Vec::new();
        for &i in &order {
            out.extend(
                per_table[i]
                    .iter()
                    .filter(|s| s.action != RevertAction::Delete)
                    .map(|s| (i, s.clone())),
            );
        }
        for &i in order.iter().rev() {
            out.extend(
                per_table[i]
                    .iter()
                    .filter(|s| s.action == RevertAction::Delete)
                    .map(|s| (i, s.clone())),
            );
        }
        Ok(out)
    }

    fn relations(tables: &[TableSql]) -> Vec<String> {
        tables.iter().map(|t| t.relation.clone()).collect()
    }

    /// `LOCK TABLE` of the tracked tables: it conflicts with every writer's `ROW EXCLUSIVE`
    /// lock and with another revert's, not with readers. Taken before the conflict check,
    /// so that what the check saw is what the writes change.
    fn lock(tables: &[TableSql]) -> String {
        format!(
            "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
            Self::relations(tables).join(", ")
        )
    }

    fn plan_sync(
        &self,
        conn: &mut PgConnection,
        tables: &[TableSql],
    ) -> Result<Vec<(usize, RevertStep)>> {
        let mut rows = Vec::with_capacity(tables.len());
        for t in tables {
            rows.push(
                diesel::sql_query(&t.changes)
                    .bind::<Uuid, _>(self.scope)
                    .load::<ScopeRow>(conn)?,
            );
        }
        let fks = diesel::sql_query(sql::foreign_keys())
            .bind::<Array<Text>, _>(Self::relations(tables))
            .load::<ForeignKey>(conn)?;
        self.steps(tables, rows, fks)
    }

    /// The steps [`run`](Self::run) would apply now, in order; writes nothing.
    ///
    /// Errors: as [`run`](Self::run).
    pub fn dry_run(&self, conn: &mut PgConnection) -> Result<Vec<RevertStep>> {
        let tables = self.table_sql()?;
        Ok(self
            .plan_sync(conn, &tables)?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    /// Undoes the scope in one transaction, in a new context naming it, and returns the
    /// steps applied.
    ///
    /// Errors: [`Error::RevertConflict`] (nothing written), the per-table errors listed on
    /// [`RevertScope`], and database errors (the transaction is rolled back).
    pub fn run(&self, conn: &mut PgConnection) -> Result<Vec<RevertStep>> {
        let tables = self.table_sql()?;
        crate::with_context(conn, self.context(), |conn| {
            diesel::sql_query(Self::lock(&tables)).execute(conn)?;
            let steps = self.plan_sync(conn, &tables)?;
            for (i, step) in &steps {
                let t = &tables[*i];
                let sql = match step.action {
                    RevertAction::Delete => &t.delete,
                    _ => &t.restore,
                };
                diesel::sql_query(sql)
                    .bind::<BigInt, _>(step.from_event)
                    .execute(conn)?;
            }
            Ok::<_, Error>(steps.into_iter().map(|(_, s)| s).collect())
        })
    }

    #[cfg(feature = "async")]
    async fn plan_async(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        tables: &[TableSql],
    ) -> Result<Vec<(usize, RevertStep)>> {
        let mut rows = Vec::with_capacity(tables.len());
        for t in tables {
            let query = diesel::sql_query(t.changes.clone()).bind::<Uuid, _>(self.scope);
            rows.push(diesel_async::RunQueryDsl::load::<ScopeRow>(query, conn).await?);
        }
        let query =
            diesel::sql_query(sql::foreign_keys()).bind::<Array<Text>, _>(Self::relations(tables));
        let fks = diesel_async::RunQueryDsl::load::<ForeignKey>(query, conn).await?;
        self.steps(tables, rows, fks)
    }

    /// [`dry_run`](Self::dry_run) on an async connection.
    #[cfg(feature = "async")]
    pub async fn dry_run_async(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
    ) -> Result<Vec<RevertStep>> {
        let tables = self.table_sql()?;
        Ok(self
            .plan_async(conn, &tables)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    /// [`run`](Self::run) on an async connection.
    #[cfg(feature = "async")]
    pub async fn run_async(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
    ) -> Result<Vec<RevertStep>> {
        let tables = self.table_sql()?;
        let tables = &tables;
        crate::with_context_async(conn, self.context(), async move |conn| {
            diesel_async::RunQueryDsl::execute(diesel::sql_query(Self::lock(tables)), conn).await?;
            let steps = self.plan_async(conn, tables).await?;
            for (i, step) in &steps {
                let t = &tables[*i];
                let sql = match step.action {
                    RevertAction::Delete => t.delete.clone(),
                    _ => t.restore.clone(),
                };
                let query = diesel::sql_query(sql).bind::<BigInt, _>(step.from_event);
                diesel_async::RunQueryDsl::execute(query, conn).await?;
            }
            Ok::<_, Error>(steps.into_iter().map(|(_, s)| s).collect())
        })
        .await
    }
}

/// Indexes of `tables`, each referenced table before the tables referencing it; the given
/// order where foreign keys do not decide (and where they form a cycle).
fn parents_first(tables: &[TableSql], fks: &[ForeignKey]) -> Vec<usize> {
    let mut placed: Vec<usize> = Vec::with_capacity(tables.len());
    let mut left: Vec<usize> = (0..tables.len()).collect();
    while !left.is_empty() {
        let ready = left
            .iter()
            .position(|&i| {
                !fks.iter().any(|fk| {
                    fk.child == tables[i].relation
                        && left
                            .iter()
                            .any(|&j| j != i && tables[j].relation == fk.parent)
                })
            })
            .unwrap_or(0);
        placed.push(left.remove(ready));
    }
    placed
}
