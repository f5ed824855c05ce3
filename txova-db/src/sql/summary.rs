//! What telemetry says about a statement without its values: the operation, the table
//! it names first, and the text with any inline literals replaced by `?`.
//!
//! Statements built by txova-db carry their values as bound parameters, so their text
//! holds placeholders only. Raw SQL handed to [`Db::execute`](crate::Db::execute) may
//! inline literals (`WHERE email = 'a@b.c'`); [`redact`] keeps those out of spans and
//! logs.

use std::borrow::Cow;

/// The operation of a statement, as a low-cardinality metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Select,
    Insert,
    Update,
    Delete,
    Other,
}

impl Operation {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Select => "select",
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Other => "other",
        }
    }
}

/// The first keyword of `sql` (as written: `SELECT`, `BEGIN`, …) and the
/// table the statement works on, when one can be read off without parsing SQL.
pub(crate) struct Summary<'a> {
    pub(crate) keyword: &'a str,
    pub(crate) collection: Option<&'a str>,
}

/// Reads the first keyword and the operation of `sql`, without allocating: this runs
/// for every statement, for the metric labels.
pub(crate) fn operation(sql: &str) -> (&str, Operation) {
    let keyword = sql.split_ascii_whitespace().next().unwrap_or("");
    let is = |word: &str| keyword.eq_ignore_ascii_case(word);
    let operation = if is("SELECT") {
        Operation::Select
    } else if is("INSERT") {
        Operation::Insert
    } else if is("UPDATE") {
        Operation::Update
    } else if is("DELETE") {
        Operation::Delete
    } else {
        Operation::Other
    };
    (keyword, operation)
}

/// Reads the keyword, operation and table of `sql`. A `WITH …` statement is `Other`
/// with no table; that is enough for a span name.
pub(crate) fn summarize(sql: &str) -> Summary<'_> {
    let (keyword, operation) = operation(sql);
    let word_after = |marker: &str| {
        sql.split_ascii_whitespace()
            .skip_while(|w| !w.eq_ignore_ascii_case(marker))
            .nth(1)
    };
    let table = match operation {
        Operation::Select | Operation::Delete => word_after("FROM"),
        Operation::Insert => word_after("INTO"),
        Operation::Update => sql.split_ascii_whitespace().nth(1),
        Operation::Other => None,
    };
    Summary {
        keyword,
        collection: table.map(unquote).filter(|t| !t.is_empty()),
    }
}

/// `"users"` → `users`, and a trailing `(`, `,` or `;` dropped (`INSERT INTO t(a) …`).
fn unquote(word: &str) -> &str {
    let word = word.split(['(', ',', ';']).next().unwrap_or(word);
    word.trim_matches(|c| c == '"' || c == '`')
}

/// `sql` with string and numeric literals replaced by `?`; borrowed when it has none.
/// Placeholders (`$1`, `?`), identifiers with digits (`t2`, `"col 1"`) and comments'
/// surroundings are left alone.
pub(crate) fn redact(sql: &str) -> Cow<'_, str> {
    let bytes = sql.as_bytes();
    let has_literal = bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\'' || (b.is_ascii_digit() && starts_number(bytes, i)));
    if !has_literal {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut replaced = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\'' {
            // A string literal; '' inside it is an escaped quote.
            i += 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            out.push('?');
            replaced = true;
        } else if b == b'"' || b == b'`' {
            // A quoted identifier: copied as it is.
            let end = bytes[i + 1..]
                .iter()
                .position(|&c| c == b)
                .map_or(bytes.len(), |p| i + 1 + p + 1);
            out.push_str(&sql[i..end]);
            i = end;
        } else if b.is_ascii_digit() && starts_number(bytes, i) {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            out.push('?');
            replaced = true;
        } else {
            let len = sql[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&sql[i..i + len]);
            i += len;
        }
    }
    if replaced {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(sql)
    }
}

/// Whether the digit at `i` begins a number rather than continuing an identifier or a
/// `$1` placeholder.
fn starts_number(bytes: &[u8], i: usize) -> bool {
    i == 0 || {
        let before = bytes[i - 1];
        !(before.is_ascii_alphanumeric() || before == b'_' || before == b'$' || before == b'.')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_operation_and_table() {
        let read = |sql| {
            let s = summarize(sql);
            (s.keyword, operation(sql).1, s.collection)
        };
        assert_eq!(
            read(r#"SELECT "id", "name" FROM "users" WHERE "id" = $1"#),
            ("SELECT", Operation::Select, Some("users"))
        );
        assert_eq!(
            read(r#"INSERT INTO "rides"("rider_id") VALUES ($1)"#),
            ("INSERT", Operation::Insert, Some("rides"))
        );
        assert_eq!(
            read("update drivers set busy = true"),
            ("update", Operation::Update, Some("drivers"))
        );
        assert_eq!(
            read("DELETE FROM `t` WHERE a = ?"),
            ("DELETE", Operation::Delete, Some("t"))
        );
        assert_eq!(read("BEGIN"), ("BEGIN", Operation::Other, None));
        assert_eq!(read("SELECT 1"), ("SELECT", Operation::Select, None));
        assert_eq!(read(""), ("", Operation::Other, None));
        assert_eq!(Operation::Delete.label(), "delete");
    }

    #[test]
    fn redacts_literals_only() {
        let kept = r#"SELECT "col 1", t2.a FROM t2 WHERE id = $1 AND b = ?"#;
        assert!(matches!(redact(kept), Cow::Borrowed(_)));
        assert_eq!(
            redact("UPDATE users SET email = 'it''s@x.io', age = 42, score = 1.5e3 WHERE id = 7"),
            "UPDATE users SET email = ?, age = ?, score = ? WHERE id = ?"
        );
        assert_eq!(
            redact(r#"SELECT "a'b" FROM t WHERE n = 'é'"#),
            r#"SELECT "a'b" FROM t WHERE n = ?"#
        );
        assert_eq!(redact("SELECT 1"), "SELECT ?");
        assert_eq!(redact("x = 'unterminated"), "x = ?");
    }
}
