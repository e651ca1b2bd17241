pghistory_diesel::tracked_table! {
    #[pghistory(event(update, label = "raw", when = sql("  ")))]
    posts (id) {
        id -> Int4,
        score -> Int4,
    }
}

fn main() {}
