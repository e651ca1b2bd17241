//! Pausing history for a scope: the chosen tables write no events inside it; other tables,
//! other connections and everything after the scope are tracked as usual.

use diesel::prelude::*;
use pghistory_diesel::{pause, pause_all, pause_tables, Tracked};
use pghistory_diesel_tests::trackers_schema::*;
use pghistory_diesel_tests::{TestDb, TRACKER_MIGRATIONS};

fn db() -> (TestDb, PgConnection) {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let conn = db.conn();
    (db, conn)
}

fn add_article(conn: &mut PgConnection, title: &str) -> QueryResult<usize> {
    diesel::insert_into(articles::table)
        .values(articles::title.eq(title))
        .execute(conn)
}

fn add_profile(conn: &mut PgConnection, name: &str) -> QueryResult<usize> {
    diesel::insert_into(profiles::table)
        .values(profiles::name.eq(name))
        .execute(conn)
}

fn article_titles(conn: &mut PgConnection) -> Vec<String> {
    articles_events::table
        .order(articles_events::pgh_id)
        .select(articles_events::title)
        .load(conn)
        .unwrap()
}

fn profile_names(conn: &mut PgConnection) -> Vec<String> {
    profiles_events::table
        .order(profiles_events::pgh_id)
        .select(profiles_events::name)
        .load(conn)
        .unwrap()
}

#[test]
fn a_paused_table_writes_no_events_inside_the_scope_and_others_still_do() {
    let (_db, mut conn) = db();
    pause::<articles::table, _, diesel::result::Error, _>(&mut conn, |conn| {
        add_article(conn, "backfilled")?;
        diesel::update(articles::table)
            .set(articles::score.eq(3))
            .execute(conn)?;
        add_profile(conn, "tracked")?;
        Ok(())
    })
    .unwrap();
    assert!(article_titles(&mut conn).is_empty());
    assert_eq!(profile_names(&mut conn), ["tracked"]);
    // The writes themselves happened.
    let score: i32 = articles::table
        .select(articles::score)
        .first(&mut conn)
        .unwrap();
    assert_eq!(score, 3);
}

#[test]
fn the_pause_ends_with_the_scope() {
    let (_db, mut conn) = db();
    pause::<(articles::table, profiles::table), _, diesel::result::Error, _>(&mut conn, |conn| {
        add_article(conn, "inside")?;
        add_profile(conn, "inside")?;
        Ok(())
    })
    .unwrap();
    add_article(&mut conn, "after").unwrap();
    add_profile(&mut conn, "after").unwrap();
    assert_eq!(article_titles(&mut conn), ["after"]);
    assert_eq!(profile_names(&mut conn), ["after"]);
}

#[test]
fn the_pause_does_not_reach_other_connections() {
    let (db, mut conn) = db();
    let mut other = db.conn();
    pause::<articles::table, _, diesel::result::Error, _>(&mut conn, |conn| {
        add_article(conn, "paused")?;
        // Another session writes while the scope is open.
        add_article(&mut other, "other connection")?;
        Ok(())
    })
    .unwrap();
    assert_eq!(article_titles(&mut conn), ["other connection"]);
}

#[test]
fn a_failing_scope_rolls_back_and_leaves_no_pause_behind() {
    let (_db, mut conn) = db();
    conn.transaction(|conn| {
        let result = pause::<articles::table, (), diesel::result::Error, _>(conn, |conn| {
            add_article(conn, "rolled back")?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(result.is_err());
        // Same outer transaction, after the scope: tracked again.
        add_article(conn, "after failure")?;
        QueryResult::Ok(())
    })
    .unwrap();
    assert_eq!(article_titles(&mut conn), ["after failure"]);
    let titles: Vec<String> = articles::table
        .select(articles::title)
        .load(&mut conn)
        .unwrap();
    assert_eq!(titles, ["after failure"]);
}

#[test]
fn a_scope_inside_a_transaction_restores_tracking_for_the_rest_of_it() {
    let (_db, mut conn) = db();
    conn.transaction(|conn| {
        pause::<articles::table, _, diesel::result::Error, _>(conn, |conn| {
            add_article(conn, "paused")
        })?;
        add_article(conn, "same transaction, after the scope")?;
        QueryResult::Ok(())
    })
    .unwrap();
    assert_eq!(
        article_titles(&mut conn),
        ["same transaction, after the scope"]
    );
}

#[test]
fn nested_scopes_add_up_and_the_outer_pause_survives_the_inner_one() {
    let (_db, mut conn) = db();
    pause::<articles::table, _, diesel::result::Error, _>(&mut conn, |conn| {
        pause::<profiles::table, _, diesel::result::Error, _>(conn, |conn| {
            add_article(conn, "both paused")?;
            add_profile(conn, "both paused")?;
            Ok(())
        })?;
        add_article(conn, "outer still paused")?;
        add_profile(conn, "inner ended")?;
        Ok(())
    })
    .unwrap();
    assert!(article_titles(&mut conn).is_empty());
    assert_eq!(profile_names(&mut conn), ["inner ended"]);
}

#[test]
fn pause_all_pauses_every_table_and_pause_tables_takes_table_infos() {
    let (_db, mut conn) = db();
    pause_all::<_, diesel::result::Error, _>(&mut conn, |conn| {
        add_article(conn, "a")?;
        add_profile(conn, "p")?;
        Ok(())
    })
    .unwrap();
    assert!(article_titles(&mut conn).is_empty());
    assert!(profile_names(&mut conn).is_empty());

    let chosen = [<profiles::table as Tracked>::INFO];
    pause_tables::<_, diesel::result::Error, _>(&mut conn, &chosen, |conn| {
        add_article(conn, "tracked")?;
        add_profile(conn, "paused")?;
        Ok(())
    })
    .unwrap();
    assert_eq!(article_titles(&mut conn), ["tracked"]);
    assert!(profile_names(&mut conn).is_empty());
}

/// The async scenario, in a module of its own so that only diesel-async's `RunQueryDsl`
/// is in scope.
mod asynch {
    use diesel::ExpressionMethods;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    use pghistory_diesel_tests::trackers_schema::*;

    pub async fn write_paused_then_after(url: String) {
        let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
        pghistory_diesel::pause_async::<articles::table, _, diesel::result::Error, _>(
            &mut conn,
            async |conn| {
                diesel::insert_into(articles::table)
                    .values(articles::title.eq("paused"))
                    .execute(conn)
                    .await?;
                diesel::insert_into(profiles::table)
                    .values(profiles::name.eq("tracked"))
                    .execute(conn)
                    .await?;
                Ok(())
            },
        )
        .await
        .unwrap();
        // After the scope, on the same connection.
        diesel::insert_into(articles::table)
            .values(articles::title.eq("after"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

#[test]
fn pause_async_behaves_the_same_and_its_future_is_send() {
    let (db, mut conn) = db();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Spawning requires the future to be Send.
    let task = rt.spawn(asynch::write_paused_then_after(db.url.clone()));
    rt.block_on(task).unwrap();
    assert_eq!(article_titles(&mut conn), ["after"]);
    assert_eq!(profile_names(&mut conn), ["tracked"]);
}

#[test]
fn pause_and_context_scopes_nest_either_way() {
    use pghistory_diesel::context::with_context;
    use pghistory_diesel::Error;
    let (_db, mut conn) = db();
    with_context(&mut conn, serde_json::json!({"job": "backfill"}), |conn| {
        pause::<articles::table, _, Error, _>(conn, |conn| {
            add_article(conn, "paused in context")?;
            add_profile(conn, "in both")?;
            Ok(())
        })?;
        add_article(conn, "context only")?;
        Ok::<_, Error>(())
    })
    .unwrap();
    pause::<articles::table, _, Error, _>(&mut conn, |conn| {
        with_context(conn, serde_json::json!({"job": "inner"}), |conn| {
            add_article(conn, "paused around context")?;
            add_profile(conn, "context inside pause")?;
            Ok::<_, Error>(())
        })
    })
    .unwrap();
    assert_eq!(article_titles(&mut conn), ["context only"]);
    assert_eq!(
        profile_names(&mut conn),
        ["in both", "context inside pause"]
    );
    // Every event written in a scope carries its context.
    let unattached: i64 = profiles_events::table
        .filter(profiles_events::pgh_context_id.is_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(unattached, 0);
    let article_context: Option<uuid::Uuid> = articles_events::table
        .select(articles_events::pgh_context_id)
        .first(&mut conn)
        .unwrap();
    assert!(article_context.is_some());
}
