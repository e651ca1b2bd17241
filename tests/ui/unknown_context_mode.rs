pghistory_diesel::tracked_table! {
    #[pghistory(events(insert), context = metadata)]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
