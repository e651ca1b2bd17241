pghistory_diesel::tracked_table! {
    #[pghistory(events(insert))]
    posts (post_id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
