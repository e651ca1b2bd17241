//! The keyset cursor of the timeline: where a page ended.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A position in the timeline: the `(pgh_created_at, pgh_id, pgh_table)` of an event. A page
/// [`after`](super::History::after) it starts with the next event in the query's order,
/// however many events were written since, so walking pages neither skips nor repeats an
/// event that existed when the walk began.
///
/// Its text form (`Display` / `FromStr`) is opaque and stable, made to travel through
/// URLs and JSON of a web API:
///
/// ```
/// use pghistory_diesel::history::Cursor;
///
/// let text = "1700000000000000.2a.7075626c69632e706f737473";
/// let cursor: Cursor = text.parse().unwrap();
/// assert_eq!(cursor.to_string(), text);
/// assert!("not a cursor".parse::<Cursor>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) pgh_id: i64,
    pub(crate) table: String,
}

impl Cursor {
    pub(crate) fn new(created_at: DateTime<Utc>, pgh_id: i64, table: String) -> Cursor {
        Cursor {
            created_at,
            pgh_id,
            table,
        }
    }
}

/// A cursor's text could not be read back: [`Cursor::from_str`] of a string that no
/// `Cursor` wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CursorError {
    /// Not three dot-separated parts.
    #[error("malformed history cursor `{0}`: expected three dot-separated parts")]
    Shape(String),
    /// A part is not the number or hex text it must be.
    #[error("malformed history cursor `{cursor}`: its {part} part is invalid")]
    Part {
        /// The cursor text.
        cursor: String,
        /// `"time"`, `"id"` or `"table"`.
        part: &'static str,
    },
}

impl fmt::Display for Cursor {
    /// `<microseconds since 1970, decimal>.<pgh_id, hex>.<table name, hex of its UTF-8>`:
    /// only characters that need no escaping in a URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:x}.",
            self.created_at.timestamp_micros(),
            self.pgh_id
        )?;
        for b in self.table.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for Cursor {
    type Err = CursorError;

    fn from_str(s: &str) -> Result<Cursor, CursorError> {
        let part = |part: &'static str| CursorError::Part {
            cursor: s.to_owned(),
            part,
        };
        let mut parts = s.split('.');
        let (Some(time), Some(id), Some(table), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CursorError::Shape(s.to_owned()));
        };
        let micros: i64 = time.parse().map_err(|_| part("time"))?;
        let created_at =
            DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(|| part("time"))?;
        // Display writes ids as lowercase hex: accept exactly that, so every cursor has
        // one text.
        if id.is_empty()
            || id.len() > 16
            || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(part("id"));
        }
        let pgh_id = u64::from_str_radix(id, 16).map_err(|_| part("id"))?;
        let pgh_id = i64::try_from(pgh_id).map_err(|_| part("id"))?;
        if table.is_empty()
            || table.len() % 2 != 0
            || !table
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(part("table"));
        }
        let bytes: Vec<u8> = (0..table.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&table[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| part("table"))?;
        let table = String::from_utf8(bytes).map_err(|_| part("table"))?;
        Ok(Cursor::new(created_at, pgh_id, table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        let c = Cursor::new(
            DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            i64::MAX,
            "app.\"odd\" näme".to_owned(),
        );
        assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
    }

    #[test]
    fn malformed_text_is_named() {
        assert!(matches!("".parse::<Cursor>(), Err(CursorError::Shape(_))));
        assert!(matches!(
            "1.2.3.4".parse::<Cursor>(),
            Err(CursorError::Shape(_))
        ));
        for (text, which) in [
            ("x.1.70", "time"),
            ("1.-1.70", "id"),
            ("1.1A.70", "id"),
            ("1.ffffffffffffffff.70", "id"),
            ("1.1.7", "table"),
            ("1.1.zz", "table"),
            ("1.1.ff", "table"),
            ("1.1.", "table"),
        ] {
            match text.parse::<Cursor>() {
                Err(CursorError::Part { part, .. }) => assert_eq!(part, which, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
