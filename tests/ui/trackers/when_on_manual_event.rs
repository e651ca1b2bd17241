pghistory_diesel::tracked_table! {
    #[pghistory(event(manual, label = "archived", when = changed(title)))]
    posts (id) {
        id -> Int4,
        title -> Text,
    }
}

fn main() {}
