//! The checked model of one tracked table: everything the Rust and SQL generators need,
//! with user input already validated and resolved (column names to SQL names, options to
//! enums). Generation from a [`TrackedTable`] cannot fail.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Attribute, Ident, ItemUse, Type};

use crate::attr::{self, ColumnOptions, TableOptions};
use crate::condition::{self, Condition};
use crate::ctxt::Ctxt;
use crate::parse::TableDecl;
use crate::types;

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
    pub fn sql_keyword(self) -> &'static str {
        match self {
            Operation::Insert => "INSERT",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Manual => "",
        }
    }
}

impl std::str::FromStr for Operation {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "insert" => Ok(Operation::Insert),
            "update" => Ok(Operation::Update),
            "delete" => Ok(Operation::Delete),
            "manual" => Ok(Operation::Manual),
            _ => Err(()),
        }
    }
}

/// Which row an event stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    /// The row before the statement (`OLD`).
    Old,
    /// The row after the statement (`NEW`).
    New,
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
    /// Whether events carry `pgh_context_id`.
    pub fn has_id(self) -> bool {
        !matches!(self, ContextMode::None)
    }
    /// Whether events carry the `pgh_context` jsonb copy of the metadata.
    pub fn has_json(self) -> bool {
        matches!(self, ContextMode::Json)
    }
}

/// One column of the tracked table.
#[derive(Clone)]
pub struct Column {
    /// Rust name.
    pub rust_name: Ident,
    /// SQL name (`#[sql_name]` or the Rust name).
    pub sql_name: String,
    /// Diesel SQL type as written.
    pub ty: Type,
    /// Diesel's attributes on the column (docs, `#[sql_name]`, `#[max_length]`), ours removed.
    pub attrs: Vec<Attribute>,
    /// The Rust type of the model field.
    pub rust_type: TokenStream,
    /// `#[pghistory(pg_type)]`, when given.
    pub pg_type: Option<String>,
}

impl Column {
    /// The Postgres type name: `#[pghistory(pg_type)]`, else the one Diesel's type names.
    pub fn pg_type_name(&self) -> Option<String> {
        self.pg_type.clone().or_else(|| types::pg_type(&self.ty))
    }

    /// Whether triggers compare this column's old and new values by their text rather
    /// than with `IS DISTINCT FROM`: `json` (and arrays of it) has no `=` operator, so
    /// `IS DISTINCT FROM` on it fails when the trigger runs. Its text is the stored value
    /// verbatim, so comparing text is exact.
    pub fn compares_as_text(&self) -> bool {
        self.pg_type_name().is_some_and(|t| {
            let t = t.trim().to_ascii_lowercase();
            t == "json" || t.starts_with("json[")
        })
    }
}

/// One tracker: an event kind, its label, its condition and which row it stores.
#[derive(Clone)]
pub struct Tracker {
    /// The statement that writes the event.
    pub operation: Operation,
    /// `pgh_label` of its events.
    pub label: String,
    /// The row stored.
    pub row: Row,
    /// When the event is written (`None`: always, for inserts and deletes).
    pub condition: Option<Condition>,
}

/// A tracked table, checked.
#[derive(Clone)]
pub struct TrackedTable {
    /// `use` items of the body, copied into the events table.
    pub uses: Vec<ItemUse>,
    /// The table's Rust name.
    pub rust_name: Ident,
    /// The Rust schema ident of `schema.table`, if any.
    pub rust_schema: Option<Ident>,
    /// The table's SQL name.
    pub sql_name: String,
    /// The Postgres schema of the table (`public` when not qualified).
    pub schema: String,
    /// Every column, in order.
    pub columns: Vec<Column>,
    /// Index into `columns` of the primary key.
    pub primary_key: usize,
    /// Indexes into `columns` of the snapshotted columns.
    pub tracked: Vec<usize>,
    /// The events table's Rust name.
    pub events_rust_name: Ident,
    /// The events table's SQL name.
    pub events_sql_name: String,
    /// The Postgres schema of the events table.
    pub events_schema: String,
    /// The Rust schema ident of the events `table!`, when it is qualified; raw
    /// (`r#type`) where the schema's name is a keyword.
    pub events_rust_schema: Option<Ident>,
    /// Whether `schema = "..."` placed the events table in its own schema.
    pub events_schema_explicit: bool,
    /// The model struct's name.
    pub model_name: Ident,
    /// Trackers, in declaration order.
    pub trackers: Vec<Tracker>,
    /// How context is stored.
    pub context: ContextMode,
    /// Whether the events table refuses UPDATE and DELETE.
    pub append_only: bool,
    /// The user's `table!` input minus our attributes, re-emitted as is.
    pub table_tokens: TokenStream,
}

impl TrackedTable {
    /// The primary key column.
    pub fn pk(&self) -> &Column {
        &self.columns[self.primary_key]
    }

    /// The snapshotted columns, in table order.
    pub fn tracked_columns(&self) -> impl Iterator<Item = &Column> {
        self.tracked.iter().map(|&i| &self.columns[i])
    }

    /// The column with this Rust or SQL name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.rust_name == name || c.sql_name == name)
    }

    /// Trackers that fire on this operation.
    pub fn trackers_for(&self, op: Operation) -> impl Iterator<Item = &Tracker> {
        self.trackers.iter().filter(move |t| t.operation == op)
    }

    /// The Postgres type of `pgh_obj_id`.
    pub fn pk_pg_type(&self) -> String {
        self.pk()
            .pg_type_name()
            .unwrap_or_else(|| "text".to_owned())
    }
}

fn lit_string(lit: &syn::Lit) -> Option<String> {
    match lit {
        syn::Lit::Str(s) => Some(s.value()),
        _ => None,
    }
}

/// The SQL name of a Rust name, read as Diesel reads it: `r#type` is `type`.
pub(crate) fn sql_name_of(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// The SQL name of a `#[sql_name = "..."]`, read as Diesel reads it: a leading `r#` is
/// dropped.
fn sql_name_attr(attrs: &[Attribute]) -> Option<String> {
    attr::diesel_name_value(attrs, "sql_name")
        .and_then(|l| lit_string(&l))
        .map(|name| name.strip_prefix("r#").map(str::to_owned).unwrap_or(name))
}

/// The Rust identifier of a schema named `name`, or why there is none. Diesel's `table!`
/// writes a schema's identifier into its SQL as it is spelled, `r#` included, so only a
/// plain identifier names the same schema in Rust and in SQL.
fn schema_ident(name: &str, span: Span) -> Result<Ident, SchemaName> {
    if name.starts_with("r#") {
        return Err(SchemaName::NotAnIdentifier);
    }
    match syn::parse_str::<Ident>(name) {
        Ok(ident) if ident == name => Ok(Ident::new(name, span)),
        _ if syn::parse::Parser::parse_str(Ident::parse_any, name).is_ok() => {
            Err(SchemaName::Keyword)
        }
        _ => Err(SchemaName::NotAnIdentifier),
    }
}

/// Why a schema name has no Rust identifier.
enum SchemaName {
    /// A Rust keyword (`type`): Diesel would query it as `r#type`.
    Keyword,
    /// Not an identifier at all (`my-history`, `1st`).
    NotAnIdentifier,
}

/// The names of a plain Diesel `table!`, read as Diesel reads them.
pub(crate) fn declared_table(decl: &TableDecl) -> crate::check::DeclaredTable {
    let (_, attrs) = attr::split_attrs(&decl.attrs);
    crate::check::DeclaredTable {
        rust_name: decl.name.clone(),
        schema: decl
            .schema
            .as_ref()
            .map(sql_name_of)
            .unwrap_or_else(|| "public".to_owned()),
        sql_name: sql_name_attr(&attrs).unwrap_or_else(|| sql_name_of(&decl.name)),
    }
}

/// Builds the checked model from a parsed `table!` body, recording every error in `cx`.
/// Returns `None` only when the input is too broken to model at all.
pub fn build(cx: &Ctxt, decl: &TableDecl) -> Option<TrackedTable> {
    let (our_table_attrs, table_attrs) = attr::split_attrs(&decl.attrs);
    let opts = attr::table_options(cx, &our_table_attrs);

    let mut columns = Vec::new();
    let mut clean_columns = Vec::new();
    for col in &decl.columns {
        let (ours, theirs) = attr::split_attrs(&col.attrs);
        let copts = attr::column_options(cx, &ours);
        let sql_name = sql_name_attr(&theirs).unwrap_or_else(|| sql_name_of(&col.name));
        if sql_name.starts_with("pgh_") {
            cx.error_spanned_by(
                &col.name,
                format!(
                    "column `{sql_name}` uses the reserved `pgh_` prefix\n\
                     help: pghistory-diesel adds its own `pgh_*` columns to the events table; \
                     rename the column or give it another `#[sql_name]`"
                ),
            );
        }
        let rust_type = resolve_rust_type(cx, col, &copts);
        columns.push(Column {
            rust_name: col.name.clone(),
            sql_name,
            ty: col.ty.clone(),
            attrs: theirs.clone(),
            rust_type,
            pg_type: copts.pg_type.as_ref().map(|l| l.value()),
        });
        let mut clean = col.clone();
        clean.attrs = theirs;
        clean_columns.push(clean);
    }

    let primary_key = resolve_primary_key(cx, decl, &columns)?;

    let sql_name = sql_name_attr(&table_attrs).unwrap_or_else(|| sql_name_of(&decl.name));
    let schema = decl
        .schema
        .as_ref()
        .map(sql_name_of)
        .unwrap_or_else(|| "public".to_owned());
    if let Some(raw) = decl
        .schema
        .as_ref()
        .filter(|s| s.to_string().starts_with("r#"))
    {
        cx.error_spanned_by(
            raw,
            format!(
                "a schema written raw (`{raw}`) names different schemas in Diesel and in SQL\n\
                 help: Diesel's `table!` queries it as \"{raw}\", pghistory-diesel as \"{schema}\"; use a schema whose name is not a Rust keyword"
            ),
        );
    }

    let tracked = resolve_fields(cx, &opts, &columns);
    let context = resolve_context(cx, &opts);

    let events_rust_name = opts
        .table_name
        .clone()
        // `<name>_events` and `<Name>Event` are never keywords, so they need no `r#`.
        .unwrap_or_else(|| {
            Ident::new(
                &format!("{}_events", sql_name_of(&decl.name)),
                decl.name.span(),
            )
        });
    let events_sql_name = match &opts.table_name {
        Some(name) => sql_name_of(name),
        None => format!("{sql_name}_events"),
    };
    let model_name = opts.model.clone().unwrap_or_else(|| {
        Ident::new(
            &format!("{}Event", pascal_case(&sql_name_of(&decl.name))),
            decl.name.span(),
        )
    });
    let (events_schema, events_schema_explicit, events_rust_schema) = match &opts.schema {
        Some(lit) => {
            let value = lit.value();
            let ident = schema_ident(&value, lit.span());
            if value.is_empty() {
                cx.error_spanned_by(
                    lit,
                    "the events schema name must not be empty\nhelp: name a schema, like schema = \"history\", or leave out `schema` to keep the events beside the table",
                );
            } else if let Err(why) = &ident {
                // Diesel's `table!` names its schema with a Rust identifier and has no
                // `sql_name` for schemas, so the events table could not be queried.
                let what = match why {
                    SchemaName::Keyword => "is a Rust keyword",
                    SchemaName::NotAnIdentifier => "is not a Rust identifier",
                };
                cx.error_spanned_by(
                    lit,
                    format!(
                        "the events schema `{value}` {what}, so the events table's `table!` cannot name it\n\
                         help: use a schema name made of letters, digits and `_` that is not a keyword, like schema = \"{}\"",
                        suggest_identifier(&value)
                    ),
                );
            }
            (value, true, ident.ok())
        }
        None => (schema.clone(), false, decl.schema.clone()),
    };

    let mut table = TrackedTable {
        uses: decl.uses.clone(),
        rust_name: decl.name.clone(),
        rust_schema: decl.schema.clone(),
        sql_name,
        schema,
        columns,
        primary_key,
        tracked,
        events_rust_name,
        events_sql_name,
        events_schema,
        events_schema_explicit,
        events_rust_schema,
        model_name,
        trackers: Vec::new(),
        context,
        append_only: opts.append_only.is_some(),
        table_tokens: TokenStream::new(),
    };
    table.trackers = resolve_trackers(cx, &opts, &table);

    let clean = TableDecl {
        attrs: table_attrs,
        columns: clean_columns,
        ..decl.clone()
    };
    table.table_tokens = crate::expand::table_decl_tokens(&clean);
    crate::check::check(cx, &table);
    Some(table)
}

fn resolve_rust_type(
    cx: &Ctxt,
    col: &crate::parse::ColumnDecl,
    opts: &ColumnOptions,
) -> TokenStream {
    if let Some(lit) = &opts.rust_type {
        let wrap_nullable = types::is_nullable(&col.ty);
        return match lit.parse::<Type>() {
            Ok(ty) if wrap_nullable => quote::quote!(::std::option::Option<#ty>),
            Ok(ty) => ty.into_token_stream(),
            Err(_) => {
                cx.error_spanned_by(
                    lit,
                    "`rust_type` must be a Rust type path, like \"crate::models::Mood\"",
                );
                quote::quote!(())
            }
        };
    }
    match types::rust_type(&col.ty) {
        Some(ty) => ty,
        None => {
            cx.error_spanned_by(
                &col.ty,
                format!(
                    "pghistory-diesel does not know the Rust type of this SQL type\n\
                     help: name it on the column: #[pghistory(rust_type = \"crate::MyType\")] {} -> ...",
                    col.name
                ),
            );
            quote::quote!(())
        }
    }
}

fn resolve_primary_key(cx: &Ctxt, decl: &TableDecl, columns: &[Column]) -> Option<usize> {
    match &decl.primary_key {
        Some(keys) if keys.len() > 1 => {
            cx.error_spanned_by(
                keys,
                "composite primary keys are not supported yet\n\
                 help: pghistory-diesel keys events by one `pgh_obj_id` column; track a table with a single-column primary key",
            );
            None
        }
        Some(keys) if keys.is_empty() => {
            cx.syn_error(syn::Error::new(
                decl.name.span(),
                "the primary key list is empty",
            ));
            None
        }
        Some(keys) => {
            let key = &keys[0];
            let found = columns.iter().position(|c| c.rust_name == *key);
            if found.is_none() {
                let names: Vec<String> = columns.iter().map(|c| c.rust_name.to_string()).collect();
                cx.error_spanned_by(
                    key,
                    format!(
                        "primary key `{key}` is not a column of this table\nhelp: its columns are: {}",
                        names.join(", ")
                    ),
                );
            }
            found
        }
        None => {
            let found = columns.iter().position(|c| c.rust_name == "id");
            if found.is_none() {
                cx.syn_error(syn::Error::new(
                    decl.name.span(),
                    "no primary key given and no `id` column\nhelp: write the key after the table name: `posts (post_id) { ... }`",
                ));
            }
            found
        }
    }
}

fn resolve_fields(cx: &Ctxt, opts: &TableOptions, columns: &[Column]) -> Vec<usize> {
    let find = |ident: &Ident| {
        let pos = columns
            .iter()
            .position(|c| c.rust_name == *ident || *ident == c.sql_name);
        if pos.is_none() {
            let names: Vec<String> = columns.iter().map(|c| c.rust_name.to_string()).collect();
            cx.error_spanned_by(
                ident,
                format!(
                    "`{ident}` is not a column of this table\nhelp: its columns are: {}",
                    names.join(", ")
                ),
            );
        }
        pos
    };
    match (&opts.fields, &opts.exclude) {
        (Some(_), Some(exclude)) => {
            cx.syn_error(syn::Error::new(
                exclude.span,
                "`fields(...)` and `exclude(...)` cannot be used together\nhelp: list the columns to keep in `fields`, or the ones to drop in `exclude`",
            ));
            (0..columns.len()).collect()
        }
        (Some(fields), None) => {
            let mut keep: Vec<usize> = fields.value.iter().filter_map(find).collect();
            keep.sort_unstable();
            keep.dedup();
            keep
        }
        (None, Some(exclude)) => {
            let drop: Vec<usize> = exclude.value.iter().filter_map(find).collect();
            (0..columns.len()).filter(|i| !drop.contains(i)).collect()
        }
        (None, None) => (0..columns.len()).collect(),
    }
}

fn resolve_context(cx: &Ctxt, opts: &TableOptions) -> ContextMode {
    match &opts.context {
        None => ContextMode::ForeignKey,
        Some(ident) => match ident.to_string().as_str() {
            "fk" => ContextMode::ForeignKey,
            "json" => ContextMode::Json,
            "none" => ContextMode::None,
            other => {
                cx.error_spanned_by(
                    ident,
                    format!(
                        "unknown context mode `{other}`\nhelp: expected one of: fk, json, none"
                    ),
                );
                ContextMode::ForeignKey
            }
        },
    }
}

fn resolve_trackers(cx: &Ctxt, opts: &TableOptions, table: &TrackedTable) -> Vec<Tracker> {
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
        let Ok(operation) = raw.kind.to_string().parse::<Operation>() else {
            cx.error_spanned_by(
                &raw.kind,
                format!(
                    "unknown event kind `{}`\nhelp: expected one of: insert, update, delete, manual",
                    raw.kind
                ),
            );
            continue;
        };
        let label = match &raw.label {
            Some(lit) => {
                let value = lit.value();
                if let Err(msg) = validate_label(&value) {
                    cx.error_spanned_by(lit, msg);
                }
                value
            }
            None if operation == Operation::Manual => {
                cx.error_spanned_by(
                    &raw.kind,
                    "a manual event needs a label\nhelp: event(manual, label = \"archived\")",
                );
                continue;
            }
            None => operation.as_str().to_owned(),
        };
        let row = match &raw.row {
            None => match operation {
                Operation::Delete => Row::Old,
                _ => Row::New,
            },
            Some(ident) => match (ident.to_string().as_str(), operation) {
                ("new", Operation::Delete) => {
                    cx.error_spanned_by(
                        ident,
                        "a delete event has no `new` row\nhelp: a delete event stores the old row; remove `row = new`",
                    );
                    Row::Old
                }
                ("old", Operation::Insert) => {
                    cx.error_spanned_by(
                        ident,
                        "an insert event has no `old` row\nhelp: an insert event stores the new row; remove `row = old`",
                    );
                    Row::New
                }
                ("new", _) => Row::New,
                ("old", _) => Row::Old,
                (other, _) => {
                    cx.error_spanned_by(
                        ident,
                        format!("unknown row `{other}`\nhelp: expected `old` or `new`"),
                    );
                    Row::New
                }
            },
        };
        if let (Some(row), Operation::Manual) = (&raw.row, operation) {
            cx.error_spanned_by(
                row,
                "a manual event stores the row as it is now; `row` does not apply\nhelp: remove `row = ...`",
            );
        }
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
                .unwrap_or_else(|| raw.kind.span());
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

/// `my-history` → `my_history`, for the help line of a schema that is no identifier.
fn suggest_identifier(name: &str) -> String {
    if syn::parse::Parser::parse_str(Ident::parse_any, name).is_ok() {
        return format!("{name}_history");
    }
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert_str(0, "history_");
    }
    out
}

pub(crate) fn pascal_case(name: &str) -> String {
    name.trim_start_matches("r#")
        .split('_')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut chars = s.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_case_names_models() {
        assert_eq!(pascal_case("posts"), "Posts");
        assert_eq!(pascal_case("blog_posts"), "BlogPosts");
        assert_eq!(pascal_case("r#order"), "Order");
    }

    #[test]
    fn only_json_compares_as_text() {
        let table = crate::table_from_tokens(::quote::quote! {
            docs (id) {
                id -> Int4,
                json -> Nullable<Array<Json>>,
                jsonb -> Nullable<Jsonb>,
                text -> Text,
            }
        })
        .unwrap();
        let text = |name: &str| table.column(name).unwrap().compares_as_text();
        assert!(text("json"));
        assert!(!text("jsonb"));
        assert!(!text("text"));
    }

    #[test]
    fn raw_identifiers_are_names_without_their_prefix() {
        let table = crate::table_from_tokens(::quote::quote! {
            #[sql_name = "r#loop"]
            r#type (id) {
                id -> Int4,
                r#match -> Text,
            }
        })
        .unwrap();
        assert_eq!(table.rust_name.to_string(), "r#type");
        assert_eq!(
            table.sql_name, "loop",
            "Diesel drops `r#` from `sql_name` too"
        );
        assert_eq!(table.events_rust_name.to_string(), "type_events");
        assert_eq!(table.events_sql_name, "loop_events");
        assert_eq!(table.model_name.to_string(), "TypeEvent");
        assert_eq!(table.column("match").unwrap().sql_name, "match");
        let named = crate::table_from_tokens(::quote::quote! {
            #[pghistory(table_name = r#match)]
            app.posts (id) { id -> Int4, }
        })
        .unwrap();
        assert_eq!(named.events_sql_name, "match");
        assert_eq!(named.events_rust_schema.unwrap().to_string(), "app");
    }

    #[test]
    fn a_schema_whose_rust_and_sql_names_differ_is_refused() {
        let error = |tokens: proc_macro2::TokenStream| match crate::table_from_tokens(tokens) {
            Ok(_) => panic!("accepted"),
            Err(err) => err.to_string(),
        };
        for (schema, what) in [
            ("my-history", "is not a Rust identifier"),
            ("my schema", "is not a Rust identifier"),
            ("1st", "is not a Rust identifier"),
            ("type", "is a Rust keyword"),
            ("self", "is a Rust keyword"),
            ("r#x", "is not a Rust identifier"),
        ] {
            let err = error(::quote::quote! {
                #[pghistory(schema = #schema)]
                posts (id) { id -> Int4, }
            });
            assert!(
                err.starts_with(&format!("the events schema `{schema}` {what}")),
                "{schema}: {err}"
            );
        }
        let err = error(::quote::quote! { r#type.posts (id) { id -> Int4, } });
        assert!(err.starts_with("a schema written raw (`r#type`)"), "{err}");
    }

    #[test]
    fn labels_are_checked() {
        assert!(validate_label("title_changed").is_ok());
        assert!(validate_label("").is_err());
        assert!(validate_label("x'; drop table y; --").is_err());
    }
}
