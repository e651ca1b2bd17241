pghistory_diesel::tracked_table! {
    #[pghistory(events(insert))]
    posts {
        post_id -> Int4,
        title -> Text,
    }
}

fn main() {}
