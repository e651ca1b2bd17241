//! Who may change history (issue 14, parts 1-3): an ordinary application role, granted DML
//! on its tables (and, in some tests, `ALL` on every table, as apps often are), can neither
//! pause tracking, nor prune, nor forge, rewrite or delete events and context rows; the
//! maintainer role pauses and prunes through the Rust API.
//!
//! Each test creates its own database and its own owner, maintainer and app roles (roles
//! are cluster-wide, so their names are unique per test), applies the setup migration
//! naming them, then the tracker tests' committed migrations, and acts as the app with
//! `SET ROLE`.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use pghistory_diesel::Error;
use pghistory_diesel_codegen::sql::{quote, setup};
use pghistory_diesel_tests::trackers_schema::{articles, ledger};
use pghistory_diesel_tests::TestDb;

const APP_TABLES: &str = include_str!("../migrations_trackers/2020-01-01-000000_app_tables/up.sql");
const TRACKING: &str =
    include_str!("../migrations_trackers/2020-01-02-000000_pghistory_tracking/up.sql");

/// A database migrated with roles of its own.
struct Env {
    db: TestDb,
    owner: String,
    maintainer: String,
    app: String,
}

fn env() -> Env {
    let db = TestDb::empty();
    let owner = pghistory_diesel_tests::unique_role_name("owner");
    let maintainer = pghistory_diesel_tests::unique_role_name("maint");
    let app = pghistory_diesel_tests::unique_role_name("app");
    let mut conn = db.conn();
    conn.batch_execute(&setup::up_with(&setup::Roles {
        owner: owner.clone(),
        maintainer: maintainer.clone(),
        reader: None,
    }))
    .expect("setup migration with the test's roles");
    conn.batch_execute(APP_TABLES).expect("app tables");
    conn.batch_execute(TRACKING).expect("tracking migration");
    // What an app role is typically given: DML on its tables, nothing on history. The
    // maintainer is an app role that was also granted the maintainer role.
    conn.batch_execute(&format!(
        "CREATE ROLE {app} NOLOGIN;
         GRANT SELECT, INSERT, UPDATE, DELETE ON public.articles, public.ledger TO {app};
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app};
         GRANT {app} TO {maintainer};
         -- The SQLSTATE a statement fails with, run as the caller (SECURITY INVOKER), 'ok'
         -- when it succeeds; the exception block rolls the statement back either way.
         CREATE FUNCTION public.pgh_test_sqlstate(q text) RETURNS text LANGUAGE plpgsql AS $$
         BEGIN
             EXECUTE q;
             RETURN 'ok';
         EXCEPTION WHEN OTHERS THEN
             RETURN SQLSTATE;
         END $$;",
        app = quote::ident(&app),
        maintainer = quote::ident(&maintainer),
    ))
    .expect("app role");
    Env {
        db,
        owner,
        maintainer,
        app,
    }
}

impl Env {
    /// A connection acting as `role`.
    fn conn_as(&self, role: &str) -> PgConnection {
        let mut conn = self.db.conn();
        conn.batch_execute(&format!("SET ROLE {}", quote::ident(role)))
            .expect("set role");
        conn
    }

    /// Grants the app `ALL` on every table of the schema, as apps often are.
    fn grant_all(&self) {
        self.db
            .conn()
            .batch_execute(&format!(
                "GRANT ALL ON ALL TABLES IN SCHEMA public TO {}",
                quote::ident(&self.app)
            ))
            .expect("grant all");
    }
}

/// The SQLSTATE `sql` fails with on `conn` (as its current role), or `ok`.
fn sqlstate(conn: &mut PgConnection, sql: &str) -> String {
    #[derive(QueryableByName)]
    struct State {
        #[diesel(sql_type = Text)]
        state: String,
    }
    diesel::sql_query("SELECT public.pgh_test_sqlstate($1) AS state")
        .bind::<Text, _>(sql)
        .get_result::<State>(conn)
        .expect("run the statement")
        .state
}

/// Every row of `table`, as JSON text in order, read as the superuser.
fn rows(db: &TestDb, table: &str) -> String {
    #[derive(QueryableByName)]
    struct Rows {
        #[diesel(sql_type = Text)]
        rows: String,
    }
    diesel::sql_query(format!(
        "SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t) ORDER BY pg_catalog.to_jsonb(t)::text), '[]')::text AS rows FROM {table} t"
    ))
    .get_result::<Rows>(&mut db.conn())
    .expect("read rows")
    .rows
}

fn count(db: &TestDb, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<Count>(&mut db.conn())
        .expect("count")
        .n
}

/// The labels of `events` in order, of the plain insert, update, delete and the manual
/// `archived` trackers (the other trackers of `articles` follow the same path).
fn labels(db: &TestDb, events: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Label {
        #[diesel(sql_type = Text)]
        pgh_label: String,
    }
    diesel::sql_query(format!(
        "SELECT pgh_label FROM {events}
          WHERE pgh_label IN ('insert', 'update', 'delete', 'archived') ORDER BY pgh_id"
    ))
    .load::<Label>(&mut db.conn())
    .expect("labels")
    .into_iter()
    .map(|l| l.pgh_label)
    .collect()
}

const INSERT_ARTICLE: &str = "INSERT INTO public.articles (title) VALUES ('a')";
const UPDATE_ARTICLE: &str = "UPDATE public.articles SET score = score + 1";

#[test]
fn an_app_role_with_only_dml_on_the_tracked_table_is_tracked_with_context_and_manual_events() {
    let env = env();
    let mut app = env.conn_as(&env.app);
    let granted: bool = diesel::dsl::sql::<diesel::sql_types::Bool>(
        "SELECT pg_catalog.has_table_privilege('public.articles_events', 'INSERT')
             OR pg_catalog.has_table_privilege('public.pghistory_context', 'INSERT')
             OR pg_catalog.has_table_privilege('public.articles_events', 'SELECT')",
    )
    .get_result(&mut app)
    .unwrap();
    assert!(!granted, "the app role has no privilege on history");

    pghistory_diesel::with_context::<_, Error, _>(
        &mut app,
        serde_json::json!({"user": "alice"}),
        |conn| {
            conn.batch_execute(&format!("{INSERT_ARTICLE}; {UPDATE_ARTICLE}"))?;
            let id: i32 = articles::table
                .select(articles::id)
                .first(conn)
                .map_err(Error::from)?;
            pghistory_diesel::create_event::<articles::table>(conn, "archived", id)?;
            conn.batch_execute("DELETE FROM public.articles")?;
            Ok(())
        },
    )
    .expect("the app's writes succeed");

    assert_eq!(
        labels(&env.db, "public.articles_events"),
        ["insert", "update", "archived", "delete"]
    );
    assert_eq!(
        count(
            &env.db,
            "SELECT count(*) AS n FROM public.articles_events e
              WHERE NOT EXISTS (SELECT 1 FROM public.pghistory_context c
                                 WHERE c.id = e.pgh_context_id AND c.metadata = '{\"user\": \"alice\"}')"
        ),
        0,
        "every event points at the context row the app's scope wrote"
    );
    let owner: String = diesel::dsl::sql::<Text>(
        "SELECT pg_catalog.pg_get_userbyid(relowner)::text FROM pg_catalog.pg_class WHERE oid = 'public.articles_events'::regclass",
    )
    .get_result(&mut env.db.conn())
    .unwrap();
    assert_eq!(
        owner, env.owner,
        "the events table belongs to the history owner"
    );
}

#[test]
fn set_pghistory_pause_by_the_app_role_pauses_nothing() {
    let env = env();
    let mut app = env.conn_as(&env.app);
    app.batch_execute(&format!(
        "SET pghistory.pause = '*'; {INSERT_ARTICLE};
         BEGIN; SET LOCAL pghistory.pause = ',public.articles,'; {UPDATE_ARTICLE}; COMMIT;"
    ))
    .expect("the app's statements are never failed by a forged pause");
    assert_eq!(
        labels(&env.db, "public.articles_events"),
        ["insert", "update"]
    );
}

#[test]
fn a_pause_in_pgoptions_pauses_nothing() {
    let env = env();
    let sep = if env.db.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}options=-c%20pghistory.pause%3D%2A", env.db.url);
    let mut conn = PgConnection::establish(&url).expect("connect with options");
    let pause: String =
        diesel::dsl::sql::<Text>("SELECT pg_catalog.current_setting('pghistory.pause')")
            .get_result(&mut conn)
            .unwrap();
    assert_eq!(pause, "*", "the option reached the session");
    conn.batch_execute(&format!(
        "SET ROLE {}; {INSERT_ARTICLE}; {UPDATE_ARTICLE};",
        quote::ident(&env.app)
    ))
    .unwrap();
    assert_eq!(
        labels(&env.db, "public.articles_events"),
        ["insert", "update"]
    );
}

#[test]
fn set_local_pghistory_prune_opens_no_append_only_table_even_to_a_superuser() {
    let env = env();
    env.grant_all();
    env.db
        .conn()
        .batch_execute("INSERT INTO public.ledger (amount) VALUES (5), (5000)")
        .unwrap();
    let before = rows(&env.db, "public.ledger_events");
    for role in [None, Some(env.app.as_str())] {
        let mut conn = match role {
            Some(r) => env.conn_as(r),
            None => env.db.conn(),
        };
        for value in ["on", "public.ledger_events"] {
            conn.batch_execute(&format!("BEGIN; SET LOCAL pghistory.prune = '{value}';"))
                .unwrap();
            assert_eq!(
                sqlstate(&mut conn, "DELETE FROM public.ledger_events"),
                "42501",
                "as {role:?} with pghistory.prune = {value}"
            );
            conn.batch_execute("COMMIT").unwrap();
        }
    }
    assert_eq!(rows(&env.db, "public.ledger_events"), before);
}

#[test]
fn fabricated_events_are_refused_with_or_without_grants() {
    let env = env();
    let fabricate = [
        "INSERT INTO public.articles_events (pgh_created_at, pgh_label, pgh_obj_id, id, title, status, score)
         VALUES ('2020-01-01', 'delete', 1, 1, 'forged', 'draft', 0)",
        "INSERT INTO public.ledger_events (pgh_created_at, pgh_label, pgh_obj_id, id, amount)
         VALUES ('2020-01-01', 'delete', 1, 1, 1)",
    ];
    let mut app = env.conn_as(&env.app);
    app.batch_execute(INSERT_ARTICLE).unwrap();
    let before = rows(&env.db, "public.articles_events");
    for sql in fabricate {
        assert_eq!(sqlstate(&mut app, sql), "42501", "no grant: {sql}");
    }
    env.grant_all();
    for sql in fabricate {
        // The grant is there now; row level security has no policy that lets it insert.
        assert_eq!(sqlstate(&mut app, sql), "42501", "GRANT ALL: {sql}");
    }
    // The manual-event function writes only a declared label, and only a true snapshot.
    assert_eq!(
        sqlstate(
            &mut app,
            "SELECT public.pghistory_articles_event('delete_everything', 1)"
        ),
        "22023"
    );
    assert!(matches!(
        pghistory_diesel::create_event::<articles::table>(&mut app, "nope", 1),
        Err(Error::UnknownLabel { .. })
    ));
    assert_eq!(rows(&env.db, "public.articles_events"), before);
    assert_eq!(
        count(&env.db, "SELECT count(*) AS n FROM public.ledger_events"),
        0
    );
}

#[test]
fn grant_all_then_update_delete_truncate_of_events_is_refused() {
    let env = env();
    env.grant_all();
    let mut app = env.conn_as(&env.app);
    app.batch_execute(&format!(
        "{INSERT_ARTICLE}; {UPDATE_ARTICLE}; INSERT INTO public.ledger (amount) VALUES (7);"
    ))
    .unwrap();
    let articles_before = rows(&env.db, "public.articles_events");
    let ledger_before = rows(&env.db, "public.ledger_events");
    for events in ["public.articles_events", "public.ledger_events"] {
        for sql in [
            format!("UPDATE {events} SET pgh_label = 'nobody'"),
            format!("UPDATE {events} SET pgh_created_at = '2020-01-01' WHERE pgh_id = 1"),
            format!("DELETE FROM {events}"),
            format!("TRUNCATE {events}"),
        ] {
            assert_eq!(sqlstate(&mut app, &sql), "42501", "{sql}");
        }
    }
    assert_eq!(rows(&env.db, "public.articles_events"), articles_before);
    assert_eq!(rows(&env.db, "public.ledger_events"), ledger_before);
}

#[test]
fn grant_all_then_writes_to_context_and_capability_rows_are_refused() {
    let env = env();
    env.grant_all();
    let mut app = env.conn_as(&env.app);
    pghistory_diesel::with_context::<_, Error, _>(
        &mut app,
        serde_json::json!({"user": "alice"}),
        |conn| Ok(conn.batch_execute(INSERT_ARTICLE)?),
    )
    .unwrap();
    let context_before = rows(&env.db, "public.pghistory_context");
    let events_before = rows(&env.db, "public.articles_events");
    assert_ne!(context_before, "[]");
    for sql in [
        "INSERT INTO public.pghistory_context (id, scope_id, metadata) VALUES (gen_random_uuid(), gen_random_uuid(), '{}')",
        "UPDATE public.pghistory_context SET metadata = '{\"user\": \"nobody\"}'",
        "DELETE FROM public.pghistory_context",
        "TRUNCATE public.pghistory_context",
        "TRUNCATE public.pghistory_context CASCADE",
        // A forged grant for this transaction.
        "INSERT INTO public.pghistory_capability (xact_id, kind, value) VALUES (pg_current_xact_id(), 'pause', '*')",
        "DELETE FROM public.pghistory_capability",
        "TRUNCATE public.pghistory_capability",
    ] {
        assert_eq!(sqlstate(&mut app, sql), "42501", "{sql}");
    }
    assert_eq!(rows(&env.db, "public.pghistory_context"), context_before);
    assert_eq!(rows(&env.db, "public.articles_events"), events_before);
}

#[test]
fn the_maintainer_pauses_and_prunes_through_the_rust_api() {
    let env = env();
    let mut maint = env.conn_as(&env.maintainer);
    maint
        .batch_execute(&format!(
            "{INSERT_ARTICLE}; INSERT INTO public.ledger (amount) VALUES (1), (2);"
        ))
        .unwrap();
    pghistory_diesel::pause::<articles::table, _, Error, _>(&mut maint, |conn| {
        conn.batch_execute(UPDATE_ARTICLE)?;
        // A nested pause of another table keeps this one paused.
        pghistory_diesel::pause::<ledger::table, _, Error, _>(conn, |conn| {
            Ok(conn.batch_execute("UPDATE public.ledger SET amount = amount + 1")?)
        })?;
        Ok(conn.batch_execute(UPDATE_ARTICLE)?)
    })
    .expect("the maintainer may pause");
    maint.batch_execute(UPDATE_ARTICLE).unwrap();
    assert_eq!(
        labels(&env.db, "public.articles_events"),
        ["insert", "update"],
        "only the update after the scope is recorded"
    );
    assert_eq!(
        labels(&env.db, "public.ledger_events"),
        ["insert", "insert"]
    );

    let later = chrono::Utc::now() + chrono::Duration::seconds(60);
    let deleted = pghistory_diesel::prune::<ledger::table>(&mut maint, later)
        .expect("the maintainer may prune an append-only table");
    assert_eq!(deleted, 2);
    assert_eq!(
        count(&env.db, "SELECT count(*) AS n FROM public.ledger_events"),
        0
    );
    // The audit log: who paused and pruned what.
    assert_eq!(
        rows(
            &env.db,
            "(SELECT kind, value FROM public.pghistory_capability) "
        ),
        r#"[{"kind": "pause", "value": ",public.articles,"}, {"kind": "pause", "value": ",public.articles,,public.ledger,"}, {"kind": "prune", "value": "public.ledger_events"}]"#
    );
}

#[test]
fn the_app_role_gets_not_granted_for_pause_and_prune() {
    let env = env();
    let mut app = env.conn_as(&env.app);
    app.batch_execute(&format!(
        "{INSERT_ARTICLE}; INSERT INTO public.ledger (amount) VALUES (1);"
    ))
    .unwrap();
    let mut ran = false;
    let paused = pghistory_diesel::pause_all::<_, Error, _>(&mut app, |conn| {
        ran = true;
        Ok(conn.batch_execute(UPDATE_ARTICLE)?)
    });
    assert!(
        matches!(
            paused,
            Err(Error::NotGranted {
                capability: "pause tracking",
                ..
            })
        ),
        "{paused:?}"
    );
    assert!(!ran, "the closure does not run unpaused");
    let later = chrono::Utc::now() + chrono::Duration::seconds(60);
    let pruned = pghistory_diesel::prune::<ledger::table>(&mut app, later);
    assert!(
        matches!(
            pruned,
            Err(Error::NotGranted {
                capability: "prune history",
                ..
            })
        ),
        "{pruned:?}"
    );
    for sql in [
        "SELECT public.pghistory_pause('*')",
        "SELECT public.pghistory_prune('public.ledger_events', now() + interval '1 minute')",
        "SELECT public.pghistory_prune('public.pghistory_context', now() + interval '1 minute')",
    ] {
        assert_eq!(sqlstate(&mut app, sql), "42501", "{sql}");
    }
    assert_eq!(labels(&env.db, "public.ledger_events"), ["insert"]);
    assert_eq!(labels(&env.db, "public.articles_events"), ["insert"]);
}

#[test]
fn a_granted_pause_does_not_outlive_its_transaction() {
    let env = env();
    let mut maint = env.conn_as(&env.maintainer);
    maint
        .batch_execute(&format!(
            "BEGIN; SELECT public.pghistory_pause('*'); {INSERT_ARTICLE}; COMMIT;
             BEGIN; SET LOCAL pghistory.pause = '*'; {UPDATE_ARTICLE}; COMMIT;
             BEGIN; SELECT public.pghistory_pause(',public.ledger,'); SET LOCAL pghistory.pause = '*'; {UPDATE_ARTICLE}; COMMIT;"
        ))
        .unwrap();
    assert_eq!(
        labels(&env.db, "public.articles_events"),
        ["update", "update"],
        "the granted pause covered its own transaction only, and only the value granted"
    );
}

#[tokio::test]
async fn async_pause_and_prune_fail_with_not_granted_for_the_app_role() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let env = env();
    let mut app = AsyncPgConnection::establish(&env.db.url).await.unwrap();
    app.batch_execute(&format!(
        "SET ROLE {}; {INSERT_ARTICLE};",
        quote::ident(&env.app)
    ))
    .await
    .unwrap();
    let paused = pghistory_diesel::pause_async::<articles::table, _, Error, _>(
        &mut app,
        async |conn: &mut AsyncPgConnection| Ok(conn.batch_execute(UPDATE_ARTICLE).await?),
    )
    .await;
    assert!(
        matches!(paused, Err(Error::NotGranted { .. })),
        "{paused:?}"
    );
    let later = chrono::Utc::now() + chrono::Duration::seconds(60);
    let pruned = pghistory_diesel::prune_async::<articles::table>(&mut app, later).await;
    assert!(
        matches!(pruned, Err(Error::NotGranted { .. })),
        "{pruned:?}"
    );

    let mut maint = AsyncPgConnection::establish(&env.db.url).await.unwrap();
    maint
        .batch_execute(&format!("SET ROLE {}", quote::ident(&env.maintainer)))
        .await
        .unwrap();
    pghistory_diesel::pause_async::<articles::table, _, Error, _>(
        &mut maint,
        async |conn: &mut AsyncPgConnection| Ok(conn.batch_execute(UPDATE_ARTICLE).await?),
    )
    .await
    .expect("the maintainer may pause");
    let deleted = pghistory_diesel::prune_async::<articles::table>(&mut maint, later)
        .await
        .expect("the maintainer may prune");
    assert_eq!(
        deleted, 1,
        "the one insert event; the paused update wrote none"
    );
}

#[test]
fn the_maintainer_prunes_old_contexts_and_the_app_role_may_not() {
    let env = env();
    let mut maint = env.conn_as(&env.maintainer);
    for user in [1, 2] {
        maint
            .batch_execute(&format!(
                "BEGIN;
                 SELECT public.pghistory_attach_context(NULL, '{{\"user\": {user}}}', true);
                 {INSERT_ARTICLE};
                 COMMIT;"
            ))
            .unwrap();
    }
    let contexts = "SELECT count(*) AS n FROM public.pghistory_context";
    assert_eq!(count(&env.db, contexts), 2);

    let mut app = env.conn_as(&env.app);
    let later = chrono::Utc::now() + chrono::Duration::seconds(60);
    assert!(
        matches!(
            pghistory_diesel::prune_contexts(&mut app, later),
            Err(Error::NotGranted { .. })
        ),
        "the app role may not prune contexts"
    );
    assert_eq!(count(&env.db, contexts), 2, "nothing deleted");

    let earlier = chrono::Utc::now() - chrono::Duration::seconds(3600);
    assert_eq!(
        pghistory_diesel::prune_contexts(&mut maint, earlier).unwrap(),
        0,
        "nothing is older than an hour"
    );
    assert_eq!(
        pghistory_diesel::prune_contexts(&mut maint, later).unwrap(),
        2
    );
    assert_eq!(count(&env.db, contexts), 0);
    assert_eq!(
        count(
            &env.db,
            "SELECT count(*) AS n FROM public.pghistory_capability WHERE kind = 'prune' AND value = 'public.pghistory_context'"
        ),
        2,
        "each prune is in the audit log"
    );
    // The events keep their context ids, now orphans, which check counts when asked.
    let findings = pghistory_diesel::check::check_all_with(
        &mut env.db.conn(),
        &[<articles::table as pghistory_diesel::Tracked>::INFO],
        &pghistory_diesel::check::CheckOptions {
            orphan_events: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f.kind == pghistory_diesel::check::FindingKind::OrphanEvents),
        "{findings:#?}"
    );
}
