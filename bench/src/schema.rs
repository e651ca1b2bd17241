#![allow(missing_docs)] // Diesel's `table!` does not document what it generates.

//! The benchmark's tables: one per variant, all `id bigint identity, title varchar(200),
//! body text, score int`; and the read phase's three (`read_*`), filled with a year of
//! history by set-based SQL rather than by their triggers. `pghistory-diesel generate --schema src/schema.rs` writes the
//! tracking migration from this file.

diesel::table! {
    /// No history at all: the baseline.
    bench_untracked (id) {
        id -> Int8,
        #[max_length = 200]
        title -> Nullable<Varchar>,
        body -> Nullable<Text>,
        score -> Nullable<Int4>,
    }
}

pghistory_diesel::tracked_table! {
    /// The floor: an events table made by our generator, but no trigger (a manual tracker
    /// only). The benchmark writes its events with one plain `INSERT ... SELECT`.
    #[pghistory(event(manual, label = "floor"))]
    bench_floor (id) {
        id -> Int8,
        #[max_length = 200]
        title -> Nullable<Varchar>,
        body -> Nullable<Text>,
        score -> Nullable<Int4>,
    }
}

pghistory_diesel::tracked_table! {
    /// Every operation tracked, every column snapshotted, context by id.
    #[pghistory(events(insert, update, delete))]
    bench_tracked (id) {
        id -> Int8,
        #[max_length = 200]
        title -> Nullable<Varchar>,
        body -> Nullable<Text>,
        score -> Nullable<Int4>,
    }
}

pghistory_diesel::tracked_table! {
    /// Only `id` and `title` snapshotted: updates that change neither write nothing.
    #[pghistory(events(insert, update, delete), fields(id, title))]
    bench_fields (id) {
        id -> Int8,
        #[max_length = 200]
        title -> Nullable<Varchar>,
        body -> Nullable<Text>,
        score -> Nullable<Int4>,
    }
}

pghistory_diesel::tracked_table! {
    /// The context metadata copied onto every event (`context = json`).
    #[pghistory(events(insert, update, delete), context = json)]
    bench_json (id) {
        id -> Int8,
        #[max_length = 200]
        title -> Nullable<Varchar>,
        body -> Nullable<Text>,
        score -> Nullable<Int4>,
    }
}

pghistory_diesel::tracked_table! {
    /// The read phase's accounts: few objects, many events each.
    #[pghistory(events(insert, update, delete))]
    read_accounts (id) {
        id -> Int8,
        #[max_length = 100]
        name -> Nullable<Varchar>,
        email -> Nullable<Text>,
        plan -> Nullable<Text>,
        active -> Nullable<Bool>,
    }
}

pghistory_diesel::tracked_table! {
    /// The read phase's posts: half of its events.
    #[pghistory(events(insert, update, delete))]
    read_posts (id) {
        id -> Int8,
        account_id -> Nullable<Int8>,
        #[max_length = 200]
        title -> Nullable<Varchar>,
        body -> Nullable<Text>,
        status -> Nullable<Text>,
        score -> Nullable<Int4>,
    }
}

pghistory_diesel::tracked_table! {
    /// The read phase's comments: many objects, few events each.
    #[pghistory(events(insert, update, delete))]
    read_comments (id) {
        id -> Int8,
        post_id -> Nullable<Int8>,
        account_id -> Nullable<Int8>,
        body -> Nullable<Text>,
        score -> Nullable<Int4>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    bench_untracked,
    bench_floor,
    bench_tracked,
    bench_fields,
    bench_json,
    read_accounts,
    read_posts,
    read_comments
);
