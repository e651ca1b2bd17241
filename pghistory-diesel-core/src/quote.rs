//! The only two escapers: identifiers and string literals.

/// Quotes an identifier for Postgres, always, doubling embedded `"`.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A standard-conforming string literal, doubling embedded `'`.
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_always_quoted() {
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(qualified("app", "user"), "\"app\".\"user\"");
    }

    #[test]
    fn literals_double_quotes() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("\\"), "'\\'");
    }

    #[test]
    fn identifiers_keep_single_quotes_and_percent_signs_as_they_are() {
        assert_eq!(ident("it's"), "\"it's\"");
        assert_eq!(ident("100%"), "\"100%\"");
        assert_eq!(ident("%I %s"), "\"%I %s\"");
        assert_eq!(ident("\"\""), "\"\"\"\"\"\"");
        assert_eq!(ident(""), "\"\"");
        assert_eq!(
            qualified("my\"schema", "it's%"),
            "\"my\"\"schema\".\"it's%\""
        );
    }

    #[test]
    fn literals_keep_double_quotes_and_percent_signs_as_they_are() {
        assert_eq!(literal("say \"hi\""), "'say \"hi\"'");
        assert_eq!(literal("100%"), "'100%'");
        assert_eq!(literal("''"), "''''''");
        assert_eq!(literal(""), "''");
        // A quoted identifier inside a literal: each escaper does its own doubling.
        assert_eq!(
            literal(&qualified("public", "it's \"x\"")),
            "'\"public\".\"it''s \"\"x\"\"\"'"
        );
    }
}
