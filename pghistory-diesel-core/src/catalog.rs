//! Catalog queries that compare what is installed with what the code declares.

/// The state of one trigger function and its trigger. Binds: `$1` the function signature
/// (`"schema"."name"()`), `$2` the tracked table (`"schema"."table"`), `$3` the trigger
/// name. No row: the function does not exist. Columns: `body` (its source), `comment`
/// (where our migrations record the fingerprint they installed), `enabled`
/// (`pg_trigger.tgenabled` of that trigger on that table, NULL when there is no such
/// trigger calling this function).
pub const TRIGGER_STATE: &str = r#"SELECT p.prosrc AS "body",
       pg_catalog.obj_description(p.oid, 'pg_proc') AS "comment",
       (SELECT t.tgenabled::text FROM pg_catalog.pg_trigger t
         WHERE t.tgfoid OPERATOR(pg_catalog.=) p.oid
           AND t.tgrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($2)
           AND t.tgname OPERATOR(pg_catalog.=) $3::name) AS "enabled"
  FROM pg_catalog.pg_proc p
 WHERE p.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure($1)"#;
