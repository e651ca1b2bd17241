//! Every timeline read uses an index on a large history: asserted on the plan nodes of
//! `EXPLAIN (FORMAT JSON)` (no timings), after filling the events tables with set-based
//! statements and `ANALYZE`, with the planner's defaults (no `enable_seqscan = off`).

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use pghistory_diesel::history::History;
use pghistory_diesel_tests::schema::*;
use pghistory_diesel_tests::TestDb;
use serde_json::{json, Value};

/// 30k contexts (`{"user": g % 5000}`); 30k posts inserted in one statement; 60k update
/// events of posts and 30k note events written straight into the events tables, each in
/// one of the contexts and spread over a year; then one real scope of a few changes.
fn fill(conn: &mut PgConnection) -> uuid::Uuid {
    conn.batch_execute(
        "INSERT INTO pghistory_context (id, scope_id, metadata) \
         SELECT u, u, pg_catalog.jsonb_build_object('user', g % 5000) \
         FROM (SELECT pg_catalog.gen_random_uuid() AS u, g FROM pg_catalog.generate_series(1, 30000) g) s;
         CREATE TEMPORARY TABLE ctx AS \
         SELECT id, metadata, pg_catalog.row_number() OVER (ORDER BY id) AS n FROM pghistory_context;
         INSERT INTO posts (title, score) SELECT 'post ' || g, g FROM pg_catalog.generate_series(1, 30000) g;
         INSERT INTO posts_events (pgh_created_at, pgh_obj_id, pgh_context_id, pgh_label, id, title, score) \
         SELECT now() - (g * interval '500 seconds'), 1 + g % 30000, ctx.id, 'update', 1 + g % 30000, 'post', g \
         FROM pg_catalog.generate_series(1, 60000) g JOIN ctx ON ctx.n = 1 + g % 30000;
         INSERT INTO notes_events (pgh_created_at, pgh_obj_id, pgh_context_id, pgh_context, pgh_label, id, text) \
         SELECT now() - (g * interval '1000 seconds'), g, ctx.id, ctx.metadata, 'insert', g, 'note' \
         FROM pg_catalog.generate_series(1, 30000) g JOIN ctx ON ctx.n = g;",
    )
    .unwrap();
    let scope = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            #[derive(QueryableByName)]
            struct Scope {
                #[diesel(sql_type = diesel::sql_types::Uuid)]
                scope_id: uuid::Uuid,
            }
            let s: Scope = diesel::sql_query(
                "SELECT pghistory_attach_context(NULL, '{\"user\": 7}', true) AS scope_id",
            )
            .get_result(conn)?;
            diesel::sql_query("UPDATE posts SET score = score + 1 WHERE id BETWEEN 1 AND 20")
                .execute(conn)?;
            Ok(s.scope_id)
        })
        .unwrap();
    conn.batch_execute("ANALYZE posts_events; ANALYZE notes_events; ANALYZE pghistory_context;")
        .unwrap();
    scope
}

/// Every plan node, depth first.
fn nodes(plan: &Value) -> Vec<&Value> {
    let mut out = vec![plan];
    if let Some(children) = plan.get("Plans").and_then(Value::as_array) {
        for child in children {
            out.extend(nodes(child));
        }
    }
    out
}

fn root(explained: &Value) -> &Value {
    &explained[0]["Plan"]
}

/// The index names the plan reads, and panics on a sequential scan of an events table.
fn indexes(explained: &Value) -> Vec<String> {
    let all = nodes(root(explained));
    for n in &all {
        if n["Node Type"] == "Seq Scan" {
            let rel = n["Relation Name"].as_str().unwrap_or("");
            assert!(
                !rel.ends_with("_events") && rel != "pghistory_context",
                "sequential scan of {rel}:\n{explained:#}"
            );
        }
    }
    all.iter()
        .filter_map(|n| n.get("Index Name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

fn has_node(explained: &Value, node_type: &str) -> bool {
    nodes(root(explained))
        .iter()
        .any(|n| n["Node Type"] == node_type)
}

#[test]
fn every_timeline_read_uses_an_index() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let scope = fill(&mut conn);
    let both = History::new()
        .across::<posts::table>()
        .across::<notes::table>()
        .limit(50);

    // One object's timeline: the events primary key (pgh_obj_id, pgh_id).
    let plan = History::new()
        .tracks::<posts::table>(12_345)
        .limit(50)
        .explain(&mut conn)
        .unwrap();
    assert!(
        indexes(&plan).iter().any(|i| i == "posts_events_pkey"),
        "{plan:#}"
    );

    // The global page, first and after a cursor deep into the history, both orders:
    // ordered scans of the time index, merged under the LIMIT.
    let events = both.clone().limit(40_000).load(&mut conn).unwrap();
    let deep = events.last().unwrap().cursor();
    for query in [
        both.clone(),
        both.clone().after(&deep),
        both.clone().newest_first(),
        both.clone().newest_first().after(&deep),
    ] {
        let plan = query.explain(&mut conn).unwrap();
        let used = indexes(&plan);
        for index in ["posts_events_pgh_time_idx", "notes_events_pgh_time_idx"] {
            assert!(used.iter().any(|i| i == index), "{index}: {plan:#}");
        }
        assert!(has_node(&plan, "Merge Append"), "{plan:#}");
        assert!(!has_node(&plan, "Sort"), "no full sort: {plan:#}");
    }

    // A time range.
    let mid = events[20_000].pgh_created_at;
    assert!(events.len() == 40_000);
    let plan = both
        .clone()
        .since(mid)
        .until(mid + chrono::Duration::seconds(1))
        .explain(&mut conn)
        .unwrap();
    assert!(
        indexes(&plan)
            .iter()
            .any(|i| i == "posts_events_pgh_time_idx"),
        "{plan:#}"
    );

    // A context scope: the scope index on the context table, then its events by
    // pgh_context_id (or the time index, the planner's choice: never a full scan).
    let plan = both.clone().in_context(scope).explain(&mut conn).unwrap();
    let used = indexes(&plan);
    assert!(
        used.iter().any(|i| i == "pghistory_context_scope_id_idx"),
        "{plan:#}"
    );
    assert!(
        used.iter()
            .any(|i| i.ends_with("_pgh_context_id_idx") || i.ends_with("_pgh_time_idx")),
        "{plan:#}"
    );

    // Context metadata: the GIN index on pghistory_context.metadata.
    let plan = both
        .clone()
        .metadata_contains(json!({"user": 7}))
        .explain(&mut conn)
        .unwrap();
    assert!(
        indexes(&plan)
            .iter()
            .any(|i| i == "pghistory_context_metadata_idx"),
        "{plan:#}"
    );

    // The view, one table, newest first: that table's time index, the other branches
    // folded away.
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = diesel::sql_types::Json)]
        #[diesel(column_name = "QUERY PLAN")]
        plan: Value,
    }
    let plan = diesel::sql_query(
        "EXPLAIN (FORMAT JSON) SELECT * FROM public.pghistory_events \
         WHERE pgh_table = 'public.posts' ORDER BY pgh_created_at DESC LIMIT 20",
    )
    .get_result::<Plan>(&mut conn)
    .unwrap()
    .plan;
    let used = indexes(&plan);
    assert!(
        used.iter().any(|i| i == "posts_events_pgh_time_idx"),
        "{plan:#}"
    );
    assert!(
        !used.iter().any(|i| i == "notes_events_pgh_time_idx"),
        "{plan:#}"
    );
    // All tables, a time range.
    let plan = diesel::sql_query(
        "EXPLAIN (FORMAT JSON) SELECT * FROM public.pghistory_events \
         WHERE pgh_created_at >= now() - interval '1 day' ORDER BY pgh_created_at LIMIT 20",
    )
    .get_result::<Plan>(&mut conn)
    .unwrap()
    .plan;
    assert!(has_node(&plan, "Merge Append"), "{plan:#}");
}
