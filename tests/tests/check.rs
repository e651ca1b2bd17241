//! `check` finds every drift: each test makes one by hand SQL on a migrated database and
//! asserts the finding's kind. A clean database reports nothing.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use pghistory_diesel::check::{self, CheckOptions, Finding, FindingKind};
use pghistory_diesel::{Error, TableInfo, Tracked};
use pghistory_diesel_tests::schema::{accounts, documents, labels, notes, orders, posts};
use pghistory_diesel_tests::trackers_schema::{
    article_tags, articles, ledger, products, profiles, samples, tickets, widgets,
};
use pghistory_diesel_tests::{TestDb, TRACKER_MIGRATIONS};

fn schema_tables() -> Vec<&'static TableInfo> {
    vec![
        <posts::table as Tracked>::INFO,
        <orders::table as Tracked>::INFO,
        <accounts::table as Tracked>::INFO,
        <documents::table as Tracked>::INFO,
        <notes::table as Tracked>::INFO,
        <labels::table as Tracked>::INFO,
    ]
}

fn tracker_tables() -> Vec<&'static TableInfo> {
    vec![
        <articles::table as Tracked>::INFO,
        <profiles::table as Tracked>::INFO,
        <products::table as Tracked>::INFO,
        <widgets::table as Tracked>::INFO,
        <ledger::table as Tracked>::INFO,
        <samples::table as Tracked>::INFO,
        <article_tags::table as Tracked>::INFO,
        <tickets::table as Tracked>::INFO,
    ]
}

/// A migrated database of the main test schema, drifted by `sql`; its findings. The
/// `pghistory_events` view is dropped first: it depends on every events table, so a hand
/// made change to one (a dropped table, a retyped column) must drop it, as here.
fn drifted(sql: &str) -> Vec<Finding> {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute("DROP VIEW public.pghistory_events")
        .unwrap();
    conn.batch_execute(sql).unwrap();
    check::check_all(&mut conn, &schema_tables()).unwrap()
}

/// The same for the tracker schema (its `ledger` and `tickets` are append-only).
fn drifted_trackers(sql: &str) -> Vec<Finding> {
    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let mut conn = db.conn();
    conn.batch_execute(sql).unwrap();
    check::check_all(&mut conn, &tracker_tables()).unwrap()
}

fn kinds(findings: &[Finding]) -> Vec<FindingKind> {
    findings.iter().map(|f| f.kind).collect()
}

/// The only finding is of `kind`, on `table`, about an object containing `object`.
fn assert_one(findings: &[Finding], kind: FindingKind, table: &str, object: &str) -> Finding {
    assert_eq!(kinds(findings), vec![kind], "findings: {findings:#?}");
    let finding = findings[0].clone();
    assert_eq!(finding.table, table);
    assert!(
        finding.object.contains(object),
        "{object} in {}",
        finding.object
    );
    finding
}

#[test]
fn clean_databases_report_nothing() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let all = CheckOptions {
        orphan_events: true,
        ..CheckOptions::default()
    };
    let findings = check::check_all_with(&mut conn, &schema_tables(), &all).unwrap();
    assert!(findings.is_empty(), "{findings:#?}");

    let db = TestDb::migrated_with(TRACKER_MIGRATIONS);
    let mut conn = db.conn();
    let findings = check::check_all_with(&mut conn, &tracker_tables(), &all).unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_trigger_in_replica_mode_is_found_and_its_fix_works() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute("ALTER TABLE public.posts ENABLE REPLICA TRIGGER pghistory_update")
        .unwrap();
    let findings = check::check_all(&mut conn, &schema_tables()).unwrap();
    let finding = assert_one(
        &findings,
        FindingKind::TriggerReplicaOnly,
        "public.posts",
        "pghistory_update",
    );
    assert_eq!(
        finding.fix,
        r#"`ALTER TABLE "public"."posts" ENABLE TRIGGER "pghistory_update"`"#
    );
    // The start-up check refuses too.
    match check::check_table::<posts::table>(&mut conn) {
        Err(Error::Drift(f)) => assert_eq!(f.kind, FindingKind::TriggerReplicaOnly),
        other => panic!("expected Drift, got {other:?}"),
    }
    let fix = finding.fix.trim_matches('`');
    conn.batch_execute(fix).unwrap();
    assert!(check::check_all(&mut conn, &schema_tables())
        .unwrap()
        .is_empty());
}

#[test]
fn a_trigger_in_always_mode_is_found() {
    let findings = drifted("ALTER TABLE public.posts ENABLE ALWAYS TRIGGER pghistory_insert");
    assert_one(
        &findings,
        FindingKind::TriggerAlways,
        "public.posts",
        "pghistory_insert",
    );
}

#[test]
fn a_disabled_trigger_is_found() {
    let findings = drifted("ALTER TABLE app.accounts DISABLE TRIGGER pghistory_update");
    assert_one(
        &findings,
        FindingKind::TriggerDisabled,
        "app.accounts",
        "pghistory_update",
    );
}

#[test]
fn a_dropped_trigger_is_found() {
    let findings = drifted("DROP TRIGGER pghistory_delete ON public.notes");
    assert_one(
        &findings,
        FindingKind::TriggerMissing,
        "public.notes",
        "pghistory_delete",
    );
}

/// Without the UPDATE trigger's row-level companion, no statement would be marked as
/// leaving a row unchanged, and no-op updates would be recorded: dropped, disabled or
/// redefined without its `WHEN`, or its `WHEN` function replaced, `check` names it.
#[test]
fn a_dropped_disabled_or_redefined_unchanged_trigger_is_found() {
    let findings = drifted("DROP TRIGGER pghistory_update_unchanged ON public.posts");
    assert_one(
        &findings,
        FindingKind::TriggerMissing,
        "public.posts",
        "pghistory_update_unchanged",
    );
    let findings = drifted("ALTER TABLE public.posts DISABLE TRIGGER pghistory_update_unchanged");
    assert_one(
        &findings,
        FindingKind::TriggerDisabled,
        "public.posts",
        "pghistory_update_unchanged",
    );
    let findings = drifted(
        "DROP TRIGGER pghistory_update_unchanged ON public.posts;
         CREATE TRIGGER pghistory_update_unchanged AFTER UPDATE ON public.posts
             FOR EACH STATEMENT EXECUTE FUNCTION public.pghistory_posts_update();",
    );
    assert_one(
        &findings,
        FindingKind::TriggerChanged,
        "public.posts",
        "pghistory_update_unchanged",
    );
    // Its WHEN function, replaced by one that never marks, or given settings.
    let findings = drifted(
        "CREATE OR REPLACE FUNCTION public.pghistory_posts_unchanged()
             RETURNS boolean LANGUAGE plpgsql AS 'BEGIN RETURN false; END'",
    );
    assert_one(
        &findings,
        FindingKind::FunctionReplaced,
        "public.posts",
        "pghistory_posts_unchanged",
    );
    let findings =
        drifted("ALTER FUNCTION public.pghistory_posts_unchanged() SET search_path = public");
    assert_one(
        &findings,
        FindingKind::FunctionSecurity,
        "public.posts",
        "pghistory_posts_unchanged",
    );
    let findings = drifted("DROP TRIGGER pghistory_update_unchanged ON public.posts; DROP FUNCTION public.pghistory_posts_unchanged()");
    assert!(
        kinds(&findings).contains(&FindingKind::FunctionMissing),
        "{findings:?}"
    );
}

/// A table whose UPDATE trigger compares whole rows counts every column: one added
/// without being declared in schema.rs (an UPDATE of it alone would be recorded), or a
/// text column moved to a nondeterministic collation (equal text could differ in its
/// bytes), is drift. Tables that compare declared columns one by one are not concerned.
#[test]
fn an_undeclared_column_or_a_nondeterministic_collation_is_found_where_rows_are_compared_whole() {
    let findings = drifted("ALTER TABLE public.posts ADD COLUMN extra json");
    let finding = assert_one(
        &findings,
        FindingKind::ColumnUndeclared,
        "public.posts",
        "\"extra\"",
    );
    assert!(finding.fix.contains("fields(...)"), "{finding}");
    // Nondeterministic collations are ICU's: a server built without ICU has none to test.
    let icu: bool = {
        #[derive(QueryableByName)]
        struct Icu {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            icu: bool,
        }
        let db = TestDb::migrated();
        diesel::sql_query(
            "SELECT EXISTS (SELECT FROM pg_collation WHERE collprovider = 'i') AS icu",
        )
        .get_result::<Icu>(&mut db.conn())
        .unwrap()
        .icu
    };
    if icu {
        let findings = drifted(
            "CREATE COLLATION pgh_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
             ALTER TABLE public.posts ALTER COLUMN title TYPE text COLLATE pgh_ci;",
        );
        assert_one(
            &findings,
            FindingKind::ColumnCollation,
            "public.posts",
            "\"title\"",
        );
    }
    // `documents` has a jsonb column: its UPDATE trigger probes its declared columns.
    let findings = drifted("ALTER TABLE public.documents ADD COLUMN extra json");
    assert_eq!(kinds(&findings), Vec::<FindingKind>::new(), "{findings:?}");
}

#[test]
fn a_trigger_redefined_per_row_is_found() {
    let findings = drifted(
        "DROP TRIGGER pghistory_insert ON public.labels;
         CREATE TRIGGER pghistory_insert AFTER INSERT ON public.labels
             FOR EACH ROW EXECUTE FUNCTION public.pghistory_labels_insert();",
    );
    assert_one(
        &findings,
        FindingKind::TriggerChanged,
        "public.labels",
        "pghistory_insert",
    );
}

#[test]
fn a_dropped_trigger_function_is_found() {
    let findings = drifted("DROP FUNCTION public.pghistory_posts_delete() CASCADE");
    assert_one(
        &findings,
        FindingKind::FunctionMissing,
        "public.posts",
        "pghistory_posts_delete",
    );
}

#[test]
fn a_replaced_trigger_function_is_found() {
    let findings = drifted(
        // Security as generated, so that only the body differs.
        "CREATE OR REPLACE FUNCTION public.pghistory_posts_insert() RETURNS trigger
             LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off
             AS $$ BEGIN RETURN NULL; END $$;",
    );
    assert_one(
        &findings,
        FindingKind::FunctionReplaced,
        "public.posts",
        "pghistory_posts_insert",
    );
}

#[test]
fn a_function_installed_for_another_schema_rs_is_found() {
    let findings = drifted(
        "COMMENT ON FUNCTION public.pghistory_notes_update() IS 'pghistory-diesel 0123456789abcdef'",
    );
    let finding = assert_one(
        &findings,
        FindingKind::FunctionOutdated,
        "public.notes",
        "pghistory_notes_update",
    );
    assert_eq!(finding.found.as_deref(), Some("0123456789abcdef"));
}

#[test]
fn a_function_with_other_security_is_found() {
    // The generated functions are SECURITY DEFINER: one turned into an invoker function
    // would run as the application role.
    let findings = drifted("ALTER FUNCTION public.pghistory_posts_update() SECURITY INVOKER");
    assert_one(
        &findings,
        FindingKind::FunctionSecurity,
        "public.posts",
        "pghistory_posts_update",
    );
    // A setting added (a search_path of the attacker's choosing, say) is found too.
    let findings =
        drifted("ALTER FUNCTION public.pghistory_posts_update() SET search_path = public");
    assert_one(
        &findings,
        FindingKind::FunctionSecurity,
        "public.posts",
        "pghistory_posts_update",
    );
}

#[test]
fn the_security_fix_restores_what_the_generator_declares() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute(
        "ALTER FUNCTION public.pghistory_posts_update() SECURITY INVOKER SET work_mem = '64kB'",
    )
    .unwrap();
    let findings = check::check_all(&mut conn, &schema_tables()).unwrap();
    let finding = assert_one(
        &findings,
        FindingKind::FunctionSecurity,
        "public.posts",
        "pghistory_posts_update",
    );
    let statement = finding.fix.split('`').nth(1).unwrap();
    conn.batch_execute(statement).unwrap();
    assert!(check::check_all(&mut conn, &schema_tables())
        .unwrap()
        .is_empty());
}

/// A role of this test's own (roles are cluster-wide), dropped at the end.
struct Role {
    name: String,
}

impl Role {
    fn new(conn: &mut PgConnection, purpose: &str) -> Role {
        let name = pghistory_diesel_tests::unique_role_name(&format!("check_{purpose}"));
        conn.batch_execute(&format!("CREATE ROLE {name} NOLOGIN"))
            .unwrap();
        Role { name }
    }

    fn drop_in(self, conn: &mut PgConnection) {
        conn.batch_execute(&format!(
            "REASSIGN OWNED BY {0} TO CURRENT_USER; DROP OWNED BY {0}; DROP ROLE {0}",
            self.name
        ))
        .unwrap();
    }
}

#[test]
fn a_function_or_events_table_of_another_owner_is_found() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let role = Role::new(&mut conn, "owner");
    conn.batch_execute(&format!(
        "ALTER FUNCTION public.pghistory_posts_insert() OWNER TO {}",
        role.name
    ))
    .unwrap();
    let findings = check::check_all(&mut conn, &schema_tables()).unwrap();
    let finding = assert_one(
        &findings,
        FindingKind::FunctionOwner,
        "public.posts",
        "pghistory_posts_insert",
    );
    assert_eq!(finding.found, Some(format!("owner {}", role.name)));

    conn.batch_execute(&format!(
        "ALTER FUNCTION public.pghistory_posts_insert() OWNER TO pghistory_owner;
         ALTER TABLE public.notes_events OWNER TO {}",
        role.name
    ))
    .unwrap();
    let findings = check::check_all(&mut conn, &schema_tables()).unwrap();
    assert_one(
        &findings,
        FindingKind::EventsTableOwner,
        "public.notes",
        "notes_events",
    );
    role.drop_in(&mut conn);
}

#[test]
fn a_disabled_append_only_guard_is_found() {
    let findings =
        drifted_trackers("ALTER TABLE public.ledger_events DISABLE TRIGGER pghistory_append_only");
    assert_one(
        &findings,
        FindingKind::GuardDisabled,
        "public.ledger",
        "pghistory_append_only",
    );
    // Replica mode: the guard does not fire in ordinary sessions either.
    let findings = drifted_trackers(
        "ALTER TABLE public.ledger_events ENABLE REPLICA TRIGGER pghistory_append_only_truncate",
    );
    assert_one(
        &findings,
        FindingKind::GuardDisabled,
        "public.ledger",
        "pghistory_append_only_truncate",
    );
}

#[test]
fn a_dropped_append_only_guard_is_found() {
    let findings = drifted_trackers("DROP TRIGGER pghistory_append_only ON public.ledger_events");
    assert_one(
        &findings,
        FindingKind::GuardMissing,
        "public.ledger",
        "pghistory_append_only",
    );
    let findings =
        drifted_trackers("DROP FUNCTION public.pghistory_ledger_events_protect() CASCADE");
    assert_one(
        &findings,
        FindingKind::GuardMissing,
        "public.ledger",
        "pghistory_ledger_events_protect",
    );
}

#[test]
fn a_replaced_append_only_guard_is_found() {
    let findings = drifted_trackers(
        "CREATE OR REPLACE FUNCTION public.pghistory_ledger_events_protect() RETURNS trigger
             LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
             AS $$ BEGIN RETURN NULL; END $$;",
    );
    assert_one(
        &findings,
        FindingKind::GuardReplaced,
        "public.ledger",
        "pghistory_ledger_events_protect",
    );
}

#[test]
fn a_dropped_events_table_is_found() {
    let findings = drifted("DROP TABLE public.labels_events");
    assert_one(
        &findings,
        FindingKind::EventsTableMissing,
        "public.labels",
        "labels_events",
    );
}

#[test]
fn a_dropped_tracked_table_is_found() {
    let findings = drifted("DROP TABLE public.labels CASCADE");
    assert_one(
        &findings,
        FindingKind::TableMissing,
        "public.labels",
        "\"labels\"",
    );
}

#[test]
fn a_dropped_tracked_column_is_found() {
    let findings = drifted("ALTER TABLE public.posts DROP COLUMN body");
    assert_one(
        &findings,
        FindingKind::ColumnMissing,
        "public.posts",
        "\"body\"",
    );
}

#[test]
fn a_renamed_tracked_column_is_found() {
    // `posts` compares whole rows, so the new name is an undeclared column as well.
    let findings = drifted("ALTER TABLE public.posts RENAME COLUMN title TO headline");
    assert_eq!(
        kinds(&findings),
        [FindingKind::ColumnMissing, FindingKind::ColumnUndeclared],
        "{findings:#?}"
    );
    assert!(findings[0].object.ends_with("\"title\""), "{findings:?}");
    assert!(findings[1].object.ends_with("\"headline\""), "{findings:?}");
    // `documents` compares its declared columns one by one: the old name only.
    let findings = drifted("ALTER TABLE public.documents RENAME COLUMN raw TO bytes");
    assert_one(
        &findings,
        FindingKind::ColumnMissing,
        "public.documents",
        "\"raw\"",
    );
}

#[test]
fn a_retyped_tracked_column_is_found_in_both_tables() {
    let findings = drifted("ALTER TABLE public.posts ALTER COLUMN score TYPE bigint");
    assert_eq!(
        kinds(&findings),
        vec![FindingKind::ColumnType, FindingKind::EventsColumnType],
        "{findings:#?}"
    );
    assert_eq!(findings[0].found.as_deref(), Some("bigint"));
    assert_eq!(findings[0].expected.as_deref(), Some("integer"));
    assert_eq!(findings[1].found.as_deref(), Some("integer"));
    assert_eq!(findings[1].expected.as_deref(), Some("bigint"));
}

#[test]
fn a_tracked_column_of_another_length_is_found_in_the_events_table() {
    // schema.rs says Varchar either way; the events table copied varchar(20).
    let findings = drifted(r#"ALTER TABLE public."order" ALTER COLUMN "select" TYPE varchar(40)"#);
    let finding = assert_one(
        &findings,
        FindingKind::EventsColumnType,
        "public.order",
        "\"select\"",
    );
    assert_eq!(finding.found.as_deref(), Some("character varying(20)"));
    assert_eq!(finding.expected.as_deref(), Some("character varying(40)"));
}

#[test]
fn a_dropped_or_renamed_events_column_is_found() {
    let findings = drifted("ALTER TABLE public.posts_events DROP COLUMN title");
    assert_one(
        &findings,
        FindingKind::EventsColumnMissing,
        "public.posts",
        "\"title\"",
    );
    let findings = drifted("ALTER TABLE public.posts_events RENAME COLUMN pgh_label TO label");
    assert_one(
        &findings,
        FindingKind::EventsColumnMissing,
        "public.posts",
        "\"pgh_label\"",
    );
}

#[test]
fn a_retyped_events_column_is_found() {
    let findings = drifted("ALTER TABLE public.posts_events ALTER COLUMN score TYPE bigint");
    assert_one(
        &findings,
        FindingKind::EventsColumnType,
        "public.posts",
        "\"score\"",
    );
    // varchar reads like text, but it is not what the migration created.
    let findings =
        drifted("ALTER TABLE public.posts_events ALTER COLUMN pgh_label TYPE varchar(10)");
    assert_one(
        &findings,
        FindingKind::EventsColumnType,
        "public.posts",
        "\"pgh_label\"",
    );
}

#[test]
fn an_extra_trigger_deleting_events_is_found() {
    let findings = drifted(
        "CREATE FUNCTION public.forget() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN DELETE FROM public.posts_events; RETURN NULL; END $$;
         CREATE TRIGGER zz_forget AFTER INSERT ON public.posts
             FOR EACH STATEMENT EXECUTE FUNCTION public.forget();",
    );
    let finding = assert_one(
        &findings,
        FindingKind::UnknownTrigger,
        "public.posts",
        "zz_forget",
    );
    assert!(finding.object.contains("forget()"), "{}", finding.object);
    // The same on the events table itself.
    let findings = drifted(
        "CREATE FUNCTION public.forget() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN DELETE FROM public.posts_events; RETURN NULL; END $$;
         CREATE TRIGGER forget AFTER INSERT ON public.posts_events
             FOR EACH STATEMENT EXECUTE FUNCTION public.forget();",
    );
    assert_one(
        &findings,
        FindingKind::UnknownTrigger,
        "public.posts",
        "posts_events",
    );
}

#[test]
fn an_allowed_application_trigger_on_a_tracked_table_is_not_reported() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute(
        "CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RETURN NEW; END $$;
         CREATE TRIGGER touch BEFORE UPDATE ON public.posts
             FOR EACH ROW EXECUTE FUNCTION public.touch();",
    )
    .unwrap();
    let options = CheckOptions {
        allowed_triggers: vec!["touch".to_owned()],
        ..CheckOptions::default()
    };
    assert!(matches!(
        check::check_table::<posts::table>(&mut conn),
        Err(Error::Drift(f)) if f.kind == FindingKind::UnknownTrigger
    ));
    check::check_table_with::<posts::table>(&mut conn, &options).unwrap();
    assert!(check::check_all_with(&mut conn, &schema_tables(), &options)
        .unwrap()
        .is_empty());

    // On an events table a trigger of that name is still reported.
    conn.batch_execute(
        "CREATE TRIGGER touch BEFORE INSERT ON public.posts_events
             FOR EACH ROW EXECUTE FUNCTION public.touch();",
    )
    .unwrap();
    let findings = check::check_all_with(&mut conn, &schema_tables(), &options).unwrap();
    assert_one(
        &findings,
        FindingKind::UnknownTrigger,
        "public.posts",
        "touch on \"public\".\"posts_events\"",
    );
}

#[test]
fn a_missing_setup_is_found() {
    let findings = drifted("DROP FUNCTION public.pghistory_attach_context(uuid, jsonb, boolean)");
    assert_one(
        &findings,
        FindingKind::SetupMissing,
        "",
        "pghistory_context",
    );
}

#[test]
fn events_pointing_at_no_context_are_found_when_asked() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    // A context id set by hand, naming no row: asserted by the application, not checked.
    conn.batch_execute(
        "SELECT set_config('pghistory.context_id', gen_random_uuid()::text, false);
         INSERT INTO public.posts (title) VALUES ('a'), ('b');",
    )
    .unwrap();
    let tables = schema_tables();
    assert!(check::check_all(&mut conn, &tables).unwrap().is_empty());
    let findings = check::check_all_with(
        &mut conn,
        &tables,
        &CheckOptions {
            orphan_events: true,
            ..CheckOptions::default()
        },
    )
    .unwrap();
    let finding = assert_one(
        &findings,
        FindingKind::OrphanEvents,
        "public.posts",
        "posts_events",
    );
    assert_eq!(finding.found.as_deref(), Some("2 events"));
}

#[test]
fn every_finding_is_one_line_with_a_fix() {
    let findings = drifted(
        "ALTER TABLE public.posts ENABLE REPLICA TRIGGER pghistory_update;
         ALTER TABLE public.posts RENAME COLUMN title TO headline;
         DROP TABLE public.labels_events;",
    );
    // The rename is two findings: `title` missing, `headline` undeclared.
    assert_eq!(findings.len(), 4, "{findings:#?}");
    for finding in &findings {
        let line = finding.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("; fix: "), "{line}");
        assert!(line.starts_with(&finding.table), "{line}");
    }
}

#[test]
fn a_setup_function_with_other_security_is_found_and_its_fix_works() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    conn.batch_execute(
        "ALTER FUNCTION public.pghistory_attach_context(uuid, jsonb, boolean) SECURITY INVOKER",
    )
    .unwrap();
    let findings = check::check_all(&mut conn, &schema_tables()).unwrap();
    let finding = assert_one(
        &findings,
        FindingKind::FunctionSecurity,
        "",
        "pghistory_attach_context",
    );
    let statement = finding.fix.split('`').nth(1).unwrap();
    conn.batch_execute(statement).unwrap();
    assert!(check::check_all(&mut conn, &schema_tables())
        .unwrap()
        .is_empty());
}

#[test]
fn a_dropped_setup_function_is_found() {
    let findings = drifted("DROP FUNCTION public.pghistory_pause(text)");
    assert_one(
        &findings,
        FindingKind::SetupFunctionMissing,
        "",
        "\"pghistory_pause\"(text)",
    );
}

#[test]
fn a_setup_function_of_another_owner_is_found() {
    let db = TestDb::migrated();
    let mut conn = db.conn();
    let role = Role::new(&mut conn, "setup_owner");
    conn.batch_execute(&format!(
        "ALTER FUNCTION public.pghistory_prune(regclass, timestamptz) OWNER TO {}",
        role.name
    ))
    .unwrap();
    let findings = check::check_all(&mut conn, &schema_tables()).unwrap();
    let finding = assert_one(&findings, FindingKind::FunctionOwner, "", "pghistory_prune");
    assert_eq!(finding.found, Some(format!("owner {}", role.name)));
    conn.batch_execute(finding.fix.split('`').nth(1).unwrap())
        .unwrap();
    assert!(check::check_all(&mut conn, &schema_tables())
        .unwrap()
        .is_empty());
    role.drop_in(&mut conn);
}

#[test]
fn pause_or_prune_granted_to_public_is_found() {
    for (function, object) in [
        ("pghistory_pause(text)", "\"pghistory_pause\"(text)"),
        (
            "pghistory_prune(regclass, timestamptz)",
            "\"pghistory_prune\"(regclass, timestamptz)",
        ),
    ] {
        let db = TestDb::migrated();
        let mut conn = db.conn();
        conn.batch_execute(&format!(
            "GRANT EXECUTE ON FUNCTION public.{function} TO PUBLIC"
        ))
        .unwrap();
        let findings = check::check_all(&mut conn, &schema_tables()).unwrap();
        let finding = assert_one(&findings, FindingKind::FunctionPrivilege, "", object);
        conn.batch_execute(finding.fix.split('`').nth(1).unwrap())
            .unwrap();
        assert!(check::check_all(&mut conn, &schema_tables())
            .unwrap()
            .is_empty());
    }
}

#[test]
fn a_disabled_or_dropped_context_guard_is_found() {
    let findings =
        drifted("ALTER TABLE public.pghistory_context DISABLE TRIGGER pghistory_immutable");
    assert_one(
        &findings,
        FindingKind::GuardDisabled,
        "",
        "pghistory_immutable on \"public\".\"pghistory_context\"",
    );
    let findings =
        drifted("DROP TRIGGER pghistory_immutable_truncate ON public.pghistory_capability");
    assert_one(
        &findings,
        FindingKind::GuardMissing,
        "",
        "pghistory_immutable_truncate on \"public\".\"pghistory_capability\"",
    );
}

#[test]
fn row_level_security_turned_off_is_found_on_setup_and_events_tables() {
    for (sql, table, relation) in [
        (
            "ALTER TABLE public.pghistory_context DISABLE ROW LEVEL SECURITY",
            "",
            "\"public\".\"pghistory_context\"",
        ),
        (
            "ALTER TABLE public.posts_events DISABLE ROW LEVEL SECURITY",
            "public.posts",
            "\"public\".\"posts_events\"",
        ),
    ] {
        let db = TestDb::migrated();
        let mut conn = db.conn();
        conn.batch_execute(sql).unwrap();
        let findings = check::check_all(&mut conn, &schema_tables()).unwrap();
        let finding = assert_one(&findings, FindingKind::RowSecurityDisabled, table, relation);
        conn.batch_execute(finding.fix.split('`').nth(1).unwrap())
            .unwrap();
        assert!(check::check_all(&mut conn, &schema_tables())
            .unwrap()
            .is_empty());
    }
}
