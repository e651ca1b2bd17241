//! The `pghistory_context` table, created by the setup migration.

use diesel::prelude::*;

diesel::table! {
    /// Context snapshots: one immutable row per context scope and metadata version.
    pghistory_context (id) {
        /// The snapshot id, stored in events' `pgh_context_id`.
        id -> Uuid,
        /// The scope's id, shared by nested scopes and by every metadata version.
        scope_id -> Uuid,
        /// When the snapshot was written.
        created_at -> Timestamptz,
        /// The metadata in force (a JSON object).
        metadata -> Jsonb,
    }
}

/// One row of `pghistory_context`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = pghistory_context, check_for_backend(diesel::pg::Pg))]
pub struct Context {
    /// The snapshot id, stored in events' `pgh_context_id`.
    pub id: uuid::Uuid,
    /// The scope's id, shared by nested scopes.
    pub scope_id: uuid::Uuid,
    /// When the snapshot was written.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The metadata in force when the events that reference it were written.
    pub metadata: serde_json::Value,
}
