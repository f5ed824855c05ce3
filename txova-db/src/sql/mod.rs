//! Writing SQL text for one backend: identifier quoting, placeholders, bound values.

pub(crate) mod ast;
pub(crate) mod cache;
pub(crate) mod lex;
pub(crate) mod summary;

use std::fmt;
use std::sync::Arc;

use crate::error::{Backend, Error};
use crate::types::Param;

/// A finished statement: SQL text for one backend and its bound values.
///
/// Returned by the builders' `to_sql()`; `Display` shows the SQL followed by the values
/// (a [`Redacted`](crate::Redacted) one, and every value of a `#[column(secret)]`
/// column, as `***`).
///
/// ```
/// use txova_db::sql::Statement;
/// # fn show(statement: &Statement) {
/// println!("{statement}"); // SELECT "id" FROM "users" WHERE "id" = $1 -- [42]
/// # }
/// ```
pub struct Statement {
    pub(crate) sql: String,
    pub(crate) params: Vec<Arc<dyn Param>>,
}

impl Statement {
    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// A built statement, or one that shows why it could not be built as an SQL
    /// comment (what the builders' `to_sql()` returns).
    pub(crate) fn or_comment(built: Result<Statement, Error>) -> Statement {
        built.unwrap_or_else(|err| Statement {
            sql: format!("/* {err} */"),
            params: Vec::new(),
        })
    }

    /// The bound values, as `Debug` renders them.
    pub fn params(&self) -> Vec<String> {
        self.params.iter().map(|p| format!("{p:?}")).collect()
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -- {:?}", self.sql, self.params)
    }
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statement")
            .field("sql", &self.sql)
            .field("params", &self.params)
            .finish()
    }
}

/// The most bind parameters one statement may carry on `backend`.
pub fn bind_limit(backend: Backend) -> usize {
    match backend {
        Backend::Postgres | Backend::MySql => 65_535,
        Backend::Sqlite => 32_766,
    }
}

/// Accumulates SQL text and bound values for one backend.
pub(crate) struct SqlWriter {
    backend: Backend,
    sql: String,
    params: Vec<Arc<dyn Param>>,
    /// Placeholders written: those of `params`, and those whose values are bound when
    /// the statement runs ([`placeholder`](Self::placeholder) called alone).
    placeholders: usize,
}

impl SqlWriter {
    pub(crate) fn new(backend: Backend) -> Self {
        Self {
            backend,
            sql: String::with_capacity(128),
            params: Vec::new(),
            placeholders: 0,
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    /// Writes a quoted identifier; a quote character inside is doubled, so no name can
    /// end the identifier early.
    pub(crate) fn ident(&mut self, name: &str) {
        let quote = match self.backend {
            Backend::MySql => '`',
            Backend::Postgres | Backend::Sqlite => '"',
        };
        self.sql.push(quote);
        if name.contains(quote) {
            for c in name.chars() {
                if c == quote {
                    self.sql.push(quote);
                }
                self.sql.push(c);
            }
        } else {
            // Names almost never hold a quote: one copy, not a push per character
            // (a third of rendering a three-column select went here).
            self.sql.push_str(name);
        }
        self.sql.push(quote);
    }

    /// Writes `"table"."column"`.
    pub(crate) fn qualified(&mut self, table: &str, column: &str) {
        self.ident(table);
        self.sql.push('.');
        self.ident(column);
    }

    /// Writes a placeholder for `param` and keeps the value.
    pub(crate) fn bind(&mut self, param: Arc<dyn Param>) {
        self.params.push(param);
        self.placeholder();
    }

    /// Writes a placeholder. Called alone, the writer keeps no value for it: the
    /// caller binds it when the statement runs, in placeholder order after the values
    /// kept before it (an insert binding its rows by reference, `write::RowValues`).
    pub(crate) fn placeholder(&mut self) {
        self.placeholders += 1;
        match self.backend {
            Backend::Postgres => {
                self.sql.push('$');
                push_decimal(&mut self.sql, self.placeholders);
            }
            Backend::Sqlite | Backend::MySql => self.sql.push('?'),
        }
    }

    /// Makes room for `sql` more bytes and `params` more values.
    pub(crate) fn reserve(&mut self, sql: usize, params: usize) {
        self.sql.reserve(sql);
        self.params.reserve(params);
    }

    /// Writes a hand-written fragment whose `?` placeholders take `params` in order.
    /// A `?` inside a string literal, a quoted identifier or a comment is not a
    /// placeholder, and `??` writes one literal `?` (Postgres' jsonb `?`, `?|`, `?&`
    /// operators: `data ?? 'key'`).
    pub(crate) fn raw(&mut self, fragment: &str, params: Vec<Arc<dyn Param>>) -> Result<(), Error> {
        let mut params = params.into_iter();
        let mut used = 0_usize;
        for (piece, start, end) in lex::pieces(fragment, self.backend) {
            let text = &fragment[start..end];
            if piece != lex::Piece::Code {
                self.sql.push_str(text);
                continue;
            }
            let mut chars = text.chars().peekable();
            while let Some(c) = chars.next() {
                if c != '?' {
                    self.sql.push(c);
                } else if chars.peek() == Some(&'?') {
                    chars.next();
                    self.sql.push('?');
                } else {
                    let param = params.next().ok_or_else(|| Error::InvalidQuery {
                        reason: format!("`{fragment}` has more `?` placeholders than values"),
                    })?;
                    used += 1;
                    self.bind(param);
                }
            }
        }
        let left = params.count();
        if left > 0 {
            return Err(Error::InvalidQuery {
                reason: format!(
                    "`{fragment}` has {used} `?` placeholders but {} values",
                    used + left
                ),
            });
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Statement {
        Statement {
            sql: self.sql,
            params: self.params,
        }
    }
}

/// Appends `n` in decimal without the formatting machinery (placeholders are written
/// tens of thousands of times for a large insert).
fn push_decimal(out: &mut String, mut n: usize) {
    let mut digits = [0_u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 65_535, usize::MAX] {
            let mut s = String::new();
            push_decimal(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    #[test]
    fn identifiers_are_quoted_per_backend_and_cannot_break_out() {
        let mut pg = SqlWriter::new(Backend::Postgres);
        pg.ident(r#"users"; DROP TABLE users; --"#);
        assert_eq!(pg.finish().sql, r#""users""; DROP TABLE users; --""#);
        let mut my = SqlWriter::new(Backend::MySql);
        my.qualified("a`b", "c");
        assert_eq!(my.finish().sql, "`a``b`.`c`");
    }

    #[test]
    fn raw_fragments_renumber_placeholders_outside_quotes() {
        let mut pg = SqlWriter::new(Backend::Postgres);
        pg.bind(Arc::new(1_i64));
        pg.push(" AND ");
        pg.raw(
            "status = ? AND note <> '?' AND age > ?",
            vec![Arc::new("active"), Arc::new(3_i32)],
        )
        .expect("two values for two placeholders");
        let statement = pg.finish();
        assert_eq!(
            statement.sql,
            "$1 AND status = $2 AND note <> '?' AND age > $3"
        );
        assert_eq!(statement.params(), ["1", "\"active\"", "3"]);

        let mut lite = SqlWriter::new(Backend::Sqlite);
        lite.raw("x = ?", vec![Arc::new(1_i64)]).expect("one");
        assert_eq!(lite.finish().sql, "x = ?");
    }

    #[test]
    fn raw_fragments_skip_comments_and_escape_literal_question_marks() {
        let mut pg = SqlWriter::new(Backend::Postgres);
        pg.raw(
            "a = ? /* why? */ AND b = ? -- or not?\n AND tags ?? 'x' AND doc ??| ? AND $$?$$ <> ?",
            vec![
                Arc::new(1_i64),
                Arc::new(2_i64),
                Arc::new("k"),
                Arc::new("z"),
            ],
        )
        .expect("four values for four placeholders");
        assert_eq!(
            pg.finish().sql,
            "a = $1 /* why? */ AND b = $2 -- or not?\n AND tags ? 'x' AND doc ?| $3 AND $$?$$ <> $4"
        );
    }

    #[test]
    fn raw_fragments_check_the_value_count() {
        let mut w = SqlWriter::new(Backend::Postgres);
        let too_few = w.raw("a = ? AND b = ?", vec![Arc::new(1_i64)]).unwrap_err();
        assert_eq!(too_few.kind(), crate::ErrorKind::InvalidQuery);
        let mut w = SqlWriter::new(Backend::Postgres);
        let too_many = w
            .raw("a = ?", vec![Arc::new(1_i64), Arc::new(2_i64)])
            .unwrap_err();
        assert!(
            too_many
                .to_string()
                .contains("1 `?` placeholders but 2 values")
        );
    }
}
