#![allow(missing_docs)] // Diesel's `table!` does not document what it generates.

//! The benchmark's tables: one per variant, all `id bigint identity, title varchar(200),
//! body text, score int`. `pghistory-diesel generate --schema src/schema.rs` writes the
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

diesel::allow_tables_to_appear_in_same_query!(
    bench_untracked,
    bench_floor,
    bench_tracked,
    bench_fields,
    bench_json
);
