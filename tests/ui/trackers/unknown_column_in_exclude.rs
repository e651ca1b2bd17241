pghistory_diesel::tracked_table! {
    #[pghistory(exclude(updated))]
    posts (id) {
        id -> Int4,
        title -> Text,
        updated_at -> Timestamptz,
    }
}

fn main() {}
