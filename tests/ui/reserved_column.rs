pghistory_diesel::tracked_table! {
    #[pghistory(events(insert))]
    posts (id) {
        id -> Int4,
        pgh_label -> Text,
    }
}

fn main() {}
