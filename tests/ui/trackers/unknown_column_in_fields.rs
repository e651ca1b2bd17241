pghistory_diesel::tracked_table! {
    #[pghistory(fields(title, summary))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
