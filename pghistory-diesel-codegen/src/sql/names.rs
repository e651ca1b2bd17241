//! Names of the SQL objects we create, within Postgres' 63-byte identifier limit.

use crate::model::{Operation, TrackedTable};

const MAX_IDENT: usize = 63;

/// Shortens `name` to 63 bytes, replacing the tail by a hash of the whole so that two long
/// names stay distinct.
pub fn fit(name: &str) -> String {
    if name.len() <= MAX_IDENT {
        return name.to_owned();
    }
    let hash = &super::fingerprint(name)[..8];
    let mut cut = MAX_IDENT - hash.len() - 1;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{}", &name[..cut], hash)
}

/// The trigger function of one operation on one table.
pub fn function(table: &TrackedTable, op: Operation) -> String {
    function_for(&table.sql_name, op)
}

/// The trigger function of one operation on the table with this SQL name.
pub fn function_for(sql_name: &str, op: Operation) -> String {
    fit(&format!("pghistory_{}_{}", sql_name, op.as_str()))
}

/// The trigger of one operation; trigger names are per table, so this is short.
pub fn trigger(op: Operation) -> String {
    format!("pghistory_{}", op.as_str())
}

/// The append-only guard function of an events table.
pub fn protect_function(table: &TrackedTable) -> String {
    protect_function_for(&table.events_sql_name)
}

/// The append-only guard function of the events table with this SQL name.
pub fn protect_function_for(events_sql_name: &str) -> String {
    fit(&format!("pghistory_{}_protect", events_sql_name))
}

/// The append-only guard triggers on the events table.
pub const PROTECT_TRIGGER: &str = "pghistory_append_only";
/// The append-only guard on TRUNCATE.
pub const PROTECT_TRUNCATE_TRIGGER: &str = "pghistory_append_only_truncate";

/// The guard triggers of an events table that is not append-only (owner only).
pub const OWNER_ONLY_TRIGGER: &str = "pghistory_owner_only";
/// The owner-only guard on TRUNCATE.
pub const OWNER_ONLY_TRUNCATE_TRIGGER: &str = "pghistory_owner_only_truncate";
/// The row level security policy on events tables: reading is for whoever is granted
/// `SELECT`; there is no policy for writing, so only the owner (who bypasses row level
/// security) writes.
pub const READ_POLICY: &str = "pghistory_read";

/// The manual-event function of one table.
pub fn event_function(table: &TrackedTable) -> String {
    event_function_for(&table.sql_name)
}

/// The manual-event function of the table with this SQL name.
pub fn event_function_for(sql_name: &str) -> String {
    fit(&format!("pghistory_{}_event", sql_name))
}

/// The transition table of new rows.
pub const NEW_TABLE: &str = "pgh_new";
/// The transition table of old rows.
pub const OLD_TABLE: &str = "pgh_old";

/// The session setting holding the current context snapshot id.
pub const CONTEXT_ID_SETTING: &str = "pghistory.context_id";
/// The session setting holding the current context metadata (JSON text).
pub const CONTEXT_METADATA_SETTING: &str = "pghistory.context_metadata";
/// The session setting listing paused tables (`,schema.table,` entries, or `*`), honoured
/// only with the grant `pghistory_pause` records.
pub const PAUSE_SETTING: &str = "pghistory.pause";
/// The session setting naming the table `pghistory_prune` is deleting from (honoured only
/// with the grant `pghistory_prune` records).
pub const PRUNE_SETTING: &str = "pghistory.prune";

/// The key of a table in the pause list.
pub fn pause_key(table: &TrackedTable) -> String {
    format!(",{}.{},", table.schema, table.sql_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_with_a_hash() {
        let long = "x".repeat(80);
        let a = fit(&format!("{long}_a"));
        let b = fit(&format!("{long}_b"));
        assert_eq!(a.len(), 63);
        assert_ne!(a, b);
        assert_eq!(fit("short"), "short");
    }
}
