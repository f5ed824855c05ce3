//! A migration file cut into statements, each with the line it starts on and whether a
//! `-- txova:schema-skip` comment precedes it.
//!
//! Cut here rather than by the parser so that one statement the parser refuses does not
//! hide the rest of the file: quotes, `$tag$` bodies, backticks and comments are
//! honoured, and a `;` inside them does not end a statement.

/// One statement of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk<'a> {
    pub(crate) text: &'a str,
    /// 1-based line of the statement's first character.
    pub(crate) line: usize,
    /// A `-- txova:schema-skip` comment stands between the previous statement and this.
    pub(crate) skip: bool,
}

/// The comment that tells the replay to pass over the statement after it.
pub const SKIP_MARKER: &str = "txova:schema-skip";

/// Cuts `sql` into statements.
pub(crate) fn statements(sql: &str) -> Vec<Chunk<'_>> {
    let bytes = sql.as_bytes();
    let mut chunks = Vec::new();
    let mut line = 1;
    let mut start: Option<(usize, usize)> = None;
    let mut skip = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                let end = find(bytes, i, b"\n").unwrap_or(bytes.len());
                if start.is_none() && sql[i + 2..end].trim() == SKIP_MARKER {
                    skip = true;
                }
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = block_comment_end(bytes, i);
                line += count_lines(&bytes[i..end]);
                i = end;
            }
            b';' => {
                if let Some((from, at)) = start.take() {
                    chunks.push(Chunk {
                        text: sql[from..i].trim(),
                        line: at,
                        skip,
                    });
                }
                skip = false;
                i += 1;
            }
            _ if b.is_ascii_whitespace() => i += 1,
            _ => {
                if start.is_none() {
                    start = Some((i, line));
                }
                let end = match b {
                    b'\'' | b'"' | b'`' => quoted_end(bytes, i, b),
                    b'$' => dollar_quoted_end(bytes, i).unwrap_or(i + 1),
                    _ => i + 1,
                };
                line += count_lines(&bytes[i..end]);
                i = end;
            }
        }
    }
    if let Some((from, at)) = start {
        let text = sql[from..].trim();
        if !text.is_empty() {
            chunks.push(Chunk {
                text,
                line: at,
                skip,
            });
        }
    }
    chunks
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| from + at)
}

fn count_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// The end of a `/* … */` comment (nested, as Postgres reads them) starting at `at`.
fn block_comment_end(bytes: &[u8], at: usize) -> usize {
    let mut depth = 0;
    let mut i = at;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
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

/// The end of a quoted string or identifier starting at `at`; a doubled quote is an
/// escaped one.
fn quoted_end(bytes: &[u8], at: usize, quote: u8) -> usize {
    let mut i = at + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// The end of a Postgres `$tag$ … $tag$` body starting at `at`, if one starts there.
fn dollar_quoted_end(bytes: &[u8], at: usize) -> Option<usize> {
    let tag_len = bytes[at + 1..]
        .iter()
        .position(|&b| b == b'$')
        .filter(|&n| {
            bytes[at + 1..at + 1 + n]
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        })?;
    let tag = &bytes[at..at + tag_len + 2];
    if tag.len() > 2 && tag[1].is_ascii_digit() {
        return None; // `$1`, a placeholder
    }
    let body = at + tag.len();
    Some(find(bytes, body, tag).map_or(bytes.len(), |end| end + tag.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_semicolons_outside_quotes_bodies_and_comments() {
        let sql = "-- a comment; not a statement\nCREATE TABLE a (x TEXT DEFAULT ';');\n\n/* ; */ CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nALTER TABLE a ADD COLUMN \"y;\" int";
        let chunks = statements(sql);
        assert_eq!(chunks.len(), 3, "{chunks:?}");
        assert_eq!(chunks[0].text, "CREATE TABLE a (x TEXT DEFAULT ';')");
        assert_eq!(chunks[0].line, 2);
        assert!(chunks[1].text.ends_with("LANGUAGE sql"), "{chunks:?}");
        assert_eq!(chunks[1].line, 4);
        assert_eq!(chunks[2].line, 5);
        assert!(chunks.iter().all(|c| !c.skip));
    }

    #[test]
    fn the_skip_marker_covers_the_next_statement_only() {
        let sql =
            "CREATE TABLE a (x int);\n-- txova:schema-skip\nSELECT weird;\nCREATE TABLE b (y int);";
        let skips: Vec<bool> = statements(sql).iter().map(|c| c.skip).collect();
        assert_eq!(skips, [false, true, false]);
    }

    #[test]
    fn lines_count_newlines_inside_strings_and_comments() {
        let sql = "/* one\ntwo */ SELECT 'a\nb';\nSELECT 2;";
        let lines: Vec<usize> = statements(sql).iter().map(|c| c.line).collect();
        assert_eq!(lines, [2, 4]);
    }
}
