pghistory_diesel::tracked_table! {
    posts (id) {
        id -> Int4,
        #[sql_name = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"]
        long -> Text,
    }
}

fn main() {}
