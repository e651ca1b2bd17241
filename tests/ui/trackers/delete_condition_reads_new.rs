pghistory_diesel::tracked_table! {
    #[pghistory(event(delete, label = "removed_published", when = changed_to(status, "published")))]
    posts (id) {
        id -> Int4,
        status -> Text,
    }
}

fn main() {}
