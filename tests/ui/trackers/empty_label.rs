pghistory_diesel::tracked_table! {
    #[pghistory(event(manual, label = ""))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
