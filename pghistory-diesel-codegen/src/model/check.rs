//! Rules that span several options or columns, run once the model is built.

use super::condition::Condition;
use super::TrackedTable;
use crate::ctxt::Ctxt;

/// The dollar-quote tag around every function body and `DO` block we generate; a name
/// containing it would end the quoted body early.
use pghistory_diesel_core::vocab::DOLLAR_TAG;

fn dollar_tag_error(name: &str) -> String {
    format!(
        "`{name}` contains `{DOLLAR_TAG}`, the quote tag of pghistory-diesel's generated SQL\n\
         help: rename it, or give it a `#[sql_name]` without `{DOLLAR_TAG}`"
    )
}

fn raw_sql_has_tag(cond: &Condition) -> bool {
    match cond {
        Condition::Sql(sql) => sql.contains(DOLLAR_TAG),
        Condition::And(a, b) | Condition::Or(a, b) => raw_sql_has_tag(a) || raw_sql_has_tag(b),
        Condition::Not(a) => raw_sql_has_tag(a),
        _ => false,
    }
}

/// Postgres' identifier limit, in bytes. Longer names are cut without a word, so two
/// long names that share their first 63 bytes would name one object.
const MAX_IDENT: usize = 63;

fn too_long(what: &str, name: &str, help: &str) -> String {
    format!(
        "{what} `{name}` is {} bytes, longer than Postgres' {MAX_IDENT}-byte limit for names\n\
         help: Postgres would cut it to {MAX_IDENT} bytes without a word, and two long names could then collide; {help}",
        name.len()
    )
}

/// Refuses the names we create, or compare as text, that do not fit in an identifier.
/// Function, constraint and index names are derived and cut with a hash
/// (`sql::names::fit`), and trigger names are short, so those always fit.
fn check_lengths(cx: &Ctxt, table: &TrackedTable) {
    if table.events_sql_name.len() > MAX_IDENT {
        cx.error_spanned_by(
            &table.events_rust_name,
            too_long(
                "the events table name",
                &table.events_sql_name,
                "name the events table with #[pghistory(table_name = ...)]",
            ),
        );
    }
    if table.events_schema_explicit && table.events_schema.len() > MAX_IDENT {
        cx.error_spanned_by(
            &table.rust_name,
            too_long(
                "the events schema name",
                &table.events_schema,
                "use a shorter `schema = \"...\"`",
            ),
        );
    }
    for col in table.tracked_columns() {
        if col.sql_name.len() > MAX_IDENT {
            cx.error_spanned_by(
                &col.rust_name,
                too_long(
                    "the column name",
                    &col.sql_name,
                    "rename the column, or leave it out of the history with #[pghistory(exclude(...))]",
                ),
            );
        }
    }
}

/// A table that a schema.rs declares with Diesel's `table!`, outside `tracked_table!`.
pub struct DeclaredTable {
    /// Where it is declared: its Rust name.
    pub rust_name: syn::Ident,
    /// Its Postgres schema (`public` when not qualified).
    pub schema: String,
    /// Its SQL name.
    pub sql_name: String,
}

/// Refuses an events table whose name is taken by another table of the same file: a
/// plain `table!`, a tracked table, or another tracked table's events table.
pub fn check_file(cx: &Ctxt, tables: &[TrackedTable], declared: &[DeclaredTable]) {
    for (i, table) in tables.iter().enumerate() {
        let events = (table.events_schema.as_str(), table.events_sql_name.as_str());
        let taken_by = declared
            .iter()
            .find(|d| (d.schema.as_str(), d.sql_name.as_str()) == events)
            .map(|d| format!("the table `{}`", d.rust_name))
            .or_else(|| {
                tables
                    .iter()
                    .find(|t| (t.schema.as_str(), t.sql_name.as_str()) == events)
                    .map(|t| format!("the tracked table `{}`", t.rust_name))
            })
            .or_else(|| {
                tables[..i]
                    .iter()
                    .find(|t| (t.events_schema.as_str(), t.events_sql_name.as_str()) == events)
                    .map(|t| format!("the events table of `{}`", t.rust_name))
            });
        if let Some(other) = taken_by {
            cx.error_spanned_by(
                &table.events_rust_name,
                format!(
                    "the events table of `{}` would be `{}.{}`, a name schema.rs already gives {other}\n\
                     help: name the events table with #[pghistory(table_name = ...)], or rename the other table",
                    table.rust_name, events.0, events.1
                ),
            );
        }
    }
}

/// Records every cross-field mistake of `table` in `cx`.
pub fn check(cx: &Ctxt, table: &TrackedTable) {
    check_lengths(cx, table);
    // Pause keys are `,schema.table,` entries of one setting; the schema is a Rust ident,
    // so only a comma in the table's SQL name could make two keys overlap.
    if table.sql_name.contains(',') {
        cx.error_spanned_by(
            &table.rust_name,
            format!(
                "pghistory-diesel cannot track a table whose SQL name contains a comma (`{}`)\nhelp: `pghistory.pause` lists paused tables separated by commas; rename the table",
                table.sql_name
            ),
        );
    }
    if table.events_sql_name == table.sql_name && table.events_schema == table.schema {
        cx.error_spanned_by(
            &table.events_rust_name,
            "the events table cannot have the tracked table's own name",
        );
    }
    if let Some(col) = table
        .columns
        .iter()
        .find(|c| c.rust_name == table.events_rust_name)
    {
        cx.error_spanned_by(
            &col.rust_name,
            format!(
                "a column may not share the events table's name `{}`\nhelp: set another with #[pghistory(table_name = ...)]",
                table.events_rust_name
            ),
        );
    }
    if table.model_name == table.rust_name || table.model_name == table.events_rust_name {
        cx.error_spanned_by(
            &table.model_name,
            format!(
                "the model struct needs a name of its own, not the name of a table\nhelp: leave out `model` for `{}Event`, or pick another name",
                super::build::pascal_case(&table.rust_name.to_string())
            ),
        );
    }
    for col in &table.columns {
        if col.sql_name.contains(DOLLAR_TAG) {
            cx.error_spanned_by(&col.rust_name, dollar_tag_error(&col.sql_name));
        }
    }
    for name in [
        &table.sql_name,
        &table.schema,
        &table.events_sql_name,
        &table.events_schema,
    ] {
        if name.contains(DOLLAR_TAG) {
            cx.error_spanned_by(&table.rust_name, dollar_tag_error(name));
        }
    }
    if table
        .trackers
        .iter()
        .filter_map(|t| t.condition.as_ref())
        .any(raw_sql_has_tag)
    {
        cx.error_spanned_by(
            &table.rust_name,
            format!("a `sql(\"...\")` condition contains `{DOLLAR_TAG}`, the quote tag of pghistory-diesel's generated SQL\nhelp: write the condition without it"),
        );
    }
}

#[cfg(test)]
mod tests {
    use ::quote::quote;

    fn error_of(tokens: proc_macro2::TokenStream) -> String {
        match crate::table_from_tokens(tokens) {
            Ok(_) => panic!("expected an error"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn names_containing_the_dollar_quote_tag_are_refused() {
        let column = error_of(quote! {
            posts (id) {
                id -> Int4,
                #[sql_name = "a$pghistory$b"]
                title -> Text,
            }
        });
        assert!(
            column.contains("`a$pghistory$b` contains `$pghistory$`"),
            "{column}"
        );
        let table = error_of(quote! {
            #[sql_name = "x$pghistory$"]
            posts (id) { id -> Int4, }
        });
        assert!(table.contains("`x$pghistory$` contains"), "{table}");
        let condition = error_of(quote! {
            #[pghistory(event(update, when = changed && sql("NEW.x = $pghistory$y$pghistory$")))]
            posts (id) { id -> Int4, x -> Text, }
        });
        assert!(
            condition.contains("`sql(\"...\")` condition contains"),
            "{condition}"
        );
        // A lone `$` is fine.
        assert!(crate::table_from_tokens(quote! {
            posts (id) { id -> Int4, #[sql_name = "price$"] price -> Int4, }
        })
        .is_ok());
    }
}

#[cfg(test)]
mod file_tests {
    fn errors_of(source: &str) -> Vec<String> {
        let file = syn::parse_file(source).unwrap();
        match crate::tables_in_file(&file) {
            Ok(_) => Vec::new(),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn an_events_table_may_not_take_the_name_of_a_plain_table() {
        let errors = errors_of(
            r#"
            diesel::table! { foo_events (id) { id -> Int4, } }
            pghistory_diesel::tracked_table! { foo (id) { id -> Int4, } }
            "#,
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("the events table of `foo` would be `public.foo_events`, a name schema.rs already gives the table `foo_events`"),
            "{errors:?}"
        );
    }

    #[test]
    fn names_collide_by_their_sql_names_and_schemas() {
        // `#[sql_name]` and the schema decide, not the Rust names.
        let errors = errors_of(
            r#"
            mod inner {
                table! { #[sql_name = "foo_events"] app.other (id) { id -> Int4, } }
            }
            tracked_table! { app.foo (id) { id -> Int4, } }
            tracked_table! { bar (id) { id -> Int4, } }
            "#,
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("`app.foo_events`"), "{errors:?}");
        assert!(errors[0].contains("the table `other`"), "{errors:?}");
        // The same names in another schema do not collide.
        assert!(errors_of(
            r#"
            table! { app.foo_events (id) { id -> Int4, } }
            tracked_table! { foo (id) { id -> Int4, } }
            "#
        )
        .is_empty());
    }

    #[test]
    fn an_events_table_may_not_take_the_name_of_a_tracked_table_or_its_events() {
        let errors = errors_of(
            r#"
            tracked_table! { foo_events (id) { id -> Int4, } }
            tracked_table! { foo (id) { id -> Int4, } }
            tracked_table! {
                #[pghistory(table_name = foo_events_events)]
                bar (id) { id -> Int4, }
            }
            "#,
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("a name schema.rs already gives the tracked table `foo_events`"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("a name schema.rs already gives the events table of `foo_events`"),
            "{errors:?}"
        );
    }

    #[test]
    fn every_error_of_every_table_is_returned() {
        let errors = errors_of(
            r#"
            tracked_table! { #[pghistory(nope)] a (id) { id -> Int4, } }
            tracked_table! { b (id) { id -> Int4, pgh_x -> Int4, } }
            "#,
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn names_longer_than_63_bytes_are_refused() {
        let long = "t".repeat(57);
        let errors = errors_of(&format!(
            "tracked_table! {{ {long} (id) {{ id -> Int4, }} }}"
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(&format!(
                "the events table name `{long}_events` is 64 bytes, longer than Postgres' 63-byte limit"
            )),
            "{errors:?}"
        );
        // 56 bytes plus `_events` is exactly 63: accepted.
        let fits = "t".repeat(56);
        assert!(errors_of(&format!(
            "tracked_table! {{ {fits} (id) {{ id -> Int4, }} }}"
        ))
        .is_empty());
        let schema = "s".repeat(64);
        let errors = errors_of(&format!(
            "tracked_table! {{ #[pghistory(schema = \"{schema}\")] t (id) {{ id -> Int4, }} }}"
        ));
        assert!(
            errors[0].starts_with("the events schema name `sss"),
            "{errors:?}"
        );
    }
}
