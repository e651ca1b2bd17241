pghistory_diesel::tracked_table! {
    #[pghistory(event(update, label = "edited", condition = changed(title)))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
