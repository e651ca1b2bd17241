//! Is the database's history machinery what the code expects?

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use crate::{Error, Result, Tracked};

diesel::define_sql_function! {
    /// Postgres' `to_regprocedure(text)`: the function's oid, or NULL when it does not exist.
    fn to_regprocedure(signature: Text) -> Nullable<diesel::sql_types::Oid>;
}
diesel::define_sql_function! {
    /// Postgres' `to_regclass(text)`.
    fn to_regclass(name: Text) -> Nullable<diesel::sql_types::Oid>;
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

#[derive(QueryableByName)]
struct TriggerState {
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Nullable<Text>)]
    comment: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    enabled: Option<String>,
}

/// Checks that the triggers of table `T` are installed, enabled, and run exactly the
/// function bodies schema.rs declares.
///
/// Errors name the function or trigger: [`Error::TriggerMissing`] (function or trigger
/// absent), [`Error::TriggerDisabled`] (`ALTER TABLE ... DISABLE TRIGGER`), and
/// [`Error::OutdatedTrigger`] (a different body: an older migration, or a function replaced
/// by hand). An application can run it at start-up and refuse to run with a history that
/// silently differs from its code.
pub fn check_table<T: Tracked>(conn: &mut PgConnection) -> Result<()> {
    let info = T::INFO;
    let table = format!("{}.{}", info.schema, info.table);
    for trigger in info.triggers {
        let state: Option<TriggerState> =
            diesel::sql_query(pghistory_diesel_core::catalog::TRIGGER_STATE)
                .bind::<Text, _>(trigger.function)
                .bind::<Text, _>(trigger.table)
                .bind::<Text, _>(trigger.trigger)
                .get_result(conn)
                .optional()?;
        let Some(state) = state else {
            return Err(Error::TriggerMissing {
                table,
                function: trigger.function.to_owned(),
            });
        };
        match state.enabled.as_deref() {
            None => {
                return Err(Error::TriggerMissing {
                    table,
                    function: format!("trigger {} calling {}", trigger.trigger, trigger.function),
                })
            }
            Some("D") => {
                return Err(Error::TriggerDisabled {
                    table,
                    trigger: trigger.trigger.to_owned(),
                })
            }
            Some(_) => {}
        }
        let installed = state
            .comment
            .as_deref()
            .and_then(|c| c.strip_prefix("pghistory-diesel "))
            .unwrap_or("none");
        if installed != info.trigger_fingerprint {
            return Err(Error::OutdatedTrigger {
                table,
                function: trigger.function.to_owned(),
                installed: installed.to_owned(),
                expected: info.trigger_fingerprint.to_owned(),
            });
        }
        if state.body != trigger.body {
            return Err(Error::OutdatedTrigger {
                table,
                function: trigger.function.to_owned(),
                installed: pghistory_diesel_core::fingerprint(&state.body),
                expected: pghistory_diesel_core::fingerprint(trigger.body),
            });
        }
    }
    Ok(())
}
