pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "mood"))]
    pub struct Mood;
}

pghistory_diesel::tracked_table! {
    use diesel::sql_types::*;
    use super::sql_types::Mood;

    #[pghistory(events(insert))]
    people (id) {
        id -> Int4,
        mood -> Nullable<Mood>,
    }
}

fn main() {}
