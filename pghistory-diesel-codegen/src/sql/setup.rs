//! The setup migration: the context table and the functions the runtime calls.
//!
//! Context rows are immutable snapshots. Each time a scope starts, or a nested scope changes
//! the metadata, `pghistory_attach_context` inserts one new row (a fresh `id`, the scope's
//! shared `scope_id`, the metadata in force) and points the session setting at it. Triggers
//! only read that setting, so:
//! - every event reports the metadata in force when it was written, never later metadata;
//! - nothing is upserted per row or per statement, and no row is shared between
//!   transactions, so transactions of one scope never wait on each other.

use super::{names, quote};

/// The folder name of the setup migration (sorts before anything diesel generates).
pub const MIGRATION_NAME: &str = "00000000000001_pghistory_setup";

/// The context table's name.
pub const CONTEXT_TABLE: &str = "pghistory_context";

/// `up.sql` of the setup migration.
pub fn up() -> String {
    let ctx = quote::qualified("public", CONTEXT_TABLE);
    format!(
        r#"-- pghistory-diesel setup: the context table and runtime functions.
-- Written by `pghistory-diesel setup`; do not edit.
CREATE TABLE {ctx} (
    "id" uuid PRIMARY KEY,
    "scope_id" uuid NOT NULL,
    "created_at" timestamptz NOT NULL DEFAULT pg_catalog.now(),
    "metadata" jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    CONSTRAINT "pghistory_context_metadata_is_object" CHECK (pg_catalog.jsonb_typeof("metadata") = 'object')
);
CREATE INDEX "pghistory_context_scope_id_idx" ON {ctx} ("scope_id");
COMMENT ON TABLE {ctx} IS 'Who and why: one immutable row per context scope and metadata version, written by pghistory-diesel.';

CREATE FUNCTION "public"."pghistory_attach_context"(p_scope_id uuid, p_metadata jsonb, p_local boolean)
RETURNS uuid
LANGUAGE plpgsql AS $pghistory$
DECLARE
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
$pghistory$;

CREATE FUNCTION "public"."pghistory_detach_context"(p_local boolean)
RETURNS void
LANGUAGE sql AS $pghistory$
    SELECT pg_catalog.set_config({id_setting}, '', p_local),
           pg_catalog.set_config({meta_setting}, '', p_local);
$pghistory$;

CREATE FUNCTION "public"."pghistory_prune"(p_events regclass, p_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql AS $pghistory$
DECLARE
    v_count bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                   WHERE attrelid = p_events AND attname = 'pgh_created_at' AND NOT attisdropped) THEN
        RAISE EXCEPTION 'pghistory-diesel: % is not an events table', p_events
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_catalog.set_config({prune_setting}, 'on', true);
    EXECUTE pg_catalog.format('DELETE FROM %s WHERE "pgh_created_at" < $1', p_events) USING p_before;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM pg_catalog.set_config({prune_setting}, '', true);
    RETURN v_count;
END
$pghistory$;
"#,
        ctx = ctx,
        id_setting = quote::literal(names::CONTEXT_ID_SETTING),
        meta_setting = quote::literal(names::CONTEXT_METADATA_SETTING),
        prune_setting = quote::literal(names::PRUNE_SETTING),
    )
}

/// `down.sql` of the setup migration.
pub fn down() -> String {
    format!(
        r#"DROP FUNCTION IF EXISTS "public"."pghistory_prune"(regclass, timestamptz);
DROP FUNCTION IF EXISTS "public"."pghistory_detach_context"(boolean);
DROP FUNCTION IF EXISTS "public"."pghistory_attach_context"(uuid, jsonb, boolean);
DROP TABLE IF EXISTS {};
"#,
        quote::qualified("public", CONTEXT_TABLE)
    )
}
