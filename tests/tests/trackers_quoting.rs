//! Awkward SQL names through every tracker feature: the table `"Help Tickets"` with the
//! columns `"user"` and `"order"` (Rust `owner`, `position`), a condition naming them, a
//! manual event, pausing, append-only and pruning.

use diesel::prelude::*;
use pghistory_diesel::{create_event, pause, Tracked};
use pghistory_diesel_tests::trackers_schema::*;
use pghistory_diesel_tests::{TestDb, TRACKER_MIGRATIONS};

fn db() -> (TestDb, PgConnection) {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let conn = db.conn();
    (db, conn)
}

fn new_ticket(conn: &mut PgConnection, owner: &str, position: i32) -> i32 {
    diesel::insert_into(tickets::table)
        .values((tickets::owner.eq(owner), tickets::position.eq(position)))
        .returning(tickets::id)
        .get_result(conn)
        .unwrap()
}

fn events(conn: &mut PgConnection) -> Vec<(String, String, i32)> {
    let mut rows: Vec<(String, String, i32)> = tickets_events::table
        .select((
            tickets_events::pgh_label,
            tickets_events::owner,
            tickets_events::position,
        ))
        .load(conn)
        .unwrap();
    rows.sort();
    rows
}

fn row(label: &str, owner: &str, position: i32) -> (String, String, i32) {
    (label.to_owned(), owner.to_owned(), position)
}

#[test]
fn names_are_quoted_everywhere() {
    let info = <tickets::table as Tracked>::INFO;
    assert_eq!(
        (info.table, info.events_table),
        ("Help Tickets", "Help Tickets_events")
    );
    assert_eq!(info.columns, ["id", "user", "order"]);
    assert_eq!(info.events_relation, "\"public\".\"Help Tickets_events\"");
    assert_eq!(info.pause_key, ",public.Help Tickets,");
}

#[test]
fn a_condition_on_keyword_columns_reads_them_by_their_sql_names() {
    let (_db, mut conn) = db();
    new_ticket(&mut conn, "ann", 0);
    let active = new_ticket(&mut conn, "ann", 3);
    diesel::update(tickets::table)
        .set(tickets::owner.eq("bob"))
        .execute(&mut conn)
        .unwrap();
    // Only the ticket with a positive position is "reassigned".
    let reassigned: Vec<i32> = tickets_events::table
        .filter(tickets_events::pgh_label.eq("reassigned"))
        .select(tickets_events::pgh_obj_id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(reassigned, [active]);
    assert_eq!(
        events(&mut conn),
        [
            row("insert", "ann", 0),
            row("insert", "ann", 3),
            row("reassigned", "bob", 3),
            row("update", "bob", 0),
            row("update", "bob", 3),
        ]
    );
}

#[test]
fn manual_events_pause_and_prune_work_on_quoted_names() {
    let (_db, mut conn) = db();
    let id = new_ticket(&mut conn, "ann", 1);
    create_event::<tickets::table>(&mut conn, "escalated", id).unwrap();
    pause::<tickets::table, _, diesel::result::Error, _>(&mut conn, |conn| {
        diesel::update(tickets::table.find(id))
            .set(tickets::position.eq(2))
            .execute(conn)
    })
    .unwrap();
    assert_eq!(
        events(&mut conn),
        [row("escalated", "ann", 1), row("insert", "ann", 1)]
    );
    // Append-only: refused directly, allowed through prune.
    let refused = diesel::delete(tickets_events::table).execute(&mut conn);
    assert!(refused.unwrap_err().to_string().contains("append-only"));
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(
        pghistory_diesel::prune::<tickets::table>(&mut conn, later).unwrap(),
        2
    );
    assert!(events(&mut conn).is_empty());
}
