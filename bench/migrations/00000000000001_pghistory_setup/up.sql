-- pghistory-diesel setup: the context table and runtime functions.
-- Written by `pghistory-diesel setup`; do not edit.
CREATE TABLE "public"."pghistory_context" (
    "id" uuid PRIMARY KEY,
    "scope_id" uuid NOT NULL,
    "created_at" timestamptz NOT NULL DEFAULT pg_catalog.now(),
    "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT "pghistory_context_metadata_is_object" CHECK (pg_catalog.jsonb_typeof("metadata") = 'object')
);
CREATE INDEX "pghistory_context_scope_id_idx" ON "public"."pghistory_context" ("scope_id");
COMMENT ON TABLE "public"."pghistory_context" IS 'Who and why: one immutable row per context scope and metadata version, written by pghistory-diesel.';

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
    INSERT INTO "public"."pghistory_context" ("id", "scope_id", "metadata")
    VALUES (v_id, COALESCE(p_scope_id, v_id), p_metadata);
    PERFORM pg_catalog.set_config('pghistory.context_id', v_id::text, p_local);
    PERFORM pg_catalog.set_config('pghistory.context_metadata', p_metadata::text, p_local);
    RETURN v_id;
END
$pghistory$;

CREATE FUNCTION "public"."pghistory_detach_context"(p_local boolean)
RETURNS void
LANGUAGE sql AS $pghistory$
    SELECT pg_catalog.set_config('pghistory.context_id', '', p_local),
           pg_catalog.set_config('pghistory.context_metadata', '', p_local);
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
    PERFORM pg_catalog.set_config('pghistory.prune', 'on', true);
    EXECUTE pg_catalog.format('DELETE FROM %s WHERE "pgh_created_at" < $1', p_events) USING p_before;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM pg_catalog.set_config('pghistory.prune', '', true);
    RETURN v_count;
END
$pghistory$;
