//! What telemetry says about a statement without its values: the operation, the table
//! it names first, and the text with any inline literals replaced by `?`.
//!
//! Statements built by txova-db carry their values as bound parameters, so their text
//! holds placeholders only. Raw SQL handed to [`Db::execute`](crate::Db::execute) may
//! inline literals (`WHERE email = 'a@b.c'`); [`redact`] keeps those out of spans and
//! logs.

use std::borrow::Cow;

use super::lex::{self, Piece};
use crate::error::Backend;

/// The operation of a statement, as a low-cardinality metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Select,
    Insert,
    Update,
    Delete,
    Other,
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
        // `COPY "rides" ("a", …) FROM STDIN` (a `COPY (SELECT …)` names none).
        Operation::Other if keyword.eq_ignore_ascii_case("COPY") => sql
            .split_ascii_whitespace()
            .nth(1)
            .filter(|t| !t.starts_with('(')),
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

/// `sql` with every literal replaced by `?` and every comment emptied, as `backend`
/// reads it; borrowed when there is nothing to replace. Placeholders (`$1`, `?`) and
/// identifiers (`t2`, `"col 1"`, `` `col` ``) are kept.
///
/// Literals: `'…'` strings (`''` inside; on MySQL and in Postgres `E'…'` strings a
/// backslash escapes too), Postgres dollar-quoted strings (`$$…$$`, `$tag$…$tag$`),
/// MySQL `"…"` strings (there, double quotes make strings, not identifiers), and
/// numbers. Comments (`-- …`, `/* … */` nested on Postgres, `# …` on MySQL) may hold
/// anything, so their text is dropped. Whatever is unterminated runs to the end.
pub(crate) fn redact(sql: &str, backend: Backend) -> Cow<'_, str> {
    if !needs_redaction(sql.as_bytes(), backend) {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    for (piece, start, end) in lex::pieces(sql, backend) {
        let text = &sql[start..end];
        match piece {
            Piece::Literal => out.push('?'),
            Piece::Comment if text.starts_with("/*") => out.push_str("/*?*/"),
            Piece::Comment if text.starts_with('#') => out.push_str("#?"),
            Piece::Comment => out.push_str("--?"),
            Piece::Identifier => out.push_str(text),
            Piece::Code => redact_numbers(text, &mut out),
        }
    }
    // A digit inside a quoted identifier looked like a number to the quick scan.
    if out == sql {
        Cow::Borrowed(sql)
    } else {
        Cow::Owned(out)
    }
}

/// Copies code to `out` with its numbers replaced by `?`.
fn redact_numbers(code: &str, out: &mut String) {
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && starts_number(bytes, i) {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            out.push('?');
        } else {
            let len = code[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&code[i..i + len]);
            i += len;
        }
    }
}

/// Whether `sql` holds anything [`redact`] replaces: the common statement of the typed
/// builder (placeholders, quoted identifiers) is passed through without a copy.
fn needs_redaction(bytes: &[u8], backend: Backend) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\'' => true,
        b'"' | b'#' => backend == Backend::MySql,
        b'$' => backend == Backend::Postgres && lex::dollar_tag(bytes, i).is_some(),
        b'-' => bytes.get(i + 1) == Some(&b'-'),
        b'/' => bytes.get(i + 1) == Some(&b'*'),
        b if b.is_ascii_digit() => starts_number(bytes, i),
        _ => false,
    })
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
        assert_eq!(
            read(r#"COPY "rides" ("rider_id") FROM STDIN (FORMAT binary)"#),
            ("COPY", Operation::Other, Some("rides"))
        );
        assert_eq!(
            read("COPY (SELECT 1) TO STDOUT"),
            ("COPY", Operation::Other, None)
        );
        assert_eq!(read("BEGIN"), ("BEGIN", Operation::Other, None));
        assert_eq!(read("SELECT 1"), ("SELECT", Operation::Select, None));
        assert_eq!(read(""), ("", Operation::Other, None));
    }

    #[test]
    fn redacts_literals_only() {
        let pg = |sql| redact(sql, Backend::Postgres);
        let kept = r#"SELECT "col 1", t2.a FROM t2 WHERE id = $1 AND b = ?"#;
        assert!(matches!(pg(kept), Cow::Borrowed(_)));
        assert_eq!(
            pg("UPDATE users SET email = 'it''s@x.io', age = 42, score = 1.5e3 WHERE id = 7"),
            "UPDATE users SET email = ?, age = ?, score = ? WHERE id = ?"
        );
        assert_eq!(
            pg(r#"SELECT "a'b" FROM t WHERE n = 'é'"#),
            r#"SELECT "a'b" FROM t WHERE n = ?"#
        );
        assert_eq!(pg("SELECT 1"), "SELECT ?");
        assert_eq!(pg("x = 'unterminated"), "x = ?");
    }

    #[test]
    fn redacts_every_kind_of_string_and_comment() {
        let pg = |sql| redact(sql, Backend::Postgres).into_owned();
        let my = |sql| redact(sql, Backend::MySql).into_owned();
        let lite = |sql| redact(sql, Backend::Sqlite).into_owned();
        // Dollar-quoted, plain and tagged; the tag may hold digits after its first letter.
        assert_eq!(pg("SELECT $$hunter2$$, $1"), "SELECT ?, $1");
        assert_eq!(pg("DO $body$ x := 'hunter2'; $body$"), "DO ?");
        assert_eq!(pg("SELECT $a1$hunter2$a1$"), "SELECT ?");
        // E'' strings take backslash escapes; plain ones do not (on Postgres).
        assert_eq!(pg(r"SELECT E'it\'s hunter2', 'a\'"), "SELECT ?, ?");
        assert_eq!(
            pg("SELECT name FROM t WHERE e = 1"),
            "SELECT name FROM t WHERE e = ?"
        );
        // MySQL: double quotes make strings, backslashes escape, # starts a comment.
        assert_eq!(my(r#"SELECT "hunter2", `col`"#), "SELECT ?, `col`");
        assert_eq!(my(r"SELECT 'it\'s hunter2'"), "SELECT ?");
        assert_eq!(my("SELECT 1 # hunter2\nFROM t"), "SELECT ? #?\nFROM t");
        assert_eq!(
            lite(r#"SELECT "hunter2" FROM t"#),
            r#"SELECT "hunter2" FROM t"#
        );
        // Comments lose their text, nested ones on Postgres whole.
        assert_eq!(pg("SELECT a -- hunter2\nFROM t"), "SELECT a --?\nFROM t");
        assert_eq!(pg("SELECT /* a /* hunter2 */ b */ c"), "SELECT /*?*/ c");
        assert_eq!(lite("SELECT /* hunter2 */ c"), "SELECT /*?*/ c");
        // A `$` inside a word, and a placeholder, are not dollar quotes.
        assert_eq!(pg("SELECT a$b, $2 FROM t"), "SELECT a$b, $2 FROM t");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::redact;
        use crate::error::Backend;

        /// A secret: `Zq` (which no statement text below holds) and then anything,
        /// quotes, backslashes, unicode and NUL included.
        fn secret() -> impl Strategy<Value = String> {
            r#"[a-zA-Z0-9 '"`\\$;:?*/\-#\n\x00é中😀]{0,24}"#.prop_map(|s| format!("Zq{s}"))
        }

        /// `secret` written as a literal (or a comment) of a form `backend` has, escaped
        /// as that form requires.
        fn literal(backend: Backend, secret: &str, form: u8) -> String {
            match (backend, form % 6) {
                // On MySQL a backslash escapes in every string, so it is doubled too.
                (Backend::MySql, 0) => {
                    format!("'{}'", secret.replace('\\', "\\\\").replace('\'', "''"))
                }
                (_, 0) => format!("'{}'", secret.replace('\'', "''")),
                (Backend::Postgres, 1) => {
                    format!("E'{}'", secret.replace('\\', "\\\\").replace('\'', "\\'"))
                }
                (Backend::Postgres, 2) => format!("$tag9$ {} $tag9$", secret.replace('$', "")),
                (Backend::MySql, 1 | 2) => {
                    format!("\"{}\"", secret.replace('\\', "\\\\").replace('"', "\\\""))
                }
                (Backend::MySql, 3) => {
                    format!("'{}'", secret.replace('\\', "\\\\").replace('\'', "\\'"))
                }
                (_, 4) => format!("/* {} */", secret.replace("*/", "").replace("/*", "")),
                (_, _) => format!("-- {}\n", secret.replace('\n', " ")),
            }
        }

        fn backend() -> impl Strategy<Value = Backend> {
            prop_oneof![
                Just(Backend::Postgres),
                Just(Backend::Sqlite),
                Just(Backend::MySql)
            ]
        }

        proptest! {
            /// A literal anywhere in a statement, in any form the backend reads as one,
            /// never appears in the redacted text.
            #[test]
            fn a_literal_never_survives_redaction(
                backend in backend(),
                secrets in proptest::collection::vec((secret(), any::<u8>()), 1..4),
                numbers in proptest::collection::vec(0_u64..1_000_000, 0..3),
            ) {
                let mut sql = String::from("SELECT id FROM t WHERE a = $1");
                for (secret, form) in &secrets {
                    sql.push_str(" AND b <> ");
                    sql.push_str(&literal(backend, secret, *form));
                }
                for n in &numbers {
                    sql.push_str(&format!(" AND c <> {n}"));
                }
                let redacted = redact(&sql, backend);
                prop_assert!(!redacted.contains("Zq"), "{sql} -> {redacted}");
                for n in numbers.iter().filter(|n| **n >= 10) {
                    prop_assert!(!redacted.contains(&n.to_string()), "{sql} -> {redacted}");
                }
                // Placeholders and names are kept.
                prop_assert!(redacted.starts_with("SELECT id FROM t WHERE a = $1"));
            }
        }
    }
}
