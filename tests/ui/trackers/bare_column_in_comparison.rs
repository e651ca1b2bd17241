pghistory_diesel::tracked_table! {
    #[pghistory(event(update, label = "raised", when = score > 10))]
    posts (id) {
        id -> Int4,
        score -> Int4,
    }
}

fn main() {}
