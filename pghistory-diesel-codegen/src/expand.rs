//! Rust code for a checked [`TrackedTable`]: the unchanged Diesel table, the events table,
//! the model struct, joins, and the runtime's description of the table.

use pghistory_diesel_core::vocab::{PghRust, PghType};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{ContextMode, Operation, Row, TrackedTable};
use crate::{sql, types};

/// Everything `tracked_table!` expands to.
pub fn expand(table: &TrackedTable) -> TokenStream {
    let original = &table.decl;
    let events_table = events_table(table);
    let model = model(table);
    let joins = joins(table);
    let info = info(table);
    quote! {
        ::diesel::table! { #original }
        #events_table
        #joins
        #model
        #info
    }
}

fn events_table(table: &TrackedTable) -> TokenStream {
    let uses = &table.uses;
    let name = &table.events_rust_name;
    let schema = table.events_rust_schema.as_ref().map(|s| quote!(#s .));
    let sql_name = &table.events_sql_name;
    let pk = table.pk();
    let pk_ty = types::not_null(&pk.ty);
    let st = quote!(::diesel::sql_types);
    let pgh: Vec<TokenStream> = sql::event_table::pgh_columns(table)
        .map(|c| {
            let doc = c.doc;
            let name = format_ident!("{}", c.name);
            let ty = match c.ty {
                PghType::Fixed { diesel, .. } => {
                    let diesel = format_ident!("{}", diesel);
                    quote!(#st::#diesel)
                }
                PghType::PrimaryKey => quote!(#pk_ty),
            };
            let ty = if c.nullable {
                quote!(#st::Nullable<#ty>)
            } else {
                ty
            };
            quote!(#[doc = #doc] #name -> #ty)
        })
        .collect();
    let cols = table.tracked_columns().map(|c| {
        let attrs = &c.attrs;
        let name = &c.rust_name;
        let ty = &c.ty;
        quote!(#(#attrs)* #name -> #ty)
    });
    let doc = format!(
        "History of `{}`: one row per event, written by pghistory-diesel's triggers.",
        table.sql_name
    );
    quote! {
        ::diesel::table! {
            #(#uses)*
            #[doc = #doc]
            #[sql_name = #sql_name]
            #schema #name (pgh_id) {
                #(#pgh,)*
                #(#cols,)*
            }
        }
    }
}

fn joins(table: &TrackedTable) -> TokenStream {
    let events = &table.events_rust_name;
    let tracked = &table.rust_name;
    let context = if table.context.has_id() {
        quote! {
            // `allow_tables_to_appear_in_same_query!` would also emit impls between
            // `Only<_>` wrappers, which the orphan rule refuses for a table of another
            // crate; the two plain ones are all joins need.
            const _: () = {
                use ::pghistory_diesel::context_table::pghistory_context;
                ::diesel::joinable!(#events -> pghistory_context (pgh_context_id));
                impl ::diesel::query_source::TableNotEqual<pghistory_context::table> for #events::table {}
                impl ::diesel::query_source::TableNotEqual<#events::table> for pghistory_context::table {}
            };
        }
    } else {
        quote!()
    };
    quote! {
        ::diesel::joinable!(#events -> #tracked (pgh_obj_id));
        ::diesel::allow_tables_to_appear_in_same_query!(#tracked, #events);
        #context
    }
}

fn model(table: &TrackedTable) -> TokenStream {
    let name = &table.model_name;
    let events = &table.events_rust_name;
    let p = quote!(::pghistory_diesel::__private);
    let pk_rust = pk_rust(table);
    let mut fields: Vec<TokenStream> = sql::event_table::pgh_columns(table)
        .map(|c| {
            let doc = c.doc;
            let name = format_ident!("{}", c.name);
            let ty = match c.rust {
                PghRust::I64 => quote!(i64),
                PghRust::Timestamp => quote!(#p::chrono::DateTime<#p::chrono::Utc>),
                PghRust::PrimaryKey => quote!(#pk_rust),
                PghRust::Uuid => quote!(#p::uuid::Uuid),
                PghRust::String => quote!(::std::string::String),
                PghRust::Json => quote!(#p::serde_json::Value),
            };
            let ty = if c.nullable {
                quote!(::std::option::Option<#ty>)
            } else {
                ty
            };
            quote!(#[doc = #doc] pub #name: #ty)
        })
        .collect();
    for col in table.tracked_columns() {
        let fname = &col.rust_name;
        let ty = &col.rust_type;
        let doc = format!("`{}` as it was in the stored row.", col.sql_name);
        fields.push(quote!(#[doc = #doc] pub #fname: #ty));
    }
    let doc = format!(
        "One event of `{}`, as stored in `{}`.",
        table.sql_name, table.events_sql_name
    );
    let changes = changes(table);
    quote! {
        #[doc = #doc]
        #[derive(::std::fmt::Debug, ::std::clone::Clone, ::diesel::Queryable, ::diesel::Selectable)]
        #[diesel(table_name = #events, check_for_backend(::diesel::pg::Pg))]
        pub struct #name {
            #(#fields,)*
        }
        #changes
    }
}

/// The Rust type of the primary key (and of `pgh_obj_id`).
fn pk_rust(table: &TrackedTable) -> TokenStream {
    match types::rust_type(types::not_null(&table.pk().ty)) {
        Some(ty) => ty,
        None => table.pk().rust_type.clone(),
    }
}

/// `posts_id` → `PostsId`: a variant name for a column.
fn camel(name: &syn::Ident) -> String {
    let raw = name.to_string();
    let raw = raw.strip_prefix("r#").unwrap_or(&raw);
    let mut out = String::new();
    let mut upper = true;
    for ch in raw.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'C');
    }
    out
}

/// The typed diff of the model: an enum with one variant per snapshotted column, and
/// `Diff` for the model. Comparisons go through `Comparable`, so a column type without
/// `PartialEq` fails with a message that names the cause.
fn changes(table: &TrackedTable) -> TokenStream {
    let model = &table.model_name;
    let name = format_ident!("{}Change", table.model_name);
    let h = quote!(::pghistory_diesel::history);
    let cols: Vec<_> = table.tracked_columns().collect();
    let variants: Vec<syn::Ident> = cols
        .iter()
        .map(|c| format_ident!("{}", camel(&c.rust_name)))
        .collect();
    for (i, v) in variants.iter().enumerate() {
        if variants[..i].contains(v) {
            let msg = format!(
                "two columns of `{}` make the same typed-diff variant `{v}`\nhelp: rename one column's Rust name",
                table.sql_name
            );
            return quote!(::std::compile_error!(#msg););
        }
    }
    let decl = cols.iter().zip(&variants).map(|(c, v)| {
        let ty = &c.rust_type;
        let doc = format!("`{}` changed.", c.sql_name);
        quote!(#[doc = #doc] #v {
            /// The value in the earlier event.
            before: #ty,
            /// The value in the later event.
            after: #ty,
        })
    });
    let column = cols.iter().zip(&variants).map(|(c, v)| {
        let sql = &c.sql_name;
        quote!(#name::#v { .. } => #sql)
    });
    let eq = variants.iter().map(|v| {
        quote!((#name::#v { before: a, after: b }, #name::#v { before: c, after: d }) =>
            !#h::Comparable::differs(a, c) && !#h::Comparable::differs(b, d))
    });
    let push = cols.iter().zip(&variants).map(|(c, v)| {
        let f = &c.rust_name;
        quote! {
            if #h::Comparable::differs(&earlier.#f, &self.#f) {
                out.push(#name::#v {
                    before: ::std::clone::Clone::clone(&earlier.#f),
                    after: ::std::clone::Clone::clone(&self.#f),
                });
            }
        }
    });
    let doc = format!(
        "One changed column between two events of `{}`: see [`{model}`]'s `changes_from`.",
        table.sql_name
    );
    let fallback = if variants.len() > 1 {
        quote!(_ => false,)
    } else {
        quote!()
    };
    quote! {
        #[doc = #doc]
        #[derive(::std::fmt::Debug, ::std::clone::Clone)]
        pub enum #name {
            #(#decl,)*
        }

        impl #name {
            /// The SQL name of the changed column.
            pub fn column(&self) -> &'static str {
                match self {
                    #(#column,)*
                }
            }
        }

        impl #h::ColumnChange for #name {
            fn column(&self) -> &'static str {
                #name::column(self)
            }
        }

        impl ::std::cmp::PartialEq for #name {
            fn eq(&self, other: &Self) -> bool {
                match (self, other) {
                    #(#eq,)*
                    #fallback
                }
            }
        }

        impl #model {
            /// The snapshotted columns whose values differ between `earlier` and this
            /// event, in table order, with their `before` and `after` values.
            pub fn changes_from(&self, earlier: &Self) -> ::std::vec::Vec<#name> {
                let mut out = ::std::vec::Vec::new();
                #(#push)*
                out
            }
        }

        impl #h::Diff for #model {
            type Change = #name;
            fn changes_from(&self, earlier: &Self) -> ::std::vec::Vec<#name> {
                #model::changes_from(self, earlier)
            }
            fn event_id(&self) -> i64 {
                self.pgh_id
            }
        }
    }
}

fn info(table: &TrackedTable) -> TokenStream {
    let tracked = &table.rust_name;
    let events = &table.events_rust_name;
    let model = &table.model_name;
    let schema = &table.schema;
    let sql_name = &table.sql_name;
    let events_schema = &table.events_schema;
    let events_sql_name = &table.events_sql_name;
    let pk = &table.pk().sql_name;
    let pk_type = table.pk_pg_type();
    let columns: Vec<&str> = table
        .tracked_columns()
        .map(|c| c.sql_name.as_str())
        .collect();
    let fingerprint = sql::trigger::fingerprint(table);
    let tracked_relation = sql::event_table::tracked_name(table);
    let triggers = sql::trigger::operations(table).into_iter().map(|op| {
        let function = format!("{}()", sql::trigger::function_name(table, op));
        let trigger = sql::names::trigger(op);
        let body = sql::trigger::function_body(table, op);
        quote!(::pghistory_diesel::__private::TriggerInfo {
            function: #function,
            trigger: #trigger,
            table: #tracked_relation,
            body: #body,
        })
    });
    let trackers = table.trackers.iter().map(|t| {
        let label = &t.label;
        let op = match t.operation {
            Operation::Insert => quote!(Insert),
            Operation::Update => quote!(Update),
            Operation::Delete => quote!(Delete),
            Operation::Manual => quote!(Manual),
        };
        let stores_new = t.row == Row::New;
        let every_change = t.every_change(table);
        quote!(::pghistory_diesel::__private::TrackerInfo {
            label: #label,
            operation: ::pghistory_diesel::__private::Operation::#op,
            stores_new: #stores_new,
            every_change: #every_change,
        })
    });
    let events_relation = sql::event_table::events_name(table);
    let pause_key = sql::names::pause_key(table);
    let create_event_sql = sql::manual::insert_event(table);
    let expected = expected_tokens(&sql::expected::expected(table));
    let context = match table.context {
        ContextMode::ForeignKey => quote!(ForeignKey),
        ContextMode::Json => quote!(Json),
        ContextMode::None => quote!(None),
    };
    let all_columns = table.all_columns_tracked();
    let key = pk_rust(table);
    quote! {
        impl ::pghistory_diesel::Tracked for #tracked::table {
            type Events = #events::table;
            type Event = #model;
            type Key = #key;
            type EventsQuery = #events::BoxedQuery<'static, ::diesel::pg::Pg>;

            fn events_where(filter: ::pghistory_diesel::history::EventsFilter) -> Self::EventsQuery {
                ::diesel::QueryDsl::into_boxed(::diesel::QueryDsl::filter(#events::table, filter))
            }

            fn bind_key(key: #key) -> ::pghistory_diesel::history::KeyBind {
                ::pghistory_diesel::history::KeyBind::new(
                    ::diesel::dsl::sql::<::diesel::sql_types::Bool>("")
                        .bind::<<#events::pgh_obj_id as ::diesel::Expression>::SqlType, _>(key),
                )
            }

            const INFO: &'static ::pghistory_diesel::TableInfo = &::pghistory_diesel::TableInfo {
                schema: #schema,
                table: #sql_name,
                events_schema: #events_schema,
                events_table: #events_sql_name,
                primary_key: #pk,
                primary_key_type: #pk_type,
                columns: &[#(#columns),*],
                all_columns: #all_columns,
                trackers: &[#(#trackers),*],
                context: ::pghistory_diesel::__private::ContextMode::#context,
                trigger_fingerprint: #fingerprint,
                triggers: &[#(#triggers),*],
                events_relation: #events_relation,
                pause_key: #pause_key,
                create_event_sql: #create_event_sql,
                expected: {
                    fn expected() -> ::pghistory_diesel::check::ExpectedTable {
                        #expected
                    }
                    expected
                },
            };
        }
    }
}

/// Tokens building `expected` at run time (it owns its strings, so the CLI can build the
/// same value from schema.rs).
fn expected_tokens(expected: &sql::expected::ExpectedTable) -> TokenStream {
    use sql::expected::ExpectedType;
    let c = quote!(::pghistory_diesel::check);
    let s = |text: &str| quote!(::std::string::String::from(#text));
    let opt = |text: &Option<String>| match text {
        Some(text) => {
            let text = s(text);
            quote!(::std::option::Option::Some(#text))
        }
        None => quote!(::std::option::Option::None),
    };
    let columns = |cols: &[sql::expected::ExpectedColumn]| {
        let cols = cols.iter().map(|col| {
            let name = s(&col.name);
            let ty = match &col.ty {
                ExpectedType::Named(t) => {
                    let t = s(t);
                    quote!(#c::ExpectedType::Named(#t))
                }
                ExpectedType::Unknown => quote!(#c::ExpectedType::Unknown),
                ExpectedType::SameAs(t) => {
                    let t = s(t);
                    quote!(#c::ExpectedType::SameAs(#t))
                }
                ExpectedType::SameBaseAs(t) => {
                    let t = s(t);
                    quote!(#c::ExpectedType::SameBaseAs(#t))
                }
            };
            quote!(#c::ExpectedColumn { name: #name, ty: #ty })
        });
        quote!(::std::vec![#(#cols),*])
    };
    let security = |sec: &sql::expected::ExpectedSecurity| {
        let definer = sec.definer;
        let config = sec.config.iter().map(|c| s(c));
        quote!(#c::ExpectedSecurity { definer: #definer, config: ::std::vec![#(#config),*] })
    };
    let functions = expected.functions.iter().map(|f| {
        let signature = s(&f.signature);
        let body = s(&f.body);
        let trigger = s(&f.trigger);
        let trigger_type = f.trigger_type;
        let old = opt(&f.transition.0);
        let new = opt(&f.transition.1);
        let sec = security(&f.security);
        let unchanged = match &f.unchanged {
            Some(u) => {
                let trigger = s(&u.trigger);
                let signature = s(&u.signature);
                let body = s(&u.body);
                quote!(::std::option::Option::Some(#c::ExpectedUnchanged {
                    trigger: #trigger,
                    signature: #signature,
                    body: #body,
                }))
            }
            None => quote!(::std::option::Option::None),
        };
        quote!(#c::ExpectedFunction {
            signature: #signature,
            body: #body,
            trigger: #trigger,
            trigger_type: #trigger_type,
            transition: (#old, #new),
            unchanged: #unchanged,
            security: #sec,
        })
    });
    let guard = match &expected.guard {
        Some(g) => {
            let signature = s(&g.signature);
            let body = s(&g.body);
            let triggers = g.triggers.iter().map(|(name, ty)| {
                let name = s(name);
                quote!((#name, #ty))
            });
            let sec = security(&g.security);
            quote!(::std::option::Option::Some(#c::ExpectedGuard {
                signature: #signature,
                body: #body,
                triggers: ::std::vec![#(#triggers),*],
                security: #sec,
            }))
        }
        None => quote!(::std::option::Option::None),
    };
    let table = s(&expected.table);
    let relation = s(&expected.relation);
    let events_relation = s(&expected.events_relation);
    let cols = columns(&expected.columns);
    let events_cols = columns(&expected.events_columns);
    let fingerprint = s(&expected.fingerprint);
    let orphans = opt(&expected.orphans_sql);
    quote!(#c::ExpectedTable {
        table: #table,
        relation: #relation,
        events_relation: #events_relation,
        columns: #cols,
        events_columns: #events_cols,
        functions: ::std::vec![#(#functions),*],
        guard: #guard,
        fingerprint: #fingerprint,
        orphans_sql: #orphans,
    })
}
