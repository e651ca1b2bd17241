pghistory_diesel::tracked_table! {
    // 57 bytes: the table fits in 63, its events table `<name>_events` does not.
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa (id) {
        id -> Int4,
    }
}

fn main() {}
