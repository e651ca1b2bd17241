//! Tracking options against a real server: `fields` and `exclude`, naming (custom events
//! table, model, Postgres schema), `append_only` with pruning, and a many-to-many join table.

use diesel::prelude::*;
use diesel::sql_types::Text;
use pghistory_diesel::Tracked;
use pghistory_diesel_tests::trackers_schema::*;
use pghistory_diesel_tests::{TestDb, TRACKER_MIGRATIONS};

diesel::define_sql_function! {
    /// Postgres' `to_regclass(text)`.
    fn to_regclass(name: Text) -> diesel::sql_types::Nullable<diesel::sql_types::Oid>;
}
diesel::define_sql_function! {
    /// Postgres' `clock_timestamp()`: the wall clock, not the transaction start.
    fn clock_timestamp() -> diesel::sql_types::Timestamptz;
}

fn db() -> (TestDb, PgConnection) {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let conn = db.conn();
    (db, conn)
}

fn exists(conn: &mut PgConnection, relation: &str) -> bool {
    diesel::select(to_regclass(relation))
        .get_result::<Option<u32>>(conn)
        .unwrap()
        .is_some()
}

// ---- exclude(...) ----

#[test]
fn an_excluded_column_is_not_snapshotted() {
    let info = <profiles::table as Tracked>::INFO;
    assert_eq!(info.columns, ["id", "name"]);
    let (_db, mut conn) = db();
    // The events table has no such column at all.
    assert!(exists(&mut conn, "profiles_events"));
    let missing = diesel::sql_query("SELECT last_seen FROM profiles_events").execute(&mut conn);
    assert!(missing.is_err(), "profiles_events must not have last_seen");
}

/// The labels of the profile events written since `after` (a `pgh_id`), sorted.
fn profile_labels_after(conn: &mut PgConnection, after: i64) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = profiles_events::table
        .filter(profiles_events::pgh_id.gt(after))
        .select((profiles_events::pgh_label, profiles_events::name))
        .load(conn)
        .unwrap();
    labels.sort();
    labels
}

fn last_profile_event(conn: &mut PgConnection) -> i64 {
    profiles_events::table
        .select(diesel::dsl::max(profiles_events::pgh_id))
        .first::<Option<i64>>(conn)
        .unwrap()
        .unwrap_or(0)
}

fn pair(label: &str, name: &str) -> (String, String) {
    (label.to_owned(), name.to_owned())
}

#[test]
fn a_change_to_an_excluded_column_alone_writes_no_update_event() {
    let (_db, mut conn) = db();
    let id: i32 = diesel::insert_into(profiles::table)
        .values(profiles::name.eq("ann"))
        .returning(profiles::id)
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(profile_labels_after(&mut conn, 0), [pair("insert", "ann")]);

    // Only `last_seen` changes: `update` watches the tracked columns only; `touched`
    // (`when = always`) records the row anyway.
    let mark = last_profile_event(&mut conn);
    diesel::update(profiles::table.find(id))
        .set(profiles::last_seen.eq(Some(chrono::Utc::now())))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        profile_labels_after(&mut conn, mark),
        [pair("touched", "ann")]
    );

    let mark = last_profile_event(&mut conn);
    diesel::update(profiles::table.find(id))
        .set((
            profiles::name.eq("anne"),
            profiles::last_seen.eq(None::<chrono::DateTime<chrono::Utc>>),
        ))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        profile_labels_after(&mut conn, mark),
        [pair("touched", "anne"), pair("update", "anne")]
    );
}

#[test]
fn when_always_records_updates_that_change_nothing() {
    let (_db, mut conn) = db();
    diesel::insert_into(profiles::table)
        .values(&vec![profiles::name.eq("a"), profiles::name.eq("b")])
        .execute(&mut conn)
        .unwrap();
    let mark = last_profile_event(&mut conn);
    let n = diesel::update(profiles::table)
        .set(profiles::name.eq(profiles::name))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        profile_labels_after(&mut conn, mark),
        [pair("touched", "a"), pair("touched", "b")]
    );
}

// ---- fields(...) ----

#[test]
fn fields_snapshot_only_the_listed_columns_and_watch_only_them() {
    let info = <products::table as Tracked>::INFO;
    assert_eq!(info.columns, ["name", "price"]);
    let (_db, mut conn) = db();
    diesel::insert_into(products::table)
        .values((
            products::sku.eq("A-1"),
            products::name.eq("pen"),
            products::price.eq(3),
            products::stock.eq(10),
        ))
        .execute(&mut conn)
        .unwrap();
    // Only the stock changes: no "update" (it watches name and price), but "restocked",
    // whose condition names the untracked column explicitly.
    diesel::update(products::table.find("A-1"))
        .set(products::stock.eq(50))
        .execute(&mut conn)
        .unwrap();
    // The price changes: "update" only.
    diesel::update(products::table.find("A-1"))
        .set(products::price.eq(4))
        .execute(&mut conn)
        .unwrap();
    let events: Vec<ProductsEvent> = products_events::table
        .order(products_events::pgh_id)
        .select(ProductsEvent::as_select())
        .load(&mut conn)
        .unwrap();
    let seen: Vec<(&str, &str, &str, i32)> = events
        .iter()
        .map(|e| {
            (
                e.pgh_label.as_str(),
                e.pgh_obj_id.as_str(),
                e.name.as_str(),
                e.price,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("insert", "A-1", "pen", 3),
            ("restocked", "A-1", "pen", 3),
            ("update", "A-1", "pen", 4),
        ]
    );
}

// ---- naming ----

#[test]
fn a_custom_events_table_and_model_live_in_their_own_schema() {
    let info = <widgets::table as Tracked>::INFO;
    assert_eq!(
        (info.events_schema, info.events_table),
        ("history", "widget_history")
    );
    let (_db, mut conn) = db();
    assert!(exists(&mut conn, "history.widget_history"));
    assert!(!exists(&mut conn, "public.widget_history"));
    assert!(!exists(&mut conn, "public.widgets_events"));

    let id: i64 = diesel::insert_into(widgets::table)
        .values(widgets::name.eq("w"))
        .returning(widgets::id)
        .get_result(&mut conn)
        .unwrap();
    diesel::update(widgets::table.find(id))
        .set(widgets::name.eq("w2"))
        .execute(&mut conn)
        .unwrap();
    diesel::delete(widgets::table.find(id))
        .execute(&mut conn)
        .unwrap();
    let events: Vec<WidgetHistory> = widget_history::table
        .order(widget_history::pgh_id)
        .select(WidgetHistory::as_select())
        .load(&mut conn)
        .unwrap();
    let seen: Vec<(&str, i64, &str)> = events
        .iter()
        .map(|e| (e.pgh_label.as_str(), e.pgh_obj_id, e.name.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("insert", id, "w"),
            ("update", id, "w2"),
            ("delete", id, "w2")
        ]
    );
}

#[test]
fn the_custom_events_table_joins_its_tracked_table() {
    let (_db, mut conn) = db();
    let id: i64 = diesel::insert_into(widgets::table)
        .values(widgets::name.eq("w"))
        .returning(widgets::id)
        .get_result(&mut conn)
        .unwrap();
    let joined: Vec<(String, String)> = widget_history::table
        .inner_join(widgets::table)
        .select((widget_history::pgh_label, widgets::name))
        .load(&mut conn)
        .unwrap();
    assert_eq!(joined, [("insert".to_owned(), "w".to_owned())]);
    let obj: i64 = widget_history::table
        .select(widget_history::pgh_obj_id)
        .first(&mut conn)
        .unwrap();
    assert_eq!(obj, id);
}

// ---- append_only and pruning ----

#[test]
fn insert_and_delete_conditions_read_their_one_row() {
    let (_db, mut conn) = db();
    let small = ledger_entry(&mut conn, 5);
    let large = ledger_entry(&mut conn, 5000);
    diesel::delete(ledger::table).execute(&mut conn).unwrap();
    let mut seen: Vec<(String, i32, i64)> = ledger_events::table
        .select((
            ledger_events::pgh_label,
            ledger_events::pgh_obj_id,
            ledger_events::amount,
        ))
        .load(&mut conn)
        .unwrap();
    seen.sort();
    let row = |label: &str, id: i32, amount: i64| (label.to_owned(), id, amount);
    assert_eq!(
        seen,
        [
            row("delete", small, 5),
            row("delete", large, 5000),
            row("insert", small, 5),
            row("insert", large, 5000),
            row("large", large, 5000),
            row("large_removed", large, 5000),
        ]
    );
}

fn ledger_entry(conn: &mut PgConnection, amount: i64) -> i32 {
    diesel::insert_into(ledger::table)
        .values(ledger::amount.eq(amount))
        .returning(ledger::id)
        .get_result(conn)
        .unwrap()
}

fn ledger_event_count(conn: &mut PgConnection) -> i64 {
    ledger_events::table.count().get_result(conn).unwrap()
}

fn refused(result: QueryResult<usize>, op: &str) {
    let err = result.expect_err("the database must refuse it").to_string();
    assert!(err.contains("append-only"), "{err}");
    assert!(err.contains(op), "{err}");
    assert!(err.contains("ledger_events"), "{err}");
}

#[test]
fn an_append_only_events_table_refuses_update_delete_and_truncate() {
    let (_db, mut conn) = db();
    let id = ledger_entry(&mut conn, 10);
    diesel::update(ledger::table.find(id))
        .set(ledger::amount.eq(20))
        .execute(&mut conn)
        .unwrap();
    diesel::delete(ledger::table.find(id))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(ledger_event_count(&mut conn), 3);

    refused(
        diesel::update(ledger_events::table)
            .set(ledger_events::amount.eq(0))
            .execute(&mut conn),
        "UPDATE",
    );
    refused(
        diesel::delete(ledger_events::table).execute(&mut conn),
        "DELETE",
    );
    refused(
        diesel::sql_query("TRUNCATE ledger_events").execute(&mut conn),
        "TRUNCATE",
    );
    assert_eq!(ledger_event_count(&mut conn), 3);
}

#[test]
fn prune_deletes_only_events_older_than_the_cutoff_even_when_append_only() {
    let (_db, mut conn) = db();
    conn.transaction(|conn| {
        ledger_entry(conn, 1);
        ledger_entry(conn, 2);
        QueryResult::Ok(())
    })
    .unwrap();
    // Events carry their transaction's start time; this instant is after the first
    // transaction started and before the second one does.
    let cutoff: chrono::DateTime<chrono::Utc> = diesel::select(clock_timestamp())
        .get_result(&mut conn)
        .unwrap();
    conn.transaction(|conn| {
        ledger_entry(conn, 3);
        QueryResult::Ok(())
    })
    .unwrap();
    assert_eq!(ledger_event_count(&mut conn), 3);

    let deleted = pghistory_diesel::prune::<ledger::table>(&mut conn, cutoff).unwrap();
    assert_eq!(deleted, 2);
    let left: Vec<i64> = ledger_events::table
        .select(ledger_events::amount)
        .load(&mut conn)
        .unwrap();
    assert_eq!(left, [3]);
    // The guard is back in force after pruning.
    refused(
        diesel::delete(ledger_events::table).execute(&mut conn),
        "DELETE",
    );
    assert_eq!(
        pghistory_diesel::prune::<ledger::table>(&mut conn, cutoff).unwrap(),
        0
    );
}

#[test]
fn prune_works_on_tables_in_another_schema_and_without_append_only() {
    let (_db, mut conn) = db();
    diesel::insert_into(widgets::table)
        .values(widgets::name.eq("w"))
        .execute(&mut conn)
        .unwrap();
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(
        pghistory_diesel::prune::<widgets::table>(&mut conn, later).unwrap(),
        1
    );
    let left: i64 = widget_history::table.count().get_result(&mut conn).unwrap();
    assert_eq!(left, 0);
}

// ---- a many-to-many join table ----

#[test]
fn a_many_to_many_join_table_is_tracked_like_any_other() {
    let (_db, mut conn) = db();
    let article: i32 = diesel::insert_into(articles::table)
        .values(articles::title.eq("a"))
        .returning(articles::id)
        .get_result(&mut conn)
        .unwrap();
    let tag_ids: Vec<i32> = diesel::insert_into(tags::table)
        .values(&vec![tags::name.eq("rust"), tags::name.eq("sql")])
        .returning(tags::id)
        .get_results(&mut conn)
        .unwrap();
    let links: Vec<_> = tag_ids
        .iter()
        .map(|t| {
            (
                article_tags::article_id.eq(article),
                article_tags::tag_id.eq(*t),
            )
        })
        .collect();
    diesel::insert_into(article_tags::table)
        .values(&links)
        .execute(&mut conn)
        .unwrap();
    diesel::delete(article_tags::table.filter(article_tags::tag_id.eq(tag_ids[0])))
        .execute(&mut conn)
        .unwrap();

    let events: Vec<ArticleTagsEvent> = article_tags_events::table
        .order(article_tags_events::pgh_id)
        .select(ArticleTagsEvent::as_select())
        .load(&mut conn)
        .unwrap();
    let seen: Vec<(&str, i32, i32)> = events
        .iter()
        .map(|e| (e.pgh_label.as_str(), e.article_id, e.tag_id))
        .collect();
    assert_eq!(
        seen,
        [
            ("insert", article, tag_ids[0]),
            ("insert", article, tag_ids[1]),
            ("delete", article, tag_ids[0]),
        ]
    );

    // Which tags did the article ever have? Join the history to the tags table.
    let mut ever: Vec<String> = article_tags_events::table
        .inner_join(tags::table.on(tags::id.eq(article_tags_events::tag_id)))
        .filter(article_tags_events::article_id.eq(article))
        .filter(article_tags_events::pgh_label.eq("insert"))
        .select(tags::name)
        .load(&mut conn)
        .unwrap();
    ever.sort();
    assert_eq!(ever, ["rust", "sql"]);
}
