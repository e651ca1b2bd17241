pghistory_diesel::tracked_table! {
    #[pghistory(events(insert))]
    memberships (user_id, group_id) {
        user_id -> Int4,
        group_id -> Int4,
    }
}

fn main() {}
