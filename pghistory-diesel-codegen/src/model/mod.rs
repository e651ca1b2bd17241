//! The checked model of one tracked table: everything the Rust and SQL generators need,
//! with user input already validated and resolved (column names to SQL names, options to
//! enums). Generation from a [`TrackedTable`] cannot fail.
//!
//! [`build`] reads the parsed declaration and its typed options into the model
//! (`build.rs`, `tracker.rs`, `condition.rs`), and `check` adds the rules that span
//! several options, columns or tables. The model never calls a generator.

mod build;
pub(crate) mod check;
pub mod condition;
mod tracker;

use proc_macro2::TokenStream;
use syn::{Attribute, Ident, ItemUse, Type};

pub use crate::attr::{ContextMode, Operation, Row};
use crate::parse::TableDecl;
use crate::types;
pub use build::build;
pub(crate) use build::declared_table;
pub use condition::Condition;
pub use tracker::validate_label;

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

impl Tracker {
    /// Whether it writes an event for every row its statement changes: no condition,
    /// `always`, or `changed` over every snapshotted column of `table`. Time travel reads
    /// only such trackers' events.
    pub fn every_change(&self, table: &TrackedTable) -> bool {
        match &self.condition {
            None | Some(Condition::Always) => true,
            Some(Condition::AnyChange(cols)) => {
                cols.is_empty() || table.tracked_columns().all(|c| cols.contains(&c.sql_name))
            }
            Some(_) => false,
        }
    }
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
    /// Whether the declaration names its tracked columns (`fields(...)` or
    /// `exclude(...)`); without either, every column of the table is tracked, which lets
    /// an UPDATE trigger compare whole rows ([`TrackedTable::rows_compare_as_bytes`]).
    pub fields_named: bool,
    /// The user's `table!` input minus our attributes, re-emitted as is.
    pub decl: TableDecl,
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

    /// Whether the events of an UPDATE could tell unchanged rows by comparing whole rows
    /// byte for byte (`OLD *= NEW`): the declaration tracks every column of the table
    /// (no `fields`/`exclude`), and each column's type has equal values only when their
    /// bytes are equal (integers, `bool`, `text` and `varchar` under a deterministic
    /// collation, `bytea`, `uuid`, dates and times; not `numeric`, floats, `jsonb`,
    /// `interval`, arrays or custom types, whose `=` is looser than their bytes).
    pub fn rows_compare_as_bytes(&self) -> bool {
        !self.fields_named
            && self.all_columns_tracked()
            && self.columns.iter().all(|c| {
                c.pg_type.is_none()
                    && matches!(
                        types::pg_type(&c.ty).as_deref(),
                        Some(
                            "smallint"
                                | "integer"
                                | "bigint"
                                | "boolean"
                                | "text"
                                | "varchar"
                                | "bytea"
                                | "uuid"
                                | "timestamptz"
                                | "timestamp"
                                | "date"
                                | "time"
                                | "money"
                                | "macaddr"
                                | "oid"
                        )
                    )
            })
    }

    /// Whether every column is snapshotted.
    pub fn all_columns_tracked(&self) -> bool {
        self.tracked.len() == self.columns.len()
    }

    /// The Postgres type of `pgh_obj_id`.
    pub fn pk_pg_type(&self) -> String {
        self.pk()
            .pg_type_name()
            .unwrap_or_else(|| "text".to_owned())
    }
}
