pghistory_diesel::tracked_table! {
    #[pghistory(schema = "")]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
