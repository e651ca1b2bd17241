//! Several trackers on one table, each with its own label and `when` condition: every write
//! produces exactly the events whose conditions hold, with the right snapshot.
//!
//! `articles` declares: insert; update; title_changed = changed(title); published =
//! changed_to(status, "published"); unpublished = changed_from(status, "published");
//! score_up = new.score > old.score; score_jump = sql("NEW.score > OLD.score + 10");
//! live_edit = (changed(title) || changed(body)) && !(old.status == "draft");
//! body_cleared = is_null(new.body) && !is_null(old.body); before_update (row = old);
//! delete; manual archived.

use diesel::prelude::*;
use pghistory_diesel_tests::trackers_schema::*;
use pghistory_diesel_tests::{TestDb, TRACKER_MIGRATIONS};

fn db() -> (TestDb, PgConnection) {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let conn = db.conn();
    (db, conn)
}

fn new_article(conn: &mut PgConnection, title: &str, body: Option<&str>, status: &str) -> i32 {
    diesel::insert_into(articles::table)
        .values((
            articles::title.eq(title),
            articles::body.eq(body),
            articles::status.eq(status),
        ))
        .returning(articles::id)
        .get_result(conn)
        .unwrap()
}

/// Removes the events written so far, so a test sees only the events of the write it makes.
fn forget_events(conn: &mut PgConnection) {
    diesel::delete(articles_events::table)
        .execute(conn)
        .unwrap();
}

fn load_events(conn: &mut PgConnection) -> Vec<ArticlesEvent> {
    articles_events::table
        .order(articles_events::pgh_id)
        .select(ArticlesEvent::as_select())
        .load(conn)
        .unwrap()
}

fn labels(events: &[ArticlesEvent]) -> Vec<&str> {
    let mut labels: Vec<&str> = events.iter().map(|e| e.pgh_label.as_str()).collect();
    labels.sort_unstable();
    labels
}

fn event<'a>(events: &'a [ArticlesEvent], label: &str) -> &'a ArticlesEvent {
    let found: Vec<&ArticlesEvent> = events.iter().filter(|e| e.pgh_label == label).collect();
    assert_eq!(found.len(), 1, "expected one `{label}` event in {events:?}");
    found[0]
}

#[test]
fn an_insert_writes_only_the_insert_event() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "first", Some("text"), "draft");
    let events = load_events(&mut conn);
    assert_eq!(labels(&events), ["insert"]);
    let e = &events[0];
    assert_eq!((e.pgh_obj_id, e.id), (id, id));
    assert_eq!(
        (e.title.as_str(), e.body.as_deref()),
        ("first", Some("text"))
    );
    assert_eq!((e.status.as_str(), e.score), ("draft", 0));
}

#[test]
fn a_score_increase_writes_update_before_update_and_score_up() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "a", None, "draft");
    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::score.eq(5))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    assert_eq!(labels(&events), ["before_update", "score_up", "update"]);
    assert_eq!(event(&events, "update").score, 5);
    assert_eq!(event(&events, "score_up").score, 5);
    // row = old: the snapshot before the statement.
    assert_eq!(event(&events, "before_update").score, 0);
    assert_eq!(event(&events, "before_update").pgh_obj_id, id);
}

#[test]
fn a_score_decrease_fires_no_comparison_tracker() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "a", None, "draft");
    diesel::update(articles::table.find(id))
        .set(articles::score.eq(9))
        .execute(&mut conn)
        .unwrap();
    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::score.eq(3))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    assert_eq!(labels(&events), ["before_update", "update"]);
    assert_eq!(event(&events, "before_update").score, 9);
    assert_eq!(event(&events, "update").score, 3);
}

#[test]
fn a_raw_sql_condition_is_used_as_written() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "a", None, "draft");
    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::score.eq(20))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    assert_eq!(
        labels(&events),
        ["before_update", "score_jump", "score_up", "update"]
    );
    assert_eq!(event(&events, "score_jump").score, 20);
}

#[test]
fn a_title_change_of_a_draft_fires_changed_title_but_not_live_edit() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "old title", Some("b"), "draft");
    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::title.eq("new title"))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    assert_eq!(
        labels(&events),
        ["before_update", "title_changed", "update"]
    );
    assert_eq!(event(&events, "title_changed").title, "new title");
    assert_eq!(event(&events, "before_update").title, "old title");
}

#[test]
fn an_edit_of_a_published_article_fires_the_combined_condition() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "t", Some("b"), "published");
    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::body.eq("b2"))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    assert_eq!(labels(&events), ["before_update", "live_edit", "update"]);
    assert_eq!(event(&events, "live_edit").body.as_deref(), Some("b2"));

    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::title.eq("t2"))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    assert_eq!(
        labels(&events),
        ["before_update", "live_edit", "title_changed", "update"]
    );
}

#[test]
fn changed_to_and_changed_from_fire_on_the_transition_only() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "t", None, "draft");
    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::status.eq("published"))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    assert_eq!(labels(&events), ["before_update", "published", "update"]);
    assert_eq!(event(&events, "published").status, "published");
    assert_eq!(event(&events, "before_update").status, "draft");

    // Staying published while something else changes is not a transition.
    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::score.eq(-1))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(labels(&load_events(&mut conn)), ["before_update", "update"]);

    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::status.eq("archived"))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    assert_eq!(labels(&events), ["before_update", "unpublished", "update"]);
    assert_eq!(event(&events, "unpublished").status, "archived");
}

#[test]
fn is_null_conditions_see_the_null_transition() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "t", Some("body"), "draft");
    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::body.eq(None::<String>))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    assert_eq!(labels(&events), ["before_update", "body_cleared", "update"]);
    assert_eq!(event(&events, "body_cleared").body, None);
    assert_eq!(
        event(&events, "before_update").body.as_deref(),
        Some("body")
    );

    // Still NULL: not "cleared" again.
    forget_events(&mut conn);
    diesel::update(articles::table.find(id))
        .set(articles::title.eq("t2"))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        labels(&load_events(&mut conn)),
        ["before_update", "title_changed", "update"]
    );
}

#[test]
fn an_update_that_changes_nothing_writes_no_event() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "same", None, "published");
    forget_events(&mut conn);
    let n = diesel::update(articles::table.find(id))
        .set((articles::title.eq("same"), articles::status.eq("published")))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(n, 1);
    assert!(load_events(&mut conn).is_empty());
}

#[test]
fn a_multi_row_update_evaluates_every_tracker_per_row() {
    let (_db, mut conn) = db();
    let a = new_article(&mut conn, "a", None, "draft");
    let b = new_article(&mut conn, "b", None, "published");
    let c = new_article(&mut conn, "c", None, "draft");
    forget_events(&mut conn);
    // a: +15 (score_up, score_jump), b: +15 and published (live_edit needs a title/body
    // change: none), c: untouched by the filter.
    diesel::update(articles::table.filter(articles::id.ne(c)))
        .set(articles::score.eq(articles::score + 15))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    for id in [a, b] {
        let mine: Vec<ArticlesEvent> = events
            .iter()
            .filter(|e| e.pgh_obj_id == id)
            .cloned()
            .collect();
        assert_eq!(
            labels(&mine),
            ["before_update", "score_jump", "score_up", "update"],
            "article {id}"
        );
        assert!(mine.iter().all(|e| e.id == id));
        assert_eq!(event(&mine, "update").score, 15);
        assert_eq!(event(&mine, "before_update").score, 0);
    }
    assert!(events.iter().all(|e| e.pgh_obj_id != c));
    assert_eq!(events.len(), 8);
}

#[test]
fn a_delete_writes_the_delete_event_with_the_old_row() {
    let (_db, mut conn) = db();
    let id = new_article(&mut conn, "gone", Some("soon"), "published");
    forget_events(&mut conn);
    diesel::delete(articles::table.find(id))
        .execute(&mut conn)
        .unwrap();
    let events = load_events(&mut conn);
    assert_eq!(labels(&events), ["delete"]);
    assert_eq!(events[0].title, "gone");
    assert_eq!(events[0].status, "published");
}

#[test]
fn the_declared_trackers_are_described_in_table_info() {
    use pghistory_diesel::{Operation, Tracked};
    let info = <articles::table as Tracked>::INFO;
    let labels: Vec<(&str, Operation)> = info
        .trackers
        .iter()
        .map(|t| (t.label, t.operation))
        .collect();
    assert_eq!(labels.len(), 12);
    assert_eq!(labels[2], ("title_changed", Operation::Update));
    assert_eq!(labels[11], ("archived", Operation::Manual));
    // A manual tracker installs no trigger.
    assert_eq!(info.triggers.len(), 3);
}
