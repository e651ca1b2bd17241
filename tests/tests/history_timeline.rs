//! The timeline's filters and keyset pagination, sync and async, on a real server.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use pghistory_diesel::history::{Cursor, CursorError, History, HistoryEvent};
use pghistory_diesel::Error;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;
use serde_json::json;

fn new_post(conn: &mut PgConnection, title: &str) -> i32 {
    diesel::insert_into(posts::table)
        .values((posts::title.eq(title), posts::score.eq(1)))
        .returning(posts::id)
        .get_result(conn)
        .unwrap()
}

fn new_note(conn: &mut PgConnection, text: &str) {
    diesel::insert_into(notes::table)
        .values(notes::text.eq(text))
        .execute(conn)
        .unwrap();
}

/// Runs `f` in a context scope with `metadata`; returns the scope id.
fn in_scope(
    conn: &mut PgConnection,
    metadata: serde_json::Value,
    f: impl FnOnce(&mut PgConnection),
) -> uuid::Uuid {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        #[derive(QueryableByName)]
        struct Scope {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            scope_id: uuid::Uuid,
        }
        let s: Scope =
            diesel::sql_query("SELECT pghistory_attach_context(NULL, $1, true) AS scope_id")
                .bind::<diesel::sql_types::Jsonb, _>(metadata)
                .get_result(conn)?;
        f(conn);
        Ok(s.scope_id)
    })
    .unwrap()
}

fn now(conn: &mut PgConnection) -> DateTime<Utc> {
    diesel::select(diesel::dsl::now)
        .get_result::<chrono::NaiveDateTime>(conn)
        .map(|t| t.and_utc())
        .unwrap()
}

fn titles(events: &[HistoryEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e.pgh_data
                .get("title")
                .or_else(|| e.pgh_data.get("text"))
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

fn both() -> History {
    History::new()
        .across::<posts::table>()
        .across::<notes::table>()
}

/// Events in three separate transactions (three distinct timestamps), and two tables.
fn fixture(conn: &mut PgConnection) -> (i32, uuid::Uuid, uuid::Uuid) {
    let a = new_post(conn, "a");
    let s1 = in_scope(conn, json!({"user": 42, "path": "/x"}), |conn| {
        new_post(conn, "b");
        new_note(conn, "n1");
        diesel::update(posts::table.find(a))
            .set(posts::title.eq("a2"))
            .execute(conn)
            .unwrap();
    });
    let s2 = in_scope(conn, json!({"user": 7}), |conn| {
        new_note(conn, "n2");
        diesel::delete(posts::table.find(a)).execute(conn).unwrap();
    });
    (a, s1, s2)
}

#[test]
fn each_filter_narrows_the_timeline() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let (a, s1, s2) = fixture(&mut conn);

    let all = both().load(&mut conn).unwrap();
    assert_eq!(titles(&all), ["a", "n1", "b", "a2", "n2", "a2"]);

    let obj = both().tracks::<posts::table>(a).load(&mut conn).unwrap();
    assert_eq!(
        titles(&obj),
        ["a", "n1", "a2", "n2", "a2"],
        "tracks narrows posts only; notes stay whole"
    );
    let obj = History::new()
        .tracks::<posts::table>(a)
        .load(&mut conn)
        .unwrap();
    let labels: Vec<&str> = obj.iter().map(|e| e.pgh_label.as_str()).collect();
    assert_eq!(labels, ["insert", "update", "delete"]);

    let labelled = both().labels(["update", "delete"]).load(&mut conn).unwrap();
    assert_eq!(titles(&labelled), ["a2", "a2"]);
    let one = both().label("delete").load(&mut conn).unwrap();
    assert_eq!(one.len(), 1);
    assert!(both()
        .labels(Vec::<String>::new())
        .load(&mut conn)
        .unwrap()
        .is_empty());

    let scoped = both().in_context(s2).load(&mut conn).unwrap();
    assert_eq!(titles(&scoped), ["n2", "a2"]);
    assert!(scoped
        .iter()
        .all(|e| e.pgh_context == Some(json!({"user": 7}))));

    let user42 = both()
        .metadata_contains(json!({"user": 42}))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        titles(&user42),
        ["n1", "b", "a2"],
        "containment, through pgh_context_id for the json-mode notes too"
    );
    assert!(both()
        .metadata_contains(json!({"user": 42, "path": "/y"}))
        .load(&mut conn)
        .unwrap()
        .is_empty());
    assert_eq!(
        both()
            .in_context(s1)
            .metadata_contains(json!({"path": "/x"}))
            .load(&mut conn)
            .unwrap()
            .len(),
        3
    );

    // labels stores no context: context filters match none of its events.
    diesel::insert_into(labels::table)
        .values(labels::name.eq("l"))
        .execute(&mut conn)
        .unwrap();
    let labels_too = both().across::<labels::table>();
    assert_eq!(labels_too.clone().load(&mut conn).unwrap().len(), 7);
    assert_eq!(labels_too.in_context(s2).load(&mut conn).unwrap().len(), 2);

    let newest = both().newest_first().load(&mut conn).unwrap();
    let mut reversed = all.clone();
    reversed.reverse();
    assert_eq!(newest, reversed);
    assert_eq!(
        both()
            .newest_first()
            .oldest_first()
            .load(&mut conn)
            .unwrap(),
        all
    );
    assert_eq!(both().limit(2).load(&mut conn).unwrap(), all[..2]);
}

#[test]
fn since_is_inclusive_and_until_exclusive() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    fixture(&mut conn);
    let all = both().load(&mut conn).unwrap();
    // The second transaction's three events share its timestamp.
    let t = all[1].pgh_created_at;
    assert_eq!(all[3].pgh_created_at, t);
    let from = both().since(t).load(&mut conn).unwrap();
    assert_eq!(from, all[1..]);
    let before = both().until(t).load(&mut conn).unwrap();
    assert_eq!(before, all[..1]);
    let window = both()
        .since(t)
        .until(all[4].pgh_created_at)
        .load(&mut conn)
        .unwrap();
    assert_eq!(window, all[1..4]);
    let later = now(&mut conn) + chrono::Duration::hours(1);
    assert!(both().since(later).load(&mut conn).unwrap().is_empty());
}

fn walk(conn: &mut PgConnection, query: &History) -> (Vec<HistoryEvent>, usize) {
    let mut out = Vec::new();
    let mut pages = 0;
    let mut page = query.page(conn).unwrap();
    loop {
        pages += 1;
        out.extend(page.events.iter().cloned());
        match page.next {
            Some(next) => {
                // Through its text, as a web API would carry it.
                let next: Cursor = next.to_string().parse().unwrap();
                page = query.clone().after(&next).page(conn).unwrap();
            }
            None => return (out, pages),
        }
    }
}

#[test]
fn walking_every_page_gives_the_whole_timeline_in_both_orders() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    fixture(&mut conn);
    // Many events in one transaction share one timestamp: ties across tables must be
    // cut consistently by (pgh_id, table).
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for i in 0..7 {
            new_post(conn, &format!("p{i}"));
            new_note(conn, &format!("t{i}"));
        }
        Ok(())
    })
    .unwrap();
    let all = both().load(&mut conn).unwrap();
    assert_eq!(all.len(), 20);
    for size in [1, 3, 7, 20, 50] {
        let (walked, pages) = walk(&mut conn, &both().limit(size));
        assert_eq!(walked, all, "page size {size}");
        assert_eq!(pages, all.len().div_ceil(size).max(1), "page size {size}");
        let (walked, _) = walk(&mut conn, &both().newest_first().limit(size));
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(walked, reversed, "newest first, page size {size}");
    }
    let page = both().limit(20).page(&mut conn).unwrap();
    assert_eq!(page.next, None, "an exact last page has no next");
}

#[test]
fn a_cursor_stays_put_while_events_are_added() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    fixture(&mut conn);
    let query = both().limit(2);
    let first = query.page(&mut conn).unwrap();
    let cursor = first.next.clone().unwrap();
    let second = query.clone().after(&cursor).page(&mut conn).unwrap();
    new_post(&mut conn, "later");
    new_note(&mut conn, "later note");
    let again = query.clone().after(&cursor).page(&mut conn).unwrap();
    assert_eq!(
        again, second,
        "new events come after, not into, a walked page"
    );

    // Newest first: new events appear before the cursor, never after it.
    let desc = both().newest_first().limit(3);
    let top = desc.page(&mut conn).unwrap();
    let next = desc
        .clone()
        .after(top.next.as_ref().unwrap())
        .page(&mut conn)
        .unwrap();
    new_post(&mut conn, "even later");
    let next_again = desc
        .clone()
        .after(top.next.as_ref().unwrap())
        .page(&mut conn)
        .unwrap();
    assert_eq!(next_again, next);
    assert_eq!(
        top.events.last().unwrap().cursor(),
        top.next.unwrap(),
        "the next cursor is the last event's"
    );
}

#[test]
fn bad_input_is_a_named_error() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    assert!(matches!(
        "abc".parse::<Cursor>(),
        Err(CursorError::Shape(_))
    ));
    assert!(matches!(
        "1.zz.70".parse::<Cursor>(),
        Err(CursorError::Part { part: "id", .. })
    ));
    assert!(matches!(
        both().limit(0).page(&mut conn),
        Err(Error::ZeroLimit)
    ));
    assert!(matches!(
        both().metadata_contains(json!([42])).load(&mut conn),
        Err(Error::MetadataNotAnObject { found: "an array" })
    ));
    assert!(matches!(
        History::new().page(&mut conn),
        Err(Error::NoTables)
    ));
    // A key that is not of the key's type is the database's error, not a silent miss.
    assert!(matches!(
        History::new()
            .tracks::<posts::table>("seven")
            .load(&mut conn),
        Err(Error::Database(_))
    ));
}

mod async_variants {
    use super::*;
    use diesel_async::{AsyncConnection, AsyncPgConnection};

    #[tokio::test(flavor = "multi_thread")]
    async fn load_and_page_async_match_the_sync_ones() {
        let db = TestDb::migrated();
        let mut conn = db.conn();
        let (a, _, s2) = fixture(&mut conn);
        let mut aconn = AsyncPgConnection::establish(&db.url).await.unwrap();

        let query = both().newest_first().limit(2);
        // Send, as tokio::spawn and axum handlers need.
        fn assert_send<F: std::future::Future + Send>(f: F) -> F {
            f
        }
        let first = assert_send(query.page_async(&mut aconn)).await.unwrap();
        assert_eq!(first.events.len(), 2);
        let sync_all = both().newest_first().load(&mut conn).unwrap();
        let mut walked = Vec::new();
        let mut page = query.page_async(&mut aconn).await.unwrap();
        loop {
            walked.extend(page.events.clone());
            match page.next {
                Some(next) => {
                    page = query
                        .clone()
                        .after(&next)
                        .page_async(&mut aconn)
                        .await
                        .unwrap()
                }
                None => break,
            }
        }
        assert_eq!(walked, sync_all);

        let obj = History::new()
            .tracks::<posts::table>(a)
            .in_context(s2)
            .load_async(&mut aconn)
            .await
            .unwrap();
        assert_eq!(obj.len(), 1);
        assert_eq!(obj[0].pgh_label, "delete");
        assert!(matches!(
            both().limit(0).load_async(&mut aconn).await,
            Err(Error::ZeroLimit)
        ));
    }
}
