pghistory_diesel::tracked_table! {
    #[pghistory(event(insert, label = "created_big", when = old.score > 10))]
    posts (id) {
        id -> Int4,
        score -> Int4,
    }
}

fn main() {}
