//! `when = ...` conditions: written as small Rust-like expressions, checked against the
//! table at compile time, rendered to SQL by [`crate::sql::condition`].
//!
//! ```text
//! changed                      any tracked column changed (the default for updates)
//! always                       every row the statement touched, even unchanged ones
//! changed(title, body)         any of these columns changed
//! changed_to(status, "done")   status changed, and is now "done"
//! changed_from(status, "new")  status changed, and was "new"
//! old.score < new.score        comparisons: == != < <= > >= (== and != are NULL-safe)
//! is_null(new.body)            NULL tests
//! a && b, a || b, !a, (a)      combinations
//! sql("NEW.x > OLD.x + 1")     raw SQL over OLD and NEW, used as written
//! ```

use syn::{BinOp, Expr, ExprCall, Lit, UnOp};

use super::{Operation, Row, TrackedTable};
use crate::ctxt::Ctxt;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `==`, NULL-safe.
    Eq,
    /// `!=`, NULL-safe.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

/// A literal value in a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string, written as an escaped SQL literal.
    Str(String),
    /// An integer or decimal number, as written.
    Number(String),
    /// `true` / `false`.
    Bool(bool),
    /// `None`: SQL NULL.
    Null,
}

/// One side of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// `old.col` / `new.col`, resolved to the column's SQL name.
    Column(Row, String),
    /// A literal.
    Value(Value),
}

/// A checked condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// Any of these columns (SQL names) changed; empty means every tracked column.
    AnyChange(Vec<String>),
    /// Every row the statement touched, changed or not (django-pghistory's
    /// `condition=None`).
    Always,
    /// The column changed and its new value is this one.
    ChangedTo(String, Value),
    /// The column changed and its old value was this one.
    ChangedFrom(String, Value),
    /// `left op right`.
    Compare(Operand, CompareOp, Operand),
    /// `operand IS NULL`.
    IsNull(Operand),
    /// Both hold.
    And(Box<Condition>, Box<Condition>),
    /// Either holds.
    Or(Box<Condition>, Box<Condition>),
    /// Does not hold.
    Not(Box<Condition>),
    /// Raw SQL over `OLD` and `NEW`.
    Sql(String),
}

impl Condition {
    /// The columns (SQL names) whose old and new values, or a column and a value, the
    /// rendered SQL compares for equality; `tracked` stands for an empty `AnyChange`.
    pub fn compared_columns<'a>(&'a self, tracked: &[&'a str], out: &mut Vec<&'a str>) {
        let column = |o: &'a Operand| match o {
            Operand::Column(_, name) => Some(name.as_str()),
            Operand::Value(_) => None,
        };
        match self {
            Condition::AnyChange(cols) if cols.is_empty() => out.extend_from_slice(tracked),
            Condition::AnyChange(cols) => out.extend(cols.iter().map(String::as_str)),
            Condition::ChangedTo(col, _) | Condition::ChangedFrom(col, _) => out.push(col),
            Condition::Compare(l, CompareOp::Eq | CompareOp::Ne, r) => {
                out.extend(column(l));
                out.extend(column(r));
            }
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.compared_columns(tracked, out);
                b.compared_columns(tracked, out);
            }
            Condition::Not(a) => a.compared_columns(tracked, out),
            Condition::Always
            | Condition::Compare(..)
            | Condition::IsNull(_)
            | Condition::Sql(_) => {}
        }
    }

    /// Whether rendering needs the old row, the new row.
    pub fn sides(&self) -> (bool, bool) {
        fn operand(o: &Operand) -> (bool, bool) {
            match o {
                Operand::Column(Row::Old, _) => (true, false),
                Operand::Column(Row::New, _) => (false, true),
                Operand::Value(_) => (false, false),
            }
        }
        let or = |a: (bool, bool), b: (bool, bool)| (a.0 || b.0, a.1 || b.1);
        match self {
            Condition::AnyChange(_) | Condition::ChangedTo(..) | Condition::ChangedFrom(..) => {
                (true, true)
            }
            Condition::Always => (false, false),
            Condition::Compare(l, _, r) => or(operand(l), operand(r)),
            Condition::IsNull(o) => operand(o),
            Condition::And(a, b) | Condition::Or(a, b) => or(a.sides(), b.sides()),
            Condition::Not(a) => a.sides(),
            Condition::Sql(sql) => {
                let upper = sql.to_ascii_uppercase();
                (upper.contains("OLD"), upper.contains("NEW"))
            }
        }
    }
}

/// Parses and checks a `when = ...` expression for a tracker of `op` on `table`.
pub fn parse(cx: &Ctxt, expr: &Expr, table: &TrackedTable, op: Operation) -> Option<Condition> {
    let cond = parse_expr(cx, expr, table)?;
    let (old, new) = cond.sides();
    if op == Operation::Insert && old && !matches!(cond, Condition::Sql(_)) {
        cx.error_spanned_by(
            expr,
            "an insert event has no old row: its condition can only read `new`\nhelp: compare `new.column` with a value, like `new.score > 10`",
        );
    }
    if op == Operation::Delete && new && !matches!(cond, Condition::Sql(_)) {
        cx.error_spanned_by(
            expr,
            "a delete event has no new row: its condition can only read `old`\nhelp: compare `old.column` with a value, like `old.status == \"published\"`",
        );
    }
    Some(cond)
}

fn parse_expr(cx: &Ctxt, expr: &Expr, table: &TrackedTable) -> Option<Condition> {
    match expr {
        Expr::Paren(p) => parse_expr(cx, &p.expr, table),
        Expr::Group(g) => parse_expr(cx, &g.expr, table),
        Expr::Path(p) if p.path.is_ident("changed") => Some(Condition::AnyChange(Vec::new())),
        Expr::Path(p) if p.path.is_ident("always") => Some(Condition::Always),
        Expr::Unary(u) if matches!(u.op, UnOp::Not(_)) => {
            Some(Condition::Not(Box::new(parse_expr(cx, &u.expr, table)?)))
        }
        Expr::Binary(b) => {
            let op = match b.op {
                BinOp::And(_) => {
                    let l = parse_expr(cx, &b.left, table);
                    let r = parse_expr(cx, &b.right, table);
                    return Some(Condition::And(Box::new(l?), Box::new(r?)));
                }
                BinOp::Or(_) => {
                    let l = parse_expr(cx, &b.left, table);
                    let r = parse_expr(cx, &b.right, table);
                    return Some(Condition::Or(Box::new(l?), Box::new(r?)));
                }
                BinOp::Eq(_) => CompareOp::Eq,
                BinOp::Ne(_) => CompareOp::Ne,
                BinOp::Lt(_) => CompareOp::Lt,
                BinOp::Le(_) => CompareOp::Le,
                BinOp::Gt(_) => CompareOp::Gt,
                BinOp::Ge(_) => CompareOp::Ge,
                _ => {
                    cx.error_spanned_by(
                        b.op,
                        "unsupported operator in a condition\nhelp: use == != < <= > >= && || !, or write the condition in SQL: sql(\"NEW.a > OLD.a + 1\")",
                    );
                    return None;
                }
            };
            let l = operand(cx, &b.left, table);
            let r = operand(cx, &b.right, table);
            Some(Condition::Compare(l?, op, r?))
        }
        Expr::Call(call) => parse_call(cx, call, table),
        other => {
            cx.error_spanned_by(
                other,
                "unsupported condition\nhelp: expected changed, always, changed(cols), changed_to(col, value), changed_from(col, value), a comparison of old.col / new.col, is_null(..), &&, ||, ! or sql(\"...\")",
            );
            None
        }
    }
}

fn parse_call(cx: &Ctxt, call: &ExprCall, table: &TrackedTable) -> Option<Condition> {
    let Expr::Path(func) = &*call.func else {
        cx.error_spanned_by(&call.func, "expected a condition function name");
        return None;
    };
    let name = func
        .path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default();
    let args: Vec<&Expr> = call.args.iter().collect();
    match name.as_str() {
        "changed" => {
            let mut cols = Vec::new();
            for arg in args {
                cols.push(column_name(cx, arg, table)?);
            }
            Some(Condition::AnyChange(cols))
        }
        "changed_to" | "changed_from" => {
            if args.len() != 2 {
                cx.error_spanned_by(
                    call,
                    format!("`{name}` takes a column and a value: {name}(status, \"done\")"),
                );
                return None;
            }
            let col = column_name(cx, args[0], table);
            let value = literal(cx, args[1]);
            let (col, value) = (col?, value?);
            Some(if name == "changed_to" {
                Condition::ChangedTo(col, value)
            } else {
                Condition::ChangedFrom(col, value)
            })
        }
        "is_null" => {
            if args.len() != 1 {
                cx.error_spanned_by(call, "`is_null` takes one column: is_null(new.body)");
                return None;
            }
            Some(Condition::IsNull(operand(cx, args[0], table)?))
        }
        "sql" => match args.as_slice() {
            [Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            })] if !s.value().trim().is_empty() => Some(Condition::Sql(s.value())),
            _ => {
                cx.error_spanned_by(
                    call,
                    "`sql` takes one non-empty string: sql(\"NEW.x > OLD.x\")",
                );
                None
            }
        },
        _ => {
            cx.error_spanned_by(
                func,
                format!("unknown condition `{name}`\nhelp: expected changed, changed_to, changed_from, is_null or sql"),
            );
            None
        }
    }
}

fn column_name(cx: &Ctxt, expr: &Expr, table: &TrackedTable) -> Option<String> {
    let Expr::Path(p) = expr else {
        cx.error_spanned_by(expr, "expected a column name");
        return None;
    };
    let Some(ident) = p.path.get_ident() else {
        cx.error_spanned_by(expr, "expected a column name");
        return None;
    };
    match table.column(&ident.to_string()) {
        Some(col) => Some(col.sql_name.clone()),
        None => {
            unknown_column(cx, ident, table);
            None
        }
    }
}

/// Records "not a column", listing the table's columns as the fix.
fn unknown_column(cx: &Ctxt, ident: &syn::Ident, table: &TrackedTable) {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| c.rust_name.to_string())
        .collect();
    cx.error_spanned_by(
        ident,
        format!(
            "`{ident}` is not a column of `{}`\nhelp: its columns are: {}",
            table.rust_name,
            columns.join(", ")
        ),
    );
}

fn operand(cx: &Ctxt, expr: &Expr, table: &TrackedTable) -> Option<Operand> {
    match expr {
        Expr::Paren(p) => operand(cx, &p.expr, table),
        Expr::Field(field) => {
            let side = match &*field.base {
                Expr::Path(p) if p.path.is_ident("old") => Row::Old,
                Expr::Path(p) if p.path.is_ident("new") => Row::New,
                other => {
                    cx.error_spanned_by(other, "expected `old` or `new` before the column");
                    return None;
                }
            };
            let syn::Member::Named(ident) = &field.member else {
                cx.error_spanned_by(&field.member, "expected a column name");
                return None;
            };
            match table.column(&ident.to_string()) {
                Some(col) => Some(Operand::Column(side, col.sql_name.clone())),
                None => {
                    unknown_column(cx, ident, table);
                    None
                }
            }
        }
        Expr::Path(p) if p.path.get_ident().is_some() && !p.path.is_ident("None") => {
            let name = p
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            cx.error_spanned_by(
                expr,
                format!("a column in a comparison needs a side\nhelp: write `old.{name}` or `new.{name}`"),
            );
            None
        }
        Expr::Binary(_) | Expr::MethodCall(_) | Expr::Call(_) | Expr::Cast(_) => {
            cx.error_spanned_by(
                expr,
                "a comparison takes `old.column`, `new.column` or a literal on each side\nhelp: for arithmetic or SQL functions, write the condition in SQL: sql(\"NEW.score > OLD.score + 10\")",
            );
            None
        }
        _ => literal(cx, expr).map(Operand::Value),
    }
}

fn literal(cx: &Ctxt, expr: &Expr) -> Option<Value> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(s) => Some(Value::Str(s.value())),
            Lit::Int(i) => Some(Value::Number(i.base10_digits().to_owned())),
            Lit::Float(f) => Some(Value::Number(f.base10_digits().to_owned())),
            Lit::Bool(b) => Some(Value::Bool(b.value)),
            other => {
                cx.error_spanned_by(
                    other,
                    "unsupported literal: use a string, a number or a bool",
                );
                None
            }
        },
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => match literal(cx, &u.expr)? {
            Value::Number(n) => Some(Value::Number(format!("-{n}"))),
            _ => {
                cx.error_spanned_by(expr, "only numbers can be negated");
                None
            }
        },
        Expr::Path(p) if p.path.is_ident("None") => Some(Value::Null),
        other => {
            cx.error_spanned_by(other, "expected a literal value");
            None
        }
    }
}
