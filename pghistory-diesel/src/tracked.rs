//! What `tracked_table!` tells the runtime about each tracked table.

/// The statement kind of a tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Written by the `INSERT` trigger.
    Insert,
    /// Written by the `UPDATE` trigger.
    Update,
    /// Written by the `DELETE` trigger.
    Delete,
    /// Written from Rust with [`create_event`](crate::create_event).
    Manual,
}

/// How a table's events store context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextMode {
    /// `pgh_context_id` referencing `pghistory_context`.
    ForeignKey,
    /// `pgh_context_id` plus the metadata copied into `pgh_context`.
    Json,
    /// No context columns.
    None,
}

/// One tracker of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerInfo {
    /// Its `pgh_label`.
    pub label: &'static str,
    /// The statement that writes it.
    pub operation: Operation,
}

/// One installed trigger of a tracked table, as the code expects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TriggerInfo {
    /// The trigger function's signature, like `"public"."pghistory_posts_insert"()`.
    pub function: &'static str,
    /// The trigger's name on the tracked table.
    pub trigger: &'static str,
    /// The tracked table, quoted and schema-qualified.
    pub table: &'static str,
    /// The function's source as Postgres stores it.
    pub body: &'static str,
}

/// A tracked table as declared in schema.rs, with the names of everything installed for it.
#[derive(Clone, Copy, Debug)]
pub struct TableInfo {
    /// Postgres schema of the tracked table.
    pub schema: &'static str,
    /// SQL name of the tracked table.
    pub table: &'static str,
    /// Postgres schema of the events table.
    pub events_schema: &'static str,
    /// SQL name of the events table.
    pub events_table: &'static str,
    /// SQL name of the primary key column.
    pub primary_key: &'static str,
    /// SQL type of the primary key (and of the events' `pgh_obj_id`), like `integer`.
    pub primary_key_type: &'static str,
    /// SQL names of the snapshotted columns.
    pub columns: &'static [&'static str],
    /// The trackers, in declaration order.
    pub trackers: &'static [TrackerInfo],
    /// How context is stored.
    pub context: ContextMode,
    /// Fingerprint of the trigger SQL this code expects to be installed.
    pub trigger_fingerprint: &'static str,
    /// Every trigger installed for the table, with the function body it must run.
    pub triggers: &'static [TriggerInfo],
    /// The events table as a quoted SQL name, like `"public"."posts_events"`.
    pub events_relation: &'static str,
    /// This table's entry in the `pghistory.pause` setting, like `,public.posts,`.
    pub pause_key: &'static str,
    /// The statement [`create_event`](crate::create_event) runs: `$1` is the label (text),
    /// `$2` the primary key; it returns the new event's `pgh_id`.
    pub create_event_sql: &'static str,
    /// Builds the description of everything installed for the table that
    /// [`check`](crate::check) compares with the catalog.
    pub expected: fn() -> crate::check::ExpectedTable,
}

/// Implemented by `tracked_table!` for every tracked table's `table` type.
///
/// ```
/// # mod schema {
/// pghistory_diesel::tracked_table! {
///     posts (id) { id -> Int4, title -> Text, }
/// }
/// # }
/// use pghistory_diesel::Tracked;
/// assert_eq!(<schema::posts::table as Tracked>::INFO.events_table, "posts_events");
/// ```
pub trait Tracked: diesel::Table {
    /// The events table.
    type Events: diesel::Table;
    /// The events table's model struct.
    type Event;
    /// What was declared.
    const INFO: &'static TableInfo;
}
