pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, upsert))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
