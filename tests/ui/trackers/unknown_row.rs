pghistory_diesel::tracked_table! {
    #[pghistory(event(update, label = "edited", row = previous))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
