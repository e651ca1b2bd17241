//! Reads a parsed `table!` body and its options into a [`TrackedTable`].

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Attribute, Ident, Type};

use super::check::{self, DeclaredTable};
use super::{tracker, Column, ContextMode, TrackedTable};
use crate::attr::{self, ColumnOptions, TableOptions};
use crate::ctxt::Ctxt;
use crate::parse::{ColumnDecl, TableDecl};
use crate::types;

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
pub(crate) fn declared_table(decl: &TableDecl) -> DeclaredTable {
    let (_, attrs) = attr::split_attrs(&decl.attrs);
    DeclaredTable {
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
    let key = &columns[primary_key];
    if key.pg_type_name().is_none() {
        // `pgh_obj_id`, the manual-event function's key parameter and the typed history
        // filters are declared with the key's Postgres type; a guess would only fail later,
        // in the application's statement.
        cx.error_spanned_by(
            &decl.columns[primary_key].ty,
            format!(
                "pghistory-diesel does not know the Postgres type of this primary key\n\
                 help: name it on the column: #[pghistory(pg_type = \"my_type\")] {} -> ...",
                key.rust_name
            ),
        );
    }

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
    let context = opts
        .context
        .as_ref()
        .map_or(ContextMode::ForeignKey, |mode| mode.value);

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

    let clean = TableDecl {
        attrs: table_attrs,
        columns: clean_columns,
        ..decl.clone()
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
        fields_named: opts.fields.is_some() || opts.exclude.is_some(),
        decl: clean,
    };
    table.trackers = tracker::resolve_trackers(cx, &opts, &table);
    check::check(cx, &table);
    Some(table)
}

fn resolve_rust_type(cx: &Ctxt, col: &ColumnDecl, opts: &ColumnOptions) -> TokenStream {
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
}
