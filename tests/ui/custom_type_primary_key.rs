pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "ticket_code"))]
    pub struct TicketCode;
}

pghistory_diesel::tracked_table! {
    use diesel::sql_types::*;
    use super::sql_types::TicketCode;

    #[pghistory(events(insert))]
    tickets (code) {
        #[pghistory(rust_type = "String")]
        code -> TicketCode,
        title -> Text,
    }
}

fn main() {}
