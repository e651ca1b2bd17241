#![allow(missing_docs)] // Diesel's `table!` does not document what it generates.

//! The schema the integration tests track. `pghistory-diesel generate --schema src/schema.rs`
//! writes `migrations/` from it; a test fails when the two drift apart.

pub mod sql_types {
    //! Custom SQL types.

    /// The `mood` enum.
    #[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId, Clone, Copy, Debug)]
    #[diesel(postgres_type(name = "mood"))]
    pub struct Mood;
}

pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, update, delete))]
    posts (id) {
        id -> Int4,
        title -> Text,
        body -> Nullable<Text>,
        score -> Int4,
    }
}

diesel::table! {
    comments (id) {
        id -> Int4,
        post_id -> Int4,
        text -> Text,
    }
}

pghistory_diesel::tracked_table! {
    /// A table whose name and column are SQL keywords.
    #[pghistory(events(insert, update, delete))]
    #[sql_name = "order"]
    orders (id) {
        id -> Int8,
        #[sql_name = "user"]
        user_name -> Varchar,
        #[max_length = 20]
        #[sql_name = "select"]
        status -> Varchar,
    }
}

pghistory_diesel::tracked_table! {
    /// A schema-qualified table with a text primary key, default trackers.
    app.accounts (handle) {
        handle -> Text,
        email -> Nullable<Text>,
        balance -> Int8,
    }
}

pghistory_diesel::tracked_table! {
    use diesel::sql_types::*;
    use super::sql_types::Mood;
    /// A uuid primary key, custom types and many column types.
    #[pghistory(events(insert, update, delete))]
    documents (id) {
        id -> Uuid,
        created -> Timestamptz,
        local_time -> Nullable<Timestamp>,
        day -> Nullable<Date>,
        tags -> Array<Text>,
        data -> Nullable<Jsonb>,
        raw -> Nullable<Bytea>,
        flag -> Bool,
        ratio -> Nullable<Float8>,
        amount -> Nullable<Numeric>,
        addr -> Nullable<Inet>,
        #[pghistory(rust_type = "crate::models::Mood")]
        mood -> Nullable<Mood>,
    }
}

diesel::joinable!(comments -> posts (post_id));
diesel::allow_tables_to_appear_in_same_query!(posts, comments);

pghistory_diesel::tracked_table! {
    /// Denormalized context: the metadata is copied onto each event.
    #[pghistory(events(insert, update, delete), context = json)]
    notes (id) {
        id -> Int4,
        text -> Text,
    }
}

pghistory_diesel::tracked_table! {
    /// No context columns at all.
    #[pghistory(events(insert, update), context = none)]
    labels (id) {
        id -> Int4,
        name -> Text,
    }
}
