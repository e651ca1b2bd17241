//! The shape every pghistory function shares: a header (`SECURITY DEFINER`, a pinned
//! `search_path`, the function's own settings) around a PL/pgSQL body. Trigger functions,
//! the guards, manual-event functions and the setup's runtime functions are all written
//! through [`header`], so they differ only in their bodies.

use pghistory_diesel_core::vocab::DOLLAR_TAG;
pub use pghistory_diesel_core::vocab::SEARCH_PATH;

/// The head of every pghistory function, up to and including the opening dollar quote:
/// `CREATE FUNCTION <signature> RETURNS <returns>`, PL/pgSQL, `SECURITY DEFINER` and a
/// pinned `search_path`, then one `SET name = value` line per entry of `settings`.
///
/// Definer: the functions run as the history owner (the owner of `pghistory_context`,
/// which the migrations make the owner of every events table and function), so the
/// application role needs no privilege on history to be tracked, and gets none to forge
/// or rewrite it. The pinned `search_path` (`pg_temp` last, so temporary objects shadow
/// nothing) keeps a caller's `search_path` from redirecting anything a body names: an
/// operator in `IS DISTINCT FROM` cannot be schema-qualified, for one. Bodies are
/// schema-qualified as well.
pub fn header(signature: &str, returns: &str, settings: &[&str]) -> String {
    let mut head = format!(
        "CREATE FUNCTION {signature} RETURNS {returns}\nLANGUAGE plpgsql SECURITY DEFINER\nSET search_path = {SEARCH_PATH}\n"
    );
    for setting in settings {
        head.push_str(&format!("SET {setting}\n"));
    }
    head.push_str(&format!("AS {DOLLAR_TAG}\n"));
    head
}

/// `CREATE FUNCTION` of `body` (PL/pgSQL, ending with its newline) under [`header`],
/// closed and terminated.
pub fn definition(signature: &str, returns: &str, settings: &[&str], body: &str) -> String {
    format!(
        "{}{body}{DOLLAR_TAG};\n",
        header(signature, returns, settings)
    )
}

/// `body` as Postgres stores it (`pg_proc.prosrc`) once [`definition`] created it: all
/// between the dollar quotes, so the newline after the opening one comes first.
pub fn stored_body(body: &str) -> String {
    format!("\n{body}")
}

/// The `pg_proc.proconfig` a function made by [`header`] with `settings` has: the pinned
/// `search_path`, then each setting, as `name=value` (what `pghistory_diesel::check`
/// expects to find).
pub fn proconfig(settings: &[&str]) -> Vec<String> {
    std::iter::once(format!("search_path={SEARCH_PATH}"))
        .chain(settings.iter().map(|s| s.replacen(" = ", "=", 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_body_is_what_lies_between_the_dollar_quotes() {
        let sql = definition("f()", "void", &["jit = off"], "BEGIN\nEND\n");
        let start = sql.find(DOLLAR_TAG).unwrap() + DOLLAR_TAG.len();
        let end = sql.rfind(DOLLAR_TAG).unwrap();
        assert_eq!(&sql[start..end], stored_body("BEGIN\nEND\n"));
        assert!(sql.contains("\nSET jit = off\n"));
        assert_eq!(
            proconfig(&["jit = off"]),
            [format!("search_path={SEARCH_PATH}"), "jit=off".to_owned()]
        );
    }
}
