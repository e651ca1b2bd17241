//! The app's schema, owned by hand: `tracked_table!` lives here, and
//! `pghistory-diesel generate` reads it to write the tracking migration.
#![allow(missing_docs)] // Diesel's `table!` does not document what it generates.

pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, update, delete))]
    posts (id) {
        id -> Int4,
        title -> Text,
        body -> Nullable<Text>,
    }
}
