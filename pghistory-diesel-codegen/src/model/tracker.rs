//! The trackers of a table: `events(...)` and `event(...)` read into [`Tracker`]s.

use super::condition::{self, Condition};
use super::{Operation, Row, TrackedTable, Tracker};
use crate::attr::TableOptions;
use crate::ctxt::Ctxt;

/// The table's trackers: django-pghistory's insert and update snapshots when none are
/// declared, else every declared one whose kind is known, checked against `table`.
pub(super) fn resolve_trackers(
    cx: &Ctxt,
    opts: &TableOptions,
    table: &TrackedTable,
) -> Vec<Tracker> {
    if !opts.present || opts.trackers.is_empty() {
        // django-pghistory's default: insert and update snapshots.
        return vec![
            Tracker {
                operation: Operation::Insert,
                label: "insert".to_owned(),
                row: Row::New,
                condition: None,
            },
            Tracker {
                operation: Operation::Update,
                label: "update".to_owned(),
                row: Row::New,
                condition: Some(Condition::AnyChange(Vec::new())),
            },
        ];
    }
    let mut out = Vec::new();
    for raw in &opts.trackers {
        let operation = raw.kind.value;
        let label = match &raw.label {
            Some(lit) => {
                let value = lit.value();
                if let Err(msg) = validate_label(&value) {
                    cx.error_spanned_by(lit, msg);
                }
                value
            }
            None if operation == Operation::Manual => {
                cx.error_at(
                    raw.kind.span,
                    "a manual event needs a label\nhelp: event(manual, label = \"archived\")",
                );
                continue;
            }
            None => operation.as_str().to_owned(),
        };
        let row = match (raw.row.as_ref(), operation) {
            (None, _) => operation.default_row(),
            (Some(row), Operation::Manual) => {
                cx.error_at(
                    row.span,
                    "a manual event stores the row as it is now; `row` does not apply\nhelp: remove `row = ...`",
                );
                Row::New
            }
            (Some(row), Operation::Delete) if row.value == Row::New => {
                cx.error_at(
                    row.span,
                    "a delete event has no `new` row\nhelp: a delete event stores the old row; remove `row = new`",
                );
                Row::Old
            }
            (Some(row), Operation::Insert) if row.value == Row::Old => {
                cx.error_at(
                    row.span,
                    "an insert event has no `old` row\nhelp: an insert event stores the new row; remove `row = old`",
                );
                Row::New
            }
            (Some(row), _) => row.value,
        };
        let condition = match (&raw.when, operation) {
            (Some(expr), Operation::Manual) => {
                cx.error_spanned_by(
                    expr,
                    "a manual event has no trigger, so no `when` condition\nhelp: remove `when = ...`; the event is written when you call `create_event`",
                );
                None
            }
            (Some(expr), _) => condition::parse(cx, expr, table, operation),
            (None, Operation::Update) => Some(Condition::AnyChange(Vec::new())),
            (None, _) => None,
        };
        if out.iter().any(|t: &Tracker| t.label == label) {
            let span = raw
                .label
                .as_ref()
                .map(|l| l.span())
                .unwrap_or(raw.kind.span);
            cx.syn_error(syn::Error::new(
                span,
                if raw.label.is_some() {
                    format!("duplicate event label `{label}`\nhelp: every tracker of a table needs its own label")
                } else {
                    format!(
                        "duplicate event label `{label}`: a tracker without `label` is labelled `{label}`\nhelp: every tracker of a table needs its own label: event({label}, label = \"...\", ...)"
                    )
                },
            ));
        }
        out.push(Tracker {
            operation,
            label,
            row,
            condition,
        });
    }
    out
}

/// Labels are stored in `pgh_label` and written into trigger SQL as literals: keep them to
/// a plain, readable alphabet so they never need thought.
pub fn validate_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err(
            "an event label must not be empty\nhelp: name the event, like label = \"archived\""
                .to_owned(),
        );
    }
    if label.len() > 63 {
        return Err("an event label must be at most 63 characters".to_owned());
    }
    if !label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
    {
        return Err(format!(
            "invalid event label `{label}`\nhelp: use letters, digits, `_`, `-`, `.` and `:` only"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_checked() {
        assert!(validate_label("title_changed").is_ok());
        assert!(validate_label("").is_err());
        assert!(validate_label("x'; drop table y; --").is_err());
    }
}
