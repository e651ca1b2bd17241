pghistory_diesel::tracked_table! {
    // Two update trackers, both with the default label `update`.
    #[pghistory(events(insert, update), event(update, row = old))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
