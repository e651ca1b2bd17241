//! Reads `#[pghistory(...)]` attributes into typed, still unchecked options.
//!
//! Nothing here returns early: every malformed, unknown or duplicate option is recorded in
//! the [`Ctxt`] at its token and parsing goes on, so one compile shows every mistake.
//! Words with a fixed set of values (event kinds, rows, context modes) become enums here,
//! through `FromStr`; each enum's `as_str` is the one table of its names.

use std::str::FromStr;

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, Ident, LitStr, Token};

use crate::ctxt::Ctxt;
use crate::symbol::*;

/// The statement that writes an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// `INSERT`; the snapshot is the new row.
    Insert,
    /// `UPDATE`; the snapshot is the new row unless `row = old`.
    Update,
    /// `DELETE`; the snapshot is the old row.
    Delete,
    /// No trigger: events written from Rust with `create_event`.
    Manual,
}

impl Operation {
    /// Every kind, in the order messages list them.
    pub const ALL: [Operation; 4] = [
        Operation::Insert,
        Operation::Update,
        Operation::Delete,
        Operation::Manual,
    ];

    /// The kind as written in `#[pghistory]` and used as the default label.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Manual => "manual",
        }
    }

    /// The SQL keyword of the triggering statement.
    ///
    /// Only the three triggered kinds have one; `sql::trigger::operations` never yields
    /// `Manual`, the one caller's only source of operations.
    pub fn sql_keyword(self) -> &'static str {
        match self {
            Operation::Insert => "INSERT",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Manual => unreachable!("a manual event has no trigger, so no SQL keyword"),
        }
    }

    /// The row an event of this kind stores when `row` is not given.
    pub fn default_row(self) -> Row {
        match self {
            Operation::Delete => Row::Old,
            _ => Row::New,
        }
    }
}

/// Which row an event stores, or which row a condition's column reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    /// The row before the statement (`OLD`).
    Old,
    /// The row after the statement (`NEW`).
    New,
}

impl Row {
    /// Both rows, in the order messages list them.
    pub const ALL: [Row; 2] = [Row::Old, Row::New];

    /// The row as written in `row = ...` and in conditions (`old.x`, `new.x`).
    pub fn as_str(self) -> &'static str {
        match self {
            Row::Old => "old",
            Row::New => "new",
        }
    }
}

/// How the context is stored on each event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextMode {
    /// `pgh_context_id` referencing a `pghistory_context` row (the default).
    ForeignKey,
    /// The metadata copied onto the event (`pgh_context` jsonb) beside `pgh_context_id`.
    Json,
    /// No context columns at all.
    None,
}

impl ContextMode {
    /// Every mode, in the order messages list them.
    pub const ALL: [ContextMode; 3] = [
        ContextMode::ForeignKey,
        ContextMode::Json,
        ContextMode::None,
    ];

    /// The mode as written in `context = ...`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContextMode::ForeignKey => "fk",
            ContextMode::Json => "json",
            ContextMode::None => "none",
        }
    }

    /// Whether events carry `pgh_context_id`.
    pub fn has_id(self) -> bool {
        !matches!(self, ContextMode::None)
    }
    /// Whether events carry the `pgh_context` jsonb copy of the metadata.
    pub fn has_json(self) -> bool {
        matches!(self, ContextMode::Json)
    }
}

/// `FromStr` over an enum's `ALL` and `as_str`: the name table is written once.
macro_rules! from_as_str {
    ($($ty:ident),*) => {$(
        impl FromStr for $ty {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                $ty::ALL.into_iter().find(|v| v.as_str() == s).ok_or(())
            }
        }
    )*};
}
from_as_str!(Operation, Row, ContextMode);

/// `a, b, c`: the names of an enum's values, for "expected one of" lines.
fn names<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> String {
    all.iter()
        .map(|&v| as_str(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads `ident` as one of `T`'s names, recording `unknown(name)` at it when it is none.
fn typed<T: FromStr>(
    cx: &Ctxt,
    ident: &Ident,
    unknown: impl FnOnce(&str) -> String,
) -> Option<Spanned<T>> {
    let name = ident.to_string();
    match name.parse() {
        Ok(value) => Some(Spanned {
            value,
            span: ident.span(),
        }),
        Err(_) => {
            cx.error_spanned_by(ident, unknown(&name));
            None
        }
    }
}

fn operation(cx: &Ctxt, ident: &Ident) -> Option<Spanned<Operation>> {
    typed(cx, ident, |name| {
        format!(
            "unknown event kind `{name}`\nhelp: expected one of: {}",
            names(&Operation::ALL, Operation::as_str)
        )
    })
}

/// One value with the span of the token that gave it.
#[derive(Clone)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

/// An `event(...)` or `events(...)` entry, its words typed, not yet checked together.
#[derive(Clone)]
pub struct RawTracker {
    /// The event kind, at its token.
    pub kind: Spanned<Operation>,
    /// `label = "..."`.
    pub label: Option<LitStr>,
    /// `when = ...`.
    pub when: Option<Expr>,
    /// `row = old | new`, at its token.
    pub row: Option<Spanned<Row>>,
}

/// Table-level options, as written.
#[derive(Default, Clone)]
pub struct TableOptions {
    /// Whether any `#[pghistory]` attribute was present.
    pub present: bool,
    /// Trackers from `events(...)` and `event(...)`, in order.
    pub trackers: Vec<RawTracker>,
    /// `fields(...)`.
    pub fields: Option<Spanned<Vec<Ident>>>,
    /// `exclude(...)`.
    pub exclude: Option<Spanned<Vec<Ident>>>,
    /// `model = Name`.
    pub model: Option<Ident>,
    /// `table_name = name`.
    pub table_name: Option<Ident>,
    /// `schema = "name"`.
    pub schema: Option<LitStr>,
    /// `context = fk | json | none`.
    pub context: Option<Spanned<ContextMode>>,
    /// `append_only`.
    pub append_only: Option<Span>,
}

/// Column-level options, as written.
#[derive(Default, Clone)]
pub struct ColumnOptions {
    /// `rust_type = "path"`.
    pub rust_type: Option<LitStr>,
    /// `pg_type = "name"`.
    pub pg_type: Option<LitStr>,
}

fn is_ours(attr: &Attribute) -> bool {
    attr.path().is_ident(PGHISTORY)
}

/// Splits attributes into ours (`#[pghistory]`) and everything else, keeping order.
pub fn split_attrs(attrs: &[Attribute]) -> (Vec<&Attribute>, Vec<Attribute>) {
    let (ours, theirs): (Vec<&Attribute>, Vec<&Attribute>) = attrs.iter().partition(|a| is_ours(a));
    (ours, theirs.into_iter().cloned().collect())
}

fn set_once<T>(cx: &Ctxt, slot: &mut Option<T>, value: T, meta: &ParseNestedMeta<'_>, name: &str) {
    if slot.is_some() {
        cx.syn_error(meta.error(format_args!(
            "duplicate `{name}` option\nhelp: give `{name}` once, in one `#[pghistory(...)]`"
        )));
    } else {
        *slot = Some(value);
    }
}

fn ident_list(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<Ident>> {
    let mut out = Vec::new();
    meta.parse_nested_meta(|inner| {
        match inner.path.get_ident() {
            Some(ident) => out.push(ident.clone()),
            None => return Err(inner.error("expected a column name")),
        }
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f` with the name of every option of the `#[pghistory(...)]` attributes, recording
/// (not returning) what goes wrong, so one bad option does not hide the others.
fn each_option(
    cx: &Ctxt,
    attrs: &[&Attribute],
    mut f: impl FnMut(&str, &ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in attrs {
        let result = attr.parse_nested_meta(|meta| {
            let Some(name) = meta.path.get_ident().map(Ident::to_string) else {
                cx.syn_error(meta.error("expected an option name"));
                return Ok(());
            };
            f(&name, &meta)
        });
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
}

/// Records an unknown option, naming the known ones, and skips its value.
fn unknown_option(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    name: &str,
    what: &str,
    known: &[&str],
) -> syn::Result<()> {
    cx.syn_error(meta.error(format_args!(
        "unknown pghistory {what} `{name}`\nhelp: expected one of: {}",
        known.join(", ")
    )));
    skip_value(meta)
}

/// The span of an option's name.
fn option_span(meta: &ParseNestedMeta<'_>) -> Span {
    meta.path
        .get_ident()
        .map(Ident::span)
        .unwrap_or_else(Span::call_site)
}

/// Reads the table-level `#[pghistory(...)]` attributes.
pub fn table_options(cx: &Ctxt, attrs: &[&Attribute]) -> TableOptions {
    let mut opts = TableOptions {
        present: !attrs.is_empty(),
        ..TableOptions::default()
    };
    each_option(cx, attrs, |name, meta| {
        match name {
            EVENTS => {
                meta.parse_nested_meta(|kind| {
                    match kind.path.get_ident() {
                        Some(ident) => {
                            if let Some(kind) = operation(cx, ident) {
                                opts.trackers.push(RawTracker {
                                    kind,
                                    label: None,
                                    when: None,
                                    row: None,
                                });
                            }
                        }
                        None => cx.syn_error(kind.error("expected an event kind")),
                    }
                    Ok(())
                })?;
            }
            EVENT => opts.trackers.extend(parse_event(cx, meta)?),
            FIELDS => {
                let span = option_span(meta);
                let list = ident_list(meta)?;
                set_once(
                    cx,
                    &mut opts.fields,
                    Spanned { value: list, span },
                    meta,
                    FIELDS,
                );
            }
            EXCLUDE => {
                let span = option_span(meta);
                let list = ident_list(meta)?;
                set_once(
                    cx,
                    &mut opts.exclude,
                    Spanned { value: list, span },
                    meta,
                    EXCLUDE,
                );
            }
            MODEL => {
                let v: Ident = meta.value()?.parse()?;
                set_once(cx, &mut opts.model, v, meta, MODEL);
            }
            TABLE_NAME => {
                let v: Ident = meta.value()?.parse()?;
                set_once(cx, &mut opts.table_name, v, meta, TABLE_NAME);
            }
            SCHEMA => {
                let v: LitStr = meta.value()?.parse()?;
                set_once(cx, &mut opts.schema, v, meta, SCHEMA);
            }
            CONTEXT => {
                let v: Ident = meta.value()?.parse()?;
                let mode = typed(cx, &v, |name| {
                    format!(
                        "unknown context mode `{name}`\nhelp: expected one of: {}",
                        names(&ContextMode::ALL, ContextMode::as_str)
                    )
                });
                if let Some(mode) = mode {
                    set_once(cx, &mut opts.context, mode, meta, CONTEXT);
                }
            }
            APPEND_ONLY => {
                let span = option_span(meta);
                set_once(cx, &mut opts.append_only, span, meta, APPEND_ONLY);
            }
            other => unknown_option(cx, meta, other, "option", TABLE_OPTIONS)?,
        }
        Ok(())
    });
    opts
}

/// Reads one `event(...)`; `None` when its kind is unknown (recorded in `cx`), after
/// reading the rest so its other mistakes are reported too.
fn parse_event(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<RawTracker>> {
    let content;
    syn::parenthesized!(content in meta.input);
    if content.is_empty() {
        return Err(content.error(
            "expected an event kind\nhelp: event(insert | update | delete | manual, label = \"...\", ...)",
        ));
    }
    let kind: Ident = content.parse()?;
    if content.peek(Token![=]) {
        return Err(syn::Error::new(
            kind.span(),
            format!(
                "the event kind comes first, before `{kind} = ...`\nhelp: event(update, {kind} = ...)"
            ),
        ));
    }
    let kind = operation(cx, &kind);
    let mut label = None;
    let mut when = None;
    let mut row = None;
    while !content.is_empty() {
        content.parse::<Token![,]>()?;
        if content.is_empty() {
            break;
        }
        let key: Ident = content.parse()?;
        content.parse::<Token![=]>()?;
        match key.to_string().as_str() {
            LABEL => {
                let v: LitStr = content.parse()?;
                if label.replace(v).is_some() {
                    cx.error_spanned_by(&key, "duplicate `label`");
                }
            }
            WHEN => {
                let v: Expr = content.parse()?;
                if when.replace(v).is_some() {
                    cx.error_spanned_by(&key, "duplicate `when`");
                }
            }
            ROW => {
                let v: Ident = content.parse()?;
                let value = typed(cx, &v, |name| {
                    format!(
                        "unknown row `{name}`\nhelp: expected `{}` or `{}`",
                        Row::Old.as_str(),
                        Row::New.as_str()
                    )
                });
                if let Some(value) = value {
                    if row.replace(value).is_some() {
                        cx.error_spanned_by(&key, "duplicate `row`");
                    }
                }
            }
            other => {
                cx.error_spanned_by(
                    &key,
                    format!(
                        "unknown event option `{other}`\nhelp: expected one of: {}",
                        EVENT_OPTIONS.join(", ")
                    ),
                );
                let _: Expr = content.parse()?;
            }
        }
    }
    Ok(kind.map(|kind| RawTracker {
        kind,
        label,
        when,
        row,
    }))
}

fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    Ok(())
}

/// Reads a column's `#[pghistory(...)]` attributes.
pub fn column_options(cx: &Ctxt, attrs: &[&Attribute]) -> ColumnOptions {
    let mut opts = ColumnOptions::default();
    each_option(cx, attrs, |name, meta| {
        match name {
            RUST_TYPE => {
                let v: LitStr = meta.value()?.parse()?;
                set_once(cx, &mut opts.rust_type, v, meta, RUST_TYPE);
            }
            PG_TYPE => {
                let v: LitStr = meta.value()?.parse()?;
                set_once(cx, &mut opts.pg_type, v, meta, PG_TYPE);
            }
            other => unknown_option(cx, meta, other, "column option", COLUMN_OPTIONS)?,
        }
        Ok(())
    });
    opts
}

/// The value of a Diesel `#[name = "..."]` / `#[name = N]` attribute, if present.
pub fn diesel_name_value(attrs: &[Attribute], name: &str) -> Option<syn::Lit> {
    attrs.iter().find_map(|attr| {
        if !attr.path().is_ident(name) {
            return None;
        }
        match &attr.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(lit) => Some(lit.lit.clone()),
                _ => None,
            },
            _ => None,
        }
    })
}
