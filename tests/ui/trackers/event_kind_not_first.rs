pghistory_diesel::tracked_table! {
    #[pghistory(event(label = "edited", update))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
