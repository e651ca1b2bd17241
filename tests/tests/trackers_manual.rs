//! Manual events: `create_event` snapshots a row's current state under a declared label, in
//! the connection's current context; undeclared labels and missing rows are named errors.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use pghistory_diesel::context::with_context;
use pghistory_diesel::{create_event, Error};
use pghistory_diesel_tests::trackers_schema::*;
use pghistory_diesel_tests::{TestDb, TRACKER_MIGRATIONS};

fn db() -> (TestDb, PgConnection) {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let conn = db.conn();
    (db, conn)
}

fn new_article(conn: &mut PgConnection, title: &str) -> i32 {
    diesel::insert_into(articles::table)
        .values((articles::title.eq(title), articles::score.eq(7)))
        .returning(articles::id)
        .get_result(conn)
        .unwrap()
}

fn article_events(conn: &mut PgConnection, label: &str) -> Vec<ArticlesEvent> {
    articles_events::table
        .filter(articles_events::pgh_label.eq(label))
        .order(articles_events::pgh_id)
        .select(ArticlesEvent::as_select())
        .load(conn)
        .unwrap()
}

#[test]
fn a_manual_event_snapshots_the_row_as_it_is_now() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "draft title");
    diesel::update(articles::table.find(id))
        .set((
            articles::title.eq("final title"),
            articles::status.eq("archived"),
        ))
        .execute(&mut conn)
        .unwrap();
    let pgh_id = create_event::<articles::table>(&mut conn, "archived", id).unwrap();

    let events = article_events(&mut conn, "archived");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.pgh_id, pgh_id);
    assert_eq!((e.pgh_obj_id, e.id), (id, id));
    assert_eq!(
        (e.title.as_str(), e.status.as_str(), e.score),
        ("final title", "archived", 7)
    );
    assert_eq!(e.pgh_context_id, None);
    // The newest event of the row.
    let newest: i64 = articles_events::table
        .select(diesel::dsl::max(articles_events::pgh_id))
        .first::<Option<i64>>(&mut conn)
        .unwrap()
        .unwrap();
    assert_eq!(newest, pgh_id);
}

#[test]
fn a_manual_event_is_written_in_the_current_context() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "t");
    let (pgh_id, context_id) = with_context(&mut conn, serde_json::json!({"by": "cron"}), |conn| {
        let pgh_id = create_event::<articles::table>(conn, "archived", id)?;
        // The update in the same scope carries the same context.
        diesel::update(articles::table.find(id))
            .set(articles::score.eq(8))
            .execute(conn)?;
        let context_id: Option<uuid::Uuid> = articles_events::table
            .filter(articles_events::pgh_label.eq("update"))
            .select(articles_events::pgh_context_id)
            .first(conn)?;
        Ok::<_, Error>((pgh_id, context_id))
    })
    .unwrap();
    let e = &article_events(&mut conn, "archived")[0];
    assert_eq!(e.pgh_id, pgh_id);
    assert!(context_id.is_some());
    assert_eq!(e.pgh_context_id, context_id);
    let metadata: serde_json::Value = pghistory_diesel::context_table::pghistory_context::table
        .find(context_id.unwrap())
        .select(pghistory_diesel::context_table::pghistory_context::metadata)
        .first(&mut conn)
        .unwrap();
    assert_eq!(metadata, serde_json::json!({"by": "cron"}));
}

#[test]
fn an_undeclared_label_is_refused_and_writes_nothing() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "t");
    let before: i64 = articles_events::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    let err = create_event::<articles::table>(&mut conn, "deleted_by_admin", id).unwrap_err();
    match &err {
        Error::UnknownLabel {
            table,
            label,
            declared,
        } => {
            assert_eq!(table, "public.articles");
            assert_eq!(label, "deleted_by_admin");
            assert!(declared.contains("archived"), "{declared}");
        }
        other => panic!("expected UnknownLabel, got {other:?}"),
    }
    assert!(err
        .to_string()
        .contains("event(manual, label = \"deleted_by_admin\")"));
    let after: i64 = articles_events::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(before, after);
}

#[test]
fn a_missing_row_is_a_named_error_and_writes_nothing() {
    let (_db, mut conn) = db();
    let err = create_event::<articles::table>(&mut conn, "archived", 4242).unwrap_err();
    assert!(
        matches!(&err, Error::NoSuchRow { table } if table == "public.articles"),
        "{err:?}"
    );
    let count: i64 = articles_events::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(count, 0);
}

#[test]
fn labels_of_trigger_trackers_can_be_written_by_hand_too() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "t");
    create_event::<articles::table>(&mut conn, "title_changed", id).unwrap();
    assert_eq!(article_events(&mut conn, "title_changed").len(), 1);
}

#[test]
fn the_key_is_bound_with_the_tables_key_type() {
    let (_db, mut conn) = db();
    // Text key, `fields(...)` snapshot.
    diesel::insert_into(products::table)
        .values((
            products::sku.eq("it's-1"),
            products::name.eq("pen"),
            products::price.eq(3),
        ))
        .execute(&mut conn)
        .unwrap();
    create_event::<products::table>(&mut conn, "restocked", "it's-1").unwrap();
    let e: ProductsEvent = products_events::table
        .filter(products_events::pgh_label.eq("restocked"))
        .select(ProductsEvent::as_select())
        .first(&mut conn)
        .unwrap();
    assert_eq!(
        (e.pgh_obj_id.as_str(), e.name.as_str(), e.price),
        ("it's-1", "pen", 3)
    );

    // Bigint key, events table with a custom name in another schema.
    let id: i64 = diesel::insert_into(widgets::table)
        .values(widgets::name.eq("w"))
        .returning(widgets::id)
        .get_result(&mut conn)
        .unwrap();
    create_event::<widgets::table>(&mut conn, "update", &id).unwrap();
    let labels: Vec<String> = widget_history::table
        .order(widget_history::pgh_id)
        .select(widget_history::pgh_label)
        .load(&mut conn)
        .unwrap();
    assert_eq!(labels, ["insert", "update"]);

    // Uuid key.
    let sample: uuid::Uuid = diesel::insert_into(samples::table)
        .values((
            samples::small.eq(1_i16),
            samples::int.eq(2),
            samples::big.eq(3_i64),
            samples::real_num.eq(0.5_f32),
            samples::double_num.eq(0.25_f64),
            samples::amount.eq(diesel::data_types::PgNumeric::Positive {
                weight: 0,
                scale: 0,
                digits: vec![1],
            }),
            samples::text_col.eq("t"),
            samples::code.eq("c"),
            samples::flag.eq(false),
            samples::at_tz.eq(chrono::Utc::now()),
            samples::at_local.eq(chrono::Utc::now().naive_utc()),
            samples::day.eq(chrono::Utc::now().date_naive()),
            samples::clock.eq(chrono::NaiveTime::MIN),
            samples::doc.eq(serde_json::json!({})),
            samples::ints.eq(Vec::<i32>::new()),
            samples::words.eq(Vec::<Option<String>>::new()),
            samples::raw.eq(Vec::<u8>::new()),
            samples::addr.eq("127.0.0.1/32"
                .parse::<pghistory_diesel::__private::ipnetwork::IpNetwork>()
                .unwrap()),
            samples::priority.eq(Priority::Low),
        ))
        .returning(samples::id)
        .get_result(&mut conn)
        .unwrap();
    create_event::<samples::table>(&mut conn, "update", sample).unwrap();
    let objs: Vec<(String, uuid::Uuid)> = samples_events::table
        .order(samples_events::pgh_id)
        .select((samples_events::pgh_label, samples_events::pgh_obj_id))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        objs,
        [("insert".to_owned(), sample), ("update".to_owned(), sample)]
    );
}

#[test]
fn manual_events_are_written_even_when_the_table_is_paused() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "t");
    pghistory_diesel::pause::<articles::table, _, Error, _>(&mut conn, |conn| {
        create_event::<articles::table>(conn, "archived", id)?;
        Ok(())
    })
    .unwrap();
    assert_eq!(article_events(&mut conn, "archived").len(), 1);
}

#[test]
fn create_event_async_writes_the_same_event() {
    let (db, mut conn) = db();
    let id = new_article(&mut conn, "async");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = db.url.clone();
    let (pgh_id, err) = rt.block_on(async move {
        let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
        let pgh_id =
            pghistory_diesel::create_event_async::<articles::table>(&mut conn, "archived", id)
                .await
                .unwrap();
        let err = pghistory_diesel::create_event_async::<articles::table>(&mut conn, "nope", id)
            .await
            .unwrap_err();
        // Nothing is older than a day ago: prune_async deletes nothing.
        let day_ago = chrono::Utc::now() - chrono::Duration::days(1);
        let pruned = pghistory_diesel::prune_async::<articles::table>(&mut conn, day_ago)
            .await
            .unwrap();
        assert_eq!(pruned, 0);
        (pgh_id, err)
    });
    assert!(matches!(err, Error::UnknownLabel { .. }), "{err:?}");
    let events = article_events(&mut conn, "archived");
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].pgh_id, events[0].title.as_str()),
        (pgh_id, "async")
    );
}

#[test]
fn a_manual_event_copies_the_context_metadata_on_json_context_tables() {
    let (_db, mut conn) = db();
    let id: i64 = diesel::insert_into(widgets::table)
        .values(widgets::name.eq("w"))
        .returning(widgets::id)
        .get_result(&mut conn)
        .unwrap();
    with_context(&mut conn, serde_json::json!({"job": "audit"}), |conn| {
        create_event::<widgets::table>(conn, "update", id)?;
        Ok::<_, Error>(())
    })
    .unwrap();
    let rows: Vec<(String, Option<serde_json::Value>, bool)> = widget_history::table
        .order(widget_history::pgh_id)
        .select((
            widget_history::pgh_label,
            widget_history::pgh_context,
            widget_history::pgh_context_id.is_not_null(),
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        rows,
        [
            ("insert".to_owned(), None, false),
            (
                "update".to_owned(),
                Some(serde_json::json!({"job": "audit"})),
                true
            ),
        ]
    );
}
