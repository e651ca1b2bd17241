//! Is the database's history machinery what the code expects?

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Oid, Text};

use crate::{Error, Result, Tracked};

diesel::define_sql_function! {
    /// Postgres' `to_regprocedure(text)`: the function's oid, or NULL when it does not exist.
    fn to_regprocedure(signature: Text) -> Nullable<Oid>;
}
diesel::define_sql_function! {
    /// Postgres' `to_regclass(text)`.
    fn to_regclass(name: Text) -> Nullable<Oid>;
}
diesel::define_sql_function! {
    /// Postgres' `obj_description(oid, catalog)`.
    fn obj_description(object: Nullable<Oid>, catalog: Text) -> Nullable<Text>;
}

/// Checks that the setup migration is applied.
///
/// Returns [`Error::SetupMissing`] when the context table or its functions are absent.
pub fn check_setup(conn: &mut PgConnection) -> Result<()> {
    let (table, func): (Option<u32>, Option<u32>) = diesel::select((
        to_regclass("\"public\".\"pghistory_context\""),
        to_regprocedure("\"public\".\"pghistory_attach_context\"(uuid, jsonb, boolean)"),
    ))
    .get_result(conn)?;
    if table.is_none() || func.is_none() {
        return Err(Error::SetupMissing);
    }
    Ok(())
}

/// Checks that the triggers of table `T` are installed and are the ones schema.rs declares.
///
/// Returns [`Error::TriggerMissing`] or [`Error::OutdatedTrigger`] naming the function, so
/// an application can refuse to start with a history that silently differs from its code.
pub fn check_table<T: Tracked>(conn: &mut PgConnection) -> Result<()> {
    let info = T::INFO;
    let expected = format!("pghistory-diesel {}", info.trigger_fingerprint);
    for function in info.trigger_functions {
        let comment: Option<String> =
            diesel::select(obj_description(to_regprocedure(*function), "pg_proc")).get_result(conn)?;
        let table = format!("{}.{}", info.schema, info.table);
        match comment {
            None => {
                return Err(Error::TriggerMissing {
                    table,
                    function: (*function).to_owned(),
                })
            }
            Some(found) if found != expected => {
                return Err(Error::OutdatedTrigger {
                    table,
                    function: (*function).to_owned(),
                    installed: found.trim_start_matches("pghistory-diesel ").to_owned(),
                    expected: info.trigger_fingerprint.to_owned(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(())
}
