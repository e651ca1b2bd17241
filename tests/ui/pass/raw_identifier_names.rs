// Keyword names written raw, as `diesel print-schema` writes them: the table, a column and
// the events table compile, and their SQL names are the names without `r#`.
use diesel::prelude::*;

pghistory_diesel::tracked_table! {
    #[pghistory(events(insert, update, delete))]
    r#type (id) {
        id -> Int4,
        r#match -> Text,
    }
}

pghistory_diesel::tracked_table! {
    #[pghistory(table_name = r#match)]
    app.r#loop (id) {
        id -> Int4,
    }
}

fn main() {
    let query = type_events::table
        .filter(type_events::r#match.eq("x"))
        .select((type_events::pgh_id, type_events::r#match));
    let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
    assert!(
        sql.starts_with(r#"SELECT "type_events"."pgh_id", "type_events"."match" FROM "type_events""#),
        "{sql}"
    );
    let _: Option<TypeEvent> = None;
    let query = r#match::table.select(r#match::pgh_id);
    let sql = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
    assert!(sql.contains(r#"FROM "app"."match""#), "{sql}");
    let _: Option<LoopEvent> = None;
}
