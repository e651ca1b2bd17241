pghistory_diesel::tracked_table! {
    #[pghistory(event(update, label = "published", when = changed_to(status)))]
    posts (id) {
        id -> Int4,
        status -> Text,
    }
}

fn main() {}
