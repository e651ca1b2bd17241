//! Reads `#[pghistory(...)]` attributes into typed, still unchecked options.
//!
//! Nothing here returns early: every malformed, unknown or duplicate option is recorded in
//! the [`Ctxt`] at its token and parsing goes on, so one compile shows every mistake.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, Ident, LitStr, Token};

use crate::ctxt::Ctxt;
use crate::symbol::*;

/// One value with the span of the token that gave it.
#[derive(Clone)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

/// A raw `event(...)` or `events(...)` entry.
#[derive(Clone)]
pub struct RawTracker {
    /// The event kind as written (`insert`, `update`, `delete`, `manual`).
    pub kind: Ident,
    /// `label = "..."`.
    pub label: Option<LitStr>,
    /// `when = ...`.
    pub when: Option<Expr>,
    /// `row = old | new`.
    pub row: Option<Ident>,
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
    /// `context = fk | json | both | none`.
    pub context: Option<Ident>,
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
                        Some(ident) => opts.trackers.push(RawTracker {
                            kind: ident.clone(),
                            label: None,
                            when: None,
                            row: None,
                        }),
                        None => cx.syn_error(kind.error("expected an event kind")),
                    }
                    Ok(())
                })?;
            }
            EVENT => opts.trackers.push(parse_event(cx, meta)?),
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
                set_once(cx, &mut opts.context, v, meta, CONTEXT);
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

fn parse_event(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<RawTracker> {
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
    let mut tracker = RawTracker {
        kind,
        label: None,
        when: None,
        row: None,
    };
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
                if tracker.label.replace(v).is_some() {
                    cx.error_spanned_by(&key, "duplicate `label`");
                }
            }
            WHEN => {
                let v: Expr = content.parse()?;
                if tracker.when.replace(v).is_some() {
                    cx.error_spanned_by(&key, "duplicate `when`");
                }
            }
            ROW => {
                let v: Ident = content.parse()?;
                if tracker.row.replace(v).is_some() {
                    cx.error_spanned_by(&key, "duplicate `row`");
                }
            }
            other => {
                cx.error_spanned_by(
                    &key,
                    format!(
                        "unknown event option `{other}`\nhelp: expected one of: label, when, row"
                    ),
                );
                let _: Expr = content.parse()?;
            }
        }
    }
    Ok(tracker)
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
