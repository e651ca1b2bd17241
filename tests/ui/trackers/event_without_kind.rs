pghistory_diesel::tracked_table! {
    #[pghistory(event())]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
