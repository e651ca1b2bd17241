//! The setup migration: the context table and the functions the runtime calls.
//!
//! Context rows are immutable snapshots. Each time a scope starts, or a nested scope changes
//! the metadata, `pghistory_attach_context` inserts one new row (a fresh `id`, the scope's
//! shared `scope_id`, the metadata in force) and points the session setting at it. Triggers
//! only read that setting, so:
//! - every event reports the metadata in force when it was written, never later metadata;
//! - nothing is upserted per row or per statement, and no row is shared between
//!   transactions, so transactions of one scope never wait on each other.
//!
//! Privileges: the setup creates (when missing) the history owner and maintainer roles
//! (`NOLOGIN`), makes the owner own the context table, the capability table and every
//! function, and enables row level security on both tables with only a `SELECT` policy.
//! Only the functions (`SECURITY DEFINER`) write them; a role granted `ALL` on the tables
//! inserts nothing (the policy refuses it), updates and deletes nothing (statement guards
//! refuse it loudly) and truncates nothing (the same guards). Pausing and pruning are
//! capabilities: `pghistory_pause` and `pghistory_prune` are executable only by the
//! maintainer role (and the owner), and record each grant in `pghistory_capability`, which
//! the triggers and guards consult before honouring `pghistory.pause` / `pghistory.prune`.

use super::{function, names, quote};
use pghistory_diesel_core::vocab::{self, DOLLAR_TAG, SETUP_SCHEMA};

/// The folder name of the setup migration (sorts before anything diesel generates).
pub const MIGRATION_NAME: &str = "00000000000001_pghistory_setup";

/// The context table's name, and the capability table's: one row per granted pause or
/// prune, for the transaction that asked, which the triggers check before honouring the
/// settings; also the audit log of every pause and prune.
pub use pghistory_diesel_core::vocab::{CAPABILITY_TABLE, CONTEXT_TABLE};

/// The guard trigger on the context and capability tables, its `TRUNCATE` twin and its
/// function, and the owner-only guard of events tables that are not `append_only`.
pub use pghistory_diesel_core::vocab::{
    IMMUTABLE_FUNCTION as GUARD_FUNCTION, IMMUTABLE_TRIGGER as GUARD_TRIGGER,
    IMMUTABLE_TRUNCATE_TRIGGER as GUARD_TRUNCATE_TRIGGER, OWNER_ONLY_FUNCTION,
};

/// The body of [`OWNER_ONLY_FUNCTION`] as Postgres stores it (`prosrc`), which `check`
/// compares: only members of the table's owner role pass.
pub const OWNER_ONLY_BODY: &str = r#"
BEGIN
    IF pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) TG_RELID), 'MEMBER') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'pghistory-diesel: % is written only by its triggers; % is refused', TG_RELID::pg_catalog.regclass, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'old history is deleted by the maintainer role with SELECT pghistory_prune(...)';
END
"#;

/// The roles the setup migration names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles {
    /// Owns history: the context and capability tables, every events table and function.
    pub owner: String,
    /// May pause tracking and prune history (`EXECUTE` on `pghistory_pause` and
    /// `pghistory_prune`).
    pub maintainer: String,
    /// When set, granted `SELECT` on the context table (and, by the tracking migrations'
    /// `SELECT` policy, allowed to read events once granted `SELECT` on them).
    pub reader: Option<String>,
}

/// The default history owner role.
pub const DEFAULT_OWNER: &str = "pghistory_owner";
/// The default maintainer role.
pub const DEFAULT_MAINTAINER: &str = "pghistory_maintainer";

impl Default for Roles {
    fn default() -> Self {
        Roles {
            owner: DEFAULT_OWNER.to_owned(),
            maintainer: DEFAULT_MAINTAINER.to_owned(),
            reader: None,
        }
    }
}

/// `up.sql` of the setup migration with the default roles.
pub fn up() -> String {
    up_with(&Roles::default())
}

/// The setup functions' signatures (quoted name and argument types), as `ALTER`, `GRANT`
/// and `DROP` name them: attach, detach, pause, prune.
fn signatures() -> (String, String, String, String) {
    (
        vocab::ATTACH_CONTEXT_SIGNATURE.clone(),
        vocab::setup_signature(vocab::DETACH_CONTEXT_FUNCTION, vocab::DETACH_CONTEXT_ARGS),
        vocab::PAUSE_SIGNATURE.clone(),
        vocab::PRUNE_SIGNATURE.clone(),
    )
}

/// Whether the current transaction holds a grant of `kind` ('pause' or 'prune') for
/// exactly `value` (an SQL expression): the check the triggers and guards make, only once
/// the setting is non-empty.
pub fn granted(kind: &str, value: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {cap} WHERE \"xact_id\" OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id() AND \"kind\" OPERATOR(pg_catalog.=) {kind} AND \"value\" OPERATOR(pg_catalog.=) {value})",
        cap = quote::qualified(SETUP_SCHEMA, CAPABILITY_TABLE),
        kind = quote::literal(kind),
    )
}

/// `up.sql` of the setup migration, naming `roles`.
pub fn up_with(roles: &Roles) -> String {
    let attach_fn = vocab::setup_function(vocab::ATTACH_CONTEXT_FUNCTION);
    let detach_fn = vocab::setup_function(vocab::DETACH_CONTEXT_FUNCTION);
    let pause_fn = vocab::setup_function(vocab::PAUSE_FUNCTION);
    let prune_fn = vocab::setup_function(vocab::PRUNE_FUNCTION);
    let (attach_sig, detach_sig, pause_sig, prune_sig) = signatures();
    let ctx = quote::qualified(SETUP_SCHEMA, CONTEXT_TABLE);
    let cap = quote::qualified(SETUP_SCHEMA, CAPABILITY_TABLE);
    let metadata_index = context_metadata_index();
    let owner = quote::ident(&roles.owner);
    let maintainer = quote::ident(&roles.maintainer);
    let mut role_names = vec![
        quote::literal(&roles.owner),
        quote::literal(&roles.maintainer),
    ];
    if let Some(reader) = &roles.reader {
        role_names.push(quote::literal(reader));
    }
    let guard = quote::qualified(SETUP_SCHEMA, GUARD_FUNCTION);
    let owner_only = quote::qualified(SETUP_SCHEMA, OWNER_ONLY_FUNCTION);
    let owner_only_body = OWNER_ONLY_BODY;
    let attach = function::header(
        &format!("{attach_fn}(p_scope_id uuid, p_metadata jsonb, p_local boolean)"),
        "uuid",
        &[],
    );
    let detach = function::header(&format!("{detach_fn}(p_local boolean)"), "void", &[]);
    let pause = function::header(&format!("{pause_fn}(p_tables text)"), "text", &[]);
    let prune = function::header(
        &format!("{prune_fn}(p_events regclass, p_before timestamptz)"),
        "bigint",
        &[],
    );
    let guard_head = function::header(&format!("{guard}()"), "trigger", &[]);
    let prune_granted = granted("prune", "TG_RELID::pg_catalog.regclass::pg_catalog.text");
    let prune_setting = quote::literal(names::PRUNE_SETTING);
    let mut sql = format!(
        r#"-- pghistory-diesel setup: the roles, the context table and runtime functions.
-- Written by `pghistory-diesel setup`; do not edit.
--
-- The role running this migration must be a superuser, or a member of the owner role
-- {owner_lit} (with CREATEROLE when the roles do not exist yet: they are created NOLOGIN and
-- the running role is granted the owner role, which ALTER ... OWNER TO needs).
DO {DOLLAR_TAG}
DECLARE
    pgh_role text;
BEGIN
    FOREACH pgh_role IN ARRAY ARRAY[{role_names}]::text[] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) pgh_role) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', pgh_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                -- Created meanwhile by another database's setup: roles are cluster-wide.
                NULL;
            END;
        END IF;
    END LOOP;
    IF NOT pg_catalog.pg_has_role(CURRENT_USER, {owner_lit}, 'MEMBER') THEN
        EXECUTE pg_catalog.format('GRANT %I TO %I', {owner_lit}, CURRENT_USER);
    END IF;
END
{DOLLAR_TAG};

CREATE TABLE {ctx} (
    "id" uuid PRIMARY KEY,
    "scope_id" uuid NOT NULL,
    "created_at" timestamptz NOT NULL DEFAULT pg_catalog.now(),
    "metadata" jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    CONSTRAINT "pghistory_context_metadata_is_object" CHECK (pg_catalog.jsonb_typeof("metadata") = 'object')
);
CREATE INDEX "pghistory_context_scope_id_idx" ON {ctx} ("scope_id");
{metadata_index}COMMENT ON TABLE {ctx} IS 'Who and why: one immutable row per context scope and metadata version, written by pghistory-diesel.';

CREATE TABLE {cap} (
    "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "xact_id" xid8 NOT NULL,
    "kind" text NOT NULL CHECK ("kind" IN ('pause', 'prune')),
    "value" text NOT NULL,
    "session_role" name NOT NULL DEFAULT SESSION_USER,
    "created_at" timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX "pghistory_capability_xact_id_idx" ON {cap} ("xact_id");
COMMENT ON TABLE {cap} IS 'Pauses and prunes granted by pghistory_pause and pghistory_prune: checked by the triggers for the transaction that asked, and the audit log of them.';

{attach}DECLARE
    v_id uuid := pg_catalog.gen_random_uuid();
BEGIN
    IF p_metadata IS NULL OR pg_catalog.jsonb_typeof(p_metadata) OPERATOR(pg_catalog.<>) 'object' THEN
        RAISE EXCEPTION 'pghistory-diesel: context metadata must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO {ctx} ("id", "scope_id", "metadata")
    VALUES (v_id, COALESCE(p_scope_id, v_id), p_metadata);
    PERFORM pg_catalog.set_config({id_setting}, v_id::text, p_local);
    PERFORM pg_catalog.set_config({meta_setting}, p_metadata::text, p_local);
    RETURN v_id;
END
{DOLLAR_TAG};

{detach}BEGIN
    PERFORM pg_catalog.set_config({id_setting}, '', p_local),
            pg_catalog.set_config({meta_setting}, '', p_local);
END
{DOLLAR_TAG};

{pause}BEGIN
    INSERT INTO {cap} ("xact_id", "kind", "value")
    VALUES (pg_catalog.pg_current_xact_id(), 'pause', COALESCE(p_tables, ''));
    RETURN pg_catalog.set_config({pause_setting}, COALESCE(p_tables, ''), true);
END
{DOLLAR_TAG};

{prune}DECLARE
    v_count bigint;
    v_column text;
BEGIN
    IF p_events OPERATOR(pg_catalog.=) {ctx_lit}::pg_catalog.regclass THEN
        v_column := 'created_at';
    ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
                  WHERE a.attrelid OPERATOR(pg_catalog.=) p_events AND a.attname OPERATOR(pg_catalog.=) 'pgh_created_at' AND NOT a.attisdropped
                    AND c.relowner OPERATOR(pg_catalog.=) (SELECT relowner FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) {ctx_lit}::pg_catalog.regclass)) THEN
        v_column := 'pgh_created_at';
    ELSE
        RAISE EXCEPTION 'pghistory-diesel: % is not an events table', p_events
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO {cap} ("xact_id", "kind", "value")
    VALUES (pg_catalog.pg_current_xact_id(), 'prune', p_events::pg_catalog.text);
    PERFORM pg_catalog.set_config({prune_setting}, p_events::pg_catalog.text, true);
    EXECUTE pg_catalog.format('DELETE FROM %s WHERE %I OPERATOR(pg_catalog.<) $1', p_events, v_column) USING p_before;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM pg_catalog.set_config({prune_setting}, '', true);
    RETURN v_count;
END
{DOLLAR_TAG};

-- The guard of the context and capability tables: their rows are written only by the
-- functions above, and never changed; deleting is for a granted prune of that table.
{guard_head}BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE'
       AND pg_catalog.current_setting({prune_setting}, true) OPERATOR(pg_catalog.=) TG_RELID::pg_catalog.regclass::pg_catalog.text
       AND {prune_granted} THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'pghistory-diesel: % is immutable; % is refused', TG_RELID::pg_catalog.regclass, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'old rows are deleted by the maintainer role with SELECT pghistory_prune(...)';
END
{DOLLAR_TAG};
CREATE TRIGGER {guard_trigger} BEFORE UPDATE OR DELETE ON {ctx} FOR EACH STATEMENT EXECUTE FUNCTION {guard}();
CREATE TRIGGER {guard_trunc} BEFORE TRUNCATE ON {ctx} FOR EACH STATEMENT EXECUTE FUNCTION {guard}();
CREATE TRIGGER {guard_trigger} BEFORE UPDATE OR DELETE ON {cap} FOR EACH STATEMENT EXECUTE FUNCTION {guard}();
CREATE TRIGGER {guard_trunc} BEFORE TRUNCATE ON {cap} FOR EACH STATEMENT EXECUTE FUNCTION {guard}();

-- The guard of events tables that are not append_only: the history owner (and superusers)
-- may still correct or delete them; nobody else. SECURITY INVOKER on purpose, the one
-- function that is: it asks who the caller is.
CREATE FUNCTION {owner_only}() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS {DOLLAR_TAG}{owner_only_body}{DOLLAR_TAG};

ALTER TABLE {ctx} OWNER TO {owner};
ALTER TABLE {cap} OWNER TO {owner};
ALTER FUNCTION {attach_sig} OWNER TO {owner};
ALTER FUNCTION {detach_sig} OWNER TO {owner};
ALTER FUNCTION {pause_sig} OWNER TO {owner};
ALTER FUNCTION {prune_sig} OWNER TO {owner};
ALTER FUNCTION {guard}() OWNER TO {owner};
ALTER FUNCTION {owner_only}() OWNER TO {owner};
REVOKE ALL ON {ctx} FROM PUBLIC;
REVOKE ALL ON {cap} FROM PUBLIC;
ALTER TABLE {ctx} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {cap} ENABLE ROW LEVEL SECURITY;
CREATE POLICY "pghistory_read" ON {ctx} FOR SELECT USING (true);
CREATE POLICY "pghistory_read" ON {cap} FOR SELECT USING (true);
REVOKE EXECUTE ON FUNCTION {pause_sig} FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION {prune_sig} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {pause_sig} TO {maintainer};
GRANT EXECUTE ON FUNCTION {prune_sig} TO {maintainer};
GRANT SELECT ON {cap} TO {maintainer};
"#,
        owner_lit = quote::literal(&roles.owner),
        role_names = role_names.join(", "),
        ctx_lit = quote::literal(&ctx),
        guard_trigger = quote::ident(GUARD_TRIGGER),
        guard_trunc = quote::ident(GUARD_TRUNCATE_TRIGGER),
        id_setting = quote::literal(names::CONTEXT_ID_SETTING),
        meta_setting = quote::literal(names::CONTEXT_METADATA_SETTING),
        pause_setting = quote::literal(names::PAUSE_SETTING),
    );
    if let Some(reader) = &roles.reader {
        sql.push_str(&format!(
            "GRANT SELECT ON {ctx} TO {};\n",
            quote::ident(reader)
        ));
    }
    sql
}

/// The GIN index on the context metadata that `metadata_contains` (jsonb `@>`) reads
/// through. `jsonb_path_ops`: smaller and faster than the default operator class, and `@>`
/// is the only operator the history reads use. `IF NOT EXISTS`, because tracking migrations
/// repeat it for databases whose setup migration predates it (and never drop it: the setup
/// migration's down does, with the table).
pub fn context_metadata_index() -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS \"pghistory_context_metadata_idx\" ON {} USING gin (\"metadata\" pg_catalog.jsonb_path_ops);\n",
        quote::qualified(SETUP_SCHEMA, CONTEXT_TABLE)
    )
}

/// `down.sql` of the setup migration. The roles stay: they are cluster-wide, and other
/// databases may use them.
pub fn down() -> String {
    let (attach_sig, detach_sig, pause_sig, prune_sig) = signatures();
    format!(
        r#"DROP VIEW IF EXISTS "public"."pghistory_events";
DROP TABLE IF EXISTS "public"."pghistory_view_branches";
DROP FUNCTION IF EXISTS {prune_sig};
DROP FUNCTION IF EXISTS {pause_sig};
DROP FUNCTION IF EXISTS {detach_sig};
DROP FUNCTION IF EXISTS {attach_sig};
DROP TABLE IF EXISTS {cap};
DROP TABLE IF EXISTS {ctx};
DROP FUNCTION IF EXISTS {guard}();
DROP FUNCTION IF EXISTS {owner_only}();
"#,
        cap = quote::qualified(SETUP_SCHEMA, CAPABILITY_TABLE),
        ctx = quote::qualified(SETUP_SCHEMA, CONTEXT_TABLE),
        guard = quote::qualified(SETUP_SCHEMA, GUARD_FUNCTION),
        owner_only = quote::qualified(SETUP_SCHEMA, OWNER_ONLY_FUNCTION),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `check` holds the setup functions to `catalog::expected_setup`; the SQL written
    /// here must declare exactly that.
    #[test]
    fn setup_sql_declares_what_check_expects() {
        let sql = up();
        let expected = pghistory_diesel_core::catalog::expected_setup();
        for function in &expected.functions {
            let name = function.signature.split('(').next().unwrap();
            let start = sql
                .find(&format!("CREATE FUNCTION {name}("))
                .unwrap_or_else(|| panic!("{name} is not created"));
            let head = &sql[start..start + sql[start..].find("\nAS ").unwrap()];
            assert_eq!(
                head.contains("SECURITY DEFINER"),
                function.security.definer,
                "{head}"
            );
            assert!(
                head.contains("SET search_path = pg_catalog, pg_temp"),
                "{head}"
            );
            let revoked = format!(
                "REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC",
                function.signature
            );
            assert_eq!(
                !sql.contains(&revoked),
                function.public_execute,
                "{revoked}"
            );
        }
        for table in &expected.tables {
            for (trigger, _) in &table.guard_triggers {
                assert!(sql.contains(&format!(
                    "CREATE TRIGGER {} BEFORE {}",
                    quote::ident(trigger),
                    if trigger.ends_with("truncate") {
                        format!("TRUNCATE ON {}", table.relation)
                    } else {
                        format!("UPDATE OR DELETE ON {}", table.relation)
                    }
                )));
            }
        }
    }
}
