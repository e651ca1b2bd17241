//! The server functions context scopes call, and the queries shared by the sync and async
//! scopes. Every value is bound; the only SQL text here is function names.

use diesel::dsl;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Jsonb, Nullable, Text, Uuid as SqlUuid};
use serde_json::{Map, Value};
use uuid::Uuid;

use pghistory_diesel_core::vocab;

use crate::context_table::pghistory_context;
use crate::Error;

/// The setting that holds the snapshot id in force (read by the triggers).
pub(crate) const CONTEXT_ID: &str = vocab::CONTEXT_ID_SETTING;
/// The setting that holds the metadata in force (read by `context = json` triggers).
pub(crate) const CONTEXT_METADATA: &str = vocab::CONTEXT_METADATA_SETTING;

diesel::define_sql_function! {
    /// The setup migration's `pghistory_attach_context(scope_id, metadata, is_local)`: inserts
    /// a snapshot row and sets both context settings; returns the snapshot id.
    #[sql_name = "\"public\".\"pghistory_attach_context\""]
    fn pghistory_attach_context(scope_id: Nullable<SqlUuid>, metadata: Jsonb, is_local: Bool) -> SqlUuid;
}
diesel::define_sql_function! {
    /// Postgres' `set_config(name, value, is_local)`.
    #[sql_name = "pg_catalog.set_config"]
    fn set_config(name: Text, value: Text, is_local: Bool) -> Text;
}
diesel::define_sql_function! {
    /// Postgres' `current_setting(name, missing_ok)`.
    #[sql_name = "pg_catalog.current_setting"]
    fn current_setting(name: Text, missing_ok: Bool) -> Nullable<Text>;
}
diesel::define_sql_function! {
    /// SQL's `NULLIF(a, b)` (a construct, not a catalog function).
    #[sql_name = "NULLIF"]
    fn nullif(a: Nullable<Text>, b: Text) -> Nullable<Text>;
}
diesel::define_sql_function! {
    /// Postgres' `to_regprocedure(signature)`: NULL when the function does not exist.
    #[sql_name = "pg_catalog.to_regprocedure"]
    fn to_regprocedure(signature: Text) -> Nullable<Oid>;
}

/// The context in force on a connection before a scope was entered.
#[derive(Debug)]
pub(crate) struct Outer {
    /// The snapshot id in force.
    pub id: Uuid,
    /// Its scope.
    pub scope_id: Uuid,
    /// Its metadata.
    pub metadata: Map<String, Value>,
}

/// What [`probe`] returns: the context id setting, and whether the setup migration is applied.
pub(crate) type Probe = (Option<String>, bool);

/// The columns of [`probe`].
type ProbeColumns = (
    current_setting<&'static str, bool>,
    dsl::IsNotNull<to_regprocedure<&'static str>>,
);

/// Both context settings, set with `set_config`.
type SetBoth = (
    set_config<&'static str, String, bool>,
    set_config<&'static str, String, bool>,
);

/// One round trip: the current `pghistory.context_id` and whether the attach function exists.
pub(crate) fn probe() -> dsl::select<ProbeColumns> {
    diesel::select((
        current_setting(CONTEXT_ID, true),
        to_regprocedure(vocab::ATTACH_CONTEXT_SIGNATURE.as_str()).is_not_null(),
    ))
}

/// The snapshot row in force on the connection, if any: one query.
pub(crate) fn current_snapshot() -> pghistory_context::BoxedQuery<'static, diesel::pg::Pg> {
    // NULL when no context is in force; `id = NULL` then matches no row.
    let in_force = nullif(current_setting(CONTEXT_ID, true), "")
        .assume_not_null()
        .fallible_cast::<SqlUuid>();
    pghistory_context::table
        .filter(pghistory_context::id.eq(in_force))
        .into_boxed()
}

/// The snapshot id in force, from a [`probe`]; [`Error::SetupMissing`] without the setup
/// migration.
pub(crate) fn in_force((setting, setup): Probe) -> Result<Option<Uuid>, Error> {
    if !setup {
        return Err(Error::SetupMissing);
    }
    Ok(setting
        .filter(|s| !s.is_empty())
        .and_then(|s| Uuid::parse_str(&s).ok()))
}

/// The snapshot row `id`: its scope and metadata.
pub(crate) fn snapshot(
    id: Uuid,
) -> dsl::Select<
    dsl::Find<pghistory_context::table, Uuid>,
    (pghistory_context::scope_id, pghistory_context::metadata),
> {
    pghistory_context::table
        .find(id)
        .select((pghistory_context::scope_id, pghistory_context::metadata))
}

/// Builds the [`Outer`] from a snapshot row.
pub(crate) fn outer(id: Uuid, (scope_id, metadata): (Uuid, Value)) -> Outer {
    let metadata = match metadata {
        Value::Object(map) => map,
        // The table's check constraint keeps this from happening.
        _ => Map::new(),
    };
    Outer {
        id,
        scope_id,
        metadata,
    }
}

/// Inner keys win over outer ones.
pub(crate) fn merge(outer: &Map<String, Value>, inner: Map<String, Value>) -> Map<String, Value> {
    let mut merged = outer.clone();
    merged.extend(inner);
    merged
}

/// `SELECT pghistory_attach_context($1, $2, $3)`.
pub(crate) fn attach(
    scope_id: Option<Uuid>,
    metadata: Map<String, Value>,
    is_local: bool,
) -> dsl::select<pghistory_attach_context<Option<Uuid>, Value, bool>> {
    diesel::select(pghistory_attach_context(
        scope_id,
        Value::Object(metadata),
        is_local,
    ))
}

/// Attaches `metadata` transaction-locally, nested in `outer`: in its scope, merged into its
/// metadata.
pub(crate) fn attach_nested(
    outer: Option<&Outer>,
    metadata: Map<String, Value>,
) -> dsl::select<pghistory_attach_context<Option<Uuid>, Value, bool>> {
    match outer {
        Some(o) => attach(Some(o.scope_id), merge(&o.metadata, metadata), true),
        None => attach(None, metadata, true),
    }
}

/// Sets both settings: to snapshot `id` and its metadata, or to `''` (no context).
pub(crate) fn set_settings(
    snapshot: Option<(Uuid, &Map<String, Value>)>,
    is_local: bool,
) -> dsl::select<SetBoth> {
    let (id, metadata) = match snapshot {
        Some((id, metadata)) => (id.to_string(), Value::Object(metadata.clone()).to_string()),
        None => (String::new(), String::new()),
    };
    diesel::select((
        set_config(CONTEXT_ID, id, is_local),
        set_config(CONTEXT_METADATA, metadata, is_local),
    ))
}

#[cfg(test)]
mod tests {
    use super::vocab;

    /// Diesel's `define_sql_function!` takes its SQL name as a literal, so the name above is
    /// spelled there; this keeps it the vocabulary's.
    #[test]
    fn the_attach_function_is_the_vocabularys() {
        assert_eq!(
            "\"public\".\"pghistory_attach_context\"",
            vocab::setup_function(vocab::ATTACH_CONTEXT_FUNCTION)
        );
    }
}
