//! The setup migration's part of `check`: its functions (present, their security, their
//! owner, who may call them) and its two immutable tables (guard triggers, row level
//! security). A tracked table's findings stand on these: a pause function granted to
//! `PUBLIC`, or a context table whose guard is off, weakens every table's history.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use pghistory_diesel_core::catalog::{self as q, ExpectedSetup};
use pghistory_diesel_core::quote;

use super::{
    function_security_findings, function_state, mode_finding, triggers, Finding, FindingKind,
};
use crate::Result;

/// A missing setup object is recreated from the setup migration's own statement: redoing
/// that migration would drop the context table and every context row with it.
const RECREATE: &str = "recreate it with its statement from the setup migration's up.sql (`pghistory-diesel setup` prints it); do not redo the setup migration, its down.sql drops the context table";

#[derive(QueryableByName)]
struct Granted {
    #[diesel(sql_type = Bool)]
    granted: bool,
}

#[derive(QueryableByName)]
struct RowSecurity {
    #[diesel(sql_type = Bool)]
    enabled: bool,
}

/// Whether row level security is on for `relation`; `None` when it does not exist.
pub(super) fn row_security(conn: &mut PgConnection, relation: &str) -> Result<Option<bool>> {
    Ok(diesel::sql_query(q::ROW_SECURITY)
        .bind::<Text, _>(relation)
        .get_result::<RowSecurity>(conn)
        .optional()?
        .map(|r| r.enabled))
}

/// The finding for a history table whose row level security is off.
pub(super) fn row_security_finding(table: &str, relation: &str) -> Finding {
    Finding::new(
        FindingKind::RowSecurityDisabled,
        table,
        relation.to_owned(),
        None,
        None,
        format!("`ALTER TABLE {relation} ENABLE ROW LEVEL SECURITY`"),
    )
}

/// Every finding about the setup migration, once it is present (the caller reports its
/// absence). `owner` is the history owner.
pub(super) fn setup_findings(
    out: &mut Vec<Finding>,
    conn: &mut PgConnection,
    expected: &ExpectedSetup,
    owner: Option<&str>,
) -> Result<()> {
    let mut guard_oid = None;
    for function in &expected.functions {
        let Some(state) = function_state(conn, &function.signature)? else {
            out.push(Finding::new(
                FindingKind::SetupFunctionMissing,
                "",
                function.signature.clone(),
                None,
                None,
                RECREATE.to_owned(),
            ));
            continue;
        };
        if function.signature == expected.guard {
            guard_oid = Some(state.oid);
        }
        function_security_findings(
            out,
            "",
            &function.signature,
            &function.security,
            &state,
            owner,
        );
        if !function.public_execute {
            let granted = diesel::sql_query(q::PUBLIC_EXECUTE)
                .bind::<Text, _>(&function.signature)
                .get_result::<Granted>(conn)?
                .granted;
            if granted {
                out.push(Finding::new(
                    FindingKind::FunctionPrivilege,
                    "",
                    function.signature.clone(),
                    Some("EXECUTE granted to PUBLIC".to_owned()),
                    Some("EXECUTE for the maintainer role only".to_owned()),
                    format!(
                        "`REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC`",
                        function.signature
                    ),
                ));
            }
        }
    }
    for table in &expected.tables {
        match row_security(conn, &table.relation)? {
            // A missing context table is the setup finding already; the capability table
            // is named here.
            None => {
                out.push(Finding::new(
                    FindingKind::SetupMissing,
                    "",
                    table.relation.clone(),
                    None,
                    None,
                    RECREATE.to_owned(),
                ));
                continue;
            }
            Some(false) => out.push(row_security_finding("", &table.relation)),
            Some(true) => {}
        }
        let installed = triggers(conn, &table.relation)?;
        for (name, trigger_type) in &table.guard_triggers {
            let on = format!(
                "trigger {name} on {} calling {}",
                table.relation, expected.guard
            );
            match installed.iter().find(|t| &t.name == name) {
                None => out.push(Finding::new(
                    FindingKind::GuardMissing,
                    "",
                    on,
                    None,
                    None,
                    RECREATE.to_owned(),
                )),
                Some(trigger) => {
                    if Some(trigger.function_oid) != guard_oid
                        || trigger.trigger_type != *trigger_type
                        || !trigger.plain()
                    {
                        out.push(Finding::new(
                            FindingKind::TriggerChanged,
                            "",
                            on.clone(),
                            Some(format!("it calls {}", trigger.function)),
                            None,
                            RECREATE.to_owned(),
                        ));
                    }
                    if let Some(kind) = mode_finding(&trigger.enabled, true) {
                        out.push(Finding::new(
                            kind,
                            "",
                            on,
                            None,
                            None,
                            format!(
                                "`ALTER TABLE {} ENABLE TRIGGER {}`",
                                table.relation,
                                quote::ident(name)
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}
