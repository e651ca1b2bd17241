-- pghistory-diesel setup: the roles, the context table and runtime functions.
-- Written by `pghistory-diesel setup`; do not edit.
--
-- The role running this migration must be a superuser, or a member of the owner role
-- 'pghistory_owner' (with CREATEROLE when the roles do not exist yet: they are created NOLOGIN and
-- the running role is granted the owner role, which ALTER ... OWNER TO needs).
DO $pghistory$
DECLARE
    pgh_role text;
BEGIN
    FOREACH pgh_role IN ARRAY ARRAY['pghistory_owner', 'pghistory_maintainer']::text[] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) pgh_role) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', pgh_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                -- Created meanwhile by another database's setup: roles are cluster-wide.
                NULL;
            END;
        END IF;
    END LOOP;
    IF NOT pg_catalog.pg_has_role(CURRENT_USER, 'pghistory_owner', 'MEMBER') THEN
        EXECUTE pg_catalog.format('GRANT %I TO %I', 'pghistory_owner', CURRENT_USER);
    END IF;
END
$pghistory$;

CREATE TABLE "public"."pghistory_context" (
    "id" uuid PRIMARY KEY,
    "scope_id" uuid NOT NULL,
    "created_at" timestamptz NOT NULL DEFAULT pg_catalog.now(),
    "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT "pghistory_context_metadata_is_object" CHECK (pg_catalog.jsonb_typeof("metadata") = 'object')
);
CREATE INDEX "pghistory_context_scope_id_idx" ON "public"."pghistory_context" ("scope_id");
CREATE INDEX IF NOT EXISTS "pghistory_context_metadata_idx" ON "public"."pghistory_context" USING gin ("metadata" pg_catalog.jsonb_path_ops);
COMMENT ON TABLE "public"."pghistory_context" IS 'Who and why: one immutable row per context scope and metadata version, written by pghistory-diesel.';

CREATE TABLE "public"."pghistory_capability" (
    "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "xact_id" xid8 NOT NULL,
    "kind" text NOT NULL CHECK ("kind" IN ('pause', 'prune')),
    "value" text NOT NULL,
    "session_role" name NOT NULL DEFAULT SESSION_USER,
    "created_at" timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX "pghistory_capability_xact_id_idx" ON "public"."pghistory_capability" ("xact_id");
COMMENT ON TABLE "public"."pghistory_capability" IS 'Pauses and prunes granted by pghistory_pause and pghistory_prune: checked by the triggers for the transaction that asked, and the audit log of them.';

CREATE FUNCTION "public"."pghistory_attach_context"(p_scope_id uuid, p_metadata jsonb, p_local boolean) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $pghistory$
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

CREATE FUNCTION "public"."pghistory_detach_context"(p_local boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $pghistory$
BEGIN
    PERFORM pg_catalog.set_config('pghistory.context_id', '', p_local),
            pg_catalog.set_config('pghistory.context_metadata', '', p_local);
END
$pghistory$;

CREATE FUNCTION "public"."pghistory_pause"(p_tables text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $pghistory$
BEGIN
    INSERT INTO "public"."pghistory_capability" ("xact_id", "kind", "value")
    VALUES (pg_catalog.pg_current_xact_id(), 'pause', COALESCE(p_tables, ''));
    RETURN pg_catalog.set_config('pghistory.pause', COALESCE(p_tables, ''), true);
END
$pghistory$;

CREATE FUNCTION "public"."pghistory_prune"(p_events regclass, p_before timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $pghistory$
DECLARE
    v_count bigint;
    v_column text;
BEGIN
    IF p_events OPERATOR(pg_catalog.=) '"public"."pghistory_context"'::pg_catalog.regclass THEN
        v_column := 'created_at';
    ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
                  WHERE a.attrelid OPERATOR(pg_catalog.=) p_events AND a.attname OPERATOR(pg_catalog.=) 'pgh_created_at' AND NOT a.attisdropped
                    AND c.relowner OPERATOR(pg_catalog.=) (SELECT relowner FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) '"public"."pghistory_context"'::pg_catalog.regclass)) THEN
        v_column := 'pgh_created_at';
    ELSE
        RAISE EXCEPTION 'pghistory-diesel: % is not an events table', p_events
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO "public"."pghistory_capability" ("xact_id", "kind", "value")
    VALUES (pg_catalog.pg_current_xact_id(), 'prune', p_events::pg_catalog.text);
    PERFORM pg_catalog.set_config('pghistory.prune', p_events::pg_catalog.text, true);
    EXECUTE pg_catalog.format('DELETE FROM %s WHERE %I OPERATOR(pg_catalog.<) $1', p_events, v_column) USING p_before;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    PERFORM pg_catalog.set_config('pghistory.prune', '', true);
    RETURN v_count;
END
$pghistory$;

-- The guard of the context and capability tables: their rows are written only by the
-- functions above, and never changed; deleting is for a granted prune of that table.
CREATE FUNCTION "public"."pghistory_immutable"() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $pghistory$
BEGIN
    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE'
       AND pg_catalog.current_setting('pghistory.prune', true) OPERATOR(pg_catalog.=) TG_RELID::pg_catalog.regclass::pg_catalog.text
       AND EXISTS (SELECT 1 FROM "public"."pghistory_capability" WHERE "xact_id" OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id() AND "kind" OPERATOR(pg_catalog.=) 'prune' AND "value" OPERATOR(pg_catalog.=) TG_RELID::pg_catalog.regclass::pg_catalog.text) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'pghistory-diesel: % is immutable; % is refused', TG_RELID::pg_catalog.regclass, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'old rows are deleted by the maintainer role with SELECT pghistory_prune(...)';
END
$pghistory$;
CREATE TRIGGER "pghistory_immutable" BEFORE UPDATE OR DELETE ON "public"."pghistory_context" FOR EACH STATEMENT EXECUTE FUNCTION "public"."pghistory_immutable"();
CREATE TRIGGER "pghistory_immutable_truncate" BEFORE TRUNCATE ON "public"."pghistory_context" FOR EACH STATEMENT EXECUTE FUNCTION "public"."pghistory_immutable"();
CREATE TRIGGER "pghistory_immutable" BEFORE UPDATE OR DELETE ON "public"."pghistory_capability" FOR EACH STATEMENT EXECUTE FUNCTION "public"."pghistory_immutable"();
CREATE TRIGGER "pghistory_immutable_truncate" BEFORE TRUNCATE ON "public"."pghistory_capability" FOR EACH STATEMENT EXECUTE FUNCTION "public"."pghistory_immutable"();

-- The guard of events tables that are not append_only: the history owner (and superusers)
-- may still correct or delete them; nobody else. SECURITY INVOKER on purpose, the one
-- function that is: it asks who the caller is.
CREATE FUNCTION "public"."pghistory_owner_only"() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $pghistory$
BEGIN
    IF pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) TG_RELID), 'MEMBER') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'pghistory-diesel: % is written only by its triggers; % is refused', TG_RELID::pg_catalog.regclass, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'old history is deleted by the maintainer role with SELECT pghistory_prune(...)';
END
$pghistory$;

ALTER TABLE "public"."pghistory_context" OWNER TO "pghistory_owner";
ALTER TABLE "public"."pghistory_capability" OWNER TO "pghistory_owner";
ALTER FUNCTION "public"."pghistory_attach_context"(uuid, jsonb, boolean) OWNER TO "pghistory_owner";
ALTER FUNCTION "public"."pghistory_detach_context"(boolean) OWNER TO "pghistory_owner";
ALTER FUNCTION "public"."pghistory_pause"(text) OWNER TO "pghistory_owner";
ALTER FUNCTION "public"."pghistory_prune"(regclass, timestamptz) OWNER TO "pghistory_owner";
ALTER FUNCTION "public"."pghistory_immutable"() OWNER TO "pghistory_owner";
ALTER FUNCTION "public"."pghistory_owner_only"() OWNER TO "pghistory_owner";
REVOKE ALL ON "public"."pghistory_context" FROM PUBLIC;
REVOKE ALL ON "public"."pghistory_capability" FROM PUBLIC;
ALTER TABLE "public"."pghistory_context" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "public"."pghistory_capability" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "pghistory_read" ON "public"."pghistory_context" FOR SELECT USING (true);
CREATE POLICY "pghistory_read" ON "public"."pghistory_capability" FOR SELECT USING (true);
REVOKE EXECUTE ON FUNCTION "public"."pghistory_pause"(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION "public"."pghistory_prune"(regclass, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION "public"."pghistory_pause"(text) TO "pghistory_maintainer";
GRANT EXECUTE ON FUNCTION "public"."pghistory_prune"(regclass, timestamptz) TO "pghistory_maintainer";
GRANT SELECT ON "public"."pghistory_capability" TO "pghistory_maintainer";
