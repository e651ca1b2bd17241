DROP FUNCTION IF EXISTS "public"."pghistory_prune"(regclass, timestamptz);
DROP FUNCTION IF EXISTS "public"."pghistory_pause"(text);
DROP FUNCTION IF EXISTS "public"."pghistory_detach_context"(boolean);
DROP FUNCTION IF EXISTS "public"."pghistory_attach_context"(uuid, jsonb, boolean);
DROP TABLE IF EXISTS "public"."pghistory_capability";
DROP TABLE IF EXISTS "public"."pghistory_context";
DROP FUNCTION IF EXISTS "public"."pghistory_immutable"();
DROP FUNCTION IF EXISTS "public"."pghistory_owner_only"();
