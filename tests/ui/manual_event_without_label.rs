pghistory_diesel::tracked_table! {
    #[pghistory(events(insert), event(manual))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
