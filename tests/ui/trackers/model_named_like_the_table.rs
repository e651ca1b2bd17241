pghistory_diesel::tracked_table! {
    #[pghistory(model = posts)]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
