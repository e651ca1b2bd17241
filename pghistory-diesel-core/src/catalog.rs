//! What `check` expects to find in the database, as plain data, and the catalog queries
//! that read what is there.
//!
//! [`ExpectedTable`] describes one tracked table's installation (names, function bodies and
//! security, trigger types, columns and their types). The code generator builds it from
//! its checked model: the macro embeds it in the table's `TableInfo`, the CLI builds it from
//! schema.rs; `pghistory_diesel::check` compares it with the catalog, so both report the
//! same findings. Every query here takes its names as bound values.

use crate::{quote, vocab};

/// What one tracked table's history installation should look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedTable {
    /// The tracked table for messages, like `public.posts`.
    pub table: String,
    /// The tracked table, quoted and schema-qualified.
    pub relation: String,
    /// The events table, quoted and schema-qualified.
    pub events_relation: String,
    /// The tracked table's columns declared in schema.rs, with their declared types.
    pub columns: Vec<ExpectedColumn>,
    /// The events table's columns: `pgh_*` and the snapshots.
    pub events_columns: Vec<ExpectedColumn>,
    /// The trigger functions, with their triggers on the tracked table.
    pub functions: Vec<ExpectedFunction>,
    /// The events table's guard: its own append-only guard when the table is
    /// `append_only`, else the setup migration's shared owner-only guard.
    pub guard: Option<ExpectedGuard>,
    /// The fingerprint our migrations record in each trigger function's comment.
    pub fingerprint: String,
    /// The statement counting events whose `pgh_context_id` names no context row; `None`
    /// when the events carry no context id. Returns one `bigint` column, `count`.
    pub orphans_sql: Option<String>,
}

/// One column and the type it should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedColumn {
    /// The column's SQL name.
    pub name: String,
    /// The type it should have.
    pub ty: ExpectedType,
}

/// How a column's type is judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectedType {
    /// A type name the server resolves (`integer`, `varchar`, `text[]`). A tracked table's
    /// column matches when it is that type, a domain over it, or binary-coercible to it
    /// (Diesel reads the value the same way); an events table's `pgh_*` column must be
    /// exactly that type, as our migration created it.
    Named(String),
    /// A type we cannot name (a custom SQL type without `pg_type`): not judged.
    Unknown,
    /// Exactly the type (with modifiers) of this column of the tracked table: our
    /// migrations copy it from the catalog.
    SameAs(String),
    /// The base type of this column of the tracked table, modifiers aside (`pgh_obj_id` is
    /// created from the declared key type, then follows the key's catalog type).
    SameBaseAs(String),
}

/// One trigger function and the trigger that calls it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedFunction {
    /// Its signature, like `"public"."pghistory_posts_insert"()`.
    pub signature: String,
    /// Its source as Postgres stores it (`pg_proc.prosrc`).
    pub body: String,
    /// The trigger's name on the tracked table.
    pub trigger: String,
    /// The trigger's `pg_trigger.tgtype`.
    pub trigger_type: i16,
    /// The transition tables it declares, `(old, new)` (`tgoldtable`, `tgnewtable`).
    pub transition: (Option<String>, Option<String>),
    /// For an UPDATE whose only reader of the old row is the no-op filter: the row-level
    /// trigger that marks statements leaving a row unchanged, and its `WHEN` function.
    pub unchanged: Option<ExpectedUnchanged>,
    /// Its security attributes.
    pub security: ExpectedSecurity,
}

/// An UPDATE trigger's row-level companion ([`vocab::UNCHANGED_TRIGGER`], of type
/// [`vocab::UNCHANGED_TRIGGER_TYPE`], calling the UPDATE function, with a `WHEN`) and the
/// PL/pgSQL function its `WHEN` calls for an unchanged row (invoker, no settings).
/// Expected only where the statement trigger carries [`vocab::WHOLE_ROWS_ARGUMENT`]: the
/// migration installs the pair only when the table has no column that schema.rs does
/// not declare, and then every column of the table is held to that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedUnchanged {
    /// The trigger's name on the tracked table.
    pub trigger: String,
    /// The `WHEN` function's signature.
    pub signature: String,
    /// Its source as Postgres stores it (`pg_proc.prosrc`).
    pub body: String,
}

/// A function's security attributes as `pg_proc` holds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedSecurity {
    /// `SECURITY DEFINER` (`prosecdef`): it runs as its owner, the history owner.
    pub definer: bool,
    /// Its `SET` clauses as `proconfig` lists them (`name=value`, in order).
    pub config: Vec<String>,
}

/// The append-only guard of an events table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedGuard {
    /// The guard function's signature.
    pub signature: String,
    /// Its source as Postgres stores it.
    pub body: String,
    /// Its triggers on the events table, with their `tgtype`.
    pub triggers: Vec<(String, i16)>,
    /// Its security attributes.
    pub security: ExpectedSecurity,
}

/// Counts the events of `events` (a quoted relation) whose context id names no row of the
/// context table. A sequential scan of the events table: opt-in.
pub fn orphan_events(events: &str) -> String {
    format!(
        r#"SELECT pg_catalog.count(*) AS "count" FROM {events} e
 WHERE e."pgh_context_id" IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM {context} c WHERE c."id" OPERATOR(pg_catalog.=) e."pgh_context_id")"#,
        context = quote::qualified(vocab::SETUP_SCHEMA, vocab::CONTEXT_TABLE),
    )
}

/// One function's catalog state. Binds: `$1` its signature. No row: it does not exist.
/// Columns: `oid` (bigint), `body`, `comment`, `security_definer`, `config` (`proconfig`,
/// NULL when it sets nothing), `owner` (role name).
pub const FUNCTION_STATE: &str = r#"SELECT p.oid::pg_catalog.int8 AS "oid",
       p.prosrc AS "body",
       pg_catalog.obj_description(p.oid, 'pg_proc') AS "comment",
       p.prosecdef AS "security_definer",
       p.proconfig AS "config",
       pg_catalog.pg_get_userbyid(p.proowner)::pg_catalog.text AS "owner"
  FROM pg_catalog.pg_proc p
 WHERE p.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure($1)"#;

/// A relation's owner. Binds: `$1` the quoted relation. No row: no such table.
/// Columns: `owner` (role name).
pub const RELATION_OWNER: &str = r#"SELECT pg_catalog.pg_get_userbyid(c.relowner)::pg_catalog.text AS "owner"
  FROM pg_catalog.pg_class c
 WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)"#;

/// Every user trigger (not the internal ones of foreign keys) on a relation. Binds: `$1`
/// the quoted relation. Columns: `name`, `function_oid` (bigint), `function` (its
/// `regprocedure` text, for messages), `enabled` (`tgenabled`), `trigger_type` (`tgtype`),
/// `old_table`, `new_table` (transition table names), `bare` (no `WHEN`, no column list),
/// `args` (`tgargs` in `encode`'s escape form: each argument followed by `\000`; empty
/// for none).
pub const TRIGGERS: &str = r#"SELECT t.tgname::pg_catalog.text AS "name",
       t.tgfoid::pg_catalog.int8 AS "function_oid",
       t.tgfoid::pg_catalog.regprocedure::pg_catalog.text AS "function",
       t.tgenabled::pg_catalog.text AS "enabled",
       t.tgtype::pg_catalog.int2 AS "trigger_type",
       t.tgoldtable::pg_catalog.text AS "old_table",
       t.tgnewtable::pg_catalog.text AS "new_table",
       (t.tgqual IS NULL
        AND pg_catalog.cardinality(t.tgattr::pg_catalog.int2[]) OPERATOR(pg_catalog.=) 0) AS "bare",
       pg_catalog.encode(t.tgargs, 'escape') AS "args"
  FROM pg_catalog.pg_trigger t
 WHERE t.tgrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)
   AND NOT t.tgisinternal
 ORDER BY t.tgname"#;

/// `FROM ... WHERE ...` of the columns of `relation` (a `regclass` expression) that a
/// marked UPDATE's byte-wise comparison of whole rows would get wrong (see
/// [`ExpectedUnchanged`]): those not among `declared` (a `text[]` expression), and those
/// under a nondeterministic collation. The migration installs the row-level companion
/// only where this selects nothing; `check` reports what it selects afterwards.
pub fn whole_row_mismatches(relation: &str, declared: &str) -> String {
    format!(
        "FROM pg_catalog.pg_attribute a
  LEFT JOIN pg_catalog.pg_collation c ON c.oid OPERATOR(pg_catalog.=) a.attcollation
 WHERE a.attrelid OPERATOR(pg_catalog.=) {relation}
   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
   AND (a.attname OPERATOR(pg_catalog.<>) ALL ({declared}) OR NOT c.collisdeterministic)"
    )
}

/// The columns [`whole_row_mismatches`] selects. Binds: `$1` the quoted relation, `$2` the
/// declared column names (`text[]`). Columns: `name`, `undeclared` (`bool`: not declared;
/// else its collation is nondeterministic), in table order.
pub fn whole_row_columns() -> String {
    format!(
        "SELECT a.attname::pg_catalog.text AS \"name\",
       a.attname OPERATOR(pg_catalog.<>) ALL ($2::pg_catalog.text[]) AS \"undeclared\"
  {}
 ORDER BY a.attnum",
        whole_row_mismatches("pg_catalog.to_regclass($1)", "$2::pg_catalog.text[]")
    )
}

/// Columns compared with declared type names. Binds: `$1` the quoted relation, `$2` the
/// column names (`text[]`), `$3` their type names (`text[]`, `''` for a type not judged).
/// `$4` (`bool`): exactly that type; else also a domain over it or a type binary-coercible
/// to it (what Diesel reads the same way). One row per name, in order. Columns: `name`,
/// `found` (the column's type, NULL when the column does not exist), `matches` (NULL when
/// not judged or missing).
///
/// A type name the server cannot resolve (an extension type not installed) is not judged.
pub const DECLARED_COLUMNS: &str = r#"SELECT u.name AS "name",
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS "found",
       CASE WHEN a.attnum IS NULL OR u.ty OPERATOR(pg_catalog.=) '' OR pg_catalog.to_regtype(u.ty) IS NULL THEN NULL
            WHEN $4::pg_catalog.bool THEN a.atttypid OPERATOR(pg_catalog.=) pg_catalog.to_regtype(u.ty)
            ELSE a.atttypid OPERATOR(pg_catalog.=) pg_catalog.to_regtype(u.ty)
              OR ty.typbasetype OPERATOR(pg_catalog.=) pg_catalog.to_regtype(u.ty)
              OR EXISTS (SELECT 1 FROM pg_catalog.pg_cast k
                          WHERE k.castsource OPERATOR(pg_catalog.=) a.atttypid
                            AND k.casttarget OPERATOR(pg_catalog.=) pg_catalog.to_regtype(u.ty)
                            AND k.castmethod OPERATOR(pg_catalog.=) 'b')
       END AS "matches"
  FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[])) WITH ORDINALITY AS u(name, ty, ord)
  LEFT JOIN pg_catalog.pg_attribute a
         ON a.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)
        AND a.attname OPERATOR(pg_catalog.=) u.name AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
  LEFT JOIN pg_catalog.pg_type ty ON ty.oid OPERATOR(pg_catalog.=) a.atttypid
 ORDER BY u.ord"#;

/// Events columns compared with the tracked table's catalog types. Binds: `$1` the events
/// relation, `$2` the tracked relation, `$3` the events columns (`text[]`), `$4` the
/// tracked columns they copy (`text[]`), `$5` whether the type must be exact with its
/// modifiers (`bool[]`; else the base type is compared). One row per name, in order.
/// Columns: `name`, `found` (the events column's type, NULL when it does not exist),
/// `expected` (the tracked column's type, NULL when that does not exist), `matches`.
pub const COPIED_COLUMNS: &str = r#"SELECT u.name AS "name",
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS "found",
       pg_catalog.format_type(s.atttypid, s.atttypmod) AS "expected",
       CASE WHEN a.attnum IS NULL OR s.attnum IS NULL THEN NULL
            WHEN u.exact THEN a.atttypid OPERATOR(pg_catalog.=) s.atttypid AND a.atttypmod OPERATOR(pg_catalog.=) s.atttypmod
            ELSE a.atttypid OPERATOR(pg_catalog.=) s.atttypid
       END AS "matches"
  FROM ROWS FROM (pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.bool[])) WITH ORDINALITY AS u(name, source, exact, ord)
  LEFT JOIN pg_catalog.pg_attribute a
         ON a.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)
        AND a.attname OPERATOR(pg_catalog.=) u.name AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
  LEFT JOIN pg_catalog.pg_attribute s
         ON s.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($2)
        AND s.attname OPERATOR(pg_catalog.=) u.source AND s.attnum OPERATOR(pg_catalog.>) 0 AND NOT s.attisdropped
 ORDER BY u.ord"#;

/// Whether the setup migration's table and functions exist. Binds: `$1` the context table
/// ([`context_table`]), `$2` the attach function's signature
/// ([`vocab::ATTACH_CONTEXT_SIGNATURE`]). Columns: `present` (bool).
pub const SETUP_PRESENT: &str = r#"SELECT pg_catalog.to_regclass($1) IS NOT NULL
   AND pg_catalog.to_regprocedure($2) IS NOT NULL AS "present""#;

/// Whether row level security is on for a relation. Binds: `$1` the quoted relation. No
/// row: no such table. Columns: `enabled` (`relrowsecurity`).
pub const ROW_SECURITY: &str = r#"SELECT c.relrowsecurity AS "enabled"
  FROM pg_catalog.pg_class c
 WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1)"#;

/// Whether the `PUBLIC` pseudo-role may execute a function. Binds: `$1` its signature
/// (it must exist). Columns: `granted` (bool).
pub const PUBLIC_EXECUTE: &str = r#"SELECT pg_catalog.has_function_privilege('public', pg_catalog.to_regprocedure($1), 'EXECUTE') AS "granted""#;

/// One function of the setup migration and the attributes it must keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedSetupFunction {
    /// Its signature, like `"public"."pghistory_pause"(text)`.
    pub signature: String,
    /// Its security attributes.
    pub security: ExpectedSecurity,
    /// Whether every role may call it. Pause and prune are the maintainer's only: granted
    /// to `PUBLIC`, anyone could stop or delete history.
    pub public_execute: bool,
}

/// A history table of the setup migration that no one may rewrite: its immutable guard
/// triggers and row level security.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedSetupTable {
    /// The table, quoted and schema-qualified.
    pub relation: String,
    /// The guard triggers, with their `tgtype`, all calling the immutable guard.
    pub guard_triggers: Vec<(String, i16)>,
}

/// What the setup migration installs and `check` holds it to: every function with its
/// security, and the two immutable tables. Bodies are not compared: the runtime does not
/// carry the setup SQL (the code generator writes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedSetup {
    /// The functions, attach first.
    pub functions: Vec<ExpectedSetupFunction>,
    /// The immutable guard function's signature.
    pub guard: String,
    /// The context and capability tables.
    pub tables: Vec<ExpectedSetupTable>,
}

/// `tgtype` of a `BEFORE UPDATE OR DELETE ... FOR EACH STATEMENT` guard (`BEFORE` 2,
/// `DELETE` 8, `UPDATE` 16) and of a `BEFORE TRUNCATE` one (`TRUNCATE` 32).
pub const GUARD_TRIGGER_TYPES: [i16; 2] = [2 | 8 | 16, 2 | 32];

/// The `proconfig` of every pghistory function: only the pinned `search_path`.
pub fn pinned_config() -> Vec<String> {
    vec![format!("search_path={}", vocab::SEARCH_PATH)]
}

/// The setup migration as [`ExpectedSetup`] describes it.
pub fn expected_setup() -> ExpectedSetup {
    let function =
        |name: &str, args: &str, definer: bool, public_execute: bool| ExpectedSetupFunction {
            signature: vocab::setup_signature(name, args),
            security: ExpectedSecurity {
                definer,
                config: pinned_config(),
            },
            public_execute,
        };
    let guarded = |table: &str| ExpectedSetupTable {
        relation: quote::qualified(vocab::SETUP_SCHEMA, table),
        guard_triggers: vec![
            (vocab::IMMUTABLE_TRIGGER.to_owned(), GUARD_TRIGGER_TYPES[0]),
            (
                vocab::IMMUTABLE_TRUNCATE_TRIGGER.to_owned(),
                GUARD_TRIGGER_TYPES[1],
            ),
        ],
    };
    ExpectedSetup {
        functions: vec![
            function(
                vocab::ATTACH_CONTEXT_FUNCTION,
                vocab::ATTACH_CONTEXT_ARGS,
                true,
                true,
            ),
            function(
                vocab::DETACH_CONTEXT_FUNCTION,
                vocab::DETACH_CONTEXT_ARGS,
                true,
                true,
            ),
            function(vocab::PAUSE_FUNCTION, vocab::PAUSE_ARGS, true, false),
            function(vocab::PRUNE_FUNCTION, vocab::PRUNE_ARGS, true, false),
            function(vocab::IMMUTABLE_FUNCTION, "", true, true),
            // Invoker on purpose: the owner-only guard asks who the caller is.
            function(vocab::OWNER_ONLY_FUNCTION, "", false, true),
        ],
        guard: vocab::setup_signature(vocab::IMMUTABLE_FUNCTION, ""),
        tables: vec![
            guarded(vocab::CONTEXT_TABLE),
            guarded(vocab::CAPABILITY_TABLE),
        ],
    }
}

/// The context table, quoted and schema-qualified: what [`SETUP_PRESENT`] binds, and
/// [`RELATION_OWNER`] to find the history owner.
pub fn context_table() -> String {
    quote::qualified(vocab::SETUP_SCHEMA, vocab::CONTEXT_TABLE)
}
