#![allow(missing_docs)] // Diesel's `table!` does not document what it generates.

//! The schema of the tracker, condition and option tests (`tests/trackers_*.rs`), with its
//! own migrations in `migrations_trackers/`: `pghistory-diesel generate --schema
//! src/trackers_schema.rs --migrations-dir migrations_trackers` writes the tracking
//! migration from it.

pub mod sql_types {
    //! Custom SQL types.

    /// The `priority` enum.
    #[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId, Clone, Copy, Debug)]
    #[diesel(postgres_type(name = "priority"))]
    pub struct Priority;
}

pghistory_diesel::tracked_table! {
    /// Several trackers on one table, each with its own label and condition.
    #[pghistory(
        event(insert),
        event(update),
        event(update, label = "title_changed", when = changed(title)),
        event(update, label = "published", when = changed_to(status, "published")),
        event(update, label = "unpublished", when = changed_from(status, "published")),
        event(update, label = "score_up", when = new.score > old.score),
        event(update, label = "score_jump", when = sql("NEW.score > OLD.score + 10")),
        event(update, label = "live_edit", when = (changed(title) || changed(body)) && !(old.status == "draft")),
        event(update, label = "body_cleared", when = is_null(new.body) && !is_null(old.body)),
        event(update, label = "before_update", row = old),
        event(delete),
        event(manual, label = "archived"),
    )]
    articles (id) {
        id -> Int4,
        title -> Text,
        body -> Nullable<Text>,
        status -> Text,
        score -> Int4,
    }
}

pghistory_diesel::tracked_table! {
    /// `exclude(...)`: `last_seen` is neither snapshotted nor watched by `update`;
    /// `touched` (`when = always`) records every updated row, changed or not.
    #[pghistory(
        events(insert, update),
        event(update, label = "touched", when = always),
        exclude(last_seen),
    )]
    profiles (id) {
        id -> Int4,
        name -> Text,
        last_seen -> Nullable<Timestamptz>,
    }
}

pghistory_diesel::tracked_table! {
    /// `fields(...)`: only `name` and `price` are snapshotted; an update condition may still
    /// read an untracked column.
    #[pghistory(
        events(insert, update),
        event(update, label = "restocked", when = changed(stock)),
        fields(name, price),
    )]
    products (sku) {
        sku -> Text,
        name -> Text,
        price -> Int4,
        stock -> Int4,
    }
}

pghistory_diesel::tracked_table! {
    /// Naming: a custom events table and model, in another Postgres schema; the context
    /// metadata copied onto each event (`context = json`).
    #[pghistory(
        events(insert, update, delete),
        context = json,
        table_name = widget_history,
        model = WidgetHistory,
        schema = "history",
    )]
    widgets (id) {
        id -> Int8,
        name -> Text,
    }
}

pghistory_diesel::tracked_table! {
    /// Append-only history: the database refuses UPDATE, DELETE and TRUNCATE on it. Also
    /// conditional insert and delete trackers.
    #[pghistory(
        events(insert, update, delete),
        event(insert, label = "large", when = new.amount >= 1000),
        event(delete, label = "large_removed", when = old.amount >= 1000 && !is_null(old.amount)),
        append_only,
    )]
    ledger (id) {
        id -> Int4,
        amount -> Int8,
    }
}

pghistory_diesel::tracked_table! {
    use diesel::sql_types::*;
    use super::sql_types::Priority;
    /// Every common column type, round-tripping through the events table and the model.
    #[pghistory(events(insert, update, delete))]
    samples (id) {
        id -> Uuid,
        small -> Int2,
        int -> Int4,
        big -> Int8,
        real_num -> Float4,
        double_num -> Float8,
        amount -> Numeric,
        text_col -> Text,
        #[max_length = 10]
        code -> Varchar,
        flag -> Bool,
        at_tz -> Timestamptz,
        at_local -> Timestamp,
        day -> Date,
        clock -> Time,
        other_id -> Nullable<Uuid>,
        doc -> Jsonb,
        ints -> Array<Int4>,
        words -> Array<Nullable<Text>>,
        raw -> Bytea,
        addr -> Inet,
        #[pghistory(rust_type = "crate::trackers_schema::Priority")]
        priority -> Priority,
        #[pghistory(rust_type = "crate::trackers_schema::Priority")]
        maybe_priority -> Nullable<Priority>,
    }
}

pghistory_diesel::tracked_table! {
    /// Awkward SQL names: a table name with a capital and a space, keyword column names
    /// used in a condition, a manual event and the pause list.
    #[pghistory(
        events(insert, update),
        event(update, label = "reassigned", when = changed(owner) && new.position > 0),
        event(manual, label = "escalated"),
        append_only,
    )]
    #[sql_name = "Help Tickets"]
    tickets (id) {
        id -> Int4,
        #[sql_name = "user"]
        owner -> Text,
        #[sql_name = "order"]
        position -> Int4,
    }
}

diesel::table! {
    /// Tags of articles (untracked).
    tags (id) {
        id -> Int4,
        name -> Text,
    }
}

pghistory_diesel::tracked_table! {
    /// The join table of the many-to-many relation articles ↔ tags, tracked like any other
    /// table. It has a single-column key of its own: events are keyed by one `pgh_obj_id`.
    #[pghistory(events(insert, delete))]
    article_tags (id) {
        id -> Int4,
        article_id -> Int4,
        tag_id -> Int4,
    }
}

diesel::joinable!(article_tags -> articles (article_id));
diesel::joinable!(article_tags -> tags (tag_id));
diesel::allow_tables_to_appear_in_same_query!(articles, tags, article_tags);
// The join table's history joins the tags it named.
diesel::allow_tables_to_appear_in_same_query!(article_tags_events, tags);

/// The `priority` enum's Rust side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::FromSqlRow, diesel::AsExpression)]
#[diesel(sql_type = sql_types::Priority)]
pub enum Priority {
    /// `low`.
    Low,
    /// `high`.
    High,
}

impl diesel::serialize::ToSql<sql_types::Priority, diesel::pg::Pg> for Priority {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
    ) -> diesel::serialize::Result {
        use std::io::Write;
        out.write_all(match self {
            Priority::Low => b"low",
            Priority::High => b"high",
        })?;
        Ok(diesel::serialize::IsNull::No)
    }
}

impl diesel::deserialize::FromSql<sql_types::Priority, diesel::pg::Pg> for Priority {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        match value.as_bytes() {
            b"low" => Ok(Priority::Low),
            b"high" => Ok(Priority::High),
            other => Err(format!("unknown priority {:?}", String::from_utf8_lossy(other)).into()),
        }
    }
}
