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

diesel::table! {
    tags (id) {
        id -> Int4,
        name -> Text,
    }
}

pghistory_diesel::tracked_table! {
    /// The join table of the many-to-many relation posts <-> tags, tracked like any other
    /// table: every link and unlink is an event. It has a key of its own, since events are
    /// keyed by one `pgh_obj_id`; the pair stays UNIQUE in the database.
    #[pghistory(events(insert, delete))]
    post_tags (id) {
        id -> Int4,
        post_id -> Int4,
        tag_id -> Int4,
    }
}

diesel::joinable!(comments -> posts (post_id));
diesel::joinable!(post_tags -> posts (post_id));
diesel::joinable!(post_tags -> tags (tag_id));
diesel::allow_tables_to_appear_in_same_query!(posts, comments, tags, post_tags);
// The join table's history joins the tags it named.
diesel::allow_tables_to_appear_in_same_query!(post_tags_events, tags);
