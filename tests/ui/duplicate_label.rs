pghistory_diesel::tracked_table! {
    #[pghistory(
        event(update, label = "changed", when = changed(title)),
        event(update, label = "changed", when = changed(body)),
    )]
    posts (id) {
        id -> Int4,
        title -> Text,
        body -> Nullable<Text>,
    }
}

fn main() {}
