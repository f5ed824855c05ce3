//! What telemetry says about a statement without its values: the operation, the table
//! it names first, and the text with any inline literals replaced by `?`.
//!
//! Statements built by txova-db carry their values as bound parameters, so their text
//! holds placeholders only. Raw SQL handed to [`Db::execute`](crate::Db::execute) may
//! inline literals (`WHERE email = 'a@b.c'`); [`redact`] keeps those out of spans and
//! logs.

use std::borrow::Cow;

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
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        if b == b'\'' {
            i = end_of_quoted(bytes, i, b'\'', backend == Backend::MySql);
            out.push('?');
        } else if (b == b'E' || b == b'e')
            && next == Some(b'\'')
            && backend == Backend::Postgres
            && !continues_word(bytes, i)
        {
            i = end_of_quoted(bytes, i + 1, b'\'', true);
            out.push('?');
        } else if b == b'$'
            && backend == Backend::Postgres
            && let Some(tag) = dollar_tag(bytes, i)
        {
            let body = i + tag;
            let close = sql[body..].find(&sql[i..i + tag]);
            i = close.map_or(bytes.len(), |at| body + at + tag);
            out.push('?');
        } else if b == b'"' && backend == Backend::MySql {
            i = end_of_quoted(bytes, i, b'"', true);
            out.push('?');
        } else if b == b'"' || b == b'`' {
            // A quoted identifier: copied as it is (a doubled quote stays inside it).
            let end = end_of_quoted(bytes, i, b, false);
            out.push_str(&sql[i..end]);
            i = end;
        } else if (b == b'-' && next == Some(b'-')) || (b == b'#' && backend == Backend::MySql) {
            let end = sql[i..].find('\n').map_or(bytes.len(), |at| i + at);
            out.push_str(if b == b'#' { "#?" } else { "--?" });
            i = end;
        } else if b == b'/' && next == Some(b'*') {
            i = end_of_block_comment(bytes, i, backend == Backend::Postgres);
            out.push_str("/*?*/");
        } else if b.is_ascii_digit() && starts_number(bytes, i) {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            out.push('?');
        } else {
            let len = sql[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&sql[i..i + len]);
            i += len;
        }
    }
    // A digit inside a quoted identifier looked like a number to the quick scan.
    if out == sql {
        Cow::Borrowed(sql)
    } else {
        Cow::Owned(out)
    }
}

/// Whether `sql` holds anything [`redact`] replaces: the common statement of the typed
/// builder (placeholders, quoted identifiers) is passed through without a copy.
fn needs_redaction(bytes: &[u8], backend: Backend) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\'' => true,
        b'"' | b'#' => backend == Backend::MySql,
        b'$' => backend == Backend::Postgres && dollar_tag(bytes, i).is_some(),
        b'-' => bytes.get(i + 1) == Some(&b'-'),
        b'/' => bytes.get(i + 1) == Some(&b'*'),
        b if b.is_ascii_digit() => starts_number(bytes, i),
        _ => false,
    })
}

/// The index just past the quoted text opening at `open` with `quote` (a doubled quote
/// inside it is one quote; with `backslash`, a backslash escapes the next byte).
fn end_of_quoted(bytes: &[u8], open: usize, quote: u8, backslash: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash => i += 2,
            c if c == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index just past the `/* … */` comment opening at `open`; Postgres nests them.
fn end_of_block_comment(bytes: &[u8], open: usize, nested: bool) -> usize {
    let mut depth = 0_usize;
    let mut i = open;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') if depth == 0 || nested => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The length of the dollar-quote tag opening at `i` (`$$` or `$tag$`), if one does:
/// `$1` is a placeholder, and a `$` inside a word is part of it.
fn dollar_tag(bytes: &[u8], i: usize) -> Option<usize> {
    if continues_word(bytes, i) {
        return None;
    }
    let mut end = i + 1;
    while let Some(&c) = bytes.get(end) {
        match c {
            b'$' => return Some(end + 1 - i),
            c if c.is_ascii_alphabetic() || c == b'_' || (end > i + 1 && c.is_ascii_digit()) => {
                end += 1;
            }
            _ => return None,
        }
    }
    None
}

/// Whether the byte at `i` continues an identifier (or a number) begun before it.
fn continues_word(bytes: &[u8], i: usize) -> bool {
    i > 0 && {
        let before = bytes[i - 1];
        before.is_ascii_alphanumeric() || before == b'_' || before == b'$'
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
}
