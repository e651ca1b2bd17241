pghistory_diesel::tracked_table! {
    r#type.posts (id) {
        id -> Int4,
    }
}

fn main() {}
