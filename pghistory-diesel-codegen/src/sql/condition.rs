//! Renders a checked [`Condition`] as a `WHERE` clause over the aliases `"old"` and `"new"`.

use super::quote;
use crate::condition::{CompareOp, Condition, Operand, Side, Value};
use crate::model::TrackedTable;

fn side(s: Side) -> &'static str {
    match s {
        Side::Old => "\"old\"",
        Side::New => "\"new\"",
    }
}

fn column(s: Side, name: &str) -> String {
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

fn operand(o: &Operand) -> String {
    match o {
        Operand::Column(s, name) => column(*s, name),
        Operand::Value(v) => value(v),
    }
}

fn row_of(s: Side, cols: &[&str]) -> String {
    let items: Vec<String> = cols.iter().map(|c| column(s, c)).collect();
    format!("ROW({})", items.join(", "))
}

/// SQL for `cond` on `table`.
pub fn render(cond: &Condition, table: &TrackedTable) -> String {
    match cond {
        Condition::AnyChange(cols) => {
            let names: Vec<&str> = if cols.is_empty() {
                table.tracked_columns().map(|c| c.sql_name.as_str()).collect()
            } else {
                cols.iter().map(String::as_str).collect()
            };
            if names.is_empty() {
                return "false".to_owned();
            }
            format!(
                "{} IS DISTINCT FROM {}",
                row_of(Side::Old, &names),
                row_of(Side::New, &names)
            )
        }
        Condition::ChangedTo(col, v) => format!(
            "({old} IS DISTINCT FROM {new} AND {new} IS NOT DISTINCT FROM {v})",
            old = column(Side::Old, col),
            new = column(Side::New, col),
            v = value(v)
        ),
        Condition::ChangedFrom(col, v) => format!(
            "({old} IS DISTINCT FROM {new} AND {old} IS NOT DISTINCT FROM {v})",
            old = column(Side::Old, col),
            new = column(Side::New, col),
            v = value(v)
        ),
        Condition::Compare(l, op, r) => {
            let op = match op {
                CompareOp::Eq => "IS NOT DISTINCT FROM",
                CompareOp::Ne => "IS DISTINCT FROM",
                CompareOp::Lt => "<",
                CompareOp::Le => "<=",
                CompareOp::Gt => ">",
                CompareOp::Ge => ">=",
            };
            format!("({} {} {})", operand(l), op, operand(r))
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
