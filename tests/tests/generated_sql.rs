//! The codegen crate's SQL on a real server, for tables declared here rather than in
//! schema.rs: the migrations `pghistory-diesel generate` would write are planned in memory
//! with `sql::migration::plan`, applied up and down, and the triggers exercised with raw SQL.

use ::quote::quote as tokens;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Jsonb, Text};
use pghistory_diesel_codegen::sql::migration::{self, ExistingMigration, MigrationFiles};
use pghistory_diesel_codegen::sql::quote;
use pghistory_diesel_codegen::TrackedTable;
use pghistory_diesel_tests::TestDb;
use serde_json::{json, Value};

fn table(input: proc_macro2::TokenStream) -> TrackedTable {
    pghistory_diesel_codegen::table_from_tokens(input).unwrap()
}

/// A database with the setup migration applied and `app_sql` run.
fn database(app_sql: &str) -> (TestDb, PgConnection) {
    let db = TestDb::empty();
    let mut conn = db.conn();
    conn.batch_execute(&migration::setup_files().up).unwrap();
    conn.batch_execute(app_sql).unwrap();
    (db, conn)
}

/// Plans the next migration for `tables` over `applied`, applies its `up.sql` in a
/// transaction, as diesel does, and records it as applied.
fn migrate(
    conn: &mut PgConnection,
    tables: &[TrackedTable],
    applied: &mut Vec<MigrationFiles>,
) -> MigrationFiles {
    let existing: Vec<ExistingMigration> = applied
        .iter()
        .map(|m| ExistingMigration {
            dir_name: m.dir_name.clone(),
            up: m.up.clone(),
        })
        .collect();
    let version = format!("2024-01-{:02}-000000", applied.len() + 1);
    let migration::Plan { files, .. } = migration::plan(tables, &existing, &version);
    let files = files.expect("a migration to apply");
    conn.transaction::<_, diesel::result::Error, _>(|c| c.batch_execute(&files.up))
        .unwrap_or_else(|e| panic!("up.sql of {} failed: {e}\n{}", files.dir_name, files.up));
    applied.push(files.clone());
    files
}

fn revert(conn: &mut PgConnection, files: &MigrationFiles) {
    conn.transaction::<_, diesel::result::Error, _>(|c| c.batch_execute(&files.down))
        .unwrap_or_else(|e| panic!("down.sql of {} failed: {e}\n{}", files.dir_name, files.down));
}

#[derive(QueryableByName)]
struct Json {
    #[diesel(sql_type = Jsonb)]
    v: Value,
}

/// The events of `events` (a quoted, qualified name), oldest first, as JSON objects
/// without the columns whose values vary between runs.
fn events(conn: &mut PgConnection, events: &str) -> Vec<Value> {
    let row: Json = diesel::sql_query(format!(
        "SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(e) - 'pgh_id' - 'pgh_created_at' - 'pgh_context_id' ORDER BY e.pgh_id), '[]') AS v FROM {events} e"
    ))
    .get_result(conn)
    .unwrap();
    match row.v {
        Value::Array(items) => items,
        other => panic!("not an array: {other}"),
    }
}

/// Names of our objects (and of `extra` patterns) left in the database.
fn leftovers(conn: &mut PgConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    diesel::sql_query(
        // Not the catalog's own relations: PostgreSQL 17 added the view pg_wait_events.
        "SELECT 'table ' || c.relname AS name FROM pg_catalog.pg_class c
          WHERE c.relname LIKE '%\\_events%'
            AND c.relnamespace <> 'pg_catalog'::pg_catalog.regnamespace
         UNION ALL
         SELECT 'function ' || p.proname FROM pg_catalog.pg_proc p
          WHERE p.proname LIKE 'pghistory\\_%' AND p.proname NOT IN
                ('pghistory_attach_context', 'pghistory_detach_context', 'pghistory_prune',
                 'pghistory_pause', 'pghistory_immutable', 'pghistory_owner_only')
         UNION ALL
         SELECT 'trigger ' || t.tgname FROM pg_catalog.pg_trigger t WHERE t.tgname LIKE 'pghistory%'
            AND t.tgrelid NOT IN ('public.pghistory_context'::regclass, 'public.pghistory_capability'::regclass)
         ORDER BY 1",
    )
    .load::<Name>(conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

#[test]
fn names_with_quotes_percent_signs_and_spaces_install_record_and_uninstall() {
    let (_db, mut conn) = database(
        r#"CREATE TABLE "we""ird's %t" (
               "i d" text PRIMARY KEY,
               "user" text NOT NULL,
               "sel""ect" integer,
               "100%" numeric(5, 2)
           );"#,
    );
    let weird = table(tokens! {
        // The events schema must be a Rust identifier (Diesel names it in `table!`);
        // its capitals still need quoting.
        #[pghistory(events(insert, update, delete), schema = "Hist_Ory")]
        #[sql_name = "we\"ird's %t"]
        weird (id) {
            #[sql_name = "i d"]
            id -> Text,
            #[sql_name = "user"]
            user_name -> Text,
            #[sql_name = "sel\"ect"]
            selection -> Nullable<Int4>,
            #[sql_name = "100%"]
            percent -> Nullable<Numeric>,
        }
    });

    let mut applied = Vec::new();
    let install = migrate(&mut conn, std::slice::from_ref(&weird), &mut applied);
    let tracked = quote::qualified("public", "we\"ird's %t");
    conn.batch_execute(&format!(
        r#"INSERT INTO {tracked} VALUES ('a''1', 'it''s "me"', 1, 12.5);
           UPDATE {tracked} SET "sel""ect" = 2, "100%" = NULL;
           UPDATE {tracked} SET "user" = "user";
           DELETE FROM {tracked};"#
    ))
    .unwrap();
    // The events table lives in the schema named by the option, created for it.
    let found = events(
        &mut conn,
        &quote::qualified("Hist_Ory", "we\"ird's %t_events"),
    );
    assert_eq!(
        found,
        [
            json!({"pgh_label": "insert", "pgh_obj_id": "a'1", "i d": "a'1", "user": "it's \"me\"", "sel\"ect": 1, "100%": 12.5}),
            json!({"pgh_label": "update", "pgh_obj_id": "a'1", "i d": "a'1", "user": "it's \"me\"", "sel\"ect": 2, "100%": null}),
            json!({"pgh_label": "delete", "pgh_obj_id": "a'1", "i d": "a'1", "user": "it's \"me\"", "sel\"ect": 2, "100%": null}),
        ]
    );

    revert(&mut conn, &install);
    assert_eq!(leftovers(&mut conn), Vec::<String>::new());
    let schemas_left: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        r#"SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = 'Hist_Ory'"#,
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(
        schemas_left, 0,
        "the events schema created for it is dropped"
    );
}

#[test]
fn names_at_the_63_byte_limit_get_distinct_objects() {
    // Two 55-byte names sharing a 50-byte prefix: their function names must be shortened
    // to 63 bytes without colliding.
    let a = format!("{}_alpha", "t".repeat(49));
    let b = format!("{}_bravo", "t".repeat(49));
    assert_eq!((a.len(), b.len()), (55, 55));
    let (_db, mut conn) = database(&format!(
        "CREATE TABLE {a} (id integer PRIMARY KEY, v text); CREATE TABLE {b} (id integer PRIMARY KEY, v text);",
        a = quote::ident(&a),
        b = quote::ident(&b)
    ));
    let ta = table(tokens! {
        #[pghistory(events(insert, update, delete))]
        #[sql_name = #a]
        first (id) { id -> Int4, v -> Nullable<Text>, }
    });
    let tb = table(tokens! {
        #[pghistory(events(insert, update, delete))]
        #[sql_name = #b]
        second (id) { id -> Int4, v -> Nullable<Text>, }
    });
    let mut applied = Vec::new();
    let install = migrate(&mut conn, &[ta, tb], &mut applied);
    for name in [&a, &b] {
        conn.batch_execute(&format!(
            "INSERT INTO {t} VALUES (1, 'x'); UPDATE {t} SET v = 'y'; DELETE FROM {t};",
            t = quote::ident(name)
        ))
        .unwrap();
        let labels: Vec<Value> = events(&mut conn, &quote::ident(&format!("{name}_events")))
            .into_iter()
            .map(|e| e["pgh_label"].clone())
            .collect();
        assert_eq!(labels, ["insert", "update", "delete"], "table {name}");
    }
    revert(&mut conn, &install);
    assert_eq!(leftovers(&mut conn), Vec::<String>::new());
}

#[test]
fn a_partitioned_table_pairs_rows_that_move_between_partitions() {
    let (_db, mut conn) = database(
        "CREATE TABLE measures (id integer, region text NOT NULL, v integer NOT NULL, PRIMARY KEY (id, region))
             PARTITION BY LIST (region);
         CREATE TABLE measures_north PARTITION OF measures FOR VALUES IN ('north');
         CREATE TABLE measures_south PARTITION OF measures FOR VALUES IN ('south');",
    );
    let measures = table(tokens! {
        #[pghistory(events(insert, update, delete))]
        measures (id) {
            id -> Int4,
            region -> Text,
            v -> Int4,
        }
    });
    let mut applied = Vec::new();
    migrate(&mut conn, &[measures], &mut applied);
    conn.batch_execute(
        "INSERT INTO measures SELECT g, CASE WHEN g % 2 = 0 THEN 'north' ELSE 'south' END, g FROM generate_series(1, 20) g;
         UPDATE measures SET region = CASE region WHEN 'north' THEN 'south' ELSE 'north' END, v = v * 100 WHERE id <= 10;",
    )
    .unwrap();
    let updates: Vec<Value> = events(&mut conn, "\"public\".\"measures_events\"")
        .into_iter()
        .filter(|e| e["pgh_label"] == "update")
        .collect();
    assert_eq!(updates.len(), 10);
    for e in &updates {
        let id = e["id"].as_i64().unwrap();
        assert_eq!(e["pgh_obj_id"], id, "{e}");
        assert_eq!(e["v"], id * 100, "{e}");
        let moved_to = if id % 2 == 0 { "south" } else { "north" };
        assert_eq!(e["region"], moved_to, "{e}");
    }
}

#[test]
fn untracking_then_tracking_again_keeps_the_history_in_the_same_events_table() {
    let (_db, mut conn) =
        database("CREATE TABLE posts (id integer PRIMARY KEY, title text NOT NULL, body text);");
    let v1 = table(tokens! {
        posts (id) { id -> Int4, title -> Text, }
    });
    let v3 = table(tokens! {
        #[pghistory(events(insert, update, delete))]
        posts (id) { id -> Int4, title -> Text, body -> Nullable<Text>, }
    });
    let mut applied = Vec::new();
    let install = migrate(&mut conn, &[v1], &mut applied);
    conn.batch_execute("INSERT INTO posts VALUES (1, 'tracked', NULL)")
        .unwrap();
    let untrack = migrate(&mut conn, &[], &mut applied);
    conn.batch_execute("UPDATE posts SET title = 'untracked'")
        .unwrap();
    let retrack = migrate(&mut conn, &[v3], &mut applied);
    conn.batch_execute("UPDATE posts SET title = 'tracked again', body = 'b'; DELETE FROM posts;")
        .unwrap();

    let summary = |conn: &mut PgConnection| -> Vec<(String, String)> {
        events(conn, "\"public\".\"posts_events\"")
            .into_iter()
            .map(|e| {
                (
                    e["pgh_label"].as_str().unwrap().to_owned(),
                    e["title"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let expected = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        summary(&mut conn),
        expected(&[
            ("insert", "tracked"),
            ("update", "tracked again"),
            ("delete", "tracked again")
        ])
    );

    // Reverting the re-tracking keeps the history, and the untracking's down restores the
    // first triggers.
    revert(&mut conn, &retrack);
    assert_eq!(summary(&mut conn).len(), 3);
    revert(&mut conn, &untrack);
    conn.batch_execute("INSERT INTO posts VALUES (2, 'restored', NULL)")
        .unwrap();
    assert_eq!(summary(&mut conn).last().unwrap().1, "restored");
    revert(&mut conn, &install);
    assert_eq!(leftovers(&mut conn), Vec::<String>::new());
}

#[test]
fn changing_the_context_mode_upgrades_the_events_table() {
    let (_db, mut conn) =
        database("CREATE TABLE notes (id integer PRIMARY KEY, text text NOT NULL);");
    let none = table(tokens! {
        #[pghistory(events(insert, update), context = none)]
        notes (id) { id -> Int4, text -> Text, }
    });
    let fk = table(tokens! {
        #[pghistory(events(insert, update))]
        notes (id) { id -> Int4, text -> Text, }
    });
    let json_mode = table(tokens! {
        #[pghistory(events(insert, update), context = json)]
        notes (id) { id -> Int4, text -> Text, }
    });
    let mut applied = Vec::new();
    let first = migrate(&mut conn, &[none], &mut applied);
    conn.batch_execute("INSERT INTO notes VALUES (1, 'none')")
        .unwrap();
    let second = migrate(&mut conn, &[fk], &mut applied);
    conn.batch_execute(
        "BEGIN; SELECT pghistory_attach_context(NULL, '{\"who\": \"fk\"}', true); INSERT INTO notes VALUES (2, 'fk'); COMMIT;",
    )
    .unwrap();
    let third = migrate(&mut conn, &[json_mode], &mut applied);
    conn.batch_execute(
        "BEGIN; SELECT pghistory_attach_context(NULL, '{\"who\": \"json\"}', true); INSERT INTO notes VALUES (3, 'json'); COMMIT;",
    )
    .unwrap();
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pgh_obj_id: i32,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        has_context_id: bool,
        #[diesel(sql_type = diesel::sql_types::Nullable<Jsonb>)]
        pgh_context: Option<Value>,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT pgh_obj_id, pgh_context_id IS NOT NULL AS has_context_id, pgh_context FROM notes_events ORDER BY pgh_id",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(
        rows,
        [
            Row {
                pgh_obj_id: 1,
                has_context_id: false,
                pgh_context: None
            },
            Row {
                pgh_obj_id: 2,
                has_context_id: true,
                pgh_context: None
            },
            Row {
                pgh_obj_id: 3,
                has_context_id: true,
                pgh_context: Some(json!({"who": "json"}))
            },
        ]
    );

    // Each down restores the previous mode's triggers, and writes keep working.
    revert(&mut conn, &third);
    conn.batch_execute("INSERT INTO notes VALUES (4, 'fk again')")
        .unwrap();
    revert(&mut conn, &second);
    conn.batch_execute("INSERT INTO notes VALUES (5, 'none again')")
        .unwrap();
    let count: i64 =
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM notes_events")
            .get_result(&mut conn)
            .unwrap();
    assert_eq!(count, 5);
    revert(&mut conn, &first);
    assert_eq!(leftovers(&mut conn), Vec::<String>::new());
}

#[test]
fn a_changed_column_type_is_followed_by_the_events_table() {
    let (_db, mut conn) =
        database("CREATE TABLE items (id integer PRIMARY KEY, code integer NOT NULL);");
    let v1 = table(tokens! {
        items (id) { id -> Int4, code -> Int4, }
    });
    let mut applied = Vec::new();
    migrate(&mut conn, &[v1], &mut applied);
    conn.batch_execute("INSERT INTO items VALUES (1, 7)")
        .unwrap();
    // The app's own migration changes the type; schema.rs follows.
    conn.batch_execute("ALTER TABLE items ALTER COLUMN code TYPE text")
        .unwrap();
    let v2 = table(tokens! {
        items (id) { id -> Int4, code -> Text, }
    });
    migrate(&mut conn, &[v2], &mut applied);
    conn.batch_execute("INSERT INTO items VALUES (2, 'A-2')")
        .unwrap();
    let codes: Vec<Value> = events(&mut conn, "\"public\".\"items_events\"")
        .into_iter()
        .map(|e| e["code"].clone())
        .collect();
    assert_eq!(
        codes,
        [json!("7"), json!("A-2")],
        "the history was converted too"
    );
}

#[test]
fn generated_identity_and_domain_columns_are_snapshotted_as_stored() {
    let (_db, mut conn) = database(
        "CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
         CREATE TABLE lines (
             id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             qty positive NOT NULL,
             price numeric(8, 2) NOT NULL,
             total numeric GENERATED ALWAYS AS (qty * price) STORED
         );",
    );
    let lines = table(tokens! {
        #[pghistory(events(insert, update))]
        lines (id) {
            id -> Int4,
            qty -> Int4,
            price -> Numeric,
            total -> Nullable<Numeric>,
        }
    });
    let mut applied = Vec::new();
    migrate(&mut conn, &[lines], &mut applied);
    conn.batch_execute(
        "INSERT INTO lines (qty, price) VALUES (2, 1.25);
         UPDATE lines SET qty = 3;",
    )
    .unwrap();
    let found: Vec<(Value, Value, Value)> = events(&mut conn, "\"public\".\"lines_events\"")
        .into_iter()
        .map(|e| (e["pgh_label"].clone(), e["qty"].clone(), e["total"].clone()))
        .collect();
    assert_eq!(
        found,
        [
            (json!("insert"), json!(2), json!(2.5)),
            (json!("update"), json!(3), json!(3.75)),
        ]
    );
    // The events table holds plain copies: no identity, no generation expression.
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Col {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        ty: String,
        #[diesel(sql_type = Text)]
        identity: String,
        #[diesel(sql_type = Text)]
        generated: String,
    }
    let cols: Vec<Col> = diesel::sql_query(
        "SELECT attname::text AS name, pg_catalog.format_type(atttypid, atttypmod) AS ty,
                attidentity::text AS identity, attgenerated::text AS generated
         FROM pg_catalog.pg_attribute
         WHERE attrelid = 'public.lines_events'::regclass AND attname IN ('id', 'qty', 'total')
         ORDER BY attnum",
    )
    .load(&mut conn)
    .unwrap();
    let col = |name: &str, ty: &str| Col {
        name: name.into(),
        ty: ty.into(),
        identity: String::new(),
        generated: String::new(),
    };
    assert_eq!(
        cols,
        [
            col("id", "integer"),
            col("qty", "positive"),
            col("total", "numeric")
        ]
    );
}

#[test]
fn a_column_made_nullable_is_made_nullable_in_the_events_table() {
    let (_db, mut conn) =
        database("CREATE TABLE items (id integer PRIMARY KEY, note text NOT NULL);");
    let v1 = table(tokens! {
        items (id) { id -> Int4, note -> Text, }
    });
    let mut applied = Vec::new();
    migrate(&mut conn, &[v1], &mut applied);
    // The app's own migration drops NOT NULL; schema.rs follows.
    conn.batch_execute("ALTER TABLE items ALTER COLUMN note DROP NOT NULL")
        .unwrap();
    let v2 = table(tokens! {
        items (id) { id -> Int4, note -> Nullable<Text>, }
    });
    migrate(&mut conn, &[v2], &mut applied);
    conn.batch_execute("INSERT INTO items VALUES (1, NULL)")
        .unwrap();
    let notes: Vec<Value> = events(&mut conn, "\"public\".\"items_events\"")
        .into_iter()
        .map(|e| e["note"].clone())
        .collect();
    assert_eq!(notes, [Value::Null]);
}

#[test]
fn a_primary_key_widened_to_bigint_widens_pgh_obj_id() {
    let (_db, mut conn) = database("CREATE TABLE big (id integer PRIMARY KEY, v text);");
    let v1 = table(tokens! {
        big (id) { id -> Int4, v -> Nullable<Text>, }
    });
    let mut applied = Vec::new();
    migrate(&mut conn, &[v1], &mut applied);
    conn.batch_execute("INSERT INTO big VALUES (1, 'small')")
        .unwrap();
    conn.batch_execute("ALTER TABLE big ALTER COLUMN id TYPE bigint")
        .unwrap();
    let v2 = table(tokens! {
        big (id) { id -> Int8, v -> Nullable<Text>, }
    });
    migrate(&mut conn, &[v2], &mut applied);
    conn.batch_execute("INSERT INTO big VALUES (1099511627776, 'big')")
        .unwrap();
    let keys: Vec<(Value, Value)> = events(&mut conn, "\"public\".\"big_events\"")
        .into_iter()
        .map(|e| (e["pgh_obj_id"].clone(), e["id"].clone()))
        .collect();
    assert_eq!(
        keys,
        [
            (json!(1), json!(1)),
            (json!(1_099_511_627_776_i64), json!(1_099_511_627_776_i64))
        ]
    );
}

#[test]
fn a_tracked_table_with_dropped_and_untracked_columns_still_pairs_updates() {
    let (_db, mut conn) = database(
        "CREATE TABLE wide (gone integer, id integer PRIMARY KEY, extra text, v integer NOT NULL);
         ALTER TABLE wide DROP COLUMN gone;",
    );
    let wide = table(tokens! {
        #[pghistory(events(insert, update), exclude(extra))]
        wide (id) {
            id -> Int4,
            extra -> Nullable<Text>,
            v -> Int4,
        }
    });
    let mut applied = Vec::new();
    migrate(&mut conn, &[wide], &mut applied);
    conn.batch_execute(
        "INSERT INTO wide (id, extra, v) SELECT g, 'e', g FROM generate_series(1, 100) g;
         ALTER TABLE wide ADD COLUMN later text;
         UPDATE wide SET v = -v, later = 'x' WHERE id % 2 = 0;
         UPDATE wide SET extra = 'only an excluded column';",
    )
    .unwrap();
    let updates: Vec<Value> = events(&mut conn, "\"public\".\"wide_events\"")
        .into_iter()
        .filter(|e| e["pgh_label"] == "update")
        .collect();
    assert_eq!(updates.len(), 50);
    for e in &updates {
        let id = e["id"].as_i64().unwrap();
        assert_eq!(id % 2, 0, "{e}");
        assert_eq!(e["v"], -id, "{e}");
        assert_eq!(e["pgh_obj_id"], id, "{e}");
        assert!(e.get("extra").is_none(), "excluded: {e}");
    }
}

#[test]
fn json_columns_are_compared_by_their_text_and_no_op_updates_write_nothing() {
    let (_db, mut conn) = database(
        "CREATE TABLE docs (id integer PRIMARY KEY, payload json, parts json[], n integer NOT NULL);",
    );
    let docs = table(tokens! {
        #[pghistory(events(insert, update))]
        #[pghistory(event(update, label = "payload_changed", when = changed(payload)))]
        docs (id) {
            id -> Int4,
            payload -> Nullable<Json>,
            parts -> Nullable<Array<Json>>,
            n -> Int4,
        }
    });
    let mut applied = Vec::new();
    migrate(&mut conn, &[docs], &mut applied);
    // json has no `=`: a plain IS DISTINCT FROM would make each of these updates fail.
    conn.batch_execute(
        r#"INSERT INTO docs VALUES (1, '{"a": 1}', ARRAY['[1]'::json], 0);
           UPDATE docs SET payload = payload, parts = parts;
           UPDATE docs SET n = 1;
           UPDATE docs SET payload = '{"a": 2}';
           UPDATE docs SET parts = ARRAY['[2]'::json];"#,
    )
    .unwrap();
    let found: Vec<(Value, Value, Value)> = events(&mut conn, "\"public\".\"docs_events\"")
        .into_iter()
        .map(|e| (e["pgh_label"].clone(), e["payload"].clone(), e["n"].clone()))
        .collect();
    assert_eq!(
        found,
        [
            (json!("insert"), json!({"a": 1}), json!(0)),
            (json!("update"), json!({"a": 1}), json!(1)),
            (json!("update"), json!({"a": 2}), json!(1)),
            (json!("payload_changed"), json!({"a": 2}), json!(1)),
            (json!("update"), json!({"a": 2}), json!(1)),
        ],
        "the no-op update wrote nothing; each real change wrote its events"
    );
}

#[test]
fn a_compared_column_whose_type_has_no_equality_stops_the_migration_by_name() {
    let (_db, mut conn) =
        database("CREATE TABLE places (id integer PRIMARY KEY, spot point, name text);");
    let places = table(tokens! {
        #[pghistory(events(insert, update))]
        places (id) {
            id -> Int4,
            #[pghistory(rust_type = "String")]
            spot -> Nullable<sql_types::Point>,
            name -> Nullable<Text>,
        }
    });
    let migration::Plan { files, .. } = migration::plan(&[places], &[], "2024-01-01-000000");
    let files = files.expect("a migration");
    let err = conn
        .transaction::<_, diesel::result::Error, _>(|c| c.batch_execute(&files.up))
        .expect_err("the migration must refuse a column it cannot compare");
    let msg = err.to_string();
    assert!(
        msg.contains(
            "column spot of \"public\".\"places\" has type point, which has no = operator"
        ),
        "{msg}"
    );
    assert!(
        leftovers(&mut conn).is_empty(),
        "nothing half-installed: {:?}",
        leftovers(&mut conn)
    );

    // Left out of the snapshot, it is no longer compared and the table can be tracked.
    let places = table(tokens! {
        #[pghistory(events(insert, update), fields(id, name))]
        places (id) {
            id -> Int4,
            #[pghistory(rust_type = "String")]
            spot -> Nullable<sql_types::Point>,
            name -> Nullable<Text>,
        }
    });
    let mut applied = Vec::new();
    migrate(&mut conn, &[places], &mut applied);
    conn.batch_execute(
        "INSERT INTO places VALUES (1, '(1,2)', 'a');
         UPDATE places SET spot = '(3,4)';
         UPDATE places SET name = 'b';",
    )
    .unwrap();
    let names: Vec<Value> = events(&mut conn, "\"public\".\"places_events\"")
        .into_iter()
        .map(|e| e["name"].clone())
        .collect();
    assert_eq!(names, [json!("a"), json!("b")]);
}

/// The default declaration's UPDATE trigger tells unchanged rows by comparing whole rows,
/// which a column the database has and schema.rs does not declare would make wrong (an
/// UPDATE of it alone would look like a change). The migration sees such a column and
/// installs the trigger without the whole-row companion: it compares the declared
/// columns one by one, and `check` finds nothing to report.
#[test]
fn an_undeclared_column_makes_the_update_trigger_compare_declared_columns() {
    let (_db, mut conn) =
        database("CREATE TABLE memos (id integer PRIMARY KEY, body text, secret text);");
    let memos = table(tokens! {
        #[pghistory(events(insert, update))]
        memos (id) {
            id -> Int4,
            body -> Nullable<Text>,
        }
    });
    let mut applied = Vec::new();
    let files = migrate(&mut conn, std::slice::from_ref(&memos), &mut applied);
    assert!(
        files.up.contains("pghistory_update_unchanged"),
        "{}",
        files.up
    );
    #[derive(QueryableByName)]
    struct Trigger {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::SmallInt)]
        nargs: i16,
    }
    let triggers: Vec<(String, i16)> = diesel::sql_query(
        "SELECT tgname::text AS name, tgnargs AS nargs FROM pg_trigger
          WHERE tgrelid = 'memos'::regclass AND tgname LIKE 'pghistory_update%' ORDER BY 1",
    )
    .load::<Trigger>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|t| (t.name, t.nargs))
    .collect();
    assert_eq!(triggers, [("pghistory_update".to_owned(), 0)]);
    conn.batch_execute(
        "INSERT INTO memos VALUES (1, 'a', 'x'), (2, 'b', 'y');
         UPDATE memos SET secret = secret || '!';
         UPDATE memos SET secret = 'z' WHERE id = 1;
         UPDATE memos SET body = body || '!' WHERE id = 2;",
    )
    .unwrap();
    let found: Vec<(Value, Value)> = events(&mut conn, "\"public\".\"memos_events\"")
        .into_iter()
        .map(|e| (e["pgh_label"].clone(), e["body"].clone()))
        .collect();
    assert_eq!(
        found,
        [
            (json!("insert"), json!("a")),
            (json!("insert"), json!("b")),
            (json!("update"), json!("b!")),
        ],
        "the updates of the undeclared column alone wrote nothing"
    );
    // And `check` takes the trigger without the argument as the one installed.
    let findings = pghistory_diesel::check::table_findings(
        &mut conn,
        &pghistory_diesel_codegen::sql::expected::expected(&memos),
        &pghistory_diesel::check::CheckOptions::default(),
    )
    .unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
}

/// On a table whose UPDATE trigger compares whole rows: a statement with one unchanged
/// row among changed ones records the changed ones only, at one row and at many; a key
/// swap pairs each row with itself; a no-op statement does not leave its mark on the
/// next statement of the transaction. The byte-wise comparison never fails: a `json`
/// column added later (no `=` operator) does not break the table's updates.
#[test]
fn rows_compared_whole_record_exactly_the_changed_ones() {
    let (_db, mut conn) =
        database("CREATE TABLE cards (id integer PRIMARY KEY DEFERRABLE INITIALLY DEFERRED, title text, n bigint);");
    let cards = table(tokens! {
        #[pghistory(events(update))]
        cards (id) {
            id -> Int4,
            title -> Nullable<Text>,
            n -> Int8,
        }
    });
    let mut applied = Vec::new();
    let files = migrate(&mut conn, &[cards], &mut applied);
    assert!(
        files.up.contains("pghistory_update_unchanged"),
        "{}",
        files.up
    );
    let updates = |conn: &mut PgConnection| -> Vec<(i64, i64)> {
        events(conn, "\"public\".\"cards_events\"")
            .into_iter()
            .map(|e| (e["id"].as_i64().unwrap(), e["n"].as_i64().unwrap()))
            .collect()
    };
    conn.batch_execute(
        "INSERT INTO cards SELECT g, 't' || g, g FROM generate_series(1, 1000) g;
         UPDATE cards SET n = n WHERE id = 1;
         UPDATE cards SET n = CASE WHEN id = 2 THEN n ELSE n + 1000 END WHERE id <= 3;",
    )
    .unwrap();
    let mut found = updates(&mut conn);
    found.sort();
    assert_eq!(found, [(1, 1001), (3, 1003)]);
    // Each statement a message of its own, so each has a start time of its own.
    conn.batch_execute("TRUNCATE cards_events").unwrap();
    conn.transaction::<_, diesel::result::Error, _>(|c| {
        c.batch_execute("UPDATE cards SET title = title")?;
        c.batch_execute("UPDATE cards SET n = n + 1 WHERE id <= 2")
    })
    .unwrap();
    conn.batch_execute(
        "UPDATE cards SET id = CASE id WHEN 1 THEN 2 WHEN 2 THEN 1 END WHERE id <= 2",
    )
    .unwrap();
    let mut found = updates(&mut conn);
    found.sort();
    assert_eq!(
        found,
        [(1, 3), (1, 1002), (2, 3), (2, 1002)],
        "the all-no-op statement wrote nothing, the next one both rows, the swap both"
    );
    conn.batch_execute(
        "TRUNCATE cards_events;
         ALTER TABLE cards ADD COLUMN meta json;
         UPDATE cards SET meta = '{}' WHERE id <= 500;
         UPDATE cards SET n = n + 1 WHERE id = 1000;",
    )
    .expect("a column without = does not break updates");
    assert_eq!(updates(&mut conn).len(), 501);
}
