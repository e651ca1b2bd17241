pghistory_diesel::tracked_table! {
    #[pghistory(schema = "my-history")]
    posts (id) {
        id -> Int4,
    }
}

fn main() {}
