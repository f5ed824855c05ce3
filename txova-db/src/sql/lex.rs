//! Reading hand-written SQL just far enough to know what is code and what is not:
//! string literals, quoted identifiers and comments, as each backend writes them. The
//! redaction of logged statements and the `?` placeholders of raw fragments both walk
//! SQL with this, so neither mistakes a `?` or a secret inside a string or a comment
//! for code.

use crate::error::Backend;

/// What a stretch of SQL text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Code: keywords, names, operators, numbers, placeholders.
    Code,
    /// A string literal: `'…'` (with `''`, and backslash escapes in Postgres `E'…'` and
    /// on MySQL), a Postgres dollar-quoted string (`$$…$$`, `$tag$…$tag$`), a MySQL
    /// `"…"`.
    Literal,
    /// A quoted identifier: `"…"` (Postgres, SQLite), `` `…` ``.
    Identifier,
    /// A comment: `-- …` to the end of the line, `/* … */` (nested on Postgres), and
    /// `# …` on MySQL.
    Comment,
}

/// Splits `sql` into pieces, in order, covering every byte: `(piece, start, end)`.
/// Whatever is unterminated runs to the end.
pub(crate) fn pieces(sql: &str, backend: Backend) -> Vec<(Piece, usize, usize)> {
    let bytes = sql.as_bytes();
    let mut out: Vec<(Piece, usize, usize)> = Vec::new();
    let mut push = |piece: Piece, start: usize, end: usize| match out.last_mut() {
        Some((last, _, last_end)) if *last == Piece::Code && piece == Piece::Code => {
            *last_end = end;
        }
        _ => out.push((piece, start, end)),
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        let (piece, end) = if b == b'\'' {
            (
                Piece::Literal,
                end_of_quoted(bytes, i, b'\'', backend == Backend::MySql),
            )
        } else if (b == b'E' || b == b'e')
            && next == Some(b'\'')
            && backend == Backend::Postgres
            && !continues_word(bytes, i)
        {
            (Piece::Literal, end_of_quoted(bytes, i + 1, b'\'', true))
        } else if b == b'$'
            && backend == Backend::Postgres
            && let Some(tag) = dollar_tag(bytes, i)
        {
            let body = i + tag;
            let close = sql[body..].find(&sql[i..i + tag]);
            (
                Piece::Literal,
                close.map_or(bytes.len(), |at| body + at + tag),
            )
        } else if b == b'"' && backend == Backend::MySql {
            (Piece::Literal, end_of_quoted(bytes, i, b'"', true))
        } else if b == b'"' || b == b'`' {
            (Piece::Identifier, end_of_quoted(bytes, i, b, false))
        } else if (b == b'-' && next == Some(b'-')) || (b == b'#' && backend == Backend::MySql) {
            let end = sql[i..].find('\n').map_or(bytes.len(), |at| i + at);
            (Piece::Comment, end)
        } else if b == b'/' && next == Some(b'*') {
            (
                Piece::Comment,
                end_of_block_comment(bytes, i, backend == Backend::Postgres),
            )
        } else {
            let len = sql[i..].chars().next().map_or(1, char::len_utf8);
            (Piece::Code, i + len)
        };
        push(piece, i, end);
        i = end;
    }
    out
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
pub(crate) fn dollar_tag(bytes: &[u8], i: usize) -> Option<usize> {
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
pub(crate) fn continues_word(bytes: &[u8], i: usize) -> bool {
    i > 0 && {
        let before = bytes[i - 1];
        before.is_ascii_alphanumeric() || before == b'_' || before == b'$'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str, backend: Backend) -> Vec<(Piece, &str)> {
        pieces(sql, backend)
            .into_iter()
            .map(|(piece, start, end)| (piece, &sql[start..end]))
            .collect()
    }

    #[test]
    fn splits_code_from_strings_identifiers_and_comments() {
        use Piece::*;
        assert_eq!(
            kinds(r#"SELECT "a?", 'b''?' -- c?"#, Backend::Postgres),
            [
                (Code, "SELECT "),
                (Identifier, r#""a?""#),
                (Code, ", "),
                (Literal, "'b''?'"),
                (Code, " "),
                (Comment, "-- c?"),
            ]
        );
        assert_eq!(
            kinds("x $t$ '? $t$ /* /* ? */ */ y", Backend::Postgres),
            [
                (Code, "x "),
                (Literal, "$t$ '? $t$"),
                (Code, " "),
                (Comment, "/* /* ? */ */"),
                (Code, " y"),
            ]
        );
        assert_eq!(
            kinds(r#"a "b\"?" # c"#, Backend::MySql),
            [
                (Code, "a "),
                (Literal, r#""b\"?""#),
                (Code, " "),
                (Comment, "# c")
            ]
        );
        // Every byte belongs to exactly one piece.
        let sql = "SELECT 'unterminated";
        let covered: usize = pieces(sql, Backend::Sqlite)
            .iter()
            .map(|(_, s, e)| e - s)
            .sum();
        assert_eq!(covered, sql.len());
    }
}
