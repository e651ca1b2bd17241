//! What `check` expects of one tracked table, built from the checked model. The plain
//! types and the catalog queries live in `pghistory_diesel_core::catalog`, which the
//! runtime reads without depending on this crate.

pub use pghistory_diesel_core::catalog::*;

use super::{event_table, function, names, setup, trigger};
use crate::model::TrackedTable;

/// The expected installation of `table`.
pub fn expected(table: &TrackedTable) -> ExpectedTable {
    let declared = |c: &crate::model::Column| match c.pg_type_name() {
        Some(ty) => ExpectedType::Named(ty),
        None => ExpectedType::Unknown,
    };
    let columns = table
        .columns
        .iter()
        .map(|c| ExpectedColumn {
            name: c.sql_name.clone(),
            ty: declared(c),
        })
        .collect();
    let mut events_columns: Vec<ExpectedColumn> = event_table::pgh_columns(table)
        .map(|c| ExpectedColumn {
            name: c.name.to_owned(),
            ty: match c.ty {
                pghistory_diesel_core::vocab::PghType::Fixed { pg, .. } => {
                    ExpectedType::Named(pg.to_owned())
                }
                pghistory_diesel_core::vocab::PghType::PrimaryKey => {
                    ExpectedType::SameBaseAs(table.pk().sql_name.clone())
                }
            },
        })
        .collect();
    events_columns.extend(table.tracked_columns().map(|c| ExpectedColumn {
        name: c.sql_name.clone(),
        ty: ExpectedType::SameAs(c.sql_name.clone()),
    }));
    let functions = trigger::operations(table)
        .into_iter()
        .map(|op| {
            let (old, new) = match op {
                crate::model::Operation::Insert => (None, Some(names::NEW_TABLE)),
                crate::model::Operation::Delete => (Some(names::OLD_TABLE), None),
                _ => (Some(names::OLD_TABLE), Some(names::NEW_TABLE)),
            };
            ExpectedFunction {
                signature: format!("{}()", trigger::function_name(table, op)),
                body: trigger::function_body(table, op),
                trigger: names::trigger(op),
                trigger_type: trigger::trigger_type(op),
                transition: (old.map(str::to_owned), new.map(str::to_owned)),
                unchanged: trigger::unchanged_function_body(table)
                    .filter(|_| op == crate::model::Operation::Update)
                    .map(|body| ExpectedUnchanged {
                        trigger: names::UNCHANGED_TRIGGER.to_owned(),
                        signature: trigger::unchanged_function_signature(table),
                        body,
                    }),
                security: ExpectedSecurity {
                    definer: true,
                    config: function::proconfig(trigger::function_settings(table, op)),
                },
            }
        })
        .collect();
    // Every events table has a guard: an append-only one its own (refusing everyone but a
    // granted prune), any other the shared owner-only guard of the setup migration.
    let guard = if table.append_only {
        ExpectedGuard {
            signature: format!("{}()", trigger::protect_function_name(table)),
            body: trigger::protect_body(table),
            triggers: vec![
                (
                    names::PROTECT_TRIGGER.to_owned(),
                    trigger::PROTECT_TRIGGER_TYPES[0],
                ),
                (
                    names::PROTECT_TRUNCATE_TRIGGER.to_owned(),
                    trigger::PROTECT_TRIGGER_TYPES[1],
                ),
            ],
            security: ExpectedSecurity {
                definer: true,
                config: function::proconfig(&[]),
            },
        }
    } else {
        ExpectedGuard {
            signature: format!(
                "{}()",
                super::quote::qualified(
                    pghistory_diesel_core::vocab::SETUP_SCHEMA,
                    setup::OWNER_ONLY_FUNCTION
                )
            ),
            body: setup::OWNER_ONLY_BODY.to_owned(),
            triggers: vec![
                (
                    names::OWNER_ONLY_TRIGGER.to_owned(),
                    trigger::PROTECT_TRIGGER_TYPES[0],
                ),
                (
                    names::OWNER_ONLY_TRUNCATE_TRIGGER.to_owned(),
                    trigger::PROTECT_TRIGGER_TYPES[1],
                ),
            ],
            // Invoker on purpose: it asks who the caller is.
            security: ExpectedSecurity {
                definer: false,
                config: function::proconfig(&[]),
            },
        }
    };
    ExpectedTable {
        table: format!("{}.{}", table.schema, table.sql_name),
        relation: event_table::tracked_name(table),
        events_relation: event_table::events_name(table),
        columns,
        events_columns,
        functions,
        guard: Some(guard),
        fingerprint: trigger::fingerprint(table),
        orphans_sql: table
            .context
            .has_id()
            .then(|| orphan_events(&event_table::events_name(table))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(tokens: proc_macro2::TokenStream) -> TrackedTable {
        crate::table_from_tokens(tokens).unwrap()
    }

    #[test]
    fn the_guard_and_context_columns_follow_the_options() {
        let plain = expected(&table(quote::quote! {
            #[pghistory(events(insert), context = none)]
            labels (id) { id -> Int4, name -> Varchar, }
        }));
        let guard = plain.guard.expect("every events table has a guard");
        assert_eq!(guard.signature, "\"public\".\"pghistory_owner_only\"()");
        assert!(
            !guard.security.definer,
            "the owner-only guard asks who the caller is"
        );
        assert!(plain.orphans_sql.is_none());
        let names: Vec<&str> = plain
            .events_columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "pgh_id",
                "pgh_created_at",
                "pgh_obj_id",
                "pgh_label",
                "id",
                "name"
            ]
        );
        assert_eq!(
            plain.columns[1].ty,
            ExpectedType::Named("varchar".to_owned())
        );
        assert_eq!(plain.functions.len(), 1);
        assert_eq!(
            plain.functions[0].transition,
            (None, Some("pgh_new".to_owned()))
        );

        let guarded = expected(&table(quote::quote! {
            #[pghistory(events(insert, update, delete), append_only)]
            ledger (id) { id -> Int4, }
        }));
        let guard = guarded.guard.unwrap();
        assert_eq!(
            guard.signature,
            "\"public\".\"pghistory_ledger_events_protect\"()"
        );
        assert_eq!(guard.triggers.len(), 2);
        assert!(guard.body.contains("is append-only"));
        assert!(guarded
            .orphans_sql
            .unwrap()
            .contains("\"public\".\"ledger_events\""));
        let types: Vec<i16> = guarded.functions.iter().map(|f| f.trigger_type).collect();
        assert_eq!(types, [4, 16, 8]);
    }
}
