pghistory_diesel::tracked_table! {
    #[pghistory(events(insert), context = json, context = none)]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
