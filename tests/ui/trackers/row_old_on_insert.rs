pghistory_diesel::tracked_table! {
    #[pghistory(event(insert, label = "created", row = old))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
