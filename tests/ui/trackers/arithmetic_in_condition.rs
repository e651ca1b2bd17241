pghistory_diesel::tracked_table! {
    #[pghistory(event(update, label = "jump", when = new.score > old.score + 10))]
    posts (id) {
        id -> Int4,
        score -> Int4,
    }
}

fn main() {}
