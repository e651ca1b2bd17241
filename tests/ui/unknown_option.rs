pghistory_diesel::tracked_table! {
    #[pghistory(events(insert), track_everything)]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
