//! The demo's schema, owned by hand: `tracked_table!` lives here.
#![allow(missing_docs)] // Diesel's `table!` does not document what it generates.

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

diesel::joinable!(comments -> posts (post_id));
diesel::allow_tables_to_appear_in_same_query!(posts, comments);
