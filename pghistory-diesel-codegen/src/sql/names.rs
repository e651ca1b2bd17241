//! Names of the SQL objects we create, within Postgres' 63-byte identifier limit.

use crate::model::{Operation, TrackedTable};

pub use pghistory_diesel_core::vocab::{
    fit, CONTEXT_ID_SETTING, CONTEXT_METADATA_SETTING, NEW_TABLE, OLD_TABLE, OWNER_ONLY_TRIGGER,
    OWNER_ONLY_TRUNCATE_TRIGGER, PAUSE_SETTING, PROTECT_TRIGGER, PROTECT_TRUNCATE_TRIGGER,
    PRUNE_SETTING, READ_POLICY, UNCHANGED_TRIGGER, UNCHANGED_TRIGGER_TYPE,
};

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

/// The function the `WHEN` of an UPDATE's row-level companion calls (see
/// [`UNCHANGED_TRIGGER`]), of the table with this SQL name.
pub fn unchanged_function_for(sql_name: &str) -> String {
    fit(&format!("pghistory_{sql_name}_unchanged"))
}

/// The append-only guard function of an events table.
pub fn protect_function(table: &TrackedTable) -> String {
    protect_function_for(&table.events_sql_name)
}

/// The append-only guard function of the events table with this SQL name.
pub fn protect_function_for(events_sql_name: &str) -> String {
    fit(&format!("pghistory_{}_protect", events_sql_name))
}

/// The manual-event function of one table.
pub fn event_function(table: &TrackedTable) -> String {
    event_function_for(&table.sql_name)
}

/// The manual-event function of the table with this SQL name.
pub fn event_function_for(sql_name: &str) -> String {
    fit(&format!("pghistory_{}_event", sql_name))
}

/// The key of a table in the pause list.
pub fn pause_key(table: &TrackedTable) -> String {
    pghistory_diesel_core::vocab::pause_key(&table.schema, &table.sql_name)
}

/// The setting [`UNCHANGED_TRIGGER`] sets for this table.
pub fn unchanged_setting(table: &TrackedTable) -> String {
    pghistory_diesel_core::vocab::unchanged_setting(&table.schema, &table.sql_name)
}
