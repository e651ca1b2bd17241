pghistory_diesel::tracked_table! {
    #[pghistory(events(insert))]
    posts (id) {
        id -> Int4,
        #[pghistory(skip)]
        title -> Text,
    }
}

fn main() {}
