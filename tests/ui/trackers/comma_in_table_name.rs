pghistory_diesel::tracked_table! {
    #[sql_name = "posts,drafts"]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
