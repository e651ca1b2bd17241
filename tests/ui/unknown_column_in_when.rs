pghistory_diesel::tracked_table! {
    #[pghistory(event(update, label = "rescored", when = old.rating != new.rating))]
    posts (id) {
        id -> Int4,
        score -> Int4,
    }
}

fn main() {}
