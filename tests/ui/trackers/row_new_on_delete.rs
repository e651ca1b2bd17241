pghistory_diesel::tracked_table! {
    #[pghistory(event(delete, label = "removed", row = new))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
