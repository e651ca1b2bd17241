pghistory_diesel::tracked_table! {
    #[pghistory(events(update), fields(title), exclude(body))]
    posts (id) {
        id -> Int4,
        title -> Text,
        body -> Nullable<Text>,
    }
}

fn main() {}
