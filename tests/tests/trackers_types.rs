//! Every common column type round-trips through the events table and the model struct:
//! what the event holds reads back equal to what was written to the tracked row.

use diesel::data_types::PgNumeric;
// The model's inet type; an app names it through its own `ipnetwork` dependency.
use diesel::prelude::*;
use pghistory_diesel::__private::ipnetwork::IpNetwork;
use pghistory_diesel_tests::trackers_schema::*;
use pghistory_diesel_tests::{TestDb, TRACKER_MIGRATIONS};

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_micro_opt(h, min, s, 123_456)
        .unwrap()
}

#[test]
fn every_common_type_round_trips_through_the_events_table() {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let mut conn = db.conn();
    let id = uuid::Uuid::new_v4();
    let other = uuid::Uuid::new_v4();
    let amount = PgNumeric::Positive {
        weight: 0,
        scale: 2,
        digits: vec![1234, 5000],
    };
    let at_tz = at(2024, 2, 29, 23, 59, 58).and_utc();
    let at_local = at(1999, 12, 31, 12, 0, 1);
    let day = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    let clock = chrono::NaiveTime::from_hms_micro_opt(7, 8, 9, 10).unwrap();
    let doc = serde_json::json!({"nested": {"list": [1, "two", null]}, "quote": "it's \"x\""});
    let addr: IpNetwork = "10.1.2.0/24".parse().unwrap();
    diesel::insert_into(samples::table)
        .values((
            samples::id.eq(id),
            samples::small.eq(-32768_i16),
            samples::int.eq(i32::MAX),
            samples::big.eq(i64::MIN),
            samples::real_num.eq(1.5_f32),
            samples::double_num.eq(-0.25_f64),
            samples::amount.eq(&amount),
            samples::text_col.eq("línea\nzwei 'drei'"),
            samples::code.eq("ABC-123"),
            samples::flag.eq(true),
            samples::at_tz.eq(at_tz),
            samples::at_local.eq(at_local),
            samples::day.eq(day),
            samples::clock.eq(clock),
            samples::other_id.eq(Some(other)),
            samples::doc.eq(&doc),
            samples::ints.eq(vec![3, -1, 0]),
            samples::words.eq(vec![Some("a".to_owned()), None, Some("".to_owned())]),
            samples::raw.eq(vec![0_u8, 255, 10, 0]),
            samples::addr.eq(addr),
            samples::priority.eq(Priority::High),
            samples::maybe_priority.eq(None::<Priority>),
        ))
        .execute(&mut conn)
        .unwrap();
    diesel::update(samples::table.find(id))
        .set((
            samples::maybe_priority.eq(Some(Priority::Low)),
            samples::other_id.eq(None::<uuid::Uuid>),
        ))
        .execute(&mut conn)
        .unwrap();
    diesel::delete(samples::table.find(id))
        .execute(&mut conn)
        .unwrap();

    let events: Vec<SamplesEvent> = samples_events::table
        .order(samples_events::pgh_id)
        .select(SamplesEvent::as_select())
        .load(&mut conn)
        .unwrap();
    let labels: Vec<&str> = events.iter().map(|e| e.pgh_label.as_str()).collect();
    assert_eq!(labels, ["insert", "update", "delete"]);
    for e in &events {
        assert_eq!((e.pgh_obj_id, e.id), (id, id));
        assert_eq!(e.small, -32768);
        assert_eq!(e.int, i32::MAX);
        assert_eq!(e.big, i64::MIN);
        assert_eq!(e.real_num, 1.5);
        assert_eq!(e.double_num, -0.25);
        assert_eq!(e.amount, amount);
        assert_eq!(e.text_col, "línea\nzwei 'drei'");
        assert_eq!(e.code, "ABC-123");
        assert!(e.flag);
        assert_eq!(e.at_tz, at_tz);
        assert_eq!(e.at_local, at_local);
        assert_eq!(e.day, day);
        assert_eq!(e.clock, clock);
        assert_eq!(e.doc, doc);
        assert_eq!(e.ints, [3, -1, 0]);
        assert_eq!(e.words, [Some("a".to_owned()), None, Some(String::new())]);
        assert_eq!(e.raw, [0, 255, 10, 0]);
        assert_eq!(e.addr, addr);
        assert_eq!(e.priority, Priority::High);
    }
    assert_eq!(events[0].other_id, Some(other));
    assert_eq!(events[0].maybe_priority, None);
    assert_eq!(events[1].other_id, None);
    assert_eq!(events[1].maybe_priority, Some(Priority::Low));
    assert_eq!(events[2].maybe_priority, Some(Priority::Low));
}

#[test]
fn the_events_table_copies_the_exact_column_types() {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let mut conn = db.conn();
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Col {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        ty: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        not_null: bool,
    }
    let columns = |conn: &mut PgConnection, table: &str| -> Vec<Col> {
        diesel::sql_query(
            "SELECT attname::text AS name, pg_catalog.format_type(atttypid, atttypmod) AS ty, attnotnull AS not_null \
             FROM pg_catalog.pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped \
             AND attname NOT LIKE 'pgh\\_%' ORDER BY attnum",
        )
        .bind::<diesel::sql_types::Text, _>(table)
        .load(conn)
        .unwrap()
    };
    let tracked = columns(&mut conn, "samples");
    let events = columns(&mut conn, "samples_events");
    assert_eq!(tracked, events);
    let ty = |name: &str| tracked.iter().find(|c| c.name == name).unwrap().ty.clone();
    assert_eq!(ty("amount"), "numeric(12,2)");
    assert_eq!(ty("code"), "character varying(10)");
    assert_eq!(ty("priority"), "priority");
}
