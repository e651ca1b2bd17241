pghistory_diesel::tracked_table! {
    #[pghistory(event(update, label = "title's changed"))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
