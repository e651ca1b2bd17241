//! Rules that span several options or columns, run once the model is built.

use crate::condition::Condition;
use crate::ctxt::Ctxt;
use crate::model::TrackedTable;

/// The dollar-quote tag around every function body and `DO` block we generate; a name
/// containing it would end the quoted body early.
const DOLLAR_TAG: &str = "$pghistory$";

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

/// Records every cross-field mistake of `table` in `cx`.
pub fn check(cx: &Ctxt, table: &TrackedTable) {
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
                crate::model::pascal_case(&table.rust_name.to_string())
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
