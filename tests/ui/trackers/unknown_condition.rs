pghistory_diesel::tracked_table! {
    #[pghistory(event(update, label = "went_live", when = became(status, "published")))]
    posts (id) {
        id -> Int4,
        status -> Text,
    }
}

fn main() {}
