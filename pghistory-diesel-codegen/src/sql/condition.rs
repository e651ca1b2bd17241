//! Renders a checked [`Condition`] as a `WHERE` clause over the aliases `"old"` and `"new"`.

use super::quote;
use crate::model::condition::{CompareOp, Condition, Operand, Value};
use crate::model::Row;
use crate::model::TrackedTable;

fn side(s: Row) -> &'static str {
    match s {
        Row::Old => "\"old\"",
        Row::New => "\"new\"",
    }
}

fn column(s: Row, name: &str) -> String {
    format!("{}.{}", side(s), quote::ident(name))
}

fn value(v: &Value) -> String {
    match v {
        Value::Str(s) => quote::literal(s),
        Value::Number(n) => n.clone(),
        Value::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Value::Null => "NULL".to_owned(),
    }
}

/// A column as an operand of an equality test: its text when its type has no `=`.
fn compared(s: Row, name: &str, table: &TrackedTable) -> String {
    let text = table.column(name).is_some_and(|c| c.compares_as_text());
    if text {
        format!("{}::pg_catalog.text", column(s, name))
    } else {
        column(s, name)
    }
}

fn operand(o: &Operand) -> String {
    match o {
        Operand::Column(s, name) => column(*s, name),
        Operand::Value(v) => value(v),
    }
}

/// An operand of an equality test.
fn compared_operand(o: &Operand, table: &TrackedTable) -> String {
    match o {
        Operand::Column(s, name) => compared(*s, name, table),
        Operand::Value(v) => value(v),
    }
}

fn row_of(s: Row, cols: &[&str], table: &TrackedTable) -> String {
    let items: Vec<String> = cols.iter().map(|c| compared(s, c, table)).collect();
    format!("ROW({})", items.join(", "))
}

/// SQL for `cond` on `table`.
pub fn render(cond: &Condition, table: &TrackedTable) -> String {
    match cond {
        Condition::AnyChange(cols) => {
            let names: Vec<&str> = if cols.is_empty() {
                table
                    .tracked_columns()
                    .map(|c| c.sql_name.as_str())
                    .collect()
            } else {
                cols.iter().map(String::as_str).collect()
            };
            if names.is_empty() {
                return "false".to_owned();
            }
            format!(
                "{} IS DISTINCT FROM {}",
                row_of(Row::Old, &names, table),
                row_of(Row::New, &names, table)
            )
        }
        Condition::Always => "true".to_owned(),
        Condition::ChangedTo(col, v) => format!(
            "({old} IS DISTINCT FROM {new} AND {new} IS NOT DISTINCT FROM {v})",
            old = compared(Row::Old, col, table),
            new = compared(Row::New, col, table),
            v = value(v)
        ),
        Condition::ChangedFrom(col, v) => format!(
            "({old} IS DISTINCT FROM {new} AND {old} IS NOT DISTINCT FROM {v})",
            old = compared(Row::Old, col, table),
            new = compared(Row::New, col, table),
            v = value(v)
        ),
        Condition::Compare(l, op, r) => {
            let (op, l, r) = match op {
                CompareOp::Eq => (
                    "IS NOT DISTINCT FROM",
                    compared_operand(l, table),
                    compared_operand(r, table),
                ),
                CompareOp::Ne => (
                    "IS DISTINCT FROM",
                    compared_operand(l, table),
                    compared_operand(r, table),
                ),
                CompareOp::Lt => ("<", operand(l), operand(r)),
                CompareOp::Le => ("<=", operand(l), operand(r)),
                CompareOp::Gt => (">", operand(l), operand(r)),
                CompareOp::Ge => (">=", operand(l), operand(r)),
            };
            format!("({l} {op} {r})")
        }
        Condition::IsNull(o) => format!("({} IS NULL)", operand(o)),
        Condition::And(a, b) => format!("({} AND {})", render(a, table), render(b, table)),
        Condition::Or(a, b) => format!("({} OR {})", render(a, table), render(b, table)),
        Condition::Not(a) => format!("(NOT {})", render(a, table)),
        // Raw SQL names OLD and NEW; the trigger aliases its rows "old" and "new", which
        // these unquoted words resolve to.
        Condition::Sql(sql) => format!("({sql})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Operation;
    use ::quote::quote;

    fn table() -> TrackedTable {
        crate::table_from_tokens(quote! {
            #[pghistory(events(insert, update, delete))]
            posts (id) {
                id -> Int4,
                #[sql_name = "Ti\"tle"]
                title -> Text,
                body -> Nullable<Text>,
                score -> Int4,
            }
        })
        .unwrap()
    }

    fn col(side: Row, name: &str) -> Operand {
        Operand::Column(side, name.to_owned())
    }

    #[test]
    fn any_change_compares_every_tracked_column_as_a_row() {
        assert_eq!(
            render(&Condition::AnyChange(Vec::new()), &table()),
            r#"ROW("old"."id", "old"."Ti""tle", "old"."body", "old"."score") IS DISTINCT FROM ROW("new"."id", "new"."Ti""tle", "new"."body", "new"."score")"#
        );
    }

    #[test]
    fn json_columns_are_compared_by_their_text() {
        let table = crate::table_from_tokens(quote! {
            #[pghistory(events(insert, update))]
            docs (id) {
                id -> Int4,
                payload -> Nullable<Json>,
                data -> Nullable<Jsonb>,
            }
        })
        .unwrap();
        assert_eq!(
            render(&Condition::AnyChange(Vec::new()), &table),
            r#"ROW("old"."id", "old"."payload"::pg_catalog.text, "old"."data") IS DISTINCT FROM ROW("new"."id", "new"."payload"::pg_catalog.text, "new"."data")"#
        );
        let eq = Condition::Compare(
            col(Row::New, "payload"),
            CompareOp::Eq,
            Operand::Value(Value::Str("{}".to_owned())),
        );
        assert_eq!(
            render(&eq, &table),
            r#"("new"."payload"::pg_catalog.text IS NOT DISTINCT FROM '{}')"#
        );
    }

    #[test]
    fn any_change_of_listed_columns_compares_only_those() {
        let cond = Condition::AnyChange(vec!["Ti\"tle".to_owned(), "body".to_owned()]);
        assert_eq!(
            render(&cond, &table()),
            r#"ROW("old"."Ti""tle", "old"."body") IS DISTINCT FROM ROW("new"."Ti""tle", "new"."body")"#
        );
    }

    #[test]
    fn changed_to_and_changed_from_are_null_safe_and_escape_their_value() {
        let to = Condition::ChangedTo("body".to_owned(), Value::Str("it's 100%".to_owned()));
        assert_eq!(
            render(&to, &table()),
            r#"("old"."body" IS DISTINCT FROM "new"."body" AND "new"."body" IS NOT DISTINCT FROM 'it''s 100%')"#
        );
        let from = Condition::ChangedFrom("score".to_owned(), Value::Number("-5".to_owned()));
        assert_eq!(
            render(&from, &table()),
            r#"("old"."score" IS DISTINCT FROM "new"."score" AND "old"."score" IS NOT DISTINCT FROM -5)"#
        );
        let to_null = Condition::ChangedTo("body".to_owned(), Value::Null);
        assert!(render(&to_null, &table()).ends_with(r#""new"."body" IS NOT DISTINCT FROM NULL)"#));
    }

    #[test]
    fn every_comparison_operator_renders() {
        let cases = [
            (CompareOp::Eq, "IS NOT DISTINCT FROM"),
            (CompareOp::Ne, "IS DISTINCT FROM"),
            (CompareOp::Lt, "<"),
            (CompareOp::Le, "<="),
            (CompareOp::Gt, ">"),
            (CompareOp::Ge, ">="),
        ];
        for (op, sql) in cases {
            let cond = Condition::Compare(col(Row::Old, "score"), op, col(Row::New, "score"));
            assert_eq!(
                render(&cond, &table()),
                format!(r#"("old"."score" {sql} "new"."score")"#)
            );
        }
    }

    #[test]
    fn comparison_operands_can_be_literals_of_every_kind() {
        let t = table();
        let with = |v: Value| {
            render(
                &Condition::Compare(col(Row::New, "body"), CompareOp::Eq, Operand::Value(v)),
                &t,
            )
        };
        assert_eq!(
            with(Value::Str("a'b\"c".into())),
            r#"("new"."body" IS NOT DISTINCT FROM 'a''b"c')"#
        );
        assert_eq!(
            with(Value::Number("1.5".into())),
            r#"("new"."body" IS NOT DISTINCT FROM 1.5)"#
        );
        assert_eq!(
            with(Value::Bool(true)),
            r#"("new"."body" IS NOT DISTINCT FROM true)"#
        );
        assert_eq!(
            with(Value::Bool(false)),
            r#"("new"."body" IS NOT DISTINCT FROM false)"#
        );
        assert_eq!(
            with(Value::Null),
            r#"("new"."body" IS NOT DISTINCT FROM NULL)"#
        );
    }

    #[test]
    fn is_null_and_boolean_combinations_are_parenthesized() {
        let t = table();
        let is_null = Condition::IsNull(col(Row::New, "body"));
        assert_eq!(render(&is_null, &t), r#"("new"."body" IS NULL)"#);
        let gt = Condition::Compare(
            col(Row::New, "score"),
            CompareOp::Gt,
            Operand::Value(Value::Number("1".into())),
        );
        let and = Condition::And(Box::new(is_null.clone()), Box::new(gt.clone()));
        assert_eq!(
            render(&and, &t),
            r#"(("new"."body" IS NULL) AND ("new"."score" > 1))"#
        );
        let or = Condition::Or(Box::new(Condition::Not(Box::new(and))), Box::new(gt));
        assert_eq!(
            render(&or, &t),
            r#"((NOT (("new"."body" IS NULL) AND ("new"."score" > 1))) OR ("new"."score" > 1))"#
        );
    }

    #[test]
    fn raw_sql_is_used_as_written_in_parentheses() {
        let cond = Condition::Sql("NEW.score > OLD.score + 1".to_owned());
        assert_eq!(render(&cond, &table()), "(NEW.score > OLD.score + 1)");
    }

    #[test]
    fn conditions_written_in_the_attribute_reach_the_trigger_function() {
        let t = crate::table_from_tokens(quote! {
            #[pghistory(
                event(update, label = "published", when = changed_to(status, "it's done")),
                event(update, label = "bumped", when = old.score < new.score && !is_null(new.status)),
                event(delete, label = "gone", when = old.score >= 10)
            )]
            items (id) {
                id -> Int4,
                #[sql_name = "st%tus"]
                status -> Nullable<Text>,
                score -> Int4,
            }
        })
        .unwrap();
        let update = crate::sql::trigger::function(&t, Operation::Update);
        assert!(update.contains(
            r#"WHERE ("old"."st%tus" IS DISTINCT FROM "new"."st%tus" AND "new"."st%tus" IS NOT DISTINCT FROM 'it''s done')"#
        ), "{update}");
        assert!(
            update.contains(
                r#"WHERE (("old"."score" < "new"."score") AND (NOT ("new"."st%tus" IS NULL)))"#
            ),
            "{update}"
        );
        assert!(
            update.contains("UNION ALL"),
            "one SELECT per tracker: {update}"
        );
        let delete = crate::sql::trigger::function(&t, Operation::Delete);
        assert!(
            delete.contains(r#"WHERE ("old"."score" >= 10)"#),
            "{delete}"
        );
        assert!(delete.contains(r#"FROM "pgh_old" AS "old""#), "{delete}");
    }

    #[test]
    fn always_holds_for_every_row_the_statement_touched() {
        assert_eq!(render(&Condition::Always, &table()), "true");
        assert_eq!(Condition::Always.sides(), (false, false));
    }
}
